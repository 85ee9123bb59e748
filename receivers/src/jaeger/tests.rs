//! The `jaeger` receiver over real loopback sockets: reqwest for `thrift_http`, tonic for
//! `grpc`, std UDP sockets for the agent ports; payloads encoded with the `thrift` crate's
//! protocols (ferrotel_transport's encoder) and prost.

use super::proto::{self as pb, PostSpansRequest};
use super::*;
use crate::otlp::tests::Capture;
use bytes::Bytes;
use ferrotel_config::Value;
use ferrotel_core::proto::common::v1::any_value::Value as AV;
use ferrotel_core::proto::trace::v1::{ResourceSpans, Span as OtlpSpan};
use ferrotel_core::{ComponentId, Consumer, Consumers, Telemetry};
use ferrotel_testkit::metrics;
use ferrotel_transport::grpc::BytesCodec;
use ferrotel_transport::jaeger::encode;
use ferrotel_transport::jaeger::model::{self, Tag, TagValue};
use prost::Message;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

struct Harness {
    rx: JaegerReceiver,
    capture: Arc<Capture>,
    telemetry: Telemetry,
}

impl Harness {
    fn counter(&self, series: &str) -> u64 {
        metrics::read(&self.telemetry, series).map_or(0, |v| v as u64)
    }
    fn accepted(&self, transport: &str) -> u64 {
        self.counter(&format!(
            "otelcol_receiver_accepted_spans{{receiver=\"jaeger\",transport=\"{transport}\"}}"
        ))
    }
    fn resource_spans(&self) -> Vec<ResourceSpans> {
        self.capture
            .take()
            .into_iter()
            .flat_map(|b| match b.view().unwrap().clone() {
                Data::Traces(t) => t.resource_spans,
                _ => vec![],
            })
            .collect()
    }
    /// Waits for `n` spans to reach the pipeline (UDP is asynchronous).
    async fn wait_spans(&self, n: usize) -> Vec<ResourceSpans> {
        let mut got = vec![];
        for _ in 0..200 {
            got.extend(self.resource_spans());
            let count: usize = got
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            if count >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {n} spans arrived: {got:?}");
    }
}

/// Starts a receiver; the config is decoded without otelcol's port check so that tests can
/// listen on port 0.
async fn start(yaml: &str) -> Harness {
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let cfg: JaegerConfig = ferrotel_config::decode("receivers.jaeger", &v).unwrap();
    let capture = Arc::new(Capture::default());
    let telemetry = Telemetry::new();
    let consumer: Arc<dyn Consumer> = capture.clone();
    let ctx = ReceiverContext {
        id: ComponentId::new("jaeger"),
        consumers: Consumers {
            traces: Some(consumer),
            ..Default::default()
        },
        telemetry: telemetry.clone(),
        shutdown: CancellationToken::new(),
        extensions: Default::default(),
        listeners: Default::default(),
    };
    let mut rx = JaegerReceiver::new(cfg);
    rx.start(ctx).await.unwrap();
    Harness {
        rx,
        capture,
        telemetry,
    }
}

const ALL: &str = "protocols:
  grpc: {endpoint: '127.0.0.1:0'}
  thrift_http: {endpoint: '127.0.0.1:0'}
  thrift_compact: {endpoint: '127.0.0.1:0'}
  thrift_binary: {endpoint: '127.0.0.1:0'}";

fn tag(k: &'static str, v: TagValue<'static>) -> Tag<'static> {
    Tag {
        key: Cow::Borrowed(k),
        value: v,
    }
}

fn str_tag(k: &'static str, v: &'static str) -> Tag<'static> {
    tag(k, TagValue::Str(Cow::Borrowed(v)))
}

