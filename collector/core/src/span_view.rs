//! Reading the spans of an encoded traces export request without decoding it: each span's
//! ids, name, kind, times and status code borrowed from the request's bytes, and attribute
//! lookups that scan the encoded attributes. Components that aggregate spans (the span_metrics
//! and service_graph connectors) read a few fields of every span; decoding the whole request
//! would allocate every string of every span, which costs more than the aggregation itself.
//! Resources and scopes, read once per entry, are decoded. A request is located once into a
//! [`SpanIndex`] (each span's fields as offsets into its bytes), which a batch keeps
//! ([`crate::Batch::span_index`]) so that every connector reading the same batch shares it.
//!
//! ```
//! use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
//! use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
//! use ferrotel_core::span_view::{SpanIndex, ValueView};
//! use ferrotel_core::pdata::kv_str;
//! use prost::Message;
//!
//! let span = Span { name: "GET /".into(), kind: 2, attributes: vec![kv_str("http.route", "/")], ..Default::default() };
//! let req = ExportTraceServiceRequest {
//!     resource_spans: vec![ResourceSpans {
//!         scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
//!         ..Default::default()
//!     }],
//! };
//! let index = SpanIndex::new(req.encode_to_vec().into()).unwrap();
//! let entries = index.entries();
//! let s = &entries[0].scopes[0].spans[0];
//! assert_eq!((s.name, s.kind), ("GET /", 2));
//! assert_eq!(s.attribute("http.route"), Some(ValueView::Str("/")));
//! ```

use crate::proto::common::v1::{any_value, AnyValue, InstrumentationScope};
use crate::proto::resource::v1::Resource;
use crate::wire::{fields, Field, FieldValue, WireError};
use bytes::Bytes;
use prost::Message;

/// One resource entry of a traces request: its resource (decoded) and scope entries.
#[derive(Debug)]
pub struct ResourceSpansView<'a> {
    pub resource: &'a Resource,
    pub scopes: Vec<ScopeSpansView<'a>>,
}

/// One scope entry: its scope (decoded, `None` when absent) and spans.
#[derive(Debug)]
pub struct ScopeSpansView<'a> {
    pub scope: Option<&'a InstrumentationScope>,
    pub spans: Vec<SpanView<'a>>,
}

/// The fields of a span aggregators read, borrowed from the encoded span.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanView<'a> {
    /// The whole encoded span (attributes and events are looked up in it).
    pub raw: &'a [u8],
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: &'a [u8],
    pub name: &'a str,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    /// `status.code` (0, unset, when there is no status).
    pub status_code: i32,
}

/// An attribute value as encoded: a string borrowed from the request, or any other value as
/// its encoded `AnyValue` (decoded on demand with [`ValueView::to_value`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueView<'a> {
    Str(&'a str),
    Encoded(&'a [u8]),
}

impl ValueView<'_> {
    /// The decoded value (`None` for an empty `AnyValue`).
    pub fn to_value(&self) -> Option<any_value::Value> {
        match self {
            ValueView::Str(s) => Some(any_value::Value::StringValue((*s).to_string())),
            ValueView::Encoded(b) => AnyValue::decode(*b).ok().and_then(|v| v.value),
        }
    }
}

/// A span event: its name and encoded attributes.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub raw: &'a [u8],
    pub name: &'a str,
}

impl<'a> EventView<'a> {
    /// The first attribute named `key`, as [`SpanView::attribute`].
    pub fn attribute(&self, key: &str) -> Option<ValueView<'a>> {
        find_attribute(self.raw, 3, key)
    }
}

fn utf8(b: &[u8]) -> Result<&str, WireError> {
    crate::wire::utf8(b).ok_or(WireError("invalid UTF-8 in a string field"))
}

