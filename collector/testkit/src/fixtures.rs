//! Realistic OTLP requests: spans shaped like an instrumented HTTP API's (a server span with
//! about ten attributes, a db client child and a downstream HTTP client child, an event), gauges,
//! sums and histograms, log records, and CPU profiles.

use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    profiles::v1development::ExportProfilesServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{
    metric, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use ferrotel_core::proto::profiles::v1development as pprof;
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_core::{Batch, Data, Signal};

pub fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

pub fn kv_str(k: &str, v: &str) -> KeyValue {
    kv(k, any_value::Value::StringValue(v.into()))
}

pub fn kv_int(k: &str, v: i64) -> KeyValue {
    kv(k, any_value::Value::IntValue(v))
}

pub fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            kv_str("service.name", service),
            kv_str("service.version", "1.4.2"),
            kv_str("deployment.environment", "production"),
            kv_str("host.name", "api-7f9c"),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "@opentelemetry/instrumentation-http".into(),
        version: "0.52.1".into(),
        ..Default::default()
    }
}

/// A deterministic 16-byte trace id for trace number `n`.
pub fn trace_id(n: u64) -> Vec<u8> {
    let a = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995;
    let b = a.rotate_left(17).wrapping_mul(0xC2B2_AE3D_27D4_EB4F) | 1;
    let mut id = a.to_be_bytes().to_vec();
    id.extend_from_slice(&b.to_be_bytes());
    id
}

