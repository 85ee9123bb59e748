//! `file_storage` extension (otelcol contrib): local disk storage for persistent sending
//! queues. An exporter with `sending_queue.storage: file_storage/<name>` keeps its queue in
//! `<directory>/exporter_<exporter id>_<signal>/`, one file per request named by a sequence
//! number (`00000000000000000042.rec`; renamed `.out` while it is being exported). Each file
//! holds a 16-byte header (magic, length, CRC-32) and the OTLP request, so a file cut short
//! by a crash (or, with `fsync: false`, by a power loss) is recognised, deleted and counted,
//! never sent half. Unlike otelcol's bbolt database there is nothing to compact: a file is
//! deleted once its request is exported, so the `compaction` keys are accepted and do nothing.
//! ferrotel takes no file lock on the directory, so `timeout` (otelcol's wait for bbolt's lock)
//! is accepted and unused too: do not point two collectors at the same directory.
//!
//! ```yaml
//! extensions:
//!   file_storage/queue:
//!     directory: /var/lib/otelcol/file_storage   # default
//!     create_directory: true                     # default false: the directory must exist
//!     directory_permissions: "0750"              # used with create_directory
//!     fsync: false                               # true: fsync every write (survives power loss)
//!     timeout: 1s                                # accepted, unused
//!     compaction: { on_start: false, on_rebound: false }   # accepted, nothing to compact
//! exporters:
//!   otlp:
//!     endpoint: backend:4317
//!     sending_queue: { storage: file_storage/queue }
//! service:
//!   extensions: [file_storage/queue]
//! ```

use ferrotel_config::{ConfigErrors, GoDuration, Validate, Validator};
use ferrotel_core::storage::{Recovered, StoredRecord};
use ferrotel_core::{
    CreateContext, Extension, ExtensionContext, Factory, FactoryInfo, KeyValueStore, QueueStore,
    Stability, StartError, Storage, StorageError,
};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// `compaction`: otelcol compacts its bbolt file; ferrotel's files need no compaction, so
/// these keys are accepted for compatibility and have no effect.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompactionConfig {
    /// Compact when the collector starts (no effect).
    pub on_start: bool,
    /// Compact online after usage drops (no effect).
    pub on_rebound: bool,
    /// Scratch directory for compaction (no effect).
    pub directory: Option<String>,
    /// Largest compaction transaction in bytes (no effect).
    pub max_transaction_size: u64,
    /// Allocated size that marks a rebound compaction as needed (no effect).
    pub rebound_needed_threshold_mib: u64,
    /// Size below which a needed rebound compaction starts (no effect).
    pub rebound_trigger_threshold_mib: u64,
    /// How often rebound conditions are checked (no effect).
    pub check_interval: GoDuration,
    /// Remove leftover compaction files at start (no effect).
    pub cleanup_on_start: bool,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            on_start: false,
            on_rebound: false,
            directory: None,
            max_transaction_size: 65536,
            rebound_needed_threshold_mib: 100,
            rebound_trigger_threshold_mib: 10,
            check_interval: GoDuration::from_secs(5),
            cleanup_on_start: false,
        }
    }
}

/// `extensions.file_storage`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileStorageConfig {
    /// Directory holding the data (one subdirectory per queue).
    pub directory: String,
    /// otelcol's wait for the database file lock; accepted, unused (no lock is taken).
    pub timeout: GoDuration,
    /// Sync every write (and the directory entry) to disk before acknowledging it.
    pub fsync: bool,
    /// Create `directory` at start if it does not exist (else it must exist).
    pub create_directory: bool,
    /// Octal permissions of a directory created by `create_directory`.
    pub directory_permissions: String,
    /// At start, move each queue's existing data aside (`<queue>.backup-<unix time>`) and
    /// start empty.
    pub recreate: bool,
    /// Compaction settings (accepted, no effect).
    pub compaction: CompactionConfig,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: "/var/lib/otelcol/file_storage".into(),
            timeout: GoDuration::from_secs(1),
            fsync: false,
            create_directory: false,
            directory_permissions: "0750".into(),
            recreate: false,
            compaction: CompactionConfig::default(),
        }
    }
}

