//! ferrotel's `prometheus` receiver scraping a real Prometheus node exporter (Debian's
//! `prometheus-node-exporter`, installed by scripts/setup-test-deps, run directly on a loopback
//! port), checked field by field against the node exporter's own /metrics text as an independent
//! parser reads it (`prometheus_client.parser` in .venv): every family arrives under its name
//! with otelcol's type mapping (counter -> cumulative monotonic sum with a start time, gauge and
//! untyped -> gauge, summary -> summary), every series with its labels as attributes, stable
//! values exactly, and the resource otelcol builds from job and instance.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, http_get, workspace, Collector, ReservedPort};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AV;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Metric, NumberDataPoint,
};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A label set, sorted.
type Labels = BTreeMap<String, String>;

/// The node exporter on `127.0.0.1:port`; killed on drop.
struct NodeExporter {
    child: Child,
    port: u16,
}

impl NodeExporter {
    fn start() -> NodeExporter {
        let reserved = ReservedPort::new();
        let port = reserved.port();
        drop(reserved);
        let child = Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("prometheus-node-exporter cannot run ({e}): run scripts/setup-test-deps")
            });
        let ne = NodeExporter { child, port };
        assert!(
            eventually(Duration::from_secs(20), || http_get::blocking_get(
                &ne.url()
            )
            .is_ok_and(|c| c == 200)),
            "the node exporter does not answer on {}",
            ne.url()
        );
        ne
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A family as `prometheus_client.parser` reads it.
struct Family {
    kind: String,
    /// (sample name, labels, value)
    samples: Vec<(String, Labels, f64)>,
}

/// The exposition `text` parsed by the Python client library, by family name.
fn parse_with_python(text: &str) -> BTreeMap<String, Family> {
    const SCRIPT: &str = "import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families as p\nprint(json.dumps([{'name': f.name, 'type': f.type, 'samples': [[s.name, s.labels, repr(float(s.value))] for s in f.samples]} for f in p(sys.stdin.read())]))";
    let python = workspace().join(".venv/bin/python");
    let mut child = Command::new(&python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python:?} ({e}): run scripts/setup-test-deps"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the text");
    let out = child.wait_with_output().expect("python");
    assert!(out.status.success(), "the Python parser failed");
    let families: Vec<Json> = serde_json::from_slice(&out.stdout).expect("JSON families");
    families
        .iter()
        .map(|f| {
            let samples = f["samples"].as_array().expect("samples").iter().map(|s| {
                // In Prometheus's data model an empty label value is no label: the scrape drops it.
                let labels = s[1].as_object().expect("labels").iter();
                let labels = labels
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .filter(|(_, v)| !v.is_empty());
                let value = s[2].as_str().and_then(|v| v.parse().ok()).expect("value");
                (s[0].as_str().expect("name").into(), labels.collect(), value)
            });
            let family = Family {
                kind: f["type"].as_str().expect("type").into(),
                samples: samples.collect(),
            };
            (f["name"].as_str().expect("name").to_string(), family)
        })
        .collect()
}

fn attrs(a: &[KeyValue]) -> Labels {
    a.iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AV::StringValue(s) => Some((kv.key.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

fn number(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => f64::NAN,
    }
}

/// The metrics of the last complete scrape of job `node` (the one before the newest, whose
/// batch may still be on its way), by name, and the resource's attributes.
fn last_scrape(sink: &Sink) -> (BTreeMap<String, Metric>, Labels) {
    let st = sink.lock();
    let resources: Vec<_> = st
        .metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .filter(|r| {
            attrs(&r.resource.clone().unwrap_or_default().attributes)
                .get("service.name")
                .is_some_and(|j| j == "node")
        })
        .collect();
    let time = |m: &Metric| match m.data.as_ref() {
        Some(Data::Gauge(g)) => g.data_points.first().map(|p| p.time_unix_nano),
        _ => None,
    };
    let mut up_times: Vec<u64> = resources
        .iter()
        .flat_map(|r| r.scope_metrics.iter().flat_map(|s| &s.metrics))
        .filter(|m| m.name == "up")
        .filter_map(time)
        .collect();
    up_times.sort_unstable();
    let at = up_times[up_times.len() - 2];
    let mut out = BTreeMap::new();
    let mut resource = Labels::new();
    for r in &resources {
        for m in r.scope_metrics.iter().flat_map(|s| &s.metrics) {
            if point_times(m).contains(&at) {
                resource = attrs(&r.resource.clone().unwrap_or_default().attributes);
                out.insert(m.name.clone(), m.clone());
            }
        }
    }
    (out, resource)
}

fn point_times(m: &Metric) -> Vec<u64> {
    match m.data.as_ref() {
        Some(Data::Gauge(g)) => g.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Sum(s)) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Summary(s)) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Histogram(h)) => h.data_points.iter().map(|p| p.time_unix_nano).collect(),
        _ => vec![],
    }
}

