//! `extract_percentile_metric(percentile, Optional[suffix])`: a gauge estimating a percentile
//! (strictly between 0 and 100) of each point of a histogram or exponential histogram, named
//! the metric's name plus `suffix` (default `_p<percentile>`), added after the metric. Other
//! metric types are left alone; a point without observations adds no point.
//!
//! The estimate, as otelcol's: the bucket holding the `ceil(count * percentile / 100)`th
//! observation, interpolated linearly inside an explicit bucket (the first from `min`, or 0,
//! the last up to `max`, or its lower bound alone) and logarithmically inside an exponential
//! one (negative buckets taken from the most negative, the zero bucket linearly across the
//! zero threshold).
//!
//! ```yaml
//! metric_statements:
//!   - context: metric
//!     statements:
//!       - extract_percentile_metric(95.0) where metric.name == "http.server.duration"
//!       - extract_percentile_metric(50.0, "_median")
//! ```

use super::literal_float;
use crate::compile::CompiledArg;
use crate::error::EvalError;
use crate::funcs::{bind_optional, literal_string};
use crate::metric_context::MetricContext;
use crate::setters::MetricItemMut;
use crate::statement::Editor;
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::metrics::v1::exponential_histogram_data_point::Buckets;
use ferrotel_core::proto::metrics::v1::{
    metric::Data, number_data_point, ExponentialHistogramDataPoint, Gauge, HistogramDataPoint,
    Metric, NumberDataPoint,
};

const NAME: &str = "extract_percentile_metric";

struct ExtractPercentile {
    percentile: f64,
    suffix: String,
}

pub(super) fn editor(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let [percentile, suffix] = bind_optional(NAME, args, &["percentile", "suffix"], 1)?;
    let percentile = literal_float(&percentile.expect("required"), NAME, "percentile")?;
    if !(percentile > 0.0 && percentile < 100.0) {
        return Err(format!(
            "percentile must be greater than 0 and less than 100, got {percentile:.6}"
        ));
    }
    let suffix = match suffix {
        Some(e) => literal_string(&e, NAME, "suffix")?,
        None => format!("_p{percentile}"),
    };
    Ok(Box::new(ExtractPercentile { percentile, suffix }))
}

impl Editor<MetricContext> for ExtractPercentile {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        let m = &*item.metric;
        let point = |attributes: &[KeyValue], start, time, v| NumberDataPoint {
            attributes: attributes.to_vec(),
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        };
        let mut data_points = Vec::new();
        match &m.data {
            Some(Data::Histogram(h)) => {
                for p in &h.data_points {
                    if let Some(v) = histogram_percentile(p, self.percentile)? {
                        data_points.push(point(
                            &p.attributes,
                            p.start_time_unix_nano,
                            p.time_unix_nano,
                            v,
                        ));
                    }
                }
            }
            Some(Data::ExponentialHistogram(h)) => {
                for p in &h.data_points {
                    if let Some(v) = exponential_percentile(p, self.percentile)? {
                        data_points.push(point(
                            &p.attributes,
                            p.start_time_unix_nano,
                            p.time_unix_nano,
                            v,
                        ));
                    }
                }
            }
            _ => return Ok(()),
        }
        if data_points.is_empty() {
            return Ok(());
        }
        item.added.push(Metric {
            name: format!("{}{}", m.name, self.suffix),
            description: format!("{} (p{})", m.description, self.percentile),
            unit: m.unit.clone(),
            data: Some(Data::Gauge(Gauge { data_points })),
            ..Default::default()
        });
        Ok(())
    }
}

/// The rank of the observation at `percentile` among `count`.
fn target(count: u64, percentile: f64) -> u64 {
    (count as f64 * (percentile / 100.0)).ceil() as u64
}

fn not_reached(what: &str, target: u64, total: u64) -> EvalError {
    EvalError::new(format!(
        "calculating {what} percentile: malformed data: cumulative count doesn't reach target \
         count corresponding to percentile. targetCount={target}, total count={total}"
    ))
}

fn linear(lower: f64, upper: f64, ratio: f64) -> f64 {
    lower + ratio * (upper - lower)
}

