//! Each test: a config (otelcol's README and docs examples where they exist), an input, and
//! exactly what remains.

use super::*;
use ferrotel_config::Value as Yaml;
use ferrotel_core::proto::common::v1::{
    any_value::Value as V, AnyValue, InstrumentationScope, KeyValue,
};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{
    metric, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use ferrotel_core::proto::profiles::v1development::{Profile, ResourceProfiles, ScopeProfiles};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use ferrotel_core::AnyFactory;
use std::sync::Arc;

fn kv(k: &str, v: V) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> V {
    V::StringValue(v.into())
}

fn res(attrs: &[(&str, &str)]) -> Option<Resource> {
    Some(Resource {
        attributes: attrs.iter().map(|(k, v)| kv(k, s(v))).collect(),
        ..Default::default()
    })
}

fn scope(name: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        ..Default::default()
    })
}

fn create(yaml: &str, signal: Signal) -> Result<Box<dyn Processor>, ConfigErrors> {
    let cfg: Yaml = serde_yaml_ng::from_str(yaml).unwrap();
    let ctx = ferrotel_testkit::conformance::processor_context("filter/x", signal);
    FilterProcessorFactory.create_from(&ctx, &cfg)
}

/// The first config error's message.
fn refused(yaml: &str, signal: Signal) -> String {
    match create(yaml, signal) {
        Ok(_) => panic!("accepted: {yaml}"),
        Err(e) => e.0[0].message.clone(),
    }
}

/// Runs `data` through; `None` when everything was dropped.
fn run(p: &dyn Processor, data: Data) -> Result<Option<Data>, PipelineError> {
    let mut out = vec![];
    p.process(
        Batch::from_data(data, Arc::new(RequestMeta::default())),
        &mut out,
    )?;
    Ok(out.pop().map(|b| b.view().unwrap().clone()))
}

fn filter(yaml: &str, data: Data) -> Option<Data> {
    let p = create(yaml, data_signal(&data)).unwrap_or_else(|e| panic!("{e}"));
    run(p.as_ref(), data).unwrap()
}

fn data_signal(d: &Data) -> Signal {
    match d {
        Data::Traces(_) => Signal::Traces,
        Data::Metrics(_) => Signal::Metrics,
        Data::Logs(_) => Signal::Logs,
        Data::Profiles(_) => Signal::Profiles,
    }
}

// ---- traces ----------------------------------------------------------------------------------

