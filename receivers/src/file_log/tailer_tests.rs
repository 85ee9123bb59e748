#![allow(clippy::unwrap_used)]
use super::*;
use crate::file_log::emit::{At, FileInfo};
use std::io::Write;
use std::path::Path;

#[derive(Default)]
struct Collect {
    lines: Vec<(String, String)>,
    flushes: usize,
}

impl Sink for Collect {
    fn emit(&mut self, file: &FileInfo, token: &[u8], _at: At) -> Result<(), Stopped> {
        let body = String::from_utf8_lossy(token).into_owned();
        self.lines.push((file.name.clone(), body));
        Ok(())
    }
    fn flush(&mut self) -> Result<(), Stopped> {
        self.flushes += 1;
        Ok(())
    }
}

impl Collect {
    fn bodies(&self) -> Vec<&str> {
        self.lines.iter().map(|(_, b)| b.as_str()).collect()
    }
}

fn tailer(dir: &Path, pattern: &str, f: impl FnOnce(&mut FileLogConfig)) -> Tailer {
    let mut c = FileLogConfig {
        include: vec![format!("{}/{pattern}", dir.display())],
        start_at: "beginning".into(),
        ..FileLogConfig::default()
    };
    f(&mut c);
    Tailer::new(&c).unwrap()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn reads_complete_lines_and_waits_for_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    append(&log, "one\ntwo\nthr");
    let mut t = tailer(d.path(), "*.log", |c| {
        c.force_flush_period = GoDuration(Duration::ZERO)
    });
    let mut s = Collect::default();
    t.poll(&mut s).unwrap();
    assert_eq!(s.bodies(), ["one", "two"]);
    append(&log, "ee\nfour\n");
    t.poll(&mut s).unwrap();
    assert_eq!(s.bodies(), ["one", "two", "three", "four"]);
    assert_eq!(s.lines[0].0, "a.log");
}

#[test]
fn unterminated_tail_is_flushed_after_the_period() {
    let d = tempfile::tempdir().unwrap();
    append(&d.path().join("a.log"), "partial");
    let mut t = tailer(d.path(), "*.log", |c| {
        c.force_flush_period = GoDuration::from_millis(30)
    });
    let mut s = Collect::default();
    t.poll(&mut s).unwrap();
    assert!(s.lines.is_empty());
    std::thread::sleep(Duration::from_millis(40));
    t.poll(&mut s).unwrap();
    t.poll(&mut s).unwrap();
    assert_eq!(s.bodies(), ["partial"]);
}

#[test]
fn start_at_end_skips_existing_content_only_at_startup() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    append(&log, "old\n");
    let mut t = tailer(d.path(), "*.log", |c| c.start_at = "end".into());
    let mut s = Collect::default();
    t.poll(&mut s).unwrap();
    append(&log, "new\n");
    append(&d.path().join("b.log"), "later file\n");
    t.poll(&mut s).unwrap();
    assert_eq!(s.bodies(), ["new", "later file"]);
}

#[test]
fn rename_rotation_inside_the_glob_reads_each_line_once() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    let mut t = tailer(d.path(), "app*.log", |_| {});
    let mut s = Collect::default();
    append(&log, "a1\na2\n");
    t.poll(&mut s).unwrap();
    append(&log, "a3\n");
    std::fs::rename(&log, d.path().join("app1.log")).unwrap();
    append(&log, "b1\n");
    t.poll(&mut s).unwrap();
    append(&log, "b2\n");
    t.poll(&mut s).unwrap();
    let mut got = s.bodies();
    got.sort();
    assert_eq!(got, ["a1", "a2", "a3", "b1", "b2"]);
}

#[test]
fn rename_out_of_the_glob_drains_the_old_file() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    let mut t = tailer(d.path(), "app.log", |_| {});
    let mut s = Collect::default();
    append(&log, "a1\n");
    t.poll(&mut s).unwrap();
    append(&log, "a2\n");
    std::fs::rename(&log, d.path().join("app.log.1")).unwrap();
    append(&log, "b1\n");
    t.poll(&mut s).unwrap();
    let mut got = s.bodies();
    got.sort();
    assert_eq!(got, ["a1", "a2", "b1"]);
}

#[test]
fn new_numbered_files_are_read_from_their_start() {
    let d = tempfile::tempdir().unwrap();
    let mut t = tailer(d.path(), "combined*.log", |c| c.start_at = "end".into());
    let mut s = Collect::default();
    append(&d.path().join("combined.log"), "before start\n");
    t.poll(&mut s).unwrap();
    append(&d.path().join("combined.log"), "x1\n");
    append(&d.path().join("combined1.log"), "y1\ny2\n");
    t.poll(&mut s).unwrap();
    assert_eq!(s.bodies(), ["x1", "y1", "y2"]);
}

#[test]
fn copytruncate_and_deletion_do_not_stick_or_duplicate() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    let mut t = tailer(d.path(), "app.log", |_| {});
    let mut s = Collect::default();
    append(&log, "first line\nsecond line\n");
    t.poll(&mut s).unwrap();
    std::fs::copy(&log, d.path().join("app.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, "after truncate\n");
    t.poll(&mut s).unwrap();
    std::fs::remove_file(&log).unwrap();
    t.poll(&mut s).unwrap();
    append(&log, "recreated\n");
    t.poll(&mut s).unwrap();
    assert_eq!(
        s.bodies(),
        ["first line", "second line", "after truncate", "recreated"]
    );
}

#[test]
fn many_files_are_read_in_batches() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..9 {
        append(&d.path().join(format!("f{i}.log")), &format!("line {i}\n"));
    }
    let mut t = tailer(d.path(), "*.log", |c| c.max_concurrent_files = 4);
    let mut s = Collect::default();
    t.poll(&mut s).unwrap();
    assert_eq!(s.lines.len(), 9);
    assert!(s.flushes >= 5, "{}", s.flushes);
    t.poll(&mut s).unwrap();
    assert_eq!(s.lines.len(), 9);
    assert!(t.previous.len() <= 2);
}

#[test]
fn gzip_files_are_decompressed() {
    let d = tempfile::tempdir().unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(b"z1\nz2\n").unwrap();
    std::fs::write(d.path().join("a.log.gz"), enc.finish().unwrap()).unwrap();
    let mut t = tailer(d.path(), "*.gz", |c| c.compression = "gzip".into());
    let mut s = Collect::default();
    t.poll(&mut s).unwrap();
    t.poll(&mut s).unwrap();
    assert_eq!(s.bodies(), ["z1", "z2"]);
}
