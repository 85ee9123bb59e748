//! The load generator: sends a pool of pre-encoded (and pre-compressed, pre-framed) OTLP requests
//! over gRPC or HTTP/protobuf (or the same spans as Jaeger Thrift over HTTP or Zipkin v2 JSON), flat out or at a fixed rate, from `concurrency` workers that each
//! own one connection, and reports items/s, latency percentiles of accepted requests and errors
//! by status. The client is plain hyper, so the generator spends its CPU on I/O only.

use crate::workload::{self, Encoded, Shape};
use bytes::{BufMut, Bytes, BytesMut};
use ferrotel_core::Signal;
use ferrotel_transport::grpc::{LOGS_PATH, METRICS_PATH, PROFILES_PATH, TRACES_PATH};
use http::{header, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Grpc,
    Http,
    /// Jaeger's collector HTTP API: `POST /api/traces`, a Thrift binary `Batch` (traces only).
    Jaeger,
    /// Zipkin's `POST /api/v2/spans` with a JSON list of v2 spans (traces only).
    Zipkin,
}

impl Protocol {
    /// Whether requests go over HTTP/2 (gRPC) rather than HTTP/1.1.
    fn is_grpc(self) -> bool {
        self == Protocol::Grpc
    }
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
}

/// A load run.
#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port` (an `http://` prefix is accepted).
    pub endpoint: String,
    pub protocol: Protocol,
    pub shape: Shape,
    pub compression: Compression,
    /// Workers, each with its own connection and one request in flight.
    pub concurrency: usize,
    pub duration: Duration,
    /// Items per second over all workers; `None` sends flat out.
    pub rate: Option<f64>,
    /// Distinct pre-encoded requests cycled through.
    pub pool: usize,
    /// Per-request deadline.
    pub timeout: Duration,
}

/// Latency percentiles of accepted requests, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// What a run achieved.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub protocol: Protocol,
    pub signal: &'static str,
    pub compression: Compression,
    pub items_per_request: usize,
    pub concurrency: usize,
    pub target_rate: Option<f64>,
    pub seconds: f64,
    /// Items in accepted requests.
    pub items_ok: u64,
    pub requests_ok: u64,
    pub items_per_sec: f64,
    /// Uncompressed protobuf bytes per item.
    pub bytes_per_item: f64,
    /// Bytes on the wire per request (after compression and framing).
    pub wire_bytes_per_request: f64,
    pub latency: Latency,
    /// Failed requests by status (`grpc:UNAVAILABLE`, `http:503`, `transport`, `timeout`).
    pub errors: BTreeMap<String, u64>,
    /// CPU seconds the generator itself used during the run.
    pub generator_cpu_seconds: f64,
}

impl Report {
    /// The human-readable summary.
    pub fn text(&self) -> String {
        let errors = if self.errors.is_empty() {
            "none".to_string()
        } else {
            self.errors
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "{signal} over {proto:?} ({comp:?}), {ipr} items/request, {conc} workers, {secs:.1}s\n  \
             accepted: {items} items in {reqs} requests = {ips:.0} items/s ({bpi:.0} B/item, {wire:.0} B/request on the wire)\n  \
             latency:  p50 {p50:.2} ms  p99 {p99:.2} ms  p999 {p999:.2} ms  max {max:.2} ms\n  \
             errors:   {errors}\n  \
             generator CPU: {cpu:.2} s ({cpupct:.0}% of one core)",
            signal = self.signal,
            proto = self.protocol,
            comp = self.compression,
            ipr = self.items_per_request,
            conc = self.concurrency,
            secs = self.seconds,
            items = self.items_ok,
            reqs = self.requests_ok,
            ips = self.items_per_sec,
            bpi = self.bytes_per_item,
            wire = self.wire_bytes_per_request,
            p50 = self.latency.p50_ms,
            p99 = self.latency.p99_ms,
            p999 = self.latency.p999_ms,
            max = self.latency.max_ms,
            cpu = self.generator_cpu_seconds,
            cpupct = 100.0 * self.generator_cpu_seconds / self.seconds.max(1e-9),
        )
    }
}

/// A request body as sent, with the items it carries.
struct Prepared {
    body: Bytes,
    items: u64,
}

