//! The persistent sending queue (`sending_queue.storage`) with a real `file_storage` queue on
//! disk: requests are on disk before enqueue returns, survive the runner (a crash), are sent
//! again by a new runner and removed once exported; in-flight requests at a crash are counted
//! as possible duplicates; a full queue refuses; shutdown leaves failing requests on disk; and
//! a storage id naming a missing or non-storage extension is a config error with its path.

#![allow(clippy::unwrap_used)]

use ferrotel_config::{GoDuration, QueueConfig, RetryConfig};
use ferrotel_core::{
    ComponentId, ExportError, ExporterSettings, QueueStore, Registry, Signal, Telemetry,
};
mod common;

use common::{document, wait_for, RecordingFactory, StubReceiverFactory};
use ferrotel_engine::exporter_runner::{ExporterRunner, Overflow};
use ferrotel_engine::Service;
use ferrotel_extensions::file_storage::FileQueue;
use ferrotel_testkit::{fixtures, metrics, RecordingExporter};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

fn settings(queue_size: u64) -> ExporterSettings {
    ExporterSettings {
        timeout: GoDuration::from_secs(5),
        retry: RetryConfig {
            initial_interval: GoDuration::from_millis(10),
            max_interval: GoDuration::from_millis(20),
            max_elapsed_time: GoDuration::from_secs(0),
            ..Default::default()
        },
        queue: QueueConfig {
            queue_size,
            num_consumers: 2,
            storage: Some("file_storage".into()),
            ..Default::default()
        },
    }
}

async fn runner(
    exp: &RecordingExporter,
    queue_size: u64,
    dir: &Path,
    t: &Telemetry,
) -> Arc<ExporterRunner> {
    let r = ExporterRunner::new(
        ComponentId::new("otlp"),
        Signal::Traces,
        Arc::new(exp.clone()),
        settings(queue_size),
        t,
    );
    let store: Arc<dyn QueueStore> = Arc::new(FileQueue::open(dir, false).unwrap());
    r.attach_store(store, t).await.unwrap();
    r
}

fn records(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// The value of the series `name` (the tests here have one exporter, so one series a name).
fn series(t: &Telemetry, name: &str) -> Option<f64> {
    let text = t.render();
    metrics::has(&text, name).then(|| metrics::sum(&text, name, &[]))
}

#[tokio::test]
async fn accepted_requests_are_on_disk_and_sent_by_the_next_runner() {
    let tmp = tempfile::tempdir().unwrap();
    let t = Telemetry::new();
    let exp = RecordingExporter::default();
    let first = runner(&exp, 10, tmp.path(), &t).await;
    // No workers: the process "dies" before exporting anything.
    for n in 1..=5 {
        first
            .enqueue(
                fixtures::encoded_batch(Signal::Traces, n),
                Overflow::RefuseWhenFull,
            )
            .await
            .unwrap();
    }
    assert_eq!(records(tmp.path()), 5);
    drop(first);

    let t2 = Telemetry::new();
    let second = runner(&exp, 10, tmp.path(), &t2).await;
    assert!(
        series(&t2, "otelcol_exporter_queue_size") == Some(5.0),
        "{}",
        t2.render()
    );
    let mut tasks = JoinSet::new();
    second.spawn_workers(&mut tasks);
    wait_for(|| exp.item_count() == 15).await;
    wait_for(|| records(tmp.path()) == 0).await;
    assert!(series(&t2, "otelcol_exporter_queue_size") == Some(0.0));
    assert!(series(&t2, "otelcol_exporter_sent_spans") == Some(15.0));
    assert!(
        series(&t2, "ferrotel_exporter_queue_redispatched_spans") == Some(0.0),
        "nothing was in flight"
    );
}

#[tokio::test]
async fn in_flight_requests_at_a_crash_are_sent_again_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let t = Telemetry::new();
    let stalled = RecordingExporter::default();
    *stalled.delay.lock().unwrap() = Duration::from_secs(3600);
    let first = runner(&stalled, 10, tmp.path(), &t).await;
    let mut tasks = JoinSet::new();
    first.spawn_workers(&mut tasks);
    first
        .enqueue(
            fixtures::encoded_batch(Signal::Traces, 3),
            Overflow::RefuseWhenFull,
        )
        .await
        .unwrap();
    wait_for(|| stalled.attempts.load(Ordering::SeqCst) == 1).await;
    tasks.abort_all(); // the crash
    while tasks.join_next().await.is_some() {}
    drop(first);

    let exp = RecordingExporter::default();
    let t2 = Telemetry::new();
    let second = runner(&exp, 10, tmp.path(), &t2).await;
    assert!(series(&t2, "ferrotel_exporter_queue_redispatched_spans") == Some(3.0));
    let mut tasks = JoinSet::new();
    second.spawn_workers(&mut tasks);
    wait_for(|| exp.item_count() == 3).await;
    wait_for(|| records(tmp.path()) == 0).await;
}

