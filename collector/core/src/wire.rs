//! Editing OTLP export requests at the protobuf wire level, without decoding them: walking the
//! fields of a message, dropping or replacing items (spans, log records), and replacing the
//! resource of every resource entry. Processors that read a few fields of each item or edit
//! only resources use these to keep a request in its encoded form, so only what they keep or
//! what a later processor must change is ever decoded. Unknown fields are copied as they are.
//!
//! Traces and logs share one layout: request `1: Resource*`, resource entry
//! `1: resource, 2: Scope*`, scope entry `1: scope, 2: item*`; metrics share the first two
//! levels (so [`map_resources`] works for all three signals).

use prost::encoding::{encode_varint, encoded_len_varint};

/// The bytes are not a well-formed protobuf message of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf: {0}")]
pub struct WireError(pub &'static str);

/// The largest field number protobuf allows.
const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub number: u32,
    /// The field as encoded: key, length if any, value.
    pub raw: &'a [u8],
    /// The value: the contents of a length-delimited field, a varint's value, or the
    /// little-endian bits of a fixed-width one.
    pub value: FieldValue<'a>,
}

/// The value of a [`Field`] by wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
    Group,
}

impl<'a> Field<'a> {
    /// The contents of a length-delimited field (a sub-message, string or bytes).
    #[inline]
    pub fn bytes(&self) -> Result<&'a [u8], WireError> {
        match self.value {
            FieldValue::Bytes(b) => Ok(b),
            _ => Err(WireError("expected a length-delimited field")),
        }
    }
}

/// Iterates over the fields of a message; stops after the first error.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// The fields of the message encoded in `buf`.
#[inline]
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf, pos: 0 }
}

#[inline(always)]
fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    // Keys and most lengths are one byte.
    match buf.get(*pos) {
        Some(&b) if b < 0x80 => {
            *pos += 1;
            Ok(u64::from(b))
        }
        _ => read_long_varint(buf, pos),
    }
}

fn read_long_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *buf.get(*pos).ok_or(WireError("truncated varint"))?;
        *pos += 1;
        // The tenth byte may only carry the 64th bit.
        if i == 9 && b > 1 {
            return Err(WireError("varint too long"));
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(WireError("varint too long"))
}

#[inline]
fn advance(buf: &[u8], pos: usize, n: usize) -> Result<usize, WireError> {
    pos.checked_add(n)
        .filter(|e| *e <= buf.len())
        .ok_or(WireError("truncated field"))
}

/// `bytes` as text, if they are valid UTF-8. OTLP keys, names and values are short and nearly
/// always ASCII, which `is_ascii` decides a word at a time; std's validator, which goes byte by
/// byte up to an aligned address (most of the work for a short string), runs only for the rest.
#[inline]
#[allow(unsafe_code)]
pub fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: a sequence of ASCII bytes is valid UTF-8, which is all
        // `from_utf8_unchecked` requires.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

/// The field number of a key, checked: 1 to [`MAX_FIELD_NUMBER`].
#[inline(always)]
pub fn field_number(key: u64) -> Result<u32, WireError> {
    let number = u32::try_from(key >> 3)
        .ok()
        .filter(|n| *n <= MAX_FIELD_NUMBER)
        .ok_or(WireError("field number too large"))?;
    if number == 0 {
        return Err(WireError("field number 0"));
    }
    Ok(number)
}

/// A read position in one message, for readers that match whole keys (field number and wire
/// type together) and then read each value as that field needs it: the fast traces decoder
/// ([`crate::decode`]) and the OTLP receiver's validation walk.
pub struct Cursor<'a> {
    buf: &'a [u8],
    /// The offset of the next byte to read.
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// True while there is something left to read.
    #[inline(always)]
    pub fn more(&self) -> bool {
        self.pos < self.buf.len()
    }

    /// A varint, such as a key.
    #[inline(always)]
    pub fn varint(&mut self) -> Result<u64, WireError> {
        read_varint(self.buf, &mut self.pos)
    }

    /// A length-delimited value (after its key).
    #[inline(always)]
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(self.varint()?).map_err(|_| WireError("length too large"))?;
        let end = advance(self.buf, self.pos, len)?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    /// A fixed-width value of `N` bytes.
    #[inline(always)]
    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let end = advance(self.buf, self.pos, N)?;
        let mut b = [0u8; N];
        b.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(b)
    }

    #[inline(always)]
    pub fn fixed64(&mut self) -> Result<u64, WireError> {
        self.fixed().map(u64::from_le_bytes)
    }

    #[inline(always)]
    pub fn fixed32(&mut self) -> Result<u32, WireError> {
        self.fixed().map(u32::from_le_bytes)
    }

    /// Skips the value of a field with `key`; groups and invalid wire types are errors.
    pub fn skip_value(&mut self, key: u64) -> Result<(), WireError> {
        match key & 7 {
            0 => self.varint().map(drop),
            1 => self.fixed::<8>().map(drop),
            2 => self.bytes().map(drop),
            5 => self.fixed::<4>().map(drop),
            _ => Err(WireError("group or invalid wire type")),
        }
    }

    /// How many fields in a row from `start` have the key found at `start`: the items of a
    /// repeated field, which encoders write together (a capacity hint, so it stops at the
    /// first other or malformed field rather than reading the rest of the message).
    pub fn count_from(&self, start: usize) -> usize {
        let mut c = Cursor {
            buf: self.buf,
            pos: start,
        };
        let Ok(key) = c.varint() else { return 0 };
        c.pos = start;
        let mut n = 0;
        while c.more() {
            match c.varint() {
                Ok(k) if k == key => {}
                _ => break,
            }
            // Repeated messages and strings, the usual case, skip inline: `skip_value` is not
            // inlined here even when marked so (callgrind of (t): 12.8M -> 22.1M instructions
            // in count_from with the call).
            let skipped = match key & 7 {
                2 => c.bytes().map(drop),
                _ => c.skip_value(key),
            };
            if skipped.is_err() {
                break;
            }
            n += 1;
        }
        n
    }
}

