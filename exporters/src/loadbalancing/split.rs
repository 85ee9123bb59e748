//! Splitting a request by backend: every item (span, log record, metric or metric data point)
//! goes to the backend its routing key hashes to, with its resource and scope copied into
//! each part that gets some of their items.
//!
//! ```yaml
//! exporters:
//!   loadbalancing:
//!     routing_key: metric         # all points of a metric name on one backend
//!     resolver:
//!       static: { hostnames: [backend-1:4317, backend-2:4317] }
//! ```

use super::attributes::span_key;
use super::config::RoutingKey;
use super::ring::Ring;
use ferrotel_core::pdata::attr_str;
use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{
    metric, ExponentialHistogram, Gauge, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum,
    Summary,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{Data, Signal};
use prost::Message;

/// A resource- or scope-level container of a request, generic over the signals.
trait Level {
    type Child;
    fn children(&self) -> &[Self::Child];
    fn children_mut(&mut self) -> &mut Vec<Self::Child>;
    /// A copy of everything but the children.
    fn shell(&self) -> Self;
}

/// Implements [`Level`] for a proto container: its children field and the fields copied into
/// every part (the struct literal is exhaustive, so a new proto field is not silently lost).
macro_rules! level {
    ($t:ty, $child:ty, $field:ident, [$($copied:ident),*]) => {
        impl Level for $t {
            type Child = $child;
            fn children(&self) -> &[$child] {
                &self.$field
            }
            fn children_mut(&mut self) -> &mut Vec<$child> {
                &mut self.$field
            }
            fn shell(&self) -> Self {
                Self {
                    $field: vec![],
                    $($copied: self.$copied.clone()),*
                }
            }
        }
    };
}

level!(
    ResourceSpans,
    ScopeSpans,
    scope_spans,
    [resource, schema_url]
);
level!(ScopeSpans, Span, spans, [scope, schema_url]);
level!(ResourceLogs, ScopeLogs, scope_logs, [resource, schema_url]);
level!(ScopeLogs, LogRecord, log_records, [scope, schema_url]);
level!(
    ResourceMetrics,
    ScopeMetrics,
    scope_metrics,
    [resource, schema_url]
);
level!(ScopeMetrics, Metric, metrics, [scope, schema_url]);

/// How the leaves of a request spread over backends.
#[derive(Debug)]
pub(super) enum Routed<T> {
    /// No leaves at all.
    Empty,
    /// All to this backend: the request can be sent as it is.
    One(usize),
    /// Per backend (only those that get something), the leaves it gets.
    Many(Vec<(usize, T)>),
}

impl<T> Routed<T> {
    fn map<U>(self, f: impl Fn(T) -> U) -> Routed<U> {
        match self {
            Routed::Empty => Routed::Empty,
            Routed::One(b) => Routed::One(b),
            Routed::Many(v) => Routed::Many(v.into_iter().map(|(b, t)| (b, f(t))).collect()),
        }
    }
}

/// The key a batch of `signal` is routed by: otelcol's default for the signal when none is
/// configured; otelcol's error (which it gives when it creates the exporter for the signal)
/// when the key does not apply to the signal.
pub(super) fn key_for(key: RoutingKey, signal: Signal) -> Result<RoutingKey, String> {
    use RoutingKey::*;
    match (signal, key) {
        (Signal::Traces | Signal::Logs, Unset) => Ok(TraceId),
        (Signal::Metrics, Unset) => Ok(Service),
        (Signal::Traces, TraceId | Service | Attributes)
        | (Signal::Logs, TraceId | Service | Resource)
        | (Signal::Metrics, Service | Resource | Metric | StreamId) => Ok(key),
        // otelcol's texts: its traces exporter does not quote the key, the others do.
        (Signal::Traces, _) => Err(format!("unsupported routing_key: {}", key.as_str())),
        _ => Err(format!("unsupported routing_key: {:?}", key.as_str())),
    }
}

/// Spreads the items of a request over the `ring`'s backends by `key` (see [`key_for`]), with
/// the attribute names of `routing_key: attributes`.
pub(super) fn route(
    data: &Data,
    key: RoutingKey,
    attributes: &[String],
    ring: &Ring,
) -> Result<Routed<Data>, String> {
    let n = ring.endpoints().len();
    let key = key_for(key, data.signal())?;
    Ok(match data {
        Data::Traces(req) => {
            let rs = &req.resource_spans;
            let dest = leaf_dests(rs, |r, sc: &ScopeSpans, s: &Span| {
                if key == RoutingKey::Attributes {
                    let id = span_key(attributes, &r.resource, &sc.scope, s);
                    return ring.endpoint_for(id.as_bytes());
                }
                by_trace(key, ring, &r.resource, &s.trace_id)
            });
            split(rs, n, dest)
                .map(|rs| Data::Traces(ExportTraceServiceRequest { resource_spans: rs }))
        }
        Data::Logs(req) => {
            let rl = &req.resource_logs;
            let dest = if key == RoutingKey::Resource {
                resource_dests(rl, |r| ring.endpoint_for(&resource_key(&r.resource)))
            } else {
                leaf_dests(rl, |r, _: &ScopeLogs, l: &LogRecord| {
                    by_trace(key, ring, &r.resource, &l.trace_id)
                })
            };
            split(rl, n, dest).map(|rl| Data::Logs(ExportLogsServiceRequest { resource_logs: rl }))
        }
        Data::Metrics(req) => route_metrics(&req.resource_metrics, key, ring).map(|rm| {
            Data::Metrics(ExportMetricsServiceRequest {
                resource_metrics: rm,
            })
        }),
        Data::Profiles(_) => {
            return Err(format!(
                "the loadbalancing exporter does not support {}",
                data.signal()
            ))
        }
    })
}

/// Metrics by `service.name`, whole resource, metric name or data point stream.
fn route_metrics(
    rm: &[ResourceMetrics],
    key: RoutingKey,
    ring: &Ring,
) -> Routed<Vec<ResourceMetrics>> {
    let n = ring.endpoints().len();
    match key {
        RoutingKey::Resource => split(
            rm,
            n,
            resource_dests(rm, |r| ring.endpoint_for(&resource_key(&r.resource))),
        ),
        RoutingKey::Metric => split(
            rm,
            n,
            leaf_dests(rm, |_, _: &ScopeMetrics, m: &Metric| {
                ring.endpoint_for(m.name.as_bytes())
            }),
        ),
        RoutingKey::StreamId => {
            let (streams, dest) = by_stream(rm, ring);
            split(&streams, n, dest)
        }
        _ => split(
            rm,
            n,
            resource_dests(rm, |r| ring.endpoint_for(service(&r.resource))),
        ),
    }
}

/// The backend of a span or log record: by trace id (falling back to `service.name` for a
/// log record without one) or by `service.name`.
fn by_trace(key: RoutingKey, ring: &Ring, resource: &Option<Resource>, trace_id: &[u8]) -> usize {
    if key == RoutingKey::TraceId && trace_id.iter().any(|&b| b != 0) {
        return ring.endpoint_for(trace_id);
    }
    ring.endpoint_for(service(resource))
}

/// The resource's `service.name` (empty when it has none).
fn service(resource: &Option<Resource>) -> &[u8] {
    resource
        .as_ref()
        .and_then(|r| attr_str(&r.attributes, "service.name"))
        .unwrap_or("")
        .as_bytes()
}

/// The backend of each leaf (given its resource and scope), in order.
fn leaf_dests<R, S, L>(resources: &[R], route: impl Fn(&R, &S, &L) -> usize) -> Vec<usize>
where
    R: Level<Child = S>,
    S: Level<Child = L>,
{
    let mut dest = Vec::new();
    for r in resources {
        for s in r.children() {
            dest.extend(s.children().iter().map(|l| route(r, s, l)));
        }
    }
    dest
}

/// The backend of each leaf, the same for all leaves of a resource (computed once for it).
fn resource_dests<R, S, L>(resources: &[R], route: impl Fn(&R) -> usize) -> Vec<usize>
where
    R: Level<Child = S>,
    S: Level<Child = L>,
{
    let mut dest = Vec::new();
    for r in resources {
        let leaves: usize = r.children().iter().map(|s| s.children().len()).sum();
        if leaves > 0 {
            dest.extend(std::iter::repeat_n(route(r), leaves));
        }
    }
    dest
}

/// Spreads the leaves of `resources` over `n` backends, leaf i to backend `dest[i]`, each leaf
/// once, copying a resource and a scope into every part that gets some of their leaves.
fn split<R, S, L>(resources: &[R], n: usize, dest: Vec<usize>) -> Routed<Vec<R>>
where
    R: Level<Child = S>,
    S: Level<Child = L>,
    L: Clone,
{
    let last = n.saturating_sub(1);
    let Some(first) = dest.first().map(|&d| d.min(last)) else {
        return Routed::Empty;
    };
    if dest.iter().all(|&d| d.min(last) == first) {
        return Routed::One(first);
    }
    let mut out: Vec<Vec<R>> = (0..n).map(|_| Vec::new()).collect();
    let mut dest = dest.into_iter().map(|d| d.min(last));
    for r in resources {
        // The index in `out[b]` of this resource's copy, once backend b got one of its leaves.
        let mut r_at: Vec<Option<usize>> = vec![None; n];
        for s in r.children() {
            let mut s_at: Vec<Option<usize>> = vec![None; n];
            for (l, b) in s.children().iter().zip(dest.by_ref()) {
                let part = &mut out[b];
                let ri = *r_at[b].get_or_insert_with(|| {
                    part.push(r.shell());
                    part.len() - 1
                });
                let scopes = part[ri].children_mut();
                let si = *s_at[b].get_or_insert_with(|| {
                    scopes.push(s.shell());
                    scopes.len() - 1
                });
                scopes[si].children_mut().push(l.clone());
            }
        }
    }
    Routed::Many(
        out.into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Identities hashed onto the ring.

/// Attributes in a canonical order (by key), each length-delimited.
fn push_attrs(out: &mut Vec<u8>, attrs: &[KeyValue]) {
    let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for kv in sorted {
        kv.encode_length_delimited(out).expect("a Vec grows");
    }
    out.push(0xff);
}

/// A resource's identity: its attributes, whatever their order.
fn resource_key(resource: &Option<Resource>) -> Vec<u8> {
    let mut out = Vec::new();
    push_attrs(&mut out, resource.as_ref().map_or(&[], |r| &r.attributes));
    out
}

/// A metric's identity within its resource and scope (otelcol's: name, unit, type,
/// temporality and monotonicity), followed by the scope's.
fn metric_key(
    resource: &Option<Resource>,
    scope: &Option<InstrumentationScope>,
    m: &Metric,
) -> Vec<u8> {
    let mut out = resource_key(resource);
    if let Some(s) = scope {
        for part in [&s.name, &s.version] {
            out.extend_from_slice(part.as_bytes());
            out.push(0);
        }
        push_attrs(&mut out, &s.attributes);
    }
    let (kind, temporality, monotonic) = match &m.data {
        Some(metric::Data::Gauge(_)) => (1, 0, false),
        Some(metric::Data::Sum(s)) => (2, s.aggregation_temporality, s.is_monotonic),
        Some(metric::Data::Histogram(h)) => (3, h.aggregation_temporality, false),
        Some(metric::Data::ExponentialHistogram(h)) => (4, h.aggregation_temporality, false),
        Some(metric::Data::Summary(_)) => (5, 0, false),
        None => (0, 0, false),
    };
    for part in [&m.name, &m.unit] {
        out.extend_from_slice(part.as_bytes());
        out.push(0);
    }
    out.extend_from_slice(&[kind, temporality as u8, monotonic as u8]);
    out
}

/// The attributes of each data point of a metric.
fn point_attrs(m: &Metric) -> Vec<&[KeyValue]> {
    match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.iter().map(|p| &p.attributes[..]).collect(),
        Some(metric::Data::Sum(s)) => s.data_points.iter().map(|p| &p.attributes[..]).collect(),
        Some(metric::Data::Histogram(h)) => {
            h.data_points.iter().map(|p| &p.attributes[..]).collect()
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            h.data_points.iter().map(|p| &p.attributes[..]).collect()
        }
        Some(metric::Data::Summary(s)) => s.data_points.iter().map(|p| &p.attributes[..]).collect(),
        None => vec![],
    }
}

/// The metric with only the data points at `keep`.
fn with_points(m: &Metric, keep: &[usize]) -> Metric {
    fn pick<T: Clone>(points: &[T], keep: &[usize]) -> Vec<T> {
        keep.iter().map(|&i| points[i].clone()).collect()
    }
    use metric::Data as D;
    let data = m.data.as_ref().map(|d| match d {
        D::Gauge(g) => D::Gauge(Gauge {
            data_points: pick(&g.data_points, keep),
        }),
        D::Sum(s) => D::Sum(Sum {
            data_points: pick(&s.data_points, keep),
            aggregation_temporality: s.aggregation_temporality,
            is_monotonic: s.is_monotonic,
        }),
        D::Histogram(h) => D::Histogram(Histogram {
            data_points: pick(&h.data_points, keep),
            aggregation_temporality: h.aggregation_temporality,
        }),
        D::ExponentialHistogram(h) => D::ExponentialHistogram(ExponentialHistogram {
            data_points: pick(&h.data_points, keep),
            aggregation_temporality: h.aggregation_temporality,
        }),
        D::Summary(s) => D::Summary(Summary {
            data_points: pick(&s.data_points, keep),
        }),
    });
    Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        metadata: m.metadata.clone(),
        data,
    }
}

/// Routing by stream: every metric cut into one copy per backend its points go to (with
/// those points, in order), and the backend of each copy; the copies then split as metrics.
fn by_stream(rm: &[ResourceMetrics], ring: &Ring) -> (Vec<ResourceMetrics>, Vec<usize>) {
    let mut dest = Vec::new();
    let streams = rm
        .iter()
        .map(|r| {
            let mut out = r.shell();
            for s in &r.scope_metrics {
                let mut scope = s.shell();
                for m in &s.metrics {
                    let id = metric_key(&r.resource, &s.scope, m);
                    // (backend, indices of its points), in order of first appearance.
                    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
                    for (i, attrs) in point_attrs(m).into_iter().enumerate() {
                        let mut key = id.clone();
                        push_attrs(&mut key, attrs);
                        let b = ring.endpoint_for(&key);
                        match groups.iter_mut().find(|(g, _)| *g == b) {
                            Some((_, points)) => points.push(i),
                            None => groups.push((b, vec![i])),
                        }
                    }
                    for (b, points) in groups {
                        dest.push(b);
                        scope.metrics.push(with_points(m, &points));
                    }
                }
                out.scope_metrics.push(scope);
            }
            out
        })
        .collect();
    (streams, dest)
}
