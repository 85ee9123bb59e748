//! The `tail_sampling` processor (traces): buffers spans by trace id and, `decision_wait` after
//! a trace's first span, evaluates the policies on the whole trace and forwards it or drops
//! it, with otelcol's policies, decision precedence (drop, then inverted not-sampled, then
//! sampled), late-span handling (a remembered decision or a decision cache applies at once),
//! and self-metrics. Memory is bounded by `num_traces` and by a byte budget
//! (`max_buffered_bytes`, a ferrotel extension; `maximum_trace_size_bytes` caps one trace).
//! Where otelcol drops a trace evicted before its decision, ferrotel decides it early on the
//! spans it has (still counted as `sampling_trace_dropped_too_early`). Decisions are made on a
//! tick (1s, or `decision_wait` when shorter) from an arrival-ordered queue, so a tick only
//! touches the traces that are due; sampled traces decided in one tick leave as one request,
//! without the original request metadata (as otelcol). `ottl_condition` policies evaluate OTTL
//! conditions (the `ferrotel-ottl` crate) on every span and span event; an evaluation error
//! under `error_mode: propagate` counts in `sampling_policy_evaluation_error` and leaves the
//! decision to the other policies.
//!
//! ```yaml
//! processors:
//!   tail_sampling:
//!     decision_wait: 10s
//!     num_traces: 100000
//!     decision_cache: {sampled_cache_size: 100000, non_sampled_cache_size: 100000}
//!     maximum_trace_size_bytes: 1048576
//!     max_buffered_bytes: 256MiB
//!     policies:
//!       - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
//!       - {name: slow, type: latency, latency: {threshold_ms: 5000}}
//!       - {name: ten-percent, type: probabilistic, probabilistic: {sampling_percentage: 10}}
//!       - name: checkout
//!         type: ottl_condition
//!         ottl_condition:
//!           error_mode: ignore
//!           span: ['attributes["http.route"] == "/checkout"']
//!           spanevent: ['name == "exception"']
//!       - name: no-health-checks
//!         type: drop
//!         drop:
//!           drop_sub_policy:
//!             - {name: health, type: string_attribute, string_attribute: {key: url.path, values: [/health]}}
//! ```

mod config;
pub mod policy;
mod store;

pub use config::{
    AndConfig, BooleanAttributeConfig, BytesLimitingConfig, CompositeConfig, DecisionCacheConfig,
    DropConfig, LatencyConfig, NumericAttributeConfig, OttlConditionConfig, OttlErrorMode,
    PolicyConfig, PolicyType, ProbabilisticConfig, RateAllocationConfig, RateLimitingConfig,
    SpanCountConfig, StatusCode, StatusCodeConfig, StringAttributeConfig, TailSamplingConfig,
    TraceStateConfig,
};

use ferrotel_config::ConfigErrors;
use ferrotel_core::error::code;
use ferrotel_core::telemetry::{Counter, Gauge, Histogram};
use ferrotel_core::{
    Batch, CreateContext, Data, Factory, FactoryInfo, PipelineError, Processor, RequestMeta,
    Signal, Stability, Telemetry,
};
use policy::{combine, Clock, Decision, Outcome, Policy, TraceView};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use store::{trace_id, Builder, ResourceInfo, Route, ScopeInfo, Store, Trace, TraceId};
use tokio::sync::Notify;

/// otelcol's decision tick.
const MAX_TICK: Duration = Duration::from_secs(1);
/// Shortest tick, so a tiny `decision_wait` does not spin the tick task.
const MIN_TICK: Duration = Duration::from_millis(10);
/// Traces decided per lock hold on a tick, so requests are not held up by a long tick.
const DECISIONS_PER_LOCK: usize = 1024;
/// otelcol's buckets for the decision latencies.
const LATENCY_BOUNDS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0, 750.0, 1000.0,
    2000.0, 3000.0, 4000.0, 5000.0, 10000.0, 20000.0, 30000.0, 50000.0,
];
/// Default OpenTelemetry histogram buckets, for the ages in seconds.
const AGE_BOUNDS: &[f64] = &[
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];
const PREFIX: &str = "otelcol_processor_tail_sampling_";

/// Builds `tail_sampling` processors.
pub struct TailSamplingProcessorFactory;

impl Factory for TailSamplingProcessorFactory {
    type Config = TailSamplingConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "tail_sampling",
            "Samples whole traces by policies once all their spans have arrived",
        )
        .signal(Signal::Traces, Stability::Beta)
        .example("{decision_wait: 1s, policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]}")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: TailSamplingConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        Ok(Box::new(TailSamplingProcessor::new(
            &cfg,
            &ctx.telemetry,
            ctx.wake.clone(),
        )))
    }
}

