//! RED metrics and the service graph from spans, read the way their consumers read them: the
//! OpenTelemetry SDK sends spans to the ferrotel binary, the span_metrics and service_graph
//! connectors turn them into metrics for the prometheus exporter, a real Prometheus (Debian
//! package) scrapes it, and the test issues the PromQL that Jaeger's Monitor tab (SPM) sends with
//! the settings of Jaeger's own SPM example (`PROMETHEUS_QUERY_NAMESPACE=traces_span_metrics`,
//! normalized calls and duration, latency unit ms) and the per-edge queries of Grafana's
//! service graph (request and failed rates, server latency), checking the answers against the
//! spans sent.
//!
//! Rates: Prometheus extrapolates `rate()` over the part of the window it has samples for, so a
//! rate alone is only approximately the count sent. Every series here goes through the same two
//! rounds (the same spans are sent twice, each time in one request and one flush), so the
//! extrapolation is nearly the same factor for all of them: ratios of rates (error rate, one
//! operation against another, quantiles) are checked to 1% (a scrape may see one series of a
//! flush a scrape before another, which moves its window slightly), and the raw counters are
//! checked for the exact counts.

use ferrotel_integration::prometheus::{sample_value, JaegerSpm, Prometheus};
use ferrotel_integration::{
    base_config, eventually, http_get, metrics, proc_status_kib, span_request, startup, Collector,
    ReservedPort,
};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue as SdkKeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value as Json;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// The spans of one round: (operation, kind, duration in ms, error, how many).
const ROUND: &[(&str, SpanKind, u64, bool, usize)] = &[
    ("GET /cart", SpanKind::Server, 3, false, 18),
    ("GET /cart", SpanKind::Server, 3, true, 2),
    ("GET /cart", SpanKind::Server, 40, false, 7),
    ("GET /cart", SpanKind::Server, 40, true, 1),
    ("GET /cart", SpanKind::Server, 700, false, 2),
    ("POST /order", SpanKind::Server, 120, false, 5),
    ("POST /order", SpanKind::Server, 120, true, 5),
    // Not a server span: Jaeger's default query (span_kind SERVER) must not count it.
    ("GET payment", SpanKind::Client, 90, false, 4),
];

const SERVICE: &str = "checkout";

fn provider(http_port: u16, service: &str) -> SdkTracerProvider {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("http://127.0.0.1:{http_port}/v1/traces"))
        .build()
        .expect("span exporter");
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_string())
                .build(),
        )
        .build()
}

/// Sends one round of [`ROUND`] in one export request.
fn send_round(provider: &SdkTracerProvider) {
    let tracer = provider.tracer("express");
    let start = SystemTime::now() - Duration::from_secs(5);
    for &(name, ref kind, millis, error, n) in ROUND {
        for _ in 0..n {
            let mut span = tracer
                .span_builder(name)
                .with_kind(kind.clone())
                .with_start_time(start)
                .start(&tracer);
            if error {
                span.set_status(Status::error("boom"));
            }
            span.end_with_timestamp(start + Duration::from_millis(millis));
        }
    }
    provider.force_flush().expect("spans exported");
}

fn round_count(name: &str, error: Option<bool>) -> usize {
    ROUND
        .iter()
        .filter(|r| r.0 == name && error.is_none_or(|e| r.3 == e))
        .map(|r| r.4)
        .sum()
}

