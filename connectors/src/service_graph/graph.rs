//! The state of a service_graph connector: spans in, edges paired in the [`Store`], completed
//! (or expired, as virtual nodes) edges counted in the [`SeriesMap`], and the loops
//! (expiration, stale series, flush) run at their deadlines.

use super::config::ServiceGraphConfig;
use super::series::SeriesMap;
use super::store::{ConnectionType, Edge, Key, Store, Upserted, VirtualSide};
use crate::histogram::Layout;
use ferrotel_core::format::value_as_string;
use ferrotel_core::pdata;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::trace::v1::{span::SpanKind, status::StatusCode};
use ferrotel_core::span_view::{ResourceSpansView, SpanView, ValueView};
use ferrotel_core::telemetry::{Counter, Gauge};
use ferrotel_core::Telemetry;
use std::sync::Arc;

/// ferrotel's ceiling on the series held (otelcol has none): an edge of a new series past it
/// is not counted, and counted in `ferrotel_connector_service_graph_dropped_edges`.
pub const SERIES_CEILING: usize = 100_000;
/// The client of an edge whose server span has no parent (with virtual nodes).
pub const USER_NODE: &str = "user";
/// The server of an expired client edge without any peer attribute (with virtual nodes).
pub const UNKNOWN_NODE: &str = "unknown";
const NANOS_PER_SEC: f64 = 1e9;

/// The self-metrics: otelcol's three counters and ferrotel's bounds.
pub struct Meters {
    total_edges: Counter,
    expired_edges: Counter,
    dropped_spans: Counter,
    edges: Gauge,
    series: Gauge,
    dropped_edges: Counter,
    stale_series: Counter,
}

impl Meters {
    pub fn new(telemetry: &Telemetry, id: &str) -> Self {
        let otelcol = |n: &str, help: &str| {
            telemetry.counter(&format!("otelcol_connector_servicegraph_{n}"), help, &[])
        };
        let l = [("connector", id)];
        let name = |n: &str| format!("ferrotel_connector_service_graph_{n}");
        let gauge = |n: &str, help: &str| telemetry.gauge(&name(n), help, &l);
        let counter = |n: &str, help: &str| telemetry.counter(&name(n), help, &l);
        Meters {
            total_edges: otelcol("total_edges", "Total number of unique edges"),
            expired_edges: otelcol(
                "expired_edges",
                "Number of edges that expired before finding its matching span",
            ),
            dropped_spans: otelcol(
                "dropped_spans",
                "Number of spans dropped when trying to add edges",
            ),
            edges: gauge(
                "store_edges",
                "Edges waiting in the store for their other span (at most store.max_items).",
            ),
            series: gauge("series", "Series the service_graph connector holds."),
            dropped_edges: counter(
                "dropped_edges",
                "Completed edges not counted: their new series would pass the series ceiling.",
            ),
            stale_series: counter(
                "stale_series",
                "Series dropped after 15 minutes without edges.",
            ),
        }
    }
}

/// What the config says, prepared once.
pub struct Settings {
    dimensions: Vec<String>,
    peer_attributes: Vec<String>,
    database_attributes: Vec<String>,
    layout: Layout,
    ttl: u64,
    max_items: usize,
    series_limit: usize,
    extra_label: bool,
    offset: u64,
    /// Loop periods in nanoseconds; no flush period: flush after every batch.
    flush_every: Option<u64>,
    expire_every: u64,
    clean_every: u64,
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Settings {
    pub fn new(c: &ServiceGraphConfig) -> Self {
        let layout = match c.bounds() {
            Some(bounds) => Layout::Explicit(Arc::from(bounds)),
            None => Layout::Exponential {
                max_size: usize::try_from(c.exponential_histogram_max_size).unwrap_or(160),
            },
        };
        Settings {
            dimensions: c.dimensions.clone(),
            peer_attributes: c.peer_attributes(),
            database_attributes: c.database_attributes(),
            layout,
            ttl: nanos(c.store.ttl.0),
            max_items: usize::try_from(c.store.max_items).unwrap_or(0),
            series_limit: SERIES_CEILING,
            extra_label: c.virtual_node_extra_label,
            offset: nanos(c.metrics_timestamp_offset.0),
            flush_every: c.flush_interval().map(nanos),
            expire_every: nanos(c.expiration_loop()),
            clean_every: nanos(c.cache_loop()),
        }
    }

    /// Another series ceiling than [`SERIES_CEILING`] (tests).
    #[cfg(test)]
    pub fn with_series_limit(self, series_limit: usize) -> Self {
        Settings {
            series_limit,
            ..self
        }
    }
}

/// The side of an edge a span is.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Client,
    Server,
}

/// A span (read in its encoded form) with its resource and service.
struct SpanRef<'a> {
    span: &'a SpanView<'a>,
    service: &'a Arc<str>,
    resource: &'a [KeyValue],
}

