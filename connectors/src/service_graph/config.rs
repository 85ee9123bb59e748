//! `connectors.service_graph` (`servicegraph`): otelcol's keys, defaults and validation messages.

use ferrotel_config::{GoDuration, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// otelcol's default latency buckets, in seconds.
pub const DEFAULT_BUCKETS_S: [f64; 16] = [
    0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0,
];
/// The attributes of a client span that name a virtual server node, first found wins.
pub const DEFAULT_PEER_ATTRIBUTES: [&str; 3] = ["peer.service", "db.name", "db.system"];
/// The attributes whose presence makes a client span a database call.
pub const DEFAULT_DATABASE_NAME_ATTRIBUTES: [&str; 1] = ["db.name"];
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_CACHE_LOOP: Duration = Duration::from_secs(60);
const DEFAULT_EXPIRATION_LOOP: Duration = Duration::from_secs(2);

/// `connectors.service_graph` (alias `servicegraph`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceGraphConfig {
    /// Deprecated in otelcol and without effect: the metrics go to the pipelines that receive
    /// from the connector.
    pub metrics_exporter: String,
    /// Upper bounds of the latency histograms' buckets (default 2ms ... 15s, otelcol's).
    /// Exclusive with `exponential_histogram_max_size`.
    pub latency_histogram_buckets: Option<Vec<GoDuration>>,
    /// Use exponential histograms with at most this many buckets (0, the default: explicit).
    pub exponential_histogram_max_size: i32,
    /// Span (or resource) attributes added to the series as `client_<name>` (from the client
    /// span) and `server_<name>` (from the server span); the resource's value wins.
    pub dimensions: Vec<String>,
    /// The store of edges waiting for their other span.
    pub store: StoreConfig,
    /// How often series not updated for 15 minutes are dropped (default 1m).
    pub cache_loop: GoDuration,
    /// How often expired edges are taken out of the store (default 2s).
    pub store_expiration_loop: GoDuration,
    /// Attributes of a client span that name the server when no server span comes, first
    /// found wins (default `[peer.service, db.name, db.system]`; empty: no virtual nodes).
    pub virtual_node_peer_attributes: Option<Vec<String>>,
    /// Add the `virtual_node` attribute (`client`, `server` or empty) to every series.
    pub virtual_node_extra_label: bool,
    /// How often the metrics are emitted (default 60s; 0: after every batch of spans).
    pub metrics_flush_interval: Option<GoDuration>,
    /// Attributes of a client span that make it a database call whose server is the value,
    /// first found wins (default `[db.name]`).
    pub database_name_attributes: Vec<String>,
    /// Subtracted from the data points' timestamps (default 0).
    pub metrics_timestamp_offset: GoDuration,
}

impl Default for ServiceGraphConfig {
    fn default() -> Self {
        ServiceGraphConfig {
            metrics_exporter: String::new(),
            latency_histogram_buckets: None,
            exponential_histogram_max_size: 0,
            dimensions: Vec::new(),
            store: StoreConfig::default(),
            cache_loop: GoDuration(DEFAULT_CACHE_LOOP),
            store_expiration_loop: GoDuration(DEFAULT_EXPIRATION_LOOP),
            virtual_node_peer_attributes: None,
            virtual_node_extra_label: false,
            metrics_flush_interval: None,
            database_name_attributes: Vec::new(),
            metrics_timestamp_offset: GoDuration::default(),
        }
    }
}

/// `store`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// How many edges wait for their other span (default 1000); past it, spans that would
    /// start a new edge are dropped unless the oldest edge has expired.
    pub max_items: i64,
    /// How long an edge waits for its other span (default 2s).
    pub ttl: GoDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_items: 1000,
            ttl: GoDuration::from_secs(2),
        }
    }
}

fn or_default(d: GoDuration, default: Duration) -> Duration {
    if d.is_zero() {
        default
    } else {
        d.0
    }
}

impl ServiceGraphConfig {
    /// The explicit bounds in seconds; None for exponential histograms.
    pub fn bounds(&self) -> Option<Vec<f64>> {
        if self.exponential_histogram_max_size != 0 {
            return None;
        }
        Some(match &self.latency_histogram_buckets {
            Some(b) => b.iter().map(|d| d.0.as_secs_f64()).collect(),
            None => DEFAULT_BUCKETS_S.to_vec(),
        })
    }

    /// None: flush after every batch.
    pub fn flush_interval(&self) -> Option<Duration> {
        let d = self
            .metrics_flush_interval
            .map_or(DEFAULT_FLUSH_INTERVAL, |d| d.0);
        (!d.is_zero()).then_some(d)
    }

    pub fn cache_loop(&self) -> Duration {
        or_default(self.cache_loop, DEFAULT_CACHE_LOOP)
    }

    pub fn expiration_loop(&self) -> Duration {
        or_default(self.store_expiration_loop, DEFAULT_EXPIRATION_LOOP)
    }

    pub fn peer_attributes(&self) -> Vec<String> {
        match &self.virtual_node_peer_attributes {
            Some(a) => a.clone(),
            None => DEFAULT_PEER_ATTRIBUTES.map(String::from).to_vec(),
        }
    }

    pub fn database_attributes(&self) -> Vec<String> {
        match self.database_name_attributes.is_empty() {
            true => DEFAULT_DATABASE_NAME_ATTRIBUTES.map(String::from).to_vec(),
            false => self.database_name_attributes.clone(),
        }
    }
}

impl Validate for ServiceGraphConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        let buckets = self.latency_histogram_buckets.is_some();
        if !buckets && self.exponential_histogram_max_size < 0 {
            v.report_at(
                "exponential_histogram_max_size",
                "`exponential_histogram_max_size` can not be negative",
            );
        }
        if buckets && self.exponential_histogram_max_size > 0 {
            v.report_at(
                "latency_histogram_buckets",
                "use either `latency_histogram_buckets` or `exponential_histogram_max_size`",
            );
        }
    }
}