/// A batch of two spans: a server span and its erroring client child.
fn thrift_batch() -> model::Batch<'static> {
    let span = |id: i64, parent: i64, name: &'static str, tags| model::Span {
        trace_id_low: 0x1122,
        trace_id_high: 0x0102,
        span_id: id,
        parent_span_id: parent,
        operation_name: Cow::Borrowed(name),
        flags: 1,
        start_time: 1_700_000_000_000_000,
        duration: 1500,
        tags,
        ..Default::default()
    };
    let mut server = span(
        10,
        0,
        "GET /items",
        vec![
            str_tag("span.kind", "server"),
            tag("item.count", TagValue::Long(3)),
        ],
    );
    server.logs = vec![model::Log {
        timestamp: 1_700_000_000_000_100,
        fields: vec![
            str_tag("event", "work.done"),
            tag("rows", TagValue::Long(7)),
        ],
    }];
    let client = span(
        11,
        10,
        "SELECT",
        vec![
            str_tag("span.kind", "client"),
            tag("error", TagValue::Bool(true)),
            str_tag("otel.status_description", "connection reset"),
        ],
    );
    model::Batch {
        process: model::Process {
            service_name: Cow::Borrowed("shop"),
            tags: vec![str_tag("hostname", "web-1")],
        },
        spans: vec![server, client],
    }
}

fn attr<'a>(s: &'a OtlpSpan, k: &str) -> Option<&'a AV> {
    ferrotel_core::pdata::attr(&s.attributes, k)
}

/// What `thrift_batch` must become, whichever Thrift transport carried it.
fn check_thrift_batch(rs: &[ResourceSpans]) {
    assert_eq!(rs.len(), 1);
    let res = rs[0].resource.as_ref().unwrap();
    assert_eq!(
        ferrotel_core::pdata::attr_str(&res.attributes, "service.name"),
        Some("shop")
    );
    assert_eq!(
        ferrotel_core::pdata::attr_str(&res.attributes, "host.name"),
        Some("web-1")
    );
    let spans = &rs[0].scope_spans[0].spans;
    assert_eq!(spans.len(), 2);
    let (server, client) = (&spans[0], &spans[1]);
    assert_eq!(
        hex::encode(&server.trace_id),
        "00000000000001020000000000001122"
    );
    assert_eq!(hex::encode(&server.span_id), "000000000000000a");
    assert!(server.parent_span_id.is_empty());
    assert_eq!(server.kind, 2);
    assert_eq!(server.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(server.end_time_unix_nano, 1_700_000_000_001_500_000);
    assert_eq!(server.flags, 1);
    assert_eq!(attr(server, "item.count"), Some(&AV::IntValue(3)));
    assert_eq!(attr(server, "span.kind"), None);
    assert_eq!(server.events.len(), 1);
    assert_eq!(server.events[0].name, "work.done");
    assert_eq!(server.events[0].time_unix_nano, 1_700_000_000_000_100_000);
    assert_eq!(server.events[0].attributes.len(), 1);
    assert_eq!(client.name, "SELECT");
    assert_eq!(hex::encode(&client.parent_span_id), "000000000000000a");
    assert_eq!(client.kind, 3);
    let status = client.status.as_ref().unwrap();
    assert_eq!(
        (status.code, status.message.as_str()),
        (2, "connection reset")
    );
    assert!(client.attributes.is_empty(), "{:?}", client.attributes);
}

// ---------------------------------------------------------------------------------------------
// thrift_http

async fn post(h: &Harness, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let url = format!("http://{}{path}", h.rx.addrs().thrift_http.unwrap());
    let mut req = reqwest::Client::new().post(url).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn thrift_http_batch_is_accepted_with_202_and_translated() {
    let h = start(ALL).await;
    let body = encode::binary_batch(&thrift_batch()).unwrap();
    for ct in [
        "application/x-thrift",
        "application/vnd.apache.thrift.binary; charset=x",
    ] {
        let (status, text) = post(&h, "/api/traces", Some(ct), body.clone()).await;
        assert_eq!((status, text.as_str()), (202, ""));
        check_thrift_batch(&h.resource_spans());
    }
    assert_eq!(h.accepted(TRANSPORT_HTTP), 4);
}

/// Path, Content-Type, body, the status and the start of the answer.
type BadRequest = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test]
async fn thrift_http_bad_requests_get_otelcols_answers_and_others_are_still_served() {
    let h = start(ALL).await;
    let good = encode::binary_batch(&thrift_batch()).unwrap();
    let cases: [BadRequest; 5] = [
        (
            "/api/traces",
            Some("application/x-thrift"),
            b"garbage!".to_vec(),
            400,
            "Unable to process request body: unknown Thrift type 103\n",
        ),
        (
            "/api/traces",
            Some("application/x-thrift"),
            good[..good.len() / 2].to_vec(),
            400,
            "Unable to process request body: unexpected end of input",
        ),
        (
            "/api/traces",
            Some("application/json"),
            good.clone(),
            400,
            "Unsupported content type: application/json\n",
        ),
        (
            "/api/traces",
            None,
            good.clone(),
            400,
            "Cannot parse content type: mime: no media type\n",
        ),
        (
            "/api/other",
            Some("application/x-thrift"),
            good.clone(),
            404,
            "404 page not found\n",
        ),
    ];
    for (path, ct, body, status, text) in cases {
        let (got, got_text) = post(&h, path, ct, body).await;
        assert_eq!(got, status, "{path} {ct:?}: {got_text}");
        assert!(got_text.starts_with(text), "{got_text:?} vs {text:?}");
    }
    let url = format!("http://{}/api/traces", h.rx.addrs().thrift_http.unwrap());
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 405);
    assert!(h.resource_spans().is_empty());
    let (status, _) = post(&h, "/api/traces", Some("application/x-thrift"), good).await;
    assert_eq!(status, 202);
    assert_eq!(h.accepted(TRANSPORT_HTTP), 2);
}

