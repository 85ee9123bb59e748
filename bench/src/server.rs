//! A minimal OTLP server (gRPC and HTTP/protobuf on one port, gzip and zstd accepted) that
//! counts what it receives and drops it. In `decode` mode it fully decodes every request with
//! prost: the ceiling for anything that decodes. In `count` mode it only walks the wire format
//! to count items: the cheap downstream sink the collectors export to.

use bytes::Bytes;
use ferrotel_core::pdata::count_items_encoded;
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    profiles::v1development::ExportProfilesServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::metrics::v1::metric::Data;
use ferrotel_core::Signal;
use ferrotel_transport::grpc::{BytesCodec, LOGS_PATH, METRICS_PATH, TRACES_PATH};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use serde::Serialize;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codec::CompressionEncoding;
use tonic::codegen::{BoxFuture, Service};
use tonic::Status;

/// How requests are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Decode every request into the prost types, count, drop.
    Decode,
    /// Count items on the wire format only.
    Count,
}

/// What the server received.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub items: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub items: u64,
    pub bytes: u64,
    pub errors: u64,
}

impl Counters {
    pub fn totals(&self) -> Totals {
        Totals {
            requests: self.requests.load(Relaxed),
            items: self.items.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            errors: self.errors.load(Relaxed),
        }
    }
}

struct State {
    mode: Mode,
    counters: Counters,
    pace: Option<Pace>,
}

/// A slow backend: answers so that at most `items_per_second` items are acknowledged per
/// second, whatever the number of concurrent requests (each request waits for its slot).
struct Pace {
    items_per_second: f64,
    next_free: std::sync::Mutex<tokio::time::Instant>,
}

impl Pace {
    /// When the answer to a request of `items` may go out.
    fn slot(&self, items: u64) -> tokio::time::Instant {
        let took = std::time::Duration::from_secs_f64(items as f64 / self.items_per_second);
        let mut next = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
        *next = (*next).max(tokio::time::Instant::now()) + took;
        *next
    }
}

impl State {
    /// Counts (and in decode mode, decodes) one uncompressed request body; with a pace, the
    /// instant its answer may go out.
    fn accept(&self, signal: Signal, body: &[u8]) -> Result<Option<tokio::time::Instant>, String> {
        let items = match self.mode {
            Mode::Count => count_items_encoded(signal, body).ok_or("malformed protobuf")? as u64,
            Mode::Decode => decode_count(signal, body).map_err(|e| e.to_string())?,
        };
        self.counters.requests.fetch_add(1, Relaxed);
        self.counters.items.fetch_add(items, Relaxed);
        self.counters.bytes.fetch_add(body.len() as u64, Relaxed);
        Ok(self.pace.as_ref().map(|p| p.slot(items)))
    }
}

/// Waits for a paced answer's slot.
async fn wait_for(slot: Option<tokio::time::Instant>) {
    if let Some(at) = slot {
        tokio::time::sleep_until(at).await;
    }
}

fn decode_count(signal: Signal, body: &[u8]) -> Result<u64, prost::DecodeError> {
    Ok(match signal {
        Signal::Traces => ExportTraceServiceRequest::decode(body)?
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len() as u64)
            .sum(),
        Signal::Logs => ExportLogsServiceRequest::decode(body)?
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len() as u64)
            .sum(),
        Signal::Metrics => ExportMetricsServiceRequest::decode(body)?
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(d)) => d.data_points.len() as u64,
                Some(Data::Sum(d)) => d.data_points.len() as u64,
                Some(Data::Histogram(d)) => d.data_points.len() as u64,
                Some(Data::ExponentialHistogram(d)) => d.data_points.len() as u64,
                Some(Data::Summary(d)) => d.data_points.len() as u64,
                None => 0,
            })
            .sum(),
        Signal::Profiles => ExportProfilesServiceRequest::decode(body)?
            .resource_profiles
            .iter()
            .flat_map(|r| &r.scope_profiles)
            .flat_map(|s| &s.profiles)
            .map(|p| p.samples.len() as u64)
            .sum(),
    })
}

