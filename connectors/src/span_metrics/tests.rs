use super::aggregate::{Aggregator, Meters, Settings};
use super::*;
use ferrotel_core::pdata;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric, number_data_point, AggregationTemporality, HistogramDataPoint, Metric, NumberDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{
    span, span::SpanKind, status, ResourceSpans, ScopeSpans, Span, Status,
};
use ferrotel_core::{AnyFactory, Telemetry};
use ferrotel_testkit::config::{create_context, refused, yaml};
use ferrotel_testkit::metrics;

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
/// The time spans are received at in these tests.
const T0: u64 = 1_700_000_000 * SEC;

fn config(text: &str) -> SpanMetricsConfig {
    ferrotel_config::decode_valid::<SpanMetricsConfig>("connectors.span_metrics", &yaml(text))
        .unwrap()
        .0
}

fn aggregator(text: &str) -> (Aggregator, Telemetry) {
    let telemetry = Telemetry::new();
    let meters = Meters::new(&telemetry, "span_metrics");
    (
        Aggregator::new(Settings::new(&config(text)), meters),
        telemetry,
    )
}

fn span(name: &str, kind: SpanKind, code: status::StatusCode, millis: u64) -> Span {
    Span {
        name: name.into(),
        kind: kind as i32,
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        start_time_unix_nano: T0 - 10 * SEC,
        end_time_unix_nano: T0 - 10 * SEC + millis * MS,
        status: Some(Status {
            code: code as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn server(name: &str, millis: u64) -> Span {
    span(name, SpanKind::Server, status::StatusCode::Unset, millis)
}

fn with_attrs(mut s: Span, attrs: &[(&str, &str)]) -> Span {
    s.attributes = attrs.iter().map(|(k, v)| pdata::kv_str(k, v)).collect();
    s
}

fn traces(resource: &[(&str, &str)], spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource.iter().map(|(k, v)| pdata::kv_str(k, v)).collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.2".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metric<'a>(out: &'a ExportMetricsServiceRequest, resource: usize, name: &str) -> &'a Metric {
    out.resource_metrics[resource].scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

fn attrs_of(attrs: &[KeyValue]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

/// Whether `attrs` has every one of `want`.
fn matches(attrs: &[KeyValue], want: &[(&str, &str)]) -> bool {
    let have = attrs_of(attrs);
    want.iter()
        .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
}

fn sum_points(m: &Metric) -> &[NumberDataPoint] {
    match &m.data {
        Some(metric::Data::Sum(s)) => {
            assert!(s.is_monotonic);
            &s.data_points
        }
        other => panic!("not a sum: {other:?}"),
    }
}

fn count(m: &Metric, want: &[(&str, &str)]) -> Option<i64> {
    sum_points(m)
        .iter()
        .find(|p| matches(&p.attributes, want))
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            other => panic!("{other:?}"),
        })
}

fn hist_point<'a>(m: &'a Metric, want: &[(&str, &str)]) -> &'a HistogramDataPoint {
    let Some(metric::Data::Histogram(h)) = &m.data else {
        panic!("not a histogram: {m:?}")
    };
    h.data_points
        .iter()
        .find(|p| matches(&p.attributes, want))
        .expect("the data point")
}

const UNSET: &str = "STATUS_CODE_UNSET";

/// Three fast spans and an error of service `shop`, and a span without service, added at T0.
fn shop() -> Aggregator {
    let (mut agg, _) = aggregator("{}");
    let error = span("GET /a", SpanKind::Server, status::StatusCode::Error, 5);
    let spans = vec![
        server("GET /a", 1),
        server("GET /a", 3),
        server("GET /a", 20),
        error,
    ];
    agg.add_request(
        &traces(&[("service.name", "shop"), ("host.name", "h1")], spans),
        T0,
    );
    // Spans of a resource without service.name are not counted.
    agg.add_request(&traces(&[("host.name", "h2")], vec![server("x", 1)]), T0);
    agg
}

const OK: [(&str, &str); 4] = [
    ("service.name", "shop"),
    ("span.name", "GET /a"),
    ("span.kind", "SPAN_KIND_SERVER"),
    ("status.code", UNSET),
];
const ERR: [(&str, &str); 2] = [
    ("span.name", "GET /a"),
    ("status.code", "STATUS_CODE_ERROR"),
];

#[test]
fn counts_calls_and_durations_exactly() {
    let mut agg = shop();

    let first = agg.flush(T0 + SEC).unwrap();
    assert_eq!(first.resource_metrics.len(), 1);
    let rm = &first.resource_metrics[0];
    assert_eq!(
        attrs_of(&rm.resource.as_ref().unwrap().attributes),
        vec![("service.name".into(), "shop".into())]
    );
    assert_eq!(
        rm.scope_metrics[0].scope.as_ref().unwrap().name,
        "spanmetricsconnector"
    );
    let names: Vec<&str> = rm.scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["traces.span.metrics.calls", "traces.span.metrics.duration"]
    );

    let calls = metric(&first, 0, "traces.span.metrics.calls");
    assert_eq!(calls.unit, "");
    let Some(metric::Data::Sum(sum)) = &calls.data else {
        panic!()
    };
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    // A new cumulative series is emitted as 0 first (as otelcol does).
    assert_eq!(count(calls, &OK), Some(0));
    let p = &sum_points(calls)[0];
    assert_eq!(
        attrs_of(&p.attributes).len(),
        4,
        "exactly the default dimensions"
    );
    assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (T0, T0 + SEC));

    let duration = metric(&first, 0, "traces.span.metrics.duration");
    assert_eq!(duration.unit, "ms");
    let h = hist_point(duration, &OK);
    assert_eq!(h.explicit_bounds, config::DEFAULT_BUCKETS_MS.to_vec());
    assert_eq!(h.count, 3);
    assert_eq!(h.sum, Some(24.0));
    assert_eq!(
        h.bucket_counts,
        vec![1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        hist_point(duration, &ERR).bucket_counts[2],
        1,
        "5ms is in (4ms, 6ms]"
    );
}

#[test]
fn the_shutdown_flush_carries_the_counts_of_new_series() {
    let mut agg = shop();
    let last = agg.flush_last(T0 + SEC).unwrap();
    let calls = metric(&last, 0, "traces.span.metrics.calls");
    assert_eq!(
        count(calls, &OK),
        Some(3),
        "no later flush: not 0 first, the count itself"
    );
    assert_eq!(count(calls, &ERR), Some(1));
}

#[test]
fn cumulative_counts_stay_and_grow() {
    let mut agg = shop();
    agg.flush(T0 + SEC);
    agg.add_request(
        &traces(
            &[("service.name", "shop"), ("host.name", "h1")],
            vec![server("GET /a", 1)],
        ),
        T0 + 2 * SEC,
    );
    let second = agg.flush(T0 + 3 * SEC).unwrap();
    let calls = metric(&second, 0, "traces.span.metrics.calls");
    assert_eq!(count(calls, &OK), Some(4));
    assert_eq!(count(calls, &ERR), Some(1));
    assert_eq!(
        sum_points(calls)[0].start_time_unix_nano,
        T0,
        "cumulative keeps its start"
    );
    assert_eq!(
        hist_point(metric(&second, 0, "traces.span.metrics.duration"), &OK).count,
        4
    );
}

#[test]
fn dimensions_come_from_the_span_then_the_resource_then_the_default() {
    let (mut agg, _) = aggregator(
        "{dimensions: [{name: http.method, default: GET}, {name: region}, {name: absent}, {name: code, default: 200}],
          exclude_dimensions: [span.kind], namespace: '', include_instrumentation_scope: [lib]}",
    );
    let spans = vec![
        with_attrs(
            server("a", 1),
            &[("http.method", "POST"), ("region", "span-eu")],
        ),
        server("a", 1),
    ];
    agg.add_request(
        &traces(&[("service.name", "s"), ("region", "res-us")], spans),
        T0,
    );
    agg.flush(T0);
    let out = agg.flush(T0 + SEC).unwrap();
    let calls = metric(&out, 0, "calls");
    let post = [
        ("http.method", "POST"),
        ("region", "span-eu"),
        ("code", "200"),
    ];
    assert_eq!(count(calls, &post), Some(1));
    assert_eq!(
        count(calls, &[("http.method", "GET"), ("region", "res-us")]),
        Some(1)
    );
    for p in sum_points(calls) {
        let keys: Vec<String> = attrs_of(&p.attributes)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [
                "service.name",
                "span.name",
                "status.code",
                "http.method",
                "region",
                "code",
                "span.instrumentation.scope.name",
                "span.instrumentation.scope.version"
            ],
        );
    }
    assert!(metric(&out, 0, "duration").name == "duration");
}

