use super::*;
use ferrotel_config::{decode, Findings};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::{
    any_value::Value as V, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric::Data as M, number_data_point,
    summary_data_point, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_core::{AnyFactory, Data};
use ferrotel_testkit::config::{create_context, refused, yaml};
use std::path::PathBuf;

const T0: u64 = 1_581_452_772_000_000_321; // 2020-02-11 20:26:12.000000321 UTC
const T1: u64 = 1_581_452_773_000_000_789;

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

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", s("checkout"))],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "io.ferrotel.test".into(),
        version: "1.2.3".into(),
        ..Default::default()
    })
}

fn traces() -> Data {
    let span0 = Span {
        trace_id: (1..=16).collect(),
        span_id: (17..=24).collect(),
        name: "GET /cart".into(),
        kind: 2,
        trace_state: "ot=th:0".into(),
        start_time_unix_nano: T0,
        end_time_unix_nano: T1,
        attributes: vec![
            kv("http.method", s("GET")),
            kv("http.status_code", V::IntValue(200)),
            kv(
                "http.request.header.authorization",
                s("Bearer secret-token"),
            ),
            kv("Cookie", s("session=secret-token")),
            kv("ratio", V::DoubleValue(0.25)),
            kv("cached", V::BoolValue(true)),
            kv(
                "headers",
                V::KvlistValue(KeyValueList {
                    values: vec![kv("set-cookie", s("secret-token")), kv("accept", s("*/*"))],
                }),
            ),
            kv(
                "tags",
                V::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(s("a")),
                        },
                        AnyValue {
                            value: Some(V::IntValue(2)),
                        },
                    ],
                }),
            ),
            kv("raw", V::BytesValue(vec![1, 2, 3])),
        ],
        events: vec![span::Event {
            time_unix_nano: T1,
            name: "exception".into(),
            attributes: vec![kv("exception.type", s("IOError"))],
            dropped_attributes_count: 1,
        }],
        links: vec![span::Link {
            trace_id: vec![0xaa; 16],
            span_id: vec![0xbb; 8],
            attributes: vec![kv("proxy-authorization", s("Basic secret-token"))],
            ..Default::default()
        }],
        status: Some(Status {
            code: 2,
            message: "boom".into(),
        }),
        ..Default::default()
    };
    let span1 = Span {
        trace_id: (1..=16).collect(),
        span_id: vec![0; 8],
        parent_span_id: (17..=24).collect(),
        name: "db.query".into(),
        kind: 3,
        start_time_unix_nano: T0,
        end_time_unix_nano: T1,
        ..Default::default()
    };
    Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![span0, span1],
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            }],
            schema_url: String::new(),
        }],
    })
}

fn point(attrs: Vec<KeyValue>, v: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: T0,
        time_unix_nano: T1,
        value: Some(v),
        ..Default::default()
    }
}

fn metric(name: &str, data: M) -> Metric {
    Metric {
        name: name.into(),
        description: format!("{name} description"),
        unit: "1".into(),
        data: Some(data),
        ..Default::default()
    }
}

fn metrics() -> Data {
    let metrics = vec![
        metric(
            "queue.size",
            M::Gauge(Gauge {
                data_points: vec![point(
                    vec![kv("queue", s("a"))],
                    number_data_point::Value::AsInt(123),
                )],
            }),
        ),
        metric(
            "cpu.time",
            M::Sum(Sum {
                data_points: vec![point(
                    vec![kv("state", s("user")), kv("cpu", s("0"))],
                    number_data_point::Value::AsDouble(123.456),
                )],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        metric(
            "http.duration",
            M::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: vec![kv("http.method", s("GET"))],
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 1340,
                    sum: Some(99.573),
                    min: Some(0.017),
                    max: Some(8.13),
                    explicit_bounds: vec![0.125, 0.5, 1.0, 3.0],
                    bucket_counts: vec![1324, 13, 0, 2, 1],
                    exemplars: vec![Exemplar {
                        trace_id: (1..=16).collect(),
                        span_id: (17..=24).collect(),
                        time_unix_nano: T1,
                        value: Some(
                            ferrotel_core::proto::metrics::v1::exemplar::Value::AsDouble(15.0),
                        ),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            }),
        ),
        metric(
            "latency.exp",
            M::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 5,
                    sum: Some(0.15),
                    scale: 1,
                    zero_count: 1,
                    positive: Some(Buckets {
                        offset: 1,
                        bucket_counts: vec![1, 1],
                    }),
                    negative: Some(Buckets {
                        offset: -1,
                        bucket_counts: vec![1, 1],
                    }),
                    ..Default::default()
                }],
                aggregation_temporality: 1,
            }),
        ),
        metric(
            "rpc.summary",
            M::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    attributes: vec![kv("authorization", s("secret-token"))],
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 1340,
                    sum: 99.573,
                    quantile_values: vec![summary_data_point::ValueAtQuantile {
                        quantile: 0.01,
                        value: 15.0,
                    }],
                    ..Default::default()
                }],
            }),
        ),
    ];
    Data::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
        }],
    })
}

