//! Entries straight to OTLP protobuf bytes: [`LogsEncoder`] encodes each entry as a
//! `LogRecord` the moment it is emitted, grouped by resource and scope name, and assembles an
//! `ExportLogsServiceRequest` from the groups, so no prost structs are built per record. The
//! bytes decode to what [`super::emit::to_request`] builds from the same entries.

use super::operators::Entry;
use bytes::Bytes;
use prost::encoding::encoded_len_varint;
use serde_json::{Map, Value};

/// Bytes left before each scope's records for the request's headers (see
/// [`LogsEncoder::finish`]).
const HEADER_ROOM: usize = 64;

/// Records of one resource, by scope name, encoded (each with its key and length).
struct Group {
    resource: Map<String, Value>,
    scopes: Vec<(String, Vec<u8>)>,
}

/// Encodes entries into one logs export request.
#[derive(Default)]
pub struct LogsEncoder {
    groups: Vec<Group>,
    items: usize,
    /// The group and scope of the last entry.
    last: Option<(usize, usize)>,
}

impl LogsEncoder {
    /// Log records encoded since the last [`LogsEncoder::finish`].
    pub fn len(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Encodes one entry.
    pub fn push(&mut self, e: &Entry) {
        let out = self.records_of(e);
        put_len_key(out, 2, record_len(e));
        put_record(out, e);
        self.items += 1;
    }

    /// Where the records of the entry's resource and scope go.
    fn records_of(&mut self, e: &Entry) -> &mut Vec<u8> {
        // Most often the group of the entry before.
        if let Some((g, s)) = self.last {
            let group = &self.groups[g];
            if group.scopes[s].0 == e.scope_name && group.resource == e.resource {
                return &mut self.groups[g].scopes[s].1;
            }
        }
        let g = match self.groups.iter().position(|g| g.resource == e.resource) {
            Some(g) => g,
            None => {
                self.groups.push(Group {
                    resource: e.resource.clone(),
                    scopes: vec![],
                });
                self.groups.len() - 1
            }
        };
        let scopes = &mut self.groups[g].scopes;
        let s = match scopes.iter().position(|(s, _)| *s == e.scope_name) {
            Some(s) => s,
            None => {
                let mut records = Vec::with_capacity(32 << 10);
                records.resize(HEADER_ROOM, 0);
                scopes.push((e.scope_name.clone(), records));
                scopes.len() - 1
            }
        };
        self.last = Some((g, s));
        &mut scopes[s].1
    }

    /// The request holding everything pushed; the encoder is empty again. Each level's length
    /// is computed before it is written; with one resource and scope (the usual case) the
    /// levels above the records are written into the room left before them, so nothing is
    /// copied, else the records are copied once.
    pub fn finish(&mut self) -> Bytes {
        self.items = 0;
        self.last = None;
        let scope_logs = |(name, records): &(String, Vec<u8>)| {
            field_len(opt_len(name.len())) + records.len() - HEADER_ROOM
        };
        let resource_logs = |g: &Group| {
            field_len(kvs_len(&g.resource))
                + g.scopes
                    .iter()
                    .map(|s| field_len(scope_logs(s)))
                    .sum::<usize>()
        };
        let mut header = Vec::with_capacity(HEADER_ROOM);
        if let [g] = self.groups.as_slice() {
            if let [s] = g.scopes.as_slice() {
                put_resource_header(&mut header, g, resource_logs(g));
                put_scope_header(&mut header, s, scope_logs(s));
            }
        }
        if (1..=HEADER_ROOM).contains(&header.len()) {
            let mut records = std::mem::take(&mut self.groups[0].scopes[0].1);
            self.groups.clear();
            let at = HEADER_ROOM - header.len();
            records[at..HEADER_ROOM].copy_from_slice(&header);
            return Bytes::from(records).slice(at..);
        }
        let total = self
            .groups
            .iter()
            .map(|g| field_len(resource_logs(g)))
            .sum();
        let mut out = Vec::with_capacity(total);
        for g in self.groups.drain(..) {
            put_resource_header(&mut out, &g, resource_logs(&g));
            for s in &g.scopes {
                put_scope_header(&mut out, s, scope_logs(s));
                out.extend_from_slice(&s.1[HEADER_ROOM..]);
            }
        }
        Bytes::from(out)
    }
}

/// A `ResourceLogs` up to its first `ScopeLogs`.
fn put_resource_header(out: &mut Vec<u8>, g: &Group, resource_logs: usize) {
    put_len_key(out, 1, resource_logs);
    put_len_key(out, 1, kvs_len(&g.resource));
    put_kvs(out, 1, &g.resource);
}

/// A `ScopeLogs` up to its records.
fn put_scope_header(out: &mut Vec<u8>, (scope, _): &(String, Vec<u8>), scope_logs: usize) {
    put_len_key(out, 2, scope_logs);
    put_len_key(out, 1, opt_len(scope.len()));
    put_bytes(out, 1, scope.as_bytes());
}

/// A varint; most here (keys, lengths of short strings) are one byte.
#[inline]
fn encode_varint(v: u64, out: &mut Vec<u8>) {
    if v < 0x80 {
        out.push(v as u8);
    } else {
        prost::encoding::encode_varint(v, out);
    }
}

/// Key and length of a length-delimited field.
fn put_len_key(out: &mut Vec<u8>, number: u32, len: usize) {
    encode_varint(u64::from(number) << 3 | 2, out);
    encode_varint(len as u64, out);
}

/// Size of a length-delimited field (field numbers here are all below 16: a one-byte key).
fn field_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// Size of a string or bytes field, left out when empty (proto3 scalar).
fn opt_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        field_len(len)
    }
}

