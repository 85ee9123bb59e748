//! The mutable side of the contexts ([`ContextMut`]) for the span, spanevent, resource, log,
//! metric and datapoint contexts: what statements may set, as otelcol's setters. A value of a
//! type a field cannot hold is ignored (as otelcol's setters do); a path that cannot be set
//! (`kind.string`, `metric.type`) is an error naming it.

use crate::contexts::{
    ResourcePath, ScopePath, SpanContext, SpanEventContext, SpanEventItem, SpanEventPath, SpanItem,
    SpanPath,
};
use crate::error::EvalError;
use crate::log_context::{LogContext, LogItem, LogPath};
use crate::metric_context::{
    DataPointContext, DataPointItem, DataPointPath, DataPointRef, MetricContext, MetricItem,
    MetricPath,
};
use crate::metric_editors::NewMetrics;
use crate::parents::ParentPath;
use crate::resource_context::{ResourceContext, ResourceContextPath, ResourceItem};
use crate::statement::{ContextMut, Place};
use crate::value::Value;
use ferrotel_core::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::proto::metrics::v1::{
    metric::Data, number_data_point, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, SummaryDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::Event, Span, Status};

fn cannot_set(what: &str) -> EvalError {
    EvalError::new(format!("{what} cannot be set"))
}

fn set_string(dst: &mut String, v: Value<'_>) {
    if let Value::Str(s) = v {
        *dst = s.into_owned();
    }
}

fn set_u32(dst: &mut u32, v: Value<'_>) {
    if let Value::Int(i) = v {
        *dst = i as u32;
    }
}

fn set_i32(dst: &mut i32, v: Value<'_>) {
    if let Value::Int(i) = v {
        *dst = i as i32;
    }
}

/// A `*_unix_nano` field from an int, or a time field from a time.
fn set_nanos(dst: &mut u64, v: Value<'_>, time: bool) {
    match (v, time) {
        (Value::Int(i), false) | (Value::Time(i), true) => *dst = i as u64,
        _ => {}
    }
}

/// An id from its value, or from hex with `.string`.
fn set_id<const N: usize>(dst: &mut Vec<u8>, v: Value<'_>, hex: bool) -> Result<(), EvalError> {
    let bytes: Option<Vec<u8>> = match (v, hex) {
        (Value::TraceId(id), false) if N == 16 => Some(id.to_vec()),
        (Value::SpanId(id), false) if N == 8 => Some(id.to_vec()),
        (Value::Str(s), true) => {
            let b = hex::decode(s.as_bytes())
                .ok()
                .filter(|b| b.len() == N)
                .ok_or_else(|| {
                    EvalError::new(format!("invalid id {s:?}: want {N} bytes in hex"))
                })?;
            Some(b)
        }
        _ => None,
    };
    if let Some(b) = bytes {
        *dst = b;
    }
    Ok(())
}

/// The scope and resource of an item, borrowed for changing.
pub(crate) struct ParentMut<'b> {
    pub scope: &'b mut Option<InstrumentationScope>,
    pub resource: &'b mut Option<Resource>,
}

impl<'b> ParentMut<'b> {
    pub(crate) fn place(self, p: ParentPath) -> Option<Place<'b>> {
        match p {
            ParentPath::Resource(ResourcePath::Attributes) => Some(Place::Map(
                &mut self
                    .resource
                    .get_or_insert_with(Default::default)
                    .attributes,
            )),
            ParentPath::Scope(ScopePath::Attributes) => Some(Place::Map(
                &mut self.scope.get_or_insert_with(Default::default).attributes,
            )),
            _ => None,
        }
    }
}

pub(crate) fn set_scope(
    p: ScopePath,
    scope: &mut Option<InstrumentationScope>,
    v: Value<'_>,
) -> Result<(), EvalError> {
    let s = scope.get_or_insert_with(Default::default);
    match p {
        ScopePath::Name => set_string(&mut s.name, v),
        ScopePath::Version => set_string(&mut s.version, v),
        ScopePath::DroppedAttributesCount => set_u32(&mut s.dropped_attributes_count, v),
        ScopePath::Attributes => return Err(cannot_set("attributes")),
    }
    Ok(())
}

