//! The transform processor's metric editors, written from otelcol-contrib's transformprocessor
//! README (each function's examples and stated semantics) and the expectations of its tests
//! (`processor_test.go`, `func_*_test.go`).

#![allow(clippy::unwrap_used)]

use ferrotel_core::pdata::kv_str;
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::metrics::v1::{
    metric::Data, number_data_point::Value as NV, summary_data_point::ValueAtQuantile,
    ExponentialHistogram, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum,
    Summary, SummaryDataPoint,
};
use ferrotel_ottl::{
    DataPointContext, DataPointItemMut, DataPointMut, ErrorMode, MetricContext, MetricItemMut,
    NewMetrics, SpanContext, Statement, Statements,
};

const START: u64 = 1_581_452_772_000_000_321;
const TIME: u64 = 1_615_584_433_000_000_322;

fn number(attrs: Vec<KeyValue>, v: NV) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: START,
        time_unix_nano: TIME,
        value: Some(v),
        ..Default::default()
    }
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        description: format!("{name} description"),
        unit: "s".into(),
        data: Some(data),
        ..Default::default()
    }
}

fn sum(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: 2,
            is_monotonic: true,
        }),
    )
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        Data::Gauge(Gauge {
            data_points: points,
        }),
    )
}

/// otelcol's `operationB`: a delta histogram of two points, only the first with a sum.
fn histogram() -> Metric {
    let point = |count, sum, attr| HistogramDataPoint {
        attributes: vec![kv_str("attr1", attr)],
        start_time_unix_nano: START,
        time_unix_nano: TIME,
        count,
        sum,
        bucket_counts: vec![count, 0],
        explicit_bounds: vec![1.0],
        ..Default::default()
    };
    metric(
        "operationB",
        Data::Histogram(Histogram {
            data_points: vec![point(1, Some(2.5), "a"), point(4, None, "b")],
            aggregation_temporality: 1,
        }),
    )
}

fn summary() -> Metric {
    let q = |quantile, value| ValueAtQuantile { quantile, value };
    metric(
        "operationD",
        Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                attributes: vec![kv_str("attr1", "a")],
                start_time_unix_nano: START,
                time_unix_nano: TIME,
                count: 5,
                sum: 12.5,
                quantile_values: vec![q(0.5, 2.0), q(0.99, 4.0), q(1.0, 5.0)],
                ..Default::default()
            }],
        }),
    )
}

/// Runs metric statements over a scope's metrics as the transform processor does: metrics
/// added by a statement are appended after the metric and visited in turn.
fn run(statements: &[&str], metrics: &mut Vec<Metric>) -> Result<(), String> {
    let st = Statements::<MetricContext>::new(statements, &[] as &[&str], ErrorMode::Propagate)
        .map_err(|e| e[0].to_string())?;
    let (mut scope, mut resource, mut added) = (None, None, NewMetrics::default());
    let mut at = 0;
    while at < metrics.len() {
        let r = st.execute(&mut MetricItemMut {
            cache: &mut Vec::new(),
            metric: &mut metrics[at],
            scope: &mut scope,
            resource: &mut resource,
            added: &mut added,
        });
        let new = added.take(&metrics[at]);
        metrics.extend(new);
        r.map_err(|e| e.to_string())?;
        at += 1;
    }
    Ok(())
}

fn compile_error(statement: &str) -> String {
    match Statement::<MetricContext>::new(statement) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{statement} compiled"),
    }
}

#[test]
fn convert_sum_to_gauge_keeps_the_points_and_leaves_other_types() {
    let points = vec![number(vec![kv_str("attr1", "test1")], NV::AsDouble(1.0))];
    let mut metrics = vec![sum("operationA", points.clone()), histogram()];
    run(&["convert_sum_to_gauge()"], &mut metrics).unwrap();
    assert_eq!(metrics[0], gauge("operationA", points));
    assert_eq!(metrics[1], histogram());
    assert!(compile_error("convert_sum_to_gauge(1)").contains("Expected: 0 Received: 1"));
}

