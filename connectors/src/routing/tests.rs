use super::*;
use ferrotel_config::ConfigErrors;
use ferrotel_core::proto::common::v1::InstrumentationScope;
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{
    status::StatusCode, ResourceSpans, ScopeSpans, Span, Status,
};
use ferrotel_core::AnyFactory;
use ferrotel_testkit::config::{create_context, refused, testdata, yaml};
use ferrotel_testkit::fixtures::kv_str;

fn connector(text: &str) -> Box<dyn Connector> {
    RoutingConnectorFactory
        .create_from(&create_context("connectors", "routing"), &yaml(text))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> ConfigErrors {
    refused(
        RoutingConnectorFactory.create_from(&create_context("connectors", "routing"), &yaml(text)),
        text,
    )
}

/// Each error as `path: message`.
fn messages(text: &str) -> Vec<String> {
    errors(text).0.iter().map(ToString::to_string).collect()
}

fn resource(attrs: &[(&str, &str)]) -> Option<Resource> {
    Some(Resource {
        attributes: attrs.iter().map(|(k, v)| kv_str(k, v)).collect(),
        ..Default::default()
    })
}

fn scope(name: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        ..Default::default()
    })
}

fn span(name: &str, error: bool) -> Span {
    Span {
        name: name.into(),
        status: error.then(|| Status {
            code: StatusCode::Error as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Resources (attributes) each with scopes (name) of spans (name, error).
type Shape<'a> = &'a [(
    &'a [(&'a str, &'a str)],
    &'a [(&'a str, &'a [(&'a str, bool)])],
)];

fn traces(shape: Shape<'_>) -> Batch {
    let resource_spans = shape
        .iter()
        .map(|(attrs, scopes)| ResourceSpans {
            resource: resource(attrs),
            schema_url: "https://schema/r".into(),
            scope_spans: scopes
                .iter()
                .map(|(name, spans)| ScopeSpans {
                    scope: scope(name),
                    spans: spans.iter().map(|(n, e)| span(n, *e)).collect(),
                    schema_url: "https://schema/s".into(),
                })
                .collect(),
        })
        .collect();
    let data = Data::Traces(ExportTraceServiceRequest { resource_spans });
    let items = data.item_count();
    Batch::from_bytes(
        Signal::Traces,
        data.encode(),
        Some(items),
        Default::default(),
    )
}

fn with_headers(batch: Batch, headers: &[(&str, &str)]) -> Batch {
    let meta = RequestMeta {
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    Batch::from_data(batch.view().unwrap().clone(), Arc::new(meta))
}

fn route(c: &dyn Connector, batch: Batch) -> Result<Vec<Routed>, PipelineError> {
    let mut out = Vec::new();
    c.consume(batch, &mut out)?;
    Ok(out)
}

/// Per emitted batch: its pipelines, and per resource its `name` attribute with the names of
/// its spans by scope (`svc:scope=a,b`).
fn shape(out: &[Routed]) -> Vec<(String, Vec<String>)> {
    out.iter()
        .map(|r| {
            let Ok(Data::Traces(t)) = r.batch.view() else {
                panic!("not traces")
            };
            let groups = t.resource_spans.iter().map(resource_shape).collect();
            (r.pipelines.as_ref().unwrap().join(","), groups)
        })
        .collect()
}

fn resource_shape(rs: &ResourceSpans) -> String {
    let name = rs
        .resource
        .as_ref()
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "name"))
        .and_then(|kv| kv.value.as_ref())
        .map_or(String::new(), |v| format!("{:?}", v.value))
        .replace("Some(StringValue(\"", "")
        .replace("\"))", "");
    let scopes: Vec<String> = rs
        .scope_spans
        .iter()
        .map(|ss| {
            let spans: Vec<&str> = ss.spans.iter().map(|s| s.name.as_str()).collect();
            format!("{}={}", ss.scope.as_ref().unwrap().name, spans.join(","))
        })
        .collect();
    format!("{name}:{}", scopes.join(";"))
}

