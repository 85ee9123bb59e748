//! processors

// Tests may unwrap: a panic is how they fail.
#![cfg_attr(test, allow(clippy::unwrap_used))]
pub mod attraction;
pub mod attributes;
pub mod batch;
#[cfg(test)]
mod golden;
pub mod memory_limiter;
#[cfg(test)]
mod otelcol_examples;
pub mod probabilistic_sampler;
pub mod redaction;
pub mod resource;
pub mod tail_sampling;
