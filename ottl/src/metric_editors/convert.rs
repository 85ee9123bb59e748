//! `convert_sum_to_gauge()` and `convert_gauge_to_sum(aggregation_temporality, is_monotonic)`:
//! a metric changes type keeping its data points; a metric of another type is left as it is.
//!
//! ```yaml
//! metric_statements:
//!   - convert_sum_to_gauge() where metric.name == "system.processes.count"
//!   - convert_gauge_to_sum("cumulative", false) where metric.name == "prometheus_metric"
//! ```

use super::{literal_bool, temporality};
use crate::compile::CompiledArg;
use crate::error::EvalError;
use crate::funcs::{bind_optional, literal_string};
use crate::metric_context::MetricContext;
use crate::setters::MetricItemMut;
use crate::statement::Editor;
use ferrotel_core::proto::metrics::v1::{metric::Data, Gauge, Sum};

struct SumToGauge;

pub(super) fn sum_to_gauge(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let [] = bind_optional("convert_sum_to_gauge", args, &[], 0)?;
    Ok(Box::new(SumToGauge))
}

impl Editor<MetricContext> for SumToGauge {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        if let Some(Data::Sum(sum)) = &mut item.metric.data {
            let data_points = std::mem::take(&mut sum.data_points);
            item.metric.data = Some(Data::Gauge(Gauge { data_points }));
        }
        Ok(())
    }
}

struct GaugeToSum {
    temporality: i32,
    monotonic: bool,
}

pub(super) fn gauge_to_sum(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let name = "convert_gauge_to_sum";
    let [temp, monotonic] = bind_optional(name, args, &["string_agg_temp", "monotonic"], 2)?;
    let temp = literal_string(&temp.expect("required"), name, "string_agg_temp")?;
    Ok(Box::new(GaugeToSum {
        temporality: temporality(&temp)?,
        monotonic: literal_bool(&monotonic.expect("required"), name, "monotonic")?,
    }))
}

impl Editor<MetricContext> for GaugeToSum {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        if let Some(Data::Gauge(gauge)) = &mut item.metric.data {
            let data_points = std::mem::take(&mut gauge.data_points);
            item.metric.data = Some(Data::Sum(Sum {
                data_points,
                aggregation_temporality: self.temporality,
                is_monotonic: self.monotonic,
            }));
        }
        Ok(())
    }
}
