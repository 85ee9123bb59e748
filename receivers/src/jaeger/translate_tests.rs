//! otelcol's Jaeger->OTLP rules, case by case (`pkg/translator/jaeger`'s
//! `jaegerthrift_to_traces.go` / `jaegerproto_to_traces.go` and their tests).

use super::proto as pb;
use super::translate::*;
use ferrotel_core::pdata::{attr, attr_str};
use ferrotel_core::proto::common::v1::any_value::Value as AV;
use ferrotel_core::proto::trace::v1::{ResourceSpans, Span as OtlpSpan};
use ferrotel_transport::jaeger::model::{
    Batch, Log, Process, RefType, Span, SpanRef, Tag, TagValue,
};
use std::borrow::Cow;

fn t(k: &'static str, v: TagValue<'static>) -> Tag<'static> {
    Tag {
        key: Cow::Borrowed(k),
        value: v,
    }
}

fn s(k: &'static str, v: &'static str) -> Tag<'static> {
    t(k, TagValue::Str(Cow::Borrowed(v)))
}

fn base_span(tags: Vec<Tag<'static>>) -> Span<'static> {
    Span {
        trace_id_low: 2,
        trace_id_high: 1,
        span_id: 3,
        operation_name: "op".into(),
        start_time: 10,
        duration: 5,
        tags,
        ..Default::default()
    }
}

fn one(span: Span<'static>) -> OtlpSpan {
    let b = Batch {
        process: Process {
            service_name: "svc".into(),
            tags: vec![],
        },
        spans: vec![span],
    };
    let rs = thrift_batch(&b);
    rs[0].scope_spans[0].spans[0].clone()
}

fn status(span: &OtlpSpan) -> Option<(i32, &str)> {
    span.status.as_ref().map(|s| (s.code, s.message.as_str()))
}

#[test]
fn error_tag_wins_over_otel_status_code_and_both_are_removed() {
    let sp = one(base_span(vec![
        s("otel.status_code", "OK"),
        t("error", TagValue::Bool(true)),
        s("otel.status_description", "boom"),
        s("keep", "me"),
    ]));
    assert_eq!(status(&sp), Some((2, "boom")));
    assert_eq!(sp.attributes.len(), 1);
    assert_eq!(attr_str(&sp.attributes, "keep"), Some("me"));
}

#[test]
fn error_false_or_not_bool_is_an_ordinary_attribute() {
    let sp = one(base_span(vec![t("error", TagValue::Bool(false))]));
    assert_eq!(status(&sp), None);
    assert_eq!(attr(&sp.attributes, "error"), Some(&AV::BoolValue(false)));
    let sp = one(base_span(vec![s("error", "true")]));
    assert_eq!(status(&sp), None);
    assert_eq!(attr_str(&sp.attributes, "error"), Some("true"));
}

#[test]
fn otel_status_code_is_case_insensitive_and_unknown_codes_are_unset() {
    let sp = one(base_span(vec![
        s("otel.status_code", "error"),
        s("otel.status_description", "d"),
    ]));
    assert_eq!(status(&sp), Some((2, "d")));
    assert!(sp.attributes.is_empty());
    let sp = one(base_span(vec![s("otel.status_code", "weird")]));
    assert_eq!(status(&sp), Some((0, "")));
}

#[test]
fn error_message_falls_back_to_http_status_message() {
    let sp = one(base_span(vec![
        t("error", TagValue::Bool(true)),
        s("http.status_message", "Bad Gateway"),
    ]));
    assert_eq!(status(&sp), Some((2, "Bad Gateway")));
    // Not removed: only the tags that became the status are.
    assert_eq!(
        attr_str(&sp.attributes, "http.status_message"),
        Some("Bad Gateway")
    );
}

#[test]
fn http_status_code_sets_the_status_by_kind() {
    let case = |kind: &'static str, code: TagValue<'static>| {
        status(&one(base_span(vec![
            s("span.kind", kind),
            t("http.status_code", code),
        ])))
        .map(|(c, _)| c)
    };
    assert_eq!(case("server", TagValue::Long(500)), Some(2));
    assert_eq!(case("server", TagValue::Long(404)), None);
    assert_eq!(case("client", TagValue::Long(404)), Some(2));
    assert_eq!(case("client", TagValue::Str("503".into())), Some(2));
    assert_eq!(case("client", TagValue::Long(200)), None);
    assert_eq!(case("client", TagValue::Str("OK".into())), None);
    let sp = one(base_span(vec![
        t("http.status_code", TagValue::Long(502)),
        s("http.status_message", "upstream"),
    ]));
    assert_eq!(status(&sp), Some((2, "upstream")));
    // http.status_code stays an attribute.
    assert_eq!(
        attr(&sp.attributes, "http.status_code"),
        Some(&AV::IntValue(502))
    );
}

#[test]
fn span_kind_tag_becomes_the_kind_and_is_removed() {
    for (k, want) in [
        ("client", 3),
        ("server", 2),
        ("producer", 4),
        ("consumer", 5),
        ("internal", 1),
        ("other", 0),
    ] {
        let sp = one(base_span(vec![s("span.kind", k)]));
        assert_eq!(sp.kind, want, "{k}");
        assert!(sp.attributes.is_empty());
    }
}

#[test]
fn repeated_keys_keep_their_first_place_and_last_value() {
    let sp = one(base_span(vec![
        s("a", "1"),
        s("b", "2"),
        t("a", TagValue::Long(3)),
    ]));
    let keys: Vec<_> = sp.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(attr(&sp.attributes, "a"), Some(&AV::IntValue(3)));
    // Past the indexed threshold too.
    let mut tags: Vec<_> = (0..40)
        .map(|i| t(["x", "y"][i % 2], TagValue::Long(i as i64)))
        .collect();
    tags.push(s("z", "last"));
    let sp = one(base_span(tags));
    assert_eq!(sp.attributes.len(), 3);
    assert_eq!(attr(&sp.attributes, "x"), Some(&AV::IntValue(38)));
    assert_eq!(attr(&sp.attributes, "y"), Some(&AV::IntValue(39)));
}

#[test]
fn every_tag_type_maps_to_its_value() {
    let sp = one(base_span(vec![
        s("s", "v"),
        t("d", TagValue::Double(1.5)),
        t("b", TagValue::Bool(true)),
        t("l", TagValue::Long(-1)),
        t("x", TagValue::Binary(Cow::Borrowed(&[0xde, 0xad]))),
    ]));
    let vals: Vec<_> = sp
        .attributes
        .iter()
        .map(|kv| kv.value.clone().unwrap().value.unwrap())
        .collect();
    assert_eq!(
        vals,
        [
            AV::StringValue("v".into()),
            AV::DoubleValue(1.5),
            AV::BoolValue(true),
            AV::IntValue(-1),
            AV::BytesValue(vec![0xde, 0xad])
        ]
    );
}

fn r(ref_type: RefType, high: i64, low: i64, span: i64) -> SpanRef {
    SpanRef {
        ref_type,
        trace_id_low: low,
        trace_id_high: high,
        span_id: span,
    }
}

#[test]
fn parent_comes_from_parent_span_id_else_references_of_the_same_trace() {
    let mut sp = base_span(vec![]);
    sp.parent_span_id = 9;
    sp.references = vec![r(RefType::ChildOf, 1, 2, 9)];
    let o = one(sp.clone());
    assert_eq!(o.parent_span_id, 9i64.to_be_bytes());
    assert!(o.links.is_empty(), "the parent's CHILD_OF is no link");

    // No parentSpanId: CHILD_OF of another trace is no parent; FOLLOWS_FROM of this one is.
    sp.parent_span_id = 0;
    sp.references = vec![
        r(RefType::ChildOf, 7, 7, 5),
        r(RefType::FollowsFrom, 1, 2, 6),
    ];
    let o = one(sp.clone());
    assert_eq!(o.parent_span_id, 6i64.to_be_bytes());
    assert_eq!(o.links.len(), 2, "a FOLLOWS_FROM parent is still a link");
    assert_eq!(
        hex::encode(&o.links[0].trace_id),
        "00000000000000070000000000000007"
    );
    assert_eq!(
        attr_str(&o.links[0].attributes, "opentracing.ref_type"),
        Some("child_of")
    );
    assert_eq!(
        attr_str(&o.links[1].attributes, "opentracing.ref_type"),
        Some("follows_from")
    );

    // CHILD_OF of the same trace is preferred to an earlier FOLLOWS_FROM.
    sp.references = vec![
        r(RefType::FollowsFrom, 1, 2, 6),
        r(RefType::ChildOf, 1, 2, 8),
    ];
    assert_eq!(one(sp).parent_span_id, 8i64.to_be_bytes());
}

#[test]
fn logs_become_events_named_by_their_event_field() {
    let mut sp = base_span(vec![]);
    sp.logs = vec![
        Log {
            timestamp: 7,
            fields: vec![s("event", "retry"), t("n", TagValue::Long(1))],
        },
        Log {
            timestamp: 8,
            fields: vec![s("message", "no name")],
        },
        Log {
            timestamp: 9,
            fields: vec![t("event", TagValue::Long(5))],
        },
        Log {
            timestamp: 10,
            fields: vec![],
        },
    ];
    let o = one(sp);
    let names: Vec<_> = o.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["retry", "", "", ""]);
    assert_eq!(o.events[0].time_unix_nano, 7000);
    assert_eq!(o.events[0].attributes.len(), 1);
    assert_eq!(
        attr_str(&o.events[1].attributes, "message"),
        Some("no name")
    );
    assert!(
        o.events[2].attributes.is_empty(),
        "a non-string event is removed too"
    );
}