fn span(name: &str, attrs: Vec<KeyValue>, events: &[(&str, Vec<KeyValue>)]) -> Span {
    Span {
        name: name.into(),
        attributes: attrs,
        events: events
            .iter()
            .map(|(n, a)| Event {
                name: (*n).into(),
                attributes: a.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Two resources: `localhost` (spans `app_1`, `app_2` with events) and `remote` (`app_3`,
/// `app_4` in scope `gateway`).
fn trace_input() -> Data {
    let rs = |resource, scope_name: &str, spans| ResourceSpans {
        resource,
        scope_spans: vec![ScopeSpans {
            scope: scope(scope_name),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    };
    Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![
            rs(
                res(&[
                    ("host.name", "localhost"),
                    ("k8s.pod.name", "my-pod-name-1"),
                ]),
                "lib",
                vec![
                    span(
                        "app_1",
                        vec![kv("container.name", s("app_container_1"))],
                        &[
                            ("grpc.call", vec![]),
                            ("log", vec![kv("grpc", V::BoolValue(true))]),
                        ],
                    ),
                    span(
                        "app_2",
                        vec![kv("http.method", s("GET"))],
                        &[("log", vec![])],
                    ),
                ],
            ),
            rs(
                res(&[("host.name", "remote")]),
                "gateway",
                vec![
                    span("app_3", vec![], &[("grpc.timeout", vec![])]),
                    span(
                        "app_4",
                        vec![kv("http.method", s("POST"))],
                        &[("other", vec![])],
                    ),
                ],
            ),
        ],
    })
}

/// What remains: `span[event,event]` per span, in order.
fn spans(d: &Option<Data>) -> Vec<String> {
    let Some(Data::Traces(t)) = d else {
        return vec![];
    };
    (t.resource_spans.iter())
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|sp| {
            let ev: Vec<&str> = sp.events.iter().map(|e| e.name.as_str()).collect();
            format!("{}[{}]", sp.name, ev.join(","))
        })
        .collect()
}

/// otelcol's README (per-context blocks): spans by attribute, resource and name; span events by
/// attribute and name.
#[test]
fn readme_ottl_traces() {
    let out = filter(
        r#"
error_mode: ignore
traces:
  span:
    - 'attributes["container.name"] == "app_container_1"'
    - 'resource.attributes["host.name"] == "localhost"'
    - 'name == "app_3"'
  spanevent:
    - 'attributes["grpc"] == true'
    - 'IsMatch(name, ".*grpc.*")'
"#,
        trace_input(),
    );
    assert_eq!(spans(&out), ["app_4[other]"]);
}

/// otelcol's examples: a resource attribute by pattern, non-HTTP spans.
#[test]
fn readme_ottl_span_examples() {
    let by_pod = r#"
traces:
  span:
    - IsMatch(resource.attributes["k8s.pod.name"], "my-pod-name.*")
"#;
    assert_eq!(
        spans(&filter(by_pod, trace_input())),
        ["app_3[grpc.timeout]", "app_4[other]"]
    );
    let non_http = r#"
traces:
  span:
    - attributes["http.method"] == nil
"#;
    assert_eq!(
        spans(&filter(non_http, trace_input())),
        ["app_2[log]", "app_4[other]"]
    );
}

/// otelcol's context-inference docs: one flat list, each condition in the context its paths
/// name; a resource match drops everything under it.
#[test]
fn trace_conditions_infer_each_condition_context() {
    let out = filter(
        r#"
trace_conditions:
  - resource.attributes["host.name"] == "localhost"
  - span.attributes["container.name"] == "app_container_1"
  - span.name == "app_3"
  - spanevent.attributes["grpc"] == true
  - IsMatch(spanevent.name, ".*grpc.*")
"#,
        trace_input(),
    );
    assert_eq!(spans(&out), ["app_4[other]"]);
    let scope_only = "trace_conditions: ['scope.name == \"gateway\"']";
    assert_eq!(
        spans(&filter(scope_only, trace_input())),
        ["app_1[grpc.call,log]", "app_2[log]"]
    );
}

/// A condition mixing contexts runs in the lowest one: only span events go, spans stay.
#[test]
fn a_mixed_condition_runs_per_span_event() {
    let out = filter(
        r#"
trace_conditions:
  - resource.attributes["host.name"] == "localhost" or spanevent.name == "grpc.timeout"
"#,
        trace_input(),
    );
    assert_eq!(
        spans(&out),
        ["app_1[]", "app_2[]", "app_3[]", "app_4[other]"]
    );
}

/// Advanced style: a pinned context lets paths go without prefix; each group its error mode.
#[test]
fn advanced_groups_pin_a_context_and_an_error_mode() {
    let yaml = r#"
error_mode: propagate
trace_conditions:
  - context: span
    conditions: ['name == "app_1"', 'status.code == STATUS_CODE_ERROR']
  - error_mode: ignore
    conditions: ['span.attributes["http.method"]["x"] == "y"', 'spanevent.name == "other"']
"#;
    assert_eq!(
        spans(&filter(yaml, trace_input())),
        ["app_2[log]", "app_3[grpc.timeout]", "app_4[]"]
    );
}

#[test]
fn error_modes() {
    // Indexing a string fails at evaluation.
    let cond = r#"['attributes["http.method"]["x"] == "y"', 'name == "app_4"']"#;
    let with = |mode: &str| format!("error_mode: {mode}\ntraces: {{span: {cond}}}");
    for mode in ["ignore", "silent"] {
        let out = filter(&with(mode), trace_input());
        assert_eq!(
            spans(&out),
            ["app_1[grpc.call,log]", "app_2[log]", "app_3[grpc.timeout]"]
        );
    }
    let p = create(&with("propagate"), Signal::Traces).unwrap();
    let err = run(p.as_ref(), trace_input()).unwrap_err();
    assert!(matches!(err, PipelineError::Refused { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(r#"failed to eval condition: attributes["http.method"]["x"] == "y", "#),
        "{err}"
    );
    // Without error_mode, otelcol's current default, ignore.
    let p = create(&format!("traces: {{span: {cond}}}"), Signal::Traces).unwrap();
    assert!(run(p.as_ref(), trace_input()).is_ok());
}

/// otelcol's README (legacy `spans`): include by service, exclude by pattern.
#[test]
fn legacy_spans_include_exclude() {
    let out = filter(
        r#"
spans:
  include:
    match_type: strict
    attributes:
      - key: http.method
  exclude:
    match_type: regexp
    span_names: ["_4$"]
"#,
        trace_input(),
    );
    assert_eq!(spans(&out), ["app_2[log]"]);
    let readme = r#"
spans:
  include:
    match_type: strict
    services: [app_3]
  exclude:
    match_type: regexp
    services: [app_1, app_2]
    span_names: [hello_world, hello/world]
    attributes:
      - key: container.name
        value: (app_container_1|app_container_2)
    libraries:
      - name: opentelemetry
        version: 0.0-beta
    resources:
      - key: container.host
        value: (localhost|127.0.0.1)
"#;
    assert_eq!(spans(&filter(readme, trace_input())), Vec::<String>::new());
}

// ---- metrics ---------------------------------------------------------------------------------

fn number(attrs: Vec<KeyValue>, v: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        value: Some(ferrotel_core::proto::metrics::v1::number_data_point::Value::AsInt(v)),
        ..Default::default()
    }
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

/// Resource `my_service_name` (label abc123): `my.metric` gauge (2 points), `k8s.pod.phase`
/// sum (values 1 and 4), `latency` histogram, `quantiles` summary; resource `other`:
/// `my.metric` (1 point), `hello_world`.
fn metric_input() -> Data {
    let rm = |resource, metrics| ResourceMetrics {
        resource,
        scope_metrics: vec![ScopeMetrics {
            scope: scope("lib"),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    };
    let sum = Metric {
        name: "k8s.pod.phase".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![number(vec![], 1), number(vec![kv("pod", s("b"))], 4)],
            ..Default::default()
        })),
        ..Default::default()
    };
    let hist = Metric {
        name: "latency".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint::default()],
            ..Default::default()
        })),
        ..Default::default()
    };
    let summary = Metric {
        name: "quantiles".into(),
        data: Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint::default()],
        })),
        ..Default::default()
    };
    let two = vec![
        number(vec![kv("k", s("a"))], 1),
        number(vec![kv("k", s("b"))], 2),
    ];
    Data::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![
            rm(
                res(&[("service.name", "my_service_name"), ("my_label", "abc123")]),
                vec![gauge("my.metric", two), sum, hist, summary],
            ),
            rm(
                res(&[
                    ("service.name", "other"),
                    ("container.name", "app_container_1"),
                ]),
                vec![
                    gauge("my.metric", vec![number(vec![], 3)]),
                    gauge("hello_world", vec![number(vec![], 1)]),
                ],
            ),
        ],
    })
}

