//! Appended rows to OTLP metrics, as otelcol's prometheus receiver builds them:
//! - one resource per `job`/`instance`: `service.name` = job, `service.instance.id` =
//!   instance, `server.address` (unless a loopback or unspecified host), `server.port`,
//!   `url.scheme`, plus the labels of `target_info` (which is not a metric itself);
//! - scopes from the `otel_scope_name` / `otel_scope_version` labels (attributes from
//!   `otel_scope_info`), else the receiver's own scope;
//! - counters: cumulative monotonic sums; gauges and untyped: gauges; info and stateset:
//!   non-monotonic cumulative sums; histograms: explicit bounds from `le` with per-bucket
//!   counts, `_sum`, `_count`; summaries: quantiles, `_sum`, `_count`; gauge histograms are
//!   dropped; `_created` sets the start time, else the start-time cache ([`super::adjust`]);
//! - stale rows: points flagged "no recorded value";
//! - point attributes: the labels without `__name__`, `job`, `instance`, `le` / `quantile`
//!   and the scope labels.
//!
//! ```text
//! # TYPE rpc_duration_seconds histogram        ->  histogram rpc_duration_seconds,
//! rpc_duration_seconds_bucket{le="0.1"} 3           bounds [0.1], counts [3, 2],
//! rpc_duration_seconds_bucket{le="+Inf"} 5          count 5, sum 1.5
//! rpc_duration_seconds_sum 1.5
//! rpc_duration_seconds_count 5
//! ```

use super::adjust::{Observed, StartTimes};
use super::discovery::Target;
use super::parse::{Kind, Meta};
use super::rows::Row;
use ferrotel_core::pdata::{kv_str, str_value, upsert};
use ferrotel_core::prom_units::word_to_ucum as unit_word_to_ucum;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric, number_data_point, summary_data_point::ValueAtQuantile, AggregationTemporality, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use regex::Regex;
use std::collections::HashMap;

/// The receiver's scope name, as otelcol's.
pub const SCOPE_NAME: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver";

/// The no-recorded-value flag (Prometheus staleness).
const NO_RECORDED_VALUE: u32 = 1;

/// Receiver-wide conversion settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub trim_suffixes: bool,
    /// `use_start_time_metric`: the gauge whose value is every cumulative point's start.
    pub start_time_metric: Option<Regex>,
    pub scope_version: String,
}

/// Metadata of the current scrape, falling back to the previous one (for stale rows).
pub struct MetaLookup<'a> {
    pub current: &'a HashMap<String, Meta>,
    pub previous: &'a HashMap<String, Meta>,
}

impl MetaLookup<'_> {
    fn get(&self, name: &str) -> Option<&Meta> {
        self.current.get(name).or_else(|| self.previous.get(name))
    }
}

/// The gauges Prometheus adds to every scrape.
const SYNTHETIC: &[&str] = &[
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "scrape_timeout_seconds",
    "scrape_sample_limit",
    "scrape_body_size_bytes",
];

const SUFFIXES: &[&str] = &["_bucket", "_count", "_sum", "_total", "_created", "_info"];

/// The family a sample belongs to and its metadata, as otelcol looks them up: the name
/// itself, else the name without a type suffix, else an unknown-typed family of its own.
fn family_of(name: &str, meta: &MetaLookup) -> (String, Meta) {
    if SYNTHETIC.contains(&name) {
        let m = Meta {
            kind: Kind::Gauge,
            ..Meta::default()
        };
        return (name.to_string(), m);
    }
    if let Some(m) = meta.get(name) {
        return (name.to_string(), m.clone());
    }
    for s in SUFFIXES {
        if let Some(base) = name.strip_suffix(s) {
            match meta.get(base) {
                // A gauge family holds only the sample of its own name.
                Some(m) if matches!(m.kind, Kind::Gauge | Kind::Unknown) => break,
                Some(m) => return (base.to_string(), m.clone()),
                None => {}
            }
        }
    }
    (name.to_string(), Meta::default())
}

/// One point being assembled (a series without `le` / `quantile`).
#[derive(Debug, Default)]
struct Group {
    attrs: Vec<(String, String)>,
    ts_ms: i64,
    value: Option<f64>,
    stale: bool,
    sum: Option<f64>,
    count: Option<f64>,
    created: Option<f64>,
    bounds: Vec<(f64, f64)>,
}

#[derive(Debug)]
struct Family {
    name: String,
    meta: Meta,
    groups: Vec<Group>,
    index: HashMap<Vec<(String, String)>, usize>,
}

