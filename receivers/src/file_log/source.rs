//! Reading a file's bytes at an offset: plain files by positioned reads (the handle keeps a
//! renamed or deleted file readable), gzip files (`compression: gzip`) through a decoder whose
//! offsets count decompressed bytes.

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// An open file.
pub enum Source {
    Plain(File),
    Gzip {
        file: File,
        decoder: Option<Box<(MultiGzDecoder<File>, u64)>>,
    },
}

impl Source {
    pub fn new(file: File, gzip: bool) -> Source {
        if gzip {
            Source::Gzip {
                file,
                decoder: None,
            }
        } else {
            Source::Plain(file)
        }
    }

    /// The file's size on disk (compressed size for gzip).
    pub fn disk_len(&self) -> u64 {
        let f = match self {
            Source::Plain(f) | Source::Gzip { file: f, .. } => f,
        };
        f.metadata().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_gzip(&self) -> bool {
        matches!(self, Source::Gzip { .. })
    }

    /// Reads at `at`; 0 at the end (for gzip also at an incomplete member still being written).
    pub fn read_at(&mut self, at: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(f) => f.read_at(buf, at),
            Source::Gzip { file, decoder } => {
                if decoder.as_ref().is_none_or(|s| s.1 != at) {
                    // A clone shares the handle's position: rewind it, then decode from 0.
                    let mut raw = file.try_clone()?;
                    io::Seek::seek(&mut raw, io::SeekFrom::Start(0))?;
                    let mut d = MultiGzDecoder::new(raw);
                    let skipped = io::copy(&mut (&mut d).take(at), &mut io::sink());
                    if !matches!(skipped, Ok(n) if n == at) {
                        *decoder = None;
                        return Ok(0);
                    }
                    *decoder = Some(Box::new((d, at)));
                }
                let Some(state) = decoder.as_deref_mut() else {
                    return Ok(0);
                };
                let (d, pos) = state;
                match d.read(buf) {
                    Ok(n) => {
                        *pos += n as u64;
                        Ok(n)
                    }
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        *decoder = None;
                        Ok(0)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// The first `n` bytes on disk (fewer if the file is shorter): the fingerprint.
    pub fn fingerprint(&self, n: usize) -> io::Result<Vec<u8>> {
        let f = match self {
            Source::Plain(f) | Source::Gzip { file: f, .. } => f,
        };
        fingerprint(f, n)
    }
}

/// The first `n` bytes of a file.
pub fn fingerprint(f: &File, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    let mut got = 0;
    while got < n {
        match f.read_at(&mut buf[got..], got as u64)? {
            0 => break,
            k => got += k,
        }
    }
    buf.truncate(got);
    Ok(buf)
}