/// What remains: `metric/points` per metric.
fn metrics(d: &Option<Data>) -> Vec<String> {
    let Some(Data::Metrics(m)) = d else {
        return vec![];
    };
    (m.resource_metrics.iter())
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| format!("{}/{}", m.name, pdata::metric_points(m)))
        .collect()
}

/// otelcol's README (per-context blocks) for metrics.
#[test]
fn readme_ottl_metrics() {
    let metric_only = r#"
metrics:
  metric:
    - 'name == "my.metric" and resource.attributes["my_label"] == "abc123"'
    - 'type == METRIC_DATA_TYPE_HISTOGRAM'
"#;
    assert_eq!(
        metrics(&filter(metric_only, metric_input())),
        [
            "k8s.pod.phase/2",
            "quantiles/1",
            "my.metric/1",
            "hello_world/1"
        ]
    );
    let points = r#"
metrics:
  datapoint:
    - 'metric.type == METRIC_DATA_TYPE_SUMMARY'
    - 'resource.attributes["service.name"] == "other"'
"#;
    assert_eq!(
        metrics(&filter(points, metric_input())),
        ["my.metric/2", "k8s.pod.phase/2", "latency/1"]
    );
}

/// otelcol's examples: a specific metric and value; a metric without type.
#[test]
fn datapoint_conditions_drop_points_and_emptied_metrics() {
    let phase = r#"
metrics:
  datapoint:
    - metric.name == "k8s.pod.phase" and value_int == 4
"#;
    assert_eq!(
        metrics(&filter(phase, metric_input())),
        [
            "my.metric/2",
            "k8s.pod.phase/1",
            "latency/1",
            "quantiles/1",
            "my.metric/1",
            "hello_world/1"
        ]
    );
    let all_points = r#"metric_conditions: ['datapoint.attributes["k"] != nil']"#;
    assert_eq!(
        metrics(&filter(all_points, metric_input())),
        [
            "k8s.pod.phase/2",
            "latency/1",
            "quantiles/1",
            "my.metric/1",
            "hello_world/1"
        ]
    );
    let no_type = "metrics: {metric: ['type == METRIC_DATA_TYPE_NONE']}";
    assert_eq!(metrics(&filter(no_type, metric_input())).len(), 6);
}

