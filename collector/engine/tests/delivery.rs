//! Delivery tokens through the exporter runner: with the in-memory queue a token is released
//! only when the export finished, with a persistent queue as soon as the data is on disk.

#![allow(clippy::unwrap_used)]

use ferrotel_config::{GoDuration, QueueConfig, RetryConfig};
use ferrotel_core::{
    Batch, ComponentId, Delivery, DeliveryListener, ExportError, Exporter, ExporterSettings,
    QueueStore, Signal, Telemetry,
};
use ferrotel_engine::exporter_runner::{ExporterRunner, Overflow};
use ferrotel_extensions::file_storage::FileQueue;
use ferrotel_testkit::fixtures;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// An exporter whose exports finish only when the test adds permits.
struct Gated(Arc<Semaphore>);

#[async_trait::async_trait]
impl Exporter for Gated {
    async fn export(&self, _batch: Batch) -> Result<(), ExportError> {
        self.0.acquire().await.unwrap().forget();
        Ok(())
    }
}

#[derive(Default)]
struct Heard(Mutex<Vec<u64>>);

impl DeliveryListener for Heard {
    fn delivered(&self, id: u64) {
        self.0.lock().unwrap().push(id);
    }
}

impl Heard {
    fn ids(&self) -> Vec<u64> {
        self.0.lock().unwrap().clone()
    }
}

fn settings(storage: Option<&str>) -> ExporterSettings {
    ExporterSettings {
        timeout: GoDuration::from_secs(0),
        retry: RetryConfig::default(),
        queue: QueueConfig {
            queue_size: 10,
            num_consumers: 1,
            storage: storage.map(Into::into),
            ..Default::default()
        },
    }
}

async fn eventually(f: impl Fn() -> bool) {
    for _ in 0..250 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached");
}

fn batch(heard: &Arc<Heard>, id: u64) -> Batch {
    fixtures::encoded_batch(Signal::Logs, 3).with_delivery(Delivery::new(heard.clone(), id))
}

#[tokio::test]
async fn in_memory_queue_releases_after_the_export_finished() {
    let gate = Arc::new(Semaphore::new(0));
    let t = Telemetry::new();
    let r = ExporterRunner::new(
        ComponentId::new("otlp"),
        Signal::Logs,
        Arc::new(Gated(gate.clone())),
        settings(None),
        &t,
    );
    let mut tasks = JoinSet::new();
    r.spawn_workers(&mut tasks);
    let heard = Arc::new(Heard::default());
    r.enqueue(batch(&heard, 1), Overflow::Wait).await.unwrap();
    r.enqueue(batch(&heard, 2), Overflow::Wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        heard.ids().is_empty(),
        "queued and exporting: not delivered"
    );
    gate.add_permits(1);
    eventually(|| heard.ids() == [1]).await;
    gate.add_permits(1);
    eventually(|| heard.ids() == [1, 2]).await;
}

#[tokio::test]
async fn persistent_queue_releases_once_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let t = Telemetry::new();
    let r = ExporterRunner::new(
        ComponentId::new("otlp"),
        Signal::Logs,
        Arc::new(Gated(gate.clone())),
        settings(Some("file_storage")),
        &t,
    );
    let store: Arc<dyn QueueStore> = Arc::new(FileQueue::open(tmp.path(), false).unwrap());
    r.attach_store(store, &t).await.unwrap();
    let mut tasks = JoinSet::new();
    r.spawn_workers(&mut tasks);
    let heard = Arc::new(Heard::default());
    r.enqueue(batch(&heard, 7), Overflow::Wait).await.unwrap();
    eventually(|| heard.ids() == [7]).await;
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "still on disk"
    );
    gate.add_permits(1);
}
