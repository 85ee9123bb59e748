//! End-to-end tests of the `otlp` receiver over real sockets, with tonic and reqwest clients.

use super::compression::{tests::compress, Encoding};
use super::*;
use bytes::Bytes;
use ferrotel_config::Value;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::AnyFactory;
use ferrotel_core::{ComponentId, Data};
use ferrotel_testkit::{metrics, wait_for};
use ferrotel_transport::grpc::{BytesCodec, LOGS_PATH, METRICS_PATH, TRACES_PATH};
use prost::Message;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tonic::codec::CompressionEncoding;

/// A consumer that records what it gets, refusing at admission or at consume on demand.
#[derive(Default)]
pub(crate) struct Capture {
    pub(crate) batches: Mutex<Vec<Batch>>,
    pub(crate) admit_error: Mutex<Option<PipelineError>>,
    pub(crate) consume_error: Mutex<Option<PipelineError>>,
    pub(crate) delay: Mutex<Option<Duration>>,
    /// Calls of `consume` under way, and the most there were at once.
    pub(super) in_flight: AtomicUsize,
    pub(super) max_in_flight: AtomicUsize,
    /// What `decodes_first` answers.
    pub(super) decodes_first: AtomicBool,
}

impl Capture {
    pub(crate) fn take(&self) -> Vec<Batch> {
        std::mem::take(&mut *self.batches.lock().unwrap())
    }
    pub(crate) fn set_admit(&self, e: Option<PipelineError>) {
        *self.admit_error.lock().unwrap() = e;
    }
    pub(crate) fn set_consume(&self, e: Option<PipelineError>) {
        *self.consume_error.lock().unwrap() = e;
    }
}

/// Counts a call of `consume` as under way until dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Consumer for Capture {
    async fn consume(&self, batch: Batch) -> Result<(), PipelineError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _in_flight = InFlight(&self.in_flight);
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap();
        if let Some(d) = delay {
            // Not synchronisation: a slow pipeline, as the test asks.
            tokio::time::sleep(d).await;
        }
        let err = self.consume_error.lock().unwrap().clone();
        if let Some(e) = err {
            return Err(e);
        }
        self.batches.lock().unwrap().push(batch);
        Ok(())
    }
    fn admit(&self) -> Result<(), PipelineError> {
        match self.admit_error.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    fn decodes_first(&self, _signal: Signal) -> bool {
        self.decodes_first.load(Ordering::SeqCst)
    }
}

pub(super) struct Harness {
    pub(super) rx: OtlpReceiver,
    pub(super) capture: Arc<Capture>,
    pub(super) telemetry: Telemetry,
    pub(super) shutdown: CancellationToken,
}

impl Harness {
    pub(super) fn grpc_url(&self) -> String {
        format!("http://{}", self.rx.grpc_addr().unwrap())
    }
    pub(super) fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.rx.http_addr().unwrap())
    }
    pub(super) fn counter(&self, name: &str, transport: &str) -> u64 {
        let series = format!("{name}{{receiver=\"otlp\",transport=\"{transport}\"}}");
        metrics::read(&self.telemetry, &series).map_or(0, |v| v as u64)
    }
}

pub(super) const BASE: &str = "
protocols:
  grpc: { endpoint: 127.0.0.1:0, include_metadata: true }
  http: { endpoint: 127.0.0.1:0, include_metadata: true }
";

/// Starts a receiver with traces, metrics and profiles pipelines (no logs pipeline).
pub(super) async fn start(yaml: &str) -> Harness {
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let cfg = ferrotel_config::decode_valid::<OtlpConfig>("receivers.otlp", &v)
        .unwrap()
        .0;
    let capture = Arc::new(Capture::default());
    let telemetry = Telemetry::new();
    let shutdown = CancellationToken::new();
    let consumer: Arc<dyn Consumer> = capture.clone();
    let ctx = ReceiverContext {
        id: ComponentId::new("otlp"),
        consumers: Consumers {
            traces: Some(consumer.clone()),
            metrics: Some(consumer.clone()),
            logs: None,
            profiles: Some(consumer),
        },
        telemetry: telemetry.clone(),
        shutdown: shutdown.clone(),
        extensions: Default::default(),
        listeners: Default::default(),
    };
    let mut rx = OtlpReceiver::new(cfg);
    rx.start(ctx).await.unwrap();
    Harness {
        rx,
        capture,
        telemetry,
        shutdown,
    }
}

