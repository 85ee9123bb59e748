//! The `batch` processor: merges requests into batches of about `send_batch_size` items
//! (spans, metric data points, log records), sent when that size is reached or when the oldest
//! pending item has waited `timeout`, split at `send_batch_max_size`, with one pending batch per
//! combination of `metadata_keys` values. Requests are merged at the protobuf byte level
//! (concatenation, no decoding); only a request straddling a `send_batch_max_size` boundary is
//! decoded and split. Unlike otelcol, which drops what its exporters fail to take, the pending
//! items are bounded (8 x max(`send_batch_size`, `send_batch_max_size`), at least 8192) and new
//! data past the bound is refused with a retryable error, so backpressure reaches clients.
//! Profiles are passed on at once, one request as it came: merging profiles requests would
//! break the shared dictionary each one's samples refer to (otelcol's batch processor does not
//! take profiles at all).
//!
//! ```yaml
//! processors:
//!   batch:
//!     send_batch_size: 8192
//!     timeout: 200ms
//!     send_batch_max_size: 10000
//!     metadata_keys: [x-tenant]
//!     metadata_cardinality_limit: 1000
//! ```

mod config;
pub mod split;

pub use config::BatchConfig;

use ferrotel_config::ConfigErrors;
use ferrotel_core::telemetry::{Counter, Gauge, Histogram};
use ferrotel_core::{
    Batch, CreateContext, Factory, FactoryInfo, PipelineError, Processor, RequestMeta, Signal,
    Stability, Telemetry,
};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The pending-items bound is this many times the larger of the two batch sizes...
const PENDING_FACTOR: usize = 8;
/// ...and at least this many items.
const MIN_PENDING_LIMIT: usize = 8192;
/// Shortest tick, so a tiny timeout does not spin the tick task.
const MIN_TICK: Duration = Duration::from_millis(10);
/// otelcol's buckets for `otelcol_processor_batch_batch_send_size`.
const SEND_SIZE_BOUNDS: &[f64] = &[
    10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0,
    6000.0, 7000.0, 8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
];

/// Builds `batch` processors.
pub struct BatchProcessorFactory;

impl Factory for BatchProcessorFactory {
    type Config = BatchConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "batch",
            "Batches data by item count and time, per metadata partition",
        )
        .all_signals(Stability::Beta)
        .signal(Signal::Profiles, Stability::Development)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: BatchConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        Ok(Box::new(BatchProcessor::new(
            &cfg,
            &ctx.id.to_string(),
            &ctx.telemetry,
            ctx.wake.clone(),
        )))
    }
}

/// Why a batch was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Size,
    Timeout,
}

/// The values of each metadata key, in `metadata_keys` order.
type PartitionKey = Vec<Vec<String>>;

struct Partition {
    /// What the batches sent from this partition carry: only the `metadata_keys` headers.
    meta: Arc<RequestMeta>,
    batches: VecDeque<Batch>,
    items: usize,
    /// When the oldest pending item arrived (or the last size-triggered send left a remainder).
    since: Option<Instant>,
}

#[derive(Default)]
struct State {
    partitions: HashMap<PartitionKey, Partition>,
    /// Items pending in all partitions (plus those being emitted by `on_tick` right now).
    pending_items: usize,
}

struct Metrics {
    send_size: Histogram,
    size_trigger: Counter,
    timeout_trigger: Counter,
    cardinality: Gauge,
}

impl Metrics {
    fn new(telemetry: &Telemetry, id: &str) -> Self {
        let labels = [("processor", id)];
        Metrics {
            send_size: telemetry.histogram(
                "otelcol_processor_batch_batch_send_size",
                "Number of units in the batch",
                &labels,
                SEND_SIZE_BOUNDS,
            ),
            size_trigger: telemetry.counter(
                "otelcol_processor_batch_batch_size_trigger_send",
                "Number of times the batch was sent due to a size trigger",
                &labels,
            ),
            timeout_trigger: telemetry.counter(
                "otelcol_processor_batch_timeout_trigger_send",
                "Number of times the batch was sent due to a timeout trigger",
                &labels,
            ),
            cardinality: telemetry.gauge(
                "otelcol_processor_batch_metadata_cardinality",
                "Number of distinct metadata value combinations being processed",
                &labels,
            ),
        }
    }
}

