//! Decoding a traces request into the OTLP types, as every processor that changes spans makes
//! the pipeline do (transform, attributes, redaction of the sampled share), and encoding it
//! again for export: prost's generated code against `ferrotel_core::decode::traces` and
//! `ferrotel_core::encode::traces`, on the load generator's requests (100 spans of the natural
//! shape, ~37.7 KB). Run: `cargo bench -p ferrotel-bench --bench otlp_decode`.
//!
//! Instruction counts (repeatable on a noisy machine):
//! `valgrind --tool=callgrind target/release/deps/otlp_decode-* --bench --profile-time 2 <name>`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_bench::workload::{pool, Shape};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::Signal;
use prost::Message;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let shape = Shape {
        signal: Signal::Traces,
        items_per_request: 100,
        attrs_per_item: None,
        payload_bytes: 0,
    };
    let requests = pool(&shape, 16, 7);
    for r in &requests {
        let fast = ferrotel_core::decode::traces(&r.body);
        assert!(
            fast.is_some(),
            "the load generator's requests take the fast decoder"
        );
        assert_eq!(fast, ExportTraceServiceRequest::decode(&r.body[..]).ok());
    }
    let mut g = c.benchmark_group("otlp_decode");
    g.throughput(Throughput::Elements(16 * 100));
    g.bench_function("traces/prost/16 requests of 100 spans", |b| {
        b.iter(|| {
            for r in &requests {
                black_box(ExportTraceServiceRequest::decode(black_box(&r.body[..])).ok());
            }
        })
    });
    g.bench_function("traces/ferrotel/16 requests of 100 spans", |b| {
        b.iter(|| {
            for r in &requests {
                black_box(ferrotel_core::decode::traces(black_box(&r.body)));
            }
        })
    });
    g.finish();

    let decoded: Vec<ExportTraceServiceRequest> = (requests.iter())
        .filter_map(|r| ferrotel_core::decode::traces(&r.body))
        .collect();
    for (d, r) in decoded.iter().zip(&requests) {
        assert_eq!(ferrotel_core::encode::traces(d), r.body);
    }
    let mut g = c.benchmark_group("otlp_encode");
    g.throughput(Throughput::Elements(16 * 100));
    g.bench_function("traces/prost/16 requests of 100 spans", |b| {
        b.iter(|| {
            for d in &decoded {
                black_box(black_box(d).encode_to_vec());
            }
        })
    });
    g.bench_function("traces/ferrotel/16 requests of 100 spans", |b| {
        b.iter(|| {
            for d in &decoded {
                black_box(ferrotel_core::encode::traces(black_box(d)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