/// `span_name` -> value of each series of a query result.
fn by_operation(result: &[Json]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = result
        .iter()
        .map(|s| {
            let name = s["metric"]["span_name"].as_str().unwrap_or("").to_string();
            (name, sample_value(s))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Equal to 1% (see the module doc).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.01 * b.abs()
}

/// A collector: otlp -> traces -> `connectors` -> metrics -> prometheus exporter; and the
/// exporter's address.
fn start_collector(connectors: &str, traces_exporters: &str) -> (Collector, SocketAddr) {
    let exporters = format!("  prometheus:\n    endpoint: 127.0.0.1:0\nconnectors:\n{connectors}");
    let pipelines = format!(
        "    traces:\n      receivers: [otlp]\n      exporters: [{traces_exporters}]\n    metrics:\n      receivers: [{traces_exporters}]\n      exporters: [prometheus]\n"
    );
    let collector = Collector::start(&base_config("", &exporters, &pipelines), &[]);
    let exporter = collector
        .logged_addr(startup::PROMETHEUS, None)
        .expect("the prometheus exporter's address");
    (collector, exporter)
}

/// [`start_collector`], and a Prometheus scraping its exporter every second.
fn start_stack(connectors: &str, traces_exporters: &str) -> (Collector, Prometheus) {
    let (collector, exporter) = start_collector(connectors, traces_exporters);
    let port = ReservedPort::new();
    let prom_port = port.port();
    drop(port);
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ferrotel\n    honor_labels: true\n    static_configs:\n      - targets: ['{exporter}']\n"
    );
    (collector, Prometheus::start(&config, prom_port))
}

/// Waits until Prometheus has scraped `expected` as the sum of `series`.
fn wait_scraped(prom: &Prometheus, collector: &Collector, series: &str, expected: f64) {
    let q = format!("sum({series})");
    assert!(
        eventually(Duration::from_secs(30), || prom.value(&q) == expected),
        "{q}: {:?}, expected {expected}\nferrotel stderr:\n{}\nprometheus:\n{}",
        prom.query(&q),
        collector.stderr(),
        prom.log()
    );
}

#[test]
fn jaeger_monitor_tab_queries_return_the_red_metrics_of_the_spans_sent() {
    let (collector, prom) = start_stack(
        "  spanmetrics:\n    metrics_flush_interval: 1s\n",
        "spanmetrics",
    );
    let provider = provider(collector.ports.http, SERVICE);
    let total = ROUND.iter().map(|r| r.4).sum::<usize>() as f64;
    let calls = format!(r#"traces_span_metrics_calls_total{{service_name="{SERVICE}"}}"#);

    // Two identical rounds, each scraped before the next (see the module doc).
    send_round(&provider);
    wait_scraped(&prom, &collector, &calls, total);
    send_round(&provider);
    wait_scraped(&prom, &collector, &calls, 2.0 * total);
    provider.shutdown().expect("provider shut down");

    // The counters hold exactly what was sent, under the labels Jaeger filters on.
    for op in ["GET /cart", "POST /order"] {
        for (code, error) in [("STATUS_CODE_UNSET", false), ("STATUS_CODE_ERROR", true)] {
            let q = format!(
                r#"traces_span_metrics_calls_total{{service_name="{SERVICE}", span_name="{op}", span_kind="SPAN_KIND_SERVER", status_code="{code}"}}"#
            );
            assert_eq!(
                prom.value(&q),
                2.0 * round_count(op, Some(error)) as f64,
                "{q}"
            );
        }
    }
    let q = format!(
        r#"sum(traces_span_metrics_duration_milliseconds_sum{{service_name="{SERVICE}", span_name="GET /cart"}})"#
    );
    assert_eq!(
        prom.value(&q),
        2.0 * (20.0 * 3.0 + 8.0 * 40.0 + 2.0 * 700.0)
    );

    // Jaeger's own SPM example: namespace traces_span_metrics, normalized names, unit ms.
    let jaeger = JaegerSpm::new("traces_span_metrics", true, true, "ms");

    // Call rates: one series per server operation, in the ratio of the calls sent.
    let rates = by_operation(&prom.query(&jaeger.call_rates(SERVICE)).expect("call rates"));
    let names: Vec<&str> = rates.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["GET /cart", "POST /order"], "{rates:?}");
    assert!(rates.iter().all(|r| r.1 > 0.0), "{rates:?}");
    assert!(close(rates[0].1 / rates[1].1, 30.0 / 10.0), "{rates:?}");

    // Error rates: errors / calls per operation.
    let errors = by_operation(
        &prom
            .query(&jaeger.error_rates(SERVICE))
            .expect("error rates"),
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(close(errors[0].1, 3.0 / 30.0), "{errors:?}");
    assert!(close(errors[1].1, 5.0 / 10.0), "{errors:?}");

    // p95 latency, interpolated in the default buckets (ms): GET /cart has 28 of 30 calls at
    // or under 50 ms and 2 in (400, 800], so rank 28.5 is 400 + 400 * 0.5 / 2 = 500;
    // POST /order has all 10 in (100, 200], so rank 9.5 is 100 + 100 * 9.5 / 10 = 195.
    let p95 = by_operation(
        &prom
            .query(&jaeger.latencies(0.95, SERVICE))
            .expect("latencies"),
    );
    assert_eq!(p95.len(), 2, "{p95:?}");
    assert!(close(p95[0].1, 500.0), "{p95:?}");
    assert!(close(p95[1].1, 195.0), "{p95:?}");
}

/// Sends spans `ids` of service `flood` over OTLP/gRPC in requests of 1000 (unique names and
/// trace ids: see [`span_request`]); every request must be accepted.
fn send_unique(grpc_port: u16, ids: std::ops::Range<u64>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{grpc_port}"))
            .await
            .expect("connects");
        let mut first = ids.start;
        while first < ids.end {
            let last = (first + 1000).min(ids.end);
            let mut req = span_request(first..last);
            req.resource_spans[0].resource = Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("flood".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            });
            client.export(req).await.expect("accepted");
            first = last;
        }
    });
}

