//! `load`: `system.cpu.load_average.{1m,5m,15m}` from `/proc/loadavg`, optionally divided by
//! the number of logical CPUs (`cpu_average`).

use super::metrics::{gauge, Builder, Defs};
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;

pub const METRICS: Defs = &[
    gauge(
        "system.cpu.load_average.1m",
        "Average CPU Load over 1 minute.",
        "{thread}",
        false,
        true,
    ),
    gauge(
        "system.cpu.load_average.5m",
        "Average CPU Load over 5 minutes.",
        "{thread}",
        false,
        true,
    ),
    gauge(
        "system.cpu.load_average.15m",
        "Average CPU Load over 15 minutes.",
        "{thread}",
        false,
        true,
    ),
];

/// The three averages of `/proc/loadavg`.
pub fn parse(text: &str) -> Option<[f64; 3]> {
    let mut f = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([f.next()??, f.next()??, f.next()??])
}

pub struct LoadScraper {
    enabled: Vec<bool>,
    cpu_average: bool,
}

impl LoadScraper {
    pub fn new(cfg: &super::config::LoadConfig) -> Self {
        LoadScraper {
            enabled: cfg.metrics.resolve(METRICS),
            cpu_average: cfg.cpu_average,
        }
    }
}

impl Scraper for LoadScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let avg = match cx.root.read("proc/loadavg").map(|t| parse(&t)) {
            Ok(Some(a)) => a,
            Ok(None) => return vec!["failed to read load: unexpected /proc/loadavg".into()],
            Err(e) => return vec![format!("failed to read load: {e}")],
        };
        let div = if self.cpu_average {
            std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
        } else {
            1.0
        };
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        for (def, v) in METRICS.iter().zip(avg) {
            b.double(def.name, v / div, &[]);
        }
        out.extend(b.finish("loadscraper", vec![]));
        vec![]
    }
}
