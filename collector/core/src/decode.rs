//! A faster decoder for OTLP traces export requests, the payload processors that change spans
//! decode for every request. It builds the same `opentelemetry-proto` types as prost's generated
//! decoder, with less work per field: each repeated field's vector is allocated once at its
//! exact length (prost grows it one push at a time; resource and span attribute lists get room
//! for four more, which processors add) and fields are matched in one loop per
//! message without prost's generic merge layers.
//!
//! It is conservative, like the receiver's `fastcheck`: it answers `Some` only with what prost
//! would produce, and `None` whenever it is unsure — malformed input, a known field with an
//! unexpected wire type, invalid UTF-8, a singular message field sent twice (protobuf merges
//! those), a oneof set twice, groups, nesting deeper than [`MAX_VALUE_DEPTH`], and fields no
//! OTLP exporter sends (resource entity references). The caller then decodes with prost, which
//! gives the exact result or error. Unknown fields are skipped, as prost skips them.
//!
//! ```
//! use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
//! use prost::Message;
//! let req = ExportTraceServiceRequest::default();
//! let bytes = req.encode_to_vec();
//! assert_eq!(ferrotel_core::decode::traces(&bytes), Some(req));
//! ```

use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use crate::wire::{field_number, utf8, Cursor, WireError};

/// Deepest nesting of attribute values (array or map levels) decoded here; deeper values go to
/// prost, which also enforces its recursion limit of 100 message levels.
pub const MAX_VALUE_DEPTH: usize = 25;

/// Unsure: prost must decide.
struct Unsure;
type R<T> = Result<T, Unsure>;

/// Malformed wire data: prost gives the exact error.
impl From<WireError> for Unsure {
    fn from(_: WireError) -> Self {
        Unsure
    }
}

/// The decoded request, or `None` when prost must decide (see the module docs).
pub fn traces(buf: &[u8]) -> Option<ExportTraceServiceRequest> {
    let mut req = ExportTraceServiceRequest::default();
    request(&mut req, buf).ok()?;
    Some(req)
}

// Each message below is read by one loop matching whole keys (field number and wire type, so
// `0x0a` is field 1 length-delimited); a known field number with another wire type is unsure,
// as prost rejects it.

fn request(r: &mut ExportTraceServiceRequest, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => push(&mut r.resource_spans, &mut c, start, resource_spans)?,
            k => skip(&mut c, k, k >> 3 == 1)?,
        }
    }
    Ok(())
}

fn resource_spans(e: &mut ResourceSpans, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => once(&mut e.resource, &mut c, resource)?,
            0x12 => push(&mut e.scope_spans, &mut c, start, scope_spans)?,
            0x1a => e.schema_url = string(&mut c)?,
            k => skip(&mut c, k, k >> 3 <= 3)?,
        }
    }
    Ok(())
}

fn resource(r: &mut Resource, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => push_with_room(&mut r.attributes, &mut c, start, ROOM, key_value)?,
            0x10 => r.dropped_attributes_count = c.varint()? as u32,
            // Entity references (3): no SDK sends them yet; prost decodes them.
            k => skip(&mut c, k, k >> 3 <= 3)?,
        }
    }
    Ok(())
}

fn scope_spans(s: &mut ScopeSpans, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => once(&mut s.scope, &mut c, scope)?,
            0x12 => push(&mut s.spans, &mut c, start, span)?,
            0x1a => s.schema_url = string(&mut c)?,
            k => skip(&mut c, k, k >> 3 <= 3)?,
        }
    }
    Ok(())
}

fn scope(s: &mut InstrumentationScope, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => s.name = string(&mut c)?,
            0x12 => s.version = string(&mut c)?,
            0x1a => push(&mut s.attributes, &mut c, start, key_value)?,
            0x20 => s.dropped_attributes_count = c.varint()? as u32,
            k => skip(&mut c, k, k >> 3 <= 4)?,
        }
    }
    Ok(())
}

