//! The `span` and `spanevent` contexts (otelcol's ottlspan and ottlspanevent), with the paths
//! of their parents: `resource.*` and `instrumentation_scope.*` (also spelled `scope.*`) from
//! either, `span.*` from a span event. A path may start with its own context's name
//! (`span.name` in the span context).

use crate::ast::{self, Key};
use crate::compile::Context;
use crate::error::EvalError;
use crate::value::Value;
use ferrotel_core::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::Event, Span};
use std::borrow::Cow;

/// A span with its scope and resource.
#[derive(Debug, Clone, Copy)]
pub struct SpanItem<'a> {
    pub span: &'a Span,
    /// The statements' temporary map (otelcol's `cache`), empty for conditions.
    pub cache: &'a [KeyValue],
    pub scope: Option<&'a InstrumentationScope>,
    pub resource: Option<&'a Resource>,
}

/// A span event with its span, scope and resource, and its index among the span's events.
#[derive(Debug, Clone, Copy)]
pub struct SpanEventItem<'a> {
    pub event: &'a Event,
    /// The statements' temporary map (otelcol's `cache`), empty for conditions.
    pub cache: &'a [KeyValue],
    pub index: usize,
    pub span: SpanItem<'a>,
}

/// Paths of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourcePath {
    Attributes,
    DroppedAttributesCount,
}

/// Paths of the instrumentation scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopePath {
    Name,
    Version,
    Attributes,
    DroppedAttributesCount,
}

/// Paths of a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanPath {
    TraceId,
    TraceIdString,
    SpanId,
    SpanIdString,
    ParentSpanId,
    ParentSpanIdString,
    TraceState,
    /// `trace_state["key"]`.
    TraceStateKey(String),
    Name,
    Kind,
    KindString,
    KindDeprecatedString,
    StatusCode,
    StatusMessage,
    StartTimeUnixNano,
    EndTimeUnixNano,
    StartTime,
    EndTime,
    Attributes,
    DroppedAttributesCount,
    DroppedEventsCount,
    DroppedLinksCount,
    Flags,
    Resource(ResourcePath),
    Scope(ScopePath),
    /// `cache`: the statements' temporary map.
    Cache,
}

/// Paths of a span event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanEventPath {
    /// `cache`: the statements' temporary map.
    Cache,
    Name,
    TimeUnixNano,
    Time,
    Attributes,
    DroppedAttributesCount,
    EventIndex,
    Span(SpanPath),
}

/// otelcol's message for a path a context does not have.
pub(crate) fn invalid(path: &ast::Path, context: &str) -> String {
    format!(
        "segment {:?} from path {:?} is not a valid path nor a valid OTTL keyword for the {context} \
         context",
        path.fields.first().map_or("", |f| f.name.as_str()),
        path.dotted()
    )
}

/// The names of `fields` (at most three), for matching.
pub(crate) fn names(fields: &[ast::Field]) -> (&str, Option<&str>, Option<&str>) {
    let n = |i: usize| fields.get(i).map(|f| f.name.as_str());
    (n(0).unwrap_or(""), n(1), n(2))
}

/// Keys of every field but the last are refused; the last one's are returned.
pub(crate) fn last_keys(
    path: &ast::Path,
    fields: &[ast::Field],
    context: &str,
) -> Result<Vec<Key>, String> {
    let (last, rest) = fields.split_last().ok_or_else(|| invalid(path, context))?;
    if rest.iter().any(|f| !f.keys.is_empty()) {
        return Err(invalid(path, context));
    }
    Ok(last.keys.clone())
}

pub(crate) fn resource_path(fields: &[ast::Field]) -> Option<ResourcePath> {
    match names(fields) {
        ("attributes", None, None) => Some(ResourcePath::Attributes),
        ("dropped_attributes_count", None, None) => Some(ResourcePath::DroppedAttributesCount),
        _ => None,
    }
}

pub(crate) fn scope_path(fields: &[ast::Field]) -> Option<ScopePath> {
    match names(fields) {
        ("name", None, None) => Some(ScopePath::Name),
        ("version", None, None) => Some(ScopePath::Version),
        ("attributes", None, None) => Some(ScopePath::Attributes),
        ("dropped_attributes_count", None, None) => Some(ScopePath::DroppedAttributesCount),
        _ => None,
    }
}