fn set_resource(p: ResourcePath, r: &mut Option<Resource>, v: Value<'_>) -> Result<(), EvalError> {
    match p {
        ResourcePath::DroppedAttributesCount => {
            set_u32(
                &mut r
                    .get_or_insert_with(Default::default)
                    .dropped_attributes_count,
                v,
            );
            Ok(())
        }
        ResourcePath::Attributes => Err(cannot_set("attributes")),
    }
}

pub(crate) fn set_parent(
    p: ParentPath,
    scope: &mut Option<InstrumentationScope>,
    resource: &mut Option<Resource>,
    v: Value<'_>,
) -> Result<(), EvalError> {
    match p {
        ParentPath::Resource(p) => set_resource(p, resource, v),
        ParentPath::Scope(p) => set_scope(p, scope, v),
    }
}

/// A span borrowed for changing, with its scope and resource.
pub struct SpanItemMut<'a> {
    /// The statements' temporary map (otelcol's `cache`), one per item.
    pub cache: &'a mut Vec<KeyValue>,
    pub span: &'a mut Span,
    pub scope: &'a mut Option<InstrumentationScope>,
    pub resource: &'a mut Option<Resource>,
}

impl SpanItemMut<'_> {
    fn view(&self) -> SpanItem<'_> {
        SpanItem {
            cache: self.cache,
            span: self.span,
            scope: self.scope.as_ref(),
            resource: self.resource.as_ref(),
        }
    }

    fn place(&mut self, path: &SpanPath) -> Option<Place<'_>> {
        let parents = ParentMut {
            scope: self.scope,
            resource: self.resource,
        };
        match path {
            SpanPath::Attributes => Some(Place::Map(&mut self.span.attributes)),
            SpanPath::Cache => Some(Place::Map(&mut *self.cache)),
            SpanPath::Resource(p) => parents.place(ParentPath::Resource(*p)),
            SpanPath::Scope(p) => parents.place(ParentPath::Scope(*p)),
            _ => None,
        }
    }

    fn set(&mut self, path: &SpanPath, v: Value<'_>) -> Result<(), EvalError> {
        use SpanPath::*;
        let s = &mut *self.span;
        match path {
            TraceId | TraceIdString => set_id::<16>(&mut s.trace_id, v, *path == TraceIdString)?,
            SpanId | SpanIdString => set_id::<8>(&mut s.span_id, v, *path == SpanIdString)?,
            ParentSpanId | ParentSpanIdString => {
                set_id::<8>(&mut s.parent_span_id, v, *path == ParentSpanIdString)?
            }
            TraceState => set_string(&mut s.trace_state, v),
            TraceStateKey(k) => {
                if let Value::Str(value) = v {
                    s.trace_state = with_trace_state_entry(&s.trace_state, k, &value);
                }
            }
            Name => set_string(&mut s.name, v),
            Kind => set_i32(&mut s.kind, v),
            StatusCode => set_i32(&mut s.status.get_or_insert_with(Status::default).code, v),
            StatusMessage => {
                set_string(&mut s.status.get_or_insert_with(Status::default).message, v)
            }
            StartTimeUnixNano | StartTime => {
                set_nanos(&mut s.start_time_unix_nano, v, *path == StartTime)
            }
            EndTimeUnixNano | EndTime => set_nanos(&mut s.end_time_unix_nano, v, *path == EndTime),
            DroppedAttributesCount => set_u32(&mut s.dropped_attributes_count, v),
            DroppedEventsCount => set_u32(&mut s.dropped_events_count, v),
            DroppedLinksCount => set_u32(&mut s.dropped_links_count, v),
            Flags => set_u32(&mut s.flags, v),
            Resource(p) => set_resource(*p, self.resource, v)?,
            Scope(p) => set_scope(*p, self.scope, v)?,
            KindString | KindDeprecatedString | Attributes | Cache => {
                return Err(cannot_set("the path"))
            }
        }
        Ok(())
    }
}

