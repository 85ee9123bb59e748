//! Jaeger's api_v2 protobuf messages (`jaeger.api_v2`, from jaeger-idl's `model.proto` and
//! `collector.proto`, field numbers as there), declared by hand with prost, and their reading
//! into the shared Jaeger [`model`](ferrotel_transport::jaeger::model): trace ids are 16
//! big-endian bytes (high, low), span ids 8; the parent is carried by the references only.
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols:
//!       grpc: { endpoint: 0.0.0.0:14250 }
//! ```

use ferrotel_transport::jaeger::model::{self, RefType, TagValue};
use std::borrow::Cow;

/// `jaeger.api_v2.PostSpansRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostSpansRequest {
    #[prost(message, optional, tag = "1")]
    pub batch: Option<Batch>,
}

/// `jaeger.api_v2.Batch`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Batch {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
    #[prost(message, optional, tag = "2")]
    pub process: Option<Process>,
}

/// `jaeger.api_v2.Process`.
#[derive(Clone, PartialEq, Hash, Eq, prost::Message)]
pub struct Process {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(message, repeated, tag = "2")]
    pub tags: Vec<KeyValue>,
}

/// `jaeger.api_v2.KeyValue`; `v_type` is `ValueType` (STRING=0, BOOL=1, INT64=2, FLOAT64=3,
/// BINARY=4).
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(int32, tag = "2")]
    pub v_type: i32,
    #[prost(string, tag = "3")]
    pub v_str: String,
    #[prost(bool, tag = "4")]
    pub v_bool: bool,
    #[prost(int64, tag = "5")]
    pub v_int64: i64,
    #[prost(double, tag = "6")]
    pub v_float64: f64,
    #[prost(bytes = "vec", tag = "7")]
    pub v_binary: Vec<u8>,
}

impl Eq for KeyValue {}

impl std::hash::Hash for KeyValue {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (
            &self.key,
            self.v_type,
            &self.v_str,
            self.v_bool,
            self.v_int64,
        )
            .hash(h);
        self.v_float64.to_bits().hash(h);
        self.v_binary.hash(h);
    }
}

/// `jaeger.api_v2.SpanRef`; `ref_type` CHILD_OF=0, FOLLOWS_FROM=1.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanRef {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(int32, tag = "3")]
    pub ref_type: i32,
}

/// `jaeger.api_v2.Log`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Log {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<prost_types_lite::Timestamp>,
    #[prost(message, repeated, tag = "2")]
    pub fields: Vec<KeyValue>,
}

/// `jaeger.api_v2.Span`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Span {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub operation_name: String,
    #[prost(message, repeated, tag = "4")]
    pub references: Vec<SpanRef>,
    #[prost(uint32, tag = "5")]
    pub flags: u32,
    #[prost(message, optional, tag = "6")]
    pub start_time: Option<prost_types_lite::Timestamp>,
    #[prost(message, optional, tag = "7")]
    pub duration: Option<prost_types_lite::Duration>,
    #[prost(message, repeated, tag = "8")]
    pub tags: Vec<KeyValue>,
    #[prost(message, repeated, tag = "9")]
    pub logs: Vec<Log>,
    #[prost(message, optional, tag = "10")]
    pub process: Option<Process>,
    #[prost(string, tag = "11")]
    pub process_id: String,
    #[prost(string, repeated, tag = "12")]
    pub warnings: Vec<String>,
}

/// `google.protobuf.Timestamp` and `Duration`, the two fields the model uses.
pub mod prost_types_lite {
    /// `google.protobuf.Timestamp`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    /// `google.protobuf.Duration`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Duration {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// A trace id's halves: gogoproto's `TraceID.Unmarshal` wants 16 bytes (empty is zero).
fn trace_id(b: &[u8]) -> Result<(i64, i64), String> {
    match b.len() {
        0 => Ok((0, 0)),
        16 => Ok((half(&b[..8]), half(&b[8..]))),
        n => Err(format!(
            "invalid length for TraceID: {n} bytes, expected 16"
        )),
    }
}

fn span_id(b: &[u8]) -> Result<i64, String> {
    match b.len() {
        0 => Ok(0),
        8 => Ok(half(b)),
        n => Err(format!("invalid length for SpanID: {n} bytes, expected 8")),
    }
}

fn half(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    i64::from_be_bytes(a)
}

/// Nanoseconds since the epoch as a timestamp (saturating); the model keeps µs, so the proto
/// path carries nanoseconds beside it (see [`ProtoSpan`]).
fn timestamp_nanos(t: Option<&prost_types_lite::Timestamp>) -> i128 {
    t.map_or(0, |t| {
        i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
    })
}

fn duration_nanos(d: Option<&prost_types_lite::Duration>) -> i128 {
    d.map_or(0, |d| {
        i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos)
    })
}

/// A tag of the model from a KeyValue; an unknown type becomes the string otelcol writes.
pub(crate) fn tag(kv: &KeyValue) -> model::Tag<'_> {
    let value = match kv.v_type {
        0 => TagValue::Str(Cow::Borrowed(&kv.v_str)),
        1 => TagValue::Bool(kv.v_bool),
        2 => TagValue::Long(kv.v_int64),
        3 => TagValue::Double(kv.v_float64),
        4 => TagValue::Binary(Cow::Borrowed(&kv.v_binary)),
        other => TagValue::Str(Cow::Owned(format!("<Unknown Jaeger TagType \"{other}\">"))),
    };
    model::Tag {
        key: Cow::Borrowed(&kv.key),
        value,
    }
}

/// A span of the api_v2 model with its times in nanoseconds (protobuf carries them so).
pub(crate) struct ProtoSpan<'a> {
    pub span: model::Span<'a>,
    pub start_nanos: i128,
    pub end_nanos: i128,
    pub log_nanos: Vec<i128>,
}

/// A span in the model; ids of a wrong length are an error (as gogoproto's unmarshalling).
pub(crate) fn span(s: &Span) -> Result<ProtoSpan<'_>, String> {
    let (trace_id_high, trace_id_low) = trace_id(&s.trace_id)?;
    let references = s
        .references
        .iter()
        .map(|r| {
            let (high, low) = trace_id(&r.trace_id)?;
            Ok(model::SpanRef {
                ref_type: if r.ref_type == 1 {
                    RefType::FollowsFrom
                } else {
                    RefType::ChildOf
                },
                trace_id_low: low,
                trace_id_high: high,
                span_id: span_id(&r.span_id)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let start_nanos = timestamp_nanos(s.start_time.as_ref());
    let span = model::Span {
        trace_id_low,
        trace_id_high,
        span_id: span_id(&s.span_id)?,
        parent_span_id: 0,
        operation_name: Cow::Borrowed(&s.operation_name),
        references,
        flags: s.flags as i32,
        start_time: 0,
        duration: 0,
        tags: s.tags.iter().map(tag).collect(),
        logs: s
            .logs
            .iter()
            .map(|l| model::Log {
                timestamp: 0,
                fields: l.fields.iter().map(tag).collect(),
            })
            .collect(),
    };
    Ok(ProtoSpan {
        span,
        start_nanos,
        end_nanos: start_nanos + duration_nanos(s.duration.as_ref()),
        log_nanos: s
            .logs
            .iter()
            .map(|l| timestamp_nanos(l.timestamp.as_ref()))
            .collect(),
    })
}
