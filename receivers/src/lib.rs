//! ferrotel's receivers, one module per component type, each behind the cargo feature of the
//! same name (all on by default).
//!
//! - [`otlp`]: OTLP over gRPC and HTTP ([`otlp::OtlpReceiverFactory`]).
//! - [`prometheus`]: scrapes Prometheus / OpenMetrics endpoints ([`prometheus::PrometheusReceiverFactory`]).
//! - [`zipkin`]: Zipkin v2 spans over HTTP ([`zipkin::ZipkinReceiverFactory`]).
//! - [`jaeger`]: Jaeger spans over gRPC, Thrift HTTP and agent UDP
//!   ([`jaeger::JaegerReceiverFactory`]).
//! - [`file_log`]: tails log files, alias `filelog` ([`file_log::FileLogReceiverFactory`]).
//! - [`host_metrics`]: host metrics from `/proc`, alias `hostmetrics`
//!   ([`host_metrics::HostMetricsReceiverFactory`]).

use ferrotel_core::Registry;

#[cfg(feature = "file_log")]
pub mod file_log;
#[cfg(feature = "host_metrics")]
pub mod host_metrics;
#[cfg(feature = "jaeger")]
pub mod jaeger;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(feature = "zipkin")]
pub mod zipkin;

/// Sends one request of scraped metrics (the prometheus and host_metrics receivers) into the
/// metrics pipeline, when one takes them, counting its points as accepted or refused. A refusal
/// is returned for the caller to log.
#[cfg(any(feature = "prometheus", feature = "host_metrics"))]
pub(crate) async fn send_scraped_metrics(
    consumer: Option<&std::sync::Arc<dyn ferrotel_core::Consumer>>,
    receiver: &str,
    transport: &'static str,
    req: ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest,
    (accepted, refused): (
        &ferrotel_core::telemetry::Counter,
        &ferrotel_core::telemetry::Counter,
    ),
) -> Result<(), ferrotel_core::PipelineError> {
    use ferrotel_core::{Batch, Data, RequestMeta};
    let Some(consumer) = consumer else {
        return Ok(());
    };
    let data = Data::Metrics(req);
    let points = data.item_count() as u64;
    let meta = std::sync::Arc::new(RequestMeta {
        receiver: receiver.to_string(),
        transport,
        ..Default::default()
    });
    let result = consumer.consume(Batch::from_data(data, meta)).await;
    match &result {
        Ok(()) => accepted.add(points),
        Err(_) => refused.add(points),
    }
    result
}

/// Registers every receiver this crate was built with.
pub fn register(r: Registry) -> Registry {
    #[cfg(feature = "otlp")]
    let r = r.with(otlp::OtlpReceiverFactory);
    #[cfg(feature = "prometheus")]
    let r = r.with(prometheus::PrometheusReceiverFactory);
    #[cfg(feature = "zipkin")]
    let r = r.with(zipkin::ZipkinReceiverFactory);
    #[cfg(feature = "jaeger")]
    let r = r.with(jaeger::JaegerReceiverFactory);
    #[cfg(feature = "file_log")]
    let r = r.with(file_log::FileLogReceiverFactory);
    #[cfg(feature = "host_metrics")]
    let r = r.with(host_metrics::HostMetricsReceiverFactory);
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_receiver_is_registered_once() {
        let r = register(Registry::default());
        assert!(r.problems().is_empty(), "{:?}", r.problems());
        #[cfg(feature = "otlp")]
        assert!(r.receivers.get("otlp").is_some());
        #[cfg(feature = "prometheus")]
        assert!(r.receivers.get("prometheus").is_some());
        #[cfg(feature = "zipkin")]
        assert!(r.receivers.get("zipkin").is_some());
        #[cfg(feature = "jaeger")]
        assert!(r.receivers.get("jaeger").is_some());
        #[cfg(feature = "file_log")]
        assert!(r.receivers.get("filelog").is_some());
        #[cfg(feature = "host_metrics")]
        assert!(r.receivers.get("hostmetrics").is_some());
    }
}
