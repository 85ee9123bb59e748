//! Engine behaviour through `Service::build` and `start`, with test components: a stub receiver
//! whose consumers the test calls as a client would, and recording exporters that can fail or
//! block on demand. Fan-out without copies and with partial delivery, queue-full refusals,
//! retries, permanent failures, buffering processors (woken, flushed at shutdown), connectors
//! between pipelines, registration clashes and graph validation.

#![allow(clippy::unwrap_used)]

mod common;

use common::{document, wait_for, EmptyConfig, RecordingFactory, StubReceiverFactory};
use ferrotel_config::ConfigErrors;
use ferrotel_core::{
    Batch, Connector, CreateContext, ExportError, Extension, ExtensionContext, Factory,
    FactoryInfo, Form, PipelineError, Processor, Registry, Routed, ServerAuthenticator, Signal,
    Stability, StartError,
};
use ferrotel_engine::Service;
use ferrotel_testkit::{fixtures, metrics};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

const DEADLINE: Duration = Duration::from_secs(5);

/// The factories every test registers (type `stub`, type `recording` alias `rec`); clones
/// share the receivers' consumers and the exporters they created.
#[derive(Clone, Default)]
struct Kit {
    stub: StubReceiverFactory,
    rec: RecordingFactory,
}

impl Kit {
    fn registry(&self) -> Registry {
        Registry::default()
            .with(self.stub.clone())
            .with(self.rec.clone())
    }

    /// Builds and starts the service of `yaml` with `registry`.
    async fn start_with(&self, yaml: &str, registry: &Registry) -> Service {
        let mut service =
            Service::build(&document(yaml), registry).unwrap_or_else(|e| panic!("{e}"));
        service.start().await.unwrap();
        service
    }

    async fn start(&self, yaml: &str) -> Service {
        self.start_with(yaml, &self.registry()).await
    }
}

/// The value of `ferrotel_pipeline_partially_delivered_items` for `pipeline`.
fn partially_delivered(service: &Service, pipeline: &str) -> u64 {
    let series = format!("ferrotel_pipeline_partially_delivered_items{{pipeline=\"{pipeline}\"}}");
    metrics::read(service.telemetry(), &series).map_or(0, |v| v as u64)
}

/// The value of `series` (name and labels as rendered) in the service's self-metrics.
fn rendered(service: &Service, series: &str) -> Option<f64> {
    metrics::read(service.telemetry(), series)
}

#[tokio::test]
async fn fan_out_shares_the_payload() {
    let kit = Kit::default();
    let service = kit
        .start(
            "receivers: {stub: {}}
exporters:
  recording/a: {sending_queue: {queue_size: 10, num_consumers: 1}}
  recording/b: {sending_queue: {queue_size: 10, num_consumers: 1}}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [recording/a, recording/b]}
",
        )
        .await;
    let (a, b) = (
        kit.rec.exporter("recording/a"),
        kit.rec.exporter("recording/b"),
    );
    kit.stub
        .traces()
        .consume(fixtures::encoded_batch(Signal::Traces, 30))
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
    wait_for(|| {
        rendered(
            &service,
            "otelcol_exporter_sent_spans{exporter=\"recording/a\"}",
        ) == Some(30.0)
    })
    .await;
    assert_eq!(partially_delivered(&service, "traces"), 0);
    service.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn full_queue_refuses_with_a_retryable_error() {
    let kit = Kit::default();
    let service = kit
        .start(
            "receivers: {stub: {}}
exporters:
  recording/slow: {sending_queue: {queue_size: 1, num_consumers: 1}}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [recording/slow]}
",
        )
        .await;
    let slow = kit.rec.exporter("recording/slow");
    slow.close_gate();
    let client = kit.stub.traces();
    // One in the worker, one in the queue, the third is refused.
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap();
    wait_for(|| slow.entered() == 1).await;
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap();
    let err = client
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "sending queue is full");
    assert_eq!(err.grpc_code(), 14);
    assert_eq!(err.http_status(), 503);
    assert_eq!(
        rendered(
            &service,
            "otelcol_exporter_enqueue_failed_spans{exporter=\"recording/slow\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        partially_delivered(&service, "traces"),
        0,
        "refused by the only output: nothing was delivered"
    );
    slow.open_gate();
    wait_for(|| slow.item_count() == 6).await;
    service.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn retryable_failures_are_retried_and_permanent_ones_dropped() {
    let kit = Kit::default();
    let service = kit
        .start(
            "receivers: {stub: {}}
exporters:
  recording/e:
    sending_queue: {queue_size: 10, num_consumers: 1}
    retry_on_failure: {initial_interval: 10ms, max_interval: 40ms}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [recording/e]}
",
        )
        .await;
    let e = kit.rec.exporter("recording/e");
    e.fail_next(ExportError::retryable("backend unavailable"));
    e.fail_next(ExportError::Retryable {
        message: "slow down".into(),
        throttle: Some(Duration::from_millis(50)),
    });
    let client = kit.stub.traces();
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 9))
        .await
        .unwrap();
    wait_for(|| e.item_count() == 9).await;
    assert_eq!(e.attempts.load(Ordering::SeqCst), 3);

    e.fail_next(ExportError::permanent("bad data"));
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 4))
        .await
        .unwrap();
    wait_for(|| {
        rendered(
            &service,
            "otelcol_exporter_send_failed_spans{exporter=\"recording/e\"}",
        ) == Some(4.0)
    })
    .await;
    assert_eq!(
        e.item_count(),
        9,
        "the permanently failed batch is not delivered"
    );
    service.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn without_queue_the_export_result_reaches_the_caller() {
    let kit = Kit::default();
    let service = kit
        .start(
            "receivers: {stub: {}}
exporters:
  recording/e: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [recording/e]}
",
        )
        .await;
    let e = kit.rec.exporter("recording/e");
    let client = kit.stub.traces();
    e.fail_next(ExportError::permanent("rejected"));
    let err = client
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap_err();
    assert_eq!(err.grpc_code(), 13);
    e.fail_next(ExportError::retryable("down"));
    let err = client
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap_err();
    assert_eq!(err.grpc_code(), 14);
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap();
    assert_eq!(e.item_count(), 3);
    service.shutdown(DEADLINE).await;
}

