//! What the connector service tests share: a `stub` receiver that hands the test the consumers
//! it was started with, a `recorder` exporter type, a service started from YAML with both
//! registered beside every exporter and connector, and scraping the prometheus exporter.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use ferrotel_config::{ConfigErrors, Validate};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{
    Batch, Consumers, CreateContext, Data, ExporterParts, ExporterSettings, Factory, FactoryInfo,
    Receiver, ReceiverContext, Registry, Signal, Stability, StartError,
};
use ferrotel_engine::Service;
use ferrotel_testkit::RecordingExporter;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StubConfig {}

impl Validate for StubConfig {}

type Slot = Arc<Mutex<Option<Consumers>>>;

/// A receiver that hands the consumers it was started with to the test.
struct Stub(Slot);

#[async_trait::async_trait]
impl Receiver for Stub {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        *self.0.lock().unwrap() = Some(ctx.consumers);
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
        FactoryInfo::new("stub", "test")
            .signal(Signal::Traces, Stability::Alpha)
            .signal(Signal::Metrics, Stability::Alpha)
            .signal(Signal::Logs, Stability::Alpha)
    }
    fn create(&self, _: &CreateContext, _: StubConfig) -> Result<Box<dyn Receiver>, ConfigErrors> {
        Ok(Box::new(Stub(self.0.clone())))
    }
}

/// An exporter type `recorder` whose instances all record into one [`RecordingExporter`].
#[derive(Clone, Default)]
pub struct RecorderFactory(pub RecordingExporter);

impl Factory for RecorderFactory {
    type Config = StubConfig;
    type Component = ExporterParts;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("recorder", "test").signal(Signal::Metrics, Stability::Alpha)
    }
    fn create(&self, _: &CreateContext, _: StubConfig) -> Result<ExporterParts, ConfigErrors> {
        Ok(ExporterParts {
            exporter: Arc::new(self.0.clone()),
            settings: ExporterSettings::default(),
        })
    }
}

/// A started service of `yaml`, and the consumers its `stub` receiver feeds.
pub async fn start_yaml(yaml: String, recorder: &RecorderFactory) -> (Service, Consumers) {
    let mut doc =
        ferrotel_config::load(&[ferrotel_config::ConfigSource::Text(yaml)], &[], &|_| None)
            .unwrap();
    doc.service.telemetry.metrics.pull.clear();
    let stub = StubFactory::default();
    let registry = ferrotel_connectors::register(ferrotel_exporters::register(
        Registry::default()
            .with(stub.clone())
            .with(recorder.clone()),
    ));
    let mut service = Service::build(&doc, &registry).unwrap_or_else(|e| panic!("{e}"));
    service.start().await.unwrap();
    let consumers = stub.0.lock().unwrap().clone();
    (service, consumers.expect("the stub receiver started"))
}

pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// The spans of one resource, of service `service`.
pub fn traces(service: &str, spans: Vec<Span>) -> Batch {
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

pub async fn scrape(url: &str) -> String {
    match reqwest::get(url).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Scrapes until `done` holds for the text; panics after 10s with the last text.
pub async fn scrape_until(url: &str, done: impl Fn(&str) -> bool) -> String {
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

/// A started service: stub -> traces -> the traces-to-metrics connector `id` (with `settings`)
/// -> metrics -> prometheus; returns it, the traces consumer and the scrape URL.
pub async fn start_traces_to_prometheus(
    id: &str,
    settings: &str,
) -> (Service, Arc<dyn ferrotel_core::Consumer>, String) {
    let port = ferrotel_testkit::net::ReservedPort::new().port();
    let yaml = format!(
        "receivers: {{stub: {{}}}}
connectors:
  {id}: {settings}
exporters:
  prometheus: {{endpoint: '127.0.0.1:{port}'}}
service:
  pipelines:
    traces: {{receivers: [stub], exporters: [{id}]}}
    metrics: {{receivers: [{id}], exporters: [prometheus]}}
"
    );
    let (service, consumers) = start_yaml(yaml, &RecorderFactory::default()).await;
    let consumer = consumers.traces.expect("a traces pipeline");
    (
        service,
        consumer,
        format!("http://127.0.0.1:{port}/metrics"),
    )
}
