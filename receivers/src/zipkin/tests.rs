//! The `zipkin` receiver over real sockets, with a reqwest client.

use super::*;
use crate::otlp::compression::{tests::compress, Encoding};
use crate::otlp::tests::Capture;
use ferrotel_config::Value;
use ferrotel_core::{ComponentId, Consumer, Consumers, Telemetry};
use ferrotel_testkit::metrics;
use std::sync::Arc;

struct Harness {
    rx: ZipkinReceiver,
    capture: Arc<Capture>,
    telemetry: Telemetry,
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.rx.addr().unwrap())
    }
    fn counter(&self, name: &str, transport: &str) -> u64 {
        let series = format!("{name}{{receiver=\"zipkin\",transport=\"{transport}\"}}");
        metrics::read(&self.telemetry, &series).map_or(0, |v| v as u64)
    }
    fn spans(&self) -> Vec<ferrotel_core::proto::trace::v1::Span> {
        self.capture
            .take()
            .into_iter()
            .flat_map(|b| match b.view().unwrap().clone() {
                Data::Traces(t) => t.resource_spans,
                _ => vec![],
            })
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }
}

async fn start(yaml: &str) -> Harness {
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let cfg = ferrotel_config::decode_valid::<ZipkinConfig>("receivers.zipkin", &v)
        .unwrap()
        .0;
    let capture = Arc::new(Capture::default());
    let telemetry = Telemetry::new();
    let consumer: Arc<dyn Consumer> = capture.clone();
    let ctx = ReceiverContext {
        id: ComponentId::new("zipkin"),
        consumers: Consumers {
            traces: Some(consumer),
            ..Default::default()
        },
        telemetry: telemetry.clone(),
        shutdown: CancellationToken::new(),
        extensions: Default::default(),
        listeners: Default::default(),
    };
    let mut rx = ZipkinReceiver::new(cfg);
    rx.start(ctx).await.unwrap();
    Harness {
        rx,
        capture,
        telemetry,
    }
}

const BASE: &str = "endpoint: 127.0.0.1:0";

/// Path, Content-Type, Content-Encoding, body, and what the 400's message must contain.
type Case = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    &'static str,
);

const TWO_SPANS: &str = r#"[
  {"traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "name": "get", "kind": "SERVER",
   "timestamp": 1000, "duration": 10, "localEndpoint": {"serviceName": "api"},
   "tags": {"n": "1"}},
  {"traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496d", "parentId": "6b221d5bc9e6496c",
   "name": "db", "kind": "CLIENT", "timestamp": 1001, "duration": 5,
   "localEndpoint": {"serviceName": "api"}}
]"#;

async fn post(
    url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn json_spans_are_accepted_with_202_and_counted() {
    let h = start(&format!("{BASE}\nparse_string_tags: true")).await;
    let r = post(
        &h.url("/api/v2/spans"),
        "application/json",
        None,
        TWO_SPANS.into(),
    )
    .await;
    assert_eq!(r.status(), 202);
    let spans = h.spans();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].name, "get");
    assert_eq!(spans[0].attributes[0].key, "n");
    assert_eq!(
        spans[0].attributes[0].value.clone().unwrap().value,
        Some(ferrotel_core::proto::common::v1::any_value::Value::IntValue(1))
    );
    assert_eq!(spans[1].parent_span_id, spans[0].span_id);
    assert_eq!(
        h.counter("otelcol_receiver_accepted_spans", TRANSPORT_V2_JSON),
        2
    );
    assert_eq!(
        h.counter("otelcol_receiver_refused_spans", TRANSPORT_V2_JSON),
        0
    );
}

