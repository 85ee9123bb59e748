//! A destination outage with the default in-memory sending queue, against the real binary:
//! while the exporter's destination is down (nothing listens on its port) clients keep
//! sending and every request is acknowledged; when the destination comes back on the same
//! port, everything acknowledged arrives exactly once and nothing is counted as failed.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, span_request, Collector, ReservedPort};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SPANS_PER_REQUEST: u64 = 10;

#[test]
fn everything_acknowledged_during_an_outage_arrives_once() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    // The destination is down: nothing listens there, held until the sink comes back on it.
    let down = ReservedPort::new();
    let sink_port = down.port();
    let mut down = Some(down);
    let cfg = base_config(
        "  batch:\n    timeout: 20ms\n    send_batch_size: 50",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{sink_port}\n    tls: {{insecure: true}}\n    timeout: 2s\n    retry_on_failure: {{initial_interval: 100ms, max_interval: 400ms, max_elapsed_time: 0s}}\n    sending_queue: {{num_consumers: 4, queue_size: 1000}}"
        ),
        "    traces: {receivers: [otlp], processors: [batch], exporters: [otlp]}",
    );
    let c = Collector::start(&cfg, &[]);

    // Clients send for 5 s; the destination comes back after 3 s.
    let outage = Duration::from_secs(3);
    let (sink, acknowledged) = rt.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{}", c.ports.grpc))
            .await
            .expect("connect to ferrotel");
        let start = Instant::now();
        let mut sink = None;
        let mut acknowledged = vec![];
        let mut next = 0u64;
        while start.elapsed() < Duration::from_secs(5) {
            if sink.is_none() && start.elapsed() >= outage {
                assert_eq!(
                    c.metric("otelcol_exporter_sent_spans{exporter=\"otlp\"}"),
                    0.0,
                    "nothing can be sent while the destination is down"
                );
                drop(down.take());
                sink = Some(Sink::start_on(sink_port).await);
            }
            let req = span_request(next..next + SPANS_PER_REQUEST);
            match client.export(req).await {
                Ok(_) => acknowledged.extend(next..next + SPANS_PER_REQUEST),
                Err(s) => panic!("request refused during the outage: {s:?}"),
            }
            next += SPANS_PER_REQUEST;
            // Not synchronisation: the clients' sending rate over the 5 s.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (sink.expect("sink started"), acknowledged)
    });
    assert!(
        acknowledged.len() > 1000,
        "{} spans sent",
        acknowledged.len()
    );

    assert!(
        eventually(Duration::from_secs(30), || sink.span_ids().len()
            >= acknowledged.len()),
        "delivered {} of {}; stderr:\n{}",
        sink.span_ids().len(),
        acknowledged.len(),
        c.stderr()
    );
    // Any duplicate would come from an attempt that failed before a later one succeeded, so
    // it is at the sink once the collector counts everything as sent.
    let n = acknowledged.len() as f64;
    assert!(
        eventually(Duration::from_secs(10), || c
            .metric("otelcol_exporter_sent_spans{exporter=\"otlp\"}")
            >= n),
        "{}",
        c.metrics_text()
    );
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for id in sink.span_ids() {
        *seen.entry(id).or_default() += 1;
    }
    let missing = acknowledged
        .iter()
        .filter(|id| !seen.contains_key(id))
        .count();
    let duplicated = seen.values().filter(|n| **n > 1).count();
    assert_eq!((missing, duplicated), (0, 0));
    assert_eq!(seen.len(), acknowledged.len());
    assert_eq!(
        c.metric("otelcol_exporter_sent_spans{exporter=\"otlp\"}"),
        n
    );
    assert_eq!(
        c.metric("otelcol_exporter_send_failed_spans{exporter=\"otlp\"}"),
        0.0
    );
    assert_eq!(
        c.metric("otelcol_exporter_enqueue_failed_spans{exporter=\"otlp\"}"),
        0.0
    );
}
