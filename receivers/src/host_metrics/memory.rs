//! `memory`: `system.memory.*` from `/proc/meminfo`, with gopsutil's accounting (`cached`
//! includes `SReclaimable`; `used` is total minus free, buffers and cached, so that used,
//! free, buffered and cached add up to `MemTotal`).

use super::metrics::{gauge, sum, Builder, Defs};
use super::sys::{field, page_size};
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;

pub const METRICS: Defs = &[
    sum("system.memory.usage", "Bytes of memory in use.", "By", false, true, true),
    gauge("system.memory.utilization", "Percentage of memory bytes in use.", "1", false, false),
    sum("system.memory.limit", "Total bytes of memory available.", "By", false, true, false),
    gauge("system.memory.page_size", "The size of a page in bytes.", "By", true, false),
    sum("system.linux.memory.available", "An estimate of how much memory is available for starting new applications, without swapping. This is a more accurate alternative than system.memory.usage with state=free. (Linux only)", "By", false, true, false),
    sum("system.linux.memory.dirty", "The amount of dirty memory according to `/proc/meminfo`.", "By", false, true, false),
];

/// `/proc/meminfo` in bytes, as gopsutil reads it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemInfo {
    pub total: u64,
    pub free: u64,
    pub available: u64,
    pub buffers: u64,
    /// `Cached` + `SReclaimable`.
    pub cached: u64,
    pub slab_reclaimable: u64,
    pub slab_unreclaimable: u64,
    pub dirty: u64,
}

impl MemInfo {
    pub fn parse(text: &str) -> MemInfo {
        let kib = |k: &str| field(text, k).unwrap_or(0) * 1024;
        let sreclaimable = kib("SReclaimable");
        MemInfo {
            total: kib("MemTotal"),
            free: kib("MemFree"),
            available: kib("MemAvailable"),
            buffers: kib("Buffers"),
            cached: kib("Cached") + sreclaimable,
            slab_reclaimable: sreclaimable,
            slab_unreclaimable: kib("SUnreclaim"),
            dirty: kib("Dirty"),
        }
    }

    pub fn used(&self) -> u64 {
        let used = self
            .total
            .saturating_sub(self.free)
            .saturating_sub(self.buffers)
            .saturating_sub(self.cached);
        if used == 0 {
            self.total.saturating_sub(self.free)
        } else {
            used
        }
    }

    /// otelcol's states with their bytes.
    pub fn states(&self) -> [(&'static str, u64); 6] {
        [
            ("used", self.used()),
            ("free", self.free),
            ("buffered", self.buffers),
            ("cached", self.cached),
            ("slab_reclaimable", self.slab_reclaimable),
            ("slab_unreclaimable", self.slab_unreclaimable),
        ]
    }
}

pub struct MemoryScraper {
    enabled: Vec<bool>,
}

impl MemoryScraper {
    pub fn new(cfg: &super::config::PlainConfig) -> Self {
        MemoryScraper {
            enabled: cfg.metrics.resolve(METRICS),
        }
    }
}

impl Scraper for MemoryScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let m = match cx.root.read("proc/meminfo") {
            Ok(t) => MemInfo::parse(&t),
            Err(e) => return vec![format!("failed to read memory info: {e}")],
        };
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        for (state, bytes) in m.states() {
            b.int("system.memory.usage", bytes as i64, &[("state", state)]);
            if m.total > 0 {
                let u = bytes as f64 / m.total as f64;
                b.double("system.memory.utilization", u, &[("state", state)]);
            }
        }
        b.int("system.memory.limit", m.total as i64, &[]);
        b.int("system.memory.page_size", page_size() as i64, &[]);
        b.int("system.linux.memory.available", m.available as i64, &[]);
        b.int("system.linux.memory.dirty", m.dirty as i64, &[]);
        out.extend(b.finish("memoryscraper", vec![]));
        vec![]
    }
}
