//! Engine behaviour with recording fakes: fan-out without copies, queue-full refusals,
//! retries, permanent failures, draining at shutdown and graph validation.

#![allow(clippy::unwrap_used)]

use ferrotel_config::{GoDuration, PipelineId, QueueConfig, RetryConfig, Value};
use ferrotel_core::{
    Batch, ComponentId, Consumer, CreateContext, ExportError, ExporterFactory, ExporterParts,
    ExporterSettings, FactoryInfo, PipelineError, Processor, ProcessorFactory, Registry, Signal,
    Telemetry,
};
mod common;

use common::{document, test_info, wait_for, StubReceiverFactory};
use ferrotel_engine::exporter_runner::ExporterRunner;
use ferrotel_engine::pipeline::{Pipeline, Stage};
use ferrotel_engine::Service;
use ferrotel_testkit::{fixtures, RecordingExporter};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

fn settings(queue_size: u64, consumers: usize) -> ExporterSettings {
    ExporterSettings {
        timeout: GoDuration::from_secs(5),
        retry: RetryConfig {
            initial_interval: GoDuration::from_millis(10),
            max_interval: GoDuration::from_millis(40),
            ..Default::default()
        },
        queue: QueueConfig {
            queue_size,
            num_consumers: consumers,
            ..Default::default()
        },
    }
}

fn runner(
    name: &str,
    exp: &RecordingExporter,
    s: ExporterSettings,
    t: &Telemetry,
) -> Arc<ExporterRunner> {
    ExporterRunner::new(
        ComponentId::new(name),
        Signal::Traces,
        Arc::new(exp.clone()),
        s,
        t,
    )
}

fn pipeline(stages: Vec<Stage>, runners: Vec<Arc<ExporterRunner>>) -> Arc<Pipeline> {
    Arc::new(Pipeline::new(
        PipelineId {
            signal: Signal::Traces,
            name: None,
        },
        stages,
        runners,
    ))
}

#[tokio::test]
async fn fan_out_shares_the_payload() {
    let t = Telemetry::new();
    let (a, b) = (RecordingExporter::default(), RecordingExporter::default());
    let (ra, rb) = (
        runner("a", &a, settings(10, 1), &t),
        runner("b", &b, settings(10, 1), &t),
    );
    let mut tasks = JoinSet::new();
    ra.spawn_workers(&mut tasks);
    rb.spawn_workers(&mut tasks);
    let p = pipeline(vec![], vec![ra, rb]);
    p.consume(fixtures::encoded_batch(Signal::Traces, 30))
        .await
        .unwrap();
    wait_for(|| a.item_count() == 30 && b.item_count() == 30).await;
    let pa = a.batches.lock().unwrap()[0].encoded();
    let pb = b.batches.lock().unwrap()[0].encoded();
    assert_eq!(
        pa.as_ptr(),
        pb.as_ptr(),
        "both exporters see the same bytes, not copies"
    );
    assert!(t
        .render()
        .contains("otelcol_exporter_sent_spans{exporter=\"a\"} 30"));
}

#[tokio::test]
async fn full_queue_refuses_with_a_retryable_error() {
    let t = Telemetry::new();
    let slow = RecordingExporter::default();
    *slow.delay.lock().unwrap() = Duration::from_millis(300);
    let r = runner("slow", &slow, settings(1, 1), &t);
    let mut tasks = JoinSet::new();
    r.spawn_workers(&mut tasks);
    let p = pipeline(vec![], vec![r]);
    // One in the worker, one in the queue, the third is refused.
    p.consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    p.consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap();
    let err = p
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "sending queue is full");
    assert_eq!(err.grpc_code(), 14);
    assert_eq!(err.http_status(), 503);
    assert!(t
        .render()
        .contains("otelcol_exporter_enqueue_failed_spans{exporter=\"slow\"} 3"));
    wait_for(|| slow.item_count() == 6).await;
}

#[tokio::test]
async fn retryable_failures_are_retried_and_permanent_ones_dropped() {
    let t = Telemetry::new();
    let e = RecordingExporter::default();
    e.fail_next(ExportError::retryable("backend unavailable"));
    e.fail_next(ExportError::Retryable {
        message: "slow down".into(),
        throttle: Some(Duration::from_millis(50)),
    });
    let r = runner("e", &e, settings(10, 1), &t);
    let mut tasks = JoinSet::new();
    r.spawn_workers(&mut tasks);
    let p = pipeline(vec![], vec![r]);
    p.consume(fixtures::encoded_batch(Signal::Traces, 9))
        .await
        .unwrap();
    wait_for(|| e.item_count() == 9).await;
    assert_eq!(e.attempts.load(std::sync::atomic::Ordering::SeqCst), 3);

    e.fail_next(ExportError::permanent("bad data"));
    p.consume(fixtures::encoded_batch(Signal::Traces, 4))
        .await
        .unwrap();
    wait_for(|| {
        t.render()
            .contains("otelcol_exporter_send_failed_spans{exporter=\"e\"} 4")
    })
    .await;
    assert_eq!(
        e.item_count(),
        9,
        "the permanently failed batch is not delivered"
    );
}

