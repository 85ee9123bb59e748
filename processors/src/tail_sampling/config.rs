//! The `tail_sampling` processor's configuration: otelcol's keys and defaults, plus one
//! ferrotel extension (`max_buffered_bytes`), and the validation that turns policy configs into
//! [`Policy`] evaluators, reporting every problem with its path.

use super::policy::{
    probabilistic_threshold, CompositeSub, Matcher, OttlRule, Policy, Rule, TokenBucket,
};
use crate::entry;
use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{ByteSize, Findings, GoDuration, Validate, Validator};
use ferrotel_ottl::{Condition, Conditions, Context, SpanContext, SpanEventContext};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// `processors.tail_sampling`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TailSamplingConfig {
    /// Time from the first span of a trace until its decision.
    pub decision_wait: GoDuration,
    /// Traces held in memory, pending or decided. When full, the oldest is evicted: a decided
    /// one is forgotten, otherwise the oldest pending trace is decided early on the spans it
    /// has (otelcol drops it); either way `sampling_trace_dropped_too_early` counts pending
    /// evictions.
    pub num_traces: u64,
    /// Allocation hint only (accepted for compatibility).
    pub expected_new_traces_per_sec: u64,
    /// Sizes of the caches of decided trace ids, which decide late spans at once.
    pub decision_cache: DecisionCacheConfig,
    /// Stop evaluating policies at the first one that samples.
    pub sample_on_first_match: bool,
    /// At shutdown, drop pending traces instead of deciding them on the spans received.
    pub drop_pending_traces_on_shutdown: bool,
    /// A trace whose buffered spans exceed this many (protobuf) bytes is not sampled at once,
    /// and its later spans are dropped. 0: no per-trace limit (the total budget still applies).
    pub maximum_trace_size_bytes: ByteSize,
    /// ferrotel extension (not an otelcol key): total protobuf bytes of buffered spans across
    /// all traces. Past it, the oldest pending traces are decided early (counted in
    /// `sampling_trace_dropped_too_early`); if only sampled spans awaiting emission remain,
    /// new data is refused with a retryable error. Memory in use is a few times this figure
    /// (decoded form). Default 512MiB; 0: no limit.
    pub max_buffered_bytes: ByteSize,
    /// The sampling policies (at least one).
    pub policies: Vec<PolicyConfig>,
}

impl Default for TailSamplingConfig {
    fn default() -> Self {
        TailSamplingConfig {
            decision_wait: GoDuration::from_secs(30),
            num_traces: 50_000,
            expected_new_traces_per_sec: 0,
            decision_cache: DecisionCacheConfig::default(),
            sample_on_first_match: false,
            drop_pending_traces_on_shutdown: false,
            maximum_trace_size_bytes: ByteSize(0),
            max_buffered_bytes: ByteSize(512 << 20),
            policies: Vec::new(),
        }
    }
}

/// `decision_cache`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionCacheConfig {
    /// Trace ids with a keep decision remembered (0: off).
    pub sampled_cache_size: u64,
    /// Trace ids with a drop decision remembered (0: off).
    pub non_sampled_cache_size: u64,
}

/// One entry of `policies` (also of `and_sub_policy`, `drop_sub_policy`,
/// `composite_sub_policy`): a name, a type, and the block named after the type.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The policy's name (the `policy` label of the metrics).
    pub name: String,
    /// `always_sample`, `latency`, `numeric_attribute`, `probabilistic`, `status_code`,
    /// `string_attribute`, `rate_limiting`, `bytes_limiting`, `span_count`,
    /// `boolean_attribute`, `trace_state`, `ottl_condition`, `and`, `composite` or `drop`.
    #[serde(rename = "type")]
    pub kind: Choice<PolicyType>,
    /// `latency` settings.
    pub latency: LatencyConfig,
    /// `numeric_attribute` settings.
    pub numeric_attribute: NumericAttributeConfig,
    /// `probabilistic` settings.
    pub probabilistic: ProbabilisticConfig,
    /// `status_code` settings.
    pub status_code: StatusCodeConfig,
    /// `string_attribute` settings.
    pub string_attribute: StringAttributeConfig,
    /// `rate_limiting` settings.
    pub rate_limiting: RateLimitingConfig,
    /// `bytes_limiting` settings.
    pub bytes_limiting: BytesLimitingConfig,
    /// `span_count` settings.
    pub span_count: SpanCountConfig,
    /// `boolean_attribute` settings.
    pub boolean_attribute: BooleanAttributeConfig,
    /// `trace_state` settings.
    pub trace_state: TraceStateConfig,
    /// `ottl_condition` settings.
    pub ottl_condition: OttlConditionConfig,
    /// `and` settings.
    pub and: AndConfig,
    /// `composite` settings.
    pub composite: CompositeConfig,
    /// `drop` settings.
    pub drop: DropConfig,
}

