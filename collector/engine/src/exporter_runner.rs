//! Wraps one exporter for one signal in otelcol's exporterhelper behaviour: a bounded sending
//! queue (sized in requests, items or bytes) drained by `num_consumers` workers, a per-attempt
//! timeout, and retries with randomized exponential backoff that honour the server's throttle
//! hint. Everything is counted under otelcol's metric names.
//!
//! With `sending_queue.storage` naming a storage extension (`file_storage`), the queue is
//! persistent: a request is written to the extension's [`QueueStore`] before the caller is told
//! it was accepted, marked as dispatched when a worker takes it, and removed once it was
//! exported or dropped for good. At start, what an earlier run left is queued again, oldest
//! first. A request that was being exported when the process died may have been delivered
//! already: it is sent again (at-least-once) and its items are counted in
//! `ferrotel_exporter_queue_redispatched_<items>`. At shutdown a persistent queue does not wait
//! for a failing backend: retries stop, and what is left stays on disk for the next start.
//!
//! ```yaml
//! exporters:
//!   otlp:
//!     sending_queue: { storage: file_storage/queue, queue_size: 1000 }
//! ```

use ferrotel_config::QueueSizer;
use ferrotel_core::telemetry::{item_suffix, Counter, Gauge};
use ferrotel_core::{
    Batch, BudgetLease, ComponentId, ExportError, Exporter, ExporterSettings, MemoryBudget,
    PipelineError, QueueStore, RequestMeta, Signal, StorageError, Telemetry,
};
use std::sync::{Arc, OnceLock};
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

struct Item {
    batch: Batch,
    /// The room it takes in the queue (none for what a previous run left beyond capacity).
    permit: Option<OwnedSemaphorePermit>,
    /// Its bytes in the process-wide memory budget (none when the queue is not in it).
    lease: Option<BudgetLease>,
    cost: u64,
    /// Its record in the persistent queue.
    seq: Option<u64>,
}

