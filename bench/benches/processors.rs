//! Cost per span of the attribute-level processors, each on a decoded request of 1000 spans
//! (8 attributes and one event each, under one resource), as it comes from the processor before
//! it in the pipeline: `resource` (3 actions on the resource), `attributes` (upsert, delete,
//! hash), `probabilistic_sampler` (hash_seed mode, 25%) and `redaction` with the shipped PII
//! recipe (`config/recipes/redaction-pii.yaml`). The copy of the input each iteration needs is
//! made outside the measurement. Run: `cargo bench -p ferrotel-bench --bench processors`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrotel_config::Value;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{
    AnyFactory, Batch, ComponentId, CreateContext, Data, Kind, Processor, Signal, Telemetry,
};
use ferrotel_processors::attributes::AttributesProcessorFactory;
use ferrotel_processors::probabilistic_sampler::ProbabilisticSamplerFactory;
use ferrotel_processors::redaction::RedactionProcessorFactory;
use ferrotel_processors::resource::ResourceProcessorFactory;
use std::hint::black_box;

const SPANS: usize = 1000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// A request whose spans look like an HTTP server's: some attributes hold PII the redaction
/// recipe masks, most hold nothing to change.
fn request() -> Data {
    let span = |i: usize| Span {
        trace_id: (i as u128 * 0x9E37_79B9_7F4A_7C15).to_be_bytes().to_vec(),
        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
        name: "GET /api/orders/{id}".into(),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes: vec![
            kv("http.request.method", "GET"),
            kv("http.route", "/api/orders/{id}"),
            kv("url.full", "https://shop.example/api/orders/42?page=2"),
            kv("http.request.header.authorization", "Bearer abc.def.ghi"),
            kv("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
            kv("enduser.id", "jane.doe@example.com"),
            kv("server.address", "shop.example"),
            kv("order.note", "deliver to the back door, call before"),
        ],
        events: vec![Event {
            name: "log".into(),
            attributes: vec![kv("message", "order 42 paid")],
            ..Default::default()
        }],
        ..Default::default()
    };
    Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "shop"),
                    kv("host.name", "node-1"),
                    kv("k8s-cluster", "prod"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..SPANS).map(span).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn processor(factory: &dyn AnyFactory<Box<dyn Processor>>, yaml: &str) -> Box<dyn Processor> {
    let type_name = factory.describe().type_name;
    let ctx = CreateContext::new(
        Kind::Processor,
        ComponentId::new(type_name),
        Telemetry::new(),
    )
    .in_pipeline(Signal::Traces, "traces".into());
    let cfg: Value = serde_yaml_ng::from_str(yaml).expect("bench config parses");
    match factory.create_from(&ctx, &cfg) {
        Ok(p) => p,
        Err(e) => panic!("bench config of {type_name} refused: {e}"),
    }
}

/// The `processors.redaction` section of the shipped recipe.
fn recipe() -> String {
    let doc: Value =
        serde_yaml_ng::from_str(include_str!("../../config/recipes/redaction-pii.yaml"))
            .expect("recipe parses");
    serde_yaml_ng::to_string(&doc["processors"]["redaction"]).expect("recipe section")
}

fn bench(c: &mut Criterion) {
    let cases: [(&str, Box<dyn Processor>); 4] = [
        (
            "resource",
            processor(
                &ResourceProcessorFactory,
                "attributes:\n  - {key: cloud.availability_zone, value: zone-1, action: upsert}\n  - {key: k8s.cluster.name, from_attribute: k8s-cluster, action: insert}\n  - {key: host.name, action: delete}",
            ),
        ),
        (
            "attributes",
            processor(
                &AttributesProcessorFactory,
                "actions:\n  - {key: deployment.environment, value: prod, action: upsert}\n  - {key: user_agent.original, action: delete}\n  - {key: enduser.id, action: hash}",
            ),
        ),
        (
            "probabilistic_sampler",
            processor(&ProbabilisticSamplerFactory, "sampling_percentage: 25"),
        ),
        ("redaction", processor(&RedactionProcessorFactory, &recipe())),
    ];
    let input = request();
    let mut g = c.benchmark_group("processors");
    g.throughput(Throughput::Elements(SPANS as u64));
    for (name, p) in &cases {
        g.bench_function(*name, |b| {
            b.iter_batched(
                || Batch::from_data(input.clone(), Default::default()),
                |batch| {
                    let mut out = Vec::with_capacity(1);
                    let ok = p.process(black_box(batch), &mut out).is_ok();
                    (ok, out)
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