// --- fan-out to several outputs ----------------------------------------------------------------

#[tokio::test]
async fn fan_out_tries_every_output_and_counts_partial_deliveries() {
    let kit = Kit::default();
    let service = kit
        .start(
            "receivers: {stub: {}}
exporters:
  recording/refuses: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
  recording/accepts: {sending_queue: {queue_size: 10, num_consumers: 1}}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [recording/refuses, recording/accepts]}
",
        )
        .await;
    let (refuses, accepts) = (
        kit.rec.exporter("recording/refuses"),
        kit.rec.exporter("recording/accepts"),
    );
    let client = kit.stub.traces();
    refuses.fail_next(ExportError::permanent("rejected"));
    let err = client
        .consume(fixtures::encoded_batch(Signal::Traces, 5))
        .await
        .unwrap_err();
    assert_eq!(err.grpc_code(), 13, "{err}");
    assert!(err.to_string().contains("rejected"), "{err}");
    // The output after the refusing one still got its copy.
    wait_for(|| accepts.item_count() == 5).await;
    assert_eq!(refuses.item_count(), 0);
    assert_eq!(partially_delivered(&service, "traces"), 5);
    assert!(
        rendered(
            &service,
            "ferrotel_pipeline_partially_delivered_items{pipeline=\"traces\"}"
        ) == Some(5.0),
        "{}",
        service.telemetry().render()
    );

    // Delivered everywhere: nothing more is counted.
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 2))
        .await
        .unwrap();
    wait_for(|| accepts.item_count() == 7).await;
    assert_eq!(refuses.item_count(), 2);
    assert_eq!(partially_delivered(&service, "traces"), 5);
    service.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn a_full_queue_refuses_the_client_while_the_other_exporter_keeps_its_copy() {
    let kit = Kit::default();
    let service = kit
        .start(
            "receivers: {stub: {}}
exporters:
  recording/full: {sending_queue: {queue_size: 1, num_consumers: 1}}
  recording/free: {sending_queue: {queue_size: 10, num_consumers: 1}}
service:
  pipelines:
    traces/fan: {receivers: [stub], exporters: [recording/full, recording/free]}
",
        )
        .await;
    let (full, free) = (
        kit.rec.exporter("recording/full"),
        kit.rec.exporter("recording/free"),
    );
    full.close_gate();
    let client = kit.stub.traces();
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 1))
        .await
        .unwrap();
    wait_for(|| full.entered() == 1).await; // in the blocked worker
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 2))
        .await
        .unwrap(); // in the queue
    let err = client
        .consume(fixtures::encoded_batch(Signal::Traces, 4))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "sending queue is full");
    assert!(err.is_retryable());
    wait_for(|| free.item_count() == 7).await;
    assert_eq!(partially_delivered(&service, "traces/fan"), 4);
    full.open_gate();
    wait_for(|| full.item_count() == 3).await;
    service.shutdown(DEADLINE).await;
    assert_eq!(full.item_count(), 3, "the refused batch is the client's");
}

