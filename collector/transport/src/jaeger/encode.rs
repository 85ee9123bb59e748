//! Thrift encoding of the Jaeger model, written by hand from Jaeger's IDL
//! (`exporters/testdata/jaeger/jaeger.thrift` and `agent.thrift`) on the `thrift` crate's
//! protocols: a `Batch` in the binary protocol for the collector's HTTP endpoint, and
//! `Agent.emitBatch` oneway messages in the compact protocol for the agent's UDP port, split so
//! each datagram fits the packet size.
//!
//! ```yaml
//! exporters:
//!   jaeger_thrift: { endpoint: http://jaeger:14268/api/traces }
//! ```

use super::model::{Batch, Log, Process, Span, SpanRef, Tag, TagValue};
use std::ops::Range;
use thrift::protocol::{
    TBinaryOutputProtocol, TCompactOutputProtocol, TFieldIdentifier, TListIdentifier,
    TMessageIdentifier, TMessageType, TOutputProtocol, TStructIdentifier, TType,
};

/// A batch could not be encoded (a list longer than Thrift allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(String);

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed to encode the Jaeger batch: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

impl From<thrift::Error> for EncodeError {
    fn from(e: thrift::Error) -> Self {
        EncodeError(e.to_string())
    }
}

type Out<'o> = &'o mut dyn TOutputProtocol;
type TResult = thrift::Result<()>;

fn strukt(o: Out, body: impl FnOnce(Out) -> TResult) -> TResult {
    o.write_struct_begin(&TStructIdentifier {
        name: String::new(),
    })?;
    body(&mut *o)?;
    o.write_field_stop()?;
    o.write_struct_end()
}

fn field(o: Out, id: i16, field_type: TType, body: impl FnOnce(Out) -> TResult) -> TResult {
    o.write_field_begin(&TFieldIdentifier {
        name: None,
        field_type,
        id: Some(id),
    })?;
    body(&mut *o)?;
    o.write_field_end()
}

fn i64_field(o: Out, id: i16, v: i64) -> TResult {
    field(o, id, TType::I64, |o| o.write_i64(v))
}

fn list<T>(
    o: Out,
    element_type: TType,
    items: &[T],
    mut each: impl FnMut(Out, &T) -> TResult,
) -> TResult {
    let size = i32::try_from(items.len()).map_err(|_| {
        thrift::Error::Protocol(thrift::ProtocolError::new(
            thrift::ProtocolErrorKind::SizeLimit,
            format!("list of {} elements", items.len()),
        ))
    })?;
    o.write_list_begin(&TListIdentifier { element_type, size })?;
    for item in items {
        each(&mut *o, item)?;
    }
    o.write_list_end()
}

fn list_field<T>(o: Out, id: i16, items: &[T], each: impl FnMut(Out, &T) -> TResult) -> TResult {
    field(o, id, TType::List, |o| list(o, TType::Struct, items, each))
}

fn write_tag(o: Out, t: &Tag) -> TResult {
    strukt(o, |o| {
        field(o, 1, TType::String, |o| o.write_string(&t.key))?;
        let v_type = match t.value {
            TagValue::Str(_) => 0,
            TagValue::Double(_) => 1,
            TagValue::Bool(_) => 2,
            TagValue::Long(_) => 3,
            TagValue::Binary(_) => 4,
        };
        field(o, 2, TType::I32, |o| o.write_i32(v_type))?;
        match &t.value {
            TagValue::Str(s) => field(o, 3, TType::String, |o| o.write_string(s)),
            TagValue::Double(d) => field(o, 4, TType::Double, |o| o.write_double(*d)),
            TagValue::Bool(b) => field(o, 5, TType::Bool, |o| o.write_bool(*b)),
            TagValue::Long(l) => i64_field(o, 6, *l),
            TagValue::Binary(b) => field(o, 7, TType::String, |o| o.write_bytes(b)),
        }
    })
}

fn write_log(o: Out, l: &Log) -> TResult {
    strukt(o, |o| {
        i64_field(o, 1, l.timestamp)?;
        list_field(o, 2, &l.fields, write_tag)
    })
}

fn write_ref(o: Out, r: &SpanRef) -> TResult {
    strukt(o, |o| {
        field(o, 1, TType::I32, |o| o.write_i32(r.ref_type as i32))?;
        i64_field(o, 2, r.trace_id_low)?;
        i64_field(o, 3, r.trace_id_high)?;
        i64_field(o, 4, r.span_id)
    })
}

