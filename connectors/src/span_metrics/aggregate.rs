//! The state of a span_metrics connector: series per resource, their identities (dimension
//! values), the bounds on how many are held, and the OTLP metrics they become at each flush.

use super::config::{
    Dimension, SpanMetricsConfig, SERVICE_NAME, SPAN_KIND, SPAN_NAME, STATUS_CODE,
};
use crate::histogram::{Histogram, Layout};
use ferrotel_core::pdata;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram as OtlpHistogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use ferrotel_core::proto::resource::v1::Resource as OtlpResource;
use ferrotel_core::proto::trace::v1::{span, status};
use ferrotel_core::span_view::{EventView, ResourceSpansView, SpanView, ValueView};
use ferrotel_core::telemetry::{Counter, Gauge};
use ferrotel_core::Telemetry;
use hashbrown::hash_map::EntryRef;
use prost::Message;
use std::collections::{BTreeMap, HashMap};

/// The attribute of the series spans go to once a limit is reached.
pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";
/// Cannot be produced by [`Identity::key`] (which starts every part with a name and `=`).
const OVERFLOW_KEY: &str = "\u{1}overflow";
/// Dimension positions written as one character in series keys (see [`Identity::key_into`]).
const POSITIONS: u32 = 0xC000;
/// The scope of the emitted metrics, as otelcol names it.
const SCOPE_NAME: &str = "spanmetricsconnector";
const SCOPE_NAME_KEY: &str = "span.instrumentation.scope.name";
const SCOPE_VERSION_KEY: &str = "span.instrumentation.scope.version";
/// ferrotel's ceiling on the series held in all (every resource and metric) when
/// `aggregation_cardinality_limit` is 0, where otelcol has no bound: past it new series go to
/// their resource's overflow series.
pub const SERIES_CEILING: usize = 100_000;

/// The self-metrics of one connector: every bound is counted.
pub struct Meters {
    series: Gauge,
    resources: Gauge,
    overflowed: Counter,
    evicted_resources: Counter,
    expired_series: Counter,
    evicted_start_times: Counter,
}

impl Meters {
    pub fn new(telemetry: &Telemetry, id: &str) -> Self {
        let l = [("connector", id)];
        let name = |n: &str| format!("ferrotel_connector_span_metrics_{n}");
        let gauge = |n: &str, help: &str| telemetry.gauge(&name(n), help, &l);
        let counter = |n: &str, help: &str| telemetry.counter(&name(n), help, &l);
        Meters {
            series: gauge("series", "Series the span_metrics connector holds."),
            resources: gauge("resources", "Resources the span_metrics connector holds series for."),
            overflowed: counter(
                "overflow_measurements",
                "Calls, durations and events counted in an otel.metric.overflow series because a series limit was reached.",
            ),
            evicted_resources: counter(
                "evicted_resources",
                "Resources dropped, least recently used first, at resource_metrics_cache_size.",
            ),
            expired_series: counter(
                "expired_series",
                "Series dropped after metrics_expiration without spans.",
            ),
            evicted_start_times: counter(
                "evicted_start_times",
                "Delta start times dropped at metric_timestamp_cache_size.",
            ),
        }
    }
}

/// What the config says, prepared once.
pub struct Settings {
    calls_dims: Vec<Dimension>,
    hist_dims: Vec<Dimension>,
    /// Whether the calls and the histogram have the same dimensions.
    same_dims: bool,
    event_dims: Vec<Dimension>,
    exclude: Vec<String>,
    scopes: Vec<String>,
    unit_nanos: f64,
    unit: &'static str,
    layout: Option<Layout>,
    events: bool,
    exemplars: Option<usize>,
    delta: bool,
    expiration_ns: u64,
    series_limit: usize,
    /// The most series held in all (when `series_limit` is unlimited).
    ceiling: usize,
    resource_limit: usize,
    start_times_limit: usize,
    key_attributes: Vec<String>,
    all_resource_attributes: bool,
    names: [String; 3],
}

fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl Settings {
    pub fn new(c: &SpanMetricsConfig) -> Self {
        let with = |extra: &[Dimension]| [c.dimensions.as_slice(), extra].concat();
        let layout = match (&c.histogram.exponential, c.histogram.disable) {
            (_, true) => None,
            (Some(e), _) => Some(Layout::Exponential {
                max_size: if e.max_size > 0 {
                    e.max_size as usize
                } else {
                    160
                },
            }),
            (None, _) => Some(Layout::Explicit(c.bounds().into())),
        };
        let name = |n: &str| match c.namespace.as_str() {
            "" => n.to_string(),
            ns => format!("{ns}.{n}"),
        };
        Settings {
            calls_dims: with(&c.calls_dimensions),
            hist_dims: with(&c.histogram.dimensions),
            same_dims: c.calls_dimensions == c.histogram.dimensions,
            event_dims: with(&c.events.dimensions),
            exclude: c.exclude_dimensions.clone(),
            scopes: c.include_instrumentation_scope.clone(),
            unit_nanos: c.histogram.unit.nanos(),
            unit: c.histogram.unit.as_str(),
            layout,
            events: c.events.enabled,
            exemplars: c
                .exemplars
                .enabled
                .then(|| limit(c.exemplars.max_per_data_point)),
            delta: c.is_delta(),
            expiration_ns: c.metrics_expiration.0.as_nanos() as u64,
            series_limit: match limit(c.aggregation_cardinality_limit) {
                0 => usize::MAX,
                n => n,
            },
            ceiling: match c.aggregation_cardinality_limit {
                0 => SERIES_CEILING,
                _ => usize::MAX,
            },
            resource_limit: limit(c.resource_metrics_cache_size).max(1),
            start_times_limit: limit(c.timestamp_cache_size()).max(1),
            key_attributes: c.resource_metrics_key_attributes.clone(),
            all_resource_attributes: c.add_resource_attributes,
            names: [name("calls"), name("duration"), name("events")],
        }
    }

    /// Another ceiling than [`SERIES_CEILING`] (tests).
    #[cfg(test)]
    pub fn with_ceiling(self, ceiling: usize) -> Self {
        Settings { ceiling, ..self }
    }
}

/// A dimension's value: borrowed from the span (a string, or another value still encoded) or
/// its resource, or a configured default.
#[derive(Clone, Copy)]
enum Val<'a> {
    Str(&'a str),
    Any(&'a any_value::Value),
    Encoded(&'a [u8]),
}

impl<'a> From<ValueView<'a>> for Val<'a> {
    fn from(v: ValueView<'a>) -> Self {
        match v {
            ValueView::Str(s) => Val::Str(s),
            ValueView::Encoded(b) => Val::Encoded(b),
        }
    }
}

/// Appends a string value to a series key.
fn push_text(key: &mut String, s: &str) {
    key.push('s');
    key.push_str(s);
}

/// Appends an encoded `AnyValue` to a series key, in hex.
fn push_encoded(key: &mut String, bytes: &[u8]) {
    use std::fmt::Write as _;
    key.push('e');
    for b in bytes {
        let _ = write!(key, "{b:02x}");
    }
}

/// The dimensions of one series, in output order: each with its position in the list of
/// possible dimensions (defaults, configured, scope), its name and value.
struct Identity<'a>(Vec<(u32, &'a str, Val<'a>)>);

impl Identity<'_> {
    /// The series key, written into `key`: unique per set of names and values (a string
    /// value as itself, any other value as its protobuf encoding in hex, which is the same
    /// whether it was read encoded or decoded).
    fn key_into(&self, key: &mut String) {
        key.clear();
        for (position, name, val) in &self.0 {
            // The position stands for the name (one character): keys stay short and differ
            // early. Positions past the table (the scope's) are written by name.
            match char::from_u32(0x100 + position) {
                Some(c) if *position < POSITIONS => key.push(c),
                _ => {
                    key.push_str(name);
                    key.push('=');
                }
            }
            match val {
                Val::Str(s) => push_text(key, s),
                Val::Any(any_value::Value::StringValue(s)) => push_text(key, s),
                Val::Any(v) => {
                    let any = AnyValue {
                        value: Some((*v).clone()),
                    };
                    push_encoded(key, &any.encode_to_vec());
                }
                Val::Encoded(b) => push_encoded(key, b),
            }
            key.push('\0');
        }
    }

    fn attributes(&self) -> Vec<KeyValue> {
        self.0
            .iter()
            .map(|(_, name, val)| match val {
                Val::Str(s) => pdata::kv_str(name, s),
                Val::Any(v) => KeyValue {
                    key: name.to_string(),
                    value: Some(AnyValue {
                        value: Some((*v).clone()),
                    }),
                    ..Default::default()
                },
                Val::Encoded(b) => KeyValue {
                    key: name.to_string(),
                    value: AnyValue::decode(*b).ok(),
                    ..Default::default()
                },
            })
            .collect()
    }
}

