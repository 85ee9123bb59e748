//! ferrotel-extensions: components outside pipelines, started before and stopped after them.
//!
//! - [`health_check`]: otelcol's `health_check` extension (HTTP readiness endpoint).

pub mod health_check;