#[tokio::test]
async fn without_queue_the_export_result_reaches_the_caller() {
    let t = Telemetry::new();
    let e = RecordingExporter::default();
    let mut s = settings(10, 1);
    s.queue = QueueConfig::disabled();
    s.retry.enabled = false;
    let p = pipeline(vec![], vec![runner("e", &e, s, &t)]);
    e.fail_next(ExportError::permanent("rejected"));
    let err = p
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap_err();
    assert_eq!(err.grpc_code(), 13);
    e.fail_next(ExportError::retryable("down"));
    let err = p
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap_err();
    assert_eq!(err.grpc_code(), 14);
    p.consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap();
    assert_eq!(e.item_count(), 3);
}

/// Buffers everything and emits on tick or flush, like the batch processor.
struct Buffer(std::sync::Mutex<Vec<Batch>>);

impl Processor for Buffer {
    fn process(&self, batch: Batch, _out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        self.0.lock().unwrap().push(batch);
        Ok(())
    }
    fn tick_interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }
    fn on_tick(&self, out: &mut Vec<Batch>) {
        out.append(&mut self.0.lock().unwrap());
    }
    fn flush(&self, out: &mut Vec<Batch>) {
        self.on_tick(out)
    }
}

fn buffer_stage(t: &Telemetry) -> (Stage, Arc<tokio::sync::Notify>) {
    let wake = Arc::new(tokio::sync::Notify::new());
    let stage = Stage {
        id: ComponentId::new("buffer"),
        processor: Box::new(Buffer(Default::default())),
        wake: wake.clone(),
        incoming: t.counter("in", "", &[]),
        outgoing: t.counter("out", "", &[]),
    };
    (stage, wake)
}

#[tokio::test]
async fn wake_emits_and_accepted_data_waits_for_queue_room() {
    let t = Telemetry::new();
    let e = RecordingExporter::default();
    *e.delay.lock().unwrap() = Duration::from_millis(20);
    let r = runner("e", &e, settings(1, 1), &t);
    let (stage, wake) = buffer_stage(&t);
    let p = pipeline(vec![stage], vec![r.clone()]);
    let mut tasks = JoinSet::new();
    r.spawn_workers(&mut tasks);
    let stop = tokio_util::sync::CancellationToken::new();
    p.spawn_tickers(
        &mut tasks,
        stop.clone(),
        tokio_util::sync::CancellationToken::new(),
    );
    for _ in 0..10 {
        p.consume(fixtures::encoded_batch(Signal::Traces, 5))
            .await
            .unwrap();
    }
    assert_eq!(e.item_count(), 0, "buffered until woken");
    wake.notify_one();
    // 10 batches through a queue of 1: the ticker waits for room instead of dropping.
    wait_for(|| e.item_count() == 50).await;
}

#[tokio::test]
async fn flush_at_shutdown_exports_what_was_buffered() {
    let t = Telemetry::new();
    let e = RecordingExporter::default();
    let r = runner("e", &e, settings(100, 2), &t);
    let (stage, _) = buffer_stage(&t);
    let p = pipeline(vec![stage], vec![r.clone()]);
    let mut workers = JoinSet::new();
    r.spawn_workers(&mut workers);
    for _ in 0..7 {
        p.consume(fixtures::encoded_batch(Signal::Traces, 3))
            .await
            .unwrap();
    }
    p.flush(&tokio_util::sync::CancellationToken::new()).await;
    r.close();
    while workers.join_next().await.is_some() {}
    assert_eq!(e.item_count(), 21);
}

// --- graph validation through Service::build -------------------------------------------------

struct NullProcessorFactory;
impl ProcessorFactory for NullProcessorFactory {
    fn info(&self) -> FactoryInfo {
        test_info("nothing", &[], &[Signal::Traces])
    }
    fn create(
        &self,
        _: &CreateContext,
        _: &Value,
    ) -> Result<Box<dyn Processor>, ferrotel_config::ConfigErrors> {
        Ok(Box::new(Buffer(Default::default())))
    }
}

