//! The `probabilistic_sampler` processor: keeps a percentage of spans or log records, decided
//! per item so that every collector with the same settings keeps the same traces. Modes:
//! `hash_seed` (the default; FNV-1a over the seed and the trace id, bit-exact with otelcol),
//! and the OTEP 235 consistent modes `proportional` and `equalizing` (randomness from the
//! tracestate `rv` or the trace id, the applied threshold written back as `th`). A span with
//! `sampling.priority` 0 is dropped, above 0 kept. Unsampled items are removed; a request left
//! empty is dropped and its client still gets success. It decides on the shared payload and
//! only copies it when it must drop items or write a tracestate.
//!
//! ```yaml
//! processors:
//!   probabilistic_sampler:
//!     sampling_percentage: 15.3
//!     hash_seed: 22
//!   probabilistic_sampler/logs:
//!     sampling_percentage: 10
//!     attribute_source: record
//!     from_attribute: log.id
//!     sampling_priority: priority
//! ```

pub mod otep235;

use crate::attraction::parse_go_float;
use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{ConfigErrors, Validate, Validator};
use ferrotel_core::error::code;
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::{any_value::Value as V, KeyValue};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::proto::trace::v1::Span;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::wire::{self, Edit};
use ferrotel_core::{
    format, pdata, Batch, CreateContext, Data, Factory, FactoryInfo, PipelineError, Processor,
    Signal, Stability, Telemetry,
};
use otep235::{probability_to_threshold, Randomness, Threshold, TraceState, MIN_PROBABILITY};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// `processors.probabilistic_sampler`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplerConfig {
    /// Percentage of items kept; 0 keeps none, 100 or more keeps all.
    pub sampling_percentage: f32,
    /// Seed of the hash (hash_seed mode). Collectors in layers should use different seeds.
    pub hash_seed: u32,
    /// `hash_seed` (default), `proportional` or `equalizing`. Older name: `sampler_mode`.
    #[serde(alias = "sampler_mode")]
    pub mode: Choice<SamplerMode>,
    /// Drop items whose randomness is missing or whose sampling state is invalid.
    pub fail_closed: bool,
    /// Hex digits of the threshold written as `th` (1 to 14).
    pub sampling_precision: i64,
    /// Logs: where randomness comes from, `traceID` or `record`.
    pub attribute_source: Choice<AttributeSource>,
    /// Logs: the record attribute hashed when there is no trace id or the source is `record`.
    pub from_attribute: String,
    /// Logs: a record attribute holding a sampling percentage for that record.
    pub sampling_priority: String,
}

/// How the sampler decides (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerMode {
    /// Not set: `hash_seed`.
    #[serde(rename = "")]
    Unset,
    /// FNV-1a over the seed and the trace id (or the record attribute), as otelcol.
    HashSeed,
    /// OTEP 235: multiplies the incoming sampling probability by the percentage.
    Proportional,
    /// OTEP 235: keeps the stricter of the incoming threshold and the percentage's.
    Equalizing,
}

impl Choices for SamplerMode {}

/// Where the randomness of a log record comes from (`attribute_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum AttributeSource {
    /// The record's trace id (the record attribute when it has none).
    #[serde(rename = "traceID")]
    TraceId,
    /// The record attribute `from_attribute`. otelcol reads an empty value the same way.
    #[serde(rename = "record", alias = "")]
    Record,
}

impl Choices for AttributeSource {}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            sampling_percentage: 0.0,
            hash_seed: 0,
            mode: Choice::Known(SamplerMode::Unset),
            fail_closed: true,
            sampling_precision: 4,
            attribute_source: Choice::Known(AttributeSource::TraceId),
            from_attribute: String::new(),
            sampling_priority: String::new(),
        }
    }
}

