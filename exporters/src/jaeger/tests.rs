use super::translate::{RefType, Tag, TagValue};
use super::*;
use ferrotel_core::proto::common::v1::{
    any_value::Value as V, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{
    span::{Event, Link, SpanKind},
    status::StatusCode,
    ResourceSpans, ScopeSpans, Span, Status,
};
use ferrotel_core::{AnyFactory, RequestMeta};
use ferrotel_testkit::config::{create_context, refused, yaml};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value as Json};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn kv(key: &str, v: Option<V>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: v }),
        ..Default::default()
    }
}

fn s(v: &str) -> Option<V> {
    Some(V::StringValue(v.into()))
}

const TRACE: [u8; 16] = [
    0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 1, 2, 3, 4, 5, 6, 7, 8,
];
const OTHER_TRACE: [u8; 16] = [9; 16];
const SPAN_A: [u8; 8] = [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8];
const SPAN_B: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 0xb];
const PARENT: [u8; 8] = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];
const START: u64 = 1_700_000_000_123_456_789;

fn be(b: &[u8]) -> i64 {
    i64::from_be_bytes(b.try_into().unwrap())
}

/// A span using every mapped feature.
fn full_span() -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: SPAN_A.to_vec(),
        parent_span_id: PARENT.to_vec(),
        trace_state: "k=v".into(),
        flags: 0x301,
        name: "GET /cart".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: START,
        end_time_unix_nano: START + 1_500_999,
        attributes: vec![
            kv("http.method", s("GET")),
            kv("cached", Some(V::BoolValue(true))),
            kv("http.status_code", Some(V::IntValue(-500))),
            kv("ratio", Some(V::DoubleValue(2.5))),
            kv("raw", Some(V::BytesValue(vec![0, 1, 0xff]))),
            kv(
                "list",
                Some(V::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(V::IntValue(1)),
                        },
                        AnyValue { value: s("two") },
                    ],
                })),
            ),
            kv(
                "map",
                Some(V::KvlistValue(KeyValueList {
                    values: vec![kv("b", s("x")), kv("a", Some(V::BoolValue(false)))],
                })),
            ),
            kv("empty", None),
        ],
        events: vec![
            Event {
                time_unix_nano: START + 1_000,
                name: "cache miss".into(),
                attributes: vec![kv("key", s("cart:1"))],
                ..Default::default()
            },
            Event {
                time_unix_nano: START + 2_000,
                name: "ignored".into(),
                attributes: vec![kv("event", s("explicit"))],
                ..Default::default()
            },
            Event {
                time_unix_nano: START + 3_000,
                ..Default::default()
            },
        ],
        links: vec![
            Link {
                trace_id: OTHER_TRACE.to_vec(),
                span_id: SPAN_B.to_vec(),
                attributes: vec![kv("opentracing.ref_type", s("child_of"))],
                ..Default::default()
            },
            Link {
                trace_id: TRACE.to_vec(),
                span_id: SPAN_B.to_vec(),
                ..Default::default()
            },
        ],
        status: Some(Status {
            message: "boom".into(),
            code: StatusCode::Error as i32,
        }),
        ..Default::default()
    }
}

/// A root span with status OK and nothing else.
fn minimal_span() -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: SPAN_B.to_vec(),
        name: "root".into(),
        start_time_unix_nano: 5_000,
        end_time_unix_nano: 4_000,
        status: Some(Status {
            message: String::new(),
            code: StatusCode::Ok as i32,
        }),
        ..Default::default()
    }
}

fn resource(attrs: Vec<KeyValue>, scope_spans: Vec<ScopeSpans>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: attrs,
            ..Default::default()
        }),
        scope_spans,
        ..Default::default()
    }
}

fn scope_spans(scope: Option<(&str, &str)>, spans: Vec<Span>) -> ScopeSpans {
    ScopeSpans {
        scope: scope.map(|(name, version)| InstrumentationScope {
            name: name.into(),
            version: version.into(),
            ..Default::default()
        }),
        spans,
        ..Default::default()
    }
}

