//! Jaeger spans to OTLP, as otelcol-contrib's `pkg/translator/jaeger` (`ThriftToTraces` for
//! Thrift batches, `ProtoToTraces` for api_v2 ones):
//!
//! - process: `service.name` from the service name (none when it is empty; for protobuf none
//!   at all when it is `OTLPResourceNoServiceName`), the tags as attributes; `hostname` becomes
//!   `host.name` and `jaeger.version` `opencensus.exporterversion: Jaeger-<v>` unless those are
//!   already there;
//! - ids from the high/low halves; the parent is `parentSpanId`, else the first CHILD_OF
//!   reference of the same trace, else the first FOLLOWS_FROM one; every other reference is a
//!   link with `opentracing.ref_type` (`child_of` / `follows_from`);
//! - tags become attributes (a repeated key keeps its first place and last value, as
//!   `pcommon.Map`, whose removal moves the last attribute into the hole); `span.kind` sets the kind, `error=true` / `otel.status_code` /
//!   `otel.status_description` / `http.status_code` set the status with otelcol's precedence,
//!   and those tags are removed; the sampled flag is carried;
//! - protobuf only: `otel.scope.name` / `otel.scope.version` select the ScopeSpans,
//!   `w3c.tracestate` the trace state, spans with a process of their own get their resource;
//! - logs become events named by their `event` field.
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols: { thrift_http: , grpc: }
//! ```

use super::proto;
use ferrotel_core::pdata::attr;
use ferrotel_core::proto::common::v1::{
    any_value::Value as AV, AnyValue, InstrumentationScope, KeyValue,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::span::{Event, Link, SpanKind};
use ferrotel_core::proto::trace::v1::status::StatusCode;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_transport::jaeger::model::{self, RefType, TagValue};
use std::collections::HashMap;

/// `process.serviceName` the OTLP->Jaeger translation writes for a resource without attributes.
const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
/// OTLP's sampled bit in `Span.flags`, Jaeger's too.
const SAMPLED: u32 = 0x1;

/// Which of otelcol's two translators to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `ThriftToTraces`: one ScopeSpans without a scope; no trace state.
    Thrift,
    /// `ProtoToTraces`: spans grouped by `otel.scope.*`; `w3c.tracestate` read.
    Proto,
}

/// Times of a span in ns since the epoch.
pub(crate) struct Times<'t> {
    pub start: u64,
    pub end: u64,
    /// One per log, in order.
    pub logs: &'t [u64],
}

fn any(v: AV) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

fn value(v: &TagValue) -> AV {
    match v {
        TagValue::Str(s) => AV::StringValue(s.to_string()),
        TagValue::Bool(b) => AV::BoolValue(*b),
        TagValue::Long(l) => AV::IntValue(*l),
        TagValue::Double(d) => AV::DoubleValue(*d),
        TagValue::Binary(b) => AV::BytesValue(b.to_vec()),
    }
}

/// Tags as attributes with `pcommon.Map`'s `Put*`: a repeated key keeps its first position and
/// takes the last value. `into` may already hold attributes (`service.name`).
fn put_tags(tags: &[model::Tag], into: &mut Vec<KeyValue>) {
    into.reserve(tags.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    let indexed = tags.len() + into.len() > 16;
    if indexed {
        for (i, kv) in into.iter().enumerate() {
            index.entry(kv.key.clone()).or_insert(i);
        }
    }
    for t in tags {
        let found = if indexed {
            index.get(t.key.as_ref()).copied()
        } else {
            into.iter().position(|kv| kv.key == t.key)
        };
        match found {
            Some(i) => into[i].value = any(value(&t.value)),
            None => {
                if indexed {
                    index.insert(t.key.to_string(), into.len());
                }
                into.push(KeyValue {
                    key: t.key.to_string(),
                    value: any(value(&t.value)),
                    ..Default::default()
                });
            }
        }
    }
}

/// `pcommon.Map.Remove`: the last attribute takes the removed one's place.
fn delete(attrs: &mut Vec<KeyValue>, key: &str) {
    if let Some(i) = attrs.iter().position(|kv| kv.key == key) {
        attrs.swap_remove(i);
    }
}

/// `Value.Str()`: the string, or "" for another type.
fn str_of<'v>(attrs: &'v [KeyValue], key: &str) -> Option<&'v str> {
    attr(attrs, key).map(|v| match v {
        AV::StringValue(s) => s.as_str(),
        _ => "",
    })
}

