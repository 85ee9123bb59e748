//! The two-tier tail-sampling layout with real processes: a front ferrotel whose
//! `loadbalancing` exporter routes by trace id to two sampling-tier ferrotels, each exporting to
//! its own independent OTLP sink. The spans of each trace arrive in different requests (one
//! span of each trace per round); every trace must land whole at exactly one sink, both sinks
//! must get a share, and no span may be lost or duplicated. Log records carrying a trace id
//! follow their trace.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{
    base_config, base_config_on, eventually, metrics, Collector, Ports, ReservedPort,
};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const TRACES: u64 = 200;
const SPANS_PER_TRACE: u64 = 5;
const TRACES_PER_REQUEST: u64 = 20;

/// A well-spread 16-byte trace id for trace `t` (splitmix64).
fn trace_id(t: u64) -> Vec<u8> {
    let mut z = t.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(16);
    for _ in 0..2 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_be_bytes());
    }
    out
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(service.into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// Span `round` of traces `traces`, in two resources (even and odd traces). Span ids are
/// `t * SPANS_PER_TRACE + round + 1`.
fn spans(traces: std::ops::Range<u64>, round: u64) -> ExportTraceServiceRequest {
    let resource_spans = (0..2)
        .map(|parity| ResourceSpans {
            resource: resource(&format!("svc-{parity}")),
            scope_spans: vec![ScopeSpans {
                spans: traces
                    .clone()
                    .filter(|t| t % 2 == parity)
                    .map(|t| Span {
                        trace_id: trace_id(t),
                        span_id: (t * SPANS_PER_TRACE + round + 1).to_be_bytes().to_vec(),
                        name: format!("trace-{t}-span-{round}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// One log record per trace of `traces`, carrying its trace id; the body is the trace number.
fn logs(traces: std::ops::Range<u64>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("svc-logs"),
            scope_logs: vec![ScopeLogs {
                log_records: traces
                    .map(|t| LogRecord {
                        trace_id: trace_id(t),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::IntValue(t as i64)),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// (trace id, span id) of every span a sink received, duplicates included.
fn received_spans(sink: &Sink) -> Vec<(Vec<u8>, Vec<u8>)> {
    sink.lock()
        .traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| (s.trace_id.clone(), s.span_id.clone()))
        .collect()
}

/// Trace ids of every log record a sink received.
fn received_log_traces(sink: &Sink) -> Vec<Vec<u8>> {
    sink.lock()
        .logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .map(|l| l.trace_id.clone())
        .collect()
}

/// A sampling-tier collector on `ports` ([`Ports::ANY`] unless it must be found at a known
/// address): otlp receiver → otlp exporter to `sink`.
fn sampling_tier(ports: Ports, sink: &Sink) -> Collector {
    let cfg = base_config_on(
        &ports,
        "",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls: {{insecure: true}}",
            sink.port()
        ),
        "    traces: {receivers: [otlp], exporters: [otlp]}\n    logs: {receivers: [otlp], exporters: [otlp]}",
    );
    Collector::start(&cfg, &[])
}

/// The front tier: otlp receiver → loadbalancing exporter over the samplers' gRPC ports.
fn front_tier(samplers: [&Ports; 2]) -> Collector {
    let cfg = base_config(
        "",
        &format!(
            "  loadbalancing:\n    routing_key: traceID\n    protocol:\n      otlp:\n        tls: {{insecure: true}}\n        timeout: 2s\n        retry_on_failure: {{initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0s}}\n    resolver:\n      static:\n        hostnames: [127.0.0.1:{}, 127.0.0.1:{}]",
            samplers[0].grpc, samplers[1].grpc
        ),
        "    traces: {receivers: [otlp], exporters: [loadbalancing]}\n    logs: {receivers: [otlp], exporters: [loadbalancing]}",
    );
    Collector::start(&cfg, &[])
}

/// Sends every trace's spans (one span of each trace per round, so the spans of a trace come in
/// different requests) and a log record per trace to the front.
fn send_everything(rt: &tokio::runtime::Runtime, front: &Collector) {
    rt.block_on(async {
        let url = format!("http://127.0.0.1:{}", front.ports.grpc);
        let mut traces = TraceServiceClient::connect(url.clone())
            .await
            .expect("connect");
        let mut logs_client = LogsServiceClient::connect(url).await.expect("connect");
        for round in 0..SPANS_PER_TRACE {
            for first in (0..TRACES).step_by(TRACES_PER_REQUEST as usize) {
                traces
                    .export(spans(first..first + TRACES_PER_REQUEST, round))
                    .await
                    .expect("front accepts spans");
            }
        }
        for first in (0..TRACES).step_by(50) {
            logs_client
                .export(logs(first..first + 50))
                .await
                .expect("front accepts logs");
        }
    });
}

/// Whether every tier has sent on all it took: the front all the data, each sampler what its
/// receiver accepted. Then nothing more (no duplicate) is on its way to the sinks.
fn settled(front: &Collector, samplers: &[&Collector]) -> bool {
    let spans = (TRACES * SPANS_PER_TRACE) as f64;
    front.metric("otelcol_exporter_sent_spans{exporter=\"loadbalancing\"}") >= spans
        && front.metric("otelcol_exporter_sent_log_records{exporter=\"loadbalancing\"}")
            >= TRACES as f64
        && samplers.iter().all(|s| {
            let text = s.metrics_text();
            let value = |series| metrics::value(&text, series).unwrap_or(0.0);
            value("otelcol_exporter_sent_spans{exporter=\"otlp\"}")
            == value("otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"grpc\"}")
            && value("otelcol_exporter_sent_log_records{exporter=\"otlp\"}")
                == value(
                    "otelcol_receiver_accepted_log_records{receiver=\"otlp\",transport=\"grpc\"}",
                )
        })
}

/// Waits for everything at the sinks, then checks: every span exactly once, every trace whole
/// at one sink, both sinks with a fair share, every log record with its trace.
fn check_sinks(sinks: &[Sink; 2], front: &Collector, samplers: &[&Collector], wait: Duration) {
    let total_spans = (TRACES * SPANS_PER_TRACE) as usize;
    let arrived = eventually(wait, || {
        sinks.iter().map(|s| received_spans(s).len()).sum::<usize>() >= total_spans
            && sinks
                .iter()
                .map(|s| received_log_traces(s).len())
                .sum::<usize>()
                >= TRACES as usize
    });
    assert!(
        arrived,
        "spans at the sinks: {:?}; front stderr:\n{}",
        sinks
            .iter()
            .map(|s| received_spans(s).len())
            .collect::<Vec<_>>(),
        front.stderr()
    );
    // A duplicate would still be on its way while a tier has not sent on all it took.
    assert!(
        eventually(wait, || settled(front, samplers)),
        "front:\n{}",
        front.metrics_text()
    );

    let mut span_sink: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut trace_sinks: HashMap<Vec<u8>, HashSet<usize>> = HashMap::new();
    let mut trace_spans: HashMap<Vec<u8>, usize> = HashMap::new();
    for (i, sink) in sinks.iter().enumerate() {
        for (trace, span) in received_spans(sink) {
            assert!(
                span_sink.insert(span.clone(), i).is_none(),
                "span {span:?} arrived twice"
            );
            trace_sinks.entry(trace.clone()).or_default().insert(i);
            *trace_spans.entry(trace).or_default() += 1;
        }
    }
    assert_eq!(span_sink.len(), total_spans, "every span exactly once");
    assert_eq!(trace_sinks.len(), TRACES as usize);
    for t in 0..TRACES {
        let id = trace_id(t);
        assert_eq!(
            trace_sinks[&id].len(),
            1,
            "trace {t} was split across samplers"
        );
        assert_eq!(trace_spans[&id], SPANS_PER_TRACE as usize);
    }
    let per_sink: Vec<usize> = (0..2)
        .map(|i| trace_sinks.values().filter(|s| s.contains(&i)).count())
        .collect();
    assert!(
        per_sink.iter().all(|&n| n >= TRACES as usize / 5),
        "both samplers get a fair share of traces: {per_sink:?}"
    );

    let mut logs_seen = 0;
    for (i, sink) in sinks.iter().enumerate() {
        for trace in received_log_traces(sink) {
            assert!(
                trace_sinks[&trace].contains(&i),
                "a log record went to another sampler than its trace"
            );
            logs_seen += 1;
        }
    }
    assert_eq!(logs_seen, TRACES as usize);
}

#[test]
fn loadbalancing_front_tier_keeps_every_trace_whole_on_one_sampler() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sinks = [rt.block_on(Sink::start()), rt.block_on(Sink::start())];
    let tiers = [
        sampling_tier(Ports::ANY, &sinks[0]),
        sampling_tier(Ports::ANY, &sinks[1]),
    ];
    let front = front_tier([&tiers[0].ports, &tiers[1].ports]);
    send_everything(&rt, &front);
    check_sinks(
        &sinks,
        &front,
        &[&tiers[0], &tiers[1]],
        Duration::from_secs(20),
    );

    let text = front.metrics_text();
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_loadbalancer_num_backends{resolver=\"static\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        metrics::sum(&text, "otelcol_loadbalancer_backend_outcome", &[]) > 0.0,
        "{text}"
    );
}

/// One sampler is down while the front takes the data: the front acknowledges everything, its
/// retries send only the parts that sampler missed, and once it is up every span has arrived
/// exactly once (the healthy sampler got no duplicates).
#[test]
fn loadbalancing_sampler_outage_loses_and_duplicates_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sinks = [rt.block_on(Sink::start()), rt.block_on(Sink::start())];
    let up = sampling_tier(Ports::ANY, &sinks[0]);
    // Nothing listens there yet, and the front is configured with it before the sampler
    // starts: the port is held until then.
    let down = ReservedPort::new();
    let down_ports = Ports {
        grpc: down.port(),
        ..Ports::ANY
    };
    let front = front_tier([&up.ports, &down_ports]);
    send_everything(&rt, &front);

    let down_endpoint = format!("127.0.0.1:{}", down_ports.grpc);
    let failures = || {
        metrics::sum(
            &front.metrics_text(),
            "otelcol_loadbalancer_backend_outcome",
            &[("endpoint", &down_endpoint), ("success", "false")],
        )
    };
    assert!(
        eventually(Duration::from_secs(10), || failures() > 0.0),
        "the front never tried the down sampler: {}",
        front.metrics_text()
    );
    assert!(received_spans(&sinks[1]).is_empty());
    drop(down);
    let late = sampling_tier(down_ports, &sinks[1]);
    check_sinks(&sinks, &front, &[&up, &late], Duration::from_secs(30));
}