/// A span with what its identity is looked up in.
struct SpanRef<'a> {
    service: &'a str,
    span: &'a SpanView<'a>,
    resource: &'a [KeyValue],
    scope: Option<&'a InstrumentationScope>,
}

impl<'a> SpanRef<'a> {
    /// The default dimensions (unless excluded), then `dims` looked up in the span's
    /// attributes, `event`'s, then the resource's, then the scope when included.
    fn identity(
        &self,
        s: &'a Settings,
        dims: &'a [Dimension],
        event: Option<&EventView<'a>>,
    ) -> Identity<'a> {
        let kind = span::SpanKind::try_from(self.span.kind).unwrap_or(span::SpanKind::Unspecified);
        let code = status::StatusCode::try_from(self.span.status_code)
            .unwrap_or(status::StatusCode::Unset);
        let mut out = Vec::with_capacity(4 + dims.len());
        let defaults = [
            (SERVICE_NAME, self.service),
            (SPAN_NAME, self.span.name),
            (SPAN_KIND, kind.as_str_name()),
            (STATUS_CODE, code.as_str_name()),
        ];
        for (i, (name, v)) in defaults.into_iter().enumerate() {
            if !s.exclude.iter().any(|e| e == name) {
                out.push((i as u32, name, Val::Str(v)));
            }
        }
        for (i, d) in dims.iter().enumerate() {
            let position = u32::try_from(4 + i).unwrap_or(POSITIONS);
            let found = self
                .span
                .attribute(&d.name)
                .or_else(|| event.and_then(|e| e.attribute(&d.name)))
                .map(Val::from)
                .or_else(|| pdata::attr(self.resource, &d.name).map(Val::Any));
            match (found, &d.default) {
                (Some(v), _) => out.push((position, d.name.as_str(), v)),
                (None, Some(default)) => out.push((position, d.name.as_str(), Val::Str(default))),
                (None, None) => {}
            }
        }
        if let Some(scope) = self
            .scope
            .filter(|sc| !sc.name.is_empty() && s.scopes.contains(&sc.name))
        {
            out.push((POSITIONS, SCOPE_NAME_KEY, Val::Str(&scope.name)));
            if !scope.version.is_empty() {
                out.push((POSITIONS, SCOPE_VERSION_KEY, Val::Str(&scope.version)));
            }
        }
        Identity(out)
    }
}

/// A span's duration in the configured unit (0 when it ends before it starts).
fn duration(span: &SpanView, unit_nanos: f64) -> f64 {
    span.end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano) as f64
        / unit_nanos
}

fn exemplar(span: &SpanView, value: f64) -> Exemplar {
    Exemplar {
        trace_id: span.trace_id.to_vec(),
        span_id: span.span_id.to_vec(),
        value: Some(exemplar::Value::AsDouble(value)),
        ..Default::default()
    }
}

/// One series: its attributes, its value and when it started and was last updated.
struct Series<A> {
    attributes: Vec<KeyValue>,
    value: A,
    start: u64,
    last_seen: u64,
    exemplars: Vec<Exemplar>,
    /// Not emitted yet: a cumulative sum is first emitted as 0, as otelcol does (so that
    /// Prometheus sees the series start from 0).
    first: bool,
}

/// The series of one metric of one resource, keyed by [`Identity::key_into`] (hashed: a
/// lookup per span; a flush emits them in key order).
struct SeriesMap<A>(hashbrown::HashMap<String, Series<A>, foldhash::fast::RandomState>);

impl<A> Default for SeriesMap<A> {
    fn default() -> Self {
        SeriesMap(hashbrown::HashMap::default())
    }
}

