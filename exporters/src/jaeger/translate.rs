//! OTLP spans to the Jaeger model, as otelcol-contrib's `pkg/translator/jaeger` did before the
//! Thrift conversion: one [`Batch`] per ResourceSpans, identities as big-endian halves, times in
//! microseconds, OTel-only concepts (kind, status, scope, tracestate) as span tags. The model
//! borrows from the OTLP request, so translating costs a few small vectors per span.

use ferrotel_core::format::{value_as_string, value_to_json};
use ferrotel_core::proto::common::v1::{any_value::Value as V, InstrumentationScope, KeyValue};
use ferrotel_core::proto::trace::v1::{
    span::{Event, SpanKind},
    status::StatusCode,
    ResourceSpans, Span as OtlpSpan,
};
pub(crate) use ferrotel_transport::jaeger::model::{
    Batch, Log, Process, RefType, Span, SpanRef, Tag, TagValue,
};
use std::borrow::Cow;

/// `process.serviceName` of a resource without any attribute.
pub(crate) const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// The Jaeger batch of one ResourceSpans; None when it is skipped (no resource attributes and
/// no ScopeSpans).
pub(crate) fn batch(rs: &ResourceSpans) -> Option<Batch<'_>> {
    let attrs: &[KeyValue] = rs.resource.as_ref().map_or(&[], |r| &r.attributes);
    if attrs.is_empty() && rs.scope_spans.is_empty() {
        return None;
    }
    let n = rs.scope_spans.iter().map(|ss| ss.spans.len()).sum();
    let mut spans = Vec::with_capacity(n);
    for ss in &rs.scope_spans {
        for s in &ss.spans {
            spans.push(span(ss.scope.as_ref(), s));
        }
    }
    Some(Batch {
        process: process(attrs),
        spans,
    })
}

fn process(attrs: &[KeyValue]) -> Process<'_> {
    let mut service_name: Cow<str> = if attrs.is_empty() {
        Cow::Borrowed(NO_SERVICE_NAME)
    } else {
        Cow::Borrowed("")
    };
    let mut tags = Vec::with_capacity(attrs.len());
    for kv in attrs {
        if kv.key == "service.name" {
            service_name = match value(kv) {
                Some(V::StringValue(s)) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(value_as_string(other)),
            };
        } else {
            tags.push(tag(kv));
        }
    }
    Process { service_name, tags }
}

fn value(kv: &KeyValue) -> Option<&V> {
    kv.value.as_ref().and_then(|v| v.value.as_ref())
}

/// An attribute as a tag: scalars keep their type, maps and slices become JSON strings.
fn tag(kv: &KeyValue) -> Tag<'_> {
    let value = match value(kv) {
        None => TagValue::Str(Cow::Borrowed("")),
        Some(V::StringValue(s)) => TagValue::Str(Cow::Borrowed(s)),
        Some(V::BoolValue(b)) => TagValue::Bool(*b),
        Some(V::IntValue(i)) => TagValue::Long(*i),
        Some(V::DoubleValue(d)) => TagValue::Double(*d),
        Some(V::BytesValue(b)) => TagValue::Binary(Cow::Borrowed(b)),
        Some(other) => TagValue::Str(Cow::Owned(value_to_json(Some(other)))),
    };
    Tag {
        key: Cow::Borrowed(&kv.key),
        value,
    }
}

/// Big-endian u64 of `bytes[at..at + 8]` as i64; 0 when the ID is too short.
fn id_half(bytes: &[u8], at: usize) -> i64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, i64::from_be_bytes)
}

fn micros(nanos: u64) -> i64 {
    // u64::MAX / 1000 fits in i64.
    (nanos / 1000) as i64
}

