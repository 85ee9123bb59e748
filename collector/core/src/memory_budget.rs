//! The process-wide memory budget for queued data: bytes held by the exporters' sending queues
//! count against one limit shared by every pipeline, so a collector whose backend is slower
//! than its clients stays small without a `memory_limiter`. Past the limit, pipelines refuse
//! new data with a retryable status (gRPC UNAVAILABLE, HTTP 503 with `Retry-After`; file_log
//! waits) before receivers read request bodies ([`MemoryBudget::admit`]); data a processor
//! already accepted (a batch leaving the batch processor) is still queued, so nothing accepted
//! is lost.
//!
//! The limit is `FERROTEL_MEMORY_BUDGET_MIB` when set (`0`: no budget), else 1/20 of the memory
//! the process may use (the cgroup limit, capped at the host's memory; see
//! [`crate::host_memory`]) clamped to 16-64 MiB. Explicit settings win: a sending queue whose
//! `queue_size` the configuration sets is bounded by that alone and takes nothing from the
//! budget; the tail_sampling processor (`num_traces`, `max_buffered_bytes`), the batch
//! processor and the connectors keep their own bounds.
//!
//! ```yaml
//! # No YAML key: the budget is the process's. For example, in a compose file:
//! #   environment: { FERROTEL_MEMORY_BUDGET_MIB: "128" }
//! exporters:
//!   otlp:
//!     endpoint: backend:4317
//!     # sending_queue: { queue_size: 5000 }   # explicit: bounded by this, not the budget
//! ```

use crate::telemetry::Counter;
use crate::{PipelineError, Telemetry};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The environment variable that sets the budget, in MiB (`0`: none).
pub const BUDGET_ENV: &str = "FERROTEL_MEMORY_BUDGET_MIB";

const MIB: u64 = 1 << 20;
/// The default budget is this fraction of the process's memory...
const DEFAULT_DIVISOR: u64 = 20;
/// ...within these bounds.
const DEFAULT_MIN: u64 = 16 * MIB;
const DEFAULT_MAX: u64 = 64 * MIB;

/// What clients are told while the budget is spent.
const EXHAUSTED: &str =
    "data refused: the collector's memory budget for queued data is exhausted (FERROTEL_MEMORY_BUDGET_MIB)";

/// One limit on the bytes of queued data, shared by every component that queues.
pub struct MemoryBudget {
    /// `None`: no limit (still counted).
    limit: Option<u64>,
    used: AtomicU64,
    refused: Counter,
}

impl MemoryBudget {
    /// A budget of `limit` bytes (`None`: unlimited), with its self-metrics in `telemetry`:
    /// `ferrotel_memory_budget_used_bytes`, `ferrotel_memory_budget_limit_bytes` and
    /// `ferrotel_memory_budget_refused_requests`.
    pub fn new(limit: Option<u64>, telemetry: &Telemetry) -> Arc<Self> {
        let budget = Arc::new(MemoryBudget {
            limit,
            used: AtomicU64::new(0),
            refused: telemetry.counter(
                "ferrotel_memory_budget_refused_requests",
                "Requests refused because queued data used the whole memory budget.",
                &[],
            ),
        });
        let weak = Arc::downgrade(&budget);
        telemetry.gauge_fn(
            "ferrotel_memory_budget_used_bytes",
            "Bytes of queued data counted against the process-wide memory budget.",
            &[],
            move || weak.upgrade().map_or(0.0, |b| b.used() as f64),
        );
        if let Some(limit) = limit {
            telemetry
                .gauge(
                    "ferrotel_memory_budget_limit_bytes",
                    "The process-wide memory budget for queued data.",
                    &[],
                )
                .set(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        budget
    }

    /// The budget this process runs with: [`BUDGET_ENV`] when set, else [`default_limit`] of
    /// `total_memory`. An unreadable setting is an error naming it.
    pub fn configured(env: Option<&str>, total_memory: Option<u64>) -> Result<Option<u64>, String> {
        let Some(text) = env else {
            return Ok(Some(default_limit(total_memory)));
        };
        match text.trim().parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(mib) => Ok(Some(mib.saturating_mul(MIB))),
            Err(_) => Err(format!(
                "{BUDGET_ENV}: {text:?} is not a whole number of MiB (0 for no budget)"
            )),
        }
    }

    /// Bytes counted now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn spent(&self) -> bool {
        self.limit.is_some_and(|l| self.used() >= l)
    }

    /// Busy: network clients get a retryable status (with Retry-After: 1 s), and a receiver
    /// that can wait (file_log) pauses instead of dropping.
    fn exhausted(&self) -> PipelineError {
        self.refused.add(1);
        PipelineError::Busy(EXHAUSTED.into())
    }

