//! A faster encoder for OTLP traces export requests: the batches processors changed (decoded)
//! are encoded again before export. It writes byte for byte what prost's generated
//! `encode_to_vec` writes (fields in tag order, proto3 defaults left out, oneof values always
//! written), in two passes over the request: one that sums the length of every nested message,
//! recording them in visiting order, and one that writes. Prost asks each nested message for its
//! length once per enclosing level, so a span attribute's value is measured six times before it
//! is written; here it is measured once.
//!
//! Both passes are the same functions over a [`Sink`], so they cannot visit fields in a
//! different order. Resource entity references (which no OTLP exporter sends yet) are written
//! by prost.
//!
//! ```
//! use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
//! use prost::Message;
//! let req = ExportTraceServiceRequest::default();
//! assert_eq!(ferrotel_core::encode::traces(&req), req.encode_to_vec());
//! ```

use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::encoding::{encode_varint, encoded_len_varint, message};

/// The protobuf encoding of `req`, the same bytes as prost's `encode_to_vec`.
pub fn traces(req: &ExportTraceServiceRequest) -> Vec<u8> {
    let mut sizer = Sizer::default();
    request(&mut sizer, req);
    let mut writer = Writer {
        sizes: sizer.sizes,
        next: 0,
        out: Vec::with_capacity(sizer.total),
    };
    request(&mut writer, req);
    writer.out
}

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

fn key(field: u32, wire_type: u32) -> u64 {
    u64::from(field << 3 | wire_type)
}

/// Where the fields of a message go: the sizing pass or the writing pass.
trait Sink {
    /// A nested message field, whose fields `body` gives.
    fn message(&mut self, field: u32, body: impl FnOnce(&mut Self));
    /// A length-delimited field (string or bytes), written even when empty.
    fn bytes(&mut self, field: u32, v: &[u8]);
    fn varint(&mut self, field: u32, v: u64);
    fn fixed64(&mut self, field: u32, v: u64);
    fn fixed32(&mut self, field: u32, v: u32);
    /// A message prost encodes.
    fn prost_message<M: prost::Message>(&mut self, field: u32, m: &M);

    // Proto3 scalars: a default value is left out.
    fn opt_bytes(&mut self, field: u32, v: &[u8]) {
        if !v.is_empty() {
            self.bytes(field, v);
        }
    }
    fn opt_varint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.varint(field, v);
        }
    }
    fn opt_fixed64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.fixed64(field, v);
        }
    }
    fn opt_fixed32(&mut self, field: u32, v: u32) {
        if v != 0 {
            self.fixed32(field, v);
        }
    }
}

/// The sizing pass: the total length, and each nested message's length in visiting order.
#[derive(Default)]
struct Sizer {
    sizes: Vec<usize>,
    total: usize,
}

fn key_len(field: u32) -> usize {
    if field < 16 {
        1
    } else {
        2
    }
}

impl Sink for Sizer {
    fn message(&mut self, field: u32, body: impl FnOnce(&mut Self)) {
        let slot = self.sizes.len();
        self.sizes.push(0);
        let start = self.total;
        body(self);
        let len = self.total - start;
        self.sizes[slot] = len;
        self.total += key_len(field) + encoded_len_varint(len as u64);
    }
    fn bytes(&mut self, field: u32, v: &[u8]) {
        self.total += key_len(field) + encoded_len_varint(v.len() as u64) + v.len();
    }
    fn varint(&mut self, field: u32, v: u64) {
        self.total += key_len(field) + encoded_len_varint(v);
    }
    fn fixed64(&mut self, field: u32, _: u64) {
        self.total += key_len(field) + 8;
    }
    fn fixed32(&mut self, field: u32, _: u32) {
        self.total += key_len(field) + 4;
    }
    fn prost_message<M: prost::Message>(&mut self, field: u32, m: &M) {
        self.total += message::encoded_len(field, m);
    }
}

/// The writing pass, with the lengths the sizing pass recorded.
struct Writer {
    sizes: Vec<usize>,
    next: usize,
    out: Vec<u8>,
}

