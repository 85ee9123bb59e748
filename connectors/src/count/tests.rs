use super::*;
use ferrotel_core::pdata::kv_str;
use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{
    metric::Data as MData, number_data_point, ExponentialHistogram, ExponentialHistogramDataPoint,
    Gauge, Histogram, HistogramDataPoint, NumberDataPoint, Sum, Summary, SummaryDataPoint,
};
use ferrotel_core::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{AnyFactory, RequestMeta};
use ferrotel_testkit::config::{create_context, refused, yaml};
use std::sync::Arc;

const T: u64 = 1_700_000_000_000_000_000;

fn connector(text: &str) -> Box<dyn Connector> {
    CountConnectorFactory
        .create_from(&create_context("connectors", "count"), &yaml(text))
        .unwrap()
}

fn errors(text: &str) -> Vec<(String, String)> {
    let e = refused(
        CountConnectorFactory.create_from(&create_context("connectors", "count"), &yaml(text)),
        text,
    );
    e.0.into_iter().map(|e| (e.path, e.message)).collect()
}

/// What the connector emits for `data` (None: nothing).
fn run(c: &dyn Connector, data: Data) -> Option<ExportMetricsServiceRequest> {
    let mut out = Vec::new();
    c.consume(Batch::from_data(data, Arc::default()), &mut out)
        .unwrap();
    assert!(out.len() <= 1);
    let routed = out.pop()?;
    assert!(routed.pipelines.is_none());
    match routed.batch.into_data().unwrap() {
        Data::Metrics(req) => Some(req),
        other => panic!("emitted {:?}", other.signal()),
    }
}

