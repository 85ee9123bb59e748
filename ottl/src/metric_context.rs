//! The `metric` and `datapoint` contexts (otelcol's ottlmetric and ottldatapoint). A metric's
//! paths are its `name`, `description`, `unit`, `type`, `aggregation_temporality`,
//! `is_monotonic` and `metadata`; a data point's are its own (`attributes`, times, values,
//! histogram and summary fields) and its metric's as `metric.*`. Both read `resource.*` and
//! `instrumentation_scope.*` (also `scope.*`), and a path may start with the context's name.
//! A field a kind of metric or point does not have reads as nil (`is_monotonic` of a gauge,
//! `count` of a number point). Enums: `METRIC_DATA_TYPE_*`, `AGGREGATION_TEMPORALITY_*`, and
//! for data points `FLAG_*`.
//!
//! ```yaml
//! connectors:
//!   count:
//!     metrics:
//!       sum.count:
//!         conditions: ['type == METRIC_DATA_TYPE_SUM and is_monotonic == true']
//!     datapoints:
//!       slow.point.count:
//!         conditions:
//!           - 'metric.name == "http.server.duration" and sum / count > 0.5'
//!           - 'flags == FLAG_NO_RECORDED_VALUE'
//! ```

use crate::ast::{self, Key};
use crate::compile::Context;
use crate::contexts::{attrs, invalid, last_keys, names, strip_context};
use crate::error::EvalError;
use crate::parents::{get_parent, parent_path, ParentPath};
use crate::value::Value;
use ferrotel_core::proto::common::v1::KeyValueList;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::exponential_histogram_data_point::Buckets;
use ferrotel_core::proto::metrics::v1::{
    metric::Data, number_data_point, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, SummaryDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use std::borrow::Cow;

/// A metric with its scope and resource.
#[derive(Debug, Clone, Copy)]
pub struct MetricItem<'a> {
    pub metric: &'a Metric,
    /// The statements' temporary map (otelcol's `cache`), empty for conditions.
    pub cache: &'a [KeyValue],
    pub scope: Option<&'a InstrumentationScope>,
    pub resource: Option<&'a Resource>,
}

/// One data point of any kind.
#[derive(Debug, Clone, Copy)]
pub enum DataPointRef<'a> {
    Number(&'a NumberDataPoint),
    Histogram(&'a HistogramDataPoint),
    ExponentialHistogram(&'a ExponentialHistogramDataPoint),
    Summary(&'a SummaryDataPoint),
}

/// A data point with its metric, scope and resource.
#[derive(Debug, Clone, Copy)]
pub struct DataPointItem<'a> {
    pub point: DataPointRef<'a>,
    /// The statements' temporary map (otelcol's `cache`), empty for conditions.
    pub cache: &'a [KeyValue],
    pub metric: MetricItem<'a>,
}

/// Paths of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricPath {
    Name,
    Description,
    Unit,
    Type,
    AggregationTemporality,
    IsMonotonic,
    Metadata,
    Parent(ParentPath),
    /// `cache`: the statements' temporary map.
    Cache,
}

/// Paths of a data point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPointPath {
    /// `cache`: the statements' temporary map.
    Cache,
    Attributes,
    StartTimeUnixNano,
    TimeUnixNano,
    StartTime,
    Time,
    ValueDouble,
    ValueInt,
    Flags,
    Count,
    Sum,
    BucketCounts,
    ExplicitBounds,
    Scale,
    ZeroCount,
    /// `positive` / `negative`: a map of `offset` and `bucket_counts`.
    Buckets(Sign),
    BucketsOffset(Sign),
    BucketsCounts(Sign),
    QuantileValues,
    Metric(MetricPath),
}

/// Which buckets of an exponential histogram point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Positive,
    Negative,
}

fn metric_own_path(fields: &[ast::Field]) -> Option<MetricPath> {
    use MetricPath::*;
    Some(match names(fields) {
        ("name", None, None) => Name,
        ("description", None, None) => Description,
        ("unit", None, None) => Unit,
        ("type", None, None) => Type,
        ("aggregation_temporality", None, None) => AggregationTemporality,
        ("is_monotonic", None, None) => IsMonotonic,
        ("metadata", None, None) => Metadata,
        _ => return None,
    })
}