impl<'a> SpanView<'a> {
    /// Reads the fixed fields of an encoded span (the last occurrence of each wins, as when
    /// decoding).
    pub fn parse(raw: &'a [u8]) -> Result<SpanView<'a>, WireError> {
        let mut s = SpanView {
            raw,
            ..Default::default()
        };
        for f in fields(raw) {
            let f = f?;
            match (f.number, f.value) {
                (1, FieldValue::Bytes(b)) => s.trace_id = b,
                (2, FieldValue::Bytes(b)) => s.span_id = b,
                (4, FieldValue::Bytes(b)) => s.parent_span_id = b,
                (5, FieldValue::Bytes(b)) => s.name = utf8(b)?,
                (6, FieldValue::Varint(v)) => s.kind = v as i32,
                (7, FieldValue::Fixed64(v)) => s.start_time_unix_nano = v,
                (8, FieldValue::Fixed64(v)) => s.end_time_unix_nano = v,
                (15, FieldValue::Bytes(b)) => {
                    if let Some(code) = status_code(b)? {
                        s.status_code = code;
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// The first attribute named `key` (as [`crate::pdata::attr`] finds it in a decoded span).
    pub fn attribute(&self, key: &str) -> Option<ValueView<'a>> {
        find_attribute(self.raw, 9, key)
    }

    /// The span's attributes in order, as (key, encoded `AnyValue`); one pass over the span
    /// (see [`value_view`] for a value).
    pub fn attributes(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        attributes_of(self.raw, 9)
    }

    /// Of `keys`, the first (in `keys` order) the span has, with its index and value: what
    /// looking each key up in turn finds, in one pass over the attributes.
    pub fn first_of<K: AsRef<str>>(&self, keys: &[K]) -> Option<(usize, ValueView<'a>)> {
        let [best] = self.first_of_each([keys]);
        best
    }

    /// [`SpanView::first_of`] for each of `lists`, in one pass over the attributes.
    pub fn first_of_each<K: AsRef<str>, const N: usize>(
        &self,
        lists: [&[K]; N],
    ) -> [Option<(usize, ValueView<'a>)>; N] {
        let mut best: [Option<(usize, ValueView<'a>)>; N] = [None; N];
        for (k, v) in self.attributes() {
            for (keys, best) in lists.iter().zip(best.iter_mut()) {
                let limit = best.map_or(keys.len(), |(i, _)| i);
                let Some(i) = keys[..limit]
                    .iter()
                    .position(|x| x.as_ref().as_bytes() == k)
                else {
                    continue;
                };
                // Only a matching attribute's value is read.
                if let Some(v) = value_view(v) {
                    *best = Some((i, v));
                }
            }
        }
        best
    }

    /// The span's events, in order; a malformed event ends the iteration.
    pub fn events(&self) -> impl Iterator<Item = EventView<'a>> + 'a {
        fields(self.raw)
            .map_while(Result::ok)
            .filter(|f| f.number == 11)
            .map_while(|f| event(f).ok())
    }
}

fn event(f: Field<'_>) -> Result<EventView<'_>, WireError> {
    let raw = f.bytes()?;
    let mut name = "";
    for g in fields(raw) {
        let g = g?;
        if let (2, FieldValue::Bytes(b)) = (g.number, g.value) {
            name = utf8(b)?;
        }
    }
    Ok(EventView { raw, name })
}

/// The `code` of an encoded `Status`, if it has one.
fn status_code(status: &[u8]) -> Result<Option<i32>, WireError> {
    let mut code = None;
    for f in fields(status) {
        let f = f?;
        if let (3, FieldValue::Varint(v)) = (f.number, f.value) {
            code = Some(v as i32);
        }
    }
    Ok(code)
}

/// The value of the first `KeyValue` named `key` among the fields `number` of `msg`.
fn find_attribute<'a>(msg: &'a [u8], number: u32, key: &str) -> Option<ValueView<'a>> {
    attributes_of(msg, number)
        .find(|(k, _)| *k == key.as_bytes())
        .and_then(|(_, v)| value_view(v))
}

/// The `KeyValue`s among the fields `number` of `msg`, as (key, encoded value); a malformed
/// one ends the iteration.
fn attributes_of(msg: &[u8], number: u32) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    fields(msg)
        .map_while(Result::ok)
        .filter(move |f| f.number == number)
        .map_while(|f| f.bytes().ok())
        .map(|kv| {
            let (mut k, mut v): (&[u8], &[u8]) = (&[], &[]);
            for g in fields(kv).map_while(Result::ok) {
                match (g.number, g.value) {
                    (1, FieldValue::Bytes(b)) => k = b,
                    (2, FieldValue::Bytes(b)) => v = b,
                    _ => {}
                }
            }
            (k, v)
        })
}

/// An encoded `AnyValue`: a string (only field 1) borrowed; anything else kept encoded; `None`
/// if empty (an attribute without a value, as decoding gives).
pub fn value_view(encoded: &[u8]) -> Option<ValueView<'_>> {
    let mut it = fields(encoded);
    match (it.next(), it.next()) {
        (None, _) => None,
        (Some(Ok(f)), None) if f.number == 1 => match f.value {
            FieldValue::Bytes(b) => crate::wire::utf8(b).map(ValueView::Str),
            _ => Some(ValueView::Encoded(encoded)),
        },
        _ => Some(ValueView::Encoded(encoded)),
    }
}

/// Where a part of a request lies in it: offset and length.
#[derive(Debug, Clone, Copy, Default)]
struct At(u32, u32);

impl At {
    /// The place of `part`, a sub-slice of `whole` (an empty one is anywhere).
    fn of(whole: &[u8], part: &[u8]) -> At {
        if part.is_empty() {
            return At::default();
        }
        let offset = part.as_ptr() as usize - whole.as_ptr() as usize;
        At(offset as u32, part.len() as u32)
    }

    fn in_<'a>(&self, whole: &'a [u8]) -> &'a [u8] {
        let start = self.0 as usize;
        &whole[start..start + self.1 as usize]
    }
}

/// A [`SpanView`] as offsets into its request.
#[derive(Debug, Clone, Copy)]
struct SpanAt {
    raw: At,
    trace_id: At,
    span_id: At,
    parent_span_id: At,
    name: At,
    kind: i32,
    status_code: i32,
    start_time_unix_nano: u64,
    end_time_unix_nano: u64,
}

impl SpanAt {
    fn new(request: &[u8], s: &SpanView) -> SpanAt {
        SpanAt {
            raw: At::of(request, s.raw),
            trace_id: At::of(request, s.trace_id),
            span_id: At::of(request, s.span_id),
            parent_span_id: At::of(request, s.parent_span_id),
            name: At::of(request, s.name.as_bytes()),
            kind: s.kind,
            status_code: s.status_code,
            start_time_unix_nano: s.start_time_unix_nano,
            end_time_unix_nano: s.end_time_unix_nano,
        }
    }

    fn view<'a>(&self, request: &'a [u8]) -> SpanView<'a> {
        SpanView {
            raw: self.raw.in_(request),
            trace_id: self.trace_id.in_(request),
            span_id: self.span_id.in_(request),
            parent_span_id: self.parent_span_id.in_(request),
            // Checked when the index was built.
            name: std::str::from_utf8(self.name.in_(request)).unwrap_or_default(),
            kind: self.kind,
            start_time_unix_nano: self.start_time_unix_nano,
            end_time_unix_nano: self.end_time_unix_nano,
            status_code: self.status_code,
        }
    }
}

/// The scope entries of one resource entry: (scope, spans).
type ScopesAt = Vec<(Option<InstrumentationScope>, Vec<SpanAt>)>;

/// An encoded traces export request with every span's fixed fields located: built once
/// (fails on malformed protobuf), read as views by as many aggregators as share it.
#[derive(Debug)]
pub struct SpanIndex {
    request: Bytes,
    resources: Vec<(Resource, ScopesAt)>,
}

impl SpanIndex {
    pub fn new(request: Bytes) -> Result<SpanIndex, WireError> {
        let mut resources = Vec::new();
        for rf in fields(&request) {
            let rf = rf?;
            if rf.number != 1 {
                continue;
            }
            let (mut resource, mut scopes) = (Resource::default(), Vec::new());
            for f in fields(rf.bytes()?) {
                let f = f?;
                match f.number {
                    1 => merge(&mut resource, f.bytes()?)?,
                    2 => scopes.push(scope_spans(&request, f.bytes()?)?),
                    _ => {}
                }
            }
            resources.push((resource, scopes));
        }
        Ok(SpanIndex { request, resources })
    }