/// A W3C trace state with entry `key` set to `value` (a new entry goes first, as W3C says).
fn with_trace_state_entry(ts: &str, key: &str, value: &str) -> String {
    let others = ts
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && m.split_once('=').is_none_or(|(k, _)| k != key));
    std::iter::once(format!("{key}={value}"))
        .chain(others.map(str::to_string))
        .collect::<Vec<_>>()
        .join(",")
}

impl ContextMut for SpanContext {
    type ItemMut<'a> = SpanItemMut<'a>;

    fn view<'b>(item: &'b SpanItemMut<'_>) -> SpanItem<'b> {
        item.view()
    }

    fn place<'b>(path: &SpanPath, item: &'b mut SpanItemMut<'_>) -> Option<Place<'b>> {
        item.place(path)
    }

    fn set(path: &SpanPath, item: &mut SpanItemMut<'_>, v: Value<'_>) -> Result<(), EvalError> {
        item.set(path, v)
    }

    fn own_editor(name: &str) -> Option<crate::statement::EditorBuilder<Self>> {
        match name {
            "set_semconv_span_name" => Some(crate::semconv_name::editor),
            _ => None,
        }
    }
}

/// A span event borrowed for changing, with its span (whose events are taken out while its
/// events are visited), scope and resource.
pub struct SpanEventItemMut<'a> {
    /// The statements' temporary map (otelcol's `cache`), one per item.
    pub cache: &'a mut Vec<KeyValue>,
    pub event: &'a mut Event,
    pub index: usize,
    pub span: SpanItemMut<'a>,
}

impl ContextMut for SpanEventContext {
    type ItemMut<'a> = SpanEventItemMut<'a>;

    fn view<'b>(item: &'b SpanEventItemMut<'_>) -> SpanEventItem<'b> {
        SpanEventItem {
            cache: item.cache,
            event: item.event,
            index: item.index,
            span: item.span.view(),
        }
    }

    fn place<'b>(path: &SpanEventPath, item: &'b mut SpanEventItemMut<'_>) -> Option<Place<'b>> {
        match path {
            SpanEventPath::Attributes => Some(Place::Map(&mut item.event.attributes)),
            SpanEventPath::Cache => Some(Place::Map(&mut *item.cache)),
            SpanEventPath::Span(p) => item.span.place(p),
            _ => None,
        }
    }

    fn set(
        path: &SpanEventPath,
        item: &mut SpanEventItemMut<'_>,
        v: Value<'_>,
    ) -> Result<(), EvalError> {
        let e = &mut *item.event;
        match path {
            SpanEventPath::Name => set_string(&mut e.name, v),
            SpanEventPath::TimeUnixNano => set_nanos(&mut e.time_unix_nano, v, false),
            SpanEventPath::Time => set_nanos(&mut e.time_unix_nano, v, true),
            SpanEventPath::DroppedAttributesCount => set_u32(&mut e.dropped_attributes_count, v),
            SpanEventPath::Span(p) => return item.span.set(p, v),
            SpanEventPath::Attributes | SpanEventPath::EventIndex | SpanEventPath::Cache => {
                return Err(cannot_set("the path"))
            }
        }
        Ok(())
    }
}

/// A resource borrowed for changing, with its group's schema URL.
pub struct ResourceItemMut<'a> {
    /// The statements' temporary map (otelcol's `cache`), one per item.
    pub cache: &'a mut Vec<KeyValue>,
    pub resource: &'a mut Option<Resource>,
    pub schema_url: &'a mut String,
}

impl ContextMut for ResourceContext {
    type ItemMut<'a> = ResourceItemMut<'a>;

