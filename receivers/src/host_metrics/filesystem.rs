//! `filesystem`: `system.filesystem.*` per mounted filesystem: the mounts of
//! `/proc/1/mountinfo` (else `/proc/self/mounts`) under `root_path`, without virtual
//! (`nodev`) filesystems unless `include_virtual_filesystems`, filtered by device, type and
//! mount point; sizes from `statvfs` of the mount point under `root_path`.

use super::config::FilesystemConfig;
use super::filter::IncludeExclude;
use super::metrics::{gauge, sum, Builder, Defs};
use super::sys::{statvfs, FsStat, Root};
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;

pub const METRICS: Defs = &[
    sum(
        "system.filesystem.usage",
        "Filesystem bytes used.",
        "By",
        false,
        true,
        true,
    ),
    sum(
        "system.filesystem.inodes.usage",
        "FileSystem inodes used.",
        "{inodes}",
        false,
        true,
        true,
    ),
    gauge(
        "system.filesystem.utilization",
        "Fraction of filesystem bytes used.",
        "1",
        false,
        false,
    ),
];

/// One mount.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fs_type: String,
    /// `rw`, `ro` or `unknown`.
    pub mode: &'static str,
}

fn mode(opts: &str) -> &'static str {
    let opts: Vec<&str> = opts.split(',').collect();
    if opts.contains(&"rw") {
        "rw"
    } else if opts.contains(&"ro") {
        "ro"
    } else {
        "unknown"
    }
}

/// `/proc/<pid>/mountinfo` (octal escapes such as `\040` decoded).
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let lf: Vec<&str> = left.split_whitespace().collect();
            let rf: Vec<&str> = right.split_whitespace().collect();
            if lf.len() < 6 || rf.len() < 2 {
                return None;
            }
            Some(Mount {
                device: unescape(rf[1]),
                mountpoint: unescape(lf[4]),
                fs_type: rf[0].to_string(),
                mode: mode(lf[5]),
            })
        })
        .collect()
}

/// `/proc/<pid>/mounts` (fstab format).
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4).then(|| Mount {
                device: unescape(f[0]),
                mountpoint: unescape(f[1]),
                fs_type: f[2].to_string(),
                mode: mode(f[3]),
            })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|o| b[i] == b'\\' && o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(o) => {
                out.push(
                    o.iter()
                        .fold(0u8, |a, c| a.wrapping_mul(8).wrapping_add(c - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The filesystem types of `/proc/filesystems` backed by a device (no `nodev`).
pub fn physical_types(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

pub struct FilesystemScraper {
    enabled: Vec<bool>,
    virtual_fs: bool,
    devices: IncludeExclude,
    fs_types: IncludeExclude,
    mount_points: IncludeExclude,
}

impl FilesystemScraper {
    pub fn new(c: &FilesystemConfig) -> Result<Self, String> {
        let pair = |i, e| -> Result<IncludeExclude, String> {
            Ok(IncludeExclude {
                include: i,
                exclude: e,
            })
        };
        Ok(FilesystemScraper {
            enabled: c.metrics.resolve(METRICS),
            virtual_fs: c.include_virtual_filesystems,
            devices: pair(c.include_devices.filter()?, c.exclude_devices.filter()?)?,
            fs_types: pair(c.include_fs_types.filter()?, c.exclude_fs_types.filter()?)?,
            mount_points: pair(
                c.include_mount_points.filter()?,
                c.exclude_mount_points.filter()?,
            )?,
        })
    }

    /// The mounts to report, in mount table order.
    pub fn mounts(&self, root: &Root) -> Result<Vec<Mount>, String> {
        let mounts = match root.read("proc/1/mountinfo") {
            Ok(t) => parse_mountinfo(&t),
            Err(_) => root
                .read("proc/self/mounts")
                .map(|t| parse_mounts(&t))
                .map_err(|e| format!("failed to get partitions: {e}"))?,
        };
        let physical = if self.virtual_fs {
            None
        } else {
            Some(physical_types(
                &root.read("proc/filesystems").unwrap_or_default(),
            ))
        };
        Ok(mounts
            .into_iter()
            .filter(|m| {
                physical
                    .as_ref()
                    .is_none_or(|p| m.device != "none" && p.contains(&m.fs_type))
            })
            .filter(|m| {
                self.devices.keeps(&m.device)
                    && self.fs_types.keeps(&m.fs_type)
                    && self.mount_points.keeps(&m.mountpoint)
            })
            .collect())
    }
}

/// Records one filesystem's points, as otelcol computes them from statfs.
pub fn record(b: &mut Builder<'_>, m: &Mount, s: &FsStat) {
    let bs = s.block_size;
    let used = s.blocks.saturating_sub(s.blocks_free) * bs;
    let free = s.blocks_avail * bs;
    let reserved = (s.blocks * bs).saturating_sub(used).saturating_sub(free);
    let attrs = |state| {
        [
            ("device", m.device.as_str()),
            ("mode", m.mode),
            ("mountpoint", m.mountpoint.as_str()),
            ("type", m.fs_type.as_str()),
            ("state", state),
        ]
    };
    b.int("system.filesystem.usage", used as i64, &attrs("used"));
    b.int("system.filesystem.usage", free as i64, &attrs("free"));
    b.int(
        "system.filesystem.usage",
        reserved as i64,
        &attrs("reserved"),
    );
    let inodes_used = s.files.saturating_sub(s.files_free);
    b.int(
        "system.filesystem.inodes.usage",
        inodes_used as i64,
        &attrs("used"),
    );
    b.int(
        "system.filesystem.inodes.usage",
        s.files_free as i64,
        &attrs("free"),
    );
    if used + free > 0 {
        let a = attrs("");
        b.double(
            "system.filesystem.utilization",
            used as f64 / (used + free) as f64,
            &a[..4],
        );
    }
}

impl Scraper for FilesystemScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let mounts = match self.mounts(cx.root) {
            Ok(m) => m,
            Err(e) => return vec![e],
        };
        let mut errors = vec![];
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        for m in &mounts {
            match statvfs(&cx.root.path(&m.mountpoint)) {
                Ok(s) => record(&mut b, m, &s),
                Err(e) => errors.push(format!("failed to read usage at {}: {e}", m.mountpoint)),
            }
        }
        out.extend(b.finish("filesystemscraper", vec![]));
        errors
    }
}