/// A scope as otelcol tells them apart: `otel_scope_name`, `otel_scope_version`,
/// `otel_scope_schema_url`, and every other `otel_scope_<key>` label as attribute `<key>`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ScopeId {
    name: String,
    version: String,
    schema_url: String,
    attrs: Vec<(String, String)>,
}

impl ScopeId {
    fn of(labels: &[(String, String)]) -> ScopeId {
        let mut id = ScopeId::default();
        for (n, v) in labels {
            match n.as_str() {
                "otel_scope_name" => id.name = v.clone(),
                "otel_scope_version" => id.version = v.clone(),
                "otel_scope_schema_url" => id.schema_url = v.clone(),
                _ => {
                    if let Some(key) = n.strip_prefix("otel_scope_") {
                        id.attrs.push((key.to_string(), v.clone()));
                    }
                }
            }
        }
        id
    }

    fn same_scope(&self, other: &ScopeId) -> bool {
        self.name == other.name
            && self.version == other.version
            && self.schema_url == other.schema_url
    }

    fn is_empty(&self) -> bool {
        self.name.is_empty()
            && self.version.is_empty()
            && self.schema_url.is_empty()
            && self.attrs.is_empty()
    }
}

#[derive(Debug, Default)]
struct ScopeAcc {
    id: ScopeId,
    families: Vec<Family>,
    index: HashMap<String, usize>,
}

#[derive(Debug, Default)]
struct ResourceAcc {
    job: String,
    instance: String,
    info: Vec<(String, String)>,
    /// `otel_scope_info` attributes by scope (labels of the scope's samples win).
    scope_info: Vec<(ScopeId, Vec<(String, String)>)>,
    scopes: Vec<ScopeAcc>,
}

fn label<'a>(labels: &'a [(String, String)], name: &str) -> &'a str {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Converts a scrape's rows (synthetic gauges included) for one target.
pub fn build(
    rows: &[Row],
    meta: &MetaLookup,
    target: &Target,
    settings: &Settings,
    starts: &mut StartTimes,
) -> Result<ExportMetricsServiceRequest, String> {
    let created_start = match &settings.start_time_metric {
        Some(re) => Some(start_time_metric(rows, re)?),
        None => None,
    };
    let mut resources: Vec<ResourceAcc> = vec![];
    for r in rows {
        // A sample without job or instance (federation) belongs to its target's.
        let job = Some(label(&r.labels, "job")).filter(|j| !j.is_empty());
        let instance = Some(label(&r.labels, "instance")).filter(|i| !i.is_empty());
        let job = job.unwrap_or_else(|| target.label("job"));
        let instance = instance.unwrap_or_else(|| target.label("instance"));
        let i = match resources
            .iter()
            .position(|x| x.job == job && x.instance == instance)
        {
            Some(i) => i,
            None => {
                resources.push(ResourceAcc {
                    job: job.into(),
                    instance: instance.into(),
                    ..Default::default()
                });
                resources.len() - 1
            }
        };
        add_row(&mut resources[i], r, meta);
    }
    let ctx = EmitCtx {
        settings,
        fixed_start: created_start,
    };
    let resource_metrics = resources
        .into_iter()
        .map(|r| emit_resource(r, target, &ctx, starts))
        .collect();
    starts.gc();
    Ok(ExportMetricsServiceRequest { resource_metrics })
}

/// otelcol's start time adjuster: the value of the first metric matching the regex.
fn start_time_metric(rows: &[Row], re: &Regex) -> Result<u64, String> {
    rows.iter()
        .find(|r| !r.stale && re.is_match(&r.name))
        .map(|r| secs_to_ns(r.value))
        .ok_or_else(|| "start time metric not found".to_string())
}

fn add_row(res: &mut ResourceAcc, r: &Row, meta: &MetaLookup) {
    if r.name == "target_info" {
        res.info = attrs_without(&r.labels, &["job", "instance"]);
        return;
    }
    let id = ScopeId::of(&r.labels);
    if r.name == "otel_scope_info" {
        let attrs = r
            .labels
            .iter()
            .filter(|(n, _)| {
                !matches!(n.as_str(), "job" | "instance") && !n.starts_with("otel_scope_")
            })
            .cloned()
            .collect();
        res.scope_info.push((id, attrs));
        return;
    }
    let si = match res.scopes.iter().position(|s| s.id == id) {
        Some(i) => i,
        None => {
            res.scopes.push(ScopeAcc {
                id,
                ..Default::default()
            });
            res.scopes.len() - 1
        }
    };
    let scope = &mut res.scopes[si];
    let (fname, fmeta) = family_of(&r.name, meta);
    let fi = match scope.index.get(&fname) {
        Some(&i) => i,
        None => {
            scope.families.push(Family {
                name: fname.clone(),
                meta: fmeta,
                groups: vec![],
                index: HashMap::new(),
            });
            scope.index.insert(fname, scope.families.len() - 1);
            scope.families.len() - 1
        }
    };
    add_to_family(&mut scope.families[fi], r);
}

