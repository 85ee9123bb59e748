//! `copy_metric(Optional[name], Optional[description], Optional[unit])`: a copy of the metric
//! added after it, with the given name, description and unit; and `scale_metric(factor,
//! Optional[unit])`: the values of a gauge's, sum's, histogram's or summary's points multiplied
//! by `factor` (an int value stays an int, truncated), the unit set when given.
//!
//! ```yaml
//! metric_statements:
//!   - copy_metric(name="http.request.status_code", unit="s") where metric.name == "http.status_code"
//!   - scale_metric(10.0, "kWh") where metric.name == "energy"
//! ```

use super::{literal_float, type_name};
use crate::compile::{CompiledArg, Expr};
use crate::editors::arg_value;
use crate::error::EvalError;
use crate::funcs::{bind_optional, string_arg};
use crate::metric_context::MetricContext;
use crate::setters::MetricItemMut;
use crate::statement::Editor;
use ferrotel_core::proto::metrics::v1::{
    exemplar, metric::Data, number_data_point, Exemplar, HistogramDataPoint, NumberDataPoint,
    SummaryDataPoint,
};

/// The string an optional argument evaluates to (otelcol's `Optional[StringGetter]`).
fn optional_string(
    e: &Option<Expr<MetricContext>>,
    item: &MetricItemMut<'_>,
) -> Result<Option<String>, EvalError> {
    e.as_ref()
        .map(|e| Ok(string_arg(arg_value(e, item)?)?.into_owned()))
        .transpose()
}

struct CopyMetric {
    name: Option<Expr<MetricContext>>,
    description: Option<Expr<MetricContext>>,
    unit: Option<Expr<MetricContext>>,
}

pub(super) fn copy_metric(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let [name, description, unit] =
        bind_optional("copy_metric", args, &["name", "description", "unit"], 0)?;
    Ok(Box::new(CopyMetric {
        name,
        description,
        unit,
    }))
}

impl Editor<MetricContext> for CopyMetric {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        let mut copy = item.metric.clone();
        if let Some(n) = optional_string(&self.name, item)? {
            copy.name = n;
        }
        if let Some(d) = optional_string(&self.description, item)? {
            copy.description = d;
        }
        if let Some(u) = optional_string(&self.unit, item)? {
            copy.unit = u;
        }
        item.added.push(copy);
        Ok(())
    }
}

struct ScaleMetric {
    factor: f64,
    unit: Option<Expr<MetricContext>>,
}

pub(super) fn scale_metric(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let name = "scale_metric";
    let [factor, unit] = bind_optional(name, args, &["multiplier", "unit"], 1)?;
    Ok(Box::new(ScaleMetric {
        factor: literal_float(&factor.expect("required"), name, "multiplier")?,
        unit,
    }))
}

impl Editor<MetricContext> for ScaleMetric {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        let unit = optional_string(&self.unit, item)
            .map_err(|e| EvalError::new(format!("could not get unit from ScaleArguments: {e}")))?;
        let f = self.factor;
        match &mut item.metric.data {
            Some(Data::Gauge(g)) => g.data_points.iter_mut().for_each(|p| scale_number(p, f)),
            Some(Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| scale_number(p, f)),
            Some(Data::Histogram(h)) => {
                h.data_points.iter_mut().for_each(|p| scale_histogram(p, f))
            }
            Some(Data::Summary(s)) => s.data_points.iter_mut().for_each(|p| scale_summary(p, f)),
            Some(Data::ExponentialHistogram(_)) => {
                return Err(EvalError::new(
                    "exponential histograms are not supported by the 'scale_metric' function",
                ))
            }
            None => {
                return Err(EvalError::new(format!(
                    "unsupported metric type: '{}'",
                    type_name(item.metric)
                )))
            }
        }
        if let Some(u) = unit {
            item.metric.unit = u;
        }
        Ok(())
    }
}

fn scale_number(p: &mut NumberDataPoint, f: f64) {
    match &mut p.value {
        Some(number_data_point::Value::AsInt(i)) => *i = (*i as f64 * f) as i64,
        Some(number_data_point::Value::AsDouble(d)) => *d *= f,
        None => {}
    }
}

fn scale_exemplar(e: &mut Exemplar, f: f64) {
    match &mut e.value {
        Some(exemplar::Value::AsInt(i)) => *i = (*i as f64 * f) as i64,
        Some(exemplar::Value::AsDouble(d)) => *d *= f,
        None => {}
    }
}

fn scale_histogram(p: &mut HistogramDataPoint, f: f64) {
    for v in [&mut p.sum, &mut p.min, &mut p.max].into_iter().flatten() {
        *v *= f;
    }
    p.explicit_bounds.iter_mut().for_each(|b| *b *= f);
    p.exemplars.iter_mut().for_each(|e| scale_exemplar(e, f));
}

fn scale_summary(p: &mut SummaryDataPoint, f: f64) {
    p.sum *= f;
    p.quantile_values.iter_mut().for_each(|q| q.value *= f);
}