#[test]
fn scrapes_a_real_node_exporter_field_by_field() {
    let ne = NodeExporter::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let cfg = base_config(
        "  batch:\n    timeout: 50ms",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
            sink.port()
        ),
        "    metrics: {receivers: [prometheus], processors: [batch], exporters: [otlp]}",
    )
    .replace(
        "receivers:\n",
        &format!("receivers:\n  prometheus:\n    config:\n      scrape_configs:\n        - job_name: node\n          scrape_interval: 1s\n          static_configs:\n            - targets: ['127.0.0.1:{}']\n", ne.port),
    );
    let collector = Collector::start(&cfg, &[]);
    assert!(
        eventually(Duration::from_secs(30), || {
            let st = sink.lock();
            let scrapes = st.metrics.iter().flat_map(|r| &r.resource_metrics);
            let ups = scrapes
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics);
            ups.filter(|m| m.name == "up").count() >= 3
        }),
        "three scrapes of the node exporter: {}",
        collector.stderr()
    );
    let (got, resource) = last_scrape(&sink);
    // Fetched after the scrape compared: counters here are at least what was scraped.
    let text = http_get::blocking_text(&ne.url()).expect("the node exporter's /metrics");
    let want = parse_with_python(&text);
    check_resource(&resource, ne.port);
    check_families(&got, &want);
    check_stable_values(&got, &want);
    check_counters(&got, &want);
    check_summary(&got, &want["go_gc_duration_seconds"]);
}

fn check_resource(resource: &Labels, port: u16) {
    assert_eq!(
        resource.get("service.name").map(String::as_str),
        Some("node")
    );
    assert_eq!(
        resource.get("service.instance.id"),
        Some(&format!("127.0.0.1:{port}"))
    );
    assert_eq!(resource.get("server.port"), Some(&port.to_string()));
    assert_eq!(resource.get("url.scheme").map(String::as_str), Some("http"));
    // otelcol sets server.address only for a discernible host, and loopback is not one.
    assert_eq!(resource.get("server.address"), None, "{resource:?}");
}

/// The OTLP name of a family: a counter keeps its `_total` (text format 0.0.4).
fn otlp_name(name: &str, f: &Family) -> String {
    match f.kind.as_str() {
        "counter" => f.samples.first().map_or(name.to_string(), |s| s.0.clone()),
        _ => name.to_string(),
    }
}

/// Every family arrives with otelcol's type and every gauge or counter series with its labels
/// as attributes (no more, no fewer).
fn check_families(got: &BTreeMap<String, Metric>, want: &BTreeMap<String, Family>) {
    assert!(want.len() > 100, "node exporter families: {}", want.len());
    for (name, f) in want.iter().filter(|(_, f)| !f.samples.is_empty()) {
        let otlp = otlp_name(name, f);
        let m = got
            .get(&otlp)
            .unwrap_or_else(|| panic!("{otlp} ({}) missing from the scrape", f.kind));
        let series: BTreeSet<Labels> = f.samples.iter().map(|s| s.1.clone()).collect();
        let points = match (f.kind.as_str(), m.data.as_ref()) {
            ("gauge" | "unknown", Some(Data::Gauge(g))) => &g.data_points,
            ("counter", Some(Data::Sum(s))) => &s.data_points,
            ("summary", Some(Data::Summary(_))) => continue,
            (kind, data) => panic!("{otlp}: a {kind} arrived as {data:?}"),
        };
        let got_series: BTreeSet<Labels> = points.iter().map(|p| attrs(&p.attributes)).collect();
        assert_eq!(got_series, series, "{otlp}: series");
    }
}

