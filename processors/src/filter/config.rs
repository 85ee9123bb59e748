//! `processors.filter`: otelcol-contrib's filterprocessor keys, and the checks its `Validate`
//! makes (which keys may not be combined, and every condition compiles).

use crate::matching::{AttributeConfig, MatchProperties, MatchType, RegexpConfig};
use ferrotel_config::choice::Choice;
use ferrotel_config::{Validate, Validator};
use ferrotel_ottl::ErrorMode;
use serde::{Deserialize, Serialize};

/// `processors.filter`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// How condition evaluation errors are handled: `ignore` (the default, as otelcol's since
    /// v0.153), `silent` or `propagate`.
    pub error_mode: Option<String>,
    /// Trace conditions, each context inferred from its paths (`span.name == "x"`).
    pub trace_conditions: Option<Vec<Option<ConditionsEntry>>>,
    /// Metric conditions, each context inferred from its paths.
    pub metric_conditions: Option<Vec<Option<ConditionsEntry>>>,
    /// Log conditions, each context inferred from its paths.
    pub log_conditions: Option<Vec<Option<ConditionsEntry>>>,
    /// Profile conditions, each context inferred from its paths.
    pub profile_conditions: Option<Vec<Option<ConditionsEntry>>>,
    /// Deprecated by otelcol: conditions per context for traces.
    pub traces: TraceFilters,
    /// Deprecated by otelcol: conditions per context, or include / exclude, for metrics.
    pub metrics: MetricFilters,
    /// Deprecated by otelcol: conditions per context, or include / exclude, for logs.
    pub logs: LogFilters,
    /// Deprecated by otelcol: conditions per context for profiles.
    pub profiles: ProfileFilters,
    /// Deprecated by otelcol: include / exclude for spans (the attributes processor's syntax).
    pub spans: SpanMatch,
}

/// One entry of a `*_conditions` list: a condition (basic style) or a group (advanced style).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ConditionsEntry {
    Basic(String),
    Advanced(ContextConditions),
}

/// A group of conditions with an optional context and error mode of its own.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConditions {
    /// The context of every condition of the group; inferred per condition when absent.
    pub context: Option<String>,
    /// The conditions; an item any of them holds for is dropped.
    pub conditions: Vec<String>,
    /// Overrides the processor's `error_mode` for this group.
    pub error_mode: Option<String>,
}

/// `traces`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceFilters {
    /// Resource conditions: a matching resource is dropped with all its spans.
    pub resource: Option<Vec<String>>,
    /// Span conditions: a matching span is dropped with its events.
    pub span: Option<Vec<String>>,
    /// Span event conditions.
    pub spanevent: Option<Vec<String>>,
}

/// `metrics`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricFilters {
    /// Keep only the metrics these properties match.
    pub include: Option<MetricMatchProperties>,
    /// Drop the metrics these properties match.
    pub exclude: Option<MetricMatchProperties>,
    /// Regexp cache settings; accepted for compatibility.
    pub regexp: Option<RegexpConfig>,
    /// Resource conditions.
    pub resource: Option<Vec<String>>,
    /// Metric conditions.
    pub metric: Option<Vec<String>>,
    /// Data point conditions; a metric left without points is dropped.
    pub datapoint: Option<Vec<String>>,
}

/// `metrics.include` / `metrics.exclude`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricMatchProperties {
    /// `strict`, `regexp` or `expr` (the last is not supported by ferrotel).
    pub match_type: String,
    /// Regexp cache settings; accepted for compatibility.
    pub regexp: Option<RegexpConfig>,
    /// Metric names (strings or patterns); none: only the resource is matched.
    pub metric_names: Vec<String>,
    /// `expr` expressions (refused).
    pub expressions: Vec<String>,
    /// Resource attributes; all must match.
    pub resource_attributes: Vec<AttributeConfig>,
}

/// `logs`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogFilters {
    /// Keep only the records these properties match.
    pub include: Option<LogMatchProperties>,
    /// Drop the records these properties match.
    pub exclude: Option<LogMatchProperties>,
    /// Resource conditions.
    pub resource: Option<Vec<String>>,
    /// Log record conditions.
    pub log_record: Option<Vec<String>>,
}

/// `logs.include` / `logs.exclude`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogMatchProperties {
    /// `strict` or `regexp`.
    pub match_type: String,
    /// Resource attributes; all must match.
    pub resource_attributes: Vec<AttributeConfig>,
    /// Record attributes; all must match.
    pub record_attributes: Vec<AttributeConfig>,
    /// Severity texts; any may match.
    pub severity_texts: Vec<String>,
    /// Lowest severity number that matches.
    pub severity_number: Option<SeverityNumber>,
    /// Bodies (as strings); any may match.
    pub bodies: Vec<String>,
}

/// `severity_number`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityNumber {
    /// A severity name (`INFO`, `warn2`, any case) or number (`1`..`24`).
    pub min: String,
    /// Whether records without a severity number match.
    pub match_undefined: bool,
}

/// `profiles`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileFilters {
    /// Resource conditions.
    pub resource: Option<Vec<String>>,
    /// Profile conditions (ferrotel reads only their `resource.*` and `scope.*` paths).
    pub profile: Option<Vec<String>>,
}