fn attrs_without(labels: &[(String, String)], drop: &[&str]) -> Vec<(String, String)> {
    labels
        .iter()
        .filter(|(n, _)| !drop.contains(&n.as_str()))
        .cloned()
        .collect()
}

fn add_to_family(f: &mut Family, r: &Row) {
    let kind = f.meta.kind;
    let special = match kind {
        Kind::Histogram | Kind::GaugeHistogram => "le",
        Kind::Summary => "quantile",
        _ => "",
    };
    let attrs: Vec<(String, String)> = r
        .labels
        .iter()
        .filter(|(n, _)| {
            !matches!(n.as_str(), "job" | "instance")
                && n != special
                && !n.starts_with("otel_scope_")
        })
        .cloned()
        .collect();
    let gi = match f.index.get(&attrs) {
        Some(&i) => i,
        None => {
            f.groups.push(Group {
                attrs: attrs.clone(),
                ts_ms: r.ts_ms,
                ..Default::default()
            });
            f.index.insert(attrs, f.groups.len() - 1);
            f.groups.len() - 1
        }
    };
    let g = &mut f.groups[gi];
    g.stale |= r.stale;
    let suffix = r.name.strip_prefix(f.name.as_str()).unwrap_or("");
    match (kind, suffix) {
        (_, "_created") if kind != Kind::Gauge && kind != Kind::Unknown => {
            g.created = Some(r.value)
        }
        (Kind::Histogram | Kind::GaugeHistogram | Kind::Summary, "_sum") => g.sum = Some(r.value),
        (Kind::Histogram | Kind::GaugeHistogram | Kind::Summary, "_count") => {
            // otelcol takes the point's time from `_count`, the one required sample.
            g.ts_ms = r.ts_ms;
            g.count = Some(r.value)
        }
        (Kind::Histogram | Kind::GaugeHistogram, "_bucket") => {
            if let Some(le) = parse_bound(label(&r.labels, "le")) {
                g.bounds.push((le, r.value));
            }
        }
        (Kind::Summary, "") => {
            if let Some(q) = parse_bound(label(&r.labels, "quantile")) {
                g.bounds.push((q, r.value));
            }
        }
        (Kind::Histogram | Kind::GaugeHistogram | Kind::Summary, _) => {}
        _ => g.value = Some(r.value),
    }
}

fn parse_bound(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

struct EmitCtx<'a> {
    settings: &'a Settings,
    fixed_start: Option<u64>,
}

fn emit_resource(
    r: ResourceAcc,
    target: &Target,
    ctx: &EmitCtx,
    starts: &mut StartTimes,
) -> ResourceMetrics {
    let mut attrs = resource_attributes(&r.job, &r.instance, &target.scheme);
    for (k, v) in &r.info {
        upsert(&mut attrs, k, str_value(v.as_str()));
    }
    let key = format!("{}\u{0}{}", r.job, r.instance);
    let scope_metrics = r
        .scopes
        .into_iter()
        .map(|mut s| {
            for (id, info) in &r.scope_info {
                if id.same_scope(&s.id) {
                    merge_info(&mut s.id.attrs, info);
                }
            }
            emit_scope(s, &key, ctx, starts)
        })
        .filter(|s| !s.metrics.is_empty())
        .collect();
    ResourceMetrics {
        resource: Some(Resource {
            attributes: attrs,
            ..Default::default()
        }),
        scope_metrics,
        schema_url: String::new(),
    }
}

/// otelcol's `CreateResource` (current semantic conventions).
pub fn resource_attributes(job: &str, instance: &str, scheme: &str) -> Vec<KeyValue> {
    let (host, port) = split_host_port(instance);
    let mut out = vec![kv_str("service.name", job)];
    if discernible(host) {
        out.push(kv_str("server.address", host));
    }
    out.push(kv_str("service.instance.id", instance));
    out.push(kv_str("server.port", port));
    out.push(kv_str("url.scheme", scheme));
    out
}

/// Go's `net.SplitHostPort`, falling back to (instance, "").
fn split_host_port(s: &str) -> (&str, &str) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once("]:") {
            return (h, p);
        }
        return (s, "");
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p),
        _ => (s, ""),
    }
}

