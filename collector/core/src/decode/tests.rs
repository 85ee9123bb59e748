use super::*;
use crate::proto::common::v1::EntityRef;
use prost::Message;

fn s(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        key_strindex: 0,
    }
}

/// A value nested `depth` levels deep, alternating arrays and maps.
fn nested(depth: usize) -> any_value::Value {
    let mut v = any_value::Value::IntValue(7);
    for i in 0..depth {
        let inner = AnyValue { value: Some(v) };
        v = if i % 2 == 0 {
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![inner, AnyValue { value: None }],
            })
        } else {
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: format!("k{i}"),
                    value: Some(inner),
                    key_strindex: 0,
                }],
            })
        };
    }
    v
}

/// Every field of every message of a traces request set, every value type included.
pub(crate) fn rich() -> ExportTraceServiceRequest {
    use any_value::Value::*;
    let attrs = vec![
        s("http.route", "/users/:id"),
        kv("ok", BoolValue(true)),
        kv("n", IntValue(-42)),
        kv("x", DoubleValue(2.5)),
        kv("raw", BytesValue(vec![0, 1, 255])),
        kv("idx", StringValueStrindex(3)),
        kv("deep", nested(6)),
        KeyValue {
            key: String::new(),
            value: None,
            key_strindex: 9,
        },
        KeyValue {
            key: "empty".into(),
            value: Some(AnyValue { value: None }),
            key_strindex: 0,
        },
    ];
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: (1..=8).collect(),
        trace_state: "ot=th:8".into(),
        parent_span_id: (9..=16).collect(),
        flags: 0x301,
        name: "GET /users/:id".into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_100_000_000,
        attributes: attrs.clone(),
        dropped_attributes_count: 1,
        events: vec![span::Event {
            time_unix_nano: 5,
            name: "exception".into(),
            attributes: attrs.clone(),
            dropped_attributes_count: 2,
        }],
        dropped_events_count: 3,
        links: vec![span::Link {
            trace_id: vec![7; 16],
            span_id: vec![8; 8],
            trace_state: "a=b".into(),
            attributes: vec![s("l", "v")],
            dropped_attributes_count: 4,
            flags: 1,
        }],
        dropped_links_count: 5,
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
    };
    let minimal = Span {
        name: "bare".into(),
        kind: -1,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![s("service.name", "checkout")],
                    dropped_attributes_count: 6,
                    entity_refs: vec![],
                }),
                scope_spans: vec![
                    ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "express".into(),
                            version: "1.0".into(),
                            attributes: vec![s("a", "b")],
                            dropped_attributes_count: 7,
                        }),
                        spans: vec![span.clone(), minimal, span],
                        schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
                    },
                    ScopeSpans::default(),
                ],
                schema_url: "r".into(),
            },
            ResourceSpans::default(),
        ],
    }
}

fn prost_decode(b: &[u8]) -> Option<ExportTraceServiceRequest> {
    ExportTraceServiceRequest::decode(b).ok()
}

#[test]
fn every_field_decodes_as_prost_decodes_it() {
    let req = rich();
    let bytes = req.encode_to_vec();
    let fast = traces(&bytes).expect("an encoder's request is decoded here");
    assert_eq!(fast, req);
    assert_eq!(Some(fast), prost_decode(&bytes));
}

#[test]
fn repeated_fields_are_allocated_at_their_exact_length() {
    let bytes = rich().encode_to_vec();
    let req = traces(&bytes).unwrap();
    let spans = &req.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.capacity(), 3);
    assert_eq!(req.resource_spans.capacity(), 2);
    let events = &spans[0].events;
    assert_eq!(events.capacity(), events.len());
}

#[test]
fn resource_and_span_attributes_have_room_for_four_more() {
    let bytes = rich().encode_to_vec();
    let req = traces(&bytes).unwrap();
    let resource = req.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(
        resource.attributes.capacity(),
        resource.attributes.len() + 4
    );
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert!(!span.attributes.is_empty());
    assert_eq!(span.attributes.capacity(), span.attributes.len() + 4);
}

/// A request of the rich span followed by an unknown field of each wire type.
pub(crate) fn with_unknown_fields() -> Vec<u8> {
    let mut span = rich().resource_spans[0].scope_spans[0].spans[0].encode_to_vec();
    // 100: varint, 101: fixed64, 102: bytes, 103: fixed32.
    span.extend_from_slice(&[0xa0, 0x06, 0x05]);
    span.extend_from_slice(&[0xa9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]);
    span.extend_from_slice(&[0xb2, 0x06, 0x02, b'h', b'i']);
    span.extend_from_slice(&[0xbd, 0x06, 1, 2, 3, 4]);
    wrap_span(&span)
}

#[test]
fn unknown_fields_are_skipped_as_prost_skips_them() {
    let body = with_unknown_fields();
    let fast = traces(&body).expect("unknown fields are skipped");
    assert_eq!(Some(fast.clone()), prost_decode(&body));
    assert_eq!(
        fast.resource_spans[0].scope_spans[0].spans[0].name,
        "GET /users/:id"
    );
}

