//! `network`: `system.network.*` per interface from `/proc/net/dev`, TCP connections per
//! state from `/proc/net/tcp` and `tcp6`, conntrack from `/proc/sys/net/netfilter`.

use super::config::NetworkConfig;
use super::filter::IncludeExclude;
use super::metrics::{sum, Builder, Defs};
use super::sys::Root;
use super::{ScrapeCtx, Scraper};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;
use std::collections::BTreeMap;

pub const METRICS: Defs = &[
    sum(
        "system.network.packets",
        "The number of packets transferred.",
        "{packets}",
        true,
        true,
        true,
    ),
    sum(
        "system.network.dropped",
        "The number of packets dropped.",
        "{packets}",
        true,
        true,
        true,
    ),
    sum(
        "system.network.errors",
        "The number of errors encountered.",
        "{errors}",
        true,
        true,
        true,
    ),
    sum(
        "system.network.io",
        "The number of bytes transmitted and received.",
        "By",
        true,
        true,
        true,
    ),
    sum(
        "system.network.connections",
        "The number of connections.",
        "{connections}",
        false,
        true,
        true,
    ),
    sum(
        "system.network.conntrack.count",
        "The count of entries in conntrack table.",
        "{entries}",
        false,
        true,
        false,
    ),
    sum(
        "system.network.conntrack.max",
        "The limit for entries in the conntrack table.",
        "{entries}",
        false,
        true,
        false,
    ),
];

/// otelcol's list of TCP states, each reported (0 when none).
pub const TCP_STATES: [&str; 12] = [
    "CLOSE_WAIT",
    "CLOSE",
    "CLOSING",
    "DELETE",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "LAST_ACK",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECEIVED",
    "TIME_WAIT",
];

/// One interface's counters: (bytes, packets, errors, dropped) received, then transmitted.
#[derive(Debug, Clone, PartialEq)]
pub struct IfStat {
    pub name: String,
    pub rx: [u64; 4],
    pub tx: [u64; 4],
}

pub fn parse_dev(text: &str) -> Vec<IfStat> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if f.len() < 16 {
                return None;
            }
            Some(IfStat {
                name: name.trim().to_string(),
                rx: [f[0], f[1], f[2], f[3]],
                tx: [f[8], f[9], f[10], f[11]],
            })
        })
        .collect()
}

/// The kernel's TCP state number as gopsutil names it.
fn tcp_state(hex: &str) -> &'static str {
    match hex {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0A" => "LISTEN",
        "0B" => "CLOSING",
        _ => "NONE",
    }
}

/// Counts the connections of `/proc/net/tcp`-format texts by state, starting from
/// otelcol's list at 0.
pub fn count_tcp<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'static str, i64> {
    let mut counts: BTreeMap<&'static str, i64> = TCP_STATES.iter().map(|s| (*s, 0)).collect();
    for text in texts {
        for line in text.lines().skip(1) {
            if let Some(st) = line.split_whitespace().nth(3) {
                *counts.entry(tcp_state(st)).or_default() += 1;
            }
        }
    }
    counts
}

pub struct NetworkScraper {
    enabled: Vec<bool>,
    filter: IncludeExclude,
}

impl NetworkScraper {
    pub fn new(cfg: &NetworkConfig) -> Result<Self, String> {
        Ok(NetworkScraper {
            enabled: cfg.metrics.resolve(METRICS),
            filter: IncludeExclude {
                include: cfg.include.filter()?,
                exclude: cfg.exclude.filter()?,
            },
        })
    }
}

fn record_if(b: &mut Builder<'_>, i: &IfStat) {
    let names = [
        "system.network.io",
        "system.network.packets",
        "system.network.errors",
        "system.network.dropped",
    ];
    for (k, name) in names.iter().enumerate() {
        b.int(
            name,
            i.rx[k] as i64,
            &[("device", &i.name), ("direction", "receive")],
        );
        b.int(
            name,
            i.tx[k] as i64,
            &[("device", &i.name), ("direction", "transmit")],
        );
    }
}

fn conntrack(root: &Root, b: &mut Builder<'_>) -> Vec<String> {
    let mut errors = vec![];
    for (name, file) in [
        (
            "system.network.conntrack.count",
            "proc/sys/net/netfilter/nf_conntrack_count",
        ),
        (
            "system.network.conntrack.max",
            "proc/sys/net/netfilter/nf_conntrack_max",
        ),
    ] {
        if !b.enabled(name) {
            continue;
        }
        match root.read(file).map(|t| t.trim().parse::<i64>()) {
            Ok(Ok(v)) => b.int(name, v, &[]),
            Ok(Err(e)) => errors.push(format!("failed to read conntrack info: {e}")),
            Err(e) => errors.push(format!("failed to read conntrack info: {e}")),
        }
    }
    errors
}

impl Scraper for NetworkScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let mut errors = vec![];
        let mut b = Builder::new(METRICS, &self.enabled, cx.boot_ns, cx.now_ns);
        match cx.root.read("proc/net/dev") {
            Ok(t) => {
                for i in parse_dev(&t).iter().filter(|i| self.filter.keeps(&i.name)) {
                    record_if(&mut b, i);
                }
            }
            Err(e) => errors.push(format!("failed to read network IO stats: {e}")),
        }
        if b.enabled("system.network.connections") {
            let texts: Vec<String> = ["proc/net/tcp", "proc/net/tcp6"]
                .iter()
                .filter_map(|f| cx.root.read(f).ok())
                .collect();
            for (state, n) in count_tcp(texts.iter().map(String::as_str)) {
                b.int(
                    "system.network.connections",
                    n,
                    &[("protocol", "tcp"), ("state", state)],
                );
            }
        }
        errors.extend(conntrack(cx.root, &mut b));
        out.extend(b.finish("networkscraper", vec![]));
        errors
    }
}
