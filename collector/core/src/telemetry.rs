//! Self-telemetry: a small metrics registry rendered as Prometheus text on the
//! `service.telemetry.metrics` endpoint, with otelcol's current metric names (no `_total`, no
//! unit suffix). Handles are atomics, so counting on hot paths costs one relaxed add.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge as OtlpGauge,
    Histogram as OtlpHistogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A monotonically increasing count.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn add(&self, v: i64) {
        self.0.fetch_add(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram with fixed bucket bounds.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramInner>);

#[derive(Debug)]
struct HistogramInner {
    bounds: Vec<f64>,
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// f64 bits, updated with a CAS loop.
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &[f64]) -> Self {
        Histogram(Arc::new(HistogramInner {
            bounds: bounds.to_vec(),
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
        }))
    }

    pub fn record(&self, v: f64) {
        let h = &self.0;
        if let Some(i) = h.bounds.iter().position(|b| v <= *b) {
            h.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        let _ = h
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }
}

type GaugeFn = Arc<dyn Fn() -> f64 + Send + Sync>;

enum Series {
    Counter(Counter),
    Gauge(Gauge),
    GaugeFn(GaugeFn),
    CounterFn(GaugeFn),
    Histogram(Histogram),
}

struct Family {
    help: String,
    kind: &'static str,
    /// The Prometheus label string, the labels as registered, the series.
    series: Vec<(String, Labels, Series)>,
}

type Labels = Vec<(String, String)>;

/// Extra exposition text appended to `/metrics` (the prometheus exporter sharing the listener).
pub type Exposition = Arc<dyn Fn(&mut String) + Send + Sync>;

#[derive(Default)]
struct Registry {
    families: Mutex<BTreeMap<String, Family>>,
    extra: Mutex<Vec<(String, Exposition)>>,
}

/// The handle components use to register their metrics. Cheap to clone.
#[derive(Clone, Default)]
pub struct Telemetry {
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry")
    }
}

fn label_string(labels: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Prometheus label names allow [a-zA-Z0-9_]: `otel.signal` is exposed as `otel_signal`, as otelcol does.
        s.extend(k.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        }));
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s
}

impl Telemetry {
    pub fn new() -> Self {
        Self::default()
    }

