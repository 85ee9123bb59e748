//! Zipkin v2 spans to OTLP, as otelcol's `zipkinv2.ToTranslator`: spans are grouped into one
//! `ResourceSpans` per local service (`localEndpoint.serviceName` -> `service.name`, or the key
//! named by the `otlp.service.name.source` tag; resource semantic-convention tags of the
//! group's first span join the resource) and one `ScopeSpans` per instrumentation scope
//! (`otel.scope.name`/`otel.scope.version` tags, or the older `otel.library.*` ones). Within a
//! span: `w3c.tracestate` -> trace state; `kind`, else a `span.kind: internal` tag -> kind;
//! `otel.status_code`/`otel.status_description` and `error` -> status; `otlp.link.N` -> links;
//! annotations -> events (`name|{json attributes}|dropped` as otelcol's exporter writes them);
//! endpoints -> `net.host.ip`, `net.host.port`, `peer.service`, `net.peer.ip`,
//! `net.peer.port`; the other tags -> attributes, typed with `parse_string_tags`. A span
//! without a timestamp starts at 0 and gets `otel.zipkin.absentField.startTime: true`.
//!
//! ```yaml
//! receivers:
//!   zipkin:
//!     parse_string_tags: true   # "42" -> int, "1.5" -> double, "true" -> bool
//! ```

use super::model::{ZKind, ZSpan};
use ferrotel_core::pdata::upsert;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value::Value as AV, InstrumentationScope, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::span::{Event, Link, SpanKind};
use ferrotel_core::proto::trace::v1::{
    status::StatusCode, ResourceSpans, ScopeSpans, Span, Status,
};
use std::collections::BTreeMap;

const SERVICE_NAME: &str = "service.name";
const SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";
const SCOPE_NAMES: [&str; 2] = ["otel.scope.name", "otel.library.name"];
const SCOPE_VERSIONS: [&str; 2] = ["otel.scope.version", "otel.library.version"];

/// Tags that describe the resource (semantic conventions 1.6.1, as otelcol's translator uses)
/// and OpenCensus leftovers: taken into the resource from a group's first span, never span
/// attributes.
const RESOURCE_KEYS: &[&str] = &[
    "cloud.provider",
    "cloud.account.id",
    "cloud.region",
    "cloud.availability_zone",
    "cloud.platform",
    "aws.ecs.container.arn",
    "aws.ecs.cluster.arn",
    "aws.ecs.launchtype",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.task.revision",
    "aws.eks.cluster.arn",
    "aws.log.group.names",
    "aws.log.group.arns",
    "aws.log.stream.names",
    "aws.log.stream.arns",
    "container.name",
    "container.id",
    "container.runtime",
    "container.image.name",
    "container.image.tag",
    "deployment.environment",
    "device.id",
    "device.model.identifier",
    "device.model.name",
    "device.manufacturer",
    "faas.name",
    "faas.id",
    "faas.version",
    "faas.instance",
    "faas.max_memory",
    "host.id",
    "host.name",
    "host.type",
    "host.arch",
    "host.image.name",
    "host.image.id",
    "host.image.version",
    "k8s.cluster.name",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.namespace.name",
    "k8s.pod.uid",
    "k8s.pod.name",
    "k8s.container.name",
    "k8s.container.restart_count",
    "k8s.replicaset.uid",
    "k8s.replicaset.name",
    "k8s.deployment.uid",
    "k8s.deployment.name",
    "k8s.statefulset.uid",
    "k8s.statefulset.name",
    "k8s.daemonset.uid",
    "k8s.daemonset.name",
    "k8s.job.uid",
    "k8s.job.name",
    "k8s.cronjob.uid",
    "k8s.cronjob.name",
    "os.type",
    "os.description",
    "os.name",
    "os.version",
    "process.pid",
    "process.executable.name",
    "process.executable.path",
    "process.command",
    "process.command_line",
    "process.command_args",
    "process.owner",
    "process.runtime.name",
    "process.runtime.version",
    "process.runtime.description",
    "service.name",
    "service.namespace",
    "service.instance.id",
    "service.version",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.auto.version",
    "webengine.name",
    "webengine.version",
    "webengine.description",
    "opencensus.starttime",
    "opencensus.exporterversion",
    "opencensus.resourcetype",
];

fn is_non_span_key(k: &str) -> bool {
    k == SERVICE_NAME_SOURCE
        || SCOPE_NAMES.contains(&k)
        || SCOPE_VERSIONS.contains(&k)
        || RESOURCE_KEYS.contains(&k)
}

fn local_service(s: &ZSpan) -> Option<&str> {
    s.local
        .as_ref()
        .map(|e| e.service_name.as_str())
        .filter(|n| !n.is_empty())
}

fn scope_name(s: &ZSpan) -> &str {
    SCOPE_NAMES
        .iter()
        .find_map(|k| s.tags.get(*k))
        .map_or("", String::as_str)
}