/// Three resources: a named service, one without attributes, and one that is skipped.
fn request() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![
            resource(
                vec![
                    kv("host.name", s("h1")),
                    kv("service.name", s("checkout")),
                    kv("pid", Some(V::IntValue(42))),
                ],
                vec![scope_spans(
                    Some(("io.lib", "1.2")),
                    vec![full_span(), minimal_span()],
                )],
            ),
            resource(
                vec![],
                vec![scope_spans(
                    None,
                    vec![Span {
                        trace_id: OTHER_TRACE.to_vec(),
                        span_id: SPAN_B.to_vec(),
                        name: "lonely".into(),
                        kind: SpanKind::Client as i32,
                        ..Default::default()
                    }],
                )],
            ),
            resource(vec![], vec![]),
        ],
    }
}

fn traces(req: ExportTraceServiceRequest) -> Batch {
    Batch::from_data(Data::Traces(req), Arc::new(RequestMeta::default()))
}

// ---------------------------------------------------------------------------------------------
// Translator

fn str_tag<'a>(key: &'a str, v: &'a str) -> Tag<'a> {
    Tag {
        key: Cow::Borrowed(key),
        value: TagValue::Str(Cow::Borrowed(v)),
    }
}

#[test]
fn translates_identity_timing_and_tags_in_order() {
    let rs = resource(
        vec![kv("service.name", s("svc"))],
        vec![scope_spans(Some(("io.lib", "1.2")), vec![full_span()])],
    );
    let b = translate::batch(&rs).unwrap();
    let span = &b.spans[0];
    assert_eq!(span.trace_id_high, 0xf1f2f3f4f5f6f7f8u64 as i64);
    assert!(span.trace_id_high < 0);
    assert_eq!(span.trace_id_low, 0x0102030405060708);
    assert_eq!(span.span_id, 0xa1a2a3a4a5a6a7a8u64 as i64);
    assert_eq!(span.parent_span_id, be(&PARENT));
    assert_eq!(span.operation_name, "GET /cart");
    assert_eq!(span.flags, 1, "only the sampled bit is carried");
    assert_eq!(span.start_time, 1_700_000_000_123_456);
    assert_eq!(span.duration, 1_500, "truncated to whole microseconds");
    let expected = vec![
        str_tag("otel.scope.name", "io.lib"),
        str_tag("otel.scope.version", "1.2"),
        str_tag("http.method", "GET"),
        Tag {
            key: Cow::Borrowed("cached"),
            value: TagValue::Bool(true),
        },
        Tag {
            key: Cow::Borrowed("http.status_code"),
            value: TagValue::Long(-500),
        },
        Tag {
            key: Cow::Borrowed("ratio"),
            value: TagValue::Double(2.5),
        },
        Tag {
            key: Cow::Borrowed("raw"),
            value: TagValue::Binary(Cow::Borrowed(&[0, 1, 0xff])),
        },
        str_tag("list", r#"[1,"two"]"#),
        str_tag("map", r#"{"a":false,"b":"x"}"#),
        str_tag("empty", ""),
        str_tag("span.kind", "server"),
        str_tag("otel.status_code", "ERROR"),
        Tag {
            key: Cow::Borrowed("error"),
            value: TagValue::Bool(true),
        },
        str_tag("otel.status_description", "boom"),
        str_tag("w3c.tracestate", "k=v"),
    ];
    assert_eq!(span.tags, expected);
}

#[test]
fn status_ok_unset_and_kinds() {
    let mut sp = minimal_span();
    let rs = resource(vec![], vec![scope_spans(None, vec![sp.clone()])]);
    let b = translate::batch(&rs).unwrap();
    assert_eq!(b.spans[0].tags, vec![str_tag("otel.status_code", "OK")]);
    assert_eq!(b.spans[0].duration, -1, "end before start is negative");
    assert_eq!(b.spans[0].parent_span_id, 0);
    assert!(b.spans[0].references.is_empty());

    sp.status = Some(Status {
        message: "note".into(),
        code: StatusCode::Unset as i32,
    });
    for (kind, name) in [
        (SpanKind::Client, "client"),
        (SpanKind::Producer, "producer"),
        (SpanKind::Consumer, "consumer"),
        (SpanKind::Internal, "internal"),
    ] {
        sp.kind = kind as i32;
        let rs = resource(vec![], vec![scope_spans(None, vec![sp.clone()])]);
        let b = translate::batch(&rs).unwrap();
        assert_eq!(
            b.spans[0].tags,
            vec![
                str_tag("span.kind", name),
                str_tag("otel.status_description", "note")
            ]
        );
    }
}

#[test]
fn process_service_name_and_skipped_resources() {
    let rs = resource(
        vec![
            kv("a", s("1")),
            kv("service.name", s("svc")),
            kv("b", s("2")),
        ],
        vec![],
    );
    let b = translate::batch(&rs).unwrap();
    assert_eq!(b.process.service_name, "svc");
    assert_eq!(b.process.tags, vec![str_tag("a", "1"), str_tag("b", "2")]);
    assert!(b.spans.is_empty());

    let rs = resource(vec![kv("a", s("1"))], vec![]);
    assert_eq!(translate::batch(&rs).unwrap().process.service_name, "");

    let rs = resource(vec![kv("service.name", Some(V::IntValue(7)))], vec![]);
    assert_eq!(translate::batch(&rs).unwrap().process.service_name, "7");

    let rs = resource(vec![], vec![scope_spans(None, vec![])]);
    let b = translate::batch(&rs).unwrap();
    assert_eq!(b.process.service_name, "OTLPResourceNoServiceName");
    assert!(b.process.tags.is_empty());

    assert!(translate::batch(&resource(vec![], vec![])).is_none());
    assert!(translate::batch(&ResourceSpans::default()).is_none());
}

#[test]
fn parent_and_links_become_references() {
    let rs = resource(vec![], vec![scope_spans(None, vec![full_span()])]);
    let b = translate::batch(&rs).unwrap();
    let refs = &b.spans[0].references;
    assert_eq!(refs.len(), 3);
    assert_eq!(refs[0].ref_type, RefType::ChildOf);
    assert_eq!(refs[0].span_id, be(&PARENT));
    assert_eq!(refs[0].trace_id_high, be(&TRACE[..8]));
    assert_eq!(refs[1].ref_type, RefType::ChildOf, "opentracing.ref_type");
    assert_eq!(refs[1].trace_id_low, be(&OTHER_TRACE[8..]));
    assert_eq!(refs[2].ref_type, RefType::FollowsFrom, "links default");
    assert_eq!(refs[2].span_id, be(&SPAN_B));

    // A link to the parent only changes the parent reference's type; the parent span ID is
    // then the first CHILD_OF reference within the trace.
    let mut sp = full_span();
    sp.links = vec![
        Link {
            trace_id: TRACE.to_vec(),
            span_id: PARENT.to_vec(),
            attributes: vec![kv("opentracing.ref_type", s("follows_from"))],
            ..Default::default()
        },
        Link {
            trace_id: TRACE.to_vec(),
            span_id: SPAN_B.to_vec(),
            attributes: vec![kv("opentracing.ref_type", s("child_of"))],
            ..Default::default()
        },
    ];
    let rs = resource(vec![], vec![scope_spans(None, vec![sp.clone()])]);
    let b = translate::batch(&rs).unwrap();
    let refs = &b.spans[0].references;
    assert_eq!(refs.len(), 2);
    assert_eq!(
        (refs[0].ref_type, refs[0].span_id),
        (RefType::FollowsFrom, be(&PARENT))
    );
    assert_eq!(b.spans[0].parent_span_id, be(&SPAN_B));

    sp.links.truncate(1);
    let rs = resource(vec![], vec![scope_spans(None, vec![sp])]);
    let b = translate::batch(&rs).unwrap();
    assert_eq!(b.spans[0].references.len(), 1);
    assert_eq!(b.spans[0].parent_span_id, 0);
}

#[test]
fn events_become_logs() {
    let rs = resource(vec![], vec![scope_spans(None, vec![full_span()])]);
    let b = translate::batch(&rs).unwrap();
    let logs = &b.spans[0].logs;
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[0].timestamp, 1_700_000_000_123_457);
    assert_eq!(
        logs[0].fields,
        vec![str_tag("event", "cache miss"), str_tag("key", "cart:1")]
    );
    assert_eq!(logs[1].fields, vec![str_tag("event", "explicit")]);
    assert!(logs[2].fields.is_empty(), "no name, no attributes");
}

#[test]
fn agent_datagrams_split_and_drop() {
    let big = |i: u8, size: usize| Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![i; 8],
        name: "x".repeat(size),
        ..Default::default()
    };
    let rs = resource(
        vec![kv("service.name", s("svc"))],
        vec![scope_spans(
            None,
            vec![
                big(1, 300),
                big(2, 300),
                big(3, 5000),
                big(4, 300),
                big(5, 300),
            ],
        )],
    );
    let req = ExportTraceServiceRequest {
        resource_spans: vec![rs],
    };
    let d = encode_agent_datagrams(&req, 1000).unwrap();
    assert_eq!(d.dropped, 1);
    assert_eq!(
        d.packets.len(),
        2,
        "two 300-byte spans per 1000-byte datagram"
    );
    assert!(d.packets.iter().all(|p| p.len() <= 1000));
    let whole = encode_agent_datagrams(&req, 65000).unwrap();
    assert_eq!((whole.packets.len(), whole.dropped), (1, 0));
    // A process too large for any datagram drops every span.
    let d = encode_agent_datagrams(&req, 20).unwrap();
    assert_eq!((d.packets.len(), d.dropped), (0, 5));
}

