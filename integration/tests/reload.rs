//! SIGHUP reload of the real binary: under load from gRPC and HTTP clients nothing acknowledged
//! is lost or duplicated and no client is refused; a bad configuration (invalid YAML, unknown
//! component, a port taken by another process) keeps the previous one serving and is counted;
//! a changed receiver endpoint closes the old port and serves on the new one.

// Tests may unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, span_request, startup, Collector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SPANS_PER_REQUEST: u64 = 5;
const RELOAD_WAIT: Duration = Duration::from_secs(30);

/// A trace pipeline `otlp -> processors -> otlp exporter to sink_port`.
fn config(processors: &str, list: &str, sink_port: u16) -> String {
    base_config(
        processors,
        &format!("  otlp:\n    endpoint: 127.0.0.1:{sink_port}\n    tls: {{insecure: true}}\n    retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms}}"),
        &format!("    traces:\n      receivers: [otlp]\n      processors: [{list}]\n      exporters: [otlp]"),
    )
}

fn count_lines(c: &Collector, text: &str) -> usize {
    c.stderr().lines().filter(|l| l.contains(text)).count()
}

/// Waits until the collector logged `text` `n` times.
fn wait_logged(c: &Collector, text: &str, n: usize) {
    let ok = ferrotel_integration::eventually(RELOAD_WAIT, || count_lines(c, text) >= n);
    assert!(
        ok,
        "no {n}x {text:?} in {RELOAD_WAIT:?}; stderr:\n{}",
        c.stderr()
    );
}

/// What the clients saw: ids acknowledged, and every error they should never see.
#[derive(Default)]
struct Outcome {
    acked: Mutex<Vec<u64>>,
    fatal: Mutex<Vec<String>>,
    retried: AtomicU64,
    next_id: AtomicU64,
    stop: AtomicBool,
}

impl Outcome {
    fn ids(&self) -> std::ops::Range<u64> {
        let first = self.next_id.fetch_add(SPANS_PER_REQUEST, Ordering::Relaxed);
        first..first + SPANS_PER_REQUEST
    }
    fn acked(&self, ids: std::ops::Range<u64>) {
        self.acked.lock().unwrap().extend(ids);
    }
    fn fatal(&self, e: String) {
        self.fatal.lock().unwrap().push(e);
    }
    fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }
}

fn retryable(s: &tonic::Status) -> bool {
    let from_transport = std::error::Error::source(s)
        .is_some_and(|e| e.downcast_ref::<tonic::transport::Error>().is_some());
    from_transport
        || matches!(
            s.code(),
            tonic::Code::Unavailable | tonic::Code::ResourceExhausted
        )
}

