//! The exporter's state: one stored point per series (Prometheus name + label set), updated by
//! `export` with otelcol's accumulator rules and read by scrapes. Memory grows only with the
//! number of distinct series, and series not updated for `metric_expiration` are dropped.

use super::naming::{escape_label_value, label_name, metric_name, NameKind};
use ferrotel_core::format::value_as_string;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::metrics::v1::{
    exemplar, metric::Data, number_data_point, AggregationTemporality, Exemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, Sum,
    SummaryDataPoint,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How OTLP names and attributes become Prometheus names and labels.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub namespace: String,
    /// Sanitised `const_labels`.
    pub const_labels: Vec<(String, String)>,
    pub add_metric_suffixes: bool,
    pub resource_to_labels: bool,
    pub exclude_service_attributes: bool,
    pub without_scope_info: bool,
    pub expiration: Duration,
    /// Keep exemplars (shown in OpenMetrics only).
    pub exemplars: bool,
}

/// A Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
    Histogram,
    Summary,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
        }
    }
}

/// The stored value of one series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Number(f64),
    /// `counts` are per bucket (not cumulative), one more than `bounds` (the last is `+Inf`).
    Histogram {
        bounds: Vec<f64>,
        counts: Vec<u64>,
        count: u64,
        sum: f64,
    },
    Summary {
        quantiles: Vec<(f64, f64)>,
        count: u64,
        sum: f64,
    },
}

/// An exemplar kept for OpenMetrics: `bucket` is the histogram bucket index (0 for counters).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredExemplar {
    pub bucket: usize,
    pub value: f64,
    pub time_unix_nano: u64,
    pub trace_id: String,
    pub span_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub value: Value,
    pub start_unix_nano: u64,
    pub time_unix_nano: u64,
    pub exemplars: Vec<StoredExemplar>,
    updated: Instant,
}

#[derive(Debug)]
pub(crate) struct Family {
    pub kind: Kind,
    pub help: String,
    /// Keyed by the rendered label set (`a="1",b="2"`, sorted by name).
    pub series: BTreeMap<String, Series>,
}

#[derive(Debug)]
pub(crate) struct Target {
    /// Rendered labels of the `target_info` series.
    pub labels: String,
    updated: Instant,
}

/// All series, by Prometheus family name.
#[derive(Debug, Default)]
pub(crate) struct Accumulator {
    pub opts: Options,
    pub families: BTreeMap<String, Family>,
    /// `target_info` series by job/instance.
    pub targets: BTreeMap<String, Target>,
}

type Labels = BTreeMap<String, String>;

/// Adds attributes as labels, replacing labels of lower layers; keys that sanitise to the same
/// label name within this layer have their values joined with `;`.
fn overlay(labels: &mut Labels, attrs: &[KeyValue], skip: &[&str]) {
    let mut layer = Labels::new();
    for kv in attrs {
        if skip.contains(&kv.key.as_str()) {
            continue;
        }
        let Some(name) = label_name(&kv.key) else {
            continue;
        };
        let v = value_as_string(kv.value.as_ref().and_then(|v| v.value.as_ref()));
        match layer.get_mut(&name) {
            Some(prev) => {
                prev.push(';');
                prev.push_str(&v);
            }
            None => {
                layer.insert(name, v);
            }
        }
    }
    labels.extend(layer);
}

/// `a="1",b="2"`, skipping empty values (which Prometheus treats as absent).
pub(crate) fn render_labels(labels: &Labels) -> String {
    let mut s = String::new();
    for (k, v) in labels {
        if v.is_empty() {
            continue;
        }
        if !s.is_empty() {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        escape_label_value(&mut s, v);
        s.push('"');
    }
    s
}

fn attr_str(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| value_as_string(kv.value.as_ref().and_then(|v| v.value.as_ref())))
}

const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";
const SERVICE_ATTRS: &[&str] = &[SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE_ID];

/// `job` (`service.namespace/service.name` or `service.name`) and `instance`.
fn job_instance(attrs: &[KeyValue]) -> Labels {
    let mut l = Labels::new();
    if let Some(name) = attr_str(attrs, SERVICE_NAME) {
        let job = match attr_str(attrs, SERVICE_NAMESPACE) {
            Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
            _ => name,
        };
        l.insert("job".into(), job);
    }
    if let Some(inst) = attr_str(attrs, SERVICE_INSTANCE_ID) {
        l.insert("instance".into(), inst);
    }
    l
}