    /// The resource entries with their spans, borrowed from the request.
    pub fn entries(&self) -> Vec<ResourceSpansView<'_>> {
        self.resources
            .iter()
            .map(|(resource, scopes)| ResourceSpansView {
                resource,
                scopes: scopes.iter().map(|s| self.scope_view(s)).collect(),
            })
            .collect()
    }

    fn scope_view<'a>(
        &'a self,
        (scope, spans): &'a (Option<InstrumentationScope>, Vec<SpanAt>),
    ) -> ScopeSpansView<'a> {
        ScopeSpansView {
            scope: scope.as_ref(),
            spans: spans.iter().map(|s| s.view(&self.request)).collect(),
        }
    }
}

fn scope_spans<'a>(
    request: &'a [u8],
    raw: &'a [u8],
) -> Result<(Option<InstrumentationScope>, Vec<SpanAt>), WireError> {
    let (mut scope, mut spans) = (None, Vec::new());
    for f in fields(raw) {
        let f = f?;
        match f.number {
            1 => merge(scope.get_or_insert_with(Default::default), f.bytes()?)?,
            2 => spans.push(SpanAt::new(request, &SpanView::parse(f.bytes()?)?)),
            _ => {}
        }
    }
    Ok((scope, spans))
}

/// Decodes a message occurrence into `into`; occurrences merge, as protobuf defines.
fn merge<M: Message>(into: &mut M, raw: &[u8]) -> Result<(), WireError> {
    into.merge(raw)
        .map_err(|_| WireError("malformed resource or scope"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::kv_str;
    use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
    use crate::proto::common::v1::KeyValue;
    use crate::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span, Status};

    fn request(spans: Vec<Span>) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv_str("service.name", "shop")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "express".into(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn reads_what_decoding_reads() {
        let int = KeyValue {
            key: "retries".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(3)),
            }),
            ..Default::default()
        };
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            parent_span_id: vec![3; 8],
            name: "GET /cart".into(),
            kind: 3,
            start_time_unix_nano: 10,
            end_time_unix_nano: 25,
            attributes: vec![kv_str("a", "x"), int, kv_str("a", "second")],
            events: vec![Event {
                name: "exception".into(),
                attributes: vec![kv_str("exception.type", "Timeout")],
                ..Default::default()
            }],
            status: Some(Status {
                code: 2,
                ..Default::default()
            }),
            ..Default::default()
        };
        let index = SpanIndex::new(request(vec![span]).into()).unwrap();
        let entries = index.entries();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.resource.attributes, vec![kv_str("service.name", "shop")]);
        assert_eq!(e.scopes[0].scope.as_ref().unwrap().name, "express");
        let s = &e.scopes[0].spans[0];
        assert_eq!(
            (s.trace_id, s.span_id, s.parent_span_id),
            (&[1u8; 16][..], &[2u8; 8][..], &[3u8; 8][..])
        );
        assert_eq!((s.name, s.kind, s.status_code), ("GET /cart", 3, 2));
        assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (10, 25));
        assert_eq!(s.attribute("a"), Some(ValueView::Str("x")));
        let retries = s.attribute("retries").unwrap();
        assert!(matches!(retries, ValueView::Encoded(_)));
        assert_eq!(retries.to_value(), Some(any_value::Value::IntValue(3)));
        assert_eq!(s.attribute("missing"), None);
        assert_eq!(
            s.first_of(&["missing", "a", "retries"]),
            Some((1, ValueView::Str("x")))
        );
        assert_eq!(s.first_of(&["retries", "a"]).map(|f| f.0), Some(0));
        assert_eq!(s.first_of(&["missing"]), None);
        let events: Vec<_> = s.events().collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name, "exception");
        assert_eq!(
            events[0].attribute("exception.type"),
            Some(ValueView::Str("Timeout"))
        );
    }

    #[test]
    fn a_span_without_status_is_unset_and_garbage_is_an_error() {
        let index = SpanIndex::new(request(vec![Span::default()]).into()).unwrap();
        assert_eq!(index.entries()[0].scopes[0].spans[0].status_code, 0);
        let garbage = |b: &'static [u8]| SpanIndex::new(Bytes::from_static(b)).is_err();
        assert!(garbage(&[0x0a, 0x05, 0x12]));
        assert!(garbage(&[0x0a, 0x02, 0x2a, 0x01, 0xff]));
    }
}
