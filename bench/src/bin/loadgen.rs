//! `loadgen`: sends realistic OTLP traces, metrics or logs to a collector over gRPC or
//! HTTP/protobuf, flat out or at a fixed rate, and reports items/s, latency percentiles of
//! accepted requests and errors by status.
//!
//! ```text
//! loadgen --endpoint 127.0.0.1:4317 --protocol grpc --signal traces --spans-per-request 100 \
//!         --concurrency 8 --duration 10s [--rate 10000] [--compression gzip] [--json]
//! ```
#![allow(clippy::print_stdout)]

use clap::Parser;
use ferrotel_bench::loadgen::{self, Compression, Protocol};
use ferrotel_bench::workload::Shape;
use ferrotel_core::Signal;

#[derive(Parser, Debug)]
#[command(name = "loadgen", about = "OTLP load generator")]
struct Args {
    /// host:port of the receiver (default 127.0.0.1:4317 for grpc, 127.0.0.1:4318 for http).
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long, value_enum, default_value = "grpc")]
    protocol: Protocol,
    /// traces | metrics | logs
    #[arg(long, default_value = "traces", value_parser = parse_signal)]
    signal: Signal,
    /// Items per request (spans, metric data points or log records).
    #[arg(long, alias = "items-per-request", default_value_t = 100)]
    spans_per_request: usize,
    /// Attributes on every item; by default the natural shape (~10 on server spans).
    #[arg(long, alias = "attrs-per-item")]
    attrs_per_span: Option<usize>,
    /// Extra bytes per item (an `app.payload` string attribute).
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
    #[arg(long, value_enum, default_value = "none")]
    compression: Compression,
    /// Workers, each with its own connection and one request in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// How long to send (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: std::time::Duration,
    /// Items per second over all workers; flat out when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// Distinct pre-encoded requests to cycle through.
    #[arg(long, default_value_t = 64)]
    pool: usize,
    /// Per-request deadline.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: std::time::Duration,
    /// Runtime worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the report as one JSON line on stdout (the text goes to stderr).
    #[arg(long)]
    json: bool,
}

fn parse_signal(s: &str) -> Result<Signal, String> {
    Signal::parse(s).ok_or_else(|| format!("unknown signal {s:?} (traces, metrics, logs)"))
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let endpoint = a.endpoint.unwrap_or_else(|| match a.protocol {
        Protocol::Grpc => "127.0.0.1:4317".into(),
        Protocol::Http => "127.0.0.1:4318".into(),
        Protocol::Jaeger => "127.0.0.1:14268".into(),
        Protocol::Zipkin => "127.0.0.1:9411".into(),
    });
    if matches!(a.protocol, Protocol::Jaeger | Protocol::Zipkin) && a.signal != Signal::Traces {
        anyhow::bail!("--protocol {:?} carries traces only", a.protocol);
    }
    let cfg = loadgen::Config {
        endpoint,
        protocol: a.protocol,
        shape: Shape {
            signal: a.signal,
            items_per_request: a.spans_per_request.max(1),
            attrs_per_item: a.attrs_per_span,
            payload_bytes: a.payload_bytes,
        },
        compression: a.compression,
        concurrency: a.concurrency,
        duration: a.duration,
        rate: a.rate.filter(|r| *r > 0.0),
        pool: a.pool,
        timeout: a.timeout,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()?;
    let report = rt.block_on(loadgen::run(cfg))?;
    if a.json {
        eprintln!("{}", report.text());
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.text());
    }
    Ok(())
}