#[tokio::test]
async fn a_full_persistent_queue_refuses_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let t = Telemetry::new();
    let exp = RecordingExporter::default();
    let r = runner(&exp, 2, tmp.path(), &t).await;
    for _ in 0..2 {
        r.enqueue(
            fixtures::encoded_batch(Signal::Traces, 4),
            Overflow::RefuseWhenFull,
        )
        .await
        .unwrap();
    }
    let err = r
        .enqueue(
            fixtures::encoded_batch(Signal::Traces, 4),
            Overflow::RefuseWhenFull,
        )
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("sending queue is full"), "{err}");
    assert_eq!(records(tmp.path()), 2, "the refused request is not stored");
    assert!(series(&t, "otelcol_exporter_enqueue_failed_spans") == Some(4.0));
    assert!(series(&t, "otelcol_exporter_queue_capacity") == Some(2.0));
}

#[tokio::test]
async fn shutdown_leaves_failing_requests_on_disk_without_counting_them_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let t = Telemetry::new();
    let exp = RecordingExporter::default();
    for _ in 0..10_000 {
        exp.fail_next(ExportError::retryable("backend down"));
    }
    let r = runner(&exp, 10, tmp.path(), &t).await;
    let mut tasks = JoinSet::new();
    r.spawn_workers(&mut tasks);
    for _ in 0..3 {
        r.enqueue(
            fixtures::encoded_batch(Signal::Traces, 2),
            Overflow::RefuseWhenFull,
        )
        .await
        .unwrap();
    }
    wait_for(|| exp.attempts.load(Ordering::SeqCst) >= 4).await;
    r.close();
    tokio::time::timeout(Duration::from_secs(2), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .expect("workers stop at once");
    assert_eq!(records(tmp.path()), 3);
    assert!(series(&t, "otelcol_exporter_send_failed_spans") == Some(0.0));
}

// --- config validation through Service::build ------------------------------------------------

fn build(yaml: &str) -> Result<Service, String> {
    let doc = document(yaml);
    // `queued` exporters: recording ones, with `sending_queue` and the other exporterhelper
    // settings.
    let reg = Registry::default()
        .with(StubReceiverFactory::default())
        .with(RecordingFactory::named("queued", &[]))
        .with(ferrotel_extensions::file_storage::FileStorageFactory)
        .with(ferrotel_extensions::health_check::HealthCheckFactory);
    Service::build(&doc, &reg).map_err(|e| e.to_string())
}

/// Storage references are resolved at start, as otelcol (`validate` does not).
#[tokio::test]
async fn storage_must_name_a_storage_extension_in_service_extensions() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = format!(
        "extensions:\n  file_storage/unlisted: {{directory: {d}}}\n  file_storage/q: {{directory: {d}}}\n  health_check: {{endpoint: 127.0.0.1:0}}\n\
         receivers: {{stub: {{}}}}\n\
         exporters:\n  queued/a: {{sending_queue: {{storage: file_storage/unlisted}}}}\n  queued/b: {{sending_queue: {{storage: health_check}}}}\n  queued/c: {{sending_queue: {{storage: file_storage/q}}}}\n  queued/d: {{sending_queue: {{storage: nope, enabled: false}}}}\n\
         service:\n  extensions: [file_storage/q, health_check]\n  pipelines:\n    traces: {{receivers: [stub], exporters: [queued/a, queued/b, queued/c, queued/d]}}\n    logs: {{receivers: [stub], exporters: [queued/a]}}\n",
        d = tmp.path().display()
    );
    let mut svc = build(&yaml).expect("validate does not resolve storage references");
    let err = svc
        .start()
        .await
        .expect_err("invalid storage references")
        .to_string();
    svc.shutdown(Duration::from_secs(1)).await;
    for needle in [
        "exporters.queued/a.sending_queue.storage: storage extension \"file_storage/unlisted\" not found",
        "exporters.queued/b.sending_queue.storage: extension \"health_check\" is not a storage extension",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    }
    assert!(!err.contains("queued/c"), "{err}");
    assert!(
        !err.contains("queued/d"),
        "a disabled queue needs no storage: {err}"
    );
    assert_eq!(err.matches("queued/a").count(), 1, "reported once: {err}");
}

#[tokio::test]
async fn a_service_with_a_persistent_queue_starts_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("queue");
    let yaml = format!(
        "extensions:\n  file_storage/q: {{directory: {}, create_directory: true}}\n\
         receivers: {{stub: {{}}}}\n\
         exporters:\n  queued/x: {{sending_queue: {{storage: file_storage/q}}}}\n\
         service:\n  extensions: [file_storage/q]\n  pipelines:\n    traces: {{receivers: [stub], exporters: [queued/x]}}\n",
        dir.display()
    );
    // A record left by an earlier run.
    let qdir = dir.join("exporter_queued_x_traces");
    let old = FileQueue::open(&qdir, false).unwrap();
    old.push(&fixtures::encoded_batch(Signal::Traces, 7).encoded())
        .unwrap();
    drop(old);
    let mut svc = build(&yaml).unwrap();
    svc.start().await.unwrap();
    let t = svc.telemetry().clone();
    wait_for(|| series(&t, "otelcol_exporter_sent_spans") == Some(7.0)).await;
    wait_for(|| records(&qdir) == 0).await;
    svc.shutdown(Duration::from_secs(5)).await;
}
