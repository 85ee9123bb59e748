//! Grouping and merging a metric's points (otelcol's aggregateutil `GroupDataPoints` and
//! `MergeDataPoints`).

use super::AggFn;
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point::Value as NV,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
};
use std::collections::HashMap;

/// A point's identity: its attributes whatever their order, its time, and `extra`.
fn key(attributes: &[KeyValue], time: u64, extra: String) -> String {
    let mut attrs: Vec<String> = attributes
        .iter()
        .map(|kv| format!("{:?}={:?}", kv.key, kv.value))
        .collect();
    attrs.sort_unstable();
    format!("{attrs:?}|{time}|{extra}")
}

/// Points grouped by key, in the order each key was first seen.
fn group<P>(points: Vec<P>, key: impl Fn(&P) -> String) -> Vec<Vec<P>> {
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<P>> = Vec::new();
    for p in points {
        let k = key(&p);
        match at.get(&k) {
            Some(&i) => groups[i].push(p),
            None => {
                at.insert(k, groups.len());
                groups.push(vec![p]);
            }
        }
    }
    groups
}

/// Merges the metric's points in place; its metadata is dropped, as otelcol rebuilds the
/// metric from its name, unit, description and type.
pub(super) fn merge(m: &mut Metric, f: AggFn) {
    m.metadata.clear();
    match &mut m.data {
        Some(Data::Gauge(g)) => {
            let groups = group(std::mem::take(&mut g.data_points), |p| number_key(p, false));
            g.data_points = groups.into_iter().map(|g| merge_numbers(g, f)).collect();
        }
        Some(Data::Sum(s)) => {
            let delta = s.aggregation_temporality == 1;
            let groups = group(std::mem::take(&mut s.data_points), |p| number_key(p, delta));
            s.data_points = groups.into_iter().map(|g| merge_numbers(g, f)).collect();
        }
        Some(Data::Histogram(h)) => {
            let delta = h.aggregation_temporality == 1;
            let groups = group(std::mem::take(&mut h.data_points), |p| {
                histogram_key(p, delta)
            });
            h.data_points = groups.into_iter().map(merge_histograms).collect();
        }
        Some(Data::ExponentialHistogram(h)) => {
            let delta = h.aggregation_temporality == 1;
            let groups = group(std::mem::take(&mut h.data_points), |p| exp_key(p, delta));
            h.data_points = groups.into_iter().map(merge_exponential).collect();
        }
        // otelcol's grouping has no case for summaries: their points are lost.
        Some(Data::Summary(s)) => s.data_points.clear(),
        None => {}
    }
}

fn start_key(delta: bool, start: u64) -> String {
    if delta {
        start.to_string()
    } else {
        String::new()
    }
}

fn number_key(p: &NumberDataPoint, delta: bool) -> String {
    key(
        &p.attributes,
        p.time_unix_nano,
        start_key(delta, p.start_time_unix_nano),
    )
}

fn histogram_key(p: &HistogramDataPoint, delta: bool) -> String {
    let extra = format!(
        "{:?}|{}|{}|{}|{}",
        p.explicit_bounds,
        start_key(delta, p.start_time_unix_nano),
        p.min.is_some(),
        p.max.is_some(),
        p.flags
    );
    key(&p.attributes, p.time_unix_nano, extra)
}

fn exp_key(p: &ExponentialHistogramDataPoint, delta: bool) -> String {
    let offset = |b: &Option<Buckets>| b.as_ref().map_or(0, |b| b.offset);
    let extra = format!(
        "{}|{}|{}|{}|{}|{}|{}",
        p.scale,
        p.min.is_some(),
        p.max.is_some(),
        p.flags,
        offset(&p.negative),
        offset(&p.positive),
        start_key(delta, p.start_time_unix_nano)
    );
    key(&p.attributes, p.time_unix_nano, extra)
}

/// Go's `math.Max` / `math.Min`: NaN if either is.
fn go_pick(a: f64, b: f64, max: bool) -> f64 {
    match (a.is_nan() || b.is_nan(), max) {
        (true, _) => f64::NAN,
        (false, true) => a.max(b),
        (false, false) => a.min(b),
    }
}