// --- buffering processors ----------------------------------------------------------------------

/// Buffers everything and emits on tick or flush, like the batch processor.
struct Buffer(Mutex<Vec<Batch>>);

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

/// The factory of [`Buffer`], type `buffer`; keeps the wake handle of each instance.
#[derive(Clone, Default)]
struct BufferFactory {
    wakes: Arc<Mutex<Vec<Arc<Notify>>>>,
}

impl BufferFactory {
    /// The wake handle of the only instance.
    fn wake(&self) -> Arc<Notify> {
        let wakes = self.wakes.lock().unwrap();
        assert_eq!(wakes.len(), 1, "one buffer instance");
        wakes[0].clone()
    }
}

impl Factory for BufferFactory {
    type Config = EmptyConfig;
    type Component = Box<dyn Processor>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("buffer", "test").all_signals(Stability::Alpha)
    }
    fn create(
        &self,
        ctx: &CreateContext,
        _: EmptyConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        self.wakes.lock().unwrap().push(ctx.wake.clone());
        Ok(Box::new(Buffer(Default::default())))
    }
}

#[tokio::test]
async fn wake_emits_and_accepted_data_waits_for_queue_room() {
    let kit = Kit::default();
    let buffer = BufferFactory::default();
    let registry = kit.registry().with(buffer.clone());
    let service = kit
        .start_with(
            "receivers: {stub: {}}
processors: {buffer: {}}
exporters:
  recording/e: {sending_queue: {queue_size: 1, num_consumers: 1}}
service:
  pipelines:
    traces: {receivers: [stub], processors: [buffer], exporters: [recording/e]}
",
            &registry,
        )
        .await;
    let e = kit.rec.exporter("recording/e");
    let client = kit.stub.traces();
    for _ in 0..10 {
        client
            .consume(fixtures::encoded_batch(Signal::Traces, 5))
            .await
            .unwrap();
    }
    assert_eq!(e.entered(), 0, "buffered until woken");
    e.close_gate();
    buffer.wake().notify_one();
    // 10 batches through a queue of 1 with a blocked worker: the ticker waits for room
    // instead of dropping or refusing.
    wait_for(|| e.entered() == 1).await;
    e.open_gate();
    wait_for(|| e.item_count() == 50).await;
    assert_eq!(
        rendered(
            &service,
            "otelcol_exporter_enqueue_failed_spans{exporter=\"recording/e\"}"
        ),
        Some(0.0)
    );
    service.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn flush_at_shutdown_exports_what_was_buffered() {
    let kit = Kit::default();
    let registry = kit.registry().with(BufferFactory::default());
    let service = kit
        .start_with(
            "receivers: {stub: {}}
processors: {buffer: {}}
exporters:
  recording/e: {sending_queue: {queue_size: 100, num_consumers: 2}}
service:
  pipelines:
    traces: {receivers: [stub], processors: [buffer], exporters: [recording/e]}
",
            &registry,
        )
        .await;
    let e = kit.rec.exporter("recording/e");
    let client = kit.stub.traces();
    for _ in 0..7 {
        client
            .consume(fixtures::encoded_batch(Signal::Traces, 3))
            .await
            .unwrap();
    }
    assert_eq!(e.entered(), 0, "buffered");
    service.shutdown(DEADLINE).await;
    assert_eq!(e.item_count(), 21);
}

// --- connectors --------------------------------------------------------------------------------

/// A traces-to-traces connector that passes everything on and counts the items it saw.
struct PassThrough(Arc<AtomicUsize>);

impl Connector for PassThrough {
    fn consume(&self, batch: Batch, out: &mut Vec<Routed>) -> Result<(), PipelineError> {
        self.0.fetch_add(batch.item_count(), Ordering::SeqCst);
        out.push(batch.into());
        Ok(())
    }
}

/// The factory of [`PassThrough`], type `passthrough`; its instances share one count.
#[derive(Clone, Default)]
struct PassThroughFactory {
    items: Arc<AtomicUsize>,
}

impl PassThroughFactory {
    fn items(&self) -> usize {
        self.items.load(Ordering::SeqCst)
    }
}

impl Factory for PassThroughFactory {
    type Config = EmptyConfig;
    type Component = Box<dyn Connector>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("passthrough", "test").connects(
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
        Ok(Box::new(PassThrough(self.items.clone())))
    }
}

/// The errors of building `yaml` with the stub receiver, the recording exporter and the
/// pass-through connector.
fn connector_build_errors(yaml: &str) -> String {
    let kit = Kit::default();
    let registry = kit.registry().with(PassThroughFactory::default());
    Service::build(&document(yaml), &registry)
        .err()
        .expect("an invalid graph")
        .to_string()
}

#[tokio::test]
async fn a_connector_feeds_its_downstream_pipeline_and_passes_refusals_back() {
    let kit = Kit::default();
    let connector = PassThroughFactory::default();
    let registry = kit.registry().with(connector.clone());
    let service = kit
        .start_with(
            "receivers: {stub: {}}
exporters:
  recording: {sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
connectors: {passthrough: {}}
service:
  pipelines:
    traces/in: {receivers: [stub], exporters: [passthrough]}
    traces/out: {receivers: [passthrough], exporters: [recording]}
",
            &registry,
        )
        .await;
    let e = kit.rec.exporter("recording");
    let client = kit.stub.traces();
    client
        .consume(fixtures::encoded_batch(Signal::Traces, 5))
        .await
        .unwrap();
    assert_eq!(connector.items(), 5);
    assert_eq!(
        e.item_count(),
        5,
        "exported (without a queue) before the client got its answer"
    );

    e.fail_next(ExportError::retryable("backend down"));
    let err = client
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap_err();
    assert_eq!(err.grpc_code(), 14, "{err}");
    assert!(err.to_string().contains("backend down"), "{err}");
    assert_eq!(connector.items(), 8);
    assert_eq!(e.item_count(), 5);
    service.shutdown(DEADLINE).await;
}

#[test]
fn a_connector_must_join_an_exporter_pipeline_to_a_receiver_pipeline() {
    let err = connector_build_errors(
        "receivers: {stub: {}}
exporters: {recording: {}}
connectors: {passthrough: {}}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [passthrough]}
",
    );
    assert!(
        err.contains("service.pipelines.traces: connector \"passthrough\" used as exporter in traces pipeline but not used in any supported receiver pipeline"),
        "{err}"
    );

    let err = connector_build_errors(
        "receivers: {stub: {}}
exporters: {recording: {}}
connectors: {passthrough: {}}
service:
  pipelines:
    traces: {receivers: [passthrough], exporters: [recording]}
",
    );
    assert!(
        err.contains("service.pipelines.traces: connector \"passthrough\" used as receiver in traces pipeline but not used in any supported exporter pipeline"),
        "{err}"
    );
}

#[test]
fn a_cycle_through_connectors_is_refused() {
    let err = connector_build_errors(
        "receivers: {stub: {}}
exporters: {recording: {}}
connectors: {passthrough/c1: {}, passthrough/c2: {}}
service:
  pipelines:
    traces/a: {receivers: [stub, passthrough/c2], exporters: [passthrough/c1]}
    traces/b: {receivers: [passthrough/c1], exporters: [passthrough/c2]}
",
    );
    assert!(err.contains("service.pipelines: cycle detected"), "{err}");
}

#[tokio::test]
async fn shutdown_flushes_a_buffering_pipeline_through_its_connector() {
    let kit = Kit::default();
    let connector = PassThroughFactory::default();
    let registry = kit
        .registry()
        .with(connector.clone())
        .with(BufferFactory::default());
    let service = kit
        .start_with(
            "receivers: {stub: {}}
processors: {buffer: {}}
exporters:
  recording: {sending_queue: {queue_size: 100, num_consumers: 2}}
connectors: {passthrough: {}}
service:
  pipelines:
    traces/in: {receivers: [stub], processors: [buffer], exporters: [passthrough]}
    traces/out: {receivers: [passthrough], exporters: [recording]}
",
            &registry,
        )
        .await;
    let e = kit.rec.exporter("recording");
    let client = kit.stub.traces();
    for _ in 0..4 {
        client
            .consume(fixtures::encoded_batch(Signal::Traces, 3))
            .await
            .unwrap();
    }
    assert_eq!(connector.items(), 0, "buffered upstream of the connector");
    service.shutdown(DEADLINE).await;
    assert_eq!(connector.items(), 12);
    assert_eq!(e.item_count(), 12, "nothing lost");
}

/// zpages shows the running service: its pipelines (connectors among their receivers and
/// exporters) and its extensions, as the configuration names them.
#[tokio::test]
async fn zpages_shows_the_running_pipelines_and_extensions() {
    let kit = Kit::default();
    let registry = kit
        .registry()
        .with(PassThroughFactory::default())
        .with(BufferFactory::default())
        .with(ferrotel_extensions::zpages::ZPagesFactory);
    let listeners = ferrotel_core::Listeners::default();
    let yaml = "receivers: {stub/front: {}}
processors: {buffer/b1: {}}
exporters: {recording/sink: {}}
connectors: {passthrough/bridge: {}}
extensions: {zpages: {endpoint: '127.0.0.1:0'}, zpages/two: {endpoint: '127.0.0.1:0'}}
service:
  extensions: [zpages/two, zpages]
  pipelines:
    traces/in: {receivers: [stub/front], processors: [buffer/b1], exporters: [passthrough/bridge]}
    traces/out: {receivers: [passthrough/bridge], exporters: [recording/sink]}
";
    let mut service = Service::build(&document(yaml), &registry)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_listeners(listeners.clone());
    service.start().await.unwrap();
    let held = listeners.held();
    assert_eq!(held.len(), 2, "{held:?}");
    let page = |p: &str| format!("http://{}/debug/{p}", held[0]);
    let body = reqwest::get(page("pipelinez")).await.unwrap();
    assert_eq!(body.status(), 200);
    let body = body.text().await.unwrap();
    for row in [
        "<tr><td>traces/in</td><td>traces</td><td>stub/front</td><td>buffer/b1</td><td>passthrough/bridge</td></tr>",
        "<tr><td>traces/out</td><td>traces</td><td>passthrough/bridge</td><td></td><td>recording/sink</td></tr>",
    ] {
        assert!(body.contains(row), "{row} missing:\n{body}");
    }
    let body = reqwest::get(page("extensionz")).await.unwrap();
    let body = body.text().await.unwrap();
    let (two, one) = (
        body.find("<td>zpages/two</td>"),
        body.find("<td>zpages</td>"),
    );
    assert!(
        two.is_some() && one.is_some() && two < one,
        "start order:\n{body}"
    );
    service.shutdown(DEADLINE).await;
}

// --- registration ------------------------------------------------------------------------------

const ONE_PIPELINE: &str = "receivers: {stub: {}}
exporters: {recording: {}}
service:
  pipelines:
    traces: {receivers: [stub], exporters: [recording]}
";

#[test]
fn a_type_registered_twice_is_refused() {
    let kit = Kit::default();
    let twice = kit.registry().with(StubReceiverFactory::default());
    let err = Service::build(&document(ONE_PIPELINE), &twice)
        .err()
        .expect("a type registered twice")
        .to_string();
    assert!(err.contains("registered twice"), "{err}");
    assert!(err.contains("receiver type \"stub\""), "{err}");

    // An alias counts as a name.
    let alias = kit
        .registry()
        .with(RecordingFactory::named("other", &["rec"]));
    let err = Service::build(&document(ONE_PIPELINE), &alias)
        .err()
        .expect("an alias registered twice")
        .to_string();
    assert!(err.contains("registered twice"), "{err}");
    assert!(err.contains("\"rec\" is already taken"), "{err}");
}

#[tokio::test]
async fn replacing_a_type_uses_the_replacement() {
    let kit = Kit::default();
    let replacement = RecordingFactory::default();
    let registry = kit.registry().replacing(replacement.clone());
    assert!(registry.problems().is_empty(), "{:?}", registry.problems());
    assert_eq!(registry.exporters.iter().count(), 1);
    let service = kit.start_with(ONE_PIPELINE, &registry).await;
    kit.stub
        .traces()
        .consume(fixtures::encoded_batch(Signal::Traces, 4))
        .await
        .unwrap();
    let used = replacement.exporter("recording");
    wait_for(|| used.item_count() == 4).await;
    assert!(
        kit.rec.created().is_empty(),
        "the replaced factory created nothing"
    );
    service.shutdown(DEADLINE).await;
}

// --- graph validation through Service::build ---------------------------------------------------

/// A traces-only processor, type `nothing`.
struct NullProcessorFactory;

impl Factory for NullProcessorFactory {
    type Config = EmptyConfig;
    type Component = Box<dyn Processor>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("nothing", "test").signal(Signal::Traces, Stability::Alpha)
    }
    fn create(
        &self,
        _: &CreateContext,
        _: EmptyConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        Ok(Box::new(Buffer(Default::default())))
    }
}