/// One gRPC export call after tonic removed the framing and compression.
struct Export {
    state: Arc<State>,
    signal: Signal,
}

impl Service<tonic::Request<Bytes>> for Export {
    type Response = tonic::Response<Bytes>;
    type Error = Status;
    type Future = BoxFuture<Self::Response, Status>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
        let result = self.state.accept(self.signal, req.get_ref());
        Box::pin(async move {
            wait_for(result.map_err(Status::invalid_argument)?).await;
            Ok(tonic::Response::new(Bytes::new()))
        })
    }
}

fn signal_of(path: &str) -> Option<Signal> {
    match path {
        TRACES_PATH | "/v1/traces" => Some(Signal::Traces),
        METRICS_PATH | "/v1/metrics" => Some(Signal::Metrics),
        LOGS_PATH | "/v1/logs" => Some(Signal::Logs),
        _ => None,
    }
}

fn http_reply(status: StatusCode, body: &'static str) -> Response<tonic::body::Body> {
    let mut resp = Response::new(tonic::body::Body::new(Full::new(Bytes::from_static(
        body.as_bytes(),
    ))));
    *resp.status_mut() = status;
    resp
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<tonic::body::Body> {
    let grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let Some(signal) = signal_of(req.uri().path()) else {
        return if grpc {
            Status::unimplemented("unknown method").into_http()
        } else {
            http_reply(StatusCode::NOT_FOUND, "not found")
        };
    };
    if grpc {
        let mut g = tonic::server::Grpc::new(BytesCodec)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(usize::MAX);
        let resp = g.unary(Export { state, signal }, req).await;
        return resp;
    }
    let gzip = req
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return http_reply(StatusCode::BAD_REQUEST, "body"),
    };
    let body = if gzip {
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .is_err()
        {
            state.counters.errors.fetch_add(1, Relaxed);
            return http_reply(StatusCode::BAD_REQUEST, "gzip");
        }
        Bytes::from(out)
    } else {
        body
    };
    match state.accept(signal, &body) {
        Ok(slot) => {
            wait_for(slot).await;
            let mut resp = http_reply(StatusCode::OK, "");
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/x-protobuf"),
            );
            resp
        }
        Err(_) => {
            state.counters.errors.fetch_add(1, Relaxed);
            http_reply(StatusCode::BAD_REQUEST, "malformed")
        }
    }
}

/// A running server.
pub struct Server {
    pub addr: std::net::SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Serves on `listener` until dropped or [`Server::stop`]ped.
    pub fn start(listener: tokio::net::TcpListener, mode: Mode) -> std::io::Result<Server> {
        Self::start_paced(listener, mode, None)
    }

