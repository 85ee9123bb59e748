use super::accumulator::{Accumulator, Value as Stored};
use super::naming::{label_name, metric_name, NameKind};
use super::*;
use ferrotel_config::decode;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::common::v1::{
    any_value::Value as V, AnyValue, InstrumentationScope, KeyValue,
};
use ferrotel_core::proto::metrics::v1::{
    exemplar, metric::Data as M, number_data_point, summary_data_point, Exemplar,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::{AnyFactory, RequestMeta};
use ferrotel_testkit::config::{create_context, refused, yaml};
use ferrotel_testkit::metrics;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const DELTA: i32 = 1;
const CUMULATIVE: i32 = 2;
const T0: u64 = 1_700_000_000_000_000_000;
const SEC: u64 = 1_000_000_000;

// ---------------------------------------------------------------------------------------------
// builders

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(V::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn service_attrs() -> Vec<KeyValue> {
    vec![
        kv("service.name", "checkout"),
        kv("service.namespace", "shop"),
        kv("service.instance.id", "i-1"),
        kv("host.name", "h1"),
    ]
}

fn request(rattrs: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: rattrs,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metric(name: &str, unit: &str, data: M) -> Metric {
    Metric {
        name: name.into(),
        description: format!("The {name}."),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn num(attrs: Vec<KeyValue>, start: u64, time: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn gauge(name: &str, unit: &str, points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        unit,
        M::Gauge(Gauge {
            data_points: points,
        }),
    )
}

fn sum(
    name: &str,
    unit: &str,
    temporality: i32,
    monotonic: bool,
    points: Vec<NumberDataPoint>,
) -> Metric {
    metric(
        name,
        unit,
        M::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality,
            is_monotonic: monotonic,
        }),
    )
}

fn hist_point(
    start: u64,
    time: u64,
    bounds: &[f64],
    counts: &[u64],
    total: f64,
) -> HistogramDataPoint {
    HistogramDataPoint {
        start_time_unix_nano: start,
        time_unix_nano: time,
        count: counts.iter().sum(),
        sum: Some(total),
        bucket_counts: counts.to_vec(),
        explicit_bounds: bounds.to_vec(),
        ..Default::default()
    }
}

fn histogram(name: &str, unit: &str, temporality: i32, points: Vec<HistogramDataPoint>) -> Metric {
    metric(
        name,
        unit,
        M::Histogram(Histogram {
            data_points: points,
            aggregation_temporality: temporality,
        }),
    )
}

fn exponential(name: &str, count: u64, total: f64) -> Metric {
    metric(
        name,
        "s",
        M::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint {
                start_time_unix_nano: T0,
                time_unix_nano: T0 + SEC,
                count,
                sum: Some(total),
                scale: 1,
                ..Default::default()
            }],
            aggregation_temporality: CUMULATIVE,
        }),
    )
}

fn summary(name: &str) -> Metric {
    metric(
        name,
        "s",
        M::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                start_time_unix_nano: T0,
                time_unix_nano: T0 + SEC,
                count: 10,
                sum: 0.25,
                quantile_values: vec![
                    summary_data_point::ValueAtQuantile {
                        quantile: 0.5,
                        value: 0.01,
                    },
                    summary_data_point::ValueAtQuantile {
                        quantile: 0.99,
                        value: 0.125,
                    },
                ],
                ..Default::default()
            }],
        }),
    )
}

fn exemplar_of(v: f64) -> Exemplar {
    Exemplar {
        time_unix_nano: T0 + SEC,
        trace_id: (1..=16).collect(),
        span_id: (1..=8).collect(),
        value: Some(exemplar::Value::AsDouble(v)),
        ..Default::default()
    }
}

/// One metric of every type.
fn every_type() -> ExportMetricsServiceRequest {
    let mut counter = num(vec![kv("http.method", "GET")], T0, T0 + SEC, 42.0);
    counter.exemplars = vec![exemplar_of(1.0)];
    let mut hist = hist_point(T0, T0 + SEC, &[0.1, 1.0], &[1, 2, 1], 2.5);
    hist.exemplars = vec![exemplar_of(0.5)];
    request(
        service_attrs(),
        vec![
            gauge(
                "queue.size",
                "{items}",
                vec![num(vec![], T0, T0 + SEC, 7.0)],
            ),
            gauge("cpu.utilization", "1", vec![num(vec![], T0, T0 + SEC, 0.5)]),
            sum(
                "http.requests",
                "{requests}",
                CUMULATIVE,
                true,
                vec![counter],
            ),
            sum(
                "active.connections",
                "",
                CUMULATIVE,
                false,
                vec![num(vec![], T0, T0 + SEC, 3.0)],
            ),
            histogram("http.server.duration", "s", CUMULATIVE, vec![hist]),
            exponential("rpc.latency", 5, 1.5),
            summary("gc.pause"),
        ],
    )
}

fn opts() -> Options {
    let cfg = PrometheusConfig {
        endpoint: "127.0.0.1:0".into(),
        ..Default::default()
    };
    options(&cfg)
}

fn acc() -> Accumulator {
    Accumulator::new(opts())
}