fn logs() -> Data {
    let r0 = LogRecord {
        time_unix_nano: T1,
        severity_number: 9,
        severity_text: "Info".into(),
        body: Some(AnyValue {
            value: Some(s("This is a log message")),
        }),
        attributes: vec![kv("app", s("server")), kv("instance_num", V::IntValue(1))],
        trace_id: (1..=16).collect(),
        span_id: (17..=24).collect(),
        flags: 1,
        ..Default::default()
    };
    let r1 = LogRecord {
        observed_time_unix_nano: T0,
        severity_number: 18,
        severity_text: "ERROR2".into(),
        event_name: "payment.failed".into(),
        body: Some(AnyValue {
            value: Some(V::KvlistValue(KeyValueList {
                values: vec![
                    kv("msg", s("Multi-line\nmessage")),
                    kv("Authorization", s("secret-token")),
                ],
            })),
        }),
        attributes: vec![kv("set_cookie", s("secret-token"))],
        ..Default::default()
    };
    Data::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![r0, r1],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    })
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/debug")
}

fn exporter(verbosity: Verbosity) -> DebugExporter {
    DebugExporter {
        verbosity,
        sampler: Sampler::new(2, 1),
        output: Output::Logger { id: "debug".into() },
    }
}

/// Compares with `testdata/debug/<name>.txt`; `UPDATE_GOLDEN=1` rewrites the file instead.
fn check_golden(name: &str, got: &str) {
    let path = golden_dir().join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(got, want, "output differs from {}", path.display());
}

#[test]
fn golden_output_for_every_verbosity_and_signal() {
    for (sig, data) in [
        ("traces", traces()),
        ("metrics", metrics()),
        ("logs", logs()),
    ] {
        for (vname, v) in [
            ("basic", Verbosity::Basic),
            ("normal", Verbosity::Normal),
            ("detailed", Verbosity::Detailed),
        ] {
            let batch = Batch::from_bytes(data.signal(), data.encode(), None, Default::default());
            let (summary, body) = exporter(v).render(&batch);
            let text = format!("{summary}\n{body}");
            assert!(
                !text.contains("secret-token"),
                "{sig}/{vname} leaks a credential:\n{text}"
            );
            check_golden(&format!("{sig}_{vname}"), &text);
        }
    }
}

#[test]
fn summary_lines_match_otelcol() {
    assert_eq!(
        basic(&traces()),
        r#"Traces {"resource spans": 1, "spans": 2}"#
    );
    assert_eq!(
        basic(&metrics()),
        r#"Metrics {"resource metrics": 1, "metrics": 5, "data points": 5}"#
    );
    assert_eq!(
        basic(&logs()),
        r#"Logs {"resource logs": 1, "log records": 2}"#
    );
    assert_eq!(
        basic(&ferrotel_testkit::fixtures::data(Signal::Profiles, 8)),
        r#"Profiles {"resource profiles": 1, "sample records": 8}"#
    );
}