impl<'a> Fields<'a> {
    #[inline(always)]
    fn read(&mut self) -> Result<Field<'a>, WireError> {
        let buf = self.buf;
        let start = self.pos;
        let mut pos = self.pos;
        let key = read_varint(buf, &mut pos)?;
        let number = field_number(key)?;
        let value = match key & 7 {
            0 => FieldValue::Varint(read_varint(buf, &mut pos)?),
            1 => {
                let end = advance(buf, pos, 8)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[pos..end]);
                pos = end;
                FieldValue::Fixed64(u64::from_le_bytes(b))
            }
            2 => {
                let len = usize::try_from(read_varint(buf, &mut pos)?)
                    .map_err(|_| WireError("length too large"))?;
                let end = advance(buf, pos, len)?;
                let v = &buf[pos..end];
                pos = end;
                FieldValue::Bytes(v)
            }
            5 => {
                let end = advance(buf, pos, 4)?;
                let mut b = [0u8; 4];
                b.copy_from_slice(&buf[pos..end]);
                pos = end;
                FieldValue::Fixed32(u32::from_le_bytes(b))
            }
            3 => {
                skip_group(buf, &mut pos)?;
                FieldValue::Group
            }
            _ => return Err(WireError("invalid wire type")),
        };
        self.pos = pos;
        Ok(Field {
            number,
            raw: &buf[start..pos],
            value,
        })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let r = self.read();
        if r.is_err() {
            self.pos = self.buf.len();
        }
        Some(r)
    }
}

/// Skips a (deprecated but valid) group up to its end key, nested groups included.
fn skip_group(buf: &[u8], pos: &mut usize) -> Result<(), WireError> {
    let mut open = 1usize;
    while open > 0 {
        let key = read_varint(buf, pos)?;
        match key & 7 {
            0 => {
                read_varint(buf, pos)?;
            }
            1 => *pos = advance(buf, *pos, 8)?,
            2 => {
                let len = usize::try_from(read_varint(buf, pos)?)
                    .map_err(|_| WireError("length too large"))?;
                *pos = advance(buf, *pos, len)?;
            }
            3 => open += 1,
            4 => open -= 1,
            5 => *pos = advance(buf, *pos, 4)?,
            _ => return Err(WireError("invalid wire type")),
        }
    }
    Ok(())
}

/// Appends a length-delimited field.
pub fn put_bytes_field(out: &mut Vec<u8>, number: u32, value: &[u8]) {
    encode_varint(u64::from(number) << 3 | 2, out);
    encode_varint(value.len() as u64, out);
    out.extend_from_slice(value);
}

/// The encoded size of a length-delimited field holding `len` bytes.
pub fn bytes_field_len(number: u32, len: usize) -> usize {
    encoded_len_varint(u64::from(number) << 3 | 2) + encoded_len_varint(len as u64) + len
}

/// The value of the last occurrence of length-delimited field `number` (protobuf's rule for
/// scalar fields), if any.
pub fn last_bytes_field(msg: &[u8], number: u32) -> Result<Option<&[u8]>, WireError> {
    let mut found = None;
    for f in fields(msg) {
        let f = f?;
        if f.number == number {
            found = Some(f.bytes()?);
        }
    }
    Ok(found)
}