/// A policy's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    AlwaysSample,
    Latency,
    NumericAttribute,
    Probabilistic,
    StatusCode,
    StringAttribute,
    RateLimiting,
    BytesLimiting,
    SpanCount,
    BooleanAttribute,
    TraceState,
    OttlCondition,
    And,
    Composite,
    Drop,
}

impl Choices for PolicyType {}

/// A span status code name (`status_codes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl Choices for StatusCode {}

impl StatusCode {
    /// The OTLP value.
    fn code(self) -> i32 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }
}

/// `latency`: trace duration (latest end minus earliest start).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyConfig {
    /// Sampled when the duration is at least this (or above it, with an upper bound).
    pub threshold_ms: i64,
    /// When not 0: sampled when `threshold_ms < duration <= upper_threshold_ms`.
    pub upper_threshold_ms: i64,
}

/// `numeric_attribute`: an integer resource or span attribute within `[min, max]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumericAttributeConfig {
    /// Attribute key.
    pub key: String,
    /// Lowest value matched (unset: no lower bound). At least one bound is required.
    pub min_value: Option<i64>,
    /// Highest value matched (unset: no upper bound).
    pub max_value: Option<i64>,
    /// Sample traces that do not match instead.
    pub invert_match: bool,
}

/// `probabilistic`: a hash of the trace id below a threshold.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbabilisticConfig {
    /// Salt hashed before the trace id; collectors in layers should use different salts.
    pub hash_salt: String,
    /// Percentage of traces sampled.
    pub sampling_percentage: f64,
}

impl Default for ProbabilisticConfig {
    fn default() -> Self {
        ProbabilisticConfig {
            hash_salt: DEFAULT_HASH_SALT.into(),
            sampling_percentage: 0.0,
        }
    }
}

/// otelcol's default `hash_salt`.
pub const DEFAULT_HASH_SALT: &str = "default-hash-seed";

/// `status_code`: any span with one of these statuses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusCodeConfig {
    /// `OK`, `ERROR` and/or `UNSET`.
    pub status_codes: Vec<Choice<StatusCode>>,
}

/// `string_attribute`: a string resource or span attribute among `values`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StringAttributeConfig {
    /// Attribute key.
    pub key: String,
    /// Values matched exactly, or regular expressions (unanchored) with regex matching.
    pub values: Vec<String>,
    /// Treat `values` as regular expressions.
    pub enabled_regex_matching: bool,
    /// Size of otelcol's regex result cache; accepted, unused (Rust regexes need no cache).
    pub cache_max_size: u64,
    /// Sample traces that do not match instead.
    pub invert_match: bool,
}

impl Default for StringAttributeConfig {
    fn default() -> Self {
        StringAttributeConfig {
            key: String::new(),
            values: Vec::new(),
            enabled_regex_matching: false,
            cache_max_size: 128,
            invert_match: false,
        }
    }
}

/// `rate_limiting`: spans sampled per wall-clock second.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitingConfig {
    /// A trace is sampled while the second's spans plus its own stay below this.
    pub spans_per_second: i64,
}

/// `bytes_limiting`: a token bucket over the protobuf size of traces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BytesLimitingConfig {
    /// Refill rate in bytes per second.
    pub bytes_per_second: i64,
    /// Bucket size; 0 means twice `bytes_per_second`.
    pub burst_capacity: i64,
}

