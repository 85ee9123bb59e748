use super::*;
use crate::golden;
use ferrotel_core::proto::common::v1::{any_value::Value as V, AnyValue, KeyValue};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::Span;
use ferrotel_core::{AnyFactory, Batch, Data};
use std::sync::Arc;

const DIR: &str = "attributes";

fn kv(k: &str, v: V) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

#[test]
fn config_valid_typo_invalid() {
    let f = AttributesProcessorFactory;
    for s in [Signal::Traces, Signal::Metrics] {
        assert!(golden::create(&f, DIR, "valid", s).is_ok(), "{s}");
    }
    let e = golden::create(&f, DIR, "typo", Signal::Traces)
        .err()
        .unwrap();
    assert_eq!(e.0[0].path, "processors.attributes/x.include.match_typ");

    let e = golden::create(&f, DIR, "invalid", Signal::Traces)
        .err()
        .unwrap();
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "processors.attributes/x.actions[0].pattern",
            "processors.attributes/x.include.match_type"
        ],
        "{e}"
    );
    assert!(
        e.0[1].message.contains("unrecognized match_type: 'fuzzy'"),
        "{e}"
    );

    // Log-only properties are fine for logs and an error for traces, as in otelcol.
    assert!(golden::create(&f, DIR, "logs_only", Signal::Logs).is_ok());
    let e = golden::create(&f, DIR, "logs_only", Signal::Traces)
        .err()
        .unwrap();
    assert_eq!(e.0[0].path, "processors.attributes/x.include");
    assert!(e.0[0]
        .message
        .contains("log_severity_texts should not be specified for trace spans"));

    let e = golden::create(&f, DIR, "no_actions", Signal::Logs)
        .err()
        .unwrap();
    assert_eq!(e.0[0].path, "processors.attributes/x.actions");
}

fn span_req(service: &str, spans: Vec<Span>) -> Data {
    use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans};
    Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", V::StringValue(service.into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn span(name: &str, method: &str) -> Span {
    Span {
        name: name.into(),
        attributes: vec![
            kv("http.method", V::StringValue(method.into())),
            kv("user.email", V::StringValue("a@b.c".into())),
            kv(
                "http.request.header.authorization",
                V::StringValue("Bearer x".into()),
            ),
        ],
        ..Default::default()
    }
}

#[test]
fn include_then_exclude_select_spans() {
    let p = golden::create(&AttributesProcessorFactory, DIR, "valid", Signal::Traces).unwrap();
    let run = |data: Data| -> Vec<Span> {
        let mut out = vec![];
        let meta = RequestMeta {
            headers: vec![("x-tenant".into(), "acme".into())],
            ..Default::default()
        };
        p.process(Batch::from_data(data, Arc::new(meta)), &mut out)
            .unwrap();
        match out[0].view().unwrap() {
            Data::Traces(t) => t.resource_spans[0].scope_spans[0].spans.clone(),
            _ => unreachable!(),
        }
    };
    let changed = |s: &Span| pdata::attr(&s.attributes, "tenant").is_some();
    let spans = run(span_req(
        "checkout-api",
        vec![
            span("GET /cart", "GET"),
            span("healthcheck", "GET"),
            span("x", "DELETE"),
        ],
    ));
    assert!(changed(&spans[0]));
    assert!(pdata::attr(&spans[0].attributes, "http.request.header.authorization").is_none());
    assert_eq!(
        pdata::attr_str(&spans[0].attributes, "user.email").map(str::len),
        Some(64)
    );
    assert!(!changed(&spans[1]), "excluded by span name");
    assert!(
        !changed(&spans[2]),
        "attribute regexp does not match DELETE"
    );
    let spans = run(span_req("cart", vec![span("GET /cart", "GET")]));
    assert!(!changed(&spans[0]), "service not included");
}

#[test]
fn logs_and_metrics_scopes() {
    let f = AttributesProcessorFactory;
    let p = golden::create(&f, DIR, "logs_only", Signal::Logs).unwrap();
    let rec = |sev: &str| LogRecord {
        severity_text: sev.into(),
        ..Default::default()
    };
    let data = Data::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ferrotel_core::proto::logs::v1::ResourceLogs {
            scope_logs: vec![ferrotel_core::proto::logs::v1::ScopeLogs {
                log_records: vec![rec("ERROR"), rec("INFO")],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    let mut out = vec![];
    p.process(Batch::from_data(data, Default::default()), &mut out)
        .unwrap();
    let Data::Logs(l) = out[0].view().unwrap() else {
        unreachable!()
    };
    let recs = &l.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(
        pdata::attr(&recs[0].attributes, "alert"),
        Some(&V::BoolValue(true))
    );
    assert!(recs[1].attributes.is_empty());

    // Metrics: data point attributes, every point.
    let cfg: ferrotel_config::Value =
        serde_yaml_ng::from_str("actions: [{key: env, value: prod, action: insert}]").unwrap();
    let ctx = ferrotel_testkit::conformance::processor_context("attributes", Signal::Metrics);
    let p = f.create_from(&ctx, &cfg).unwrap();
    let mut out = vec![];
    let input = ferrotel_testkit::fixtures::data(Signal::Metrics, 10);
    p.process(Batch::from_data(input, Default::default()), &mut out)
        .unwrap();
    let mut d = out[0].view().unwrap().clone();
    let Data::Metrics(m) = &mut d else {
        unreachable!()
    };
    let mut n = 0;
    pdata::for_each_datapoint_attrs_mut(&mut m.resource_metrics, |_, _, attrs| {
        assert_eq!(pdata::attr_str(attrs, "env"), Some("prod"));
        n += 1;
    });
    assert_eq!(n, 10);
}

#[test]
fn golden_pairs() {
    assert!(golden::run(DIR, &AttributesProcessorFactory) >= 2);
}

#[test]
fn conformance() {
    let cfg = "actions: [{key: a, value: b, action: upsert}]";
    for (signal, fed, out) in
        ferrotel_testkit::conformance::run_processor(&AttributesProcessorFactory, cfg)
    {
        assert_eq!(fed, out, "{signal}");
    }
}
