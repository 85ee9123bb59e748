//! The `memory_limiter` processor: measures the process's resident memory every
//! `check_interval` on a background thread and, while it is above the soft limit (`limit -
//! spike`), refuses data with a retryable error (gRPC UNAVAILABLE, HTTP 503), both before a
//! receiver reads a request body (`admit`, one atomic load) and in the pipeline. Above the hard
//! limit it gives freed heap memory back to the OS (glibc `malloc_trim`), at most every
//! `min_gc_interval_when_hard_limited` (above the soft limit, every
//! `min_gc_interval_when_soft_limited`). otelcol measures the Go heap; ferrotel, with no garbage
//! collector, measures the resident set size, which is what container limits count.
//!
//! Two things keep the limit when large requests arrive faster than `check_interval`: `admit`
//! measures again itself when the last measurement is more than a millisecond old (so a burst
//! is refused as soon as it shows, not up to `check_interval` later), and glibc is told to
//! give blocks of 128 KiB or more back to the OS as soon as they are freed, so the memory of a
//! request that has been exported stops counting at once. What can still exceed the soft limit
//! is the memory of requests already admitted and of export attempts in flight; size
//! `spike_limit_mib` for that (about: concurrent large requests x their size x 2, plus the
//! exporters' `num_consumers` x the largest batch).
//!
//! ```yaml
//! processors:
//!   memory_limiter:
//!     check_interval: 1s
//!     limit_mib: 4000
//!     spike_limit_mib: 800
//!     # or, of the cgroup's (or host's) memory:
//!     # limit_percentage: 80
//!     # spike_limit_percentage: 20
//! ```

mod config;
mod system;

pub use config::{Limits, MemoryLimiterConfig};
pub use ferrotel_core::host_memory::{parse_cgroup_limit, parse_meminfo_total, total_memory};
pub use system::ProcessMemory;

use ferrotel_config::ConfigErrors;
use ferrotel_core::telemetry::{item_suffix, Counter};
use ferrotel_core::{
    Batch, CreateContext, Factory, FactoryInfo, Form, PipelineError, Processor, Signal, Stability,
    Telemetry,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// `admit` measures again when the last measurement is older than this.
const ADMIT_REFRESH: Duration = Duration::from_millis(1);

/// otelcol's refusal message.
const REFUSED: &str = "data refused due to high memory usage";

/// Where the limiter reads memory usage from; tests inject their own.
pub trait MemoryProbe: Send + Sync + 'static {
    /// Bytes the process uses now, `None` if unknown (then nothing changes).
    fn used(&self) -> Option<u64>;
    /// Gives freed memory back to the OS.
    fn release(&self);
}

/// Builds `memory_limiter` processors.
pub struct MemoryLimiterFactory;

impl Factory for MemoryLimiterFactory {
    type Config = MemoryLimiterConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "memory_limiter",
            "Refuses data while the process's memory is above a limit",
        )
        .all_signals(Stability::Beta)
        .example("{check_interval: 1s, limit_mib: 4000, spike_limit_mib: 800}")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: MemoryLimiterConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        let limits = cfg.limits(total_memory()).map_err(|e| ctx.error(e))?;
        system::set_malloc_thresholds();
        let mut limiter = MemoryLimiter::new(
            &cfg,
            limits,
            Arc::new(ProcessMemory::new()),
            &ctx.id.to_string(),
            &ctx.telemetry,
            ctx.signal,
        );
        // Memory is the process's: the pipelines using this limiter share one checker (and its
        // refusal state), as otelcol shares one limiter per component.
        let key = format!("{}|{cfg:?}|{limits:?}", ctx.id);
        limiter
            .start_shared(key)
            .map_err(|e| ctx.error(format!("cannot start the memory check thread: {e}")))?;
        Ok(Box::new(limiter))
    }
}

/// Accepted and refused item counters of one signal.
struct SignalCounters {
    accepted: Counter,
    refused: Counter,
}