fn pairs(want: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    want.iter()
        .map(|(p, g)| (p.to_string(), g.iter().map(ToString::to_string).collect()))
        .collect()
}

const ENV_TABLE: &str = r#"
default_pipelines: [traces/other]
table:
  - condition: attributes["env"] == "prod"
    pipelines: [traces/prod]
  - statement: route() where resource.attributes["env"] == "dev"
    pipelines: [traces/dev, traces/all-dev]
"#;

fn three_resources() -> Batch {
    traces(&[
        (
            &[("name", "a"), ("env", "prod")],
            &[("s", &[("a1", false)])],
        ),
        (&[("name", "b"), ("env", "dev")], &[("s", &[("b1", false)])]),
        (&[("name", "c")], &[("s", &[("c1", false), ("c2", true)])]),
        (
            &[("name", "d"), ("env", "prod")],
            &[("s", &[("d1", false)])],
        ),
    ])
}

#[test]
fn resource_routes_move_whole_resources_and_the_rest_goes_to_the_default() {
    let c = connector(ENV_TABLE);
    let out = route(c.as_ref(), three_resources()).unwrap();
    assert_eq!(
        shape(&out),
        pairs(&[
            ("traces/prod", &["a:s=a1", "d:s=d1"]),
            ("traces/dev,traces/all-dev", &["b:s=b1"]),
            ("traces/other", &["c:s=c1,c2"]),
        ])
    );
    let Ok(Data::Traces(t)) = out[0].batch.view() else {
        panic!()
    };
    assert_eq!(t.resource_spans[0].schema_url, "https://schema/r");
    assert!(out
        .iter()
        .all(|r| Arc::ptr_eq(&r.batch.meta, &out[0].batch.meta)));
}

#[test]
fn without_default_pipelines_unmatched_data_is_dropped() {
    let c = connector(
        r#"table: [{condition: 'attributes["env"] == "prod"', pipelines: [traces/prod]}]"#,
    );
    let out = route(c.as_ref(), three_resources()).unwrap();
    assert_eq!(
        shape(&out),
        pairs(&[("traces/prod", &["a:s=a1", "d:s=d1"])])
    );
    let out = route(
        c.as_ref(),
        traces(&[(&[("name", "x")], &[("s", &[("x", false)])])]),
    );
    assert!(out.unwrap().is_empty(), "nothing matched, nothing emitted");
}

#[test]
fn span_routes_move_single_spans_under_copies_of_their_resource_and_scope() {
    let c = connector(
        "default_pipelines: [traces/rest]
table:
  - context: span
    condition: status.code == STATUS_CODE_ERROR
    pipelines: [traces/errors]
",
    );
    let batch = traces(&[
        (
            &[("name", "a")],
            &[
                ("s1", &[("ok1", false), ("err1", true)]),
                ("s2", &[("err2", true)]),
            ],
        ),
        (&[("name", "b")], &[("s3", &[("ok2", false)])]),
    ]);
    let out = route(c.as_ref(), batch).unwrap();
    assert_eq!(
        shape(&out),
        pairs(&[
            ("traces/errors", &["a:s1=err1;s2=err2"]),
            ("traces/rest", &["a:s1=ok1", "b:s3=ok2"]),
        ])
    );
    let Ok(Data::Traces(t)) = out[0].batch.view() else {
        panic!()
    };
    assert_eq!(
        t.resource_spans[0].scope_spans[1].schema_url,
        "https://schema/s"
    );
}

#[test]
fn the_first_matching_route_takes_the_data_from_later_ones() {
    let c = connector(
        r#"
table:
  - context: span
    condition: name == "c2" or name == "a1"
    pipelines: [traces/first]
  - condition: attributes["name"] != nil
    pipelines: [traces/second]
  - condition: attributes["env"] == "prod"
    pipelines: [traces/never]
"#,
    );
    let out = route(c.as_ref(), three_resources()).unwrap();
    assert_eq!(
        shape(&out),
        pairs(&[
            ("traces/first", &["a:s=a1", "c:s=c2"]),
            ("traces/second", &["b:s=b1", "c:s=c1", "d:s=d1"]),
        ])
    );
}

