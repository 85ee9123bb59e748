//! Editor statements, written from otelcol's ottlfuncs documentation (each editor's examples
//! and stated semantics) and the path tables of its contexts.

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::proto::metrics::v1::{metric::Data, Metric, NumberDataPoint, Sum};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::Event, Span};
use ferrotel_ottl::{
    ContextMut, DataPointContext, DataPointItemMut, DataPointMut, ErrorMode, LogContext,
    LogItemMut, MetricContext, MetricItemMut, NewMetrics, ResourceContext, ResourceItemMut,
    ScopeContext, ScopeItemMut, SpanContext, SpanEventContext, SpanEventItemMut, SpanItemMut,
    Statement, Statements,
};

use any_value::Value as V;

mod common;
use common::{kv, list, map, s};

/// A compact rendering of a map: `{k=v, ...}` in order, strings quoted.
fn render(m: &[KeyValue]) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|kv| format!("{}={}", kv.key, render_value(kv.value.as_ref())))
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn render_value(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => "empty".into(),
        Some(V::StringValue(s)) => format!("{s:?}"),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(f)) => f.to_string(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::BytesValue(b)) => format!("{b:?}"),
        Some(V::KvlistValue(m)) => render(&m.values),
        Some(V::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|v| render_value(Some(v))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(V::StringValueStrindex(i)) => format!("strindex {i}"),
    }
}

struct SpanData {
    span: Span,
    scope: Option<InstrumentationScope>,
    resource: Option<Resource>,
}

fn span_data() -> SpanData {
    SpanData {
        span: Span {
            name: "GET /users/42".into(),
            kind: 2,
            trace_state: "vendor=x".into(),
            attributes: vec![
                kv("http.route", s("/users/{id}")),
                kv("db.password", s("hunter2")),
                kv("Password.Hash", s("abc")),
                kv("http.status_code", V::IntValue(503)),
            ],
            ..Default::default()
        },
        scope: None,
        resource: Some(Resource {
            attributes: vec![kv("service.name", s("checkout"))],
            ..Default::default()
        }),
    }
}

fn execute(st: &Statements<SpanContext>, d: &mut SpanData) -> Result<(), ferrotel_ottl::EvalError> {
    st.execute(&mut SpanItemMut {
        cache: &mut Vec::new(),
        span: &mut d.span,
        scope: &mut d.scope,
        resource: &mut d.resource,
    })
}

fn run_span(statements: &[&str], d: &mut SpanData) {
    let st = Statements::<SpanContext>::new(statements, &[] as &[&str], ErrorMode::Propagate)
        .unwrap_or_else(|e| panic!("{e:?}"));
    execute(&st, d).unwrap();
}

fn span_attrs_after(statements: &[&str]) -> String {
    let mut d = span_data();
    run_span(statements, &mut d);
    render(&d.span.attributes)
}

