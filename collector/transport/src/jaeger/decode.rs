//! Reads the Jaeger model from Thrift: a `Batch` in the binary protocol (the collector's
//! `POST /api/traces` body) and `Agent.emitBatch` messages in the compact or binary protocol
//! (the agent's UDP ports 6831 and 6832). Written by hand on the byte slice rather than on the
//! `thrift` crate's input protocols, which allocate whatever a length prefix says (up to
//! 4 GiB) before looking at the input: here every length and list size is checked against the
//! bytes left, strings borrow from the input, and nesting is bounded, so a hostile body costs
//! at most its own size. Required fields are required as in Jaeger's IDL; unknown fields are
//! skipped, as every Thrift reader does.
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols:
//!       thrift_compact: { endpoint: 0.0.0.0:6831 }
//!       thrift_binary: { endpoint: 0.0.0.0:6832 }
//! ```

use super::model::{Batch, Log, Process, RefType, Span, SpanRef, Tag, TagValue};
use std::borrow::Cow;
use std::fmt;

/// Why a payload is not a Jaeger batch; the message names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

fn err<T>(m: impl Into<String>) -> Result<T> {
    Err(DecodeError(m.into()))
}

/// Thrift's field types (binary protocol codes; compact codes are mapped onto these).
mod ttype {
    pub const STOP: u8 = 0;
    pub const BOOL: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const DOUBLE: u8 = 4;
    pub const I16: u8 = 6;
    pub const I32: u8 = 8;
    pub const I64: u8 = 10;
    pub const STRING: u8 = 11;
    pub const STRUCT: u8 = 12;
    pub const MAP: u8 = 13;
    pub const SET: u8 = 14;
    pub const LIST: u8 = 15;
}

/// Deepest nesting of structs and containers skipped as unknown fields.
const MAX_DEPTH: usize = 64;

/// The Thrift message types `emitBatch` may come as.
const MESSAGE_CALL: u8 = 1;
const MESSAGE_ONEWAY: u8 = 4;

/// Which protocol a [`Reader`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Binary,
    Compact,
}

