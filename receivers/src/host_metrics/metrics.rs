//! What a scraper's metrics are (otelcol's metadata.yaml: name, description, unit, sum or
//! gauge, monotonic, int or double, enabled by default), the `metrics:` switches, and
//! [`Builder`], which collects one scrape's points into a [`ResourceMetrics`].

use ferrotel_config::Validator;
use ferrotel_core::pdata::kv_str;
use ferrotel_core::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use ferrotel_core::proto::resource::v1::Resource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The scope name of each scraper is this plus `<name>scraper`, as otelcol.
pub const SCOPE_PREFIX: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/";

/// The metadata.yaml `sem_conv_version` of every scraper.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.9.0";

/// Sum (with its monotonicity) or gauge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Sum { monotonic: bool },
    Gauge,
}

/// One metric as otelcol's metadata.yaml describes it.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub name: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub kind: Kind,
    /// Int points (else double).
    pub int: bool,
    pub enabled: bool,
}

pub type Defs = &'static [Def];

/// A cumulative sum (monotonic or not) or a gauge, for the scrapers' tables.
pub const fn sum(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    monotonic: bool,
    int: bool,
    enabled: bool,
) -> Def {
    Def {
        name,
        description,
        unit,
        kind: Kind::Sum { monotonic },
        int,
        enabled,
    }
}

pub const fn gauge(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    int: bool,
    enabled: bool,
) -> Def {
    Def {
        name,
        description,
        unit,
        kind: Kind::Gauge,
        int,
        enabled,
    }
}

/// One switch: `{enabled: bool}`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

/// `metrics:` or `resource_attributes:`: name to switch; absent names keep their default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Switches(pub BTreeMap<String, Toggle>);

impl Switches {
    /// Whether `name` is on, given its default.
    pub fn on(&self, name: &str, default: bool) -> bool {
        self.0.get(name).map_or(default, |t| t.enabled)
    }

    /// Reports metric names the scraper does not have.
    pub fn check(&self, defs: Defs, v: &mut Validator<'_>) {
        let known: Vec<&str> = defs.iter().map(|d| d.name).collect();
        self.check_known(&known, v);
    }

    /// Reports resource attribute names the scraper does not have.
    pub fn check_names(&self, names: &[(&str, bool)], v: &mut Validator<'_>) {
        let known: Vec<&str> = names.iter().map(|n| n.0).collect();
        self.check_known(&known, v);
    }

    fn check_known(&self, known: &[&str], v: &mut Validator<'_>) {
        let invalid: Vec<&str> = self
            .0
            .keys()
            .map(String::as_str)
            .filter(|k| !known.contains(k))
            .collect();
        if !invalid.is_empty() {
            v.report(format!("has invalid keys: {}", invalid.join(", ")));
        }
    }

    /// The enabled flag of every def, in order.
    pub fn resolve(&self, defs: Defs) -> Vec<bool> {
        defs.iter().map(|d| self.on(d.name, d.enabled)).collect()
    }
}

/// A point's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Double(f64),
}

/// Collects one scrape's points of one scraper (or one process), then builds its
/// [`ResourceMetrics`] with metrics in the table's order and empty metrics left out.
pub struct Builder<'a> {
    defs: Defs,
    enabled: &'a [bool],
    start_ns: u64,
    now_ns: u64,
    points: Vec<Vec<NumberDataPoint>>,
}

impl<'a> Builder<'a> {
    pub fn new(defs: Defs, enabled: &'a [bool], start_ns: u64, now_ns: u64) -> Self {
        Builder {
            defs,
            enabled,
            start_ns,
            now_ns,
            points: vec![Vec::new(); defs.len()],
        }
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.defs.iter().position(|d| d.name == name)
    }

    /// Whether `name` is enabled (an unknown name is not).
    pub fn enabled(&self, name: &str) -> bool {
        self.index(name)
            .is_some_and(|i| self.enabled.get(i).copied().unwrap_or(false))
    }

    /// Adds a point (converted to the metric's value type) if the metric is enabled.
    pub fn add(&mut self, name: &str, value: Num, attrs: &[(&str, &str)]) {
        let Some(i) = self.index(name) else { return };
        if !self.enabled.get(i).copied().unwrap_or(false) {
            return;
        }
        let def = self.defs[i];
        let value = match (def.int, value) {
            (true, Num::Int(v)) => number_data_point::Value::AsInt(v),
            (true, Num::Double(v)) => number_data_point::Value::AsInt(v as i64),
            (false, Num::Int(v)) => number_data_point::Value::AsDouble(v as f64),
            (false, Num::Double(v)) => number_data_point::Value::AsDouble(v),
        };
        let start = match def.kind {
            Kind::Sum { .. } => self.start_ns,
            Kind::Gauge => 0,
        };
        self.points[i].push(NumberDataPoint {
            attributes: attrs.iter().map(|(k, v)| kv_str(k, v)).collect(),
            start_time_unix_nano: start,
            time_unix_nano: self.now_ns,
            value: Some(value),
            ..Default::default()
        });
    }

    pub fn int(&mut self, name: &str, value: i64, attrs: &[(&str, &str)]) {
        self.add(name, Num::Int(value), attrs);
    }

    pub fn double(&mut self, name: &str, value: f64, attrs: &[(&str, &str)]) {
        self.add(name, Num::Double(value), attrs);
    }

    /// The metrics built, under `scope` (`<name>scraper`) and `resource`; `None` when no
    /// metric has a point.
    pub fn finish(self, scope: &str, resource: Vec<KeyValue>) -> Option<ResourceMetrics> {
        let metrics: Vec<Metric> = self
            .defs
            .iter()
            .zip(self.points)
            .filter(|(_, p)| !p.is_empty())
            .map(|(d, p)| to_metric(d, p))
            .collect();
        if metrics.is_empty() {
            return None;
        }
        Some(ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: format!("{SCOPE_PREFIX}{scope}"),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: SCHEMA_URL.to_string(),
        })
    }
}

fn to_metric(d: &Def, data_points: Vec<NumberDataPoint>) -> Metric {
    let data = match d.kind {
        Kind::Sum { monotonic } => metric::Data::Sum(Sum {
            data_points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: monotonic,
        }),
        Kind::Gauge => metric::Data::Gauge(Gauge { data_points }),
    };
    Metric {
        name: d.name.to_string(),
        description: d.description.to_string(),
        unit: d.unit.to_string(),
        metadata: vec![],
        data: Some(data),
    }
}
