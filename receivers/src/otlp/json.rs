//! OTLP/JSON decoding, as the OTLP specification and otelcol's pdata codec read it: trace and
//! span ids as hex strings, 64-bit integers as decimal strings or numbers, enums as numbers or
//! names (`SPAN_KIND_SERVER`), `bytesValue` in base64, field names in lowerCamelCase or
//! snake_case, unknown fields ignored, `null` as absent.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       http: {}   # POST /v1/traces with Content-Type: application/json
//! ```
//!
//! opentelemetry-proto's `with-serde` derive is not used: it knows only camelCase names (no
//! snake_case aliases) and reads enums only as numbers; see
//! `tests::with_serde_ignores_snake_case`.

use base64::Engine as _;
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::{
    any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use ferrotel_core::proto::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{
    span::{Event, Link, SpanKind},
    status::StatusCode,
    ResourceSpans, ScopeSpans, Span, Status,
};
use ferrotel_core::{Data, Signal};
use serde_json::Value;
use std::fmt;

/// Why a JSON body was refused, with the path of the offending field
/// (`resourceSpans[0].scopeSpans[0].spans[0].traceId`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct JsonError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl JsonError {
    fn new(message: impl Into<String>) -> Self {
        JsonError {
            path: String::new(),
            message: message.into(),
        }
    }

    fn at_field(mut self, name: &str) -> Self {
        self.path = match self.path.chars().next() {
            None => name.to_string(),
            Some('[') => format!("{name}{}", self.path),
            Some(_) => format!("{name}.{}", self.path),
        };
        self
    }

    fn at_index(mut self, i: usize) -> Self {
        self.path = match self.path.chars().next() {
            None => format!("[{i}]"),
            Some('[') => format!("[{i}]{}", self.path),
            Some(_) => format!("[{i}].{}", self.path),
        };
        self
    }
}

type R<T> = Result<T, JsonError>;

/// Decodes an OTLP/JSON export request of `signal`.
pub fn decode(signal: Signal, body: &[u8]) -> R<Data> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| JsonError::new(format!("invalid JSON: {e}")))?;
    Ok(match signal {
        Signal::Traces => Data::Traces(traces_request(&v)?),
        Signal::Metrics => Data::Metrics(metrics_request(&v)?),
        Signal::Logs => Data::Logs(logs_request(&v)?),
        // opentelemetry-proto's serde derive (camelCase names, ids in hex): profiles are in
        // development and their JSON form with them.
        Signal::Profiles => {
            Data::Profiles(serde_json::from_value(v).map_err(|e| JsonError::new(e.to_string()))?)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Building blocks

/// Calls `f` with each non-null field of an object; errors get the field's name.
fn fields(v: &Value, mut f: impl FnMut(&str, &Value) -> R<()>) -> R<()> {
    let obj = v
        .as_object()
        .ok_or_else(|| JsonError::new("expected an object"))?;
    for (k, v) in obj {
        if !v.is_null() {
            f(k, v).map_err(|e| e.at_field(k))?;
        }
    }
    Ok(())
}

fn list<T>(v: &Value, f: impl Fn(&Value) -> R<T>) -> R<Vec<T>> {
    let a = v
        .as_array()
        .ok_or_else(|| JsonError::new("expected an array"))?;
    a.iter()
        .enumerate()
        .map(|(i, v)| f(v).map_err(|e| e.at_index(i)))
        .collect()
}

fn string(v: &Value) -> R<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| JsonError::new("expected a string"))
}

fn boolean(v: &Value) -> R<bool> {
    v.as_bool()
        .ok_or_else(|| JsonError::new("expected a boolean"))
}

/// An integer written as a number or a decimal string, as protojson accepts them.
fn integer<T: TryFrom<i128>>(v: &Value) -> R<T> {
    let n: Option<i128> = match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1.9e19)
                    .map(|f| f as i128)
            }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.and_then(|n| T::try_from(n).ok()).ok_or_else(|| {
        JsonError::new(format!(
            "expected an integer of type {}, got {v}",
            std::any::type_name::<T>()
        ))
    })
}