fn prepare(e: &Encoded, cfg: &Config) -> std::io::Result<Prepared> {
    let raw = match cfg.protocol {
        Protocol::Grpc | Protocol::Http => e.body.clone(),
        Protocol::Jaeger => Bytes::from(crate::foreign::jaeger_thrift(&e.body)?),
        Protocol::Zipkin => Bytes::from(crate::foreign::zipkin_json(&e.body)?),
    };
    let payload = match cfg.compression {
        Compression::None => raw,
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&raw)?;
            Bytes::from(enc.finish()?)
        }
    };
    let body = match cfg.protocol {
        Protocol::Http | Protocol::Jaeger | Protocol::Zipkin => payload,
        Protocol::Grpc => {
            let mut b = BytesMut::with_capacity(payload.len() + 5);
            b.put_u8(u8::from(cfg.compression == Compression::Gzip));
            b.put_u32(u32::try_from(payload.len()).map_err(std::io::Error::other)?);
            b.put(payload);
            b.freeze()
        }
    };
    Ok(Prepared {
        body,
        items: e.items,
    })
}

fn path(protocol: Protocol, signal: Signal) -> &'static str {
    match (protocol, signal) {
        (Protocol::Grpc, Signal::Traces) => TRACES_PATH,
        (Protocol::Grpc, Signal::Metrics) => METRICS_PATH,
        (Protocol::Grpc, Signal::Logs) => LOGS_PATH,
        (Protocol::Grpc, Signal::Profiles) => PROFILES_PATH,
        (Protocol::Http, Signal::Traces) => "/v1/traces",
        (Protocol::Http, Signal::Metrics) => "/v1/metrics",
        (Protocol::Http, Signal::Logs) => "/v1/logs",
        (Protocol::Http, Signal::Profiles) => "/v1development/profiles",
        (Protocol::Jaeger, _) => "/api/traces",
        (Protocol::Zipkin, _) => "/api/v2/spans",
    }
}

fn content_type(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "application/grpc",
        Protocol::Http => "application/x-protobuf",
        Protocol::Jaeger => "application/x-thrift",
        Protocol::Zipkin => "application/json",
    }
}

enum Conn {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Conn {
    async fn open(addr: &str, protocol: Protocol) -> Result<Conn, String> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let io = TokioIo::new(tcp);
        match protocol {
            Protocol::Grpc => {
                let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                    .initial_stream_window_size(4 << 20)
                    .initial_connection_window_size(8 << 20)
                    .handshake(io)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                Ok(Conn::H2(send))
            }
            Protocol::Http | Protocol::Jaeger | Protocol::Zipkin => {
                let (send, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                Ok(Conn::H1(send))
            }
        }
    }