#[tokio::test]
async fn thrift_http_pipeline_refusal_is_500_and_counted() {
    let h = start(ALL).await;
    h.capture
        .set_consume(Some(PipelineError::Permanent("sink is full".into())));
    let body = encode::binary_batch(&thrift_batch()).unwrap();
    let (status, text) = post(&h, "/api/traces", Some("application/x-thrift"), body).await;
    assert_eq!(status, 500);
    assert!(text.starts_with("Cannot submit Jaeger batch: "), "{text}");
    assert!(text.contains("sink is full"), "{text}");
    assert_eq!(
        h.counter(
            "otelcol_receiver_refused_spans{receiver=\"jaeger\",transport=\"collector_http\"}"
        ),
        2
    );
}

// ---------------------------------------------------------------------------------------------
// UDP agent

fn udp_send(to: std::net::SocketAddr, datagram: &[u8]) {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(datagram, to).unwrap();
}

#[tokio::test]
async fn compact_and_binary_datagrams_are_translated() {
    let h = start(ALL).await;
    let b = thrift_batch();
    let compact = encode::agent_datagrams(&b, 65000, || 1).unwrap();
    udp_send(h.rx.addrs().thrift_compact.unwrap(), &compact.packets[0]);
    check_thrift_batch(&h.wait_spans(2).await);
    let binary = encode::emit_batch_binary(&b.process, &b.spans, 2).unwrap();
    udp_send(h.rx.addrs().thrift_binary.unwrap(), &binary);
    check_thrift_batch(&h.wait_spans(2).await);
    assert_eq!(h.accepted(TRANSPORT_COMPACT), 2);
    assert_eq!(h.accepted(TRANSPORT_BINARY), 2);
}

#[tokio::test]
async fn garbage_datagrams_are_dropped_counted_and_the_port_keeps_serving() {
    let h = start(ALL).await;
    let addr = h.rx.addrs().thrift_compact.unwrap();
    udp_send(addr, b"\x82\x81\x00\x09emitBatch\xff\xff");
    udp_send(addr, b"not thrift at all");
    // A binary datagram on the compact port does not decode either.
    let b = thrift_batch();
    udp_send(
        addr,
        &encode::emit_batch_binary(&b.process, &b.spans, 2).unwrap(),
    );
    let good = encode::agent_datagrams(&b, 65000, || 1).unwrap();
    udp_send(addr, &good.packets[0]);
    check_thrift_batch(&h.wait_spans(2).await);
    let dropped = "ferrotel_receiver_dropped_datagrams{reason=\"decode\",receiver=\"jaeger\",transport=\"udp_thrift_compact\"}";
    for _ in 0..100 {
        if h.counter(dropped) == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.counter(dropped), 3);
}

