//! OTLP -> ferrotel's `jaeger` exporter (Thrift over HTTP, and compact Thrift over UDP to an
//! agent port) -> ferrotel's `jaeger` receiver -> OTLP: what survives the round trip is what
//! otelcol's two translators (`traces_to_jaegerproto` + `ThriftToTraces`) keep, checked value by
//! value: ids, parent, name, kind, times (µs), status, attributes of every type, events, links
//! (as FOLLOWS_FROM references), and the OTel-only fields that Thrift carries as tags.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, Collector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AV;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use std::time::Duration;

fn kv(k: &str, v: AV) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn attr(attrs: &[KeyValue], k: &str) -> Option<AV> {
    attrs
        .iter()
        .find(|kv| kv.key == k)
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value)
}

fn request() -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, 7],
        parent_span_id: vec![0, 0, 0, 0, 0, 0, 0, 3],
        trace_state: "k=v".into(),
        flags: 1,
        name: "GET /checkout".into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_123_456_789,
        end_time_unix_nano: 1_700_000_000_223_456_789,
        attributes: vec![
            kv("s", AV::StringValue("x".into())),
            kv("i", AV::IntValue(-42)),
            kv("d", AV::DoubleValue(2.5)),
            kv("b", AV::BoolValue(true)),
            kv("raw", AV::BytesValue(vec![0, 0xff])),
        ],
        events: vec![Event {
            time_unix_nano: 1_700_000_000_150_000_000,
            name: "cache miss".into(),
            attributes: vec![kv("key", AV::StringValue("cart:1".into()))],
            ..Default::default()
        }],
        links: vec![Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            attributes: vec![kv("why", AV::StringValue("batch".into()))],
            ..Default::default()
        }],
        status: Some(Status {
            code: 2,
            message: "payment declined".into(),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", AV::StringValue("checkout".into())),
                    kv("host.name", AV::StringValue("node-1".into())),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "shop".into(),
                    version: "2.0".into(),
                    ..Default::default()
                }),
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn check(rs: &ResourceSpans, s: &Span) {
    let res = &rs.resource.as_ref().expect("resource").attributes;
    assert_eq!(
        attr(res, "service.name"),
        Some(AV::StringValue("checkout".into()))
    );
    assert_eq!(
        attr(res, "host.name"),
        Some(AV::StringValue("node-1".into()))
    );
    assert_eq!(hex::encode(&s.trace_id), "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(hex::encode(&s.parent_span_id), "0000000000000003");
    assert_eq!((s.name.as_str(), s.kind, s.flags), ("GET /checkout", 2, 1));
    assert_eq!(s.start_time_unix_nano, 1_700_000_000_123_456_000);
    assert_eq!(s.end_time_unix_nano, 1_700_000_000_223_456_000);
    let status = s.status.clone().expect("status");
    assert_eq!(
        (status.code, status.message.as_str()),
        (2, "payment declined")
    );
    assert_eq!(attr(&s.attributes, "s"), Some(AV::StringValue("x".into())));
    assert_eq!(attr(&s.attributes, "i"), Some(AV::IntValue(-42)));
    assert_eq!(attr(&s.attributes, "d"), Some(AV::DoubleValue(2.5)));
    assert_eq!(attr(&s.attributes, "b"), Some(AV::BoolValue(true)));
    assert_eq!(
        attr(&s.attributes, "raw"),
        Some(AV::BytesValue(vec![0, 0xff]))
    );
    // ThriftToTraces keeps the OTel-only tags as attributes: scope and trace state.
    assert_eq!(
        attr(&s.attributes, "otel.scope.name"),
        Some(AV::StringValue("shop".into()))
    );
    assert_eq!(
        attr(&s.attributes, "otel.scope.version"),
        Some(AV::StringValue("2.0".into()))
    );
    assert_eq!(
        attr(&s.attributes, "w3c.tracestate"),
        Some(AV::StringValue("k=v".into()))
    );
    for consumed in [
        "span.kind",
        "otel.status_code",
        "error",
        "otel.status_description",
    ] {
        assert_eq!(attr(&s.attributes, consumed), None, "{consumed}");
    }
    assert_eq!(s.attributes.len(), 8, "{:?}", s.attributes);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.events[0].name, "cache miss");
    assert_eq!(s.events[0].time_unix_nano, 1_700_000_000_150_000_000);
    assert_eq!(
        s.events[0].attributes,
        vec![kv("key", AV::StringValue("cart:1".into()))]
    );
    assert_eq!(s.links.len(), 1);
    assert_eq!(s.links[0].trace_id, vec![9; 16]);
    assert_eq!(s.links[0].span_id, vec![8; 8]);
    assert_eq!(
        s.links[0].attributes,
        vec![kv(
            "opentracing.ref_type",
            AV::StringValue("follows_from".into())
        )]
    );
}

#[test]
fn otlp_through_jaeger_exporter_and_receiver_over_http_and_udp() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let http = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("port")
        .port();
    let cfg = base_config(
        "  batch:\n    timeout: 50ms",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true\n  jaeger/http:\n    endpoint: http://127.0.0.1:{http}/api/traces\n  jaeger/udp:\n    endpoint: 127.0.0.1:{udp}",
            sink.port()
        ),
        "    traces/in: {receivers: [otlp], exporters: [jaeger/http, jaeger/udp]}\n    traces/out: {receivers: [jaeger], processors: [batch], exporters: [otlp]}",
    )
    .replace(
        "receivers:\n",
        &format!("receivers:\n  jaeger:\n    protocols:\n      thrift_http: {{endpoint: '127.0.0.1:{http}'}}\n      thrift_compact: {{endpoint: '127.0.0.1:{udp}'}}\n"),
    );
    let collector = Collector::start(&cfg, &[]);
    rt.block_on(async {
        let url = format!("http://127.0.0.1:{}", collector.ports.grpc);
        let mut client = TraceServiceClient::connect(url).await.expect("connect");
        client.export(request()).await.expect("export");
    });
    assert!(
        eventually(Duration::from_secs(10), || sink.span_count() == 2),
        "got {} spans",
        sink.span_count()
    );
    let st = sink.lock();
    let all: Vec<_> = st.traces.iter().flat_map(|r| &r.resource_spans).collect();
    for rs in &all {
        for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            check(rs, s);
        }
    }
    drop(st);
    for transport in ["collector_http", "udp_thrift_compact"] {
        let series = format!(
            "otelcol_receiver_accepted_spans{{receiver=\"jaeger\",transport=\"{transport}\"}}"
        );
        assert_eq!(collector.metric(&series), 1.0, "{series}");
    }
}