fn span(s: &mut Span, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => s.trace_id = c.bytes()?.to_vec(),
            0x12 => s.span_id = c.bytes()?.to_vec(),
            0x1a => s.trace_state = string(&mut c)?,
            0x22 => s.parent_span_id = c.bytes()?.to_vec(),
            0x2a => s.name = string(&mut c)?,
            0x30 => s.kind = c.varint()? as i32,
            0x39 => s.start_time_unix_nano = c.fixed64()?,
            0x41 => s.end_time_unix_nano = c.fixed64()?,
            0x4a => push_with_room(&mut s.attributes, &mut c, start, ROOM, key_value)?,
            0x50 => s.dropped_attributes_count = c.varint()? as u32,
            0x5a => push(&mut s.events, &mut c, start, event)?,
            0x60 => s.dropped_events_count = c.varint()? as u32,
            0x6a => push(&mut s.links, &mut c, start, link)?,
            0x70 => s.dropped_links_count = c.varint()? as u32,
            0x7a => once(&mut s.status, &mut c, status)?,
            0x85 => s.flags = c.fixed32()?,
            k => skip(&mut c, k, k >> 3 <= 16)?,
        }
    }
    Ok(())
}

fn event(e: &mut span::Event, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x09 => e.time_unix_nano = c.fixed64()?,
            0x12 => e.name = string(&mut c)?,
            0x1a => push(&mut e.attributes, &mut c, start, key_value)?,
            0x20 => e.dropped_attributes_count = c.varint()? as u32,
            k => skip(&mut c, k, k >> 3 <= 4)?,
        }
    }
    Ok(())
}

fn link(l: &mut span::Link, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => l.trace_id = c.bytes()?.to_vec(),
            0x12 => l.span_id = c.bytes()?.to_vec(),
            0x1a => l.trace_state = string(&mut c)?,
            0x22 => push(&mut l.attributes, &mut c, start, key_value)?,
            0x28 => l.dropped_attributes_count = c.varint()? as u32,
            0x35 => l.flags = c.fixed32()?,
            k => skip(&mut c, k, k >> 3 <= 6)?,
        }
    }
    Ok(())
}

fn status(s: &mut Status, buf: &[u8]) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        match c.varint()? {
            0x12 => s.message = string(&mut c)?,
            0x18 => s.code = c.varint()? as i32,
            // Field 1 is reserved: prost skips it.
            k => skip(&mut c, k, matches!(k >> 3, 2 | 3))?,
        }
    }
    Ok(())
}

fn key_value(kv: &mut KeyValue, buf: &[u8]) -> R<()> {
    key_value_at(kv, buf, 0)
}

fn key_value_at(kv: &mut KeyValue, buf: &[u8], depth: usize) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        match c.varint()? {
            0x0a => kv.key = string(&mut c)?,
            0x12 => once(&mut kv.value, &mut c, |v, b| any_value(v, b, depth))?,
            0x18 => kv.key_strindex = c.varint()? as i32,
            k => skip(&mut c, k, k >> 3 <= 3)?,
        }
    }
    Ok(())
}

fn any_value(v: &mut AnyValue, buf: &[u8], depth: usize) -> R<()> {
    use any_value::Value;
    let mut c = Cursor::new(buf);
    while c.more() {
        let value = match c.varint()? {
            0x0a => Value::StringValue(string(&mut c)?),
            0x10 => Value::BoolValue(c.varint()? != 0),
            0x18 => Value::IntValue(c.varint()? as i64),
            0x21 => Value::DoubleValue(f64::from_bits(c.fixed64()?)),
            0x2a => Value::ArrayValue(nested(&mut c, depth, array)?),
            0x32 => Value::KvlistValue(nested(&mut c, depth, kvlist)?),
            0x3a => Value::BytesValue(c.bytes()?.to_vec()),
            0x40 => Value::StringValueStrindex(c.varint()? as i32),
            k => {
                skip(&mut c, k, k >> 3 <= 8)?;
                continue;
            }
        };
        // A oneof set twice: prost replaces or merges by variant.
        if v.value.is_some() {
            return Err(Unsure);
        }
        v.value = Some(value);
    }
    Ok(())
}

