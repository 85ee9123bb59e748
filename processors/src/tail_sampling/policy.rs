//! Sampling policies and how their decisions combine, with otelcol's semantics
//! (otelcol-compat.md §6). A [`Policy`] is built from its config by `config.rs` and evaluated on
//! a buffered trace ([`TraceView`]); stateful policies (rate and bytes limits, composite) keep
//! their counters in `&mut self`, so evaluation happens under the processor's one lock.

use super::store::Chunk;
use ferrotel_core::proto::common::v1::{any_value::Value as V, KeyValue};
use ferrotel_core::proto::trace::v1::Span;
use ferrotel_ottl::{Conditions, SpanContext, SpanEventContext, SpanEventItem, SpanItem};
use regex::Regex;
use std::collections::HashSet;
use std::time::Instant;

/// One policy's verdict on a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Sampled,
    NotSampled,
    /// `invert_match` policies: nothing matched.
    InvertSampled,
    /// `invert_match` policies: something matched.
    InvertNotSampled,
    /// `drop` policies: every sub-policy matched.
    Dropped,
    /// The policy could not be evaluated (an OTTL condition failed under `error_mode:
    /// propagate`): counted in `sampling_policy_evaluation_error`, not in the per-policy counts,
    /// and ignored when the decisions combine, as otelcol.
    Error,
}

impl Decision {
    /// The `decision` label of `count_traces_sampled`.
    pub fn label(self) -> &'static str {
        match self {
            Decision::Sampled | Decision::InvertSampled => "sampled",
            Decision::NotSampled | Decision::InvertNotSampled => "not_sampled",
            Decision::Dropped => "dropped",
            Decision::Error => "error",
        }
    }

    /// Inside `and` and `composite`, invert decisions collapse to sampled / not sampled.
    fn samples(self) -> bool {
        matches!(self, Decision::Sampled | Decision::InvertSampled)
    }
}

/// The final decision on a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sampled,
    NotSampled,
    /// Not sampled because a `drop` policy matched.
    Dropped,
}

impl Outcome {
    pub fn sampled(self) -> bool {
        self == Outcome::Sampled
    }
    /// The `decision` label of `global_count_traces_sampled`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Sampled => "sampled",
            Outcome::NotSampled => "not_sampled",
            Outcome::Dropped => "dropped",
        }
    }
}

/// Combines the decisions of the top-level policies, in otelcol's order of precedence: any
/// Dropped, then any InvertNotSampled (not sampled), then any Sampled, then InvertSampled when
/// no policy said NotSampled; otherwise not sampled.
pub fn combine(decisions: &[Decision]) -> Outcome {
    let any = |d: Decision| decisions.contains(&d);
    if any(Decision::Dropped) {
        Outcome::Dropped
    } else if any(Decision::InvertNotSampled) {
        Outcome::NotSampled
    } else if any(Decision::Sampled) || (any(Decision::InvertSampled) && !any(Decision::NotSampled))
    {
        Outcome::Sampled
    } else {
        Outcome::NotSampled
    }
}

/// The clock a decision is made with (injected so tests control rates).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Wall-clock unix second: the window of `rate_limiting` and `composite`.
    pub unix_second: i64,
    /// Monotonic time: the refill of `bytes_limiting`.
    pub instant: Instant,
}

impl Clock {
    pub fn now() -> Clock {
        let unix_second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Clock {
            unix_second,
            instant: Instant::now(),
        }
    }
}

/// A buffered trace as policies see it.
pub struct TraceView<'a> {
    pub id: &'a [u8; 16],
    pub chunks: &'a [Chunk],
    pub span_count: i64,
    /// Protobuf size of the trace's spans, resources and scopes.
    pub bytes: u64,
}

impl TraceView<'_> {
    fn spans(&self) -> impl Iterator<Item = &Span> {
        self.chunks.iter().flat_map(|c| c.spans.iter())
    }

    /// otelcol's attribute filters: the resource attributes of each batch, then its spans'.
    /// `check` gets the attribute value (None for a span without the attribute is skipped).
    fn any_attr(&self, key: &str, mut check: impl FnMut(&V, bool) -> bool) -> bool {
        fn find<'v>(attrs: &'v [KeyValue], key: &str) -> Option<Option<&'v V>> {
            attrs
                .iter()
                .find(|kv| kv.key == key)
                .map(|kv| kv.value.as_ref().and_then(|v| v.value.as_ref()))
        }
        const EMPTY: V = V::StringValue(String::new());
        self.chunks.iter().any(|c| {
            let res = c
                .resource
                .resource
                .as_ref()
                .and_then(|r| find(&r.attributes, key));
            if let Some(v) = res {
                if check(v.unwrap_or(&EMPTY), true) {
                    return true;
                }
            }
            c.spans.iter().any(|s| match find(&s.attributes, key) {
                Some(v) => check(v.unwrap_or(&EMPTY), false),
                None => false,
            })
        })
    }
}