/// `span_count`: the number of spans in the trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpanCountConfig {
    /// Fewest spans.
    pub min_spans: i64,
    /// Most spans (0: no upper bound).
    pub max_spans: i64,
}

/// `boolean_attribute`: a boolean resource or span attribute equal to `value`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BooleanAttributeConfig {
    /// Attribute key.
    pub key: String,
    /// Value matched (a non-boolean attribute reads as false).
    pub value: bool,
    /// Sample traces that do not match instead.
    pub invert_match: bool,
}

/// `trace_state`: a W3C tracestate entry of any span.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceStateConfig {
    /// Tracestate key.
    pub key: String,
    /// Values matched (a key and value of 256 bytes or more together are ignored).
    pub values: Vec<String>,
}

/// `ottl_condition`: sampled when any `span` condition holds for a span of the trace, or any
/// `spanevent` condition for one of its span events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OttlConditionConfig {
    /// What a condition that fails to evaluate does: `propagate` (the policy fails: counted in
    /// `sampling_policy_evaluation_error`, its decision ignored), `ignore` (logged, the
    /// condition is false) or `silent` (the condition is false).
    pub error_mode: Choice<OttlErrorMode>,
    /// OTTL conditions on spans (the span context).
    pub span: Vec<String>,
    /// OTTL conditions on span events (the spanevent context).
    pub spanevent: Vec<String>,
}

impl Default for OttlConditionConfig {
    fn default() -> Self {
        OttlConditionConfig {
            error_mode: Choice::Known(OttlErrorMode::Propagate),
            span: Vec::new(),
            spanevent: Vec::new(),
        }
    }
}

pub use crate::ottl_mode::OttlErrorMode;

/// `and`: sampled when every sub-policy samples.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AndConfig {
    /// The sub-policies.
    pub and_sub_policy: Vec<PolicyConfig>,
}

/// `drop`: the trace is dropped (whatever other policies say) when every sub-policy samples.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DropConfig {
    /// The sub-policies.
    pub drop_sub_policy: Vec<PolicyConfig>,
}

/// `composite`: the first sub-policy that samples decides, within its share of a total rate.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompositeConfig {
    /// Spans per second over all sub-policies.
    pub max_total_spans_per_second: i64,
    /// Sub-policy names (each must be a `composite_sub_policy`). As in otelcol, sub-policies
    /// are evaluated in `composite_sub_policy` order.
    pub policy_order: Vec<String>,
    /// The sub-policies.
    pub composite_sub_policy: Vec<PolicyConfig>,
    /// Each sub-policy's share of `max_total_spans_per_second`; a sub-policy without one
    /// gets no spans, one with `percent: 0` an equal share.
    pub rate_allocation: Vec<RateAllocationConfig>,
}

/// One `rate_allocation` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateAllocationConfig {
    /// Sub-policy name.
    pub policy: String,
    /// Percent of `max_total_spans_per_second`.
    pub percent: i64,
}

impl Validate for TailSamplingConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        self.build(v);
    }
}

impl TailSamplingConfig {
    /// Checks the settings and builds the policies; every problem is reported through `v`
    /// (the config's validator), and a policy with a problem is left out.
    pub fn build(&self, v: &mut Validator<'_>) -> Vec<Policy> {
        if self.num_traces == 0 {
            v.report_at("num_traces", "num_traces must be greater than zero");
        }
        if self.policies.is_empty() {
            v.report_at(
                "policies",
                "no sampling policies configured (at least one is required)",
            );
        }
        let mut names = HashSet::new();
        let mut policies = Vec::new();
        for (i, p) in self.policies.iter().enumerate() {
            let mut at = entry(v, "policies", i);
            if p.name.is_empty() {
                at.report_at("name", "policy name cannot be empty");
            } else if !names.insert(p.name.as_str()) {
                at.report_at("name", format!("duplicate policy name {:?}", p.name));
            }
            if let Some(policy) = build_policy(p, &mut at) {
                policies.push(policy);
            }
        }
        policies
    }

    /// The policies of a config [`TailSamplingConfig::build`] found no problem in.
    pub fn policies(&self) -> Vec<Policy> {
        self.build(&mut Validator::new("", &mut Findings::default()))
    }
}

