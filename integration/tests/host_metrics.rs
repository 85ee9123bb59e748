//! The `host_metrics` receiver in the real binary (under its otelcol name `hostmetrics`):
//! scrapes this machine every second and the metrics reach an independent OTLP sink with
//! otelcol's names, units, kinds and scope names, and one resource per process.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, Collector};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use std::collections::BTreeMap;
use std::time::Duration;

const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/";

/// name -> (unit, "sum+"/"sum"/"gauge", scope) of every metric received.
fn seen(sink: &Sink) -> BTreeMap<String, (String, &'static str, String)> {
    let state = sink.lock();
    let mut out = BTreeMap::new();
    for req in &state.metrics {
        for rm in &req.resource_metrics {
            for sm in &rm.scope_metrics {
                let scope = sm
                    .scope
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                for m in &sm.metrics {
                    out.insert(m.name.clone(), (m.unit.clone(), kind(m), scope.clone()));
                }
            }
        }
    }
    out
}

fn kind(m: &Metric) -> &'static str {
    match &m.data {
        Some(Data::Sum(s)) if s.is_monotonic => "sum+",
        Some(Data::Sum(_)) => "sum",
        Some(Data::Gauge(_)) => "gauge",
        _ => "other",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn host_metrics_reach_the_sink() {
    let sink = Sink::start().await;
    let config = base_config(
        "  batch:",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
            sink.port()
        ),
        "    metrics: {receivers: [hostmetrics], exporters: [otlp]}",
    )
    .replace(
        "receivers:\n",
        "receivers:\n  hostmetrics:\n    collection_interval: 1s\n    initial_delay: 0s\n    scrapers:\n      cpu:\n      memory:\n      load:\n      disk:\n      filesystem:\n      network:\n      paging:\n      processes:\n      system:\n      process:\n        mute_process_all_errors: true\n        include: {names: [ferrotel], match_type: strict}\n",
    );
    let mut c = Collector::start(&config, &[]);
    let want = [
        ("system.cpu.time", "s", "sum+", "cpuscraper"),
        ("system.memory.usage", "By", "sum", "memoryscraper"),
        (
            "system.cpu.load_average.1m",
            "{thread}",
            "gauge",
            "loadscraper",
        ),
        ("system.network.io", "By", "sum+", "networkscraper"),
        (
            "system.network.connections",
            "{connections}",
            "sum",
            "networkscraper",
        ),
        ("system.paging.faults", "{faults}", "sum+", "pagingscraper"),
        (
            "system.processes.count",
            "{processes}",
            "sum",
            "processesscraper",
        ),
        ("system.uptime", "s", "gauge", "systemscraper"),
        ("process.cpu.time", "s", "sum+", "processscraper"),
        ("process.memory.usage", "By", "sum", "processscraper"),
    ];
    let arrived = eventually(Duration::from_secs(20), || {
        let s = seen(&sink);
        want.iter().all(|(n, ..)| s.contains_key(*n))
    });
    let s = seen(&sink);
    assert!(arrived, "metrics missing: {s:#?}\nstderr:\n{}", c.stderr());
    for (name, unit, k, scope) in want {
        let (u, got_kind, sc) = &s[name];
        assert_eq!((u.as_str(), *got_kind), (unit, k), "{name}");
        assert_eq!(sc, &format!("{SCOPE}{scope}"), "{name}");
    }
    // The process scraper kept only the collector itself: its pid is a resource.
    let pid = c.child.id() as i64;
    let state = sink.lock();
    let pids: Vec<i64> = state
        .metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .filter_map(|rm| {
            let attrs = &rm.resource.as_ref()?.attributes;
            let kv = attrs.iter().find(|kv| kv.key == "process.pid")?;
            match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::IntValue(p) => Some(*p),
                _ => None,
            }
        })
        .collect();
    // Other ferrotel processes may run beside this one (tests in parallel): every process the
    // filter let through must be a ferrotel, and the collector itself must be among them.
    assert!(
        pids.contains(&pid),
        "{pids:?} lacks the collector's pid {pid}"
    );
    for p in &pids {
        let exe = std::fs::read_link(format!("/proc/{p}/exe"));
        if let Ok(exe) = exe {
            let name = exe.file_name().map(|n| n.to_string_lossy().into_owned());
            assert_eq!(name.as_deref(), Some("ferrotel"), "pid {p} is {exe:?}");
        }
    }
    drop(state);
    // SIGTERM: the scrape task stops and the collector exits cleanly.
    assert_eq!(
        c.terminate(Duration::from_secs(15)),
        Some(0),
        "{}",
        c.stderr()
    );
}
