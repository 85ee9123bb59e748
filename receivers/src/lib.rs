//! ferrotel's receivers, one module per component type.
//!
//! - [`otlp`]: OTLP over gRPC and HTTP ([`otlp::OtlpReceiverFactory`]).

pub mod otlp;
