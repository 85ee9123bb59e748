//! The poll cycle (otelcol's fileconsumer manager): find the files the globs match, know each
//! by its fingerprint (its first `fingerprint_size` bytes; a file whose first bytes start
//! with a known fingerprint is that file, under whatever name it has now), read each from its
//! offset, and drain files that vanished from the match (renamed away or deleted) through
//! their still open handle. At most `max_concurrent_files` are open: beyond half of it, files
//! are read in batches whose handles are closed after reading.

use super::config::FileLogConfig;
use super::emit::{Sink, Stopped};
use super::glob::Glob;
use super::reader::{ReadSettings, Reader};
use super::source::{fingerprint, Source};
use super::split::Splitter;
#[cfg(test)]
use ferrotel_config::GoDuration;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// A file found by this poll: where, its handle and fingerprint.
struct Found {
    path: PathBuf,
    file: std::fs::File,
    fingerprint: Vec<u8>,
}

/// The tailer's state across polls.
pub struct Tailer {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
    exclude_older_than: Option<Duration>,
    fingerprint_size: usize,
    batch_files: usize,
    max_batches: usize,
    start_at_end: bool,
    gzip: bool,
    delete_after_read: bool,
    settings: ReadSettings,
    /// Read in the last poll, handles still open.
    previous: Vec<Reader>,
    /// Known files without a handle (closed, or restored from a checkpoint), newest last.
    known: Vec<Reader>,
    max_known: usize,
    first_poll: bool,
}

impl Tailer {
    pub fn new(c: &FileLogConfig) -> Result<Tailer, String> {
        let globs = |l: &[String]| {
            l.iter()
                .map(|p| Glob::new(p))
                .collect::<Result<Vec<_>, _>>()
        };
        let max_files = usize::try_from(c.max_concurrent_files)
            .unwrap_or(1024)
            .max(2);
        Ok(Tailer {
            include: globs(&c.include)?,
            exclude: globs(&c.exclude)?,
            exclude_older_than: c.exclude_older_than.map(|d| d.0),
            fingerprint_size: usize::try_from(c.fingerprint_size.0).unwrap_or(1000),
            batch_files: max_files / 2,
            max_batches: usize::try_from(c.max_batches).unwrap_or(0),
            start_at_end: c.start_at == "end",
            gzip: c.compression == "gzip",
            delete_after_read: c.delete_after_read,
            settings: ReadSettings {
                splitter: Splitter::new(c)?,
                chunk: usize::try_from(c.initial_buffer_size.0)
                    .unwrap_or(16 << 10)
                    .max(1024),
                force_flush: c.force_flush_period.0,
            },
            previous: vec![],
            known: vec![],
            max_known: max_files * 4,
            first_poll: true,
        })
    }

    /// Files known from a checkpoint: matched by fingerprint on the first poll.
    pub fn restore(&mut self, readers: Vec<Reader>) {
        self.known.extend(readers);
    }

    /// Fingerprints and offsets of every known file (for checkpoints).
    pub fn known_files(&self) -> impl Iterator<Item = &Reader> {
        self.known.iter().chain(self.previous.iter())
    }

    /// The paths the globs match now, sorted, excluded and too old ones removed.
    fn matched(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self.include.iter().flat_map(Glob::find).collect();
        paths.sort();
        paths.dedup();
        paths.retain(|p| {
            let s = p.to_string_lossy();
            !self.exclude.iter().any(|g| g.matches(&s)) && !self.too_old(p)
        });
        paths
    }