pub(super) fn traces(n: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        name: format!("span-{i}"),
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub(super) fn traces_pb(n: usize) -> Bytes {
    Bytes::from(traces(n).encode_to_vec())
}

// ---------------------------------------------------------------------------------------------
// gRPC

pub(super) async fn grpc_client(h: &Harness) -> tonic::client::Grpc<tonic::transport::Channel> {
    let ch = tonic::transport::Channel::from_shared(h.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    tonic::client::Grpc::new(ch)
}

pub(super) async fn grpc_call(
    client: &mut tonic::client::Grpc<tonic::transport::Channel>,
    path: &'static str,
    body: Bytes,
) -> Result<Bytes, tonic::Status> {
    client.ready().await.unwrap();
    let mut req = tonic::Request::new(body);
    req.metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    client
        .unary(
            req,
            ::http::uri::PathAndQuery::from_static(path),
            BytesCodec,
        )
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn grpc_exports_raw_bytes_plain_gzip_and_zstd() {
    let h = start(BASE).await;
    for enc in [
        None,
        Some(CompressionEncoding::Gzip),
        Some(CompressionEncoding::Zstd),
    ] {
        let mut client = grpc_client(&h).await;
        if let Some(e) = enc {
            client = client.send_compressed(e);
        }
        let body = traces_pb(3);
        let resp = grpc_call(&mut client, TRACES_PATH, body.clone())
            .await
            .unwrap();
        assert_eq!(&resp[..], EMPTY, "{enc:?}");
        let got = h.capture.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].encoded(), body, "the original bytes are passed on");
        assert!(!got[0].is_decoded());
        assert_eq!(got[0].item_count(), 3);
        let meta = &got[0].meta;
        assert_eq!((meta.receiver.as_str(), meta.transport), ("otlp", "grpc"));
        assert!(meta.peer.unwrap().ip().is_loopback());
        assert_eq!(meta.header_values("x-tenant").collect::<Vec<_>>(), ["acme"]);
    }
    assert_eq!(h.counter("otelcol_receiver_accepted_spans", "grpc"), 9);
}

pub(super) const EMPTY: &[u8] = &[0x0a, 0x00];

/// For a pipeline that decodes first, both transports hand over the request decoded, with its
/// original bytes, and refuse a bad one with the same message as the validation walk's path.
#[tokio::test]
async fn a_pipeline_that_decodes_first_gets_the_request_decoded_and_its_bytes() {
    let h = start(BASE).await;
    let mut bad = traces(1);
    bad.resource_spans[0].scope_spans[0].spans[0].span_id = vec![1; 3];
    let bad = Bytes::from(bad.encode_to_vec());
    let mut refusals = vec![];
    for decodes_first in [false, true] {
        h.capture
            .decodes_first
            .store(decodes_first, Ordering::SeqCst);
        let body = traces_pb(3);
        grpc_call(&mut grpc_client(&h).await, TRACES_PATH, body.clone())
            .await
            .unwrap();
        let r = post(&h.http_url("/v1/traces"), Some(PB), None, body.clone()).await;
        assert_eq!(r.status(), 200);
        for got in h.capture.take() {
            assert_eq!(got.is_decoded(), decodes_first);
            assert_eq!(got.encoded(), body, "the original bytes are passed on");
            assert_eq!(got.item_count(), 3);
            let Data::Traces(t) = got.view().unwrap() else {
                panic!("not traces")
            };
            assert_eq!(t, &traces(3));
        }
        let e = grpc_call(&mut grpc_client(&h).await, TRACES_PATH, bad.clone())
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        let r = post(&h.http_url("/v1/traces"), Some(PB), None, bad.clone()).await;
        assert_eq!(r.status(), 400);
        refusals.push((e.message().to_string(), r.bytes().await.unwrap()));
        assert!(h.capture.take().is_empty());
    }
    assert!(refusals[0].0.contains("span_id"), "{}", refusals[0].0);
    assert_eq!(refusals[0], refusals[1]);
}

#[tokio::test]
async fn grpc_errors_map_like_otelcol() {
    let h = start(
        "
protocols:
  grpc: { endpoint: 127.0.0.1:0, max_recv_msg_size_mib: 1 }
",
    )
    .await;
    let mut c = grpc_client(&h).await;
    let good = |c: &mut tonic::client::Grpc<_>| {
        let mut c = c.clone();
        async move { grpc_call(&mut c, TRACES_PATH, traces_pb(1)).await.unwrap() }
    };

    let e = grpc_call(&mut c, TRACES_PATH, Bytes::from_static(b"\x0a\xff\xff"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().contains("failed to unmarshal traces request"),
        "{e}"
    );
    good(&mut c).await;

    // An empty request succeeds without reaching the pipeline.
    h.capture.take();
    grpc_call(&mut c, TRACES_PATH, Bytes::new()).await.unwrap();
    assert!(h.capture.take().is_empty());

    h.capture
        .set_consume(Some(PipelineError::refused("sending queue is full")));
    let e = grpc_call(&mut c, TRACES_PATH, traces_pb(2))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable);
    assert_eq!(e.message(), "sending queue is full");
    assert!(!e.details().is_empty(), "RetryInfo attached");
    assert_eq!(h.counter("otelcol_receiver_refused_spans", "grpc"), 2);

    h.capture
        .set_consume(Some(PipelineError::Permanent("cannot ever work".into())));
    let e = grpc_call(&mut c, TRACES_PATH, traces_pb(1))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Internal);
    h.capture.set_consume(None);

    h.capture.set_admit(Some(PipelineError::refused(
        "data refused due to high memory usage",
    )));
    let e = grpc_call(&mut c, TRACES_PATH, traces_pb(1))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable);
    assert_eq!(e.message(), "data refused due to high memory usage");
    h.capture.set_admit(None);
    good(&mut c).await;

    // Over max_recv_msg_size_mib, plain and gzip-compressed (tiny on the wire, big decoded).
    let big = traces_pb(60_000);
    assert!(big.len() > 1 << 20);
    let e = grpc_call(&mut c, TRACES_PATH, big.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e}");
    assert!(
        e.message()
            .starts_with("grpc: received message larger than max ("),
        "{e}"
    );
    let mut gz = c.clone().send_compressed(CompressionEncoding::Gzip);
    let e = grpc_call(&mut gz, TRACES_PATH, big).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e}");
    good(&mut c).await;

    // Logs have no pipeline; unknown methods are unknown.
    let e = grpc_call(&mut c, LOGS_PATH, Bytes::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unimplemented);
    let e = grpc_call(&mut c, "/foo.Bar/Baz", Bytes::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unimplemented);
    good(&mut c).await;
    let m = grpc_call(&mut c, METRICS_PATH, Bytes::new()).await.unwrap();
    assert_eq!(&m[..], EMPTY);
}

