//! Cost per span of the `service_graph` connector: batches of 100 traces through five services
//! (frontend -> cart -> checkout -> payment -> shipping, each call a CLIENT span in the caller
//! and a SERVER span in the callee, plus a database call and an internal span), grouped by
//! service as an SDK sends them. Each batch carries the client spans of its traces and the
//! server spans of the previous batch's traces, so half the edges wait in the store across
//! batches and half complete within one. `decoded`: the connector alone, on batches decoded
//! once (and hot in cache, as right after a receiver decoded them); `from_bytes`: each batch
//! decoded from its protobuf bytes in the measured call, as a receiver hands it over.
//! Run: `cargo bench -p ferrotel-bench --bench service_graph`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_connectors::service_graph::{ServiceGraph, ServiceGraphConfig};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::SpanKind, ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{Batch, Connector, Data, Signal};
use ferrotel_testkit::config::{create_context, yaml};
use std::hint::black_box;

const SERVICES: [&str; 5] = ["frontend", "cart", "checkout", "payment", "shipping"];
const TRACES_PER_BATCH: u64 = 100;
/// Batches in the pool: trace ids come back only after their edges completed.
const POOL: u64 = 4;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn span(kind: SpanKind, trace: u64, id: u64, parent: u64, attrs: Vec<KeyValue>) -> Span {
    let start = 1_700_000_000_000_000_000 + id * 1000;
    Span {
        name: "GET /api".into(),
        kind: kind as i32,
        trace_id: [trace.to_be_bytes(), [7; 8]].concat(),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 {
            vec![]
        } else {
            parent.to_be_bytes().to_vec()
        },
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000 + id % 50_000_000,
        attributes: attrs,
        ..Default::default()
    }
}

/// The spans of `trace` per service: its client side (`clients`) or server side.
fn trace_spans(trace: u64, clients: bool, per_service: &mut [Vec<Span>; 5]) {
    let id = |hop: u64, side: u64| trace * 100 + hop * 2 + side + 1;
    let get = || vec![kv("http.method", "GET")];
    for hop in 0..4u64 {
        let h = hop as usize;
        if clients {
            let parent = if hop == 0 { 0 } else { id(hop - 1, 1) };
            per_service[h].push(span(SpanKind::Client, trace, id(hop, 0), parent, get()));
        } else {
            per_service[h + 1].push(span(SpanKind::Server, trace, id(hop, 1), id(hop, 0), get()));
        }
    }
    if clients {
        let db = vec![kv("db.name", "orders"), kv("db.system", "postgresql")];
        per_service[2].push(span(SpanKind::Client, trace, id(10, 0), id(1, 1), db));
        per_service[0].push(span(SpanKind::Internal, trace, id(11, 0), 0, vec![]));
    }
}

/// Batch `i`: client spans of its traces and server spans of batch `i - 1`'s.
fn request(i: u64) -> (Batch, u64) {
    let mut per_service: [Vec<Span>; 5] = Default::default();
    let first = i * TRACES_PER_BATCH;
    let previous = (i + POOL - 1) % POOL * TRACES_PER_BATCH;
    for t in 0..TRACES_PER_BATCH {
        trace_spans(first + t, true, &mut per_service);
        trace_spans(previous + t, false, &mut per_service);
    }
    let spans: u64 = per_service.iter().map(|s| s.len() as u64).sum();
    let resource_spans = per_service
        .into_iter()
        .zip(SERVICES)
        .map(|(spans, service)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service), kv("host.name", "node-1")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest { resource_spans };
    (
        Batch::from_data(Data::Traces(req), Default::default()),
        spans,
    )
}

fn connector(text: &str) -> ServiceGraph {
    let value = yaml(text);
    let config =
        ferrotel_config::decode_valid::<ServiceGraphConfig>("connectors.servicegraph", &value)
            .expect("bench config is valid")
            .0;
    ServiceGraph::new(&config, &create_context("connectors", "servicegraph"))
}

fn bench(c: &mut Criterion) {
    let pool: Vec<(Batch, u64)> = (0..POOL).map(request).collect();
    let mut g = c.benchmark_group("service_graph");
    g.throughput(Throughput::Elements(pool[0].1));
    let plain = "{store: {max_items: 10000}}";
    let dims = "{store: {max_items: 10000}, dimensions: [http.method, host.name]}";
    for (name, config, decode) in [
        ("decoded", plain, false),
        ("decoded_with_dimensions", dims, false),
        ("from_bytes", plain, true),
    ] {
        let sg = connector(config);
        let mut out = Vec::new();
        // Warm: the store holds the client side of one batch, the series exist.
        for (b, _) in &pool {
            sg.consume(b.clone(), &mut out).expect("accepted");
        }
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let (batch, _) = &pool[i % pool.len()];
                i += 1;
                let batch = match decode {
                    true => {
                        Batch::from_bytes(Signal::Traces, batch.encoded(), None, Default::default())
                    }
                    false => batch.clone(),
                };
                sg.consume(batch, &mut out).expect("accepted");
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