fn put_fixed64(out: &mut Vec<u8>, number: u32, v: u64) {
    if v != 0 {
        encode_varint(u64::from(number) << 3 | 1, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// The `LogRecord` message's size.
fn record_len(e: &Entry) -> usize {
    let fixed64 = |v: u64| if v == 0 { 0 } else { 9 };
    let severity = if e.severity == 0 {
        0
    } else {
        1 + encoded_len_varint(i64::from(e.severity) as u64)
    };
    let flags = if e.trace_flags == 0 { 0 } else { 5 };
    fixed64(e.timestamp.unwrap_or(0))
        + severity
        + opt_len(e.severity_text.len())
        + field_len(any_len(&e.body))
        + kvs_len(&e.attributes)
        + flags
        + opt_len(e.trace_id.len())
        + opt_len(e.span_id.len())
        + fixed64(e.observed)
}

fn put_record(out: &mut Vec<u8>, e: &Entry) {
    put_fixed64(out, 1, e.timestamp.unwrap_or(0));
    if e.severity != 0 {
        encode_varint(2 << 3, out);
        encode_varint(i64::from(e.severity) as u64, out);
    }
    put_bytes(out, 3, e.severity_text.as_bytes());
    put_len_key(out, 5, any_len(&e.body));
    put_any(out, &e.body);
    put_kvs(out, 6, &e.attributes);
    if e.trace_flags != 0 {
        encode_varint(8 << 3 | 5, out);
        out.extend_from_slice(&u32::from(e.trace_flags).to_le_bytes());
    }
    put_bytes(out, 9, &e.trace_id);
    put_bytes(out, 10, &e.span_id);
    put_fixed64(out, 11, e.observed);
}

fn put_bytes(out: &mut Vec<u8>, number: u32, b: &[u8]) {
    if !b.is_empty() {
        put_len_key(out, number, b.len());
        out.extend_from_slice(b);
    }
}

/// Size of a map's entries as a repeated `KeyValue` field.
fn kvs_len(m: &Map<String, Value>) -> usize {
    m.iter().map(|(k, v)| field_len(kv_len(k, v))).sum()
}

fn kv_len(k: &str, v: &Value) -> usize {
    opt_len(k.len()) + field_len(any_len(v))
}

fn put_kvs(out: &mut Vec<u8>, number: u32, m: &Map<String, Value>) {
    for (k, v) in m {
        put_len_key(out, number, kv_len(k, v));
        put_bytes(out, 1, k.as_bytes());
        put_len_key(out, 2, any_len(v));
        put_any(out, v);
    }
}

/// The `AnyValue` message's size (integers stay integers, as [`super::operators::entry::to_any`]).
fn any_len(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 2,
        Value::Number(n) => match n.as_i64() {
            Some(i) => 1 + encoded_len_varint(i as u64),
            None => 9,
        },
        Value::String(s) => field_len(s.len()),
        Value::Array(a) => field_len(a.iter().map(|v| field_len(any_len(v))).sum()),
        Value::Object(m) => field_len(kvs_len(m)),
    }
}

fn put_any(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => {
            encode_varint(2 << 3, out);
            out.push(u8::from(*b));
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => {
                encode_varint(3 << 3, out);
                encode_varint(i as u64, out);
            }
            None => {
                encode_varint(4 << 3 | 1, out);
                out.extend_from_slice(&n.as_f64().unwrap_or_default().to_le_bytes());
            }
        },
        Value::String(s) => {
            put_len_key(out, 1, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            put_len_key(out, 5, a.iter().map(|v| field_len(any_len(v))).sum());
            for v in a {
                put_len_key(out, 1, any_len(v));
                put_any(out, v);
            }
        }
        Value::Object(m) => {
            put_len_key(out, 6, kvs_len(m));
            put_kvs(out, 1, m);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::file_log::emit::to_request;
    use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
    use prost::Message;
    use serde_json::json;

    fn entry(i: u64) -> Entry {
        let mut e = Entry::new(json!(format!("line {i}")), 1_700_000_000_000_000_000 + i);
        e.timestamp = i.is_multiple_of(2).then_some(i * 1000);
        e.severity = (i % 25) as i32;
        e.severity_text = if i.is_multiple_of(3) {
            String::new()
        } else {
            "INFO".into()
        };
        e.attributes.insert("n".into(), json!(i));
        e.attributes.insert("neg".into(), json!(-(i as i64)));
        e.attributes.insert("f".into(), json!(1.5));
        e.attributes
            .insert("s".into(), json!("x".repeat(i as usize * 40)));
        e.attributes.insert(String::new(), json!(null));
        e.attributes.insert(
            "nested".into(),
            json!({"a": [1, "b", true, null, {"c": {}}], "e": []}),
        );
        if i % 4 == 1 {
            e.resource.insert("host".into(), json!("h"));
        }
        if i % 3 == 1 {
            e.scope_name = "scope".into();
        }
        e.trace_id = if i.is_multiple_of(2) {
            vec![7; 16]
        } else {
            vec![]
        };
        e.span_id = vec![9; 8];
        e.trace_flags = (i % 3) as u8;
        e
    }

    #[test]
    fn bytes_decode_to_the_request_built_from_the_entries() {
        let entries: Vec<Entry> = (0..20).map(entry).collect();
        let mut enc = LogsEncoder::default();
        for e in &entries {
            enc.push(e);
        }
        assert_eq!(enc.len(), 20);
        let bytes = enc.finish();
        assert!(enc.is_empty());
        let decoded = ExportLogsServiceRequest::decode(bytes.as_ref()).unwrap();
        let want = to_request(entries);
        assert_eq!(decoded, want);
        assert_eq!(bytes, want.encode_to_vec());
        let one: Vec<Entry> = (0..3).map(|i| entry(i * 12)).collect();
        for e in &one {
            enc.push(e);
        }
        let bytes = enc.finish();
        assert_eq!(bytes, to_request(one).encode_to_vec());
        assert!(enc.finish().is_empty());
    }
}
