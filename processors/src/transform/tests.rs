use super::*;
use crate::golden;
use ferrotel_core::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{Batch, Data};
use prost::Message;
use std::sync::Arc;

const DIR: &str = "transform";

#[test]
fn golden_cases_from_the_demo_and_otelcols_examples() {
    assert_eq!(golden::run(DIR, &TransformProcessorFactory), 4);
}

fn refused(case: &str) -> ConfigErrors {
    golden::create(&TransformProcessorFactory, DIR, case, Signal::Traces)
        .err()
        .unwrap_or_else(|| panic!("{case} was accepted"))
}

#[test]
fn both_styles_load_and_flat_statements_infer_their_context() {
    for case in ["valid", "flat"] {
        assert!(
            golden::create(&TransformProcessorFactory, DIR, case, Signal::Traces).is_ok(),
            "{case}"
        );
    }
}

#[test]
fn config_errors_name_the_entry_and_the_statement() {
    let e = refused("bad_statement");
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].path, "processors.transform/x.trace_statements[0]");
    assert!(
        e.0[0]
            .message
            .contains(r#"unable to parse OTTL statement "set(attributes[\"a\"] 1)""#),
        "{e}"
    );
    assert!(e.0[0].message.contains("1:21"), "{e}");

    let e = refused("unknown_context");
    assert!(e.0[0].message.contains(r#"unknown context "span""#), "{e}");
    assert_eq!(e.0[0].path, "processors.transform/x.metric_statements[0]");

    let e = refused("unknown_function");
    assert!(
        e.0[0].message.contains(r#"undefined function "sett""#),
        "{e}"
    );

    let e = refused("unknown_error_mode");
    assert!(e.0[0].message.contains("unknown error mode loud"), "{e}");

    let e = refused("uninferable");
    assert!(
        e.0[0]
            .message
            .contains(r#"inferred context "log" is not a valid candidate"#),
        "{e}"
    );
    let e = refused("unprefixed");
    assert!(
        e.0[0].message.contains(
            "unable to infer context from statements, path's first segment must be a valid \
             context name: [\"resource\" \"scope\" \"span\" \"spanevent\"]"
        ),
        "{e}"
    );
    let e = refused("half_prefixed");
    assert!(
        e.0[0]
            .message
            .contains(r#"missing context name for path "attributes[b]""#),
        "{e}"
    );
}

fn one_span() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "GET /".into(),
                    attributes: vec![ferrotel_core::pdata::kv_str("http.route", "/")],
                    events: vec![Event {
                        name: "exception".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn propagate_refuses_the_batch_naming_the_statement() {
    let p = golden::create(&TransformProcessorFactory, DIR, "propagate", Signal::Traces).unwrap();
    let batch = Batch::from_data(Data::Traces(one_span()), Arc::new(RequestMeta::default()));
    let mut out = vec![];
    let e = p.process(batch, &mut out).unwrap_err();
    assert!(out.is_empty());
    assert!(
        e.to_string()
            .contains(r#"failed to execute statement: set(attributes["http.route"]["x"], 1)"#),
        "{e}"
    );
}

/// Without `error_mode`, otelcol's current default, `ignore`: the failing statement is logged,
/// the next one runs and the batch goes on.
#[test]
fn the_default_error_mode_ignores_a_failing_statement() {
    let p = golden::create(
        &TransformProcessorFactory,
        DIR,
        "default_mode",
        Signal::Traces,
    )
    .unwrap();
    let batch = Batch::from_data(Data::Traces(one_span()), Arc::new(RequestMeta::default()));
    let mut out = vec![];
    p.process(batch, &mut out).unwrap();
    let Ok(Data::Traces(t)) = out.remove(0).into_data() else {
        panic!("traces expected");
    };
    let span = &t.resource_spans[0].scope_spans[0].spans[0];
    assert!(
        span.attributes.iter().any(|kv| kv.key == "after"),
        "{span:?}"
    );
}

#[test]
fn a_signal_without_statements_passes_through_still_encoded() {
    let p = golden::create(&TransformProcessorFactory, DIR, "valid", Signal::Metrics).unwrap();
    let metrics = ExportMetricsServiceRequest::default().encode_to_vec();
    let meta = Arc::new(RequestMeta::default());
    let batch = Batch::from_bytes(Signal::Metrics, metrics.into(), Some(0), meta);
    let mut out = vec![];
    p.process(batch, &mut out).unwrap();
    assert!(
        !out[0].is_decoded(),
        "metrics were decoded although no statement touches them"
    );
}

#[test]
fn spanevent_statements_reach_every_event_and_keep_them_on_their_span() {
    let cfg: TransformConfig = serde_yaml_ng::from_str(
        r#"
trace_statements:
  - 'set(spanevent.attributes["span"], span.name) where spanevent.name == "exception"'
"#,
    )
    .unwrap();
    let p = TransformProcessorFactory
        .create(
            &ferrotel_testkit::conformance::processor_context("transform", Signal::Traces),
            cfg,
        )
        .unwrap();
    let batch = Batch::from_data(Data::Traces(one_span()), Arc::new(RequestMeta::default()));
    let mut out = vec![];
    p.process(batch, &mut out).unwrap();
    let Data::Traces(t) = out[0].view().unwrap() else {
        panic!("traces")
    };
    let span = &t.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.events.len(), 1);
    assert_eq!(
        span.events[0].attributes,
        vec![ferrotel_core::pdata::kv_str("span", "GET /")]
    );
}
