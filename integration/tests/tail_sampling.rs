//! The `tail_sampling` promise against the real binary:
//! - otelcol's classic recipe ("errors + slow + 10% of the rest"), its YAML copied unchanged
//!   apart from `decision_wait` and `num_traces`, keeps exactly the traces it should — the
//!   expected set is computed here, independently (otelcol's rules and an own FNV-1a 64,
//!   cross-checked against the Python reference vectors) — and keeps them whole, with the spans
//!   of each trace sent in several requests over gRPC and HTTP;
//! - a flood of unique trace ids keeps the process's resident memory under a bound derived
//!   from the byte budget (`max_buffered_bytes`) and the traces in memory under `num_traces`;
//! - two tiers (a `loadbalancing` front routing by trace id to two sampling ferrotels) keep
//!   every sampled trace whole at exactly one sink, and decide every trace on all its spans.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{
    base_config, eventually, metrics, proc_status_kib, workspace, Collector, Ports,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The independent reference: otelcol's probabilistic policy (otelcol-compat.md §6).

const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV64_PRIME: u64 = 0x0000_0100_0000_01b3;
const DEFAULT_SALT: &str = "default-hash-seed";
/// `uint64(big.Float(MaxUint64) * 0.10)` (64-bit mantissa, truncated), as in the reference.
const THRESHOLD_10_PERCENT: u64 = 0x1999_9999_9999_99ff;

/// FNV-1a 64 over `salt bytes || trace id bytes`.
fn fnv1a64(salt: &str, trace_id: &[u8]) -> u64 {
    salt.bytes()
        .chain(trace_id.iter().copied())
        .fold(FNV64_OFFSET, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(FNV64_PRIME)
        })
}

/// otelcol's `probabilistic: {sampling_percentage: 10}` with the default salt.
fn ten_percent(trace_id: &[u8]) -> bool {
    fnv1a64(DEFAULT_SALT, trace_id) <= THRESHOLD_10_PERCENT
}

/// The hash and the 10% threshold above agree with the Python reference vectors
/// (processors/testdata/tail_sampling/gen_vectors.py, exact rational arithmetic).
#[test]
fn tail_sampling_reference_hash_matches_python_vectors() {
    let csv = std::fs::read_to_string(
        workspace().join("processors/testdata/tail_sampling/probabilistic_vectors.csv"),
    )
    .expect("the reference vectors");
    let (mut rows, mut ten) = (0, 0);
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let [id, salt, pct, hash, threshold, sampled] = f[..] else {
            panic!("bad row {line}")
        };
        let id = hex::decode(id).expect("hex id");
        let salt = if salt.is_empty() { DEFAULT_SALT } else { salt };
        assert_eq!(format!("{:016x}", fnv1a64(salt, &id)), hash, "{line}");
        if pct == "10" {
            assert_eq!(format!("{THRESHOLD_10_PERCENT:016x}"), threshold);
            if salt == DEFAULT_SALT {
                assert_eq!(ten_percent(&id), sampled == "true", "{line}");
                ten += 1;
            }
        }
        rows += 1;
    }
    assert!(rows >= 400 && ten >= 10, "{rows} rows, {ten} at 10%");
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// A well-spread 16-byte trace id for trace `t` of test `test` (splitmix64).
fn trace_id(test: u64, t: u64) -> Vec<u8> {
    let mut z = (test << 40 | t).wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(16);
    for _ in 0..2 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_be_bytes());
    }
    out
}

fn str_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn status(code: status::StatusCode) -> Option<Status> {
    Some(Status {
        code: code as i32,
        message: String::new(),
    })
}