/// Not a loopback or unspecified address, nor `localhost`.
fn discernible(host: &str) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback() && !ip.is_unspecified(),
        Err(_) => host != "localhost",
    }
}

/// Attributes of `otel_scope_info` under those of the scope's own labels.
fn merge_info(attrs: &mut Vec<(String, String)>, info: &[(String, String)]) {
    for (k, v) in info {
        if !attrs.iter().any(|(n, _)| n == k) {
            attrs.push((k.clone(), v.clone()));
        }
    }
}

fn emit_scope(
    s: ScopeAcc,
    resource_key: &str,
    ctx: &EmitCtx,
    starts: &mut StartTimes,
) -> ScopeMetrics {
    let id = &s.id;
    let (name, version) = if id.is_empty() {
        (SCOPE_NAME.to_string(), ctx.settings.scope_version.clone())
    } else {
        (id.name.clone(), id.version.clone())
    };
    let scope_key = format!("{resource_key}\u{0}{id:?}");
    let scope = InstrumentationScope {
        name,
        version,
        attributes: id.attrs.iter().map(|(k, v)| kv_str(k, v)).collect(),
        dropped_attributes_count: 0,
    };
    let metrics = s
        .families
        .into_iter()
        .filter_map(|f| emit_family(f, &scope_key, ctx, starts))
        .collect();
    ScopeMetrics {
        scope: Some(scope),
        metrics,
        schema_url: s.id.schema_url.clone(),
    }
}

/// Seconds as a float to nanoseconds, as otelcol's `timestampFromFloat64` (whole seconds,
/// then the fraction truncated to nanoseconds).
pub fn secs_to_ns(secs: f64) -> u64 {
    if secs.is_nan() || secs <= 0.0 || !secs.is_finite() {
        return 0;
    }
    let whole = secs.trunc();
    let frac = ((secs - whole) * 1e9) as u64;
    (whole as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(frac)
}

fn ns(ms: i64) -> u64 {
    (ms.max(0) as u64).saturating_mul(1_000_000)
}

/// Start times of one family's cumulative points.
struct Starter<'a> {
    fixed: Option<u64>,
    starts: &'a mut StartTimes,
    family: String,
}

impl Starter<'_> {
    /// A point's own start is `use_start_time_metric`'s value, else its `_created`, else its
    /// timestamp; the cache then keeps each series' first start until a reset, which starts
    /// at the point's own start (its timestamp under `use_start_time_metric`), as otelcol's
    /// start-time-metric and initial-point adjusters do.
    fn start(&mut self, g: &Group, observed: Option<Observed>) -> u64 {
        let ts = ns(g.ts_ms);
        let own = g.created.filter(|c| *c != 0.0).map_or(ts, secs_to_ns);
        let (initial, reset) = match self.fixed {
            Some(s) => (s, ts),
            None => (own, own),
        };
        let key = (self.family.clone(), g.attrs.clone());
        self.starts.start(key, initial, reset, observed)
    }
}

fn emit_family(
    f: Family,
    scope_key: &str,
    ctx: &EmitCtx,
    starts: &mut StartTimes,
) -> Option<Metric> {
    let kind = f.meta.kind;
    let name = if ctx.settings.trim_suffixes {
        trim_suffixes(&f.name, kind, &f.meta.unit)
    } else {
        f.name.clone()
    };
    let mut st = Starter {
        fixed: ctx.fixed_start,
        starts,
        family: format!("{scope_key}\u{0}{}", f.name),
    };
    let cumulative = AggregationTemporality::Cumulative as i32;
    let data = match kind {
        Kind::Counter | Kind::Info | Kind::StateSet => metric::Data::Sum(Sum {
            data_points: sum_points(&f.groups, &mut st),
            aggregation_temporality: cumulative,
            is_monotonic: kind == Kind::Counter,
        }),
        Kind::Gauge | Kind::Unknown => metric::Data::Gauge(Gauge {
            data_points: f.groups.iter().filter_map(|g| number_point(g, 0)).collect(),
        }),
        Kind::Histogram => metric::Data::Histogram(Histogram {
            data_points: f
                .groups
                .iter()
                .filter_map(|g| histogram_point(g, st.start(g, count_and_sum(g, false)?)))
                .collect(),
            aggregation_temporality: cumulative,
        }),
        Kind::Summary => metric::Data::Summary(Summary {
            data_points: f
                .groups
                .iter()
                .filter_map(|g| summary_point(g, st.start(g, count_and_sum(g, true)?)))
                .collect(),
        }),
        Kind::GaugeHistogram => return None,
    };
    let metric = Metric {
        name,
        description: f.meta.help.clone(),
        unit: unit_word_to_ucum(&f.meta.unit),
        metadata: vec![kv_str("prometheus.type", kind.as_str())],
        data: Some(data),
    };
    (ferrotel_core::pdata::metric_points(&metric) > 0).then_some(metric)
}

