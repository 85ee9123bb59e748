//! ferrotel-engine: turns a configuration into running components.
//!
//! - [`Service`]: builds the graph (`build`: one receiver, exporter and connector instance per
//!   id, one processor instance per pipeline), starts and stops it in order;
//! - `pipeline`: processors as direct calls, fan-out to exporters' queues and connectors;
//! - `connector`: a connector between its upstream and downstream pipelines;
//! - [`exporter_runner`]: exporterhelper's queue, retry and timeout around every exporter
//!   (public for its benchmark and tests);
//! - `self_metrics`: the `/metrics` endpoint of the collector itself.

mod build;
mod connector;
pub mod exporter_runner;
mod pipeline;
mod self_metrics;
pub mod self_push;
mod service;

pub use service::Service;