/// A Thrift reader over a byte slice.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    protocol: Protocol,
    /// Compact: the last field id of each open struct.
    last_ids: Vec<i16>,
    /// Compact: a bool field's value, carried in its field header.
    pending_bool: Option<bool>,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], protocol: Protocol) -> Self {
        Reader {
            buf,
            pos: 0,
            protocol,
            last_ids: vec![0],
            pending_bool: None,
        }
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.left() {
            return err(format!(
                "unexpected end of input: {n} bytes wanted at offset {}, {} left",
                self.pos,
                self.left()
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err("varint longer than 10 bytes")
    }

    fn zigzag(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn struct_begin(&mut self) -> Result<()> {
        if self.last_ids.len() > MAX_DEPTH {
            return err(format!("nesting deeper than {MAX_DEPTH}"));
        }
        self.last_ids.push(0);
        Ok(())
    }

    fn struct_end(&mut self) {
        self.last_ids.pop();
    }

    /// The next field's type and id; None at the struct's end.
    fn field(&mut self) -> Result<Option<(u8, i16)>> {
        match self.protocol {
            Protocol::Binary => {
                let t = self.byte()?;
                if t == ttype::STOP {
                    return Ok(None);
                }
                let id = i16::from_be_bytes(self.fixed()?);
                Ok(Some((t, id)))
            }
            Protocol::Compact => self.compact_field(),
        }
    }

    fn compact_field(&mut self) -> Result<Option<(u8, i16)>> {
        let b = self.byte()?;
        if b == 0 {
            return Ok(None);
        }
        let t = match b & 0x0f {
            1 => {
                self.pending_bool = Some(true);
                ttype::BOOL
            }
            2 => {
                self.pending_bool = Some(false);
                ttype::BOOL
            }
            c => compact_type(c)?,
        };
        let delta = i16::from(b >> 4);
        let last = self.last_ids.last().copied().unwrap_or(0);
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?)
                .map_err(|_| DecodeError("field id out of range".into()))?
        } else {
            last.wrapping_add(delta)
        };
        if let Some(l) = self.last_ids.last_mut() {
            *l = id;
        }
        Ok(Some((t, id)))
    }

    fn bool(&mut self) -> Result<bool> {
        if let Some(b) = self.pending_bool.take() {
            return Ok(b);
        }
        let b = self.byte()?;
        Ok(match self.protocol {
            Protocol::Binary => b != 0,
            Protocol::Compact => b == 1,
        })
    }

    fn i16(&mut self) -> Result<i16> {
        match self.protocol {
            Protocol::Binary => Ok(i16::from_be_bytes(self.fixed()?)),
            Protocol::Compact => {
                i16::try_from(self.zigzag()?).map_err(|_| DecodeError("i16 out of range".into()))
            }
        }
    }

    fn i32(&mut self) -> Result<i32> {
        match self.protocol {
            Protocol::Binary => Ok(i32::from_be_bytes(self.fixed()?)),
            Protocol::Compact => {
                i32::try_from(self.zigzag()?).map_err(|_| DecodeError("i32 out of range".into()))
            }
        }
    }

    fn i64(&mut self) -> Result<i64> {
        match self.protocol {
            Protocol::Binary => Ok(i64::from_be_bytes(self.fixed()?)),
            Protocol::Compact => self.zigzag(),
        }
    }

    fn double(&mut self) -> Result<f64> {
        match self.protocol {
            Protocol::Binary => Ok(f64::from_be_bytes(self.fixed()?)),
            Protocol::Compact => Ok(f64::from_le_bytes(self.fixed()?)),
        }
    }

    fn length(&mut self) -> Result<usize> {
        let n = match self.protocol {
            Protocol::Binary => i64::from(i32::from_be_bytes(self.fixed()?)),
            Protocol::Compact => i64::try_from(self.varint()?).unwrap_or(i64::MAX),
        };
        match usize::try_from(n) {
            Ok(n) if n <= self.left() => Ok(n),
            _ => err(format!(
                "length {n} at offset {} exceeds the {} bytes left",
                self.pos,
                self.left()
            )),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.length()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<Cow<'a, str>> {
        Ok(String::from_utf8_lossy(self.bytes()?))
    }

    /// A list's (or set's) element type and size; the size is bounded by the bytes left (every
    /// element takes at least one byte).
    fn list_begin(&mut self) -> Result<(u8, usize)> {
        let (t, n) = match self.protocol {
            Protocol::Binary => {
                let t = self.byte()?;
                (t, i64::from(i32::from_be_bytes(self.fixed()?)))
            }
            Protocol::Compact => {
                let h = self.byte()?;
                let n = match h >> 4 {
                    15 => i64::try_from(self.varint()?).unwrap_or(i64::MAX),
                    n => i64::from(n),
                };
                (compact_elem_type(h & 0x0f)?, n)
            }
        };
        match usize::try_from(n) {
            Ok(n) if n <= self.left() => Ok((t, n)),
            _ => err(format!(
                "list of {n} elements at offset {} exceeds the {} bytes left",
                self.pos,
                self.left()
            )),
        }
    }

    fn map_begin(&mut self) -> Result<(u8, u8, usize)> {
        let (k, v, n) = match self.protocol {
            Protocol::Binary => {
                let (k, v) = (self.byte()?, self.byte()?);
                (k, v, i64::from(i32::from_be_bytes(self.fixed()?)))
            }
            Protocol::Compact => {
                let n = i64::try_from(self.varint()?).unwrap_or(i64::MAX);
                if n == 0 {
                    return Ok((0, 0, 0));
                }
                let kv = self.byte()?;
                (
                    compact_elem_type(kv >> 4)?,
                    compact_elem_type(kv & 0x0f)?,
                    n,
                )
            }
        };
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(2) <= self.left() => Ok((k, v, n)),
            _ => err(format!("map of {n} entries exceeds the bytes left")),
        }
    }

    /// Skips a value of type `t` (an unknown field).
    fn skip(&mut self, t: u8, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return err(format!("nesting deeper than {MAX_DEPTH}"));
        }
        match t {
            ttype::BOOL => self.bool().map(drop),
            ttype::BYTE => self.byte().map(drop),
            ttype::I16 => self.i16().map(drop),
            ttype::I32 => self.i32().map(drop),
            ttype::I64 => self.i64().map(drop),
            ttype::DOUBLE => self.double().map(drop),
            ttype::STRING => self.bytes().map(drop),
            ttype::STRUCT => self.read_struct(|r, t, _| r.skip(t, depth + 1)),
            ttype::LIST | ttype::SET => {
                let (et, n) = self.list_begin()?;
                (0..n).try_for_each(|_| self.skip(et, depth + 1))
            }
            ttype::MAP => {
                let (k, v, n) = self.map_begin()?;
                (0..n).try_for_each(|_| {
                    self.skip(k, depth + 1)?;
                    self.skip(v, depth + 1)
                })
            }
            other => err(format!("unknown Thrift type {other}")),
        }
    }

    /// Reads a struct, calling `field(reader, type, id)` for each field.
    fn read_struct(
        &mut self,
        mut field: impl FnMut(&mut Self, u8, i16) -> Result<()>,
    ) -> Result<()> {
        self.struct_begin()?;
        while let Some((t, id)) = self.field()? {
            field(self, t, id)?;
        }
        self.struct_end();
        Ok(())
    }

    /// A list of structs, each read by `item`.
    fn list_of<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let (t, n) = self.list_begin()?;
        if t != ttype::STRUCT {
            return err(format!(
                "expected a list of structs, found element type {t}"
            ));
        }
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }
}

