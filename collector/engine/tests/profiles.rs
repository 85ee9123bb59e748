//! The `profiles` signal through the engine, with the `service.profilesSupport` gate enabled
//! (this test binary is its own process, so the process-wide gate does not leak into the other
//! engine tests; the config crate's tests check the refusal without it).

#![allow(clippy::unwrap_used)]

mod common;

use common::{document, wait_for, EmptyConfig, RecordingFactory, StubReceiverFactory};
use ferrotel_config::ConfigErrors;
use ferrotel_core::featuregate::{self, PROFILES_SUPPORT};
use ferrotel_core::{
    Batch, CreateContext, Factory, FactoryInfo, PerSignal, Processor, Registry, Signal,
    SignalProcessor, Stability,
};
use ferrotel_engine::Service;
use ferrotel_testkit::{fixtures, metrics};
use std::time::Duration;

fn enable_profiles() {
    featuregate::global().set(PROFILES_SUPPORT, true).unwrap();
}

/// A processor of traces, metrics and logs only.
struct ClassicOnlyFactory;
struct Noop;
impl SignalProcessor for Noop {}

impl Factory for ClassicOnlyFactory {
    type Config = EmptyConfig;
    type Component = Box<dyn Processor>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("classic", "test").all_signals(Stability::Beta)
    }
    fn create(
        &self,
        _: &CreateContext,
        _: EmptyConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        Ok(Box::new(PerSignal(Noop)))
    }
}

#[tokio::test]
async fn a_profiles_pipeline_carries_the_received_bytes_to_its_exporters() {
    enable_profiles();
    let (stub, rec) = (StubReceiverFactory::default(), RecordingFactory::default());
    let registry = Registry::default().with(stub.clone()).with(rec.clone());
    let yaml = "receivers: {stub: {}}
exporters: {recording/a: {}, recording/b: {}}
service:
  pipelines:
    profiles/x: {receivers: [stub], exporters: [recording/a, recording/b]}
";
    let mut service = Service::build(&document(yaml), &registry).unwrap_or_else(|e| panic!("{e}"));
    service.start().await.unwrap();
    let consumers = stub.consumers("stub");
    assert!(consumers.traces.is_none());
    let batch = fixtures::encoded_batch(Signal::Profiles, 9);
    consumers
        .profiles
        .unwrap()
        .consume(batch.clone())
        .await
        .unwrap();
    for id in ["recording/a", "recording/b"] {
        let exporter = rec.exporter(id);
        wait_for(|| exporter.item_count() == 9).await;
        let got: Vec<Batch> = exporter.batches.lock().unwrap().clone();
        assert!(
            got[0].same_payload(&batch),
            "{id}: the very payload received"
        );
        assert!(!got[0].is_decoded(), "{id}: nobody decoded it");
        let series = format!("otelcol_exporter_sent_profile_samples{{exporter=\"{id}\"}}");
        wait_for(|| metrics::read(service.telemetry(), &series) == Some(9.0)).await;
    }
    service.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn components_without_profiles_are_refused_in_a_profiles_pipeline() {
    enable_profiles();
    let registry = Registry::default()
        .with(StubReceiverFactory::default())
        .with(RecordingFactory::default())
        .with(ClassicOnlyFactory);
    let yaml = "receivers: {stub: {}}
processors: {classic: {}}
exporters: {recording: {}}
service:
  pipelines:
    profiles: {receivers: [stub], processors: [classic], exporters: [recording]}
";
    let err = Service::build(&document(yaml), &registry)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("service.pipelines.profiles: processor \"classic\" does not support profiles"),
        "{err}"
    );
}
