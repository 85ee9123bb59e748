//! The persistent sending queue against the real binary: with `sending_queue.storage` on a
//! `file_storage` extension and the destination down, every request the collector acknowledged
//! survives `kill -9`; a new collector with the same config and directory delivers all of it
//! once the destination is up, and sends again at most what it counted as possibly duplicated.
//! A full persistent queue refuses with UNAVAILABLE, and a storage id that names no storage
//! extension is a config error with its path. A SIGHUP reload that moves the destination
//! carries what the queue holds over to the new exporter.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{
    base_config, binary, eventually, span_request, Collector, ReservedPort,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

const SPANS_PER_REQUEST: u64 = 10;

/// A collector config: otlp receiver → otlp exporter to `sink_port` with a persistent queue in
/// `dir`. The listeners bind port 0: a restarted collector needs the same directory, not the
/// same ports. The destination is down (a [`ReservedPort`]) and comes back on that port.
fn config(sink_port: u16, dir: &Path, queue: &str) -> String {
    let base = base_config(
        "",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{sink_port}\n    tls: {{insecure: true}}\n    timeout: 1s\n    retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0s}}\n    sending_queue: {{storage: file_storage/queue, {queue}}}"
        ),
        "    traces: {receivers: [otlp], exporters: [otlp]}",
    );
    base.replacen(
        "extensions:\n",
        &format!(
            "extensions:\n  file_storage/queue:\n    directory: {}\n    create_directory: true\n",
            dir.display()
        ),
        1,
    )
    .replace(
        "extensions: [health_check]",
        "extensions: [health_check, file_storage/queue]",
    )
}

/// Sends requests `0..n` over gRPC; returns the first span id of each acknowledged one and the
/// number refused with UNAVAILABLE. Anything else fails the test.
async fn send(port: u16, n: u64) -> (Vec<u64>, usize) {
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect to ferrotel");
    let (mut ok, mut refused) = (vec![], 0);
    for r in 0..n {
        let first = r * SPANS_PER_REQUEST;
        match client
            .export(span_request(first..first + SPANS_PER_REQUEST))
            .await
        {
            Ok(_) => ok.push(first),
            Err(s) if s.code() == tonic::Code::Unavailable => refused += 1,
            Err(s) => panic!("unexpected answer: {s:?}"),
        }
    }
    (ok, refused)
}

fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn acknowledged_spans_survive_kill_9_and_are_delivered_after_restart() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("queue");
    let queue_dir = dir.join("exporter_otlp_traces");
    let down = ReservedPort::new(); // nothing listens there: the destination is down
    let sink_port = down.port();
    let cfg = config(sink_port, &dir, "num_consumers: 2");

    let mut first = Collector::start(&cfg, &[]);
    const REQUESTS: u64 = 60;
    let (ok, refused) = rt.block_on(send(first.ports.grpc, REQUESTS));
    assert_eq!((ok.len() as u64, refused), (REQUESTS, 0));
    let series = "otelcol_exporter_queue_size{exporter=\"otlp\",data_type=\"traces\"}";
    assert!(
        eventually(Duration::from_secs(5), || first.metric(series)
            >= (REQUESTS - 2) as f64),
        "{}",
        first.metrics_text()
    );
    assert_eq!(
        first.metric("otelcol_exporter_sent_spans{exporter=\"otlp\"}"),
        0.0
    );
    assert_eq!(files(&queue_dir), REQUESTS as usize, "one file per request");
    first.kill9();

    drop(down);
    let sink = rt.block_on(Sink::start_on(sink_port));
    let second = Collector::start(&cfg, &[]);
    let want: HashSet<u64> = (0..REQUESTS * SPANS_PER_REQUEST).collect();
    assert!(
        eventually(Duration::from_secs(30), || sink
            .span_ids()
            .into_iter()
            .collect::<HashSet<_>>()
            == want),
        "delivered {} of {} spans; stderr:\n{}",
        sink.span_ids().len(),
        want.len(),
        second.stderr()
    );
    assert!(
        eventually(Duration::from_secs(10), || files(&queue_dir) == 0),
        "exported requests are removed from disk"
    );
    let received = sink.span_ids().len() as f64;
    let duplicates = received - want.len() as f64;
    let counted = second.metric("ferrotel_exporter_queue_redispatched_spans{exporter=\"otlp\"}");
    assert!(
        duplicates <= counted,
        "{duplicates} duplicate spans but only {counted} counted as possible duplicates"
    );
    assert!(
        counted <= 2.0 * SPANS_PER_REQUEST as f64,
        "at most num_consumers requests were in flight: {counted}"
    );
    assert_eq!(
        second.metric("otelcol_exporter_sent_spans{exporter=\"otlp\"}"),
        received
    );
    assert_eq!(second.metric(series), 0.0);
}