#[test]
fn metric_conditions_resource_and_metric_contexts() {
    let yaml = r#"
metric_conditions:
  - resource.attributes["service.name"] == "other"
  - metric.name == "latency"
"#;
    assert_eq!(
        metrics(&filter(yaml, metric_input())),
        ["my.metric/2", "k8s.pod.phase/2", "quantiles/1"]
    );
}

/// otelcol's README (legacy metrics): include by pattern and resource, exclude by name.
#[test]
fn legacy_metrics_include_exclude() {
    let include = r#"
metrics:
  include:
    match_type: regexp
    metric_names: ["^my\\.", "hello_.*"]
    resource_attributes:
      - key: container.name
        value: app_container_1
  exclude:
    match_type: strict
    metric_names: [hello_world, hello/world]
"#;
    assert_eq!(metrics(&filter(include, metric_input())), ["my.metric/1"]);
    // Exclude by resource drops the resource's metrics; by name, that name anywhere.
    let exclude = r#"
metrics:
  exclude:
    match_type: strict
    metric_names: [latency]
    resource_attributes:
      - key: container.name
        value: app_container_1
"#;
    assert_eq!(
        metrics(&filter(exclude, metric_input())),
        ["my.metric/2", "k8s.pod.phase/2", "quantiles/1"]
    );
    // Without names, only the resource is matched.
    let by_resource = r#"
metrics:
  include:
    match_type: strict
    resource_attributes:
      - key: container.name
        value: app_container_1
"#;
    assert_eq!(
        metrics(&filter(by_resource, metric_input())),
        ["my.metric/1", "hello_world/1"]
    );
}

// ---- logs ------------------------------------------------------------------------------------

fn log(body: &str, severity: i32, text: &str, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        body: Some(AnyValue {
            value: Some(s(body)),
        }),
        severity_number: severity,
        severity_text: text.into(),
        attributes: attrs,
        ..Default::default()
    }
}

/// Host `just_this_one_hostname`: `login password=x` (INFO), `IMPORTANT RECORD` (WARN),
/// `debug line` (DEBUG); host `prefix-7`: `no severity` (0), `error` (ERROR2, record_attr).
fn log_input() -> Data {
    let rl = |resource, log_records| ResourceLogs {
        resource,
        scope_logs: vec![ScopeLogs {
            scope: scope("lib"),
            log_records,
            ..Default::default()
        }],
        ..Default::default()
    };
    Data::Logs(ExportLogsServiceRequest {
        resource_logs: vec![
            rl(
                res(&[
                    ("host.name", "just_this_one_hostname"),
                    ("service.name", "noisy-service"),
                ]),
                vec![
                    log("login password=x", 9, "INFO", vec![]),
                    log("IMPORTANT RECORD", 13, "WARN", vec![]),
                    log("debug line", 5, "DEBUG", vec![]),
                ],
            ),
            rl(
                res(&[("host.name", "prefix-7")]),
                vec![
                    log("no severity", 0, "", vec![]),
                    log(
                        "error",
                        18,
                        "ERROR2",
                        vec![kv("record_attr", s("prefix_1"))],
                    ),
                ],
            ),
        ],
    })
}