#[test]
fn summary_lines_of_undecoded_requests_are_counted_on_the_wire_alike() {
    let profiles = ferrotel_testkit::fixtures::data(Signal::Profiles, 8);
    for data in [traces(), metrics(), logs(), profiles] {
        let bytes = data.encode();
        let on_wire = text::basic_encoded(data.signal(), &bytes).unwrap();
        assert_eq!(on_wire, basic(&data));
        let batch = Batch::from_bytes(data.signal(), bytes, None, Default::default());
        let exporter = exporter(Verbosity::Basic);
        assert_eq!(exporter.render(&batch).0, on_wire);
        assert!(
            !batch.is_decoded(),
            "basic verbosity leaves the batch encoded"
        );
    }
    assert_eq!(
        text::basic_encoded(Signal::Traces, &[0x0a, 0x05, 0x01]),
        None
    );
}

#[test]
fn detailed_layout_details() {
    let t = detailed(&traces());
    assert!(
        t.contains("    Start time     : 2020-02-11 20:26:12.000000321 +0000 UTC\n"),
        "{t}"
    );
    assert!(t.contains("     -> service.name: Str(checkout)\n"));
    assert!(t.contains("     -> http.request.header.authorization: Str([REDACTED])\n"));
    assert!(
        t.contains("     -> headers: Map({\"accept\":\"*/*\",\"set-cookie\":\"[REDACTED]\"})\n")
    );
    assert!(t.contains("    Parent ID      : \n    ID             : 1112131415161718\n"));
    assert!(t.contains("    Kind           : Server\n"));
    let l = detailed(&logs());
    assert!(
        l.contains("ObservedTimestamp: 1970-01-01 00:00:00 +0000 UTC\n"),
        "{l}"
    );
    assert!(l.contains("SeverityNumber: Error2(18)\n"), "{l}");
    assert!(l.contains("SeverityNumber: Info(9)\n"), "{l}");
}

#[test]
fn sensitive_names() {
    for k in [
        "Authorization",
        "cookie",
        "SET-COOKIE",
        "proxy_authorization",
        "http.request.header.authorization",
        "http.response.header.set-cookie",
    ] {
        assert!(is_sensitive(k), "{k}");
    }
    for k in ["author", "http.method", "cookies", "authorization.scheme"] {
        assert!(!is_sensitive(k), "{k}");
    }
}

#[test]
fn go_time_format() {
    assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
    assert_eq!(go_time(T0), "2020-02-11 20:26:12.000000321 +0000 UTC");
    assert_eq!(
        go_time(1_744_879_244_555_461_596),
        "2025-04-17 08:40:44.555461596 +0000 UTC"
    );
    assert_eq!(go_time(1_500_000_000), "1970-01-01 00:00:01.5 +0000 UTC");
}

#[test]
fn sampler_passes_first_n_then_every_mth_per_second() {
    let s = Sampler::new(2, 3);
    let t0 = Instant::now();
    let passed: Vec<bool> = (0..8).map(|_| s.allow_at(Signal::Traces, t0)).collect();
    // 1, 2 pass; then the 3rd after the initial ones (n=5) and n=8.
    assert_eq!(passed, [true, true, false, false, true, false, false, true]);
    // Signals are counted apart.
    assert!(s.allow_at(Signal::Logs, t0));
    // A new second starts over.
    let t1 = t0 + Duration::from_millis(1001);
    assert!(s.allow_at(Signal::Traces, t1));
    assert!(s.allow_at(Signal::Traces, t1));
    assert!(!s.allow_at(Signal::Traces, t1));
    // thereafter = 1: nothing is dropped; thereafter = 0: everything after the first N is.
    let all = Sampler::new(2, 1);
    assert!((0..100).all(|_| all.allow_at(Signal::Metrics, t0)));
    let none = Sampler::new(1, 0);
    assert!(none.allow_at(Signal::Metrics, t0));
    assert!(!(0..10).any(|_| none.allow_at(Signal::Metrics, t0)));
}

// ---------------------------------------------------------------------------------------------
// config

fn create(id: &str, cfg: &str) -> Result<ExporterParts, ConfigErrors> {
    DebugExporterFactory.create_from(&create_context("exporters", id), &yaml(cfg))
}