/// A span's own path, or a parent's (`resource.`, `instrumentation_scope.`, `scope.`).
fn span_path(fields: &[ast::Field]) -> Option<SpanPath> {
    use SpanPath::*;
    Some(match names(fields) {
        ("resource", Some(_), _) => Resource(resource_path(&fields[1..])?),
        ("instrumentation_scope" | "scope", Some(_), _) => Scope(scope_path(&fields[1..])?),
        ("trace_id", None, None) => TraceId,
        ("trace_id", Some("string"), None) => TraceIdString,
        ("span_id", None, None) => SpanId,
        ("span_id", Some("string"), None) => SpanIdString,
        ("parent_span_id", None, None) => ParentSpanId,
        ("parent_span_id", Some("string"), None) => ParentSpanIdString,
        ("trace_state", None, None) => match fields[0].keys.as_slice() {
            [] => TraceState,
            [Key::Str(k)] => TraceStateKey(k.clone()),
            _ => return None,
        },
        ("name", None, None) => Name,
        ("kind", None, None) => Kind,
        ("kind", Some("string"), None) => KindString,
        ("kind", Some("deprecated_string"), None) => KindDeprecatedString,
        ("status", Some("code"), None) => StatusCode,
        ("status", Some("message"), None) => StatusMessage,
        ("start_time_unix_nano", None, None) => StartTimeUnixNano,
        ("end_time_unix_nano", None, None) => EndTimeUnixNano,
        ("start_time", None, None) => StartTime,
        ("end_time", None, None) => EndTime,
        ("attributes", None, None) => Attributes,
        ("dropped_attributes_count", None, None) => DroppedAttributesCount,
        ("dropped_events_count", None, None) => DroppedEventsCount,
        ("dropped_links_count", None, None) => DroppedLinksCount,
        ("flags", None, None) => Flags,
        ("cache", None, None) => Cache,
        _ => return None,
    })
}

/// Strips a leading `context.` from a path that has more segments.
pub(crate) fn strip_context<'p>(fields: &'p [ast::Field], context: &str) -> &'p [ast::Field] {
    match fields {
        [first, rest @ ..]
            if first.name == context && !rest.is_empty() && first.keys.is_empty() =>
        {
            rest
        }
        _ => fields,
    }
}

/// The keys a resolved span path leaves to generic indexing.
fn span_keys(path: &ast::Path, fields: &[ast::Field], p: &SpanPath) -> Result<Vec<Key>, String> {
    if matches!(p, SpanPath::TraceStateKey(_)) {
        return Ok(Vec::new());
    }
    last_keys(path, fields, SpanContext::NAME)
}

/// The `span` context.
#[derive(Debug)]
pub struct SpanContext;

impl Context for SpanContext {
    crate::lambda_host!();

    const NAME: &'static str = "Span";
    type Item<'a> = SpanItem<'a>;
    type Path = SpanPath;

    fn path(path: &ast::Path) -> Result<(SpanPath, Vec<Key>), String> {
        let fields = strip_context(&path.fields, "span");
        let p = span_path(fields).ok_or_else(|| invalid(path, Self::NAME))?;
        let keys = span_keys(path, fields, &p)?;
        Ok((p, keys))
    }

    fn get<'a>(path: &'a SpanPath, item: SpanItem<'a>) -> Result<Value<'a>, EvalError> {
        Ok(get_span(path, item))
    }

    fn enum_value(name: &str) -> Option<i64> {
        span_enum(name)
    }

    fn is_attributes(path: &SpanPath) -> bool {
        matches!(
            path,
            SpanPath::Attributes
                | SpanPath::Resource(ResourcePath::Attributes)
                | SpanPath::Scope(ScopePath::Attributes)
        )
    }

    fn attributes<'a>(path: &'a SpanPath, i: SpanItem<'a>) -> &'a [KeyValue] {
        match path {
            SpanPath::Attributes => &i.span.attributes,
            SpanPath::Resource(ResourcePath::Attributes) => resource_attrs(i.resource),
            SpanPath::Scope(ScopePath::Attributes) => scope_attrs(i.scope),
            _ => &[],
        }
    }

    const OWN_CONVERTERS: &'static [&'static str] = crate::context_funcs::SPAN;

    fn own_converter(
        name: &str,
        args: Vec<crate::compile::CompiledArg<Self>>,
    ) -> Result<Box<dyn crate::compile::Function<Self>>, String> {
        crate::context_funcs::span(name, args)
    }
}

