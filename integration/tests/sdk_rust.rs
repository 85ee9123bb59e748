//! The Rust OpenTelemetry SDK (opentelemetry-otlp) sends spans and logs to ferrotel over gRPC,
//! HTTP protobuf and HTTP JSON; ferrotel's otlp exporter forwards them to an independent sink,
//! where every field is compared with what the SDK was given.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, Collector, Ports};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AV;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::time::Duration;

fn forwarding_config(sink_port: u16) -> String {
    base_config(
        "  batch:\n    timeout: 50ms",
        &format!("  otlp:\n    endpoint: 127.0.0.1:{sink_port}\n    tls:\n      insecure: true\n    retry_on_failure:\n      initial_interval: 100ms"),
        "    traces: {receivers: [otlp], processors: [batch], exporters: [otlp]}\n    logs: {receivers: [otlp], processors: [batch], exporters: [otlp]}\n    metrics: {receivers: [otlp], processors: [batch], exporters: [otlp]}",
    )
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Grpc,
    HttpProto,
    HttpJson,
}

/// Sends 5 spans with the SDK over `transport`; returns (trace id hex, span id hex) per span.
fn send_spans(transport: Transport, ports: Ports) -> Vec<(String, String)> {
    // tonic needs a Tokio reactor; the HTTP exporters use a blocking client and need none.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = matches!(transport, Transport::Grpc).then(|| rt.enter());
    let exporter = match transport {
        Transport::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://127.0.0.1:{}", ports.grpc))
            .with_compression(opentelemetry_otlp::Compression::Gzip)
            .build(),
        Transport::HttpProto | Transport::HttpJson => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(if matches!(transport, Transport::HttpJson) {
                Protocol::HttpJson
            } else {
                Protocol::HttpBinary
            })
            .with_endpoint(format!("http://127.0.0.1:{}/v1/traces", ports.http))
            .with_headers(
                [("x-test".to_string(), "yes".to_string())]
                    .into_iter()
                    .collect(),
            )
            .build(),
    }
    .expect("exporter builds");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("rust-sdk-test")
                .with_attribute(KeyValue::new("host.name", "ci-host"))
                .build(),
        )
        .build();
    let tracer = provider.tracer_with_scope(
        opentelemetry::InstrumentationScope::builder("rust-scope")
            .with_version("9.9.9")
            .build(),
    );
    let mut ids = vec![];
    for i in 0..5i64 {
        let mut span = tracer
            .span_builder(format!("op-{i}"))
            .with_kind(SpanKind::Server)
            .start(&tracer);
        span.set_attribute(KeyValue::new("item.index", i));
        span.set_attribute(KeyValue::new("big.number", 9_007_199_254_740_993i64));
        span.set_attribute(KeyValue::new("ratio", 0.25));
        span.set_attribute(KeyValue::new("ok", true));
        span.set_attribute(KeyValue::new("name.str", "héllo \"quoted\""));
        span.add_event("checkpoint", vec![KeyValue::new("rows", 7i64)]);
        if i == 0 {
            span.set_status(Status::error("boom"));
        }
        let ctx = span.span_context().clone();
        ids.push((ctx.trace_id().to_string(), ctx.span_id().to_string()));
        span.end();
    }
    let _ = opentelemetry::Context::current()
        .span()
        .span_context()
        .is_valid();
    provider.shutdown().expect("sdk flushes");
    ids
}

fn attr<'a>(s: &'a Span, k: &str) -> Option<&'a AV> {
    s.attributes
        .iter()
        .find(|kv| kv.key == k)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn check_transport(transport: Transport) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let collector = Collector::start(&forwarding_config(sink.port()), &[]);
    let ports = collector.ports;
    // The SDK runs on a plain thread: its blocking HTTP client must not run inside a runtime.
    let ids = std::thread::spawn(move || send_spans(transport, ports))
        .join()
        .expect("sdk thread");
    assert!(
        eventually(Duration::from_secs(10), || sink.span_count() == 5),
        "{transport:?}: sink got {} spans",
        sink.span_count()
    );

    let st = sink.lock();
    let rs = &st
        .traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .collect::<Vec<_>>();
    let res = rs[0].resource.as_ref().expect("resource");
    let res_attr = |k: &str| {
        res.attributes
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.clone())
    };
    assert_eq!(
        res_attr("service.name"),
        Some(AV::StringValue("rust-sdk-test".into()))
    );
    assert_eq!(
        res_attr("host.name"),
        Some(AV::StringValue("ci-host".into()))
    );
    let scope = rs[0].scope_spans[0].scope.as_ref().expect("scope");
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("rust-scope", "9.9.9")
    );
    let spans: Vec<&Span> = rs
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    for (i, (tid, sid)) in ids.iter().enumerate() {
        let s = spans
            .iter()
            .find(|s| hex::encode(&s.span_id) == *sid)
            .unwrap_or_else(|| panic!("{transport:?}: span {sid} missing"));
        assert_eq!(hex::encode(&s.trace_id), *tid);
        assert_eq!(s.name, format!("op-{i}"));
        assert_eq!(s.kind, 2, "server kind");
        assert!(
            s.end_time_unix_nano >= s.start_time_unix_nano
                && s.start_time_unix_nano > 1_600_000_000_000_000_000
        );
        assert_eq!(attr(s, "item.index"), Some(&AV::IntValue(i as i64)));
        assert_eq!(
            attr(s, "big.number"),
            Some(&AV::IntValue(9_007_199_254_740_993)),
            "64-bit ints survive (JSON encodes them as strings)"
        );
        assert_eq!(attr(s, "ratio"), Some(&AV::DoubleValue(0.25)));
        assert_eq!(attr(s, "ok"), Some(&AV::BoolValue(true)));
        assert_eq!(
            attr(s, "name.str"),
            Some(&AV::StringValue("héllo \"quoted\"".into()))
        );
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.events[0].name, "checkpoint");
        let status = s
            .status
            .as_ref()
            .map(|st| (st.code, st.message.clone()))
            .unwrap_or_default();
        if i == 0 {
            assert_eq!(status, (2, "boom".to_string()));
        } else {
            assert_eq!(status.0, 0);
        }
    }
}

#[test]
fn rust_sdk_over_grpc() {
    check_transport(Transport::Grpc);
}

#[test]
fn rust_sdk_over_http_protobuf() {
    check_transport(Transport::HttpProto);
}

#[test]
fn rust_sdk_over_http_json() {
    check_transport(Transport::HttpJson);
}