/// `msg` with every occurrence of field `number` replaced by one length-delimited field holding
/// `value` (left out when empty, as proto3 encoders do), appended at the end.
pub fn with_bytes_field(msg: &[u8], number: u32, value: &[u8]) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(msg.len() + value.len() + 8);
    for f in fields(msg) {
        let f = f?;
        if f.number != number {
            out.extend_from_slice(f.raw);
        }
    }
    if !value.is_empty() {
        put_bytes_field(&mut out, number, value);
    }
    Ok(out)
}

/// What to do with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Keep,
    Drop,
    /// Keep this encoding of the item instead.
    Replace(Vec<u8>),
}

/// The outcome of [`filter_items`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filtered {
    /// The new request; empty scope and resource entries are left out (as
    /// [`crate::pdata::prune_empty`] does).
    pub bytes: Vec<u8>,
    /// Items kept.
    pub kept: usize,
}

/// Rebuilds a traces or logs export request, asking `edit` about each item (span, log record),
/// in order. Everything but the dropped items and the emptied entries is copied as it is.
pub fn filter_items<E>(
    request: &[u8],
    mut edit: impl FnMut(&[u8]) -> Result<Edit, E>,
) -> Result<Result<Filtered, E>, WireError> {
    let mut out = Vec::with_capacity(request.len() / 4);
    let mut res_buf = Vec::new();
    let mut scope_buf = Vec::new();
    let mut kept = 0usize;
    for rf in fields(request) {
        let rf = rf?;
        if rf.number != 1 {
            out.extend_from_slice(rf.raw);
            continue;
        }
        res_buf.clear();
        let mut res_items = 0usize;
        for sf in fields(rf.bytes()?) {
            let sf = sf?;
            if sf.number != 2 {
                res_buf.extend_from_slice(sf.raw);
                continue;
            }
            scope_buf.clear();
            let mut scope_items = 0usize;
            for item in fields(sf.bytes()?) {
                let item = item?;
                if item.number != 2 {
                    scope_buf.extend_from_slice(item.raw);
                    continue;
                }
                match edit(item.bytes()?) {
                    Err(e) => return Ok(Err(e)),
                    Ok(Edit::Drop) => {}
                    Ok(Edit::Keep) => {
                        scope_buf.extend_from_slice(item.raw);
                        scope_items += 1;
                    }
                    Ok(Edit::Replace(b)) => {
                        put_bytes_field(&mut scope_buf, 2, &b);
                        scope_items += 1;
                    }
                }
            }
            if scope_items > 0 {
                put_bytes_field(&mut res_buf, 2, &scope_buf);
                res_items += scope_items;
            }
        }
        if res_items > 0 {
            put_bytes_field(&mut out, 1, &res_buf);
            kept += res_items;
        }
    }
    Ok(Ok(Filtered { bytes: out, kept }))
}