#[test]
fn times_sampled_flag_and_thrift_tags_that_only_protobuf_reads() {
    let mut sp = base_span(vec![
        s("w3c.tracestate", "a=b"),
        s("otel.scope.name", "lib"),
    ]);
    sp.flags = 3;
    let o = one(sp);
    assert_eq!(
        (o.start_time_unix_nano, o.end_time_unix_nano),
        (10_000, 15_000)
    );
    assert_eq!(o.flags, 1, "only the sampled bit");
    // ThriftToTraces reads neither the trace state nor the scope.
    assert_eq!(o.trace_state, "");
    assert_eq!(attr_str(&o.attributes, "w3c.tracestate"), Some("a=b"));
    assert_eq!(attr_str(&o.attributes, "otel.scope.name"), Some("lib"));
}

#[test]
fn blank_spans_are_skipped_and_an_empty_batch_has_a_resource_without_spans() {
    let b = Batch {
        process: Process {
            service_name: "svc".into(),
            tags: vec![],
        },
        spans: vec![Span::default(), base_span(vec![])],
    };
    let rs = thrift_batch(&b);
    assert_eq!(rs[0].scope_spans[0].spans.len(), 1);
    let rs = thrift_batch(&Batch {
        process: b.process.clone(),
        spans: vec![],
    });
    assert_eq!(rs.len(), 1);
    assert!(rs[0].scope_spans.is_empty());
}

