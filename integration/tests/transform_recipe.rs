//! The OTTL PII recipe `config/recipes/transform-pii.yaml`, merged as an extra `--config` over
//! a config whose traces and logs pipelines list `transform/pii`: spans, span events and logs
//! carrying secrets (credential headers as string arrays and strings, cards, emails, bearer
//! tokens, JWTs, passwords in string and map bodies) go in over real OTLP gRPC; what reaches
//! the independent sink, searched as protobuf bytes and as JSON, holds none of the secrets,
//! and the rest survives.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, workspace, Collector};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
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

/// Secrets that must not appear anywhere downstream.
const SECRETS: &[&str] = &[
    "s3cr3t-b3arer-t0ken",
    "c00kie-v4lue",
    "ak_live_51HxYz",
    "1111 1111 1111",
    "5500-0000-0000-0004",
    "378282246310005",
    "jane.doe@example",
    "eyJzdWIiOiJqYW5lIn0",
    "hunter2-pa55",
];

/// Values that are not secret and must arrive unchanged.
const KEPT: &[&str] = &[
    "GET",
    "/checkout",
    "checkout-service-ok",
    "request finished",
    "status-ok-value",
];

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(v.into())),
    })
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
            values: vec![s(v).unwrap_or_default()],
        })),
    })
}

fn attrs() -> Vec<KeyValue> {
    vec![
        kv(
            "http.request.header.authorization",
            str_array("Bearer s3cr3t-b3arer-t0ken"),
        ),
        kv(
            "http.request.header.cookie",
            str_array("session=c00kie-v4lue"),
        ),
        kv("http.request.header.x-api-key", s("ak_live_51HxYzSECRET")),
        kv("payment.card", s("4111 1111 1111 1111")),
        kv(
            "payment.note",
            s("paid with 5500-0000-0000-0004 and 378282246310005"),
        ),
        kv("user.contact", s("mail jane.doe@example.com please")),
        kv(
            "auth.jwt",
            s("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJlLXNlY3JldA"),
        ),
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
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "checkout-service-ok".into(),
                    attributes: attrs(),
                    events: vec![Event {
                        name: "exception".into(),
                        attributes: vec![
                            kv("http.request.header.authorization", s("Bearer s3cr3t-b3arer-t0ken")),
                            kv("exception.message", s("login failed for jane.doe@example.com with Authorization: Bearer s3cr3t-b3arer-t0ken")),
                        ],
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
    let text = "request finished; Authorization: Bearer s3cr3t-b3arer-t0ken\nuser jane.doe@example.com paid 4111 1111 1111 1111 token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJlLXNlY3JldA body {\"password\": \"hunter2-pa55\"}";
    let body_map = Some(AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: vec![
                kv("status", s("status-ok-value")),
                kv("password", s("hunter2-pa55")),
                kv(
                    "headers",
                    Some(AnyValue {
                        value: Some(Value::KvlistValue(KeyValueList {
                            values: vec![kv("Cookie", s("session=c00kie-v4lue"))],
                        })),
                    }),
                ),
                kv("card", s("5500-0000-0000-0004")),
                kv("email", s("jane.doe@example.com")),
            ],
        })),
    });
    let record = |body| LogRecord {
        body,
        attributes: attrs(),
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

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_exporter() {
    let sink = Sink::start().await;
    let cfg = base_config(
        "  batch:\n    timeout: 10ms",
        &format!("  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true", sink.port()),
        "    traces: {receivers: [otlp], processors: [transform/pii, batch], exporters: [otlp]}\n    logs: {receivers: [otlp], processors: [transform/pii, batch], exporters: [otlp]}",
    );
    let recipe = workspace().join("config/recipes/transform-pii.yaml");
    let c = Collector::start(&cfg, &["--config", &recipe.to_string_lossy()]);
    let sent = serde_json::to_string(&traces()).expect("json")
        + &serde_json::to_string(&logs()).expect("json");
    for needle in SECRETS {
        assert!(sent.contains(needle), "the test input lacks {needle}");
    }
    let url = format!("http://127.0.0.1:{}", c.ports.grpc);
    TraceServiceClient::connect(url.clone())
        .await
        .expect("connect")
        .export(traces())
        .await
        .expect("traces accepted");
    LogsServiceClient::connect(url)
        .await
        .expect("connect")
        .export(logs())
        .await
        .expect("logs accepted");
    assert!(
        eventually(Duration::from_secs(10), || sink.span_count() == 1
            && sink.log_count() == 2),
        "data did not arrive; stderr:\n{}",
        c.stderr()
    );
    let st = sink.lock();
    let mut bytes = Vec::new();
    let mut json = String::new();
    for t in &st.traces {
        bytes.extend(t.encode_to_vec());
        json.push_str(&serde_json::to_string(t).expect("json"));
    }
    for l in &st.logs {
        bytes.extend(l.encode_to_vec());
        json.push_str(&serde_json::to_string(l).expect("json"));
    }
    for needle in SECRETS {
        assert!(
            !contains(&bytes, needle) && !json.contains(needle),
            "{needle} reached the exporter:\n{json}"
        );
    }
    for kept in KEPT {
        assert!(json.contains(kept), "{kept} was lost:\n{json}");
    }
    let span = &st.traces[0].resource_spans[0].scope_spans[0].spans[0];
    let attr = |k: &str| {
        span.attributes
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(
        attr("http.request.header.authorization"),
        Some(Value::StringValue("****".into()))
    );
    assert_eq!(
        attr("user.contact"),
        Some(Value::StringValue("mail **** please".into()))
    );
    assert_eq!(attr("order.id"), Some(Value::IntValue(12345)));
}