fn metric_path(fields: &[ast::Field]) -> Option<MetricPath> {
    if names(fields) == ("cache", None, None) {
        return Some(MetricPath::Cache);
    }
    metric_own_path(fields).or_else(|| parent_path(fields).map(MetricPath::Parent))
}

fn sign(name: &str) -> Option<Sign> {
    match name {
        "positive" => Some(Sign::Positive),
        "negative" => Some(Sign::Negative),
        _ => None,
    }
}

fn point_own_path(fields: &[ast::Field]) -> Option<DataPointPath> {
    use DataPointPath::*;
    Some(match names(fields) {
        ("cache", None, None) => Cache,
        ("attributes", None, None) => Attributes,
        ("start_time_unix_nano", None, None) => StartTimeUnixNano,
        ("time_unix_nano", None, None) => TimeUnixNano,
        ("start_time", None, None) => StartTime,
        ("time", None, None) => Time,
        ("value_double", None, None) => ValueDouble,
        ("value_int", None, None) => ValueInt,
        ("flags", None, None) => Flags,
        ("count", None, None) => Count,
        ("sum", None, None) => Sum,
        ("bucket_counts", None, None) => BucketCounts,
        ("explicit_bounds", None, None) => ExplicitBounds,
        ("scale", None, None) => Scale,
        ("zero_count", None, None) => ZeroCount,
        ("quantile_values", None, None) => QuantileValues,
        (s, None, None) => Buckets(sign(s)?),
        (s, Some("offset"), None) => BucketsOffset(sign(s)?),
        (s, Some("bucket_counts"), None) => BucketsCounts(sign(s)?),
        _ => return None,
    })
}

fn point_path(fields: &[ast::Field]) -> Option<DataPointPath> {
    if let Some(p) = point_own_path(fields) {
        return Some(p);
    }
    match fields {
        [first, rest @ ..]
            if first.name == "metric" && !rest.is_empty() && first.keys.is_empty() =>
        {
            metric_own_path(rest).map(DataPointPath::Metric)
        }
        _ => parent_path(fields).map(|p| DataPointPath::Metric(MetricPath::Parent(p))),
    }
}

/// The `metric` context.
#[derive(Debug)]
pub struct MetricContext;

impl Context for MetricContext {
    crate::lambda_host!();

    const NAME: &'static str = "metric";
    type Item<'a> = MetricItem<'a>;
    type Path = MetricPath;

    fn path(path: &ast::Path) -> Result<(MetricPath, Vec<Key>), String> {
        let fields = strip_context(&path.fields, "metric");
        let p = metric_path(fields).ok_or_else(|| invalid(path, Self::NAME))?;
        Ok((p, last_keys(path, fields, Self::NAME)?))
    }

    fn get<'a>(path: &'a MetricPath, item: MetricItem<'a>) -> Result<Value<'a>, EvalError> {
        Ok(get_metric(*path, item))
    }

    fn enum_value(name: &str) -> Option<i64> {
        metric_enum(name)
    }

    const OWN_CONVERTERS: &'static [&'static str] = crate::context_funcs::METRIC;

    fn own_converter(
        name: &str,
        args: Vec<crate::compile::CompiledArg<Self>>,
    ) -> Result<Box<dyn crate::compile::Function<Self>>, String> {
        crate::context_funcs::metric(name, args)
    }
}

/// The `datapoint` context.
#[derive(Debug)]
pub struct DataPointContext;

impl Context for DataPointContext {
    crate::lambda_host!();

    const NAME: &'static str = "datapoint";
    type Item<'a> = DataPointItem<'a>;
    type Path = DataPointPath;

    fn path(path: &ast::Path) -> Result<(DataPointPath, Vec<Key>), String> {
        let fields = strip_context(&path.fields, "datapoint");
        let p = point_path(fields).ok_or_else(|| invalid(path, Self::NAME))?;
        Ok((p, last_keys(path, fields, Self::NAME)?))
    }

    fn get<'a>(path: &'a DataPointPath, item: DataPointItem<'a>) -> Result<Value<'a>, EvalError> {
        Ok(get_point(*path, item))
    }

    fn enum_value(name: &str) -> Option<i64> {
        datapoint_enum(name)
    }
}