/// The state the checker thread and the processor share.
struct Checker {
    id: String,
    limits: Limits,
    probe: Arc<dyn MemoryProbe>,
    min_release_soft: Duration,
    min_release_hard: Duration,
    refusing: AtomicBool,
    last_release: Mutex<Option<Instant>>,
    /// Time origin of `last_measured`.
    epoch: Instant,
    /// Nanoseconds after `epoch` of the last measurement.
    last_measured: AtomicU64,
}

impl Checker {
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Measures again if the last measurement is older than [`ADMIT_REFRESH`] and no other
    /// thread is measuring already; never gives memory back (that can take milliseconds).
    fn refresh_if_stale(&self) {
        let now = self.now_nanos();
        let last = self.last_measured.load(Ordering::Relaxed);
        let stale = now.saturating_sub(last) >= ADMIT_REFRESH.as_nanos() as u64;
        if stale
            && self
                .last_measured
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            if let Some(used) = self.probe.used() {
                self.decide(used);
            }
        }
    }

    /// One measurement: gives memory back if due, then decides whether to refuse.
    fn check(&self) {
        self.last_measured
            .store(self.now_nanos(), Ordering::Relaxed);
        let Some(mut used) = self.probe.used() else {
            return;
        };
        if used >= self.limits.soft {
            let (min_interval, hard) = if used >= self.limits.hard {
                (self.min_release_hard, true)
            } else {
                (self.min_release_soft, false)
            };
            let mut last = self.last_release.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_none_or(|t| t.elapsed() >= min_interval) {
                if hard {
                    tracing::warn!(processor = %self.id, cur_mem_mib = used >> 20, "Memory usage is above hard limit. Releasing free memory to the OS.");
                } else {
                    tracing::info!(processor = %self.id, cur_mem_mib = used >> 20, "Memory usage is above soft limit. Releasing free memory to the OS.");
                }
                self.probe.release();
                *last = Some(Instant::now());
                used = self.probe.used().unwrap_or(used);
            }
        }
        self.decide(used);
    }

    /// Refuses data from now on if `used` is at or above the soft limit, accepts it otherwise.
    fn decide(&self, used: u64) {
        let refuse = used >= self.limits.soft;
        let was = self.refusing.swap(refuse, Ordering::Relaxed);
        if refuse && !was {
            tracing::warn!(processor = %self.id, cur_mem_mib = used >> 20, soft_limit_mib = self.limits.soft >> 20, "Memory usage is above soft limit. Refusing data.");
        } else if !refuse && was {
            tracing::info!(processor = %self.id, cur_mem_mib = used >> 20, "Memory usage back within limits. Resuming normal operation.");
        }
    }
}

/// The `memory_limiter` processor (see the module documentation).
pub struct MemoryLimiter {
    checker: Arc<Checker>,
    check_interval: Duration,
    retry_after: Duration,
    /// Indexed by [`signal_index`]; `None` for signals this instance does not see.
    counters: [Option<SignalCounters>; 4],
    /// The checker thread this limiter uses (shared with other pipelines' instances).
    thread: Option<Arc<CheckerThread>>,
}

/// A thread checking memory every `check_interval`; it ends when this is dropped.
struct CheckerThread {
    checker: Arc<Checker>,
    _stop: mpsc::Sender<()>,
}

/// The running checker threads, by memory_limiter id and settings.
static CHECKER_THREADS: Mutex<BTreeMap<String, Weak<CheckerThread>>> = Mutex::new(BTreeMap::new());

fn signal_index(s: Signal) -> usize {
    match s {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
        Signal::Profiles => 3,
    }
}