fn bodies(d: &Option<Data>) -> Vec<String> {
    let Some(Data::Logs(l)) = d else {
        return vec![];
    };
    (l.resource_logs.iter())
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .map(|r| {
            ferrotel_core::format::value_as_string(r.body.as_ref().and_then(|b| b.value.as_ref()))
        })
        .collect()
}

/// otelcol's README (per-context blocks) for logs.
#[test]
fn readme_ottl_logs() {
    let yaml = r#"
logs:
  log_record:
    - 'IsMatch(body, ".*password.*")'
    - 'severity_number < SEVERITY_NUMBER_WARN'
"#;
    assert_eq!(
        bodies(&filter(yaml, log_input())),
        ["IMPORTANT RECORD", "error"]
    );
}

/// otelcol's context-inference blog: advanced groups with their own error modes.
#[test]
fn log_conditions_advanced() {
    let yaml = r#"
error_mode: ignore
log_conditions:
  - error_mode: propagate
    conditions:
      - log.severity_number < SEVERITY_NUMBER_WARN
  - error_mode: silent
    conditions:
      - resource.attributes["service.name"] == "noisy-service"
"#;
    assert_eq!(bodies(&filter(yaml, log_input())), ["error"]);
}

/// Every legacy logs example of otelcol's README.
#[test]
fn legacy_logs_readme_examples() {
    let cases: [(&str, &[&str]); 6] = [
        (
            "include: {match_type: strict, resource_attributes: [{key: host.name, value: just_this_one_hostname}]}",
            &["login password=x", "IMPORTANT RECORD", "debug line"],
        ),
        (
            "include: {match_type: regexp, resource_attributes: [{key: host.name, value: prefix.*}]}",
            &["no severity", "error"],
        ),
        (
            "include: {match_type: regexp, record_attributes: [{key: record_attr, value: prefix_.*}]}",
            &["error"],
        ),
        (
            "include: {match_type: regexp, severity_texts: ['INFO[2-4]?', 'WARN[2-4]?', 'ERROR[2-4]?']}",
            &["login password=x", "IMPORTANT RECORD", "error"],
        ),
        (
            "include: {severity_number: {min: INFO, match_undefined: true}}",
            &["login password=x", "IMPORTANT RECORD", "no severity", "error"],
        ),
        (
            "include: {match_type: regexp, bodies: ['^IMPORTANT RECORD']}",
            &["IMPORTANT RECORD"],
        ),
    ];
    for (logs, want) in cases {
        let yaml = format!("logs: {{{logs}}}");
        assert_eq!(bodies(&filter(&yaml, log_input())), want, "{yaml}");
    }
    let exclude = "logs: {exclude: {match_type: strict, severity_number: {min: warn}}}";
    assert_eq!(
        bodies(&filter(exclude, log_input())),
        ["login password=x", "debug line", "no severity"]
    );
}

// ---- profiles --------------------------------------------------------------------------------

fn profile_input() -> Data {
    let rp = |service: &str, n: usize| ResourceProfiles {
        resource: res(&[("service.name", service)]),
        scope_profiles: vec![ScopeProfiles {
            scope: scope("ebpf"),
            profiles: vec![Profile::default(); n],
            ..Default::default()
        }],
        ..Default::default()
    };
    Data::Profiles(ExportProfilesServiceRequest {
        resource_profiles: vec![rp("containerd-shim-runc-v2", 2), rp("checkout", 1)],
        ..Default::default()
    })
}

