//! `convert_exponential_histogram_to_histogram(distribution, explicit_bounds)`: an exponential
//! histogram becomes an explicit one with the given bounds, each positive bucket's count
//! allocated by `upper` (the bound its upper limit fits), `midpoint` (the bucket below the
//! bound its midpoint fits), `uniform` (spread evenly over the bounds it spans) or `random`
//! (spread at random over them; `""` means `random`). As otelcol (not the OpenTelemetry
//! specification): the point has one count per bound, the last taking what lies above;
//! negative buckets are ignored; the zero count goes to the first bucket when the first bound
//! is 0; the point's flags and the metric's metadata are not kept. Where otelcol hands out a
//! random remainder one at a time, this spreads all but fewer than one per bound evenly first,
//! so a huge count costs no more than a small one.
//!
//! ```yaml
//! metric_statements:
//!   - convert_exponential_histogram_to_histogram("random", [0.0, 10.0, 100.0, 1000.0, 10000.0])
//! ```

use crate::compile::{CompiledArg, Expr};
use crate::error::EvalError;
use crate::funcs::{bind_optional, literal_string};
use crate::metric_context::MetricContext;
use crate::setters::MetricItemMut;
use crate::statement::Editor;
use crate::value::Value;
use ferrotel_core::proto::metrics::v1::{
    metric::Data, ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric,
};

/// How a bucket's count is allocated to the explicit buckets it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Distribution {
    Upper,
    Midpoint,
    Uniform,
    Random,
}

struct ExpToHistogram {
    distribution: Distribution,
    bounds: Vec<f64>,
}

const NAME: &str = "convert_exponential_histogram_to_histogram";

fn literal_floats(e: &Expr<MetricContext>) -> Result<Vec<f64>, String> {
    let fail = || {
        format!(
            "error while parsing arguments for call to {NAME:?}: explicit_bounds must be a list \
             of floats"
        )
    };
    match e {
        Expr::List(items) => items
            .iter()
            .map(|i| match i.literal() {
                Some(Value::Float(f)) => Ok(*f),
                _ => Err(fail()),
            })
            .collect(),
        _ => Err(fail()),
    }
}

pub(super) fn editor(
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Editor<MetricContext>>, String> {
    let [distribution, bounds] =
        bind_optional(NAME, args, &["distribution_fn", "explicit_bounds"], 2)?;
    let distribution = literal_string(&distribution.expect("required"), NAME, "distribution_fn")?;
    let distribution = match distribution.as_str() {
        "upper" => Distribution::Upper,
        "midpoint" => Distribution::Midpoint,
        "uniform" => Distribution::Uniform,
        "random" | "" => Distribution::Random,
        other => {
            return Err(format!(
                "invalid conversion function: {other}, must be one of [upper, midpoint, random, \
                 uniform]"
            ))
        }
    };
    let bounds = literal_floats(&bounds.expect("required"))?;
    if bounds.is_empty() {
        return Err("explicit bounds cannot be empty: []".into());
    }
    Ok(Box::new(ExpToHistogram {
        distribution,
        bounds,
    }))
}

impl Editor<MetricContext> for ExpToHistogram {
    fn apply(&self, item: &mut MetricItemMut<'_>) -> Result<(), EvalError> {
        let m = &mut *item.metric;
        let Some(Data::ExponentialHistogram(exp)) = &mut m.data else {
            return Ok(());
        };
        let temporality = exp.aggregation_temporality;
        let data_points = std::mem::take(&mut exp.data_points)
            .into_iter()
            .map(|p| self.point(p))
            .collect();
        *m = Metric {
            name: std::mem::take(&mut m.name),
            description: std::mem::take(&mut m.description),
            unit: std::mem::take(&mut m.unit),
            data: Some(Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: temporality,
            })),
            ..Default::default()
        };
        Ok(())
    }
}