fn build_subs(subs: &[PolicyConfig], v: &mut Validator<'_>, key: &str) -> Vec<Policy> {
    subs.iter()
        .enumerate()
        .filter_map(|(i, s)| build_policy(s, &mut entry(v, key, i)))
        .collect()
}

/// Builds one policy from its config, `v` being its validator
/// (`processors.tail_sampling.policies[2]`).
fn build_policy(p: &PolicyConfig, v: &mut Validator<'_>) -> Option<Policy> {
    let kind = policy_type(&p.kind, v)?;
    let rule = build_rule(kind, p, v)?;
    Some(Policy {
        name: p.name.clone(),
        rule,
    })
}

/// The policy's `type`; reported when missing or unknown.
fn policy_type(kind: &Choice<PolicyType>, v: &mut Validator<'_>) -> Option<PolicyType> {
    match kind {
        Choice::Known(kind) => Some(*kind),
        Choice::Unknown(other) if other.is_empty() => {
            v.report_at("type", "policy type is required");
            None
        }
        Choice::Unknown(other) => {
            v.report_at(
                "type",
                format!(
                    "unknown sampling policy type {other:?}, supported: always_sample, latency, \
                     numeric_attribute, probabilistic, status_code, string_attribute, \
                     rate_limiting, bytes_limiting, span_count, boolean_attribute, trace_state, \
                     ottl_condition, and, composite, drop"
                ),
            );
            None
        }
    }
}

/// The rule of a policy of type `kind`; `None` for a type ferrotel cannot evaluate.
fn build_rule(kind: PolicyType, p: &PolicyConfig, v: &mut Validator<'_>) -> Option<Rule> {
    Some(match kind {
        PolicyType::AlwaysSample => Rule::AlwaysSample,
        PolicyType::Latency => latency_rule(&p.latency, v),
        PolicyType::NumericAttribute => numeric_attribute_rule(&p.numeric_attribute, v),
        PolicyType::Probabilistic => probabilistic_rule(&p.probabilistic, v),
        PolicyType::StatusCode => status_code_rule(&p.status_code, v),
        PolicyType::StringAttribute => string_attribute_rule(&p.string_attribute, v),
        PolicyType::RateLimiting => rate_limiting_rule(&p.rate_limiting, v),
        PolicyType::BytesLimiting => bytes_limiting_rule(&p.bytes_limiting, v),
        PolicyType::SpanCount => span_count_rule(&p.span_count, v),
        PolicyType::BooleanAttribute => {
            let c = &p.boolean_attribute;
            Rule::BooleanAttribute {
                key: c.key.clone(),
                value: c.value,
                invert: c.invert_match,
            }
        }
        PolicyType::TraceState => {
            let c = &p.trace_state;
            Rule::TraceState {
                key: c.key.clone(),
                values: c
                    .values
                    .iter()
                    .filter(|v| c.key.len() + v.len() < 256)
                    .cloned()
                    .collect(),
            }
        }
        PolicyType::And => Rule::And(sub_policies(&p.and.and_sub_policy, v, "and.and_sub_policy")),
        PolicyType::Drop => Rule::Drop(sub_policies(
            &p.drop.drop_sub_policy,
            v,
            "drop.drop_sub_policy",
        )),
        PolicyType::Composite => build_composite(&p.composite, &mut v.at("composite")),
        PolicyType::OttlCondition => ottl_rule(&p.ottl_condition, &mut v.at("ottl_condition"))?,
    })
}

/// Compiles the conditions of `ottl_condition` (`v` at that key); every condition that does not
/// compile is reported at its index.
fn ottl_rule(c: &OttlConditionConfig, v: &mut Validator<'_>) -> Option<Rule> {
    let mode = crate::ottl_mode::error_mode(&c.error_mode, v);
    if c.span.is_empty() && c.spanevent.is_empty() {
        v.report("expected at least one OTTL condition to filter on");
        return None;
    }
    let span = conditions::<SpanContext>(&c.span, v, "span");
    let spanevent = conditions::<SpanEventContext>(&c.spanevent, v, "spanevent");
    let mode = mode?;
    Some(Rule::Ottl(OttlRule {
        span: span?.map(|cs| Conditions::from_conditions(cs, mode)),
        spanevent: spanevent?.map(|cs| Conditions::from_conditions(cs, mode)),
    }))
}

