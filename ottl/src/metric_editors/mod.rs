//! The transform processor's metric editors (otelcol-contrib's transformprocessor
//! `internal/metrics` functions), with otelcol's names, parameters, defaults and messages. They
//! exist only in the context otelcol registers them in: the `metric` context, and for
//! `convert_summary_count_val_to_sum`, `convert_summary_sum_val_to_sum` and
//! `merge_histogram_buckets` the `datapoint` context; anywhere else a statement using one is
//! refused (`undefined function`).
//!
//! Editors that add metrics (`copy_metric`, `extract_*`, `convert_summary_*`) push them to the
//! item's [`NewMetrics`]; the runner appends them to the scope's metric list after the metric
//! being visited, and the group's statements then visit them in turn (otelcol: "the new metric
//! that is created will be passed to all subsequent statements").
//!
//! ```yaml
//! processors:
//!   transform:
//!     metric_statements:
//!       - context: metric
//!         statements:
//!           - convert_sum_to_gauge() where metric.name == "system.processes.count"
//!           - convert_gauge_to_sum("cumulative", false) where metric.name == "prometheus_metric"
//!           - extract_count_metric(true, ".count") where metric.name == "http.server.duration"
//!           - scale_metric(1000.0, "ms") where metric.unit == "s"
//!           - aggregate_on_attributes("sum", ["service.name"]) where metric.name == "requests"
//!       - context: datapoint
//!         statements:
//!           - convert_summary_count_val_to_sum("delta", true) where metric.name == "rpc.latency"
//! ```

mod added;
mod aggregate;
mod convert;
mod copy;
mod exp_to_histogram;
mod extract;
mod merge_buckets;
mod percentile;

pub use added::NewMetrics;
pub(crate) use added::SummaryValue;

use crate::compile::Expr;
pub(crate) use crate::editors::literal_strings;
use crate::metric_context::{DataPointContext, MetricContext};
use crate::statement::{ContextMut, EditorBuilder};
use crate::value::Value;
use ferrotel_core::proto::metrics::v1::{metric::Data, Metric};

/// The editors only the `metric` context has.
pub const METRIC: &[&str] = &[
    "aggregate_on_attribute_value",
    "aggregate_on_attributes",
    "convert_exponential_histogram_to_histogram",
    "convert_gauge_to_sum",
    "convert_sum_to_gauge",
    "convert_summary_quantile_val_to_gauge",
    "copy_metric",
    "extract_count_metric",
    "extract_percentile_metric",
    "extract_sum_metric",
    "scale_metric",
];

/// The editors only the `datapoint` context has.
pub const DATAPOINT: &[&str] = &[
    "convert_summary_count_val_to_sum",
    "convert_summary_sum_val_to_sum",
    "merge_histogram_buckets",
];

/// The builder of a `metric` context editor.
pub(crate) fn metric(name: &str) -> Option<EditorBuilder<MetricContext>> {
    Some(match name {
        "convert_sum_to_gauge" => convert::sum_to_gauge,
        "convert_gauge_to_sum" => convert::gauge_to_sum,
        "extract_sum_metric" => extract::extract_sum,
        "extract_count_metric" => extract::extract_count,
        "extract_percentile_metric" => percentile::editor,
        "convert_summary_quantile_val_to_gauge" => extract::quantiles_to_gauge,
        "copy_metric" => copy::copy_metric,
        "scale_metric" => copy::scale_metric,
        "aggregate_on_attributes" => aggregate::on_attributes,
        "aggregate_on_attribute_value" => aggregate::on_attribute_value,
        "convert_exponential_histogram_to_histogram" => exp_to_histogram::editor,
        _ => return None,
    })
}

/// The builder of a `datapoint` context editor.
pub(crate) fn datapoint(name: &str) -> Option<EditorBuilder<DataPointContext>> {
    Some(match name {
        "convert_summary_count_val_to_sum" => extract::summary_count_to_sum,
        "convert_summary_sum_val_to_sum" => extract::summary_sum_to_sum,
        "merge_histogram_buckets" => merge_buckets::editor,
        _ => return None,
    })
}

fn literal_error(fname: &str, param: &str, what: &str) -> String {
    format!("error while parsing arguments for call to {fname:?}: {param} must be {what}")
}

/// A literal bool (otelcol's `bool` parameters).
pub(crate) fn literal_bool<C: ContextMut>(
    e: &Expr<C>,
    fname: &str,
    param: &str,
) -> Result<bool, String> {
    match e.literal() {
        Some(Value::Bool(b)) => Ok(*b),
        _ => Err(literal_error(fname, param, "a bool")),
    }
}

/// A literal float (otelcol's `float64` parameters, which take no int).
pub(crate) fn literal_float<C: ContextMut>(
    e: &Expr<C>,
    fname: &str,
    param: &str,
) -> Result<f64, String> {
    match e.literal() {
        Some(Value::Float(f)) => Ok(*f),
        _ => Err(literal_error(fname, param, "a float")),
    }
}

/// otelcol's aggregation temporality argument: `"delta"` or `"cumulative"`.
pub(crate) fn temporality(s: &str) -> Result<i32, String> {
    match s {
        "delta" => Ok(1),
        "cumulative" => Ok(2),
        _ => Err(format!("unknown aggregation temporality: {s}")),
    }
}

/// pdata's name of a metric's type (`Gauge`, `ExponentialHistogram`; `Empty` without data).
pub(crate) fn type_name(m: &Metric) -> &'static str {
    match &m.data {
        None => "Empty",
        Some(Data::Gauge(_)) => "Gauge",
        Some(Data::Sum(_)) => "Sum",
        Some(Data::Histogram(_)) => "Histogram",
        Some(Data::ExponentialHistogram(_)) => "ExponentialHistogram",
        Some(Data::Summary(_)) => "Summary",
    }
}
