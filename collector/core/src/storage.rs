//! The storage capability that extensions (`file_storage`) offer to persistent sending queues.
//! An exporter with `sending_queue.storage: <extension id>` gets one [`QueueStore`] per
//! signal from that extension's [`Storage`]; the engine writes every accepted request to it
//! before the client gets success, and removes it once exported (or dropped for good).
//!
//! ```yaml
//! extensions:
//!   file_storage/queue: { directory: /var/lib/otelcol/queue, create_directory: true }
//! exporters:
//!   otlp:
//!     endpoint: backend:4317
//!     sending_queue: { storage: file_storage/queue }
//! service:
//!   extensions: [file_storage/queue]
//! ```

use std::sync::Arc;

/// A storage operation failed (I/O error, full disk, ...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        StorageError(e.to_string())
    }
}

/// A record a previous run left in a [`QueueStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: u64,
    pub data: Vec<u8>,
    /// It was handed to an exporter (see [`QueueStore::dispatched`]) and not removed: it may
    /// have been delivered already, so sending it again may duplicate it.
    pub dispatched: bool,
}

/// What [`QueueStore::recover`] found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Intact records, oldest first.
    pub records: Vec<StoredRecord>,
    /// Records that were cut short or corrupt (a crash while writing) and were deleted.
    pub discarded: usize,
}

/// A durable FIFO of opaque records for one queue (one exporter and signal).
///
/// Every method does blocking file I/O: call them off the async worker threads
/// (`spawn_blocking`). Methods may be called concurrently from several threads.
pub trait QueueStore: Send + Sync {
    /// Stores a record and returns its sequence number (increasing). Once this returns, the
    /// record survives the process being killed (and a power loss when the storage syncs).
    fn push(&self, data: &[u8]) -> Result<u64, StorageError>;
    /// Notes that the record is being exported, so that a crash before [`Self::remove`] is
    /// recognised as a possible duplicate on the next start.
    fn dispatched(&self, seq: u64) -> Result<(), StorageError>;
    /// Deletes a record (exported, or dropped for good).
    fn remove(&self, seq: u64) -> Result<(), StorageError>;
    /// Reads what earlier runs left, oldest first. Called once, before any `push`.
    fn recover(&self) -> Result<Recovered, StorageError>;
}

/// A small durable map from keys to values for one component (otelcol's `storage.Client`),
/// e.g. the `file_log` receiver's file offsets.
///
/// Every method does blocking file I/O: call them off the async worker threads.
pub trait KeyValueStore: Send + Sync {
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Replaces the value under `key`. Once this returns, the value survives the process being
    /// killed (a reader sees the old or the new value, never a mix).
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Deletes `key` (absent is fine).
    fn delete(&self, key: &str) -> Result<(), StorageError>;
}

/// An extension that stores data for other components (otelcol's `storage.Extension`).
pub trait Storage: Send + Sync {
    /// Opens, creating if needed, the queue called `name` (e.g. `exporter_otlp_traces`).
    fn open_queue(&self, name: &str) -> Result<Arc<dyn QueueStore>, StorageError>;
    /// Opens, creating if needed, the key-value client called `name` (otelcol's names:
    /// `receiver_filelog_<name>`). Storages without one say so.
    fn open_client(&self, name: &str) -> Result<Arc<dyn KeyValueStore>, StorageError> {
        Err(StorageError(format!(
            "storage does not offer key-value clients (asked for {name:?})"
        )))
    }
}