    fn register<T>(
        &self,
        name: &str,
        help: &str,
        kind: &'static str,
        labels: &[(&str, &str)],
        make: impl FnOnce() -> Series,
        pick: impl Fn(&Series) -> Option<T>,
    ) -> T {
        let key = label_string(labels);
        let mut fams = self
            .registry
            .families
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let fam = fams.entry(name.to_string()).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            series: vec![],
        });
        if let Some((_, _, s)) = fam.series.iter().find(|(k, _, _)| *k == key) {
            if let Some(t) = pick(s) {
                return t;
            }
        }
        let s = make();
        let t = pick(&s);
        let owned = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        fam.series.push((key, owned, s));
        match t {
            Some(t) => t,
            None => unreachable!("a freshly made series has the requested type"),
        }
    }

    /// A counter; asking twice for the same name and labels gives the same counter.
    pub fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        self.register(
            name,
            help,
            "counter",
            labels,
            || Series::Counter(Counter::default()),
            |s| match s {
                Series::Counter(c) => Some(c.clone()),
                _ => None,
            },
        )
    }

    pub fn gauge(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        self.register(
            name,
            help,
            "gauge",
            labels,
            || Series::Gauge(Gauge::default()),
            |s| match s {
                Series::Gauge(c) => Some(c.clone()),
                _ => None,
            },
        )
    }

    /// A gauge whose value is read when scraped.
    pub fn gauge_fn(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        f: impl Fn() -> f64 + Send + Sync + 'static,
    ) {
        let f: GaugeFn = Arc::new(f);
        self.register(
            name,
            help,
            "gauge",
            labels,
            move || Series::GaugeFn(f),
            |_| Some(()),
        );
    }

    /// A counter whose value is read when scraped (process CPU seconds).
    pub fn counter_fn(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        f: impl Fn() -> f64 + Send + Sync + 'static,
    ) {
        let f: GaugeFn = Arc::new(f);
        self.register(
            name,
            help,
            "counter",
            labels,
            move || Series::CounterFn(f),
            |_| Some(()),
        );
    }

    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        bounds: &[f64],
    ) -> Histogram {
        self.register(
            name,
            help,
            "histogram",
            labels,
            || Series::Histogram(Histogram::new(bounds)),
            |s| match s {
                Series::Histogram(h) => Some(h.clone()),
                _ => None,
            },
        )
    }

    /// Appends another exposition source to this registry's `/metrics` output, under `key`
    /// (registering the same key again replaces it).
    pub fn add_exposition(&self, key: &str, f: Exposition) {
        let mut extra = self
            .registry
            .extra
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        extra.retain(|(k, _)| k != key);
        extra.push((key.to_string(), f));
    }

    /// The Prometheus text exposition (format 0.0.4) of every registered metric, with otelcol's
    /// current names: counters keep their bare name (no `_total`) and are declared `untyped`, so
    /// the output stays valid for `promtool check metrics`.
    pub fn render(&self) -> String {
        self.render_with(CounterStyle::Bare)
    }

    /// The exposition with a chosen counter naming (see [`CounterStyle`]).
    pub fn render_with(&self, style: CounterStyle) -> String {
        let mut out = String::with_capacity(8192);
        {
            let fams = self
                .registry
                .families
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for (name, fam) in fams.iter() {
                let (name, kind) = match (fam.kind, style) {
                    ("counter", CounterStyle::Total) => (format!("{name}_total"), "counter"),
                    ("counter", CounterStyle::Bare) => (name.clone(), "untyped"),
                    (k, _) => (name.clone(), k),
                };
                let _ = writeln!(
                    out,
                    "# HELP {name} {}",
                    fam.help.replace('\\', "\\\\").replace('\n', "\\n")
                );
                let _ = writeln!(out, "# TYPE {name} {kind}");
                for (labels, _, s) in &fam.series {
                    let braces = |extra: &str| -> String {
                        match (labels.is_empty(), extra.is_empty()) {
                            (true, true) => String::new(),
                            (true, false) => format!("{{{extra}}}"),
                            (false, true) => format!("{{{labels}}}"),
                            (false, false) => format!("{{{labels},{extra}}}"),
                        }
                    };
                    match s {
                        Series::Counter(c) => {
                            let _ = writeln!(out, "{name}{} {}", braces(""), c.get());
                        }
                        Series::Gauge(g) => {
                            let _ = writeln!(out, "{name}{} {}", braces(""), g.get());
                        }
                        Series::GaugeFn(f) | Series::CounterFn(f) => {
                            let _ = writeln!(out, "{name}{} {}", braces(""), fmt_f64(f()));
                        }
                        Series::Histogram(h) => {
                            let mut cum = 0;
                            for (b, c) in h.0.bounds.iter().zip(&h.0.counts) {
                                cum += c.load(Ordering::Relaxed);
                                let _ = writeln!(
                                    out,
                                    "{name}_bucket{} {cum}",
                                    braces(&format!("le=\"{}\"", fmt_f64(*b)))
                                );
                            }
                            let count = h.0.count.load(Ordering::Relaxed);
                            let _ = writeln!(out, "{name}_bucket{} {count}", braces("le=\"+Inf\""));
                            let _ = writeln!(
                                out,
                                "{name}_sum{} {}",
                                braces(""),
                                fmt_f64(f64::from_bits(h.0.sum.load(Ordering::Relaxed)))
                            );
                            let _ = writeln!(out, "{name}_count{} {count}", braces(""));
                        }
                    }
                }
            }
        }
        let extra: Vec<Exposition> = self
            .registry
            .extra
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, f)| f.clone())
            .collect();
        for f in extra {
            f(&mut out);
        }
        out
    }
}

impl Telemetry {
    /// Every registered metric as one OTLP `ResourceMetrics` (scope `ferrotel`), with the same
    /// names and attributes as the exposition: counters as cumulative monotonic sums, gauges,
    /// histograms as cumulative explicit-bucket histograms, from `start_ns` to `now_ns`.
    pub fn to_otlp(
        &self,
        resource: Resource,
        start_ns: u64,
        now_ns: u64,
    ) -> ExportMetricsServiceRequest {
        let fams = self
            .registry
            .families
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let metrics = fams
            .iter()
            .map(|(name, fam)| otlp_metric(name, fam, start_ns, now_ns))
            .collect();
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "ferrotel".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }
}