fn profile_services(d: &Option<Data>) -> Vec<String> {
    let Some(Data::Profiles(p)) = d else {
        return vec![];
    };
    (p.resource_profiles.iter())
        .map(|r| {
            let n: usize = r.scope_profiles.iter().map(|s| s.profiles.len()).sum();
            let attrs = r.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            format!(
                "{}/{n}",
                pdata::attr_str(attrs, "service.name").unwrap_or_default()
            )
        })
        .collect()
}

/// The OpenTelemetry demo's `filter/sanitize_profiles`.
#[test]
fn demo_sanitize_profiles() {
    let yaml = r#"
error_mode: ignore
profiles:
  profile:
    - 'IsMatch(resource.attributes["service.name"], "containerd-shim-.*")'
"#;
    assert_eq!(
        profile_services(&filter(yaml, profile_input())),
        ["checkout/1"]
    );
    let inferred = "profile_conditions: ['resource.attributes[\"service.name\"] == \"checkout\"']";
    assert_eq!(
        profile_services(&filter(inferred, profile_input())),
        ["containerd-shim-runc-v2/2"]
    );
    let everything = "profile_conditions: ['scope.name == \"ebpf\"']";
    assert_eq!(filter(everything, profile_input()), None);
}

#[test]
fn profile_paths_other_than_parents_are_refused() {
    let e = refused(
        "profiles: {profile: ['duration_unix_nano > 0']}",
        Signal::Profiles,
    );
    assert!(
        e.contains("\"duration_unix_nano\" is not supported in the profile context"),
        "{e}"
    );
    let e = refused(
        "profile_conditions: ['profile.duration_unix_nano > 0']",
        Signal::Profiles,
    );
    assert!(e.contains("\"profile.duration_unix_nano\""), "{e}");
}

// ---- pass-through, counting ------------------------------------------------------------------

#[test]
fn signals_without_filters_pass_untouched() {
    let p = create("logs: {log_record: ['true']}", Signal::Traces).unwrap();
    assert_eq!(spans(&run(p.as_ref(), trace_input()).unwrap()).len(), 4);
    let p = create("logs: {log_record: ['true']}", Signal::Logs).unwrap();
    assert_eq!(run(p.as_ref(), log_input()).unwrap(), None);
}

