//! Wraps one exporter for one signal in otelcol's exporterhelper behaviour: a bounded sending
//! queue (sized in requests, items or bytes) drained by `num_consumers` workers, a per-attempt
//! timeout, and retries with randomized exponential backoff that honour the server's throttle
//! hint. Everything is counted under otelcol's metric names.

use ferrotel_config::QueueSizer;
use ferrotel_core::telemetry::{item_suffix, Counter, Gauge};
use ferrotel_core::{
    Batch, ComponentId, ExportError, Exporter, ExporterSettings, PipelineError, Signal, Telemetry,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How a caller waits when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse at once with `sending queue is full` (retryable), unless the exporter is
    /// configured with `block_on_overflow`. Used on the client's request path.
    RefuseWhenFull,
    /// Wait for room. Used for data a processor already accepted (batch, tail sampling).
    Wait,
}

struct Metrics {
    sent: Counter,
    send_failed: Counter,
    enqueue_failed: Counter,
    queue_size: Gauge,
}

type Item = (Batch, OwnedSemaphorePermit, u64);

/// One exporter's queue and workers for one signal.
pub struct ExporterRunner {
    id: ComponentId,
    signal: Signal,
    exporter: Arc<dyn Exporter>,
    settings: ExporterSettings,
    metrics: Metrics,
    capacity: Arc<Semaphore>,
    capacity_units: u64,
    tx: std::sync::Mutex<Option<mpsc::UnboundedSender<Item>>>,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<Item>>>,
    /// Cancelled when the shutdown deadline passes: stop retrying.
    give_up: CancellationToken,
}

impl ExporterRunner {
    pub fn new(
        id: ComponentId,
        signal: Signal,
        exporter: Arc<dyn Exporter>,
        settings: ExporterSettings,
        telemetry: &Telemetry,
    ) -> Arc<Self> {
        let ids = id.to_string();
        let labels = [("exporter", ids.as_str())];
        let sfx = item_suffix(signal);
        let metrics = Metrics {
            sent: telemetry.counter(
                &format!("otelcol_exporter_sent_{sfx}"),
                &format!("Number of {sfx} successfully sent to destination."),
                &labels,
            ),
            send_failed: telemetry.counter(
                &format!("otelcol_exporter_send_failed_{sfx}"),
                &format!("Number of {sfx} in failed attempts to send to destination."),
                &labels,
            ),
            enqueue_failed: telemetry.counter(
                &format!("otelcol_exporter_enqueue_failed_{sfx}"),
                &format!("Number of {sfx} failed to be added to the sending queue."),
                &labels,
            ),
            queue_size: telemetry.gauge(
                "otelcol_exporter_queue_size",
                "Current size of the retry queue (in batches).",
                &[("exporter", ids.as_str()), ("data_type", signal.as_str())],
            ),
        };
        let capacity_units = if settings.queue.enabled {
            settings.queue.queue_size
        } else {
            0
        };
        if settings.queue.enabled {
            let cap = capacity_units as i64;
            telemetry
                .gauge(
                    "otelcol_exporter_queue_capacity",
                    "Fixed capacity of the retry queue (in batches).",
                    &[("exporter", ids.as_str()), ("data_type", signal.as_str())],
                )
                .set(cap);
        }
        let permits = usize::try_from(capacity_units)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(ExporterRunner {
            id,
            signal,
            exporter,
            settings,
            metrics,
            capacity: Arc::new(Semaphore::new(permits)),
            capacity_units: permits as u64,
            tx: std::sync::Mutex::new(Some(tx)),
            rx: Arc::new(Mutex::new(rx)),
            give_up: CancellationToken::new(),
        })
    }

    pub fn id(&self) -> &ComponentId {
        &self.id
    }

    /// Starts the queue's workers (none when the queue is disabled).
    pub fn spawn_workers(self: &Arc<Self>, tasks: &mut JoinSet<()>) {
        if !self.settings.queue.enabled {
            return;
        }
        for _ in 0..self.settings.queue.num_consumers.max(1) {
            let me = self.clone();
            tasks.spawn(async move {
                loop {
                    let next = me.rx.lock().await.recv().await;
                    let Some((batch, permit, cost)) = next else {
                        break;
                    };
                    drop(permit);
                    me.metrics.queue_size.add(-(cost as i64));
                    let _ = me.send_with_retry(batch).await;
                }
            });
        }
    }

