use super::*;
use crate::decode::tests::{mutated, rich, with_unknown_fields, XorShift};
use crate::proto::common::v1::{self as common, EntityRef};
use prost::Message;

fn same_as_prost(req: &ExportTraceServiceRequest) {
    assert_eq!(traces(req), req.encode_to_vec(), "{req:?}");
}

#[test]
fn every_field_is_written_as_prost_writes_it() {
    let req = rich();
    same_as_prost(&req);
    same_as_prost(&ExportTraceServiceRequest::default());
    let mut with_entities = req;
    with_entities.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .entity_refs = vec![EntityRef {
        schema_url: "s".into(),
        r#type: "service".into(),
        id_keys: vec!["service.name".into()],
        description_keys: vec![],
    }];
    same_as_prost(&with_entities);
}

/// Oneof values are written even when they hold a default; other defaults are left out;
/// present but empty messages are written.
#[test]
fn defaults_are_left_out_and_oneof_values_kept_as_prost_does() {
    use any_value::Value::*;
    let values = [
        StringValue(String::new()),
        BoolValue(false),
        IntValue(0),
        IntValue(i64::MIN),
        DoubleValue(0.0),
        DoubleValue(-0.0),
        DoubleValue(f64::NAN),
        BytesValue(vec![]),
        ArrayValue(common::ArrayValue::default()),
        KvlistValue(common::KeyValueList::default()),
        StringValueStrindex(0),
        StringValueStrindex(-1),
    ];
    let span = Span {
        kind: i32::MIN,
        status: Some(Status::default()),
        flags: u32::MAX,
        attributes: (values.into_iter())
            .map(|v| KeyValue {
                key: String::new(),
                value: Some(AnyValue { value: Some(v) }),
                key_strindex: -5,
            })
            .collect(),
        events: vec![span::Event::default()],
        links: vec![span::Link::default()],
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope::default()),
                spans: vec![span, Span::default()],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    same_as_prost(&req);
}

/// Whatever prost decodes from randomly edited requests (odd enum values, huge counts, values
/// moved between fields) is written back as prost writes it.
#[test]
fn mutated_requests_are_written_as_prost_writes_them() {
    let seeds = [rich().encode_to_vec(), with_unknown_fields()];
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut checked = 0;
    for i in 0..20_000 {
        let b = mutated(&seeds[i % 2], &mut rng);
        if let Ok(req) = ExportTraceServiceRequest::decode(&b[..]) {
            assert_eq!(traces(&req), req.encode_to_vec(), "mutation {i}: {b:?}");
            checked += 1;
        }
    }
    assert!(checked > 1_000, "prost decoded only {checked}");
}
