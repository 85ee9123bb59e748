//! `connectors.span_metrics`: otelcol's keys, defaults and validation messages.

use ferrotel_config::{GoDuration, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// otelcol's default explicit buckets, in milliseconds.
pub const DEFAULT_BUCKETS_MS: [f64; 16] = [
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10_000.0, 15_000.0,
];

/// The dimensions every series has, in this order (unless excluded).
pub const SERVICE_NAME: &str = "service.name";
pub const SPAN_NAME: &str = "span.name";
pub const SPAN_KIND: &str = "span.kind";
pub const STATUS_CODE: &str = "status.code";
const RESERVED: [&str; 4] = [SERVICE_NAME, SPAN_NAME, SPAN_KIND, STATUS_CODE];

const DELTA: &str = "AGGREGATION_TEMPORALITY_DELTA";

/// `connectors.span_metrics` (alias `spanmetrics`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpanMetricsConfig {
    /// The duration histogram: `disable`, `unit` (`ms` or `s`), `explicit.buckets` or
    /// `exponential.max_size`, and `dimensions` added to the histogram only.
    pub histogram: HistogramConfig,
    /// Attributes added to the default dimensions (`service.name`, `span.name`, `span.kind`,
    /// `status.code`), looked up in the span's attributes, then its resource's; a missing one
    /// takes its `default`, or is left out when it has none.
    pub dimensions: Vec<Dimension>,
    /// Dimensions added to the `calls` metric only.
    pub calls_dimensions: Vec<Dimension>,
    /// Default dimensions to leave out (`status.code`, ...).
    pub exclude_dimensions: Vec<String>,
    /// Deprecated (otelcol: use `aggregation_cardinality_limit`); accepted and ignored.
    pub dimensions_cache_size: i64,
    /// How many resources (groups of series) are held; past it the least recently used one is
    /// dropped. Default 1000.
    pub resource_metrics_cache_size: i64,
    /// The resource attributes that identify a resource's group of series (default: all).
    pub resource_metrics_key_attributes: Vec<String>,
    /// `AGGREGATION_TEMPORALITY_CUMULATIVE` (default) or `AGGREGATION_TEMPORALITY_DELTA`; any
    /// other value means cumulative, as in otelcol.
    pub aggregation_temporality: String,
    /// How often the metrics are emitted (default 60s); they are emitted at shutdown too.
    pub metrics_flush_interval: GoDuration,
    /// A series not updated for this long is dropped (0, the default: never).
    pub metrics_expiration: GoDuration,
    /// Delta only: how many series' last flush times are kept as the next start times
    /// (default 1000).
    pub metric_timestamp_cache_size: Option<i64>,
    /// Prefix of the metric names (default `traces.span.metrics`; empty: none).
    pub namespace: String,
    /// Exemplars (trace and span ids) on the data points.
    pub exemplars: ExemplarsConfig,
    /// The `events` metric: span events counted by `dimensions`.
    pub events: EventsConfig,
    /// Instrumentation scope names whose name and version become dimensions.
    pub include_instrumentation_scope: Vec<String>,
    /// Series per metric and resource; past it, spans go to one series with attribute
    /// `otel.metric.overflow: true`. 0 (default): no limit but ferrotel's own ceiling.
    pub aggregation_cardinality_limit: i64,
    /// Copy every resource attribute of the spans to the metrics' resource (default false:
    /// only the key attributes, or `service.name`).
    pub add_resource_attributes: bool,
}

impl Default for SpanMetricsConfig {
    fn default() -> Self {
        SpanMetricsConfig {
            histogram: HistogramConfig::default(),
            dimensions: Vec::new(),
            calls_dimensions: Vec::new(),
            exclude_dimensions: Vec::new(),
            dimensions_cache_size: 0,
            resource_metrics_cache_size: 1000,
            resource_metrics_key_attributes: Vec::new(),
            aggregation_temporality: "AGGREGATION_TEMPORALITY_CUMULATIVE".into(),
            metrics_flush_interval: GoDuration::from_secs(60),
            metrics_expiration: GoDuration::default(),
            metric_timestamp_cache_size: None,
            namespace: "traces.span.metrics".into(),
            exemplars: ExemplarsConfig::default(),
            events: EventsConfig::default(),
            include_instrumentation_scope: Vec::new(),
            aggregation_cardinality_limit: 0,
            add_resource_attributes: false,
        }
    }
}

/// A dimension: an attribute name and the value to use when a span lacks it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// The attribute (span first, then resource).
    pub name: String,
    /// The value when the attribute is missing; without it the dimension is left out.
    #[serde(default, deserialize_with = "scalar_string")]
    pub default: Option<String>,
}

/// `default: 200` is the string "200", as otelcol's decoder reads it.
fn scalar_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::S(s) => s,
        Scalar::I(i) => i.to_string(),
        Scalar::F(f) => f.to_string(),
        Scalar::B(b) => b.to_string(),
    }))
}

