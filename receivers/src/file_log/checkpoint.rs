//! File offsets in a storage extension (`storage:`): the fingerprint, offset, path and record
//! number of every known file, saved as one JSON value under `knownFiles`, replaced
//! atomically, whenever the delivered positions move (see [`super::ledger`]); at start they
//! are loaded and matched by fingerprint on the first poll, so reading resumes after the last
//! delivered entry.

use super::emit::FileInfo;
use super::reader::Reader;
use base64::Engine;
use ferrotel_core::{KeyValueStore, StorageError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// The storage key.
pub const KEY: &str = "knownFiles";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Saved {
    fingerprint: String,
    offset: u64,
    path: String,
    record_number: i64,
}

/// Where reading a file stands (or stood): what a checkpoint keeps of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePos {
    /// The reader's id in this run ([`super::emit::FileInfo::id`]).
    pub id: u64,
    pub fingerprint: Arc<[u8]>,
    pub path: String,
    pub offset: u64,
    pub record_number: i64,
}

impl FilePos {
    pub fn of(r: &Reader) -> FilePos {
        FilePos::of_info(&r.info, r.offset, r.record_number)
    }

    pub fn of_info(f: &FileInfo, offset: u64, record_number: i64) -> FilePos {
        FilePos {
            id: f.id,
            fingerprint: f.fingerprint.clone(),
            path: f.path.clone(),
            offset,
            record_number,
        }
    }
}

/// Saves and loads one receiver's offsets.
pub struct Checkpoints {
    store: Arc<dyn KeyValueStore>,
    last: Vec<u8>,
}

impl Checkpoints {
    pub fn new(store: Arc<dyn KeyValueStore>) -> Checkpoints {
        Checkpoints {
            store,
            last: vec![],
        }
    }

    /// The files saved by the last run (unreadable data is reported, not fatal: the files are
    /// then read as new ones).
    pub fn load(&mut self) -> Result<Vec<Reader>, StorageError> {
        let Some(bytes) = self.store.get(KEY)? else {
            return Ok(vec![]);
        };
        let saved: Vec<Saved> = serde_json::from_slice(&bytes)
            .map_err(|e| StorageError(format!("unreadable file_log checkpoint: {e}")))?;
        self.last = bytes;
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(saved
            .into_iter()
            .filter_map(|s| {
                let fp = b64.decode(s.fingerprint).ok()?;
                let mut r = Reader::new(PathBuf::from(s.path), fp, s.offset);
                r.record_number = s.record_number;
                Some(r)
            })
            .collect())
    }

    /// Saves the files' state if it changed since the last save.
    pub fn save<'a>(
        &mut self,
        files: impl Iterator<Item = &'a FilePos>,
    ) -> Result<(), StorageError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let saved: Vec<Saved> = files
            .map(|f| Saved {
                fingerprint: b64.encode(&f.fingerprint),
                offset: f.offset,
                path: f.path.clone(),
                record_number: f.record_number,
            })
            .collect();
        let bytes = serde_json::to_vec(&saved).map_err(|e| StorageError(e.to_string()))?;
        if bytes != self.last {
            self.store.set(KEY, &bytes)?;
            self.last = bytes;
        }
        Ok(())
    }
}