    fn view<'b>(item: &'b ResourceItemMut<'_>) -> ResourceItem<'b> {
        ResourceItem {
            cache: item.cache,
            resource: item.resource.as_ref(),
            schema_url: item.schema_url,
        }
    }

    fn place<'b>(
        path: &ResourceContextPath,
        item: &'b mut ResourceItemMut<'_>,
    ) -> Option<Place<'b>> {
        match path {
            ResourceContextPath::Resource(ResourcePath::Attributes) => Some(Place::Map(
                &mut item
                    .resource
                    .get_or_insert_with(Default::default)
                    .attributes,
            )),
            ResourceContextPath::Cache => Some(Place::Map(&mut *item.cache)),
            _ => None,
        }
    }

    fn set(
        path: &ResourceContextPath,
        item: &mut ResourceItemMut<'_>,
        v: Value<'_>,
    ) -> Result<(), EvalError> {
        match path {
            ResourceContextPath::Resource(p) => set_resource(*p, item.resource, v),
            ResourceContextPath::SchemaUrl => {
                set_string(item.schema_url, v);
                Ok(())
            }
            ResourceContextPath::Cache => Err(cannot_set("the path")),
        }
    }
}

/// A log record borrowed for changing, with its scope and resource.
pub struct LogItemMut<'a> {
    /// The statements' temporary map (otelcol's `cache`), one per item.
    pub cache: &'a mut Vec<KeyValue>,
    pub log: &'a mut LogRecord,
    pub scope: &'a mut Option<InstrumentationScope>,
    pub resource: &'a mut Option<Resource>,
}

impl ContextMut for LogContext {
    type ItemMut<'a> = LogItemMut<'a>;

    fn view<'b>(item: &'b LogItemMut<'_>) -> LogItem<'b> {
        LogItem {
            cache: item.cache,
            log: item.log,
            scope: item.scope.as_ref(),
            resource: item.resource.as_ref(),
        }
    }

    fn place<'b>(path: &LogPath, item: &'b mut LogItemMut<'_>) -> Option<Place<'b>> {
        match path {
            LogPath::Attributes => Some(Place::Map(&mut item.log.attributes)),
            LogPath::Cache => Some(Place::Map(&mut *item.cache)),
            LogPath::Body | LogPath::BodyIndexed => Some(Place::Value(
                item.log.body.get_or_insert_with(AnyValue::default),
            )),
            LogPath::Parent(p) => ParentMut {
                scope: item.scope,
                resource: item.resource,
            }
            .place(*p),
            _ => None,
        }
    }

    fn set(path: &LogPath, item: &mut LogItemMut<'_>, v: Value<'_>) -> Result<(), EvalError> {
        use LogPath::*;
        let l = &mut *item.log;
        match path {
            TimeUnixNano | Time => set_nanos(&mut l.time_unix_nano, v, *path == Time),
            ObservedTimeUnixNano | ObservedTime => {
                set_nanos(&mut l.observed_time_unix_nano, v, *path == ObservedTime)
            }
            SeverityNumber => set_i32(&mut l.severity_number, v),
            SeverityText => set_string(&mut l.severity_text, v),
            BodyString => {
                if let Value::Str(_) = v {
                    l.body = Some(v.into_any());
                }
            }
            DroppedAttributesCount => set_u32(&mut l.dropped_attributes_count, v),
            Flags => set_u32(&mut l.flags, v),
            TraceId | TraceIdString => set_id::<16>(&mut l.trace_id, v, *path == TraceIdString)?,
            SpanId | SpanIdString => set_id::<8>(&mut l.span_id, v, *path == SpanIdString)?,
            EventName => set_string(&mut l.event_name, v),
            Parent(p) => return set_parent(*p, item.scope, item.resource, v),
            Body | BodyIndexed | Attributes | Cache => return Err(cannot_set("the path")),
        }
        Ok(())
    }
}