/// A request with `spans`, under one resource per distinct `service.name` of `service(span)`.
fn request(spans: Vec<Span>, service: impl Fn(&Span) -> String) -> ExportTraceServiceRequest {
    let mut by_service: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for s in spans {
        by_service.entry(service(&s)).or_default().push(s);
    }
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .map(|(svc, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![str_attr("service.name", &svc)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    Http,
}

/// Sends one request; `Err` carries a description of a refusal or failure.
async fn send(
    transport: Transport,
    ports: &Ports,
    http: &reqwest::Client,
    req: ExportTraceServiceRequest,
) -> Result<(), String> {
    match transport {
        Transport::Grpc => {
            let mut c = TraceServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
                .await
                .map_err(|e| e.to_string())?
                .max_encoding_message_size(64 << 20);
            c.export(req)
                .await
                .map(|_| ())
                .map_err(|s| format!("grpc {:?}: {}", s.code(), s.message()))
        }
        Transport::Http => {
            let r = http
                .post(format!("http://127.0.0.1:{}/v1/traces", ports.http))
                .header("content-type", "application/x-protobuf")
                .body(req.encode_to_vec())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status().is_success() {
                Ok(())
            } else {
                Err(format!("http {}", r.status()))
            }
        }
    }
}

/// Every span a sink received, duplicates included.
fn received(sink: &Sink) -> Vec<Span> {
    sink.lock()
        .traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.clone())
        .collect()
}

const TS: &str = "otelcol_processor_tail_sampling_";

/// The sum of the tail_sampling series `name` whose labels include `labels`.
fn ts_metric(c: &Collector, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics::sum(&c.metrics_text(), &format!("{TS}{name}"), labels)
}

/// Whether `c`'s otlp exporter has sent every span its tail_sampling processor emitted. Once
/// every trace is decided (and every span has reached `c`), nothing more can reach its sink.
fn sent_all_emitted(c: &Collector) -> bool {
    let text = c.metrics_text();
    let emitted = metrics::value(
        &text,
        "otelcol_processor_outgoing_items{processor=\"tail_sampling\",otel_signal=\"traces\"}",
    );
    let sent = metrics::value(&text, "otelcol_exporter_sent_spans{exporter=\"otlp\"}");
    sent.unwrap_or(0.0) >= emitted.unwrap_or(0.0)
}

fn otlp_exporter(sink: &Sink) -> String {
    format!(
        "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
        sink.port()
    )
}

fn assert_no_panic(c: &Collector) {
    let err = c.stderr();
    assert!(!err.contains("panicked"), "the collector panicked:\n{err}");
}

// ---------------------------------------------------------------------------------------------
// 1. The classic recipe, unchanged.

/// otelcol's tail_sampling README/blog recipe, as users paste it (flow-style policies);
/// only `decision_wait` (10s there) and `num_traces` (100 there) differ, for test speed and size.
const CLASSIC_RECIPE: &str = r#"  tail_sampling:
    decision_wait: 1s
    num_traces: 50000
    expected_new_traces_per_sec: 1000
    policies:
      [
          {
            name: errors-policy,
            type: status_code,
            status_code: {status_codes: [ERROR]}
          },
          {
            name: latency-policy,
            type: latency,
            latency: {threshold_ms: 500}
          },
          {
            name: randomized-policy,
            type: probabilistic,
            probabilistic: {sampling_percentage: 10}
          },
      ]
  batch:"#;

const CLASSIC_TRACES: u64 = 3000;
const CLASSIC_SPANS: u64 = 4;
/// Traces per group; all spans of a group are sent (over four requests, two per transport)
/// well within `decision_wait`.
const CLASSIC_GROUP: u64 = 100;
const MS: u64 = 1_000_000;

/// Trace `t`'s properties: (has an error span, duration in nanoseconds).
fn classic_kind(t: u64) -> (bool, u64) {
    match (t % 10, t % 100) {
        (_, 4) => (true, 900 * MS),        // error and slow
        (_, 2) => (false, 500 * MS),       // exactly the threshold: slow
        (_, 3) => (false, 500 * MS - 1),   // 499.999999ms: 499ms, not slow
        (_, 5) => (false, 500 * MS + 999), // 500.000999ms: slow
        (0, _) => (true, 100 * MS),
        (1, _) => (false, 800 * MS + t * 1000),
        _ => (false, 20 * MS + (t % 400) * MS), // up to 419ms
    }
}

/// Span `r` of trace `t`: the root (0..10ms, OK), a child, the error candidate, and the span
/// that ends the trace at its duration — so the error and the duration are only visible with
/// the spans of different requests together.
fn classic_span(t: u64, r: u64) -> Span {
    let (error, duration) = classic_kind(t);
    let base = 1_767_225_600_000 * MS + t * 3 * MS;
    let (start, end) = match r {
        0 => (base, base + 10 * MS),
        1 => (base + MS, base + 5 * MS),
        2 => (base + 2 * MS, base + 6 * MS),
        _ => (base + 3 * MS, base + duration),
    };
    Span {
        trace_id: trace_id(1, t),
        span_id: (t * CLASSIC_SPANS + r + 1).to_be_bytes().to_vec(),
        parent_span_id: if r == 0 {
            vec![]
        } else {
            (t * CLASSIC_SPANS + 1).to_be_bytes().to_vec()
        },
        name: format!("op-{r}"),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: vec![str_attr("http.route", &format!("/items/{}", t % 17))],
        status: match r {
            0 => status(status::StatusCode::Ok),
            2 if error => status(status::StatusCode::Error),
            _ => None,
        },
        ..Default::default()
    }
}

/// The trace number of a classic span id.
fn classic_trace_of(span_id: &[u8]) -> u64 {
    let n = u64::from_be_bytes(span_id.try_into().expect("8-byte span id"));
    (n - 1) / CLASSIC_SPANS
}

fn classic_service(s: &Span) -> String {
    format!("svc-{}", s.span_id[7] % 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_sampling_classic_recipe_keeps_exactly_errors_slow_and_ten_percent() {
    let sink = Sink::start().await;
    let cfg = base_config(
        CLASSIC_RECIPE,
        &otlp_exporter(&sink),
        "    traces:\n      receivers: [otlp]\n      processors: [tail_sampling, batch]\n      exporters: [otlp]",
    );
    let c = Collector::start(&cfg, &[]);
    let ports = c.ports;

    // Independent expectation.
    let (mut errors, mut slow, mut random) = (0u64, 0u64, 0u64);
    let mut kept = HashSet::new();
    for t in 0..CLASSIC_TRACES {
        let (error, duration) = classic_kind(t);
        // otelcol: Duration.Milliseconds() >= threshold_ms (whole milliseconds, truncated).
        let is_slow = duration / MS >= 500;
        let is_random = ten_percent(&trace_id(1, t));
        errors += u64::from(error);
        slow += u64::from(is_slow);
        random += u64::from(is_random);
        if error || is_slow || is_random {
            kept.insert(trace_id(1, t));
        }
    }
    let expected: HashMap<Vec<u8>, Span> = (0..CLASSIC_TRACES)
        .filter(|t| kept.contains(&trace_id(1, *t)))
        .flat_map(|t| (0..CLASSIC_SPANS).map(move |r| classic_span(t, r)))
        .map(|s| (s.span_id.clone(), s))
        .collect();
    assert!(
        random > 200 && random < 400,
        "about 10% of {CLASSIC_TRACES}: {random}"
    );

    // Each group's spans in four requests: rounds 0 and 2 over gRPC, 1 and 3 over HTTP.
    let http = reqwest::Client::new();
    for first in (0..CLASSIC_TRACES).step_by(CLASSIC_GROUP as usize) {
        for r in 0..CLASSIC_SPANS {
            let spans = (first..first + CLASSIC_GROUP)
                .map(|t| classic_span(t, r))
                .collect();
            let transport = if r % 2 == 0 {
                Transport::Grpc
            } else {
                Transport::Http
            };
            send(transport, &ports, &http, request(spans, classic_service))
                .await
                .expect("the collector accepts the spans");
        }
    }

    // Every trace decided (once), then the batch exporter had time to deliver.
    let decided = || {
        ts_metric(&c, "global_count_traces_sampled", &[("sampled", "true")])
            + ts_metric(&c, "global_count_traces_sampled", &[("sampled", "false")])
    };
    assert!(
        eventually(Duration::from_secs(15), || decided()
            >= CLASSIC_TRACES as f64),
        "decided {} of {CLASSIC_TRACES} traces; stderr:\n{}",
        decided(),
        c.stderr()
    );
    assert!(
        eventually(Duration::from_secs(10), || received(&sink).len()
            >= expected.len()),
        "spans at the sink: {} of {}",
        received(&sink).len(),
        expected.len()
    );
    // Anything that should not arrive would have been emitted at its decision: once the
    // exporter has sent all that tail_sampling emitted, it is at the sink.
    assert!(
        eventually(Duration::from_secs(10), || sent_all_emitted(&c)),
        "{}",
        c.metrics_text()
    );

    let got = received(&sink);
    let mut seen = HashSet::new();
    for s in &got {
        let t = classic_trace_of(&s.span_id);
        let want = expected.get(&s.span_id).unwrap_or_else(|| {
            panic!(
                "trace {t} (kind {:?}) should have been dropped, yet span {:?} arrived",
                classic_kind(t),
                s.name
            )
        });
        assert_eq!(s, want, "span arrived changed");
        assert!(seen.insert(s.span_id.clone()), "span of trace {t} twice");
    }
    let missing: Vec<u64> = expected
        .keys()
        .filter(|id| !seen.contains(*id))
        .map(|id| classic_trace_of(id))
        .collect();
    assert!(
        missing.is_empty(),
        "spans of kept traces missing (traces {:?})",
        &missing[..missing.len().min(10)]
    );
    // Resources came through: every span under its own service.
    for r in sink.lock().traces.iter().flat_map(|r| &r.resource_spans) {
        let svc = r
            .resource
            .as_ref()
            .and_then(|res| res.attributes.first())
            .and_then(|a| a.value.as_ref())
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .expect("service.name");
        for s in r.scope_spans.iter().flat_map(|s| &s.spans) {
            assert_eq!(svc, classic_service(s));
        }
    }

    // otelcol's self-metrics, with otelcol's names and labels.
    let text = c.metrics_text();
    let m =
        |name: &str, labels: &[(&str, &str)]| metrics::sum(&text, &format!("{TS}{name}"), labels);
    let per_policy = |policy: &str, sampled: &str| {
        m(
            "count_traces_sampled",
            &[("policy", policy), ("sampled", sampled)],
        )
    };
    let n = CLASSIC_TRACES as f64;
    assert_eq!(per_policy("errors-policy", "true"), errors as f64, "{text}");
    assert_eq!(per_policy("errors-policy", "false"), n - errors as f64);
    assert_eq!(per_policy("latency-policy", "true"), slow as f64);
    assert_eq!(per_policy("randomized-policy", "true"), random as f64);
    assert_eq!(
        m(
            "global_count_traces_sampled",
            &[("sampled", "true"), ("decision", "sampled")]
        ),
        kept.len() as f64
    );
    assert_eq!(
        m(
            "global_count_traces_sampled",
            &[("sampled", "false"), ("decision", "not_sampled")]
        ),
        n - kept.len() as f64
    );
    assert_eq!(m("new_trace_id_received", &[]), n);
    assert_eq!(m("sampling_trace_dropped_too_early", &[]), 0.0);
    assert_eq!(m("sampling_traces_on_memory", &[]), n);
    for name in [
        "sampling_decision_latency_count",
        "sampling_decision_timer_latency_count",
        "sampling_trace_removal_age_bucket",
        "sampling_late_span_age_bucket",
        "early_releases_from_cache_decision",
    ] {
        assert!(
            metrics::has(&text, &format!("{TS}{name}")),
            "{name} missing:\n{text}"
        );
    }
    assert!(m("sampling_decision_latency_count", &[]) >= 3.0 * n);
    assert_no_panic(&c);
}

// ---------------------------------------------------------------------------------------------
// 2. A flood of unique trace ids.

const FLOOD_NUM_TRACES: u64 = 2000;
const FLOOD_BUDGET: u64 = 1 << 20;
const FLOOD_SPANS: u64 = 200_000;
const FLOOD_SPANS_PER_REQUEST: u64 = 200;
const FLOOD_TIME: Duration = Duration::from_secs(10);
/// Attribute bytes per span: a span is about 1 KiB of protobuf, so the budget holds about
/// 1000 traces and binds before `num_traces` does.
const FLOOD_FILLER: usize = 900;
/// Resident memory allowed above the idle process for the buffered spans, in units of the byte
/// budget: their decoded form (prost structs, strings and vectors, about 2x the protobuf
/// size) times the allocator's slack for freed blocks (about 2x).
const FLOOD_BUDGET_FACTOR: u64 = 4;
/// Resident memory allowed above the idle process for everything else, whatever the budget:
/// the requests in flight (two clients' encoded and decoded requests), receiver and exporter
/// buffers, per-thread allocator pages, and the `num_traces` remembered decisions. The whole
/// growth measures about 9 MiB on the debug binary with glibc's malloc and 12-15 MiB with
/// mimalloc, the binary's allocator, which keeps more freed pages per thread (1 MiB budget,
/// bound 17 MiB). Without the bounds the process keeps all ~200 MiB of the flood (about
/// 280 MiB resident), and with the budget alone about 45 MiB.
const FLOOD_FIXED_ALLOWANCE: u64 = 13 << 20;

fn flood_request(first: u64, filler: &str) -> ExportTraceServiceRequest {
    let spans = (first..first + FLOOD_SPANS_PER_REQUEST)
        .map(|t| Span {
            trace_id: trace_id(2, t),
            span_id: (t + 1).to_be_bytes().to_vec(),
            name: "flood".into(),
            start_time_unix_nano: 1_767_225_600_000 * MS,
            end_time_unix_nano: 1_767_225_600_000 * MS + 10 * MS,
            attributes: vec![str_attr("filler", filler)],
            ..Default::default()
        })
        .collect();
    request(spans, |_| "flood".into())
}

#[derive(Default)]
struct FloodOutcome {
    accepted: Vec<u64>,
    refused: u64,
    other: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_sampling_flood_of_unique_traces_stays_within_budget_and_num_traces() {
    let sink = Sink::start().await;
    let processors = format!(
        "  tail_sampling:\n    decision_wait: 5s\n    num_traces: {FLOOD_NUM_TRACES}\n    max_buffered_bytes: {FLOOD_BUDGET}\n    policies:\n      - {{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}\n      - {{name: some, type: probabilistic, probabilistic: {{sampling_percentage: 10}}}}\n  batch:"
    );
    let cfg = base_config(
        &processors,
        &otlp_exporter(&sink),
        "    traces: {receivers: [otlp], processors: [tail_sampling, batch], exporters: [otlp]}",
    );
    let c = Collector::start(&cfg, &[]);
    let ports = c.ports;
    let pid = c.child.id();
    // The idle baseline: started, healthy, and its /metrics served once (as the sampler below
    // will), so the bound does not count what any running collector has.
    let _ = c.metrics_text();
    let baseline = proc_status_kib(pid, "VmRSS").expect("/proc status") << 10;

    // Samplers: RSS every 10ms, the traces-on-memory gauge every 100ms.
    let stop = Arc::new(AtomicBool::new(false));
    let rss_thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0u64;
            let mut samples = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = proc_status_kib(pid, "VmRSS") {
                    peak = peak.max(kib << 10);
                    samples += 1;
                }
                // Not synchronisation: the sampling period.
                std::thread::sleep(Duration::from_millis(10));
            }
            (peak, samples)
        })
    };
    let gauge_thread = {
        let stop = stop.clone();
        let metrics = ports.metrics;
        std::thread::spawn(move || {
            let mut max = 0f64;
            let mut samples = 0;
            while !stop.load(Ordering::Relaxed) {
                let text = ferrotel_integration::http_get::blocking_text(&format!(
                    "http://127.0.0.1:{metrics}/metrics"
                ))
                .unwrap_or_default();
                let name = format!("{TS}sampling_traces_on_memory");
                if let Some(v) = metrics::value(&text, &name) {
                    max = max.max(v);
                    samples += 1;
                }
                // Not synchronisation: the sampling period.
                std::thread::sleep(Duration::from_millis(100));
            }
            (max, samples)
        })
    };

    // Two clients (gRPC, HTTP), each sending half the flood paced over FLOOD_TIME; a
    // retryable refusal is retried after a pause, as an SDK would.
    let next = Arc::new(AtomicU64::new(0));
    let outcome = Arc::new(Mutex::new(FloodOutcome::default()));
    let start = Instant::now();
    let requests = FLOOD_SPANS / FLOOD_SPANS_PER_REQUEST;
    let mut clients = Vec::new();
    for transport in [Transport::Grpc, Transport::Http] {
        let (next, outcome) = (next.clone(), outcome.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let filler = "f".repeat(FLOOD_FILLER);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let due = start + FLOOD_TIME.mul_f64(i as f64 / requests as f64);
                // Not synchronisation: the flood's pace.
                tokio::time::sleep_until(due.into()).await;
                let first = i * FLOOD_SPANS_PER_REQUEST;
                for _attempt in 0..50 {
                    match send(transport, &ports, &http, flood_request(first, &filler)).await {
                        Ok(()) => {
                            outcome.lock().expect("outcome lock").accepted.push(first);
                            break;
                        }
                        Err(e) if e.contains("Unavailable") || e.contains("503") => {
                            outcome.lock().expect("outcome lock").refused += 1;
                            // Not synchronisation: the client's backoff after a refusal.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(e) => {
                            outcome.lock().expect("outcome lock").other.push(e);
                            break;
                        }
                    }
                }
            }
        }));
    }
    for client in clients {
        client.await.expect("client task");
    }
    let flood_took = start.elapsed();
    // A dead child (a zombie until reaped) has no VmRSS line.
    let alive = proc_status_kib(pid, "VmRSS").is_some();

    // Every accepted trace gets decided exactly once (the last ones after decision_wait).
    let accepted: Vec<u64> = outcome.lock().expect("outcome lock").accepted.clone();
    let accepted_traces = accepted.len() as u64 * FLOOD_SPANS_PER_REQUEST;
    let decided = || {
        ts_metric(&c, "global_count_traces_sampled", &[("sampled", "true")])
            + ts_metric(&c, "global_count_traces_sampled", &[("sampled", "false")])
    };
    let all_decided = eventually(Duration::from_secs(10), || {
        decided() >= accepted_traces as f64
    });
    stop.store(true, Ordering::Relaxed);
    let (peak, rss_samples) = rss_thread.join().expect("rss sampler");
    let (max_on_memory, gauge_samples) = gauge_thread.join().expect("gauge sampler");
    let hwm = proc_status_kib(pid, "VmHWM").unwrap_or(0) << 10;
    let bound = baseline + FLOOD_BUDGET_FACTOR * FLOOD_BUDGET + FLOOD_FIXED_ALLOWANCE;
    let text = c.metrics_text();
    let m = |name: &str| metrics::sum(&text, &format!("{TS}{name}"), &[]);
    let o = outcome.lock().expect("outcome lock");
    eprintln!(
        "flood: {} requests accepted ({accepted_traces} traces) in {flood_took:?}, {} refusals, {} other errors; \
         RSS baseline {:.1} MiB, peak {:.1} MiB ({rss_samples} samples), VmHWM {:.1} MiB, bound {:.1} MiB; \
         traces on memory max {max_on_memory} ({gauge_samples} samples); dropped_too_early {}",
        o.accepted.len(),
        o.refused,
        o.other.len(),
        baseline as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        hwm as f64 / 1048576.0,
        bound as f64 / 1048576.0,
        m("sampling_trace_dropped_too_early"),
    );

    assert!(alive, "the collector died:\n{}", c.stderr());
    assert_no_panic(&c);
    assert!(
        o.other.is_empty(),
        "clients got errors other than retryable refusals: {:?}",
        &o.other[..o.other.len().min(5)]
    );
    assert!(
        accepted_traces >= FLOOD_SPANS * 9 / 10,
        "only {accepted_traces} of {FLOOD_SPANS} traces accepted"
    );
    assert!(rss_samples > 100 && gauge_samples > 20);
    assert!(
        peak.max(hwm) < bound,
        "RSS peaked at {:.1} MiB (VmHWM {:.1} MiB), above baseline + {FLOOD_BUDGET_FACTOR} x budget + {} MiB = {:.1} MiB",
        peak as f64 / 1048576.0,
        hwm as f64 / 1048576.0,
        FLOOD_FIXED_ALLOWANCE >> 20,
        bound as f64 / 1048576.0
    );
    assert!(
        accepted_traces * FLOOD_FILLER as u64 > 10 * (bound - baseline),
        "the flood is not big enough to prove the bound"
    );
    assert!(
        max_on_memory > 0.0 && max_on_memory <= FLOOD_NUM_TRACES as f64,
        "traces on memory peaked at {max_on_memory}"
    );
    assert!(all_decided, "decided {} of {accepted_traces}", decided());
    // The evictions are counted and exposed: nearly every trace left before its decision_wait.
    assert!(
        m("sampling_trace_dropped_too_early") >= (accepted_traces - 2 * FLOOD_NUM_TRACES) as f64,
        "{text}"
    );
    assert_eq!(m("new_trace_id_received"), accepted_traces as f64);
    assert_eq!(decided(), accepted_traces as f64, "a trace decided twice");

    // Early decisions are still the right ones: exactly otelcol's 10% of the accepted traces.
    let expected: HashSet<Vec<u8>> = accepted
        .iter()
        .flat_map(|&first| first..first + FLOOD_SPANS_PER_REQUEST)
        .map(|t| trace_id(2, t))
        .filter(|id| ten_percent(id))
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || received(&sink).len()
            >= expected.len()),
        "sampled spans at the sink: {} of {}",
        received(&sink).len(),
        expected.len()
    );
    let got: Vec<Vec<u8>> = received(&sink).into_iter().map(|s| s.trace_id).collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "duplicates or extras at the sink"
    );
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected);
}

