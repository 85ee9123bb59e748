//! Evaluation of the common conditions (an attribute compared with a literal, a name, a status
//! code, an enum) allocates nothing: counted with a global allocator.

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::trace::v1::{Span, Status};
use ferrotel_ottl::{Conditions, ErrorMode, SpanContext, SpanItem};
use ferrotel_testkit::alloc::{allocations, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn common_conditions_do_not_allocate() {
    let span = Span {
        name: "GET /health".into(),
        kind: 2,
        attributes: vec![KeyValue {
            key: "http.route".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("/api".into())),
            }),
            ..Default::default()
        }],
        status: Some(Status {
            code: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    let conditions = Conditions::<SpanContext>::new(
        &[
            r#"attributes["http.route"] == "/checkout""#,
            r#"name == "GET /" and kind == SPAN_KIND_CLIENT"#,
            "status.code == STATUS_CODE_ERROR",
            r#"attributes["missing"] != nil or IsMatch(name, "^/nope")"#,
            r#"resource.attributes["service.name"] == "x""#,
        ],
        ErrorMode::Propagate,
    )
    .expect("conditions compile");
    let item = SpanItem {
        cache: &[],
        span: &span,
        scope: None,
        resource: None,
    };
    // Warm up (lazy regex caches allocate on first use).
    assert_eq!(conditions.any(item), Ok(false));
    let before = allocations();
    for _ in 0..100 {
        assert_eq!(conditions.any(item), Ok(false));
    }
    let allocated = allocations() - before;
    assert_eq!(allocated, 0, "evaluation allocated {allocated} times");
}

#[test]
fn log_metric_and_datapoint_conditions_do_not_allocate() {
    use ferrotel_core::proto::logs::v1::LogRecord;
    use ferrotel_core::proto::metrics::v1::{metric::Data, Metric, NumberDataPoint, Sum};
    use ferrotel_ottl::{
        DataPointContext, DataPointItem, DataPointRef, LogContext, LogItem, MetricContext,
        MetricItem,
    };
    let env = KeyValue {
        key: "env".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("prod".into())),
        }),
        ..Default::default()
    };
    let log = LogRecord {
        severity_number: 9,
        attributes: vec![env.clone()],
        ..Default::default()
    };
    let logs = Conditions::<LogContext>::new(
        &[
            "severity_number >= SEVERITY_NUMBER_ERROR",
            r#"attributes["env"] == "test" or severity_text == "ERROR""#,
            r#"body == "x" or event_name == "click""#,
        ],
        ErrorMode::Propagate,
    )
    .unwrap();
    let point = NumberDataPoint {
        attributes: vec![env],
        ..Default::default()
    };
    let metric = Metric {
        name: "http.requests".into(),
        data: Some(Data::Sum(Sum::default())),
        ..Default::default()
    };
    let metrics = Conditions::<MetricContext>::new(
        &[r#"name == "x" or type == METRIC_DATA_TYPE_GAUGE or is_monotonic == true"#],
        ErrorMode::Propagate,
    )
    .unwrap();
    let points = Conditions::<DataPointContext>::new(
        &[r#"attributes["env"] == "test" or metric.name == "y" or flags == FLAG_NO_RECORDED_VALUE"#],
        ErrorMode::Propagate,
    )
    .unwrap();
    let log_item = LogItem {
        cache: &[],
        log: &log,
        scope: None,
        resource: None,
    };
    let metric_item = MetricItem {
        cache: &[],
        metric: &metric,
        scope: None,
        resource: None,
    };
    let point_item = DataPointItem {
        cache: &[],
        point: DataPointRef::Number(&point),
        metric: metric_item,
    };
    let before = allocations();
    drop(std::hint::black_box(Box::new(1)));
    assert_eq!(
        allocations(),
        before + 1,
        "the allocator counts this thread's allocations"
    );
    let before = allocations();
    for _ in 0..100 {
        assert_eq!(logs.any(log_item), Ok(false));
        assert_eq!(metrics.any(metric_item), Ok(false));
        assert_eq!(points.any(point_item), Ok(false));
    }
    let allocated = allocations() - before;
    assert_eq!(allocated, 0, "evaluation allocated {allocated} times");
}
