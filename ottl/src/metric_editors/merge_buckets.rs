//! `merge_histogram_buckets(target_value, Optional[method])`, a datapoint context editor:
//! merges the buckets of an explicit histogram point. With `remove_explicit_bound` (the
//! default) `target_value` is a bound (matched within 1e-12) whose bucket merges into the next;
//! with `limit_buckets` it is the most buckets to keep, reached by one uniform pass merging
//! groups of the smallest size that fits, the last group possibly partial. Count and sum stay;
//! a point whose bounds and counts do not match, a bound not found, a histogram already small
//! enough or (for `limit_buckets`) with unordered bounds is left as it is, as otelcol.
//!
//! ```yaml
//! metric_statements:
//!   - merge_histogram_buckets(0.5) where metric.name == "http_request_duration"
//!   - merge_histogram_buckets(5, method="limit_buckets") where metric.name == "http_request_duration"
//! ```

use crate::compile::{CompiledArg, Expr};
use crate::editors::arg_value;
use crate::error::EvalError;
use crate::funcs::{bind_optional, literal_string};
use crate::metric_context::DataPointContext;
use crate::setters::{DataPointItemMut, DataPointMut};
use crate::statement::Editor;
use crate::value::Value;
use ferrotel_core::proto::metrics::v1::HistogramDataPoint;

const NAME: &str = "merge_histogram_buckets";
const REMOVE: &str = "remove_explicit_bound";
const LIMIT: &str = "limit_buckets";

struct MergeBuckets {
    target: Expr<DataPointContext>,
    limit: bool,
}

pub(super) fn editor(
    args: Vec<CompiledArg<DataPointContext>>,
) -> Result<Box<dyn Editor<DataPointContext>>, String> {
    let [target, method] = bind_optional(NAME, args, &["target_value", "method"], 1)?;
    let target = target.expect("required");
    let method = match method {
        Some(m) => literal_string(&m, NAME, "method")?,
        None => REMOVE.to_string(),
    };
    if method != REMOVE && method != LIMIT {
        return Err(format!(
            "unsupported method {method:?}, expected {REMOVE:?} or {LIMIT:?}"
        ));
    }
    let limit = method == LIMIT;
    if let Some(v) = target.literal() {
        let t = float_like(v.borrowed()).map_err(|e| e.to_string())?;
        if limit {
            max_buckets(t).map_err(|e| e.to_string())?;
        }
    }
    Ok(Box::new(MergeBuckets { target, limit }))
}

/// otelcol's FloatLikeGetter: a float, an int, a bool (1 or 0) or a string holding a float.
fn float_like(v: Value<'_>) -> Result<f64, EvalError> {
    match v {
        Value::Float(f) => Ok(f),
        Value::Int(i) => Ok(i as f64),
        Value::Bool(b) => Ok(if b { 1.0 } else { 0.0 }),
        Value::Str(s) => s
            .parse()
            .map_err(|e| EvalError::new(format!("strconv.ParseFloat: parsing {s:?}: {e}"))),
        Value::Nil => Err(EvalError::new("target_value must not be nil")),
        other => Err(EvalError::new(format!(
            "unsupported type: {}",
            other.type_name()
        ))),
    }
}

fn max_buckets(t: f64) -> Result<usize, EvalError> {
    if t < 1.0 || t.trunc() != t || t > i64::MAX as f64 {
        return Err(EvalError::new(format!(
            "target_value must be a positive integer when method is {LIMIT:?}, got {t}"
        )));
    }
    Ok(t as usize)
}

impl Editor<DataPointContext> for MergeBuckets {
    fn apply(&self, item: &mut DataPointItemMut<'_>) -> Result<(), EvalError> {
        if !matches!(item.point, DataPointMut::Histogram(_)) {
            return Ok(());
        }
        let target = float_like(arg_value(&self.target, item)?)?;
        let DataPointMut::Histogram(p) = &mut item.point else {
            return Ok(());
        };
        if p.explicit_bounds.len() + 1 != p.bucket_counts.len() || p.bucket_counts.len() <= 1 {
            return Ok(());
        }
        if self.limit {
            limit_buckets(p, max_buckets(target)?);
        } else {
            remove_bound(p, target);
        }
        Ok(())
    }
}

fn remove_bound(p: &mut HistogramDataPoint, bound: f64) {
    let Some(at) = p
        .explicit_bounds
        .iter()
        .position(|b| (b - bound).abs() < 1e-12)
    else {
        return;
    };
    p.bucket_counts[at + 1] = p.bucket_counts[at + 1].wrapping_add(p.bucket_counts[at]);
    p.bucket_counts.remove(at);
    p.explicit_bounds.remove(at);
}

fn limit_buckets(p: &mut HistogramDataPoint, max: usize) {
    let n = p.bucket_counts.len();
    let increasing = p.explicit_bounds.windows(2).all(|w| w[1] > w[0]);
    if n <= max || !increasing {
        return;
    }
    let size = n.div_ceil(max);
    p.bucket_counts = p
        .bucket_counts
        .chunks(size)
        .map(|c| c.iter().fold(0u64, |a, b| a.wrapping_add(*b)))
        .collect();
    p.explicit_bounds = p
        .explicit_bounds
        .iter()
        .skip(size - 1)
        .step_by(size)
        .copied()
        .collect();
}
