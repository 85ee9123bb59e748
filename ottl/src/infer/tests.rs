use super::*;

fn hints(cond: &str) -> Hints {
    Hints::of_condition(&crate::parse_condition(cond).unwrap())
}

fn infer(cond: &str, cands: &[Candidate]) -> Result<&'static str, InferError> {
    infer_context(&hints(cond), cands)
}

#[test]
fn a_path_names_its_first_segment_when_a_dot_follows() {
    let h =
        hints(r#"span.name == "x" and attributes["a"] == 1 and status.code == 1 and name == "y""#);
    assert_eq!(h.contexts, vec!["span", "", "status", ""]);
    assert_eq!(h.named_contexts(), vec!["span", "status"]);
}

#[test]
fn the_most_specific_context_wins() {
    assert_eq!(infer(r#"span.name == "x""#, TRACES), Ok("span"));
    assert_eq!(
        infer(r#"resource.attributes["a"] != nil"#, TRACES),
        Ok("resource")
    );
    assert_eq!(infer(r#"scope.name == "a""#, TRACES), Ok("scope"));
    assert_eq!(
        infer(
            r#"resource.attributes["a"] == "b" or spanevent.name == "x""#,
            TRACES
        ),
        Ok("spanevent")
    );
    assert_eq!(
        infer(
            r#"span.name == "a" and resource.attributes["b"] == 1"#,
            TRACES
        ),
        Ok("span")
    );
    assert_eq!(
        infer(r#"datapoint.value_int > 1 and metric.name == "m""#, METRICS),
        Ok("datapoint")
    );
    assert_eq!(infer(r#"IsMatch(log.body, "x")"#, LOGS), Ok("log"));
}

#[test]
fn paths_anywhere_count_converter_arguments_keys_math_and_lists() {
    let h = hints(
        r#"Len(Concat([span.name, spanevent.name], "")) + resource.attributes[scope.name] > 1"#,
    );
    assert_eq!(
        h.named_contexts(),
        vec!["span", "spanevent", "resource", "scope"]
    );
    assert!(h.functions.contains("Len") && h.functions.contains("Concat"));
    let s = Hints::of_statement(
        &crate::parse_statement(
            r#"set(span.attributes["x"], 1) where resource.attributes["a"] == SPAN_KIND_SERVER"#,
        )
        .unwrap(),
    );
    assert_eq!(s.named_contexts(), vec!["span", "resource"]);
    assert!(s.functions.contains("set"));
    assert!(s.enums.contains("SPAN_KIND_SERVER"));
}

#[test]
fn without_any_context_nothing_is_inferred() {
    assert_eq!(infer(r#"name == "x""#, TRACES), Err(InferError::NoContext));
    let msg = infer_conditions(&[r#"name == "x""#], TRACES).unwrap_err();
    assert_eq!(
        msg,
        r#"unable to infer context from conditions, path's first segment must be a valid context name: ["resource" "scope" "span" "spanevent"], and at least one context must be capable of parsing all conditions: ["name == \"x\""]"#
    );
}

#[test]
fn a_context_the_signal_lacks_is_not_supported() {
    assert_eq!(
        infer(r#"log.body == "x""#, TRACES),
        Err(InferError::Unsupported("log".into()))
    );
    assert_eq!(
        infer(r#"status.code == 1"#, TRACES),
        Err(InferError::Unsupported("status".into()))
    );
    let msg = infer_conditions(&[r#"log.body == "x""#], TRACES).unwrap_err();
    assert!(msg.starts_with(r#"context "log" inferred from the conditions ["log.body == \"x\""] is not a supported context: ["resource""#), "{msg}");
    // With a function or enum to check, otelcol reports the candidate check instead.
    assert_eq!(
        infer(r#"status.code == STATUS_CODE_ERROR"#, TRACES),
        Err(InferError::NotCandidate("status".into()))
    );
}

#[test]
fn an_unsupported_enum_falls_back_to_a_lower_context() {
    // resource has no enums: the lower contexts able to read resource paths are tried.
    assert_eq!(
        infer(r#"resource.attributes["k"] == SPAN_KIND_SERVER"#, TRACES),
        Ok("spanevent")
    );
    assert_eq!(
        infer(r#"resource.attributes["k"] == SEVERITY_NUMBER_WARN"#, LOGS),
        Ok("log")
    );
    assert_eq!(
        infer(
            r#"resource.attributes["k"] == METRIC_DATA_TYPE_SUM"#,
            METRICS
        ),
        Ok("datapoint")
    );
    assert_eq!(
        infer(r#"span.kind == SEVERITY_NUMBER_WARN"#, TRACES),
        Err(InferError::Enum(
            "span".into(),
            "SEVERITY_NUMBER_WARN".into()
        ))
    );
    assert_eq!(
        infer(r#"IsRootSpan() and spanevent.name == "x""#, TRACES),
        Err(InferError::Function(
            "spanevent".into(),
            "IsRootSpan".into()
        ))
    );
    // A function only a lower context has moves the condition there.
    assert_eq!(
        infer(
            r#"IsRootSpan() and resource.attributes["a"] == nil"#,
            TRACES
        ),
        Ok("span")
    );
    assert_eq!(
        infer(
            r#"HasAttrOnDatapoint("a", "b") and resource.attributes["a"] == nil"#,
            METRICS
        ),
        Ok("metric")
    );
}

/// Trace candidates that also know the editors (as the transform processor's would).
const WITH_EDITORS: &[Candidate] = &[
    Candidate {
        has_function: |_| true,
        ..RESOURCE
    },
    Candidate {
        has_function: |_| true,
        ..SCOPE
    },
    Candidate {
        has_function: |_| true,
        ..SPAN
    },
    Candidate {
        has_function: |_| true,
        ..SPANEVENT
    },
];

#[test]
fn statements_of_a_group_share_one_context() {
    let got = infer_statements(
        &[
            r#"set(resource.attributes["a"], "b")"#,
            r#"set(span.attributes["x"], 1) where span.name == "y""#,
        ],
        WITH_EDITORS,
    );
    assert_eq!(got, Ok("span"));
    let err = infer_statements(&[r#"set(attributes["x"], 1)"#], WITH_EDITORS).unwrap_err();
    assert!(
        err.starts_with("unable to infer context from statements"),
        "{err}"
    );
}

#[test]
fn parse_errors_name_the_condition() {
    let err = infer_conditions(&["span.name =="], TRACES).unwrap_err();
    assert!(
        err.starts_with(r#"unable to parse OTTL condition "span.name ==""#),
        "{err}"
    );
}

#[test]
fn inferred_conditions_need_a_context_on_every_path() {
    let h = hints(r#"span.name == "x" and attributes["http.route"] == "/""#);
    assert_eq!(h.paths, vec!["span.name", "attributes[http.route]"]);
    assert_eq!(
        check_path_contexts(&h, &SPAN),
        Err(r#"missing context name for path "attributes[http.route]", possibly valid options are: "span.attributes[http.route]", "resource.attributes[http.route]", "scope.attributes[http.route]", "instrumentation_scope.attributes[http.route]""#.into())
    );
    let h = hints(r#"span.name == "x" and status.code == 1"#);
    assert!(check_path_contexts(&h, &SPAN)
        .unwrap_err()
        .starts_with(r#"context "status" from path "status.code" is not valid"#));
    assert_eq!(
        check_path_contexts(
            &hints(r#"span.name == "x" and resource.attributes["a"] == nil"#),
            &SPAN
        ),
        Ok(())
    );
}

fn infer_statements_of(texts: &[&str]) -> Result<&'static str, String> {
    infer_statements(texts, METRICS)
}

#[test]
fn metric_editors_infer_the_context_that_has_them() {
    // otelcol's README: the metric editors exist in the metric context only.
    assert_eq!(
        infer_statements_of(&[
            r#"convert_sum_to_gauge() where metric.name == "system.processes.count""#
        ]),
        Ok("metric")
    );
    assert_eq!(
        infer_statements_of(&[r#"copy_metric(name="x") where resource.attributes["a"] == "b""#]),
        Ok("metric"),
        "a resource path falls back to the lower context that has the function"
    );
    // The summary conversions to sums are the datapoint context's.
    assert_eq!(
        infer_statements_of(&[
            r#"convert_summary_count_val_to_sum("delta", true) where metric.name == "m""#
        ]),
        Ok("datapoint")
    );
    assert_eq!(
        infer_statements_of(&[
            r#"merge_histogram_buckets(0.5) where metric.name == "http_request_duration""#
        ]),
        Ok("datapoint")
    );
    // otelcol's README: a datapoint path and convert_sum_to_gauge cannot share a group.
    let e = infer_statements_of(&[
        r#"convert_sum_to_gauge() where metric.name == "system.processes.count""#,
        r#"limit(datapoint.attributes, 100, ["host.name"])"#,
    ])
    .unwrap_err();
    assert_eq!(
        e,
        r#"inferred context "datapoint" does not support the function "convert_sum_to_gauge""#
    );
    assert_eq!(
        infer_statements(
            &[r#"set_semconv_span_name("1.43.0") where span.kind == SPAN_KIND_SERVER"#],
            TRACES
        ),
        Ok("span")
    );
}