fn text(acc: &Accumulator) -> String {
    let mut out = String::new();
    render(
        acc,
        &mut out,
        RenderOptions {
            format: Format::Text,
            send_timestamps: false,
        },
        &HashSet::new(),
    );
    out
}

/// The number value of the only series of `family`.
fn value_of(acc: &Accumulator, family: &str) -> Option<f64> {
    let f = acc.families.get(family)?;
    assert_eq!(f.series.len(), 1, "{family}");
    match f.series.values().next()?.value {
        Stored::Number(v) => Some(v),
        _ => None,
    }
}

/// Runs `promtool check metrics` on an exposition; fails if promtool is missing.
fn promtool_check(exposition: &str) {
    use std::io::Write;
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("promtool not found ({e}): run scripts/setup-test-deps"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition:\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// naming

#[test]
fn metric_names_follow_the_translator() {
    let n = |name: &str, unit: &str, k: NameKind| metric_name(name, unit, k, "", true);
    assert_eq!(
        n("system.filesystem.usage", "By", NameKind::Other),
        "system_filesystem_usage_bytes"
    );
    assert_eq!(
        n("http.server.duration", "ms", NameKind::Other),
        "http_server_duration_milliseconds"
    );
    assert_eq!(
        n("http.requests", "{requests}", NameKind::Counter),
        "http_requests_total"
    );
    assert_eq!(
        n("requests_total", "1", NameKind::Counter),
        "requests_total"
    );
    assert_eq!(
        n("cpu.utilization", "1", NameKind::Gauge),
        "cpu_utilization_ratio"
    );
    assert_eq!(
        n("cpu.utilization_ratio", "1", NameKind::Gauge),
        "cpu_utilization_ratio"
    );
    assert_eq!(
        n("cpu.utilization", "1", NameKind::Other),
        "cpu_utilization"
    );
    assert_eq!(
        n("speed", "m/s", NameKind::Gauge),
        "speed_meters_per_second"
    );
    assert_eq!(
        n("throughput", "By/s", NameKind::Counter),
        "throughput_bytes_per_second_total"
    );
    assert_eq!(
        n("packets", "{packets}/s", NameKind::Gauge),
        "packets_per_second"
    );
    assert_eq!(
        n("latency_seconds", "s", NameKind::Other),
        "latency_seconds"
    );
    assert_eq!(n("io", "KiBy", NameKind::Other), "io_kibibytes");
    assert_eq!(n("temp", "Cel", NameKind::Gauge), "temp_celsius");
    assert_eq!(n("usage", "%", NameKind::Gauge), "usage_percent");
    assert_eq!(n("odd", "foo-bar", NameKind::Gauge), "odd_foo_bar");
    assert_eq!(n("a-b..c__", "", NameKind::Gauge), "a_b_c");
    assert_eq!(n("2xx.count", "", NameKind::Gauge), "_2xx_count");
    assert_eq!(n("rule:rate", "", NameKind::Gauge), "rule:rate");
    assert_eq!(
        metric_name("requests", "s", NameKind::Counter, "my.app", true),
        "my_app_requests_seconds_total"
    );
    assert_eq!(
        metric_name("requests", "s", NameKind::Counter, "", false),
        "requests"
    );
    assert_eq!(
        metric_name("http.requests", "s", NameKind::Counter, "app", false),
        "app_http_requests"
    );
}

#[test]
fn label_names_are_sanitised() {
    assert_eq!(label_name("http.method").as_deref(), Some("http_method"));
    assert_eq!(label_name("_name").as_deref(), Some("key_name"));
    assert_eq!(label_name("0abc").as_deref(), Some("key_0abc"));
    assert_eq!(label_name("__reserved").as_deref(), Some("__reserved"));
    assert_eq!(label_name("host-name/x").as_deref(), Some("host_name_x"));
    assert_eq!(label_name(""), None);
}

// ---------------------------------------------------------------------------------------------
// accumulation

#[test]
fn delta_counters_accumulate_into_cumulatives() {
    let mut a = acc();
    let now = Instant::now();
    let delta = |start, time, v| {
        request(
            vec![],
            vec![sum(
                "jobs",
                "",
                DELTA,
                true,
                vec![num(vec![], start, time, v)],
            )],
        )
    };
    a.accumulate(&delta(T0, T0 + SEC, 5.0), now);
    assert_eq!(value_of(&a, "jobs_total"), Some(5.0));
    // Aligned (start == previous time): added, and the original start is kept.
    a.accumulate(&delta(T0 + SEC, T0 + 2 * SEC, 3.0), now);
    assert_eq!(value_of(&a, "jobs_total"), Some(8.0));
    let s = a.families["jobs_total"].series.values().next().unwrap();
    assert_eq!((s.start_unix_nano, s.time_unix_nano), (T0, T0 + 2 * SEC));
    // A gap: the delta starts a new cumulative (a reset).
    a.accumulate(&delta(T0 + 5 * SEC, T0 + 6 * SEC, 2.0), now);
    assert_eq!(value_of(&a, "jobs_total"), Some(2.0));
    // An older point is ignored.
    assert_eq!(a.accumulate(&delta(T0, T0 + SEC, 100.0), now), 1);
    assert_eq!(value_of(&a, "jobs_total"), Some(2.0));
}

#[test]
fn cumulative_counters_keep_the_latest_value_and_resets() {
    let mut a = acc();
    let now = Instant::now();
    let cum = |start, time, v| {
        request(
            vec![],
            vec![sum(
                "jobs",
                "",
                CUMULATIVE,
                true,
                vec![num(vec![], start, time, v)],
            )],
        )
    };
    a.accumulate(&cum(T0, T0 + SEC, 10.0), now);
    a.accumulate(&cum(T0, T0 + 2 * SEC, 15.0), now);
    assert_eq!(value_of(&a, "jobs_total"), Some(15.0));
    // The producer restarted: a lower value with a new start is exposed as is.
    a.accumulate(&cum(T0 + 3 * SEC, T0 + 4 * SEC, 1.0), now);
    assert_eq!(value_of(&a, "jobs_total"), Some(1.0));
    let s = a.families["jobs_total"].series.values().next().unwrap();
    assert_eq!(s.start_unix_nano, T0 + 3 * SEC);
}

#[test]
fn unrepresentable_sums_are_dropped() {
    let mut a = acc();
    let now = Instant::now();
    let p = || vec![num(vec![], T0, T0 + SEC, 1.0)];
    let dropped = a.accumulate(
        &request(
            vec![],
            vec![
                sum("updown.delta", "", DELTA, false, p()),
                sum("unspecified", "", 0, true, p()),
                sum("updown", "", CUMULATIVE, false, p()),
            ],
        ),
        now,
    );
    assert_eq!(dropped, 2);
    assert_eq!(a.families.keys().collect::<Vec<_>>(), vec!["updown"]);
    assert_eq!(a.families["updown"].kind, accumulator::Kind::Gauge);
}

#[test]
fn gauges_keep_the_newest_point() {
    let mut a = acc();
    let now = Instant::now();
    let g = |time, v| {
        request(
            vec![],
            vec![gauge("temp", "", vec![num(vec![], 0, time, v)])],
        )
    };
    a.accumulate(&g(T0 + 2 * SEC, 20.0), now);
    a.accumulate(&g(T0 + SEC, 10.0), now);
    assert_eq!(value_of(&a, "temp"), Some(20.0));
    a.accumulate(&g(T0 + 3 * SEC, 30.0), now);
    assert_eq!(value_of(&a, "temp"), Some(30.0));
}

#[test]
fn delta_histograms_accumulate() {
    let mut a = acc();
    let now = Instant::now();
    let h = |start, time, bounds: &[f64], counts: &[u64], s| {
        request(
            vec![],
            vec![histogram(
                "lat",
                "s",
                DELTA,
                vec![hist_point(start, time, bounds, counts, s)],
            )],
        )
    };
    let stored = |a: &Accumulator| {
        a.families["lat_seconds"]
            .series
            .values()
            .next()
            .unwrap()
            .value
            .clone()
    };
    a.accumulate(&h(T0, T0 + SEC, &[1.0], &[1, 2], 3.0), now);
    a.accumulate(&h(T0 + SEC, T0 + 2 * SEC, &[1.0], &[4, 0], 1.0), now);
    assert_eq!(
        stored(&a),
        Stored::Histogram {
            bounds: vec![1.0],
            counts: vec![5, 2],
            count: 7,
            sum: 4.0
        }
    );
    // Misaligned with start before the stored time: dropped.
    assert_eq!(
        a.accumulate(&h(T0 + SEC, T0 + 3 * SEC, &[1.0], &[9, 9], 9.0), now),
        1
    );
    assert_eq!(
        stored(&a).clone(),
        Stored::Histogram {
            bounds: vec![1.0],
            counts: vec![5, 2],
            count: 7,
            sum: 4.0
        }
    );
    // Aligned, but other bounds: the newer point replaces.
    a.accumulate(&h(T0 + 2 * SEC, T0 + 3 * SEC, &[2.0], &[1, 1], 2.0), now);
    assert_eq!(
        stored(&a),
        Stored::Histogram {
            bounds: vec![2.0],
            counts: vec![1, 1],
            count: 2,
            sum: 2.0
        }
    );
    // A gap: a reset.
    a.accumulate(&h(T0 + 10 * SEC, T0 + 11 * SEC, &[2.0], &[0, 1], 5.0), now);
    assert_eq!(
        stored(&a),
        Stored::Histogram {
            bounds: vec![2.0],
            counts: vec![0, 1],
            count: 1,
            sum: 5.0
        }
    );
}

#[test]
fn series_expire_and_no_recorded_value_deletes() {
    let mut o = opts();
    o.expiration = Duration::from_secs(60);
    let mut a = Accumulator::new(o);
    let t = Instant::now();
    a.accumulate(
        &request(
            service_attrs(),
            vec![gauge("a", "", vec![num(vec![], 0, T0, 1.0)])],
        ),
        t,
    );
    a.accumulate(
        &request(
            vec![kv("service.name", "b")],
            vec![gauge("b", "", vec![num(vec![], 0, T0, 1.0)])],
        ),
        t + Duration::from_secs(50),
    );
    a.expire(t + Duration::from_secs(59));
    assert_eq!(a.series_count(), 2);
    assert_eq!(a.targets.len(), 2);
    a.expire(t + Duration::from_secs(61));
    assert_eq!(a.families.keys().collect::<Vec<_>>(), vec!["b"]);
    assert_eq!(
        a.targets.len(),
        1,
        "the target of the expired resource goes too"
    );
    let mut gone = num(vec![], 0, T0 + SEC, 0.0);
    gone.flags = 1;
    a.accumulate(
        &request(
            vec![kv("service.name", "b")],
            vec![gauge("b", "", vec![gone])],
        ),
        t + Duration::from_secs(62),
    );
    assert_eq!(a.series_count(), 0);
    assert!(!text(&a).contains("\nb "), "{}", text(&a));
}

#[test]
fn series_count_is_bounded_by_distinct_label_sets() {
    let mut a = acc();
    let now = Instant::now();
    for i in 0..1000u64 {
        let attrs = vec![kv("k", &(i % 10).to_string())];
        a.accumulate(
            &request(
                vec![],
                vec![gauge("g", "", vec![num(attrs, 0, T0 + i, i as f64)])],
            ),
            now,
        );
    }
    assert_eq!(a.series_count(), 10);
}

#[test]
fn labels_from_resource_scope_points_and_config() {
    let cfg: PrometheusConfig = serde_yaml_ng::from_str(
        "{endpoint: 'x:1', const_labels: {env: prod}, resource_to_telemetry_conversion: {enabled: true}}",
    )
    .unwrap();
    let mut a = Accumulator::new(options(&cfg));
    let attrs = vec![
        kv("http.method", "GET"),
        kv("http_method", "POST"),
        kv("_x", "y"),
    ];
    a.accumulate(
        &request(
            service_attrs(),
            vec![gauge("g", "", vec![num(attrs, 0, T0, 1.0)])],
        ),
        Instant::now(),
    );
    let out = text(&a);
    assert!(
        out.contains(
            "g{env=\"prod\",host_name=\"h1\",http_method=\"GET;POST\",instance=\"i-1\",job=\"shop/checkout\",key_x=\"y\",otel_scope_name=\"lib\",otel_scope_version=\"1.0\",service_instance_id=\"i-1\",service_name=\"checkout\",service_namespace=\"shop\"} 1\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "target_info{env=\"prod\",host_name=\"h1\",instance=\"i-1\",job=\"shop/checkout\"} 1\n"
        ),
        "{out}"
    );
    // Without scope info and with only a service name.
    let cfg: PrometheusConfig =
        serde_yaml_ng::from_str("{endpoint: 'x:1', without_scope_info: true}").unwrap();
    let mut a = Accumulator::new(options(&cfg));
    a.accumulate(
        &request(
            vec![kv("service.name", "svc")],
            vec![gauge("g", "", vec![num(vec![], 0, T0, 1.0)])],
        ),
        Instant::now(),
    );
    let out = text(&a);
    assert!(out.contains("g{job=\"svc\"} 1\n"), "{out}");
    assert!(out.contains("target_info{job=\"svc\"} 1\n"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// rendering

#[test]
fn renders_every_type_as_text() {
    let mut a = acc();
    a.accumulate(&every_type(), Instant::now());
    let out = text(&a);
    let l =
        "instance=\"i-1\",job=\"shop/checkout\",otel_scope_name=\"lib\",otel_scope_version=\"1.0\"";
    for want in [
        "# HELP queue_size The queue.size.\n# TYPE queue_size gauge\n".to_string(),
        format!("queue_size{{{l}}} 7\n"),
        format!("cpu_utilization_ratio{{{l}}} 0.5\n"),
        "# TYPE http_requests_total counter\n".to_string(),
        format!("http_requests_total{{http_method=\"GET\",{l}}} 42\n"),
        "# TYPE active_connections gauge\n".to_string(),
        format!("active_connections{{{l}}} 3\n"),
        "# TYPE http_server_duration_seconds histogram\n".to_string(),
        format!("http_server_duration_seconds_bucket{{{l},le=\"0.1\"}} 1\n"),
        format!("http_server_duration_seconds_bucket{{{l},le=\"1\"}} 3\n"),
        format!("http_server_duration_seconds_bucket{{{l},le=\"+Inf\"}} 4\n"),
        format!("http_server_duration_seconds_sum{{{l}}} 2.5\n"),
        format!("http_server_duration_seconds_count{{{l}}} 4\n"),
        "# TYPE rpc_latency_seconds histogram\n".to_string(),
        format!("rpc_latency_seconds_bucket{{{l},le=\"+Inf\"}} 5\n"),
        format!("rpc_latency_seconds_sum{{{l}}} 1.5\n"),
        format!("rpc_latency_seconds_count{{{l}}} 5\n"),
        "# TYPE gc_pause_seconds summary\n".to_string(),
        format!("gc_pause_seconds{{{l},quantile=\"0.5\"}} 0.01\n"),
        format!("gc_pause_seconds{{{l},quantile=\"0.99\"}} 0.125\n"),
        format!("gc_pause_seconds_sum{{{l}}} 0.25\n"),
        format!("gc_pause_seconds_count{{{l}}} 10\n"),
        "# HELP target_info Target metadata\n# TYPE target_info gauge\n".to_string(),
        "target_info{host_name=\"h1\",instance=\"i-1\",job=\"shop/checkout\"} 1\n".to_string(),
    ] {
        assert!(out.contains(&want), "missing {want:?} in\n{out}");
    }
    assert!(!out.contains("# EOF"), "{out}");
    assert!(
        !out.contains(" # {"),
        "no exemplars in the text format: {out}"
    );
    promtool_check(&out);
}

#[test]
fn renders_open_metrics_with_exemplars_and_timestamps() {
    let mut o = opts();
    o.exemplars = true;
    let mut a = Accumulator::new(o);
    a.accumulate(&every_type(), Instant::now());
    let mut out = String::new();
    render(
        &a,
        &mut out,
        RenderOptions {
            format: Format::OpenMetrics,
            send_timestamps: true,
        },
        &HashSet::new(),
    );
    let l =
        "instance=\"i-1\",job=\"shop/checkout\",otel_scope_name=\"lib\",otel_scope_version=\"1.0\"";
    let trace = "trace_id=\"0102030405060708090a0b0c0d0e0f10\",span_id=\"0102030405060708\"";
    for want in [
        "# HELP http_requests The http.requests.\n# TYPE http_requests counter\n".to_string(),
        format!("http_requests_total{{http_method=\"GET\",{l}}} 42 1700000001.000 # {{{trace}}} 1 1700000001.000\n"),
        format!("http_server_duration_seconds_bucket{{{l},le=\"1\"}} 3 1700000001.000 # {{{trace}}} 0.5 1700000001.000\n"),
        format!("queue_size{{{l}}} 7 1700000001.000\n"),
        "target_info{host_name=\"h1\",instance=\"i-1\",job=\"shop/checkout\"} 1\n".to_string(),
    ] {
        assert!(out.contains(&want), "missing {want:?} in\n{out}");
    }
    assert!(out.ends_with("# EOF\n"), "{out}");
    // The text format with timestamps (milliseconds) still passes promtool.
    let mut t = String::new();
    render(
        &a,
        &mut t,
        RenderOptions {
            format: Format::Text,
            send_timestamps: true,
        },
        &HashSet::new(),
    );
    assert!(
        t.contains(&format!("queue_size{{{l}}} 7 1700000001000\n")),
        "{t}"
    );
    promtool_check(&t);
}

#[test]
fn escapes_label_values_and_help() {
    let mut a = acc();
    let mut m = gauge(
        "g",
        "",
        vec![num(vec![kv("path", "a\"b\\c\nd")], 0, T0, 1.0)],
    );
    m.description = "line1\nline2 \\ end".into();
    a.accumulate(&request(vec![], vec![m]), Instant::now());
    let out = text(&a);
    assert!(out.contains("# HELP g line1\\nline2 \\\\ end\n"), "{out}");
    assert!(out.contains("path=\"a\\\"b\\\\c\\nd\""), "{out}");
    promtool_check(&out);
}

#[test]
fn namespace_and_no_suffixes() {
    let cfg: PrometheusConfig =
        serde_yaml_ng::from_str("{endpoint: 'x:1', namespace: app, add_metric_suffixes: false}")
            .unwrap();
    let mut a = Accumulator::new(options(&cfg));
    a.accumulate(&every_type(), Instant::now());
    let names: Vec<&String> = a.families.keys().collect();
    assert_eq!(
        names,
        vec![
            "app_active_connections",
            "app_cpu_utilization",
            "app_gc_pause",
            "app_http_requests",
            "app_http_server_duration",
            "app_queue_size",
            "app_rpc_latency"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// config

fn testdata(name: &str) -> String {
    ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "prometheus", name)
}

fn create_err(cfg: &str) -> ConfigErrors {
    refused(
        PrometheusExporterFactory
            .create_from(&create_context("exporters", "prometheus"), &yaml(cfg)),
        cfg,
    )
}

#[test]
fn config_valid() {
    let parts = PrometheusExporterFactory
        .create_from(
            &create_context("exporters", "prometheus/x"),
            &yaml(&testdata("config_valid.yaml")),
        )
        .unwrap();
    assert!(
        !parts.settings.queue.enabled,
        "a pull exporter does not queue"
    );
    assert!(!parts.settings.retry.enabled);
    let cfg: PrometheusConfig = decode("x", &yaml(&testdata("config_valid.yaml"))).unwrap();
    assert_eq!(cfg.metric_expiration, GoDuration::from_secs(600));
    assert!(
        cfg.resource_to_telemetry_conversion.enabled
            && cfg.enable_open_metrics
            && cfg.send_timestamps
    );
    assert!(!cfg.add_metric_suffixes);
    let o = options(&cfg);
    assert_eq!(
        o.const_labels,
        vec![
            ("key_1region".to_string(), "eu".to_string()),
            ("env".to_string(), "prod".to_string())
        ]
    );
    let d: PrometheusConfig = decode("x", &yaml("endpoint: ':8889'")).unwrap();
    assert_eq!(d.metric_expiration, GoDuration::from_secs(300));
    assert!(d.add_metric_suffixes && !d.send_timestamps && !d.enable_open_metrics);
    assert!(!options(&d).without_scope_info);
}

#[test]
fn config_typo_and_invalid_values() {
    let e = create_err(&testdata("config_typo.yaml"));
    assert_eq!(
        e.0[0].path, "exporters.prometheus.metric_expiraton",
        "{e:?}"
    );
    let e = create_err(&testdata("config_invalid.yaml"));
    assert_eq!(
        e.0[0].path, "exporters.prometheus.metric_expiration",
        "{e:?}"
    );
    let e = create_err("namespace: x");
    assert_eq!(e.0[0].path, "exporters.prometheus.endpoint", "{e:?}");
    assert_eq!(
        e.0[0].message, "expecting a non-blank address to run the Prometheus metrics handler",
        "{e:?}"
    );
    let e = create_err("endpoint: nohostport");
    assert_eq!(e.0[0].path, "exporters.prometheus.endpoint", "{e:?}");
    // TLS files are read at start, so a config naming missing ones is valid.
    exporter("{endpoint: ':1', tls: {cert_file: a.pem, key_file: a.key}}");
    let e = create_err("{endpoint: ':1', tls: {cert_file: a.pem}}");
    assert_eq!(e.0[0].path, "exporters.prometheus.tls", "{e:?}");
    let e = create_err("{endpoint: ':1', translation_strategy: NoTranslation}");
    assert_eq!(
        e.0[0].path, "exporters.prometheus.translation_strategy",
        "{e:?}"
    );
    let e = create_err("{endpoint: ':1', resource_to_telemetry_conversion: {enable: true}}");
    assert_eq!(
        e.0[0].path, "exporters.prometheus.resource_to_telemetry_conversion.enable",
        "{e:?}"
    );
    let cfg: PrometheusConfig = decode(
        "x",
        &yaml("{endpoint: ':1', translation_strategy: UnderscoreEscapingWithoutSuffixes}"),
    )
    .unwrap();
    assert!(!options(&cfg).add_metric_suffixes);
}

#[test]
fn endpoints_normalise() {
    assert_eq!(
        normalize_endpoint(":8888"),
        normalize_endpoint("0.0.0.0:8888")
    );
    assert_eq!(
        normalize_endpoint("localhost:8888"),
        normalize_endpoint("127.0.0.1:8888")
    );
    assert_ne!(
        normalize_endpoint("localhost:8888"),
        normalize_endpoint("0.0.0.0:8888")
    );
    assert_ne!(normalize_endpoint(":8888"), normalize_endpoint(":8889"));
    assert_eq!(normalize_endpoint("[::1]:9"), Some(("::1".to_string(), 9)));
    assert_eq!(normalize_endpoint("host"), None);
    assert_eq!(bind_address(":8889"), "0.0.0.0:8889");
}

// ---------------------------------------------------------------------------------------------
// serving

fn exporter(cfg: &str) -> PrometheusExporter {
    PrometheusExporterFactory::build("exporters.prometheus", "prometheus", &yaml(cfg)).unwrap()
}

fn start_ctx(telemetry: &Telemetry, listen: Option<&str>) -> ExporterStartContext {
    ExporterStartContext {
        telemetry: telemetry.clone(),
        telemetry_listen: listen.map(str::to_string),
        ..ExporterStartContext::default()
    }
}

fn batch(req: ExportMetricsServiceRequest) -> Batch {
    Batch::from_data(Data::Metrics(req), Arc::new(RequestMeta::default()))
}

#[tokio::test]
async fn serves_metrics_over_tls_and_names_bad_files_at_start() {
    let pki = ferrotel_testkit::pki::TestPki::new();
    let e = exporter(&format!(
        "{{endpoint: '127.0.0.1:0', tls: {{cert_file: '{}', key_file: '{}'}}}}",
        pki.path("server.crt"),
        pki.path("server.key")
    ));
    // The telemetry listener is plain HTTP, so a TLS exporter never shares it.
    e.start(&start_ctx(&Telemetry::new(), Some("127.0.0.1:0")))
        .await
        .unwrap();
    let addr = e.local_addr().expect("a listener of its own");
    e.export(batch(every_type())).await.unwrap();
    let ca = reqwest::Certificate::from_pem(&pki.pem("ca.crt")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{}/metrics", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("http_requests_total{"));
    // Plain HTTP gets no scrape from a TLS listener.
    let plain = reqwest::get(format!("http://{addr}/metrics")).await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    e.shutdown().await;

    let e = exporter("{endpoint: '127.0.0.1:0', tls: {cert_file: /nonexistent/s.crt, key_file: /nonexistent/s.key}}");
    let err = e
        .start(&start_ctx(&Telemetry::new(), None))
        .await
        .err()
        .unwrap();
    assert!(
        err.0
            .contains("tls.cert_file: failed to read \"/nonexistent/s.crt\""),
        "{err}"
    );
}

#[tokio::test]
async fn serves_metrics_over_http() {
    let e = exporter("{endpoint: '127.0.0.1:0', enable_open_metrics: true}");
    e.start(&start_ctx(&Telemetry::new(), Some("127.0.0.1:8888")))
        .await
        .unwrap();
    let addr = e.local_addr().unwrap();
    e.export(batch(every_type())).await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = r.text().await.unwrap();
    assert!(body.contains("http_requests_total{"), "{body}");
    promtool_check(&body);
    let r = client
        .get(&url)
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(r.text().await.unwrap().ends_with("# EOF\n"));
    let r = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let z = r.bytes().await.unwrap();
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&z[..]), &mut unzipped)
        .unwrap();
    assert_eq!(unzipped, body);
    let r = client
        .get(format!("http://{addr}/other"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    e.shutdown().await;
    assert!(
        client.get(&url).send().await.is_err(),
        "the listener is closed at shutdown"
    );
    e.shutdown().await;
}

#[tokio::test]
async fn a_taken_port_is_a_clear_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = exporter(&format!("endpoint: '127.0.0.1:{port}'"));
    let err = e
        .start(&start_ctx(
            &Telemetry::new(),
            Some(&format!("0.0.0.0:{port}")),
        ))
        .await
        .unwrap_err();
    assert!(
        err.0
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        err.0.contains("service.telemetry.metrics listens on"),
        "{err}"
    );
}

#[tokio::test]
async fn port_0_is_a_listener_of_its_own_even_beside_a_telemetry_port_0() {
    let e = exporter("endpoint: '127.0.0.1:0'");
    e.start(&start_ctx(&Telemetry::new(), Some("127.0.0.1:0")))
        .await
        .unwrap();
    let addr = e.local_addr().expect("a listener of its own");
    assert_ne!(addr.port(), 0);
    e.shutdown().await;
}

#[tokio::test]
async fn shares_the_telemetry_listener() {
    let telemetry = Telemetry::new();
    telemetry
        .counter(
            "otelcol_exporter_sent_metric_points",
            "Sent.",
            &[("exporter", "prometheus")],
        )
        .add(3);
    // One of ours has the name of a self-metric: only the collector's is kept.
    telemetry
        .gauge("queue_size", "Collector queue size.", &[])
        .set(1);
    let e = exporter("endpoint: ':18888'");
    e.start(&start_ctx(&telemetry, Some("0.0.0.0:18888")))
        .await
        .unwrap();
    assert_eq!(e.local_addr(), None, "no listener of its own");
    e.export(batch(every_type())).await.unwrap();
    let page = telemetry.render();
    assert_eq!(
        metrics::value(
            &page,
            "otelcol_exporter_sent_metric_points{exporter=\"prometheus\"}"
        ),
        Some(3.0),
        "{page}"
    );
    assert!(
        page.contains("http_requests_total{http_method=\"GET\""),
        "{page}"
    );
    assert_eq!(page.matches("# TYPE queue_size ").count(), 1, "{page}");
    assert_eq!(metrics::value(&page, "queue_size"), Some(1.0), "{page}");
    promtool_check(&page);
    e.shutdown().await;
    assert!(
        !telemetry.render().contains("http_requests_total"),
        "removed at shutdown"
    );
}

// ---------------------------------------------------------------------------------------------
// a real Prometheus server scraping the exporter

/// A Prometheus server, killed when dropped.
struct PrometheusServer {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PrometheusServer {
    /// Starts `prometheus` scraping each `(job, target)` every second (honouring the job and
    /// instance labels the exporter sets).
    fn start(targets: &[(&str, SocketAddr)]) -> PrometheusServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for (job, t) in targets {
            cfg.push_str(&format!(
                "  - job_name: {job}\n    honor_labels: true\n    static_configs:\n      - targets: ['{t}']\n"
            ));
        }
        let cfg_path = dir.path().join("prometheus.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        // Port 0: Prometheus logs the address it bound (`msg="Listening on" address=...`).
        let log_path = dir.path().join("prometheus.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = match Command::new("prometheus")
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("prometheus not found ({e}): run scripts/setup-test-deps"),
        };
        let mut addr = None;
        let listening = ferrotel_testkit::wait_for_blocking(
            || {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                addr = log
                    .lines()
                    .filter(|l| l.contains("msg=\"Listening on\""))
                    .find_map(|l| {
                        l.split_whitespace()
                            .find_map(|t| t.strip_prefix("address="))
                            .map(str::to_string)
                    });
                addr.is_some()
            },
            Duration::from_secs(30),
        );
        let server = PrometheusServer {
            child,
            addr: addr.unwrap_or_default(),
            _dir: dir,
        };
        assert!(
            listening,
            "prometheus did not report its address: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        server
    }

    /// Instant query; the result vector.
    async fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let r = reqwest::Client::new()
            .get(format!("http://{}/api/v1/query", self.addr))
            .query(&[("query", q)])
            .send()
            .await;
        let Ok(r) = r else { return vec![] };
        let Ok(body) = r.text().await else {
            return vec![];
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Polls until the query has a result (Prometheus starting, first scrapes).
    async fn wait_for(&self, q: &str) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.query(q).await;
            if !r.is_empty() {
                return r;
            }
            if Instant::now() > deadline {
                let targets = reqwest::get(format!("http://{}/api/v1/targets", self.addr)).await;
                let targets = match targets {
                    Ok(t) => t.text().await.unwrap_or_default(),
                    Err(e) => e.to_string(),
                };
                panic!("no result for {q} within 60s; targets: {targets}");
            }
            // Polling the condition itself (a query result), with the deadline above.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The single value of a query.
    async fn value(&self, q: &str) -> f64 {
        let r = self.wait_for(q).await;
        assert_eq!(r.len(), 1, "{q}: {r:?}");
        r[0]["value"][1].as_str().unwrap().parse().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_exporter() {
    // One exporter serving the text format, one serving OpenMetrics (Prometheus asks for it).
    let text_exp = exporter("{endpoint: '127.0.0.1:0', const_labels: {format: text}}");
    let om_exp = exporter(
        "{endpoint: '127.0.0.1:0', const_labels: {format: om}, enable_open_metrics: true}",
    );
    let telemetry = Telemetry::new();
    for e in [&text_exp, &om_exp] {
        e.start(&start_ctx(&telemetry, None)).await.unwrap();
        e.export(batch(every_type())).await.unwrap();
        // A delta counter, sent twice: Prometheus must see the accumulated 5 + 3.
        for (start, v) in [(T0, 5.0), (T0 + SEC, 3.0)] {
            let m = sum(
                "jobs.done",
                "",
                DELTA,
                true,
                vec![num(vec![], start, start + SEC, v)],
            );
            e.export(batch(request(service_attrs(), vec![m])))
                .await
                .unwrap();
        }
    }
    let prom = PrometheusServer::start(&[
        ("text", text_exp.local_addr().unwrap()),
        ("om", om_exp.local_addr().unwrap()),
    ]);
    for format in ["text", "om"] {
        let sel = |name: &str, extra: &str| {
            format!("{name}{{format=\"{format}\",job=\"shop/checkout\",instance=\"i-1\"{extra}}}")
        };
        assert_eq!(
            prom.value(&sel("http_requests_total", ",http_method=\"GET\""))
                .await,
            42.0,
            "{format}"
        );
        assert_eq!(
            prom.value(&sel("jobs_done_total", "")).await,
            8.0,
            "{format}"
        );
        assert_eq!(prom.value(&sel("queue_size", "")).await, 7.0, "{format}");
        assert_eq!(
            prom.value(&sel("active_connections", "")).await,
            3.0,
            "{format}"
        );
        assert_eq!(
            prom.value(&sel("http_server_duration_seconds_bucket", ",le=\"1\""))
                .await,
            3.0,
            "{format}"
        );
        assert_eq!(
            prom.value(&sel("http_server_duration_seconds_bucket", ",le=\"+Inf\""))
                .await,
            4.0,
            "{format}"
        );
        assert_eq!(
            prom.value(&sel("http_server_duration_seconds_sum", ""))
                .await,
            2.5,
            "{format}"
        );
        assert_eq!(
            prom.value(&sel("rpc_latency_seconds_count", "")).await,
            5.0,
            "{format}"
        );
        assert_eq!(
            prom.value(&sel("gc_pause_seconds", ",quantile=\"0.99\""))
                .await,
            0.125,
            "{format}"
        );
        assert_eq!(
            prom.value(&sel("target_info", ",host_name=\"h1\"")).await,
            1.0,
            "{format}"
        );
        let r = prom.wait_for(&sel("queue_size", "")).await;
        assert_eq!(r[0]["metric"]["otel_scope_name"], "lib", "{r:?}");
        assert_eq!(
            prom.value(&format!("up{{job=\"{format}\"}}")).await,
            1.0,
            "{format}"
        );
    }
    // New values reach Prometheus on the next scrape.
    let m = gauge(
        "queue.size",
        "{items}",
        vec![num(vec![], T0, T0 + 5 * SEC, 11.0)],
    );
    text_exp
        .export(batch(request(service_attrs(), vec![m])))
        .await
        .unwrap();
    prom.wait_for("queue_size{format=\"text\"} == 11").await;
    text_exp.shutdown().await;
    om_exp.shutdown().await;
}

#[test]
fn an_explicit_infinite_bound_is_not_written_twice() {
    let mut a = acc();
    let p = hist_point(T0, T0 + SEC, &[1.0, f64::INFINITY], &[1, 2, 0], 9.0);
    a.accumulate(
        &request(vec![], vec![histogram("h", "", CUMULATIVE, vec![p])]),
        Instant::now(),
    );
    let out = text(&a);
    assert_eq!(out.matches("le=\"+Inf\"").count(), 1, "{out}");
    assert!(
        out.contains(
            "h_bucket{otel_scope_name=\"lib\",otel_scope_version=\"1.0\",le=\"+Inf\"} 3\n"
        ),
        "{out}"
    );
    assert!(
        !out.contains("target_info"),
        "no target for an empty resource: {out}"
    );
    promtool_check(&out);
}
