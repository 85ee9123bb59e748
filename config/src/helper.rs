//! Settings shared by every push exporter, with otelcol's exporterhelper keys and defaults.
//!
//! ```yaml
//! exporters:
//!   otlp:
//!     timeout: 5s
//!     retry_on_failure: { enabled: true, initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s }
//!     sending_queue: { enabled: true, num_consumers: 10, queue_size: 1000, sizer: requests }
//! ```

use crate::{GoDuration, Validate, Validator};
use serde::{Deserialize, Serialize};

/// `retry_on_failure`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Retry failed exports that are not permanent errors.
    pub enabled: bool,
    /// Wait after the first failure.
    pub initial_interval: GoDuration,
    /// Each wait is randomised by ± this fraction.
    pub randomization_factor: f64,
    /// Each wait is the previous one times this.
    pub multiplier: f64,
    /// Upper bound of one wait.
    pub max_interval: GoDuration,
    /// Give up after this long in all (0 = retry forever).
    pub max_elapsed_time: GoDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: GoDuration::from_secs(5),
            randomization_factor: 0.5,
            multiplier: 1.5,
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
        }
    }
}

impl Validate for RetryConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            v.report_at("randomization_factor", "must be between 0 and 1");
        }
        if self.multiplier < 0.0 || !self.multiplier.is_finite() {
            v.report_at("multiplier", "must be a non-negative number");
        }
        if !self.max_elapsed_time.is_zero() {
            if self.max_elapsed_time < self.initial_interval {
                v.report_at("max_elapsed_time", "must not be less than initial_interval");
            }
            if self.max_elapsed_time < self.max_interval {
                v.report_at("max_elapsed_time", "must not be less than max_interval");
            }
        }
    }
}

/// How the queue's `queue_size` is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum QueueSizer {
    #[default]
    Requests,
    Items,
    Bytes,
}

/// `sending_queue`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Queue exports and send them from background workers.
    pub enabled: bool,
    /// Concurrent export workers.
    pub num_consumers: usize,
    /// Capacity, in units of `sizer`.
    pub queue_size: u64,
    /// `requests`, `items` or `bytes`.
    pub sizer: QueueSizer,
    /// Block the caller until the export finished (its result is the caller's).
    pub wait_for_result: bool,
    /// Wait for room instead of refusing when the queue is full.
    pub block_on_overflow: bool,
    /// A storage extension id (e.g. `file_storage`) for a persistent queue.
    pub storage: Option<String>,
    /// exporterhelper batching: its settings are checked as otelcol does; batching itself
    /// is not done by the queue (use the batch processor).
    pub batch: Option<QueueBatchConfig>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: QueueSizer::Requests,
            wait_for_result: false,
            block_on_overflow: false,
            storage: None,
            batch: None,
        }
    }
}

impl QueueConfig {
    /// The queue a component gets when it does not queue by default (debug exporter).
    pub fn disabled() -> Self {
        QueueConfig {
            enabled: false,
            ..Default::default()
        }
    }
}

impl Validate for QueueConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if !self.enabled {
            return;
        }
        if self.num_consumers == 0 {
            v.report_at("num_consumers", "must be greater than zero");
        }
        if self.queue_size == 0 {
            v.report_at("queue_size", "must be greater than zero");
        }
        if let Some(id) = &self.storage {
            v.at("storage")
                .uses_extension(id, crate::Capability::Storage);
        }
        if let Some(batch) = &self.batch {
            let sizer = batch.effective_sizer(self.sizer);
            batch.validate_with(sizer, &mut v.at("batch"));
            // Only when both count the same unit can the queue be too small for one batch.
            if sizer == self.sizer && batch.min_size > self.queue_size as i64 {
                v.report_at(
                    "batch.min_size",
                    "`min_size` must be less than or equal to `queue_size`",
                );
            }
        }
    }
}

/// `sending_queue.batch`, with otelcol's defaults (flush every 200ms, at least 8192 items).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueBatchConfig {
    /// A batch is sent after this long whatever its size.
    pub flush_timeout: GoDuration,
    /// `items` or `bytes`; unset: the queue's sizer when that is not `requests`, else `items`.
    pub sizer: Option<QueueSizer>,
    /// A batch is sent once it holds this much.
    pub min_size: i64,
    /// A batch holds at most this much (0: no limit).
    pub max_size: i64,
    pub partition: QueuePartitionConfig,
}