#[test]
fn shapes_left_to_prost_are_unsure_and_still_decode() {
    // Entity references on the resource.
    let mut req = rich();
    req.resource_spans[0].resource.as_mut().unwrap().entity_refs = vec![EntityRef {
        r#type: "service".into(),
        id_keys: vec!["service.name".into()],
        ..Default::default()
    }];
    let bytes = req.encode_to_vec();
    assert_eq!(traces(&bytes), None);
    assert_eq!(prost_decode(&bytes), Some(req.clone()));
    assert_eq!(
        crate::Data::decode(crate::Signal::Traces, &bytes).unwrap(),
        crate::Data::Traces(req)
    );

    // A singular message sent twice (merged by protobuf): a span's status.
    let mut span = Span::default().encode_to_vec();
    span.extend_from_slice(&[0x7a, 0x02, 0x18, 0x01]); // status { code: 1 }
    span.extend_from_slice(&[0x7a, 0x03, 0x12, 0x01, b'm']); // status { message: "m" }
    let body = wrap_span(&span);
    assert_eq!(traces(&body), None);
    let merged = prost_decode(&body).unwrap();
    let st = merged.resource_spans[0].scope_spans[0].spans[0]
        .status
        .clone();
    assert_eq!(
        st,
        Some(Status {
            message: "m".into(),
            code: 1
        })
    );

    // Values nested deeper than MAX_VALUE_DEPTH.
    let mut deep = ExportTraceServiceRequest::default();
    deep.resource_spans.push(ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![Span {
                attributes: vec![kv("d", nested(MAX_VALUE_DEPTH + 1))],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let bytes = deep.encode_to_vec();
    assert_eq!(traces(&bytes), None);
    assert_eq!(prost_decode(&bytes), Some(deep.clone()));
    let mut ok = deep;
    ok.resource_spans[0].scope_spans[0].spans[0].attributes =
        vec![kv("d", nested(MAX_VALUE_DEPTH))];
    let bytes = ok.encode_to_vec();
    assert_eq!(traces(&bytes), Some(ok));
}

fn wrap_span(span: &[u8]) -> Vec<u8> {
    let mut scope = Vec::new();
    crate::wire::put_bytes_field(&mut scope, 2, span);
    let mut rs = Vec::new();
    crate::wire::put_bytes_field(&mut rs, 2, &scope);
    let mut body = Vec::new();
    crate::wire::put_bytes_field(&mut body, 1, &rs);
    body
}

#[test]
fn invalid_input_is_unsure_where_prost_fails() {
    let mut bad_utf8 = Span::default().encode_to_vec();
    bad_utf8.extend_from_slice(&[0x2a, 0x02, 0xc3, 0x28]); // name: invalid UTF-8
    let wrong_type = [0x28, 0x01]; // name (5) sent as a varint
    let group = [0x0b, 0x0c]; // a group as field 1 of the span
    for span in [&bad_utf8[..], &wrong_type[..], &group[..]] {
        let body = wrap_span(span);
        assert_eq!(traces(&body), None, "{span:?}");
        assert_eq!(prost_decode(&body), None, "{span:?}");
    }
    assert_eq!(traces(&[0x0a, 0x05, 0x00]), None, "truncated");
}

/// A small deterministic generator for the mutations below.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `seed` with one to three random edits: a byte replaced, a bit flipped, a cut, a byte inserted.
pub(crate) fn mutated(seed: &[u8], rng: &mut XorShift) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            break;
        }
        let at = rng.below(b.len());
        match rng.below(4) {
            0 => b[at] = rng.next() as u8,
            1 => b[at] ^= 1 << rng.below(8),
            2 => b.truncate(at),
            _ => b.insert(at, rng.next() as u8),
        }
    }
    b
}

/// Random edits of encoded requests: wherever this decoder answers, prost agrees, and wherever
/// prost fails, this decoder does not answer.
#[test]
fn mutated_requests_decode_as_prost_decodes_them_or_not_at_all() {
    let seeds = [rich().encode_to_vec(), with_unknown_fields()];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (mut answered, mut prost_ok) = (0, 0);
    for i in 0..20_000 {
        let b = mutated(&seeds[i % 2], &mut rng);
        let fast = traces(&b);
        let slow = prost_decode(&b);
        if let Some(f) = &fast {
            answered += 1;
            assert_eq!(Some(f), slow.as_ref(), "mutation {i}: {b:?}");
        }
        if slow.is_some() {
            prost_ok += 1;
        }
    }
    // The property is only meaningful if both outcomes occur often.
    assert!(answered > 1_000, "answered {answered}");
    assert!(
        prost_ok > answered / 2 && prost_ok < 20_000,
        "prost accepted {prost_ok}"
    );
}