/// A policy: its name (the `policy` label of the metrics) and what it checks.
#[derive(Debug)]
pub struct Policy {
    pub name: String,
    pub rule: Rule,
}

/// String matching of `string_attribute`: exact values, or unanchored regular expressions.
#[derive(Debug)]
pub enum Matcher {
    Exact(HashSet<String>),
    Regex(Vec<Regex>),
}

impl Matcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(set) => set.contains(s),
            Matcher::Regex(res) => res.iter().any(|r| r.is_match(s)),
        }
    }
}

/// A token bucket (bytes_limiting): `rate` tokens per second, at most `burst` held.
#[derive(Debug)]
pub struct TokenBucket {
    pub rate: f64,
    pub burst: f64,
    pub tokens: f64,
    pub last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    fn take(&mut self, cost: f64, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// A sub-policy of `composite` with its spans-per-second allocation and use this second.
#[derive(Debug)]
pub struct CompositeSub {
    pub policy: Policy,
    pub allocated: i64,
    pub used: i64,
}

#[derive(Debug)]
pub enum Rule {
    AlwaysSample,
    /// Bounds in milliseconds; `upper == 0` means no upper bound.
    Latency {
        lower: i64,
        upper: i64,
    },
    NumericAttribute {
        key: String,
        min: i64,
        max: i64,
        invert: bool,
    },
    Probabilistic {
        salt: Vec<u8>,
        threshold: u64,
    },
    /// OTLP status codes (0 unset, 1 ok, 2 error).
    StatusCode(Vec<i32>),
    StringAttribute {
        key: String,
        matcher: Matcher,
        invert: bool,
    },
    RateLimiting {
        spans_per_second: i64,
        second: i64,
        used: i64,
    },
    BytesLimiting(TokenBucket),
    SpanCount {
        min: i64,
        max: i64,
    },
    BooleanAttribute {
        key: String,
        value: bool,
        invert: bool,
    },
    TraceState {
        key: String,
        values: HashSet<String>,
    },
    And(Vec<Policy>),
    Drop(Vec<Policy>),
    Composite {
        max_total: i64,
        second: i64,
        subs: Vec<CompositeSub>,
    },
    Ottl(OttlRule),
}

/// `ottl_condition`: OTTL conditions on the spans (span context) and span events (spanevent
/// context) of the trace.
#[derive(Debug)]
pub struct OttlRule {
    pub span: Option<Conditions<SpanContext>>,
    pub spanevent: Option<Conditions<SpanEventContext>>,
}

impl OttlRule {
    /// Sampled when a span condition holds for a span or a span event condition for an event,
    /// checked span by span (each span, then its events) as otelcol; the first error under
    /// `error_mode: propagate` ends the evaluation.
    fn evaluate(&self, t: &TraceView<'_>) -> Decision {
        match self.matches(t) {
            Ok(true) => Decision::Sampled,
            Ok(false) => Decision::NotSampled,
            Err(e) => {
                tracing::debug!(error = %e, "sampling policy error");
                Decision::Error
            }
        }
    }

    fn matches(&self, t: &TraceView<'_>) -> Result<bool, ferrotel_ottl::EvalError> {
        for c in t.chunks {
            for span in &c.spans {
                let item = SpanItem {
                    cache: &[],
                    span,
                    scope: c.scope.scope.as_ref(),
                    resource: c.resource.resource.as_ref(),
                };
                if let Some(conds) = &self.span {
                    if conds.any(item)? {
                        return Ok(true);
                    }
                }
                let Some(conds) = &self.spanevent else {
                    continue;
                };
                for (index, event) in span.events.iter().enumerate() {
                    let ev = SpanEventItem {
                        cache: &[],
                        event,
                        index,
                        span: item,
                    };
                    if conds.any(ev)? {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }
}

/// A match of an attribute filter, turned into a decision.
fn filtered(matched: bool, invert: bool) -> Decision {
    match (invert, matched) {
        (false, true) => Decision::Sampled,
        (false, false) => Decision::NotSampled,
        (true, true) => Decision::InvertNotSampled,
        (true, false) => Decision::InvertSampled,
    }
}

/// FNV-1a 64-bit over `salt` then `id`.
pub fn fnv1a64(salt: &[u8], id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.iter().chain(id) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// otelcol's probabilistic threshold: `uint64(big.Float(MaxUint64) * ratio)` where the product
/// is rounded to a 64-bit mantissa (nearest, ties to even) and then truncated to an integer.
pub fn probabilistic_threshold(percentage: f64) -> u64 {
    let ratio = percentage / 100.0;
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    if ratio >= 1.0 {
        // (2^64 - 1) * ratio >= 2^64 - 1; big.Float's Uint64 saturates.
        return u64::MAX;
    }
    // ratio = mant * 2^exp exactly, mant < 2^53.
    let bits = ratio.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let (mant, exp) = if raw_exp == 0 {
        (bits & ((1 << 52) - 1), -1074)
    } else {
        ((bits & ((1 << 52) - 1)) | (1 << 52), raw_exp - 1075)
    };
    let mut p = u128::from(u64::MAX) * u128::from(mant);
    let width = 128 - p.leading_zeros() as i32;
    if width > 64 {
        let shift = (width - 64) as u32;
        let mut q = p >> shift;
        let rem = p & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        if rem > half || (rem == half && q & 1 == 1) {
            q += 1;
        }
        p = q << shift;
    }
    // exp < 0 since ratio < 1 and mant >= 1.
    let down = (-exp) as u32;
    if down >= 128 {
        0
    } else {
        u64::try_from(p >> down).unwrap_or(u64::MAX)
    }
}

/// The value of `key` in a W3C tracestate, if the header is valid.
fn tracestate_get<'a>(ts: &'a str, key: &str) -> Option<&'a str> {
    crate::probabilistic_sampler::otep235::TraceState::parse(ts).ok()?;
    ts.split(',')
        .map(|m| m.trim_matches(|c| c == ' ' || c == '\t'))
        .filter_map(|m| m.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `end - start` in whole milliseconds, truncated towards zero, the nanoseconds saturating at
/// the `i64` range first (Go's `Time.Sub(...).Milliseconds()`).
fn duration_ms(start: u64, end: u64) -> i64 {
    let ns =
        (i128::from(end) - i128::from(start)).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    (ns / 1_000_000) as i64
}

impl Policy {
    pub fn is_drop(&self) -> bool {
        matches!(self.rule, Rule::Drop(_))
    }

    pub fn evaluate(&mut self, t: &TraceView<'_>, clock: &Clock) -> Decision {
        match &mut self.rule {
            Rule::AlwaysSample => Decision::Sampled,
            Rule::Latency { lower, upper } => filtered(latency_in_range(t, *lower, *upper), false),
            Rule::NumericAttribute {
                key,
                min,
                max,
                invert,
            } => filtered(numeric_attribute_in_range(t, key, *min, *max), *invert),
            Rule::Probabilistic { salt, threshold } => {
                filtered(fnv1a64(salt, t.id) <= *threshold, false)
            }
            Rule::StatusCode(codes) => filtered(
                t.spans()
                    .any(|s| codes.contains(&s.status.as_ref().map_or(0, |st| st.code))),
                false,
            ),
            Rule::StringAttribute {
                key,
                matcher,
                invert,
            } => filtered(string_attribute_matches(t, key, matcher), *invert),
            Rule::RateLimiting {
                spans_per_second,
                second,
                used,
            } => rate_limit(*spans_per_second, second, used, t, clock),
            Rule::BytesLimiting(bucket) => {
                filtered(bucket.take(t.bytes as f64, clock.instant), false)
            }
            Rule::SpanCount { min, max } => {
                filtered(span_count_in_range(t.span_count, *min, *max), false)
            }
            Rule::BooleanAttribute { key, value, invert } => {
                let hit = t.any_attr(key, |v, _| {
                    let b = matches!(v, V::BoolValue(true));
                    b == *value
                });
                filtered(hit, *invert)
            }
            Rule::TraceState { key, values } => filtered(
                t.spans().any(|s| {
                    !s.trace_state.is_empty()
                        && tracestate_get(&s.trace_state, key).is_some_and(|v| values.contains(v))
                }),
                false,
            ),
            Rule::And(subs) => if_all_sample(subs, t, clock, Decision::Sampled),
            Rule::Drop(subs) => if_all_sample(subs, t, clock, Decision::Dropped),
            Rule::Composite {
                max_total,
                second,
                subs,
            } => composite(*max_total, second, subs, t, clock),
            Rule::Ottl(rule) => rule.evaluate(t),
        }
    }
}

/// Whether a running duration of the trace falls in `lower..=upper` milliseconds.
///
/// Evaluated as spans are scanned: the first running duration in range samples. As otelcol, a
/// start time of 0 counts as "none yet", and the duration is compared in whole milliseconds
/// (truncated towards zero), so with an upper bound 500.9ms is not above `threshold_ms: 500`
/// and is within `upper: 500`.
fn latency_in_range(t: &TraceView<'_>, lower: i64, upper: i64) -> bool {
    let (mut start, mut end) = (0u64, 0u64);
    t.spans().any(|s| {
        if start == 0 || s.start_time_unix_nano < start {
            start = s.start_time_unix_nano;
        }
        end = end.max(s.end_time_unix_nano);
        let ms = duration_ms(start, end);
        if upper == 0 {
            ms >= lower
        } else {
            lower < ms && ms <= upper
        }
    })
}

/// Whether an int value of attribute `key` (a value of another type counting as 0) is in
/// `min..=max`.
fn numeric_attribute_in_range(t: &TraceView<'_>, key: &str, min: i64, max: i64) -> bool {
    t.any_attr(key, |v, _| {
        let n = match v {
            V::IntValue(i) => *i,
            _ => 0,
        };
        min <= n && n <= max
    })
}

/// Whether `n` spans are in `min..=max` (`max == 0`: no upper bound).
fn span_count_in_range(n: i64, min: i64, max: i64) -> bool {
    if max == 0 {
        n >= min
    } else {
        min <= n && n <= max
    }
}

/// Whether a string value of attribute `key` matches; span values only when not empty.
fn string_attribute_matches(t: &TraceView<'_>, key: &str, matcher: &Matcher) -> bool {
    t.any_attr(key, |v, resource| {
        let s = match v {
            V::StringValue(s) => s.as_str(),
            _ => "",
        };
        (resource || !s.is_empty()) && matcher.matches(s)
    })
}

/// Samples while the spans sampled in the current second stay under `spans_per_second`.
fn rate_limit(
    spans_per_second: i64,
    second: &mut i64,
    used: &mut i64,
    t: &TraceView<'_>,
    clock: &Clock,
) -> Decision {
    if *second != clock.unix_second {
        *second = clock.unix_second;
        *used = 0;
    }
    let would = used.saturating_add(t.span_count);
    if would < spans_per_second {
        *used = would;
        Decision::Sampled
    } else {
        Decision::NotSampled
    }
}

/// `decision` if every sub-policy samples (evaluated in order, stopping at the first that does
/// not), else not sampled; a sub-policy's error is the policy's.
fn if_all_sample(
    subs: &mut [Policy],
    t: &TraceView<'_>,
    clock: &Clock,
    decision: Decision,
) -> Decision {
    for sub in subs.iter_mut() {
        match sub.evaluate(t, clock) {
            Decision::Error => return Decision::Error,
            d if !d.samples() => return Decision::NotSampled,
            _ => {}
        }
    }
    decision
}

/// The first sub-policy that samples decides, within its share of the spans per second and the
/// total.
fn composite(
    max_total: i64,
    second: &mut i64,
    subs: &mut [CompositeSub],
    t: &TraceView<'_>,
    clock: &Clock,
) -> Decision {
    if *second != clock.unix_second {
        *second = clock.unix_second;
        subs.iter_mut().for_each(|s| s.used = 0);
    }
    for sub in subs.iter_mut() {
        let d = sub.policy.evaluate(t, clock);
        if d == Decision::Error {
            return Decision::Error;
        }
        if d.samples() {
            let would = sub.used.saturating_add(t.span_count);
            if would <= sub.allocated && would <= max_total {
                sub.used = would;
                return Decision::Sampled;
            }
            // No fall-through to the next sub-policy.
            return Decision::NotSampled;
        }
    }
    Decision::NotSampled
}