impl Validate for SamplerConfig {
    /// otelcol's validation, with its wording.
    fn validate(&self, v: &mut Validator<'_>) {
        let mut err = |field: &str, msg: String| v.report_at(field, msg);
        let pct = f64::from(self.sampling_percentage);
        if !pct.is_finite() {
            err(
                "sampling_percentage",
                format!("sampling rate is invalid: {pct:.6}%"),
            );
        } else if pct < 0.0 {
            err(
                "sampling_percentage",
                format!("sampling rate is negative: {pct:.6}%"),
            );
        } else if pct > 0.0 && pct / 100.0 < MIN_PROBABILITY {
            err(
                "sampling_percentage",
                format!("sampling rate is too small: {}%", self.sampling_percentage),
            );
        }
        if let Some(mode) = self.mode.unknown() {
            err("mode", format!("unsupported sampler mode {mode:?}"));
        }
        if let Some(source) = self.attribute_source.unknown() {
            err(
                "attribute_source",
                format!("invalid attribute source: {source}. Expected: traceID or record"),
            );
        }
        if self.sampling_precision < 1 {
            err(
                "sampling_precision",
                format!("invalid sampling precision: {}", self.sampling_precision),
            );
        } else if self.sampling_precision > 14 {
            err(
                "sampling_precision",
                format!(
                    "sampling precision is too great, should be <= 14: {}",
                    self.sampling_precision
                ),
            );
        }
    }
}

/// How a mode turns items into decisions.
#[derive(Debug, Clone)]
enum Mode {
    Never,
    Hash {
        seed: u32,
        threshold: Threshold,
        logs_trace_id: bool,
    },
    Equalizing(Threshold),
    Proportional {
        ratio: f64,
        precision: u32,
    },
}

/// Where an item's randomness came from; the `policy` label of the counters.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Missing,
    TraceIdHash(Randomness),
    TraceIdW3c(Randomness),
    Explicit(Randomness),
    Priority(Randomness),
    Attribute(String, Randomness),
}

impl Source {
    fn randomness(&self) -> Randomness {
        match self {
            Source::Missing => Randomness::ALL,
            Source::TraceIdHash(r)
            | Source::TraceIdW3c(r)
            | Source::Explicit(r)
            | Source::Priority(r)
            | Source::Attribute(_, r) => *r,
        }
    }
    fn policy(&self) -> &str {
        match self {
            Source::Missing => "missing_randomness",
            Source::TraceIdHash(_) => "trace_id_hash",
            Source::TraceIdW3c(_) => "trace_id_w3c",
            Source::Explicit(_) => "sampling_randomness",
            Source::Priority(_) => "sampling_priority",
            Source::Attribute(name, _) => name,
        }
    }
}

/// The sampling state an item carries: a span's tracestate or a log record's
/// `sampling.randomness` / `sampling.threshold` attributes (same model).
type Carrier = TraceState;

/// What happens to one item.
#[derive(Debug, Clone)]
enum Decision<W> {
    Drop,
    Keep,
    /// Keep and write (the new tracestate, or log attributes to set).
    Write(W),
}

/// The processor.
pub struct ProbabilisticSampler {
    mode: Mode,
    fail_closed: bool,
    precision: u32,
    from_attribute: String,
    priority_attribute: String,
    telemetry: Telemetry,
    id: String,
    counters: Mutex<HashMap<(Signal, String, bool), Vec<Counter>>>,
}

const SPANS_METRIC: &str = "otelcol_processor_probabilistic_sampler_count_spans_processed_total";
const TRACES_METRIC_DEPRECATED: &str =
    "otelcol_processor_probabilistic_sampler_count_traces_sampled";
const LOGS_METRIC: &str = "otelcol_processor_probabilistic_sampler_count_logs_sampled";

fn trace_id(bytes: &[u8]) -> Option<[u8; 16]> {
    let id: [u8; 16] = bytes.try_into().ok()?;
    (id != [0; 16]).then_some(id)
}

