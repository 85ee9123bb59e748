//! Bytes per second through the OTLP receiver's request validation fast path
//! (`ferrotel_receivers::otlp::fastcheck::count_valid`): the wire-format walk that every traces
//! and logs request takes before it is accepted, on the load generator's requests (100 spans of
//! the natural shape, ~37.7 KB; 100 log records). At a steady low rate it is most of the
//! receiver's CPU per request. Run: `cargo bench -p ferrotel-bench --bench otlp_fastcheck`.
//!
//! Instruction counts (repeatable on a noisy machine):
//! `valgrind --tool=callgrind --toggle-collect='*count_valid*' target/release/deps/otlp_fastcheck-* --bench --profile-time 2`
//! then `callgrind_annotate` (instructions / calls of `count_valid`).

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_bench::workload::{pool, Shape};
use ferrotel_core::Signal;
use ferrotel_receivers::otlp::fastcheck::count_valid;
use ferrotel_receivers::otlp::LimitsConfig;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let limits = LimitsConfig::default();
    let mut g = c.benchmark_group("otlp_fastcheck");
    for signal in [Signal::Traces, Signal::Logs] {
        let shape = Shape {
            signal,
            items_per_request: 100,
            attrs_per_item: None,
            payload_bytes: 0,
        };
        let requests = pool(&shape, 16, 7);
        let bytes: usize = requests.iter().map(|r| r.body.len()).sum();
        for r in &requests {
            assert_eq!(count_valid(&limits, signal, &r.body), Some(100));
        }
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(format!("{signal}/16 requests of 100 items"), |b| {
            b.iter(|| {
                for r in &requests {
                    black_box(count_valid(&limits, signal, black_box(&r.body)));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