/// Translates spans (any order) into one OTLP request; an error names the span and problem.
pub fn to_otlp(
    mut spans: Vec<ZSpan>,
    parse_string_tags: bool,
) -> Result<ExportTraceServiceRequest, String> {
    spans.sort_by(|a, b| (local_service(a), scope_name(a)).cmp(&(local_service(b), scope_name(b))));
    let mut out: Vec<ResourceSpans> = vec![];
    let mut prev: Option<(Option<String>, String)> = None;
    for (i, span) in spans.into_iter().enumerate() {
        let service = local_service(&span).map(str::to_string);
        let scope = scope_name(&span).to_string();
        let new_resource = prev.as_ref().is_none_or(|(s, _)| *s != service);
        if new_resource {
            out.push(ResourceSpans {
                resource: Some(resource(&span.tags, service.as_deref())),
                ..Default::default()
            });
        }
        let Some(rs) = out.last_mut() else { continue };
        if new_resource || prev.as_ref().is_some_and(|(_, sc)| *sc != scope) {
            rs.scope_spans.push(ScopeSpans {
                scope: Some(instrumentation_scope(&span.tags, &scope)),
                ..Default::default()
            });
        }
        let span = to_span(span, parse_string_tags).map_err(|e| format!("span {i}: {e}"))?;
        if let Some(ss) = rs.scope_spans.last_mut() {
            ss.spans.push(span);
        }
        prev = Some((service, scope));
    }
    Ok(ExportTraceServiceRequest {
        resource_spans: out,
    })
}