impl ProbabilisticSampler {
    /// Builds the sampler for `signal` (logs choose hash_seed when the source is a record).
    pub fn new(
        cfg: &SamplerConfig,
        signal: Option<Signal>,
        telemetry: Telemetry,
        id: String,
    ) -> ProbabilisticSampler {
        let pct = cfg.sampling_percentage.min(100.0);
        let is_logs = signal == Some(Signal::Logs);
        let from_trace_id = cfg.attribute_source == Choice::Known(AttributeSource::TraceId);
        let mode = match cfg.mode.known() {
            Some(SamplerMode::Unset) if cfg.hash_seed != 0 || (is_logs && !from_trace_id) => {
                SamplerMode::HashSeed
            }
            Some(SamplerMode::Unset) | None => SamplerMode::HashSeed,
            Some(m) => m,
        };
        let precision = u32::try_from(cfg.sampling_precision.clamp(1, 14)).unwrap_or(4);
        let ratio = (f64::from(pct) / 100.0).max(MIN_PROBABILITY);
        let mode = if pct <= 0.0 {
            Mode::Never
        } else {
            match mode {
                SamplerMode::Equalizing => Mode::Equalizing(
                    probability_to_threshold(ratio, precision).unwrap_or(Threshold::ALWAYS),
                ),
                SamplerMode::Proportional => Mode::Proportional { ratio, precision },
                _ => {
                    // As otelcol: the multiply happens in float32 and truncates.
                    let scaled = (pct * 163.84_f32) as u32;
                    if scaled == 0 {
                        Mode::Never
                    } else {
                        Mode::Hash {
                            seed: cfg.hash_seed,
                            threshold: Threshold(u64::from(16384 - scaled.min(16384)) << 42),
                            logs_trace_id: from_trace_id,
                        }
                    }
                }
            }
        };
        ProbabilisticSampler {
            mode,
            fail_closed: cfg.fail_closed,
            precision,
            from_attribute: cfg.from_attribute.clone(),
            priority_attribute: cfg.sampling_priority.clone(),
            telemetry,
            id,
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// The threshold the mode applies, given the item's sampling state.
    fn decide(&self, carrier: Option<&Carrier>) -> Threshold {
        let incoming = carrier.and_then(|c| c.th.as_ref()).map(|(t, _)| *t);
        match &self.mode {
            Mode::Never => Threshold::NEVER,
            Mode::Hash { threshold, .. } => *threshold,
            Mode::Equalizing(t) => incoming.map_or(*t, |i| i.max(*t)),
            Mode::Proportional { ratio, precision } => {
                let p = incoming.map_or(1.0, Threshold::probability) * ratio;
                probability_to_threshold(p, *precision).unwrap_or(Threshold::NEVER)
            }
        }
    }

    /// The shared decision: randomness, consistency, mode, priority. Returns whether the item
    /// is kept, the carrier to write back (if any), and the source for the counters.
    fn common(
        &self,
        mut src: Source,
        mut carrier: Option<Carrier>,
        mut failed: bool,
        priority: Option<Threshold>,
    ) -> (bool, Option<Carrier>, Source) {
        if !failed {
            if src == Source::Missing {
                failed = true;
            } else if let Some(c) = carrier.as_mut() {
                if c.th
                    .as_ref()
                    .is_some_and(|(t, _)| !t.should_sample(src.randomness()))
                {
                    c.clear_th();
                    failed = true;
                }
            }
        }
        let mut threshold = if failed {
            if self.fail_closed {
                Threshold::NEVER
            } else {
                Threshold::ALWAYS
            }
        } else {
            self.decide(carrier.as_ref())
        };
        if let Some(p) = priority {
            threshold = p;
            src = Source::Priority(src.randomness());
        }
        let sampled = threshold.should_sample(src.randomness());
        let carrier = carrier.filter(|_| sampled).map(|mut c| {
            c.update_th(threshold);
            c
        });
        (sampled, carrier, src)
    }

    fn span(&self, span: &Span) -> (Decision<String>, Source) {
        let priority = span_priority(&span.attributes);
        self.span_decision(&span.trace_id, &span.trace_state, priority)
    }

    /// A span's decision from its trace id, tracestate and `sampling.priority`.
    fn span_decision(
        &self,
        trace_id_bytes: &[u8],
        trace_state: &str,
        priority: Option<Threshold>,
    ) -> (Decision<String>, Source) {
        let tid = trace_id(trace_id_bytes);
        let parsed = TraceState::parse(trace_state);
        let (src, carrier, failed) = match &self.mode {
            Mode::Never => {
                let failed = parsed.is_err();
                (Source::Priority(Randomness::ALL), parsed.ok(), failed)
            }
            Mode::Hash { seed, .. } => {
                let src = tid.map_or(Source::Missing, |id| {
                    Source::TraceIdHash(Randomness::from_hash(&id, *seed))
                });
                // The carrier gets the hash as its `rv` once the span is kept (below).
                match parsed {
                    Ok(ts) if ts.rv.is_some() || ts.th.is_some() => (src, None, true),
                    Ok(ts) => (src, Some(ts), false),
                    Err(_) => (src, None, true),
                }
            }
            Mode::Equalizing(_) | Mode::Proportional { .. } => match parsed {
                Ok(ts) => {
                    let src = match (&ts.rv, tid) {
                        (Some((r, _)), _) => Source::Explicit(*r),
                        (None, Some(id)) => Source::TraceIdW3c(Randomness::from_trace_id(&id)),
                        (None, None) => Source::Missing,
                    };
                    (src, Some(ts), false)
                }
                Err(_) => (Source::Missing, None, true),
            },
        };
        let (sampled, carrier, src) = self.common(src, carrier, failed, priority);
        let decision = match (sampled, carrier) {
            (false, _) => Decision::Drop,
            (true, Some(mut c)) => {
                if matches!(self.mode, Mode::Hash { .. }) {
                    c.set_rv(src.randomness());
                }
                let ts = c.serialize();
                if ts == trace_state {
                    Decision::Keep
                } else {
                    Decision::Write(ts)
                }
            }
            (true, None) => Decision::Keep,
        };
        (decision, src)
    }

    fn log(&self, rec: &LogRecord) -> (Decision<Vec<KeyValue>>, Source) {
        let (parsed, parse_failed) = log_carrier(&rec.attributes);
        let tid = trace_id(&rec.trace_id);
        let attr_source = |seed: u32| -> Option<Source> {
            if self.from_attribute.is_empty() {
                return None;
            }
            let v = pdata::attr(&rec.attributes, &self.from_attribute)?;
            let bytes = match v {
                V::BytesValue(b) => b.clone(),
                other => format::value_as_string(Some(other)).into_bytes(),
            };
            (!bytes.is_empty()).then(|| {
                Source::Attribute(
                    self.from_attribute.clone(),
                    Randomness::from_hash(&bytes, seed),
                )
            })
        };
        let (src, carrier, failed) = match &self.mode {
            Mode::Never => (
                Source::Priority(Randomness::ALL),
                (!parse_failed).then_some(parsed),
                parse_failed,
            ),
            Mode::Hash {
                seed,
                logs_trace_id,
                ..
            } => {
                let from_tid = tid
                    .filter(|_| *logs_trace_id)
                    .map(|id| Source::TraceIdHash(Randomness::from_hash(&id, *seed)));
                let src = from_tid
                    .or_else(|| attr_source(*seed))
                    .unwrap_or(Source::Missing);
                if parse_failed || parsed.rv.is_some() || parsed.th.is_some() {
                    (src, None, true)
                } else {
                    let mut c = parsed;
                    if src != Source::Missing {
                        c.set_rv(src.randomness());
                    }
                    (src, Some(c), false)
                }
            }
            Mode::Equalizing(_) | Mode::Proportional { .. } => {
                if parse_failed {
                    (Source::Missing, None, true)
                } else {
                    let src = match (&parsed.rv, tid) {
                        (Some((r, _)), _) => Source::Explicit(*r),
                        (None, Some(id)) => Source::TraceIdW3c(Randomness::from_trace_id(&id)),
                        (None, None) => Source::Missing,
                    };
                    (src, Some(parsed), false)
                }
            }
        };
        let priority = self.log_priority(&rec.attributes);
        let (sampled, carrier, src) = self.common(src, carrier, failed, priority);
        if !sampled {
            return (Decision::Drop, src);
        }
        let mut writes = vec![];
        if let Some(c) = carrier {
            for (key, val) in [
                ("sampling.randomness", c.rv.map(|(_, s)| s)),
                ("sampling.threshold", c.th.map(|(_, s)| s)),
            ] {
                if let Some(val) = val {
                    if pdata::attr_str(&rec.attributes, key) != Some(val.as_str()) {
                        writes.push(KeyValue {
                            key: key.into(),
                            value: Some(ferrotel_core::proto::common::v1::AnyValue {
                                value: Some(V::StringValue(val)),
                            }),
                            ..Default::default()
                        });
                    }
                }
            }
        }
        let d = if writes.is_empty() {
            Decision::Keep
        } else {
            Decision::Write(writes)
        };
        (d, src)
    }

    /// Logs: the record's own sampling percentage (0 never, 100 or more always).
    fn log_priority(&self, attrs: &[KeyValue]) -> Option<Threshold> {
        if self.priority_attribute.is_empty() {
            return None;
        }
        let pct = match pdata::attr(attrs, &self.priority_attribute)? {
            V::IntValue(i) => *i as f64,
            V::DoubleValue(d) => *d,
            _ => return None,
        };
        let p = pct / 100.0;
        if p == 0.0 {
            Some(Threshold::NEVER)
        } else if p >= 1.0 {
            Some(Threshold::ALWAYS)
        } else {
            probability_to_threshold(p, self.precision)
        }
    }

    fn count(&self, signal: Signal, tally: Vec<(String, bool, u64)>) {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        for (policy, sampled, n) in tally {
            let key = (signal, policy, sampled);
            let cs = counters.entry(key.clone()).or_insert_with(|| {
                let s = if sampled { "true" } else { "false" };
                let labels = [
                    ("processor", self.id.as_str()),
                    ("policy", key.1.as_str()),
                    ("sampled", s),
                ];
                let names: &[&str] = if signal == Signal::Logs {
                    &[LOGS_METRIC]
                } else {
                    &[SPANS_METRIC, TRACES_METRIC_DEPRECATED]
                };
                names
                    .iter()
                    .map(|name| {
                        self.telemetry.counter(
                            name,
                            "Count of items that were sampled or not",
                            &labels,
                        )
                    })
                    .collect()
            });
            cs.iter().for_each(|c| c.add(n));
        }
    }

    fn plan_traces(&self, req: &ExportTraceServiceRequest) -> Plan<String> {
        let items = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans);
        Plan::build(items.map(|s| self.span(s)))
    }

    /// Samples an encoded traces request without decoding it: each span's decision comes from
    /// [`span_fields`], and only the spans whose tracestate changes are re-encoded. `None` when
    /// a span does not decode.
    fn traces_encoded(&self, batch: &Batch) -> Option<(Option<Batch>, Plan<()>)> {
        let bytes = batch.encoded();
        let mut plan = Plan::new();
        let filtered = wire::filter_items(&bytes, |span| {
            let (tid, ts, priority) = span_fields(span).ok_or(())?;
            let (d, src) = self.span_decision(tid, ts, priority);
            plan.count(&d, &src);
            Ok::<_, ()>(match d {
                Decision::Drop => Edit::Drop,
                Decision::Keep => Edit::Keep,
                Decision::Write(ts) => {
                    Edit::Replace(wire::with_bytes_field(span, 3, ts.as_bytes()).map_err(|_| ())?)
                }
            })
        })
        .ok()?
        .ok()?;
        let kept = if plan.kept == 0 {
            None
        } else if plan.unchanged {
            Some(batch.clone())
        } else {
            let items = Some(plan.kept);
            Some(
                Batch::from_bytes(
                    Signal::Traces,
                    filtered.bytes.into(),
                    items,
                    batch.meta.clone(),
                )
                .keep_deliveries_of(batch),
            )
        };
        Some((kept, plan))
    }

    fn plan_logs(&self, req: &ExportLogsServiceRequest) -> Plan<Vec<KeyValue>> {
        let items = req
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records);
        Plan::build(items.map(|r| self.log(r)))
    }
}

