//! Cost of the `prometheus` exporter with 100k series: rendering a scrape (text format) and
//! taking in an export that updates every series. Run:
//! `cargo bench -p ferrotel-bench --bench prometheus`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric::Data as M, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::{Batch, Data, Exporter};
use ferrotel_exporters::prometheus::PrometheusExporterFactory;
use std::hint::black_box;

const METRICS: usize = 100;
const SERIES_PER_METRIC: usize = 1000;

fn kv(k: &str, v: String) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..Default::default()
    }
}

/// 100 metrics (gauges, counters and histograms) of 1000 series each, at time `t`.
fn request(t: u64) -> ExportMetricsServiceRequest {
    let attrs = |i: usize| {
        vec![
            kv("http.route", format!("/api/v1/item/{i}")),
            kv("http.method", "GET".into()),
        ]
    };
    let number = |i: usize| NumberDataPoint {
        attributes: attrs(i),
        start_time_unix_nano: 1,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(i as f64 * 1.5)),
        ..Default::default()
    };
    let metrics = (0..METRICS)
        .map(|m| {
            let data = match m % 3 {
                0 => M::Gauge(Gauge {
                    data_points: (0..SERIES_PER_METRIC).map(number).collect(),
                }),
                1 => M::Sum(Sum {
                    data_points: (0..SERIES_PER_METRIC).map(number).collect(),
                    aggregation_temporality: 2,
                    is_monotonic: true,
                }),
                _ => M::Histogram(Histogram {
                    data_points: (0..SERIES_PER_METRIC)
                        .map(|i| HistogramDataPoint {
                            attributes: attrs(i),
                            start_time_unix_nano: 1,
                            time_unix_nano: t,
                            count: 10,
                            sum: Some(12.5),
                            bucket_counts: vec![1, 2, 3, 4, 0],
                            explicit_bounds: vec![0.1, 0.5, 1.0, 5.0],
                            ..Default::default()
                        })
                        .collect(),
                    aggregation_temporality: 2,
                }),
            };
            Metric {
                name: format!("app.metric.{m}"),
                description: "A benchmark metric.".into(),
                unit: "s".into(),
                data: Some(data),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "bench".into()),
                    kv("service.instance.id", "i-1".into()),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let config: ferrotel_config::Value =
        serde_json::from_str(r#"{"endpoint": "127.0.0.1:0"}"#).expect("valid config document");
    let exporter = PrometheusExporterFactory::build("exporters.prometheus", "prometheus", &config)
        .expect("valid config");
    let batch = |t| Batch::from_data(Data::Metrics(request(t)), Default::default());
    rt.block_on(exporter.export(batch(2))).expect("export");
    let series = (METRICS * SERIES_PER_METRIC) as u64;

    let mut g = c.benchmark_group("prometheus");
    g.sample_size(10);
    g.throughput(Throughput::Elements(series));
    g.bench_function("render_100k_series", |b| {
        b.iter(|| black_box(exporter.render(None)).len())
    });
    let mut t = 3;
    g.bench_function("export_100k_points", |b| {
        b.iter_batched(
            || {
                t += 1;
                batch(t)
            },
            |bt| rt.block_on(exporter.export(bt)),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