// ---------------------------------------------------------------------------------------------
// HTTP

pub(super) fn http() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

pub(super) async fn post(
    url: &str,
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut r = http().post(url).header("x-tenant", "acme").body(body);
    if let Some(ct) = content_type {
        r = r.header("content-type", ct);
    }
    if let Some(e) = encoding {
        r = r.header("content-encoding", e);
    }
    r.send().await.unwrap()
}

/// A good protobuf request that must succeed (run after every error case).
pub(super) async fn assert_good(h: &Harness) {
    let r = post(&h.http_url("/v1/traces"), Some(PB), None, traces_pb(1)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], EMPTY);
    assert_eq!(h.capture.take().len(), 1);
}

pub(super) const PB: &str = "application/x-protobuf";

#[tokio::test]
async fn http_protobuf_with_every_encoding() {
    let h = start(BASE).await;
    let body = traces_pb(2);
    for (name, enc) in [
        (None, Encoding::Identity),
        (Some("gzip"), Encoding::Gzip),
        (Some("zstd"), Encoding::Zstd),
        (Some("zlib"), Encoding::Zlib),
        (Some("deflate"), Encoding::Zlib),
        (Some("snappy"), Encoding::Snappy),
        (Some("snappy"), Encoding::SnappyFramed),
        (Some("x-snappy-framed"), Encoding::SnappyFramed),
        (Some("lz4"), Encoding::Lz4),
    ] {
        let r = post(
            &h.http_url("/v1/traces"),
            Some("application/x-protobuf; charset=utf-8"),
            name,
            compress(enc, &body),
        )
        .await;
        assert_eq!(r.status(), 200, "{name:?}");
        assert_eq!(r.headers()["content-type"], PB);
        assert_eq!(&r.bytes().await.unwrap()[..], EMPTY);
        let got = h.capture.take();
        assert_eq!(got[0].encoded(), body, "{name:?}");
        assert_eq!(got[0].item_count(), 2);
        assert_eq!(got[0].meta.transport, "http");
        assert_eq!(
            got[0].meta.header_values("x-tenant").collect::<Vec<_>>(),
            ["acme"]
        );
    }
    assert_eq!(h.counter("otelcol_receiver_accepted_spans", "http"), 18);
}