/// Decisions for every item of a request, in order, and the counts per policy.
struct Plan<W> {
    decisions: Vec<Decision<W>>,
    /// (policy, sampled, count); a handful of distinct entries.
    tally: Vec<(String, bool, u64)>,
    kept: usize,
    unchanged: bool,
}

impl<W> Plan<W> {
    fn new() -> Plan<W> {
        Plan {
            decisions: Vec::new(),
            tally: Vec::new(),
            kept: 0,
            unchanged: true,
        }
    }

    fn build(items: impl Iterator<Item = (Decision<W>, Source)>) -> Plan<W> {
        let mut plan = Plan::new();
        for (d, src) in items {
            plan.count(&d, &src);
            plan.decisions.push(d);
        }
        plan
    }

    /// Counts one item's decision (without keeping it).
    fn count<V>(&mut self, d: &Decision<V>, src: &Source) {
        let sampled = !matches!(d, Decision::Drop);
        let policy = src.policy();
        match self
            .tally
            .iter_mut()
            .find(|(p, s, _)| *s == sampled && p == policy)
        {
            Some((_, _, n)) => *n += 1,
            None => self.tally.push((policy.to_string(), sampled, 1)),
        }
        self.kept += usize::from(sampled);
        self.unchanged &= matches!(d, Decision::Keep);
    }
}