impl FileStorageConfig {
    /// The parsed `directory_permissions`: octal, file-access bits (`0777`) only.
    fn permissions(&self) -> Result<u32, &'static str> {
        let m = u32::from_str_radix(&self.directory_permissions, 8)
            .map_err(|_| "directory_permissions value must be a valid octal representation")?;
        if m & 0o777 != m {
            return Err("directory_permissions contain invalid bits for file access");
        }
        Ok(m)
    }

    /// The directories that must exist (unless created): `directory`, and the compaction
    /// directory when compaction is on, with their keys.
    fn directories(&self) -> Vec<(&'static str, &str)> {
        let mut dirs = vec![("directory", self.directory.as_str())];
        let c = &self.compaction;
        if let (true, Some(d)) = (c.on_start || c.on_rebound, &c.directory) {
            dirs.push(("compaction.directory", d.as_str()));
        }
        dirs
    }
}

impl Validate for FileStorageConfig {
    /// Checks the keys, and that the directories exist unless they are to be created (as
    /// otelcol).
    fn validate(&self, v: &mut Validator<'_>) {
        if self.directory.is_empty() {
            v.report_at("directory", "must not be empty");
        }
        for (key, dir) in self.directories() {
            match fs::metadata(dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => v.report_at(key, format!("{dir} is not a directory")),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    if !self.create_directory && !dir.is_empty() {
                        v.report_at(
                            key,
                            format!("directory must exist: stat {dir}: {err}. You can enable the create_directory option to automatically create it"),
                        );
                    }
                }
                Err(err) => v.report_at(
                    key,
                    format!("problem accessing configured directory: {dir}, err: {err}"),
                ),
            }
        }
        if self.create_directory {
            if let Err(problem) = self.permissions() {
                v.report_at("directory_permissions", problem);
            }
        }
    }
}

/// The `file_storage` extension. Its [`Storage`] opens one [`FileQueue`] per queue name.
pub struct FileStorage {
    cfg: FileStorageConfig,
    storage: Arc<FileStorageClient>,
}

struct FileStorageClient {
    directory: PathBuf,
    fsync: bool,
    recreate: bool,
}

impl FileStorage {
    /// The extension for `cfg` (validated by the factory).
    pub fn new(cfg: FileStorageConfig) -> FileStorage {
        let storage = Arc::new(FileStorageClient {
            directory: PathBuf::from(&cfg.directory),
            fsync: cfg.fsync,
            recreate: cfg.recreate,
        });
        FileStorage { cfg, storage }
    }

    /// Opens (creating) the queue `name` in the storage directory.
    pub fn open(&self, name: &str) -> Result<FileQueue, StorageError> {
        self.storage.open(name)
    }
}

impl FileStorageClient {
    fn open(&self, name: &str) -> Result<FileQueue, StorageError> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = self.directory.join(safe);
        if self.recreate && dir.exists() {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let aside = dir.with_extension(format!("backup-{secs}"));
            fs::rename(&dir, &aside)
                .map_err(|e| StorageError(format!("moving {} aside: {e}", dir.display())))?;
        }
        FileQueue::open(&dir, self.fsync)
    }
}

impl Storage for FileStorageClient {
    fn open_queue(&self, name: &str) -> Result<Arc<dyn QueueStore>, StorageError> {
        Ok(Arc::new(self.open(name)?))
    }

    fn open_client(&self, name: &str) -> Result<Arc<dyn KeyValueStore>, StorageError> {
        let dir = self.directory.join(format!("{}.kv", safe_name(name)));
        fs::create_dir_all(&dir)
            .map_err(|e| StorageError(format!("creating {}: {e}", dir.display())))?;
        Ok(Arc::new(FileKv {
            dir,
            fsync: self.fsync,
        }))
    }
}

/// A name as a file name: ASCII letters, digits, `_` and `-`; anything else becomes `_`.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A key-value client: one file per key (hex-named), replaced atomically by rename.
pub struct FileKv {
    dir: PathBuf,
    fsync: bool,
}

