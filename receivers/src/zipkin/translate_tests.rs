//! Zipkin v2 JSON in, exact OTLP out.

use super::model::{self, ZSpan};
use super::translate::to_otlp;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{
    any_value::Value as AV, AnyValue, InstrumentationScope, KeyValue,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::span::{Event, Link};
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

fn kv(k: &str, v: AV) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> AV {
    AV::StringValue(v.into())
}

fn translate(json: &str, parse: bool) -> ExportTraceServiceRequest {
    to_otlp(model::from_json(json.as_bytes()).unwrap(), parse).unwrap()
}

const FRONTEND_SERVER: &str = r#"[{
  "traceId": "4d1e00c0db9010db86154a4ba6e91385",
  "parentId": "86154a4ba6e91385",
  "id": "4d1e00c0db9010db",
  "kind": "SERVER",
  "name": "get /api",
  "timestamp": 1472470996199000,
  "duration": 207000,
  "localEndpoint": {"serviceName": "frontend", "ipv6": "7::80:807f", "port": 8080},
  "remoteEndpoint": {"serviceName": "browser", "ipv4": "192.168.99.101", "port": 9000},
  "annotations": [
    {"timestamp": 1472470996238000, "value": "foo"},
    {"timestamp": 1472470996403000, "value": "bar|{\"k\":\"v\",\"n\":2,\"f\":1.5,\"b\":true}|3"}
  ],
  "tags": {
    "http.path": "/api",
    "clnt/finagle.version": "6.45.0",
    "otel.scope.name": "io.example",
    "otel.scope.version": "1.2.3",
    "host.name": "web-1",
    "w3c.tracestate": "k=v",
    "otel.status_code": "STATUS_CODE_ERROR",
    "otel.status_description": "boom"
  },
  "shared": true
}]"#;

#[test]
fn a_server_span_becomes_exact_otlp() {
    let got = translate(FRONTEND_SERVER, false);
    let want = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("frontend")),
                    kv("host.name", s("web-1")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.example".into(),
                    version: "1.2.3".into(),
                    ..Default::default()
                }),
                spans: vec![Span {
                    trace_id: hex::decode("4d1e00c0db9010db86154a4ba6e91385").unwrap(),
                    span_id: hex::decode("4d1e00c0db9010db").unwrap(),
                    parent_span_id: hex::decode("86154a4ba6e91385").unwrap(),
                    trace_state: "k=v".into(),
                    name: "get /api".into(),
                    kind: 2,
                    start_time_unix_nano: 1_472_470_996_199_000_000,
                    end_time_unix_nano: 1_472_470_996_406_000_000,
                    attributes: vec![
                        kv("clnt/finagle.version", s("6.45.0")),
                        kv("http.path", s("/api")),
                        kv("net.host.ip", s("7::80:807f")),
                        kv("net.host.port", AV::IntValue(8080)),
                        kv("peer.service", s("browser")),
                        kv("net.peer.ip", s("192.168.99.101")),
                        kv("net.peer.port", AV::IntValue(9000)),
                    ],
                    events: vec![
                        Event {
                            time_unix_nano: 1_472_470_996_238_000_000,
                            name: "foo".into(),
                            ..Default::default()
                        },
                        Event {
                            time_unix_nano: 1_472_470_996_403_000_000,
                            name: "bar".into(),
                            attributes: vec![
                                kv("b", AV::BoolValue(true)),
                                kv("f", AV::DoubleValue(1.5)),
                                kv("k", s("v")),
                                kv("n", AV::IntValue(2)),
                            ],
                            dropped_attributes_count: 3,
                        },
                    ],
                    status: Some(Status {
                        code: 2,
                        message: "boom".into(),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    assert_eq!(got, want);
}

#[test]
fn kinds_ids_and_missing_timestamp() {
    let got = translate(
        r#"[
        {"traceId": "1", "id": "2", "kind": "CLIENT", "duration": 5, "name": "c"},
        {"traceId": "00000000000000ab", "id": "3", "parentId": "3", "kind": "PRODUCER", "timestamp": 10},
        {"traceId": "ab", "id": "4", "kind": "CONSUMER", "timestamp": 10},
        {"traceId": "ab", "id": "5", "tags": {"span.kind": "internal"}, "timestamp": 10},
        {"traceId": "ab", "id": "6", "tags": {"span.kind": "other"}, "timestamp": 10}
    ]"#,
        false,
    );
    assert_eq!(got.resource_spans.len(), 1, "one group without a service");
    let rs = &got.resource_spans[0];
    assert_eq!(rs.resource, Some(Resource::default()));
    let spans = &rs.scope_spans[0].spans;
    assert_eq!(spans[0].trace_id, [vec![0; 15], vec![1]].concat());
    assert_eq!(spans[0].span_id, [0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(
        (
            spans[0].kind,
            spans[0].start_time_unix_nano,
            spans[0].end_time_unix_nano
        ),
        (3, 0, 5000)
    );
    assert_eq!(
        spans[0].attributes,
        [kv("otel.zipkin.absentField.startTime", AV::BoolValue(true))]
    );
    assert!(
        spans[1].parent_span_id.is_empty(),
        "a parent equal to the id is dropped"
    );
    assert_eq!(spans[1].trace_id[15], 0xab);
    let kinds: Vec<i32> = spans.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [3, 4, 5, 1, 0]);
    assert!(spans[3].attributes.is_empty() && spans[4].attributes.is_empty());
}

#[test]
fn parse_string_tags_types_values_as_otelcol() {
    let json = r#"[{"traceId": "1", "id": "2", "timestamp": 1, "tags": {
        "int": "123", "neg": "-7", "double": "1.5", "t": "true", "f": "false",
        "big": "99999999999999999999", "exp": "1e5", "True": "True", "empty": "", "str": "x"
    }}]"#;
    let attrs = |parse| {
        translate(json, parse).resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .clone()
    };
    let typed = attrs(true);
    let get = |k: &str| {
        typed
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.clone()?.value)
            .unwrap()
    };
    assert_eq!(get("int"), AV::IntValue(123));
    assert_eq!(get("neg"), AV::IntValue(-7));
    assert_eq!(get("double"), AV::DoubleValue(1.5));
    assert_eq!(get("t"), AV::BoolValue(true));
    assert_eq!(get("f"), AV::BoolValue(false));
    assert_eq!(get("big"), AV::IntValue(i64::MAX));
    assert_eq!(get("exp"), s("1e5"));
    assert_eq!(get("True"), s("True"));
    assert_eq!(get("empty"), s(""));
    assert_eq!(get("str"), s("x"));
    assert!(attrs(false)
        .iter()
        .all(|kv| matches!(kv.value.clone().unwrap().value, Some(AV::StringValue(_)))));
}

