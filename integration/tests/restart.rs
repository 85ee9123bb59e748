//! A restart under load against the real binary: gRPC clients keep sending while the collector
//! is stopped (SIGTERM) and a new one is started with the same config and ports. Every answer a
//! client gets is either OK or retryable (UNAVAILABLE, or the connection refused or closed under
//! the request, which OTLP clients retry), and every span a client was told was accepted
//! reaches the destination: the first collector drains before it exits.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, base_config_on, eventually, span_request, Collector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SPANS_PER_REQUEST: u64 = 20;
const CLIENTS: u64 = 4;

/// What clients saw: the span ids acknowledged, per phase, and every error.
#[derive(Default)]
struct Seen {
    acknowledged: Vec<u64>,
    acknowledged_after_restart: usize,
    errors: Vec<String>,
    not_retryable: Vec<String>,
}

/// A client-side failure an OTLP client retries: the server's UNAVAILABLE (or another retryable
/// code), or a transport failure, which tonic reports as UNKNOWN with the transport error as its
/// source (grpc-go reports the same as UNAVAILABLE).
fn retryable(s: &tonic::Status) -> bool {
    use tonic::Code::*;
    match s.code() {
        Unavailable | Cancelled | ResourceExhausted | Aborted | DeadlineExceeded => true,
        Unknown => std::error::Error::source(s).is_some(),
        _ => refused_by_goaway(s),
    }
}

/// A failure of the HTTP/2 connection rather than a status the server sent (a server's status
/// has no source): seen when the shutting-down server's final GOAWAY refuses a stream the client
/// opened after its last accepted one. The request never reached the server and grpc-go retries
/// it transparently; tonic reports it as INTERNAL "h2 protocol error" with the h2 error as its
/// source.
fn refused_by_goaway(s: &tonic::Status) -> bool {
    let mut cause = std::error::Error::source(s);
    while let Some(e) = cause {
        if e.downcast_ref::<h2::Error>().is_some() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[test]
fn a_restart_under_load_gives_clients_only_retryable_errors_and_loses_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sink = rt.block_on(Sink::start());
    let processors = "  batch:\n    timeout: 50ms\n    send_batch_size: 200";
    let exporters = format!(
        "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls: {{insecure: true}}\n    retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms}}",
        sink.port()
    );
    let pipelines = "    traces: {receivers: [otlp], processors: [batch], exporters: [otlp]}";
    let mut first = Collector::start(&base_config(processors, &exporters, pipelines), &[]);
    let ports = first.ports;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (seen, stop, restarted, next_id) = (
                seen.clone(),
                stop.clone(),
                restarted.clone(),
                next_id.clone(),
            );
            let endpoint = format!("http://127.0.0.1:{}", ports.grpc);
            rt.spawn(async move {
                // A lazy channel reconnects by itself after the server goes away, as SDKs do.
                let channel = tonic::transport::Endpoint::from_shared(endpoint)
                    .expect("endpoint")
                    .timeout(Duration::from_secs(5))
                    .connect_lazy();
                let mut client = TraceServiceClient::new(channel);
                while !stop.load(Ordering::Relaxed) {
                    let from = next_id.fetch_add(SPANS_PER_REQUEST, Ordering::Relaxed);
                    let ids = from..from + SPANS_PER_REQUEST;
                    let after = restarted.load(Ordering::Relaxed);
                    let result = client.export(span_request(ids.clone())).await;
                    let failed = {
                        let mut seen = seen.lock().expect("lock");
                        match result {
                            Ok(_) => {
                                seen.acknowledged.extend(ids);
                                seen.acknowledged_after_restart += usize::from(after);
                                false
                            }
                            Err(s) => {
                                let text = format!(
                                    "{:?}: {} ({:?})",
                                    s.code(),
                                    s.message(),
                                    std::error::Error::source(&s)
                                );
                                if !retryable(&s) {
                                    seen.not_retryable.push(text.clone());
                                }
                                seen.errors.push(text);
                                true
                            }
                        }
                    };
                    if failed {
                        // Not synchronisation: the client's backoff before it retries.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();

    // Under load: clients are being served before the restart.
    eventually(Duration::from_secs(20), || {
        seen.lock().expect("lock").acknowledged.len() > 100
    });
    let before = seen.lock().expect("lock").acknowledged.len();
    assert_eq!(
        first.terminate(Duration::from_secs(20)),
        Some(0),
        "{}",
        first.stderr()
    );
    // The second comes up where the clients keep sending: on the ports the first reported.
    // (Between the first's exit and the second's start another test could take one of them;
    // a restart on the same port cannot avoid that.)
    let second = Collector::start(
        &base_config_on(&ports, processors, &exporters, pipelines),
        &[],
    );
    assert_eq!(second.ports.grpc, ports.grpc, "restarted on the same port");
    restarted.store(true, Ordering::Relaxed);
    // Served again after the restart.
    eventually(Duration::from_secs(20), || {
        seen.lock().expect("lock").acknowledged_after_restart > 10
    });
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        rt.block_on(c).expect("client task");
    }

    let seen = seen.lock().expect("lock");
    eprintln!(
        "{} spans acknowledged ({before} before the restart), {} errors: {:?}",
        seen.acknowledged.len(),
        seen.errors.len(),
        seen.errors.iter().collect::<HashSet<_>>()
    );
    assert!(
        before > 100,
        "only {before} spans acknowledged before the restart"
    );
    assert!(
        seen.acknowledged_after_restart > 10,
        "clients were served again after the restart: {} requests; errors {:?}",
        seen.acknowledged_after_restart,
        seen.errors.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        seen.not_retryable.is_empty(),
        "errors a client would not retry: {:?}",
        seen.not_retryable
    );
    let acknowledged: HashSet<u64> = seen.acknowledged.iter().copied().collect();
    assert!(
        eventually(Duration::from_secs(20), || {
            let got: HashSet<u64> = sink.span_ids().into_iter().collect();
            acknowledged.is_subset(&got)
        }),
        "{} acknowledged spans never arrived\nfirst:\n{}\nsecond:\n{}",
        {
            let got: HashSet<u64> = sink.span_ids().into_iter().collect();
            acknowledged.difference(&got).count()
        },
        first.stderr(),
        second.stderr()
    );
}

#[test]
fn an_h2_level_refusal_counts_as_retryable_and_a_server_internal_status_does_not() {
    let refused = tonic::Status::from_error(Box::new(h2::Error::from(h2::Reason::NO_ERROR)));
    assert_eq!(refused.code(), tonic::Code::Internal, "{refused:?}");
    assert!(retryable(&refused));
    assert!(!retryable(&tonic::Status::internal("the server failed")));
    assert!(!retryable(&tonic::Status::invalid_argument("bad data")));
}