/// Validates `cfg` and builds the exporter, as the framework and `create` do.
fn build(
    path: &str,
    cfg: &DebugConfig,
    logging: bool,
    id: String,
) -> Result<(DebugExporter, ExporterSettings), ConfigErrors> {
    Findings::of(path, cfg).into_result()?;
    let mut findings = Findings::default();
    let built = super::build(&mut Validator::new(path, &mut findings), cfg, logging, id);
    findings.into_result().map(|_| built)
}

fn create_err(id: &str, cfg: &str) -> ConfigErrors {
    refused(create(id, cfg), cfg)
}

fn testdata(name: &str) -> String {
    std::fs::read_to_string(golden_dir().join(name)).unwrap()
}

#[test]
fn config_valid() {
    let parts = create("debug", &testdata("config_valid.yaml")).unwrap();
    assert!(
        parts.settings.queue.enabled,
        "sending_queue set in the file"
    );
    let parts = create("debug", "").unwrap();
    assert!(!parts.settings.queue.enabled, "queue is off by default");
    assert!(!parts.settings.retry.enabled);
    let cfg: DebugConfig = decode("x", &yaml(&testdata("config_valid.yaml"))).unwrap();
    assert_eq!(cfg.verbosity, Some(Choice::Known(Verbosity::Detailed)));
    assert_eq!(cfg.sampling_initial, 10);
    assert_eq!(cfg.sampling_thereafter, Some(5));
}

#[test]
fn config_typo_names_the_key() {
    let e = create_err("debug/x", &testdata("config_typo.yaml"));
    assert_eq!(e.0[0].path, "exporters.debug/x.verbosty", "{e}");
    assert!(e.0[0].message.contains("unknown field"), "{e}");
}

#[test]
fn config_invalid_verbosity() {
    let e = create_err("debug", &testdata("config_invalid.yaml"));
    assert_eq!(e.0[0].path, "exporters.debug.verbosity");
    assert_eq!(e.0[0].message, "verbosity level \"loud\" is not supported");
    let e = create_err("debug", "output_paths: [stdout]");
    assert_eq!(e.0[0].path, "exporters.debug.output_paths");
    let e = create_err("debug", "loglevel: debug");
    assert_eq!(e.0[0].path, "exporters.debug.loglevel");
    let e = create_err("debug", "sending_queue: {enabled: true, queue_size: 0}");
    assert_eq!(e.0[0].path, "exporters.debug.sending_queue.queue_size");
}

#[test]
fn logging_alias_keeps_its_old_defaults() {
    assert_eq!(DebugExporterFactory.info().aliases, &["logging"]);
    let cfg = DebugConfig::default();
    let (logging, _) = build("exporters.logging", &cfg, true, "logging".into()).unwrap();
    assert_eq!(logging.verbosity, Verbosity::Normal);
    assert_eq!(
        (logging.sampler.initial, logging.sampler.thereafter),
        (2, 500)
    );
    let (debug, settings) = build("exporters.debug", &cfg, false, "debug".into()).unwrap();
    assert_eq!(debug.verbosity, Verbosity::Basic);
    assert_eq!((debug.sampler.initial, debug.sampler.thereafter), (2, 1));
    assert!(!settings.queue.enabled);
    let old = DebugConfig {
        loglevel: Some(Choice::Known(LogLevel::Debug)),
        ..Default::default()
    };
    let (l, _) = build("exporters.logging", &old, true, "logging".into()).unwrap();
    assert_eq!(l.verbosity, Verbosity::Detailed);
    let both = DebugConfig {
        loglevel: Some(Choice::Known(LogLevel::Info)),
        verbosity: Some(Choice::Known(Verbosity::Basic)),
        ..Default::default()
    };
    assert!(build("exporters.logging", &both, true, "logging".into()).is_err());
    // Through the factory, by type name.
    assert!(create("logging", "loglevel: info").is_ok());
}