/// The `batch` processor (see the module documentation).
pub struct BatchProcessor {
    send_batch_size: usize,
    /// `send_batch_max_size`, `usize::MAX` when unlimited.
    max_size: usize,
    timeout: Duration,
    /// Lower-cased `metadata_keys`.
    keys: Vec<String>,
    cardinality_limit: usize,
    pending_limit: usize,
    wake: Arc<Notify>,
    state: Mutex<State>,
    metrics: Metrics,
}

impl BatchProcessor {
    /// `id` labels the self-metrics; `wake` asks the engine for an `on_tick` call now.
    pub fn new(cfg: &BatchConfig, id: &str, telemetry: &Telemetry, wake: Arc<Notify>) -> Self {
        let send_batch_size = cfg.send_batch_size as usize;
        let max = cfg.send_batch_max_size as usize;
        BatchProcessor {
            send_batch_size,
            max_size: if max == 0 { usize::MAX } else { max },
            timeout: cfg.timeout.0,
            keys: cfg
                .metadata_keys
                .iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            cardinality_limit: match cfg.metadata_cardinality_limit {
                0 => usize::MAX,
                n => n as usize,
            },
            pending_limit: (PENDING_FACTOR * send_batch_size.max(max)).max(MIN_PENDING_LIMIT),
            wake,
            state: Mutex::new(State::default()),
            metrics: Metrics::new(telemetry, id),
        }
    }

    /// Most items held before new data is refused.
    pub fn pending_limit(&self) -> usize {
        self.pending_limit
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn partition_key(&self, meta: &RequestMeta) -> PartitionKey {
        self.keys
            .iter()
            .map(|k| meta.header_values(k).map(str::to_owned).collect())
            .collect()
    }

    /// The partition for `key`, created if new and the cardinality limit allows it.
    fn partition<'a>(
        &self,
        state: &'a mut State,
        key: PartitionKey,
    ) -> Result<&'a mut Partition, PipelineError> {
        let count = state.partitions.len();
        match state.partitions.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                if count >= self.cardinality_limit {
                    return Err(PipelineError::Permanent(
                        "too many batcher metadata-value combinations".into(),
                    ));
                }
                let headers = self
                    .keys
                    .iter()
                    .zip(e.key())
                    .flat_map(|(k, values)| values.iter().map(move |v| (k.clone(), v.clone())))
                    .collect();
                self.metrics.cardinality.add(1);
                Ok(e.insert(Partition {
                    meta: Arc::new(RequestMeta {
                        headers,
                        ..Default::default()
                    }),
                    batches: VecDeque::new(),
                    items: 0,
                    since: None,
                }))
            }
        }
    }

    /// Sends `group` as one batch with the partition's metadata.
    fn send(
        &self,
        group: &mut Vec<Batch>,
        meta: &Arc<RequestMeta>,
        trigger: Trigger,
        out: &mut Vec<Batch>,
    ) {
        let Some(mut batch) = Batch::concat(group) else {
            return;
        };
        group.clear();
        batch.meta = meta.clone();
        self.metrics.send_size.record(batch.item_count() as f64);
        match trigger {
            Trigger::Size => self.metrics.size_trigger.inc(),
            Trigger::Timeout => self.metrics.timeout_trigger.inc(),
        }
        out.push(batch);
    }

    /// Sends the first `count` items of `batches` in batches of at most `max_size` items,
    /// merging whole requests and splitting only one that straddles a boundary. Returns what
    /// was not sent.
    fn emit(
        &self,
        mut batches: VecDeque<Batch>,
        count: usize,
        meta: &Arc<RequestMeta>,
        trigger: Trigger,
        out: &mut Vec<Batch>,
    ) -> VecDeque<Batch> {
        let mut group = Vec::new();
        let mut group_items = 0;
        let mut left = count;
        while left > 0 {
            let Some(batch) = batches.pop_front() else {
                break;
            };
            let room = (self.max_size - group_items).min(left);
            let head = if batch.item_count() <= room {
                batch
            } else {
                let mut rest = batch;
                match split::split_front(&mut rest, room) {
                    Ok(head) => {
                        batches.push_front(rest);
                        head
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "batch: cannot split a request, sending it whole");
                        rest
                    }
                }
            };
            let n = head.item_count();
            group.push(head);
            group_items += n;
            left = left.saturating_sub(n);
            if group_items >= self.max_size || left == 0 {
                self.send(&mut group, meta, trigger, out);
                group_items = 0;
            }
        }
        self.send(&mut group, meta, trigger, out);
        batches
    }

    /// Items of a size-triggered send to keep pending: as otelcol, send while at least
    /// `send_batch_size` items are pending, each batch at most `send_batch_max_size`.
    fn size_trigger_remainder(&self, items: usize) -> usize {
        let rem = items % self.max_size;
        if rem >= self.send_batch_size {
            0
        } else {
            rem
        }
    }

    /// Emits the partitions that are due (full, timed out, or all of them when `all`).
    /// Pending data is taken out under the lock and merged or split outside of it.
    fn emit_due(&self, all: bool, out: &mut Vec<Batch>) {
        let now = Instant::now();
        let mut due = Vec::new();
        {
            let mut state = self.lock();
            for (key, p) in state.partitions.iter_mut() {
                if p.items == 0 {
                    continue;
                }
                let timed_out = p
                    .since
                    .is_some_and(|t| now.duration_since(t) >= self.timeout);
                let trigger = if p.items >= self.send_batch_size {
                    Trigger::Size
                } else if all || timed_out {
                    Trigger::Timeout
                } else {
                    continue;
                };
                let keep = match trigger {
                    Trigger::Size if !all => self.size_trigger_remainder(p.items),
                    _ => 0,
                };
                due.push((
                    key.clone(),
                    p.meta.clone(),
                    std::mem::take(&mut p.batches),
                    p.items - keep,
                    trigger,
                ));
                p.items = 0;
                p.since = None;
            }
        }
        for (key, meta, batches, count, trigger) in due {
            let before = out.len();
            let left = self.emit(batches, count, &meta, trigger, out);
            let sent: usize = out[before..].iter().map(Batch::item_count).sum();
            let kept: usize = left.iter().map(Batch::item_count).sum();
            let mut state = self.lock();
            state.pending_items = state.pending_items.saturating_sub(sent);
            if kept > 0 {
                if let Some(p) = state.partitions.get_mut(&key) {
                    for b in left.into_iter().rev() {
                        p.batches.push_front(b);
                    }
                    p.items += kept;
                    p.since.get_or_insert(now);
                }
            }
        }
    }
}