#[tokio::test]
async fn protobuf_and_compressed_bodies_are_read() {
    let h = start(BASE).await;
    let spans = model::from_json(TWO_SPANS.as_bytes()).unwrap();
    let pb = model::encode::to_protobuf(&spans);
    for (enc, name) in [
        (Encoding::Identity, None),
        (Encoding::Gzip, Some("gzip")),
        (Encoding::Zlib, Some("deflate")),
        (Encoding::Zstd, Some("zstd")),
    ] {
        let r = post(
            &h.url("/api/v2/spans"),
            "application/x-protobuf",
            name,
            compress(enc, &pb),
        )
        .await;
        assert_eq!(r.status(), 202, "{name:?}");
        let got = h.spans();
        assert_eq!(got.len(), 2, "{name:?}");
        assert_eq!(got[1].kind, 3);
    }
    let r = post(
        &h.url("/api/v2/spans"),
        "application/json",
        Some("gzip"),
        compress(Encoding::Gzip, TWO_SPANS.as_bytes()),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        h.counter("otelcol_receiver_accepted_spans", TRANSPORT_V2_PROTO),
        8
    );
    assert_eq!(
        h.counter("otelcol_receiver_accepted_spans", TRANSPORT_V2_JSON),
        2
    );
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_problem() {
    let h = start("endpoint: 127.0.0.1:0\nmax_request_body_size: 2000").await;
    let cases: [Case; 6] = [
        (
            "/api/v2/spans",
            "application/json",
            None,
            b"{not json".to_vec(),
            "invalid Zipkin v2 JSON",
        ),
        (
            "/api/v2/spans",
            "application/json",
            None,
            br#"[{"id": "1"}]"#.to_vec(),
            "valid traceId required",
        ),
        (
            "/api/v2/spans",
            "application/x-protobuf",
            None,
            b"\xff\xff\xff".to_vec(),
            "ListOfSpans",
        ),
        (
            "/api/v1/spans",
            "application/json",
            None,
            b"[]".to_vec(),
            "Zipkin v1",
        ),
        (
            "/api/v2/spans",
            "application/json",
            None,
            vec![b' '; 3000],
            "request body too large",
        ),
        (
            "/api/v2/spans",
            "application/json",
            Some("br"),
            b"[]".to_vec(),
            "unsupported Content-Encoding: br",
        ),
    ];
    for (path, ct, enc, body, want) in cases {
        let r = post(&h.url(path), ct, enc, body).await;
        assert_eq!(r.status(), 400, "{want}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let text = r.text().await.unwrap();
        assert!(text.contains(want), "{want}: {text}");
    }
    // A gzip bomb stays within the limit.
    let bomb = compress(Encoding::Gzip, &vec![b' '; 1 << 20]);
    let r = post(
        &h.url("/api/v2/spans"),
        "application/json",
        Some("gzip"),
        bomb,
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(h.capture.take().is_empty());
    assert_eq!(
        h.counter("otelcol_receiver_accepted_spans", TRANSPORT_V2_JSON),
        0
    );
}

#[tokio::test]
async fn any_other_path_is_zipkin_v2_as_in_otelcol() {
    let h = start(BASE).await;
    let r = post(
        &h.url("/"),
        "application/json; charset=utf-8",
        None,
        TWO_SPANS.into(),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(h.spans().len(), 2);
}

#[tokio::test]
async fn empty_list_is_accepted_without_reaching_the_pipeline() {
    let h = start(BASE).await;
    let r = post(
        &h.url("/api/v2/spans"),
        "application/json",
        None,
        b"[]".to_vec(),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert!(h.capture.take().is_empty());
}

#[tokio::test]
async fn pipeline_refusals_are_answered_as_otelcol() {
    let h = start(BASE).await;
    h.capture
        .set_consume(Some(PipelineError::refused("sending queue is full")));
    let r = post(
        &h.url("/api/v2/spans"),
        "application/json",
        None,
        TWO_SPANS.into(),
    )
    .await;
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.text().await.unwrap(), r#""Internal Server Error""#);
    assert_eq!(
        h.counter("otelcol_receiver_refused_spans", TRANSPORT_V2_JSON),
        2
    );

    h.capture
        .set_consume(Some(PipelineError::Permanent("bad data".into())));
    let r = post(
        &h.url("/api/v2/spans"),
        "application/json",
        None,
        TWO_SPANS.into(),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), r#""Bad Request""#);
    assert_eq!(
        h.counter("otelcol_receiver_refused_spans", TRANSPORT_V2_JSON),
        4
    );

    h.capture.set_consume(None);
    h.capture
        .set_admit(Some(PipelineError::refused("memory limit")));
    let r = post(
        &h.url("/api/v2/spans"),
        "application/json",
        None,
        TWO_SPANS.into(),
    )
    .await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        h.counter("otelcol_receiver_accepted_spans", TRANSPORT_V2_JSON),
        0
    );
}

#[tokio::test]
async fn config_errors_are_start_errors() {
    let v: Value =
        serde_yaml_ng::from_str("endpoint: 127.0.0.1:0\nmiddlewares: [{id: x}]").unwrap();
    let cfg = ferrotel_config::decode_valid::<ZipkinConfig>("receivers.zipkin", &v)
        .unwrap()
        .0;
    let ctx = ReceiverContext {
        id: ComponentId::new("zipkin"),
        consumers: Consumers::default(),
        telemetry: Telemetry::new(),
        shutdown: CancellationToken::new(),
        extensions: Default::default(),
        listeners: Default::default(),
    };
    let e = ZipkinReceiver::new(cfg).start(ctx).await.unwrap_err();
    assert!(e.0.contains("middlewares is not supported"), "{}", e.0);
}