#[test]
fn build_reports_unknown_types_and_unsupported_signals_together() {
    let yaml = "receivers: {nope: {}}\nprocessors: {nothing: {}}\nexporters: {rec: {}, mystery/x: {}}\nconnectors: {forward: {}}\nservice:\n  pipelines:\n    logs: {receivers: [nope], processors: [nothing], exporters: [rec]}\n";
    let doc = document(yaml);
    let reg = Registry::default()
        .with(NullProcessorFactory)
        .with(RecordingFactory::default());
    let err = Service::build(&doc, &reg)
        .err()
        .expect("invalid graph")
        .to_string();
    for needle in [
        "receivers.nope: unknown type \"nope\"",
        "exporters.mystery/x: unknown type \"mystery\"",
        "connectors.forward: unknown type \"forward\"",
        "service.pipelines.logs: processor \"nothing\" does not support logs",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    }
}

// --- decoding up front ---------------------------------------------------------------------------

/// A pass-through processor of type `form` whose name is the form it reports for traces
/// (`form/untouched`, `form/decoded`, `form/encoded`).
struct FormProcessor(Form);

impl Processor for FormProcessor {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        out.push(batch);
        Ok(())
    }
    fn form(&self, signal: Signal) -> Form {
        match signal {
            Signal::Traces => self.0,
            _ => Form::Encoded,
        }
    }
}

