//! `routing_key: attributes`: the key otelcol builds from `routing_attributes` (lookup order,
//! `name=value|` segments, values of every type, the missing marker), and spans split by it.
//!
//! ```yaml
//! exporters:
//!   loadbalancing:
//!     routing_key: attributes
//!     routing_attributes: [tenant, span.kind]
//!     resolver: { static: { hostnames: [a:4317, b:4317, c:4317] } }
//! ```

use super::super::attributes::span_key;
use super::*;
use ferrotel_core::proto::common::v1::{ArrayValue, KeyValueList};

fn value(v: any_value::Value) -> KeyValue {
    KeyValue {
        key: "v".into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

fn scope(attrs: Vec<KeyValue>) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        attributes: attrs,
        ..Default::default()
    })
}

#[test]
fn the_key_looks_at_resource_then_scope_then_span() {
    let span = Span {
        name: "GET /users".into(),
        kind: 2,
        attributes: vec![kv("tenant", "span"), kv("zone", "span"), kv("only", "span")],
        ..Default::default()
    };
    let r = resource(vec![kv("tenant", "resource")]);
    let s = scope(vec![kv("tenant", "scope"), kv("zone", "scope")]);
    let key = |n: &[&str]| span_key(&names(n), &r, &s, &span);
    assert_eq!(key(&["tenant"]), "tenant=resource|");
    assert_eq!(key(&["zone"]), "zone=scope|");
    assert_eq!(key(&["only"]), "only=span|");
    assert_eq!(key(&["missing"]), "missing=|");
    assert_eq!(
        key(&["span.kind", "span.name", "tenant", "missing"]),
        "span.kind=Server|span.name=GET /users|tenant=resource|missing=|"
    );
    // Order matters; no names, an empty key.
    assert_eq!(key(&["zone", "tenant"]), "zone=scope|tenant=resource|");
    assert_eq!(key(&[]), "");
    // A resource attribute named like a pseudo attribute wins over the span's own.
    let r = resource(vec![kv("span.kind", "batch")]);
    assert_eq!(
        span_key(&names(&["span.kind"]), &r, &None, &span),
        "span.kind=batch|"
    );
    let unknown_kind = Span {
        kind: 42,
        ..Default::default()
    };
    assert_eq!(
        span_key(&names(&["span.kind"]), &None, &None, &unknown_kind),
        "span.kind=|"
    );
}

#[test]
fn values_of_every_type_are_written_as_otelcol_writes_them() {
    use any_value::Value as V;
    let key = |v: V| {
        let r = resource(vec![value(v)]);
        span_key(&names(&["v"]), &r, &None, &Span::default())
    };
    assert_eq!(key(V::StringValue("abc".into())), "v=abc|");
    assert_eq!(key(V::IntValue(-42)), "v=-42|");
    assert_eq!(key(V::BoolValue(true)), "v=true|");
    assert_eq!(key(V::BytesValue(vec![0x01, 0xff])), "v=Af8=|");
    // Doubles as Go's strconv.FormatFloat(f, 'g', -1, 64).
    for (f, want) in [
        (3.5, "3.5"),
        (0.0, "0"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (123456789.0, "1.23456789e+08"),
        (0.0001, "0.0001"),
        (0.000015, "1.5e-05"),
        (-2.5e-300, "-2.5e-300"),
        (f64::INFINITY, "+Inf"),
        (f64::NAN, "NaN"),
    ] {
        assert_eq!(key(V::DoubleValue(f)), format!("v={want}|"), "{f}");
    }
    let map = |entries: Vec<KeyValue>| V::KvlistValue(KeyValueList { values: entries });
    let b2 = KeyValue {
        key: "b".into(),
        value: Some(AnyValue {
            value: Some(V::IntValue(2)),
        }),
        ..Default::default()
    };
    assert_eq!(key(map(vec![b2.clone(), kv("a", "x")])), "v={a:x,b:2}|");
    assert_eq!(key(map(vec![kv("a", "x"), b2])), "v={a:x,b:2}|");
    let list = V::ArrayValue(ArrayValue {
        values: [
            V::IntValue(1),
            V::StringValue("x".into()),
            V::BoolValue(false),
        ]
        .into_iter()
        .map(|v| AnyValue { value: Some(v) })
        .collect(),
    });
    assert_eq!(key(list), "v=[1,x,false]|");
    // An attribute with an empty value is present: its value is empty, as a missing one.
    let empty = resource(vec![KeyValue {
        key: "v".into(),
        value: Some(AnyValue { value: None }),
        ..Default::default()
    }]);
    assert_eq!(
        span_key(&names(&["v"]), &empty, &None, &Span::default()),
        "v=|"
    );
}

/// 4 resources of 60 spans, each span its own trace, with one of 8 tenants and a kind (server
/// for even tenants, client for odd ones).
fn tenant_request() -> ExportTraceServiceRequest {
    let mut resource_spans = vec![];
    let mut i = 0u64;
    for r in 0..4 {
        let mut spans = vec![];
        for _ in 0..60 {
            spans.push(Span {
                trace_id: trace_id(i),
                span_id: i.to_be_bytes().to_vec(),
                kind: 2 + (i % 2) as i32,
                attributes: vec![kv("tenant", &format!("t{}", i % 8))],
                ..Default::default()
            });
            i += 1;
        }
        resource_spans.push(ResourceSpans {
            resource: resource(vec![kv("service.name", &format!("svc-{r}"))]),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "scope".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    ExportTraceServiceRequest { resource_spans }
}

#[test]
fn spans_are_split_by_their_attributes_key() {
    let e = build(&format!(
        "routing_key: attributes\nrouting_attributes: [tenant, span.kind]\n{THREE}"
    ));
    let parts = e
        .split(&traces_batch(tenant_request()), &e.members())
        .unwrap();
    let ring = &e.members().ring;
    let mut seen = BTreeSet::new();
    let mut backend_of: HashMap<String, usize> = HashMap::new();
    for p in &parts {
        for (_, _, span) in spans_of(p.batch.view().unwrap()) {
            let tenant = attr_str(&span.attributes, "tenant").unwrap();
            let kind = if span.kind == 2 { "Server" } else { "Client" };
            let key = format!("tenant={tenant}|span.kind={kind}|");
            assert_eq!(ring.endpoint_for(key.as_bytes()), p.backend, "{key}");
            assert_eq!(*backend_of.entry(key).or_insert(p.backend), p.backend);
            assert!(seen.insert(span.span_id));
        }
    }
    assert_eq!(seen.len(), 240, "every span once");
    // 8 keys, over more than one backend.
    assert_eq!(backend_of.len(), 8);
    assert!(parts.len() > 1);
}

#[test]
fn attributes_is_a_key_for_spans_only() {
    let config = format!("routing_key: attributes\nrouting_attributes: [tenant]\n{THREE}");
    let parts = create(&config).unwrap();
    assert_eq!(parts.exporter.accepts(Signal::Traces), Ok(()));
    assert_eq!(
        parts.exporter.accepts(Signal::Logs),
        Err("unsupported routing_key: \"attributes\"".into())
    );
    assert_eq!(
        parts.exporter.accepts(Signal::Metrics),
        Err("unsupported routing_key: \"attributes\"".into())
    );
    // routing_attributes is read only with this key, and accepted with the others (otelcol).
    create(&format!(
        "routing_key: service\nrouting_attributes: [tenant]\n{THREE}"
    ))
    .unwrap();
}