/// Counting the spans of one resource: the aggregator's parts `add_span` needs.
struct Counting<'a> {
    set: &'a Settings,
    bounds: Bounds<'a>,
    total: &'a mut usize,
    /// Where each span's series key is written.
    key: &'a mut String,
    r: &'a mut ResourceState,
}

impl Counting<'_> {
    fn add_span(&mut self, s: &SpanRef, now: u64) {
        let (set, b, key) = (self.set, self.bounds, &mut *self.key);
        let (r, total) = (&mut *self.r, &mut *self.total);
        let value = duration(s.span, set.unit_nanos);
        let calls_id = s.identity(set, &set.calls_dims, None);
        calls_id.key_into(key);
        let calls = r
            .calls
            .get_or_create((&calls_id, key), now, (b, total), || 0);
        calls.value += 1;
        calls.add_exemplar(set.exemplars, s.span, value);
        if let Some(layout) = &set.layout {
            // Usually the histogram has the calls' dimensions (and key): identify the span once.
            let own = (!set.same_dims).then(|| s.identity(set, &set.hist_dims, None));
            if let Some(id) = &own {
                id.key_into(key);
            }
            let h = r.durations.get_or_create(
                (own.as_ref().unwrap_or(&calls_id), key),
                now,
                (b, total),
                || layout.new_histogram(),
            );
            h.value.observe(value);
            h.add_exemplar(set.exemplars, s.span, value);
        }
        if set.events {
            for event in s.span.events() {
                let id = s.identity(set, &set.event_dims, Some(&event));
                id.key_into(key);
                let e = r.events.get_or_create((&id, key), now, (b, total), || 0);
                e.value += 1;
                e.add_exemplar(set.exemplars, s.span, value);
            }
        }
    }
}

/// What a new series is counted against.
#[derive(Clone, Copy)]
struct Bounds<'a> {
    limit: usize,
    ceiling: usize,
    overflowed: &'a Counter,
}

impl<A> SeriesMap<A> {
    /// The series of `id`; a new one past the limit (of this map, or the ceiling of all) is
    /// the overflow series, attribute `otel.metric.overflow: true`.
    fn get_or_create(
        &mut self,
        (id, key): (&Identity, &str),
        now: u64,
        (b, total): (Bounds, &mut usize),
        make: impl FnOnce() -> A,
    ) -> &mut Series<A> {
        let full = self.0.len() >= b.limit || *total >= b.ceiling;
        if !full {
            // The usual case: one lookup, the key copied only for a new series.
            let series = match self.0.entry_ref(key) {
                EntryRef::Occupied(o) => o.into_mut(),
                EntryRef::Vacant(v) => {
                    *total += 1;
                    v.insert(Series::new(id.attributes(), make(), now))
                }
            };
            series.last_seen = now;
            return series;
        }
        // Full: a known series is still counted, a new one goes to the overflow series.
        let key = match self.0.contains_key(key) {
            true => key,
            false => {
                b.overflowed.inc();
                if !self.0.contains_key(OVERFLOW_KEY) {
                    *total += 1;
                    let attributes = vec![pdata::kv_bool(OVERFLOW_ATTRIBUTE, true)];
                    let series = Series::new(attributes, make(), now);
                    self.0.insert(OVERFLOW_KEY.to_string(), series);
                }
                OVERFLOW_KEY
            }
        };
        let Some(series) = self.0.get_mut(key) else {
            unreachable!("the series was found or inserted above")
        };
        series.last_seen = now;
        series
    }

    /// The series in key order (the order of a flush's data points).
    fn sorted_mut(&mut self) -> Vec<(&String, &mut Series<A>)> {
        let mut all: Vec<_> = self.0.iter_mut().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Drops the series not seen since `deadline`; returns how many.
    fn expire(&mut self, deadline: u64) -> usize {
        let before = self.0.len();
        self.0.retain(|_, s| s.last_seen > deadline);
        before - self.0.len()
    }
}

impl<A> Series<A> {
    fn new(attributes: Vec<KeyValue>, value: A, now: u64) -> Self {
        Series {
            attributes,
            value,
            start: now,
            last_seen: now,
            exemplars: Vec::new(),
            first: true,
        }
    }

