//! The `log` context (otelcol's ottllog): a log record's paths, `body` with map keys and list
//! indexes and `body.string`, the ids as bytes or hex strings, both timestamps as nanoseconds or
//! times, and the parents' `resource.*` and `instrumentation_scope.*` (also `scope.*`); a path
//! may start with `log.`. Enums: `SEVERITY_NUMBER_*`.
//!
//! ```yaml
//! connectors:
//!   count:
//!     logs:
//!       error.log.count:
//!         conditions:
//!           - 'severity_number >= SEVERITY_NUMBER_ERROR and body["msg"] != nil'
//!           - 'IsMatch(body.string, "timeout") and resource.attributes["env"] == "prod"'
//! ```

use crate::ast::{self, Key};
use crate::compile::Context;
use crate::contexts::{
    attrs, invalid, last_keys, names, resource_attrs, span_id, strip_context, trace_id,
    ResourcePath,
};
use crate::error::EvalError;
use crate::parents::{get_parent, parent_path, ParentPath};
use crate::value::{string_like, Value};
use base64::Engine;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::proto::resource::v1::Resource;
use std::borrow::Cow;

/// A log record with its scope and resource.
#[derive(Debug, Clone, Copy)]
pub struct LogItem<'a> {
    pub log: &'a LogRecord,
    /// The statements' temporary map (otelcol's `cache`), empty for conditions.
    pub cache: &'a [KeyValue],
    pub scope: Option<&'a InstrumentationScope>,
    pub resource: Option<&'a Resource>,
}

/// Paths of a log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPath {
    /// `cache`: the statements' temporary map.
    Cache,
    TimeUnixNano,
    ObservedTimeUnixNano,
    Time,
    ObservedTime,
    SeverityNumber,
    SeverityText,
    Body,
    /// `body[...]`: the body must be a map or a list.
    BodyIndexed,
    /// `body.string`: the body as a string (maps and lists as JSON).
    BodyString,
    Attributes,
    DroppedAttributesCount,
    Flags,
    TraceId,
    TraceIdString,
    SpanId,
    SpanIdString,
    EventName,
    Parent(ParentPath),
}

fn own_path(fields: &[ast::Field]) -> Option<LogPath> {
    use LogPath::*;
    Some(match names(fields) {
        ("cache", None, None) => Cache,
        ("time_unix_nano", None, None) => TimeUnixNano,
        ("observed_time_unix_nano", None, None) => ObservedTimeUnixNano,
        ("time", None, None) => Time,
        ("observed_time", None, None) => ObservedTime,
        ("severity_number", None, None) => SeverityNumber,
        ("severity_text", None, None) => SeverityText,
        ("body", None, None) if fields[0].keys.is_empty() => Body,
        ("body", None, None) => BodyIndexed,
        ("body", Some("string"), None) => BodyString,
        ("attributes", None, None) => Attributes,
        ("dropped_attributes_count", None, None) => DroppedAttributesCount,
        ("flags", None, None) => Flags,
        ("trace_id", None, None) => TraceId,
        ("trace_id", Some("string"), None) => TraceIdString,
        ("span_id", None, None) => SpanId,
        ("span_id", Some("string"), None) => SpanIdString,
        ("event_name", None, None) => EventName,
        _ => return None,
    })
}

/// The `log` context.
#[derive(Debug)]
pub struct LogContext;

impl Context for LogContext {
    crate::lambda_host!();

    const NAME: &'static str = "log";
    type Item<'a> = LogItem<'a>;
    type Path = LogPath;

    fn path(path: &ast::Path) -> Result<(LogPath, Vec<Key>), String> {
        let fields = strip_context(&path.fields, "log");
        let p = own_path(fields)
            .or_else(|| parent_path(fields).map(LogPath::Parent))
            .ok_or_else(|| invalid(path, Self::NAME))?;
        Ok((p, last_keys(path, fields, Self::NAME)?))
    }

    fn get<'a>(path: &'a LogPath, item: LogItem<'a>) -> Result<Value<'a>, EvalError> {
        get_log(path, item)
    }

    fn enum_value(name: &str) -> Option<i64> {
        severity_enum(name)
    }

