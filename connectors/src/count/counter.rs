//! Counting one resource's items for a section's metrics, and the count metrics it becomes:
//! monotonic delta sums of ints, one data point per distinct set of attribute values, between
//! the earliest and latest timestamps of the items seen (or now, when none had one), as
//! otelcol's count connector. Everything borrows from the batch and the config and lives for one
//! batch, so memory is bounded by the batch.

use super::compile::{AttrDefault, MetricDef};
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Metric, NumberDataPoint, Sum,
};
use ferrotel_ottl::{Context, EvalError};
use std::collections::BTreeMap;

/// An attribute value as counted: ints and doubles keep their type, anything else counts as
/// pdata's `Str()` reads it (a string, or "" for bools, bytes, maps and lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim<'a> {
    Int(i64),
    /// The bits of an f64, so values can be map keys.
    Double(u64),
    Str(&'a str),
}

impl<'a> Dim<'a> {
    fn of(v: Option<&'a AnyValue>) -> Dim<'a> {
        match v.and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::IntValue(i)) => Dim::Int(*i),
            Some(any_value::Value::DoubleValue(f)) => Dim::Double(f.to_bits()),
            Some(any_value::Value::StringValue(s)) => Dim::Str(s),
            _ => Dim::Str(""),
        }
    }

    fn from_default(d: &'a AttrDefault) -> Dim<'a> {
        match d {
            AttrDefault::Int(i) => Dim::Int(*i),
            AttrDefault::Double(f) => Dim::Double(f.to_bits()),
            AttrDefault::Str(s) => Dim::Str(s),
        }
    }

    fn to_any(self) -> AnyValue {
        let v = match self {
            Dim::Int(i) => any_value::Value::IntValue(i),
            Dim::Double(bits) => any_value::Value::DoubleValue(f64::from_bits(bits)),
            Dim::Str(s) => any_value::Value::StringValue(s.to_string()),
        };
        AnyValue { value: Some(v) }
    }
}

/// The attribute layers an attribute is looked up in, most specific first: the item's, its
/// scope's, its resource's.
pub type Layers<'a> = [&'a [KeyValue]; 3];

fn lookup<'a>(key: &str, layers: &Layers<'a>) -> Option<Dim<'a>> {
    layers
        .iter()
        .find_map(|attrs| attrs.iter().find(|kv| kv.key == key))
        .map(|kv| Dim::of(kv.value.as_ref()))
}

/// The counts of one resource's items for one section's metrics.
pub struct Counter<'a, C: Context> {
    defs: &'a [MetricDef<C>],
    counts: Vec<BTreeMap<Vec<Dim<'a>>, u64>>,
    times: Option<(u64, u64)>,
    scratch: Vec<Dim<'a>>,
}

impl<'a, C: Context> Counter<'a, C> {
    pub fn new(defs: &'a [MetricDef<C>]) -> Self {
        Counter {
            defs,
            counts: defs.iter().map(|_| BTreeMap::new()).collect(),
            times: None,
            scratch: Vec::new(),
        }
    }

    /// Widens the counted interval to `t` (zero timestamps are ignored).
    pub fn observe_time(&mut self, t: u64) {
        if t == 0 {
            return;
        }
        self.times = Some(match self.times {
            None => (t, t),
            Some((start, end)) => (start.min(t), end.max(t)),
        });
    }

    /// Counts an item for every metric whose attributes it has (or defaults) and whose
    /// conditions it meets; a condition's error is returned.
    pub fn update(&mut self, item: C::Item<'a>, layers: Layers<'a>) -> Result<(), EvalError> {
        let defs = self.defs;
        for (def, counts) in defs.iter().zip(&mut self.counts) {
            self.scratch.clear();
            for attr in &def.attrs {
                let found = lookup(&attr.key, &layers)
                    .or_else(|| attr.default.as_ref().map(Dim::from_default));
                match found {
                    Some(d) => self.scratch.push(d),
                    None => break,
                }
            }
            if self.scratch.len() != def.attrs.len() {
                continue;
            }
            if let Some(conditions) = &def.conditions {
                if !conditions.any(item)? {
                    continue;
                }
            }
            match counts.get_mut(self.scratch.as_slice()) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(self.scratch.clone(), 1);
                }
            }
        }
        Ok(())
    }

    /// Appends a metric per metric that counted something.
    pub fn append_to(&self, metrics: &mut Vec<Metric>, now: u64) {
        let (start, end) = self.times.unwrap_or((now, now));
        for (def, counts) in self.defs.iter().zip(&self.counts) {
            if counts.is_empty() {
                continue;
            }
            let points = counts
                .iter()
                .map(|(dims, n)| point(def, dims, *n, start, end))
                .collect();
            metrics.push(Metric {
                name: def.name.clone(),
                description: def.description.clone(),
                data: Some(Data::Sum(Sum {
                    data_points: points,
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            });
        }
    }
}

fn point<C: Context>(
    def: &MetricDef<C>,
    dims: &[Dim<'_>],
    n: u64,
    start: u64,
    end: u64,
) -> NumberDataPoint {
    let attributes = def
        .attrs
        .iter()
        .zip(dims)
        .map(|(a, d)| KeyValue {
            key: a.key.clone(),
            value: Some(d.to_any()),
            ..Default::default()
        })
        .collect();
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: end,
        value: Some(number_data_point::Value::AsInt(n as i64)),
        ..Default::default()
    }
}
