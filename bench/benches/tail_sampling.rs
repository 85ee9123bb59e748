//! Spans per second through the `tail_sampling` processor holding 100k live traces: the store is
//! full (`num_traces: 100000`), so every new trace also evicts (and decides early) the oldest
//! one, and every request is decoded, grouped by trace id and buffered. Policies: errors,
//! latency and a 10% probabilistic. Run: `cargo bench -p ferrotel-bench --bench tail_sampling`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_bench::tail_sampling::{
    processor, request, SPANS_PER_REQUEST, SPANS_PER_TRACE, TRACES_PER_REQUEST,
};
use ferrotel_core::{Batch, Processor, Signal};
use std::hint::black_box;

const LIVE_TRACES: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let p = processor(LIVE_TRACES).expect("bench config is valid");
    let mut out = Vec::new();
    // Fill the store with 100k live traces.
    let mut next = 0;
    while next < LIVE_TRACES {
        p.process(request(next, 0..SPANS_PER_TRACE), &mut out)
            .expect("accepted");
        next += TRACES_PER_REQUEST;
    }
    assert!(p.usage().0 as u64 >= LIVE_TRACES - TRACES_PER_REQUEST);
    // Requests of new traces, more than num_traces of them in all, so an id comes back only
    // after it was forgotten.
    let pool: Vec<Batch> = (0..2 * LIVE_TRACES / TRACES_PER_REQUEST)
        .map(|i| request(LIVE_TRACES + i * TRACES_PER_REQUEST, 0..SPANS_PER_TRACE))
        .collect();
    let mut g = c.benchmark_group("tail_sampling");
    g.throughput(Throughput::Elements(SPANS_PER_REQUEST));
    let mut i = 0;
    g.bench_function("new_traces_with_100k_live", |b| {
        b.iter(|| {
            let r = &pool[i % pool.len()];
            i += 1;
            // A fresh Batch over the same bytes: decoded in the measured call, as from a receiver.
            let batch = Batch::from_bytes(Signal::Traces, r.encoded(), None, Default::default());
            p.process(batch, &mut out).expect("accepted");
            // What the engine's tick task does (sends the traces decided early).
            p.on_tick(&mut out);
            out.clear();
            black_box(p.usage().0)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