fn resource(attrs: &[(&str, &str)]) -> Option<Resource> {
    Some(Resource {
        attributes: attrs.iter().map(|(k, v)| kv_str(k, v)).collect(),
        ..Default::default()
    })
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn span(name: &str, start: u64, end: u64, attrs: Vec<KeyValue>, events: usize) -> Span {
    Span {
        name: name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: attrs,
        events: (0..events)
            .map(|i| Event {
                name: format!("e{i}"),
                time_unix_nano: start + 10 + i as u64,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn traces(resources: Vec<(Option<Resource>, Vec<Span>)>) -> Data {
    Data::Traces(ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(resource, spans)| ResourceSpans {
                resource,
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        attributes: vec![kv_str("scope.attr", "from-scope")],
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

/// A count metric's points as (attributes as text, value, start, time).
type Points = Vec<(Vec<(String, String)>, i64, u64, u64)>;

fn text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => format!("int:{i}"),
        Some(any_value::Value::DoubleValue(f)) => format!("double:{f}"),
        other => format!("{other:?}"),
    }
}

/// Checks the shape otelcol gives every count metric, and returns its points.
fn sum_points(m: &Metric) -> Points {
    assert_eq!(m.unit, "");
    let Some(metric::Data::Sum(sum)) = &m.data else {
        panic!("{} is not a sum", m.name)
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.aggregation_temporality, 1, "delta");
    sum.data_points
        .iter()
        .map(|p| {
            let attrs = p
                .attributes
                .iter()
                .map(|kv| (kv.key.clone(), text(&kv.value)));
            let Some(number_data_point::Value::AsInt(n)) = p.value else {
                panic!("not an int")
            };
            (attrs.collect(), n, p.start_time_unix_nano, p.time_unix_nano)
        })
        .collect()
}

/// The metrics of resource `i`, after checking its scope.
fn metrics_of(req: &ExportMetricsServiceRequest, i: usize) -> &[Metric] {
    let rm = &req.resource_metrics[i];
    assert_eq!(rm.scope_metrics.len(), 1);
    let sm = &rm.scope_metrics[0];
    assert_eq!(sm.scope.as_ref().unwrap().name, SCOPE_NAME);
    assert_eq!(sm.scope.as_ref().unwrap().version, "");
    &sm.metrics
}

fn find<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
    metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn defaults_count_spans_and_events_per_resource() {
    let c = connector("");
    let data = traces(vec![
        (
            resource(&[("service.name", "a")]),
            vec![
                span("x", T + 5, T + 50, vec![], 2),
                span("y", T, T + 20, vec![], 1),
            ],
        ),
        (
            resource(&[("service.name", "b")]),
            vec![span("z", T + 7, T + 9, vec![], 0)],
        ),
    ]);
    let req = run(c.as_ref(), data).unwrap();
    assert_eq!(req.resource_metrics.len(), 2);
    let r0 = req.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(r0.attributes, vec![kv_str("service.name", "a")]);
    let m = metrics_of(&req, 0);
    let spans = find(m, "trace.span.count");
    assert_eq!(spans.description, "The number of spans observed.");
    // From the earliest start to the latest end of the resource's spans.
    assert_eq!(sum_points(spans), vec![(vec![], 2, T, T + 50)]);
    let events = find(m, "trace.span.event.count");
    assert_eq!(events.description, "The number of span events observed.");
    // Event times: T+15, T+16 and T+10.
    assert_eq!(sum_points(events), vec![(vec![], 3, T + 10, T + 16)]);
    // No events in the second resource: no event metric there.
    let m = metrics_of(&req, 1);
    assert_eq!(m.len(), 1);
    assert_eq!(
        sum_points(find(m, "trace.span.count")),
        vec![(vec![], 1, T + 7, T + 9)]
    );
}

fn number(attrs: Vec<KeyValue>, time: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsInt(1)),
        ..Default::default()
    }
}

fn every_kind_of_metric() -> Vec<Metric> {
    let m = |name: &str, data| Metric {
        name: name.into(),
        data: Some(data),
        ..Default::default()
    };
    vec![
        m(
            "g",
            MData::Gauge(Gauge {
                data_points: vec![
                    number(vec![kv_str("env", "prod")], T + 3),
                    number(vec![], T + 1),
                ],
            }),
        ),
        m(
            "s",
            MData::Sum(Sum {
                data_points: vec![number(vec![kv_str("env", "test")], T + 2)],
                ..Default::default()
            }),
        ),
        m(
            "h",
            MData::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: T + 9,
                    attributes: vec![kv_str("env", "prod")],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        ),
        m(
            "e",
            MData::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint::default(); 2],
                ..Default::default()
            }),
        ),
        m(
            "q",
            MData::Summary(Summary {
                data_points: vec![SummaryDataPoint::default()],
            }),
        ),
    ]
}

fn metrics_data(metrics: Vec<Metric>) -> Data {
    Data::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(&[("host", "h1")]),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

#[test]
fn defaults_count_metrics_and_every_kind_of_data_point() {
    let c = connector("{}");
    let before = now_nanos();
    let req = run(c.as_ref(), metrics_data(every_kind_of_metric())).unwrap();
    let m = metrics_of(&req, 0);
    let metrics = find(m, "metric.count");
    assert_eq!(metrics.description, "The number of metrics observed.");
    // Metrics have no timestamp: otelcol stamps their count with the time of counting.
    let points = sum_points(metrics);
    let [(attrs, 5, start, end)] = &points[..] else {
        panic!("{metrics:?}")
    };
    assert!(attrs.is_empty() && start == end && *start >= before && *start <= now_nanos());
    let points = find(m, "metric.datapoint.count");
    assert_eq!(points.description, "The number of data points observed.");
    // Zero timestamps (the exponential and summary points) are ignored.
    assert_eq!(sum_points(points), vec![(vec![], 7, T + 1, T + 9)]);
}

#[test]
fn a_metric_without_data_fails_the_batch_as_otelcol() {
    let c = connector("");
    let empty = Metric {
        name: "bare".into(),
        ..Default::default()
    };
    let batch = Batch::from_data(metrics_data(vec![empty]), Arc::default());
    let e = c.consume(batch, &mut Vec::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"metric "bare": invalid metric type: Empty"#
    );
}

fn logs(records: Vec<LogRecord>) -> Data {
    Data::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(&[("env", "from-resource")]),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn log(severity: i32, attrs: Vec<KeyValue>, time: u64) -> LogRecord {
    LogRecord {
        severity_number: severity,
        attributes: attrs,
        time_unix_nano: time,
        observed_time_unix_nano: T + 1_000,
        ..Default::default()
    }
}

#[test]
fn defaults_count_log_records_timed_by_their_timestamps() {
    let c = connector("");
    let data = logs(vec![
        log(9, vec![], T + 4),
        log(17, vec![], T + 2),
        log(1, vec![], 0),
    ]);
    let req = run(c.as_ref(), data).unwrap();
    let m = metrics_of(&req, 0);
    assert_eq!(m.len(), 1);
    assert_eq!(
        find(m, "log.record.count").description,
        "The number of log records observed."
    );
    assert_eq!(sum_points(&m[0]), vec![(vec![], 3, T + 2, T + 4)]);
}

#[test]
fn a_section_replaces_its_default_and_conditions_are_ored() {
    let c = connector(
        r#"
logs:
  my.error.log.count:
    description: Error+ logs.
    conditions:
      - 'severity_number >= SEVERITY_NUMBER_ERROR'
      - 'attributes["force"] == true'
"#,
    );
    let forced = vec![kv("force", any_value::Value::BoolValue(true))];
    let data = logs(vec![
        log(17, vec![], T),
        log(21, vec![], T),
        log(9, forced, T),
        log(9, vec![], T),
    ]);
    let req = run(c.as_ref(), data).unwrap();
    let m = metrics_of(&req, 0);
    assert_eq!(m.len(), 1, "log.record.count is replaced");
    assert_eq!(m[0].name, "my.error.log.count");
    assert_eq!(m[0].description, "Error+ logs.");
    assert_eq!(sum_points(&m[0]), vec![(vec![], 3, T, T)]);
    // The other sections keep their defaults.
    let req = run(
        c.as_ref(),
        traces(vec![(None, vec![span("x", T, T, vec![], 0)])]),
    )
    .unwrap();
    assert_eq!(metrics_of(&req, 0)[0].name, "trace.span.count");
    assert!(req.resource_metrics[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .is_empty());
}

#[test]
fn nothing_counted_emits_nothing() {
    let c =
        connector("spans: {}\nspanevents:\nlogs: {none: {conditions: ['severity_number > 100']}}");
    assert!(run(
        c.as_ref(),
        traces(vec![(None, vec![span("x", T, T, vec![], 3)])])
    )
    .is_none());
    assert!(run(c.as_ref(), logs(vec![log(9, vec![], T)])).is_none());
}

#[test]
fn attributes_group_counts_with_defaults_and_lookup_order() {
    let c = connector(
        r#"
logs:
  by.env:
    attributes: [{key: env}]
  by.team:
    attributes:
      - key: team
        default_value: unassigned
  by.team.no.default:
    attributes: [{key: team}]
  by.code:
    attributes: [{key: code, default_value: 0}, {key: ratio, default_value: 0.5}]
"#,
    );
    let data = logs(vec![
        log(9, vec![kv_str("env", "prod"), kv_str("team", "web")], T),
        log(
            9,
            vec![
                kv_str("env", "prod"),
                kv("code", any_value::Value::IntValue(500)),
            ],
            T,
        ),
        log(9, vec![kv("ratio", any_value::Value::DoubleValue(0.25))], T),
        log(9, vec![kv("env", any_value::Value::BoolValue(true))], T),
    ]);
    let req = run(c.as_ref(), data).unwrap();
    let m = metrics_of(&req, 0);
    let pairs = |p: &Points| -> Vec<(Vec<(String, String)>, i64)> {
        p.iter().map(|(a, n, _, _)| (a.clone(), *n)).collect()
    };
    let a = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    // env: record first, then scope, then the resource's "from-resource"; a bool counts as "".
    assert_eq!(
        pairs(&sum_points(find(m, "by.env"))),
        vec![
            (a("env", ""), 1),
            (a("env", "from-resource"), 1),
            (a("env", "prod"), 2)
        ]
    );
    assert_eq!(
        pairs(&sum_points(find(m, "by.team"))),
        vec![(a("team", "unassigned"), 3), (a("team", "web"), 1)]
    );
    // Without a default, records lacking the attribute are not counted.
    assert_eq!(
        pairs(&sum_points(find(m, "by.team.no.default"))),
        vec![(a("team", "web"), 1)]
    );
    // A zero default is no default (otelcol); ints and doubles keep their types.
    let code = |c: &str, r: &str| {
        vec![
            ("code".to_string(), c.to_string()),
            ("ratio".to_string(), r.to_string()),
        ]
    };
    assert_eq!(
        pairs(&sum_points(find(m, "by.code"))),
        vec![(code("int:500", "double:0.5"), 1)]
    );
}

#[test]
fn span_event_and_data_point_attributes_and_conditions() {
    let c = connector(
        r#"
spans:
  checkout.spans:
    conditions: ['resource.attributes["service.name"] == "checkout"']
    attributes: [{key: scope.attr}]
spanevents:
  e1.events:
    conditions: ['name == "e1"', 'span.name == "only-one"']
datapoints:
  prod.points:
    conditions: ['attributes["env"] == "prod"']
    attributes: [{key: host}]
"#,
    );
    let data = traces(vec![
        (
            resource(&[("service.name", "checkout")]),
            vec![span("x", T, T, vec![], 3)],
        ),
        (
            resource(&[("service.name", "other")]),
            vec![span("only-one", T, T, vec![], 1)],
        ),
    ]);
    let req = run(c.as_ref(), data).unwrap();
    let m0 = metrics_of(&req, 0);
    let scope_attr = vec![("scope.attr".to_string(), "from-scope".to_string())];
    assert_eq!(
        sum_points(find(m0, "checkout.spans")),
        vec![(scope_attr, 1, T, T)]
    );
    assert_eq!(sum_points(find(m0, "e1.events"))[0].1, 1);
    let m1 = metrics_of(&req, 1);
    assert_eq!(m1.len(), 1);
    assert_eq!(
        sum_points(find(m1, "e1.events"))[0].1,
        1,
        "matched by span.name"
    );

    let req = run(c.as_ref(), metrics_data(every_kind_of_metric())).unwrap();
    let m = metrics_of(&req, 0);
    // `metrics` was not given: its default stays.
    assert_eq!(sum_points(find(m, "metric.count"))[0].1, 5);
    // Every point's time widens the interval, counted or not.
    let host = vec![("host".to_string(), "h1".to_string())];
    assert_eq!(
        sum_points(find(m, "prod.points")),
        vec![(host, 2, T + 1, T + 9)]
    );
}

#[test]
fn an_evaluation_error_fails_the_batch_naming_the_condition() {
    let c = connector("logs: {bad: {conditions: ['body[\"k\"] == 1']}}");
    let record = LogRecord {
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("plain".into())),
        }),
        ..Default::default()
    };
    let mut out = Vec::new();
    let e = c
        .consume(
            Batch::from_data(logs(vec![record]), Arc::default()),
            &mut out,
        )
        .unwrap_err();
    assert!(matches!(e, PipelineError::Permanent(_)));
    assert_eq!(
        e.to_string(),
        r#"failed to eval condition: body["k"] == 1, log bodies of type Str cannot be indexed"#
    );
    assert!(out.is_empty());
}

#[test]
fn the_request_metadata_goes_with_the_counts() {
    let c = connector("");
    let meta = Arc::new(RequestMeta::default());
    let mut out = Vec::new();
    let batch = Batch::from_data(logs(vec![log(9, vec![], T)]), meta.clone());
    c.consume(batch, &mut out).unwrap();
    assert!(Arc::ptr_eq(&out[0].batch.meta, &meta));
}

#[test]
fn config_errors_name_the_key_in_otelcols_words() {
    let e = errors("spans: {'': {}}");
    assert_eq!(
        e,
        vec![(
            "connectors.count.spans".into(),
            "spans: metric name missing".into()
        )]
    );
    let e =
        errors("logs: {my.count: {conditions: ['attributes[\"a\"] == ', 'severity_number > 1']}}");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, "connectors.count.logs.my.count.conditions[0]");
    assert!(
        e[0].1.starts_with(r#"logs condition: metric "my.count": unable to parse OTTL condition "attributes[\"a\"] == ""#),
        "{}",
        e[0].1
    );
    let e = errors("spanevents: {x: {conditions: ['severity_number > 1']}}");
    assert_eq!(e[0].0, "connectors.count.spanevents.x.conditions[0]");
    assert!(e[0].1.contains("severity_number"), "{}", e[0].1);
    let e = errors("metrics: {m: {attributes: [{key: env}]}}");
    assert_eq!(
        e,
        vec![(
            "connectors.count.metrics.m.attributes".into(),
            r#"metrics attributes not supported: metric "m""#.into()
        )]
    );
    let e = errors("logs: {l: {attributes: [{default_value: x}]}}");
    assert_eq!(
        e[0].1,
        r#"logs attributes: metric "l": attribute key missing"#
    );
    // otelcol's datapoints check says "spans" (its code; the path tells them apart).
    let e = errors("datapoints: {d: {attributes: [{key: ''}]}}");
    assert_eq!(
        e[0],
        (
            "connectors.count.datapoints.d.attributes".into(),
            r#"spans attributes: metric "d": attribute key missing"#.into()
        )
    );
    let e = errors("spans: {s: {attributes: [{key: a}, {key: b}, {key: a}]}}");
    assert_eq!(
        e[0].1,
        r#"spans attributes: metric "s": duplicate attribute key "a""#
    );
    let e = errors("spans: {s: {condition: ['name == \"x\"']}}");
    assert_eq!(e[0].0, "connectors.count.spans.s.condition");
    assert!(e[0].1.contains("unknown field `condition`"), "{}", e[0].1);
    // Every problem at once.
    assert_eq!(
        errors("spans: {'': {}}\nlogs: {'': {}}\nmetrics: {m: {conditions: ['x ==']}}").len(),
        3
    );
}

#[test]
fn otelcols_readme_configs_load() {
    for text in [
        "",
        "spanevents: {my.prod.event.count: {description: The number of span events from my prod environment., conditions: ['attributes[\"env\"] == \"prod\"', 'name == \"prodevent\"']}}",
        "logs: {my.log.count: {description: The number of logs from each environment., attributes: [{key: env, default_value: unspecified_environment}]}}",
        "metrics: {my.prod.metric.count: {conditions: ['resource.attributes[\"env\"] == \"prod\"']}}\ndatapoints: {my.prod.datapoint.count: {conditions: ['attributes[\"env\"] == \"prod\"']}}",
        "profiles: {profile.count: {description: x}}",
    ] {
        connector(text);
    }
}

/// The `connectors.count` section of `testdata/count/<name>`.
fn testdata_section(name: &str) -> ferrotel_config::Value {
    let text = ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "count", name);
    yaml(&text)["connectors"]["count"].clone()
}

