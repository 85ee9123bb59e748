//! `aggregate_on_attributes(function, Optional[attributes])` and
//! `aggregate_on_attribute_value(function, attribute, values, newValue)`: the points of a
//! metric that share their attributes (after keeping only `attributes`, or after renaming the
//! values of `attribute`), their time, and for delta metrics their start time, merged into one
//! by `sum`, `max`, `min`, `mean`, `median` or `count` (histograms and exponential histograms:
//! always summed). As otelcol's aggregateutil: the merged point keeps the first point's other
//! fields and the earliest start time; a histogram point with a count of 0 adds nothing;
//! `count` of a single point keeps its value; int means and medians are truncated; the metric
//! loses its metadata; a summary's points are refused by `aggregate_on_attributes` and dropped
//! by `aggregate_on_attribute_value`. Merged points keep the order of their first point.
//!
//! ```yaml
//! metric_statements:
//!   - aggregate_on_attributes("sum", ["attr1", "attr2"]) where metric.name == "system.memory.usage"
//!   - aggregate_on_attribute_value("sum", "attr1", ["val1", "val2"], "new_val") where metric.name == "system.memory.usage"
//! ```

use super::literal_strings;
use crate::compile::CompiledArg;
use crate::error::EvalError;
use crate::funcs::{bind_optional, literal_string};
use crate::metric_context::MetricContext;
use crate::setters::MetricItemMut;
use crate::statement::Editor;
use ferrotel_core::proto::common::v1::{any_value, KeyValue};
use ferrotel_core::proto::metrics::v1::{metric::Data, Metric};

mod merge;

/// otelcol's aggregation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFn {
    Sum,
    Mean,
    Min,
    Max,
    Median,
    Count,
}

fn agg_fn(s: &str) -> Result<AggFn, String> {
    Ok(match s {
        "sum" => AggFn::Sum,
        "mean" => AggFn::Mean,
        "min" => AggFn::Min,
        "max" => AggFn::Max,
        "median" => AggFn::Median,
        "count" => AggFn::Count,
        _ => {
            return Err(format!(
                "invalid aggregation function: 'unsupported function: '{s}'', valid options: \
                 sum, mean, min, max, median, count"
            ))
        }
    })
}

/// The attribute maps of every point of a metric.
fn point_attributes(m: &mut Metric) -> Vec<&mut Vec<KeyValue>> {
    match &mut m.data {
        Some(Data::Gauge(g)) => g
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(Data::Sum(s)) => s
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(Data::Histogram(h)) => h
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(Data::ExponentialHistogram(h)) => h
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(Data::Summary(s)) => s
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        None => Vec::new(),
    }
}

struct OnAttributes {
    function: AggFn,
    /// `None`: every attribute kept.
    attributes: Option<Vec<String>>,
}

pub(super) fn on_attributes(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let name = "aggregate_on_attributes";
    let [function, attributes] =
        bind_optional(name, args, &["aggregation_function", "attributes"], 1)?;
    let function = literal_string(&function.expect("required"), name, "aggregation_function")?;
    Ok(Box::new(OnAttributes {
        function: agg_fn(&function)?,
        attributes: attributes
            .map(|a| literal_strings(&a, name, "attributes"))
            .transpose()?,
    }))
}

impl Editor<MetricContext> for OnAttributes {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        if let Some(Data::Summary(_)) = item.metric.data {
            return Err(EvalError::new(
                "aggregate_on_attributes does not support aggregating Summary metrics",
            ));
        }
        if let Some(keep) = &self.attributes {
            for attrs in point_attributes(item.metric) {
                attrs.retain(|kv| keep.contains(&kv.key));
            }
        }
        merge::merge(item.metric, self.function);
        Ok(())
    }
}

struct OnAttributeValue {
    function: AggFn,
    attribute: String,
    values: Vec<String>,
    new_value: String,
}

pub(super) fn on_attribute_value(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let name = "aggregate_on_attribute_value";
    let params = ["aggregation_function", "attribute", "values", "new_value"];
    let [function, attribute, values, new_value] = bind_optional(name, args, &params, 4)?;
    let string = |e: Option<_>, p| literal_string(&e.expect("required"), name, p);
    Ok(Box::new(OnAttributeValue {
        function: agg_fn(&string(function, "aggregation_function")?)?,
        attribute: string(attribute, "attribute")?,
        values: literal_strings(&values.expect("required"), name, "values")?,
        new_value: string(new_value, "new_value")?,
    }))
}

impl Editor<MetricContext> for OnAttributeValue {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        for attrs in point_attributes(item.metric) {
            let Some(kv) = attrs.iter_mut().find(|kv| kv.key == self.attribute) else {
                continue;
            };
            let v = kv.value.get_or_insert_with(Default::default);
            // pdata's `Str()` of a value that is not a string is "".
            let s = match &v.value {
                Some(any_value::Value::StringValue(s)) => s.as_str(),
                _ => "",
            };
            if self.values.iter().any(|want| want == s) {
                v.value = Some(any_value::Value::StringValue(self.new_value.clone()));
            }
        }
        merge::merge(item.metric, self.function);
        Ok(())
    }
}
