//! The duration histograms of the connectors that aggregate spans (span_metrics, service_graph):
//! explicit bounds or base-2 exponential buckets that halve their resolution when the values span
//! more than `max_size` buckets.

use ferrotel_core::proto::metrics::v1::{
    exponential_histogram_data_point::Buckets, ExponentialHistogramDataPoint, HistogramDataPoint,
};
use std::sync::Arc;

/// The resolution a new exponential histogram starts at (as otelcol's go-expohisto).
const MAX_SCALE: i32 = 20;

/// How durations are bucketed: shared by every series of a connector.
#[derive(Debug, Clone)]
pub enum Layout {
    Explicit(Arc<[f64]>),
    Exponential { max_size: usize },
}

impl Layout {
    pub fn new_histogram(&self) -> Histogram {
        match self {
            Layout::Explicit(bounds) => Histogram::Explicit(Explicit {
                counts: vec![0; bounds.len() + 1],
                bounds: bounds.clone(),
                count: 0,
                sum: 0.0,
            }),
            Layout::Exponential { max_size } => Histogram::Exponential(Exponential {
                max_size: (*max_size).max(2),
                scale: MAX_SCALE,
                offset: 0,
                counts: Vec::new(),
                zero_count: 0,
                count: 0,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Histogram {
    Explicit(Explicit),
    Exponential(Exponential),
}

impl Histogram {
    pub fn observe(&mut self, value: f64) {
        match self {
            Histogram::Explicit(h) => h.observe(value),
            Histogram::Exponential(h) => h.observe(value),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Explicit {
    bounds: Arc<[f64]>,
    /// One more than the bounds: the last counts values above every bound.
    pub counts: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

impl Explicit {
    /// A value equal to a bound counts in that bound's bucket (upper bounds are inclusive).
    fn observe(&mut self, value: f64) {
        let i = self.bounds.partition_point(|b| *b < value);
        self.counts[i] += 1;
        self.count += 1;
        self.sum += value;
    }

    /// The data point's values (timestamps and attributes are the caller's).
    pub fn point(&self) -> HistogramDataPoint {
        HistogramDataPoint {
            count: self.count,
            sum: Some(self.sum),
            bucket_counts: self.counts.clone(),
            explicit_bounds: self.bounds.to_vec(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Exponential {
    max_size: usize,
    pub scale: i32,
    /// Index of `counts[0]`.
    offset: i64,
    counts: Vec<u64>,
    pub zero_count: u64,
    pub count: u64,
    pub sum: f64,
    min: f64,
    max: f64,
}

/// The bucket of `value` (> 0) at `scale`: bucket `i` holds (base^i, base^(i+1)],
/// base = 2^(2^-scale).
fn bucket_index(value: f64, scale: i32) -> i64 {
    (value.log2() * 2f64.powi(scale)).ceil() as i64 - 1
}

impl Exponential {
    fn observe(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if value <= 0.0 {
            self.zero_count += 1;
            return;
        }
        let mut index = bucket_index(value, self.scale);
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(0);
        }
        let (lo, hi) = (
            self.offset.min(index),
            self.offset.max(index).max(self.top()),
        );
        let shift = self.shift_needed(lo, hi);
        if shift > 0 {
            self.downscale(shift);
            index >>= shift;
        }
        self.extend_to(index);
        self.counts[(index - self.offset) as usize] += 1;
    }

    /// Index of the last bucket held.
    fn top(&self) -> i64 {
        self.offset + self.counts.len() as i64 - 1
    }

    /// How many halvings bring `lo..=hi` within `max_size` buckets.
    fn shift_needed(&self, lo: i64, hi: i64) -> u32 {
        let mut shift = 0;
        while (hi >> shift) - (lo >> shift) + 1 > self.max_size as i64 {
            shift += 1;
        }
        shift
    }

    /// Merges buckets pairwise `shift` times (scale - shift).
    fn downscale(&mut self, shift: u32) {
        let new_offset = self.offset >> shift;
        let mut merged = vec![0u64; ((self.top() >> shift) - new_offset + 1) as usize];
        for (i, c) in self.counts.iter().enumerate() {
            merged[(((self.offset + i as i64) >> shift) - new_offset) as usize] += c;
        }
        self.offset = new_offset;
        self.counts = merged;
        self.scale -= shift as i32;
    }

    /// Grows the held range to include `index` (already within `max_size`).
    fn extend_to(&mut self, index: i64) {
        if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        } else if index > self.top() {
            self.counts.resize((index - self.offset + 1) as usize, 0);
        }
    }

    pub fn point(&self) -> ExponentialHistogramDataPoint {
        let observed = self.count > 0;
        ExponentialHistogramDataPoint {
            count: self.count,
            sum: Some(self.sum),
            scale: self.scale,
            zero_count: self.zero_count,
            positive: Some(Buckets {
                offset: self.offset as i32,
                bucket_counts: self.counts.clone(),
            }),
            negative: Some(Buckets::default()),
            min: observed.then_some(self.min),
            max: observed.then_some(self.max),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_upper_bounds_are_inclusive() {
        let mut h = Layout::Explicit(Arc::from(vec![2.0, 4.0])).new_histogram();
        for v in [0.0, 2.0, 2.5, 4.0, 9.0] {
            h.observe(v);
        }
        let Histogram::Explicit(e) = h else { panic!() };
        assert_eq!(e.counts, vec![2, 2, 1]);
        assert_eq!((e.count, e.sum), (5, 17.5));
    }

    #[test]
    fn exponential_stays_within_max_size() {
        let mut h = Layout::Exponential { max_size: 4 }.new_histogram();
        for v in [1.5, 3.0, 100.0, 1000.0, 0.0] {
            h.observe(v);
        }
        let Histogram::Exponential(e) = h else {
            panic!()
        };
        let p = e.point();
        let buckets = p.positive.unwrap();
        assert!(buckets.bucket_counts.len() <= 4, "{buckets:?}");
        assert_eq!(buckets.bucket_counts.iter().sum::<u64>(), 4);
        assert_eq!(
            (p.count, p.zero_count, p.min, p.max),
            (5, 1, Some(0.0), Some(1000.0))
        );
        // Every value lies in its bucket: (base^i, base^(i+1)].
        let base = 2f64.powf(2f64.powi(-p.scale));
        for v in [1.5f64, 3.0, 100.0, 1000.0] {
            let i = bucket_index(v, p.scale) - i64::from(buckets.offset);
            assert!(i >= 0 && (i as usize) < buckets.bucket_counts.len());
            let lower = base.powi((i + i64::from(buckets.offset)) as i32);
            assert!(lower < v && v <= lower * base * 1.000001, "{v} at {i}");
        }
    }
}