    async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
        match self {
            Conn::H1(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
            Conn::H2(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
        }
    }
}

/// The outcome of one request: `Ok` or the error key.
async fn outcome(protocol: Protocol, resp: Response<Incoming>) -> Result<(), String> {
    let status = resp.status();
    if !protocol.is_grpc() || status != http::StatusCode::OK {
        let _ = resp.into_body().collect().await;
        // Jaeger and Zipkin answer 202 Accepted.
        return if status.is_success() {
            Ok(())
        } else {
            Err(format!("http:{}", status.as_u16()))
        };
    }
    let grpc_code = |h: &http::HeaderMap| {
        h.get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
    };
    let code = match grpc_code(resp.headers()) {
        Some(c) => Some(c),
        None => {
            let collected = resp
                .into_body()
                .collect()
                .await
                .map_err(|_| "transport".to_string())?;
            collected.trailers().and_then(grpc_code)
        }
    };
    match code {
        Some(0) => Ok(()),
        Some(c) => Err(format!(
            "grpc:{}",
            format!("{:?}", tonic::Code::from_i32(c)).to_uppercase()
        )),
        None => Err("grpc:no-status".into()),
    }
}

#[derive(Default)]
struct WorkerStats {
    items: u64,
    requests: u64,
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

async fn worker(
    n: usize,
    cfg: Arc<Config>,
    bodies: Arc<Vec<Prepared>>,
    start: Instant,
    deadline: Instant,
) -> WorkerStats {
    let addr = cfg
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let uri = format!("http://{addr}{}", path(cfg.protocol, cfg.shape.signal));
    let mut ticker = cfg.rate.map(|rate| {
        let per_request = cfg.concurrency as f64 * cfg.shape.items_per_request as f64 / rate;
        let period = Duration::from_secs_f64(per_request.max(1e-6));
        let offset = period.mul_f64(n as f64 / cfg.concurrency as f64);
        let mut t = tokio::time::interval_at((start + offset).into(), period);
        // Burst: a late tick is sent at once, so the average rate holds when a response is slow.
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    let mut stats = WorkerStats::default();
    let mut conn: Option<Conn> = None;
    let mut i = n;
    let error = |stats: &mut WorkerStats, key: String| {
        *stats.errors.entry(key).or_default() += 1;
    };
    loop {
        if let Some(t) = ticker.as_mut() {
            tokio::select! {
                _ = t.tick() => {}
                _ = tokio::time::sleep_until(deadline.into()) => break,
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Conn::open(&addr, cfg.protocol).await {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    error(&mut stats, "connect".into());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let p = &bodies[i % bodies.len()];
        i += cfg.concurrency;
        let mut req = Request::post(&uri);
        req = match cfg.protocol {
            Protocol::Grpc => req
                .header(header::CONTENT_TYPE, content_type(Protocol::Grpc))
                .header(header::TE, "trailers"),
            Protocol::Http | Protocol::Jaeger | Protocol::Zipkin => req
                .header(header::CONTENT_TYPE, content_type(cfg.protocol))
                .header(header::HOST, addr.as_str()),
        };
        if cfg.compression == Compression::Gzip {
            req = match cfg.protocol {
                Protocol::Grpc => req.header("grpc-encoding", "gzip"),
                _ => req.header(header::CONTENT_ENCODING, "gzip"),
            };
        }
        let Ok(req) = req.body(Full::new(p.body.clone())) else {
            error(&mut stats, "bad-request".into());
            break;
        };
        let t0 = Instant::now();
        let result = tokio::time::timeout(cfg.timeout, async {
            let resp = c.send(req).await.map_err(|_| "transport".to_string())?;
            outcome(cfg.protocol, resp).await
        })
        .await
        .unwrap_or_else(|_| Err("timeout".into()));
        match result {
            Ok(()) => {
                let us = t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                stats.latencies_us.push(us);
                stats.items += p.items;
                stats.requests += 1;
            }
            Err(key) => {
                if key == "transport" || key == "timeout" {
                    conn = None;
                }
                error(&mut stats, key);
            }
        }
    }
    stats
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[idx]) / 1000.0
}

/// Runs the load and returns what it achieved.
pub async fn run(cfg: Config) -> std::io::Result<Report> {
    let encoded = workload::pool(&cfg.shape, cfg.pool, 0x0f7e);
    let raw_bytes: usize = encoded.iter().map(|e| e.body.len()).sum();
    let raw_items: u64 = encoded.iter().map(|e| e.items).sum();
    let bodies = encoded
        .iter()
        .map(|e| prepare(e, &cfg))
        .collect::<std::io::Result<Vec<_>>>()?;
    let wire_bytes: usize = bodies.iter().map(|b| b.body.len()).sum();
    let cfg = Arc::new(Config {
        concurrency: cfg.concurrency.max(1),
        ..cfg
    });
    let bodies = Arc::new(bodies);
    let cpu0 = crate::procfs::cpu_seconds("self").unwrap_or(0.0);
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let tasks: Vec<_> = (0..cfg.concurrency)
        .map(|n| tokio::spawn(worker(n, cfg.clone(), bodies.clone(), start, deadline)))
        .collect();
    let mut total = WorkerStats::default();
    for t in tasks {
        let s = t.await.map_err(std::io::Error::other)?;
        total.items += s.items;
        total.requests += s.requests;
        total.latencies_us.extend(s.latencies_us);
        for (k, v) in s.errors {
            *total.errors.entry(k).or_default() += v;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = crate::procfs::cpu_seconds("self").unwrap_or(0.0) - cpu0;
    total.latencies_us.sort_unstable();
    let l = &total.latencies_us;
    Ok(Report {
        protocol: cfg.protocol,
        signal: cfg.shape.signal.as_str(),
        compression: cfg.compression,
        items_per_request: cfg.shape.items_per_request,
        concurrency: cfg.concurrency,
        target_rate: cfg.rate,
        seconds,
        items_ok: total.items,
        requests_ok: total.requests,
        items_per_sec: total.items as f64 / seconds,
        bytes_per_item: raw_bytes as f64 / raw_items.max(1) as f64,
        wire_bytes_per_request: wire_bytes as f64 / bodies.len().max(1) as f64,
        latency: Latency {
            p50_ms: percentile(l, 0.50),
            p99_ms: percentile(l, 0.99),
            p999_ms: percentile(l, 0.999),
            max_ms: l.last().map(|&v| f64::from(v) / 1000.0).unwrap_or(0.0),
        },
        errors: total.errors,
        generator_cpu_seconds: cpu,
    })
}