/// A metric borrowed for changing, with its scope and resource, and where editors put the
/// metrics they add (appended to the scope's metrics by the runner, after this one).
pub struct MetricItemMut<'a> {
    /// The statements' temporary map (otelcol's `cache`), one per item.
    pub cache: &'a mut Vec<KeyValue>,
    pub metric: &'a mut Metric,
    pub scope: &'a mut Option<InstrumentationScope>,
    pub resource: &'a mut Option<Resource>,
    pub added: &'a mut NewMetrics,
}

impl MetricItemMut<'_> {
    fn view(&self) -> MetricItem<'_> {
        MetricItem {
            cache: self.cache,
            metric: self.metric,
            scope: self.scope.as_ref(),
            resource: self.resource.as_ref(),
        }
    }

    fn place(&mut self, path: &MetricPath) -> Option<Place<'_>> {
        match path {
            MetricPath::Metadata => Some(Place::Map(&mut self.metric.metadata)),
            MetricPath::Cache => Some(Place::Map(&mut *self.cache)),
            MetricPath::Parent(p) => ParentMut {
                scope: self.scope,
                resource: self.resource,
            }
            .place(*p),
            _ => None,
        }
    }

    fn set(&mut self, path: &MetricPath, v: Value<'_>) -> Result<(), EvalError> {
        let m = &mut *self.metric;
        match path {
            MetricPath::Name => set_string(&mut m.name, v),
            MetricPath::Description => set_string(&mut m.description, v),
            MetricPath::Unit => set_string(&mut m.unit, v),
            MetricPath::AggregationTemporality => match &mut m.data {
                Some(Data::Sum(s)) => set_i32(&mut s.aggregation_temporality, v),
                Some(Data::Histogram(h)) => set_i32(&mut h.aggregation_temporality, v),
                Some(Data::ExponentialHistogram(h)) => set_i32(&mut h.aggregation_temporality, v),
                _ => {}
            },
            MetricPath::IsMonotonic => {
                if let (Some(Data::Sum(s)), Value::Bool(b)) = (&mut m.data, v) {
                    s.is_monotonic = b;
                }
            }
            MetricPath::Parent(p) => return set_parent(*p, self.scope, self.resource, v),
            MetricPath::Type | MetricPath::Metadata | MetricPath::Cache => {
                return Err(cannot_set("the path"))
            }
        }
        Ok(())
    }
}

impl ContextMut for MetricContext {
    type ItemMut<'a> = MetricItemMut<'a>;

    fn view<'b>(item: &'b MetricItemMut<'_>) -> MetricItem<'b> {
        item.view()
    }

    fn place<'b>(path: &MetricPath, item: &'b mut MetricItemMut<'_>) -> Option<Place<'b>> {
        item.place(path)
    }

    fn set(path: &MetricPath, item: &mut MetricItemMut<'_>, v: Value<'_>) -> Result<(), EvalError> {
        item.set(path, v)
    }

    fn own_editor(name: &str) -> Option<crate::statement::EditorBuilder<Self>> {
        crate::metric_editors::metric(name)
    }
}

