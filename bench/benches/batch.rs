//! Items per second through the `batch` processor: the byte-level merge path (no
//! `send_batch_max_size`, requests concatenated without decoding) and the split path
//! (`send_batch_max_size` smaller than the merged batch, so straddling requests are decoded and
//! split). Run: `cargo bench -p ferrotel-bench --bench batch`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_config::GoDuration;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{Batch, Data, Processor, Signal, Telemetry};
use ferrotel_processors::batch::{BatchConfig, BatchProcessor};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

/// An encoded request of `spans` spans with a few attributes each, as a receiver hands it on.
fn request(spans: usize) -> Batch {
    let span = |i: usize| Span {
        trace_id: vec![7; 16],
        span_id: (i as u64).to_be_bytes().to_vec(),
        name: format!("GET /api/{i}"),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes: vec![KeyValue {
            key: "http.method".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("GET".into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let data = Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..spans).map(span).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    Batch::from_bytes(Signal::Traces, data.encode(), None, Default::default())
}

fn processor(send_batch_size: u32, max: u32) -> BatchProcessor {
    let cfg = BatchConfig {
        send_batch_size,
        send_batch_max_size: max,
        timeout: GoDuration(Duration::from_secs(3600)),
        ..Default::default()
    };
    BatchProcessor::new(
        &cfg,
        "batch",
        &Telemetry::new(),
        Arc::new(tokio::sync::Notify::new()),
    )
}

/// Feeds `requests` (each a fresh, undecoded copy), emitting what is due after each.
fn run(p: &BatchProcessor, requests: &[Batch]) -> usize {
    let mut out = Vec::new();
    for r in requests {
        // A new Batch over the same bytes: no decoded form cached from an earlier iteration.
        let b = Batch::from_bytes(Signal::Traces, r.encoded(), None, r.meta.clone());
        p.process(b, &mut out).expect("accepted");
        // What the engine does when the processor wakes it (a batch is full).
        p.on_tick(&mut out);
    }
    out.iter().map(Batch::item_count).sum()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    // 64 requests of 128 spans = 8192 spans: one size-triggered batch, merged as bytes.
    let requests: Vec<Batch> = (0..64).map(|_| request(128)).collect();
    g.throughput(Throughput::Elements(8192));
    let p = processor(8192, 0);
    g.bench_function("concat_8192_spans", |b| {
        b.iter(|| assert_eq!(black_box(run(&p, &requests)), 8192))
    });
    // 30 requests of 300 spans = 9000 spans cut into batches of 1000: every third request
    // straddles a boundary and is decoded and split.
    let requests: Vec<Batch> = (0..30).map(|_| request(300)).collect();
    g.throughput(Throughput::Elements(9000));
    let p = processor(1000, 1000);
    g.bench_function("split_9000_spans_max_1000", |b| {
        b.iter(|| assert_eq!(black_box(run(&p, &requests)), 9000))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