    /// Refuses new data while the budget is spent: one atomic load.
    pub fn admit(&self) -> Result<(), PipelineError> {
        if self.spent() {
            return Err(self.exhausted());
        }
        Ok(())
    }

    /// Room for `bytes` more, or the retryable refusal. Alone in an empty budget, data larger
    /// than the whole budget is let in rather than refused forever.
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Result<BudgetLease, PipelineError> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if let Some(limit) = self.limit {
            if before > 0 && before.saturating_add(bytes) > limit {
                self.used.fetch_sub(bytes, Ordering::Relaxed);
                return Err(self.exhausted());
            }
        }
        Ok(self.lease(bytes))
    }

    /// Counts `bytes` whatever the limit: for data already accepted, which must be kept.
    pub fn reserve(self: &Arc<Self>, bytes: u64) -> BudgetLease {
        self.used.fetch_add(bytes, Ordering::Relaxed);
        self.lease(bytes)
    }

    fn lease(self: &Arc<Self>, bytes: u64) -> BudgetLease {
        BudgetLease {
            budget: self.clone(),
            bytes,
        }
    }
}

/// The default budget for a process that may use `total_memory` bytes (unknown: the maximum).
pub fn default_limit(total_memory: Option<u64>) -> u64 {
    total_memory.map_or(DEFAULT_MAX, |t| {
        (t / DEFAULT_DIVISOR).clamp(DEFAULT_MIN, DEFAULT_MAX)
    })
}

/// Bytes counted against a [`MemoryBudget`] until dropped.
pub struct BudgetLease {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl Drop for BudgetLease {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for BudgetLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BudgetLease({} bytes)", self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: Option<u64>) -> Arc<MemoryBudget> {
        MemoryBudget::new(limit, &Telemetry::new())
    }

    #[test]
    fn refuses_past_the_limit_and_frees_on_drop() {
        let b = budget(Some(100));
        let first = b.try_reserve(60).unwrap();
        assert!(b.admit().is_ok());
        let err = b.try_reserve(50).unwrap_err();
        assert!(err.is_retryable() && err.is_busy(), "{err}");
        assert_eq!(b.used(), 60, "a refusal takes nothing");
        let second = b.try_reserve(40).unwrap();
        assert_eq!(b.used(), 100);
        assert!(b.admit().is_err(), "spent at the limit");
        drop(first);
        assert!(b.admit().is_ok());
        drop(second);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn accepted_data_and_a_lone_oversized_batch_get_in() {
        let b = budget(Some(100));
        let big = b.try_reserve(500).unwrap();
        assert!(b.try_reserve(1).is_err());
        let kept = b.reserve(300);
        assert_eq!(b.used(), 800);
        drop((big, kept));
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn unlimited_counts_but_never_refuses() {
        let b = budget(None);
        let l = b.try_reserve(u64::MAX / 2).unwrap();
        assert!(b.admit().is_ok());
        drop(l);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn the_limit_comes_from_the_environment_or_the_memory() {
        let gib = 1 << 30;
        assert_eq!(
            MemoryBudget::configured(None, Some(24 * gib)),
            Ok(Some(64 * MIB))
        );
        assert_eq!(
            MemoryBudget::configured(None, Some(512 * MIB)),
            Ok(Some(512 * MIB / 20))
        );
        assert_eq!(
            MemoryBudget::configured(None, Some(64 * MIB)),
            Ok(Some(16 * MIB))
        );
        assert_eq!(MemoryBudget::configured(None, None), Ok(Some(64 * MIB)));
        assert_eq!(
            MemoryBudget::configured(Some("128"), None),
            Ok(Some(128 * MIB))
        );
        assert_eq!(MemoryBudget::configured(Some("0"), None), Ok(None));
        let err = MemoryBudget::configured(Some("lots"), None).unwrap_err();
        assert!(
            err.contains("FERROTEL_MEMORY_BUDGET_MIB") && err.contains("lots"),
            "{err}"
        );
    }

    #[test]
    fn self_metrics_show_use_limit_and_refusals() {
        let t = Telemetry::new();
        let b = MemoryBudget::new(Some(10), &t);
        let _l = b.try_reserve(10).unwrap();
        let _ = b.admit();
        let text = t.render();
        assert!(
            text.contains("ferrotel_memory_budget_used_bytes 10"),
            "{text}"
        );
        assert!(
            text.contains("ferrotel_memory_budget_limit_bytes 10"),
            "{text}"
        );
        assert!(
            text.contains("ferrotel_memory_budget_refused_requests"),
            "{text}"
        );
    }
}