/// A top-level policy with its counters (`count_traces_sampled` by decision).
struct Slot {
    policy: Policy,
    sampled: Counter,
    not_sampled: Counter,
    dropped: Counter,
}

struct Metrics {
    global_sampled: Counter,
    global_not_sampled: Counter,
    global_dropped: Counter,
    decision_latency: Histogram,
    timer_latency: Histogram,
    late_span_age: Histogram,
    removal_age: Histogram,
    dropped_too_early: Counter,
    dropped_too_large: Counter,
    traces_on_memory: Gauge,
    new_traces: Counter,
    early_release_sampled: Counter,
    early_release_not_sampled: Counter,
    evaluation_errors: Counter,
}

fn name(n: &str) -> String {
    format!("{PREFIX}{n}")
}

impl Metrics {
    fn new(t: &Telemetry) -> Self {
        let global = |sampled: &str, decision: &str| {
            t.counter(
                &name("global_count_traces_sampled"),
                "Global count of traces that were sampled or not by at least one policy",
                &[("sampled", sampled), ("decision", decision)],
            )
        };
        let early = |sampled: &str| {
            t.counter(
                &name("early_releases_from_cache_decision"),
                "Number of spans that were able to be immediately released due to a decision cache hit.",
                &[("sampled", sampled)],
            )
        };
        Metrics {
            global_sampled: global("true", "sampled"),
            global_not_sampled: global("false", "not_sampled"),
            global_dropped: global("false", "dropped"),
            decision_latency: t.histogram(
                &name("sampling_decision_latency"),
                "Latency (in microseconds) of a given sampling policy",
                &[],
                LATENCY_BOUNDS,
            ),
            timer_latency: t.histogram(
                &name("sampling_decision_timer_latency"),
                "Latency (in milliseconds) of each run of the sampling decision timer",
                &[],
                LATENCY_BOUNDS,
            ),
            late_span_age: t.histogram(
                &name("sampling_late_span_age"),
                "Time (in seconds) from the sampling decision was taken and the arrival of a late span",
                &[],
                AGE_BOUNDS,
            ),
            removal_age: t.histogram(
                &name("sampling_trace_removal_age"),
                "Time (in seconds) from arrival of a new trace until its removal from memory",
                &[],
                AGE_BOUNDS,
            ),
            dropped_too_early: t.counter(
                &name("sampling_trace_dropped_too_early"),
                "Count of traces that needed to be dropped before the configured wait time",
                &[],
            ),
            dropped_too_large: t.counter(
                &name("traces_dropped_too_large"),
                "Count of traces dropped because they exceeded maximum_trace_size_bytes",
                &[],
            ),
            traces_on_memory: t.gauge(
                &name("sampling_traces_on_memory"),
                "Tracks the number of traces current on memory",
                &[],
            ),
            new_traces: t.counter(
                &name("new_trace_id_received"),
                "Counts the arrival of new traces",
                &[],
            ),
            early_release_sampled: early("true"),
            early_release_not_sampled: early("false"),
            evaluation_errors: t.counter(
                &name("sampling_policy_evaluation_error"),
                "Count of sampling policy evaluation errors",
                &[],
            ),
        }
    }
}

struct State {
    store: Store,
    /// Drop policies first (they short-circuit), then the others in config order.
    policies: Vec<Slot>,
    /// Traces decided early (evicted) and sampled, emitted on the next tick.
    ready: Vec<Trace>,
    ready_bytes: u64,
    /// Last value added to the shared `sampling_traces_on_memory` gauge.
    reported: i64,
}

/// The `tail_sampling` processor (see the module documentation).
pub struct TailSamplingProcessor {
    decision_wait: Duration,
    max_trace_bytes: u64,
    max_buffered_bytes: u64,
    sample_on_first_match: bool,
    drop_pending_on_shutdown: bool,
    wake: Arc<Notify>,
    state: Mutex<State>,
    metrics: Metrics,
}