/// Applies a plan to the items, in the order they were planned.
fn apply<T, W>(
    items: &mut Vec<T>,
    decisions: &mut impl Iterator<Item = Decision<W>>,
    write: impl Fn(&mut T, W),
) {
    items.retain_mut(|item| match decisions.next() {
        Some(Decision::Write(w)) => {
            write(item, w);
            true
        }
        Some(Decision::Keep) | None => true,
        Some(Decision::Drop) => false,
    });
}

/// What the sampler reads of an encoded span: trace id, tracestate and `sampling.priority`,
/// found without decoding the rest. `None` for what decoding would refuse (the decoding path
/// then reports it).
fn span_fields(span: &[u8]) -> Option<(&[u8], &str, Option<Threshold>)> {
    // Span fields: 1 trace_id, 3 trace_state, 9 attributes; KeyValue: 1 key.
    let (mut tid, mut ts, mut priority): (&[u8], &[u8], Option<Option<Threshold>>) =
        (&[], &[], None);
    for f in wire::fields(span) {
        let f = f.ok()?;
        match f.number {
            1 => tid = f.bytes().ok()?,
            3 => ts = f.bytes().ok()?,
            9 if priority.is_none() => {
                let kv = f.bytes().ok()?;
                let key = wire::last_bytes_field(kv, 1).ok()?.unwrap_or_default();
                if key == b"sampling.priority" {
                    priority = Some(span_priority(&[KeyValue::decode(kv).ok()?]));
                }
            }
            _ => {}
        }
    }
    Some((tid, std::str::from_utf8(ts).ok()?, priority.flatten()))
}

