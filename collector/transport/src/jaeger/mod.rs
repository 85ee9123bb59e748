//! Jaeger's wire formats, shared by the `jaeger` exporter and receiver: the span [`model`]
//! and its Thrift encodings ([`encode`] with the `thrift` crate's output protocols, [`decode`]
//! a bounded, borrowing reader of the binary and compact protocols).
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols:
//!       thrift_http: { endpoint: 0.0.0.0:14268 }
//! exporters:
//!   jaeger_thrift:
//!     endpoint: http://jaeger:14268/api/traces
//! ```

pub mod decode;
pub mod encode;
pub mod model;
