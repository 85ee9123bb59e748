//! The service_graph connector in a running service: a traces pipeline exports to it, a metrics
//! pipeline receives from it and exports to the prometheus exporter, and the test scrapes
//! `/metrics` over HTTP for the series Grafana's service graph queries.

#![allow(clippy::unwrap_used)]

mod common;

use common::{scrape_until, start_traces_to_prometheus, start_yaml, traces, RecorderFactory};
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::metrics::v1::{metric, number_data_point};
use ferrotel_core::proto::trace::v1::{span::SpanKind, status::StatusCode, Span, Status};
use ferrotel_core::{Batch, Consumer, Data};
use ferrotel_engine::Service;
use ferrotel_testkit::metrics;
use std::sync::Arc;
use std::time::Duration;

const START: u64 = 1_700_000_000_000_000_000;
const TOTAL: &str = "traces_service_graph_request_total";
const FAILED: &str = "traces_service_graph_request_failed_total";
const SERVER: &str = "traces_service_graph_request_server_seconds";
const CLIENT: &str = "traces_service_graph_request_client_seconds";

/// A span of `trace` with id `id` and parent `parent` (0: none), lasting `millis`.
fn span(kind: SpanKind, (trace, id, parent): (u8, u8, u8), millis: u64) -> Span {
    Span {
        name: "op".into(),
        kind: kind as i32,
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 { vec![] } else { vec![parent; 8] },
        start_time_unix_nano: START,
        end_time_unix_nano: START + millis * 1_000_000,
        ..Default::default()
    }
}

fn with(mut s: Span, attrs: &[(&str, &str)]) -> Span {
    s.attributes = attrs
        .iter()
        .map(|(k, v)| common::kv(k, v))
        .collect::<Vec<KeyValue>>();
    s
}

fn failed(mut s: Span) -> Span {
    s.status = Some(Status {
        code: StatusCode::Error as i32,
        ..Default::default()
    });
    s
}

/// A started service: stub -> traces -> servicegraph (`connector` settings) -> metrics ->
/// prometheus; returns it, the traces consumer and the scrape URL.
async fn start(connector: &str) -> (Service, Arc<dyn Consumer>, String) {
    start_traces_to_prometheus("servicegraph", connector).await
}

async fn send(consumer: &Arc<dyn Consumer>, batch: Batch) {
    consumer.consume(batch).await.unwrap();
}

