//! Requests per second through an exporter's sending queue (100-span requests, 10 workers, an
//! exporter that accepts at once): the in-memory queue, and the persistent queue on a
//! `file_storage` directory with and without `fsync`. Each iteration enqueues a burst of
//! requests and waits until the exporter got all of them, so the persistent numbers include the
//! write before acknowledging, the dispatched mark and the removal after export.
//! Run: `cargo bench -p ferrotel-bench --bench queue`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_config::{QueueConfig, Signal};
use ferrotel_core::{
    Batch, ComponentId, ExportError, Exporter, ExporterSettings, QueueStore, Telemetry,
};
use ferrotel_engine::exporter_runner::{ExporterRunner, Overflow};
use ferrotel_extensions::file_storage::FileQueue;
use ferrotel_testkit::fixtures;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

const SPANS: usize = 100;

/// Accepts everything and counts requests.
#[derive(Default)]
struct Counting(AtomicU64);

#[async_trait::async_trait]
impl Exporter for Counting {
    async fn export(&self, _: Batch) -> Result<(), ExportError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

struct Setup {
    runner: Arc<ExporterRunner>,
    exporter: Arc<Counting>,
    _workers: JoinSet<()>,
    _dir: Option<tempfile::TempDir>,
}

/// A runner with 10 workers; persistent in a temporary directory when `disk` is set.
async fn setup(disk: Option<bool>) -> Setup {
    let t = Telemetry::new();
    let exporter = Arc::new(Counting::default());
    let settings = ExporterSettings {
        queue: QueueConfig {
            queue_size: 10_000,
            storage: disk.map(|_| "file_storage".to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    let runner = ExporterRunner::new(
        ComponentId::new("otlp"),
        Signal::Traces,
        exporter.clone(),
        settings,
        &t,
    );
    let mut dir = None;
    if let Some(fsync) = disk {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn QueueStore> =
            Arc::new(FileQueue::open(tmp.path(), fsync).expect("open queue"));
        runner.attach_store(store, &t).await.expect("attach");
        dir = Some(tmp);
    }
    let mut workers = JoinSet::new();
    runner.spawn_workers(&mut workers);
    Setup {
        runner,
        exporter,
        _workers: workers,
        _dir: dir,
    }
}

/// Enqueues `n` requests from 8 concurrent callers and waits until all were exported.
async fn burst(s: &Setup, batch: &Batch, n: u64) {
    let target = s.exporter.0.load(Ordering::Relaxed) + n;
    let mut callers = JoinSet::new();
    for c in 0..8 {
        let (runner, batch) = (s.runner.clone(), batch.clone());
        callers.spawn(async move {
            for _ in (c..n).step_by(8) {
                let _ = runner.enqueue(batch.clone(), Overflow::Wait).await;
            }
        });
    }
    while callers.join_next().await.is_some() {}
    while s.exporter.0.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

fn queue(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let batch = fixtures::encoded_batch(Signal::Traces, SPANS);
    let mut g = c.benchmark_group("sending_queue_100_span_requests");
    g.sample_size(10);
    for (name, disk, n) in [
        ("memory", None, 1000),
        ("file_storage", Some(false), 1000),
        ("file_storage_fsync", Some(true), 100),
    ] {
        let s = rt.block_on(setup(disk));
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| b.iter(|| rt.block_on(burst(&s, &batch, n))));
    }
    g.finish();
}

criterion_group!(benches, queue);
criterion_main!(benches);