// ---------------------------------------------------------------------------------------------
// Apache Thrift's decoder

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/jaeger")
}

/// Python classes generated once per test run by the `thrift` compiler from our IDL.
fn generated_python() -> &'static Path {
    static GEN: OnceLock<tempfile::TempDir> = OnceLock::new();
    GEN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("thrift")
            .args(["-r", "--gen", "py", "-out"])
            .arg(dir.path())
            .arg(testdata_dir().join("agent.thrift"))
            .output()
            .unwrap_or_else(|e| {
                panic!("the Apache Thrift compiler `thrift` is needed ({e}): run scripts/setup-test-deps")
            });
        assert!(
            out.status.success(),
            "thrift compiler failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

/// Decodes payloads with decode.py (Apache Thrift's Python library); `mode` is http or udp.
fn thrift_decode(mode: &str, payloads: &[Vec<u8>]) -> Vec<Json> {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-test-deps",
        python.display()
    );
    let gen = generated_python();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&python);
    cmd.arg(testdata_dir().join("decode.py")).arg(gen).arg(mode);
    for (i, p) in payloads.iter().enumerate() {
        let f = dir.path().join(format!("{i}.bin"));
        std::fs::write(&f, p).unwrap();
        cmd.arg(f);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "decode.py failed (if the thrift module is missing, run scripts/setup-test-deps): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn jtag(key: &str, v_type: i64, field: &str, v: Json) -> Json {
    let mut t = json!({
        "key": key, "vType": v_type,
        "vStr": null, "vDouble": null, "vBool": null, "vLong": null, "vBinary": null,
    });
    t[field] = v;
    t
}
fn jstr(key: &str, v: &str) -> Json {
    jtag(key, 0, "vStr", json!(v))
}
fn jref(ref_type: i64, trace: &[u8], span: &[u8]) -> Json {
    json!({
        "refType": ref_type,
        "traceIdLow": be(&trace[8..]),
        "traceIdHigh": be(&trace[..8]),
        "spanId": be(span),
    })
}