/// One incoming data point, whatever its metric type.
struct Point<'a> {
    attrs: &'a [KeyValue],
    start: u64,
    time: u64,
    flags: u32,
    value: Value,
    exemplars: &'a [Exemplar],
}

/// The `Point` of an OTLP data point of any type (they share these fields).
macro_rules! point {
    ($p:expr, $value:expr, $exemplars:expr) => {
        Point {
            attrs: &$p.attributes,
            start: $p.start_time_unix_nano,
            time: $p.time_unix_nano,
            flags: $p.flags,
            value: $value,
            exemplars: $exemplars,
        }
    };
}

/// How a point combines with the stored one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Merge {
    /// Gauges, cumulative sums and histograms, summaries: the newest point wins.
    Replace,
    /// Delta sums and histograms: added to the stored cumulative when aligned.
    Delta,
}

const FLAG_NO_RECORDED_VALUE: u32 = 1;

impl Accumulator {
    pub(crate) fn new(opts: Options) -> Self {
        Accumulator {
            opts,
            ..Default::default()
        }
    }

    /// Number of stored series (not counting `target_info`).
    #[cfg(test)]
    pub(crate) fn series_count(&self) -> usize {
        self.families.values().map(|f| f.series.len()).sum()
    }

    /// Takes in every data point of a request; returns how many points were dropped (types or
    /// temporalities Prometheus cannot represent, out-of-order deltas).
    pub(crate) fn accumulate(&mut self, req: &ExportMetricsServiceRequest, now: Instant) -> usize {
        let mut dropped = 0;
        for rm in &req.resource_metrics {
            let rattrs: &[KeyValue] = rm
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            let ji = job_instance(rattrs);
            let mut base = Labels::new();
            if self.opts.resource_to_labels {
                let skip: &[&str] = if self.opts.exclude_service_attributes {
                    SERVICE_ATTRS
                } else {
                    &[]
                };
                overlay(&mut base, rattrs, skip);
            }
            self.note_target(rattrs, &ji, now);
            for sm in &rm.scope_metrics {
                let mut top = Labels::new();
                if !self.opts.without_scope_info {
                    if let Some(scope) = &sm.scope {
                        let mut scope_attrs = Labels::new();
                        overlay(&mut scope_attrs, &scope.attributes, &[]);
                        for (k, v) in scope_attrs {
                            top.insert(format!("otel_scope_{k}"), v);
                        }
                        top.insert("otel_scope_name".into(), scope.name.clone());
                        top.insert("otel_scope_version".into(), scope.version.clone());
                    }
                    top.insert("otel_scope_schema_url".into(), sm.schema_url.clone());
                }
                top.extend(ji.clone());
                top.extend(self.opts.const_labels.iter().cloned());
                for m in &sm.metrics {
                    dropped += self.metric(m, &base, &top, now);
                }
            }
        }
        dropped
    }

    fn note_target(&mut self, rattrs: &[KeyValue], ji: &Labels, now: Instant) {
        if rattrs.is_empty() {
            return;
        }
        let key = render_labels(ji);
        let mut labels = Labels::new();
        overlay(&mut labels, rattrs, SERVICE_ATTRS);
        labels.extend(ji.clone());
        labels.extend(self.opts.const_labels.iter().cloned());
        self.targets.insert(
            key,
            Target {
                labels: render_labels(&labels),
                updated: now,
            },
        );
    }

    /// Returns the number of dropped points.
    fn metric(&mut self, m: &Metric, base: &Labels, top: &Labels, now: Instant) -> usize {
        let decoded = match decode(m) {
            Ok(decoded) => decoded,
            Err(dropped) => return dropped,
        };
        let o = &self.opts;
        let family = metric_name(
            &m.name,
            &m.unit,
            decoded.name,
            &o.namespace,
            o.add_metric_suffixes,
        );
        if family.is_empty() {
            return decoded.points.len();
        }
        let help = if m.description.is_empty() {
            // promtool rejects families without help text.
            m.name.clone()
        } else {
            m.description.clone()
        };
        let kind = decoded.kind;
        let keep_exemplars = self.opts.exemplars && matches!(kind, Kind::Counter | Kind::Histogram);
        let fam = self.family(family, kind, help);
        let mut dropped = 0;
        for p in decoded.points {
            let key = series_key(base, p.attrs, top);
            if !fam.update(key, p, decoded.merge, keep_exemplars, now) {
                dropped += 1;
            }
        }
        dropped
    }