/// `n` spans in traces of three (server, db client, http client).
pub fn traces(n: usize) -> ExportTraceServiceRequest {
    let base: u64 = 1_700_000_000_000_000_000;
    let spans = (0..n)
        .map(|i| {
            let t = (i / 3) as u64;
            let role = i % 3;
            let start = base + (i as u64) * 1_000_000;
            let mut s = Span {
                trace_id: trace_id(t),
                span_id: ((i as u64 + 1) * 7919).to_be_bytes().to_vec(),
                name: ["GET /api/orders/:id", "SELECT orders", "GET inventory"][role].into(),
                kind: [
                    span::SpanKind::Server,
                    span::SpanKind::Client,
                    span::SpanKind::Client,
                ][role] as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 12_345_678,
                status: Some(Status {
                    code: if i % 50 == 0 { 2 } else { 0 },
                    message: String::new(),
                }),
                ..Default::default()
            };
            if role != 0 {
                s.parent_span_id = ((i as u64 - role as u64 + 1) * 7919).to_be_bytes().to_vec();
            }
            s.attributes = match role {
                0 => vec![
                    kv_str("http.request.method", "GET"),
                    kv_str("url.path", "/api/orders/42"),
                    kv_str("url.scheme", "https"),
                    kv_str("http.route", "/api/orders/:id"),
                    kv_int("http.response.status_code", 200),
                    kv_str("server.address", "api.example.com"),
                    kv_int("server.port", 443),
                    kv_str("client.address", "203.0.113.7"),
                    kv_str("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                    kv_str("network.protocol.version", "1.1"),
                ],
                1 => vec![
                    kv_str("db.system", "postgresql"),
                    kv_str("db.name", "orders"),
                    kv_str("db.statement", "SELECT * FROM orders WHERE id = $1"),
                    kv_str("server.address", "db.internal"),
                    kv_int("server.port", 5432),
                ],
                _ => vec![
                    kv_str("http.request.method", "GET"),
                    kv_str("url.full", "http://inventory.internal/items/42"),
                    kv_int("http.response.status_code", 200),
                ],
            };
            if role == 0 {
                s.events.push(span::Event {
                    time_unix_nano: start + 1_000,
                    name: "request.received".into(),
                    attributes: vec![kv_int("payload.size", 512)],
                    ..Default::default()
                });
            }
            s
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource("orders-api")),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `n` metric data points spread over a gauge, a cumulative sum and a histogram.
pub fn metrics(n: usize) -> ExportMetricsServiceRequest {
    let ts = 1_700_000_000_000_000_000u64;
    let point = |i: usize| NumberDataPoint {
        attributes: vec![kv_str("http.route", &format!("/r/{}", i % 7))],
        start_time_unix_nano: ts,
        time_unix_nano: ts + 1_000_000_000,
        value: Some(number_data_point::Value::AsDouble(i as f64 * 1.5)),
        ..Default::default()
    };
    let third = n / 3;
    let gauge_pts: Vec<_> = (0..third).map(point).collect();
    let sum_pts: Vec<_> = (third..2 * third).map(point).collect();
    let hist_pts: Vec<_> = (2 * third..n)
        .map(|i| HistogramDataPoint {
            attributes: vec![kv_str("http.route", &format!("/r/{}", i % 7))],
            start_time_unix_nano: ts,
            time_unix_nano: ts + 1_000_000_000,
            count: 6,
            sum: Some(42.0),
            bucket_counts: vec![1, 2, 3, 0],
            explicit_bounds: vec![5.0, 10.0, 25.0],
            ..Default::default()
        })
        .collect();
    let m = |name: &str, unit: &str, data| Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource("orders-api")),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: vec![
                    m(
                        "process.memory.usage",
                        "By",
                        metric::Data::Gauge(Gauge {
                            data_points: gauge_pts,
                        }),
                    ),
                    m(
                        "http.server.requests",
                        "1",
                        metric::Data::Sum(Sum {
                            data_points: sum_pts,
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        }),
                    ),
                    m(
                        "http.server.duration",
                        "ms",
                        metric::Data::Histogram(Histogram {
                            data_points: hist_pts,
                            aggregation_temporality: 2,
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `n` log records.
pub fn logs(n: usize) -> ExportLogsServiceRequest {
    let ts = 1_700_000_000_000_000_000u64;
    let records = (0..n)
        .map(|i| LogRecord {
            time_unix_nano: ts + i as u64,
            observed_time_unix_nano: ts + i as u64 + 10,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("order {i} shipped"))),
            }),
            attributes: vec![
                kv_str("order.id", &i.to_string()),
                kv_int("items", (i % 5) as i64),
            ],
            trace_id: trace_id(i as u64),
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource("orders-api")),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A CPU profile of `n` samples over two stacks (`main -> work`, `main -> idle`), with the
/// dictionary every index refers to.
pub fn profiles(n: usize) -> ExportProfilesServiceRequest {
    let strings = ["", "cpu", "nanoseconds", "main", "work", "idle", "app.go"];
    let function = |name| pprof::Function {
        name_strindex: name,
        filename_strindex: 6,
        ..Default::default()
    };
    let location = |function_index, line| pprof::Location {
        address: 0x1000 + line as u64,
        lines: vec![pprof::Line {
            function_index,
            line,
            column: 0,
        }],
        ..Default::default()
    };
    let dictionary = pprof::ProfilesDictionary {
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        function_table: vec![Default::default(), function(3), function(4), function(5)],
        location_table: vec![
            Default::default(),
            location(1, 10),
            location(2, 20),
            location(3, 30),
        ],
        stack_table: vec![
            Default::default(),
            pprof::Stack {
                location_indices: vec![2, 1],
            },
            pprof::Stack {
                location_indices: vec![3, 1],
            },
        ],
        mapping_table: vec![Default::default()],
        link_table: vec![Default::default()],
        attribute_table: vec![Default::default()],
    };
    let samples = (0..n)
        .map(|i| pprof::Sample {
            stack_index: 1 + (i % 2) as i32,
            values: vec![10_000_000 * (i as i64 + 1)],
            timestamps_unix_nano: vec![1_700_000_000_000_000_000 + i as u64],
            ..Default::default()
        })
        .collect();
    ExportProfilesServiceRequest {
        resource_profiles: vec![pprof::ResourceProfiles {
            resource: Some(resource("orders-api")),
            scope_profiles: vec![pprof::ScopeProfiles {
                scope: Some(scope()),
                profiles: vec![pprof::Profile {
                    sample_type: Some(pprof::ValueType {
                        type_strindex: 1,
                        unit_strindex: 2,
                    }),
                    samples,
                    time_unix_nano: 1_700_000_000_000_000_000,
                    duration_nano: 10_000_000_000,
                    period: 10_000_000,
                    profile_id: vec![7; 16],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        dictionary: Some(dictionary),
    }
}

/// A request of `n` items of `signal`.
pub fn data(signal: Signal, n: usize) -> Data {
    match signal {
        Signal::Traces => Data::Traces(traces(n)),
        Signal::Metrics => Data::Metrics(metrics(n)),
        Signal::Logs => Data::Logs(logs(n)),
        Signal::Profiles => Data::Profiles(profiles(n)),
    }
}

/// An undecoded batch of `n` items, as a receiver would produce it.
pub fn encoded_batch(signal: Signal, n: usize) -> Batch {
    let d = data(signal, n);
    let items = d.item_count();
    Batch::from_bytes(signal, d.encode(), Some(items), Default::default())
}

/// Every span of `batches`, in order (decoding them); panics on a batch that is not traces.
pub fn spans_of(batches: &[Batch]) -> Vec<Span> {
    batches
        .iter()
        .flat_map(|b| match b.view() {
            Ok(Data::Traces(t)) => t
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| s.spans.clone())
                .collect::<Vec<_>>(),
            other => panic!("not a traces batch: {other:?}"),
        })
        .collect()
}
