//! exporters

pub mod debug;
pub mod otlp;
pub mod otlphttp;
mod shared;
