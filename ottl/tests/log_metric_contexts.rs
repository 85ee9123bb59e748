//! The `log`, `metric` and `datapoint` contexts: every path and enum of otelcol's ottllog,
//! ottlmetric and ottldatapoint tables, evaluated on hand-built records, through `Condition`
//! and `Conditions`.

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::proto::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile, ExponentialHistogram, ExponentialHistogramDataPoint,
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum, Summary, SummaryDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_ottl::{
    Condition, Conditions, Context, DataPointContext, DataPointItem, DataPointRef, ErrorMode,
    LogContext, LogItem, MetricContext, MetricItem,
};

use any_value::Value as V;

fn any(v: V) -> AnyValue {
    AnyValue { value: Some(v) }
}

fn kv(key: &str, v: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(any(v)),
        ..Default::default()
    }
}

fn s(v: &str) -> V {
    V::StringValue(v.into())
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "io.lib".into(),
        version: "1.2.3".into(),
        attributes: vec![kv("scope.k", s("sv"))],
        dropped_attributes_count: 2,
    }
}

fn resource() -> Resource {
    Resource {
        attributes: vec![kv("service.name", s("checkout"))],
        dropped_attributes_count: 1,
        ..Default::default()
    }
}

fn eval<C: Context>(src: &str, item: C::Item<'_>) -> Result<bool, String> {
    // Leaked so the condition outlives the item it reads (a few bytes per test condition).
    let c: &'static Condition<C> = Box::leak(Box::new(
        Condition::<C>::new(src).map_err(|e| e.to_string())?,
    ));
    c.eval(item).map_err(|e| e.to_string())
}

fn map_body() -> AnyValue {
    any(V::KvlistValue(KeyValueList {
        values: vec![kv("msg", s("timeout")), kv("code", V::IntValue(7))],
    }))
}

fn log_record(body: AnyValue) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_000,
        observed_time_unix_nano: 2_000,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(body),
        attributes: vec![kv("env", s("prod"))],
        dropped_attributes_count: 4,
        flags: 1,
        trace_id: (1..=16).collect(),
        span_id: vec![0xa, 0xb, 0xc, 0xd, 1, 2, 3, 4],
        event_name: "browser.click".into(),
    }
}

fn log_eval(src: &str, body: AnyValue) -> Result<bool, String> {
    let (log, sc, res) = (log_record(body), scope(), resource());
    let item = LogItem {
        cache: &[],
        log: &log,
        scope: Some(&sc),
        resource: Some(&res),
    };
    eval::<LogContext>(src, item)
}

#[track_caller]
fn log_yes(src: &str) {
    assert_eq!(log_eval(src, map_body()), Ok(true), "{src}");
}

#[test]
fn log_paths() {
    for src in [
        "time_unix_nano == 1000",
        "observed_time_unix_nano == 2000",
        "observed_time_unix_nano - time_unix_nano == 1000",
        "observed_time - time == Duration(\"1us\")",
        "severity_number == 17",
        "severity_number == SEVERITY_NUMBER_ERROR",
        "severity_number >= SEVERITY_NUMBER_ERROR and severity_number < SEVERITY_NUMBER_ERROR2",
        r#"severity_text == "ERROR""#,
        r#"body["msg"] == "timeout""#,
        r#"body["code"] == 7"#,
        r#"body["missing"] == nil"#,
        r#"body.string == "{\"msg\":\"timeout\",\"code\":7}""#,
        "Len(body) == 2",
        r#"attributes["env"] == "prod""#,
        r#"log.attributes["env"] == "prod""#,
        "dropped_attributes_count == 4",
        "flags == 1",
        r#"trace_id.string == "0102030405060708090a0b0c0d0e0f10""#,
        r#"span_id.string == "0a0b0c0d01020304""#,
        r#"event_name == "browser.click""#,
        r#"resource.attributes["service.name"] == "checkout""#,
        "resource.dropped_attributes_count == 1",
        r#"instrumentation_scope.name == "io.lib""#,
        r#"scope.version == "1.2.3""#,
        r#"scope.attributes["scope.k"] == "sv""#,
        "instrumentation_scope.dropped_attributes_count == 2",
    ] {
        log_yes(src);
    }
    assert_eq!(
        log_eval("severity_number == SEVERITY_NUMBER_WARN", map_body()),
        Ok(false)
    );
}

