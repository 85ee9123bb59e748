use super::*;
use crate::golden;
use ferrotel_core::proto::metrics::v1::{
    metric::Data as MetricData, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use ferrotel_core::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{Batch, Data};
use prost::Message;
use std::sync::Arc;

const DIR: &str = "transform";

#[test]
fn golden_cases_from_the_demo_and_otelcols_examples() {
    assert_eq!(golden::run(DIR, &TransformProcessorFactory), 5);
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

fn metrics_request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn transform_metrics(statements: &str, metrics: Vec<Metric>) -> Vec<Metric> {
    let cfg: TransformConfig = serde_yaml_ng::from_str(statements).unwrap();
    let p = TransformProcessorFactory
        .create(
            &ferrotel_testkit::conformance::processor_context("transform", Signal::Metrics),
            cfg,
        )
        .unwrap();
    let data = Data::Metrics(metrics_request(metrics));
    let mut out = vec![];
    p.process(
        Batch::from_data(data, Arc::new(RequestMeta::default())),
        &mut out,
    )
    .unwrap();
    let Data::Metrics(m) = out[0].view().unwrap() else {
        panic!("metrics")
    };
    m.resource_metrics[0].scope_metrics[0].metrics.clone()
}

#[test]
fn added_metrics_are_visited_by_the_rest_of_the_group_after_the_scopes_metrics() {
    let gauge = |name: &str| Metric {
        name: name.into(),
        data: Some(MetricData::Gauge(Gauge {
            data_points: vec![NumberDataPoint::default()],
        })),
        ..Default::default()
    };
    // otelcol's README: copy_metric with a where clause that does not match the copy.
    let out = transform_metrics(
        r#"
metric_statements:
  - context: metric
    statements:
      - 'copy_metric(name="b.copy") where name == "b"'
      - 'set(description, "seen") where name == "b.copy"'
"#,
        vec![gauge("a"), gauge("b"), gauge("c")],
    );
    let names: Vec<_> = out
        .iter()
        .map(|m| (m.name.as_str(), m.description.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("a", ""), ("b", ""), ("c", ""), ("b.copy", "seen")]
    );
}

#[test]
fn a_copy_metric_matching_its_own_copies_stops_at_the_bound() {
    let one = Metric {
        name: "m".into(),
        data: Some(MetricData::Gauge(Gauge {
            data_points: vec![NumberDataPoint::default()],
        })),
        ..Default::default()
    };
    let out = transform_metrics(
        "metric_statements: ['copy_metric() where metric.name == \"m\"']",
        vec![one],
    );
    assert_eq!(out.len(), 1 + run::MAX_ADDED_PER_METRIC);
}

#[test]
fn metric_editors_load_in_their_context_and_are_refused_elsewhere() {
    let create = |case| golden::create(&TransformProcessorFactory, DIR, case, Signal::Metrics);
    assert!(create("metric_editors_flat").is_ok());
    // otelcol's README: a group cannot mix convert_sum_to_gauge and a datapoint path.
    let e = create("metric_editor_beside_a_datapoint_path")
        .err()
        .unwrap();
    assert!(
        e.0[0].message.contains(
            r#"inferred context "datapoint" does not support the function "convert_sum_to_gauge""#
        ),
        "{e}"
    );
    let e = create("metric_editor_in_the_wrong_context").err().unwrap();
    assert!(
        e.0[0]
            .message
            .contains(r#"undefined function "convert_sum_to_gauge""#),
        "{e}"
    );
}
