//! The host as the scrapers see it: files under `root_path`, the clock tick and page size,
//! `statvfs`, the boot time.

// Calls into the C library need unsafe; each block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The host's root directory (`root_path`, `/` when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Root(PathBuf);

impl Root {
    pub fn new(root_path: &str) -> Self {
        if root_path.is_empty() {
            Root(PathBuf::from("/"))
        } else {
            Root(PathBuf::from(root_path))
        }
    }

    /// `rel` (e.g. `proc/stat`) under the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel.trim_start_matches('/'))
    }

    pub fn read(&self, rel: &str) -> io::Result<String> {
        std::fs::read_to_string(self.path(rel))
    }

    /// Whether this is the host's own root.
    pub fn is_host(&self) -> bool {
        self.0 == Path::new("/")
    }
}

/// Ticks per second of `/proc` CPU times.
pub fn clk_tck() -> f64 {
    // SAFETY: sysconf reads a constant of the C library; no memory is passed.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Bytes per memory page.
pub fn page_size() -> u64 {
    // SAFETY: as above.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// What `statvfs` says of a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FsStat {
    pub block_size: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_avail: u64,
    pub files: u64,
    pub files_free: u64,
}

pub fn statvfs(path: &Path) -> io::Result<FsStat> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))?;
    // SAFETY: statvfs is plain data; zeroed is a valid value for it.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated string that outlives the call; `s` is a valid,
    // exclusively borrowed statvfs the call fills.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(FsStat {
        block_size: s.f_bsize as u64,
        blocks: s.f_blocks as u64,
        blocks_free: s.f_bfree as u64,
        blocks_avail: s.f_bavail as u64,
        files: s.f_files as u64,
        files_free: s.f_ffree as u64,
    })
}

/// Boot time in Unix seconds: `btime` of `/proc/stat`.
pub fn boot_time(root: &Root) -> io::Result<u64> {
    let stat = root.read("proc/stat")?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no btime in /proc/stat"))
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The `key:` line of a `/proc` key-value file (`meminfo`, `status`), first number.
pub fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        v.split_whitespace().next()?.parse().ok()
    })
}

/// An I/O error as Go words it (`no such file or directory`), after `op path: `.
pub fn go_error(op: &str, path: &Path, e: &io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut c = text.chars();
    let text = match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    };
    format!("{op} {}: {text}", path.display())
}
