//! Jaeger encoding and decoding cost: a 100-span request (one resource, a few attributes and an
//! event per span) translated to the Jaeger model and encoded as the collector's Thrift binary
//! HTTP body, and as the agent's compact UDP datagrams (the exporter); those read back and
//! translated to OTLP (the receiver). Reported per span.
//! Run: `cargo bench -p ferrotel-bench --bench jaeger` (encoding by the exporter, decoding and
//! translation by the receiver).

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value::Value, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_exporters::jaeger::{encode_agent_datagrams, encode_http_bodies};
use std::hint::black_box;

const SPANS: usize = 100;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn request() -> ExportTraceServiceRequest {
    let span = |i: usize| Span {
        trace_id: vec![7; 16],
        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
        parent_span_id: vec![1; 8],
        name: format!("GET /api/{i}"),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
        end_time_unix_nano: 1_700_000_000_002_000_000 + i as u64,
        attributes: vec![
            kv("http.method", Value::StringValue("GET".into())),
            kv("http.status_code", Value::IntValue(200)),
            kv(
                "http.url",
                Value::StringValue(format!("https://example.com/api/{i}")),
            ),
            kv("cache.hit", Value::BoolValue((i & 1) == 0)),
        ],
        events: vec![Event {
            time_unix_nano: 1_700_000_000_001_000_000,
            name: "db.query".into(),
            attributes: vec![kv("rows", Value::IntValue(3))],
            ..Default::default()
        }],
        status: Some(Status {
            code: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Value::StringValue("checkout".into())),
                    kv("host.name", Value::StringValue("node-1".into())),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..SPANS).map(span).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn bench(c: &mut Criterion) {
    let req = request();
    let mut g = c.benchmark_group("jaeger_encode");
    g.throughput(Throughput::Elements(SPANS as u64));
    g.bench_function("http_thrift_binary_100_spans", |b| {
        b.iter(|| encode_http_bodies(black_box(&req)))
    });
    g.bench_function("udp_thrift_compact_100_spans", |b| {
        b.iter(|| encode_agent_datagrams(black_box(&req), 65000))
    });
    g.finish();

    // The receiver's side: the exporter's output read back and translated to OTLP.
    use ferrotel_receivers::jaeger::translate::thrift_batch;
    use ferrotel_transport::jaeger::decode::{agent_message, binary_batch, Protocol};
    let body = encode_http_bodies(&req).expect("encodes").remove(0);
    let datagram = encode_agent_datagrams(&req, 65000)
        .expect("encodes")
        .packets
        .remove(0);
    let mut g = c.benchmark_group("jaeger_decode");
    g.throughput(Throughput::Elements(SPANS as u64));
    g.bench_function("http_thrift_binary_100_spans", |b| {
        b.iter(|| thrift_batch(&binary_batch(black_box(&body)).expect("decodes")))
    });
    g.bench_function("udp_thrift_compact_100_spans", |b| {
        b.iter(|| {
            let batch = agent_message(black_box(&datagram), Protocol::Compact).expect("decodes");
            thrift_batch(&batch.expect("a batch"))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