/// An attribute value as a string.
fn view_string(v: ValueView) -> String {
    match v {
        ValueView::Str(s) => s.to_string(),
        ValueView::Encoded(_) => value_as_string(v.to_value().as_ref()),
    }
}

impl SpanRef<'_> {
    /// The span's attribute `key`, as a string.
    fn span_attr(&self, key: &str) -> Option<String> {
        self.span.attribute(key).map(view_string)
    }

    /// Of `peers`, the first (in `peers` order) the span has; of `databases`, the first the
    /// resource or else the span has (a resource's wins a tie); each with its index. One pass
    /// over the span's attributes.
    fn peer_and_database(
        &self,
        peers: &[String],
        databases: &[String],
    ) -> [Option<(usize, String)>; 2] {
        let [peer, span_db] = self.span.first_of_each([peers, databases]);
        let resource_db = first_match(databases, |k| self.resource_attr(k));
        let database = match (span_db, resource_db) {
            (Some((i, v)), r) if r.as_ref().is_none_or(|(ri, _)| i < *ri) => {
                Some((i, view_string(v)))
            }
            (_, r) => r,
        };
        [peer.map(|(i, v)| (i, view_string(v))), database]
    }

    /// The resource's attribute `key`, as a string.
    fn resource_attr(&self, key: &str) -> Option<String> {
        pdata::attr(self.resource, key).map(|v| value_as_string(Some(v)))
    }

    /// The resource's attribute `key`, else the span's.
    fn attr(&self, key: &str) -> Option<String> {
        self.resource_attr(key).or_else(|| self.span_attr(key))
    }
}

/// The first of `keys` that `lookup` finds (in `keys` order), with its index.
fn first_match(
    keys: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Option<(usize, String)> {
    keys.iter()
        .enumerate()
        .find_map(|(i, k)| lookup(k).map(|v| (i, v)))
}

fn seconds(span: &SpanView) -> f64 {
    span.end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano) as f64
        / NANOS_PER_SEC
}

/// Everything one connector holds.
pub struct Graph {
    settings: Settings,
    meters: Meters,
    store: Store,
    series: SeriesMap,
    /// When the connector started: the start time of every data point.
    start: u64,
    next_expire: u64,
    next_clean: u64,
    next_flush: u64,
    /// Edges taken out of the store, waiting to be handled (reused).
    expired: Vec<Edge>,
}

impl Graph {
    pub fn new(settings: Settings, meters: Meters, now: u64) -> Self {
        Graph {
            store: Store::new(settings.ttl, settings.max_items),
            series: SeriesMap::new(
                settings.layout.clone(),
                settings.series_limit,
                &settings.dimensions,
                settings.extra_label,
            ),
            start: now,
            next_expire: now.saturating_add(settings.expire_every),
            next_clean: now.saturating_add(settings.clean_every),
            next_flush: now.saturating_add(settings.flush_every.unwrap_or(0)),
            expired: Vec::new(),
            settings,
            meters,
        }
    }

    /// Whether metrics are emitted after every batch (`metrics_flush_interval: 0`).
    pub fn flushes_every_batch(&self) -> bool {
        self.settings.flush_every.is_none()
    }

    /// Pairs the client and server spans of `req` (received at `now`) with the edges in the
    /// store. Spans whose resource has no `service.name` are skipped, as otelcol does.
    pub fn add(&mut self, entries: &[ResourceSpansView], now: u64) {
        for entry in entries {
            let resource = entry.resource.attributes.as_slice();
            let Some(service) = pdata::attr_str(resource, "service.name") else {
                continue;
            };
            let service: Arc<str> = Arc::from(service);
            for span in entry.scopes.iter().flat_map(|ss| &ss.spans) {
                let s = SpanRef {
                    span,
                    service: &service,
                    resource,
                };
                self.add_span(&s, now);
            }
        }
        self.handle_expired(now);
        self.update_gauges();
    }

    /// [`Graph::add`] of a decoded request (tests).
    #[cfg(test)]
    pub fn add_request(
        &mut self,
        req: &ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest,
        now: u64,
    ) {
        use prost::Message;
        let index = ferrotel_core::span_view::SpanIndex::new(req.encode_to_vec().into()).unwrap();
        let entries = index.entries();
        self.add(&entries, now);
    }