pub(crate) fn resource_attrs(r: Option<&Resource>) -> &[KeyValue] {
    r.map_or(&[], |r| &r.attributes)
}

pub(crate) fn scope_attrs(s: Option<&InstrumentationScope>) -> &[KeyValue] {
    s.map_or(&[], |s| &s.attributes)
}

/// otelcol's span enums: `SPAN_KIND_*` and `STATUS_CODE_*`.
pub fn span_enum(name: &str) -> Option<i64> {
    Some(match name {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        _ => return None,
    })
}

pub(crate) fn attrs(a: &[KeyValue]) -> Value<'_> {
    Value::Map(Cow::Borrowed(a))
}

pub(crate) fn get_resource<'a>(p: ResourcePath, r: Option<&'a Resource>) -> Value<'a> {
    match p {
        ResourcePath::Attributes => attrs(r.map_or(&[], |r| &r.attributes)),
        ResourcePath::DroppedAttributesCount => {
            Value::Int(r.map_or(0, |r| i64::from(r.dropped_attributes_count)))
        }
    }
}

pub(crate) fn get_scope<'a>(p: ScopePath, s: Option<&'a InstrumentationScope>) -> Value<'a> {
    match p {
        ScopePath::Name => Value::Str(Cow::Borrowed(s.map_or("", |s| &s.name))),
        ScopePath::Version => Value::Str(Cow::Borrowed(s.map_or("", |s| &s.version))),
        ScopePath::Attributes => attrs(s.map_or(&[], |s| &s.attributes)),
        ScopePath::DroppedAttributesCount => {
            Value::Int(s.map_or(0, |s| i64::from(s.dropped_attributes_count)))
        }
    }
}

pub(crate) fn trace_id(b: &[u8]) -> [u8; 16] {
    let mut id = [0; 16];
    if b.len() == 16 {
        id.copy_from_slice(b);
    }
    id
}

pub(crate) fn span_id(b: &[u8]) -> [u8; 8] {
    let mut id = [0; 8];
    if b.len() == 8 {
        id.copy_from_slice(b);
    }
    id
}

/// pdata's SpanKind names (`kind.string`) and the enum names (`kind.deprecated_string`).
fn kind_name(kind: i32, deprecated: bool) -> &'static str {
    const NAMES: [(&str, &str); 6] = [
        ("Unspecified", "SPAN_KIND_UNSPECIFIED"),
        ("Internal", "SPAN_KIND_INTERNAL"),
        ("Server", "SPAN_KIND_SERVER"),
        ("Client", "SPAN_KIND_CLIENT"),
        ("Producer", "SPAN_KIND_PRODUCER"),
        ("Consumer", "SPAN_KIND_CONSUMER"),
    ];
    usize::try_from(kind)
        .ok()
        .and_then(|k| NAMES.get(k))
        .map_or("", |(n, d)| if deprecated { d } else { n })
}

/// The value of the trace state entry `key` (empty when absent, as otelcol).
fn trace_state_entry<'a>(ts: &'a str, key: &str) -> &'a str {
    ts.split(',')
        .filter_map(|m| m.trim().split_once('='))
        .find(|(k, _)| *k == key)
        .map_or("", |(_, v)| v)
}

fn get_span<'a>(path: &'a SpanPath, item: SpanItem<'a>) -> Value<'a> {
    use SpanPath::*;
    let s = item.span;
    let status = s.status.as_ref();
    match path {
        TraceId => Value::TraceId(trace_id(&s.trace_id)),
        TraceIdString => Value::Str(Cow::Owned(hex::encode(trace_id(&s.trace_id)))),
        SpanId => Value::SpanId(span_id(&s.span_id)),
        SpanIdString => Value::Str(Cow::Owned(hex::encode(span_id(&s.span_id)))),
        ParentSpanId => Value::SpanId(span_id(&s.parent_span_id)),
        ParentSpanIdString => Value::Str(Cow::Owned(hex::encode(span_id(&s.parent_span_id)))),
        TraceState => Value::Str(Cow::Borrowed(&s.trace_state)),
        TraceStateKey(k) => Value::Str(Cow::Borrowed(trace_state_entry(&s.trace_state, k))),
        Name => Value::Str(Cow::Borrowed(&s.name)),
        Kind => Value::Int(i64::from(s.kind)),
        KindString => Value::Str(Cow::Borrowed(kind_name(s.kind, false))),
        KindDeprecatedString => Value::Str(Cow::Borrowed(kind_name(s.kind, true))),
        StatusCode => Value::Int(status.map_or(0, |st| i64::from(st.code))),
        StatusMessage => Value::Str(Cow::Borrowed(status.map_or("", |st| &st.message))),
        StartTimeUnixNano => Value::Int(s.start_time_unix_nano as i64),
        EndTimeUnixNano => Value::Int(s.end_time_unix_nano as i64),
        StartTime => Value::Time(s.start_time_unix_nano as i64),
        EndTime => Value::Time(s.end_time_unix_nano as i64),
        Attributes => attrs(&s.attributes),
        DroppedAttributesCount => Value::Int(i64::from(s.dropped_attributes_count)),
        DroppedEventsCount => Value::Int(i64::from(s.dropped_events_count)),
        DroppedLinksCount => Value::Int(i64::from(s.dropped_links_count)),
        Flags => Value::Int(i64::from(s.flags)),
        Cache => attrs(item.cache),
        Resource(p) => get_resource(*p, item.resource),
        Scope(p) => get_scope(*p, item.scope),
    }
}