/// Sends requests until told to stop, each with new ids, retrying retryable failures with
/// the same ids (as SDK exporters do). A refused connection is recorded as fatal.
async fn grpc_client(port: u16, out: Arc<Outcome>) {
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    let mut client = TraceServiceClient::new(channel);
    while !out.stop.load(Ordering::Relaxed) {
        let ids = out.ids();
        loop {
            match client.export(span_request(ids.clone())).await {
                Ok(_) => break out.acked(ids),
                Err(s) if format!("{s:?}").contains("Connection refused") => {
                    return out.fatal(format!("grpc: connection refused: {s:?}"));
                }
                // Retryable statuses, and transport failures the client itself turned into a
                // status (a request racing the GOAWAY of a draining connection: HTTP/2 says the
                // server did not process it, and the duplicate check below holds it to that).
                Err(s) if retryable(&s) => {
                    out.retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(s) => return out.fatal(format!("grpc: non-retryable {s:?}")),
            }
        }
    }
}

async fn http_client(port: u16, out: Arc<Outcome>) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/traces");
    while !out.stop.load(Ordering::Relaxed) {
        let ids = out.ids();
        let body = span_request(ids.clone()).encode_to_vec();
        loop {
            let sent = client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => break out.acked(ids),
                Ok(r) if matches!(r.status().as_u16(), 429 | 502 | 503 | 504) => {
                    out.retried.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => return out.fatal(format!("http: non-retryable {}", r.status())),
                Err(e) if format!("{e:?}").contains("Connection refused") => {
                    return out.fatal(format!("http: connection refused: {e:?}"));
                }
                // The server closed an idle keep-alive connection as the request went out.
                Err(_) => {
                    out.retried.fetch_add(1, Ordering::Relaxed);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits (bounded) until the clients got `more` items acknowledged beyond `now`.
async fn wait_acked(out: &Outcome, more: usize) {
    let target = out.acked_count() + more;
    let ok =
        ferrotel_integration::wait_for(|| out.acked_count() >= target, Duration::from_secs(20))
            .await;
    assert!(
        ok,
        "clients stalled at {} acknowledged items",
        out.acked_count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_under_load_loses_and_duplicates_nothing() {
    let (a, b) = (Sink::start().await, Sink::start().await);
    let configs = [
        config("  batch:\n    timeout: 200ms", "batch", a.port()),
        config("  batch:\n    timeout: 50ms\n  resource:\n    attributes:\n      - {key: reloaded, value: one, action: upsert}", "resource, batch", b.port()),
        config("  batch:\n    timeout: 1s\n    send_batch_size: 64", "batch", a.port()),
        config("  batch:\n    timeout: 100ms", "batch", b.port()),
    ];
    let mut c = Collector::start(&configs[0], &[]);
    let out = Arc::new(Outcome::default());
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..3 {
        clients.spawn(grpc_client(c.ports.grpc, out.clone()));
        clients.spawn(http_client(c.ports.http, out.clone()));
    }
    wait_acked(&out, 200).await;
    for (i, next) in configs.iter().cycle().skip(1).take(4).enumerate() {
        c.reload(next);
        let c = &c;
        tokio::task::block_in_place(|| wait_logged(c, "Config reload succeeded", i + 1));
        wait_acked(&out, 200).await;
    }
    out.stop.store(true, Ordering::Relaxed);
    let joined = tokio::time::timeout(Duration::from_secs(30), async {
        while clients.join_next().await.is_some() {}
    })
    .await;
    assert!(joined.is_ok(), "clients did not finish");
    assert_eq!(
        tokio::task::block_in_place(|| c.terminate(Duration::from_secs(30))),
        Some(0)
    );

    let fatal = out.fatal.lock().unwrap().clone();
    assert!(
        fatal.is_empty(),
        "clients saw errors they must not: {fatal:?}"
    );
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for id in a.span_ids().into_iter().chain(b.span_ids()) {
        *seen.entry(id).or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dupes.is_empty(),
        "spans delivered more than once: {:?}",
        &dupes[..dupes.len().min(10)]
    );
    let acked = out.acked.lock().unwrap().clone();
    let lost: Vec<_> = acked.iter().filter(|id| !seen.contains_key(id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged spans lost, e.g. {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(10)]
    );
    assert!(
        a.span_count() > 0 && b.span_count() > 0,
        "both sinks served in turn"
    );
    eprintln!(
        "{} spans acknowledged, {} retries",
        acked.len(),
        out.retried.load(Ordering::Relaxed)
    );
}

/// One request of fresh ids through gRPC; panics unless acknowledged.
async fn send_one(port: u16, out: &Outcome) {
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("the collector accepts connections");
    let ids = out.ids();
    client
        .export(span_request(ids.clone()))
        .await
        .expect("the collector still serves");
    out.acked(ids);
}

/// The log of the `n`th failed reload: its line and what follows up to the next failure (an
/// error spanning several lines).
fn nth_failure(log: &str, n: usize) -> String {
    let text = "Config reload failed";
    log.match_indices(text)
        .nth(n)
        .map(|(at, _)| {
            let rest = &log[at + text.len()..];
            rest[..rest.find(text).unwrap_or(rest.len())].to_string()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reloads_keep_the_old_config_serving() {
    let sink = Sink::start().await;
    let good = config("  batch:\n    timeout: 50ms", "batch", sink.port());
    let mut c = Collector::start(&good, &[]);
    let out = Outcome::default();
    send_one(c.ports.grpc, &out).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let bad = [
        ("invalid YAML", "receivers: [unclosed\n".to_string(), "did not find expected"),
        ("unknown component", good.replace("      processors: [batch]", "      processors: [batch, nosuch]").replace("  batch:\n    timeout: 50ms", "  batch:\n    timeout: 50ms\n  nosuch:"), "nosuch"),
        ("port taken", good.replace("receivers:\n  otlp:", &format!("receivers:\n  otlp/taken:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{taken_port}\n  otlp:")).replace("receivers: [otlp]", "receivers: [otlp, otlp/taken]"), "did not start"),
    ];
    for (i, (what, yaml, reason)) in bad.iter().enumerate() {
        c.reload(yaml);
        let c = &c;
        tokio::task::block_in_place(|| wait_logged(c, "Config reload failed", i + 1));
        let failure = nth_failure(&c.stderr(), i);
        assert!(
            failure.contains(reason),
            "{what}: the failure names its reason ({reason:?}): {failure}"
        );
        send_one(c.ports.grpc, &out).await;
    }
    let failure = nth_failure(&c.stderr(), 2);
    assert!(
        failure.contains(&taken_port.to_string()),
        "the start error names the port: {failure}"
    );
    let metrics = tokio::task::block_in_place(|| c.metrics_text());
    assert_eq!(
        ferrotel_integration::metrics::value(
            &metrics,
            "ferrotel_config_reloads{result=\"failure\"}"
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        ferrotel_integration::metrics::value(
            &metrics,
            "ferrotel_config_reloads{result=\"success\"}"
        ),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        tokio::task::block_in_place(|| c.terminate(Duration::from_secs(30))),
        Some(0)
    );
    let received: HashSet<u64> = sink.span_ids().into_iter().collect();
    let acked = out.acked.lock().unwrap().clone();
    assert!(
        acked.iter().all(|id| received.contains(id)),
        "acknowledged spans lost across failed reloads"
    );
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_moves_a_changed_endpoint_and_keeps_the_others() {
    let sink = Sink::start().await;
    let first = config("  batch:\n    timeout: 50ms", "batch", sink.port());
    let mut c = Collector::start(&first, &[]);
    let out = Outcome::default();
    let old_grpc = c.ports.grpc;
    send_one(old_grpc, &out).await;
    let reserved = ferrotel_integration::ReservedPort::new();
    let new_port = reserved.port();
    let moved = first.replace(
        "grpc:\n        endpoint: 127.0.0.1:0",
        &format!("grpc:\n        endpoint: 127.0.0.1:{new_port}"),
    );
    assert_ne!(moved, first);
    drop(reserved);
    c.reload(&moved);
    let c_ref = &c;
    tokio::task::block_in_place(|| wait_logged(c_ref, "Config reload succeeded", 1));
    let grpc = startup::addrs(&c.stderr(), startup::GRPC, Some("otlp"));
    assert_eq!(grpc.last().map(|a| a.port()), Some(new_port), "{grpc:?}");
    send_one(new_port, &out).await;
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", old_grpc)).await;
    assert!(refused.is_err(), "the old gRPC port still accepts");
    let http = startup::addrs(&c.stderr(), startup::HTTP, Some("otlp"));
    assert_eq!(http.len(), 2, "{http:?}");
    assert_eq!(
        http[0], http[1],
        "the unchanged HTTP endpoint kept its socket"
    );
    let r = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", http[1]))
        .header("content-type", "application/x-protobuf")
        .body(span_request(out.ids()).encode_to_vec())
        .send()
        .await
        .expect("the HTTP endpoint serves");
    assert!(r.status().is_success());
    let metrics = tokio::task::block_in_place(|| c.metrics_text());
    assert!(
        metrics.contains("ferrotel_config_reloads{result=\"success\"} 1"),
        "{metrics}"
    );
    assert_eq!(
        tokio::task::block_in_place(|| c.terminate(Duration::from_secs(30))),
        Some(0)
    );
}