/// A compact field type as the binary code.
fn compact_type(c: u8) -> Result<u8> {
    Ok(match c {
        3 => ttype::BYTE,
        4 => ttype::I16,
        5 => ttype::I32,
        6 => ttype::I64,
        7 => ttype::DOUBLE,
        8 => ttype::STRING,
        9 => ttype::LIST,
        10 => ttype::SET,
        11 => ttype::MAP,
        12 => ttype::STRUCT,
        other => return err(format!("unknown compact Thrift type {other}")),
    })
}

/// A compact container element type (bools are 1 or 2, written as a byte each).
fn compact_elem_type(c: u8) -> Result<u8> {
    match c {
        1 | 2 => Ok(ttype::BOOL),
        c => compact_type(c),
    }
}

/// Checks a field's wire type against the IDL's.
fn expect(t: u8, want: u8, what: &str) -> Result<()> {
    if t == want {
        Ok(())
    } else {
        err(format!("{what}: wire type {t}, expected {want}"))
    }
}

/// Tracks which required fields a struct had.
struct Required<'n> {
    names: &'n [&'n str],
    seen: u32,
}

impl<'n> Required<'n> {
    fn new(names: &'n [&'n str]) -> Self {
        Required { names, seen: 0 }
    }

    fn saw(&mut self, i: usize) {
        self.seen |= 1 << i;
    }

    fn check(&self, what: &str) -> Result<()> {
        for (i, n) in self.names.iter().enumerate() {
            if self.seen & (1 << i) == 0 {
                return err(format!("required field {what}.{n} is not set"));
            }
        }
        Ok(())
    }
}

/// What a tag's fields said, before its type picks the value.
#[derive(Default)]
struct RawTag<'a> {
    str: Option<Cow<'a, str>>,
    double: f64,
    bool: bool,
    long: i64,
    binary: Option<&'a [u8]>,
}

