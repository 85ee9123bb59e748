//! Realistic OTLP requests, built once and encoded into a pool so that sending costs nothing
//! but the I/O. The shape is an instrumented HTTP API: one resource (the service) per request,
//! traces made of a server span (about ten semantic-convention attributes), one or two database
//! client spans and a downstream HTTP client span, with an exception event on failed requests;
//! metrics are the HTTP server and runtime instruments; logs are access and application logs
//! correlated with traces.

use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    profiles::v1development::ExportProfilesServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{
    span::{Event, SpanKind},
    status::StatusCode,
    ResourceSpans, ScopeSpans, Span, Status,
};
use ferrotel_core::Signal;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{SystemTime, UNIX_EPOCH};

/// What each generated request looks like.
#[derive(Debug, Clone)]
pub struct Shape {
    pub signal: Signal,
    /// Items (spans, metric data points, log records) per request.
    pub items_per_request: usize,
    /// Attributes on every item; `None` keeps the natural shape (about ten on server spans,
    /// fewer on client spans).
    pub attrs_per_item: Option<usize>,
    /// Extra bytes per item, carried in an `app.payload` string attribute.
    pub payload_bytes: usize,
}

/// One encoded request, ready to send.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub body: bytes::Bytes,
    pub items: u64,
}

/// Builds `count` distinct requests (different ids, services, routes), deterministic for a seed.
pub fn pool(shape: &Shape, count: usize, seed: u64) -> Vec<Encoded> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count.max(1))
        .map(|i| {
            let body = match shape.signal {
                Signal::Traces => traces(shape, i, &mut rng).encode_to_vec(),
                Signal::Metrics => metrics(shape, i, &mut rng).encode_to_vec(),
                Signal::Logs => logs(shape, i, &mut rng).encode_to_vec(),
                Signal::Profiles => profiles(shape).encode_to_vec(),
            };
            Encoded {
                body: body.into(),
                items: shape.items_per_request as u64,
            }
        })
        .collect()
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}
fn s(key: &str, v: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}
fn i(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

const SERVICES: &[&str] = &["checkout", "cart", "catalog", "accounts", "payments"];
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/products/{id}"),
    ("GET", "/api/v1/products"),
    ("POST", "/api/v1/cart/items"),
    ("GET", "/api/v1/users/{id}"),
    ("PUT", "/api/v1/users/{id}/address"),
    ("POST", "/api/v1/orders"),
    ("GET", "/healthz"),
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
];
const QUERIES: &[(&str, &str, &str)] = &[
    (
        "SELECT",
        "products",
        "SELECT id, name, price, stock FROM products WHERE id = $1",
    ),
    (
        "SELECT",
        "users",
        "SELECT id, email, name, created_at FROM users WHERE id = $1",
    ),
    (
        "INSERT",
        "orders",
        "INSERT INTO orders (user_id, total, currency) VALUES ($1, $2, $3)",
    ),
    (
        "UPDATE",
        "cart_items",
        "UPDATE cart_items SET quantity = $1 WHERE cart_id = $2 AND sku = $3",
    ),
];

fn resource(service: &str, n: usize) -> Resource {
    Resource {
        attributes: vec![
            s("service.name", service),
            s("service.version", "2.14.1"),
            s("service.instance.id", format!("{service}-7d9f8b6c4-{n:05}")),
            s("deployment.environment.name", "production"),
            s(
                "host.name",
                format!("node-{:02}.eu-west-1.compute.internal", n % 12),
            ),
            s("k8s.namespace.name", "shop"),
            s("k8s.pod.name", format!("{service}-7d9f8b6c4-x{n:04}")),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", "java"),
            s("telemetry.sdk.version", "1.38.0"),
        ],
        ..Default::default()
    }
}