impl Default for QueueBatchConfig {
    fn default() -> Self {
        QueueBatchConfig {
            flush_timeout: GoDuration(std::time::Duration::from_millis(200)),
            sizer: None,
            min_size: 8192,
            max_size: 0,
            partition: QueuePartitionConfig::default(),
        }
    }
}

/// `sending_queue.batch.partition`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueuePartitionConfig {
    /// Client metadata keys whose values split batches.
    pub metadata_keys: Vec<String>,
}

impl QueueBatchConfig {
    /// The unit the batch counts in. otelcol copies the queue's `sizer` when it is set
    /// explicitly and the batch's is not; a config cannot tell an explicit `requests` from the
    /// default here, so only `items` and `bytes` are copied (an explicit `requests` queue with
    /// an unset batch sizer is accepted, where otelcol refuses it).
    pub fn effective_sizer(&self, queue: QueueSizer) -> QueueSizer {
        match (self.sizer, queue) {
            (Some(s), _) => s,
            (None, QueueSizer::Requests) => QueueSizer::Items,
            (None, q) => q,
        }
    }

    fn validate_with(&self, sizer: QueueSizer, v: &mut Validator<'_>) {
        if sizer == QueueSizer::Requests {
            v.report_at(
                "sizer",
                "`batch` supports only `items` or `bytes` sizer, found \"requests\"",
            );
        }
        if self.flush_timeout.is_zero() {
            v.report_at("flush_timeout", "`flush_timeout` must be positive, found 0");
        }
        if self.min_size < 0 {
            let m = format!("`min_size` must be non-negative, found {}", self.min_size);
            v.report_at("min_size", m);
        }
        if self.max_size < 0 {
            let m = format!("`max_size` must be non-negative, found {}", self.max_size);
            v.report_at("max_size", m);
        }
        if self.max_size > 0 && self.max_size < self.min_size {
            let m = format!(
                "`max_size` ({}) must be greater or equal to `min_size` ({})",
                self.max_size, self.min_size
            );
            v.report_at("max_size", m);
        }
        let mut seen = std::collections::HashSet::new();
        for k in &self.partition.metadata_keys {
            let lower = k.to_lowercase();
            if !seen.insert(lower.clone()) {
                v.report_at(
                    "partition.metadata_keys",
                    format!("duplicate entry in metadata_keys: {lower:?} (case-insensitive)"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_valid, Value};

    fn errors(yaml: &str) -> Vec<(String, String)> {
        let raw: Value = serde_yaml_ng::from_str(yaml).expect("test yaml parses");
        match decode_valid::<QueueConfig>("q", &raw) {
            Ok(_) => vec![],
            Err(e) => e.0.into_iter().map(|e| (e.path, e.message)).collect(),
        }
    }

    fn one(path: &str, message: &str) -> Vec<(String, String)> {
        vec![(path.to_string(), message.to_string())]
    }

    #[test]
    fn batch_sizes_are_checked_as_otelcol() {
        assert_eq!(
            errors("batch: {min_size: 100, max_size: 10}"),
            one(
                "q.batch.max_size",
                "`max_size` (10) must be greater or equal to `min_size` (100)"
            )
        );
        assert_eq!(
            errors("sizer: items\nqueue_size: 100\nbatch: {min_size: 1000}"),
            one(
                "q.batch.min_size",
                "`min_size` must be less than or equal to `queue_size`"
            )
        );
        // A queue counted in requests and a batch in items: no common unit, no check.
        assert_eq!(errors("queue_size: 100\nbatch: {min_size: 1000}"), vec![]);
        assert_eq!(errors("batch:"), vec![]);
        assert_eq!(
            errors("queue_size: 10000\nbatch: {sizer: requests}"),
            one(
                "q.batch.sizer",
                "`batch` supports only `items` or `bytes` sizer, found \"requests\""
            )
        );
        let e = errors("batch: {min_sise: 1}");
        assert_eq!(e[0].0, "q.batch.min_sise", "{e:?}");
    }
}