impl FileKv {
    fn path(&self, key: &str) -> PathBuf {
        self.dir
            .join(key.bytes().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

impl KeyValueStore for FileKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match fs::read(self.path(key)) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let path = self.path(key);
        let tmp = path.with_extension("tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(value)?;
            if self.fsync {
                f.sync_all()?;
            }
        }
        fs::rename(&tmp, &path)?;
        if self.fsync {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        match fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Extension for FileStorage {
    async fn start(&mut self, _ctx: ExtensionContext) -> Result<(), StartError> {
        let dir = Path::new(&self.cfg.directory);
        if self.cfg.create_directory {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(self.cfg.permissions().unwrap_or(0o750));
            }
            b.create(dir)
                .map_err(|e| StartError(format!("creating directory {}: {e}", dir.display())))?;
        }
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StartError(format!("{} is not a directory", dir.display()))),
            Err(e) => Err(StartError(format!("directory {}: {e}", dir.display()))),
        }
    }

    async fn shutdown(&mut self) {}

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn storage(&self) -> Option<Arc<dyn Storage>> {
        Some(self.storage.clone())
    }
}

/// Factory of `file_storage`.
pub struct FileStorageFactory;

impl Factory for FileStorageFactory {
    type Config = FileStorageConfig;
    type Component = Box<dyn Extension>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "file_storage",
            "local disk storage for persistent sending queues",
        )
        .stability(Stability::Beta)
        .example("directory: /tmp")
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        cfg: FileStorageConfig,
    ) -> Result<Box<dyn Extension>, ConfigErrors> {
        Ok(Box::new(FileStorage::new(cfg)))
    }
}

// ---------------------------------------------------------------------------------------------
// The queue files.

const MAGIC: &[u8; 4] = b"FTQ1";
const HEADER: usize = 16;
const QUEUED: &str = "rec";
const DISPATCHED: &str = "out";

/// One queue: a directory with one file per record, named by its sequence number.
pub struct FileQueue {
    dir: PathBuf,
    fsync: bool,
    next: AtomicU64,
}

fn seq_of(path: &Path) -> Option<(u64, bool)> {
    let dispatched = match path.extension()?.to_str()? {
        QUEUED => false,
        DISPATCHED => true,
        _ => return None,
    };
    let seq = path.file_stem()?.to_str()?.parse().ok()?;
    Some((seq, dispatched))
}

/// The payload of a record file, or None if it is cut short or corrupt.
fn parse(bytes: &[u8]) -> Option<&[u8]> {
    let (head, data) = bytes.split_at_checked(HEADER)?;
    let len = u64::from_le_bytes(head[4..12].try_into().ok()?);
    let crc = u32::from_le_bytes(head[12..16].try_into().ok()?);
    (&head[..4] == MAGIC && len == data.len() as u64 && crc32fast::hash(data) == crc)
        .then_some(data)
}

impl FileQueue {
    /// Opens the queue in `dir`, creating the directory if needed.
    pub fn open(dir: &Path, fsync: bool) -> Result<FileQueue, StorageError> {
        fs::create_dir_all(dir)
            .map_err(|e| StorageError(format!("creating {}: {e}", dir.display())))?;
        let mut next = 0;
        for entry in fs::read_dir(dir)? {
            if let Some((seq, _)) = seq_of(&entry?.path()) {
                next = next.max(seq + 1);
            }
        }
        Ok(FileQueue {
            dir: dir.to_path_buf(),
            fsync,
            next: AtomicU64::new(next),
        })
    }

    fn path(&self, seq: u64, ext: &str) -> PathBuf {
        self.dir.join(format!("{seq:020}.{ext}"))
    }