/// The `spanevent` context.
#[derive(Debug)]
pub struct SpanEventContext;

impl Context for SpanEventContext {
    crate::lambda_host!();

    const NAME: &'static str = "SpanEvent";
    type Item<'a> = SpanEventItem<'a>;
    type Path = SpanEventPath;

    fn path(path: &ast::Path) -> Result<(SpanEventPath, Vec<Key>), String> {
        let fields = strip_context(&path.fields, "spanevent");
        let own = match names(fields) {
            ("name", None, None) => Some(SpanEventPath::Name),
            ("time_unix_nano", None, None) => Some(SpanEventPath::TimeUnixNano),
            ("time", None, None) => Some(SpanEventPath::Time),
            ("attributes", None, None) => Some(SpanEventPath::Attributes),
            ("dropped_attributes_count", None, None) => Some(SpanEventPath::DroppedAttributesCount),
            ("event_index", None, None) => Some(SpanEventPath::EventIndex),
            ("cache", None, None) => Some(SpanEventPath::Cache),
            _ => None,
        };
        if let Some(p) = own {
            return Ok((p, last_keys(path, fields, Self::NAME)?));
        }
        let parent = match names(fields) {
            ("span", Some(_), _) => span_path(&fields[1..])
                .filter(|p| !matches!(p, SpanPath::Resource(_) | SpanPath::Scope(_))),
            ("resource" | "instrumentation_scope" | "scope", Some(_), _) => span_path(fields),
            _ => None,
        };
        let p = parent.ok_or_else(|| invalid(path, Self::NAME))?;
        let keys = span_keys(path, fields, &p)?;
        Ok((SpanEventPath::Span(p), keys))
    }

    fn get<'a>(path: &'a SpanEventPath, item: SpanEventItem<'a>) -> Result<Value<'a>, EvalError> {
        let e = item.event;
        Ok(match path {
            SpanEventPath::Name => Value::Str(Cow::Borrowed(&e.name)),
            SpanEventPath::TimeUnixNano => Value::Int(e.time_unix_nano as i64),
            SpanEventPath::Time => Value::Time(e.time_unix_nano as i64),
            SpanEventPath::Attributes => attrs(&e.attributes),
            SpanEventPath::DroppedAttributesCount => {
                Value::Int(i64::from(e.dropped_attributes_count))
            }
            SpanEventPath::EventIndex => Value::Int(item.index as i64),
            SpanEventPath::Cache => attrs(item.cache),
            SpanEventPath::Span(p) => get_span(p, item.span),
        })
    }

    fn enum_value(name: &str) -> Option<i64> {
        span_enum(name)
    }

    fn is_attributes(path: &SpanEventPath) -> bool {
        matches!(
            path,
            SpanEventPath::Attributes
                | SpanEventPath::Span(SpanPath::Attributes)
                | SpanEventPath::Span(SpanPath::Resource(ResourcePath::Attributes))
        )
    }

    fn attributes<'a>(path: &'a SpanEventPath, i: SpanEventItem<'a>) -> &'a [KeyValue] {
        match path {
            SpanEventPath::Attributes => &i.event.attributes,
            SpanEventPath::Span(SpanPath::Attributes) => &i.span.span.attributes,
            SpanEventPath::Span(SpanPath::Resource(ResourcePath::Attributes)) => {
                resource_attrs(i.span.resource)
            }
            _ => &[],
        }
    }
}