fn write_span(o: Out, s: &Span) -> TResult {
    strukt(o, |o| {
        i64_field(o, 1, s.trace_id_low)?;
        i64_field(o, 2, s.trace_id_high)?;
        i64_field(o, 3, s.span_id)?;
        i64_field(o, 4, s.parent_span_id)?;
        field(o, 5, TType::String, |o| o.write_string(&s.operation_name))?;
        list_field(o, 6, &s.references, write_ref)?;
        field(o, 7, TType::I32, |o| o.write_i32(s.flags))?;
        i64_field(o, 8, s.start_time)?;
        i64_field(o, 9, s.duration)?;
        list_field(o, 10, &s.tags, write_tag)?;
        list_field(o, 11, &s.logs, write_log)
    })
}

fn write_process(o: Out, p: &Process) -> TResult {
    strukt(o, |o| {
        field(o, 1, TType::String, |o| o.write_string(&p.service_name))?;
        list_field(o, 2, &p.tags, write_tag)
    })
}

fn write_batch(o: Out, process: &Process, spans: &[Span]) -> TResult {
    strukt(o, |o| {
        field(o, 1, TType::Struct, |o| write_process(o, process))?;
        list_field(o, 2, spans, write_span)
    })
}

/// The collector's HTTP body: `jaeger.Batch` in the binary protocol.
pub fn binary_batch(b: &Batch) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::with_capacity(256 * (b.spans.len() + 1));
    let mut o = TBinaryOutputProtocol::new(&mut buf, true);
    write_batch(&mut o, &b.process, &b.spans)?;
    Ok(buf)
}

/// One `Agent.emitBatch(1: Batch batch)` oneway message in the compact protocol.
pub fn emit_batch(
    process: &Process,
    spans: &[Span],
    seq: i32,
    buf: &mut Vec<u8>,
) -> thrift::Result<()> {
    let mut o = TCompactOutputProtocol::new(buf);
    o.write_message_begin(&TMessageIdentifier {
        name: "emitBatch".into(),
        message_type: TMessageType::OneWay,
        sequence_number: seq,
    })?;
    strukt(&mut o, |o| {
        field(o, 1, TType::Struct, |o| write_batch(o, process, spans))
    })?;
    o.write_message_end()
}

/// One `Agent.emitBatch` oneway message in the binary protocol (strict header), as the
/// agent's `thrift_binary` UDP port (6832) takes it.
pub fn emit_batch_binary(
    process: &Process,
    spans: &[Span],
    seq: i32,
) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::new();
    let mut o = TBinaryOutputProtocol::new(&mut buf, true);
    o.write_message_begin(&TMessageIdentifier {
        name: "emitBatch".into(),
        message_type: TMessageType::OneWay,
        sequence_number: seq,
    })?;
    strukt(&mut o, |o| {
        field(o, 1, TType::Struct, |o| write_batch(o, process, spans))
    })?;
    o.write_message_end()?;
    Ok(buf)
}

/// A batch as UDP datagrams for the agent.
#[derive(Debug, Default)]
pub struct Datagrams {
    /// Each one `emitBatch` message of at most `max_packet_size` bytes.
    pub packets: Vec<Vec<u8>>,
    /// Spans left out because even alone they do not fit in a datagram.
    pub dropped: usize,
}

/// The compact list header of a list may take this many bytes more than an empty list's.
const LIST_HEADER_SLACK: usize = 5;

/// Splits a batch into `emitBatch` datagrams of at most `max_packet_size` bytes, each carrying
/// the process and as many whole spans as fit. `seq` gives each message's sequence number.
pub fn agent_datagrams(
    b: &Batch,
    max_packet_size: usize,
    mut seq: impl FnMut() -> i32,
) -> Result<Datagrams, EncodeError> {
    let mut scratch = Vec::new();
    emit_batch(&b.process, &[], 0, &mut scratch)?;
    let base = scratch.len() + LIST_HEADER_SLACK;

    // A struct's compact encoding does not depend on what surrounds it, so each span's size
    // alone is its size inside the list.
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut dropped = 0;
    let mut start = 0;
    let mut size = base;
    for (i, span) in b.spans.iter().enumerate() {
        scratch.clear();
        write_span(&mut TCompactOutputProtocol::new(&mut scratch), span)?;
        let n = scratch.len();
        if base + n > max_packet_size {
            dropped += 1;
            if start < i {
                groups.push(start..i);
            }
            start = i + 1;
            size = base;
        } else if size + n > max_packet_size {
            groups.push(start..i);
            start = i;
            size = base + n;
        } else {
            size += n;
        }
    }
    if start < b.spans.len() || b.spans.is_empty() {
        groups.push(start..b.spans.len());
    }

    let mut packets = Vec::with_capacity(groups.len());
    for g in groups {
        let mut buf = Vec::with_capacity(max_packet_size.min(64 * 1024));
        emit_batch(&b.process, &b.spans[g], seq(), &mut buf)?;
        if buf.len() > max_packet_size {
            return Err(EncodeError(format!(
                "datagram of {} bytes exceeds max_packet_size {max_packet_size}",
                buf.len()
            )));
        }
        packets.push(buf);
    }
    Ok(Datagrams { packets, dropped })
}