/// otelcol's metric enums: `METRIC_DATA_TYPE_*` and `AGGREGATION_TEMPORALITY_*`.
pub fn metric_enum(name: &str) -> Option<i64> {
    Some(match name {
        "METRIC_DATA_TYPE_NONE" => 0,
        "METRIC_DATA_TYPE_GAUGE" => 1,
        "METRIC_DATA_TYPE_SUM" => 2,
        "METRIC_DATA_TYPE_HISTOGRAM" => 3,
        "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM" => 4,
        "METRIC_DATA_TYPE_SUMMARY" => 5,
        "AGGREGATION_TEMPORALITY_UNSPECIFIED" => 0,
        "AGGREGATION_TEMPORALITY_DELTA" => 1,
        "AGGREGATION_TEMPORALITY_CUMULATIVE" => 2,
        _ => return None,
    })
}

/// The data point enums: the metric's and `FLAG_*`.
pub fn datapoint_enum(name: &str) -> Option<i64> {
    match name {
        "FLAG_NONE" => Some(0),
        "FLAG_NO_RECORDED_VALUE" => Some(1),
        _ => metric_enum(name),
    }
}

/// pdata's metric type number (0 for a metric without data).
pub fn metric_type(m: &Metric) -> i64 {
    match &m.data {
        None => 0,
        Some(Data::Gauge(_)) => 1,
        Some(Data::Sum(_)) => 2,
        Some(Data::Histogram(_)) => 3,
        Some(Data::ExponentialHistogram(_)) => 4,
        Some(Data::Summary(_)) => 5,
    }
}

fn get_metric(path: MetricPath, item: MetricItem<'_>) -> Value<'_> {
    let m = item.metric;
    match path {
        MetricPath::Cache => Value::Map(Cow::Borrowed(item.cache)),
        MetricPath::Name => Value::Str(Cow::Borrowed(&m.name)),
        MetricPath::Description => Value::Str(Cow::Borrowed(&m.description)),
        MetricPath::Unit => Value::Str(Cow::Borrowed(&m.unit)),
        MetricPath::Type => Value::Int(metric_type(m)),
        MetricPath::AggregationTemporality => match &m.data {
            Some(Data::Sum(s)) => Value::Int(i64::from(s.aggregation_temporality)),
            Some(Data::Histogram(h)) => Value::Int(i64::from(h.aggregation_temporality)),
            Some(Data::ExponentialHistogram(h)) => Value::Int(i64::from(h.aggregation_temporality)),
            _ => Value::Nil,
        },
        MetricPath::IsMonotonic => match &m.data {
            Some(Data::Sum(s)) => Value::Bool(s.is_monotonic),
            _ => Value::Nil,
        },
        MetricPath::Metadata => attrs(&m.metadata),
        MetricPath::Parent(p) => get_parent(p, item.scope, item.resource),
    }
}

/// The fields every kind of point has: attributes, start time, time, flags.
fn common(p: DataPointRef<'_>) -> (&[KeyValue], u64, u64, u32) {
    match p {
        DataPointRef::Number(d) => (
            &d.attributes,
            d.start_time_unix_nano,
            d.time_unix_nano,
            d.flags,
        ),
        DataPointRef::Histogram(d) => (
            &d.attributes,
            d.start_time_unix_nano,
            d.time_unix_nano,
            d.flags,
        ),
        DataPointRef::ExponentialHistogram(d) => (
            &d.attributes,
            d.start_time_unix_nano,
            d.time_unix_nano,
            d.flags,
        ),
        DataPointRef::Summary(d) => (
            &d.attributes,
            d.start_time_unix_nano,
            d.time_unix_nano,
            d.flags,
        ),
    }
}

fn any(v: any_value::Value) -> AnyValue {
    AnyValue { value: Some(v) }
}

fn counts_list(counts: &[u64]) -> Value<'static> {
    let items = counts
        .iter()
        .map(|c| any(any_value::Value::IntValue(*c as i64)));
    Value::List(Cow::Owned(items.collect()))
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(any(v)),
        ..Default::default()
    }
}

fn buckets(p: DataPointRef<'_>, s: Sign) -> Option<&Buckets> {
    match p {
        DataPointRef::ExponentialHistogram(d) => Some(match s {
            Sign::Positive => d.positive.as_ref()?,
            Sign::Negative => d.negative.as_ref()?,
        }),
        _ => None,
    }
}