#[test]
fn a_full_persistent_queue_refuses_with_unavailable_and_keeps_what_it_acknowledged() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("queue");
    let down = ReservedPort::new();
    let sink_port = down.port();
    let cfg = config(sink_port, &dir, "num_consumers: 1, queue_size: 5");

    let mut first = Collector::start(&cfg, &[]);
    let (ok, refused) = rt.block_on(send(first.ports.grpc, 20));
    assert!(refused >= 14, "ok {} refused {refused}", ok.len());
    assert!(
        ok.len() <= 6,
        "queue_size 5 plus the one in flight: {}",
        ok.len()
    );
    assert!(
        first.metric("otelcol_exporter_enqueue_failed_spans{exporter=\"otlp\"}")
            >= (14 * SPANS_PER_REQUEST) as f64
    );
    assert_eq!(
        files(&dir.join("exporter_otlp_traces")),
        ok.len(),
        "a refused request is not stored"
    );
    first.kill9();

    drop(down);
    let sink = rt.block_on(Sink::start_on(sink_port));
    let _second = Collector::start(&cfg, &[]);
    let want: HashSet<u64> = ok.iter().flat_map(|f| *f..*f + SPANS_PER_REQUEST).collect();
    assert!(eventually(Duration::from_secs(30), || sink
        .span_ids()
        .into_iter()
        .collect::<HashSet<_>>()
        == want));
}

/// As otelcol, `validate` does not resolve storage references; starting does, and names each.
#[test]
fn storage_must_name_a_storage_extension() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = base_config(
        "",
        "  otlp:\n    endpoint: 127.0.0.1:1\n    sending_queue: {storage: file_storage/missing}\n  otlp/2:\n    endpoint: 127.0.0.1:1\n    sending_queue: {storage: health_check}",
        "    traces: {receivers: [otlp], exporters: [otlp, otlp/2]}",
    );
    let path = tmp.path().join("config.yaml");
    std::fs::write(&path, &cfg).expect("write config");
    let out = std::process::Command::new(binary())
        .arg("validate")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("ferrotel runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let mut c = Collector::spawn(&cfg, &[]);
    let status = c
        .wait_exit(Duration::from_secs(20))
        .expect("exits at start");
    let err = c.stderr();
    assert!(!status.success(), "{err}");
    for needle in [
        "exporters.otlp.sending_queue.storage: storage extension \"file_storage/missing\" not found",
        "exporters.otlp/2.sending_queue.storage: extension \"health_check\" is not a storage extension",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn sigterm_with_the_destination_down_keeps_the_queue_for_the_next_start() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("queue");
    let down = ReservedPort::new();
    let sink_port = down.port();
    let cfg = config(sink_port, &dir, "num_consumers: 2");

    let mut first = Collector::start(&cfg, &[]);
    let (ok, _) = rt.block_on(send(first.ports.grpc, 15));
    assert_eq!(ok.len(), 15);
    let stopping = std::time::Instant::now();
    assert_eq!(
        first.terminate(Duration::from_secs(10)),
        Some(0),
        "{}",
        first.stderr()
    );
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "a persistent queue does not wait for a dead destination: {:?}",
        stopping.elapsed()
    );
    assert!(
        !first.stderr().contains("Dropping data"),
        "{}",
        first.stderr()
    );

    drop(down);
    let sink = rt.block_on(Sink::start_on(sink_port));
    let _second = Collector::start(&cfg, &[]);
    let want: HashSet<u64> = (0..15 * SPANS_PER_REQUEST).collect();
    assert!(eventually(Duration::from_secs(30), || sink
        .span_ids()
        .into_iter()
        .collect::<HashSet<_>>()
        == want));
}

#[test]
fn a_reload_carries_the_persistent_queue_over_to_the_new_exporter() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("queue");
    let down = ReservedPort::new();
    let mut c = Collector::start(
        &config(down.port(), &dir, "num_consumers: 2"),
        &["--shutdown-timeout", "1s"],
    );
    let (acked, refused) = rt.block_on(send(c.ports.grpc, 20));
    assert_eq!((acked.len(), refused), (20, 0));
    let sink = rt.block_on(Sink::start());
    // The destination moves: the old service gives up after 1s, leaving the queue on disk.
    c.reload(&config(sink.port(), &dir, "num_consumers: 2"));
    let all = acked.len() * SPANS_PER_REQUEST as usize;
    let delivered = eventually(Duration::from_secs(30), || {
        sink.span_ids().into_iter().collect::<HashSet<_>>().len() >= all
    });
    assert!(
        delivered,
        "{} of {all} spans delivered after the reload; stderr:\n{}",
        sink.span_ids().into_iter().collect::<HashSet<_>>().len(),
        c.stderr()
    );
    let log = c.stderr();
    assert!(log.contains("Config reload succeeded"), "{log}");
    assert_eq!(c.terminate(Duration::from_secs(30)), Some(0));
    drop(down);
}
