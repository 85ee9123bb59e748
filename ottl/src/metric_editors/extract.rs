//! Editors that add a metric made from the values of another's points:
//! `extract_sum_metric(is_monotonic, Optional[suffix])` and `extract_count_metric(is_monotonic,
//! Optional[suffix])` (histograms, exponential histograms, summaries; a sum of the points' sums
//! or counts, added when it has a point), `convert_summary_quantile_val_to_gauge(
//! Optional[attributeKey], Optional[suffix])` (a gauge with one point per quantile) in the
//! metric context, and `convert_summary_count_val_to_sum` / `convert_summary_sum_val_to_sum(
//! aggregation_temporality, is_monotonic, Optional[suffix])` in the datapoint context. As
//! otelcol, the datapoint-context editors add a sum of *all* the summary's points each time
//! they run on one of its points.
//!
//! ```yaml
//! metric_statements:
//!   - context: metric
//!     statements:
//!       - extract_sum_metric(true, ".sum") where metric.name == "http.server.duration"
//!       - convert_summary_quantile_val_to_gauge("quantile", ".quantiles")
//!   - context: datapoint
//!     statements:
//!       - convert_summary_count_val_to_sum("delta", true, ".count")
//! ```

use super::{literal_bool, temporality, type_name, SummaryValue};
use crate::compile::{CompiledArg, Expr};
use crate::error::EvalError;
use crate::funcs::{bind_optional, literal_string};
use crate::metric_context::{DataPointContext, MetricContext};
use crate::setters::{DataPointItemMut, MetricItemMut};
use crate::statement::{ContextMut, Editor};
use ferrotel_core::pdata::upsert;
use ferrotel_core::proto::common::v1::{any_value, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, Sum,
};

/// An optional literal string argument, or its default.
fn suffix_or<C: ContextMut>(
    e: Option<Expr<C>>,
    fname: &str,
    param: &str,
    default: &str,
) -> Result<String, String> {
    e.map_or(Ok(default.to_string()), |e| {
        literal_string(&e, fname, param)
    })
}

/// Which point value `extract_*_metric` takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extracted {
    Sum,
    Count,
}

struct Extract {
    what: Extracted,
    monotonic: bool,
    suffix: String,
}

fn extract(
    name: &'static str,
    what: Extracted,
    default_suffix: &str,
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let [monotonic, suffix] = bind_optional(name, args, &["monotonic", "suffix"], 1)?;
    Ok(Box::new(Extract {
        what,
        monotonic: literal_bool(&monotonic.expect("required"), name, "monotonic")?,
        suffix: suffix_or(suffix, name, "suffix", default_suffix)?,
    }))
}

pub(super) fn extract_sum(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    extract("extract_sum_metric", Extracted::Sum, "_sum", args)
}

pub(super) fn extract_count(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    extract("extract_count_metric", Extracted::Count, "_count", args)
}

/// A number point with the attributes and times of another.
fn point(
    attributes: &[KeyValue],
    start: u64,
    time: u64,
    v: number_data_point::Value,
) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes.to_vec(),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(v),
        ..Default::default()
    }
}

impl Extract {
    fn name(&self) -> &'static str {
        match self.what {
            Extracted::Sum => "extract_sum_metric",
            Extracted::Count => "extract_count_metric",
        }
    }

    /// The temporality and points of the new sum; `None` for a metric of another type (or a
    /// histogram without a temporality).
    fn points(&self, m: &Metric) -> Option<(i32, Vec<NumberDataPoint>)> {
        // Attributes, start time, time, sum and count of a point.
        type Fields<'a> = (&'a [KeyValue], u64, u64, Option<f64>, u64);
        let (temporality, fields): (i32, Vec<Fields<'_>>) = match &m.data {
            Some(Data::Histogram(h)) => (
                h.aggregation_temporality,
                h.data_points
                    .iter()
                    .map(|p| {
                        (
                            &p.attributes[..],
                            p.start_time_unix_nano,
                            p.time_unix_nano,
                            p.sum,
                            p.count,
                        )
                    })
                    .collect(),
            ),
            Some(Data::ExponentialHistogram(h)) => (
                h.aggregation_temporality,
                h.data_points
                    .iter()
                    .map(|p| {
                        (
                            &p.attributes[..],
                            p.start_time_unix_nano,
                            p.time_unix_nano,
                            p.sum,
                            p.count,
                        )
                    })
                    .collect(),
            ),
            // Summaries have no temporality: cumulative, as OpenMetrics says.
            Some(Data::Summary(s)) => (
                2,
                s.data_points
                    .iter()
                    .map(|p| {
                        (
                            &p.attributes[..],
                            p.start_time_unix_nano,
                            p.time_unix_nano,
                            Some(p.sum),
                            p.count,
                        )
                    })
                    .collect(),
            ),
            _ => return None,
        };
        if temporality == 0 {
            return None;
        }
        let points = fields
            .into_iter()
            .filter_map(|(attributes, start, time, sum, count)| {
                // A histogram point without a sum adds no point to the sum.
                let v = match self.what {
                    Extracted::Count => number_data_point::Value::AsInt(count as i64),
                    Extracted::Sum => number_data_point::Value::AsDouble(sum?),
                };
                Some(point(attributes, start, time, v))
            });
        Some((temporality, points.collect()))
    }
}