fn u64_(v: &Value) -> R<u64> {
    integer(v)
}
fn i64_(v: &Value) -> R<i64> {
    integer(v)
}
fn u32_(v: &Value) -> R<u32> {
    integer(v)
}
fn i32_(v: &Value) -> R<i32> {
    integer(v)
}

fn f64_(v: &Value) -> R<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s => s.trim().parse().ok(),
        },
        _ => None,
    }
    .ok_or_else(|| JsonError::new(format!("expected a number, got {v}")))
}

/// An enum as its number or its name.
fn enumeration<E: Into<i32>>(v: &Value, from_name: fn(&str) -> Option<E>) -> R<i32> {
    match v {
        Value::String(s) => from_name(s)
            .map(Into::into)
            .or_else(|| s.parse().ok())
            .ok_or_else(|| JsonError::new(format!("unknown enum value {s:?}"))),
        _ => i32_(v),
    }
}

/// Protobuf `bytes`: base64, standard or URL-safe, padded or not.
fn bytes(v: &Value) -> R<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = v
        .as_str()
        .ok_or_else(|| JsonError::new("expected a base64 string"))?;
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
        .ok_or_else(|| JsonError::new("invalid base64"))
}

/// A trace (16 bytes) or span (8 bytes) id in hex; empty means unset.
fn id(v: &Value, len: usize) -> R<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| JsonError::new("expected a hex string"))?;
    if s.is_empty() {
        return Ok(vec![]);
    }
    match hex::decode(s) {
        Ok(b) if b.len() == len => Ok(b),
        _ => Err(JsonError::new(format!(
            "invalid id {s:?}: expected {} hex digits",
            len * 2
        ))),
    }
}

fn trace_id(v: &Value) -> R<Vec<u8>> {
    id(v, 16)
}
fn span_id(v: &Value) -> R<Vec<u8>> {
    id(v, 8)
}

// ---------------------------------------------------------------------------------------------
// Common messages

fn any_value(v: &Value) -> R<AnyValue> {
    use any_value::Value as V;
    let mut out = AnyValue::default();
    fields(v, |k, v| {
        out.value = Some(match k {
            "stringValue" | "string_value" => V::StringValue(string(v)?),
            "boolValue" | "bool_value" => V::BoolValue(boolean(v)?),
            "intValue" | "int_value" => V::IntValue(i64_(v)?),
            "doubleValue" | "double_value" => V::DoubleValue(f64_(v)?),
            "bytesValue" | "bytes_value" => V::BytesValue(bytes(v)?),
            "arrayValue" | "array_value" => V::ArrayValue(ArrayValue {
                values: values(v, any_value)?,
            }),
            "kvlistValue" | "kvlist_value" => V::KvlistValue(KeyValueList {
                values: values(v, key_value)?,
            }),
            _ => return Ok(()),
        });
        Ok(())
    })?;
    Ok(out)
}

/// The `values` list of an `arrayValue` or `kvlistValue`.
fn values<T>(v: &Value, f: fn(&Value) -> R<T>) -> R<Vec<T>> {
    let mut out = vec![];
    fields(v, |k, v| {
        if k == "values" {
            out = list(v, f)?;
        }
        Ok(())
    })?;
    Ok(out)
}