/// One data point of any kind, borrowed for changing.
pub enum DataPointMut<'a> {
    Number(&'a mut NumberDataPoint),
    Histogram(&'a mut HistogramDataPoint),
    ExponentialHistogram(&'a mut ExponentialHistogramDataPoint),
    Summary(&'a mut SummaryDataPoint),
}

/// A data point borrowed for changing, with its metric (whose points are taken out while they
/// are visited), scope and resource.
pub struct DataPointItemMut<'a> {
    /// The statements' temporary map (otelcol's `cache`), one per item.
    pub cache: &'a mut Vec<KeyValue>,
    pub point: DataPointMut<'a>,
    pub metric: MetricItemMut<'a>,
}

impl ContextMut for DataPointContext {
    type ItemMut<'a> = DataPointItemMut<'a>;

    fn view<'b>(item: &'b DataPointItemMut<'_>) -> DataPointItem<'b> {
        let point = match &item.point {
            DataPointMut::Number(p) => DataPointRef::Number(p),
            DataPointMut::Histogram(p) => DataPointRef::Histogram(p),
            DataPointMut::ExponentialHistogram(p) => DataPointRef::ExponentialHistogram(p),
            DataPointMut::Summary(p) => DataPointRef::Summary(p),
        };
        DataPointItem {
            cache: item.cache,
            point,
            metric: item.metric.view(),
        }
    }

    fn place<'b>(path: &DataPointPath, item: &'b mut DataPointItemMut<'_>) -> Option<Place<'b>> {
        match path {
            DataPointPath::Attributes => Some(Place::Map(match &mut item.point {
                DataPointMut::Number(p) => &mut p.attributes,
                DataPointMut::Histogram(p) => &mut p.attributes,
                DataPointMut::ExponentialHistogram(p) => &mut p.attributes,
                DataPointMut::Summary(p) => &mut p.attributes,
            })),
            DataPointPath::Metric(p) => item.metric.place(p),
            DataPointPath::Cache => Some(Place::Map(&mut *item.cache)),
            _ => None,
        }
    }

    fn set(
        path: &DataPointPath,
        item: &mut DataPointItemMut<'_>,
        v: Value<'_>,
    ) -> Result<(), EvalError> {
        use DataPointMut as D;
        use DataPointPath as P;
        if let P::Metric(p) = path {
            return item.metric.set(p, v);
        }
        let (start, time, flags) = match &mut item.point {
            D::Number(p) => (
                &mut p.start_time_unix_nano,
                &mut p.time_unix_nano,
                &mut p.flags,
            ),
            D::Histogram(p) => (
                &mut p.start_time_unix_nano,
                &mut p.time_unix_nano,
                &mut p.flags,
            ),
            D::ExponentialHistogram(p) => (
                &mut p.start_time_unix_nano,
                &mut p.time_unix_nano,
                &mut p.flags,
            ),
            D::Summary(p) => (
                &mut p.start_time_unix_nano,
                &mut p.time_unix_nano,
                &mut p.flags,
            ),
        };
        match path {
            P::StartTimeUnixNano | P::StartTime => set_nanos(start, v, *path == P::StartTime),
            P::TimeUnixNano | P::Time => set_nanos(time, v, *path == P::Time),
            P::Flags => set_u32(flags, v),
            _ => return set_value(path, &mut item.point, v),
        }
        Ok(())
    }

    fn own_editor(name: &str) -> Option<crate::statement::EditorBuilder<Self>> {
        crate::metric_editors::datapoint(name)
    }
}

/// Sets a value path of a data point (`value_int`, `count`, `sum`, ...).
fn set_value(
    path: &DataPointPath,
    point: &mut DataPointMut<'_>,
    v: Value<'_>,
) -> Result<(), EvalError> {
    use DataPointMut as D;
    use DataPointPath as P;
    match (path, point, v) {
        (P::ValueDouble, D::Number(p), Value::Float(f)) => {
            p.value = Some(number_data_point::Value::AsDouble(f))
        }
        (P::ValueInt, D::Number(p), Value::Int(i)) => {
            p.value = Some(number_data_point::Value::AsInt(i))
        }
        (P::Count, D::Histogram(p), Value::Int(i)) => p.count = i as u64,
        (P::Count, D::ExponentialHistogram(p), Value::Int(i)) => p.count = i as u64,
        (P::Count, D::Summary(p), Value::Int(i)) => p.count = i as u64,
        (P::Sum, D::Histogram(p), Value::Float(f)) => p.sum = Some(f),
        (P::Sum, D::ExponentialHistogram(p), Value::Float(f)) => p.sum = Some(f),
        (P::Sum, D::Summary(p), Value::Float(f)) => p.sum = f,
        (P::ValueDouble | P::ValueInt | P::Count | P::Sum, _, _) => {}
        _ => return Err(cannot_set("the path")),
    }
    Ok(())
}
