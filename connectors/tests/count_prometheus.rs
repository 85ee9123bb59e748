//! The count connector in a running service: a traces and a logs pipeline export to it, a
//! metrics pipeline receives from it and exports to the prometheus exporter, and the test
//! scrapes `/metrics` over HTTP for the counts of what it sent.

#![allow(clippy::unwrap_used)]

mod common;

use common::{kv, scrape_until, start_yaml, RecorderFactory};
use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{Batch, Data};
use ferrotel_testkit::metrics;
use ferrotel_testkit::net::ReservedPort;
use std::time::Duration;

const T: u64 = 1_700_000_000_000_000_000;

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", service)],
        ..Default::default()
    })
}

fn span(route: Option<&str>, start: u64, end: u64, events: usize) -> Span {
    Span {
        name: "op".into(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: route.map(|r| kv("http.route", r)).into_iter().collect(),
        events: vec![
            Event {
                time_unix_nano: start,
                ..Default::default()
            };
            events
        ],
        ..Default::default()
    }
}

fn traces(spans: Vec<Span>) -> Batch {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("shop"),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_data(Data::Traces(req), Default::default())
}

fn logs(severities: &[i32]) -> Batch {
    let records = severities.iter().map(|s| LogRecord {
        severity_number: *s,
        time_unix_nano: T,
        ..Default::default()
    });
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("billing"),
            scope_logs: vec![ScopeLogs {
                log_records: records.collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_data(Data::Logs(req), Default::default())
}

const ROUTES: &str = "spans_by_route_total";

/// stub -> traces and logs -> count -> metrics -> prometheus on `port`.
fn config(port: u16) -> String {
    format!(
        "receivers: {{stub: {{}}}}
connectors:
  count:
    spans:
      spans.by.route:
        description: Spans per route.
        attributes: [{{key: http.route, default_value: unknown}}]
    logs:
      error.logs:
        description: Error+ logs.
        conditions: ['severity_number >= SEVERITY_NUMBER_ERROR']
exporters:
  prometheus: {{endpoint: '127.0.0.1:{port}'}}
service:
  pipelines:
    traces: {{receivers: [stub], exporters: [count]}}
    logs: {{receivers: [stub], exporters: [count]}}
    metrics: {{receivers: [count], exporters: [prometheus]}}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_of_spans_events_and_logs_reach_prometheus() {
    let port = ReservedPort::new().port();
    let yaml = config(port);
    let (service, consumers) = start_yaml(yaml, &RecorderFactory::default()).await;
    let (spans_in, logs_in) = (consumers.traces.unwrap(), consumers.logs.unwrap());
    let url = format!("http://127.0.0.1:{port}/metrics");
    let a = || span(Some("/a"), T, T + 50, 0);
    let first = vec![
        a(),
        a(),
        span(Some("/a"), T + 10, T + 20, 2),
        span(Some("/b"), T, T + 5, 0),
        span(None, T, T + 5, 1),
    ];
    spans_in.consume(traces(first)).await.unwrap();
    logs_in.consume(logs(&[9, 17, 21, 13])).await.unwrap();

    let route = |t: &str, r: &str| metrics::sum(t, ROUTES, &[("http_route", r)]);
    let text = scrape_until(&url, |t| {
        route(t, "/a") == 3.0 && metrics::has(t, "error_logs_total")
    })
    .await;
    assert_eq!(route(&text, "/b"), 1.0, "{text}");
    assert_eq!(route(&text, "unknown"), 1.0, "the default_value: {text}");
    assert_eq!(metrics::sum(&text, ROUTES, &[]), 5.0, "{text}");
    // spanevents was not configured: its default metric counts the 3 events.
    assert_eq!(
        metrics::sum(&text, "trace_span_event_count_total", &[]),
        3.0,
        "{text}"
    );
    assert!(
        !metrics::has(&text, "trace_span_count_total"),
        "spans' default is replaced"
    );
    assert!(
        !metrics::has(&text, "log_record_count_total"),
        "logs' default is replaced"
    );
    assert_eq!(
        metrics::sum(&text, "error_logs_total", &[("job", "billing")]),
        2.0,
        "{text}"
    );
    assert_eq!(
        metrics::sum(&text, ROUTES, &[("job", "shop")]),
        5.0,
        "{text}"
    );
    assert!(
        text.contains("# TYPE spans_by_route_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# HELP spans_by_route_total Spans per route."),
        "{text}"
    );

    // The next batch starts where the last one's counts ended: the exporter adds the deltas.
    spans_in
        .consume(traces(vec![span(Some("/a"), T + 50, T + 80, 0); 2]))
        .await
        .unwrap();
    let text = scrape_until(&url, |t| route(t, "/a") == 5.0).await;
    assert_eq!(route(&text, "/b"), 1.0, "{text}");
    service.shutdown(Duration::from_secs(5)).await;
}