/// `sampling.priority` (OpenTracing): 0 drops, above 0 keeps, anything else defers.
fn span_priority(attrs: &[KeyValue]) -> Option<Threshold> {
    let v = match pdata::attr(attrs, "sampling.priority")? {
        V::IntValue(i) => *i as f64,
        V::DoubleValue(d) => *d,
        V::StringValue(s) => parse_go_float(s)?,
        _ => return None,
    };
    if v == 0.0 {
        Some(Threshold::NEVER)
    } else if v > 0.0 {
        Some(Threshold::ALWAYS)
    } else {
        None
    }
}

/// A log record's sampling state; true when an attribute failed to parse.
fn log_carrier(attrs: &[KeyValue]) -> (Carrier, bool) {
    let mut c = Carrier::default();
    let mut failed = false;
    if let Some(s) = pdata::attr_str(attrs, "sampling.threshold").filter(|s| !s.is_empty()) {
        match Threshold::parse(s) {
            Some(t) => c.th = Some((t, s.to_string())),
            None => failed = true,
        }
    }
    if let Some(s) = pdata::attr_str(attrs, "sampling.randomness").filter(|s| !s.is_empty()) {
        match Randomness::parse(s) {
            Some(r) => c.rv = Some((r, s.to_string())),
            None => failed = true,
        }
    }
    (c, failed)
}