#[test]
fn routes_to_the_same_pipelines_share_one_batch() {
    let c = connector(
        r#"
default_pipelines: [traces/x]
table:
  - condition: attributes["env"] == "prod"
    pipelines: [traces/x]
  - condition: attributes["env"] == "dev"
    pipelines: [traces/y]
"#,
    );
    let out = route(c.as_ref(), three_resources()).unwrap();
    assert_eq!(
        shape(&out),
        pairs(&[
            ("traces/x", &["a:s=a1", "d:s=d1", "c:s=c1,c2"]),
            ("traces/y", &["b:s=b1"]),
        ])
    );
}

#[test]
fn a_leading_request_route_takes_the_whole_request_undecoded() {
    let c = connector(
        r#"
default_pipelines: [traces/other]
table:
  - context: request
    condition: request["X-Tenant"] == "acme"
    pipelines: [traces/acme]
  - condition: attributes["env"] == "prod"
    pipelines: [traces/prod]
"#,
    );
    let acme = with_headers(three_resources(), &[("x-tenant", "acme")]);
    let out = route(c.as_ref(), acme.clone()).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].pipelines.as_deref(),
        Some(&["traces/acme".to_string()][..])
    );
    assert!(out[0].batch.same_payload(&acme), "passed on as it came");

    let ecorp = with_headers(three_resources(), &[("x-tenant", "ecorp")]);
    let out = route(c.as_ref(), ecorp).unwrap();
    assert_eq!(
        shape(&out),
        pairs(&[
            ("traces/prod", &["a:s=a1", "d:s=d1"]),
            ("traces/other", &["b:s=b1", "c:s=c1,c2"]),
        ])
    );
}

#[test]
fn a_request_route_after_others_takes_what_they_left() {
    let c = connector(
        r#"
table:
  - condition: attributes["env"] == "prod"
    pipelines: [traces/prod]
  - context: request
    condition: request["X-Tenant"] != "acme"
    pipelines: [traces/not-acme]
"#,
    );
    let out = route(
        c.as_ref(),
        with_headers(three_resources(), &[("X-Tenant", "e")]),
    )
    .unwrap();
    assert_eq!(
        shape(&out),
        pairs(&[
            ("traces/prod", &["a:s=a1", "d:s=d1"]),
            ("traces/not-acme", &["b:s=b1", "c:s=c1,c2"]),
        ])
    );
    let out = route(c.as_ref(), three_resources()).unwrap();
    assert_eq!(out.len(), 1, "no header: `!=` does not match");
}

#[test]
fn route_without_where_takes_everything_and_only_default_keeps_the_bytes() {
    let c = connector("table: [{statement: route(), pipelines: [traces/all]}]");
    let out = route(c.as_ref(), three_resources()).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].batch.item_count(), 5);

    let only_request = connector(
        r#"
default_pipelines: [traces/d]
table: [{context: request, condition: 'request["a"] == "b"', pipelines: [traces/x]}]
"#,
    );
    let batch = three_resources();
    let out = route(only_request.as_ref(), batch.clone()).unwrap();
    assert_eq!(
        out[0].pipelines.as_deref(),
        Some(&["traces/d".to_string()][..])
    );
    assert!(out[0].batch.same_payload(&batch));
}

/// Fails to evaluate for resource `a` (a string cannot be indexed), false for the others.
const FAILING: &str = r#"
table:
  - condition: attributes["name"] == "a" and attributes["name"][0] == "x"
    pipelines: [traces/broken]
  - condition: attributes["env"] == "prod"
    pipelines: [traces/prod]
"#;

