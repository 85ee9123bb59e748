//! Spans per second through the `tail_sampling` processor holding 100k live traces: the store is
//! full (`num_traces: 100000`), so every new trace also evicts (and decides early) the oldest
//! one, and every request is decoded, grouped by trace id and buffered. Policies: errors,
//! latency and a 10% probabilistic. Run: `cargo bench -p ferrotel-bench --bench tail_sampling`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_config::Value;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{Batch, Data, Processor, Signal, Telemetry};
use ferrotel_processors::tail_sampling::{TailSamplingConfig, TailSamplingProcessor};
use std::hint::black_box;
use std::sync::Arc;

const LIVE_TRACES: u64 = 100_000;
const SPANS_PER_TRACE: u64 = 3;
const TRACES_PER_REQUEST: u64 = 341;
const SPANS_PER_REQUEST: u64 = TRACES_PER_REQUEST * SPANS_PER_TRACE;

fn trace_id(n: u64) -> Vec<u8> {
    let a = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995;
    let b = a.rotate_left(17).wrapping_mul(0xC2B2_AE3D_27D4_EB4F) | 1;
    [a.to_be_bytes(), b.to_be_bytes()].concat()
}

fn attr(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// An encoded request with the spans of traces `first..first + TRACES_PER_REQUEST`.
fn request(first: u64) -> Batch {
    let spans = (first..first + TRACES_PER_REQUEST)
        .flat_map(|t| {
            (0..SPANS_PER_TRACE).map(move |i| Span {
                trace_id: trace_id(t),
                span_id: (t * 8 + i + 1).to_be_bytes().to_vec(),
                name: format!("GET /api/items/{i}"),
                start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000,
                end_time_unix_nano: 1_700_000_000_010_000_000 + i * 1_000_000,
                attributes: vec![
                    attr("http.request.method", "GET"),
                    attr("http.route", "/api/items/:id"),
                ],
                ..Default::default()
            })
        })
        .collect();
    let data = Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr("service.name", "items")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    Batch::from_bytes(Signal::Traces, data.encode(), None, Default::default())
}

fn processor() -> TailSamplingProcessor {
    let yaml = format!(
        "decision_wait: 1h
num_traces: {LIVE_TRACES}
policies:
  - {{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}
  - {{name: slow, type: latency, latency: {{threshold_ms: 5000}}}}
  - {{name: some, type: probabilistic, probabilistic: {{sampling_percentage: 10}}}}"
    );
    let v: Value = serde_yaml_ng::from_str(&yaml).expect("bench config");
    let cfg: TailSamplingConfig =
        ferrotel_config::decode("processors.tail_sampling", &v).expect("bench config");
    TailSamplingProcessor::new(
        &cfg,
        "processors.tail_sampling",
        &Telemetry::new(),
        Arc::new(tokio::sync::Notify::new()),
    )
    .expect("bench config is valid")
}

fn bench(c: &mut Criterion) {
    let p = processor();
    let mut out = Vec::new();
    // Fill the store with 100k live traces.
    let mut next = 0;
    while next < LIVE_TRACES {
        p.process(request(next), &mut out).expect("accepted");
        next += TRACES_PER_REQUEST;
    }
    assert!(p.usage().0 as u64 >= LIVE_TRACES - TRACES_PER_REQUEST);
    // Requests of new traces, more than num_traces of them in all, so an id comes back only
    // after it was forgotten.
    let pool: Vec<Batch> = (0..2 * LIVE_TRACES / TRACES_PER_REQUEST)
        .map(|i| request(LIVE_TRACES + i * TRACES_PER_REQUEST))
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