impl Processor for ProbabilisticSampler {
    fn process(&self, mut batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        let invalid = |e: ferrotel_core::DecodeError| PipelineError::Status {
            code: code::INVALID_ARGUMENT,
            message: e.0,
        };
        let signal = batch.signal();
        if signal == Signal::Traces && !batch.is_decoded() {
            if let Some((kept, plan)) = self.traces_encoded(&batch) {
                self.count(signal, plan.tally);
                out.extend(kept);
                return Ok(());
            }
        }
        let (kept, unchanged, tally, mut traces, mut logs) = match batch.view().map_err(invalid)? {
            Data::Traces(t) => {
                let p = self.plan_traces(t);
                (p.kept, p.unchanged, p.tally, Some(p.decisions), None)
            }
            Data::Logs(l) => {
                let p = self.plan_logs(l);
                (p.kept, p.unchanged, p.tally, None, Some(p.decisions))
            }
            Data::Metrics(_) | Data::Profiles(_) => {
                out.push(batch);
                return Ok(());
            }
        };
        self.count(signal, tally);
        if kept == 0 {
            return Ok(());
        }
        if unchanged {
            out.push(batch);
            return Ok(());
        }
        let data = batch.make_mut().map_err(invalid)?;
        match data {
            Data::Traces(t) => {
                let mut ds = traces.take().unwrap_or_default().into_iter();
                for ss in t.resource_spans.iter_mut().flat_map(|r| &mut r.scope_spans) {
                    apply(&mut ss.spans, &mut ds, |s: &mut Span, ts| {
                        s.trace_state = ts
                    });
                }
            }
            Data::Logs(l) => {
                let mut ds = logs.take().unwrap_or_default().into_iter();
                for sl in l.resource_logs.iter_mut().flat_map(|r| &mut r.scope_logs) {
                    apply(&mut sl.log_records, &mut ds, |r: &mut LogRecord, kvs| {
                        for kv in kvs {
                            if let Some(V::StringValue(v)) = kv.value.and_then(|v| v.value) {
                                pdata::upsert(&mut r.attributes, &kv.key, V::StringValue(v));
                            }
                        }
                    });
                }
            }
            Data::Metrics(_) | Data::Profiles(_) => {}
        }
        pdata::prune_empty(data);
        out.push(batch);
        Ok(())
    }
}

/// Factory for `probabilistic_sampler`.
pub struct ProbabilisticSamplerFactory;

impl Factory for ProbabilisticSamplerFactory {
    type Config = SamplerConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "probabilistic_sampler",
            "Keeps a percentage of spans or log records, consistently by trace id.",
        )
        .signal(Signal::Traces, Stability::Beta)
        .signal(Signal::Logs, Stability::Beta)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: SamplerConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        Ok(Box::new(ProbabilisticSampler::new(
            &cfg,
            ctx.signal,
            ctx.telemetry.clone(),
            ctx.id.to_string(),
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::type_complexity)]
mod tests;