// ---------------------------------------------------------------------------------------------
// 3. Two tiers: loadbalancing by trace id in front of two tail-sampling ferrotels.

const TIER_TRACES: u64 = 400;
const TIER_SPANS: u64 = 4;

/// Span `r` of two-tier trace `t`: the error (on traces divisible by 5) is on span 1 and the
/// `keep: yes` tag (on traces divisible by 7) on span 3, so a sampler that saw only some
/// spans of a trace would decide it differently from one that saw them all.
fn tier_span(t: u64, r: u64) -> Span {
    Span {
        trace_id: trace_id(3, t),
        span_id: (t * TIER_SPANS + r + 1).to_be_bytes().to_vec(),
        name: format!("tier-{r}"),
        start_time_unix_nano: 1_767_225_600_000 * MS + r * MS,
        end_time_unix_nano: 1_767_225_600_000 * MS + (r + 2) * MS,
        attributes: if r == 3 && t.is_multiple_of(7) {
            vec![str_attr("keep", "yes")]
        } else {
            vec![str_attr("keep", "no")]
        },
        status: if r == 1 && t.is_multiple_of(5) {
            status(status::StatusCode::Error)
        } else {
            None
        },
        ..Default::default()
    }
}

/// Where the spans of one trace arrived.
#[derive(Default)]
struct Arrival {
    sinks: HashSet<usize>,
    span_ids: HashSet<Vec<u8>>,
    spans: usize,
}