fn logarithmic(from: f64, to: f64, ratio: f64) -> f64 {
    let (a, b) = (from.log2(), to.log2());
    (a + (b - a) * ratio).exp2()
}

/// The percentile of an explicit-bucket point; `None` when it cannot be estimated (no
/// observations, no buckets, or a single bucket without both `min` and `max`).
fn histogram_percentile(p: &HistogramDataPoint, percentile: f64) -> Result<Option<f64>, EvalError> {
    let (counts, bounds) = (&p.bucket_counts, &p.explicit_bounds);
    if p.count == 0 || counts.is_empty() {
        return Ok(None);
    }
    if counts.len() != bounds.len() + 1 {
        return Err(EvalError::new(format!(
            "calculating histogram percentile: malformed data: bucketCounts length ({}) != \
             explicitBounds length ({}) + 1",
            counts.len(),
            bounds.len()
        )));
    }
    let target = target(p.count, percentile);
    let mut cumulative = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        let before = cumulative;
        cumulative += n;
        if cumulative < target {
            continue;
        }
        let lower = match i.checked_sub(1) {
            Some(j) => bounds[j],
            None => p.min.unwrap_or(0.0),
        };
        let upper = match bounds.get(i) {
            Some(&b) if lower > b => return Ok(Some(b)),
            Some(&b) => b,
            None => match p.max {
                Some(max) if max > lower => max,
                _ if bounds.is_empty() => return Ok(None),
                _ => return Ok(Some(lower)),
            },
        };
        let ratio = (target - before) as f64 / n as f64;
        return Ok(Some(linear(lower, upper, ratio)));
    }
    Err(not_reached("histogram", target, cumulative))
}

/// The lower bound of bucket `index` at `scale`: `2^(index * 2^-scale)`.
fn exponential_bound(index: i64, scale: i32) -> f64 {
    (index as f64 * 2f64.powi(-scale)).exp2()
}

fn bucket_counts(b: &Option<Buckets>) -> &[u64] {
    b.as_ref().map_or(&[], |b| &b.bucket_counts)
}

/// The percentile of an exponential-bucket point; `None` without observations.
fn exponential_percentile(
    p: &ExponentialHistogramDataPoint,
    percentile: f64,
) -> Result<Option<f64>, EvalError> {
    let offset = |b: &Option<Buckets>| b.as_ref().map_or(0, |b| i64::from(b.offset));
    let (negative, positive) = (bucket_counts(&p.negative), bucket_counts(&p.positive));
    if p.count == 0 || (negative.is_empty() && positive.is_empty() && p.zero_count == 0) {
        return Ok(None);
    }
    let target = target(p.count, percentile);
    let bucket = |index: i64| {
        (
            exponential_bound(index, p.scale),
            exponential_bound(index + 1, p.scale),
        )
    };
    let mut cumulative = 0u64;
    for (i, &n) in negative.iter().enumerate().rev() {
        let before = cumulative;
        cumulative += n;
        if cumulative >= target {
            let (lower, upper) = bucket(offset(&p.negative) + i as i64);
            let ratio = (target - before) as f64 / n as f64;
            return Ok(Some(-logarithmic(upper, lower, ratio)));
        }
    }
    if cumulative + p.zero_count >= target {
        let lower = if negative.is_empty() && !positive.is_empty() {
            0.0
        } else {
            -p.zero_threshold
        };
        let upper = if positive.is_empty() && !negative.is_empty() {
            0.0
        } else {
            p.zero_threshold
        };
        let ratio = (target - cumulative) as f64 / p.zero_count as f64;
        return Ok(Some(linear(lower, upper, ratio)));
    }
    cumulative += p.zero_count;
    for (i, &n) in positive.iter().enumerate() {
        let before = cumulative;
        cumulative += n;
        if cumulative >= target {
            let (lower, upper) = bucket(offset(&p.positive) + i as i64);
            let ratio = (target - before) as f64 / n as f64;
            return Ok(Some(logarithmic(lower, upper, ratio)));
        }
    }
    Err(not_reached("exponential histogram", target, cumulative))
}