/// The `traces_span_metrics_calls_total` lines of a scrape, and the overflow series' value.
fn calls_series(text: &str) -> (usize, f64) {
    let lines = text
        .lines()
        .filter(|l| l.starts_with("traces_span_metrics_calls_total{"))
        .count();
    let overflow = metrics::sum(
        text,
        "traces_span_metrics_calls_total",
        &[("otel_metric_overflow", "true")],
    );
    (lines, overflow)
}

#[test]
fn a_flood_of_unique_span_names_stays_within_the_cardinality_limit() {
    const LIMIT: u64 = 100;
    const ROUND: u64 = 50_000;
    let (collector, exporter) = start_collector(
        &format!("  spanmetrics:\n    aggregation_cardinality_limit: {LIMIT}\n    metrics_flush_interval: 200ms\n"),
        "spanmetrics",
    );
    let pid = collector.child.id();
    let url = format!("http://{exporter}/metrics");
    let scrape = || http_get::blocking_text(&url).unwrap_or_default();
    let grpc = collector.ports.grpc;

    send_unique(grpc, 0..ROUND);
    let all_counted = |n: u64| {
        eventually(Duration::from_secs(20), || {
            metrics::sum(&scrape(), "traces_span_metrics_calls_total", &[]) == n as f64
        })
    };
    assert!(all_counted(ROUND), "{}\n{}", scrape(), collector.stderr());
    let rss_after_first = proc_status_kib(pid, "VmRSS").expect("VmRSS");

    // Four times as many new names again: the series stay at the limit, the rest is counted
    // in the overflow series and in self-metrics, and memory does not follow the names.
    send_unique(grpc, ROUND..5 * ROUND);
    assert!(all_counted(5 * ROUND), "{}", scrape());
    let (series, overflow) = calls_series(&scrape());
    assert_eq!(
        series as u64,
        LIMIT + 1,
        "the limit's series and one overflow series"
    );
    assert_eq!(overflow, (5 * ROUND - LIMIT) as f64);
    let own = collector.metrics_text();
    let held = metrics::sum(&own, "ferrotel_connector_span_metrics_series", &[]);
    assert!(
        held <= (LIMIT + 1) as f64 * 2.0,
        "series held: {held}\n{own}"
    );
    let overflowed = metrics::sum(
        &own,
        "ferrotel_connector_span_metrics_overflow_measurements",
        &[],
    );
    assert!(overflowed >= (5 * ROUND - LIMIT) as f64, "{own}");
    let rss_after_all = proc_status_kib(pid, "VmRSS").expect("VmRSS");
    let growth_mib = rss_after_all.saturating_sub(rss_after_first) as f64 / 1024.0;
    eprintln!("RSS after 50k unique names {rss_after_first} KiB, after 250k {rss_after_all} KiB");
    assert!(
        growth_mib < 16.0,
        "RSS grew by {growth_mib:.1} MiB ({rss_after_first} -> {rss_after_all} KiB) over 200k more unique span names"
    );
}