impl Processor for BatchProcessor {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        if batch.signal() == Signal::Profiles {
            out.push(batch);
            return Ok(());
        }
        let items = batch.item_count();
        if items == 0 {
            out.push(batch);
            return Ok(());
        }
        let key = self.partition_key(&batch.meta);
        let mut state = self.lock();
        if self.timeout.is_zero() {
            let meta = self.partition(&mut state, key)?.meta.clone();
            drop(state);
            self.emit(VecDeque::from([batch]), items, &meta, Trigger::Size, out);
            return Ok(());
        }
        if state.pending_items > 0 && state.pending_items + items > self.pending_limit {
            return Err(PipelineError::Busy(format!(
                "batch buffer full: {} items pending (limit {})",
                state.pending_items, self.pending_limit
            )));
        }
        let p = self.partition(&mut state, key)?;
        p.batches.push_back(batch);
        p.items += items;
        p.since.get_or_insert_with(Instant::now);
        let full = p.items >= self.send_batch_size;
        let was_idle = state.pending_items == 0;
        state.pending_items += items;
        drop(state);
        // Full: send now; the first item after idling: the engine starts ticking again.
        if full || was_idle {
            self.wake.notify_one();
        }
        Ok(())
    }

    fn tick_interval(&self) -> Option<Duration> {
        if self.timeout.is_zero() {
            return None;
        }
        Some((self.timeout / 4).max(MIN_TICK.min(self.timeout)))
    }

    fn is_idle(&self) -> bool {
        self.lock().pending_items == 0
    }

    fn on_tick(&self, out: &mut Vec<Batch>) {
        self.emit_due(false, out);
    }

    fn flush(&self, out: &mut Vec<Batch>) {
        self.emit_due(true, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