#[test]
fn log_body_kinds() {
    let list = any(V::ArrayValue(ArrayValue {
        values: vec![any(s("a")), any(V::IntValue(2))],
    }));
    assert_eq!(
        log_eval(r#"body[1] == 2 and body[0] == "a""#, list.clone()),
        Ok(true)
    );
    assert_eq!(log_eval(r#"body.string == "[\"a\",2]""#, list), Ok(true));
    assert_eq!(log_eval(r#"body == "plain""#, any(s("plain"))), Ok(true));
    assert_eq!(
        log_eval(r#"body.string == "12""#, any(V::IntValue(12))),
        Ok(true)
    );
    // pdata's AsString: bytes as base64.
    assert_eq!(
        log_eval(
            r#"body.string == "AQL/""#,
            any(V::BytesValue(vec![1, 2, 255]))
        ),
        Ok(true)
    );
    assert_eq!(
        log_eval(r#"body["k"] == "v""#, any(s("plain"))),
        Err("log bodies of type Str cannot be indexed".into())
    );
    assert_eq!(log_eval("body == nil", AnyValue::default()), Ok(true));
    assert_eq!(
        log_eval(r#"body.string == """#, AnyValue::default()),
        Ok(true)
    );
}

#[test]
fn severity_enums_are_otlp_numbers() {
    let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    assert_eq!(
        LogContext::enum_value("SEVERITY_NUMBER_UNSPECIFIED"),
        Some(0)
    );
    for (i, level) in levels.iter().enumerate() {
        let base = i as i64 * 4 + 1;
        assert_eq!(
            LogContext::enum_value(&format!("SEVERITY_NUMBER_{level}")),
            Some(base)
        );
        for n in 2..=4 {
            let name = format!("SEVERITY_NUMBER_{level}{n}");
            assert_eq!(LogContext::enum_value(&name), Some(base + n - 1), "{name}");
        }
    }
    assert_eq!(LogContext::enum_value("SEVERITY_NUMBER_FATAL4"), Some(24));
    for bad in [
        "SEVERITY_NUMBER_ERROR5",
        "SEVERITY_NUMBER_",
        "SPAN_KIND_SERVER",
        "ERROR",
    ] {
        assert_eq!(LogContext::enum_value(bad), None, "{bad}");
    }
}

#[test]
fn unknown_paths_and_enums_are_refused_naming_them() {
    let e = Condition::<LogContext>::new("name == \"x\"")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("segment \"name\" from path \"name\"") && e.contains("log context"),
        "{e}"
    );
    let e = Condition::<LogContext>::new("body.strin == \"x\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("body.strin"), "{e}");
    let e = Condition::<MetricContext>::new("value_int == 1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("metric context"), "{e}");
    let e = Condition::<DataPointContext>::new("name == \"x\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("datapoint context"), "{e}");
    let e = Condition::<DataPointContext>::new("positive.offst == 1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("positive.offst"), "{e}");
    let e = Condition::<MetricContext>::new("type == FLAG_NONE")
        .unwrap_err()
        .to_string();
    assert!(e.contains("enum symbol, FLAG_NONE, not found"), "{e}");
}

fn number_point(value: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![kv("host", s("a"))],
        start_time_unix_nano: 100,
        time_unix_nano: 200,
        flags: 1,
        value: Some(value),
        ..Default::default()
    }
}

fn sum_metric() -> Metric {
    Metric {
        name: "http.requests".into(),
        description: "requests served".into(),
        unit: "{request}".into(),
        metadata: vec![kv("source", s("sdk"))],
        data: Some(Data::Sum(Sum {
            data_points: vec![number_point(number_data_point::Value::AsInt(42))],
            aggregation_temporality: 1,
            is_monotonic: true,
        })),
    }
}

fn metric_eval(src: &str, m: &Metric) -> Result<bool, String> {
    let (sc, res) = (scope(), resource());
    let item = MetricItem {
        cache: &[],
        metric: m,
        scope: Some(&sc),
        resource: Some(&res),
    };
    eval::<MetricContext>(src, item)
}

#[test]
fn metric_paths() {
    let m = sum_metric();
    for src in [
        r#"name == "http.requests""#,
        r#"metric.name == "http.requests""#,
        r#"description == "requests served""#,
        r#"unit == "{request}""#,
        "type == METRIC_DATA_TYPE_SUM",
        "aggregation_temporality == AGGREGATION_TEMPORALITY_DELTA",
        "is_monotonic == true",
        r#"metadata["source"] == "sdk""#,
        r#"resource.attributes["service.name"] == "checkout""#,
        r#"scope.name == "io.lib" and instrumentation_scope.version == "1.2.3""#,
    ] {
        assert_eq!(metric_eval(src, &m), Ok(true), "{src}");
    }
    let gauge = Metric {
        name: "g".into(),
        data: Some(Data::Gauge(Gauge::default())),
        ..Default::default()
    };
    for src in [
        "type == METRIC_DATA_TYPE_GAUGE",
        "aggregation_temporality == nil",
        "is_monotonic == nil",
    ] {
        assert_eq!(metric_eval(src, &gauge), Ok(true), "{src}");
    }
    assert_eq!(
        metric_eval("type == METRIC_DATA_TYPE_NONE", &Metric::default()),
        Ok(true)
    );
}

#[test]
fn metric_enums() {
    let expected = [
        ("METRIC_DATA_TYPE_NONE", 0),
        ("METRIC_DATA_TYPE_GAUGE", 1),
        ("METRIC_DATA_TYPE_SUM", 2),
        ("METRIC_DATA_TYPE_HISTOGRAM", 3),
        ("METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4),
        ("METRIC_DATA_TYPE_SUMMARY", 5),
        ("AGGREGATION_TEMPORALITY_UNSPECIFIED", 0),
        ("AGGREGATION_TEMPORALITY_DELTA", 1),
        ("AGGREGATION_TEMPORALITY_CUMULATIVE", 2),
    ];
    for (name, n) in expected {
        assert_eq!(MetricContext::enum_value(name), Some(n), "{name}");
        assert_eq!(DataPointContext::enum_value(name), Some(n), "{name}");
    }
    assert_eq!(DataPointContext::enum_value("FLAG_NONE"), Some(0));
    assert_eq!(
        DataPointContext::enum_value("FLAG_NO_RECORDED_VALUE"),
        Some(1)
    );
    assert_eq!(MetricContext::enum_value("FLAG_NONE"), None);
    for (name, kind) in [
        (
            "METRIC_DATA_TYPE_HISTOGRAM",
            Data::Histogram(Histogram::default()),
        ),
        (
            "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM",
            Data::ExponentialHistogram(ExponentialHistogram::default()),
        ),
        (
            "METRIC_DATA_TYPE_SUMMARY",
            Data::Summary(Summary::default()),
        ),
    ] {
        let m = Metric {
            data: Some(kind),
            ..Default::default()
        };
        assert_eq!(
            metric_eval(&format!("type == {name}"), &m),
            Ok(true),
            "{name}"
        );
    }
}

fn point_eval(src: &str, point: DataPointRef<'_>) -> Result<bool, String> {
    let (m, sc, res) = (sum_metric(), scope(), resource());
    let item = DataPointItem {
        cache: &[],
        point,
        metric: MetricItem {
            cache: &[],
            metric: &m,
            scope: Some(&sc),
            resource: Some(&res),
        },
    };
    eval::<DataPointContext>(src, item)
}

#[track_caller]
fn point_all(point: DataPointRef<'_>, conditions: &[&str]) {
    for src in conditions {
        assert_eq!(point_eval(src, point), Ok(true), "{src}");
    }
}

#[test]
fn number_point_paths() {
    let int = number_point(number_data_point::Value::AsInt(42));
    point_all(
        DataPointRef::Number(&int),
        &[
            r#"attributes["host"] == "a""#,
            r#"datapoint.attributes["host"] == "a""#,
            "start_time_unix_nano == 100",
            "time_unix_nano == 200",
            "time - start_time == Duration(\"100ns\")",
            "value_int == 42",
            "value_double == 0.0",
            "flags == FLAG_NO_RECORDED_VALUE",
            "count == nil and sum == nil and bucket_counts == nil and scale == nil",
            "quantile_values == nil and positive == nil and zero_count == nil",
            r#"metric.name == "http.requests""#,
            "metric.type == METRIC_DATA_TYPE_SUM",
            "metric.aggregation_temporality == AGGREGATION_TEMPORALITY_DELTA",
            "metric.is_monotonic == true",
            r#"metric.unit == "{request}" and metric.description == "requests served""#,
            r#"metric.metadata["source"] == "sdk""#,
            r#"resource.attributes["service.name"] == "checkout""#,
            r#"scope.name == "io.lib" and instrumentation_scope.version == "1.2.3""#,
        ],
    );
    let double = number_point(number_data_point::Value::AsDouble(2.5));
    point_all(
        DataPointRef::Number(&double),
        &["value_double == 2.5", "value_int == 0", "value_double > 2"],
    );
}

#[test]
fn histogram_point_paths() {
    let h = HistogramDataPoint {
        attributes: vec![kv("route", s("/"))],
        time_unix_nano: 5,
        count: 6,
        sum: Some(12.5),
        bucket_counts: vec![1, 2, 3],
        explicit_bounds: vec![0.5, 1.0],
        flags: 0,
        ..Default::default()
    };
    point_all(
        DataPointRef::Histogram(&h),
        &[
            "count == 6",
            "sum == 12.5",
            "sum / count > 2",
            "bucket_counts[2] == 3 and Len(bucket_counts) == 3",
            "explicit_bounds[0] == 0.5 and explicit_bounds[1] == 1.0",
            "flags == FLAG_NONE",
            "value_int == nil and value_double == nil and scale == nil",
            r#"attributes["route"] == "/""#,
        ],
    );
}

#[test]
fn exponential_histogram_point_paths() {
    let e = ExponentialHistogramDataPoint {
        count: 9,
        sum: Some(3.0),
        scale: -2,
        zero_count: 4,
        positive: Some(Buckets {
            offset: 3,
            bucket_counts: vec![5, 6],
        }),
        negative: None,
        ..Default::default()
    };
    point_all(
        DataPointRef::ExponentialHistogram(&e),
        &[
            "count == 9 and sum == 3.0",
            "scale == -2",
            "zero_count == 4",
            "positive.offset == 3",
            "positive.bucket_counts[1] == 6",
            r#"positive["offset"] == 3"#,
            "negative.offset == 0 and Len(negative.bucket_counts) == 0",
            "bucket_counts == nil and explicit_bounds == nil",
        ],
    );
}

#[test]
fn summary_point_paths() {
    let q = |quantile, value| ValueAtQuantile { quantile, value };
    let p = SummaryDataPoint {
        count: 3,
        sum: 7.5,
        quantile_values: vec![q(0.5, 2.0), q(0.99, 4.0)],
        ..Default::default()
    };
    point_all(
        DataPointRef::Summary(&p),
        &[
            "count == 3 and sum == 7.5",
            "Len(quantile_values) == 2",
            r#"quantile_values[1]["quantile"] == 0.99 and quantile_values[1]["value"] == 4.0"#,
            "scale == nil and bucket_counts == nil",
        ],
    );
}

#[test]
fn conditions_api_ors_the_new_contexts() {
    let log = log_record(map_body());
    let item = LogItem {
        cache: &[],
        log: &log,
        scope: None,
        resource: None,
    };
    let any_of = Conditions::<LogContext>::new(
        &[
            "severity_number < SEVERITY_NUMBER_WARN",
            r#"attributes["env"] == "prod""#,
        ],
        ErrorMode::Propagate,
    )
    .unwrap();
    assert!(any_of.any(item).unwrap());
    let none = Conditions::<LogContext>::new(
        &[r#"resource.attributes["x"] != nil"#],
        ErrorMode::Propagate,
    )
    .unwrap();
    assert!(!none.any(item).unwrap());
    // An indexing error propagates naming the condition, or counts as false when ignored.
    let text = r#"body["k"] == 1"#;
    let plain = LogRecord {
        body: Some(any(s("plain"))),
        ..Default::default()
    };
    let item = LogItem {
        cache: &[],
        log: &plain,
        scope: None,
        resource: None,
    };
    let e = Conditions::<LogContext>::new(&[text], ErrorMode::Propagate)
        .unwrap()
        .any(item)
        .unwrap_err()
        .to_string();
    assert!(e.contains(text) && e.contains("cannot be indexed"), "{e}");
    let ignored = Conditions::<LogContext>::new(&[text], ErrorMode::Ignore).unwrap();
    assert!(!ignored.any(item).unwrap());
    let errors =
        Conditions::<MetricContext>::new(&["nme == 1", "name == 1", "x =="], ErrorMode::Ignore)
            .unwrap_err();
    assert_eq!(errors.len(), 2);
}