impl Editor<MetricContext> for Extract {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        let m = &*item.metric;
        let Some((temporality, data_points)) = self.points(m) else {
            return Err(EvalError::new(format!(
                "{} requires an input metric of type Histogram, ExponentialHistogram or Summary, got {}",
                self.name(),
                type_name(m)
            )));
        };
        if data_points.is_empty() {
            return Ok(());
        }
        let unit = match self.what {
            // The original unit does not apply to a count.
            Extracted::Count => "1".to_string(),
            Extracted::Sum => m.unit.clone(),
        };
        item.added.push(Metric {
            name: format!("{}{}", m.name, self.suffix),
            description: m.description.clone(),
            unit,
            data: Some(Data::Sum(Sum {
                data_points,
                aggregation_temporality: temporality,
                is_monotonic: self.monotonic,
            })),
            ..Default::default()
        });
        Ok(())
    }
}

struct QuantilesToGauge {
    attribute_key: String,
    suffix: String,
}

pub(super) fn quantiles_to_gauge(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let name = "convert_summary_quantile_val_to_gauge";
    let [key, suffix] = bind_optional(name, args, &["attribute_key", "suffix"], 0)?;
    Ok(Box::new(QuantilesToGauge {
        attribute_key: suffix_or(key, name, "attribute_key", "quantile")?,
        suffix: suffix_or(suffix, name, "suffix", ".quantiles")?,
    }))
}

/// A quantile as otelcol writes it in the attribute: shortest form, at least two decimals
/// below 1 (`0.50`, `0.99`, `0`, `1`).
fn quantile_string(q: f64) -> String {
    let mut s = q.to_string();
    if s.len() < 4 && s != "0" && s != "1" {
        s.push('0');
    }
    s
}

impl Editor<MetricContext> for QuantilesToGauge {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        let m = &*item.metric;
        let Some(Data::Summary(summary)) = &m.data else {
            return Ok(());
        };
        let mut data_points = Vec::new();
        for p in &summary.data_points {
            for q in &p.quantile_values {
                let mut gp = point(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    number_data_point::Value::AsDouble(q.value),
                );
                let q = any_value::Value::StringValue(quantile_string(q.quantile));
                upsert(&mut gp.attributes, &self.attribute_key, q);
                data_points.push(gp);
            }
        }
        item.added.push(Metric {
            name: format!("{}{}", m.name, self.suffix),
            description: m.description.clone(),
            unit: m.unit.clone(),
            data: Some(Data::Gauge(Gauge { data_points })),
            ..Default::default()
        });
        Ok(())
    }
}

struct SummaryToSum {
    value: SummaryValue,
    temporality: i32,
    monotonic: bool,
    suffix: String,
}

fn summary_to_sum(
    name: &'static str,
    value: SummaryValue,
    default_suffix: &str,
    args: Vec<CompiledArg<DataPointContext>>,
) -> Result<Box<dyn Editor<DataPointContext>>, String> {
    let params = ["string_agg_temp", "monotonic", "suffix"];
    let [temp, monotonic, suffix] = bind_optional(name, args, &params, 2)?;
    let temp = literal_string(&temp.expect("required"), name, "string_agg_temp")?;
    Ok(Box::new(SummaryToSum {
        value,
        temporality: temporality(&temp)?,
        monotonic: literal_bool(&monotonic.expect("required"), name, "monotonic")?,
        suffix: suffix_or(suffix, name, "suffix", default_suffix)?,
    }))
}

pub(super) fn summary_count_to_sum(
    args: Vec<CompiledArg<DataPointContext>>,
) -> Result<Box<dyn Editor<DataPointContext>>, String> {
    summary_to_sum(
        "convert_summary_count_val_to_sum",
        SummaryValue::Count,
        "_count",
        args,
    )
}

pub(super) fn summary_sum_to_sum(
    args: Vec<CompiledArg<DataPointContext>>,
) -> Result<Box<dyn Editor<DataPointContext>>, String> {
    summary_to_sum(
        "convert_summary_sum_val_to_sum",
        SummaryValue::Sum,
        "_sum",
        args,
    )
}

impl Editor<DataPointContext> for SummaryToSum {
    fn apply(&self, item: &mut DataPointItemMut<'_>) -> Result<(), EvalError> {
        let m = &*item.metric.metric;
        if !matches!(m.data, Some(Data::Summary(_))) {
            return Ok(());
        }
        let sum = Metric {
            name: format!("{}{}", m.name, self.suffix),
            description: m.description.clone(),
            unit: m.unit.clone(),
            data: Some(Data::Sum(Sum {
                data_points: Vec::new(),
                aggregation_temporality: self.temporality,
                is_monotonic: self.monotonic,
            })),
            ..Default::default()
        };
        // The points are the summary's, which the metric gets back after the visit.
        item.metric.added.push_from_summary(sum, self.value);
        Ok(())
    }
}