fn span<'a>(scope: Option<&'a InstrumentationScope>, s: &'a OtlpSpan) -> Span<'a> {
    let trace_id_high = id_half(&s.trace_id, 0);
    let trace_id_low = id_half(&s.trace_id, 8);
    let references = references(s, trace_id_high, trace_id_low);
    let parent_span_id = references
        .iter()
        .find(|r| {
            r.ref_type == RefType::ChildOf
                && r.trace_id_high == trace_id_high
                && r.trace_id_low == trace_id_low
        })
        .map_or(0, |r| r.span_id);
    let duration = (i128::from(s.end_time_unix_nano) - i128::from(s.start_time_unix_nano)) / 1000;
    Span {
        trace_id_low,
        trace_id_high,
        span_id: id_half(&s.span_id, 0),
        parent_span_id,
        operation_name: Cow::Borrowed(&s.name),
        references,
        flags: (s.flags & 0x1) as i32,
        start_time: micros(s.start_time_unix_nano),
        duration: duration.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        tags: span_tags(scope, s),
        logs: s.events.iter().map(log).collect(),
    }
}

fn references(s: &OtlpSpan, trace_id_high: i64, trace_id_low: i64) -> Vec<SpanRef> {
    let parent = id_half(&s.parent_span_id, 0);
    let mut refs = Vec::with_capacity(s.links.len() + usize::from(parent != 0));
    if parent != 0 {
        refs.push(SpanRef {
            ref_type: RefType::ChildOf,
            trace_id_low,
            trace_id_high,
            span_id: parent,
        });
    }
    for link in &s.links {
        let ref_type = match link
            .attributes
            .iter()
            .find(|kv| kv.key == "opentracing.ref_type")
            .and_then(value)
        {
            Some(V::StringValue(t)) if t == "child_of" => RefType::ChildOf,
            _ => RefType::FollowsFrom,
        };
        let r = SpanRef {
            ref_type,
            trace_id_low: id_half(&link.trace_id, 8),
            trace_id_high: id_half(&link.trace_id, 0),
            span_id: id_half(&link.span_id, 0),
        };
        let is_parent = parent != 0
            && r.span_id == parent
            && r.trace_id_high == trace_id_high
            && r.trace_id_low == trace_id_low;
        if is_parent {
            refs[0].ref_type = ref_type;
        } else {
            refs.push(r);
        }
    }
    refs
}

fn span_tags<'a>(scope: Option<&'a InstrumentationScope>, s: &'a OtlpSpan) -> Vec<Tag<'a>> {
    let mut tags = Vec::with_capacity(s.attributes.len() + 6);
    if let Some(scope) = scope {
        if !scope.name.is_empty() {
            tags.push(Tag::str("otel.scope.name", scope.name.as_str()));
        }
        if !scope.version.is_empty() {
            tags.push(Tag::str("otel.scope.version", scope.version.as_str()));
        }
    }
    tags.extend(s.attributes.iter().map(tag));
    let kind = match SpanKind::try_from(s.kind) {
        Ok(SpanKind::Client) => Some("client"),
        Ok(SpanKind::Server) => Some("server"),
        Ok(SpanKind::Producer) => Some("producer"),
        Ok(SpanKind::Consumer) => Some("consumer"),
        Ok(SpanKind::Internal) => Some("internal"),
        Ok(SpanKind::Unspecified) | Err(_) => None,
    };
    if let Some(kind) = kind {
        tags.push(Tag::str("span.kind", kind));
    }
    if let Some(status) = &s.status {
        match StatusCode::try_from(status.code) {
            Ok(StatusCode::Ok) => tags.push(Tag::str("otel.status_code", "OK")),
            Ok(StatusCode::Error) => {
                tags.push(Tag::str("otel.status_code", "ERROR"));
                tags.push(Tag {
                    key: Cow::Borrowed("error"),
                    value: TagValue::Bool(true),
                });
            }
            Ok(StatusCode::Unset) | Err(_) => {}
        }
        if !status.message.is_empty() {
            tags.push(Tag::str("otel.status_description", status.message.as_str()));
        }
    }
    if !s.trace_state.is_empty() {
        tags.push(Tag::str("w3c.tracestate", s.trace_state.as_str()));
    }
    tags
}

fn log(e: &Event) -> Log<'_> {
    let mut fields = Vec::with_capacity(e.attributes.len() + 1);
    if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == "event") {
        fields.push(Tag::str("event", e.name.as_str()));
    }
    fields.extend(e.attributes.iter().map(tag));
    Log {
        timestamp: micros(e.time_unix_nano),
        fields,
    }
}