impl MemoryLimiter {
    /// A limiter reading `probe`, checked once now; call [`MemoryLimiter::spawn_checker`] to
    /// keep checking every `check_interval` (tests call [`MemoryLimiter::check_now`]
    /// instead). Counters are registered for `signal`, or for all signals when `None`.
    pub fn new(
        cfg: &MemoryLimiterConfig,
        limits: Limits,
        probe: Arc<dyn MemoryProbe>,
        id: &str,
        telemetry: &Telemetry,
        signal: Option<Signal>,
    ) -> Self {
        let counters = [
            Signal::Traces,
            Signal::Metrics,
            Signal::Logs,
            Signal::Profiles,
        ]
        .map(|s| {
            // Without a pipeline signal: the generally available ones.
            let counted = signal.map_or(s != Signal::Profiles, |only| only == s);
            if !counted {
                return None;
            }
            let labels = [("processor", id)];
            let suffix = item_suffix(s);
            Some(SignalCounters {
                accepted: telemetry.counter(
                    &format!("otelcol_processor_memory_limiter_accepted_{suffix}"),
                    &format!("Number of {suffix} successfully pushed into the next component in the pipeline."),
                    &labels,
                ),
                refused: telemetry.counter(
                    &format!("otelcol_processor_memory_limiter_refused_{suffix}"),
                    &format!("Number of {suffix} that were rejected by the next component in the pipeline."),
                    &labels,
                ),
            })
        });
        let checker = Arc::new(Checker {
            id: id.to_string(),
            limits,
            probe,
            min_release_soft: cfg.min_gc_interval_when_soft_limited.0,
            min_release_hard: cfg.min_gc_interval_when_hard_limited.0,
            refusing: AtomicBool::new(false),
            last_release: Mutex::new(None),
            epoch: Instant::now(),
            last_measured: AtomicU64::new(0),
        });
        checker.check();
        MemoryLimiter {
            checker,
            check_interval: cfg.check_interval.0,
            retry_after: cfg.check_interval.0.max(Duration::from_secs(1)),
            counters,
            thread: None,
        }
    }

    /// Starts the thread that checks memory every `check_interval` until the limiter is
    /// dropped.
    pub fn spawn_checker(&mut self) -> std::io::Result<()> {
        let (tx, rx) = mpsc::channel::<()>();
        let checker = self.checker.clone();
        let interval = self.check_interval;
        std::thread::Builder::new()
            .name("memory_limiter".into())
            .spawn(move || {
                // Ends when the last limiter using the thread (holding the sender) is dropped.
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                    checker.check();
                }
            })?;
        let checker = self.checker.clone();
        self.thread = Some(Arc::new(CheckerThread { checker, _stop: tx }));
        Ok(())
    }

    /// Uses the checker thread already running for `key` (the same limiter in another
    /// pipeline), else starts one: one measurement per `check_interval` however many
    /// pipelines use the limiter.
    fn start_shared(&mut self, key: String) -> std::io::Result<()> {
        let mut running = CHECKER_THREADS.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|_, t| t.strong_count() > 0);
        if let Some(t) = running.get(&key).and_then(Weak::upgrade) {
            self.checker = t.checker.clone();
            self.thread = Some(t);
            return Ok(());
        }
        self.spawn_checker()?;
        if let Some(t) = &self.thread {
            running.insert(key, Arc::downgrade(t));
        }
        Ok(())
    }

    /// Measures now (what the checker thread does every `check_interval`).
    pub fn check_now(&self) {
        self.checker.check();
    }

    /// Whether data is being refused.
    pub fn is_refusing(&self) -> bool {
        self.checker.refusing.load(Ordering::Relaxed)
    }

    fn refusal(&self) -> PipelineError {
        PipelineError::Refused {
            message: REFUSED.into(),
            retry_after: Some(self.retry_after),
        }
    }
}

impl Processor for MemoryLimiter {
    fn admit(&self) -> Result<(), PipelineError> {
        self.checker.refresh_if_stale();
        if self.is_refusing() {
            Err(self.refusal())
        } else {
            Ok(())
        }
    }

    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        let refusing = self.is_refusing();
        if let Some(c) = &self.counters[signal_index(batch.signal())] {
            let items = batch.item_count() as u64;
            if refusing {
                c.refused.add(items);
            } else {
                c.accepted.add(items);
            }
        }
        if refusing {
            return Err(self.refusal());
        }
        out.push(batch);
        Ok(())
    }
    fn form(&self, _signal: Signal) -> Form {
        Form::Untouched
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
