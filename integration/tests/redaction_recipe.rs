//! The PII recipe `config/recipes/redaction-pii.yaml`, merged as an extra `--config` over a
//! config whose traces and logs pipelines list `redaction`: spans and logs full of secrets (in
//! span, event and log attributes, header attributes as string arrays, log bodies as strings and
//! as nested maps) go in over real OTLP (gRPC and HTTP); what reaches the independent sink,
//! searched as protobuf bytes and as JSON, holds none of the secrets, and the rest survives.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, workspace, Collector};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::time::Duration;

/// Each secret as sent, and the part of it that must not appear anywhere downstream.
const SECRETS: &[(&str, &str)] = &[
    ("4111 1111 1111 1111", "1111 1111 1111"),
    ("4111111111111111", "4111111111111111"),
    ("5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("378282246310005", "378282246310005"),
    ("jane.doe@example.com", "jane.doe@example"),
    ("Bearer s3cr3t-b3arer-t0ken", "s3cr3t-b3arer-t0ken"),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJlLXNlY3JldA",
        "eyJzdWIiOiJqYW5lIn0",
    ),
    ("session=c00kie-v4lue", "c00kie-v4lue"),
    ("id=setc00kie-v4lue; HttpOnly", "setc00kie-v4lue"),
    ("Basic cHJveHk6cGFzc3dvcmQ=", "cHJveHk6cGFzc3dvcmQ"),
    ("ak_live_51HxYzSECRET", "ak_live_51HxYz"),
    ("apik3y-0123456789", "apik3y-0123456789"),
    ("hunter2-pa55", "hunter2-pa55"),
];

/// Values that are not secret and must arrive unchanged.
const KEPT: &[&str] = &[
    "GET",
    "/checkout",
    "checkout-service-ok",
    "request finished",
    "status-ok-value",
];

fn sv(v: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(v.into())),
    }
}

fn s(v: &str) -> Option<AnyValue> {
    Some(sv(v))
}

fn kv(k: &str, v: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v,
        ..Default::default()
    }
}

fn str_array(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::ArrayValue(ArrayValue {
            values: vec![sv(v)],
        })),
    })
}

fn map(entries: Vec<KeyValue>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::KvlistValue(KeyValueList { values: entries })),
    })
}

/// The secret sent under each sensitive header, as semantic-convention attributes.
fn header_attrs() -> Vec<KeyValue> {
    vec![
        kv(
            "http.request.header.authorization",
            str_array("Bearer s3cr3t-b3arer-t0ken"),
        ),
        kv(
            "http.request.header.cookie",
            str_array("session=c00kie-v4lue"),
        ),
        kv(
            "http.response.header.set-cookie",
            str_array("id=setc00kie-v4lue; HttpOnly"),
        ),
        kv(
            "http.request.header.proxy-authorization",
            s("Basic cHJveHk6cGFzc3dvcmQ="),
        ),
        kv("http.request.header.x-api-key", s("ak_live_51HxYzSECRET")),
        kv(
            "http.request.header.api-key",
            str_array("apik3y-0123456789"),
        ),
    ]
}

/// Secrets inside values whose key says nothing.
fn value_attrs() -> Vec<KeyValue> {
    vec![
        kv("payment.card", s("4111 1111 1111 1111")),
        kv(
            "payment.card_number",
            Some(AnyValue {
                value: Some(Value::IntValue(4111111111111111)),
            }),
        ),
        kv(
            "payment.note",
            s("paid with 5500-0000-0000-0004 and 378282246310005"),
        ),
        kv("user.contact", s("mail jane.doe@example.com please")),
        kv(
            "auth.jwt",
            s("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJlLXNlY3JldA"),
        ),
        kv(
            "db.statement",
            s("UPDATE users SET password='x' WHERE api_key=apik3y-0123456789"),
        ),
    ]
}

fn kept_attrs() -> Vec<KeyValue> {
    vec![
        kv("http.request.method", s("GET")),
        kv("http.route", s("/checkout")),
        kv(
            "order.id",
            Some(AnyValue {
                value: Some(Value::IntValue(12345)),
            }),
        ),
    ]
}