#[test]
fn error_mode_propagate_refuses_the_request_naming_the_statement() {
    let c = connector(FAILING);
    let mut out = Vec::new();
    let e = c.consume(three_resources(), &mut out).unwrap_err();
    assert!(out.is_empty(), "nothing routed");
    let text = e.to_string();
    assert!(
        text.contains(r#"failed to execute statement: route() where attributes["name"] == "a""#),
        "{text}"
    );
    assert!(text.contains("does not support indexing"), "{text}");
    assert!(matches!(e, PipelineError::Refused { .. }), "{e:?}");
}

#[test]
fn error_modes_ignore_and_silent_treat_a_failing_condition_as_false() {
    for mode in ["ignore", "silent", "IGNORE"] {
        let c = connector(&format!(
            "error_mode: {mode}\ndefault_pipelines: [traces/d]\n{FAILING}"
        ));
        let out = route(c.as_ref(), three_resources()).unwrap();
        assert_eq!(
            shape(&out),
            pairs(&[
                ("traces/prod", &["a:s=a1", "d:s=d1"]),
                ("traces/d", &["b:s=b1", "c:s=c1,c2"]),
            ]),
            "{mode}: `a` went on to the next route"
        );
    }
}

#[test]
fn metrics_and_logs_are_routed_by_resource_and_span_routes_match_none_of_them() {
    let c = connector(
        r#"
default_pipelines: [logs/d]
table:
  - context: span
    condition: name != ""
    pipelines: [logs/spans]
  - condition: attributes["env"] == "prod"
    pipelines: [logs/prod]
"#,
    );
    let group = |env: &str| ResourceLogs {
        resource: resource(&[("env", env)]),
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord::default(); 2],
            ..Default::default()
        }],
        ..Default::default()
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![group("prod"), group("dev")],
    };
    let out = route(
        c.as_ref(),
        Batch::from_data(Data::Logs(logs), Default::default()),
    )
    .unwrap();
    let got: Vec<_> = out
        .iter()
        .map(|r| (r.pipelines.clone().unwrap(), r.batch.item_count()))
        .collect();
    assert_eq!(
        got,
        [
            (vec!["logs/prod".to_string()], 2),
            (vec!["logs/d".to_string()], 2)
        ]
    );

    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(&[("env", "prod")]),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric::default()],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let c =
        connector(r#"table: [{condition: 'attributes["env"] == "prod"', pipelines: [metrics/p]}]"#);
    let out = route(
        c.as_ref(),
        Batch::from_data(Data::Metrics(metrics), Default::default()),
    );
    let out = out.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].batch.signal(), Signal::Metrics);
    assert_eq!(
        out[0].pipelines.as_deref(),
        Some(&["metrics/p".to_string()][..])
    );
}

#[test]
fn a_repeated_statement_is_ignored() {
    let c = connector(
        r#"
table:
  - condition: attributes["env"] == "prod"
    pipelines: [traces/first]
  - statement: route() where attributes["env"] == "prod"
    pipelines: [traces/second]
"#,
    );
    let out = route(c.as_ref(), three_resources()).unwrap();
    assert_eq!(
        shape(&out),
        pairs(&[("traces/first", &["a:s=a1", "d:s=d1"])])
    );
}

fn pid(s: &str) -> PipelineId {
    let (signal, name) = config::pipeline_id(s).unwrap();
    let name = name.split_once('/').map(|(_, n)| n.to_string());
    PipelineId { signal, name }
}

