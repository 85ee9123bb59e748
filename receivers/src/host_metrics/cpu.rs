//! `cpu`: `system.cpu.*` from `/proc/stat` (times per logical CPU and state) and
//! `/proc/cpuinfo` (counts, frequency).

use super::metrics::{gauge, sum, Builder, Defs};
use super::sys::{clk_tck, Root};
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;
use std::collections::{BTreeSet, HashMap};

pub const METRICS: Defs = &[
    sum("system.cpu.time", "Total seconds each logical CPU spent on each mode.", "s", true, false, true),
    gauge("system.cpu.utilization", "Difference in system.cpu.time since the last measurement per logical CPU, divided by the elapsed time (value in interval [0,1]).", "1", false, false),
    sum("system.cpu.physical.count", "Number of available physical CPUs.", "{cpu}", false, true, false),
    sum("system.cpu.logical.count", "Number of available logical CPUs.", "{cpu}", false, true, false),
    gauge("system.cpu.frequency", "Current frequency of the CPU core in Hz.", "Hz", false, false),
];

/// otelcol's states, in `/proc/stat` column order (user nice system idle iowait irq softirq steal).
pub const STATES: [&str; 8] = [
    "user",
    "nice",
    "system",
    "idle",
    "wait",
    "interrupt",
    "softirq",
    "steal",
];

/// One logical CPU's ticks per state, in [`STATES`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuTimes {
    pub cpu: String,
    pub ticks: [u64; 8],
}

impl CpuTimes {
    fn total(&self) -> u64 {
        self.ticks.iter().sum()
    }
}

/// The `cpuN` lines of `/proc/stat` (the aggregate `cpu` line is not one).
pub fn parse_stat(text: &str) -> Vec<CpuTimes> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let cpu = f.next()?;
            let n = cpu.strip_prefix("cpu")?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut ticks = [0u64; 8];
            for t in ticks.iter_mut() {
                *t = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
            Some(CpuTimes {
                cpu: cpu.to_string(),
                ticks,
            })
        })
        .collect()
}

/// Physical cores (distinct `physical id` / `core id` pairs) and MHz per processor.
pub fn parse_cpuinfo(text: &str) -> (usize, Vec<(String, f64)>) {
    let mut cores = BTreeSet::new();
    let mut mhz = vec![];
    let (mut proc_n, mut phys) = (String::new(), String::new());
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => proc_n = v.to_string(),
            "physical id" => phys = v.to_string(),
            "core id" => {
                cores.insert((phys.clone(), v.to_string()));
            }
            "cpu MHz" => {
                if let Ok(m) = v.parse::<f64>() {
                    mhz.push((format!("cpu{proc_n}"), m));
                }
            }
            _ => {}
        }
    }
    (cores.len(), mhz)
}

pub struct CpuScraper {
    enabled: Vec<bool>,
    previous: HashMap<String, CpuTimes>,
}

impl CpuScraper {
    pub fn new(cfg: &super::config::PlainConfig) -> Self {
        CpuScraper {
            enabled: cfg.metrics.resolve(METRICS),
            previous: HashMap::new(),
        }
    }

    fn counts(&self, root: &Root, b: &mut Builder<'_>, logical: usize) -> Vec<String> {
        b.int("system.cpu.logical.count", logical as i64, &[]);
        let wants = b.enabled("system.cpu.physical.count") || b.enabled("system.cpu.frequency");
        if !wants {
            return vec![];
        }
        match root.read("proc/cpuinfo") {
            Ok(text) => {
                let (physical, mhz) = parse_cpuinfo(&text);
                b.int("system.cpu.physical.count", physical as i64, &[]);
                for (cpu, m) in mhz {
                    b.double("system.cpu.frequency", m * 1e6, &[("cpu", &cpu)]);
                }
                vec![]
            }
            Err(e) => vec![format!("failed to read cpuinfo: {e}")],
        }
    }
}

impl Scraper for CpuScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let text = match cx.root.read("proc/stat") {
            Ok(t) => t,
            Err(e) => return vec![format!("failed to get cpu times: {e}")],
        };
        let times = parse_stat(&text);
        let tck = clk_tck();
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        for t in &times {
            for (state, ticks) in STATES.iter().zip(t.ticks) {
                let attrs = [("cpu", t.cpu.as_str()), ("state", *state)];
                b.double("system.cpu.time", ticks as f64 / tck, &attrs);
            }
            if let Some(prev) = self.previous.get(&t.cpu) {
                utilization(&mut b, prev, t);
            }
        }
        let errors = self.counts(cx.root, &mut b, times.len());
        self.previous = times.into_iter().map(|t| (t.cpu.clone(), t)).collect();
        out.extend(b.finish("cpuscraper", vec![]));
        errors
    }
}

/// Each state's share of the ticks elapsed since the previous scrape.
pub fn utilization(b: &mut Builder<'_>, prev: &CpuTimes, now: &CpuTimes) {
    let elapsed = now.total().saturating_sub(prev.total());
    if elapsed == 0 {
        return;
    }
    for (i, state) in STATES.iter().enumerate() {
        let d = now.ticks[i].saturating_sub(prev.ticks[i]) as f64 / elapsed as f64;
        b.double(
            "system.cpu.utilization",
            d,
            &[("cpu", &now.cpu), ("state", state)],
        );
    }
}