struct RecordingFactory;
impl ExporterFactory for RecordingFactory {
    fn info(&self) -> FactoryInfo {
        test_info("recording", &["rec"], &Signal::ALL)
    }
    fn create(
        &self,
        _: &CreateContext,
        _: &Value,
    ) -> Result<ExporterParts, ferrotel_config::ConfigErrors> {
        Ok(ExporterParts {
            exporter: Arc::new(RecordingExporter::default()),
            settings: ExporterSettings::default(),
        })
    }
}

#[test]
fn build_reports_unknown_types_and_unsupported_signals_together() {
    let yaml = "receivers: {nope: {}}\nprocessors: {nothing: {}}\nexporters: {rec: {}, mystery/x: {}}\nconnectors: {forward: {}}\nservice:\n  pipelines:\n    logs: {receivers: [nope], processors: [nothing], exporters: [rec]}\n";
    let doc = document(yaml);
    let reg = Registry::default()
        .with_processor(NullProcessorFactory)
        .with_exporter(RecordingFactory);
    let err = Service::build(&doc, &reg)
        .err()
        .expect("invalid graph")
        .to_string();
    for needle in [
        "receivers.nope: unknown type \"nope\"",
        "exporters.mystery/x: unknown type \"mystery\"",
        "connectors.forward: connector type \"forward\" is not supported",
        "service.pipelines.logs: processor \"nothing\" does not support logs",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    }
}

// --- auth.authenticator references ------------------------------------------------------------

/// `srvauth` is a server authenticator; `plain` authenticates nothing.
struct AuthExt(bool);
struct AllowAll;
#[async_trait::async_trait]
impl ferrotel_core::ServerAuthenticator for AllowAll {
    async fn authenticate(
        &self,
        _: &http::HeaderMap,
    ) -> Result<Vec<(String, String)>, ferrotel_core::AuthError> {
        Ok(vec![])
    }
}
#[async_trait::async_trait]
impl ferrotel_core::Extension for AuthExt {
    async fn start(
        &mut self,
        _: ferrotel_core::ExtensionContext,
    ) -> Result<(), ferrotel_core::StartError> {
        Ok(())
    }
    async fn shutdown(&mut self) {}
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn server_authenticator(&self) -> Option<Arc<dyn ferrotel_core::ServerAuthenticator>> {
        self.0
            .then(|| Arc::new(AllowAll) as Arc<dyn ferrotel_core::ServerAuthenticator>)
    }
}
struct AuthExtFactory(&'static str, bool);
impl ferrotel_core::ExtensionFactory for AuthExtFactory {
    fn info(&self) -> FactoryInfo {
        test_info(self.0, &[], &[])
    }
    fn create(
        &self,
        _: &CreateContext,
        _: &Value,
    ) -> Result<Box<dyn ferrotel_core::Extension>, ferrotel_config::ConfigErrors> {
        Ok(Box::new(AuthExt(self.1)))
    }
}

#[test]
fn build_checks_every_authenticator_reference_with_its_path() {
    let yaml = "
extensions: {srvauth: {}, plain: {}, srvauth/unlisted: {}}
receivers:
  stub: {protocols: {grpc: {auth: {authenticator: plain}}, http: {auth: {authenticator: srvauth}}}}
  stub/2: {auth: {authenticator: srvauth/unlisted}}
  stub/unused: {auth: {authenticator: nosuch}}
exporters: {rec: {auth: {authenticator: srvauth}}}
service:
  extensions: [srvauth, plain]
  pipelines:
    traces: {receivers: [stub, stub/2], exporters: [rec]}
";
    let doc = document(yaml);
    let reg = Registry::default()
        .with_receiver(StubReceiverFactory)
        .with_exporter(RecordingFactory)
        .with_extension(AuthExtFactory("srvauth", true))
        .with_extension(AuthExtFactory("plain", false));
    let err = Service::build(&doc, &reg).err().expect("invalid refs");
    let paths: Vec<&str> = err.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "receivers.stub.protocols.grpc.auth.authenticator",
            "receivers.stub/2.auth.authenticator",
            "exporters.rec.auth.authenticator",
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("\"plain\": extension is not a server authenticator"),
        "{text}"
    );
    assert!(
        text.contains("\"srvauth/unlisted\": no such extension"),
        "{text}"
    );
    assert!(
        text.contains("\"srvauth\": extension is not a client authenticator"),
        "{text}"
    );
}