/// `spans`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpanMatch {
    /// Keep only the spans these properties match.
    pub include: Option<MatchProperties>,
    /// Drop the spans these properties match.
    pub exclude: Option<MatchProperties>,
}

impl FilterConfig {
    /// The processor's error mode (otelcol's message for an unknown one).
    pub fn mode(&self) -> Result<ErrorMode, String> {
        self.error_mode
            .as_deref()
            .map_or(Ok(ErrorMode::Ignore), ErrorMode::from_name)
    }

    /// otelcol's refusal of keys used together, checked before anything else.
    pub fn conflict(&self) -> Option<&'static str> {
        let (t, m, l, p) = (&self.traces, &self.metrics, &self.logs, &self.profiles);
        let traces_ottl = t.resource.is_some() || t.span.is_some() || t.spanevent.is_some();
        let metrics_ottl = m.resource.is_some() || m.metric.is_some() || m.datapoint.is_some();
        let metrics_legacy = m.include.is_some() || m.exclude.is_some();
        let logs_ottl = l.resource.is_some() || l.log_record.is_some();
        let logs_legacy = l.include.is_some() || l.exclude.is_some();
        let spans_legacy = self.spans.include.is_some() || self.spans.exclude.is_some();
        let checks = [
            (
                self.trace_conditions.is_some() && traces_ottl,
                CONFLICT_TRACE_CONDITIONS,
            ),
            (
                self.metric_conditions.is_some() && (metrics_ottl || metrics_legacy),
                CONFLICT_METRIC_CONDITIONS,
            ),
            (
                self.log_conditions.is_some() && (logs_ottl || logs_legacy),
                CONFLICT_LOG_CONDITIONS,
            ),
            (
                self.profile_conditions.is_some() && (p.resource.is_some() || p.profile.is_some()),
                CONFLICT_PROFILE_CONDITIONS,
            ),
            (traces_ottl && spans_legacy, CONFLICT_SPANS),
            (metrics_ottl && metrics_legacy, CONFLICT_METRICS),
            (logs_ottl && logs_legacy, CONFLICT_LOGS),
        ];
        checks.into_iter().find(|(bad, _)| *bad).map(|(_, msg)| msg)
    }
}

const CONFLICT_TRACE_CONDITIONS: &str = r#"cannot use context inferred trace conditions "trace_conditions" and the settings "traces.resource", "traces.span", "traces.spanevent" at the same time"#;
const CONFLICT_METRIC_CONDITIONS: &str = r#"cannot use context inferred metric conditions "metric_conditions" and the settings "metrics.resource", "metrics.metric", "metrics.datapoint", "metrics.include", "metrics.exclude" at the same time"#;
const CONFLICT_LOG_CONDITIONS: &str = r#"cannot use context inferred log conditions "log_conditions" and the settings "logs.resource", "logs.log", "logs.include", "logs.exclude" at the same time"#;
const CONFLICT_PROFILE_CONDITIONS: &str = r#"cannot use context inferred profile conditions "profile_conditions" and the settings "profiles.resource", "profiles.profile" at the same time"#;
const CONFLICT_SPANS: &str = r#"cannot use "traces.resource", "traces.span", "traces.spanevent" and the span settings "spans.include", "spans.exclude" at the same time"#;
const CONFLICT_METRICS: &str = r#"cannot use "metrics.resource", "metrics.metric", "metrics.datapoint" and the settings "metrics.include", "metrics.exclude" at the same time"#;
const CONFLICT_LOGS: &str = r#"cannot use "logs.resource", "logs.log" and the settings "logs.include", "logs.exclude" at the same time"#;

impl Validate for FilterConfig {
    /// Everything but the pipeline signal's requirements on `spans` (checked at creation).
    fn validate(&self, v: &mut Validator<'_>) {
        if let Err(e) = self.mode() {
            v.report_at("error_mode", e);
            return;
        }
        if let Some(msg) = self.conflict() {
            v.report(msg);
            return;
        }
        super::compile::Filters::compile(self, v);
    }
}

/// The `*_conditions` entries as groups: the basic-style strings make one group with no
/// context; otelcol's message when an entry is empty or both styles are mixed.
pub fn groups(entries: &[Option<ConditionsEntry>]) -> Result<Vec<ContextConditions>, String> {
    let mut basic = Vec::new();
    let mut advanced = Vec::new();
    for e in entries {
        match e {
            None => return Err("condition cannot be empty".into()),
            Some(ConditionsEntry::Basic(s)) => basic.push(s.clone()),
            Some(ConditionsEntry::Advanced(g)) => advanced.push(g.clone()),
        }
        if !basic.is_empty() && !advanced.is_empty() {
            return Err(
                "configuring multiple configuration styles is not supported, please use \
                        only Basic configuration or only Advanced configuration"
                    .into(),
            );
        }
    }
    if !basic.is_empty() {
        advanced.push(ContextConditions {
            conditions: basic,
            ..Default::default()
        });
    }
    Ok(advanced)
}

/// A legacy match type: `strict` or `regexp` (anything else is kept for the matcher's message).
pub fn match_type(s: &str) -> Choice<MatchType> {
    match s {
        "strict" => Choice::Known(MatchType::Strict),
        "regexp" => Choice::Known(MatchType::Regexp),
        other => Choice::Unknown(other.to_string()),
    }
}
