//! The span_metrics connector in a running service: a traces pipeline exports to it, a metrics
//! pipeline receives from it and exports to the prometheus exporter, and the test scrapes
//! `/metrics` over HTTP for the series Jaeger's monitor tab (SPM) queries.

#![allow(clippy::unwrap_used)]

mod common;

use common::{scrape_until, start_traces_to_prometheus, start_yaml, traces, RecorderFactory};
use ferrotel_core::proto::metrics::v1::{metric, number_data_point};
use ferrotel_core::proto::trace::v1::{span::SpanKind, status, Span, Status};
use ferrotel_core::{Consumer, Data};
use ferrotel_engine::Service;
use ferrotel_testkit::metrics;
use std::sync::Arc;
use std::time::Duration;

fn span(name: &str, kind: SpanKind, code: status::StatusCode, millis: u64) -> Span {
    let start = 1_700_000_000_000_000_000u64;
    Span {
        name: name.into(),
        kind: kind as i32,
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        start_time_unix_nano: start,
        end_time_unix_nano: start + millis * 1_000_000,
        status: Some(Status {
            code: code as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A started service: stub -> traces -> span_metrics (`connector` settings) -> metrics ->
/// prometheus; returns it, the traces consumer and the scrape URL.
async fn start(connector: &str) -> (Service, Arc<dyn Consumer>, String) {
    start_traces_to_prometheus("spanmetrics", connector).await
}

const CALLS: &str = "traces_span_metrics_calls_total";

fn calls(text: &str, span_name: &str, kind: &str, code: &str) -> f64 {
    let labels = [
        ("service_name", "shop"),
        ("span_name", span_name),
        ("span_kind", kind),
        ("status_code", code),
    ];
    metrics::sum(text, CALLS, &labels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_spm_series_count_the_spans_sent() {
    let (service, consumer, url) = start("{metrics_flush_interval: 100ms}").await;
    let server = || span("GET /a", SpanKind::Server, status::StatusCode::Unset, 3);
    let client = || span("GET /b", SpanKind::Client, status::StatusCode::Error, 70);
    consumer
        .consume(traces("shop", vec![server(), server(), client()]))
        .await
        .unwrap();
    consumer
        .consume(traces("shop", vec![server()]))
        .await
        .unwrap();

    let text = scrape_until(&url, |t| {
        calls(t, "GET /a", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET") == 3.0
    })
    .await;
    assert_eq!(
        calls(&text, "GET /b", "SPAN_KIND_CLIENT", "STATUS_CODE_ERROR"),
        1.0
    );
    let bucket = "traces_span_metrics_duration_milliseconds_bucket";
    let a = [
        ("span_name", "GET /a"),
        ("span_kind", "SPAN_KIND_SERVER"),
        ("status_code", "STATUS_CODE_UNSET"),
        ("service_name", "shop"),
    ];
    let le = |le: &str| metrics::sum(&text, bucket, &[a.as_slice(), &[("le", le)]].concat());
    assert_eq!((le("2"), le("4"), le("+Inf")), (0.0, 3.0, 3.0), "{text}");
    assert_eq!(
        metrics::sum(&text, "traces_span_metrics_duration_milliseconds_count", &a),
        3.0
    );
    assert_eq!(
        metrics::sum(&text, "traces_span_metrics_duration_milliseconds_sum", &a),
        9.0
    );
    assert!(
        text.contains("# TYPE traces_span_metrics_calls_total counter"),
        "{text}"
    );

    // More spans: the cumulative counter grows.
    consumer
        .consume(traces("shop", vec![server()]))
        .await
        .unwrap();
    scrape_until(&url, |t| {
        calls(t, "GET /a", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET") == 4.0
    })
    .await;
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unique_span_names_stays_within_the_cardinality_limit() {
    let (service, consumer, url) =
        start("{metrics_flush_interval: 100ms, aggregation_cardinality_limit: 10}").await;
    for batch in 0..10 {
        let spans = (0..100)
            .map(|i| {
                span(
                    &format!("op-{batch}-{i}"),
                    SpanKind::Server,
                    status::StatusCode::Unset,
                    1,
                )
            })
            .collect();
        consumer.consume(traces("shop", spans)).await.unwrap();
    }
    let text = scrape_until(&url, |t| metrics::sum(t, CALLS, &[]) == 1000.0).await;
    let series = text
        .lines()
        .filter(|l| l.starts_with("traces_span_metrics_calls_total{"))
        .count();
    assert_eq!(series, 11, "10 series and the overflow one:\n{text}");
    assert_eq!(
        metrics::sum(&text, CALLS, &[("otel_metric_overflow", "true")]),
        990.0
    );
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_the_counts_through_the_connector_to_the_exporter() {
    let recorder = RecorderFactory::default();
    let yaml = "receivers: {stub: {}}
connectors:
  span_metrics: {metrics_flush_interval: 1h}
exporters:
  recorder: {}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [span_metrics]}
    metrics: {receivers: [span_metrics], exporters: [recorder]}
";
    let (service, consumers) = start_yaml(yaml.into(), &recorder).await;
    let consumer = consumers.traces.expect("a traces pipeline");
    let server = || span("GET /a", SpanKind::Server, status::StatusCode::Unset, 3);
    consumer
        .consume(traces("shop", vec![server(), server()]))
        .await
        .unwrap();
    assert_eq!(recorder.0.item_count(), 0, "no flush before the hour");
    service.shutdown(Duration::from_secs(5)).await;

    let batches = recorder.0.batches.lock().unwrap().clone();
    let mut calls = Vec::new();
    for b in &batches {
        let Ok(Data::Metrics(req)) = b.view() else {
            panic!("metrics expected")
        };
        let metrics = req.resource_metrics.iter().flat_map(|r| &r.scope_metrics);
        for m in metrics.flat_map(|s| &s.metrics) {
            if let Some(metric::Data::Sum(sum)) = &m.data {
                calls.extend(sum.data_points.iter().map(|p| p.value));
            }
        }
    }
    assert_eq!(
        calls,
        [Some(number_data_point::Value::AsInt(2))],
        "the shutdown flush reached the exporter with the count: {batches:?}"
    );
}
