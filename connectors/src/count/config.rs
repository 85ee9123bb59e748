//! `connectors.count`: otelcol's sections, defaults and validation messages. A section left out
//! counts everything under its default metric; a section given (even empty) replaces it.

use ferrotel_config::{Validate, Validator};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The default metric of each section: name and description, as otelcol's.
pub const DEFAULT_SPANS: (&str, &str) = ("trace.span.count", "The number of spans observed.");
pub const DEFAULT_SPAN_EVENTS: (&str, &str) = (
    "trace.span.event.count",
    "The number of span events observed.",
);
pub const DEFAULT_METRICS: (&str, &str) = ("metric.count", "The number of metrics observed.");
pub const DEFAULT_DATA_POINTS: (&str, &str) = (
    "metric.datapoint.count",
    "The number of data points observed.",
);
pub const DEFAULT_LOGS: (&str, &str) = ("log.record.count", "The number of log records observed.");
pub const DEFAULT_PROFILES: (&str, &str) = ("profile.count", "The number of profiles observed.");

/// Count metrics by name.
pub type Section = BTreeMap<String, MetricInfo>;

/// `connectors.count`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CountConfig {
    /// Metrics counting spans (default: `trace.span.count`).
    #[serde(default = "default_spans", deserialize_with = "section")]
    pub spans: Section,
    /// Metrics counting span events (default: `trace.span.event.count`).
    #[serde(default = "default_span_events", deserialize_with = "section")]
    pub spanevents: Section,
    /// Metrics counting metrics (default: `metric.count`); they take no attributes.
    #[serde(default = "default_metrics", deserialize_with = "section")]
    pub metrics: Section,
    /// Metrics counting data points (default: `metric.datapoint.count`).
    #[serde(default = "default_data_points", deserialize_with = "section")]
    pub datapoints: Section,
    /// Metrics counting log records (default: `log.record.count`).
    #[serde(default = "default_logs", deserialize_with = "section")]
    pub logs: Section,
    /// Metrics counting profiles (default: `profile.count`); by attributes only, as ferrotel
    /// has no OTTL profile context for conditions.
    #[serde(default = "default_profiles", deserialize_with = "section")]
    pub profiles: Section,
}

impl Default for CountConfig {
    fn default() -> Self {
        CountConfig {
            spans: default_spans(),
            spanevents: default_span_events(),
            metrics: default_metrics(),
            datapoints: default_data_points(),
            logs: default_logs(),
            profiles: default_profiles(),
        }
    }
}

/// One count metric.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricInfo {
    /// The metric's description.
    pub description: String,
    /// OTTL conditions; an item is counted when any holds. None: every item is counted.
    pub conditions: Vec<String>,
    /// Attributes counted separately by value (item, then scope, then resource attributes);
    /// an item lacking one without a `default_value` is not counted by this metric.
    pub attributes: Vec<AttributeConfig>,
}

/// An attribute of a count metric.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeConfig {
    /// The attribute's key.
    #[serde(default)]
    pub key: String,
    /// The value for items lacking the attribute: a string, an integer or a float (as otelcol,
    /// an empty string, a zero or any other type means no default).
    #[serde(default)]
    pub default_value: Option<DefaultValue>,
}

/// A `default_value` as YAML gives it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum DefaultValue {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

fn one(name: &str, description: &str) -> Section {
    let info = MetricInfo {
        description: description.into(),
        ..Default::default()
    };
    Section::from([(name.to_string(), info)])
}

fn default_spans() -> Section {
    one(DEFAULT_SPANS.0, DEFAULT_SPANS.1)
}
fn default_span_events() -> Section {
    one(DEFAULT_SPAN_EVENTS.0, DEFAULT_SPAN_EVENTS.1)
}
fn default_metrics() -> Section {
    one(DEFAULT_METRICS.0, DEFAULT_METRICS.1)
}
fn default_data_points() -> Section {
    one(DEFAULT_DATA_POINTS.0, DEFAULT_DATA_POINTS.1)
}
fn default_logs() -> Section {
    one(DEFAULT_LOGS.0, DEFAULT_LOGS.1)
}
fn default_profiles() -> Section {
    one(DEFAULT_PROFILES.0, DEFAULT_PROFILES.1)
}

/// A section given is used as is: `spans:` (null) or `spans: {}` count no spans, and a metric
/// given without settings (`my.count:`) counts everything.
fn section<'de, D: Deserializer<'de>>(d: D) -> Result<Section, D::Error> {
    let raw = Option::<BTreeMap<String, Option<MetricInfo>>>::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(name, info)| (name, info.unwrap_or_default()))
        .collect())
}

/// Which section, for messages and for what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Spans,
    SpanEvents,
    Metrics,
    DataPoints,
    Logs,
    Profiles,
}

impl Kind {
    /// The section's key.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Spans => "spans",
            Kind::SpanEvents => "spanevents",
            Kind::Metrics => "metrics",
            Kind::DataPoints => "datapoints",
            Kind::Logs => "logs",
            Kind::Profiles => "profiles",
        }
    }

    /// The prefix of otelcol's attribute messages (its datapoints check says `spans`).
    fn attributes_prefix(self) -> &'static str {
        match self {
            Kind::DataPoints => "spans",
            other => other.key(),
        }
    }
}

impl CountConfig {
    /// Every section with its kind.
    pub fn sections(&self) -> [(Kind, &Section); 6] {
        [
            (Kind::Spans, &self.spans),
            (Kind::SpanEvents, &self.spanevents),
            (Kind::Metrics, &self.metrics),
            (Kind::DataPoints, &self.datapoints),
            (Kind::Logs, &self.logs),
            (Kind::Profiles, &self.profiles),
        ]
    }
}

/// The problem with a metric's attributes, in otelcol's words (a duplicate key is ferrotel's
/// check: otelcol accepts it and then never counts the metric).
pub fn attributes_problem(kind: Kind, name: &str, info: &MetricInfo) -> Option<String> {
    let prefix = kind.attributes_prefix();
    if kind == Kind::Metrics && !info.attributes.is_empty() {
        return Some(format!("metrics attributes not supported: metric {name:?}"));
    }
    if info.attributes.iter().any(|a| a.key.is_empty()) {
        return Some(format!(
            "{prefix} attributes: metric {name:?}: attribute key missing"
        ));
    }
    let keys = &info.attributes;
    let dup = keys
        .iter()
        .enumerate()
        .find(|(i, a)| keys[..*i].iter().any(|b| b.key == a.key))?;
    Some(format!(
        "{prefix} attributes: metric {name:?}: duplicate attribute key {:?}",
        dup.1.key
    ))
}

impl Validate for CountConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        for (kind, section) in self.sections() {
            let mut at = v.at(kind.key());
            for (name, info) in section {
                if name.is_empty() {
                    at.report(format!("{}: metric name missing", kind.key()));
                    continue;
                }
                if let Some(problem) = attributes_problem(kind, name, info) {
                    at.at(name).report_at("attributes", problem);
                }
                if kind == Kind::Profiles && !info.conditions.is_empty() {
                    at.at(name).report_at(
                        "conditions",
                        format!("profiles condition: metric {name:?}: ferrotel has no OTTL profile context"),
                    );
                }
            }
        }
        super::compile::report_condition_errors(self, v);
    }
}
