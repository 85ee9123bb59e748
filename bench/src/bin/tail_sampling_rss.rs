//! Spans per second through the `tail_sampling` processor and the process's peak RSS (VmHWM)
//! while it holds 100k live traces (`num_traces: 100000`, `decision_wait: 1h`, classic
//! policies). Three phases, each timing only `process` (which decodes the encoded request, as
//! from a receiver) and the tick:
//! 1. `new`: span 0 of 100k new traces (the store fills up);
//! 2. `append`: spans 1 and 2 of those traces, in later requests (lookups among 100k live
//!    traces, the traces grow);
//! 3. `evict`: 200k more new traces of 3 spans each; the store is full, so each one evicts the
//!    oldest, which is decided early (10% emitted on the next tick).
//!
//! Run (release, own target dir):
//! `CARGO_TARGET_DIR=/work/target-bench cargo run --release -p ferrotel-bench --bin tail_sampling_rss`

// A CLI tool: its report is its output.
#![allow(clippy::print_stdout)]

use ferrotel_bench::procfs::status_kib;
use ferrotel_bench::tail_sampling::{processor, request, SPANS_PER_TRACE, TRACES_PER_REQUEST};
use ferrotel_core::{Batch, Processor};
use ferrotel_processors::tail_sampling::TailSamplingProcessor;
use std::time::{Duration, Instant};

const LIVE_TRACES: u64 = 100_000;

fn mib(key: &str) -> f64 {
    status_kib("self", key).unwrap_or(0) as f64 / 1024.0
}

/// Feeds the requests `make(first)` for `first` in `traces` (steps of a request) and returns
/// the spans processed and the time spent in the processor.
fn run(
    p: &TailSamplingProcessor,
    traces: std::ops::Range<u64>,
    make: impl Fn(u64) -> Batch,
) -> anyhow::Result<(u64, Duration)> {
    let mut out = Vec::new();
    let (mut spans, mut busy) = (0u64, Duration::ZERO);
    for first in traces.step_by(TRACES_PER_REQUEST as usize) {
        let batch = make(first);
        spans += batch.item_count() as u64;
        let start = Instant::now();
        p.process(batch, &mut out)?;
        p.on_tick(&mut out);
        busy += start.elapsed();
        out.clear();
    }
    Ok((spans, busy))
}

fn main() -> anyhow::Result<()> {
    let baseline = mib("VmRSS");
    let p = processor(LIVE_TRACES).map_err(anyhow::Error::msg)?;
    println!("tail_sampling with {LIVE_TRACES} live traces; RSS before: {baseline:.1} MiB");
    let phases: [(&str, std::ops::Range<u64>, std::ops::Range<u64>); 3] = [
        ("new", 0..LIVE_TRACES, 0..1),
        ("append", 0..LIVE_TRACES, 1..SPANS_PER_TRACE),
        ("evict", LIVE_TRACES..3 * LIVE_TRACES, 0..SPANS_PER_TRACE),
    ];
    for (name, traces, spans) in phases {
        let (n, busy) = run(&p, traces, |first| request(first, spans.clone()))?;
        let (live, bytes) = p.usage();
        println!(
            "{name:>7}: {n:>7} spans in {:>7.1} ms = {:>10.0} spans/s; traces in memory {live}, buffered {:.1} MiB; RSS {:.1} MiB, peak (VmHWM) {:.1} MiB",
            busy.as_secs_f64() * 1e3,
            n as f64 / busy.as_secs_f64(),
            bytes as f64 / 1048576.0,
            mib("VmRSS"),
            mib("VmHWM"),
        );
    }
    Ok(())
}