/// What Apache Thrift must decode from [`request`], written out from the mapping rules.
fn expected_batches() -> Vec<Json> {
    let scope = [
        jstr("otel.scope.name", "io.lib"),
        jstr("otel.scope.version", "1.2"),
    ];
    let full = json!({
        "traceIdLow": 0x0102030405060708i64,
        "traceIdHigh": 0xf1f2f3f4f5f6f7f8u64 as i64,
        "spanId": 0xa1a2a3a4a5a6a7a8u64 as i64,
        "parentSpanId": be(&PARENT),
        "operationName": "GET /cart",
        "references": [
            jref(0, &TRACE, &PARENT),
            jref(0, &OTHER_TRACE, &SPAN_B),
            jref(1, &TRACE, &SPAN_B),
        ],
        "flags": 1,
        "startTime": 1_700_000_000_123_456i64,
        "duration": 1_500,
        "tags": [
            scope[0], scope[1],
            jstr("http.method", "GET"),
            jtag("cached", 2, "vBool", json!(true)),
            jtag("http.status_code", 3, "vLong", json!(-500)),
            jtag("ratio", 1, "vDouble", json!(2.5)),
            jtag("raw", 4, "vBinary", json!({"hex": "0001ff"})),
            jstr("list", r#"[1,"two"]"#),
            jstr("map", r#"{"a":false,"b":"x"}"#),
            jstr("empty", ""),
            jstr("span.kind", "server"),
            jstr("otel.status_code", "ERROR"),
            jtag("error", 2, "vBool", json!(true)),
            jstr("otel.status_description", "boom"),
            jstr("w3c.tracestate", "k=v"),
        ],
        "logs": [
            {"timestamp": 1_700_000_000_123_457i64,
             "fields": [jstr("event", "cache miss"), jstr("key", "cart:1")]},
            {"timestamp": 1_700_000_000_123_458i64, "fields": [jstr("event", "explicit")]},
            {"timestamp": 1_700_000_000_123_459i64, "fields": []},
        ],
    });
    let minimal = json!({
        "traceIdLow": 0x0102030405060708i64,
        "traceIdHigh": 0xf1f2f3f4f5f6f7f8u64 as i64,
        "spanId": 0xb, "parentSpanId": 0, "operationName": "root",
        "references": [], "flags": 0, "startTime": 5, "duration": -1,
        "tags": [scope[0], scope[1], jstr("otel.status_code", "OK")],
        "logs": [],
    });
    let lonely = json!({
        "traceIdLow": be(&OTHER_TRACE[8..]), "traceIdHigh": be(&OTHER_TRACE[..8]),
        "spanId": 0xb, "parentSpanId": 0, "operationName": "lonely",
        "references": [], "flags": 0, "startTime": 0, "duration": 0,
        "tags": [jstr("span.kind", "client")], "logs": [],
    });
    vec![
        json!({
            "process": {"serviceName": "checkout",
                        "tags": [jstr("host.name", "h1"), jtag("pid", 3, "vLong", json!(42))]},
            "spans": [full, minimal], "seqNo": null, "stats": null,
        }),
        json!({
            "process": {"serviceName": "OTLPResourceNoServiceName", "tags": []},
            "spans": [lonely], "seqNo": null, "stats": null,
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// HTTP: a real hyper server

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// Status and headers of the server's answers.
type Answer = (u16, Vec<(&'static str, &'static str)>);

#[derive(Clone)]
struct Server {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
}

async fn start_server() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server {
        url: format!("http://{}/api/traces", listener.local_addr().unwrap()),
        received: Default::default(),
        answer: Arc::new(Mutex::new((202, vec![]))),
    };
    let s = server.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let s = s.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        s.received.lock().unwrap().push(Received {
                            path: parts.uri.path().to_string(),
                            headers: parts.headers,
                            body: body.to_vec(),
                        });
                        let (status, headers) = s.answer.lock().unwrap().clone();
                        let mut resp = http::Response::builder().status(status);
                        for (k, v) in headers {
                            resp = resp.header(k, v);
                        }
                        let body = Full::new(bytes::Bytes::from_static(b"collector says no"));
                        Ok::<_, std::convert::Infallible>(resp.body(body).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    server
}

fn create(id: &str, config: &str) -> Result<ExporterParts, ConfigErrors> {
    JaegerExporterFactory.create_from(&create_context("exporters", id), &yaml(config))
}

fn create_err(id: &str, config: &str) -> ConfigErrors {
    refused(create(id, config), config)
}

#[tokio::test]
async fn http_posts_decode_with_apache_thrift() {
    let server = start_server().await;
    let exp = create(
        "jaeger_thrift",
        &format!("endpoint: {}\nheaders: {{X-Tenant: t1}}", server.url),
    )
    .unwrap()
    .exporter;
    exp.export(traces(request())).await.unwrap();
    let received = server.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "one POST per non-skipped resource");
    for r in &received {
        assert_eq!(r.path, "/api/traces");
        assert_eq!(r.headers["content-type"], "application/x-thrift");
        assert_eq!(r.headers["x-tenant"], "t1");
    }
    let bodies: Vec<Vec<u8>> = received.into_iter().map(|r| r.body).collect();
    let decoded = thrift_decode("http", &bodies);
    let batches: Vec<Json> = decoded.iter().map(|d| d["batch"].clone()).collect();
    let expected = expected_batches();
    for (got, want) in batches.iter().zip(&expected) {
        assert_eq!(got["process"], want["process"]);
        for (g, w) in got["spans"]
            .as_array()
            .unwrap()
            .iter()
            .zip(want["spans"].as_array().unwrap())
        {
            assert_eq!(g, w);
        }
    }
    assert_eq!(batches, expected);
}

#[tokio::test]
async fn http_statuses_are_classified() {
    let server = start_server().await;
    let exp = create("jaeger", &format!("endpoint: {}", server.url))
        .unwrap()
        .exporter;
    let one_span = || {
        let mut r = request();
        r.resource_spans.truncate(1);
        traces(r)
    };

    *server.answer.lock().unwrap() = (400, vec![]);
    let e = exp.export(one_span()).await.unwrap_err();
    assert!(e.is_permanent(), "{e}");
    assert!(e.to_string().contains("HTTP 400 \"Bad Request\""), "{e}");
    assert!(e.to_string().contains("collector says no"), "{e}");

    *server.answer.lock().unwrap() = (503, vec![("retry-after", "7")]);
    let e = exp.export(one_span()).await.unwrap_err();
    assert_eq!(
        e,
        ExportError::Retryable {
            message: e.to_string(),
            throttle: Some(Duration::from_secs(7))
        }
    );
    *server.answer.lock().unwrap() = (429, vec![]);
    assert!(!exp.export(one_span()).await.unwrap_err().is_permanent());
    *server.answer.lock().unwrap() = (502, vec![]);
    assert!(!exp.export(one_span()).await.unwrap_err().is_permanent());

    *server.answer.lock().unwrap() = (200, vec![]);
    exp.export(one_span()).await.unwrap();

    // Metrics are not traces.
    let metrics = Batch::from_data(
        Data::empty(Signal::Metrics),
        Arc::new(RequestMeta::default()),
    );
    assert!(exp.export(metrics).await.unwrap_err().is_permanent());

    // Nobody listening: retryable.
    let closed = ferrotel_testkit::ReservedPort::new();
    let addr = closed.addr();
    let exp = create("jaeger", &format!("endpoint: http://{addr}/api/traces"))
        .unwrap()
        .exporter;
    assert!(!exp.export(one_span()).await.unwrap_err().is_permanent());
}

// ---------------------------------------------------------------------------------------------
// UDP: a real socket as the agent

/// A fake agent: a UDP socket with a large receive buffer, read by its own thread (so a burst
/// of datagrams is not lost while the exporter runs) until `idle` passes without one.
struct Agent {
    addr: String,
    packets: std::thread::JoinHandle<Vec<Vec<u8>>>,
}

fn agent(idle: Duration) -> Agent {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    sock.set_recv_buffer_size(4 << 20).unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    sock.bind(&addr.into()).unwrap();
    let sock = std::net::UdpSocket::from(sock);
    sock.set_read_timeout(Some(idle)).unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    let packets = std::thread::spawn(move || {
        let mut out = vec![];
        let mut buf = vec![0u8; 70_000];
        while let Ok(n) = sock.recv(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    });
    Agent { addr, packets }
}

impl Agent {
    fn packets(self) -> Vec<Vec<u8>> {
        self.packets.join().unwrap()
    }
}

#[tokio::test]
async fn udp_datagrams_decode_with_apache_thrift() {
    let agent = agent(Duration::from_millis(500));
    let exp = create("jaeger", &format!("endpoint: {}", agent.addr))
        .unwrap()
        .exporter;
    exp.export(traces(request())).await.unwrap();
    exp.export(traces(request())).await.unwrap();
    let packets = agent.packets();
    assert_eq!(packets.len(), 4, "one datagram per resource and export");
    let decoded = thrift_decode("udp", &packets);
    let expected = expected_batches();
    for (i, d) in decoded.iter().enumerate() {
        assert_eq!(d["message"]["name"], "emitBatch");
        assert_eq!(d["message"]["seqid"], i as i64, "sequence numbers count up");
        assert_eq!(d["batch"], expected[i % 2], "datagram {i}");
    }
}

#[tokio::test]
async fn udp_splits_large_batches_across_datagrams() {
    let agent = agent(Duration::from_millis(500));
    let max = 8000;
    let exp = create(
        "jaeger",
        &format!("endpoint: {}\nmax_packet_size: {max}", agent.addr),
    )
    .unwrap()
    .exporter;
    let spans: Vec<Span> = (0..300u64)
        .map(|i| Span {
            trace_id: TRACE.to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: format!("op-{i}"),
            start_time_unix_nano: START + i * 1000,
            end_time_unix_nano: START + i * 1000 + 5000,
            attributes: vec![kv("payload", s(&"p".repeat(400)))],
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![resource(
            vec![kv("service.name", s("bulk")), kv("zone", s("z1"))],
            vec![scope_spans(Some(("lib", "")), spans)],
        )],
    };
    exp.export(traces(req)).await.unwrap();
    let packets = agent.packets();
    assert!(
        packets.len() >= 15,
        "300 spans of ~450 bytes in 8000-byte datagrams: {}",
        packets.len()
    );
    assert!(packets.iter().all(|p| p.len() <= max));

    let decoded = thrift_decode("udp", &packets);
    let mut seen = BTreeSet::new();
    let mut seqids = BTreeSet::new();
    for d in &decoded {
        assert!(d["size"].as_u64().unwrap() <= max as u64);
        seqids.insert(d["message"]["seqid"].as_i64().unwrap());
        let b = &d["batch"];
        assert_eq!(
            b["process"],
            json!({"serviceName": "bulk", "tags": [jstr("zone", "z1")]})
        );
        for sp in b["spans"].as_array().unwrap() {
            let id = sp["spanId"].as_i64().unwrap();
            assert!(seen.insert(id), "span {id} arrived twice");
            assert_eq!(sp["operationName"], format!("op-{}", id - 1));
            assert_eq!(sp["startTime"], (START + (id as u64 - 1) * 1000) / 1000);
            assert_eq!(sp["duration"], 5);
            assert_eq!(sp["tags"][1], jstr("payload", &"p".repeat(400)));
        }
    }
    assert_eq!(
        seen,
        (1..=300).collect::<BTreeSet<i64>>(),
        "every span exactly once"
    );
    assert_eq!(seqids.len(), decoded.len());
}

#[tokio::test]
async fn udp_span_too_large_is_dropped_as_permanent_error() {
    let agent = agent(Duration::from_millis(300));
    let exp = create(
        "jaeger",
        &format!("endpoint: {}\nmax_packet_size: 2000", agent.addr),
    )
    .unwrap()
    .exporter;
    let span = |i: u64, name_len: usize| Span {
        trace_id: TRACE.to_vec(),
        span_id: i.to_be_bytes().to_vec(),
        name: "n".repeat(name_len),
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![resource(
            vec![kv("service.name", s("svc"))],
            vec![scope_spans(
                None,
                vec![span(1, 10), span(2, 5000), span(3, 10)],
            )],
        )],
    };
    let e = exp.export(traces(req)).await.unwrap_err();
    assert!(e.is_permanent(), "{e}");
    assert!(e.to_string().contains("1 span(s) dropped"), "{e}");
    let decoded = thrift_decode("udp", &agent.packets());
    let ids: Vec<i64> = decoded
        .iter()
        .flat_map(|d| d["batch"]["spans"].as_array().unwrap().clone())
        .map(|s| s["spanId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 3]);
}

// ---------------------------------------------------------------------------------------------
// Config

fn testdata(name: &str) -> String {
    std::fs::read_to_string(testdata_dir().join(name)).unwrap()
}

#[test]
fn config_valid() {
    let parts = create("jaeger", &testdata("config_valid.yaml")).unwrap();
    assert_eq!(parts.settings.timeout, GoDuration::from_secs(10));
    assert_eq!(parts.settings.queue.num_consumers, 2);
    assert!(!parts.settings.retry.enabled);
    let d = JaegerConfig::default();
    assert_eq!(
        (d.timeout, d.max_packet_size),
        (GoDuration::from_secs(5), 65000)
    );
    create(
        "jaeger_thrift/agent",
        "endpoint: jaeger-agent:6831\nmax_packet_size: 1500",
    )
    .unwrap();
    create("jaeger", "endpoint: '[::1]:6831'").unwrap();
    let info = JaegerExporterFactory.info();
    assert_eq!(
        (info.type_name, info.aliases),
        ("jaeger", &["jaeger_thrift"][..])
    );
    let signals: Vec<Signal> = info.signals.iter().map(|(s, _)| *s).collect();
    assert_eq!(signals, &[Signal::Traces]);
}

#[test]
fn config_typo_names_the_key() {
    let e = create_err("jaeger/x", &testdata("config_typo.yaml"));
    assert_eq!(e.0[0].path, "exporters.jaeger/x.endpont", "{e}");
}

#[test]
fn config_invalid_values() {
    let e = create_err("jaeger", &testdata("config_invalid.yaml"));
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"exporters.jaeger.endpoint"), "{e}");
    assert!(paths.contains(&"exporters.jaeger.max_packet_size"), "{e}");
    assert!(
        paths.contains(&"exporters.jaeger.sending_queue.num_consumers"),
        "{e}"
    );

    let e = create_err("jaeger", "");
    assert_eq!(e.0[0].path, "exporters.jaeger.endpoint");
    assert_eq!(e.0[0].message, "\"endpoint\" must be specified");
    for bad in [
        "jaeger:0",
        "jaeger",
        ":6831",
        "jaeger:port",
        "grpc://jaeger:14250",
    ] {
        let e = create_err("jaeger", &format!("endpoint: '{bad}'"));
        assert_eq!(e.0[0].path, "exporters.jaeger.endpoint", "{bad}: {e}");
    }
    let e = create_err("jaeger", "endpoint: agent:6831\nheaders: {a: b}");
    assert_eq!(e.0[0].path, "exporters.jaeger.headers");
    let e = create_err(
        "jaeger",
        "endpoint: agent:6831\ntls: {insecure_skip_verify: true}",
    );
    assert_eq!(e.0[0].path, "exporters.jaeger.tls");
    let e = create_err(
        "jaeger",
        "endpoint: http://j:14268/api/traces\ntimeout: soon",
    );
    assert_eq!(e.0[0].path, "exporters.jaeger.timeout");
}

#[test]
fn jaeger_thrift_endpoint_is_a_request_uri_as_otelcol() {
    assert_eq!(
        request_uri_problem(".example:123").as_deref(),
        Some("invalid \"endpoint\": parse \".example:123\": invalid URI for request")
    );
    assert_eq!(request_uri_problem("http://jaeger:14268/api/traces"), None);
    assert_eq!(request_uri_problem("jaeger-agent:6831"), None);
    assert!(request_uri_problem(":123").is_some());
}
