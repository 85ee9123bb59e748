//! ferrotel-extensions: components outside pipelines, started before and stopped after them.
//!
//! - [`health_check`]: otelcol's `health_check` extension (HTTP readiness endpoint);
//! - [`bearertokenauth`] and [`basicauth`]: authenticators for receivers' and exporters'
//!   `auth.authenticator`;
//! - [`file_storage`]: disk storage for exporters' persistent `sending_queue.storage`.

pub mod basicauth;
pub mod bearertokenauth;
pub mod file_storage;
pub mod health_check;
mod secret;

pub use secret::Secret;