struct FormFactory;

impl Factory for FormFactory {
    type Config = EmptyConfig;
    type Component = Box<dyn Processor>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("form", "test")
            .signal(Signal::Traces, Stability::Alpha)
            .signal(Signal::Logs, Stability::Alpha)
    }
    fn create(
        &self,
        ctx: &CreateContext,
        _: EmptyConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        let form = match ctx.id.name.as_deref() {
            Some("untouched") => Form::Untouched,
            Some("decoded") => Form::Decoded,
            _ => Form::Encoded,
        };
        Ok(Box::new(FormProcessor(form)))
    }
}

/// What the receiver of `pipelines` is told about decoding traces and logs up front.
async fn decodes_first(pipelines: &str) -> (bool, bool) {
    let kit = Kit::default();
    let registry = kit.registry().with(FormFactory);
    let yaml = format!(
        "receivers: {{stub: {{}}}}
processors: {{form/untouched: {{}}, form/decoded: {{}}, form/encoded: {{}}}}
exporters: {{rec: {{}}}}
service:
  pipelines:
{pipelines}"
    );
    let service = kit.start_with(&yaml, &registry).await;
    let answer = (
        kit.stub.traces().decodes_first(Signal::Traces),
        (kit.stub.consumers("stub").logs)
            .expect("a logs pipeline")
            .decodes_first(Signal::Logs),
    );
    service.shutdown(DEADLINE).await;
    answer
}