#[test]
fn calls_and_histogram_dimensions_apply_to_their_metric_only() {
    let (mut agg, _) = aggregator(
        "{calls_dimensions: [{name: rpc.method}], histogram: {dimensions: [{name: http.route}]}}",
    );
    let s = with_attrs(
        server("a", 1),
        &[("rpc.method", "Get"), ("http.route", "/r")],
    );
    agg.add_request(&traces(&[("service.name", "s")], vec![s]), T0);
    let out = agg.flush(T0).unwrap();
    let calls = sum_points(metric(&out, 0, "traces.span.metrics.calls"));
    assert!(matches(&calls[0].attributes, &[("rpc.method", "Get")]));
    assert!(!matches(&calls[0].attributes, &[("http.route", "/r")]));
    let duration = metric(&out, 0, "traces.span.metrics.duration");
    let h = hist_point(duration, &[("http.route", "/r")]);
    assert!(!matches(&h.attributes, &[("rpc.method", "Get")]));
}

#[test]
fn delta_resets_and_chains_start_times() {
    let (mut agg, _) = aggregator(
        "{aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA, histogram: {unit: s}}",
    );
    let svc = [("service.name", "s")];
    agg.add_request(&traces(&svc, vec![server("a", 1500), server("a", 500)]), T0);
    let first = agg.flush(T0 + SEC).unwrap();
    let calls = metric(&first, 0, "traces.span.metrics.calls");
    let Some(metric::Data::Sum(sum)) = &calls.data else {
        panic!()
    };
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Delta as i32
    );
    assert_eq!(
        count(calls, &[("span.name", "a")]),
        Some(2),
        "delta emits the count at once"
    );
    let duration = metric(&first, 0, "traces.span.metrics.duration");
    assert_eq!(duration.unit, "s");
    let h = hist_point(duration, &[("span.name", "a")]);
    assert_eq!(h.explicit_bounds[0], 0.002);
    assert_eq!((h.count, h.sum), (2, Some(2.0)));
    assert_eq!(h.bucket_counts[9], 1, "0.5s is in (0.4s, 0.8s]");
    assert_eq!(h.bucket_counts[12], 1, "1.5s is in (1.4s, 2s]");

    assert!(
        agg.flush(T0 + 2 * SEC).is_none(),
        "delta holds nothing after a flush"
    );
    agg.add_request(&traces(&svc, vec![server("a", 1)]), T0 + 3 * SEC);
    let second = agg.flush(T0 + 4 * SEC).unwrap();
    let p = &sum_points(metric(&second, 0, "traces.span.metrics.calls"))[0];
    assert_eq!(p.value, Some(number_data_point::Value::AsInt(1)));
    assert_eq!(
        p.start_time_unix_nano,
        T0 + SEC,
        "starts where the previous flush ended"
    );
}