#[test]
fn status_from_error_tag_and_otel_status_code() {
    let json = r#"[
        {"traceId": "1", "id": "1", "timestamp": 1, "tags": {"error": "true"}},
        {"traceId": "1", "id": "2", "timestamp": 1, "tags": {"error": "timeout"}},
        {"traceId": "1", "id": "3", "timestamp": 1, "tags": {"otel.status_code": "Ok"}},
        {"traceId": "1", "id": "4", "timestamp": 1, "tags": {"otel.status_code": "ERROR", "error": ""}},
        {"traceId": "1", "id": "5", "timestamp": 1, "tags": {"otel.status_description": "x"}}
    ]"#;
    let got = translate(json, false);
    let spans = &got.resource_spans[0].scope_spans[0].spans;
    let status: Vec<i32> = spans
        .iter()
        .map(|s| s.status.clone().unwrap().code)
        .collect();
    assert_eq!(status, [2, 2, 1, 2, 0]);
    assert!(spans[0].attributes.is_empty(), "error=true is consumed");
    assert_eq!(spans[1].attributes, [kv("error", s("timeout"))]);
    assert_eq!(spans[3].attributes, [kv("error", s(""))]);
    assert_eq!(
        spans[4].attributes,
        [kv("otel.status_description", s("x"))],
        "a description without a code stays an attribute"
    );
}