impl TailSamplingProcessor {
    /// The processor of a validated config (`decode_valid`, or the framework's). `wake` asks
    /// the engine for an `on_tick` call now (early-decided traces are waiting).
    pub fn new(cfg: &TailSamplingConfig, telemetry: &Telemetry, wake: Arc<Notify>) -> Self {
        let built = cfg.policies();
        let (drops, others): (Vec<Policy>, Vec<Policy>) =
            built.into_iter().partition(Policy::is_drop);
        let policies = drops
            .into_iter()
            .chain(others)
            .map(|policy| {
                let c = |sampled: &str, decision: &str| {
                    telemetry.counter(
                        &name("count_traces_sampled"),
                        "Count of traces that were sampled or not per sampling policy",
                        &[
                            ("policy", policy.name.as_str()),
                            ("sampled", sampled),
                            ("decision", decision),
                        ],
                    )
                };
                Slot {
                    sampled: c("true", "sampled"),
                    not_sampled: c("false", "not_sampled"),
                    dropped: c("false", "dropped"),
                    policy,
                }
            })
            .collect();
        let cache = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        TailSamplingProcessor {
            decision_wait: cfg.decision_wait.0,
            max_trace_bytes: cfg.maximum_trace_size_bytes.0,
            max_buffered_bytes: cfg.max_buffered_bytes.0,
            sample_on_first_match: cfg.sample_on_first_match,
            drop_pending_on_shutdown: cfg.drop_pending_traces_on_shutdown,
            wake,
            state: Mutex::new(State {
                store: Store::new(
                    cache(cfg.num_traces),
                    cache(cfg.decision_cache.sampled_cache_size),
                    cache(cfg.decision_cache.non_sampled_cache_size),
                ),
                policies,
                ready: Vec::new(),
                ready_bytes: 0,
                reported: 0,
            }),
            metrics: Metrics::new(telemetry),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Traces in memory (pending and decided) and bytes buffered (pending and ready).
    pub fn usage(&self) -> (usize, u64) {
        let st = self.lock();
        (
            st.store.traces_in_memory(),
            st.store.pending_bytes() + st.ready_bytes,
        )
    }

    /// Evaluates the policies on a trace, counting per-policy and global decisions.
    fn decide(&self, st: &mut State, id: &TraceId, trace: &Trace, clock: &Clock) -> Outcome {
        let view = TraceView {
            id,
            chunks: &trace.chunks,
            span_count: i64::try_from(trace.spans).unwrap_or(i64::MAX),
            bytes: trace.bytes,
        };
        let mut decisions = Vec::with_capacity(st.policies.len());
        for slot in st.policies.iter_mut() {
            let start = Instant::now();
            let d = slot.policy.evaluate(&view, clock);
            self.metrics
                .decision_latency
                .record(start.elapsed().as_micros() as f64);
            match d {
                Decision::Sampled | Decision::InvertSampled => slot.sampled.inc(),
                Decision::NotSampled | Decision::InvertNotSampled => slot.not_sampled.inc(),
                Decision::Dropped => slot.dropped.inc(),
                Decision::Error => self.metrics.evaluation_errors.inc(),
            }
            decisions.push(d);
            if d == Decision::Dropped || (self.sample_on_first_match && d == Decision::Sampled) {
                break;
            }
        }
        let outcome = combine(&decisions);
        match outcome {
            Outcome::Sampled => self.metrics.global_sampled.inc(),
            Outcome::NotSampled => self.metrics.global_not_sampled.inc(),
            Outcome::Dropped => self.metrics.global_dropped.inc(),
        }
        outcome
    }

    /// Decides a trace that must leave before its time (memory bounds); a sampled one waits in
    /// `ready` for the next tick. `keep` remembers the decision for its late spans.
    fn decide_early(&self, st: &mut State, id: TraceId, trace: Trace, keep: bool, now: Instant) {
        self.metrics.dropped_too_early.inc();
        let outcome = self.decide(st, &id, &trace, &Clock::now());
        st.store
            .record(id, outcome.sampled(), trace.arrived, now, keep);
        if !keep {
            self.metrics
                .removal_age
                .record(now.duration_since(trace.arrived).as_secs_f64());
        }
        if outcome.sampled() {
            st.ready_bytes += trace.bytes;
            st.ready.push(trace);
            self.wake.notify_one();
        }
    }

    /// Makes room for one more trace among `num_traces`: forgets the oldest decision, or
    /// evicts the oldest pending trace.
    fn make_room(&self, st: &mut State, now: Instant) {
        while st.store.is_full() {
            if let Some(arrived) = st.store.forget_oldest_decided() {
                self.metrics
                    .removal_age
                    .record(now.duration_since(arrived).as_secs_f64());
            } else if let Some((id, trace)) = st.store.pop_oldest(|_| true) {
                self.decide_early(st, id, trace, false, now);
            } else {
                break;
            }
        }
    }

    /// Keeps the buffered bytes within the budget by deciding the oldest pending traces early.
    fn enforce_budget(&self, st: &mut State, now: Instant) {
        if self.max_buffered_bytes == 0 {
            return;
        }
        while st.store.pending_bytes() + st.ready_bytes > self.max_buffered_bytes {
            let Some((id, trace)) = st.store.pop_oldest(|_| true) else {
                break;
            };
            self.decide_early(st, id, trace, true, now);
        }
    }

    fn sync_gauge(&self, st: &mut State) {
        let n = st.store.traces_in_memory() as i64;
        self.metrics.traces_on_memory.add(n - st.reported);
        st.reported = n;
    }

    /// Decides due traces (all when `all`) and emits what was sampled, with the early-decided
    /// traces waiting in `ready`, as one request.
    fn emit(&self, all: bool, out: &mut Vec<Batch>) {
        let start = Instant::now();
        let mut builder = Builder::default();
        loop {
            let now = Instant::now();
            let due = |arrived: Instant| all || arrived + self.decision_wait <= now;
            let clock = Clock::now();
            let mut st = self.lock();
            for t in std::mem::take(&mut st.ready) {
                builder.push_trace(t);
            }
            st.ready_bytes = 0;
            let mut n = 0;
            while n < DECISIONS_PER_LOCK {
                let Some((id, trace)) = st.store.pop_oldest(due) else {
                    break;
                };
                n += 1;
                if all && self.drop_pending_on_shutdown {
                    continue;
                }
                let outcome = self.decide(&mut st, &id, &trace, &clock);
                st.store
                    .record(id, outcome.sampled(), trace.arrived, now, true);
                if outcome.sampled() {
                    builder.push_trace(trace);
                }
            }
            self.sync_gauge(&mut st);
            if n < DECISIONS_PER_LOCK {
                break;
            }
        }
        self.metrics
            .timer_latency
            .record(start.elapsed().as_millis() as f64);
        if let Some(req) = builder.finish() {
            out.push(Batch::from_data(Data::Traces(req), Arc::default()));
        }
    }
}

impl Processor for TailSamplingProcessor {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        if batch.signal() != Signal::Traces {
            out.push(batch);
            return Ok(());
        }
        if batch.item_count() == 0 {
            return Ok(());
        }
        if self.max_buffered_bytes > 0 {
            let st = self.lock();
            if st.ready_bytes > 0
                && st.ready_bytes + batch.encoded_len() as u64 > self.max_buffered_bytes
            {
                return Err(PipelineError::refused(format!(
                    "tail_sampling buffer full: {} bytes of sampled traces wait to be sent (max_buffered_bytes {})",
                    st.ready_bytes, self.max_buffered_bytes
                )));
            }
        }
        let meta: Arc<RequestMeta> = batch.meta.clone();
        let Data::Traces(req) = batch.into_data().map_err(|e| PipelineError::Status {
            code: code::INVALID_ARGUMENT,
            message: e.0,
        })?
        else {
            return Ok(());
        };
        let now = Instant::now();
        let mut late = Builder::default();
        let mut st = self.lock();
        for rs in req.resource_spans {
            let res = Arc::new(ResourceInfo::new(rs.resource, rs.schema_url));
            for ss in rs.scope_spans {
                let scope = Arc::new(ScopeInfo::new(ss.scope, ss.schema_url));
                for span in ss.spans {
                    let id = trace_id(&span.trace_id);
                    match st.store.route(&id) {
                        Route::Cached { sampled } => {
                            if sampled {
                                self.metrics.early_release_sampled.inc();
                                late.push_span(&res, &scope, span);
                            } else {
                                self.metrics.early_release_not_sampled.inc();
                            }
                            continue;
                        }
                        Route::Decided { sampled, at } => {
                            self.metrics
                                .late_span_age
                                .record(now.duration_since(at).as_secs() as f64);
                            if sampled {
                                late.push_span(&res, &scope, span);
                            }
                            continue;
                        }
                        Route::Pending => {}
                        Route::New => {
                            self.make_room(&mut st, now);
                            st.store.insert(id, now);
                            self.metrics.new_traces.inc();
                        }
                    }
                    let size = st.store.append(&id, &res, &scope, span).unwrap_or(0);
                    if self.max_trace_bytes > 0 && size > self.max_trace_bytes {
                        if let Some(t) = st.store.remove(&id) {
                            self.metrics.dropped_too_large.inc();
                            st.store.record(id, false, t.arrived, now, true);
                        }
                    }
                    self.enforce_budget(&mut st, now);
                }
            }
        }
        self.sync_gauge(&mut st);
        drop(st);
        if let Some(req) = late.finish() {
            out.push(Batch::from_data(Data::Traces(req), meta));
        }
        Ok(())
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.decision_wait.clamp(MIN_TICK, MAX_TICK))
    }

    fn on_tick(&self, out: &mut Vec<Batch>) {
        self.emit(false, out);
    }

    fn flush(&self, out: &mut Vec<Batch>) {
        self.emit(true, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