    /// The family named `family`, created if new and emptied if it held another type.
    fn family(&mut self, family: String, kind: Kind, help: String) -> &mut Family {
        let fam = self
            .families
            .entry(family.clone())
            .or_insert_with(|| Family {
                kind,
                help: help.clone(),
                series: BTreeMap::new(),
            });
        if fam.kind != kind {
            tracing::warn!(
                metric = %family,
                old = fam.kind.as_str(),
                new = kind.as_str(),
                "Prometheus metric name reused with another type; the older series are replaced"
            );
            fam.kind = kind;
            fam.series.clear();
        }
        fam.help = help;
        fam
    }

    /// Drops series (and targets) not updated within `metric_expiration`.
    pub(crate) fn expire(&mut self, now: Instant) {
        let ttl = self.opts.expiration;
        let fresh = |t: Instant| now.saturating_duration_since(t) < ttl;
        self.families.retain(|_, f| {
            f.series.retain(|_, s| fresh(s.updated));
            !f.series.is_empty()
        });
        self.targets.retain(|_, t| fresh(t.updated));
    }
}

/// What a metric's data becomes: the kind of its family name, its Prometheus type, how its
/// points combine with the stored ones, and the points.
struct Decoded<'a> {
    name: NameKind,
    kind: Kind,
    merge: Merge,
    points: Vec<Point<'a>>,
}

/// The points of a metric, or (as the error) how many points are dropped because Prometheus
/// cannot represent the metric's type or temporality.
fn decode(m: &Metric) -> Result<Decoded<'_>, usize> {
    match &m.data {
        None => Err(0),
        Some(Data::Gauge(g)) => Ok(Decoded {
            name: NameKind::Gauge,
            kind: Kind::Gauge,
            merge: Merge::Replace,
            points: number_points(&g.data_points, false),
        }),
        Some(Data::Sum(s)) => decode_sum(s),
        Some(Data::Histogram(h)) => Ok(Decoded {
            name: NameKind::Other,
            kind: Kind::Histogram,
            merge: merge_of(h.aggregation_temporality).ok_or(h.data_points.len())?,
            points: h.data_points.iter().map(histogram_point).collect(),
        }),
        // Exposed as otelcol's current version does in the text formats (a native
        // histogram with no classic buckets): `+Inf` bucket, `_sum` and `_count`.
        Some(Data::ExponentialHistogram(h)) => Ok(Decoded {
            name: NameKind::Other,
            kind: Kind::Histogram,
            merge: merge_of(h.aggregation_temporality).ok_or(h.data_points.len())?,
            points: h
                .data_points
                .iter()
                .map(exponential_histogram_point)
                .collect(),
        }),
        Some(Data::Summary(s)) => Ok(Decoded {
            name: NameKind::Other,
            kind: Kind::Summary,
            merge: Merge::Replace,
            points: s.data_points.iter().map(summary_point).collect(),
        }),
    }
}

/// Monotonic sums are counters, others gauges; non-monotonic deltas cannot be represented.
fn decode_sum(s: &Sum) -> Result<Decoded<'_>, usize> {
    let Some(merge) = merge_of(s.aggregation_temporality) else {
        return Err(s.data_points.len());
    };
    if merge == Merge::Delta && !s.is_monotonic {
        return Err(s.data_points.len());
    }
    let (name, kind) = if s.is_monotonic {
        (NameKind::Counter, Kind::Counter)
    } else {
        (NameKind::Other, Kind::Gauge)
    };
    Ok(Decoded {
        name,
        kind,
        merge,
        points: number_points(&s.data_points, true),
    })
}

/// How points of an aggregation temporality combine; `None` if it is unspecified.
fn merge_of(temporality: i32) -> Option<Merge> {
    match AggregationTemporality::try_from(temporality) {
        Ok(AggregationTemporality::Cumulative) => Some(Merge::Replace),
        Ok(AggregationTemporality::Delta) => Some(Merge::Delta),
        _ => None,
    }
}

/// Gauge or sum points, skipping those without a value.
fn number_points(points: &[NumberDataPoint], with_exemplars: bool) -> Vec<Point<'_>> {
    points
        .iter()
        .filter_map(|p| {
            let value = match *p.value.as_ref()? {
                number_data_point::Value::AsDouble(d) => d,
                number_data_point::Value::AsInt(i) => i as f64,
            };
            let exemplars: &[Exemplar] = if with_exemplars { &p.exemplars } else { &[] };
            Some(point!(p, Value::Number(value), exemplars))
        })
        .collect()
}

