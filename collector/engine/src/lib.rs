//! ferrotel-engine: turns a configuration into running components.
//!
//! - [`Service`]: builds the graph (one receiver and exporter instance per id, one processor
//!   instance per pipeline), starts and stops it in order;
//! - [`pipeline`]: processors as direct calls, fan-out to exporters;
//! - [`exporter_runner`]: exporterhelper's queue, retry and timeout around every exporter;
//! - [`self_metrics`]: the `/metrics` endpoint of the collector itself.

pub mod exporter_runner;
pub mod pipeline;
pub mod self_metrics;
mod service;

pub use service::Service;