#[tokio::test]
async fn the_first_stage_that_reads_the_data_decides_whether_the_receiver_decodes() {
    let cases = [
        ("[form/untouched, form/decoded]", true),
        ("[form/decoded, form/encoded]", true),
        ("[form/untouched, form/encoded, form/decoded]", false),
        ("[form/untouched]", false),
        ("[]", false),
    ];
    for (processors, traces) in cases {
        let pipelines = format!(
            "    traces: {{receivers: [stub], processors: {processors}, exporters: [rec]}}
    logs: {{receivers: [stub], processors: {processors}, exporters: [rec]}}\n"
        );
        let answer = decodes_first(&pipelines).await;
        assert_eq!(answer, (traces, false), "{processors}");
    }
    // A receiver feeding two pipelines decodes only when both decode first.
    let two = |second: &str| {
        format!(
            "    traces/1: {{receivers: [stub], processors: [form/decoded], exporters: [rec]}}
    traces/2: {{receivers: [stub], processors: [{second}], exporters: [rec]}}
    logs: {{receivers: [stub], exporters: [rec]}}\n"
        )
    };
    assert_eq!(decodes_first(&two("form/decoded")).await, (true, false));
    assert_eq!(decodes_first(&two("form/encoded")).await, (false, false));
}

// --- auth.authenticator references ------------------------------------------------------------