/// How sending one batch ended.
enum Outcome {
    Sent,
    /// Dropped for good (permanent error, retries exhausted or disabled).
    Failed(ExportError),
    /// Stopped by shutdown; a persistent queue keeps it for the next start.
    Interrupted(ExportError),
}

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
    /// Cancelled when the shutdown deadline passes (persistent queue: when it closes): stop
    /// retrying.
    give_up: CancellationToken,
    /// The persistent queue's store, attached at start.
    persistent: OnceLock<Arc<dyn QueueStore>>,
    /// The process-wide budget queued bytes count against (unset: only `queue_size` bounds).
    budget: OnceLock<Arc<MemoryBudget>>,
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
            persistent: OnceLock::new(),
            budget: OnceLock::new(),
        })
    }

    pub fn id(&self) -> &ComponentId {
        &self.id
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Makes the bytes this queue holds count against `budget`: with the queue full by the
    /// budget, clients are refused as with a full queue, while data already accepted is still
    /// queued. Called once, before anything is enqueued.
    pub fn use_budget(&self, budget: Arc<MemoryBudget>) {
        let _ = self.budget.set(budget);
    }

    /// The budget lease for `batch`, whatever the limit: for data already accepted.
    fn lease_kept(&self, batch: &Batch) -> Option<BudgetLease> {
        let budget = self.budget.get()?;
        Some(budget.reserve(batch.held_bytes() as u64))
    }

    /// The budget lease for `batch`: refused when the client's request can be refused (not
    /// `wait`) and the budget is spent.
    fn lease(&self, batch: &Batch, wait: bool) -> Result<Option<BudgetLease>, PipelineError> {
        if wait {
            return Ok(self.lease_kept(batch));
        }
        let Some(budget) = self.budget.get() else {
            return Ok(None);
        };
        let bytes = batch.held_bytes() as u64;
        let lease = budget.try_reserve(bytes).inspect_err(|_| {
            self.metrics.enqueue_failed.add(batch.item_count() as u64);
            tracing::warn!(exporter = %self.id, rejected_items = batch.item_count(), "Exporting failed. Rejecting data. The memory budget for queued data is spent.");
        })?;
        Ok(Some(lease))
    }

    /// The storage extension id of a persistent queue (`sending_queue.storage`).
    pub fn storage_id(&self) -> Option<&str> {
        let q = &self.settings.queue;
        q.storage.as_deref().filter(|_| q.enabled)
    }

    /// The queue's name in its storage: `exporter_<id>_<signal>`.
    pub fn storage_name(&self) -> String {
        format!("exporter_{}_{}", self.id, self.signal.as_str())
    }

    /// Makes the queue persistent in `store` and queues what earlier runs left in it. Called
    /// once at start, before the workers start and before anything is enqueued.
    pub async fn attach_store(
        &self,
        store: Arc<dyn QueueStore>,
        telemetry: &Telemetry,
    ) -> Result<(), StorageError> {
        let ids = self.id.to_string();
        let sfx = item_suffix(self.signal);
        let redispatched = telemetry.counter(
            &format!("ferrotel_exporter_queue_redispatched_{sfx}"),
            &format!("Number of {sfx} sent again after a restart because their export had started but was not known to have finished (possible duplicates)."),
            &[("exporter", ids.as_str())],
        );
        let s = store.clone();
        let recovered = tokio::task::spawn_blocking(move || s.recover())
            .await
            .map_err(|e| StorageError(e.to_string()))??;
        if recovered.discarded > 0 {
            tracing::warn!(exporter = %self.id, signal = %self.signal, discarded = recovered.discarded, "Discarded truncated or corrupt requests from the persistent queue.");
        }
        let tx = self
            .sender()
            .ok_or_else(|| StorageError("queue closed".into()))?;
        let (mut requests, mut items) = (0usize, 0usize);
        for rec in recovered.records {
            let batch = Batch::from_bytes(
                self.signal,
                rec.data.into(),
                None,
                Arc::new(RequestMeta::default()),
            );
            if rec.dispatched {
                redispatched.add(batch.item_count() as u64);
            }
            requests += 1;
            items += batch.item_count();
            let cost = self.cost(&batch);
            // What does not fit (a smaller queue_size than last run) is queued all the same:
            // it is on disk already, and new data waits until it drained.
            let permit = self
                .capacity
                .clone()
                .try_acquire_many_owned(u32::try_from(cost).unwrap_or(u32::MAX))
                .ok();
            self.metrics.queue_size.add(cost as i64);
            let lease = self.lease_kept(&batch);
            let item = Item {
                batch,
                permit,
                lease,
                cost,
                seq: Some(rec.seq),
            };
            if tx.send(item).is_err() {
                return Err(StorageError("queue closed".into()));
            }
        }
        if requests > 0 {
            tracing::info!(exporter = %self.id, signal = %self.signal, requests, items, "Queued again what the persistent queue held from an earlier run.");
        }
        let _ = self.persistent.set(store);
        Ok(())
    }

    fn sender(&self) -> Option<mpsc::UnboundedSender<Item>> {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs blocking storage work off the async threads.
    async fn blocking<T: Send + 'static>(
        f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| StorageError(e.to_string()))?
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
                    let Some(item) = next else {
                        break;
                    };
                    drop(item.permit);
                    // Counted in the budget until exported or dropped: it is in memory until then.
                    let _held = item.lease;
                    me.metrics.queue_size.add(-(item.cost as i64));
                    let (Some(store), Some(seq)) = (me.persistent.get(), item.seq) else {
                        me.send_with_retry(item.batch).await;
                        continue;
                    };
                    if me.give_up.is_cancelled() {
                        break; // Shutting down: the rest stays on disk.
                    }
                    let s = store.clone();
                    if let Err(e) = Self::blocking(move || s.dispatched(seq)).await {
                        tracing::warn!(exporter = %me.id, error = %e, "Could not mark a persistent queue record as dispatched.");
                    }
                    if let Outcome::Interrupted(_) = me.send_with_retry(item.batch).await {
                        continue;
                    }
                    let s = store.clone();
                    if let Err(e) = Self::blocking(move || s.remove(seq)).await {
                        tracing::error!(exporter = %me.id, error = %e, "Could not remove an exported request from the persistent queue; it will be sent again after a restart.");
                    }
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
            return self.export_in_caller(batch).await;
        }
        let cost = self.cost(&batch);
        let permit = self.reserve(&batch, cost, overflow).await?;
        let wait = overflow == Overflow::Wait || self.settings.queue.block_on_overflow;
        let lease = self.lease(&batch, wait)?;
        let Some(tx) = self.sender() else {
            return Err(shutting_down());
        };
        let item = Item {
            batch,
            permit: Some(permit),
            lease,
            cost,
            seq: None,
        };
        let Some(store) = self.persistent.get() else {
            self.metrics.queue_size.add(cost as i64);
            return tx.send(item).map_err(|_| shutting_down());
        };
        self.persist(store.clone(), tx, item).await
    }

    /// The queue disabled: exports in the caller's task; a failure is the caller's refusal.
    async fn export_in_caller(&self, batch: Batch) -> Result<(), PipelineError> {
        let err = match self.send_with_retry(batch).await {
            Outcome::Sent => return Ok(()),
            Outcome::Failed(e) | Outcome::Interrupted(e) => e,
        };
        Err(match err {
            ExportError::Permanent(m) => PipelineError::Permanent(m),
            ExportError::Retryable { message, throttle } => PipelineError::Refused {
                message,
                retry_after: throttle.or(Some(Duration::from_secs(1))),
            },
        })
    }

    /// Room in the queue for a batch of this cost: waited for, or refused at once when the
    /// queue is full and neither the caller nor the configuration (`block_on_overflow`) waits.
    async fn reserve(
        &self,
        batch: &Batch,
        cost: u64,
        overflow: Overflow,
    ) -> Result<OwnedSemaphorePermit, PipelineError> {
        let n = u32::try_from(cost).unwrap_or(u32::MAX);
        let wait = overflow == Overflow::Wait || self.settings.queue.block_on_overflow;
        if wait {
            return self
                .capacity
                .clone()
                .acquire_many_owned(n)
                .await
                .map_err(|_| shutting_down());
        }
        self.capacity.clone().try_acquire_many_owned(n).map_err(|_| {
            self.metrics.enqueue_failed.add(batch.item_count() as u64);
            tracing::warn!(exporter = %self.id, rejected_items = batch.item_count(), "Exporting failed. Rejecting data. sending queue is full");
            PipelineError::queue_full()
        })
    }

    /// Writes a batch to the persistent queue and queues it, in one blocking task so that it is
    /// queued even if the caller stops waiting; the caller hears of success only once it is on
    /// disk.
    async fn persist(
        &self,
        store: Arc<dyn QueueStore>,
        tx: mpsc::UnboundedSender<Item>,
        mut item: Item,
    ) -> Result<(), PipelineError> {
        let queue_size = self.metrics.queue_size.clone();
        let items = item.batch.item_count();
        let cost = item.cost;
        let written = Self::blocking(move || {
            let seq = store.push(&item.batch.encoded())?;
            // On disk now: a receiver waiting for delivery may move on.
            item.batch.release_deliveries();
            item.seq = Some(seq);
            queue_size.add(cost as i64);
            if tx.send(item).is_err() {
                queue_size.add(-(cost as i64));
                let _ = store.remove(seq);
                return Ok(false);
            }
            Ok(true)
        })
        .await;
        match written {
            Ok(true) => Ok(()),
            Ok(false) => Err(shutting_down()),
            Err(e) => {
                self.metrics.enqueue_failed.add(items as u64);
                tracing::error!(exporter = %self.id, rejected_items = items, error = %e, "Exporting failed. Rejecting data. Could not write to the persistent queue.");
                Err(PipelineError::refused(format!(
                    "could not write to the persistent sending queue: {e}"
                )))
            }
        }
    }

    /// One batch: attempts with timeout, retried with backoff while retryable.
    async fn send_with_retry(&self, batch: Batch) -> Outcome {
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
                    return Outcome::Sent;
                }
                Err(e) => e,
            };
            let give_up = |reason: &str, err: ExportError| {
                self.metrics.send_failed.add(items);
                tracing::error!(exporter = %self.id, signal = %self.signal, dropped_items = items, error = %err, "Exporting failed. Dropping data. {reason}");
                Outcome::Failed(err)
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
                _ = self.give_up.cancelled() => {
                    if self.persistent.get().is_some() {
                        tracing::info!(exporter = %self.id, signal = %self.signal, items, "Export interrupted by shutdown; the request stays in the persistent queue for the next start.");
                        return Outcome::Interrupted(err);
                    }
                    return give_up("the collector is shutting down", err);
                }
            }
            interval = Duration::from_secs_f64(
                (interval.as_secs_f64() * retry.multiplier).min(retry.max_interval.0.as_secs_f64()),
            );
        }
    }

    /// Stops taking new batches; workers finish what is queued. A persistent queue stops
    /// retrying at once instead: what is left stays on disk for the next start.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if self.persistent.get().is_some() {
            self.give_up.cancel();
        }
    }

    /// Stops retrying (the shutdown deadline passed): what is still failing is counted as failed.
    pub fn abandon(&self) {
        self.give_up.cancel();
    }
}

/// The refusal of a batch that comes while the exporter shuts down.
fn shutting_down() -> PipelineError {
    PipelineError::refused("exporter is shutting down")
}

fn jittered(d: Duration, factor: f64) -> Duration {
    if factor <= 0.0 {
        return d;
    }
    let r: f64 = rand::random::<f64>() * 2.0 - 1.0;
    Duration::from_secs_f64((d.as_secs_f64() * (1.0 + factor * r)).max(0.0))
}