fn read_tag<'a>(r: &mut Reader<'a>) -> Result<Tag<'a>> {
    let mut key = Cow::Borrowed("");
    let mut v_type = 0i32;
    let mut raw = RawTag::default();
    let mut req = Required::new(&["key", "vType"]);
    r.read_struct(|r, t, id| {
        match (id, t) {
            (1, ttype::STRING) => {
                key = r.string()?;
                req.saw(0);
            }
            (2, ttype::I32) => {
                v_type = r.i32()?;
                req.saw(1);
            }
            (3, ttype::STRING) => raw.str = Some(r.string()?),
            (4, ttype::DOUBLE) => raw.double = r.double()?,
            (5, ttype::BOOL) => raw.bool = r.bool()?,
            (6, ttype::I64) => raw.long = r.i64()?,
            (7, ttype::STRING) => raw.binary = Some(r.bytes()?),
            _ => r.skip(t, 0)?,
        }
        Ok(())
    })?;
    req.check("Tag")?;
    let value = match v_type {
        0 => TagValue::Str(raw.str.unwrap_or_default()),
        1 => TagValue::Double(raw.double),
        2 => TagValue::Bool(raw.bool),
        3 => TagValue::Long(raw.long),
        4 => TagValue::Binary(Cow::Borrowed(raw.binary.unwrap_or_default())),
        // Go's thrift enum prints an unknown value as `<UNSET>`.
        _ => TagValue::Str(Cow::Borrowed("<Unknown Jaeger TagType \"<UNSET>\">")),
    };
    Ok(Tag { key, value })
}

fn read_log<'a>(r: &mut Reader<'a>) -> Result<Log<'a>> {
    let mut log = Log {
        timestamp: 0,
        fields: vec![],
    };
    let mut req = Required::new(&["timestamp", "fields"]);
    r.read_struct(|r, t, id| {
        match (id, t) {
            (1, ttype::I64) => {
                log.timestamp = r.i64()?;
                req.saw(0);
            }
            (2, ttype::LIST) => {
                log.fields = r.list_of(read_tag)?;
                req.saw(1);
            }
            _ => r.skip(t, 0)?,
        }
        Ok(())
    })?;
    req.check("Log")?;
    Ok(log)
}

fn read_ref(r: &mut Reader<'_>) -> Result<SpanRef> {
    let mut s = SpanRef {
        ref_type: RefType::ChildOf,
        trace_id_low: 0,
        trace_id_high: 0,
        span_id: 0,
    };
    let mut req = Required::new(&["refType", "traceIdLow", "traceIdHigh", "spanId"]);
    r.read_struct(|r, t, id| {
        match (id, t) {
            (1, ttype::I32) => {
                s.ref_type = match r.i32()? {
                    0 => RefType::ChildOf,
                    1 => RefType::FollowsFrom,
                    other => return err(format!("SpanRef.refType: unknown value {other}")),
                };
                req.saw(0);
            }
            (2, ttype::I64) => (s.trace_id_low, _) = (r.i64()?, req.saw(1)),
            (3, ttype::I64) => (s.trace_id_high, _) = (r.i64()?, req.saw(2)),
            (4, ttype::I64) => (s.span_id, _) = (r.i64()?, req.saw(3)),
            _ => r.skip(t, 0)?,
        }
        Ok(())
    })?;
    req.check("SpanRef")?;
    Ok(s)
}

const SPAN_REQUIRED: &[&str] = &[
    "traceIdLow",
    "traceIdHigh",
    "spanId",
    "parentSpanId",
    "operationName",
    "flags",
    "startTime",
    "duration",
];

fn read_span<'a>(r: &mut Reader<'a>) -> Result<Span<'a>> {
    let mut s = Span::default();
    let mut req = Required::new(SPAN_REQUIRED);
    r.read_struct(|r, t, id| {
        match (id, t) {
            (1, ttype::I64) => (s.trace_id_low, _) = (r.i64()?, req.saw(0)),
            (2, ttype::I64) => (s.trace_id_high, _) = (r.i64()?, req.saw(1)),
            (3, ttype::I64) => (s.span_id, _) = (r.i64()?, req.saw(2)),
            (4, ttype::I64) => (s.parent_span_id, _) = (r.i64()?, req.saw(3)),
            (5, ttype::STRING) => (s.operation_name, _) = (r.string()?, req.saw(4)),
            (6, ttype::LIST) => s.references = r.list_of(read_ref)?,
            (7, ttype::I32) => (s.flags, _) = (r.i32()?, req.saw(5)),
            (8, ttype::I64) => (s.start_time, _) = (r.i64()?, req.saw(6)),
            (9, ttype::I64) => (s.duration, _) = (r.i64()?, req.saw(7)),
            (10, ttype::LIST) => s.tags = r.list_of(read_tag)?,
            (11, ttype::LIST) => s.logs = r.list_of(read_log)?,
            _ => r.skip(t, 0)?,
        }
        Ok(())
    })?;
    req.check("Span")?;
    Ok(s)
}