#[tokio::test]
async fn writes_to_output_paths_and_never_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.txt");
    let cfg = format!(
        "verbosity: normal\nuse_internal_logger: false\noutput_paths: [{:?}]",
        file.display().to_string()
    );
    let parts = create("debug", &cfg).unwrap();
    let data = traces();
    parts
        .exporter
        .export(Batch::from_data(data, Default::default()))
        .await
        .unwrap();
    // Garbage bytes are reported as text, not as an export failure.
    parts
        .exporter
        .export(Batch::from_bytes(
            Signal::Logs,
            bytes::Bytes::from_static(b"\x0a\xff\xff"),
            None,
            Default::default(),
        ))
        .await
        .unwrap();
    let out = std::fs::read_to_string(&file).unwrap();
    assert!(out.starts_with("Traces {\"resource spans\": 1, \"spans\": 2}\nResourceTraces #0 service.name=checkout\n"), "{out}");
    assert!(
        out.contains("GET /cart 0102030405060708090a0b0c0d0e0f10 1112131415161718 http.method=GET"),
        "{out}"
    );
    assert!(out.contains("logs: failed to unmarshal"), "{out}");
    assert!(!out.contains("secret-token"));
}

#[test]
fn verbosity_ignores_case_and_bad_values_are_reported_with_the_rest() {
    let cfg: DebugConfig = decode("x", &yaml("verbosity: Detailed")).unwrap();
    assert_eq!(cfg.verbosity, Some(Choice::Known(Verbosity::Detailed)));
    let e = create_err(
        "debug",
        "verbosity: loud\nsending_queue: {enabled: true, queue_size: 0}",
    );
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "exporters.debug.verbosity",
            "exporters.debug.sending_queue.queue_size"
        ]
    );
    let e = create_err("logging", "loglevel: loud");
    assert_eq!(e.0[0].path, "exporters.logging.loglevel");
    assert_eq!(e.0[0].message, "unrecognized level: \"loud\"");
    assert!(create("logging", "loglevel: DEBUG").is_ok());
}

#[test]
fn the_sending_queue_storage_is_an_extension_use() {
    let cfg: DebugConfig = decode(
        "x",
        &yaml("sending_queue: {enabled: true, storage: file_storage/q}"),
    )
    .unwrap();
    let f = Findings::of("exporters.debug", &cfg);
    assert_eq!(
        f.extensions[0].path,
        "exporters.debug.sending_queue.storage"
    );
    assert_eq!(f.extensions[0].id, "file_storage/q");
}

/// A writer for the test subscriber: everything written goes to one buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// What the exporter logs for `batch` through the collector's logger (the fmt layout of
/// `ferrotel`'s subscriber).
fn logged(verbosity: Verbosity, batch: &Batch) -> String {
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_ansi(false)
        .with_target(false)
        .finish();
    let exporter = exporter(verbosity);
    tracing::subscriber::with_default(subscriber, || {
        let (summary, body) = exporter.render(batch);
        exporter.emit(batch.signal(), &summary, &body);
    });
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn log_fields_never_run_onto_the_last_line_of_the_text() {
    for (verbosity, data) in [
        (Verbosity::Detailed, traces()),
        (Verbosity::Detailed, metrics()),
        (Verbosity::Detailed, logs()),
        (Verbosity::Normal, traces()),
    ] {
        let batch = Batch::from_data(data, Default::default());
        let (_, body) = exporter(verbosity).render(&batch);
        let text = logged(verbosity, &batch);
        // Every line of the text is logged as it is: no log field appended to any of them.
        for line in body.lines() {
            assert!(
                text.lines()
                    .any(|l| l == line || l.ends_with(&format!(" {line}"))),
                "{verbosity:?}: the line {line:?} is not logged on its own:\n{text}"
            );
        }
        // The fields of the text's record start a line of their own.
        let fields: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("otelcol.component.id=debug"))
            .collect();
        assert_eq!(fields.len(), 2, "{text}");
        assert!(
            fields[1]
                .trim_start()
                .starts_with("otelcol.component.id=debug"),
            "{verbosity:?}: the fields run onto a line of the text: {:?}\n{text}",
            fields[1]
        );
        assert!(
            !text.contains("\n\n"),
            "{verbosity:?}: an empty line:\n{text}"
        );
    }
    assert_eq!(ends_with_newline("a\n\n"), "a\n");
    assert_eq!(ends_with_newline("a"), "a\n");
    assert_eq!(ends_with_newline("a\n"), "a\n");
}
