//! The `span_metrics` connector (deprecated alias `spanmetrics`): aggregates the spans of the
//! traces pipelines that export to it into request, error and duration (R.E.D.) metrics for the
//! metrics pipelines that receive from it, with otelcol's config and output:
//! `<namespace>.calls` (monotonic sum), `<namespace>.duration` (histogram, `ms` or `s`) and,
//! when enabled, `<namespace>.events`, per resource, with attributes `service.name`,
//! `span.name`, `span.kind` (`SPAN_KIND_SERVER`), `status.code` (`STATUS_CODE_ERROR`) and the
//! configured dimensions. Through the prometheus exporter they are
//! `traces_span_metrics_calls_total` and `traces_span_metrics_duration_milliseconds_bucket`,
//! as Jaeger's monitor tab (SPM) queries them. Metrics are emitted every
//! `metrics_flush_interval` and at shutdown. Memory is bounded: resources by
//! `resource_metrics_cache_size` (least recently used dropped), series by
//! `aggregation_cardinality_limit` (or ferrotel's ceiling of 100 000; past it spans go to an
//! `otel.metric.overflow` series), delta start times by `metric_timestamp_cache_size`; each
//! bound is counted in a `ferrotel_connector_span_metrics_*` self-metric.
//!
//! ```yaml
//! connectors:
//!   span_metrics:
//!     histogram: { unit: ms, explicit: { buckets: [10ms, 100ms, 1s] } }
//!     dimensions: [{ name: http.method, default: GET }, { name: http.status_code }]
//!     exclude_dimensions: [span.kind]
//!     aggregation_cardinality_limit: 5000
//!     metrics_flush_interval: 15s
//! service:
//!   pipelines:
//!     traces:  { receivers: [otlp], exporters: [otlp, span_metrics] }
//!     metrics: { receivers: [span_metrics], exporters: [prometheus] }
//! ```

mod aggregate;
pub mod config;
#[cfg(test)]
mod tests;

pub use aggregate::{OVERFLOW_ATTRIBUTE, SERIES_CEILING};
pub use config::SpanMetricsConfig;

use aggregate::{Aggregator, Meters, Settings};
use ferrotel_config::ConfigErrors;
use ferrotel_core::{
    Batch, Connector, CreateContext, Data, Factory, FactoryInfo, PipelineError, RequestMeta,
    Routed, Signal, Stability,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The connector: one aggregator behind a mutex, held only to count a request's spans or to
/// build a flush.
pub struct SpanMetrics {
    interval: Duration,
    state: Mutex<Aggregator>,
}

impl SpanMetrics {
    pub fn new(config: &SpanMetricsConfig, ctx: &CreateContext) -> Self {
        if config.dimensions_cache_size > 0 {
            tracing::warn!(connector = %ctx.id, "dimensions_cache_size is deprecated and has no effect; use aggregation_cardinality_limit");
        }
        let meters = Meters::new(&ctx.telemetry, &ctx.id.to_string());
        SpanMetrics {
            interval: config.flush_interval(),
            state: Mutex::new(Aggregator::new(Settings::new(config), meters)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Aggregator> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, last: bool, out: &mut Vec<Routed>) {
        let mut state = self.lock();
        let flushed = match last {
            true => state.flush_last(now_nanos()),
            false => state.flush(now_nanos()),
        };
        drop(state);
        let Some(req) = flushed else {
            return;
        };
        let batch = Batch::from_data(Data::Metrics(req), Arc::new(RequestMeta::default()));
        out.push(batch.into());
    }
}

impl Connector for SpanMetrics {
    fn consume(&self, batch: Batch, _out: &mut Vec<Routed>) -> Result<(), PipelineError> {
        if batch.signal() != Signal::Traces {
            return Ok(());
        }
        // Read in its encoded form (decoding every span would cost more than counting them),
        // located once for every connector reading this batch.
        let index = batch
            .span_index()
            .map_err(|e| PipelineError::Permanent(e.to_string()))?;
        let entries = index.entries();
        self.lock().add(&entries, now_nanos());
        Ok(())
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.interval)
    }

    fn on_tick(&self, out: &mut Vec<Routed>) {
        self.emit(false, out);
    }

    fn flush(&self, out: &mut Vec<Routed>) {
        self.emit(true, out);
    }
}

/// Builds `span_metrics` connectors.
pub struct SpanMetricsConnectorFactory;

impl Factory for SpanMetricsConnectorFactory {
    type Config = SpanMetricsConfig;
    type Component = Box<dyn Connector>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "span_metrics",
            "Aggregates spans into request, error and duration metrics",
        )
        .aliases(&["spanmetrics"])
        .connects(Signal::Traces, Signal::Metrics, Stability::Alpha)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        config: SpanMetricsConfig,
    ) -> Result<Box<dyn Connector>, ConfigErrors> {
        Ok(Box::new(SpanMetrics::new(&config, ctx)))
    }
}
