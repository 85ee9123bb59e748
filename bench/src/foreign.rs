//! The load generator's OTLP requests re-encoded for the receivers of other protocols, so that
//! every protocol carries the same spans: Jaeger Thrift binary (the body of `POST /api/traces`),
//! encoded by ferrotel's own `jaeger` exporter, and Zipkin v2 JSON (`POST /api/v2/spans`),
//! written here with serde_json the way otelcol's zipkin exporter maps OTLP: resource and span
//! attributes become string tags, events become annotations, the status `otel.status_code`.

use ferrotel_core::format::value_as_string;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::trace::v1::{span::SpanKind, status::StatusCode, Span};
use prost::Message;
use serde_json::{json, Map, Value};

fn decode(otlp: &[u8]) -> std::io::Result<ExportTraceServiceRequest> {
    ExportTraceServiceRequest::decode(otlp).map_err(std::io::Error::other)
}

/// The Jaeger collector's HTTP body (a Thrift binary `Batch`) of a request with one resource.
pub fn jaeger_thrift(otlp: &[u8]) -> std::io::Result<Vec<u8>> {
    let req = decode(otlp)?;
    let mut bodies =
        ferrotel_exporters::jaeger::encode_http_bodies(&req).map_err(std::io::Error::other)?;
    match (bodies.pop(), bodies.is_empty()) {
        (Some(body), true) => Ok(body),
        _ => Err(std::io::Error::other(
            "a Jaeger body carries one resource: the workload must have one per request",
        )),
    }
}

/// A Zipkin v2 JSON list of the request's spans.
pub fn zipkin_json(otlp: &[u8]) -> std::io::Result<Vec<u8>> {
    let req = decode(otlp)?;
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        let attrs: &[KeyValue] = rs.resource.as_ref().map_or(&[], |r| &r.attributes);
        let service = attrs
            .iter()
            .find(|kv| kv.key == "service.name")
            .map(string)
            .unwrap_or_default();
        let resource_tags: Vec<&KeyValue> =
            attrs.iter().filter(|kv| kv.key != "service.name").collect();
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                out.push(zipkin_span(s, &service, &resource_tags));
            }
        }
    }
    serde_json::to_vec(&out).map_err(std::io::Error::other)
}

fn string(kv: &KeyValue) -> String {
    value_as_string(kv.value.as_ref().and_then(|v| v.value.as_ref()))
}

fn zipkin_span(s: &Span, service: &str, resource_tags: &[&KeyValue]) -> Value {
    let mut tags = Map::new();
    for kv in resource_tags.iter().copied().chain(&s.attributes) {
        tags.insert(kv.key.clone(), Value::String(string(kv)));
    }
    if let Some(st) = &s.status {
        match StatusCode::try_from(st.code) {
            Ok(StatusCode::Error) => {
                tags.insert("otel.status_code".into(), "ERROR".into());
                tags.insert("error".into(), Value::String(st.message.clone()));
            }
            Ok(StatusCode::Ok) => {
                tags.insert("otel.status_code".into(), "OK".into());
            }
            _ => {}
        }
    }
    let micros = |ns: u64| ns / 1000;
    let annotations: Vec<Value> = s
        .events
        .iter()
        .map(|e| json!({"timestamp": micros(e.time_unix_nano), "value": e.name}))
        .collect();
    let mut span = json!({
        "traceId": hex::encode(&s.trace_id),
        "id": hex::encode(&s.span_id),
        "name": s.name,
        "timestamp": micros(s.start_time_unix_nano),
        "duration": micros(s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano)),
        "localEndpoint": {"serviceName": service},
        "annotations": annotations,
        "tags": tags,
    });
    if !s.parent_span_id.is_empty() {
        span["parentId"] = hex::encode(&s.parent_span_id).into();
    }
    let kind = match SpanKind::try_from(s.kind) {
        Ok(SpanKind::Server) => Some("SERVER"),
        Ok(SpanKind::Client) => Some("CLIENT"),
        Ok(SpanKind::Producer) => Some("PRODUCER"),
        Ok(SpanKind::Consumer) => Some("CONSUMER"),
        _ => None,
    };
    if let Some(k) = kind {
        span["kind"] = k.into();
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{pool, Shape};
    use ferrotel_core::Signal;

    fn request() -> Vec<u8> {
        let shape = Shape {
            signal: Signal::Traces,
            items_per_request: 20,
            attrs_per_item: None,
            payload_bytes: 0,
        };
        pool(&shape, 1, 7)[0].body.to_vec()
    }

    #[test]
    fn zipkin_json_carries_every_span_with_ids_and_service() {
        let otlp = request();
        let req = decode(&otlp).expect("otlp");
        let first = &req.resource_spans[0].scope_spans[0].spans[0];
        let v: Vec<Value> =
            serde_json::from_slice(&zipkin_json(&otlp).expect("json")).expect("list");
        assert_eq!(v.len(), 20);
        assert_eq!(v[0]["traceId"], hex::encode(&first.trace_id));
        assert_eq!(v[0]["id"], hex::encode(&first.span_id));
        assert_eq!(v[0]["name"], first.name);
        assert!(!v[0]["localEndpoint"]["serviceName"]
            .as_str()
            .unwrap_or("")
            .is_empty());
    }

    #[test]
    fn jaeger_thrift_decodes_with_every_span() {
        let body = jaeger_thrift(&request()).expect("thrift");
        let batch = ferrotel_transport::jaeger::decode::binary_batch(&body).expect("decodes");
        assert_eq!(batch.spans.len(), 20);
        assert!(!batch.process.service_name.is_empty());
    }
}
