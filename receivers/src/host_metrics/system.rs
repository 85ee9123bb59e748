//! `system`: `system.uptime` from `/proc/uptime`.

use super::metrics::{gauge, Builder, Defs};
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;

pub const METRICS: Defs = &[gauge(
    "system.uptime",
    "The time the system has been running",
    "s",
    false,
    true,
)];

pub struct SystemScraper {
    enabled: Vec<bool>,
}

impl SystemScraper {
    pub fn new(cfg: &super::config::PlainConfig) -> Self {
        SystemScraper {
            enabled: cfg.metrics.resolve(METRICS),
        }
    }
}

/// Seconds since boot: the first number of `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

impl Scraper for SystemScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let up = match cx.root.read("proc/uptime").map(|t| parse_uptime(&t)) {
            Ok(Some(u)) => u,
            Ok(None) => return vec!["failed to get uptime: unexpected /proc/uptime".into()],
            Err(e) => return vec![format!("failed to get uptime: {e}")],
        };
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        b.double("system.uptime", up, &[]);
        out.extend(b.finish("systemscraper", vec![]));
        vec![]
    }
}
