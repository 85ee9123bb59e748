//! The `filter` processor in the real binary: spans sent over OTLP gRPC, flat
//! `trace_conditions` (context inferred per condition) drop the spans and the resources they
//! hold for, the rest reaches an independent sink, a request left empty is still accepted, and
//! the dropped spans are counted under otelcol's self-metric. With `error_mode: propagate` a
//! condition failing at evaluation fails the request with UNAVAILABLE, as otelcol's
//! non-permanent processor errors do.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, metrics, span_request, Collector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::time::Duration;

fn config(sink: &Sink, filter: &str) -> String {
    base_config(
        &format!("  filter/noise:\n{filter}"),
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
            sink.port()
        ),
        "    traces: {receivers: [otlp], processors: [filter/noise], exporters: [otlp]}",
    )
}

fn env(value: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![KeyValue {
            key: "env".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_conditions_drop_spans_and_resources() {
    let sink = Sink::start().await;
    let filter = "    trace_conditions:\n      - IsMatch(span.name, \"^span-[0-3]$\")\n      - resource.attributes[\"env\"] == \"test\"";
    let c = Collector::start(&config(&sink, filter), &[]);
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{}", c.ports.grpc))
        .await
        .expect("grpc connect");
    client.export(span_request(0..10)).await.expect("accepted");
    let mut test_env = span_request(10..12);
    test_env.resource_spans[0].resource = env("test");
    client
        .export(test_env)
        .await
        .expect("an emptied request is accepted");
    assert!(
        eventually(Duration::from_secs(10), || sink.span_count() >= 6),
        "spans did not arrive; stderr:\n{}",
        c.stderr()
    );
    let mut ids = sink.span_ids();
    ids.sort_unstable();
    assert_eq!(ids, (4..10).collect::<Vec<u64>>());
    let dropped = metrics::sum(
        &c.metrics_text(),
        "otelcol_processor_filter_spans_filtered",
        &[("filter", "filter/noise")],
    );
    assert_eq!(dropped, 6.0, "{}", c.metrics_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn propagate_fails_the_request() {
    let sink = Sink::start().await;
    // Indexing a string fails at evaluation.
    let filter = "    error_mode: propagate\n    trace_conditions:\n      - resource.attributes[\"env\"][\"x\"] == \"y\"";
    let c = Collector::start(&config(&sink, filter), &[]);
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{}", c.ports.grpc))
        .await
        .expect("grpc connect");
    let mut req = span_request(0..2);
    req.resource_spans[0].resource = env("prod");
    let status = client.export(req).await.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("failed to eval condition"),
        "{status:?}"
    );
    assert_eq!(sink.span_count(), 0);
}