fn histogram_point(p: &HistogramDataPoint) -> Point<'_> {
    let mut counts = p.bucket_counts.clone();
    counts.resize(p.explicit_bounds.len() + 1, 0);
    let value = Value::Histogram {
        bounds: p.explicit_bounds.clone(),
        counts,
        count: p.count,
        sum: p.sum.unwrap_or(0.0),
    };
    point!(p, value, &p.exemplars)
}

fn exponential_histogram_point(p: &ExponentialHistogramDataPoint) -> Point<'_> {
    let value = Value::Histogram {
        bounds: vec![],
        counts: vec![p.count],
        count: p.count,
        sum: p.sum.unwrap_or(0.0),
    };
    point!(p, value, &[])
}

fn summary_point(p: &SummaryDataPoint) -> Point<'_> {
    let value = Value::Summary {
        quantiles: p
            .quantile_values
            .iter()
            .map(|q| (q.quantile, q.value))
            .collect(),
        count: p.count,
        sum: p.sum,
    };
    point!(p, value, &[])
}

/// The rendered labels of a point's series: resource labels, then the point's attributes, then
/// scope, job/instance and constant labels.
fn series_key(base: &Labels, attrs: &[KeyValue], top: &Labels) -> String {
    let mut labels = base.clone();
    overlay(&mut labels, attrs, &[]);
    labels.extend(top.iter().map(|(k, v)| (k.clone(), v.clone())));
    render_labels(&labels)
}

impl Family {
    /// Stores a point as the series `key` (a point flagged as having no recorded value removes
    /// the series); false if the point was dropped.
    fn update(
        &mut self,
        key: String,
        p: Point,
        merge: Merge,
        keep_exemplars: bool,
        now: Instant,
    ) -> bool {
        if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
            self.series.remove(&key);
            return true;
        }
        let exemplars = if keep_exemplars {
            exemplars_of(&p)
        } else {
            vec![]
        };
        let fresh = Series {
            value: p.value,
            start_unix_nano: p.start,
            time_unix_nano: p.time,
            exemplars,
            updated: now,
        };
        match self.series.get_mut(&key) {
            None => {
                self.series.insert(key, fresh);
                true
            }
            Some(old) => merge_into(old, fresh, merge),
        }
    }
}

fn exemplars_of(p: &Point) -> Vec<StoredExemplar> {
    let mut out: Vec<StoredExemplar> = vec![];
    for e in p.exemplars {
        let value = match e.value {
            Some(exemplar::Value::AsDouble(d)) => d,
            Some(exemplar::Value::AsInt(i)) => i as f64,
            None => continue,
        };
        let bucket = match &p.value {
            Value::Histogram { bounds, .. } => bounds
                .iter()
                .position(|b| value <= *b)
                .unwrap_or(bounds.len()),
            _ => 0,
        };
        let ex = StoredExemplar {
            bucket,
            value,
            time_unix_nano: e.time_unix_nano,
            trace_id: hex::encode(&e.trace_id),
            span_id: hex::encode(&e.span_id),
        };
        // The last exemplar of each bucket wins.
        match out.iter_mut().find(|x| x.bucket == bucket) {
            Some(x) => *x = ex,
            None => out.push(ex),
        }
    }
    out
}

/// Applies a new point to a stored series; false if the point was dropped.
fn merge_into(old: &mut Series, new: Series, merge: Merge) -> bool {
    if new.time_unix_nano < old.time_unix_nano {
        // Only the newest point is kept.
        return false;
    }
    if merge == Merge::Replace {
        *old = new;
        return true;
    }
    let aligned = new.start_unix_nano == old.time_unix_nano;
    match (&mut old.value, &new.value) {
        (Value::Number(a), Value::Number(b)) if aligned => {
            *a += b;
        }
        (Value::Number(_), _) => {
            // Misaligned delta: a reset, the delta becomes the value.
            *old = new;
            return true;
        }
        (
            Value::Histogram {
                bounds,
                counts,
                count,
                sum,
            },
            Value::Histogram {
                bounds: nb,
                counts: nc,
                count: ncount,
                sum: nsum,
            },
        ) if aligned && bounds == nb => {
            for (a, b) in counts.iter_mut().zip(nc) {
                *a += b;
            }
            *count += ncount;
            *sum += nsum;
        }
        (Value::Histogram { .. }, _) if aligned || new.start_unix_nano > old.time_unix_nano => {
            // Bounds changed, or a reset.
            *old = new;
            return true;
        }
        _ => return false,
    }
    old.time_unix_nano = new.time_unix_nano;
    old.updated = new.updated;
    if !new.exemplars.is_empty() {
        old.exemplars = new.exemplars;
    }
    true
}