/// `srvauth` is a server authenticator; `plain` authenticates nothing.
struct AuthExt(bool);
struct AllowAll;

#[async_trait::async_trait]
impl ServerAuthenticator for AllowAll {
    async fn authenticate(
        &self,
        _: &http::HeaderMap,
    ) -> Result<Vec<(String, String)>, ferrotel_core::AuthError> {
        Ok(vec![])
    }
}

#[async_trait::async_trait]
impl Extension for AuthExt {
    async fn start(&mut self, _: ExtensionContext) -> Result<(), StartError> {
        Ok(())
    }
    async fn shutdown(&mut self) {}
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn server_authenticator(&self) -> Option<Arc<dyn ServerAuthenticator>> {
        self.0
            .then(|| Arc::new(AllowAll) as Arc<dyn ServerAuthenticator>)
    }
}

struct AuthExtFactory(&'static str, bool);

impl Factory for AuthExtFactory {
    type Config = EmptyConfig;
    type Component = Box<dyn Extension>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(self.0, "test")
    }
    fn create(
        &self,
        _: &CreateContext,
        _: EmptyConfig,
    ) -> Result<Box<dyn Extension>, ConfigErrors> {
        Ok(Box::new(AuthExt(self.1)))
    }
}

/// As otelcol, `validate` (the build) does not resolve `auth.authenticator`: start does, and
/// names every bad reference with its path; components no pipeline uses are not checked.
#[tokio::test]
async fn start_checks_every_authenticator_reference_with_its_path() {
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
    let reg = Kit::default()
        .registry()
        .with(AuthExtFactory("srvauth", true))
        .with(AuthExtFactory("plain", false));
    let mut service = Service::build(&doc, &reg).expect("validate does not resolve references");
    let err = service.start().await.expect_err("invalid refs");
    service.shutdown(Duration::from_secs(1)).await;
    let text = err.to_string();
    for expected in [
        "receivers.stub.protocols.grpc.auth.authenticator: failed to resolve authenticator \"plain\": extension is not a server authenticator",
        "receivers.stub/2.auth.authenticator: failed to resolve authenticator \"srvauth/unlisted\": no such extension",
        "exporters.rec.auth.authenticator: failed to resolve authenticator \"srvauth\": extension is not a client authenticator",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    assert!(!text.contains("nosuch"), "{text}");
}

/// Counts its `start` calls (each blocking a little) and refuses data before it started.
struct Starting(Arc<AtomicUsize>, std::sync::atomic::AtomicBool);

impl Processor for Starting {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        assert!(self.1.load(Ordering::SeqCst), "data before start");
        out.push(batch);
        Ok(())
    }
    fn start(&self) {
        std::thread::sleep(Duration::from_millis(100));
        self.1.store(true, Ordering::SeqCst);
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct StartingFactory(Arc<AtomicUsize>);

impl Factory for StartingFactory {
    type Config = EmptyConfig;
    type Component = Box<dyn Processor>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("starting", "test").all_signals(Stability::Alpha)
    }
    fn create(
        &self,
        _: &CreateContext,
        _: EmptyConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        Ok(Box::new(Starting(self.0.clone(), Default::default())))
    }
}

/// Every pipeline's processors have started (blocking work done) when the service's start
/// returns, before the receivers accept data.
#[tokio::test]
async fn processors_start_before_receivers() {
    let kit = Kit::default();
    let starting = StartingFactory::default();
    let registry = kit.registry().with(starting.clone());
    let service = kit
        .start_with(
            "receivers: {stub: {}}
processors: {starting: {}}
exporters: {recording/e: {}}
service:
  pipelines:
    traces: {receivers: [stub], processors: [starting], exporters: [recording/e]}
    logs: {receivers: [stub], processors: [starting], exporters: [recording/e]}
",
            &registry,
        )
        .await;
    assert_eq!(
        starting.0.load(Ordering::SeqCst),
        2,
        "one start per pipeline instance"
    );
    kit.stub
        .traces()
        .consume(fixtures::encoded_batch(Signal::Traces, 3))
        .await
        .unwrap();
    wait_for(|| kit.rec.exporter("recording/e").item_count() == 3).await;
    service.shutdown(DEADLINE).await;
}