fn buckets_map(b: Option<&Buckets>) -> Value<'static> {
    let (offset, counts) = b.map_or((0, &[][..]), |b| (b.offset, &b.bucket_counts[..]));
    let list = counts
        .iter()
        .map(|c| any(any_value::Value::IntValue(*c as i64)));
    Value::Map(Cow::Owned(vec![
        kv("offset", any_value::Value::IntValue(i64::from(offset))),
        kv(
            "bucket_counts",
            any_value::Value::ArrayValue(ferrotel_core::proto::common::v1::ArrayValue {
                values: list.collect(),
            }),
        ),
    ]))
}

/// Reads the exponential-histogram bucket paths (nil on other kinds of point).
fn get_buckets(path: DataPointPath, p: DataPointRef<'_>) -> Value<'static> {
    let is_exp = matches!(p, DataPointRef::ExponentialHistogram(_));
    match path {
        _ if !is_exp => Value::Nil,
        DataPointPath::Buckets(s) => buckets_map(buckets(p, s)),
        DataPointPath::BucketsOffset(s) => {
            Value::Int(buckets(p, s).map_or(0, |b| i64::from(b.offset)))
        }
        DataPointPath::BucketsCounts(s) => {
            counts_list(buckets(p, s).map_or(&[], |b| &b.bucket_counts))
        }
        _ => Value::Nil,
    }
}

fn quantiles(d: &SummaryDataPoint) -> Value<'static> {
    let items = d.quantile_values.iter().map(|q| {
        any(any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                kv("quantile", any_value::Value::DoubleValue(q.quantile)),
                kv("value", any_value::Value::DoubleValue(q.value)),
            ],
        }))
    });
    Value::List(Cow::Owned(items.collect()))
}

/// Reads the value, count and sum paths (nil where the kind of point has none).
fn get_values(path: DataPointPath, p: DataPointRef<'_>) -> Value<'static> {
    use DataPointPath::*;
    use DataPointRef as P;
    match (path, p) {
        (ValueDouble, P::Number(d)) => Value::Float(match d.value {
            Some(number_data_point::Value::AsDouble(f)) => f,
            _ => 0.0,
        }),
        (ValueInt, P::Number(d)) => Value::Int(match d.value {
            Some(number_data_point::Value::AsInt(i)) => i,
            _ => 0,
        }),
        (Count, P::Histogram(d)) => Value::Int(d.count as i64),
        (Count, P::ExponentialHistogram(d)) => Value::Int(d.count as i64),
        (Count, P::Summary(d)) => Value::Int(d.count as i64),
        (Sum, P::Histogram(d)) => Value::Float(d.sum.unwrap_or(0.0)),
        (Sum, P::ExponentialHistogram(d)) => Value::Float(d.sum.unwrap_or(0.0)),
        (Sum, P::Summary(d)) => Value::Float(d.sum),
        (BucketCounts, P::Histogram(d)) => counts_list(&d.bucket_counts),
        (ExplicitBounds, P::Histogram(d)) => {
            let items = d
                .explicit_bounds
                .iter()
                .map(|b| any(any_value::Value::DoubleValue(*b)));
            Value::List(Cow::Owned(items.collect()))
        }
        (Scale, P::ExponentialHistogram(d)) => Value::Int(i64::from(d.scale)),
        (ZeroCount, P::ExponentialHistogram(d)) => Value::Int(d.zero_count as i64),
        (QuantileValues, P::Summary(d)) => quantiles(d),
        _ => Value::Nil,
    }
}

fn get_point(path: DataPointPath, item: DataPointItem<'_>) -> Value<'_> {
    use DataPointPath::*;
    let (attributes, start, time, flags) = common(item.point);
    match path {
        Cache => Value::Map(Cow::Borrowed(item.cache)),
        Attributes => attrs(attributes),
        StartTimeUnixNano => Value::Int(start as i64),
        TimeUnixNano => Value::Int(time as i64),
        StartTime => Value::Time(start as i64),
        Time => Value::Time(time as i64),
        Flags => Value::Int(i64::from(flags)),
        Buckets(_) | BucketsOffset(_) | BucketsCounts(_) => get_buckets(path, item.point),
        Metric(p) => get_metric(p, item.metric),
        _ => get_values(path, item.point),
    }
}