#[test]
fn the_cardinality_limit_puts_new_series_into_the_overflow_series() {
    let (mut agg, telemetry) = aggregator("{aggregation_cardinality_limit: 2, aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA}");
    let spans = (0..5).map(|i| server(&format!("op{i}"), 1)).collect();
    agg.add_request(&traces(&[("service.name", "s")], spans), T0);
    agg.add_request(
        &traces(&[("service.name", "s")], vec![server("op0", 1)]),
        T0,
    );
    let out = agg.flush(T0 + SEC).unwrap();
    let calls = metric(&out, 0, "traces.span.metrics.calls");
    assert_eq!(sum_points(calls).len(), 3);
    assert_eq!(count(calls, &[("span.name", "op0")]), Some(2));
    assert_eq!(count(calls, &[("span.name", "op1")]), Some(1));
    assert_eq!(count(calls, &[(OVERFLOW_ATTRIBUTE, "true")]), Some(3));
    let overflow = sum_points(calls)
        .iter()
        .find(|p| matches(&p.attributes, &[(OVERFLOW_ATTRIBUTE, "true")]))
        .unwrap();
    assert_eq!(overflow.attributes.len(), 1);
    assert_eq!(
        hist_point(
            metric(&out, 0, "traces.span.metrics.duration"),
            &[(OVERFLOW_ATTRIBUTE, "true")]
        )
        .count,
        3
    );
    let overflowed = metrics::read(
        &telemetry,
        "ferrotel_connector_span_metrics_overflow_measurements{connector=\"span_metrics\"}",
    );
    assert_eq!(overflowed, Some(6.0), "3 calls and 3 durations");
}