fn gauge_values(m: &Metric) -> BTreeMap<Labels, f64> {
    let Some(Data::Gauge(g)) = &m.data else {
        panic!("{} is not a gauge", m.name)
    };
    g.data_points
        .iter()
        .map(|p| (attrs(&p.attributes), number(p)))
        .collect()
}

/// Values that do not change between scrapes arrive exactly.
fn check_stable_values(got: &BTreeMap<String, Metric>, want: &BTreeMap<String, Family>) {
    for name in [
        "node_memory_MemTotal_bytes",
        "node_filesystem_size_bytes",
        "node_uname_info",
        "node_exporter_build_info",
    ] {
        let expected: BTreeMap<Labels, f64> = want[name]
            .samples
            .iter()
            .map(|s| (s.1.clone(), s.2))
            .collect();
        assert!(!expected.is_empty(), "{name} has samples");
        assert_eq!(gauge_values(&got[name]), expected, "{name}");
    }
    let fs = gauge_values(&got["node_filesystem_size_bytes"]);
    assert!(fs.keys().all(|l| ["device", "fstype", "mountpoint"]
        .iter()
        .all(|k| l.contains_key(*k))));
    let uname = gauge_values(&got["node_uname_info"]);
    let labels = uname.keys().next().expect("a node_uname_info series");
    assert_eq!(labels.get("sysname").map(String::as_str), Some("Linux"));
}

/// Counters are cumulative monotonic sums with a start time before their time, at most the
/// value the node exporter shows later.
fn check_counters(got: &BTreeMap<String, Metric>, want: &BTreeMap<String, Family>) {
    let cpu = &want["node_cpu_seconds"];
    assert_eq!(cpu.kind, "counter");
    let later: BTreeMap<Labels, f64> = cpu.samples.iter().map(|s| (s.1.clone(), s.2)).collect();
    let Some(Data::Sum(sum)) = &got["node_cpu_seconds_total"].data else {
        panic!("node_cpu_seconds_total is not a sum")
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    for p in &sum.data_points {
        let labels = attrs(&p.attributes);
        assert!(
            p.start_time_unix_nano > 0 && p.start_time_unix_nano <= p.time_unix_nano,
            "{labels:?}: start {} time {}",
            p.start_time_unix_nano,
            p.time_unix_nano
        );
        let v = number(p);
        assert!(
            v >= 0.0 && v <= later[&labels],
            "{labels:?}: {v} vs later {}",
            later[&labels]
        );
    }
}

/// The summary keeps the node exporter's quantiles; its count only grows.
fn check_summary(got: &BTreeMap<String, Metric>, want: &Family) {
    let Some(Data::Summary(s)) = &got["go_gc_duration_seconds"].data else {
        panic!("go_gc_duration_seconds is not a summary")
    };
    let p = &s.data_points[0];
    let quantiles: Vec<f64> = p.quantile_values.iter().map(|q| q.quantile).collect();
    let expected: Vec<f64> = want
        .samples
        .iter()
        .filter_map(|s| s.1.get("quantile")?.parse().ok())
        .collect();
    assert_eq!(quantiles, expected);
    let count = want
        .samples
        .iter()
        .find(|s| s.0 == "go_gc_duration_seconds_count")
        .map(|s| s.2)
        .expect("a _count sample");
    assert!(p.count as f64 <= count, "{} vs later {count}", p.count);
    assert!(p.start_time_unix_nano > 0 && p.start_time_unix_nano <= p.time_unix_nano);
}