const WEB_API: [(&str, &str); 4] = [
    ("client", "web"),
    ("server", "api"),
    ("failed", "false"),
    ("client_http_method", "GET"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_between_services_are_counted_and_timed() {
    let (service, consumer, url) = start(
        "{metrics_flush_interval: 100ms, store_expiration_loop: 100ms, store: {ttl: 200ms},
          latency_histogram_buckets: [100ms, 250ms, 1s], dimensions: [http.method]}",
    )
    .await;
    let get = |s: Span| with(s, &[("http.method", "GET")]);
    // web -> api three times (one fails on the server), client spans first for two, server
    // span first for the third; api -> the orders database; web -> payments, never answered.
    let clients = vec![
        get(span(SpanKind::Client, (1, 1, 0), 120)),
        get(span(SpanKind::Client, (2, 1, 0), 120)),
        with(
            span(SpanKind::Client, (4, 1, 0), 40),
            &[("peer.service", "payments")],
        ),
    ];
    send(&consumer, traces("web", clients)).await;
    let servers = vec![
        span(SpanKind::Server, (1, 2, 1), 80),
        failed(span(SpanKind::Server, (2, 2, 1), 90)),
        span(SpanKind::Server, (3, 2, 1), 60),
        with(
            span(SpanKind::Client, (1, 3, 2), 30),
            &[("db.name", "orders")],
        ),
    ];
    send(&consumer, traces("api", servers)).await;
    send(
        &consumer,
        traces("web", vec![get(span(SpanKind::Client, (3, 1, 0), 300))]),
    )
    .await;

    let virtual_node = [("server", "payments"), ("connection_type", "virtual_node")];
    let text = scrape_until(&url, |t| metrics::sum(t, TOTAL, &virtual_node) == 1.0).await;
    let ok = &WEB_API;
    let bad = [("client", "web"), ("server", "api"), ("failed", "true")];
    assert_eq!(metrics::sum(&text, TOTAL, ok), 2.0, "{text}");
    assert_eq!(metrics::sum(&text, TOTAL, &bad), 1.0, "{text}");
    assert_eq!(metrics::sum(&text, FAILED, &bad), 1.0, "{text}");
    assert_eq!(metrics::sum(&text, FAILED, ok), 0.0, "{text}");
    let db = [
        ("client", "api"),
        ("server", "orders"),
        ("connection_type", "database"),
    ];
    assert_eq!(metrics::sum(&text, TOTAL, &db), 1.0, "{text}");
    assert_eq!(metrics::sum(&text, TOTAL, &[]), 5.0, "{text}");

    let bucket = |name: &str, le: &str| {
        let labels = [ok.as_slice(), &[("le", le)]].concat();
        metrics::sum(&text, &format!("{name}_bucket"), &labels)
    };
    // Server: 80ms and 60ms; client: 120ms and 300ms.
    assert_eq!(
        (bucket(SERVER, "0.1"), bucket(SERVER, "+Inf")),
        (2.0, 2.0),
        "{text}"
    );
    assert_eq!(
        (
            bucket(CLIENT, "0.1"),
            bucket(CLIENT, "0.25"),
            bucket(CLIENT, "1")
        ),
        (0.0, 1.0, 2.0)
    );
    assert_eq!(metrics::sum(&text, &format!("{SERVER}_count"), ok), 2.0);
    assert!(
        (metrics::sum(&text, &format!("{SERVER}_sum"), ok) - 0.14).abs() < 1e-9,
        "{text}"
    );
    assert!(
        (metrics::sum(&text, &format!("{CLIENT}_sum"), ok) - 0.42).abs() < 1e-9,
        "{text}"
    );
    assert!(text.contains(&format!("# TYPE {TOTAL} counter")), "{text}");
    assert!(
        text.contains(&format!("# TYPE {SERVER} histogram")),
        "{text}"
    );

    // More requests: the cumulative counter grows.
    send(
        &consumer,
        traces("web", vec![get(span(SpanKind::Client, (9, 1, 0), 5))]),
    )
    .await;
    send(
        &consumer,
        traces("api", vec![span(SpanKind::Server, (9, 2, 1), 5)]),
    )
    .await;
    scrape_until(&url, |t| metrics::sum(t, TOTAL, ok) == 3.0).await;
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unique_traces_is_bounded_by_max_items() {
    let (service, consumer, url) =
        start("{metrics_flush_interval: 100ms, store: {ttl: 1h, max_items: 10}}").await;
    for batch in 0..10u8 {
        let spans = (0..100u8)
            .map(|i| {
                let mut s = span(SpanKind::Client, (0, 1, 0), 1);
                s.trace_id = [[batch; 8], [i; 8]].concat();
                with(s, if i == 0 { &[("db.name", "pg")] } else { &[] })
            })
            .collect();
        send(&consumer, traces("web", spans)).await;
    }
    // The database calls complete at once; of the 990 others, 10 wait and 980 are dropped.
    let text = scrape_until(&url, |t| {
        metrics::sum(t, TOTAL, &[("server", "pg")]) == 10.0
    })
    .await;
    assert_eq!(metrics::sum(&text, TOTAL, &[]), 10.0, "{text}");
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_the_counts_through_the_connector_to_the_exporter() {
    let recorder = RecorderFactory::default();
    let yaml = "receivers: {stub: {}}
connectors:
  service_graph: {metrics_flush_interval: 1h}
exporters:
  recorder: {}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [service_graph]}
    metrics: {receivers: [service_graph], exporters: [recorder]}
";
    let (service, consumers) = start_yaml(yaml.into(), &recorder).await;
    let consumer = consumers.traces.expect("a traces pipeline");
    let db = || with(span(SpanKind::Client, (1, 1, 0), 3), &[("db.name", "pg")]);
    send(&consumer, traces("web", vec![db(), db()])).await;
    assert_eq!(recorder.0.item_count(), 0, "no flush before the hour");
    service.shutdown(Duration::from_secs(5)).await;

    let batches = recorder.0.batches.lock().unwrap().clone();
    let mut totals = Vec::new();
    for b in &batches {
        let Ok(Data::Metrics(req)) = b.view() else {
            panic!("metrics expected")
        };
        let metrics = req.resource_metrics.iter().flat_map(|r| &r.scope_metrics);
        for m in metrics.flat_map(|s| &s.metrics).filter(|m| m.name == TOTAL) {
            if let Some(metric::Data::Sum(sum)) = &m.data {
                totals.extend(sum.data_points.iter().map(|p| p.value));
            }
        }
    }
    assert_eq!(
        totals,
        [Some(number_data_point::Value::AsInt(2))],
        "the shutdown flush reached the exporter: {batches:?}"
    );
}
