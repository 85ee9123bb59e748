//! `ceiling`: a minimal OTLP server (gRPC and HTTP/protobuf on one port) that decodes and drops
//! (`--mode decode`, the throughput ceiling) or only counts items on the wire (`--mode count`,
//! the sink collectors export to). On SIGTERM or SIGINT it prints its totals as one JSON line.
//!
//! ```text
//! ceiling --listen 127.0.0.1:4317 --mode decode
//! ceiling --listen 127.0.0.1:4317 --mode count --max-items-per-second 100000   # a slow backend
//! ```
#![allow(clippy::print_stdout)]

use clap::Parser;
use ferrotel_bench::server::{Mode, Server};

#[derive(Parser, Debug)]
#[command(
    name = "ceiling",
    about = "Minimal OTLP server: decode-and-drop or count-only sink"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:4317")]
    listen: String,
    #[arg(long, value_enum, default_value = "decode")]
    mode: Mode,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Acknowledge at most this many items per second (a backend slower than the clients).
    #[arg(long)]
    max_items_per_second: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = a.threads {
        rt.worker_threads(n.max(1));
    }
    rt.enable_all().build()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen).await?;
        let server = Server::start_paced(listener, a.mode, a.max_items_per_second)?;
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        println!("{}", serde_json::to_string(&server.stop())?);
        Ok(())
    })
}