#[tokio::test]
async fn a_full_queue_drops_datagrams_and_counts_them() {
    let h =
        start("protocols: {thrift_compact: {endpoint: '127.0.0.1:0', queue_size: 1, workers: 1}}")
            .await;
    *h.capture.delay.lock().unwrap() = Some(Duration::from_millis(300));
    let good = encode::agent_datagrams(&thrift_batch(), 65000, || 1).unwrap();
    let addr = h.rx.addrs().thrift_compact.unwrap();
    for _ in 0..6 {
        udp_send(addr, &good.packets[0]);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let dropped = h.counter("ferrotel_receiver_dropped_datagrams{reason=\"queue_full\",receiver=\"jaeger\",transport=\"udp_thrift_compact\"}");
    assert!(dropped >= 3, "dropped {dropped}");
    let kept = 6 - dropped as usize;
    let got = h.wait_spans(2 * kept).await;
    assert_eq!(got.len(), kept);
}

// ---------------------------------------------------------------------------------------------
// gRPC

async fn grpc_call(h: &Harness, path: &'static str, body: Bytes) -> Result<Bytes, tonic::Status> {
    let url = format!("http://{}", h.rx.addrs().grpc.unwrap());
    let ch = tonic::transport::Channel::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(ch);
    client.ready().await.unwrap();
    client
        .unary(
            tonic::Request::new(body),
            ::http::uri::PathAndQuery::from_static(path),
            BytesCodec,
        )
        .await
        .map(|r| r.into_inner())
}

fn kv(key: &str, v_type: i32, f: impl FnOnce(&mut pb::KeyValue)) -> pb::KeyValue {
    let mut k = pb::KeyValue {
        key: key.into(),
        v_type,
        ..Default::default()
    };
    f(&mut k);
    k
}

fn kv_str(key: &str, v: &str) -> pb::KeyValue {
    kv(key, 0, |k| k.v_str = v.into())
}

fn proto_request() -> PostSpansRequest {
    let trace_id: Vec<u8> = (1..=16).collect();
    let ts = |s| {
        Some(pb::prost_types_lite::Timestamp {
            seconds: s,
            nanos: 5,
        })
    };
    let span = |id: u8, name: &str| pb::Span {
        trace_id: trace_id.clone(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        operation_name: name.into(),
        flags: 1,
        start_time: ts(1_700_000_000),
        duration: Some(pb::prost_types_lite::Duration {
            seconds: 0,
            nanos: 2_000_000,
        }),
        ..Default::default()
    };
    let mut root = span(1, "root");
    root.tags = vec![
        kv_str("otel.scope.name", "lib"),
        kv_str("otel.scope.version", "1.0"),
        kv_str("w3c.tracestate", "k=v"),
        kv_str("otel.status_code", "OK"),
        kv("blob", 4, |k| k.v_binary = vec![1, 2]),
        kv("pi", 3, |k| k.v_float64 = 3.5),
    ];
    root.logs = vec![pb::Log {
        timestamp: ts(1_700_000_001),
        fields: vec![kv_str("event", "boom"), kv("n", 2, |k| k.v_int64 = 9)],
    }];
    let mut child = span(2, "child");
    child.references = vec![
        pb::SpanRef {
            trace_id: trace_id.clone(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, 1],
            ref_type: 0,
        },
        pb::SpanRef {
            trace_id: vec![9; 16],
            span_id: vec![7; 8],
            ref_type: 1,
        },
    ];
    child.process = Some(pb::Process {
        service_name: "other".into(),
        tags: vec![],
    });
    PostSpansRequest {
        batch: Some(pb::Batch {
            spans: vec![root, child],
            process: Some(pb::Process {
                service_name: "api".into(),
                tags: vec![kv_str("jaeger.version", "Python-4.8.0")],
            }),
        }),
    }
}

#[tokio::test]
async fn grpc_post_spans_is_translated_as_proto_to_traces() {
    let h = start(ALL).await;
    let body = Bytes::from(proto_request().encode_to_vec());
    let resp = grpc_call(&h, grpc::POST_SPANS_PATH, body).await.unwrap();
    assert!(resp.is_empty());
    let rs = h.resource_spans();
    assert_eq!(
        rs.len(),
        2,
        "the span with its own process has its own resource"
    );
    let res = &rs[0].resource.as_ref().unwrap().attributes;
    assert_eq!(
        ferrotel_core::pdata::attr_str(res, "service.name"),
        Some("api")
    );
    assert_eq!(
        ferrotel_core::pdata::attr_str(res, "opencensus.exporterversion"),
        Some("Jaeger-Python-4.8.0")
    );
    let scope = rs[0].scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("lib", "1.0")
    );
    let root = &rs[0].scope_spans[0].spans[0];
    assert_eq!(root.trace_state, "k=v");
    assert_eq!(root.status.as_ref().unwrap().code, 1);
    assert_eq!(root.start_time_unix_nano, 1_700_000_000_000_000_005);
    assert_eq!(root.end_time_unix_nano, 1_700_000_000_002_000_005);
    assert_eq!(attr(root, "blob"), Some(&AV::BytesValue(vec![1, 2])));
    assert_eq!(attr(root, "pi"), Some(&AV::DoubleValue(3.5)));
    assert_eq!(root.attributes.len(), 2);
    assert_eq!(root.events[0].name, "boom");
    assert_eq!(root.events[0].time_unix_nano, 1_700_000_001_000_000_005);
    let other = &rs[1];
    assert_eq!(
        ferrotel_core::pdata::attr_str(
            &other.resource.as_ref().unwrap().attributes,
            "service.name"
        ),
        Some("other")
    );
    let child = &other.scope_spans[0].spans[0];
    assert_eq!(hex::encode(&child.parent_span_id), "0000000000000001");
    assert_eq!(child.links.len(), 1);
    assert_eq!(hex::encode(&child.links[0].span_id), "0707070707070707");
    assert_eq!(
        ferrotel_core::pdata::attr_str(&child.links[0].attributes, "opentracing.ref_type"),
        Some("follows_from")
    );
    assert_eq!(h.accepted(TRANSPORT_GRPC), 2);
}

#[tokio::test]
async fn grpc_bad_messages_and_methods_get_grpc_gos_statuses() {
    let h = start(ALL).await;
    let e = grpc_call(
        &h,
        grpc::POST_SPANS_PATH,
        Bytes::from_static(b"\xff\xff\xff"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Internal);
    assert!(
        e.message()
            .starts_with("grpc: error unmarshalling request: "),
        "{}",
        e.message()
    );
    let mut bad_id = proto_request();
    bad_id.batch.as_mut().unwrap().spans[0].trace_id = vec![1, 2, 3];
    let e = grpc_call(
        &h,
        grpc::POST_SPANS_PATH,
        Bytes::from(bad_id.encode_to_vec()),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Internal);
    assert!(
        e.message().contains("invalid length for TraceID: 3 bytes"),
        "{}",
        e.message()
    );
    let e = grpc_call(&h, "/jaeger.api_v2.CollectorService/GetTrace", Bytes::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unimplemented);
    assert_eq!(
        e.message(),
        "unknown method GetTrace for service jaeger.api_v2.CollectorService"
    );
    // Still serving.
    let ok = grpc_call(
        &h,
        grpc::POST_SPANS_PATH,
        Bytes::from(proto_request().encode_to_vec()),
    )
    .await;
    assert!(ok.is_ok());
    assert!(h.resource_spans().len() == 2);
}

#[tokio::test]
async fn shutdown_stops_every_listener() {
    let mut h = start(ALL).await;
    let a = h.rx.addrs();
    h.rx.shutdown().await;
    assert!(tokio::net::TcpStream::connect(a.thrift_http.unwrap())
        .await
        .is_err());
    assert!(tokio::net::TcpStream::connect(a.grpc.unwrap())
        .await
        .is_err());
    // The UDP port is free again.
    assert!(std::net::UdpSocket::bind(a.thrift_compact.unwrap()).is_ok());
}
