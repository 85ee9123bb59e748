//! The Jaeger span model as Jaeger's Thrift IDL (`jaeger.thrift`) declares it, shared by the
//! `jaeger` exporter (which fills it from OTLP, borrowing from the request) and the `jaeger`
//! receiver (which decodes it from Thrift or api_v2 protobuf, borrowing from the body where it
//! can). Strings and bytes are [`Cow`]s for that reason.
//!
//! ```yaml
//! receivers:
//!   jaeger: { protocols: { thrift_compact: } }   # reads the model
//! exporters:
//!   jaeger: { endpoint: jaeger-agent:6831 }    # writes it
//! ```

use std::borrow::Cow;

/// A tag value; the variant is Jaeger's `TagType` (STRING=0, DOUBLE=1, BOOL=2, LONG=3,
/// BINARY=4).
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue<'a> {
    Str(Cow<'a, str>),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(Cow<'a, [u8]>),
}

/// `jaeger.Tag`: a key and a typed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag<'a> {
    pub key: Cow<'a, str>,
    pub value: TagValue<'a>,
}

impl<'a> Tag<'a> {
    /// A STRING tag.
    pub fn str(key: impl Into<Cow<'a, str>>, v: impl Into<Cow<'a, str>>) -> Self {
        Tag {
            key: key.into(),
            value: TagValue::Str(v.into()),
        }
    }
}

/// `jaeger.Log`: a timestamp (µs since the epoch) and fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Log<'a> {
    pub timestamp: i64,
    pub fields: Vec<Tag<'a>>,
}

/// Jaeger's `SpanRefType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefType {
    ChildOf = 0,
    FollowsFrom = 1,
}

/// `jaeger.SpanRef`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanRef {
    pub ref_type: RefType,
    pub trace_id_low: i64,
    pub trace_id_high: i64,
    pub span_id: i64,
}

/// `jaeger.Span`; times in µs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Span<'a> {
    pub trace_id_low: i64,
    pub trace_id_high: i64,
    pub span_id: i64,
    pub parent_span_id: i64,
    pub operation_name: Cow<'a, str>,
    pub references: Vec<SpanRef>,
    pub flags: i32,
    pub start_time: i64,
    pub duration: i64,
    pub tags: Vec<Tag<'a>>,
    pub logs: Vec<Log<'a>>,
}

/// `jaeger.Process`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process<'a> {
    pub service_name: Cow<'a, str>,
    pub tags: Vec<Tag<'a>>,
}

/// `jaeger.Batch`: one process and its spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch<'a> {
    pub process: Process<'a>,
    pub spans: Vec<Span<'a>>,
}
