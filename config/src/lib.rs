//! ferrotel's configuration, in the OpenTelemetry Collector's own format.
//!
//! Loading happens in two phases. First the sources (`--config` files, `env:`, `yaml:`, `--set`)
//! are read, `${env:VAR}` references expanded and the documents deep-merged into one
//! [`Document`]: sections keyed by component id. Then each component's section is handed to its
//! factory, which decodes it into a typed config with [`decode`] (unknown keys are errors, and
//! every error carries its path). Errors are collected, never thrown one at a time.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc: { endpoint: "0.0.0.0:4317" }
//! exporters:
//!   debug: { verbosity: basic }
//! service:
//!   pipelines:
//!     traces: { receivers: [otlp], exporters: [debug] }
//! ```

// Tests may unwrap: a panic is how they fail.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod choice;
mod document;
mod duration;
mod error;
mod expand;
pub mod featuregate;
mod helper;
mod id;
mod load;
mod redact;
mod size;
pub mod telemetry;
mod tls;
mod typed;
mod validate;

pub use document::{Document, PipelineConfig, PipelineId, ServiceConfig};
pub use duration::GoDuration;
pub use error::{ConfigError, ConfigErrors};
pub use expand::{expand_env, Expansion};
pub use helper::{QueueBatchConfig, QueueConfig, QueuePartitionConfig, QueueSizer, RetryConfig};
pub use id::{ComponentId, Kind, Signal};
pub use load::{load, load_partial, merge, resolve, ConfigSource};
pub use redact::redact;
pub use size::ByteSize;
pub use telemetry::{LogsTelemetry, MetricsTelemetry, TelemetryConfig};
pub use tls::{TlsClientConfig, TlsServerConfig};
pub use typed::{decode, decode_valid};
pub use validate::{Capability, ExtensionUse, Findings, Validate, Validator};

/// The YAML value type used for raw, not yet typed, sections.
pub type Value = serde_yaml_ng::Value;
