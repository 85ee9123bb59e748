//! Cost per span of the `span_metrics` connector with its default settings (the Jaeger SPM and
//! compose stack configuration): each iteration hands it one encoded request of 100 spans from
//! the load generator's pool (an HTTP API: server, database and downstream client spans of
//! several services and routes), which it decodes and aggregates into its series, as the engine
//! does with a request a receiver accepted. A second benchmark measures the flush that turns the
//! series into a metrics batch (every `metrics_flush_interval`, 60s by default).
//! Run: `cargo bench -p ferrotel-bench --bench span_metrics`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_bench::workload::{pool, Shape};
use ferrotel_config::Value;
use ferrotel_connectors::span_metrics::SpanMetricsConnectorFactory;
use ferrotel_core::{
    AnyFactory, Batch, ComponentId, Connector, CreateContext, Kind, Signal, Telemetry,
};
use std::hint::black_box;

const SPANS_PER_REQUEST: usize = 100;

fn connector(yaml: &str) -> Box<dyn Connector> {
    let ctx = CreateContext::new(
        Kind::Connector,
        ComponentId::new("span_metrics"),
        Telemetry::new(),
    );
    let cfg: Value = serde_yaml_ng::from_str(yaml).expect("bench config parses");
    match SpanMetricsConnectorFactory.create_from(&ctx, &cfg) {
        Ok(c) => c,
        Err(e) => panic!("bench config refused: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let shape = Shape {
        signal: Signal::Traces,
        items_per_request: SPANS_PER_REQUEST,
        attrs_per_item: None,
        payload_bytes: 0,
    };
    let requests = pool(&shape, 256, 7);
    let mut g = c.benchmark_group("span_metrics");
    g.throughput(Throughput::Elements(SPANS_PER_REQUEST as u64));
    let sm = connector("{}");
    let mut out = Vec::new();
    let mut i = 0;
    g.bench_function("consume_default_config", |b| {
        b.iter(|| {
            let r = &requests[i % requests.len()];
            i += 1;
            let batch = Batch::from_bytes(Signal::Traces, r.body.clone(), None, Default::default());
            sm.consume(black_box(batch), &mut out).expect("accepted");
            out.clear();
        })
    });
    g.finish();

    let mut g = c.benchmark_group("span_metrics");
    g.bench_function("flush_series_of_256_requests", |b| {
        b.iter(|| {
            sm.on_tick(&mut out);
            black_box(out.len());
            out.clear();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
