//! The routing connector in a running service: a traces pipeline exports to it, and it feeds
//! `traces/a`, `traces/b` and a default pipeline, each exporting to its own recording
//! exporter. Checks which spans arrive where, that a downstream refusal reaches the client's
//! `consume` call through the connector, and that a table naming a pipeline the connector
//! does not feed is refused when the service is built.

#![allow(clippy::unwrap_used)]

use ferrotel_config::{ConfigErrors, QueueConfig, RetryConfig, Validate};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{
    Batch, Consumer, CreateContext, Data, ExportError, ExporterParts, ExporterSettings, Factory,
    FactoryInfo, Receiver, ReceiverContext, Registry, Signal, Stability, StartError,
};
use ferrotel_engine::Service;
use ferrotel_testkit::fixtures::{kv_str, spans_of};
use ferrotel_testkit::RecordingExporter;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// `recording`: exporterhelper's queue and retry settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RecordingConfig {
    sending_queue: QueueConfig,
    retry_on_failure: RetryConfig,
}

impl Validate for RecordingConfig {}

/// Creates a [`RecordingExporter`] per id, which the test reaches by id.
#[derive(Clone, Default)]
struct RecordingFactory(Arc<Mutex<BTreeMap<String, RecordingExporter>>>);

impl RecordingFactory {
    fn get(&self, id: &str) -> RecordingExporter {
        self.0.lock().unwrap()[id].clone()
    }
}

impl Factory for RecordingFactory {
    type Config = RecordingConfig;
    type Component = ExporterParts;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("recording", "test").signal(Signal::Traces, Stability::Alpha)
    }
    fn create(
        &self,
        ctx: &CreateContext,
        cfg: RecordingConfig,
    ) -> Result<ExporterParts, ConfigErrors> {
        let e = RecordingExporter::default();
        self.0.lock().unwrap().insert(ctx.id.to_string(), e.clone());
        Ok(ExporterParts {
            exporter: Arc::new(e),
            settings: ExporterSettings {
                queue: cfg.sending_queue,
                retry: cfg.retry_on_failure,
                ..Default::default()
            },
        })
    }
}

/// Without a queue or retries, an export happens (or fails) before `consume` returns.
const CONFIG: &str = r#"
receivers: {stub: {}}
exporters:
  recording/a: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
  recording/b: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
  recording/default: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
connectors:
  routing:
    default_pipelines: [traces/default]
    table:
      - condition: attributes["team"] == "a"
        pipelines: [traces/a]
      - context: span
        condition: attributes["to"] == "b"
        pipelines: [traces/b]
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    traces/in: {receivers: [stub], exporters: [routing]}
    traces/a: {receivers: [routing], exporters: [recording/a]}
    traces/b: {receivers: [routing], exporters: [recording/b]}
    traces/default: {receivers: [routing], exporters: [recording/default]}
"#;

struct Running {
    service: Service,
    client: Arc<dyn Consumer>,
    exporters: RecordingFactory,
}

fn document(yaml: &str) -> ferrotel_config::Document {
    ferrotel_config::load(
        &[ferrotel_config::ConfigSource::Text(yaml.into())],
        &[],
        &|_| None,
    )
    .unwrap()
}

fn registry(stub: &StubFactory, exporters: &RecordingFactory) -> Registry {
    ferrotel_connectors::register(Registry::default())
        .with(stub.clone())
        .with(exporters.clone())
}

async fn start() -> Running {
    let (stub, exporters) = (StubFactory::default(), RecordingFactory::default());
    let mut service = Service::build(&document(CONFIG), &registry(&stub, &exporters))
        .unwrap_or_else(|e| panic!("{e}"));
    service.start().await.unwrap();
    let client = stub.0.lock().unwrap().clone().unwrap();
    Running {
        service,
        client,
        exporters,
    }
}

fn span(name: &str, to: &str) -> Span {
    Span {
        name: name.into(),
        attributes: vec![kv_str("to", to)],
        ..Default::default()
    }
}

/// Two resources: team `a` with spans a1, a2 (a2 marked for b), team `x` with x1 (for b), x2.
fn request() -> Batch {
    let group = |team: &str, spans: Vec<Span>| ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv_str("team", team)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    };
    let data = Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![
            group("a", vec![span("a1", ""), span("a2", "b")]),
            group("x", vec![span("x1", "b"), span("x2", "")]),
        ],
    });
    let items = data.item_count();
    Batch::from_bytes(
        Signal::Traces,
        data.encode(),
        Some(items),
        Default::default(),
    )
}

fn names(e: &RecordingExporter) -> Vec<String> {
    let batches = e.batches.lock().unwrap().clone();
    spans_of(&batches).into_iter().map(|s| s.name).collect()
}

#[tokio::test]
async fn each_span_reaches_the_pipeline_of_its_route() {
    let r = start().await;
    r.client.consume(request()).await.unwrap();
    let got = |id| names(&r.exporters.get(id));
    assert_eq!(
        got("recording/a"),
        ["a1", "a2"],
        "the whole team-a resource"
    );
    assert_eq!(got("recording/b"), ["x1"], "only the span marked for b");
    assert_eq!(got("recording/default"), ["x2"]);
    let b = r.exporters.get("recording/b").batches.lock().unwrap()[0].clone();
    let Ok(Data::Traces(t)) = b.view() else {
        panic!("traces")
    };
    let team = &t.resource_spans[0].resource.as_ref().unwrap().attributes[0];
    assert_eq!(team, &kv_str("team", "x"), "x1 kept its resource");
    r.service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_downstream_refusal_reaches_the_client_through_the_connector() {
    let r = start().await;
    r.exporters
        .get("recording/b")
        .fail_next(ExportError::retryable("backend b down"));
    let err = r.client.consume(request()).await.unwrap_err();
    assert!(err.to_string().contains("backend b down"), "{err}");
    assert_eq!(err.grpc_code(), 14, "retryable: UNAVAILABLE");
    assert!(names(&r.exporters.get("recording/b")).is_empty());

    r.client.consume(request()).await.unwrap();
    assert_eq!(names(&r.exporters.get("recording/b")), ["x1"], "the retry");
    r.service.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn a_table_naming_a_pipeline_the_connector_does_not_feed_is_refused() {
    let (stub, exporters) = (StubFactory::default(), RecordingFactory::default());
    let yaml = CONFIG.replace("pipelines: [traces/b]", "pipelines: [traces/c, traces/b]");
    let err = Service::build(&document(&yaml), &registry(&stub, &exporters))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains(r#"connectors.routing: pipeline not found: missing consumer: "traces/c""#),
        "{err}"
    );
}
