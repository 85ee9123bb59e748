//! The span_metrics connector in a running service: a traces pipeline exports to it, a metrics
//! pipeline receives from it and exports to the prometheus exporter, and the test scrapes
//! `/metrics` over HTTP for the series Jaeger's monitor tab (SPM) queries.

#![allow(clippy::unwrap_used)]

use ferrotel_config::{ConfigErrors, Validate};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{
    span::SpanKind, status, ResourceSpans, ScopeSpans, Span, Status,
};
use ferrotel_core::{
    Batch, Consumer, CreateContext, Data, Factory, FactoryInfo, Receiver, ReceiverContext,
    Registry, Signal, Stability, StartError,
};
use ferrotel_engine::Service;
use ferrotel_testkit::metrics;
use ferrotel_testkit::net::ReservedPort;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StubConfig {}

impl Validate for StubConfig {}

type Slot = Arc<Mutex<Option<Arc<dyn Consumer>>>>;

/// A receiver that hands the traces consumer it was started with to the test.
struct Stub(Slot);

#[async_trait::async_trait]
impl Receiver for Stub {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        *self.0.lock().unwrap() = ctx.consumers.traces;
        Ok(())
    }
    async fn shutdown(&mut self) {}
}

#[derive(Clone, Default)]
struct StubFactory(Slot);

impl Factory for StubFactory {
    type Config = StubConfig;
    type Component = Box<dyn Receiver>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("stub", "test").signal(Signal::Traces, Stability::Alpha)
    }
    fn create(&self, _: &CreateContext, _: StubConfig) -> Result<Box<dyn Receiver>, ConfigErrors> {
        Ok(Box::new(Stub(self.0.clone())))
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

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

fn traces(service: &str, spans: Vec<Span>) -> Batch {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_data(Data::Traces(req), Default::default())
}

/// A started service: stub -> traces -> span_metrics (`connector` settings) -> metrics ->
/// prometheus; returns it, the traces consumer and the scrape URL.
async fn start(connector: &str) -> (Service, Arc<dyn Consumer>, String) {
    let port = ReservedPort::new().port();
    let yaml = format!(
        "receivers: {{stub: {{}}}}
connectors:
  spanmetrics: {connector}
exporters:
  prometheus: {{endpoint: '127.0.0.1:{port}'}}
service:
  pipelines:
    traces: {{receivers: [stub], exporters: [spanmetrics]}}
    metrics: {{receivers: [spanmetrics], exporters: [prometheus]}}
"
    );
    let mut doc =
        ferrotel_config::load(&[ferrotel_config::ConfigSource::Text(yaml)], &[], &|_| None)
            .unwrap();
    doc.service.telemetry.metrics.pull.clear();
    let stub = StubFactory::default();
    let registry = ferrotel_connectors::register(ferrotel_exporters::register(
        Registry::default().with(stub.clone()),
    ));
    let mut service = Service::build(&doc, &registry).unwrap_or_else(|e| panic!("{e}"));
    service.start().await.unwrap();
    let consumer = stub
        .0
        .lock()
        .unwrap()
        .clone()
        .expect("the stub receiver started");
    (
        service,
        consumer,
        format!("http://127.0.0.1:{port}/metrics"),
    )
}

async fn scrape(url: &str) -> String {
    match reqwest::get(url).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Scrapes until `done` holds for the text; panics after 10s with the last text.
async fn scrape_until(url: &str, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        text = scrape(url).await;
        if done(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not reached; last scrape:\n{text}");
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