#[test]
fn every_named_pipeline_must_be_one_the_connector_feeds_with_its_signal() {
    let c = connector(ENV_TABLE);
    let up = [pid("traces/in")];
    let all = [
        "traces/prod",
        "traces/dev",
        "traces/all-dev",
        "traces/other",
    ]
    .map(pid);
    assert_eq!(c.check_pipelines(&up, &all), Ok(()));
    assert_eq!(
        c.check_pipelines(&up, &all[..2]).unwrap_err(),
        r#"pipeline not found: missing consumer: "traces/all-dev"; missing consumer: "traces/other""#
    );
    let logs_up = [pid("logs/in")];
    let e = c.check_pipelines(&logs_up, &all).unwrap_err();
    assert!(
        e.starts_with(r#"pipeline not found: missing consumer: "traces/prod""#),
        "{e}"
    );
}

#[test]
fn config_errors_are_otelcols_each_at_its_key() {
    let at = "connectors.routing";
    for (text, want) in [
        ("{}", format!("{at}.table: invalid routing table: the routing table is empty")),
        (
            "default_pipelines: [traces/d]",
            format!("{at}.table: invalid routing table: the routing table is empty"),
        ),
        (
            "table: [{pipelines: [traces/a]}]",
            format!("{at}.table[0]: invalid route: no condition or statement provided"),
        ),
        (
            r#"table: [{condition: 'attributes["a"] == "b"'}]"#,
            format!("{at}.table[0].pipelines: invalid route: no pipelines defined"),
        ),
        (
            r#"table: [{condition: 'true', statement: 'route() where true', pipelines: [traces/a]}]"#,
            format!("{at}.table[0]: invalid route: both condition and statement provided"),
        ),
        (
            "table: [{context: invalid, condition: 'true', pipelines: [traces/a]}]",
            format!("{at}.table[0].context: invalid context: invalid"),
        ),
        (
            "table: [{context: request, statement: 'route() where true', pipelines: [traces/a]}]",
            format!("{at}.table[0].context: \"request\" context requires a 'condition'"),
        ),
        (
            r#"table: [{context: request, condition: 'attributes["a"] == "b"', pipelines: [traces/a]}]"#,
            format!(
                "{at}.table[0].condition: condition must have format 'request[\"<name>\"] <comparator> <value>'"
            ),
        ),
        (
            "error_mode: loud\ntable: [{condition: 'true', pipelines: [traces/a]}]",
            format!("{at}.error_mode: unknown error mode loud"),
        ),
        (
            "table: [{condition: 'true', pipelines: [spans/a, traces/]}]",
            format!("{at}.table[0].pipelines[0]: in \"spans/a\" id: unknown signal \"spans\""),
        ),
    ] {
        let got = messages(text);
        assert!(got.contains(&want), "{text}\n got {got:?}\nwant {want}");
    }
}

/// Per emitted batch: its pipelines and item count.
fn counts(out: &[Routed]) -> Vec<(String, usize)> {
    out.iter()
        .map(|r| {
            (
                r.pipelines.as_ref().unwrap().join(","),
                r.batch.item_count(),
            )
        })
        .collect()
}

#[test]
fn log_routes_move_single_records() {
    let c = connector(
        r#"
default_pipelines: [logs/other]
table:
  - context: log
    condition: attributes["region"] == "east"
    pipelines: [logs/east]
  - context: log
    condition: severity_number >= SEVERITY_NUMBER_ERROR
    pipelines: [logs/errors]
"#,
    );
    let record = |region: &str, severity: i32| LogRecord {
        attributes: vec![kv_str("region", region)],
        severity_number: severity,
        ..Default::default()
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(&[("service.name", "api")]),
            scope_logs: vec![ScopeLogs {
                log_records: vec![record("east", 9), record("west", 17), record("west", 9)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let out = route(
        c.as_ref(),
        Batch::from_data(Data::Logs(logs), Default::default()),
    )
    .unwrap();
    assert_eq!(
        counts(&out),
        [
            ("logs/east".to_string(), 1),
            ("logs/errors".to_string(), 1),
            ("logs/other".to_string(), 1)
        ]
    );
    let Ok(Data::Logs(east)) = out[0].batch.view() else {
        panic!("not logs")
    };
    // Regrouped under a copy of the resource.
    assert_eq!(
        east.resource_logs[0].resource,
        resource(&[("service.name", "api")])
    );
}

#[test]
fn metric_routes_move_metrics_and_datapoint_routes_move_points() {
    use ferrotel_core::proto::metrics::v1::{metric, number_data_point, Gauge, NumberDataPoint};
    let gauge = |name: &str, values: &[i64]| Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: values
                .iter()
                .map(|v| NumberDataPoint {
                    value: Some(number_data_point::Value::AsInt(*v)),
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    };
    let metrics = || ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(&[("service.name", "api")]),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![gauge("queue.size", &[1, 50, 7]), gauge("cpu", &[2])],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let batch = || Batch::from_data(Data::Metrics(metrics()), Default::default());
    let c = connector(
        r#"
default_pipelines: [metrics/rest]
table:
  - context: metric
    condition: name == "queue.size"
    pipelines: [metrics/queues]
"#,
    );
    let out = route(c.as_ref(), batch()).unwrap();
    assert_eq!(
        counts(&out),
        [
            ("metrics/queues".to_string(), 3),
            ("metrics/rest".to_string(), 1)
        ]
    );
    let c = connector(
        r#"
default_pipelines: [metrics/rest]
table:
  - context: datapoint
    condition: value_int > 5 and metric.name == "queue.size"
    pipelines: [metrics/high]
"#,
    );
    let out = route(c.as_ref(), batch()).unwrap();
    assert_eq!(
        counts(&out),
        [
            ("metrics/high".to_string(), 2),
            ("metrics/rest".to_string(), 2)
        ]
    );
    let Ok(Data::Metrics(high)) = out[0].batch.view() else {
        panic!("not metrics")
    };
    let moved = &high.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(
        moved.len(),
        1,
        "only queue.size, under a copy of its metric"
    );
    assert_eq!(moved[0].name, "queue.size");
}

#[test]
fn invalid_ottl_is_refused_naming_the_statement() {
    let got = messages(
        r#"
table:
  - condition: attributes["a"] = "b"
    pipelines: [traces/a]
  - context: span
    statement: drop() where name == "x"
    pipelines: [traces/a]
  - condition: span.name == "x"
    pipelines: [traces/a]
"#,
    );
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].starts_with(
            r#"connectors.routing.table[0].condition: unable to parse OTTL statement "route() where attributes[\"a\"] = \"b\"""#
        ),
        "{got:?}"
    );
    assert!(got[1].starts_with("connectors.routing.table[1].statement: unable to parse OTTL statement \"drop() where name == \\\"x\\\"\": undefined function \"drop\""), "{got:?}");
    assert!(got[2].contains("Resource context"), "{got:?}");
}

#[test]
fn match_once_is_refused_as_removed_and_typos_are_unknown_keys() {
    let got = messages("match_once: true\ntable: [{condition: 'true', pipelines: [traces/a]}]");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("connectors.routing.match_once: `match_once` was deprecated"));
    let got = messages("table: [{condtion: 'true', pipelines: [traces/a]}]");
    assert!(got[0].contains("unknown field `condtion`"), "{got:?}");
}

#[test]
fn testdata_valid_typo_and_invalid() {
    let file = |n: &str| testdata(env!("CARGO_MANIFEST_DIR"), "routing", n);
    let text = file("valid.yaml");
    let c = connector(&text);
    let out = route(c.as_ref(), three_resources()).unwrap();
    assert_eq!(
        out.len(),
        1,
        "only the default: no X-Tenant resource attribute"
    );
    assert_eq!(
        out[0].pipelines.as_deref(),
        Some(&["traces/otlp-all".to_string()][..])
    );
    let typo = messages(&file("typo.yaml"));
    assert!(typo[0].contains("unknown field `pipeline`"), "{typo:?}");
    let invalid = messages(&file("invalid.yaml"));
    assert!(
        invalid
            .iter()
            .any(|m| m.ends_with("invalid route: no pipelines defined")),
        "{invalid:?}"
    );
}

#[test]
fn an_empty_request_goes_nowhere_but_empty_resources_are_routed() {
    let c = connector(
        r#"
default_pipelines: [traces/d]
table:
  - context: request
    condition: request["a"] == "b"
    pipelines: [traces/r]
  - condition: attributes["env"] == "prod"
    pipelines: [traces/prod]
"#,
    );
    let empty = with_headers(traces(&[]), &[("a", "b")]);
    assert!(route(c.as_ref(), empty).unwrap().is_empty());
    let no_spans = traces(&[(&[("name", "p"), ("env", "prod")], &[])]);
    let out = route(c.as_ref(), no_spans).unwrap();
    assert_eq!(shape(&out), pairs(&[("traces/prod", &["p:"])]));
}