fn tier_kept(t: u64) -> bool {
    t.is_multiple_of(5) || t.is_multiple_of(7)
}

fn sampler(sink: &Sink) -> Collector {
    let processors = "  tail_sampling:
    decision_wait: 2s
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - name: tagged
        type: and
        and:
          and_sub_policy:
            - {name: tag, type: string_attribute, string_attribute: {key: keep, values: [\"yes\"]}}
            - {name: everything, type: always_sample}";
    let cfg = base_config(
        processors,
        &otlp_exporter(sink),
        "    traces: {receivers: [otlp], processors: [tail_sampling], exporters: [otlp]}",
    );
    Collector::start(&cfg, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_sampling_two_tiers_decide_every_trace_whole_on_one_sampler() {
    let sinks = [Sink::start().await, Sink::start().await];
    let samplers = [sampler(&sinks[0]), sampler(&sinks[1])];
    let cfg = base_config(
        "",
        &format!(
            "  loadbalancing:\n    routing_key: traceID\n    protocol:\n      otlp:\n        tls: {{insecure: true}}\n        timeout: 2s\n    resolver:\n      static:\n        hostnames: [127.0.0.1:{}, 127.0.0.1:{}]",
            samplers[0].ports.grpc, samplers[1].ports.grpc
        ),
        "    traces: {receivers: [otlp], exporters: [loadbalancing]}",
    );
    let front = Collector::start(&cfg, &[]);

    // One span of every trace per request (rounds over both transports), all within ~1s.
    let http = reqwest::Client::new();
    for r in 0..TIER_SPANS {
        for first in (0..TIER_TRACES).step_by(100) {
            let spans = (first..first + 100).map(|t| tier_span(t, r)).collect();
            let transport = if (r + first / 100) % 2 == 0 {
                Transport::Grpc
            } else {
                Transport::Http
            };
            send(
                transport,
                &front.ports,
                &http,
                request(spans, |_| "tier".into()),
            )
            .await
            .expect("the front accepts the spans");
        }
    }

    let decided = |c: &Collector| {
        ts_metric(c, "global_count_traces_sampled", &[("sampled", "true")])
            + ts_metric(c, "global_count_traces_sampled", &[("sampled", "false")])
    };
    let all = || samplers.iter().map(decided).sum::<f64>();
    assert!(
        eventually(Duration::from_secs(15), || all() >= TIER_TRACES as f64),
        "decided {} of {TIER_TRACES}; front:\n{}",
        all(),
        front.stderr()
    );
    let kept: Vec<u64> = (0..TIER_TRACES).filter(|&t| tier_kept(t)).collect();
    let want_spans = kept.len() * TIER_SPANS as usize;
    let at_sinks = || sinks.iter().map(|s| received(s).len()).sum::<usize>();
    assert!(
        eventually(Duration::from_secs(10), || at_sinks() >= want_spans),
        "{} of {want_spans} spans at the sinks",
        at_sinks()
    );
    // Nothing more is on its way once the front has sent on every span and each sampler all
    // that its tail_sampling emitted (every trace is decided).
    let spans = (TIER_TRACES * TIER_SPANS) as f64;
    assert!(
        eventually(Duration::from_secs(10), || front
            .metric("otelcol_exporter_sent_spans{exporter=\"loadbalancing\"}")
            >= spans
            && samplers.iter().all(sent_all_emitted)),
        "front:\n{}",
        front.metrics_text()
    );

    // Each kept trace whole at exactly one sink; nothing of the others anywhere.
    let mut arrivals: HashMap<Vec<u8>, Arrival> = HashMap::new();
    for (i, sink) in sinks.iter().enumerate() {
        for s in received(sink) {
            let a = arrivals.entry(s.trace_id.clone()).or_default();
            a.sinks.insert(i);
            a.span_ids.insert(s.span_id.clone());
            a.spans += 1;
        }
    }
    for t in 0..TIER_TRACES {
        match (tier_kept(t), arrivals.get(&trace_id(3, t))) {
            (true, Some(a)) => {
                assert_eq!(a.sinks.len(), 1, "trace {t} split across samplers");
                assert_eq!(
                    a.span_ids.len(),
                    TIER_SPANS as usize,
                    "trace {t} incomplete"
                );
                assert_eq!(
                    a.spans, TIER_SPANS as usize,
                    "trace {t} has duplicate spans"
                );
            }
            (true, None) => panic!("trace {t} (error or tagged) was not kept"),
            (false, Some(a)) => {
                panic!("trace {t} should be dropped, {} spans arrived", a.spans)
            }
            (false, None) => {}
        }
    }
    assert_eq!(arrivals.len(), kept.len());
    let per_sink: Vec<usize> = (0..2)
        .map(|i| arrivals.values().filter(|a| a.sinks.contains(&i)).count())
        .collect();
    assert!(
        per_sink.iter().all(|&n| n >= kept.len() / 5),
        "both samplers decide a share: {per_sink:?}"
    );
    // Each sampler decided each of its traces once, on all its spans: the per-policy counts
    // add up to the expected numbers across the two.
    let sum = |name: &str, labels: &[(&str, &str)]| -> f64 {
        samplers.iter().map(|c| ts_metric(c, name, labels)).sum()
    };
    let errors = (0..TIER_TRACES).filter(|t| t.is_multiple_of(5)).count() as f64;
    let tagged = (0..TIER_TRACES).filter(|t| t.is_multiple_of(7)).count() as f64;
    assert_eq!(all(), TIER_TRACES as f64);
    assert_eq!(
        sum(
            "count_traces_sampled",
            &[("policy", "errors"), ("sampled", "true")]
        ),
        errors
    );
    assert_eq!(
        sum(
            "count_traces_sampled",
            &[("policy", "tagged"), ("sampled", "true")]
        ),
        tagged
    );
    assert_eq!(sum("new_trace_id_received", &[]), TIER_TRACES as f64);
    for c in samplers.iter().chain([&front]) {
        assert_no_panic(c);
    }
}