#[tokio::test]
async fn http_json_round_trip_and_h2c() {
    let h = start(BASE).await;
    let json = r#"{"resource_spans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",
        "spanId":"0102030405060708","name":"j","startTimeUnixNano":"1700000000000000001",
        "attributes":[{"key":"n","value":{"intValue":"9007199254740993"}}]}]}]}]}"#;
    let r = post(
        &h.http_url("/v1/traces"),
        Some("application/json"),
        None,
        json,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), r#"{"partialSuccess":{}}"#);
    let got = h.capture.take();
    let Data::Traces(t) = got[0].view().unwrap() else {
        panic!("wrong signal")
    };
    let s = &t.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(s.start_time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(s.trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(
        s.attributes[0].value.as_ref().unwrap().value,
        Some(ferrotel_core::proto::common::v1::any_value::Value::IntValue(9_007_199_254_740_993))
    );

    // h2c (HTTP/2 without TLS) works too.
    let c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = c
        .post(h.http_url("/v1/traces"))
        .header("content-type", PB)
        .body(traces_pb(1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert_eq!(h.capture.take().len(), 1);
}

pub(super) fn status_json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

#[tokio::test]
async fn http_error_contract() {
    let h = start(
        "
protocols:
  http: { endpoint: 127.0.0.1:0, max_request_body_size: 100000 }
",
    )
    .await;
    let url = h.http_url("/v1/traces");

    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(
        r.text().await.unwrap(),
        "405 method not allowed, supported: [POST]"
    );
    assert_good(&h).await;

    for ct in [Some("text/plain"), None] {
        let r = post(&url, ct, None, traces_pb(1)).await;
        assert_eq!(r.status(), 415);
        assert_eq!(r.headers()["content-type"], "text/plain");
        assert_eq!(
            r.text().await.unwrap(),
            "415 unsupported media type, supported: [application/json, application/x-protobuf]"
        );
    }
    assert_good(&h).await;

    let r = post(&h.http_url("/v1/nope"), Some(PB), None, traces_pb(1)).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "404 page not found\n");
    // Logs have no pipeline here.
    let r = post(&h.http_url("/v1/logs"), Some(PB), None, traces_pb(1)).await;
    assert_eq!(r.status(), 404);
    assert_good(&h).await;

    let r = post(&url, Some("application/json"), Some("br"), "{}").await;
    assert_eq!(r.status(), 400);
    let s = status_json(&r.bytes().await.unwrap());
    assert_eq!(s["code"], 3);
    assert_eq!(s["message"], "unsupported Content-Encoding: br");
    let r = post(&url, Some("text/plain"), Some("br"), "{}").await;
    assert_eq!(r.status(), 500);
    assert_good(&h).await;

    // Too large as sent, and as decoded (a gzip bomb: 50 MB of zeros in ~50 kB).
    let r = post(&url, Some(PB), None, vec![0u8; 100_001]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], PB);
    let s = decode_pb_status(&r.bytes().await.unwrap());
    assert_eq!(s, (3, "http: request body too large".to_string()));
    assert_good(&h).await;
    let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &vec![0u8; 50 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let r = post(&url, Some("application/json"), Some("gzip"), bomb).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        status_json(&r.bytes().await.unwrap())["message"],
        "http: request body too large"
    );
    assert_good(&h).await;

    // Malformed payloads.
    let r = post(&url, Some(PB), None, &b"\x0a\xff\xff"[..]).await;
    assert_eq!(r.status(), 400);
    let (code, message) = decode_pb_status(&r.bytes().await.unwrap());
    assert_eq!(code, 3);
    assert!(
        message.contains("failed to unmarshal traces request"),
        "{message}"
    );
    assert_good(&h).await;
    let r = post(
        &url,
        Some("application/json"),
        None,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#,
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/json");
    let s = status_json(&r.bytes().await.unwrap());
    assert_eq!(s["code"], 3);
    assert!(
        s["message"].as_str().unwrap().contains("spans[0].traceId"),
        "{s}"
    );
    let r = post(&url, Some("application/json"), Some("gzip"), "not gzip").await;
    assert_eq!(r.status(), 400);
    assert_good(&h).await;

    // Pipeline refusals: retryable (503 + Retry-After, admission or consume) and permanent (500).
    h.capture.set_admit(Some(PipelineError::refused(
        "data refused due to high memory usage",
    )));
    let r = post(&url, Some("application/json"), None, "{}").await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let s = status_json(&r.bytes().await.unwrap());
    assert_eq!(s["code"], 14);
    assert_eq!(s["message"], "data refused due to high memory usage");
    h.capture.set_admit(None);
    assert_good(&h).await;
    h.capture.set_consume(Some(PipelineError::queue_full()));
    let r = post(&url, Some(PB), None, traces_pb(4)).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(decode_pb_status(&r.bytes().await.unwrap()).0, 14);
    assert_eq!(h.counter("otelcol_receiver_refused_spans", "http"), 4);
    h.capture
        .set_consume(Some(PipelineError::Permanent("bad data".into())));
    let r = post(&url, Some(PB), None, traces_pb(1)).await;
    assert_eq!(r.status(), 500);
    assert!(r.headers().get("retry-after").is_none());
    assert_eq!(
        decode_pb_status(&r.bytes().await.unwrap()),
        (13, "bad data".into())
    );
    h.capture.set_consume(None);
    assert_good(&h).await;

    // Empty request: success, the pipeline is not called.
    let r = post(&url, Some("application/json"), None, "{}").await;
    assert_eq!(r.status(), 200);
    assert!(h.capture.take().is_empty());
}

pub(super) fn decode_pb_status(b: &[u8]) -> (i32, String) {
    #[derive(Clone, PartialEq, prost::Message)]
    struct S {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let s = S::decode(b).unwrap();
    (s.code, s.message)
}

#[tokio::test]
async fn http_cors_paths_and_response_headers() {
    let h = start(
        "
protocols:
  http:
    endpoint: 127.0.0.1:0
    traces_url_path: custom/traces
    response_headers: { x-served-by: ferrotel }
    cors:
      allowed_origins: ['https://*.example.com', 'https://exact.test']
      exposed_headers: [x-served-by]
      max_age: 600
",
    )
    .await;
    let url = h.http_url("/custom/traces");
    let r = http()
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let hd = r.headers();
    assert_eq!(hd["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(hd["access-control-allow-methods"], "POST");
    assert_eq!(hd["access-control-allow-headers"], "content-type");
    assert_eq!(hd["access-control-allow-credentials"], "true");
    assert_eq!(hd["access-control-max-age"], "600");
    assert_eq!(hd["x-served-by"], "ferrotel");

    // A header outside the allowed list, and an origin that is not allowed.
    for (origin, headers) in [
        ("https://app.example.com", "x-custom"),
        ("https://evil.test", "content-type"),
    ] {
        let r = http()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }

    let r = http()
        .post(&url)
        .header("origin", "https://exact.test")
        .header("content-type", PB)
        .body(traces_pb(1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://exact.test"
    );
    assert_eq!(r.headers()["access-control-expose-headers"], "x-served-by");
    assert_eq!(r.headers()["x-served-by"], "ferrotel");
    assert_eq!(h.capture.take().len(), 1);
    let r = post(&h.http_url("/v1/traces"), Some(PB), None, traces_pb(1)).await;
    assert_eq!(r.status(), 404, "the default path is replaced");
    assert_eq!(r.headers()["x-served-by"], "ferrotel");
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

#[tokio::test]
async fn shutdown_answers_requests_in_flight() {
    let mut h = start(BASE).await;
    *h.capture.delay.lock().unwrap() = Some(Duration::from_millis(300));
    let url = h.http_url("/v1/traces");
    let in_flight =
        tokio::spawn(async move { post(&url, Some(PB), None, traces_pb(1)).await.status() });
    assert!(
        wait_for(
            || h.capture.in_flight.load(Ordering::SeqCst) == 1,
            Duration::from_secs(5)
        )
        .await,
        "the request reached the pipeline"
    );
    h.shutdown.cancel();
    h.rx.shutdown().await;
    assert_eq!(in_flight.await.unwrap(), 200);
    assert_eq!(h.capture.take().len(), 1);
    let addr = h.rx.http_addr().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
    h.rx.shutdown().await; // idempotent
}

#[tokio::test]
async fn start_errors_name_the_problem() {
    let ctx = || ReceiverContext {
        id: ComponentId::new("otlp"),
        consumers: Consumers::default(),
        telemetry: Telemetry::new(),
        shutdown: CancellationToken::new(),
        extensions: Default::default(),
        listeners: Default::default(),
    };
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = taken.local_addr().unwrap().to_string();
    let yaml = format!("protocols: {{ http: {{ endpoint: '{endpoint}' }} }}");
    let v: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let cfg = ferrotel_config::decode::<OtlpConfig>("r", &v).unwrap();
    let e = OtlpReceiver::new(cfg).start(ctx()).await.unwrap_err();
    assert!(
        e.0.contains(&endpoint) && e.0.contains("protocols.http.endpoint"),
        "{e}"
    );

    let v: Value = serde_yaml_ng::from_str(
        "protocols: { grpc: { endpoint: '127.0.0.1:0', tls: { cert_file: a.crt } } }",
    )
    .unwrap();
    let cfg = ferrotel_config::decode::<OtlpConfig>("r", &v).unwrap();
    let e = OtlpReceiver::new(cfg).start(ctx()).await.unwrap_err();
    assert!(
        e.0.contains("protocols.grpc.tls.cert_file") && e.0.contains("a.crt"),
        "{e}"
    );
}

#[test]
fn factory_creates_and_reports_config_errors() {
    let f = OtlpReceiverFactory;
    assert_eq!(f.info().type_name, "otlp");
    assert_eq!(f.info().signals.len(), 4);
    assert!(f.info().supports(Signal::Profiles));
    let ctx = CreateContext {
        id: ComponentId::new("otlp"),
        path: "receivers.otlp".into(),
        telemetry: Telemetry::new(),
        signal: None,
        pipeline: None,
        wake: Default::default(),
    };
    let v: Value = serde_yaml_ng::from_str("protocols: { grpc: { endpont: x } }").unwrap();
    let e = f.create_from(&ctx, &v).err().unwrap();
    assert_eq!(e.0[0].path, "receivers.otlp.protocols.grpc.endpont");
    let e = f.create_from(&ctx, &Value::Null).err().unwrap();
    assert_eq!(e.0[0].path, "receivers.otlp.protocols");
    let v: Value = serde_yaml_ng::from_str("protocols: { http: }").unwrap();
    assert!(f.create_from(&ctx, &v).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Profiles (a `profiles` pipeline exists only with the `service.profilesSupport` gate)

#[tokio::test]
async fn profiles_pass_through_as_received_over_grpc_and_http() {
    use ferrotel_transport::grpc::PROFILES_PATH;
    let h = start(BASE).await;
    let req = ferrotel_testkit::fixtures::profiles(5);
    let body = Bytes::from(req.encode_to_vec());

    let mut c = grpc_client(&h).await;
    let resp = grpc_call(&mut c, PROFILES_PATH, body.clone())
        .await
        .unwrap();
    assert_eq!(&resp[..], EMPTY);
    let r = post(
        &h.http_url("/v1development/profiles"),
        Some(PB),
        None,
        body.clone(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], EMPTY);
    for (got, transport) in h.capture.take().iter().zip(["grpc", "http"]) {
        assert_eq!(got.signal(), Signal::Profiles);
        assert_eq!(got.encoded(), body, "{transport}: the bytes received");
        assert!(!got.is_decoded(), "{transport}");
        assert_eq!(got.item_count(), 5);
        assert_eq!(got.meta.transport, transport);
        let accepted = h.counter("otelcol_receiver_accepted_profile_samples", transport);
        assert_eq!(accepted, 5, "{transport}");
    }

    let json = serde_json::to_vec(&req).unwrap();
    let r = post(
        &h.http_url("/v1development/profiles"),
        Some("application/json"),
        None,
        json,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"partialSuccess":{}}"#);
    let got = h.capture.take();
    assert_eq!(got[0].view().unwrap(), &Data::Profiles(req));

    let e = grpc_call(&mut c, PROFILES_PATH, Bytes::from_static(b"\x0a\xff\xff"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().contains("failed to unmarshal profiles request"),
        "{e}"
    );
    let r = post(
        &h.http_url("/v1development/profiles"),
        Some(PB),
        None,
        &b"\x0a\xff\xff"[..],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(h.capture.take().is_empty());
}

#[tokio::test]
async fn no_profiles_endpoints_without_a_profiles_pipeline() {
    use ferrotel_transport::grpc::PROFILES_PATH;
    let v: Value = serde_yaml_ng::from_str(BASE).unwrap();
    let cfg = ferrotel_config::decode_valid::<OtlpConfig>("receivers.otlp", &v)
        .unwrap()
        .0;
    let consumer: Arc<dyn Consumer> = Arc::new(Capture::default());
    let telemetry = Telemetry::new();
    let ctx = ReceiverContext {
        id: ComponentId::new("otlp"),
        consumers: Consumers {
            traces: Some(consumer),
            ..Default::default()
        },
        telemetry: telemetry.clone(),
        shutdown: CancellationToken::new(),
        extensions: Default::default(),
        listeners: Default::default(),
    };
    let mut rx = OtlpReceiver::new(cfg);
    rx.start(ctx).await.unwrap();
    let h = Harness {
        rx,
        capture: Arc::new(Capture::default()),
        telemetry,
        shutdown: CancellationToken::new(),
    };
    let body = Bytes::from(ferrotel_testkit::fixtures::profiles(1).encode_to_vec());
    let e = grpc_call(&mut grpc_client(&h).await, PROFILES_PATH, body.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unimplemented);
    let r = post(&h.http_url("/v1development/profiles"), Some(PB), None, body).await;
    assert_eq!(r.status(), 404);
    let text = h.telemetry.render();
    assert!(
        !text.contains("profile_samples"),
        "no profiles series:\n{text}"
    );
}
