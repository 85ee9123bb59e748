//! `disk`: `system.disk.*` per device from `/proc/diskstats` (sectors of 512 bytes, times in
//! milliseconds), filtered by `include` / `exclude` devices.

use super::config::DiskConfig;
use super::filter::IncludeExclude;
use super::metrics::{sum, Builder, Defs};
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;

pub const METRICS: Defs = &[
    sum("system.disk.io", "Disk bytes transferred.", "By", true, true, true),
    sum("system.disk.operations", "Disk operations count.", "{operations}", true, true, true),
    sum("system.disk.io_time", "Time disk spent activated. On Windows, this is calculated as the inverse of disk idle time.", "s", true, false, true),
    sum("system.disk.operation_time", "Time spent in disk operations.", "s", true, false, true),
    sum("system.disk.weighted_io_time", "Time disk spent activated multiplied by the queue length.", "s", true, false, true),
    sum("system.disk.pending_operations", "The queue size of pending I/O operations.", "{operations}", false, true, true),
    sum("system.disk.merged", "The number of disk reads/writes merged into single physical disk access operations.", "{operations}", true, true, true),
];

/// One `/proc/diskstats` line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiskStat {
    pub name: String,
    pub reads: u64,
    pub reads_merged: u64,
    pub read_bytes: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub writes_merged: u64,
    pub write_bytes: u64,
    pub write_ms: u64,
    pub in_progress: u64,
    pub io_ms: u64,
    pub weighted_ms: u64,
}

/// Lines with fewer than 14 fields are skipped, as gopsutil does.
pub fn parse(text: &str) -> Vec<DiskStat> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 14 {
                return None;
            }
            let n = |i: usize| f[i].parse::<u64>().unwrap_or(0);
            Some(DiskStat {
                name: f[2].to_string(),
                reads: n(3),
                reads_merged: n(4),
                read_bytes: n(5) * 512,
                read_ms: n(6),
                writes: n(7),
                writes_merged: n(8),
                write_bytes: n(9) * 512,
                write_ms: n(10),
                in_progress: n(11),
                io_ms: n(12),
                weighted_ms: n(13),
            })
        })
        .collect()
}

pub struct DiskScraper {
    enabled: Vec<bool>,
    filter: IncludeExclude,
}

impl DiskScraper {
    pub fn new(cfg: &DiskConfig) -> Result<Self, String> {
        Ok(DiskScraper {
            enabled: cfg.metrics.resolve(METRICS),
            filter: IncludeExclude {
                include: cfg.include.filter()?,
                exclude: cfg.exclude.filter()?,
            },
        })
    }
}

fn record(b: &mut Builder<'_>, d: &DiskStat) {
    let dev = d.name.as_str();
    let (r, w) = (
        [("device", dev), ("direction", "read")],
        [("device", dev), ("direction", "write")],
    );
    b.int("system.disk.io", d.read_bytes as i64, &r);
    b.int("system.disk.io", d.write_bytes as i64, &w);
    b.int("system.disk.operations", d.reads as i64, &r);
    b.int("system.disk.operations", d.writes as i64, &w);
    b.double(
        "system.disk.io_time",
        d.io_ms as f64 / 1000.0,
        &[("device", dev)],
    );
    b.double("system.disk.operation_time", d.read_ms as f64 / 1000.0, &r);
    b.double("system.disk.operation_time", d.write_ms as f64 / 1000.0, &w);
    b.double(
        "system.disk.weighted_io_time",
        d.weighted_ms as f64 / 1000.0,
        &[("device", dev)],
    );
    b.int(
        "system.disk.pending_operations",
        d.in_progress as i64,
        &[("device", dev)],
    );
    b.int("system.disk.merged", d.reads_merged as i64, &r);
    b.int("system.disk.merged", d.writes_merged as i64, &w);
}

impl Scraper for DiskScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let stats = match cx.root.read("proc/diskstats") {
            Ok(t) => parse(&t),
            Err(e) => return vec![format!("failed to read disk info: {e}")],
        };
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        for d in stats.iter().filter(|d| self.filter.keeps(&d.name)) {
            record(&mut b, d);
        }
        out.extend(b.finish("diskscraper", vec![]));
        vec![]
    }
}