/// The compiled conditions listed under `key` (None in the `Option` when there are none);
/// `None` when one does not compile.
fn conditions<C: Context>(
    texts: &[String],
    v: &mut Validator<'_>,
    key: &str,
) -> Option<Option<Vec<Condition<C>>>> {
    let mut ok = true;
    let mut compiled = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        match Condition::<C>::new(text) {
            Ok(c) => compiled.push(c),
            Err(e) => {
                entry(v, key, i).report(e.to_string());
                ok = false;
            }
        }
    }
    ok.then_some((!compiled.is_empty()).then_some(compiled))
}

/// Reports `message` at `field` when an upper bound (0: none) is below the lower one.
fn check_upper_bound(v: &mut Validator<'_>, lower: i64, upper: i64, field: &str, message: &str) {
    if upper != 0 && upper < lower {
        v.report_at(field, message);
    }
}

fn latency_rule(c: &LatencyConfig, v: &mut Validator<'_>) -> Rule {
    check_upper_bound(
        v,
        c.threshold_ms,
        c.upper_threshold_ms,
        "latency.upper_threshold_ms",
        "upper_threshold_ms must be greater than threshold_ms",
    );
    Rule::Latency {
        lower: c.threshold_ms,
        upper: c.upper_threshold_ms,
    }
}

fn numeric_attribute_rule(c: &NumericAttributeConfig, v: &mut Validator<'_>) -> Rule {
    if c.min_value.is_none() && c.max_value.is_none() {
        v.report_at(
            "numeric_attribute",
            "at least one of min_value or max_value must be set",
        );
    }
    let (min, max) = (
        c.min_value.unwrap_or(i64::MIN),
        c.max_value.unwrap_or(i64::MAX),
    );
    if min > max {
        v.report_at(
            "numeric_attribute.max_value",
            "max_value must be greater than or equal to min_value",
        );
    }
    Rule::NumericAttribute {
        key: c.key.clone(),
        min,
        max,
        invert: c.invert_match,
    }
}

fn probabilistic_rule(c: &ProbabilisticConfig, v: &mut Validator<'_>) -> Rule {
    if !c.sampling_percentage.is_finite() || c.sampling_percentage < 0.0 {
        v.report_at(
            "probabilistic.sampling_percentage",
            format!("invalid sampling percentage {}", c.sampling_percentage),
        );
    }
    let salt = if c.hash_salt.is_empty() {
        DEFAULT_HASH_SALT
    } else {
        &c.hash_salt
    };
    Rule::Probabilistic {
        salt: salt.as_bytes().to_vec(),
        threshold: probabilistic_threshold(c.sampling_percentage),
    }
}

fn status_code_rule(c: &StatusCodeConfig, v: &mut Validator<'_>) -> Rule {
    let names = &c.status_codes;
    if names.is_empty() {
        v.report_at(
            "status_code.status_codes",
            "expected at least one status code to filter on",
        );
    }
    let mut codes = Vec::new();
    for n in names {
        match n {
            Choice::Known(code) => codes.push(code.code()),
            Choice::Unknown(n) => v.report_at(
                "status_code.status_codes",
                format!("unknown status code {n:?}, supported: OK, ERROR, UNSET"),
            ),
        }
    }
    Rule::StatusCode(codes)
}

fn string_attribute_rule(c: &StringAttributeConfig, v: &mut Validator<'_>) -> Rule {
    let matcher = if c.enabled_regex_matching {
        let mut res = Vec::new();
        for (i, value) in c.values.iter().enumerate() {
            match Regex::new(value) {
                Ok(r) => res.push(r),
                Err(e) => entry(v, "string_attribute.values", i)
                    .report(format!("invalid regular expression: {e}")),
            }
        }
        Matcher::Regex(res)
    } else {
        Matcher::Exact(c.values.iter().cloned().collect())
    };
    Rule::StringAttribute {
        key: c.key.clone(),
        matcher,
        invert: c.invert_match,
    }
}