fn read_process<'a>(r: &mut Reader<'a>) -> Result<Process<'a>> {
    let mut p = Process::default();
    let mut req = Required::new(&["serviceName"]);
    r.read_struct(|r, t, id| {
        match (id, t) {
            (1, ttype::STRING) => (p.service_name, _) = (r.string()?, req.saw(0)),
            (2, ttype::LIST) => p.tags = r.list_of(read_tag)?,
            _ => r.skip(t, 0)?,
        }
        Ok(())
    })?;
    req.check("Process")?;
    Ok(p)
}

fn read_batch<'a>(r: &mut Reader<'a>) -> Result<Batch<'a>> {
    let mut b = Batch::default();
    let mut req = Required::new(&["process", "spans"]);
    r.read_struct(|r, t, id| {
        match (id, t) {
            (1, ttype::STRUCT) => (b.process, _) = (read_process(r)?, req.saw(0)),
            (2, ttype::LIST) => (b.spans, _) = (r.list_of(read_span)?, req.saw(1)),
            _ => r.skip(t, 0)?,
        }
        Ok(())
    })?;
    req.check("Batch")?;
    Ok(b)
}

/// A `jaeger.Batch` struct in the binary protocol (the collector's HTTP body). Bytes after the
/// struct are ignored, as Go's `TDeserializer` does.
pub fn binary_batch(body: &[u8]) -> std::result::Result<Batch<'_>, DecodeError> {
    read_batch(&mut Reader::new(body, Protocol::Binary))
}

/// A message header: the method name and the message type.
fn message_begin(r: &mut Reader<'_>) -> Result<(String, u8)> {
    match r.protocol {
        Protocol::Compact => {
            let id = r.byte()?;
            if id != 0x82 {
                return err(format!("bad compact protocol id {id:#04x}, expected 0x82"));
            }
            let vt = r.byte()?;
            if vt & 0x1f != 1 {
                return err(format!("bad compact protocol version {}", vt & 0x1f));
            }
            r.varint()?;
            Ok((r.string()?.into_owned(), vt >> 5))
        }
        Protocol::Binary => {
            let first = i32::from_be_bytes(r.fixed()?);
            if first < 0 {
                if (first as u32) & 0xffff_0000 != 0x8001_0000 {
                    return err(format!("bad binary protocol version {first:#010x}"));
                }
                let name = r.string()?.into_owned();
                r.i32()?;
                Ok((name, (first & 0xff) as u8))
            } else {
                r.pos -= 4;
                let name = r.string()?.into_owned();
                let t = r.byte()?;
                r.i32()?;
                Ok((name, t))
            }
        }
    }
}

/// An `Agent.emitBatch(1: Batch batch)` message as a UDP datagram carries it. The batch is
/// None when the arguments hold none.
pub fn agent_message(
    datagram: &[u8],
    protocol: Protocol,
) -> std::result::Result<Option<Batch<'_>>, DecodeError> {
    let mut r = Reader::new(datagram, protocol);
    let (name, message_type) = message_begin(&mut r)?;
    if name != "emitBatch" {
        return err(format!(
            "unsupported Agent method {name:?} (only emitBatch)"
        ));
    }
    if message_type != MESSAGE_ONEWAY && message_type != MESSAGE_CALL {
        return err(format!(
            "unexpected message type {message_type} for emitBatch"
        ));
    }
    let mut batch = None;
    r.read_struct(|r, t, id| {
        if id == 1 {
            expect(t, ttype::STRUCT, "emitBatch.batch")?;
            batch = Some(read_batch(r)?);
            Ok(())
        } else {
            r.skip(t, 0)
        }
    })?;
    Ok(batch)
}

#[cfg(test)]
mod tests;