fn sum_points(groups: &[Group], st: &mut Starter) -> Vec<NumberDataPoint> {
    groups
        .iter()
        .filter_map(|g| {
            let observed = (!g.stale).then_some(Observed {
                value: g.value?,
                sum: 0.0,
                summary: false,
            });
            number_point(g, st.start(g, observed))
        })
        .collect()
}

/// What reset detection compares for a histogram or summary (None for a stale point); the
/// outer None: the point has no `_count` and is dropped.
fn count_and_sum(g: &Group, summary: bool) -> Option<Option<Observed>> {
    let count = g.count?;
    Some((!g.stale).then_some(Observed {
        value: count,
        sum: g.sum.unwrap_or(0.0),
        summary,
    }))
}

fn attributes(g: &Group) -> Vec<KeyValue> {
    g.attrs.iter().map(|(k, v)| kv_str(k, v)).collect()
}

fn number_point(g: &Group, start: u64) -> Option<NumberDataPoint> {
    let value = g.value?;
    Some(NumberDataPoint {
        attributes: attributes(g),
        start_time_unix_nano: start,
        time_unix_nano: ns(g.ts_ms),
        exemplars: vec![],
        flags: if g.stale { NO_RECORDED_VALUE } else { 0 },
        value: (!g.stale).then_some(number_data_point::Value::AsDouble(value)),
    })
}

/// Cumulative `le` buckets to explicit bounds (without a last `+Inf`) and per-bucket counts;
/// the last count is what `_count` has beyond the last bound. No `_count`: no point. A stale
/// point keeps its bounds with zero counts.
fn histogram_point(g: &Group, start: u64) -> Option<HistogramDataPoint> {
    let count = g.count?;
    let mut buckets = g.bounds.clone();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_some_and(|(le, _)| *le == f64::INFINITY) {
        buckets.pop();
    }
    let stale = g.stale;
    let mut counts = Vec::with_capacity(buckets.len() + 1);
    let mut prev = 0.0;
    for (_, cum) in &buckets {
        counts.push(if stale { 0 } else { (cum - prev) as u64 });
        prev = *cum;
    }
    counts.push(if stale { 0 } else { (count - prev) as u64 });
    Some(HistogramDataPoint {
        attributes: attributes(g),
        start_time_unix_nano: start,
        time_unix_nano: ns(g.ts_ms),
        count: if stale { 0 } else { count as u64 },
        sum: if stale { None } else { g.sum },
        bucket_counts: counts,
        explicit_bounds: buckets.iter().map(|(le, _)| *le).collect(),
        exemplars: vec![],
        flags: if stale { NO_RECORDED_VALUE } else { 0 },
        min: None,
        max: None,
    })
}

/// Quantiles in order, `_sum`, `_count`; a stale point keeps its quantiles with value 0.
fn summary_point(g: &Group, start: u64) -> Option<SummaryDataPoint> {
    let count = g.count?;
    let mut q = g.bounds.clone();
    q.sort_by(|a, b| a.0.total_cmp(&b.0));
    let stale = g.stale;
    Some(SummaryDataPoint {
        attributes: attributes(g),
        start_time_unix_nano: start,
        time_unix_nano: ns(g.ts_ms),
        count: if stale { 0 } else { count as u64 },
        sum: if stale { 0.0 } else { g.sum.unwrap_or(0.0) },
        quantile_values: q
            .into_iter()
            .map(|(quantile, value)| ValueAtQuantile {
                quantile,
                value: if stale { 0.0 } else { value },
            })
            .collect(),
        flags: if stale { NO_RECORDED_VALUE } else { 0 },
    })
}

/// otelcol's `TrimPromSuffixes`: `_total` of counters, then the unit's words at the end.
pub fn trim_suffixes(name: &str, kind: Kind, unit: &str) -> String {
    let mut tokens: Vec<&str> = name.split('_').collect();
    if tokens.len() == 1 {
        return name.to_string();
    }
    if kind == Kind::Counter && tokens.last() == Some(&"total") {
        tokens.pop();
    }
    let unit_tokens: Vec<&str> = unit.split('_').collect();
    if !unit.is_empty() && tokens.len() > unit_tokens.len() && tokens.ends_with(&unit_tokens) {
        tokens.truncate(tokens.len() - unit_tokens.len());
    }
    tokens.join("_")
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