/// An array or map value one level deeper than `depth`.
fn nested<T: Default>(
    c: &mut Cursor,
    depth: usize,
    fill: fn(&mut T, &[u8], usize) -> R<()>,
) -> R<T> {
    if depth >= MAX_VALUE_DEPTH {
        return Err(Unsure);
    }
    let mut t = T::default();
    fill(&mut t, c.bytes()?, depth + 1)?;
    Ok(t)
}

fn array(a: &mut ArrayValue, buf: &[u8], depth: usize) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => push(&mut a.values, &mut c, start, |v, b| any_value(v, b, depth))?,
            k => skip(&mut c, k, k >> 3 == 1)?,
        }
    }
    Ok(())
}

fn kvlist(l: &mut KeyValueList, buf: &[u8], depth: usize) -> R<()> {
    let mut c = Cursor::new(buf);
    while c.more() {
        let start = c.pos;
        match c.varint()? {
            0x0a => push(&mut l.values, &mut c, start, |kv, b| {
                key_value_at(kv, b, depth)
            })?,
            k => skip(&mut c, k, k >> 3 == 1)?,
        }
    }
    Ok(())
}

/// Room left in resource and span attribute lists for the few attributes processors add
/// (`resource`, `attributes`, transform's `set`): adding them then moves no list.
const ROOM: usize = 4;

/// Decodes a repeated message field's item in place at the end of `items`; on the first item
/// the vector is allocated for all the items with this key from `start` (the key's position)
/// to the end of the message.
#[inline(always)]
fn push<'a, T: Default>(
    items: &mut Vec<T>,
    c: &mut Cursor<'a>,
    start: usize,
    fill: impl FnOnce(&mut T, &'a [u8]) -> R<()>,
) -> R<()> {
    push_with_room(items, c, start, 0, fill)
}

/// [`push`], allocating `room` more items than the message holds.
#[inline(always)]
fn push_with_room<'a, T: Default>(
    items: &mut Vec<T>,
    c: &mut Cursor<'a>,
    start: usize,
    room: usize,
    fill: impl FnOnce(&mut T, &'a [u8]) -> R<()>,
) -> R<()> {
    if items.capacity() == 0 {
        items.reserve_exact(c.count_from(start) + room);
    }
    let body = c.bytes()?;
    items.push(T::default());
    match items.last_mut() {
        Some(item) => fill(item, body),
        None => Err(Unsure),
    }
}

/// Decodes a singular message field in place; a second occurrence (which protobuf merges)
/// is unsure.
#[inline(always)]
fn once<'a, T: Default>(
    slot: &mut Option<T>,
    c: &mut Cursor<'a>,
    fill: impl FnOnce(&mut T, &'a [u8]) -> R<()>,
) -> R<()> {
    if slot.is_some() {
        return Err(Unsure);
    }
    let body = c.bytes()?;
    fill(slot.insert(T::default()), body)
}

/// A string field's value: valid UTF-8, or unsure.
#[inline(always)]
fn string(c: &mut Cursor) -> R<String> {
    utf8(c.bytes()?).map(str::to_owned).ok_or(Unsure)
}

/// Skips the value of a field the caller does not decode: an unknown field number, as prost
/// skips it, or a known one with another wire type, which is unsure (prost rejects it). Field
/// number 0, groups and invalid wire types are unsure too.
fn skip(c: &mut Cursor, key: u64, known: bool) -> R<()> {
    if known {
        return Err(Unsure);
    }
    field_number(key)?;
    Ok(c.skip_value(key)?)
}

#[cfg(test)]
pub(crate) mod tests;
