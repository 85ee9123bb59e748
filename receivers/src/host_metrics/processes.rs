//! `processes`: `system.processes.count` per status (each `/proc/<pid>/stat` state, with
//! running and blocked taken from `/proc/stat`'s `procs_running` / `procs_blocked`, as
//! otelcol does) and `system.processes.created` (`/proc/stat` `processes`).

use super::metrics::{sum, Builder, Defs};
use super::sys::Root;
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;
use std::collections::BTreeMap;

pub const METRICS: Defs = &[
    sum(
        "system.processes.count",
        "Total number of processes in each state.",
        "{processes}",
        false,
        true,
        true,
    ),
    sum(
        "system.processes.created",
        "Total number of created processes.",
        "{processes}",
        true,
        true,
        true,
    ),
];

/// otelcol's status for a `/proc/<pid>/stat` state letter.
pub fn status(state: char) -> &'static str {
    match state {
        'R' => "running",
        'S' => "sleeping",
        'D' => "blocked",
        'T' | 't' => "stopped",
        'I' => "idle",
        'Z' => "zombies",
        'W' => "paging",
        'L' => "locked",
        _ => "unknown",
    }
}

/// The state letter of a `/proc/<pid>/stat` text (after the command in parentheses).
pub fn stat_state(stat: &str) -> Option<char> {
    stat.rsplit_once(") ")?.1.chars().next()
}

/// `/proc/stat`'s `procs_running`, `procs_blocked`, `processes`.
pub fn misc(stat: &str) -> (i64, i64, i64) {
    let v = |k: &str| {
        stat.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0)
    };
    (v("procs_running"), v("procs_blocked"), v("processes"))
}

/// The numeric entries of `/proc`.
pub fn pids(root: &Root) -> std::io::Result<Vec<u32>> {
    let mut pids: Vec<u32> = std::fs::read_dir(root.path("proc"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

pub struct ProcessesScraper {
    enabled: Vec<bool>,
}

impl ProcessesScraper {
    pub fn new(cfg: &super::config::PlainConfig) -> Self {
        ProcessesScraper {
            enabled: cfg.metrics.resolve(METRICS),
        }
    }
}

/// Counts per status of every process still there when read.
pub fn count(root: &Root) -> std::io::Result<BTreeMap<&'static str, i64>> {
    let mut counts = BTreeMap::new();
    for pid in pids(root)? {
        if let Ok(stat) = root.read(&format!("proc/{pid}/stat")) {
            let s = stat_state(&stat).map_or("unknown", status);
            *counts.entry(s).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

impl Scraper for ProcessesScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let mut errors = vec![];
        let mut counts = match count(cx.root) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("failed to read processes: {e}"));
                BTreeMap::new()
            }
        };
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        match cx.root.read("proc/stat") {
            Ok(stat) => {
                let (running, blocked, created) = misc(&stat);
                counts.insert("running", running);
                counts.insert("blocked", blocked);
                b.int("system.processes.created", created, &[]);
            }
            Err(e) => errors.push(format!("failed to read misc stats: {e}")),
        }
        for (status, n) in counts {
            b.int("system.processes.count", n, &[("status", status)]);
        }
        out.extend(b.finish("processesscraper", vec![]));
        errors
    }
}