fn scope(name: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_string(),
        version: "2.4.0".to_string(),
        ..Default::default()
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Applies `--attrs-per-span` and `--payload-bytes` to an item's natural attributes.
fn shape_attrs(shape: &Shape, mut attrs: Vec<KeyValue>, rng: &mut StdRng) -> Vec<KeyValue> {
    if let Some(n) = shape.attrs_per_item {
        attrs.truncate(n);
        for k in attrs.len()..n {
            attrs.push(s(
                &format!("app.attr.{k}"),
                format!("value-{}", rng.random::<u32>()),
            ));
        }
    }
    if shape.payload_bytes > 0 {
        let fill: String = (0..shape.payload_bytes)
            .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
            .collect();
        attrs.push(s("app.payload", fill));
    }
    attrs
}

fn traces(shape: &Shape, n: usize, rng: &mut StdRng) -> ExportTraceServiceRequest {
    let service = SERVICES[n % SERVICES.len()];
    let mut spans = Vec::with_capacity(shape.items_per_request);
    let base = now_nanos();
    while spans.len() < shape.items_per_request {
        let trace_id = rng.random::<u128>().to_be_bytes().to_vec();
        let root_id = rng.random::<u64>().to_be_bytes().to_vec();
        let (method, route) = ROUTES[rng.random_range(0..ROUTES.len())];
        let path = route.replace("{id}", &rng.random_range(1000..99999).to_string());
        let status = match rng.random_range(0..100) {
            0..=2 => 500,
            3..=7 => 404,
            _ => 200,
        };
        let start = base + rng.random_range(0..1_000_000_000u64);
        let dur = rng.random_range(2_000_000..80_000_000u64);
        let mut attrs = vec![
            s("http.request.method", method),
            s("url.path", path.clone()),
            s("url.scheme", "https"),
            s("http.route", route),
            i("http.response.status_code", status),
            s(
                "user_agent.original",
                AGENTS[rng.random_range(0..AGENTS.len())],
            ),
            s("server.address", format!("{service}.shop.example.com")),
            i("server.port", 443),
            s(
                "client.address",
                format!(
                    "10.{}.{}.{}",
                    rng.random::<u8>(),
                    rng.random::<u8>(),
                    rng.random::<u8>()
                ),
            ),
            s("network.protocol.version", "1.1"),
        ];
        if rng.random_range(0..10) == 0 {
            attrs.push(s(
                "enduser.id",
                format!("user{}@example.com", rng.random_range(1..5000)),
            ));
        }
        let mut events = Vec::new();
        if status == 500 {
            events.push(Event {
                time_unix_nano: start + dur / 2,
                name: "exception".into(),
                attributes: vec![
                    s("exception.type", "java.sql.SQLTransientConnectionException"),
                    s("exception.message", "HikariPool-1 - Connection is not available, request timed out after 30000ms"),
                ],
                ..Default::default()
            });
        }
        spans.push(Span {
            trace_id: trace_id.clone(),
            span_id: root_id.clone(),
            name: format!("{method} {route}"),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + dur,
            attributes: shape_attrs(shape, attrs, rng),
            events,
            status: Some(Status {
                code: if status == 500 {
                    StatusCode::Error
                } else {
                    StatusCode::Unset
                } as i32,
                ..Default::default()
            }),
            flags: 0x100,
            ..Default::default()
        });
        for _ in 0..rng.random_range(1..=2) {
            if spans.len() >= shape.items_per_request {
                break;
            }
            let (op, table, query) = QUERIES[rng.random_range(0..QUERIES.len())];
            let t = start + rng.random_range(100_000..dur / 2);
            let attrs = vec![
                s("db.system.name", "postgresql"),
                s("db.namespace", "shop"),
                s("db.operation.name", op),
                s("db.collection.name", table),
                s("db.query.text", query),
                s("server.address", "pg-primary.shop.svc.cluster.local"),
                i("server.port", 5432),
            ];
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: rng.random::<u64>().to_be_bytes().to_vec(),
                parent_span_id: root_id.clone(),
                name: format!("{op} shop.{table}"),
                kind: SpanKind::Client as i32,
                start_time_unix_nano: t,
                end_time_unix_nano: t + rng.random_range(300_000..5_000_000u64),
                attributes: shape_attrs(shape, attrs, rng),
                flags: 0x300,
                ..Default::default()
            });
        }
        if spans.len() < shape.items_per_request {
            let t = start + dur / 2;
            let attrs = vec![
                s("http.request.method", "GET"),
                s(
                    "url.full",
                    format!(
                        "http://inventory.shop.svc:8080/stock/{}",
                        rng.random_range(1000..99999)
                    ),
                ),
                s("server.address", "inventory.shop.svc"),
                i("server.port", 8080),
                i("http.response.status_code", 200),
                s("network.protocol.version", "1.1"),
            ];
            spans.push(Span {
                trace_id,
                span_id: rng.random::<u64>().to_be_bytes().to_vec(),
                parent_span_id: root_id,
                name: "GET".into(),
                kind: SpanKind::Client as i32,
                start_time_unix_nano: t,
                end_time_unix_nano: t + rng.random_range(1_000_000..20_000_000u64),
                attributes: shape_attrs(shape, attrs, rng),
                flags: 0x300,
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(service, n)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope("io.opentelemetry.tomcat-10.0")),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics(shape: &Shape, n: usize, rng: &mut StdRng) -> ExportMetricsServiceRequest {
    let service = SERVICES[n % SERVICES.len()];
    let now = now_nanos();
    let start = now - 3_600_000_000_000;
    let bounds = vec![
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ];
    let mut duration = Vec::new();
    let mut active = Vec::new();
    let mut memory = Vec::new();
    for k in 0..shape.items_per_request {
        let (method, route) = ROUTES[k % ROUTES.len()];
        let status = [200, 404, 500][(k / ROUTES.len()) % 3];
        match k % 4 {
            0 | 1 => {
                let counts: Vec<u64> = (0..=bounds.len())
                    .map(|_| rng.random_range(0..500))
                    .collect();
                let attrs = vec![
                    s("http.request.method", method),
                    s("http.route", route),
                    i("http.response.status_code", status),
                    s("url.scheme", "https"),
                    s("network.protocol.version", "1.1"),
                ];
                duration.push(HistogramDataPoint {
                    attributes: shape_attrs(shape, attrs, rng),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    count: counts.iter().sum(),
                    sum: Some(rng.random_range(10.0..5000.0)),
                    bucket_counts: counts,
                    explicit_bounds: bounds.clone(),
                    min: Some(0.001),
                    max: Some(rng.random_range(1.0..12.0)),
                    ..Default::default()
                });
            }
            2 => active.push(NumberDataPoint {
                attributes: shape_attrs(
                    shape,
                    vec![s("http.request.method", method), s("url.scheme", "https")],
                    rng,
                ),
                start_time_unix_nano: start,
                time_unix_nano: now,
                value: Some(number_data_point::Value::AsInt(rng.random_range(0..64))),
                ..Default::default()
            }),
            _ => memory.push(NumberDataPoint {
                attributes: shape_attrs(
                    shape,
                    vec![
                        s(
                            "jvm.memory.type",
                            if k % 8 == 3 { "heap" } else { "non_heap" },
                        ),
                        s("jvm.memory.pool.name", format!("pool-{}", k % 6)),
                    ],
                    rng,
                ),
                time_unix_nano: now,
                value: Some(number_data_point::Value::AsInt(
                    rng.random_range(1 << 20..1 << 30),
                )),
                ..Default::default()
            }),
        }
    }
    let metric = |name: &str, unit: &str, data| Metric {
        name: name.into(),
        unit: unit.into(),
        description: String::new(),
        data: Some(data),
        ..Default::default()
    };
    let cumulative = AggregationTemporality::Cumulative as i32;
    let mut ms = Vec::new();
    if !duration.is_empty() {
        ms.push(metric(
            "http.server.request.duration",
            "s",
            metric::Data::Histogram(Histogram {
                data_points: duration,
                aggregation_temporality: cumulative,
            }),
        ));
    }
    if !active.is_empty() {
        ms.push(metric(
            "http.server.active_requests",
            "{request}",
            metric::Data::Sum(Sum {
                data_points: active,
                aggregation_temporality: cumulative,
                is_monotonic: false,
            }),
        ));
    }
    if !memory.is_empty() {
        ms.push(metric(
            "jvm.memory.used",
            "By",
            metric::Data::Gauge(Gauge {
                data_points: memory,
            }),
        ));
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(service, n)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope("io.opentelemetry.runtime-telemetry")),
                metrics: ms,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One profile of `items_per_request` samples (no dictionary: the load generator only counts).
fn profiles(shape: &Shape) -> ExportProfilesServiceRequest {
    use ferrotel_core::proto::profiles::v1development::{
        Profile, ResourceProfiles, Sample, ScopeProfiles,
    };
    let samples = (0..shape.items_per_request)
        .map(|i| Sample {
            values: vec![i as i64],
            ..Default::default()
        })
        .collect();
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            scope_profiles: vec![ScopeProfiles {
                profiles: vec![Profile {
                    samples,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        dictionary: None,
    }
}

fn logs(shape: &Shape, n: usize, rng: &mut StdRng) -> ExportLogsServiceRequest {
    let service = SERVICES[n % SERVICES.len()];
    let base = now_nanos();
    let records = (0..shape.items_per_request)
        .map(|_| {
            let (method, route) = ROUTES[rng.random_range(0..ROUTES.len())];
            let path = route.replace("{id}", &rng.random_range(1000..99999).to_string());
            let (sev, text, status) = match rng.random_range(0..100) {
                0..=2 => (17, "ERROR", 500),
                3..=10 => (13, "WARN", 404),
                _ => (9, "INFO", 200),
            };
            let ms = rng.random_range(1..300);
            let t = base + rng.random_range(0..1_000_000_000u64);
            let attrs = vec![
                s("http.request.method", method),
                s("url.path", path.clone()),
                i("http.response.status_code", status),
                s("code.namespace", "com.example.shop.web.AccessLogFilter"),
                s(
                    "thread.name",
                    format!("http-nio-8080-exec-{}", rng.random_range(1..200)),
                ),
            ];
            LogRecord {
                time_unix_nano: t,
                observed_time_unix_nano: t + 1_000,
                severity_number: sev,
                severity_text: text.into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!(
                        "{method} {path} completed with status {status} in {ms} ms"
                    ))),
                }),
                attributes: shape_attrs(shape, attrs, rng),
                flags: 1,
                trace_id: rng.random::<u128>().to_be_bytes().to_vec(),
                span_id: rng.random::<u64>().to_be_bytes().to_vec(),
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(service, n)),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope("org.apache.logging.log4j")),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(signal: Signal) -> Shape {
        Shape {
            signal,
            items_per_request: 100,
            attrs_per_item: None,
            payload_bytes: 0,
        }
    }

    #[test]
    fn spans_are_realistically_sized_and_counted() {
        let p = pool(&shape(Signal::Traces), 8, 1);
        assert_eq!(p.len(), 8);
        for e in &p {
            let req = ExportTraceServiceRequest::decode(e.body.clone()).expect("valid protobuf");
            let spans: Vec<_> = req.resource_spans[0].scope_spans[0].spans.iter().collect();
            assert_eq!(spans.len(), 100);
            let server = spans.iter().filter(|s| s.kind == SpanKind::Server as i32);
            assert!(server.clone().all(|s| s.attributes.len() >= 10));
            assert!(spans.iter().any(|s| s.kind == SpanKind::Client as i32));
            let per_span = e.body.len() / 100;
            assert!((300..=500).contains(&per_span), "{per_span} bytes per span");
        }
        assert_ne!(p[0].body, p[1].body, "requests differ");
    }

    #[test]
    fn attrs_and_payload_options_apply_to_every_item() {
        let mut sh = shape(Signal::Logs);
        sh.attrs_per_item = Some(3);
        sh.payload_bytes = 64;
        let p = pool(&sh, 1, 2);
        let req = ExportLogsServiceRequest::decode(p[0].body.clone()).expect("valid protobuf");
        let recs = &req.resource_logs[0].scope_logs[0].log_records;
        assert_eq!(recs.len(), 100);
        assert!(recs.iter().all(|r| r.attributes.len() == 4));
    }

    #[test]
    fn metrics_count_data_points() {
        let mut sh = shape(Signal::Metrics);
        sh.items_per_request = 37;
        let p = pool(&sh, 1, 3);
        let req = ExportMetricsServiceRequest::decode(p[0].body.clone()).expect("valid protobuf");
        let points: usize = req.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .map(|m| match &m.data {
                Some(metric::Data::Histogram(h)) => h.data_points.len(),
                Some(metric::Data::Sum(s)) => s.data_points.len(),
                Some(metric::Data::Gauge(g)) => g.data_points.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(points, 37);
        assert_eq!(p[0].items, 37);
    }
}
