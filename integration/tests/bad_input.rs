//! Every bad input of otelcol's OTLP error contract, against the real binary, each followed by a
//! good request that must still succeed; and the pipeline refusals (queue full -> retryable,
//! permanent export failure -> 500 / INTERNAL).

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, Collector};
use ferrotel_transport::grpc::{BytesCodec, LOGS_PATH, TRACES_PATH};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::io::Write;
use std::time::Duration;

/// google.rpc.Status, decoded independently.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn good_request(spans: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..spans)
                    .map(|i| Span {
                        trace_id: vec![1; 16],
                        span_id: vec![(i + 1) as u8; 8],
                        name: "ok".into(),
                        attributes: vec![KeyValue {
                            key: "k".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("v".into())),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn collector(sink_port: u16, exporter_extra: &str, receiver_extra: &str) -> Collector {
    let cfg = base_config(
        "  batch:\n    timeout: 20ms",
        &format!("  otlp:\n    endpoint: 127.0.0.1:{sink_port}\n    tls:\n      insecure: true\n{exporter_extra}"),
        "    traces: {receivers: [otlp], exporters: [otlp]}\n    logs: {receivers: [otlp], processors: [batch], exporters: [otlp]}",
    )
    .replace("      http:\n", &format!("      http:\n{receiver_extra}"));
    Collector::start(&cfg, &[])
}

async fn post(
    c: &Collector,
    path: &str,
    ctype: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}{path}", c.ports.http))
        .header("content-type", ctype)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.send().await.expect("request sent")
}

async fn assert_still_serving(c: &Collector) {
    let r = post(
        c,
        "/v1/traces",
        "application/x-protobuf",
        None,
        good_request(1).encode_to_vec(),
    )
    .await;
    assert_eq!(r.status(), 200, "a good request after the bad one");
    assert_eq!(r.bytes().await.expect("body").as_ref(), &[0x0a, 0x00]);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread")]
async fn http_error_contract() {
    let sink = Sink::start().await;
    let c = collector(sink.port(), "", "        max_request_body_size: 65536\n");

    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/traces", c.ports.http))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 405);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/plain"));
    assert_eq!(
        r.text().await.unwrap_or_default().trim(),
        "405 method not allowed, supported: [POST]"
    );
    assert_still_serving(&c).await;

    let r = post(&c, "/v1/traces", "text/plain", None, b"hello".to_vec()).await;
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.text().await.unwrap_or_default().trim(),
        "415 unsupported media type, supported: [application/json, application/x-protobuf]"
    );
    assert_still_serving(&c).await;

    let r = post(&c, "/v1/nothing", "application/x-protobuf", None, vec![]).await;
    assert_eq!(r.status(), 404);
    assert_still_serving(&c).await;

    let r = post(
        &c,
        "/v1/traces",
        "application/x-protobuf",
        Some("br"),
        good_request(1).encode_to_vec(),
    )
    .await;
    assert_eq!(r.status(), 400);
    let st = RpcStatus::decode(r.bytes().await.expect("body")).expect("a google.rpc.Status body");
    assert_eq!(st.code, 3);
    assert!(
        st.message.contains("unsupported Content-Encoding: br"),
        "{}",
        st.message
    );
    assert_still_serving(&c).await;

    let r = post(
        &c,
        "/v1/traces",
        "application/x-protobuf",
        None,
        vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        RpcStatus::decode(r.bytes().await.expect("body"))
            .expect("status")
            .code,
        3
    );
    assert_still_serving(&c).await;

    let r = post(
        &c,
        "/v1/traces",
        "application/json",
        None,
        b"{\"resourceSpans\": [".to_vec(),
    )
    .await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.expect("JSON status");
    assert_eq!(v["code"], 3);
    assert_still_serving(&c).await;

    // Over max_request_body_size (64 KiB): refused without reading it all.
    let r = post(
        &c,
        "/v1/traces",
        "application/x-protobuf",
        None,
        vec![0u8; 10 << 20],
    )
    .await;
    assert_eq!(r.status(), 400);
    let st = RpcStatus::decode(r.bytes().await.expect("body")).expect("status");
    assert!(
        st.message.contains("request body too large"),
        "{}",
        st.message
    );
    assert_still_serving(&c).await;

    // A gzip bomb: 50 KiB compressed, 50 MiB inflated.
    let bomb = gzip(&vec![0u8; 50 << 20]);
    assert!(bomb.len() < 65536);
    let r = post(
        &c,
        "/v1/traces",
        "application/x-protobuf",
        Some("gzip"),
        bomb,
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_still_serving(&c).await;

    // JSON success body.
    let json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"j","kind":2}]}]}]}"#;
    let r = post(&c, "/v1/traces", "application/json", None, json.to_vec()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap_or_default(),
        r#"{"partialSuccess":{}}"#
    );
    let r = post(
        &c,
        "/v1/traces",
        "application/json; charset=utf-8",
        Some("gzip"),
        gzip(json),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(ferrotel_integration::eventually(
        Duration::from_secs(5),
        || sink.span_count() >= 2 + 8
    ));
    assert!(c.stderr().find("panicked").is_none(), "{}", c.stderr());
}