/// The resource of a process.
pub(crate) fn resource(p: Option<&model::Process>, flavor: Flavor) -> Resource {
    let mut attrs = vec![];
    let Some(p) = p else {
        return Resource::default();
    };
    if flavor == Flavor::Proto && p.service_name == NO_SERVICE_NAME {
        return Resource::default();
    }
    if !p.service_name.is_empty() {
        attrs.push(KeyValue {
            key: "service.name".into(),
            value: any(AV::StringValue(p.service_name.to_string())),
            ..Default::default()
        });
    }
    put_tags(&p.tags, &mut attrs);
    rename_hostname(&mut attrs);
    rename_jaeger_version(&mut attrs);
    Resource {
        attributes: attrs,
        ..Default::default()
    }
}

fn rename_hostname(attrs: &mut Vec<KeyValue>) {
    if attr(attrs, "host.name").is_some() {
        return;
    }
    if let Some(v) = attrs
        .iter()
        .find(|kv| kv.key == "hostname")
        .map(|kv| kv.value.clone())
    {
        attrs.push(KeyValue {
            key: "host.name".into(),
            value: v,
            ..Default::default()
        });
        delete(attrs, "hostname");
    }
}

fn rename_jaeger_version(attrs: &mut Vec<KeyValue>) {
    if attr(attrs, "opencensus.exporterversion").is_some() {
        return;
    }
    if let Some(v) = str_of(attrs, "jaeger.version").map(str::to_string) {
        attrs.push(KeyValue {
            key: "opencensus.exporterversion".into(),
            value: any(AV::StringValue(format!("Jaeger-{v}"))),
            ..Default::default()
        });
        delete(attrs, "jaeger.version");
    }
}

fn trace_id(high: i64, low: i64) -> Vec<u8> {
    let mut id = Vec::with_capacity(16);
    id.extend_from_slice(&high.to_be_bytes());
    id.extend_from_slice(&low.to_be_bytes());
    id
}

/// The parent: `parentSpanId`, else a reference of the same trace (CHILD_OF first).
fn parent_of(s: &model::Span) -> i64 {
    if s.parent_span_id != 0 {
        return s.parent_span_id;
    }
    let same_trace = |r: &&model::SpanRef| {
        r.trace_id_high == s.trace_id_high && r.trace_id_low == s.trace_id_low
    };
    let refs = || s.references.iter().filter(same_trace);
    refs()
        .find(|r| r.ref_type == RefType::ChildOf)
        .or_else(|| refs().find(|r| r.ref_type == RefType::FollowsFrom))
        .map_or(0, |r| r.span_id)
}