fn refused<C: ContextMut>(text: &str) -> String {
    match Statement::<C>::new(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn set_writes_fields_attributes_nested_keys_and_parents_of_the_span() {
    let mut d = span_data();
    run_span(
        &[
            r#"set(name, "GET /users/{id}") where attributes["http.route"] == "/users/{id}""#,
            r#"set(attributes["http.response.status_code"], attributes["http.status_code"])"#,
            r#"set(attributes["a"]["b"], 1)"#,
            r#"set(attributes["l"][1], "x")"#,
            r#"set(status.code, STATUS_CODE_ERROR) where attributes["http.status_code"] >= 500"#,
            r#"set(status.message, "upstream")"#,
            r#"set(trace_state["svc"], "example")"#,
            r#"set(resource.attributes["deployment.environment"], "prod")"#,
            r#"set(instrumentation_scope.name, "manual")"#,
            r#"set(kind, SPAN_KIND_CLIENT)"#,
            r#"set(end_time_unix_nano, start_time_unix_nano + 1000)"#,
        ],
        &mut d,
    );
    assert_eq!(d.span.name, "GET /users/{id}");
    let attrs = render(&d.span.attributes);
    assert!(
        attrs.ends_with(r#"http.response.status_code=503, a={b=1}, l=[empty, "x"]}"#),
        "{attrs}"
    );
    let status = d.span.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (2, "upstream"));
    assert_eq!(d.span.trace_state, "svc=example,vendor=x");
    assert_eq!(
        render(&d.resource.as_ref().unwrap().attributes),
        r#"{service.name="checkout", deployment.environment="prod"}"#
    );
    assert_eq!(d.scope.as_ref().unwrap().name, "manual");
    assert_eq!(d.span.kind, 3);
    assert_eq!(d.span.end_time_unix_nano, 1000);
}

#[test]
fn set_with_nil_or_a_value_of_the_wrong_type_changes_nothing() {
    let mut d = span_data();
    let before = d.span.clone();
    run_span(
        &[
            r#"set(attributes["http.route"], attributes["missing"])"#,
            r#"set(name, 42)"#,
            r#"set(status.code, "error")"#,
        ],
        &mut d,
    );
    assert_eq!(d.span.name, before.name);
    assert_eq!(d.span.attributes, before.attributes);
    assert_eq!(d.span.status.map_or(0, |s| s.code), 0);
}

#[test]
fn set_into_a_value_that_is_not_a_map_is_an_error_naming_the_statement() {
    let st = Statements::<SpanContext>::new(
        &[r#"set(attributes["http.route"]["x"], 1)"#],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap();
    let mut d = span_data();
    let e = execute(&st, &mut d).unwrap_err();
    assert!(
        e.to_string()
            .contains("failed to execute statement: set(attributes"),
        "{e}"
    );
    assert!(e.to_string().contains("does not support indexing"), "{e}");
}

#[test]
fn error_modes_ignore_and_silent_go_on_with_the_next_statement() {
    for mode in [ErrorMode::Ignore, ErrorMode::Silent] {
        let st = Statements::<SpanContext>::new(
            &[
                r#"set(attributes["http.route"]["x"], 1)"#,
                r#"set(attributes["after"], true)"#,
            ],
            &[] as &[&str],
            mode,
        )
        .unwrap();
        let mut d = span_data();
        execute(&st, &mut d).unwrap();
        assert!(render(&d.span.attributes).ends_with("after=true}"));
    }
}

#[test]
fn group_conditions_gate_every_statement() {
    let st = Statements::<SpanContext>::new(
        &[r#"set(attributes["matched"], true)"#],
        &[r#"name == "nope""#, r#"kind == SPAN_KIND_SERVER"#],
        ErrorMode::Propagate,
    )
    .unwrap();
    let mut d = span_data();
    let mut item = SpanItemMut {
        cache: &mut Vec::new(),
        span: &mut d.span,
        scope: &mut d.scope,
        resource: &mut d.resource,
    };
    st.execute(&mut item).unwrap();
    assert!(render(&d.span.attributes).ends_with("matched=true}"));
    let none = Statements::<SpanContext>::new(
        &[r#"set(attributes["never"], true)"#],
        &[r#"name == "nope""#],
        ErrorMode::Propagate,
    )
    .unwrap();
    let mut d = span_data();
    execute(&none, &mut d).unwrap();
    assert!(!render(&d.span.attributes).contains("never"));
}

#[test]
fn delete_and_keep_keys_by_name_and_by_pattern() {
    assert_eq!(
        span_attrs_after(&[r#"delete_key(attributes, "db.password")"#]),
        r#"{http.route="/users/{id}", Password.Hash="abc", http.status_code=503}"#
    );
    assert_eq!(
        span_attrs_after(&[r#"delete_matching_keys(attributes, "(?i).*password.*")"#]),
        r#"{http.route="/users/{id}", http.status_code=503}"#
    );
    assert_eq!(
        span_attrs_after(&[r#"keep_keys(attributes, ["http.route", "http.status_code"])"#]),
        r#"{http.route="/users/{id}", http.status_code=503}"#
    );
    assert_eq!(
        span_attrs_after(&[r#"keep_matching_keys(attributes, "^http\\.")"#]),
        r#"{http.route="/users/{id}", http.status_code=503}"#
    );
    let e = refused::<SpanContext>(r#"delete_matching_keys(attributes, "(")"#);
    assert!(e.contains("not a valid pattern"), "{e}");
}

#[test]
fn limit_keeps_priority_keys_first() {
    assert_eq!(
        span_attrs_after(&[r#"limit(attributes, 2, ["http.status_code"])"#]),
        r#"{http.route="/users/{id}", http.status_code=503}"#
    );
    assert_eq!(
        span_attrs_after(&[r#"limit(attributes, 100, [])"#]),
        render(&span_data().span.attributes)
    );
    let e = refused::<SpanContext>(r#"limit(attributes, -1, [])"#);
    assert!(e.contains("-1 cannot be negative"), "{e}");
    let e = refused::<SpanContext>(r#"limit(attributes, 1, ["a", "b"])"#);
    assert!(
        e.contains("cannot be less than number of priority attributes 2"),
        "{e}"
    );
}

#[test]
fn truncate_all_cuts_strings_at_character_boundaries_with_an_optional_marker() {
    let mut d = span_data();
    d.span.attributes = vec![kv("a", s("héllo world")), kv("n", V::IntValue(12345))];
    run_span(&[r#"truncate_all(attributes, 2)"#], &mut d);
    assert_eq!(render(&d.span.attributes), r#"{a="h", n=12345}"#);
    d.span.attributes = vec![kv("a", s("hello world")), kv("b", s("hi"))];
    run_span(
        &[r#"truncate_all(attributes, 8, truncation_marker = "...")"#],
        &mut d,
    );
    assert_eq!(render(&d.span.attributes), r#"{a="hello...", b="hi"}"#);
    let e = refused::<SpanContext>(r#"truncate_all(attributes, -1)"#);
    assert!(e.contains("cannot be negative"), "{e}");
}

#[test]
fn replace_pattern_replaces_every_match_with_group_references() {
    let mut d = span_data();
    d.span.attributes = vec![kv(
        "process.command_line",
        s("run --password=secret1 --user=x"),
    )];
    run_span(
        &[
            r#"replace_pattern(attributes["process.command_line"], "password\\=[^\\s]*(\\s?)", "password=***")"#,
        ],
        &mut d,
    );
    assert_eq!(
        render(&d.span.attributes),
        r#"{process.command_line="run --password=***--user=x"}"#
    );
    run_span(
        &[r#"replace_pattern(name, "^GET /users/([0-9]+)$", "GET /users/{id} ($1)")"#],
        &mut d,
    );
    assert_eq!(d.span.name, "GET /users/{id} (42)");
}

#[test]
fn replace_all_patterns_in_values_or_keys() {
    let mut d = span_data();
    d.span.attributes = vec![
        kv("/account/1234", s("/account/5678/x")),
        kv("kube_pod_name", s("p")),
    ];
    run_span(
        &[
            r#"replace_all_patterns(attributes, "value", "/account/\\d{4}", "/account/{accountId}")"#,
        ],
        &mut d,
    );
    assert_eq!(
        render(&d.span.attributes),
        r#"{/account/1234="/account/{accountId}/x", kube_pod_name="p"}"#
    );
    run_span(
        &[r#"replace_all_patterns(attributes, "key", "^kube_([0-9A-Za-z]+_)", "k8s.$1.")"#],
        &mut d,
    );
    assert!(render(&d.span.attributes).contains(r#"k8s.pod_.name="p""#));
    let e = refused::<SpanContext>(r#"replace_all_patterns(attributes, "both", "a", "b")"#);
    assert!(
        e.contains("invalid mode both, must be either 'key' or 'value'"),
        "{e}"
    );
}

#[test]
fn replace_match_and_replace_all_matches_replace_whole_strings_matching_a_glob() {
    let mut d = span_data();
    d.span.attributes = vec![
        kv("http.target", s("/user/12/list/7")),
        kv("other", s("/user/12")),
    ];
    run_span(
        &[
            r#"replace_match(attributes["http.target"], "/user/*/list/*", "/user/{userId}/list/{listId}")"#,
        ],
        &mut d,
    );
    assert_eq!(
        render(&d.span.attributes),
        r#"{http.target="/user/{userId}/list/{listId}", other="/user/12"}"#
    );
    d.span.attributes = vec![
        kv("a", s("/user/1/list/2")),
        kv("b", s("/user/x")),
        kv("c", V::IntValue(1)),
    ];
    run_span(
        &[r#"replace_all_matches(attributes, "/user/*/list/*", "/user/{userId}/list/{listId}")"#],
        &mut d,
    );
    assert_eq!(
        render(&d.span.attributes),
        r#"{a="/user/{userId}/list/{listId}", b="/user/x", c=1}"#
    );
}

#[test]
fn merge_maps_by_strategy() {
    let merged = |strategy: &str| {
        let mut d = span_data();
        d.span.attributes = vec![
            kv("a", s("old")),
            kv("m", map(vec![kv("a", s("new")), kv("b", s("added"))])),
        ];
        run_span(
            &[&format!(
                r#"merge_maps(attributes, attributes["m"], "{strategy}")"#
            )],
            &mut d,
        );
        d.span.attributes.retain(|kv| kv.key != "m");
        render(&d.span.attributes)
    };
    assert_eq!(merged("insert"), r#"{a="old", b="added"}"#);
    assert_eq!(merged("update"), r#"{a="new"}"#);
    assert_eq!(merged("upsert"), r#"{a="new", b="added"}"#);
    let e = refused::<SpanContext>(r#"merge_maps(attributes, attributes["m"], "replace")"#);
    assert!(e.contains("invalid value for strategy"), "{e}");
}

#[test]
fn append_makes_a_list_of_a_scalar_or_a_missing_value() {
    let mut d = span_data();
    d.span.attributes = vec![kv("tags", s("a"))];
    run_span(
        &[
            r#"append(attributes["tags"], "prod")"#,
            r#"append(attributes["tags"], values = ["staging", "staging:east"])"#,
            r#"append(attributes["new"], "x")"#,
        ],
        &mut d,
    );
    assert_eq!(
        render(&d.span.attributes),
        r#"{tags=["a", "prod", "staging", "staging:east"], new=["x"]}"#
    );
    let e = refused::<SpanContext>(r#"append(attributes["tags"])"#);
    assert!(e.contains("one of the optional arguments"), "{e}");
}

fn readme_map() -> Vec<KeyValue> {
    vec![
        kv("name", s("test")),
        kv(
            "address",
            map(vec![
                kv("street", s("first")),
                kv("house", V::IntValue(1234)),
            ]),
        ),
        kv("occupants", list(vec![s("user 1"), s("user 2")])),
    ]
}

#[test]
fn flatten_moves_nested_maps_and_lists_to_the_root_as_the_readme_shows() {
    let mut d = span_data();
    d.span.attributes = readme_map();
    run_span(&["flatten(attributes)"], &mut d);
    assert_eq!(
        render(&d.span.attributes),
        r#"{name="test", address.street="first", address.house=1234, occupants.0="user 1", occupants.1="user 2"}"#
    );
    d.span.attributes = readme_map();
    run_span(&[r#"flatten(attributes, "app")"#], &mut d);
    assert!(
        render(&d.span.attributes).starts_with(r#"{app.name="test", app.address.street="first""#)
    );
    d.span.attributes = vec![kv(
        "0",
        map(vec![kv(
            "1",
            map(vec![kv(
                "2",
                map(vec![kv("3", map(vec![kv("4", s("value"))]))]),
            )]),
        )]),
    )];
    run_span(&["flatten(attributes, depth=2)"], &mut d);
    assert_eq!(render(&d.span.attributes), r#"{0.1.2={3={4="value"}}}"#);
    let e = refused::<SpanContext>("flatten(attributes, depth=-1)");
    assert!(e.contains("-1 cannot be negative"), "{e}");
}

#[test]
fn flatten_with_resolve_conflicts_suffixes_repeated_keys() {
    let mut d = span_data();
    d.span.attributes = vec![
        kv(
            "address",
            map(vec![
                kv("street", map(vec![kv("number", s("first"))])),
                kv("house", s("1234")),
            ]),
        ),
        kv(
            "address.street",
            map(vec![kv("number", list(vec![s("second"), s("third")]))]),
        ),
        kv("address.street.number", s("fourth")),
        kv("occupants", list(vec![s("user 1"), s("user 2")])),
    ];
    run_span(&["flatten(attributes, resolveConflicts=true)"], &mut d);
    let mut got: Vec<String> = d
        .span
        .attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, render_value(kv.value.as_ref())))
        .collect();
    got.sort();
    let mut want = [
        r#"address.house="1234""#,
        r#"address.street.number="first""#,
        r#"address.street.number.0="second""#,
        r#"address.street.number.1="third""#,
        r#"address.street.number.2="fourth""#,
        r#"occupants="user 1""#,
        r#"occupants.0="user 2""#,
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn stringify_all_turns_every_value_into_a_string() {
    let mut d = span_data();
    d.span.attributes = vec![
        kv("i", V::IntValue(42)),
        kv("f", V::DoubleValue(2.5)),
        kv("b", V::BoolValue(true)),
        kv("s", s("x")),
        kv("m", map(vec![kv("k", s("v"))])),
    ];
    run_span(&["stringify_all(attributes)"], &mut d);
    assert_eq!(
        render(&d.span.attributes),
        r#"{i="42", f="2.5", b="true", s="x", m="{\"k\":\"v\"}"}"#
    );
}

#[test]
fn unknown_editors_converters_as_editors_and_non_path_targets_are_config_errors() {
    let e = refused::<SpanContext>(r#"frobnicate(attributes, "x")"#);
    assert!(
        e.contains(r#"undefined function "frobnicate""#) && e.contains("frobnicate(attributes"),
        "{e}"
    );
    let e = refused::<SpanContext>(r#"SHA256(attributes["x"])"#);
    assert!(e.contains("editor"), "{e}");
    let e = refused::<SpanContext>(r#"set("x", 1)"#);
    assert!(e.contains("target must be a path"), "{e}");
    let e = refused::<SpanContext>(r#"set(attributes["x"])"#);
    assert!(e.contains("incorrect number of arguments"), "{e}");
}

#[test]
fn spanevent_statements_change_the_event_and_read_its_span() {
    let mut span = Span {
        name: "checkout".into(),
        events: vec![Event {
            name: "exception".into(),
            attributes: vec![kv(
                "exception.message",
                s("card 4111-1111-1111-1111 declined"),
            )],
            ..Default::default()
        }],
        ..Default::default()
    };
    let (mut scope, mut resource) = (None, None);
    let st = Statements::<SpanEventContext>::new(
        &[
            r#"replace_pattern(attributes["exception.message"], "\\d{4}-\\d{4}-\\d{4}-(\\d{4})", "****-$1")"#,
            r#"set(attributes["span"], span.name)"#,
            r#"set(name, "error") where span.name == "checkout""#,
        ],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap();
    let mut events = std::mem::take(&mut span.events);
    for (index, event) in events.iter_mut().enumerate() {
        st.execute(&mut SpanEventItemMut {
            cache: &mut Vec::new(),
            event,
            index,
            span: SpanItemMut {
                cache: &mut Vec::new(),
                span: &mut span,
                scope: &mut scope,
                resource: &mut resource,
            },
        })
        .unwrap();
    }
    assert_eq!(events[0].name, "error");
    assert_eq!(
        render(&events[0].attributes),
        r#"{exception.message="card ****-1111 declined", span="checkout"}"#
    );
}

#[test]
fn log_statements_set_body_keys_severity_and_parse_nothing_else() {
    let mut log = LogRecord {
        body: Some(AnyValue {
            value: Some(map(vec![kv("msg", s("hi")), kv("password", s("p"))])),
        }),
        ..Default::default()
    };
    let (mut scope, mut resource) = (None, None);
    let st = Statements::<LogContext>::new(
        &[
            r#"set(severity_number, SEVERITY_NUMBER_WARN)"#,
            r#"set(severity_text, "WARN")"#,
            r#"delete_key(body, "password")"#,
            r#"set(body["level"], "warn")"#,
            r#"set(attributes["msg"], body["msg"])"#,
        ],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap();
    st.execute(&mut LogItemMut {
        cache: &mut Vec::new(),
        log: &mut log,
        scope: &mut scope,
        resource: &mut resource,
    })
    .unwrap();
    assert_eq!(
        (log.severity_number, log.severity_text.as_str()),
        (13, "WARN")
    );
    assert_eq!(
        render_value(log.body.as_ref()),
        r#"{msg="hi", level="warn"}"#
    );
    assert_eq!(render(&log.attributes), r#"{msg="hi"}"#);
    let st = Statements::<LogContext>::new(
        &[r#"set(body, "plain")"#],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap();
    st.execute(&mut LogItemMut {
        cache: &mut Vec::new(),
        log: &mut log,
        scope: &mut scope,
        resource: &mut resource,
    })
    .unwrap();
    assert_eq!(render_value(log.body.as_ref()), r#""plain""#);
}

#[test]
fn the_otel_demos_scope_statements_rename_a_scope_attribute() {
    let mut scope = Some(InstrumentationScope {
        attributes: vec![kv("otelcol.signal", s("logs"))],
        ..Default::default()
    });
    let (mut resource, mut schema_url) = (None, String::new());
    let st = Statements::<ScopeContext>::new(
        &[
            r#"set(attributes["otelcol_signal"], attributes["otelcol.signal"]) where attributes["otelcol.signal"] != nil and not IsMap(attributes["otelcol.signal"])"#,
            r#"delete_key(attributes, "otelcol.signal") where attributes["otelcol_signal"] != nil"#,
        ],
        &[] as &[&str],
        ErrorMode::Ignore,
    )
    .unwrap();
    st.execute(&mut ScopeItemMut {
        cache: &mut Vec::new(),
        scope: &mut scope,
        schema_url: &mut schema_url,
        resource: &mut resource,
    })
    .unwrap();
    assert_eq!(
        render(&scope.unwrap().attributes),
        r#"{otelcol_signal="logs"}"#
    );
}

#[test]
fn resource_metric_and_datapoint_statements() {
    let mut resource = Some(Resource::default());
    let mut schema_url = String::new();
    Statements::<ResourceContext>::new(
        &[
            r#"set(attributes["k8s.cluster.name"], "prod-1")"#,
            r#"set(schema_url, "https://opentelemetry.io/schemas/1.21.0")"#,
        ],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap()
    .execute(&mut ResourceItemMut {
        cache: &mut Vec::new(),
        resource: &mut resource,
        schema_url: &mut schema_url,
    })
    .unwrap();
    assert_eq!(
        render(&resource.as_ref().unwrap().attributes),
        r#"{k8s.cluster.name="prod-1"}"#
    );
    assert_eq!(schema_url, "https://opentelemetry.io/schemas/1.21.0");

    let mut metric = Metric {
        name: "kube_pod_status".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: vec![kv("pod", s("a"))],
                ..Default::default()
            }],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let mut scope = None;
    Statements::<MetricContext>::new(
        &[
            r#"replace_pattern(name, "^kube_([0-9A-Za-z]+_)", "k8s.$1.")"#,
            r#"set(unit, "1")"#,
            "set(aggregation_temporality, AGGREGATION_TEMPORALITY_DELTA)",
        ],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap()
    .execute(&mut MetricItemMut {
        cache: &mut Vec::new(),
        metric: &mut metric,
        scope: &mut scope,
        resource: &mut resource,
        added: &mut NewMetrics::default(),
    })
    .unwrap();
    assert_eq!(
        (metric.name.as_str(), metric.unit.as_str()),
        ("k8s.pod_.status", "1")
    );

    let st = Statements::<DataPointContext>::new(
        &[r#"set(attributes["cluster"], resource.attributes["k8s.cluster.name"]) where metric.type == METRIC_DATA_TYPE_SUM"#, "set(value_int, 7)"],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap();
    let Some(Data::Sum(sum)) = &mut metric.data else {
        unreachable!()
    };
    let mut points = std::mem::take(&mut sum.data_points);
    for p in &mut points {
        st.execute(&mut DataPointItemMut {
            cache: &mut Vec::new(),
            point: DataPointMut::Number(p),
            metric: MetricItemMut {
                cache: &mut Vec::new(),
                metric: &mut metric,
                scope: &mut scope,
                resource: &mut resource,
                added: &mut NewMetrics::default(),
            },
        })
        .unwrap();
    }
    assert_eq!(
        render(&points[0].attributes),
        r#"{pod="a", cluster="prod-1"}"#
    );
    assert_eq!(
        points[0].value,
        Some(ferrotel_core::proto::metrics::v1::number_data_point::Value::AsInt(7))
    );
    assert!(matches!(&metric.data, Some(Data::Sum(s)) if s.aggregation_temporality == 1));
}

/// otelcol's README examples for delete_index, and its bounds messages.
#[test]
fn delete_index_removes_one_element_or_a_range() {
    let letters = || list(vec![s("a"), s("b"), s("c"), s("d")]);
    let mut d = span_data();
    d.span.attributes = vec![
        kv("one", letters()),
        kv("range", letters()),
        kv("all", letters()),
    ];
    run_span(
        &[
            r#"delete_index(attributes["one"], 1)"#,
            r#"delete_index(attributes["range"], 1, 3)"#,
            r#"delete_index(attributes["all"], 0, Len(attributes["all"]))"#,
        ],
        &mut d,
    );
    assert_eq!(
        render(&d.span.attributes),
        r#"{one=["a", "c", "d"], range=["a", "d"], all=[]}"#
    );
    for (statement, message) in [
        (
            r#"delete_index(attributes["tags"], 4)"#,
            "startIndex 4 out of bounds for slice of length 4",
        ),
        (
            r#"delete_index(attributes["tags"], 2, 1)"#,
            "endIndex 1 cannot be less than startIndex 2",
        ),
        (
            r#"delete_index(attributes["tags"], 1, 5)"#,
            "deletion range [1:5] out of bounds for slice of length 4",
        ),
        (
            r#"delete_index(attributes["missing"], 0)"#,
            "expected pcommon.Slice but got nil",
        ),
    ] {
        let mut d = span_data();
        d.span.attributes = vec![kv("tags", letters())];
        let st = Statements::<SpanContext>::new(&[statement], &[] as &[&str], ErrorMode::Propagate)
            .unwrap();
        let e = execute(&st, &mut d).unwrap_err();
        assert!(e.to_string().contains(message), "{statement}: {e}");
        assert_eq!(render(&d.span.attributes), r#"{tags=["a", "b", "c", "d"]}"#);
    }
    let e = refused::<SpanContext>(r#"delete_index(attributes["tags"])"#);
    assert!(e.contains("startIndex"), "{e}");
}

/// otelcol's README form: the hash function given by its bare name, `SHA256`.
#[test]
fn replacing_editors_take_a_bare_function_name() {
    let mut d = span_data();
    d.span.attributes = vec![kv("db.statement", s("password=s3cret user=x"))];
    run_span(
        &[
            r#"replace_pattern(attributes["db.statement"], "password=([^ ]*)", "$1", SHA256, "password=%s")"#,
        ],
        &mut d,
    );
    // The expanded replacement (the first group) is hashed, as otelcol's tests show.
    assert_eq!(
        render(&d.span.attributes),
        format!(
            "{{db.statement=\"password={} user=x\"}}",
            sha256_hex("s3cret").trim_matches('"')
        )
    );
    let e = refused::<SpanContext>(r#"set(attributes["a"], SHA256)"#);
    assert!(e.contains("SHA256 is a function name, not a value"), "{e}");
    let e = refused::<SpanContext>(r#"replace_pattern(attributes["a"], "x", "y", NOT_A_FUNCTION)"#);
    assert!(e.contains("enum symbol, NOT_A_FUNCTION, not found"), "{e}");
}

fn sha256_hex(s: &str) -> String {
    let st = Statements::<SpanContext>::new(
        &[format!(r#"set(attributes["h"], SHA256("{s}"))"#)],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap();
    let mut d = span_data();
    execute(&st, &mut d).unwrap();
    let h = d.span.attributes.iter().find(|kv| kv.key == "h").unwrap();
    render_value(h.value.as_ref())
}

/// `cache`: a map kept across one item's statements, readable and writable with keys.
#[test]
fn cache_holds_values_between_statements() {
    let mut d = span_data();
    let st = Statements::<SpanContext>::new(
        &[
            r#"set(span.cache["name"], span.name)"#,
            r#"set(cache["nested"]["k"], "v")"#,
            r#"set(attributes["from_cache"], Concat([cache["name"], cache["nested"]["k"]], "/"))"#,
        ],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap();
    let mut cache = Vec::new();
    st.execute(&mut SpanItemMut {
        cache: &mut cache,
        span: &mut d.span,
        scope: &mut d.scope,
        resource: &mut d.resource,
    })
    .unwrap();
    let attrs = render(&d.span.attributes);
    assert!(attrs.contains(r#"from_cache="GET /users/42/v""#), "{attrs}");
    assert_eq!(render(&cache), r#"{name="GET /users/42", nested={k="v"}}"#);
    let e = refused::<SpanContext>(r#"set(resource.cache["x"], 1)"#);
    assert!(e.contains("resource.cache"), "{e}");
}