fn as_double(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(NV::AsDouble(d)) => d,
        Some(NV::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

fn as_int(p: &NumberDataPoint) -> i64 {
    match p.value {
        Some(NV::AsDouble(d)) => d as i64,
        Some(NV::AsInt(i)) => i,
        None => 0,
    }
}

/// The middle of sorted values, or the mean of the two middle ones.
fn median<T: Copy>(sorted: &[T], mean2: impl Fn(T, T) -> T) -> T {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        mean2(sorted[mid - 1], sorted[mid])
    }
}

fn merge_numbers(points: Vec<NumberDataPoint>, f: AggFn) -> NumberDataPoint {
    let n = points.len();
    let mut it = points.into_iter();
    let mut dp = it.next().expect("a group has a point");
    let rest: Vec<NumberDataPoint> = it.collect();
    for p in &rest {
        dp.start_time_unix_nano = dp.start_time_unix_nano.min(p.start_time_unix_nano);
    }
    if rest.is_empty() {
        return dp;
    }
    dp.value = match dp.value {
        Some(NV::AsDouble(first)) => Some(NV::AsDouble(merge_doubles(first, &rest, f, n))),
        Some(NV::AsInt(first)) => Some(NV::AsInt(merge_ints(first, &rest, f, n))),
        None => None,
    };
    dp
}

fn merge_doubles(first: f64, rest: &[NumberDataPoint], f: AggFn, n: usize) -> f64 {
    let values = rest.iter().map(as_double);
    match f {
        AggFn::Sum => values.fold(first, |a, b| a + b),
        AggFn::Mean => values.fold(first, |a, b| a + b) / n as f64,
        AggFn::Max => values.fold(first, |a, b| go_pick(a, b, true)),
        AggFn::Min => values.fold(first, |a, b| go_pick(a, b, false)),
        AggFn::Count => n as f64,
        AggFn::Median => {
            let mut all: Vec<f64> = std::iter::once(first).chain(values).collect();
            // Go's sort.Float64s: NaN first.
            all.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
            });
            median(&all, |a, b| (a + b) / 2.0)
        }
    }
}

fn merge_ints(first: i64, rest: &[NumberDataPoint], f: AggFn, n: usize) -> i64 {
    // pdata's `IntValue()` of a double point is 0.
    let int_value = |p: &NumberDataPoint| match p.value {
        Some(NV::AsInt(i)) => i,
        _ => 0,
    };
    match f {
        AggFn::Sum => rest.iter().map(int_value).fold(first, i64::wrapping_add),
        AggFn::Mean => rest.iter().map(int_value).fold(first, i64::wrapping_add) / n as i64,
        AggFn::Max => rest.iter().map(as_int).fold(first, i64::max),
        AggFn::Min => rest.iter().map(as_int).fold(first, i64::min),
        AggFn::Count => n as i64,
        AggFn::Median => {
            let mut all: Vec<i64> = std::iter::once(first)
                .chain(rest.iter().map(as_int))
                .collect();
            all.sort_unstable();
            median(&all, |a, b| a.wrapping_add(b) / 2)
        }
    }
}

/// Adds `other` to `counts` index by index.
fn add_counts(counts: &mut Vec<u64>, other: &[u64]) {
    if counts.len() < other.len() {
        counts.resize(other.len(), 0);
    }
    for (c, o) in counts.iter_mut().zip(other) {
        *c = c.wrapping_add(*o);
    }
}

/// Min and max as otelcol merges them: only when the first point has them.
fn merge_min_max(
    min: &mut Option<f64>,
    max: &mut Option<f64>,
    o_min: Option<f64>,
    o_max: Option<f64>,
) {
    if let Some(m) = min {
        if *m > o_min.unwrap_or(0.0) {
            *m = o_min.unwrap_or(0.0);
        }
    }
    if let Some(m) = max {
        if *m < o_max.unwrap_or(0.0) {
            *m = o_max.unwrap_or(0.0);
        }
    }
}

fn merge_histograms(points: Vec<HistogramDataPoint>) -> HistogramDataPoint {
    let mut it = points.into_iter();
    let mut dp = it.next().expect("a group has a point");
    for p in it.filter(|p| p.count != 0) {
        dp.count = dp.count.wrapping_add(p.count);
        dp.sum = Some(dp.sum.unwrap_or(0.0) + p.sum.unwrap_or(0.0));
        merge_min_max(&mut dp.min, &mut dp.max, p.min, p.max);
        add_counts(&mut dp.bucket_counts, &p.bucket_counts);
        dp.exemplars.extend(p.exemplars);
        dp.start_time_unix_nano = dp.start_time_unix_nano.min(p.start_time_unix_nano);
    }
    dp
}

fn merge_exponential(points: Vec<ExponentialHistogramDataPoint>) -> ExponentialHistogramDataPoint {
    let mut it = points.into_iter();
    let mut dp = it.next().expect("a group has a point");
    for p in it.filter(|p| p.count != 0) {
        dp.count = dp.count.wrapping_add(p.count);
        dp.sum = Some(dp.sum.unwrap_or(0.0) + p.sum.unwrap_or(0.0));
        merge_min_max(&mut dp.min, &mut dp.max, p.min, p.max);
        for (mine, theirs) in [
            (&mut dp.negative, &p.negative),
            (&mut dp.positive, &p.positive),
        ] {
            if let Some(theirs) = theirs {
                let mine = mine.get_or_insert_with(Default::default);
                add_counts(&mut mine.bucket_counts, &theirs.bucket_counts);
            }
        }
        dp.exemplars.extend(p.exemplars);
        dp.start_time_unix_nano = dp.start_time_unix_nano.min(p.start_time_unix_nano);
    }
    dp
}