    fn add_exemplar(&mut self, max: Option<usize>, span: &SpanView, value: f64) {
        if max.is_some_and(|m| self.exemplars.len() < m) && !span.trace_id.is_empty() {
            self.exemplars.push(exemplar(span, value));
        }
    }
}

/// The series of one resource.
struct ResourceState {
    attributes: Vec<KeyValue>,
    calls: SeriesMap<u64>,
    durations: SeriesMap<Histogram>,
    events: SeriesMap<u64>,
    last_used: u64,
}

impl ResourceState {
    fn len(&self) -> usize {
        self.calls.0.len() + self.durations.0.len() + self.events.0.len()
    }
}

/// Everything one connector holds.
pub struct Aggregator {
    settings: Settings,
    meters: Meters,
    resources: BTreeMap<String, ResourceState>,
    /// Series held, in all resources.
    total: usize,
    /// Delta: each series' last flush time, its next start time (value: time, last use).
    start_times: HashMap<String, (u64, u64)>,
    /// A logical clock for least-recently-used choices.
    tick: u64,
    /// Where each span's series key is written (reused: no allocation per span).
    key_buf: String,
    /// The shutdown flush is under way: new cumulative sums are emitted with their value, not
    /// as 0 first (there is no later flush to carry it).
    closing: bool,
}

impl Aggregator {
    pub fn new(settings: Settings, meters: Meters) -> Self {
        Aggregator {
            settings,
            meters,
            resources: BTreeMap::new(),
            total: 0,
            start_times: HashMap::new(),
            tick: 0,
            key_buf: String::new(),
            closing: false,
        }
    }

    /// Counts the spans of `req` (received at `now`, Unix nanoseconds). Spans whose resource
    /// has no `service.name` are skipped, as otelcol does.
    pub fn add(&mut self, entries: &[ResourceSpansView], now: u64) {
        for entry in entries {
            let attrs = entry.resource.attributes.as_slice();
            let Some(service) = pdata::attr_str(attrs, SERVICE_NAME) else {
                continue;
            };
            let key = self.resource_key(attrs);
            self.ensure_resource(&key, attrs);
            // The resource's state is looked up once for all its spans.
            let Some(r) = self.resources.get_mut(&key) else {
                continue;
            };
            let mut counting = Counting {
                set: &self.settings,
                bounds: Bounds {
                    limit: self.settings.series_limit,
                    ceiling: self.settings.ceiling,
                    overflowed: &self.meters.overflowed,
                },
                total: &mut self.total,
                key: &mut self.key_buf,
                r,
            };
            for ss in &entry.scopes {
                for span in &ss.spans {
                    let s = SpanRef {
                        service,
                        span,
                        resource: attrs,
                        scope: ss.scope,
                    };
                    counting.add_span(&s, now);
                }
            }
        }
        self.update_gauges();
    }

    /// [`Aggregator::add`] of a decoded request (tests).
    #[cfg(test)]
    pub fn add_request(
        &mut self,
        req: &ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest,
        now: u64,
    ) {
        let index = ferrotel_core::span_view::SpanIndex::new(req.encode_to_vec().into()).unwrap();
        let entries = index.entries();
        self.add(&entries, now);
    }