/// Rebuilds an export request of any signal with the resource of each resource entry replaced
/// by `f(current)`: `current` is the encoded resource (`None` when the entry has none) and `f`
/// returns the new encoding. The rest is copied as it is, in one pass.
pub fn map_resources(
    request: &[u8],
    mut f: impl FnMut(Option<&[u8]>) -> Vec<u8>,
) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(request.len() + request.len() / 8 + 64);
    let mut merged = Vec::new();
    for rf in fields(request) {
        let rf = rf?;
        if rf.number != 1 {
            out.extend_from_slice(rf.raw);
            continue;
        }
        let entry = rf.bytes()?;
        // A message field that occurs more than once is the merge of its occurrences, which is
        // what decoding their concatenation gives.
        let mut current: Option<&[u8]> = None;
        let mut occurrences = 0;
        let mut rest_len = 0;
        for ef in fields(entry) {
            let ef = ef?;
            if ef.number == 1 {
                let b = ef.bytes()?;
                occurrences += 1;
                if occurrences == 2 {
                    merged.clear();
                    merged.extend_from_slice(current.unwrap_or_default());
                }
                if occurrences >= 2 {
                    merged.extend_from_slice(b);
                } else {
                    current = Some(b);
                }
            } else {
                rest_len += ef.raw.len();
            }
        }
        if occurrences >= 2 {
            current = Some(&merged);
        }
        let resource = f(current);
        let len = bytes_field_len(1, resource.len()) + rest_len;
        encode_varint(1 << 3 | 2, &mut out);
        encode_varint(len as u64, &mut out);
        put_bytes_field(&mut out, 1, &resource);
        for ef in fields(entry) {
            let ef = ef?;
            if ef.number != 1 {
                out.extend_from_slice(ef.raw);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
    use crate::proto::common::v1::{any_value::Value as V, AnyValue, KeyValue};
    use crate::proto::resource::v1::Resource;
    use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    #[test]
    fn count_from_counts_the_run_of_one_key() {
        // field 1 "a", field 1 "bc", field 2 varint 7, field 1 "d", then a truncated field 1.
        let buf = [
            0x0a, 1, b'a', 0x0a, 2, b'b', b'c', 0x10, 7, 0x0a, 1, b'd', 0x0a, 9,
        ];
        let c = Cursor::new(&buf);
        assert_eq!(c.count_from(0), 2);
        assert_eq!(c.count_from(3), 1);
        assert_eq!(c.count_from(7), 1);
        assert_eq!(c.count_from(9), 1, "the truncated field is not counted");
        assert_eq!(c.count_from(12), 0);
    }

    fn request() -> ExportTraceServiceRequest {
        let span = |name: &str| Span {
            name: name.into(),
            trace_id: vec![1; 16],
            ..Default::default()
        };
        let resource = |svc: &str| Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(V::StringValue(svc.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(resource("a")),
                    scope_spans: vec![
                        ScopeSpans {
                            spans: vec![span("keep1"), span("drop1")],
                            schema_url: "s1".into(),
                            ..Default::default()
                        },
                        ScopeSpans {
                            spans: vec![span("drop2")],
                            ..Default::default()
                        },
                    ],
                    schema_url: "r1".into(),
                },
                ResourceSpans {
                    resource: None,
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span("keep2"), span("rename")],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn filter_items_drops_replaces_and_prunes_like_the_decoded_edit() {
        let req = request();
        let bytes = req.encode_to_vec();
        let out = filter_items(&bytes, |span| {
            let s = Span::decode(span).unwrap();
            Ok::<_, ()>(match s.name.as_str() {
                n if n.starts_with("drop") => Edit::Drop,
                "rename" => Edit::Replace(
                    Span {
                        name: "renamed".into(),
                        ..s
                    }
                    .encode_to_vec(),
                ),
                _ => Edit::Keep,
            })
        })
        .unwrap()
        .unwrap();
        assert_eq!(out.kept, 3);
        let mut want = req;
        want.resource_spans[0].scope_spans[0].spans.pop();
        want.resource_spans[0].scope_spans.pop();
        want.resource_spans[1].scope_spans[0].spans[1].name = "renamed".into();
        assert_eq!(
            ExportTraceServiceRequest::decode(&*out.bytes).unwrap(),
            want
        );
    }

    #[test]
    fn map_resources_replaces_each_resource_and_keeps_the_rest() {
        let req = request();
        let bytes = req.encode_to_vec();
        let mut seen = vec![];
        let out = map_resources(&bytes, |r| {
            let mut r = r.map(|b| Resource::decode(b).unwrap()).unwrap_or_default();
            seen.push(r.attributes.len());
            r.dropped_attributes_count = 7;
            r.encode_to_vec()
        })
        .unwrap();
        assert_eq!(seen, [1, 0]);
        let mut want = req;
        for rs in &mut want.resource_spans {
            rs.resource
                .get_or_insert_with(Default::default)
                .dropped_attributes_count = 7;
        }
        assert_eq!(ExportTraceServiceRequest::decode(&*out).unwrap(), want);
    }

    #[test]
    fn a_resource_sent_twice_is_merged_as_protobuf_does() {
        let mut bytes = vec![];
        let one = |k: &str| {
            Resource {
                attributes: vec![KeyValue {
                    key: k.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }
            .encode_to_vec()
        };
        let mut entry = vec![];
        put_bytes_field(&mut entry, 1, &one("a"));
        put_bytes_field(&mut entry, 1, &one("b"));
        put_bytes_field(&mut bytes, 1, &entry);
        let out = map_resources(&bytes, |r| {
            let r = Resource::decode(r.unwrap()).unwrap();
            let keys: Vec<_> = r.attributes.iter().map(|kv| kv.key.as_str()).collect();
            assert_eq!(keys, ["a", "b"]);
            r.encode_to_vec()
        })
        .unwrap();
        let decoded = ExportTraceServiceRequest::decode(&*out).unwrap();
        assert_eq!(
            decoded.resource_spans[0]
                .resource
                .as_ref()
                .unwrap()
                .attributes
                .len(),
            2
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let bytes = request().encode_to_vec();
        for cut in 1..bytes.len() {
            let _ = filter_items(&bytes[..cut], |_| Ok::<_, ()>(Edit::Keep));
            let _ = map_resources(&bytes[..cut], |_| vec![]);
        }
        assert!(
            fields(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
                .any(|f| f.is_err())
        );
        assert!(fields(&[0x00, 0x00]).any(|f| f.is_err()), "field number 0");
        assert!(fields(&[0x0a, 0x05, 0x01]).any(|f| f.is_err()), "truncated");
        let scalars: Vec<_> = fields(&[0x08, 0x96, 0x01, 0x15, 1, 0, 0, 0])
            .map(|f| f.unwrap().value)
            .collect();
        assert_eq!(scalars, [FieldValue::Varint(150), FieldValue::Fixed32(1)]);
    }
}
