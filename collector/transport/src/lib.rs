//! ferrotel-transport: the plumbing receivers and exporters share, with no component inside.
//!
//! - [`tls`]: rustls configs from otelcol's `tls` blocks (servers and clients);
//! - [`grpc`]: the tonic codec that moves OTLP messages as raw bytes, and the OTLP method paths;
//! - [`status`]: `google.rpc.Status` with its `google.rpc.RetryInfo` detail, declared once, in
//!   protobuf, protojson and as a tonic status;
//! - [`http`]: OTLP/HTTP content types and `Retry-After`;
//! - [`jaeger`] (feature `jaeger`): Jaeger's span model and its Thrift encodings.

// Tests may unwrap: a panic is how they fail.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod grpc;
pub mod http;
#[cfg(feature = "jaeger")]
pub mod jaeger;
pub mod status;
pub mod tls;
