//! The count connector's memory is bounded by its output, not its input: counting a batch
//! allocates for each resource and each distinct count (series), never per span, event or
//! record, so a batch 100 times larger with the same series costs the same allocations.

#![allow(clippy::unwrap_used)]

use ferrotel_connectors::count::CountConnectorFactory;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric::Data as MetricData, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use ferrotel_core::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{AnyFactory, Batch, Connector, Data};
use ferrotel_testkit::alloc::{allocations, Counting};
use ferrotel_testkit::config::{create_context, yaml};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// `http.route` set to one of three routes, by `i`.
fn route(i: usize) -> Vec<KeyValue> {
    let routes = ["/a", "/b", "/c"];
    vec![KeyValue {
        key: "http.route".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(routes[i % 3].into())),
        }),
        ..Default::default()
    }]
}

fn spans(n: usize) -> Batch {
    let span = |i: usize| Span {
        name: "op".into(),
        start_time_unix_nano: 1_000 + i as u64,
        end_time_unix_nano: 2_000 + i as u64,
        attributes: route(i),
        events: vec![Event::default()],
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n).map(span).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_data(Data::Traces(req), Default::default())
}

/// Allocations of counting `batch` (and dropping what it emitted).
fn cost(c: &dyn Connector, batch: Batch) -> usize {
    let mut out = Vec::with_capacity(1);
    let before = allocations();
    c.consume(batch, &mut out).unwrap();
    let n = allocations() - before;
    assert_eq!(out.len(), 1);
    n
}

#[test]
fn counting_allocates_per_series_not_per_span() {
    let config = r#"
spans:
  spans.by.route:
    conditions: ['attributes["http.route"] != "/none"', 'name == "op"']
    attributes: [{key: http.route}, {key: missing, default_value: d}]
"#;
    let c = CountConnectorFactory
        .create_from(&create_context("connectors", "count"), &yaml(config))
        .unwrap();
    let small = cost(c.as_ref(), spans(10));
    let large = cost(c.as_ref(), spans(1_000));
    assert_eq!(
        small, large,
        "10 spans: {small} allocations, 1000 spans: {large}"
    );
}

/// Ten gauges of `n` points each.
fn gauges(n: usize) -> Batch {
    let point = |i: usize| NumberDataPoint {
        attributes: route(i),
        time_unix_nano: 1_000 + i as u64,
        ..Default::default()
    };
    let gauge = |m: usize| Metric {
        name: format!("g{m}"),
        data: Some(MetricData::Gauge(Gauge {
            data_points: (0..n).map(point).collect(),
        })),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: (0..10).map(gauge).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_data(Data::Metrics(req), Default::default())
}

#[test]
fn counting_allocates_per_series_not_per_data_point() {
    let config = r#"
datapoints:
  points.by.route:
    conditions: ['metric.name != "none" and attributes["http.route"] != nil']
    attributes: [{key: http.route}]
"#;
    let c = CountConnectorFactory
        .create_from(&create_context("connectors", "count"), &yaml(config))
        .unwrap();
    let small = cost(c.as_ref(), gauges(10));
    let large = cost(c.as_ref(), gauges(1_000));
    assert_eq!(
        small, large,
        "10 x 10 points: {small} allocations, 10 x 1000 points: {large}"
    );
}
