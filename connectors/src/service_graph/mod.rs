//! The `service_graph` connector (alias `servicegraph`, otelcol's name): pairs the client and
//! server spans of each request between services (a CLIENT or PRODUCER span with the SERVER or
//! CONSUMER span whose parent it is, in one trace, across batches) and emits, as otelcol's,
//! the metrics Grafana draws service graphs from: `traces_service_graph_request_total`,
//! `traces_service_graph_request_failed_total` (either span had status ERROR) and the latency
//! histograms `traces_service_graph_request_server` / `_client` (unit `s`; through the
//! prometheus exporter `traces_service_graph_request_server_seconds_bucket`), cumulative, with
//! attributes `client`, `server`, `connection_type` (empty, `messaging_system`, `database` or
//! `virtual_node`), `failed`, `client_<dim>` / `server_<dim>` for each of `dimensions`, and
//! `virtual_node` with `virtual_node_extra_label`. A client span with a database name attribute
//! is an edge to the database at once; an edge whose other span does not come within
//! `store.ttl` becomes an edge to (or from) a virtual node. Memory is bounded: waiting edges by
//! `store.max_items` (spans past it are dropped, counted in
//! `otelcol_connector_servicegraph_dropped_spans`), series by ferrotel's ceiling of 100 000
//! (`ferrotel_connector_service_graph_dropped_edges`).
//!
//! ```yaml
//! connectors:
//!   servicegraph:
//!     latency_histogram_buckets: [100ms, 250ms, 1s, 5s, 10s]
//!     dimensions: [http.method]
//!     store: { ttl: 2s, max_items: 1000 }
//!     metrics_flush_interval: 15s
//! service:
//!   pipelines:
//!     traces:  { receivers: [otlp], exporters: [servicegraph] }
//!     metrics: { receivers: [servicegraph], exporters: [prometheus] }
//! ```

pub mod config;
mod graph;
mod series;
mod store;
#[cfg(test)]
mod tests;

pub use config::ServiceGraphConfig;
pub use graph::{SERIES_CEILING, UNKNOWN_NODE, USER_NODE};

use ferrotel_config::ConfigErrors;
use ferrotel_core::featuregate::{global, GateSpec, Stage};
use ferrotel_core::{
    Batch, Connector, CreateContext, Data, Factory, FactoryInfo, PipelineError, RequestMeta,
    Routed, Signal, Stability,
};
use graph::{Graph, Meters, Settings};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time in Unix nanoseconds; tests give their own.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    })
}

/// otelcol's feature gates of this connector, so that `--feature-gates` naming them is
/// accepted: their features are settled (virtual nodes on, seconds and the new names).
pub fn register_feature_gates() {
    for (id, stage, description, issue, from) in GATES {
        let url = "https://github.com/open-telemetry/opentelemetry-collector-contrib/issues/";
        let spec = GateSpec::new(id, stage)
            .description(description)
            .reference_url(&format!("{url}{issue}"))
            .from_version(from)
            .to_version("v0.154.0");
        // Registering twice (several registries built in one process) changes nothing.
        let _ = global().register(spec);
    }
}

/// otelcol's gates: id, stage, description, issue, first version.
const GATES: [(&str, Stage, &str, u32, &str); 3] = [
    (
        "connector.servicegraph.legacyLatencyMetricNames",
        Stage::Deprecated,
        "When enabled, connector uses legacy latency metric names.",
        18743,
        "v0.80.0",
    ),
    (
        "connector.servicegraph.legacyLatencyUnitMs",
        Stage::Deprecated,
        "When enabled, connector reports latency in milliseconds, instead of seconds.",
        27488,
        "v0.89.0",
    ),
    (
        "connector.servicegraph.virtualNode",
        Stage::Stable,
        "When enabled and setting `virtual_node_peer_attributes` is not empty, the connector \
         looks for the presence of these attributes in span to create virtual server nodes.",
        17196,
        "v0.73.0",
    ),
];

/// The connector: one graph behind a mutex, held only to add a batch's spans or to run the
/// loops.
pub struct ServiceGraph {
    state: Mutex<Graph>,
    clock: Clock,
    tick: Duration,
}

impl ServiceGraph {
    pub fn new(config: &ServiceGraphConfig, ctx: &CreateContext) -> Self {
        Self::with_clock(config, ctx, system_clock())
    }

    /// A connector whose time is `clock`'s.
    pub fn with_clock(config: &ServiceGraphConfig, ctx: &CreateContext, clock: Clock) -> Self {
        if !config.metrics_exporter.is_empty() {
            tracing::warn!(connector = %ctx.id, "'metrics_exporter' is deprecated and will be removed in a future release. Please remove it from the configuration.");
        }
        if config.flush_interval().is_none() {
            tracing::warn!(connector = %ctx.id, "MetricsFlushInterval is set to 0, metrics will be flushed on every received batch of traces");
        }
        let loops = [Some(config.expiration_loop()), Some(config.cache_loop())];
        let tick = loops
            .into_iter()
            .chain([config.flush_interval()])
            .flatten()
            .min()
            .unwrap_or(Duration::from_secs(2));
        let meters = Meters::new(&ctx.telemetry, &ctx.id.to_string());
        let graph = Graph::new(Settings::new(config), meters, clock());
        ServiceGraph {
            state: Mutex::new(graph),
            clock,
            tick,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Graph> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(
        out: &mut Vec<Routed>,
        req: Option<ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest>,
    ) {
        if let Some(req) = req {
            let batch = Batch::from_data(Data::Metrics(req), Arc::new(RequestMeta::default()));
            out.push(batch.into());
        }
    }
}

impl Connector for ServiceGraph {
    fn consume(&self, batch: Batch, out: &mut Vec<Routed>) -> Result<(), PipelineError> {
        if batch.signal() != Signal::Traces {
            return Ok(());
        }
        // Read in its encoded form (decoding every span would cost more than pairing them),
        // located once for every connector reading this batch.
        let index = batch
            .span_index()
            .map_err(|e| PipelineError::Permanent(e.to_string()))?;
        let entries = index.entries();
        let now = (self.clock)();
        let mut graph = self.lock();
        graph.add(&entries, now);
        if graph.flushes_every_batch() {
            let metrics = graph.metrics(now);
            drop(graph);
            Self::emit(out, metrics);
        }
        Ok(())
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.tick)
    }

    fn on_tick(&self, out: &mut Vec<Routed>) {
        let metrics = self.lock().tick((self.clock)());
        Self::emit(out, metrics);
    }

    /// At shutdown: the counts so far (otelcol stops without a last flush; ferrotel keeps
    /// what it counted since the last one).
    fn flush(&self, out: &mut Vec<Routed>) {
        let metrics = self.lock().metrics((self.clock)());
        Self::emit(out, metrics);
    }
}

/// Builds `service_graph` (`servicegraph`) connectors.
pub struct ServiceGraphConnectorFactory;

impl Factory for ServiceGraphConnectorFactory {
    type Config = ServiceGraphConfig;
    type Component = Box<dyn Connector>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "service_graph",
            "Pairs client and server spans into request, failure and latency metrics per edge",
        )
        .aliases(&["servicegraph"])
        .connects(Signal::Traces, Signal::Metrics, Stability::Alpha)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        config: ServiceGraphConfig,
    ) -> Result<Box<dyn Connector>, ConfigErrors> {
        Ok(Box::new(ServiceGraph::new(&config, ctx)))
    }
}