fn otlp_metric(name: &str, fam: &Family, start_ns: u64, now_ns: u64) -> Metric {
    let attrs = |labels: &Labels| -> Vec<KeyValue> {
        labels
            .iter()
            .map(|(k, v)| crate::pdata::kv_str(k, v))
            .collect()
    };
    let number = |labels: &Labels, v: number_data_point::Value| NumberDataPoint {
        attributes: attrs(labels),
        start_time_unix_nano: start_ns,
        time_unix_nano: now_ns,
        value: Some(v),
        ..Default::default()
    };
    let mut points = vec![];
    let mut buckets = vec![];
    for (_, labels, s) in &fam.series {
        use number_data_point::Value as V;
        match s {
            Series::Counter(c) => points.push(number(labels, V::AsInt(c.get() as i64))),
            Series::Gauge(g) => points.push(number(labels, V::AsInt(g.get()))),
            Series::GaugeFn(f) | Series::CounterFn(f) => {
                points.push(number(labels, V::AsDouble(f())))
            }
            Series::Histogram(h) => {
                let mut counts: Vec<u64> =
                    h.0.counts
                        .iter()
                        .map(|c| c.load(Ordering::Relaxed))
                        .collect();
                let count = h.0.count.load(Ordering::Relaxed);
                counts.push(count.saturating_sub(counts.iter().sum()));
                buckets.push(HistogramDataPoint {
                    attributes: attrs(labels),
                    start_time_unix_nano: start_ns,
                    time_unix_nano: now_ns,
                    count,
                    sum: Some(f64::from_bits(h.0.sum.load(Ordering::Relaxed))),
                    bucket_counts: counts,
                    explicit_bounds: h.0.bounds.clone(),
                    ..Default::default()
                });
            }
        }
    }
    let data = match fam.kind {
        "counter" => metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        "histogram" => metric::Data::Histogram(OtlpHistogram {
            data_points: buckets,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
        _ => metric::Data::Gauge(OtlpGauge {
            data_points: points,
        }),
    };
    Metric {
        name: name.to_string(),
        description: fam.help.clone(),
        data: Some(data),
        ..Default::default()
    }
}

/// How counters are named in the exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterStyle {
    /// otelcol >= v0.153 (`without_type_suffix: true`, its default): `otelcol_receiver_accepted_spans`.
    #[default]
    Bare,
    /// otelcol v0.120-v0.152 (`without_type_suffix: false`): `otelcol_receiver_accepted_spans_total`.
    Total,
}

fn fmt_f64(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// Per-signal item metric suffixes, as otelcol names them.
pub fn item_suffix(signal: crate::Signal) -> &'static str {
    match signal {
        crate::Signal::Traces => "spans",
        crate::Signal::Metrics => "metric_points",
        crate::Signal::Logs => "log_records",
        crate::Signal::Profiles => "profile_samples",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let t = Telemetry::new();
        let c = t.counter(
            "otelcol_receiver_accepted_spans",
            "Spans accepted.",
            &[("receiver", "otlp"), ("transport", "grpc")],
        );
        c.add(5);
        t.counter(
            "otelcol_receiver_accepted_spans",
            "Spans accepted.",
            &[("receiver", "otlp"), ("transport", "grpc")],
        )
        .add(2);
        let h = t.histogram("h", "A histogram.", &[], &[1.0, 10.0]);
        h.record(0.5);
        h.record(5.0);
        h.record(50.0);
        let out = t.render();
        assert!(
            out.contains("otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"grpc\"} 7"),
            "{out}"
        );
        assert!(out.contains("h_bucket{le=\"10\"} 2"), "{out}");
        assert!(out.contains("h_bucket{le=\"+Inf\"} 3"), "{out}");
        assert!(out.contains("h_count 3"), "{out}");
        assert!(
            out.contains("# TYPE otelcol_receiver_accepted_spans untyped"),
            "{out}"
        );
        let total = t.render_with(CounterStyle::Total);
        assert!(
            total.contains("# TYPE otelcol_receiver_accepted_spans_total counter"),
            "{total}"
        );
        assert!(
            total.contains(
                "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 7"
            ),
            "{total}"
        );
    }
}