async fn grpc_call(c: &Collector, path: &'static str, body: Vec<u8>) -> Result<(), tonic::Status> {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", c.ports.grpc))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    client
        .unary::<Bytes, Bytes, _>(
            tonic::Request::new(Bytes::from(body)),
            http::uri::PathAndQuery::from_static(path),
            BytesCodec,
        )
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_error_contract() {
    let sink = Sink::start().await;
    let c = collector(sink.port(), "", "");
    let good = || good_request(2).encode_to_vec();

    let e = grpc_call(&c, TRACES_PATH, vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    grpc_call(&c, TRACES_PATH, good())
        .await
        .expect("good after malformed");

    let e = grpc_call(
        &c,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
        good(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unimplemented);
    grpc_call(&c, TRACES_PATH, good())
        .await
        .expect("good after unknown method");

    // Above the default 4 MiB limit.
    let mut big = good_request(1);
    big.resource_spans[0].scope_spans[0].spans[0].name = "x".repeat(5 << 20);
    let e = grpc_call(&c, TRACES_PATH, big.encode_to_vec())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted);
    grpc_call(&c, TRACES_PATH, good())
        .await
        .expect("good after oversize");

    // Metrics have no pipeline in this config.
    let e = grpc_call(
        &c,
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        vec![],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unimplemented);
    grpc_call(&c, LOGS_PATH, vec![])
        .await
        .expect("an empty logs request is fine");
}

#[tokio::test(flavor = "multi_thread")]
async fn full_queue_is_a_retryable_refusal_on_both_transports() {
    let sink = Sink::start().await;
    sink.lock().delay = Duration::from_millis(700);
    let c = collector(
        sink.port(),
        "    sending_queue:\n      queue_size: 1\n      num_consumers: 1\n",
        "",
    );
    let body = good_request(1).encode_to_vec();
    let mut refusals = 0;
    let mut http_retry_after = None;
    for i in 0..6 {
        if i % 2 == 0 {
            if let Err(e) = grpc_call(&c, TRACES_PATH, body.clone()).await {
                assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
                assert!(e.message().contains("sending queue is full"));
                refusals += 1;
            }
        } else {
            let r = post(
                &c,
                "/v1/traces",
                "application/x-protobuf",
                None,
                body.clone(),
            )
            .await;
            if r.status() != 200 {
                assert_eq!(r.status(), 503);
                http_retry_after = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap_or("").to_string());
                refusals += 1;
            }
        }
    }
    assert!(refusals >= 3, "only {refusals} refusals");
    assert!(
        http_retry_after
            .as_deref()
            .is_some_and(|v| v.parse::<u64>().is_ok()),
        "503 carries Retry-After: {http_retry_after:?}"
    );
    assert!(c.metric("otelcol_exporter_enqueue_failed_spans{exporter=\"otlp\"}") >= 3.0);
    assert!(
        c.metric("otelcol_receiver_refused_spans{receiver=\"otlp\",transport=\"grpc\"}") >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_export_failure_is_a_500() {
    let sink = Sink::start().await;
    sink.lock()
        .failures
        .push_back(tonic::Status::invalid_argument("backend rejects this"));
    let c = collector(
        sink.port(),
        "    sending_queue:\n      enabled: false\n",
        "",
    );
    let r = post(
        &c,
        "/v1/traces",
        "application/x-protobuf",
        None,
        good_request(1).encode_to_vec(),
    )
    .await;
    assert_eq!(r.status(), 500);
    let e = grpc_call(&c, TRACES_PATH, good_request(1).encode_to_vec()).await;
    assert!(e.is_ok(), "the sink accepts again: {e:?}");
}