#[test]
fn a_flood_of_unique_span_names_stays_bounded() {
    let (mut agg, telemetry) = aggregator("{aggregation_cardinality_limit: 100}");
    for batch in 0..50 {
        let spans = (0..200)
            .map(|i| server(&format!("op{batch}-{i}"), 1))
            .collect();
        agg.add_request(&traces(&[("service.name", "s")], spans), T0);
    }
    let series = metrics::read(
        &telemetry,
        "ferrotel_connector_span_metrics_series{connector=\"span_metrics\"}",
    );
    assert_eq!(
        series,
        Some(202.0),
        "100 per metric plus one overflow series each"
    );
    agg.flush(T0);
    let out = agg.flush(T0 + SEC).unwrap();
    let calls = metric(&out, 0, "traces.span.metrics.calls");
    let total: i64 = sum_points(calls)
        .iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            _ => 0,
        })
        .sum();
    assert_eq!(
        total, 10_000,
        "no span is lost, the excess is in the overflow series"
    );
}

#[test]
fn without_a_limit_the_ceiling_bounds_all_series() {
    let telemetry = Telemetry::new();
    let settings = Settings::new(&config("{}")).with_ceiling(50);
    let mut agg = Aggregator::new(settings, Meters::new(&telemetry, "span_metrics"));
    for service in ["a", "b"] {
        let spans = (0..100).map(|i| server(&format!("op{i}"), 1)).collect();
        agg.add_request(&traces(&[("service.name", service)], spans), T0);
    }
    let series = metrics::read(
        &telemetry,
        "ferrotel_connector_span_metrics_series{connector=\"span_metrics\"}",
    );
    assert_eq!(
        series,
        Some(54.0),
        "50, and one overflow series per metric and resource"
    );
    agg.flush(T0);
    let out = agg.flush(T0 + SEC).unwrap();
    let total: f64 = (0..2)
        .flat_map(|r| sum_points(metric(&out, r, "traces.span.metrics.calls")).to_vec())
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v as f64,
            _ => 0.0,
        })
        .sum();
    assert_eq!(total, 200.0);
}

#[test]
fn expired_series_and_evicted_resources_are_dropped_and_counted() {
    let (mut agg, telemetry) =
        aggregator("{metrics_expiration: 10s, resource_metrics_cache_size: 1}");
    agg.add_request(&traces(&[("service.name", "a")], vec![server("x", 1)]), T0);
    agg.add_request(&traces(&[("service.name", "b")], vec![server("y", 1)]), T0);
    let read = |name: &str| {
        metrics::read(
            &telemetry,
            &format!("ferrotel_connector_span_metrics_{name}{{connector=\"span_metrics\"}}"),
        )
    };
    assert_eq!(read("evicted_resources"), Some(1.0));
    assert_eq!(read("resources"), Some(1.0));
    let out = agg.flush(T0 + 5 * SEC).unwrap();
    assert_eq!(out.resource_metrics.len(), 1);
    assert!(count(
        metric(&out, 0, "traces.span.metrics.calls"),
        &[("service.name", "b")]
    )
    .is_some());
    // Not updated for 10s: emitted a last time, then dropped.
    assert!(agg.flush(T0 + 10 * SEC).is_some());
    assert!(agg.flush(T0 + 11 * SEC).is_none());
    assert_eq!(read("expired_series"), Some(2.0));
    assert_eq!(read("series"), Some(0.0));
}