    const OWN_CONVERTERS: &'static [&'static str] = crate::converters::log_formats::CONVERTERS;

    fn own_converter(
        name: &str,
        args: Vec<crate::compile::CompiledArg<Self>>,
    ) -> Result<Box<dyn crate::compile::Function<Self>>, String> {
        crate::converters::log_formats::converter(name, args)
    }

    fn is_attributes(path: &LogPath) -> bool {
        matches!(
            path,
            LogPath::Attributes | LogPath::Parent(ParentPath::Resource(ResourcePath::Attributes))
        )
    }

    fn attributes<'a>(path: &'a LogPath, i: LogItem<'a>) -> &'a [KeyValue] {
        match path {
            LogPath::Attributes => &i.log.attributes,
            LogPath::Parent(ParentPath::Resource(ResourcePath::Attributes)) => {
                resource_attrs(i.resource)
            }
            _ => &[],
        }
    }
}

/// otelcol's `SEVERITY_NUMBER_*` enums (the OTLP numbers, `UNSPECIFIED` 0 to `FATAL4` 24).
pub fn severity_enum(name: &str) -> Option<i64> {
    const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    if rest == "UNSPECIFIED" {
        return Some(0);
    }
    let level = rest.trim_end_matches(['2', '3', '4']);
    let step = match &rest[level.len()..] {
        "" => 0,
        "2" => 1,
        "3" => 2,
        "4" => 3,
        _ => return None,
    };
    let base = LEVELS.iter().position(|l| *l == level)? as i64;
    Some(base * 4 + 1 + step)
}

/// pdata's value type names, as otelcol's messages show them.
fn body_type(body: Option<&AnyValue>) -> &'static str {
    use any_value::Value as V;
    match body.and_then(|b| b.value.as_ref()) {
        None | Some(V::StringValueStrindex(_)) => "Empty",
        Some(V::StringValue(_)) => "Str",
        Some(V::BoolValue(_)) => "Bool",
        Some(V::IntValue(_)) => "Int",
        Some(V::DoubleValue(_)) => "Double",
        Some(V::BytesValue(_)) => "Bytes",
        Some(V::ArrayValue(_)) => "Slice",
        Some(V::KvlistValue(_)) => "Map",
    }
}

fn body(b: Option<&AnyValue>) -> Value<'_> {
    b.map_or(Value::Nil, Value::from_any)
}

/// pdata's `Value.AsString()`: bytes as base64, empty as "", the rest as OTTL's string form.
fn body_string(b: Option<&AnyValue>) -> Value<'_> {
    match body(b) {
        Value::Bytes(bytes) => Value::Str(Cow::Owned(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        )),
        v => Value::Str(string_like(&v).map_or(Cow::Borrowed(""), |s| Cow::Owned(s.into_owned()))),
    }
}

fn get_log<'a>(path: &'a LogPath, item: LogItem<'a>) -> Result<Value<'a>, EvalError> {
    use LogPath::*;
    let l = item.log;
    Ok(match path {
        Cache => Value::Map(Cow::Borrowed(item.cache)),
        TimeUnixNano => Value::Int(l.time_unix_nano as i64),
        ObservedTimeUnixNano => Value::Int(l.observed_time_unix_nano as i64),
        Time => Value::Time(l.time_unix_nano as i64),
        ObservedTime => Value::Time(l.observed_time_unix_nano as i64),
        SeverityNumber => Value::Int(i64::from(l.severity_number)),
        SeverityText => Value::Str(Cow::Borrowed(&l.severity_text)),
        Body => body(l.body.as_ref()),
        BodyIndexed => match body(l.body.as_ref()) {
            v @ (Value::Map(_) | Value::List(_)) => v,
            _ => {
                return Err(EvalError::new(format!(
                    "log bodies of type {} cannot be indexed",
                    body_type(l.body.as_ref())
                )))
            }
        },
        BodyString => body_string(l.body.as_ref()),
        Attributes => attrs(&l.attributes),
        DroppedAttributesCount => Value::Int(i64::from(l.dropped_attributes_count)),
        Flags => Value::Int(i64::from(l.flags)),
        TraceId => Value::TraceId(trace_id(&l.trace_id)),
        TraceIdString => Value::Str(Cow::Owned(hex::encode(trace_id(&l.trace_id)))),
        SpanId => Value::SpanId(span_id(&l.span_id)),
        SpanIdString => Value::Str(Cow::Owned(hex::encode(span_id(&l.span_id)))),
        EventName => Value::Str(Cow::Borrowed(&l.event_name)),
        Parent(p) => get_parent(*p, item.scope, item.resource),
    })
}