fn rate_limiting_rule(c: &RateLimitingConfig, v: &mut Validator<'_>) -> Rule {
    if c.spans_per_second <= 0 {
        v.report_at(
            "rate_limiting.spans_per_second",
            "spans_per_second must be greater than zero",
        );
    }
    Rule::RateLimiting {
        spans_per_second: c.spans_per_second,
        second: 0,
        used: 0,
    }
}

fn bytes_limiting_rule(c: &BytesLimitingConfig, v: &mut Validator<'_>) -> Rule {
    if c.bytes_per_second <= 0 {
        v.report_at(
            "bytes_limiting.bytes_per_second",
            "bytes_per_second must be greater than zero",
        );
    }
    if c.burst_capacity < 0 {
        v.report_at(
            "bytes_limiting.burst_capacity",
            "burst_capacity must not be negative",
        );
    }
    let burst = if c.burst_capacity == 0 {
        c.bytes_per_second.saturating_mul(2)
    } else {
        c.burst_capacity
    };
    Rule::BytesLimiting(TokenBucket::new(c.bytes_per_second as f64, burst as f64))
}

fn span_count_rule(c: &SpanCountConfig, v: &mut Validator<'_>) -> Rule {
    check_upper_bound(
        v,
        c.min_spans,
        c.max_spans,
        "span_count.max_spans",
        "max_spans must be greater than or equal to min_spans",
    );
    Rule::SpanCount {
        min: c.min_spans,
        max: c.max_spans,
    }
}

/// The sub-policies of an `and` or `drop` policy, listed under `key`: at least one.
fn sub_policies(subs: &[PolicyConfig], v: &mut Validator<'_>, key: &str) -> Vec<Policy> {
    if subs.is_empty() {
        v.report_at(key, "at least one sub-policy is required");
    }
    build_subs(subs, v, key)
}

fn build_composite(c: &CompositeConfig, v: &mut Validator<'_>) -> Rule {
    if c.max_total_spans_per_second <= 0 {
        v.report_at(
            "max_total_spans_per_second",
            "max_total_spans_per_second must be greater than zero",
        );
    }
    if c.composite_sub_policy.is_empty() {
        v.report_at(
            "composite_sub_policy",
            "at least one sub-policy is required",
        );
    }
    let names: HashSet<&str> = c
        .composite_sub_policy
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for (i, n) in c.policy_order.iter().enumerate() {
        if !names.contains(n.as_str()) {
            entry(v, "policy_order", i)
                .report(format!("policy {n:?} is not a composite_sub_policy"));
        }
    }
    let mut total_percent = 0;
    for (i, r) in c.rate_allocation.iter().enumerate() {
        let mut at = entry(v, "rate_allocation", i);
        if !names.contains(r.policy.as_str()) {
            at.report_at(
                "policy",
                format!("policy {:?} is not a composite_sub_policy", r.policy),
            );
        }
        if r.percent < 0 {
            at.report_at("percent", "percent must not be negative");
        }
        total_percent += r.percent.max(0);
    }
    if total_percent > 100 {
        v.report_at(
            "rate_allocation",
            format!("rate allocations add up to {total_percent}%, more than 100%"),
        );
    }
    let max = c.max_total_spans_per_second as f64;
    let equal_share = max / c.composite_sub_policy.len().max(1) as f64;
    let allocation = |name: &str| -> i64 {
        c.rate_allocation
            .iter()
            .rev()
            .find(|r| r.policy == name)
            .map_or(0.0, |r| {
                if r.percent > 0 {
                    r.percent as f64 / 100.0 * max
                } else {
                    equal_share
                }
            }) as i64
    };
    let subs = build_subs(&c.composite_sub_policy, v, "composite_sub_policy");
    Rule::Composite {
        max_total: c.max_total_spans_per_second,
        second: 0,
        subs: subs
            .into_iter()
            .map(|policy| CompositeSub {
                allocated: allocation(&policy.name),
                used: 0,
                policy,
            })
            .collect(),
    }
}