/// `histogram`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistogramConfig {
    /// No duration histogram at all.
    pub disable: bool,
    /// `ms` (default) or `s`.
    pub unit: Unit,
    /// Exponential buckets (`max_size`, default 160).
    pub exponential: Option<ExponentialConfig>,
    /// Explicit buckets (the default, with otelcol's buckets).
    pub explicit: Option<ExplicitConfig>,
    /// Dimensions added to the histogram only.
    pub dimensions: Vec<Dimension>,
}

/// The unit of the durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Unit {
    #[default]
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "s")]
    Seconds,
}

impl Unit {
    /// The metric's unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "ms",
            Unit::Seconds => "s",
        }
    }
    /// Nanoseconds per unit.
    pub fn nanos(self) -> f64 {
        match self {
            Unit::Milliseconds => 1e6,
            Unit::Seconds => 1e9,
        }
    }
}

/// `histogram.exponential`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExponentialConfig {
    /// Buckets per range (positive values); 0 means 160.
    pub max_size: i32,
}

/// `histogram.explicit`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExplicitConfig {
    /// Bucket upper bounds as durations (`2ms`, `1s`).
    pub buckets: Option<Vec<GoDuration>>,
}

/// `exemplars`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExemplarsConfig {
    /// Attach exemplars (trace and span ids of the spans) to the data points.
    pub enabled: bool,
    /// At most this many exemplars per data point and flush (default 5).
    pub max_per_data_point: i64,
}

impl Default for ExemplarsConfig {
    fn default() -> Self {
        ExemplarsConfig {
            enabled: false,
            max_per_data_point: 5,
        }
    }
}

/// `events`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Emit `<namespace>.events`.
    pub enabled: bool,
    /// Event (then resource) attributes the events are counted by; required when enabled.
    pub dimensions: Vec<Dimension>,
}

impl SpanMetricsConfig {
    pub fn is_delta(&self) -> bool {
        self.aggregation_temporality == DELTA
    }

    pub fn timestamp_cache_size(&self) -> i64 {
        self.metric_timestamp_cache_size.unwrap_or(1000)
    }

    pub fn flush_interval(&self) -> Duration {
        self.metrics_flush_interval.0
    }

    /// The explicit bounds in the configured unit.
    pub fn bounds(&self) -> Vec<f64> {
        let unit = self.histogram.unit;
        match self
            .histogram
            .explicit
            .as_ref()
            .and_then(|e| e.buckets.as_ref())
        {
            Some(buckets) => buckets
                .iter()
                .map(|d| d.0.as_nanos() as f64 / unit.nanos())
                .collect(),
            None => DEFAULT_BUCKETS_MS
                .iter()
                .map(|ms| ms * 1e6 / unit.nanos())
                .collect(),
        }
    }
}

/// The first dimension named like a reserved one or an earlier one.
fn duplicate(dimensions: &[Dimension]) -> Option<&str> {
    let mut seen: Vec<&str> = RESERVED.to_vec();
    for d in dimensions {
        if seen.contains(&d.name.as_str()) {
            return Some(&d.name);
        }
        seen.push(&d.name);
    }
    None
}

impl Validate for SpanMetricsConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if let Some(name) = duplicate(&self.dimensions) {
            v.report_at(
                "dimensions",
                format!("failed validating dimensions: duplicate dimension name {name}"),
            );
        }
        if self.events.enabled {
            let problem = if self.events.dimensions.is_empty() {
                Some("no dimensions configured for events".to_string())
            } else {
                duplicate(&self.events.dimensions).map(|n| format!("duplicate dimension name {n}"))
            };
            if let Some(p) = problem {
                v.at("events").report_at(
                    "dimensions",
                    format!("failed validating event dimensions: {p}"),
                );
            }
        }
        if self.histogram.explicit.is_some() && self.histogram.exponential.is_some() {
            v.report_at(
                "histogram",
                "use either `explicit` or `exponential` buckets histogram",
            );
        }
        if self.metrics_flush_interval.is_zero() {
            v.report_at(
                "metrics_flush_interval",
                "invalid metrics_flush_interval: 0s, the duration should be positive",
            );
        }
        if self.is_delta() && self.timestamp_cache_size() <= 0 {
            v.report_at("metric_timestamp_cache_size", format!(
                "invalid delta timestamp cache size: {}, the maximum number of the items in the cache should be positive",
                self.timestamp_cache_size()
            ));
        }
        if self.aggregation_cardinality_limit < 0 {
            v.report_at(
                "aggregation_cardinality_limit",
                format!(
                    "invalid aggregation_cardinality_limit: {}, the limit should be positive",
                    self.aggregation_cardinality_limit
                ),
            );
        }
        if self.resource_metrics_cache_size <= 0 {
            v.report_at("resource_metrics_cache_size", format!(
                "invalid resource_metrics_cache_size: {}, the maximum number of the items in the cache should be positive",
                self.resource_metrics_cache_size
            ));
        }
    }
}