#[test]
fn dropped_items_are_counted_per_processor() {
    let cfg: Yaml = serde_yaml_ng::from_str(
        "trace_conditions: ['span.name == \"app_1\"']\nmetric_conditions: ['metric.name == \"my.metric\"']\nlog_conditions: ['log.severity_number == 0']\nprofile_conditions: ['resource.attributes[\"service.name\"] == \"checkout\"']",
    )
    .unwrap();
    let telemetry = Telemetry::new();
    for (signal, input) in [
        (Signal::Traces, trace_input()),
        (Signal::Metrics, metric_input()),
        (Signal::Logs, log_input()),
        (Signal::Profiles, profile_input()),
    ] {
        let ctx = ferrotel_testkit::conformance::processor_context("filter/x", signal);
        let ctx = CreateContext {
            telemetry: telemetry.clone(),
            ..ctx
        };
        let p = FilterProcessorFactory.create_from(&ctx, &cfg).unwrap();
        run(p.as_ref(), input).unwrap();
    }
    let text = telemetry.render();
    for line in [
        "otelcol_processor_filter_spans_filtered{filter=\"filter/x\"} 1",
        "otelcol_processor_filter_datapoints_filtered{filter=\"filter/x\"} 3",
        "otelcol_processor_filter_logs_filtered{filter=\"filter/x\"} 1",
        "otelcol_processor_filter_profiles_filtered{filter=\"filter/x\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

// ---- config ----------------------------------------------------------------------------------

#[test]
fn keys_that_cannot_be_combined() {
    let cases = [
        ("trace_conditions: ['span.name == \"a\"']\ntraces: {span: ['name == \"a\"']}", CONFLICT_TRACE),
        ("metric_conditions: ['metric.name == \"a\"']\nmetrics: {include: {match_type: strict, metric_names: [a]}}", CONFLICT_METRIC),
        ("log_conditions: ['log.body == \"a\"']\nlogs: {log_record: ['body == \"a\"']}", CONFLICT_LOG),
        ("profile_conditions: ['resource.attributes[\"a\"] == nil']\nprofiles: {resource: ['true']}", CONFLICT_PROFILE),
        ("traces: {span: ['true']}\nspans: {exclude: {match_type: strict, span_names: [a]}}", CONFLICT_SPANS),
        ("metrics: {metric: ['true'], exclude: {match_type: strict, metric_names: [a]}}", CONFLICT_METRICS),
        ("logs: {log_record: ['true'], include: {match_type: strict, bodies: [a]}}", CONFLICT_LOGS),
    ];
    for (yaml, want) in cases {
        assert_eq!(refused(yaml, Signal::Traces), want, "{yaml}");
    }
    // otelcol does not refuse spans include/exclude beside trace_conditions.
    assert!(create(
        "trace_conditions: ['span.name == \"a\"']\nspans: {exclude: {match_type: strict, span_names: [b]}}",
        Signal::Traces
    )
    .is_ok());
}

const CONFLICT_TRACE: &str = r#"cannot use context inferred trace conditions "trace_conditions" and the settings "traces.resource", "traces.span", "traces.spanevent" at the same time"#;
const CONFLICT_METRIC: &str = r#"cannot use context inferred metric conditions "metric_conditions" and the settings "metrics.resource", "metrics.metric", "metrics.datapoint", "metrics.include", "metrics.exclude" at the same time"#;
const CONFLICT_LOG: &str = r#"cannot use context inferred log conditions "log_conditions" and the settings "logs.resource", "logs.log", "logs.include", "logs.exclude" at the same time"#;
const CONFLICT_PROFILE: &str = r#"cannot use context inferred profile conditions "profile_conditions" and the settings "profiles.resource", "profiles.profile" at the same time"#;
const CONFLICT_SPANS: &str = r#"cannot use "traces.resource", "traces.span", "traces.spanevent" and the span settings "spans.include", "spans.exclude" at the same time"#;
const CONFLICT_METRICS: &str = r#"cannot use "metrics.resource", "metrics.metric", "metrics.datapoint" and the settings "metrics.include", "metrics.exclude" at the same time"#;
const CONFLICT_LOGS: &str = r#"cannot use "logs.resource", "logs.log" and the settings "logs.include", "logs.exclude" at the same time"#;

#[test]
fn condition_list_errors() {
    let mixed = "trace_conditions: ['span.name == \"a\"', {conditions: ['span.name == \"b\"']}]";
    assert_eq!(
        refused(mixed, Signal::Traces),
        "configuring multiple configuration styles is not supported, please use only Basic configuration or only Advanced configuration"
    );
    assert_eq!(
        refused("trace_conditions: [~]", Signal::Traces),
        "condition cannot be empty"
    );
    assert_eq!(
        refused(
            "trace_conditions: [{context: bogus, conditions: ['true']}]",
            Signal::Traces
        ),
        "unknown context bogus"
    );
    assert_eq!(
        refused(
            "trace_conditions: [{context: log, conditions: ['true']}]",
            Signal::Traces
        ),
        "unknown context \"log\" for conditions: [true]"
    );
    let e = refused("trace_conditions: ['name == \"a\"']", Signal::Traces);
    assert!(e.starts_with("unable to infer context from conditions, path's first segment must be a valid context name: [\"resource\" \"scope\" \"span\" \"spanevent\"]"), "{e}");
    let e = refused("trace_conditions: ['log.body == \"a\"']", Signal::Traces);
    assert!(
        e.starts_with("context \"log\" inferred from the conditions"),
        "{e}"
    );
    let e = refused(
        "trace_conditions: ['span.name == \"a\" and attributes[\"b\"] == nil']",
        Signal::Traces,
    );
    assert!(
        e.starts_with("missing context name for path \"attributes[b]\""),
        "{e}"
    );
    let e = refused("traces: {span: ['nme == \"a\"']}", Signal::Traces);
    assert!(
        e.contains("segment \"nme\" from path \"nme\" is not a valid path"),
        "{e}"
    );
}

#[test]
fn other_config_errors() {
    assert_eq!(
        refused("error_mode: loud", Signal::Traces),
        "unknown error mode loud"
    );
    let e = refused(
        "metrics: {exclude: {match_type: expr, expressions: ['MetricName == \"a\"']}}",
        Signal::Metrics,
    );
    assert!(
        e.starts_with("match_type \"expr\" is not supported by ferrotel"),
        "{e}"
    );
    assert_eq!(
        refused(
            "logs: {include: {severity_number: {min: loud}}}",
            Signal::Logs
        ),
        "'loud' is not a valid severity: not a valid severity"
    );
    let e = refused(
        "logs: {include: {match_type: fuzzy, bodies: [a]}}",
        Signal::Logs,
    );
    assert!(e.contains("unrecognized match_type: 'fuzzy'"), "{e}");
    // The spans matchers' requirements are checked for traces pipelines, as otelcol does.
    let e = refused(
        "spans: {include: {match_type: strict, log_bodies: [a]}}",
        Signal::Traces,
    );
    assert_eq!(e, "log_bodies should not be specified for trace spans");
    let e = create("trace_condition: []", Signal::Traces).err().unwrap();
    assert_eq!(e.0[0].path, "processors.filter/x.trace_condition", "{e}");
}

#[test]
fn otelcol_config_examples_load() {
    // otelcol's testdata/config_ottl.yaml-style and README configs, every signal.
    let yaml = r#"
error_mode: ignore
traces:
  span:
    - 'attributes["test"] == "pass"'
  spanevent:
    - 'attributes["test"] == "pass"'
metrics:
  metric:
    - 'name == "pass"'
  datapoint:
    - 'attributes["test"] == "pass"'
logs:
  log_record:
    - 'attributes["test"] == "pass"'
profiles:
  profile:
    - 'resource.attributes["test"] == "pass"'
"#;
    for s in [
        Signal::Traces,
        Signal::Metrics,
        Signal::Logs,
        Signal::Profiles,
    ] {
        assert!(create(yaml, s).is_ok(), "{s}");
    }
}

#[test]
fn conformance() {
    for cfg in [
        "",
        "trace_conditions: ['span.name == \"x\"']\nlog_conditions: ['log.body == \"x\"']",
    ] {
        ferrotel_testkit::conformance::run_processor(&FilterProcessorFactory, cfg);
    }
}

#[test]
fn golden_files() {
    assert!(crate::golden::run("filter", &FilterProcessorFactory) >= 2);
}

/// otelcol's README: the filter's metric functions; the docs: `IsRootSpan()` needs a pinned
/// context, having no path to infer one from.
#[test]
fn context_functions() {
    let has_attr =
        "metrics: {metric: ['HasAttrOnDatapoint(\"pod\", \"b\")', 'HasAttrKeyOnDatapoint(\"k\")']}";
    assert_eq!(
        metrics(&filter(has_attr, metric_input())),
        ["latency/1", "quantiles/1", "my.metric/1", "hello_world/1"]
    );
    let pinned =
        "metric_conditions: [{context: metric, conditions: ['HasAttrKeyOnDatapoint(\"pod\")']}]";
    assert_eq!(metrics(&filter(pinned, metric_input())).len(), 5);
    let e = refused(
        "metric_conditions: ['HasAttrKeyOnDatapoint(\"pod\")']",
        Signal::Metrics,
    );
    assert!(
        e.starts_with("unable to infer context from conditions"),
        "{e}"
    );
    let root = "trace_conditions: [{context: span, conditions: ['IsRootSpan()']}]";
    assert_eq!(spans(&filter(root, trace_input())), Vec::<String>::new());
}

#[test]
fn undecodable_profiles_are_refused() {
    let p = create(
        "profiles: {profile: ['scope.name == \"x\"']}",
        Signal::Profiles,
    )
    .unwrap();
    let batch = Batch::from_bytes(
        Signal::Profiles,
        vec![0xff, 0xff].into(),
        None,
        Default::default(),
    );
    let err = p.process(batch, &mut vec![]).unwrap_err();
    assert!(
        matches!(err, PipelineError::Status { code: 3, .. }),
        "{err:?}"
    );
}