#[test]
fn convert_gauge_to_sum_sets_temporality_and_monotonicity() {
    let points = vec![number(vec![], NV::AsInt(3))];
    for (args, temporality, monotonic) in [
        (r#""cumulative", false"#, 2, false),
        (r#""delta", true"#, 1, true),
    ] {
        let mut metrics = vec![gauge("g", points.clone()), sum("s", points.clone())];
        run(&[&format!("convert_gauge_to_sum({args})")], &mut metrics).unwrap();
        let Some(Data::Sum(s)) = &metrics[0].data else {
            panic!("{:?}", metrics[0])
        };
        assert_eq!(
            (s.aggregation_temporality, s.is_monotonic),
            (temporality, monotonic)
        );
        assert_eq!(s.data_points, points);
        assert_eq!(metrics[1], sum("s", points.clone()));
    }
    assert!(compile_error(r#"convert_gauge_to_sum("invalid", true)"#)
        .contains("unknown aggregation temporality: invalid"));
}

#[test]
fn extract_sum_metric_adds_a_sum_of_the_points_with_a_sum_visited_by_later_statements() {
    let mut metrics = vec![histogram()];
    run(
        &[r#"extract_sum_metric(true) where name == "operationB""#],
        &mut metrics,
    )
    .unwrap();
    assert_eq!(metrics.len(), 2);
    let mut want = sum(
        "operationB_sum",
        vec![number(vec![kv_str("attr1", "a")], NV::AsDouble(2.5))],
    );
    want.description = "operationB description".into();
    if let Some(Data::Sum(s)) = &mut want.data {
        s.aggregation_temporality = 1;
    }
    assert_eq!(metrics[1], want);

    // otelcol: "this checks if subsequent statements apply to the newly created metric".
    let mut metrics = vec![histogram()];
    run(
        &[
            r#"extract_sum_metric(true) where name == "operationB""#,
            r#"set(name, "new_name") where name == "operationB_sum""#,
        ],
        &mut metrics,
    )
    .unwrap();
    assert_eq!(metrics[1].name, "new_name");

    let mut metrics = vec![summary()];
    run(
        &[r#"extract_sum_metric(false, ".sum") where name == "operationD""#],
        &mut metrics,
    )
    .unwrap();
    let Some(Data::Sum(s)) = &metrics[1].data else {
        panic!()
    };
    assert_eq!(
        (
            metrics[1].name.as_str(),
            s.aggregation_temporality,
            s.is_monotonic
        ),
        ("operationD.sum", 2, false)
    );
    assert_eq!(s.data_points[0].value, Some(NV::AsDouble(12.5)));
}

#[test]
fn extract_count_metric_counts_every_point_with_unit_1() {
    let mut metrics = vec![histogram()];
    run(
        &[r#"extract_count_metric(true) where name == "operationB""#],
        &mut metrics,
    )
    .unwrap();
    let m = &metrics[1];
    assert_eq!(
        (m.name.as_str(), m.unit.as_str()),
        ("operationB_count", "1")
    );
    let Some(Data::Sum(s)) = &m.data else {
        panic!()
    };
    let values: Vec<_> = s.data_points.iter().map(|p| p.value).collect();
    assert_eq!(values, vec![Some(NV::AsInt(1)), Some(NV::AsInt(4))]);
    assert_eq!(s.data_points[1].attributes, vec![kv_str("attr1", "b")]);
    assert_eq!((s.aggregation_temporality, s.is_monotonic), (1, true));

    let mut metrics = vec![summary()];
    run(
        &[r#"extract_count_metric(false, ".count") where name == "operationD""#],
        &mut metrics,
    )
    .unwrap();
    assert_eq!(metrics[1].name, "operationD.count");
}

#[test]
fn extract_refuses_other_metric_types_and_adds_nothing_without_points() {
    let mut metrics = vec![gauge("g", vec![])];
    let e = run(&["extract_sum_metric(true)"], &mut metrics).unwrap_err();
    assert!(
        e.contains("extract_sum_metric requires an input metric of type Histogram, ExponentialHistogram or Summary, got Gauge"),
        "{e}"
    );
    let empty = metric(
        "h",
        Data::Histogram(Histogram {
            data_points: vec![],
            aggregation_temporality: 2,
        }),
    );
    let mut metrics = vec![empty];
    run(&["extract_count_metric(true)"], &mut metrics).unwrap();
    assert_eq!(metrics.len(), 1);
    assert!(compile_error("extract_sum_metric(1)").contains("monotonic must be a bool"));
}

#[test]
fn copy_metric_appends_a_copy_with_the_given_fields() {
    let a = sum("operationA", vec![number(vec![], NV::AsInt(1))]);
    let mut metrics = vec![a.clone(), histogram()];
    run(
        &[r#"copy_metric(name="http.request.status_code", unit="s") where name == "operationA""#],
        &mut metrics,
    )
    .unwrap();
    assert_eq!(metrics.len(), 3);
    let mut want = a.clone();
    want.name = "http.request.status_code".into();
    assert_eq!(metrics[2], want);

    // Arguments are expressions; later statements see the copy.
    let mut metrics = vec![a];
    run(
        &[
            r#"copy_metric(description=Concat([description, "copy"], " ")) where unit == "s" and name == "operationA" and description == "operationA description""#,
            r#"set(unit, "ms") where description == "operationA description copy""#,
        ],
        &mut metrics,
    )
    .unwrap();
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[1].unit, "ms");
    let e = run(
        &["copy_metric(name=1) where unit == \"s\""],
        &mut vec![histogram()],
    )
    .unwrap_err();
    assert!(e.contains("expected string but got int"), "{e}");
}

#[test]
fn scale_metric_multiplies_values_and_sets_the_unit() {
    let points = vec![
        number(vec![], NV::AsInt(3)),
        number(vec![], NV::AsDouble(0.25)),
    ];
    let mut metrics = vec![sum("energy", points), histogram(), summary()];
    run(&[r#"scale_metric(10.0, "kWh")"#], &mut metrics).unwrap();
    let Some(Data::Sum(s)) = &metrics[0].data else {
        panic!()
    };
    let values: Vec<_> = s.data_points.iter().map(|p| p.value).collect();
    assert_eq!(values, vec![Some(NV::AsInt(30)), Some(NV::AsDouble(2.5))]);
    assert_eq!(metrics[0].unit, "kWh");
    let Some(Data::Histogram(h)) = &metrics[1].data else {
        panic!()
    };
    assert_eq!(
        (h.data_points[0].sum, h.data_points[1].sum),
        (Some(25.0), None)
    );
    assert_eq!(h.data_points[0].explicit_bounds, vec![10.0]);
    assert_eq!(
        h.data_points[0].bucket_counts,
        vec![1, 0],
        "counts are not values"
    );
    let Some(Data::Summary(s)) = &metrics[2].data else {
        panic!()
    };
    assert_eq!(s.data_points[0].sum, 125.0);
    assert_eq!(s.data_points[0].quantile_values[1].value, 40.0);

    let mut metrics = vec![gauge("g", vec![number(vec![], NV::AsDouble(4.0))])];
    run(&["scale_metric(0.1)"], &mut metrics).unwrap();
    assert_eq!(metrics[0].unit, "s");
    let exp = metric(
        "e",
        Data::ExponentialHistogram(ExponentialHistogram::default()),
    );
    let e = run(&["scale_metric(0.1)"], &mut vec![exp]).unwrap_err();
    assert!(
        e.contains("exponential histograms are not supported by the 'scale_metric' function"),
        "{e}"
    );
    assert!(compile_error("scale_metric(10)").contains("multiplier must be a float"));
}

fn values(m: &Metric) -> Vec<(Vec<KeyValue>, Option<NV>)> {
    let points = match &m.data {
        Some(Data::Sum(s)) => &s.data_points,
        Some(Data::Gauge(g)) => &g.data_points,
        _ => panic!("{m:?}"),
    };
    points
        .iter()
        .map(|p| (p.attributes.clone(), p.value))
        .collect()
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs.iter().map(|(k, v)| kv_str(k, v)).collect()
}

/// Four points: attr1 test1/test2 × attr2 x/y (values 1.0, 2.5, 1.2, 4.0).
fn four_points() -> Metric {
    let p = |a1, a2, v| number(attrs(&[("attr1", a1), ("attr2", a2)]), NV::AsDouble(v));
    gauge(
        "system.memory.usage",
        vec![
            p("test1", "x", 1.0),
            p("test2", "y", 2.5),
            p("test1", "y", 1.2),
            p("test2", "x", 4.0),
        ],
    )
}

#[test]
fn aggregate_on_attributes_groups_by_the_kept_attributes() {
    let aggregated = |statement: &str| {
        let mut metrics = vec![four_points()];
        run(&[statement], &mut metrics).unwrap();
        values(&metrics[0])
    };
    assert_eq!(
        aggregated(
            r#"aggregate_on_attributes("sum", ["attr1"]) where metric.name == "system.memory.usage""#
        ),
        vec![
            (attrs(&[("attr1", "test1")]), Some(NV::AsDouble(2.2))),
            (attrs(&[("attr1", "test2")]), Some(NV::AsDouble(6.5))),
        ]
    );
    assert_eq!(
        aggregated(r#"aggregate_on_attributes("max", [])"#),
        vec![(vec![], Some(NV::AsDouble(4.0)))]
    );
    assert_eq!(
        aggregated(r#"aggregate_on_attributes("min", [])"#),
        vec![(vec![], Some(NV::AsDouble(1.0)))]
    );
    assert_eq!(
        aggregated(r#"aggregate_on_attributes("mean", [])"#),
        vec![(vec![], Some(NV::AsDouble(2.175)))]
    );
    assert_eq!(
        aggregated(r#"aggregate_on_attributes("median", [])"#),
        vec![(vec![], Some(NV::AsDouble(1.85)))]
    );
    assert_eq!(
        aggregated(r#"aggregate_on_attributes("count", [])"#),
        vec![(vec![], Some(NV::AsDouble(4.0)))]
    );
    // Without attributes only points that already share all of them merge.
    assert_eq!(
        aggregated(r#"aggregate_on_attributes("max")"#),
        values(&four_points())
    );

    let e = run(&[r#"aggregate_on_attributes("sum")"#], &mut vec![summary()]).unwrap_err();
    assert!(
        e.contains("aggregate_on_attributes does not support aggregating Summary metrics"),
        "{e}"
    );
    assert!(compile_error(r#"aggregate_on_attributes("average")"#).contains(
        "invalid aggregation function: 'unsupported function: 'average'', valid options: sum, mean, min, max, median, count"
    ));
}

#[test]
fn aggregate_on_attributes_sums_histograms_and_int_points() {
    let mut metrics = vec![histogram()];
    run(&[r#"aggregate_on_attributes("sum", [])"#], &mut metrics).unwrap();
    let Some(Data::Histogram(h)) = &metrics[0].data else {
        panic!()
    };
    assert_eq!(h.data_points.len(), 1);
    let p = &h.data_points[0];
    assert_eq!(
        (p.count, p.sum, &p.bucket_counts),
        (5, Some(2.5), &vec![5, 0])
    );

    let p = |v| number(vec![kv_str("a", "1")], NV::AsInt(v));
    let mut metrics = vec![sum("s", vec![p(3), p(4)])];
    run(&[r#"aggregate_on_attributes("mean", [])"#], &mut metrics).unwrap();
    assert_eq!(
        values(&metrics[0]),
        vec![(vec![], Some(NV::AsInt(3)))],
        "int mean truncates"
    );
}

#[test]
fn aggregate_on_attribute_value_renames_then_merges() {
    let mut metrics = vec![four_points()];
    run(
        &[r#"aggregate_on_attribute_value("sum", "attr1", ["test1", "test2"], "test") where metric.name == "system.memory.usage""#],
        &mut metrics,
    )
    .unwrap();
    assert_eq!(
        values(&metrics[0]),
        vec![
            (
                attrs(&[("attr1", "test"), ("attr2", "x")]),
                Some(NV::AsDouble(5.0))
            ),
            (
                attrs(&[("attr1", "test"), ("attr2", "y")]),
                Some(NV::AsDouble(3.7))
            ),
        ]
    );
}

#[test]
fn convert_summary_quantile_val_to_gauge_adds_a_point_per_quantile() {
    let mut metrics = vec![summary(), histogram()];
    run(&["convert_summary_quantile_val_to_gauge()"], &mut metrics).unwrap();
    assert_eq!(metrics.len(), 3, "only the summary adds a metric");
    let m = &metrics[2];
    assert_eq!(
        (m.name.as_str(), m.unit.as_str()),
        ("operationD.quantiles", "s")
    );
    let q = |q, v| {
        (
            attrs(&[("attr1", "a"), ("quantile", q)]),
            Some(NV::AsDouble(v)),
        )
    };
    assert_eq!(values(m), vec![q("0.50", 2.0), q("0.99", 4.0), q("1", 5.0)]);

    let mut metrics = vec![summary()];
    run(
        &[r#"convert_summary_quantile_val_to_gauge("custom_quantile", "custom_suffix")"#],
        &mut metrics,
    )
    .unwrap();
    assert_eq!(metrics[1].name, "operationDcustom_suffix");
    assert_eq!(values(&metrics[1])[0].0[1].key, "custom_quantile");
}

/// Runs datapoint statements over one metric's summary points, as the processor does.
fn run_points(statement: &str, m: &mut Metric) -> Vec<Metric> {
    let st =
        Statements::<DataPointContext>::new(&[statement], &[] as &[&str], ErrorMode::Propagate)
            .unwrap();
    let (mut scope, mut resource, mut added) = (None, None, NewMetrics::default());
    let Some(Data::Summary(s)) = &mut m.data else {
        panic!()
    };
    let mut points = std::mem::take(&mut s.data_points);
    for p in &mut points {
        let metric = MetricItemMut {
            cache: &mut Vec::new(),
            metric: m,
            scope: &mut scope,
            resource: &mut resource,
            added: &mut added,
        };
        st.execute(&mut DataPointItemMut {
            cache: &mut Vec::new(),
            point: DataPointMut::Summary(p),
            metric,
        })
        .unwrap();
    }
    if let Some(Data::Summary(s)) = &mut m.data {
        s.data_points = points;
    }
    added.take(m)
}

#[test]
fn convert_summary_count_and_sum_val_to_sum_in_the_datapoint_context() {
    let mut m = summary();
    let new = run_points(r#"convert_summary_count_val_to_sum("delta", true)"#, &mut m);
    let mut want = sum(
        "operationD_count",
        vec![number(vec![kv_str("attr1", "a")], NV::AsInt(5))],
    );
    want.description = "operationD description".into();
    if let Some(Data::Sum(s)) = &mut want.data {
        s.aggregation_temporality = 1;
    }
    assert_eq!(new, vec![want]);

    let new = run_points(
        r#"convert_summary_sum_val_to_sum("cumulative", false, ".sum")"#,
        &mut m,
    );
    assert_eq!(new[0].name, "operationD.sum");
    assert_eq!(values(&new[0])[0].1, Some(NV::AsDouble(12.5)));
    let Some(Data::Sum(s)) = &new[0].data else {
        panic!()
    };
    assert_eq!((s.aggregation_temporality, s.is_monotonic), (2, false));
}

#[test]
fn each_editor_exists_only_in_its_context() {
    let undefined = |e: String, name: &str| {
        assert!(e.contains(&format!("undefined function \"{name}\"")), "{e}")
    };
    undefined(
        compile_error(r#"convert_summary_sum_val_to_sum("delta", true)"#),
        "convert_summary_sum_val_to_sum",
    );
    for (statement, name) in [
        ("convert_sum_to_gauge()", "convert_sum_to_gauge"),
        (r#"copy_metric(name="x")"#, "copy_metric"),
    ] {
        let e = Statement::<DataPointContext>::new(statement)
            .err()
            .unwrap()
            .to_string();
        undefined(e, name);
        let e = Statement::<SpanContext>::new(statement)
            .err()
            .unwrap()
            .to_string();
        undefined(e, name);
    }
}

fn exponential(zero_count: u64, offset: i32, counts: Vec<u64>) -> Metric {
    use ferrotel_core::proto::metrics::v1::exponential_histogram_data_point::Buckets;
    use ferrotel_core::proto::metrics::v1::ExponentialHistogramDataPoint;
    let point = ExponentialHistogramDataPoint {
        attributes: vec![kv_str("attr1", "a")],
        start_time_unix_nano: START,
        time_unix_nano: TIME,
        count: zero_count + counts.iter().sum::<u64>(),
        sum: Some(42.0),
        scale: 0,
        zero_count,
        positive: Some(Buckets {
            offset,
            bucket_counts: counts,
        }),
        flags: 1,
        ..Default::default()
    };
    metric(
        "exp",
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![point],
            aggregation_temporality: 1,
        }),
    )
}

fn converted(distribution: &str, bounds: &str, m: Metric) -> HistogramDataPoint {
    let mut metrics = vec![m];
    let statement =
        format!("convert_exponential_histogram_to_histogram({distribution:?}, {bounds})");
    run(&[&statement], &mut metrics).unwrap();
    let Some(Data::Histogram(h)) = &metrics[0].data else {
        panic!("{:?}", metrics[0])
    };
    assert_eq!(
        (metrics[0].name.as_str(), h.aggregation_temporality),
        ("exp", 1)
    );
    h.data_points[0].clone()
}

#[test]
fn convert_exponential_histogram_to_histogram_by_each_distribution() {
    // Scale 0: bucket 3 holds (8, 16]; the bounds it spans are 10, 15 and 20.
    let bounds = "[5.0, 10.0, 15.0, 20.0, 25.0]";
    let counts = |d: &str| converted(d, bounds, exponential(0, 3, vec![10])).bucket_counts;
    assert_eq!(counts("upper"), vec![0, 0, 0, 10, 0]);
    assert_eq!(counts("midpoint"), vec![0, 10, 0, 0, 0]);
    assert_eq!(
        counts("uniform"),
        vec![0, 4, 3, 3, 0],
        "README: 10/3 = 3 r 1"
    );
    for d in ["random", ""] {
        let c = counts(d);
        assert_eq!((c.iter().sum::<u64>(), c[0], c[4]), (10, 0, 0), "{c:?}");
    }

    let p = converted(
        "upper",
        "[0.0, 10.0, 100.0]",
        exponential(3, 1, vec![1, 0, 0, 0, 0, 0, 0, 2]),
    );
    // Zero counts go to a first bound of 0; (2, 4], between the bounds 0 and 10, goes to the
    // lower one's bucket (otelcol's rule for a bucket within two bounds); (256, 512] is above
    // the last bound.
    assert_eq!(p.bucket_counts, vec![4, 0, 2]);
    assert_eq!(p.explicit_bounds, vec![0.0, 10.0, 100.0]);
    assert_eq!(
        (p.count, p.sum, p.min, p.max, p.flags),
        (6, Some(42.0), Some(0.0), Some(0.0), 0)
    );
    assert_eq!(p.attributes, vec![kv_str("attr1", "a")]);
    let p = converted("upper", "[10.0]", exponential(3, 1, vec![1]));
    assert_eq!(
        p.bucket_counts,
        vec![1],
        "no zero bound: zero counts are not allocated"
    );

    assert!(compile_error(r#"convert_exponential_histogram_to_histogram("linear", [1.0])"#)
        .contains("invalid conversion function: linear, must be one of [upper, midpoint, random, uniform]"));
    assert!(
        compile_error(r#"convert_exponential_histogram_to_histogram("upper", [])"#)
            .contains("explicit bounds cannot be empty: []")
    );
}

fn merged(
    statement: &str,
    bounds: Vec<f64>,
    counts: Vec<u64>,
) -> Result<(Vec<f64>, Vec<u64>), String> {
    let st =
        Statements::<DataPointContext>::new(&[statement], &[] as &[&str], ErrorMode::Propagate)
            .map_err(|e| e[0].to_string())?;
    let mut m = metric(
        "http_request_duration",
        Data::Histogram(Histogram::default()),
    );
    let mut p = HistogramDataPoint {
        count: counts.iter().sum(),
        sum: Some(7.0),
        explicit_bounds: bounds,
        bucket_counts: counts,
        ..Default::default()
    };
    let (mut scope, mut resource, mut added) = (None, None, NewMetrics::default());
    let metric = MetricItemMut {
        cache: &mut Vec::new(),
        metric: &mut m,
        scope: &mut scope,
        resource: &mut resource,
        added: &mut added,
    };
    st.execute(&mut DataPointItemMut {
        cache: &mut Vec::new(),
        point: DataPointMut::Histogram(&mut p),
        metric,
    })
    .map_err(|e| e.to_string())?;
    assert_eq!((p.count, p.sum), (p.bucket_counts.iter().sum(), Some(7.0)));
    Ok((p.explicit_bounds, p.bucket_counts))
}

#[test]
fn merge_histogram_buckets_as_otelcols_readme() {
    let statement = r#"merge_histogram_buckets(0.5) where metric.name == "http_request_duration""#;
    assert_eq!(
        merged(statement, vec![0.1, 0.5, 1.0], vec![5, 8, 3, 1]).unwrap(),
        (vec![0.1, 1.0], vec![5, 11, 1])
    );
    let statement = r#"merge_histogram_buckets(5, method="limit_buckets") where metric.name == "http_request_duration""#;
    assert_eq!(
        merged(
            statement,
            vec![0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            vec![80, 4, 6, 120, 3, 2, 40, 10, 1]
        )
        .unwrap(),
        (vec![0.2, 1.0, 5.0, 30.0], vec![84, 126, 5, 50, 1])
    );
    // No change: a bound not found, already within the limit, mismatched bounds and counts.
    let same = |s: &str, b: Vec<f64>, c: Vec<u64>| {
        assert_eq!(merged(s, b.clone(), c.clone()).unwrap(), (b, c))
    };
    same(
        "merge_histogram_buckets(0.7)",
        vec![0.1, 0.5],
        vec![1, 2, 3],
    );
    same(
        r#"merge_histogram_buckets(3, "limit_buckets")"#,
        vec![0.1, 0.5],
        vec![1, 2, 3],
    );
    same("merge_histogram_buckets(0.5)", vec![0.1, 0.5], vec![1, 2]);
    same(
        r#"merge_histogram_buckets(2, "limit_buckets")"#,
        vec![0.5, 0.1],
        vec![1, 2, 3],
    );

    let e = merged(
        r#"merge_histogram_buckets(0.5, "limit_buckets")"#,
        vec![],
        vec![],
    )
    .unwrap_err();
    assert!(
        e.contains(
            r#"target_value must be a positive integer when method is "limit_buckets", got 0.5"#
        ),
        "{e}"
    );
    let e = merged(r#"merge_histogram_buckets(1.0, "merge")"#, vec![], vec![]).unwrap_err();
    assert!(
        e.contains(
            r#"unsupported method "merge", expected "remove_explicit_bound" or "limit_buckets""#
        ),
        "{e}"
    );
    let e = compile_error("merge_histogram_buckets(0.5)");
    assert!(
        e.contains(r#"undefined function "merge_histogram_buckets""#),
        "{e}"
    );
}

/// A histogram of one point, as otelcol's percentile tests build them.
fn percentile_histogram(
    count: u64,
    counts: Vec<u64>,
    bounds: Vec<f64>,
    min: Option<f64>,
    max: Option<f64>,
) -> Metric {
    let point = HistogramDataPoint {
        attributes: vec![kv_str("attr1", "a")],
        start_time_unix_nano: START,
        time_unix_nano: TIME,
        count,
        bucket_counts: counts,
        explicit_bounds: bounds,
        min,
        max,
        ..Default::default()
    };
    metric(
        "latency",
        Data::Histogram(Histogram {
            data_points: vec![point],
            aggregation_temporality: 2,
        }),
    )
}

/// An exponential histogram of one point: scale, negative counts, zero count and threshold,
/// positive counts (offsets 0).
fn percentile_exponential(
    scale: i32,
    negative: Vec<u64>,
    zero: (u64, f64),
    positive: Vec<u64>,
) -> Metric {
    use ferrotel_core::proto::metrics::v1::exponential_histogram_data_point::Buckets;
    use ferrotel_core::proto::metrics::v1::ExponentialHistogramDataPoint;
    let count = zero.0 + negative.iter().sum::<u64>() + positive.iter().sum::<u64>();
    let buckets = |c: Vec<u64>| {
        Some(Buckets {
            offset: 0,
            bucket_counts: c,
        })
    };
    let point = ExponentialHistogramDataPoint {
        attributes: vec![kv_str("attr1", "a")],
        start_time_unix_nano: START,
        time_unix_nano: TIME,
        count,
        scale,
        zero_count: zero.0,
        zero_threshold: zero.1,
        negative: buckets(negative),
        positive: buckets(positive),
        ..Default::default()
    };
    metric(
        "exp",
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![point],
            aggregation_temporality: 2,
        }),
    )
}

/// The one value of the gauge `extract_percentile_metric` adds for `m`, `None` when it adds none.
fn percentile_of(statement: &str, m: Metric) -> Option<f64> {
    let mut metrics = vec![m];
    run(&[statement], &mut metrics).unwrap();
    let added = metrics.get(1)?;
    assert_eq!(values(added).len(), 1);
    match values(added)[0].1 {
        Some(NV::AsDouble(v)) => Some(v),
        ref other => panic!("{other:?}"),
    }
}

fn assert_near(got: Option<f64>, want: f64) {
    let got = got.expect("a percentile point");
    assert!((got - want).abs() < 1e-4, "{got} != {want}");
}

#[test]
fn extract_percentile_metric_interpolates_inside_explicit_buckets() {
    let p = |pct: f64, m| percentile_of(&format!("extract_percentile_metric({pct:?})"), m);
    let h = percentile_histogram;
    assert_near(
        p(50.0, h(100, vec![60, 40], vec![1.0], None, None)),
        0.833_333_3,
    );
    // The last bucket without a max: its lower bound; with one: up to the max.
    assert_near(
        p(99.0, h(115, vec![50, 35, 50], vec![1.0, 5.0], None, None)),
        5.0,
    );
    assert_near(
        p(
            95.0,
            h(115, vec![50, 35, 50, 15], vec![1.0, 3.0, 5.0], None, None),
        ),
        4.0,
    );
    assert_near(
        p(
            99.0,
            h(100, vec![25, 50, 25], vec![100.0, 500.0], None, Some(750.0)),
        ),
        740.0,
    );
    assert_near(p(75.0, h(41, vec![40, 1], vec![100.0], None, None)), 77.5);
    let bounds = vec![10.0, 25.0, 50.0, 100.0, 250.0, 500.0];
    let counts = vec![50, 100, 200, 300, 200, 100, 50];
    assert_near(p(90.0, h(1000, counts, bounds, None, None)), 375.0);
    assert_near(p(50.0, h(100, vec![40, 60], vec![10.0], None, None)), 10.0);
    // One bucket: between min and max, or no point without them.
    assert_near(
        p(50.0, h(100, vec![100], vec![], Some(5.0), Some(25.0))),
        15.0,
    );
    assert_eq!(p(50.0, h(100, vec![100], vec![], None, None)), None);
    // A first bucket below 0: its bound, or from the min.
    assert_near(p(50.0, h(100, vec![100, 0], vec![-5.0], None, None)), -5.0);
    assert_near(
        p(50.0, h(100, vec![100, 0], vec![-5.0], Some(-10.0), None)),
        -7.5,
    );
    // No observations or no buckets: no point, so no metric.
    assert_eq!(p(50.0, h(0, vec![0, 0], vec![1.0], None, None)), None);
    assert_eq!(p(50.0, h(10, vec![], vec![], None, None)), None);
}

#[test]
fn extract_percentile_metric_names_the_gauge_and_copies_the_point() {
    let mut metrics = vec![percentile_histogram(
        1000,
        vec![100, 400, 400, 95, 5],
        vec![0.1, 0.5, 1.0, 5.0],
        None,
        None,
    )];
    run(
        &[r#"extract_percentile_metric(99.5, "_percentile_995")"#],
        &mut metrics,
    )
    .unwrap();
    let added = &metrics[1];
    assert_eq!(added.name, "latency_percentile_995");
    assert_eq!(added.description, "latency description (p99.5)");
    assert_eq!(added.unit, "s");
    let Some(Data::Gauge(g)) = &added.data else {
        panic!("{added:?}")
    };
    let p = &g.data_points[0];
    assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (START, TIME));
    assert_eq!(p.attributes, vec![kv_str("attr1", "a")]);
    assert_eq!(p.value, Some(NV::AsDouble(5.0)));

    let mut metrics = vec![percentile_histogram(
        100,
        vec![60, 40],
        vec![1.0],
        None,
        None,
    )];
    run(&["extract_percentile_metric(50.0)"], &mut metrics).unwrap();
    assert_eq!(metrics[1].name, "latency_p50");
    // Other types are left alone.
    let mut metrics = vec![gauge("g", vec![number(vec![], NV::AsDouble(42.0))])];
    run(&["extract_percentile_metric(50.0)"], &mut metrics).unwrap();
    assert_eq!(metrics.len(), 1);
}

#[test]
fn extract_percentile_metric_interpolates_exponential_buckets() {
    let p = |pct: f64, m| percentile_of(&format!("extract_percentile_metric({pct:?})"), m);
    let e = percentile_exponential;
    assert_near(
        p(50.0, e(0, vec![], (0, 0.0), vec![30, 40, 30])),
        2.828_427_124_746_19,
    );
    let counts = vec![20, 30, 40, 50, 30, 35, 5];
    assert_near(
        p(95.0, e(2, vec![], (0, 0.0), counts)),
        2.759_268_240_690_809_6,
    );
    assert_near(
        p(99.0, e(-1, vec![], (0, 0.0), vec![100, 200, 150, 40, 10])),
        512.0,
    );
    assert_near(
        p(75.0, e(1, vec![], (20, 0.0), vec![40, 60])),
        1.681_792_830_507_429_2,
    );
    assert_near(
        p(50.0, e(2, vec![20, 30, 20], (10, 0.0), vec![15])),
        -1.203_025_036_082_116_6,
    );
    assert_near(
        p(25.0, e(0, vec![15, 35, 20, 10], (5, 0.0), vec![15])),
        -4.756_828,
    );
    assert_near(
        p(99.0, e(1, vec![], (0, 0.0), vec![100, 80, 20])),
        2.732_080_513_508_790_4,
    );
    // The zero bucket spans the threshold, from 0 or to 0 when one side has no buckets.
    assert_near(p(50.0, e(0, vec![10], (80, 1.0), vec![10])), 0.0);
    assert_near(p(60.0, e(0, vec![], (80, 1.0), vec![20])), 0.75);
    assert_near(p(30.0, e(0, vec![20], (80, 1.0), vec![])), -0.875);
    assert_eq!(p(50.0, e(0, vec![], (0, 0.0), vec![])), None);
}

#[test]
fn extract_percentile_metric_refuses_bad_percentiles_and_malformed_points() {
    assert!(compile_error("extract_percentile_metric(-1.0)")
        .contains("percentile must be greater than 0 and less than 100, got -1.000000"));
    assert!(compile_error("extract_percentile_metric(101.0)")
        .contains("percentile must be greater than 0 and less than 100, got 101.000000"));
    assert!(compile_error("extract_percentile_metric(50)").contains("percentile must be a float"));

    let run_err = |m| run(&["extract_percentile_metric(50.0)"], &mut vec![m]).unwrap_err();
    let e = run_err(percentile_histogram(
        10,
        vec![5, 5],
        vec![1.0, 2.0],
        None,
        None,
    ));
    assert!(e.contains("calculating histogram percentile: malformed data: bucketCounts length (2) != explicitBounds length (2) + 1"), "{e}");
    let e = run_err(percentile_histogram(100, vec![5, 5], vec![1.0], None, None));
    assert!(e.contains("calculating histogram percentile: malformed data: cumulative count doesn't reach target count corresponding to percentile. targetCount=50, total count=10"), "{e}");
    let mut m = percentile_exponential(0, vec![], (0, 0.0), vec![5, 5]);
    if let Some(Data::ExponentialHistogram(h)) = &mut m.data {
        h.data_points[0].count = 100;
    }
    let e = run_err(m);
    assert!(e.contains("calculating exponential histogram percentile: malformed data: cumulative count doesn't reach target count corresponding to percentile. targetCount=50, total count=10"), "{e}");
}