impl ExpToHistogram {
    fn point(&self, p: ExponentialHistogramDataPoint) -> HistogramDataPoint {
        HistogramDataPoint {
            bucket_counts: self.counts(&p),
            attributes: p.attributes,
            start_time_unix_nano: p.start_time_unix_nano,
            time_unix_nano: p.time_unix_nano,
            count: p.count,
            sum: Some(p.sum.unwrap_or(0.0)),
            min: Some(p.min.unwrap_or(0.0)),
            max: Some(p.max.unwrap_or(0.0)),
            exemplars: p.exemplars,
            explicit_bounds: self.bounds.clone(),
            ..Default::default()
        }
    }

    /// One count per bound (otelcol's `calculateBucketCounts`).
    fn counts(&self, p: &ExponentialHistogramDataPoint) -> Vec<u64> {
        let b = &self.bounds;
        let last = b.len() - 1;
        let mut counts = vec![0u64; b.len()];
        if p.zero_count > 0 && b[0] == 0.0 {
            counts[0] += p.zero_count;
        }
        let factor = std::f64::consts::LN_2 * 2f64.powi(-p.scale);
        let Some(positive) = &p.positive else {
            return counts;
        };
        for (pos, &count) in positive.bucket_counts.iter().enumerate() {
            let index = f64::from(positive.offset) + pos as f64;
            let (lower, upper) = ((index * factor).exp(), ((index + 1.0) * factor).exp());
            if lower > b[last] {
                counts[last] += count;
                continue;
            }
            match (1..b.len()).find(|&i| lower > b[i - 1] && upper <= b[i]) {
                Some(i) => counts[i - 1] += count,
                None => self.distribute(count, lower, upper, &mut counts),
            }
        }
        counts
    }

    fn distribute(&self, count: u64, lower: f64, upper: f64, counts: &mut [u64]) {
        let b = &self.bounds;
        let last = b.len() - 1;
        match self.distribution {
            Distribution::Upper => {
                let at = b.iter().position(|&x| upper <= x).unwrap_or(last);
                counts[at] += count;
            }
            Distribution::Midpoint => {
                let mid = (upper + lower) / 2.0;
                let at = b
                    .iter()
                    .position(|&x| mid <= x)
                    .map_or(last, |j| j.saturating_sub(1));
                counts[at] += count;
            }
            Distribution::Uniform => uniform(count, lower, upper, b, counts),
            Distribution::Random => random(count, lower, upper, b, counts),
        }
    }
}

/// The first index from `from` whose bound satisfies `f`, or the bounds' length.
fn first_from(b: &[f64], from: usize, f: impl Fn(f64) -> bool) -> usize {
    (from..b.len()).find(|&i| f(b[i])).unwrap_or(b.len())
}

fn uniform(count: u64, lower: f64, upper: f64, b: &[f64], counts: &mut [u64]) {
    let start = first_from(b, 0, |x| lower <= x);
    let end = first_from(b, start, |x| upper <= x).min(b.len() - 1);
    if end <= start {
        counts[start.min(b.len() - 1)] += count;
        return;
    }
    let n = (end - start + 1) as u64;
    let mut remainder = count % n;
    for c in &mut counts[start..=end] {
        *c += count / n;
        if remainder > 0 {
            *c += 1;
            remainder -= 1;
        }
    }
}

fn random(count: u64, lower: f64, upper: f64, b: &[f64], counts: &mut [u64]) {
    let start = first_from(b, 0, |x| x >= lower);
    let end = first_from(b, start, |x| x >= upper).min(b.len() - 1);
    if end <= start {
        counts[start.min(b.len() - 1)] += count;
        return;
    }
    let width = upper - lower;
    let mut allocated = 0u64;
    for j in start..=end {
        let bound_lower = if j == 0 { lower } else { b[j - 1] };
        let overlap = b[j].min(upper) - bound_lower.max(lower);
        let share = (count as f64 * (overlap / width)) as u64;
        let given = (rand::random::<f64>() * share as f64) as u64;
        counts[j] += given;
        allocated += given;
    }
    let n = (end - start + 1) as u64;
    let remaining = count.saturating_sub(allocated);
    for c in &mut counts[start..=end] {
        *c += remaining / n;
    }
    for _ in 0..remaining % n {
        counts[rand::random_range(start..=end)] += 1;
    }
}