#[test]
fn testdata_configs_load_or_are_refused_with_every_problem() {
    let ctx = create_context("connectors", "count");
    for name in [
        "readme_defaults.yaml",
        "readme_custom.yaml",
        "profiles.yaml",
    ] {
        CountConnectorFactory
            .create_from(&ctx, &testdata_section(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let e = refused(
        CountConnectorFactory.create_from(&ctx, &testdata_section("invalid.yaml")),
        "invalid.yaml",
    );
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "connectors.count.spans",
            "connectors.count.metrics.my.metric.count.attributes",
            "connectors.count.logs.my.count.conditions[0]"
        ]
    );
}

fn profiles_data() -> Data {
    use ferrotel_core::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
    use ferrotel_core::proto::profiles::v1development::{
        KeyValueAndUnit, Profile, ProfilesDictionary, ResourceProfiles, ScopeProfiles,
    };
    let profile = |time: u64, attribute_indices: Vec<i32>| Profile {
        time_unix_nano: time,
        attribute_indices,
        ..Default::default()
    };
    let attr = |key_strindex: i32, value: &str| KeyValueAndUnit {
        key_strindex,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        unit_strindex: 0,
    };
    Data::Profiles(ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: resource(&[("service.name", "prof")]),
            scope_profiles: vec![ScopeProfiles {
                profiles: vec![
                    profile(T + 3, vec![0]),
                    profile(T + 1, vec![1]),
                    profile(T + 2, vec![0, 99]),
                    profile(0, vec![]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
        dictionary: Some(ProfilesDictionary {
            string_table: vec!["".into(), "thread".into()],
            attribute_table: vec![attr(1, "main"), attr(1, "worker")],
            ..Default::default()
        }),
    })
}

#[test]
fn profiles_are_counted_by_dictionary_attributes() {
    let req = run(connector("").as_ref(), profiles_data()).unwrap();
    let m = metrics_of(&req, 0);
    assert_eq!(
        find(m, "profile.count").description,
        "The number of profiles observed."
    );
    assert_eq!(sum_points(&m[0]), vec![(vec![], 4, T + 1, T + 3)]);

    let c = connector("profiles: {by.thread: {attributes: [{key: thread, default_value: none}]}}");
    let req = run(c.as_ref(), profiles_data()).unwrap();
    let thread = |v: &str| vec![("thread".to_string(), v.to_string())];
    let points: Vec<_> = sum_points(&metrics_of(&req, 0)[0])
        .into_iter()
        .map(|(a, n, _, _)| (a, n))
        .collect();
    assert_eq!(
        points,
        vec![
            (thread("main"), 2),
            (thread("none"), 1),
            (thread("worker"), 1)
        ]
    );
    let e = errors("profiles: {p: {conditions: ['x == 1']}}");
    assert_eq!(e[0].0, "connectors.count.profiles.p.conditions");
}