fn traces() -> ExportTraceServiceRequest {
    let attributes = [header_attrs(), value_attrs(), kept_attrs()].concat();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "checkout-service-ok".into(),
                    attributes,
                    events: vec![Event {
                        name: "exception".into(),
                        attributes: [
                            header_attrs(),
                            vec![kv(
                                "exception.message",
                                s("login failed for jane.doe@example.com with Authorization: Bearer s3cr3t-b3arer-t0ken"),
                            )],
                        ]
                        .concat(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs() -> ExportLogsServiceRequest {
    let text = "request finished; Authorization: Bearer s3cr3t-b3arer-t0ken\ncookie=session=c00kie-v4lue\nuser jane.doe@example.com paid 4111 1111 1111 1111 token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJlLXNlY3JldA body {\"password\": \"hunter2-pa55\"}";
    let body_map = map(vec![
        kv("status", s("status-ok-value")),
        kv("password", s("hunter2-pa55")),
        kv(
            "headers",
            map(vec![
                kv("Authorization", s("Bearer s3cr3t-b3arer-t0ken")),
                kv("Cookie", s("session=c00kie-v4lue")),
                kv("Set-Cookie", str_array("id=setc00kie-v4lue; HttpOnly")),
                kv("Proxy-Authorization", s("Basic cHJveHk6cGFzc3dvcmQ=")),
                kv("X-Api-Key", s("ak_live_51HxYzSECRET")),
                kv("api-key", s("apik3y-0123456789")),
            ]),
        ),
        kv("user", map(vec![kv("email", s("jane.doe@example.com"))])),
        kv(
            "cards",
            Some(AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![sv("5500-0000-0000-0004"), sv("378282246310005")],
                })),
            }),
        ),
    ]);
    let record = |body: Option<AnyValue>| LogRecord {
        body,
        attributes: [header_attrs(), value_attrs(), kept_attrs()].concat(),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record(s(text)), record(body_map)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Everything the sink received, as protobuf bytes and as JSON text.
fn received(sink: &Sink) -> (Vec<u8>, String) {
    let st = sink.lock();
    let mut bytes = Vec::new();
    let mut json = String::new();
    for t in &st.traces {
        bytes.extend(t.encode_to_vec());
        json.push_str(&serde_json::to_string(t).expect("traces serialize"));
    }
    for l in &st.logs {
        bytes.extend(l.encode_to_vec());
        json.push_str(&serde_json::to_string(l).expect("logs serialize"));
    }
    (bytes, json)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_exporter() {
    let sink = Sink::start().await;
    let cfg = base_config(
        "  batch:\n    timeout: 10ms",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
            sink.port()
        ),
        "    traces: {receivers: [otlp], processors: [redaction, batch], exporters: [otlp]}\n    logs: {receivers: [otlp], processors: [redaction, batch], exporters: [otlp]}",
    );
    let recipe = workspace().join("config/recipes/redaction-pii.yaml");
    let recipe = recipe.to_string_lossy();
    let c = Collector::start(&cfg, &["--config", &recipe]);
    let ports = c.ports;

    // The input really holds every secret (so the search below can fail).
    let sent = serde_json::to_string(&traces()).expect("serialize")
        + &serde_json::to_string(&logs()).expect("serialize");
    for (secret, needle) in SECRETS {
        assert!(sent.contains(needle), "the test input lacks {secret}");
    }

    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .expect("grpc connect");
    client.export(traces()).await.expect("traces accepted");
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/v1/logs", ports.http))
        .header("content-type", "application/x-protobuf")
        .body(logs().encode_to_vec())
        .send()
        .await
        .expect("logs sent");
    assert_eq!(r.status(), 200);
    assert!(
        eventually(Duration::from_secs(10), || sink.span_count() == 1
            && sink.log_count() == 2),
        "data did not arrive; stderr:\n{}",
        c.stderr()
    );

    let (bytes, json) = received(&sink);
    for (secret, needle) in SECRETS {
        assert!(
            !contains(&bytes, needle) && !json.contains(needle),
            "{secret} reached the exporter:\n{json}"
        );
    }
    for kept in KEPT {
        assert!(json.contains(kept), "{kept} was lost:\n{json}");
    }
    let st = sink.lock();
    let span = &st.traces[0].resource_spans[0].scope_spans[0].spans[0];
    let attr = |attrs: &[KeyValue], k: &str| {
        attrs
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(
        attr(&span.attributes, "order.id"),
        Some(Value::IntValue(12345)),
        "values without secrets keep their type"
    );
    assert_eq!(
        attr(&span.attributes, "http.request.header.authorization"),
        Some(Value::StringValue("****".into())),
        "the header key stays, its value is masked"
    );
    assert_eq!(
        attr(&span.attributes, "user.contact"),
        Some(Value::StringValue("mail **** please".into())),
        "only the matching part of a value is masked"
    );
    assert_eq!(span.events[0].attributes.len(), header_attrs().len() + 1);
}
