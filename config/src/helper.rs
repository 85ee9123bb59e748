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
    /// exporterhelper batching; accepted for compatibility.
    pub batch: Option<crate::Value>,
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
    }
}
