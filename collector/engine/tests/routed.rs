//! A connector that names the downstream pipelines of what it emits (`Routed::pipelines`), as
//! the routing connector does: each batch reaches only the pipelines it names, a refusal of one
//! of them reaches the client, and the connector's `check_pipelines` refusal is reported at its
//! config path when the service is built.

#![allow(clippy::unwrap_used)]

mod common;

use common::{document, EmptyConfig, RecordingFactory, StubReceiverFactory};
use ferrotel_config::{ConfigErrors, PipelineId};
use ferrotel_core::{
    Batch, Connector, CreateContext, ExportError, Factory, FactoryInfo, PipelineError, Registry,
    Routed, Signal, Stability,
};
use ferrotel_engine::Service;
use ferrotel_testkit::fixtures;
use std::time::Duration;

/// Sends batches of an odd item count to `traces/odd`, the others to `traces/even` and
/// `traces/all`; refuses to join a graph without `traces/odd`.
struct ByParity;

impl Connector for ByParity {
    fn consume(&self, batch: Batch, out: &mut Vec<Routed>) -> Result<(), PipelineError> {
        let names: &[&str] = if batch.item_count() % 2 == 1 {
            &["traces/odd"]
        } else {
            &["traces/even", "traces/all", "traces/nowhere"]
        };
        out.push(Routed {
            batch,
            pipelines: Some(names.iter().map(ToString::to_string).collect()),
        });
        Ok(())
    }

    fn check_pipelines(&self, up: &[PipelineId], down: &[PipelineId]) -> Result<(), String> {
        assert_eq!(up.len(), 1, "one upstream pipeline");
        if down.iter().any(|p| p.to_string() == "traces/odd") {
            Ok(())
        } else {
            Err("missing consumer: \"traces/odd\"".into())
        }
    }
}

struct ByParityFactory;

impl Factory for ByParityFactory {
    type Config = EmptyConfig;
    type Component = Box<dyn Connector>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("parity", "test").connects(
            Signal::Traces,
            Signal::Traces,
            Stability::Alpha,
        )
    }
    fn create(
        &self,
        _: &CreateContext,
        _: EmptyConfig,
    ) -> Result<Box<dyn Connector>, ConfigErrors> {
        Ok(Box::new(ByParity))
    }
}

const CONFIG: &str = "receivers: {stub: {}}
exporters:
  recording/odd: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
  recording/even: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
  recording/all: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
connectors: {parity: {}}
service:
  pipelines:
    traces/in: {receivers: [stub], exporters: [parity]}
    traces/odd: {receivers: [parity], exporters: [recording/odd]}
    traces/even: {receivers: [parity], exporters: [recording/even]}
    traces/all: {receivers: [parity], exporters: [recording/all]}
";

fn registry(stub: &StubReceiverFactory, rec: &RecordingFactory) -> Registry {
    Registry::default()
        .with(stub.clone())
        .with(rec.clone())
        .with(ByParityFactory)
}

#[tokio::test]
async fn each_routed_batch_reaches_only_the_pipelines_it_names() {
    let (stub, rec) = (StubReceiverFactory::default(), RecordingFactory::default());
    let mut service = Service::build(&document(CONFIG), &registry(&stub, &rec)).unwrap();
    service.start().await.unwrap();
    let client = stub.traces();
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap();
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 4))
        .await
        .unwrap();
    let count = |id: &str| rec.exporter(id).item_count();
    assert_eq!(
        [
            count("recording/odd"),
            count("recording/even"),
            count("recording/all")
        ],
        [3, 4, 4]
    );

    rec.exporter("recording/all")
        .fail_next(ExportError::retryable("all is down"));
    let err = client
        .consume(fixtures::encoded_batch(Signal::Traces, 2))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("all is down"), "{err}");
    assert_eq!(err.grpc_code(), 14);
    assert_eq!(count("recording/odd"), 3, "not a target");
    service.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn the_connectors_pipeline_check_is_reported_at_its_path() {
    let (stub, rec) = (StubReceiverFactory::default(), RecordingFactory::default());
    let yaml = CONFIG
        .replace("    traces/odd: {receivers: [parity], exporters: [recording/odd]}\n", "")
        .replace("  recording/odd: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}\n", "");
    let err = Service::build(&document(&yaml), &registry(&stub, &rec))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("connectors.parity: missing consumer: \"traces/odd\""),
        "{err}"
    );
}