fn resource(tags: &BTreeMap<String, String>, service: Option<&str>) -> Resource {
    let mut attributes = vec![];
    let Some(service) = service else {
        return Resource::default();
    };
    let key = tags
        .get(SERVICE_NAME_SOURCE)
        .filter(|s| !s.is_empty())
        .map_or(SERVICE_NAME, String::as_str);
    upsert(&mut attributes, key, AV::StringValue(service.into()));
    for k in RESOURCE_KEYS {
        if let Some(v) = tags.get(*k) {
            upsert(&mut attributes, k, AV::StringValue(v.clone()));
        }
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

fn instrumentation_scope(tags: &BTreeMap<String, String>, name: &str) -> InstrumentationScope {
    let version = SCOPE_VERSIONS.iter().find_map(|k| tags.get(*k));
    InstrumentationScope {
        name: name.to_string(),
        version: version
            .filter(|_| !name.is_empty())
            .cloned()
            .unwrap_or_default(),
        ..Default::default()
    }
}

fn to_span(z: ZSpan, parse_string_tags: bool) -> Result<Span, String> {
    let mut tags = z.tags;
    let kind = kind(z.kind, &mut tags);
    let status = status(&mut tags);
    let links = links(&mut tags)?;
    let mut attributes = tag_attributes(&tags, parse_string_tags);
    endpoint_attributes(&z.local, &z.remote, &mut attributes);
    let (start, end) = if z.timestamp_us == 0 {
        upsert(&mut attributes, START_TIME_ABSENT, AV::BoolValue(true));
        (0, z.duration_us.saturating_mul(1000))
    } else {
        let start = z.timestamp_us.saturating_mul(1000);
        (
            start,
            start.saturating_add(z.duration_us.saturating_mul(1000)),
        )
    };
    let events = z
        .annotations
        .into_iter()
        .map(|(ts, value)| event(ts, &value))
        .collect::<Result<_, _>>()?;
    Ok(Span {
        trace_id: z.trace_id.to_vec(),
        span_id: z.id.to_vec(),
        trace_state: tags.get("w3c.tracestate").cloned().unwrap_or_default(),
        parent_span_id: z
            .parent_id
            .filter(|p| *p != z.id)
            .map(|p| p.to_vec())
            .unwrap_or_default(),
        name: z.name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        events,
        links,
        status: Some(status),
        ..Default::default()
    })
}

fn kind(kind: Option<ZKind>, tags: &mut BTreeMap<String, String>) -> SpanKind {
    match kind {
        Some(ZKind::Client) => SpanKind::Client,
        Some(ZKind::Server) => SpanKind::Server,
        Some(ZKind::Producer) => SpanKind::Producer,
        Some(ZKind::Consumer) => SpanKind::Consumer,
        None => match tags.remove("span.kind").as_deref() {
            Some("internal") => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
    }
}

fn status(tags: &mut BTreeMap<String, String>) -> Status {
    let mut status = Status::default();
    if let Some(code) = tags.remove("otel.status_code") {
        status.code = match code.as_str() {
            "STATUS_CODE_OK" | "Ok" => StatusCode::Ok,
            "STATUS_CODE_ERROR" | "Error" => StatusCode::Error,
            _ => StatusCode::Unset,
        } as i32;
        if let Some(m) = tags.remove("otel.status_description") {
            status.message = m;
        }
    }
    if let Some(e) = tags.get("error") {
        status.code = StatusCode::Error as i32;
        if e == "true" {
            tags.remove("error");
        }
    }
    status
}

fn tag_attributes(tags: &BTreeMap<String, String>, parse: bool) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(tags.len());
    for (k, v) in tags {
        if is_non_span_key(k) || k == "w3c.tracestate" {
            continue;
        }
        let value = if parse {
            typed(v)
        } else {
            AV::StringValue(v.clone())
        };
        upsert(&mut attributes, k, value);
    }
    attributes
}

/// otelcol's `DetermineValueType`: `-?\d+` an int (clamped), `-?\d+\.\d+` a double,
/// `true`/`false` a bool, anything else a string.
fn typed(v: &str) -> AV {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = v.strip_prefix('-').unwrap_or(v);
    if digits(unsigned) {
        let clamped = if v.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        };
        return AV::IntValue(v.parse().unwrap_or(clamped));
    }
    if let Some((int, frac)) = unsigned.split_once('.') {
        if digits(int) && digits(frac) {
            if let Ok(d) = v.parse() {
                return AV::DoubleValue(d);
            }
        }
    }
    match v {
        "true" => AV::BoolValue(true),
        "false" => AV::BoolValue(false),
        _ => AV::StringValue(v.to_string()),
    }
}

fn endpoint_attributes(
    local: &Option<super::model::ZEndpoint>,
    remote: &Option<super::model::ZEndpoint>,
    attributes: &mut Vec<KeyValue>,
) {
    for (e, ip, port) in [
        (local, "net.host.ip", "net.host.port"),
        (remote, "net.peer.ip", "net.peer.port"),
    ] {
        let Some(e) = e else { continue };
        if port == "net.peer.port" && !e.service_name.is_empty() {
            upsert(
                attributes,
                "peer.service",
                AV::StringValue(e.service_name.clone()),
            );
        }
        if let Some(a) = e.ipv4 {
            upsert(attributes, ip, AV::StringValue(a.to_string()));
        }
        if let Some(a) = e.ipv6 {
            upsert(attributes, ip, AV::StringValue(a.to_string()));
        }
        if e.port > 0 {
            upsert(attributes, port, AV::IntValue(i64::from(e.port)));
        }
    }
}

/// An annotation: `name`, or `name|{json attributes}|dropped count` as otelcol's zipkin
/// exporter writes events.
fn event(ts_us: u64, value: &str) -> Result<Event, String> {
    let parts: Vec<&str> = value.split('|').collect();
    let mut event = Event {
        time_unix_nano: ts_us.saturating_mul(1000),
        name: parts[0].to_string(),
        ..Default::default()
    };
    if parts.len() >= 3 {
        let (attributes, dropped) =
            json_attributes(&parts[1..]).map_err(|e| format!("annotation {value:?}: {e}"))?;
        event.attributes = attributes;
        event.dropped_attributes_count = dropped;
    }
    Ok(event)
}

/// `{json}|dropped` (the JSON may itself contain `|`): attributes and the dropped count.
fn json_attributes(parts: &[&str]) -> Result<(Vec<KeyValue>, u32), String> {
    let (last, json) = parts.split_last().ok_or("missing attributes")?;
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&json.join("|")).map_err(|e| format!("attributes: {e}"))?;
    let mut attributes = vec![];
    for (k, v) in map {
        let value = match v {
            serde_json::Value::String(s) => AV::StringValue(s),
            serde_json::Value::Bool(b) => AV::BoolValue(b),
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(d) if d.fract() == 0.0 => AV::IntValue(d as i64),
                Some(d) => AV::DoubleValue(d),
                None => continue,
            },
            _ => continue,
        };
        upsert(&mut attributes, &k, value);
    }
    let dropped = last
        .parse::<u32>()
        .map_err(|_| format!("dropped count {last:?} is not a number"))?;
    Ok((attributes, dropped))
}

/// `otlp.link.0`, `otlp.link.1`, ... (until the first missing one) as otelcol's zipkin exporter
/// writes links: `traceid|spanid|tracestate|{json attributes}|dropped`.
fn links(tags: &mut BTreeMap<String, String>) -> Result<Vec<Link>, String> {
    let mut links = vec![];
    for i in 0..128 {
        let Some(value) = tags.remove(&format!("otlp.link.{i}")) else {
            break;
        };
        let parts: Vec<&str> = value.split('|').collect();
        if parts.len() < 5 {
            continue;
        }
        let id = |s: &str, n: usize| -> Result<Vec<u8>, String> {
            let s = s.trim_matches('"');
            if s.is_empty() {
                return Ok(vec![0; n]);
            }
            match hex::decode(s) {
                Ok(b) if b.len() == n => Ok(b),
                _ => Err(format!("otlp.link.{i}: invalid id {s:?}")),
            }
        };
        let (attributes, dropped) =
            json_attributes(&parts[3..]).map_err(|e| format!("otlp.link.{i}: {e}"))?;
        links.push(Link {
            trace_id: id(parts[0], 16)?,
            span_id: id(parts[1], 8)?,
            trace_state: parts[2].to_string(),
            attributes,
            dropped_attributes_count: dropped,
            ..Default::default()
        });
    }
    Ok(links)
}