fn res_attrs(rs: &ResourceSpans) -> Vec<(String, AV)> {
    rs.resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap()))
        .collect()
}

#[test]
fn process_becomes_the_resource_with_otelcols_renames() {
    let b = |name: &'static str, tags| Batch {
        process: Process {
            service_name: name.into(),
            tags,
        },
        spans: vec![],
    };
    let rs = thrift_batch(&b(
        "svc",
        vec![
            s("hostname", "h1"),
            s("jaeger.version", "Go-2.30"),
            s("ip", "10.0.0.1"),
        ],
    ));
    assert_eq!(
        res_attrs(&rs[0]),
        [
            // pcommon.Map.Remove moves the last attribute into the removed one's place.
            ("service.name".to_string(), AV::StringValue("svc".into())),
            ("host.name".into(), AV::StringValue("h1".into())),
            (
                "opencensus.exporterversion".into(),
                AV::StringValue("Jaeger-Go-2.30".into())
            ),
            ("ip".into(), AV::StringValue("10.0.0.1".into())),
        ]
    );
    // An existing host.name wins; hostname stays.
    let rs = thrift_batch(&b("svc", vec![s("host.name", "a"), s("hostname", "b")]));
    assert_eq!(res_attrs(&rs[0]).len(), 3);
    // No service name: no service.name attribute.
    let rs = thrift_batch(&b("", vec![]));
    assert!(res_attrs(&rs[0]).is_empty());
}

#[test]
fn proto_no_service_name_process_is_an_empty_resource() {
    let batch = pb::Batch {
        spans: vec![pb::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        }],
        process: Some(pb::Process {
            service_name: "OTLPResourceNoServiceName".into(),
            tags: vec![pb::KeyValue {
                key: "k".into(),
                v_str: "v".into(),
                ..Default::default()
            }],
        }),
    };
    let rs = proto_batch(&batch).unwrap();
    assert!(res_attrs(&rs[0]).is_empty());
    // Spans without otel.scope.* share an empty scope.
    let scope = rs[0].scope_spans[0].scope.as_ref().unwrap();
    assert_eq!((scope.name.as_str(), scope.version.as_str()), ("", ""));
}

#[test]
fn proto_unknown_value_type_is_otelcols_string() {
    let kv = pb::KeyValue {
        key: "k".into(),
        v_type: 9,
        ..Default::default()
    };
    assert_eq!(
        pb::tag(&kv).value,
        TagValue::Str("<Unknown Jaeger TagType \"9\">".into())
    );
}
