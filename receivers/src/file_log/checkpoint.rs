//! File offsets in a storage extension (`storage:`): after every poll whose entries the
//! pipeline accepted, the fingerprint, offset, path and record number of every known file are
//! saved as one JSON value under `knownFiles`, replaced atomically; at start they are loaded
//! and matched by fingerprint on the first poll, so reading resumes where the last accepted
//! entry ended.

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
        files: impl Iterator<Item = &'a Reader>,
    ) -> Result<(), StorageError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let saved: Vec<Saved> = files
            .map(|r| Saved {
                fingerprint: b64.encode(&r.fingerprint),
                offset: r.offset,
                path: r.path.to_string_lossy().into_owned(),
                record_number: r.record_number,
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
