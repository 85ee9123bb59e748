//! `paging`: `system.paging.*`: swap usage per device from `/proc/swaps`, paging operations
//! and faults from `/proc/vmstat` (counts times 4096, as gopsutil reports them).

use super::metrics::{gauge, sum, Builder, Defs};
use super::sys::field;
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;

pub const METRICS: Defs = &[
    sum(
        "system.paging.usage",
        "Swap (unix) or pagefile (windows) usage.",
        "By",
        false,
        true,
        true,
    ),
    sum(
        "system.paging.operations",
        "The number of paging operations.",
        "{operations}",
        true,
        true,
        true,
    ),
    sum(
        "system.paging.faults",
        "The number of page faults.",
        "{faults}",
        true,
        true,
        true,
    ),
    gauge(
        "system.paging.utilization",
        "Swap (unix) or pagefile (windows) utilization.",
        "1",
        false,
        false,
    ),
];

/// One swap device: name, size and used bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Swap {
    pub device: String,
    pub size: u64,
    pub used: u64,
}

pub fn parse_swaps(text: &str) -> Vec<Swap> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 {
                return None;
            }
            Some(Swap {
                device: f[0].to_string(),
                size: f[2].parse::<u64>().ok()? * 1024,
                used: f[3].parse::<u64>().ok()? * 1024,
            })
        })
        .collect()
}

/// `/proc/vmstat` counters as gopsutil's `SwapMemory` gives them (each times 4 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VmStat {
    pub swap_in: u64,
    pub swap_out: u64,
    pub page_in: u64,
    pub page_out: u64,
    pub faults: u64,
    pub major_faults: u64,
}

pub fn parse_vmstat(text: &str) -> VmStat {
    let v = |k: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(k)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            * 4096
    };
    VmStat {
        swap_in: v("pswpin"),
        swap_out: v("pswpout"),
        page_in: v("pgpgin"),
        page_out: v("pgpgout"),
        faults: v("pgfault"),
        major_faults: v("pgmajfault"),
    }
}

pub struct PagingScraper {
    enabled: Vec<bool>,
}

impl PagingScraper {
    pub fn new(cfg: &super::config::PlainConfig) -> Self {
        PagingScraper {
            enabled: cfg.metrics.resolve(METRICS),
        }
    }
}

fn record_usage(b: &mut Builder<'_>, swaps: &[Swap]) {
    for s in swaps {
        let free = s.size.saturating_sub(s.used);
        let dev = s.device.as_str();
        b.int(
            "system.paging.usage",
            s.used as i64,
            &[("device", dev), ("state", "used")],
        );
        b.int(
            "system.paging.usage",
            free as i64,
            &[("device", dev), ("state", "free")],
        );
        if s.size > 0 {
            let total = s.size as f64;
            b.double(
                "system.paging.utilization",
                s.used as f64 / total,
                &[("device", dev), ("state", "used")],
            );
            b.double(
                "system.paging.utilization",
                free as f64 / total,
                &[("device", dev), ("state", "free")],
            );
        }
    }
}

fn record_vm(b: &mut Builder<'_>, v: &VmStat) {
    let op = "system.paging.operations";
    b.int(
        op,
        v.swap_in as i64,
        &[("direction", "page_in"), ("type", "major")],
    );
    b.int(
        op,
        v.swap_out as i64,
        &[("direction", "page_out"), ("type", "major")],
    );
    b.int(
        op,
        v.page_in as i64,
        &[("direction", "page_in"), ("type", "minor")],
    );
    b.int(
        op,
        v.page_out as i64,
        &[("direction", "page_out"), ("type", "minor")],
    );
    b.int(
        "system.paging.faults",
        v.major_faults as i64,
        &[("type", "major")],
    );
    let minor = v.faults.saturating_sub(v.major_faults);
    b.int("system.paging.faults", minor as i64, &[("type", "minor")]);
}

impl Scraper for PagingScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let mut errors = vec![];
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        match cx.root.read("proc/swaps") {
            Ok(t) => record_usage(&mut b, &parse_swaps(&t)),
            Err(e) => errors.push(format!("failed to read page file stats: {e}")),
        }
        match cx.root.read("proc/vmstat") {
            Ok(t) => record_vm(&mut b, &parse_vmstat(&t)),
            Err(e) => errors.push(format!("failed to read swap info: {e}")),
        }
        out.extend(b.finish("pagingscraper", vec![]));
        errors
    }
}

/// Swap totals of `/proc/meminfo` (for the real-host test).
pub fn meminfo_swap(text: &str) -> (u64, u64) {
    (
        field(text, "SwapTotal").unwrap_or(0) * 1024,
        field(text, "SwapFree").unwrap_or(0) * 1024,
    )
}