    fn too_old(&self, p: &std::path::Path) -> bool {
        let Some(max) = self.exclude_older_than else {
            return false;
        };
        let modified = std::fs::metadata(p).and_then(|m| m.modified());
        modified
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age > max)
    }

    /// One poll: reads everything new in every matched file. On `Stopped` the state stays
    /// consistent: offsets cover exactly the entries handed to the sink.
    pub fn poll(&mut self, sink: &mut dyn Sink) -> Result<(), Stopped> {
        let paths = self.matched();
        let batches: Vec<&[PathBuf]> = paths.chunks(self.batch_files.max(1)).collect();
        let limit = if self.max_batches == 0 {
            usize::MAX
        } else {
            self.max_batches
        };
        let count = batches.len().min(limit);
        let mut active = vec![];
        for (i, batch) in batches.into_iter().take(limit).enumerate() {
            let found = self.open(batch);
            let mut readers = self.claim(found);
            let read = self.read_all(&mut readers, sink);
            if read.is_err() {
                self.close(readers);
                return read;
            }
            self.after_read(&mut readers);
            if i + 1 == count {
                active = readers;
            } else {
                self.close(readers);
            }
        }
        self.drain_lost(sink)?;
        self.previous = active;
        self.first_poll = false;
        Ok(())
    }

    fn read_all(&self, readers: &mut [Reader], sink: &mut dyn Sink) -> Result<(), Stopped> {
        for r in readers.iter_mut() {
            r.read(&self.settings, self.delete_after_read, sink)?;
        }
        sink.flush()
    }

    fn open(&self, paths: &[PathBuf]) -> Vec<Found> {
        let mut found: Vec<Found> = vec![];
        for path in paths {
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    tracing::debug!(file = %path.display(), "cannot open: {e}");
                    continue;
                }
            };
            let Ok(fp) = fingerprint(&file, self.fingerprint_size) else {
                continue;
            };
            // Empty files are identified once they have content; the same file twice
            // (links) is read once.
            if fp.is_empty() || found.iter().any(|f| f.fingerprint == fp) {
                continue;
            }
            found.push(Found {
                path: path.clone(),
                file,
                fingerprint: fp,
            });
        }
        found
    }

    /// The reader for each file: a known one whose fingerprint it starts with, or a new one.
    fn claim(&mut self, found: Vec<Found>) -> Vec<Reader> {
        let mut out = Vec::with_capacity(found.len());
        for f in found {
            let known = take_match(&mut self.previous, &f.fingerprint)
                .or_else(|| take_match(&mut self.known, &f.fingerprint));
            let source = Source::new(f.file, self.gzip);
            let mut reader = match known {
                Some(r) => r,
                None => {
                    let offset = if self.first_poll && self.start_at_end && !self.gzip {
                        source.disk_len()
                    } else {
                        0
                    };
                    Reader::new(f.path.clone(), f.fingerprint.clone(), offset)
                }
            };
            reader.attach(f.path, source, f.fingerprint);
            out.push(reader);
        }
        out
    }

    fn after_read(&mut self, readers: &mut Vec<Reader>) {
        if !self.delete_after_read {
            return;
        }
        for r in readers.drain(..) {
            if let Err(e) = std::fs::remove_file(&r.path) {
                tracing::warn!(file = %r.path.display(), "could not delete file after reading: {e}");
            }
        }
    }

    /// Files read last poll and not found now: read what is left through the old handle.
    fn drain_lost(&mut self, sink: &mut dyn Sink) -> Result<(), Stopped> {
        let mut lost = std::mem::take(&mut self.previous);
        let mut result = Ok(());
        for r in &mut lost {
            // A file truncated in place has other first bytes now: nothing of it is left.
            let same = r.source.as_ref().is_some_and(|s| {
                s.fingerprint(r.fingerprint.len())
                    .is_ok_and(|fp| fp == r.fingerprint)
            });
            if same {
                result = r.read(&self.settings, true, sink);
                if result.is_err() {
                    break;
                }
            }
        }
        let result = result.and_then(|()| sink.flush());
        self.close(lost);
        result
    }

    fn close(&mut self, readers: Vec<Reader>) {
        for mut r in readers {
            r.source = None;
            self.known.push(r);
        }
        let excess = self.known.len().saturating_sub(self.max_known);
        self.known.drain(..excess);
    }
}

/// Removes and returns the reader whose fingerprint `fp` starts with (the longest such).
fn take_match(readers: &mut Vec<Reader>, fp: &[u8]) -> Option<Reader> {
    let i = readers
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.fingerprint.is_empty() && fp.starts_with(&r.fingerprint))
        .max_by_key(|(_, r)| r.fingerprint.len())
        .map(|(i, _)| i)?;
    Some(readers.remove(i))
}

#[cfg(test)]
#[path = "tailer_tests.rs"]
mod tests;
