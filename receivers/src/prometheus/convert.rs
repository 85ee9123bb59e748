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
use ferrotel_core::pdata::kv_str;
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
            if let Some(m) = meta.get(base) {
                return (base.to_string(), m.clone());
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

#[derive(Debug, Default)]
struct ScopeAcc {
    name: String,
    version: String,
    attrs: Vec<(String, String)>,
    families: Vec<Family>,
    index: HashMap<String, usize>,
}

#[derive(Debug, Default)]
struct ResourceAcc {
    job: String,
    instance: String,
    info: Vec<(String, String)>,
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
        let (job, instance) = (label(&r.labels, "job"), label(&r.labels, "instance"));
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
    let scope_name = label(&r.labels, "otel_scope_name").to_string();
    let scope_version = label(&r.labels, "otel_scope_version").to_string();
    if r.name == "target_info" {
        res.info = attrs_without(&r.labels, &["job", "instance"]);
        return;
    }
    let si = match res
        .scopes
        .iter()
        .position(|s| s.name == scope_name && s.version == scope_version)
    {
        Some(i) => i,
        None => {
            res.scopes.push(ScopeAcc {
                name: scope_name,
                version: scope_version,
                ..Default::default()
            });
            res.scopes.len() - 1
        }
    };
    let scope = &mut res.scopes[si];
    if r.name == "otel_scope_info" {
        scope.attrs = attrs_without(
            &r.labels,
            &["job", "instance", "otel_scope_name", "otel_scope_version"],
        );
        return;
    }
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
    let attrs = attrs_without(
        &r.labels,
        &[
            "job",
            "instance",
            "otel_scope_name",
            "otel_scope_version",
            special,
        ],
    );
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
    attrs.extend(r.info.iter().map(|(k, v)| kv_str(k, v)));
    let scope_metrics = r
        .scopes
        .into_iter()
        .map(|s| emit_scope(s, &r.job, &r.instance, ctx, starts))
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

fn emit_scope(
    s: ScopeAcc,
    job: &str,
    instance: &str,
    ctx: &EmitCtx,
    starts: &mut StartTimes,
) -> ScopeMetrics {
    let (name, version) = if s.name.is_empty() {
        (SCOPE_NAME.to_string(), ctx.settings.scope_version.clone())
    } else {
        (s.name.clone(), s.version.clone())
    };
    let scope_key = format!("{job}\u{0}{instance}\u{0}{name}\u{0}{version}");
    let metrics = s
        .families
        .into_iter()
        .filter_map(|f| emit_family(f, &scope_key, ctx, starts))
        .collect();
    ScopeMetrics {
        scope: Some(InstrumentationScope {
            name,
            version,
            attributes: s.attrs.iter().map(|(k, v)| kv_str(k, v)).collect(),
            dropped_attributes_count: 0,
        }),
        metrics,
        schema_url: String::new(),
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
    /// `_created` first, then `use_start_time_metric`'s value, else the cache.
    fn start(&mut self, g: &Group, observed: Option<Observed>) -> u64 {
        match (self.fixed, g.created) {
            (_, Some(c)) if c > 0.0 => secs_to_ns(c),
            (Some(s), _) => s,
            _ => self.starts.start(
                (self.family.clone(), g.attrs.clone()),
                ns(g.ts_ms),
                observed,
            ),
        }
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
                .filter_map(|g| histogram_point(g, st.start(g, count_and_sum(g)?)))
                .collect(),
            aggregation_temporality: cumulative,
        }),
        Kind::Summary => metric::Data::Summary(Summary {
            data_points: f
                .groups
                .iter()
                .filter_map(|g| summary_point(g, st.start(g, count_and_sum(g)?)))
                .collect(),
        }),
        Kind::GaugeHistogram => return None,
    };
    Some(Metric {
        name,
        description: f.meta.help.clone(),
        unit: f.meta.unit.clone(),
        metadata: vec![],
        data: Some(data),
    })
}

fn sum_points(groups: &[Group], st: &mut Starter) -> Vec<NumberDataPoint> {
    groups
        .iter()
        .filter_map(|g| {
            let observed = (!g.stale).then_some(Observed {
                value: g.value?,
                sum: 0.0,
            });
            number_point(g, st.start(g, observed))
        })
        .collect()
}

/// What reset detection compares for a histogram or summary (None for a stale point); the
/// outer None: the point has no `_count` and is dropped.
fn count_and_sum(g: &Group) -> Option<Option<Observed>> {
    let count = g.count?;
    Some((!g.stale).then_some(Observed {
        value: count,
        sum: g.sum.unwrap_or(0.0),
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

/// Cumulative `le` buckets to explicit bounds (without `+Inf`) and per-bucket counts; the
/// last count is what `_count` has beyond the last finite bound. No `_count`: no point.
fn histogram_point(g: &Group, start: u64) -> Option<HistogramDataPoint> {
    let count = g.count?;
    let mut buckets = g.bounds.clone();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let finite: Vec<(f64, f64)> = buckets
        .into_iter()
        .filter(|(le, _)| le.is_finite())
        .collect();
    let mut counts = Vec::with_capacity(finite.len() + 1);
    let mut prev = 0.0;
    for (_, cum) in &finite {
        counts.push((cum - prev).max(0.0) as u64);
        prev = *cum;
    }
    if !finite.is_empty() || !g.bounds.is_empty() {
        counts.push((count - prev).max(0.0) as u64);
    }
    let stale = g.stale;
    Some(HistogramDataPoint {
        attributes: attributes(g),
        start_time_unix_nano: start,
        time_unix_nano: ns(g.ts_ms),
        count: if stale { 0 } else { count as u64 },
        sum: if stale { None } else { g.sum },
        bucket_counts: if stale { vec![] } else { counts },
        explicit_bounds: if stale {
            vec![]
        } else {
            finite.iter().map(|(le, _)| *le).collect()
        },
        exemplars: vec![],
        flags: if stale { NO_RECORDED_VALUE } else { 0 },
        min: None,
        max: None,
    })
}

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
        quantile_values: if stale {
            vec![]
        } else {
            q.into_iter()
                .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                .collect()
        },
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
