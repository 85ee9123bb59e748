//! ferrotel's measuring instrument: a realistic OTLP load generator, a minimal receiver used as
//! the throughput ceiling and as the downstream sink, and the runner that compares ferrotel with
//! a peer collector (see `bench/README` in the repository README and `bench/RESULTS.md`).

pub mod foreign;
pub mod loadgen;
pub mod procfs;
pub mod server;
pub mod tail_sampling;
pub mod workload;