    fn add_span(&mut self, s: &SpanRef, now: u64) {
        let (side, connection_type) = match SpanKind::try_from(s.span.kind) {
            Ok(SpanKind::Client) => (Side::Client, ConnectionType::Unset),
            Ok(SpanKind::Producer) => (Side::Client, ConnectionType::MessagingSystem),
            Ok(SpanKind::Server) => (Side::Server, ConnectionType::Unset),
            Ok(SpanKind::Consumer) => (Side::Server, ConnectionType::MessagingSystem),
            _ => return,
        };
        let key = match side {
            Side::Client => Key::new(s.span.trace_id, s.span.span_id),
            Side::Server => Key::new(s.span.trace_id, s.span.parent_span_id),
        };
        let set = &self.settings;
        let update = |e: &mut Edge| {
            e.connection_type = connection_type;
            e.failed |= s.span.status_code == StatusCode::Error as i32;
            match side {
                Side::Client => update_client(set, e, s),
                Side::Server => update_server(set, e, s),
            }
        };
        let upserted = self.store.upsert(key, now, update, &mut self.expired);
        match upserted {
            Upserted::Dropped => self.meters.dropped_spans.inc(),
            Upserted::Waiting { new } => self.meters.total_edges.add(u64::from(new)),
            Upserted::Complete { new, edge } => {
                self.meters.total_edges.add(u64::from(new));
                self.record(&edge, now);
            }
        }
    }

    fn record(&mut self, edge: &Edge, now: u64) {
        if !self.series.record(edge, now) {
            self.meters.dropped_edges.inc();
        }
    }

    /// Counts the edges that left the store unpaired: as virtual nodes when
    /// `virtual_node_peer_attributes` is not empty (a server span without parent gets client
    /// `user`, a client span gets its peer attribute's value as server, or `unknown`).
    fn handle_expired(&mut self, now: u64) {
        let expired = std::mem::take(&mut self.expired);
        for mut e in expired.into_iter() {
            self.meters.expired_edges.inc();
            if self.settings.peer_attributes.is_empty() {
                continue;
            }
            e.connection_type = ConnectionType::VirtualNode;
            if e.client.is_empty() && e.key.span_is_empty() {
                e.client = Arc::from(USER_NODE);
                e.virtual_side = self.side(VirtualSide::Client);
                self.record(&e, now);
            }
            if e.server.is_empty() {
                e.server = Arc::from(e.peer.take().map_or(UNKNOWN_NODE.into(), |(_, v)| v));
                e.virtual_side = self.side(VirtualSide::Server);
                self.record(&e, now);
            }
        }
    }

    fn side(&self, side: VirtualSide) -> VirtualSide {
        match self.settings.extra_label {
            true => side,
            false => VirtualSide::None,
        }
    }

    /// Runs the loops whose time has come: store expiration, stale series, and the flush,
    /// whose metrics are returned.
    pub fn tick(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
        if now >= self.next_expire {
            self.next_expire = now.saturating_add(self.settings.expire_every);
            self.store.expire(now, &mut self.expired);
            self.handle_expired(now);
        }
        if now >= self.next_clean {
            self.next_clean = now.saturating_add(self.settings.clean_every);
            let n = self.series.drop_stale(now);
            self.meters.stale_series.add(n as u64);
        }
        self.update_gauges();
        let every = self.settings.flush_every?;
        if now < self.next_flush {
            return None;
        }
        self.next_flush = now.saturating_add(every);
        self.metrics(now)
    }

    /// The metrics of every series at `now` (None when there is none).
    pub fn metrics(&self, now: u64) -> Option<ExportMetricsServiceRequest> {
        let time = now.saturating_sub(self.settings.offset);
        self.series.build(self.start, time)
    }

    fn update_gauges(&self) {
        self.meters.edges.set(self.store.len() as i64);
        self.meters.series.set(self.series.len() as i64);
    }

    /// Edges waiting in the store (tests).
    #[cfg(test)]
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Sets `dims` of the span (resource first, then span attributes, as otelcol looks them up)
/// at `offset` (0: client, 1: server) of each dimension's pair.
fn set_dimensions(dims: &[String], e: &mut Edge, s: &SpanRef, offset: usize) {
    for (i, dim) in dims.iter().enumerate() {
        if let Some(v) = s.attr(dim) {
            e.set_dimension(2 * i + offset, v);
        }
    }
}

fn update_client(set: &Settings, e: &mut Edge, s: &SpanRef) {
    e.client = s.service.clone();
    e.client_latency = seconds(s.span);
    set_dimensions(&set.dimensions, e, s, 0);
    let [peer, database] = s.peer_and_database(&set.peer_attributes, &set.database_attributes);
    if let Some((i, v)) = peer {
        if e.peer.as_ref().is_none_or(|(p, _)| i <= *p) {
            e.peer = Some((i, v));
        }
    }
    // A database call has no server span: the client span tells both sides.
    if let Some((_, db)) = database {
        e.connection_type = ConnectionType::Database;
        e.server = Arc::from(db);
        e.server_latency = e.client_latency;
    }
}

fn update_server(set: &Settings, e: &mut Edge, s: &SpanRef) {
    e.server = s.service.clone();
    e.server_latency = seconds(s.span);
    set_dimensions(&set.dimensions, e, s, 1);
}