fn key_value(v: &Value) -> R<KeyValue> {
    let mut out = KeyValue::default();
    fields(v, |k, v| {
        match k {
            "key" => out.key = string(v)?,
            "value" => out.value = Some(any_value(v)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

fn attributes(v: &Value) -> R<Vec<KeyValue>> {
    list(v, key_value)
}

fn entity_ref(v: &Value) -> R<EntityRef> {
    let mut out = EntityRef::default();
    fields(v, |k, v| {
        match k {
            "schemaUrl" | "schema_url" => out.schema_url = string(v)?,
            "type" => out.r#type = string(v)?,
            "idKeys" | "id_keys" => out.id_keys = list(v, string)?,
            "descriptionKeys" | "description_keys" => out.description_keys = list(v, string)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

fn resource(v: &Value) -> R<Resource> {
    let mut out = Resource::default();
    fields(v, |k, v| {
        match k {
            "attributes" => out.attributes = attributes(v)?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                out.dropped_attributes_count = u32_(v)?
            }
            "entityRefs" | "entity_refs" => out.entity_refs = list(v, entity_ref)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

fn scope(v: &Value) -> R<InstrumentationScope> {
    let mut out = InstrumentationScope::default();
    fields(v, |k, v| {
        match k {
            "name" => out.name = string(v)?,
            "version" => out.version = string(v)?,
            "attributes" => out.attributes = attributes(v)?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                out.dropped_attributes_count = u32_(v)?
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// The envelope shared by every signal: `{resourceX: [{resource, scopeX: [{scope, items,
/// schemaUrl}], schemaUrl}]}`. `item` handles the fields of the innermost level it knows.
struct Levels {
    resource_key: [&'static str; 2],
    scope_key: [&'static str; 2],
    items_key: [&'static str; 2],
}

const TRACES: Levels = Levels {
    resource_key: ["resourceSpans", "resource_spans"],
    scope_key: ["scopeSpans", "scope_spans"],
    items_key: ["spans", "spans"],
};
const METRICS: Levels = Levels {
    resource_key: ["resourceMetrics", "resource_metrics"],
    scope_key: ["scopeMetrics", "scope_metrics"],
    items_key: ["metrics", "metrics"],
};
const LOGS: Levels = Levels {
    resource_key: ["resourceLogs", "resource_logs"],
    scope_key: ["scopeLogs", "scope_logs"],
    items_key: ["logRecords", "log_records"],
};

/// One resource or scope entry: its own message (`resource`/`scope`), its children and
/// `schemaUrl`.
fn level<M: Default, C>(
    v: &Value,
    own_key: &str,
    own: fn(&Value) -> R<M>,
    children_key: [&str; 2],
    child: impl Fn(&Value) -> R<C>,
) -> R<(Option<M>, Vec<C>, String)> {
    let (mut m, mut children, mut schema_url) = (None, vec![], String::new());
    fields(v, |k, v| {
        if k == own_key {
            m = Some(own(v)?);
        } else if children_key.contains(&k) {
            children = list(v, &child)?;
        } else if k == "schemaUrl" || k == "schema_url" {
            schema_url = string(v)?;
        }
        Ok(())
    })?;
    Ok((m, children, schema_url))
}

fn top<T>(v: &Value, key: [&str; 2], f: impl Fn(&Value) -> R<T>) -> R<Vec<T>> {
    let mut out = vec![];
    fields(v, |k, v| {
        if key.contains(&k) {
            out = list(v, &f)?;
        }
        Ok(())
    })?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Traces

fn traces_request(v: &Value) -> R<ExportTraceServiceRequest> {
    let resource_spans = top(v, TRACES.resource_key, |v| {
        let (resource, scope_spans, schema_url) =
            level(v, "resource", resource, TRACES.scope_key, |v| {
                let (scope, spans, schema_url) = level(v, "scope", scope, TRACES.items_key, span)?;
                Ok(ScopeSpans {
                    scope,
                    spans,
                    schema_url,
                })
            })?;
        Ok(ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        })
    })?;
    Ok(ExportTraceServiceRequest { resource_spans })
}

fn span(v: &Value) -> R<Span> {
    let mut s = Span::default();
    fields(v, |k, v| {
        match k {
            "traceId" | "trace_id" => s.trace_id = trace_id(v)?,
            "spanId" | "span_id" => s.span_id = span_id(v)?,
            "traceState" | "trace_state" => s.trace_state = string(v)?,
            "parentSpanId" | "parent_span_id" => s.parent_span_id = span_id(v)?,
            "flags" => s.flags = u32_(v)?,
            "name" => s.name = string(v)?,
            "kind" => s.kind = enumeration(v, SpanKind::from_str_name)?,
            "startTimeUnixNano" | "start_time_unix_nano" => s.start_time_unix_nano = u64_(v)?,
            "endTimeUnixNano" | "end_time_unix_nano" => s.end_time_unix_nano = u64_(v)?,
            "attributes" => s.attributes = attributes(v)?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                s.dropped_attributes_count = u32_(v)?
            }
            "events" => s.events = list(v, event)?,
            "droppedEventsCount" | "dropped_events_count" => s.dropped_events_count = u32_(v)?,
            "links" => s.links = list(v, link)?,
            "droppedLinksCount" | "dropped_links_count" => s.dropped_links_count = u32_(v)?,
            "status" => s.status = Some(status(v)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

fn event(v: &Value) -> R<Event> {
    let mut e = Event::default();
    fields(v, |k, v| {
        match k {
            "timeUnixNano" | "time_unix_nano" => e.time_unix_nano = u64_(v)?,
            "name" => e.name = string(v)?,
            "attributes" => e.attributes = attributes(v)?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                e.dropped_attributes_count = u32_(v)?
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(e)
}

fn link(v: &Value) -> R<Link> {
    let mut l = Link::default();
    fields(v, |k, v| {
        match k {
            "traceId" | "trace_id" => l.trace_id = trace_id(v)?,
            "spanId" | "span_id" => l.span_id = span_id(v)?,
            "traceState" | "trace_state" => l.trace_state = string(v)?,
            "attributes" => l.attributes = attributes(v)?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                l.dropped_attributes_count = u32_(v)?
            }
            "flags" => l.flags = u32_(v)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(l)
}

fn status(v: &Value) -> R<Status> {
    let mut s = Status::default();
    fields(v, |k, v| {
        match k {
            "message" => s.message = string(v)?,
            "code" => s.code = enumeration(v, StatusCode::from_str_name)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Metrics

fn metrics_request(v: &Value) -> R<ExportMetricsServiceRequest> {
    let resource_metrics = top(v, METRICS.resource_key, |v| {
        let (resource, scope_metrics, schema_url) =
            level(v, "resource", resource, METRICS.scope_key, |v| {
                let (scope, metrics, schema_url) =
                    level(v, "scope", scope, METRICS.items_key, metric)?;
                Ok(ScopeMetrics {
                    scope,
                    metrics,
                    schema_url,
                })
            })?;
        Ok(ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
        })
    })?;
    Ok(ExportMetricsServiceRequest { resource_metrics })
}

fn metric(v: &Value) -> R<Metric> {
    let mut m = Metric::default();
    fields(v, |k, v| {
        match k {
            "name" => m.name = string(v)?,
            "description" => m.description = string(v)?,
            "unit" => m.unit = string(v)?,
            "metadata" => m.metadata = attributes(v)?,
            "gauge" => m.data = Some(metric::Data::Gauge(gauge(v)?)),
            "sum" => m.data = Some(metric::Data::Sum(sum(v)?)),
            "histogram" => m.data = Some(metric::Data::Histogram(histogram(v)?)),
            "exponentialHistogram" | "exponential_histogram" => {
                m.data = Some(metric::Data::ExponentialHistogram(exp_histogram(v)?))
            }
            "summary" => m.data = Some(metric::Data::Summary(summary(v)?)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(m)
}

/// The fields every metric data kind has: `dataPoints`, `aggregationTemporality`,
/// `isMonotonic` (the caller keeps what its kind has).
fn metric_data<P>(v: &Value, point: fn(&Value) -> R<P>) -> R<(Vec<P>, i32, bool)> {
    let (mut points, mut temporality, mut monotonic) = (vec![], 0, false);
    fields(v, |k, v| {
        match k {
            "dataPoints" | "data_points" => points = list(v, point)?,
            "aggregationTemporality" | "aggregation_temporality" => {
                temporality = enumeration(v, AggregationTemporality::from_str_name)?
            }
            "isMonotonic" | "is_monotonic" => monotonic = boolean(v)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok((points, temporality, monotonic))
}

fn gauge(v: &Value) -> R<Gauge> {
    let (data_points, _, _) = metric_data(v, number_point)?;
    Ok(Gauge { data_points })
}

fn sum(v: &Value) -> R<Sum> {
    let (data_points, aggregation_temporality, is_monotonic) = metric_data(v, number_point)?;
    Ok(Sum {
        data_points,
        aggregation_temporality,
        is_monotonic,
    })
}

fn histogram(v: &Value) -> R<Histogram> {
    let (data_points, aggregation_temporality, _) = metric_data(v, histogram_point)?;
    Ok(Histogram {
        data_points,
        aggregation_temporality,
    })
}

fn exp_histogram(v: &Value) -> R<ExponentialHistogram> {
    let (data_points, aggregation_temporality, _) = metric_data(v, exp_histogram_point)?;
    Ok(ExponentialHistogram {
        data_points,
        aggregation_temporality,
    })
}

fn summary(v: &Value) -> R<Summary> {
    let (data_points, _, _) = metric_data(v, summary_point)?;
    Ok(Summary { data_points })
}

/// Fields common to every data point; returns false for a key it does not know.
fn point_common(
    k: &str,
    v: &Value,
    attrs: &mut Vec<KeyValue>,
    start: &mut u64,
    time: &mut u64,
    flags: &mut u32,
) -> R<bool> {
    match k {
        "attributes" => *attrs = attributes(v)?,
        "startTimeUnixNano" | "start_time_unix_nano" => *start = u64_(v)?,
        "timeUnixNano" | "time_unix_nano" => *time = u64_(v)?,
        "flags" => *flags = u32_(v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn number_point(v: &Value) -> R<NumberDataPoint> {
    let mut p = NumberDataPoint::default();
    fields(v, |k, v| {
        let common = point_common(
            k,
            v,
            &mut p.attributes,
            &mut p.start_time_unix_nano,
            &mut p.time_unix_nano,
            &mut p.flags,
        )?;
        if !common {
            match k {
                "asDouble" | "as_double" => {
                    p.value = Some(number_data_point::Value::AsDouble(f64_(v)?))
                }
                "asInt" | "as_int" => p.value = Some(number_data_point::Value::AsInt(i64_(v)?)),
                "exemplars" => p.exemplars = list(v, exemplar)?,
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(p)
}

fn histogram_point(v: &Value) -> R<HistogramDataPoint> {
    let mut p = HistogramDataPoint::default();
    fields(v, |k, v| {
        let common = point_common(
            k,
            v,
            &mut p.attributes,
            &mut p.start_time_unix_nano,
            &mut p.time_unix_nano,
            &mut p.flags,
        )?;
        if !common {
            match k {
                "count" => p.count = u64_(v)?,
                "sum" => p.sum = Some(f64_(v)?),
                "bucketCounts" | "bucket_counts" => p.bucket_counts = list(v, u64_)?,
                "explicitBounds" | "explicit_bounds" => p.explicit_bounds = list(v, f64_)?,
                "exemplars" => p.exemplars = list(v, exemplar)?,
                "min" => p.min = Some(f64_(v)?),
                "max" => p.max = Some(f64_(v)?),
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(p)
}

fn buckets(v: &Value) -> R<Buckets> {
    let mut b = Buckets::default();
    fields(v, |k, v| {
        match k {
            "offset" => b.offset = i32_(v)?,
            "bucketCounts" | "bucket_counts" => b.bucket_counts = list(v, u64_)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(b)
}

fn exp_histogram_point(v: &Value) -> R<ExponentialHistogramDataPoint> {
    let mut p = ExponentialHistogramDataPoint::default();
    fields(v, |k, v| {
        let common = point_common(
            k,
            v,
            &mut p.attributes,
            &mut p.start_time_unix_nano,
            &mut p.time_unix_nano,
            &mut p.flags,
        )?;
        if !common {
            match k {
                "count" => p.count = u64_(v)?,
                "sum" => p.sum = Some(f64_(v)?),
                "scale" => p.scale = i32_(v)?,
                "zeroCount" | "zero_count" => p.zero_count = u64_(v)?,
                "positive" => p.positive = Some(buckets(v)?),
                "negative" => p.negative = Some(buckets(v)?),
                "exemplars" => p.exemplars = list(v, exemplar)?,
                "min" => p.min = Some(f64_(v)?),
                "max" => p.max = Some(f64_(v)?),
                "zeroThreshold" | "zero_threshold" => p.zero_threshold = f64_(v)?,
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(p)
}

fn summary_point(v: &Value) -> R<SummaryDataPoint> {
    let mut p = SummaryDataPoint::default();
    fields(v, |k, v| {
        let common = point_common(
            k,
            v,
            &mut p.attributes,
            &mut p.start_time_unix_nano,
            &mut p.time_unix_nano,
            &mut p.flags,
        )?;
        if !common {
            match k {
                "count" => p.count = u64_(v)?,
                "sum" => p.sum = f64_(v)?,
                "quantileValues" | "quantile_values" => p.quantile_values = list(v, quantile)?,
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(p)
}

fn quantile(v: &Value) -> R<ValueAtQuantile> {
    let mut q = ValueAtQuantile::default();
    fields(v, |k, v| {
        match k {
            "quantile" => q.quantile = f64_(v)?,
            "value" => q.value = f64_(v)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(q)
}

fn exemplar(v: &Value) -> R<Exemplar> {
    let mut e = Exemplar::default();
    fields(v, |k, v| {
        match k {
            "filteredAttributes" | "filtered_attributes" => e.filtered_attributes = attributes(v)?,
            "timeUnixNano" | "time_unix_nano" => e.time_unix_nano = u64_(v)?,
            "asDouble" | "as_double" => e.value = Some(exemplar::Value::AsDouble(f64_(v)?)),
            "asInt" | "as_int" => e.value = Some(exemplar::Value::AsInt(i64_(v)?)),
            "spanId" | "span_id" => e.span_id = span_id(v)?,
            "traceId" | "trace_id" => e.trace_id = trace_id(v)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(e)
}

// ---------------------------------------------------------------------------------------------
// Logs

fn logs_request(v: &Value) -> R<ExportLogsServiceRequest> {
    let resource_logs = top(v, LOGS.resource_key, |v| {
        let (resource, scope_logs, schema_url) =
            level(v, "resource", resource, LOGS.scope_key, |v| {
                let (scope, log_records, schema_url) =
                    level(v, "scope", scope, LOGS.items_key, log_record)?;
                Ok(ScopeLogs {
                    scope,
                    log_records,
                    schema_url,
                })
            })?;
        Ok(ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        })
    })?;
    Ok(ExportLogsServiceRequest { resource_logs })
}

fn log_record(v: &Value) -> R<LogRecord> {
    let mut l = LogRecord::default();
    fields(v, |k, v| {
        match k {
            "timeUnixNano" | "time_unix_nano" => l.time_unix_nano = u64_(v)?,
            "observedTimeUnixNano" | "observed_time_unix_nano" => {
                l.observed_time_unix_nano = u64_(v)?
            }
            "severityNumber" | "severity_number" => {
                l.severity_number = enumeration(v, SeverityNumber::from_str_name)?
            }
            "severityText" | "severity_text" => l.severity_text = string(v)?,
            "body" => l.body = Some(any_value(v)?),
            "attributes" => l.attributes = attributes(v)?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                l.dropped_attributes_count = u32_(v)?
            }
            "flags" => l.flags = u32_(v)?,
            "traceId" | "trace_id" => l.trace_id = trace_id(v)?,
            "spanId" | "span_id" => l.span_id = span_id(v)?,
            "eventName" | "event_name" => l.event_name = string(v)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(l)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn traces(json: &str) -> R<ExportTraceServiceRequest> {
        match decode(Signal::Traces, json.as_bytes())? {
            Data::Traces(t) => Ok(t),
            _ => unreachable!(),
        }
    }

    #[test]
    fn span_fields_round_trip() {
        let t = traces(
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}],"droppedAttributesCount":1},
                "schemaUrl":"https://s","scopeSpans":[{"scope":{"name":"lib","version":"1.0"},"spans":[{
                "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174","parentSpanId":"",
                "name":"op","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,
                "flags":257,"traceState":"a=b","unknownField":{"deep":[1,2]},
                "attributes":[{"key":"i","value":{"intValue":"-42"}},{"key":"i2","value":{"intValue":7}},
                  {"key":"d","value":{"doubleValue":"Infinity"}},{"key":"b","value":{"boolValue":true}},
                  {"key":"raw","value":{"bytesValue":"aGVsbG8="}},
                  {"key":"arr","value":{"arrayValue":{"values":[{"stringValue":"x"},{"kvlistValue":{"values":[{"key":"k","value":{"intValue":"1"}}]}}]}}}],
                "events":[{"timeUnixNano":"5","name":"ev"}],
                "links":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000002","flags":1}],
                "status":{"code":2,"message":"boom"}}]}]}]}"#,
        )
        .unwrap();
        let rs = &t.resource_spans[0];
        assert_eq!(rs.schema_url, "https://s");
        let res = rs.resource.as_ref().unwrap();
        assert_eq!(res.attributes[0].key, "service.name");
        assert_eq!(res.dropped_attributes_count, 1);
        let ss = &rs.scope_spans[0];
        assert_eq!(ss.scope.as_ref().unwrap().version, "1.0");
        let s = &ss.spans[0];
        assert_eq!(hex::encode(&s.trace_id), "5b8efff798038103d269b633813fc60c");
        assert_eq!(hex::encode(&s.span_id), "eee19b7ec3c1b174");
        assert!(s.parent_span_id.is_empty());
        assert_eq!(s.kind, SpanKind::Server as i32);
        assert_eq!(s.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(s.end_time_unix_nano, 1_544_712_661_000_000_000);
        assert_eq!((s.flags, s.trace_state.as_str()), (257, "a=b"));
        use any_value::Value as V;
        let attr = |i: usize| {
            s.attributes[i]
                .value
                .as_ref()
                .unwrap()
                .value
                .clone()
                .unwrap()
        };
        assert_eq!(attr(0), V::IntValue(-42));
        assert_eq!(attr(1), V::IntValue(7));
        assert_eq!(attr(2), V::DoubleValue(f64::INFINITY));
        assert_eq!(attr(3), V::BoolValue(true));
        assert_eq!(attr(4), V::BytesValue(b"hello".to_vec()));
        let V::ArrayValue(arr) = attr(5) else {
            panic!("not an array")
        };
        assert_eq!(arr.values.len(), 2);
        let Some(V::KvlistValue(kv)) = &arr.values[1].value else {
            panic!("not a kvlist")
        };
        assert_eq!(kv.values[0].key, "k");
        assert_eq!(
            kv.values[0].value.as_ref().unwrap().value,
            Some(V::IntValue(1))
        );
        assert_eq!(s.events[0].time_unix_nano, 5);
        assert_eq!(s.links[0].span_id, vec![0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(s.status.as_ref().unwrap().code, StatusCode::Error as i32);
        assert_eq!(s.status.as_ref().unwrap().message, "boom");
    }

    #[test]
    fn snake_case_names_are_accepted() {
        let t = traces(
            r#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10",
              "span_id":"0102030405060708","start_time_unix_nano":"12","kind":3,
              "attributes":[{"key":"x","value":{"string_value":"y"}}]}]}]}]}"#,
        )
        .unwrap();
        let s = &t.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(s.trace_id[15], 0x10);
        assert_eq!(s.start_time_unix_nano, 12);
        assert_eq!(s.kind, 3);
        assert_eq!(
            s.attributes[0].value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue("y".into()))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = traces(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#)
            .unwrap_err();
        assert_eq!(e.path, "resourceSpans[0].scopeSpans[0].spans[0].traceId");
        assert!(e.message.contains("hex"), "{e}");
        let e = traces(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"0102"}]}]}]}"#)
            .unwrap_err();
        assert!(e
            .to_string()
            .ends_with("spanId: invalid id \"0102\": expected 16 hex digits"));
        let e =
            traces(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NOPE"}]}]}]}"#)
                .unwrap_err();
        assert!(e.path.ends_with("kind"), "{e}");
        let e = traces(r#"{"resourceSpans": [}"#).unwrap_err();
        assert!(e.message.starts_with("invalid JSON"), "{e}");
        let e = traces(
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}"#,
        )
        .unwrap_err();
        assert!(e.path.ends_with("startTimeUnixNano"), "{e}");
    }

    #[test]
    fn metrics_and_logs_decode() {
        let Data::Metrics(m) = decode(
            Signal::Metrics,
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
              {"name":"g","gauge":{"dataPoints":[{"asInt":"5","timeUnixNano":"1"},{"asDouble":2.5}]}},
              {"name":"s","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,"dataPoints":[{"asInt":1}]}},
              {"name":"h","histogram":{"aggregation_temporality":1,"data_points":[{"count":"3","sum":6,"bucketCounts":["1","2"],"explicitBounds":[1.5],"min":1,"max":3}]}},
              {"name":"e","exponentialHistogram":{"dataPoints":[{"scale":2,"zeroCount":"1","positive":{"offset":-1,"bucketCounts":[4]}}]}},
              {"name":"q","summary":{"dataPoints":[{"count":2,"sum":3,"quantileValues":[{"quantile":0.5,"value":1}]}]}}]}]}]}"#,
        )
        .unwrap() else {
            panic!("wrong signal")
        };
        let ms = &m.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(ms.len(), 5);
        let Some(metric::Data::Gauge(g)) = &ms[0].data else {
            panic!()
        };
        assert_eq!(
            g.data_points[0].value,
            Some(number_data_point::Value::AsInt(5))
        );
        assert_eq!(
            g.data_points[1].value,
            Some(number_data_point::Value::AsDouble(2.5))
        );
        let Some(metric::Data::Sum(s)) = &ms[1].data else {
            panic!()
        };
        assert_eq!((s.aggregation_temporality, s.is_monotonic), (2, true));
        let Some(metric::Data::Histogram(h)) = &ms[2].data else {
            panic!()
        };
        let p = &h.data_points[0];
        assert_eq!(
            (h.aggregation_temporality, p.count, p.sum),
            (1, 3, Some(6.0))
        );
        assert_eq!(p.bucket_counts, [1, 2]);
        assert_eq!((p.min, p.max), (Some(1.0), Some(3.0)));
        let Some(metric::Data::ExponentialHistogram(e)) = &ms[3].data else {
            panic!()
        };
        assert_eq!(e.data_points[0].positive.as_ref().unwrap().offset, -1);
        let Some(metric::Data::Summary(q)) = &ms[4].data else {
            panic!()
        };
        assert_eq!(q.data_points[0].quantile_values[0].quantile, 0.5);
        assert_eq!(
            ferrotel_core::pdata::count_items(&Data::Metrics(m.clone())),
            6
        );

        let Data::Logs(l) = decode(
            Signal::Logs,
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_WARN","severityText":"W",
                "body":{"stringValue":"hi"},"observed_time_unix_nano":"9","traceId":"","eventName":"e"}]}]}]}"#,
        )
        .unwrap() else {
            panic!("wrong signal")
        };
        let r = &l.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(r.severity_number, SeverityNumber::Warn as i32);
        assert_eq!(r.observed_time_unix_nano, 9);
        assert_eq!(r.event_name, "e");
        assert_eq!(
            r.body.as_ref().unwrap().value,
            Some(any_value::Value::StringValue("hi".into()))
        );
    }

    /// Why this module exists: opentelemetry-proto's serde derive drops snake_case fields and
    /// refuses enum names, both of which otelcol accepts.
    #[test]
    fn with_serde_ignores_snake_case() {
        let t: ExportTraceServiceRequest =
            serde_json::from_str(r#"{"resource_spans":[{"scope_spans":[{"spans":[{}]}]}]}"#)
                .unwrap();
        assert!(
            t.resource_spans.is_empty(),
            "serde derive now reads snake_case"
        );
        let named =
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SERVER"}]}]}]}"#;
        assert!(serde_json::from_str::<ExportTraceServiceRequest>(named).is_err());
        assert_eq!(
            traces(named).unwrap().resource_spans[0].scope_spans[0].spans[0].kind,
            2
        );
    }
}
