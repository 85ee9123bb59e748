//! Cost of the `memory_limiter` on the request path: `admit()` (called by receivers before they
//! read a body: two atomic loads and a clock read, plus a fresh memory measurement when the last
//! one is over a millisecond old) and `process()`. Run:
//! `cargo bench -p ferrotel-bench --bench memory_limiter`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_config::GoDuration;
use ferrotel_core::{Batch, Data, Processor, Signal, Telemetry};
use ferrotel_processors::memory_limiter::{MemoryLimiter, MemoryLimiterConfig, MemoryProbe};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

/// Always well below the limit.
struct Low;

impl MemoryProbe for Low {
    fn used(&self) -> Option<u64> {
        Some(1 << 20)
    }
    fn release(&self) {}
}

fn bench(c: &mut Criterion) {
    let cfg = MemoryLimiterConfig {
        check_interval: GoDuration(Duration::from_secs(1)),
        limit_mib: 1024,
        ..Default::default()
    };
    let limits = cfg.limits(None).expect("limit_mib set");
    let l = MemoryLimiter::new(
        &cfg,
        limits,
        Arc::new(Low),
        "memory_limiter",
        &Telemetry::new(),
        Some(Signal::Traces),
    );
    let mut g = c.benchmark_group("memory_limiter");
    g.throughput(Throughput::Elements(1));
    g.bench_function("admit", |b| b.iter(|| black_box(l.admit()).is_ok()));
    let batch = Batch::from_data(Data::empty(Signal::Traces), Default::default());
    let mut out = Vec::with_capacity(1);
    g.bench_function("process", |b| {
        b.iter(|| {
            out.clear();
            l.process(black_box(batch.clone()), &mut out).is_ok()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
