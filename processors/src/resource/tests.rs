use super::*;
use crate::golden;
use ferrotel_core::{Batch, Data, Signal};
use std::sync::Arc;

const DIR: &str = "resource";

#[test]
fn config_valid_typo_invalid() {
    let f = ResourceProcessorFactory;
    assert!(golden::create(&f, DIR, "valid", Signal::Traces).is_ok());

    let e = golden::create(&f, DIR, "typo", Signal::Traces)
        .err()
        .unwrap();
    assert_eq!(e.0[0].path, "processors.resource/x.attributes[0].acton");
    assert!(e.0[0].message.contains("unknown field `acton`"), "{e}");

    let e = golden::create(&f, DIR, "invalid", Signal::Traces)
        .err()
        .unwrap();
    assert_eq!(e.0.len(), 2, "{e}");
    assert_eq!(e.0[0].path, "processors.resource/x.attributes[0]");
    assert_eq!(e.0[1].path, "processors.resource/x.attributes[1].action");
    assert!(
        e.0[1].message.contains("unsupported action \"rename\""),
        "{e}"
    );

    let e = golden::create(&f, DIR, "empty", Signal::Logs)
        .err()
        .unwrap();
    assert_eq!(e.0[0].path, "processors.resource/x.attributes");
    assert!(e.0[0]
        .message
        .contains("missing required field \"attributes\""));
}

#[test]
fn applies_to_every_signal() {
    let f = ResourceProcessorFactory;
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let p = golden::create(&f, DIR, "valid", signal).unwrap();
        let mut out = vec![];
        let meta = RequestMeta {
            headers: vec![("x-tenant".into(), "acme".into())],
            ..Default::default()
        };
        let input = ferrotel_testkit::fixtures::data(signal, 6);
        p.process(Batch::from_data(input, Arc::new(meta)), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        let data = out[0].view().unwrap();
        let resources: Vec<&Resource> = match data {
            Data::Traces(t) => t
                .resource_spans
                .iter()
                .filter_map(|r| r.resource.as_ref())
                .collect(),
            Data::Metrics(m) => m
                .resource_metrics
                .iter()
                .filter_map(|r| r.resource.as_ref())
                .collect(),
            Data::Logs(l) => l
                .resource_logs
                .iter()
                .filter_map(|r| r.resource.as_ref())
                .collect(),
            Data::Profiles(_) => panic!("the resource processor does not take profiles"),
        };
        assert!(!resources.is_empty());
        for r in resources {
            let a = &r.attributes;
            assert_eq!(
                ferrotel_core::pdata::attr_str(a, "deployment.environment"),
                Some("production")
            );
            assert_eq!(ferrotel_core::pdata::attr_str(a, "tenant"), Some("acme"));
            assert!(
                ferrotel_core::pdata::attr(a, "host.name").is_none(),
                "{signal}"
            );
        }
    }
}

#[test]
fn golden_pairs() {
    assert!(golden::run(DIR, &ResourceProcessorFactory) >= 2);
}

#[test]
fn conformance() {
    let cfg = "attributes: [{key: a, value: b, action: upsert}]";
    for (signal, fed, out) in
        ferrotel_testkit::conformance::run_processor(&ResourceProcessorFactory, cfg)
    {
        assert_eq!(fed, out, "{signal}");
    }
}

#[test]
fn an_encoded_batch_is_changed_without_decoding_its_items_and_matches_the_decoded_result() {
    let f = ResourceProcessorFactory;
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let p = golden::create(&f, DIR, "valid", signal).unwrap();
        let meta = Arc::new(RequestMeta {
            headers: vec![("x-tenant".into(), "acme".into())],
            ..Default::default()
        });
        let mut input = ferrotel_testkit::fixtures::data(signal, 6);
        // One resource entry without a resource: the actions create one, as when decoded.
        if let Data::Traces(t) = &mut input {
            t.resource_spans[0].resource = None;
        }
        let (mut decoded, mut encoded) = (vec![], vec![]);
        p.process(Batch::from_data(input.clone(), meta.clone()), &mut decoded)
            .unwrap();
        let batch = Batch::from_bytes(signal, input.encode(), None, meta.clone());
        p.process(batch, &mut encoded).unwrap();
        assert!(!encoded[0].is_decoded(), "{signal}: took the decoding path");
        assert_eq!(encoded[0].item_count(), input.item_count());
        assert_eq!(
            encoded[0].view().unwrap(),
            decoded[0].view().unwrap(),
            "{signal}"
        );
    }
}