    /// The resource's identity: its key attributes (all by default), sorted by key (then by
    /// value), each written length-prefixed so no two sets of attributes share an identity.
    /// String values, nearly all of them, are written as they are; others in their debug form.
    fn resource_key(&self, attrs: &[KeyValue]) -> String {
        use std::fmt::Write;
        let keys = &self.settings.key_attributes;
        let mut parts: Vec<&KeyValue> = attrs
            .iter()
            .filter(|kv| keys.is_empty() || keys.contains(&kv.key))
            .collect();
        let encoded = |kv: &KeyValue| kv.value.as_ref().map(Message::encode_to_vec);
        parts.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| encoded(a).cmp(&encoded(b))));
        let mut id = String::new();
        for kv in parts {
            let _ = write!(id, "{}:{}=", kv.key.len(), kv.key);
            let _ = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => write!(id, "s{}:{s}", s.len()),
                other => write!(id, "{other:?}"),
            };
            id.push('\0');
        }
        id
    }

    /// Creates the resource's state if new, dropping the least recently used one when
    /// `resource_metrics_cache_size` resources are held.
    fn ensure_resource(&mut self, key: &str, attrs: &[KeyValue]) {
        self.tick += 1;
        if let Some(r) = self.resources.get_mut(key) {
            r.last_used = self.tick;
            return;
        }
        if self.resources.len() >= self.settings.resource_limit {
            let oldest = self
                .resources
                .iter()
                .min_by_key(|(_, r)| r.last_used)
                .map(|(k, _)| k.clone());
            if let Some(r) = oldest.and_then(|k| self.resources.remove(&k)) {
                self.total -= r.len();
                self.meters.evicted_resources.inc();
            }
        }
        let s = &self.settings;
        let attributes = attrs
            .iter()
            .filter(
                |kv| match (s.all_resource_attributes, s.key_attributes.is_empty()) {
                    (true, _) => true,
                    (false, true) => kv.key == SERVICE_NAME,
                    (false, false) => s.key_attributes.contains(&kv.key),
                },
            )
            .cloned()
            .collect();
        let state = ResourceState {
            attributes,
            calls: SeriesMap::default(),
            durations: SeriesMap::default(),
            events: SeriesMap::default(),
            last_used: self.tick,
        };
        self.resources.insert(key.to_string(), state);
    }

    fn update_gauges(&self) {
        self.meters.series.set(self.total as i64);
        self.meters.resources.set(self.resources.len() as i64);
    }

    /// [`Aggregator::flush`] at shutdown: every series with its value.
    pub fn flush_last(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
        self.closing = true;
        self.flush(now)
    }

    /// The metrics of every series at `now`, then the state reset (delta), or expired series
    /// dropped (cumulative). None when nothing is held.
    pub fn flush(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
        if self.resources.is_empty() {
            return None;
        }
        let mut out = ExportMetricsServiceRequest::default();
        let keys: Vec<String> = self.resources.keys().cloned().collect();
        for key in keys {
            let rm = self.build_resource(&key, now);
            out.resource_metrics.extend(rm);
        }
        self.after_flush(now);
        Some(out)
    }

    fn build_resource(&mut self, key: &str, now: u64) -> Option<ResourceMetrics> {
        let s = &self.settings;
        let mut starts = StartTimes {
            delta: s.delta,
            times: &mut self.start_times,
            tick: self.tick,
            zero_new: !s.delta && !self.closing,
            limit: s.start_times_limit,
            evicted: &self.meters.evicted_start_times,
        };
        let r = self.resources.get_mut(key)?;
        let mut metrics = vec![sum_metric(
            &s.names[0],
            &mut r.calls,
            starts.emit(now, key, 0),
        )];
        if let Some(layout) = &s.layout {
            let e = starts.emit(now, key, 1);
            metrics.push(histogram_metric(
                &s.names[1],
                s.unit,
                layout,
                &mut r.durations,
                e,
            ));
        }
        if s.events {
            metrics.push(sum_metric(
                &s.names[2],
                &mut r.events,
                starts.emit(now, key, 2),
            ));
        }
        Some(ResourceMetrics {
            resource: Some(OtlpResource {
                attributes: r.attributes.clone(),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn after_flush(&mut self, now: u64) {
        if self.settings.delta {
            self.resources.clear();
            self.total = 0;
        } else {
            let expiration = self.settings.expiration_ns;
            let deadline = now.saturating_sub(expiration);
            for r in self.resources.values_mut() {
                r.calls.0.values_mut().for_each(|s| s.exemplars.clear());
                r.durations.0.values_mut().for_each(|s| s.exemplars.clear());
                r.events.0.values_mut().for_each(|s| s.exemplars.clear());
                if expiration > 0 {
                    let n = r.calls.expire(deadline)
                        + r.durations.expire(deadline)
                        + r.events.expire(deadline);
                    self.total -= n;
                    self.meters.expired_series.add(n as u64);
                }
            }
            self.resources.retain(|_, r| r.len() > 0);
        }
        self.update_gauges();
    }
}

/// Delta start times: a series starts where its previous flush ended, while remembered.
struct StartTimes<'a> {
    delta: bool,
    times: &'a mut HashMap<String, (u64, u64)>,
    tick: u64,
    /// New cumulative sums are emitted as 0 the first time, as otelcol does (so that
    /// Prometheus sees them start from 0).
    zero_new: bool,
    limit: usize,
    evicted: &'a Counter,
}

impl<'b> StartTimes<'b> {
    fn emit<'a>(&'a mut self, now: u64, resource: &'a str, metric: u8) -> Emit<'a, 'b> {
        Emit {
            now,
            starts: self,
            prefix: (resource, metric),
        }
    }

    /// The start time of the data point of `series` (which started at `start`), recording
    /// `now` as the next one.
    fn start(&mut self, series: String, start: u64, now: u64) -> u64 {
        if !self.delta {
            return start;
        }
        let previous = self.times.get(&series).map(|(t, _)| *t);
        if previous.is_none() && self.times.len() >= self.limit {
            let oldest = self
                .times
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.times.remove(&k);
                self.evicted.inc();
            }
        }
        self.times.insert(series, (now, self.tick));
        previous.unwrap_or(start)
    }
}

fn temporality(delta: bool) -> i32 {
    match delta {
        true => AggregationTemporality::Delta as i32,
        false => AggregationTemporality::Cumulative as i32,
    }
}

/// A data point's exemplars, stamped with the flush time.
fn stamped(exemplars: &[Exemplar], now: u64) -> Vec<Exemplar> {
    exemplars
        .iter()
        .map(|e| Exemplar {
            time_unix_nano: now,
            ..e.clone()
        })
        .collect()
}

/// What every data point of one metric of one resource shares at a flush.
struct Emit<'a, 'b: 'a> {
    now: u64,
    starts: &'a mut StartTimes<'b>,
    /// The resource's key and the metric's index, which prefix the start times' keys.
    prefix: (&'a str, u8),
}

impl Emit<'_, '_> {
    fn start_of(&mut self, series: &str, start: u64) -> u64 {
        let (resource, metric) = self.prefix;
        let key = format!("{resource}\0{metric}\0{series}");
        self.starts.start(key, start, self.now)
    }
}

/// A monotonic sum; a new cumulative series is emitted as 0 the first time, as otelcol does.
fn sum_metric(name: &str, map: &mut SeriesMap<u64>, mut e: Emit) -> Metric {
    let mut points = Vec::with_capacity(map.0.len());
    for (key, s) in map.sorted_mut() {
        let value = if s.first && e.starts.zero_new {
            0
        } else {
            s.value
        };
        s.first = false;
        points.push(NumberDataPoint {
            attributes: s.attributes.clone(),
            start_time_unix_nano: e.start_of(key, s.start),
            time_unix_nano: e.now,
            value: Some(number_data_point::Value::AsInt(value as i64)),
            exemplars: stamped(&s.exemplars, e.now),
            ..Default::default()
        });
    }
    let sum = Sum {
        data_points: points,
        aggregation_temporality: temporality(e.starts.delta),
        is_monotonic: true,
    };
    Metric {
        name: name.to_string(),
        data: Some(metric::Data::Sum(sum)),
        ..Default::default()
    }
}

/// The duration histogram, explicit or exponential as `layout` says.
fn histogram_metric(
    name: &str,
    unit: &str,
    layout: &Layout,
    map: &mut SeriesMap<Histogram>,
    mut e: Emit,
) -> Metric {
    let mut explicit = Vec::new();
    let mut exponential = Vec::new();
    for (key, s) in map.sorted_mut() {
        let start = e.start_of(key, s.start);
        let (attributes, exemplars) = (s.attributes.clone(), stamped(&s.exemplars, e.now));
        match &s.value {
            Histogram::Explicit(h) => explicit.push(HistogramDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: e.now,
                exemplars,
                ..h.point()
            }),
            Histogram::Exponential(h) => exponential.push(ExponentialHistogramDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: e.now,
                exemplars,
                ..h.point()
            }),
        }
    }
    let aggregation_temporality = temporality(e.starts.delta);
    let data = match layout {
        Layout::Explicit(_) => metric::Data::Histogram(OtlpHistogram {
            data_points: explicit,
            aggregation_temporality,
        }),
        Layout::Exponential { .. } => metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: exponential,
            aggregation_temporality,
        }),
    };
    Metric {
        name: name.to_string(),
        unit: unit.to_string(),
        data: Some(data),
        ..Default::default()
    }
}