#[test]
fn events_exemplars_and_exponential_histograms() {
    let (mut agg, _) = aggregator(
        "{events: {enabled: true, dimensions: [{name: exception.type}]}, exemplars: {enabled: true, max_per_data_point: 1},
          histogram: {exponential: {max_size: 10}}}",
    );
    let mut s = server("a", 7);
    s.events = vec![
        span::Event {
            name: "exception".into(),
            attributes: vec![pdata::kv_str("exception.type", "IOError")],
            ..Default::default()
        },
        span::Event {
            name: "exception".into(),
            attributes: vec![pdata::kv_str("exception.type", "IOError")],
            ..Default::default()
        },
    ];
    agg.add_request(
        &traces(&[("service.name", "s")], vec![s, server("a", 9)]),
        T0,
    );
    let out = agg.flush(T0 + SEC).unwrap();
    let events = metric(&out, 0, "traces.span.metrics.events");
    assert_eq!(sum_points(events)[0].exemplars.len(), 1);
    let out = agg.flush(T0 + 2 * SEC).unwrap();
    let events = metric(&out, 0, "traces.span.metrics.events");
    assert_eq!(
        count(events, &[("exception.type", "IOError"), ("span.name", "a")]),
        Some(2)
    );
    let duration = metric(&out, 0, "traces.span.metrics.duration");
    let Some(metric::Data::ExponentialHistogram(h)) = &duration.data else {
        panic!("{duration:?}")
    };
    let p = &h.data_points[0];
    assert_eq!(
        (p.count, p.sum, p.min, p.max),
        (2, Some(16.0), Some(7.0), Some(9.0))
    );
    assert!(p.positive.as_ref().unwrap().bucket_counts.len() <= 10);
    assert!(
        p.exemplars.is_empty(),
        "exemplars are cleared after each flush"
    );
}

#[test]
fn the_connector_counts_what_it_consumes_and_flushes() {
    let ctx = create_context("connectors", "spanmetrics/2");
    let c = SpanMetricsConnectorFactory
        .create_from(&ctx, &yaml("{metrics_flush_interval: 15s}"))
        .unwrap();
    assert_eq!(c.tick_interval(), Some(Duration::from_secs(15)));
    let batch = Batch::from_data(
        Data::Traces(traces(&[("service.name", "s")], vec![server("a", 1)])),
        Default::default(),
    );
    let mut out = Vec::new();
    c.consume(batch, &mut out).unwrap();
    assert!(out.is_empty(), "nothing is emitted before a flush");
    c.on_tick(&mut out);
    c.flush(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].batch.signal(), Signal::Metrics);
    assert!(out[1].pipelines.is_none());
    let info = SpanMetricsConnectorFactory.info();
    assert!(info.joins(Signal::Traces, Signal::Metrics));
    assert!(!info.joins(Signal::Traces, Signal::Traces));
}

/// The first error of a refused config: its path and message.
fn refusal(text: &str) -> (String, String) {
    let ctx = create_context("connectors", "span_metrics");
    let e = refused(
        SpanMetricsConnectorFactory.create_from(&ctx, &yaml(text)),
        text,
    );
    (e.0[0].path.clone(), e.0[0].message.clone())
}