    /// [`Server::start`], acknowledging at most `items_per_second` items per second when given
    /// (a backend slower than the clients).
    pub fn start_paced(
        listener: tokio::net::TcpListener,
        mode: Mode,
        items_per_second: Option<f64>,
    ) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let pace = items_per_second.filter(|r| *r > 0.0).map(|r| Pace {
            items_per_second: r,
            next_free: std::sync::Mutex::new(tokio::time::Instant::now()),
        });
        let state = Arc::new(State {
            mode,
            counters: Counters::default(),
            pace,
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(st, req).await) }
                    });
                    let mut b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    b.http2()
                        .initial_stream_window_size(4 << 20)
                        .initial_connection_window_size(8 << 20)
                        .max_concurrent_streams(1024);
                    let _ = b.serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        Ok(Server { addr, state, task })
    }

    pub fn totals(&self) -> Totals {
        self.state.counters.totals()
    }

    pub fn stop(self) -> Totals {
        self.task.abort();
        self.totals()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::{self, Compression, Protocol};
    use crate::workload::Shape;
    use std::time::Duration;

    async fn run(mode: Mode, protocol: Protocol, compression: Compression, signal: Signal) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = Server::start(listener, mode).expect("server");
        let report = loadgen::run(loadgen::Config {
            endpoint: server.addr.to_string(),
            protocol,
            shape: Shape {
                signal,
                items_per_request: 50,
                attrs_per_item: None,
                payload_bytes: 0,
            },
            compression,
            concurrency: 2,
            duration: Duration::from_millis(400),
            rate: None,
            pool: 4,
            timeout: Duration::from_secs(5),
        })
        .await
        .expect("load");
        let got = server.stop();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.requests_ok > 5, "{}", report.text());
        assert_eq!(
            got.items, report.items_ok,
            "{mode:?} {protocol:?} {compression:?}"
        );
        assert_eq!(got.requests, report.requests_ok);
        assert!(report.latency.p50_ms > 0.0 && report.latency.p99_ms >= report.latency.p50_ms);
    }

    #[tokio::test]
    async fn grpc_and_http_with_and_without_gzip_deliver_every_item() {
        run(
            Mode::Decode,
            Protocol::Grpc,
            Compression::None,
            Signal::Traces,
        )
        .await;
        run(
            Mode::Count,
            Protocol::Grpc,
            Compression::Gzip,
            Signal::Metrics,
        )
        .await;
        run(Mode::Count, Protocol::Http, Compression::None, Signal::Logs).await;
        run(
            Mode::Decode,
            Protocol::Http,
            Compression::Gzip,
            Signal::Traces,
        )
        .await;
    }

    #[tokio::test]
    async fn fixed_rate_is_kept_and_unknown_paths_are_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = Server::start(listener, Mode::Count).expect("server");
        let report = loadgen::run(loadgen::Config {
            endpoint: server.addr.to_string(),
            protocol: Protocol::Grpc,
            shape: Shape {
                signal: Signal::Traces,
                items_per_request: 10,
                attrs_per_item: None,
                payload_bytes: 0,
            },
            compression: Compression::None,
            concurrency: 2,
            duration: Duration::from_secs(1),
            rate: Some(1000.0),
            pool: 2,
            timeout: Duration::from_secs(5),
        })
        .await
        .expect("load");
        assert!(
            (800.0..=1200.0).contains(&report.items_per_sec),
            "{}",
            report.text()
        );
        let resp = reqwest_free_post(server.addr, "/v1/nothing").await;
        assert_eq!(resp, 404);
        server.stop();
    }

    #[test]
    fn wire_counts_match_the_generated_items() {
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let shape = Shape {
                signal,
                items_per_request: 53,
                attrs_per_item: None,
                payload_bytes: 0,
            };
            for e in crate::workload::pool(&shape, 3, 9) {
                assert_eq!(e.items, 53);
                assert_eq!(count_items_encoded(signal, &e.body), Some(53), "{signal:?}");
            }
        }
    }

    #[test]
    fn a_paced_sink_gives_each_request_its_share_of_time() {
        let pace = Pace {
            items_per_second: 1000.0,
            next_free: std::sync::Mutex::new(tokio::time::Instant::now()),
        };
        let t0 = tokio::time::Instant::now();
        let first = pace.slot(500) - t0;
        let second = pace.slot(500) - t0;
        let ms = |d: std::time::Duration| d.as_millis();
        assert!((500..600).contains(&ms(first)), "{first:?}");
        assert!((1000..1100).contains(&ms(second)), "{second:?}");
    }

    #[test]
    fn truncated_input_is_refused_by_the_count_sink() {
        let state = State {
            mode: Mode::Count,
            counters: Counters::default(),
            pace: None,
        };
        let shape = Shape {
            signal: Signal::Traces,
            items_per_request: 10,
            attrs_per_item: None,
            payload_bytes: 0,
        };
        let body = &crate::workload::pool(&shape, 1, 1)[0].body;
        assert!(state
            .accept(Signal::Traces, &body[..body.len() - 3])
            .is_err());
        assert!(state.accept(Signal::Traces, &[]).is_ok());
        assert!(state.accept(Signal::Traces, body).is_ok());
        assert_eq!(state.counters.totals().items, 10);
        assert_eq!(state.counters.totals().requests, 2);
    }

    /// A bare HTTP/1.1 POST, answering the status code.
    async fn reqwest_free_post(addr: std::net::SocketAddr, path: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}
