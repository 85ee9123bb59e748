//! ferrotel-core: what every component shares.
//!
//! - [`Batch`]: the one data type passed between components (signal, lazy shared payload,
//!   request metadata);
//! - the component traits [`Receiver`], [`Processor`] (and the per-signal [`SignalProcessor`]
//!   adapter), [`Exporter`], [`Extension`], and their factories;
//! - [`PipelineError`] / [`ExportError`] and their mapping to gRPC and HTTP statuses;
//! - [`telemetry`]: the self-metrics registry with otelcol's metric names;
//! - [`prom_units`]: UCUM units and their Prometheus words (prometheus exporter and receiver);
//! - [`pdata`] (loops and attribute helpers over the OTLP types), [`wire`] (the same on encoded
//!   bytes) and [`format`] (values written as otelcol writes them).
//!
//! Transport (TLS, the gRPC bytes codec, `google.rpc.Status`) is in `ferrotel-transport`.

// Tests may unwrap: a panic is how they fail.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod batch;
pub mod component;
pub mod decode;
pub mod delivery;
pub mod encode;
pub mod error;
pub mod factory;
pub mod format;
pub mod host_memory;
pub mod listeners;
pub mod memory_budget;
pub mod pdata;
pub mod prom_units;
pub mod span_view;
pub mod storage;
pub mod telemetry;
pub mod wire;

pub use auth::{AuthError, ClientAuthenticator, Extensions, ServerAuthenticator};
pub use batch::{Batch, Data, DecodeError, RequestMeta};
pub use component::*;
pub use delivery::{Delivery, DeliveryListener};
pub use error::{ExportError, PipelineError};
pub use factory::*;
pub use ferrotel_config::{featuregate, ComponentId, Kind, Signal};
pub use listeners::Listeners;
pub use memory_budget::{BudgetLease, MemoryBudget};
pub use opentelemetry_proto::tonic as proto;
pub use storage::{KeyValueStore, QueueStore, Storage, StorageError};
pub use telemetry::Telemetry;