fn links(refs: &[model::SpanRef], parent: i64) -> Vec<Link> {
    refs.iter()
        .filter(|r| !(r.span_id == parent && r.ref_type == RefType::ChildOf))
        .map(|r| Link {
            trace_id: trace_id(r.trace_id_high, r.trace_id_low),
            span_id: r.span_id.to_be_bytes().to_vec(),
            attributes: vec![KeyValue {
                key: "opentracing.ref_type".into(),
                value: any(AV::StringValue(
                    match r.ref_type {
                        RefType::ChildOf => "child_of",
                        RefType::FollowsFrom => "follows_from",
                    }
                    .into(),
                )),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect()
}

fn kind(k: &str) -> SpanKind {
    match k {
        "client" => SpanKind::Client,
        "server" => SpanKind::Server,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    }
}

/// Removes `otel.status_description`, returning its `Str()`.
fn take_description(attrs: &mut Vec<KeyValue>) -> Option<String> {
    let d = str_of(attrs, "otel.status_description")?.to_string();
    delete(attrs, "otel.status_description");
    Some(d)
}

/// An `http.status_code` (int or decimal string) as a status: 4xx is ERROR for clients and
/// unset for servers; otherwise 100..=398 unset, anything else ERROR.
fn http_status(v: &AV, kind: SpanKind) -> Option<StatusCode> {
    let code = match v {
        AV::IntValue(i) => *i,
        AV::StringValue(s) => s.parse().ok()?,
        _ => return None,
    };
    if (400..500).contains(&code) {
        match kind {
            SpanKind::Client => return Some(StatusCode::Error),
            SpanKind::Server => return Some(StatusCode::Unset),
            _ => {}
        }
    }
    Some(if (100..399).contains(&code) {
        StatusCode::Unset
    } else {
        StatusCode::Error
    })
}

/// otelcol's `setInternalSpanStatus`: `error=true` wins, then `otel.status_code`, then
/// `http.status_code`; the tags read are removed.
fn status(attrs: &mut Vec<KeyValue>, kind: SpanKind) -> Option<Status> {
    let mut code = StatusCode::Unset;
    let mut message = String::new();
    let mut exists = false;
    if let Some(AV::BoolValue(true)) = attr(attrs, "error") {
        code = StatusCode::Error;
        delete(attrs, "error");
        exists = true;
        if let Some(d) = take_description(attrs) {
            message = d;
        } else if let Some(m) = str_of(attrs, "http.status_message") {
            message = m.to_string();
        }
    }
    if let Some(c) = str_of(attrs, "otel.status_code").map(str::to_ascii_uppercase) {
        if !exists {
            exists = true;
            match c.as_str() {
                "OK" => code = StatusCode::Ok,
                "ERROR" => code = StatusCode::Error,
                _ => {}
            }
            if let Some(d) = take_description(attrs) {
                message = d;
            }
        }
        delete(attrs, "otel.status_code");
    } else if let (false, Some(v)) = (exists, attr(attrs, "http.status_code")) {
        if let Some(c) = http_status(v, kind) {
            if c != StatusCode::Unset {
                exists = true;
                code = c;
            }
            if let Some(m) = str_of(attrs, "http.status_message") {
                message = m.to_string();
            }
        }
    }
    exists.then_some(Status {
        code: code as i32,
        message,
    })
}

/// Removes a tag, returning its `GetVStr()` (the string value, "" for other types).
fn take_tag(tags: &mut Vec<model::Tag>, key: &str) -> Option<String> {
    let i = tags.iter().position(|t| t.key == key)?;
    Some(match tags.remove(i).value {
        TagValue::Str(s) => s.into_owned(),
        _ => String::new(),
    })
}

/// The scope of a protobuf span, from (and removing) its `otel.scope.*` tags.
pub(crate) fn take_scope(tags: &mut Vec<model::Tag>) -> (String, String) {
    match take_tag(tags, "otel.scope.name") {
        Some(name) => (
            name,
            take_tag(tags, "otel.scope.version").unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    }
}

fn events(logs: &[model::Log], times: &[u64]) -> Vec<Event> {
    logs.iter()
        .enumerate()
        .map(|(i, l)| {
            let mut attributes = vec![];
            put_tags(&l.fields, &mut attributes);
            let name = str_of(&attributes, "event").map(str::to_string);
            if name.is_some() {
                delete(&mut attributes, "event");
            }
            Event {
                time_unix_nano: times.get(i).copied().unwrap_or(0),
                name: name.unwrap_or_default(),
                attributes,
                dropped_attributes_count: 0,
            }
        })
        .collect()
}

/// One span; `s.tags` no longer holds the scope tags of a protobuf span.
pub(crate) fn span(s: &model::Span, times: Times, flavor: Flavor) -> Span {
    let parent = parent_of(s);
    let mut attributes = vec![];
    put_tags(&s.tags, &mut attributes);
    let kind = match str_of(&attributes, "span.kind").map(kind) {
        Some(k) => {
            delete(&mut attributes, "span.kind");
            k
        }
        None => SpanKind::Unspecified,
    };
    let status = status(&mut attributes, kind);
    let trace_state = match (flavor, str_of(&attributes, "w3c.tracestate")) {
        (Flavor::Proto, Some(ts)) => {
            let ts = ts.to_string();
            delete(&mut attributes, "w3c.tracestate");
            ts
        }
        _ => String::new(),
    };
    Span {
        trace_id: trace_id(s.trace_id_high, s.trace_id_low),
        span_id: s.span_id.to_be_bytes().to_vec(),
        trace_state,
        parent_span_id: if parent == 0 {
            vec![]
        } else {
            parent.to_be_bytes().to_vec()
        },
        flags: (s.flags as u32) & SAMPLED,
        name: s.operation_name.to_string(),
        kind: kind as i32,
        start_time_unix_nano: times.start,
        end_time_unix_nano: times.end,
        attributes,
        events: events(&s.logs, times.logs),
        links: links(&s.references, parent),
        status,
        ..Default::default()
    }
}

/// Go's `reflect.DeepEqual(span, &jaeger.Span{})`: a span with nothing set is skipped.
fn is_blank(s: &model::Span) -> bool {
    *s == model::Span::default()
}

/// µs since the epoch as ns, wrapping as Go's `uint64(µs) * 1000`.
fn micros_to_nanos(us: i64) -> u64 {
    (us as u64).wrapping_mul(1000)
}

/// otelcol's `ThriftToTraces` of one Thrift batch: one ResourceSpans with one ScopeSpans
/// (none without spans).
pub fn thrift_batch(b: &model::Batch) -> Vec<ResourceSpans> {
    // The process is required, so there always is one ResourceSpans.
    let mut spans = Vec::with_capacity(b.spans.len());
    for s in b.spans.iter().filter(|s| !is_blank(s)) {
        let logs: Vec<u64> = s
            .logs
            .iter()
            .map(|l| micros_to_nanos(l.timestamp))
            .collect();
        let times = Times {
            start: micros_to_nanos(s.start_time),
            end: micros_to_nanos(s.start_time.wrapping_add(s.duration)),
            logs: &logs,
        };
        spans.push(span(s, times, Flavor::Thrift));
    }
    let scope_spans = if b.spans.is_empty() {
        vec![]
    } else {
        vec![ScopeSpans {
            scope: None,
            spans,
            schema_url: String::new(),
        }]
    };
    vec![ResourceSpans {
        resource: Some(resource(Some(&b.process), Flavor::Thrift)),
        scope_spans,
        schema_url: String::new(),
    }]
}

/// ns since the epoch, as Go's `uint64(t.UnixNano())` (wrapping).
fn nanos(n: i128) -> u64 {
    n as u64
}

/// otelcol's `ProtoToTraces` of one `PostSpansRequest` batch: spans with a process of their
/// own go to that process's ResourceSpans; within one, spans are grouped by scope. Errors
/// (ids of a wrong length) are the message for the client.
pub fn proto_batch(b: &proto::Batch) -> Result<Vec<ResourceSpans>, String> {
    // The batch's process first, then each distinct span process, in order of appearance.
    let mut groups: Vec<(Option<&proto::Process>, Vec<&proto::Span>)> =
        vec![(b.process.as_ref(), vec![])];
    let mut by_process: HashMap<&proto::Process, usize> = HashMap::new();
    if let Some(p) = &b.process {
        by_process.insert(p, 0);
    }
    for s in &b.spans {
        let i = match &s.process {
            None => 0,
            Some(p) => *by_process.entry(p).or_insert_with(|| {
                groups.push((Some(p), vec![]));
                groups.len() - 1
            }),
        };
        groups[i].1.push(s);
    }
    let mut out = Vec::with_capacity(groups.len());
    for (process, spans) in groups {
        if process.is_none() && spans.is_empty() {
            continue;
        }
        out.push(proto_resource_spans(process, &spans)?);
    }
    Ok(out)
}

fn proto_resource_spans(
    process: Option<&proto::Process>,
    spans: &[&proto::Span],
) -> Result<ResourceSpans, String> {
    let process = process.map(|p| model::Process {
        service_name: p.service_name.as_str().into(),
        tags: p.tags.iter().map(proto::tag).collect(),
    });
    let mut scopes: Vec<ScopeSpans> = vec![];
    let mut scope_index: HashMap<(String, String), usize> = HashMap::new();
    for s in spans {
        let mut ps = proto::span(s)?;
        if is_blank_proto(s) {
            continue;
        }
        let key = take_scope(&mut ps.span.tags);
        let logs: Vec<u64> = ps.log_nanos.iter().map(|n| nanos(*n)).collect();
        let times = Times {
            start: nanos(ps.start_nanos),
            end: nanos(ps.end_nanos),
            logs: &logs,
        };
        let otlp = span(&ps.span, times, Flavor::Proto);
        let i = *scope_index.entry(key.clone()).or_insert_with(|| {
            scopes.push(ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: key.0,
                    version: key.1,
                    ..Default::default()
                }),
                spans: vec![],
                schema_url: String::new(),
            });
            scopes.len() - 1
        });
        scopes[i].spans.push(otlp);
    }
    Ok(ResourceSpans {
        resource: Some(resource(process.as_ref(), Flavor::Proto)),
        scope_spans: scopes,
        schema_url: String::new(),
    })
}

/// `reflect.DeepEqual(span, &model.Span{})`.
fn is_blank_proto(s: &proto::Span) -> bool {
    *s == proto::Span::default()
}
