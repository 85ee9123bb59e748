//! One tracked file: its fingerprint, the offset up to which its entries were emitted, and
//! (while it is being read) an open handle. Reading emits every complete entry after the
//! offset; an unterminated last entry is re-read on the next poll until it ends, or is
//! emitted once no new data came for `force_flush_period`.

use super::emit::{At, FileInfo, Sink, Stopped};
use super::source::Source;
use super::split::Splitter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How a reader reads (shared by all readers of a receiver).
#[derive(Debug, Clone)]
pub struct ReadSettings {
    pub splitter: Splitter,
    pub chunk: usize,
    pub force_flush: Duration,
}

/// A file the tailer knows.
pub struct Reader {
    pub path: PathBuf,
    pub info: FileInfo,
    pub fingerprint: Vec<u8>,
    pub offset: u64,
    pub record_number: i64,
    pub source: Option<Source>,
    /// Furthest byte ever read (to tell new data from a re-read partial entry).
    seen_end: u64,
    /// Since when the unterminated tail has not grown.
    idle_since: Option<Instant>,
}

impl Reader {
    pub fn new(path: PathBuf, fingerprint: Vec<u8>, offset: u64) -> Reader {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let mut info = FileInfo::of(&path);
        info.id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        info.fingerprint = fingerprint.as_slice().into();
        Reader {
            info,
            path,
            fingerprint,
            offset,
            record_number: 0,
            source: None,
            seen_end: offset,
            idle_since: None,
        }
    }

    /// Takes a (re)opened handle at `path`; a renamed file keeps its offset.
    pub fn attach(&mut self, path: PathBuf, source: Source, fingerprint: Vec<u8>) {
        if path != self.path {
            let (id, fp) = (self.info.id, self.info.fingerprint.clone());
            self.info = FileInfo::of(&path);
            self.info.id = id;
            self.info.fingerprint = fp;
            self.path = path;
        }
        if fingerprint.len() > self.fingerprint.len() {
            self.info.fingerprint = fingerprint.as_slice().into();
            self.fingerprint = fingerprint;
        }
        if !source.is_gzip() && source.disk_len() < self.offset {
            tracing::info!(file = %self.path.display(), "file was truncated; reading it from the start");
            self.offset = 0;
            self.seen_end = 0;
            self.record_number = 0;
        }
        self.source = Some(source);
    }

    /// Emits every entry after the offset; with `eof_flush`, the unterminated tail too.
    pub fn read(
        &mut self,
        s: &ReadSettings,
        eof_flush: bool,
        sink: &mut dyn Sink,
    ) -> Result<(), Stopped> {
        let Some(mut src) = self.source.take() else {
            return Ok(());
        };
        let r = self.read_source(&mut src, s, eof_flush, sink);
        self.source = Some(src);
        r
    }

    fn read_source(
        &mut self,
        src: &mut Source,
        s: &ReadSettings,
        eof_flush: bool,
        sink: &mut dyn Sink,
    ) -> Result<(), Stopped> {
        let mut buf: Vec<u8> = Vec::with_capacity(s.chunk);
        let mut chunk = vec![0u8; s.chunk];
        let mut grew = false;
        loop {
            let at = self.offset + buf.len() as u64;
            let n = match src.read_at(at, &mut chunk) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(file = %self.path.display(), "read failed: {e}");
                    0
                }
            };
            buf.extend_from_slice(&chunk[..n]);
            if at + n as u64 > self.seen_end {
                self.seen_end = at + n as u64;
                grew = true;
            }
            let used = self.emit_complete(&buf, s, false, sink)?;
            buf.drain(..used);
            if n == 0 {
                break;
            }
        }
        if buf.is_empty() {
            self.idle_since = None;
            return Ok(());
        }
        let now = Instant::now();
        let since = match self.idle_since {
            Some(t) if !grew => t,
            _ => *self.idle_since.insert(now),
        };
        let overdue = !s.force_flush.is_zero() && now.duration_since(since) >= s.force_flush;
        if eof_flush || overdue {
            self.emit_complete(&buf, s, true, sink)?;
            self.idle_since = None;
        }
        Ok(())
    }

    /// Emits the entries in `buf` (which starts at the offset) and advances the offset past
    /// them; returns the bytes consumed.
    fn emit_complete(
        &mut self,
        buf: &[u8],
        s: &ReadSettings,
        eof: bool,
        sink: &mut dyn Sink,
    ) -> Result<usize, Stopped> {
        let mut used = 0;
        while let Some(sp) = s.splitter.next(&buf[used..], eof) {
            let token = &buf[used + sp.token.start..used + sp.token.end];
            if !token.is_empty() {
                self.record_number += 1;
                let at = At {
                    start: self.offset,
                    end: self.offset + sp.advance as u64,
                    record_number: self.record_number,
                };
                sink.emit(&self.info, token, at)?;
            }
            used += sp.advance;
            self.offset += sp.advance as u64;
        }
        Ok(used)
    }
}
