//! exporters

pub mod debug;
pub mod jaeger;
pub mod loadbalancing;
pub mod otlp;
pub mod otlphttp;
pub mod prometheus;
mod shared;
