//! ferrotel's connectors: each joins the pipelines that list it as an exporter to the pipelines
//! that list it as a receiver (see `ferrotel_core::Connector`). One module folder per
//! connector, each behind a cargo feature of its name.

// Tests may unwrap: a panic is how they fail.
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "count")]
pub mod count;
#[cfg(feature = "forward")]
pub mod forward;
#[cfg(any(feature = "span_metrics", feature = "service_graph"))]
mod histogram;
#[cfg(feature = "routing")]
pub mod routing;
#[cfg(feature = "service_graph")]
pub mod service_graph;
#[cfg(feature = "span_metrics")]
pub mod span_metrics;

use ferrotel_core::Registry;

/// Registers every connector this crate was built with.
pub fn register(registry: Registry) -> Registry {
    // otelcol's OTTL gates (`ottl.functions.enableLambda`), for the connectors running OTTL.
    #[cfg(any(feature = "count", feature = "routing"))]
    ferrotel_ottl::register_feature_gates();
    #[cfg(feature = "count")]
    let registry = registry.with(count::CountConnectorFactory);
    #[cfg(feature = "forward")]
    let registry = registry.with(forward::ForwardConnectorFactory);
    #[cfg(feature = "routing")]
    let registry = registry.with(routing::RoutingConnectorFactory);
    #[cfg(feature = "span_metrics")]
    let registry = registry.with(span_metrics::SpanMetricsConnectorFactory);
    #[cfg(feature = "service_graph")]
    let registry = {
        service_graph::register_feature_gates();
        registry.with(service_graph::ServiceGraphConnectorFactory)
    };
    registry
}