    fn cost(&self, batch: &Batch) -> u64 {
        let c = match self.settings.queue.sizer {
            QueueSizer::Requests => 1,
            QueueSizer::Items => batch.item_count() as u64,
            QueueSizer::Bytes => batch.encoded_len() as u64,
        };
        // A batch larger than the whole queue is let in alone rather than refused forever.
        c.clamp(1, self.capacity_units.max(1))
    }

    /// Hands a batch to this exporter. With the queue enabled, resolves once it is enqueued;
    /// without, once it was exported (or failed for good).
    pub async fn enqueue(&self, batch: Batch, overflow: Overflow) -> Result<(), PipelineError> {
        if !self.settings.queue.enabled {
            return self.send_with_retry(batch).await.map_err(|e| match e {
                ExportError::Permanent(m) => PipelineError::Permanent(m),
                ExportError::Retryable { message, throttle } => PipelineError::Refused {
                    message,
                    retry_after: throttle.or(Some(Duration::from_secs(1))),
                },
            });
        }
        let cost = self.cost(&batch);
        let n = u32::try_from(cost).unwrap_or(u32::MAX);
        let wait = overflow == Overflow::Wait || self.settings.queue.block_on_overflow;
        let permit = if wait {
            self.capacity
                .clone()
                .acquire_many_owned(n)
                .await
                .map_err(|_| PipelineError::refused("exporter is shutting down"))?
        } else {
            match self.capacity.clone().try_acquire_many_owned(n) {
                Ok(p) => p,
                Err(_) => {
                    self.metrics.enqueue_failed.add(batch.item_count() as u64);
                    tracing::warn!(exporter = %self.id, rejected_items = batch.item_count(), "Exporting failed. Rejecting data. sending queue is full");
                    return Err(PipelineError::queue_full());
                }
            }
        };
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match tx {
            Some(tx) => {
                self.metrics.queue_size.add(cost as i64);
                tx.send((batch, permit, cost))
                    .map_err(|_| PipelineError::refused("exporter is shutting down"))
            }
            None => Err(PipelineError::refused("exporter is shutting down")),
        }
    }

    /// One batch: attempts with timeout, retried with backoff while retryable.
    async fn send_with_retry(&self, batch: Batch) -> Result<(), ExportError> {
        let items = batch.item_count() as u64;
        let retry = &self.settings.retry;
        let started = Instant::now();
        let mut interval = retry.initial_interval.0;
        loop {
            let attempt = self.exporter.export(batch.clone());
            let result = if self.settings.timeout.is_zero() {
                attempt.await
            } else {
                match tokio::time::timeout(self.settings.timeout.0, attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(ExportError::retryable(format!(
                        "export timed out after {}",
                        self.settings.timeout
                    ))),
                }
            };
            let err = match result {
                Ok(()) => {
                    self.metrics.sent.add(items);
                    return Ok(());
                }
                Err(e) => e,
            };
            let give_up = |reason: &str, err: ExportError| {
                self.metrics.send_failed.add(items);
                tracing::error!(exporter = %self.id, signal = %self.signal, dropped_items = items, error = %err, "Exporting failed. Dropping data. {reason}");
                Err(err)
            };
            let throttle = match &err {
                ExportError::Permanent(_) => return give_up("", err),
                ExportError::Retryable { throttle, .. } => *throttle,
            };
            if !retry.enabled {
                return give_up("Retries are disabled.", err);
            }
            let delay =
                jittered(interval, retry.randomization_factor).max(throttle.unwrap_or_default());
            if !retry.max_elapsed_time.is_zero()
                && started.elapsed() + delay > retry.max_elapsed_time.0
            {
                return give_up("no more retries left", err);
            }
            tracing::info!(exporter = %self.id, error = %err, interval = ?delay, "Exporting failed. Will retry the request after interval.");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.give_up.cancelled() => return give_up("the collector is shutting down", err),
            }
            interval = Duration::from_secs_f64(
                (interval.as_secs_f64() * retry.multiplier).min(retry.max_interval.0.as_secs_f64()),
            );
        }
    }

    /// Stops taking new batches; workers finish what is queued.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Stops retrying (the shutdown deadline passed): what is still failing is counted as failed.
    pub fn abandon(&self) {
        self.give_up.cancel();
    }
}

fn jittered(d: Duration, factor: f64) -> Duration {
    if factor <= 0.0 {
        return d;
    }
    let r: f64 = rand::random::<f64>() * 2.0 - 1.0;
    Duration::from_secs_f64((d.as_secs_f64() * (1.0 + factor * r)).max(0.0))
}