#[test]
fn config_defaults_are_otelcols() {
    let c = SpanMetricsConfig::default();
    assert_eq!(c, config("{}"));
    assert_eq!(c.namespace, "traces.span.metrics");
    assert_eq!(c.flush_interval(), Duration::from_secs(60));
    assert_eq!(c.resource_metrics_cache_size, 1000);
    assert!(!c.is_delta());
    assert_eq!(c.bounds(), config::DEFAULT_BUCKETS_MS.to_vec());
    let full = config(&testdata("full.yaml"));
    assert_eq!(full.histogram.unit, config::Unit::Seconds);
    assert_eq!(full.dimensions[1].default.as_deref(), Some("200"));
    assert_eq!(full.flush_interval(), Duration::from_secs(15));
    assert_eq!(full.namespace, "span.metrics");
    assert_eq!(full.bounds(), vec![0.0001, 0.001, 1.0]);
    assert!(full.is_delta());
}

fn testdata(name: &str) -> String {
    ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "span_metrics", name)
}

#[test]
fn testdata_typo_and_invalid_values_are_refused() {
    let (path, message) = refusal(&testdata("typo.yaml"));
    assert_eq!(path, "connectors.span_metrics.metric_flush_interval");
    assert!(message.contains("unknown field"), "{message}");
    let (path, message) = refusal(&testdata("invalid.yaml"));
    assert_eq!(path, "connectors.span_metrics.histogram");
    assert_eq!(
        message,
        "use either `explicit` or `exponential` buckets histogram"
    );
}

#[test]
fn config_errors_are_otelcols() {
    let cases = [
        ("{histogram: {unt: ms}}", "connectors.span_metrics.histogram.unt", "unknown field"),
        ("{histogram: {unit: h}}", "connectors.span_metrics.histogram.unit", "unknown variant"),
        ("{dimensions: [{name: span.kind}]}", "connectors.span_metrics.dimensions", "failed validating dimensions: duplicate dimension name span.kind"),
        ("{dimensions: [{name: a}, {name: a}]}", "connectors.span_metrics.dimensions", "duplicate dimension name a"),
        ("{events: {enabled: true}}", "connectors.span_metrics.events.dimensions", "failed validating event dimensions: no dimensions configured for events"),
        ("{histogram: {explicit: {}, exponential: {}}}", "connectors.span_metrics.histogram", "use either `explicit` or `exponential` buckets histogram"),
        ("{metrics_flush_interval: 0s}", "connectors.span_metrics.metrics_flush_interval", "the duration should be positive"),
        ("{aggregation_cardinality_limit: -1}", "connectors.span_metrics.aggregation_cardinality_limit", "invalid aggregation_cardinality_limit: -1, the limit should be positive"),
        ("{resource_metrics_cache_size: 0}", "connectors.span_metrics.resource_metrics_cache_size", "invalid resource_metrics_cache_size: 0"),
        ("{aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA, metric_timestamp_cache_size: 0}", "connectors.span_metrics.metric_timestamp_cache_size", "invalid delta timestamp cache size: 0"),
    ];
    for (text, path, message) in cases {
        let (p, m) = refusal(text);
        assert_eq!(p, path, "{text}: {m}");
        assert!(m.contains(message), "{text}: {m}");
    }
}

#[test]
fn a_resource_is_the_same_whatever_the_order_of_its_attributes() {
    let (mut agg, telemetry) = aggregator("{}");
    let resources = [
        vec![("service.name", "a"), ("host.name", "h1")],
        vec![("host.name", "h1"), ("service.name", "a")],
        // Values that only a careless identity would confuse with the first.
        vec![("service.name", "a"), ("host.name", "h1\0")],
        vec![("service.name", "a"), ("host.name=h1", "")],
    ];
    for attrs in &resources {
        agg.add_request(&traces(attrs, vec![server("x", 1)]), T0);
    }
    let resources = metrics::read(
        &telemetry,
        "ferrotel_connector_span_metrics_resources{connector=\"span_metrics\"}",
    );
    assert_eq!(resources, Some(3.0));
    let out = agg.flush(T0 + SEC).unwrap();
    assert_eq!(out.resource_metrics.len(), 3);
}