    fn sync_dir(&self) -> Result<(), StorageError> {
        if self.fsync {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl QueueStore for FileQueue {
    fn push(&self, data: &[u8]) -> Result<u64, StorageError> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.path(seq, QUEUED);
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(MAGIC);
        header[4..12].copy_from_slice(&(data.len() as u64).to_le_bytes());
        header[12..].copy_from_slice(&crc32fast::hash(data).to_le_bytes());
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            f.write_all(&header)?;
            f.write_all(data)?;
            if self.fsync {
                f.sync_data()?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&path);
            return Err(StorageError(format!("writing {}: {e}", path.display())));
        }
        self.sync_dir()?;
        Ok(seq)
    }

    fn dispatched(&self, seq: u64) -> Result<(), StorageError> {
        fs::rename(self.path(seq, QUEUED), self.path(seq, DISPATCHED))?;
        Ok(())
    }

    fn remove(&self, seq: u64) -> Result<(), StorageError> {
        match fs::remove_file(self.path(seq, DISPATCHED)) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::remove_file(self.path(seq, QUEUED))?;
            }
            r => r?,
        }
        Ok(())
    }

    fn recover(&self) -> Result<Recovered, StorageError> {
        let mut out = Recovered::default();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let Some((seq, dispatched)) = seq_of(&path) else {
                continue;
            };
            let bytes = fs::read(&path)?;
            match parse(&bytes) {
                Some(data) => out.records.push(StoredRecord {
                    seq,
                    data: data.to_vec(),
                    dispatched,
                }),
                None => {
                    tracing::warn!(file = %path.display(), "discarding a truncated or corrupt persistent queue record");
                    fs::remove_file(&path)?;
                    out.discarded += 1;
                }
            }
        }
        out.records.sort_by_key(|r| r.seq);
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_core::{AnyFactory, ComponentId};
    use ferrotel_testkit::config::{create_context, refused, yaml};

    fn create(config: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        FileStorageFactory.create_from(&create_context("extensions", "file_storage"), &yaml(config))
    }

    fn create_err(config: &str) -> ConfigErrors {
        refused(create(config), config)
    }

    fn testdata(name: &str) -> String {
        ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "file_storage", name)
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn valid_config_with_every_otelcol_key() {
        let tmp = tempfile::tempdir().unwrap();
        let yaml = testdata("valid.yaml").replace("DIR", &tmp.path().display().to_string());
        let ext = create(&yaml).unwrap();
        let fs = ext.as_any().downcast_ref::<FileStorage>().unwrap();
        assert!(fs.cfg.fsync);
        assert!(fs.cfg.create_directory);
        assert_eq!(fs.cfg.compaction.max_transaction_size, 65536);
        assert!(fs.cfg.compaction.on_start);
        assert!(ext.storage().is_some());
    }

    #[test]
    fn defaults_are_otelcols() {
        let c = FileStorageConfig::default();
        assert_eq!(c.directory, "/var/lib/otelcol/file_storage");
        assert_eq!(c.timeout, GoDuration::from_secs(1));
        assert!(!c.fsync);
        assert!(!c.create_directory);
        assert_eq!(c.directory_permissions, "0750");
        assert_eq!(c.compaction.rebound_needed_threshold_mib, 100);
        assert_eq!(c.compaction.rebound_trigger_threshold_mib, 10);
        assert_eq!(c.compaction.check_interval, GoDuration::from_secs(5));
    }

    #[test]
    fn typo_is_reported_with_its_path() {
        let e = create_err(&testdata("typo.yaml"));
        assert!(
            e.to_string().contains("extensions.file_storage.directroy"),
            "{e}"
        );
    }

    #[test]
    fn invalid_values_are_reported_with_their_paths() {
        let e = create_err(&testdata("invalid.yaml")).to_string();
        assert!(
            e.contains("extensions.file_storage.directory_permissions"),
            "{e}"
        );
        assert!(e.contains("must be a valid octal representation"), "{e}");
        let e = create_err("directory: /nonexistent/ferrotel/queue").to_string();
        assert!(e.contains("extensions.file_storage.directory"), "{e}");
        assert!(e.contains("directory must exist"), "{e}");
        let e = create_err(
            "directory: /tmp/x\ncreate_directory: true\ndirectory_permissions: \"07771\"",
        );
        assert_eq!(
            e.0[0].message,
            "directory_permissions contain invalid bits for file access"
        );
        // Without create_directory, the permissions are not used and not checked (as otelcol).
        create("directory: /tmp\ndirectory_permissions: \"07771\"").unwrap();
        let e = create_err(
            "directory: /tmp\ncompaction: { on_start: true, directory: /nonexistent/ferrotel/c }",
        );
        assert_eq!(e.0[0].path, "extensions.file_storage.compaction.directory");
        assert!(e.0[0].message.starts_with("directory must exist"), "{e}");
        // The compaction directory matters only when compaction is on.
        create("directory: /tmp\ncompaction: { directory: /nonexistent/ferrotel/c }").unwrap();
        let e = create_err("compaction: { on_start: maybe }").to_string();
        assert!(
            e.contains("extensions.file_storage.compaction.on_start"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn start_creates_the_directory_with_its_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let mut ext = create(&format!(
            "directory: {}\ncreate_directory: true\ndirectory_permissions: \"0700\"",
            dir.display()
        ))
        .unwrap();
        ext.start(ExtensionContext::new(ComponentId::new("file_storage")))
            .await
            .unwrap();
        assert!(dir.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        }
        let q = ext
            .storage()
            .unwrap()
            .open_queue("exporter_otlp/x_traces")
            .unwrap();
        q.push(b"hello").unwrap();
        assert!(dir.join("exporter_otlp_x_traces").is_dir());
        ext.shutdown().await;
    }

    #[test]
    fn records_survive_reopen_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let q = FileQueue::open(tmp.path(), false).unwrap();
        assert!(q.recover().unwrap().records.is_empty());
        let a = q.push(b"first").unwrap();
        let b = q.push(b"").unwrap();
        let c = q.push(b"third").unwrap();
        assert!(a < b && b < c);
        q.dispatched(b).unwrap();
        q.remove(a).unwrap();
        drop(q);

        let q = FileQueue::open(tmp.path(), true).unwrap();
        let r = q.recover().unwrap();
        assert_eq!(r.discarded, 0);
        assert_eq!(
            r.records,
            vec![
                StoredRecord {
                    seq: b,
                    data: vec![],
                    dispatched: true
                },
                StoredRecord {
                    seq: c,
                    data: b"third".to_vec(),
                    dispatched: false
                },
            ]
        );
        // New records continue after the old ones.
        let d = q.push(b"fourth").unwrap();
        assert!(d > c);
        q.remove(b).unwrap();
        q.remove(c).unwrap();
        q.remove(d).unwrap();
        assert!(files(tmp.path()).is_empty());
        assert!(q.remove(d).is_err(), "removing twice is an error");
    }

    #[test]
    fn truncated_and_corrupt_records_are_discarded_not_sent() {
        let tmp = tempfile::tempdir().unwrap();
        let q = FileQueue::open(tmp.path(), false).unwrap();
        let good = q.push(b"intact record").unwrap();
        let cut = q.push(&[7u8; 1000]).unwrap();
        let flipped = q.push(b"will be flipped").unwrap();
        let empty = q.push(b"will be emptied").unwrap();
        drop(q);
        // A crash while writing: the tail of the file never made it.
        let p = |seq: u64| tmp.path().join(format!("{seq:020}.rec"));
        let f = OpenOptions::new().write(true).open(p(cut)).unwrap();
        f.set_len(500).unwrap();
        let mut bytes = fs::read(p(flipped)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(p(flipped), bytes).unwrap();
        fs::write(p(empty), b"").unwrap();
        fs::write(tmp.path().join("unrelated.txt"), b"x").unwrap();

        let q = FileQueue::open(tmp.path(), false).unwrap();
        let r = q.recover().unwrap();
        assert_eq!(r.discarded, 3);
        assert_eq!(r.records.len(), 1);
        assert_eq!(r.records[0].seq, good);
        assert_eq!(r.records[0].data, b"intact record");
        assert_eq!(
            files(tmp.path()),
            vec![format!("{good:020}.rec"), "unrelated.txt".to_string()]
        );
    }

    #[test]
    fn recreate_moves_old_data_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().display().to_string();
        let old = FileStorage::new(FileStorageConfig {
            directory: d.clone(),
            ..Default::default()
        });
        old.open("q").unwrap().push(b"old").unwrap();
        let new = FileStorage::new(FileStorageConfig {
            directory: d,
            recreate: true,
            ..Default::default()
        });
        let q = new.open("q").unwrap();
        assert!(q.recover().unwrap().records.is_empty());
        let names = files(tmp.path());
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names.iter().any(|n| n.starts_with("q.backup-")),
            "{names:?}"
        );
    }

    #[test]
    fn key_values_survive_reopen_and_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::new(FileStorageConfig {
            directory: dir.path().to_string_lossy().into_owned(),
            ..FileStorageConfig::default()
        });
        let kv = storage
            .storage()
            .unwrap()
            .open_client("receiver_filelog_")
            .unwrap();
        assert_eq!(kv.get("knownFiles").unwrap(), None);
        kv.set("knownFiles", b"one").unwrap();
        kv.set("knownFiles", b"two").unwrap();
        let again = storage
            .storage()
            .unwrap()
            .open_client("receiver_filelog_")
            .unwrap();
        assert_eq!(
            again.get("knownFiles").unwrap().as_deref(),
            Some(&b"two"[..])
        );
        again.delete("knownFiles").unwrap();
        assert_eq!(kv.get("knownFiles").unwrap(), None);
    }

    #[test]
    fn concurrent_pushes_get_distinct_records() {
        let tmp = tempfile::tempdir().unwrap();
        let q = Arc::new(FileQueue::open(tmp.path(), false).unwrap());
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..50u8 {
                        q.push(&[t, i]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let r = q.recover().unwrap();
        assert_eq!(r.records.len(), 200);
        let mut data: Vec<Vec<u8>> = r.records.into_iter().map(|r| r.data).collect();
        data.sort();
        data.dedup();
        assert_eq!(data.len(), 200);
    }
}