#[test]
fn spans_are_grouped_per_service_and_scope() {
    let json = r#"[
        {"traceId": "1", "id": "1", "timestamp": 1, "localEndpoint": {"serviceName": "b"}},
        {"traceId": "1", "id": "2", "timestamp": 1, "localEndpoint": {"serviceName": "a"},
         "tags": {"otel.library.name": "lib", "otel.library.version": "2"}},
        {"traceId": "1", "id": "3", "timestamp": 1, "localEndpoint": {"serviceName": "b"},
         "tags": {"otlp.service.name.source": "custom.service"}},
        {"traceId": "1", "id": "4", "timestamp": 1, "localEndpoint": {"serviceName": "a"}},
        {"traceId": "1", "id": "5", "timestamp": 1}
    ]"#;
    let got = translate(json, false);
    let services: Vec<Vec<KeyValue>> = got
        .resource_spans
        .iter()
        .map(|r| r.resource.clone().unwrap().attributes)
        .collect();
    assert_eq!(
        services,
        [
            vec![],
            vec![kv("service.name", s("a"))],
            vec![kv("service.name", s("b"))]
        ]
    );
    let a = &got.resource_spans[1].scope_spans;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].scope.as_ref().unwrap().name, "");
    assert_eq!(a[0].spans[0].span_id[7], 4);
    assert_eq!(
        (
            a[1].scope.clone().unwrap().name,
            a[1].scope.clone().unwrap().version
        ),
        ("lib".to_string(), "2".to_string())
    );
    assert!(a[1].spans[0].attributes.is_empty());
    let b = &got.resource_spans[2].scope_spans[0].spans;
    let ids: Vec<u8> = b.iter().map(|s| s.span_id[7]).collect();
    assert_eq!(ids, [1, 3], "stable within a group");
    assert!(
        b[1].attributes.is_empty(),
        "the source tag is never an attribute"
    );
}

#[test]
fn links_from_otlp_link_tags() {
    let json = r#"[{"traceId": "1", "id": "1", "timestamp": 1, "tags": {
        "otlp.link.0": "0102030405060708090a0b0c0d0e0f10|0102030405060708|ts=1|{\"a\":\"b|c\"}|2",
        "otlp.link.1": "too|short"
    }}]"#;
    let got = translate(json, false);
    let span = &got.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(
        span.links,
        [Link {
            trace_id: (1..=16).collect(),
            span_id: (1..=8).collect(),
            trace_state: "ts=1".into(),
            attributes: vec![kv("a", s("b|c"))],
            dropped_attributes_count: 2,
            ..Default::default()
        }]
    );
    assert!(span.attributes.is_empty());
}

#[test]
fn protobuf_round_trip_matches_json() {
    let spans: Vec<ZSpan> = model::from_json(FRONTEND_SERVER.as_bytes()).unwrap();
    let pb = model::encode::to_protobuf(&spans);
    assert_eq!(model::from_protobuf(&pb, false).unwrap(), spans);
    let debug = model::from_protobuf(&pb, true).unwrap();
    assert!(debug[0].debug);
}

#[test]
fn bad_input_names_the_problem() {
    let cases = [
        ("{}", "invalid Zipkin v2 JSON"),
        ("[{\"id\": \"1\"}]", "span 0: valid traceId required"),
        ("[{\"traceId\": \"1\"}]", "span 0: valid span id required"),
        (
            "[{\"traceId\": \"0\", \"id\": \"1\"}]",
            "valid traceId required",
        ),
        (
            "[{\"traceId\": \"xyz\", \"id\": \"1\"}]",
            "traceId \"xyz\" is not hex",
        ),
        (
            "[{\"traceId\": \"123456789012345678901234567890123\", \"id\": \"1\"}]",
            "longer than 32",
        ),
        (
            "[{\"traceId\": \"1\", \"id\": \"12345678901234567\"}]",
            "longer than 16",
        ),
        (
            "[{\"traceId\": \"1\", \"id\": \"1\", \"localEndpoint\": {\"ipv4\": \"1.2.3\"}}]",
            "invalid ipv4",
        ),
        (
            "[{\"traceId\": \"1\", \"id\": \"1\", \"tags\": {\"a\": 1}}]",
            "invalid Zipkin v2 JSON",
        ),
    ];
    for (json, want) in cases {
        let e = model::from_json(json.as_bytes()).unwrap_err();
        assert!(e.contains(want), "{json}: {e}");
    }
    let e = model::from_protobuf(b"\x0a\x03\x0a\x01\x05", false).unwrap_err();
    assert!(e.contains("trace_id has 1 bytes"), "{e}");
    assert!(model::from_protobuf(b"\xff\xff", false).is_err());
    let e = to_otlp(
        model::from_json(
            br#"[{"traceId": "1", "id": "1", "annotations": [{"timestamp": 1, "value": "a|{x|1"}]}]"#,
        )
        .unwrap(),
        false,
    )
    .unwrap_err();
    assert!(e.contains("annotation"), "{e}");
    assert_eq!(model::from_json(b"[]").unwrap(), vec![]);
    assert_eq!(model::from_json(b"[null]").unwrap(), vec![]);
}