/// One round of service-graph traffic: `frontend` calls `checkout` 10 times (the server spans
/// take 30 ms, 2 of them 300 ms; 3 fail on the server), and `checkout` calls its database
/// once per request (`db.name` orders-db). Each service exports its spans in one request.
fn send_graph_round(frontend: &SdkTracerProvider, checkout: &SdkTracerProvider) {
    let (web, api) = (frontend.tracer("web"), checkout.tracer("express"));
    let start = SystemTime::now() - Duration::from_secs(5);
    for i in 0..10u64 {
        let mut call = web
            .span_builder("GET checkout")
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .start(&web);
        let parent = Context::new().with_remote_span_context(call.span_context().clone());
        let mut served = api
            .span_builder("GET /cart")
            .with_kind(SpanKind::Server)
            .with_start_time(start)
            .start_with_context(&api, &parent);
        let server_cx = Context::new().with_remote_span_context(served.span_context().clone());
        let mut query = api
            .span_builder("SELECT orders")
            .with_kind(SpanKind::Client)
            .with_attributes([SdkKeyValue::new("db.name", "orders-db")])
            .with_start_time(start)
            .start_with_context(&api, &server_cx);
        query.end_with_timestamp(start + Duration::from_millis(5));
        if i < 3 {
            served.set_status(Status::error("boom"));
        }
        let millis = if i < 2 { 300 } else { 30 };
        served.end_with_timestamp(start + Duration::from_millis(millis));
        call.end_with_timestamp(start + Duration::from_millis(millis + 2));
    }
    frontend.force_flush().expect("frontend spans exported");
    checkout.force_flush().expect("checkout spans exported");
}

/// `client->server` -> value of each series of a query result.
fn by_edge(result: &[Json]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = result
        .iter()
        .map(|s| {
            let m = &s["metric"];
            let edge = format!(
                "{}->{}",
                m["client"].as_str().unwrap_or(""),
                m["server"].as_str().unwrap_or("")
            );
            (edge, sample_value(s))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn grafana_service_graph_queries_return_the_edges_of_the_traces_sent() {
    let (collector, prom) = start_stack(
        "  servicegraph:\n    metrics_flush_interval: 1s\n",
        "servicegraph",
    );
    let frontend = provider(collector.ports.http, "frontend");
    let checkout = provider(collector.ports.http, "checkout");
    let requests = "traces_service_graph_request_total";

    // Two identical rounds, each scraped before the next (see the module doc).
    send_graph_round(&frontend, &checkout);
    wait_scraped(&prom, &collector, requests, 20.0);
    send_graph_round(&frontend, &checkout);
    wait_scraped(&prom, &collector, requests, 40.0);
    frontend.shutdown().expect("frontend shut down");
    checkout.shutdown().expect("checkout shut down");

    // The counters: every call paired into its edge, the database call as a database edge.
    let edge = |client: &str, server: &str, extra: &str| {
        format!(
            r#"sum(traces_service_graph_request_total{{client="{client}", server="{server}"{extra}}})"#
        )
    };
    assert_eq!(prom.value(&edge("frontend", "checkout", "")), 20.0);
    assert_eq!(
        prom.value(&edge(
            "checkout",
            "orders-db",
            r#", connection_type="database""#
        )),
        20.0
    );
    assert_eq!(
        prom.value(r#"sum(traces_service_graph_request_failed_total{client="frontend", server="checkout"})"#),
        6.0
    );

    // Grafana's service graph: request and failed rates per edge, in the ratio sent.
    let rate = |metric: &str| {
        by_edge(
            &prom
                .query(&format!("sum by (client, server) (rate({metric}[10m]))"))
                .expect("rate query"),
        )
    };
    let total = rate("traces_service_graph_request_total");
    let failed = rate("traces_service_graph_request_failed_total");
    let edges: Vec<&str> = total.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        edges,
        ["checkout->orders-db", "frontend->checkout"],
        "{total:?}"
    );
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        close(failed[0].1 / total[1].1, 3.0 / 10.0),
        "{failed:?} {total:?}"
    );
    assert!(close(total[0].1 / total[1].1, 1.0), "{total:?}");

    // Server latency p90 per edge, in the default buckets (seconds): 8 of 10 calls at 30 ms,
    // 2 in (0.2, 0.4], so rank 9 is 0.2 + 0.2 * (9 - 8) / 2 = 0.3.
    let p90 = by_edge(
        &prom
            .query("histogram_quantile(0.9, sum by (client, server, le) (rate(traces_service_graph_request_server_seconds_bucket[10m])))")
            .expect("latency query"),
    );
    let checkout_p90 = p90
        .iter()
        .find(|e| e.0 == "frontend->checkout")
        .map(|e| e.1);
    assert!(checkout_p90.is_some_and(|v| close(v, 0.3)), "{p90:?}");
}