impl Sink for Writer {
    fn message(&mut self, field: u32, body: impl FnOnce(&mut Self)) {
        let len = self.sizes[self.next];
        self.next += 1;
        encode_varint(key(field, LEN), &mut self.out);
        encode_varint(len as u64, &mut self.out);
        body(self);
    }
    fn bytes(&mut self, field: u32, v: &[u8]) {
        encode_varint(key(field, LEN), &mut self.out);
        encode_varint(v.len() as u64, &mut self.out);
        self.out.extend_from_slice(v);
    }
    fn varint(&mut self, field: u32, v: u64) {
        encode_varint(key(field, VARINT), &mut self.out);
        encode_varint(v, &mut self.out);
    }
    fn fixed64(&mut self, field: u32, v: u64) {
        encode_varint(key(field, FIXED64), &mut self.out);
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn fixed32(&mut self, field: u32, v: u32) {
        encode_varint(key(field, FIXED32), &mut self.out);
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn prost_message<M: prost::Message>(&mut self, field: u32, m: &M) {
        message::encode(field, m, &mut self.out);
    }
}

/// An int32 or enum on the wire: negative values sign-extended to ten bytes, as prost does.
fn int32(v: i32) -> u64 {
    i64::from(v) as u64
}

fn request(s: &mut impl Sink, r: &ExportTraceServiceRequest) {
    for rs in &r.resource_spans {
        s.message(1, |s| resource_spans(s, rs));
    }
}

fn resource_spans<S: Sink>(s: &mut S, rs: &ResourceSpans) {
    if let Some(r) = &rs.resource {
        s.message(1, |s| resource(s, r));
    }
    for ss in &rs.scope_spans {
        s.message(2, |s| scope_spans(s, ss));
    }
    s.opt_bytes(3, rs.schema_url.as_bytes());
}

fn resource<S: Sink>(s: &mut S, r: &Resource) {
    attributes(s, 1, &r.attributes);
    s.opt_varint(2, u64::from(r.dropped_attributes_count));
    for e in &r.entity_refs {
        s.prost_message(3, e);
    }
}

fn scope_spans<S: Sink>(s: &mut S, ss: &ScopeSpans) {
    if let Some(scope) = &ss.scope {
        s.message(1, |s| instrumentation_scope(s, scope));
    }
    for sp in &ss.spans {
        s.message(2, |s| span(s, sp));
    }
    s.opt_bytes(3, ss.schema_url.as_bytes());
}

fn instrumentation_scope<S: Sink>(s: &mut S, scope: &InstrumentationScope) {
    s.opt_bytes(1, scope.name.as_bytes());
    s.opt_bytes(2, scope.version.as_bytes());
    attributes(s, 3, &scope.attributes);
    s.opt_varint(4, u64::from(scope.dropped_attributes_count));
}

fn span<S: Sink>(s: &mut S, sp: &Span) {
    s.opt_bytes(1, &sp.trace_id);
    s.opt_bytes(2, &sp.span_id);
    s.opt_bytes(3, sp.trace_state.as_bytes());
    s.opt_bytes(4, &sp.parent_span_id);
    s.opt_bytes(5, sp.name.as_bytes());
    s.opt_varint(6, int32(sp.kind));
    s.opt_fixed64(7, sp.start_time_unix_nano);
    s.opt_fixed64(8, sp.end_time_unix_nano);
    attributes(s, 9, &sp.attributes);
    s.opt_varint(10, u64::from(sp.dropped_attributes_count));
    for e in &sp.events {
        s.message(11, |s| event(s, e));
    }
    s.opt_varint(12, u64::from(sp.dropped_events_count));
    for l in &sp.links {
        s.message(13, |s| link(s, l));
    }
    s.opt_varint(14, u64::from(sp.dropped_links_count));
    if let Some(st) = &sp.status {
        s.message(15, |s| status(s, st));
    }
    s.opt_fixed32(16, sp.flags);
}

fn event<S: Sink>(s: &mut S, e: &span::Event) {
    s.opt_fixed64(1, e.time_unix_nano);
    s.opt_bytes(2, e.name.as_bytes());
    attributes(s, 3, &e.attributes);
    s.opt_varint(4, u64::from(e.dropped_attributes_count));
}

fn link<S: Sink>(s: &mut S, l: &span::Link) {
    s.opt_bytes(1, &l.trace_id);
    s.opt_bytes(2, &l.span_id);
    s.opt_bytes(3, l.trace_state.as_bytes());
    attributes(s, 4, &l.attributes);
    s.opt_varint(5, u64::from(l.dropped_attributes_count));
    s.opt_fixed32(6, l.flags);
}

fn status<S: Sink>(s: &mut S, st: &Status) {
    s.opt_bytes(2, st.message.as_bytes());
    s.opt_varint(3, int32(st.code));
}

fn attributes<S: Sink>(s: &mut S, field: u32, kvs: &[KeyValue]) {
    for kv in kvs {
        s.message(field, |s| key_value(s, kv));
    }
}

fn key_value<S: Sink>(s: &mut S, kv: &KeyValue) {
    s.opt_bytes(1, kv.key.as_bytes());
    if let Some(v) = &kv.value {
        s.message(2, |s| any_value(s, v));
    }
    s.opt_varint(3, int32(kv.key_strindex));
}

fn any_value<S: Sink>(s: &mut S, v: &AnyValue) {
    use any_value::Value as V;
    match &v.value {
        None => {}
        Some(V::StringValue(x)) => s.bytes(1, x.as_bytes()),
        Some(V::BoolValue(b)) => s.varint(2, u64::from(*b)),
        Some(V::IntValue(i)) => s.varint(3, *i as u64),
        Some(V::DoubleValue(d)) => s.fixed64(4, d.to_bits()),
        Some(V::ArrayValue(a)) => s.message(5, |s| {
            for x in &a.values {
                s.message(1, |s| any_value(s, x));
            }
        }),
        Some(V::KvlistValue(l)) => s.message(6, |s| attributes(s, 1, &l.values)),
        Some(V::BytesValue(b)) => s.bytes(7, b),
        Some(V::StringValueStrindex(i)) => s.varint(8, int32(*i)),
    }
}

#[cfg(test)]
mod tests;
