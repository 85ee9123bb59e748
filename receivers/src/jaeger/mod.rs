//! The `jaeger` receiver: what Jaeger clients send to a Jaeger collector or agent, translated
//! to OTLP traces as otelcol-contrib's jaeger receiver does (see [`translate`]). Four
//! protocols, each served only when named under `protocols`:
//!
//! - `grpc` (14250): `jaeger.api_v2.CollectorService/PostSpans` ([`grpc`]), with the configgrpc
//!   server keys of the `otlp` receiver (TLS, auth, limits) and its gRPC server;
//! - `thrift_http` (14268): `POST /api/traces` with a Thrift binary `Batch` body and
//!   `Content-Type: application/x-thrift` or `application/vnd.apache.thrift.binary`, served by
//!   the `otlp` receiver's HTTP server (confighttp keys). Answers as otelcol: 202 accepted; 400
//!   `Unsupported content type: ...`, `Cannot parse content type: ...` or
//!   `Unable to process request body: ...` (a body that is not a Batch); 500
//!   `Cannot submit Jaeger batch: ...` when the pipeline refuses (with `Retry-After` when the
//!   refusal is retryable); 404 for other paths, 405 for other methods;
//! - `thrift_compact` (6831) and `thrift_binary` (6832): `Agent.emitBatch` datagrams over UDP
//!   ([`udp`]), read into a bounded queue (`queue_size`) and decoded by `workers` tasks; what
//!   cannot be queued or decoded is dropped and counted.
//!
//! Self-metrics: `otelcol_receiver_accepted_spans` / `otelcol_receiver_refused_spans` with
//! `receiver` and otelcol's `transport`: `grpc`, `collector_http`, `udp_thrift_compact`,
//! `udp_thrift_binary`; ferrotel adds `ferrotel_receiver_dropped_datagrams{receiver,
//! transport, reason}` (`queue_full`, `decode`).
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols:
//!       grpc:
//!         endpoint: 0.0.0.0:14250
//!       thrift_http:
//!         endpoint: 0.0.0.0:14268
//!       thrift_compact:
//!         endpoint: 0.0.0.0:6831
//!         queue_size: 1000
//!         workers: 10
//!       thrift_binary:
//!         endpoint: 0.0.0.0:6832
//! service:
//!   pipelines:
//!     traces: { receivers: [jaeger], exporters: [otlp] }
//! ```

pub mod config;
pub mod grpc;
pub mod proto;
pub mod translate;
pub mod udp;

pub use config::JaegerConfig;

use crate::otlp::config::GrpcConfig;
use config::{ThriftHttpConfig, UdpConfig};
use std::sync::Arc;
use tokio::net::{TcpListener, UdpSocket};

use crate::otlp::config::{unsupported_grpc, unsupported_http};
use crate::otlp::http::{self, go_http_error, response, Api, HttpState, Resp};
use crate::otlp::{bind, log_start, Endpoint, LimitsConfig};
use ::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use ::http::{Method, Request, StatusCode};
use ferrotel_config::{ConfigErrors, Findings, Validator};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::{
    Batch, CreateContext, Data, Factory, FactoryInfo, PipelineError, Receiver, ReceiverContext,
    ServerAuthenticator, Signal, Stability, StartError,
};
use ferrotel_transport::jaeger::decode;
use ferrotel_transport::tls;
use hyper::body::Incoming;
use std::net::SocketAddr;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// otelcol's `transport` labels.
pub const TRANSPORT_GRPC: &str = "grpc";
pub const TRANSPORT_HTTP: &str = "collector_http";
pub const TRANSPORT_COMPACT: &str = "udp_thrift_compact";
pub const TRANSPORT_BINARY: &str = "udp_thrift_binary";

/// The collector's Thrift path.
pub const API_TRACES_PATH: &str = "/api/traces";

/// Creates `jaeger` receivers.
pub struct JaegerReceiverFactory;

impl Factory for JaegerReceiverFactory {
    type Config = JaegerConfig;
    type Component = Box<dyn Receiver>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "jaeger",
            "Jaeger spans: api_v2 gRPC, Thrift over HTTP, agent Thrift over UDP",
        )
        .signal(Signal::Traces, Stability::Beta)
        .example("protocols: {thrift_http: {endpoint: '127.0.0.1:14268'}}")
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        config: JaegerConfig,
    ) -> Result<Box<dyn Receiver>, ConfigErrors> {
        Ok(Box::new(JaegerReceiver::new(config)))
    }
}

/// The receiver: up to two TCP listeners and two UDP sockets feeding the traces pipelines.
pub struct JaegerReceiver {
    config: JaegerConfig,
    addrs: Addrs,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// The bound addresses, once started.
#[derive(Debug, Clone, Copy, Default)]
pub struct Addrs {
    pub grpc: Option<SocketAddr>,
    pub thrift_http: Option<SocketAddr>,
    pub thrift_compact: Option<SocketAddr>,
    pub thrift_binary: Option<SocketAddr>,
}

impl JaegerReceiver {
    pub fn new(config: JaegerConfig) -> Self {
        JaegerReceiver {
            config,
            addrs: Addrs::default(),
            stop: CancellationToken::new(),
            tasks: vec![],
        }
    }

    /// The bound addresses, once started.
    pub fn addrs(&self) -> Addrs {
        self.addrs
    }

    /// What this receiver cannot do yet, with its key.
    fn unsupported(&self) -> Option<String> {
        let p = &self.config.protocols;
        if let Some(k) = p.grpc.as_ref().and_then(unsupported_grpc) {
            return Some(k.to_string());
        }
        let http = p.thrift_http.as_ref().map(|h| h.http());
        http.as_ref()
            .and_then(unsupported_http)
            .map(|k| k.replace("protocols.http.", "protocols.thrift_http."))
    }

    /// TLS of the gRPC and HTTP servers, read at start (as otelcol: `validate` reads no file).
    fn tls_configs(&self) -> Result<(Option<TlsAcceptor>, Option<TlsAcceptor>), ConfigErrors> {
        let mut findings = Findings::default();
        let p = &self.config.protocols;
        let mut one = |key: &str, t: Option<&ferrotel_config::TlsServerConfig>, alpn: &[&[u8]]| {
            let t = t?;
            let mut v = Validator::new("", &mut findings);
            let mut v = v.at(key);
            tls::server_config(t, v.path(), alpn)
                .map_err(|e| v.extend(e))
                .ok()
                .map(TlsAcceptor::from)
        };
        let grpc = one(
            "protocols.grpc.tls",
            p.grpc.as_ref().and_then(|g| g.tls.as_ref()),
            &[tls::ALPN_H2],
        );
        let http = one(
            "protocols.thrift_http.tls",
            p.thrift_http.as_ref().and_then(|h| h.tls.as_ref()),
            &[tls::ALPN_H2, tls::ALPN_HTTP1],
        );
        findings.into_result()?;
        Ok((grpc, http))
    }
}

/// One TCP server ready to serve: its settings, socket, TLS and authenticator.
struct TcpServer<C> {
    config: C,
    listener: Arc<TcpListener>,
    tls: Option<TlsAcceptor>,
    auth: Option<Arc<dyn ServerAuthenticator>>,
}

/// Everything bound and checked before anything is served, so a failure leaves nothing
/// running.
struct Bound {
    grpc: Option<TcpServer<GrpcConfig>>,
    http: Option<TcpServer<ThriftHttpConfig>>,
    udp: Vec<(UdpConfig, decode::Protocol, UdpSocket)>,
}

impl JaegerReceiver {
    async fn prepare(&self, ctx: &ReceiverContext) -> Result<Bound, StartError> {
        if let Some(key) = self.unsupported() {
            return Err(StartError(format!(
                "jaeger receiver {}: {key} is not supported yet",
                ctx.id
            )));
        }
        let (grpc_tls, http_tls) = self.tls_configs()?;
        let authenticator = |auth: Option<&str>, key: &str| {
            auth.map(|id| {
                ctx.extensions
                    .server_authenticator(id)
                    .map_err(|e| StartError(format!("jaeger receiver {}: {key}: {e}", ctx.id)))
            })
            .transpose()
        };
        let p = &self.config.protocols;
        let grpc = match &p.grpc {
            Some(g) => Some(TcpServer {
                auth: authenticator(
                    g.auth.as_ref().map(|a| a.authenticator.as_str()),
                    "protocols.grpc.auth.authenticator",
                )?,
                listener: bind(ctx, &g.endpoint, "protocols.grpc.endpoint").await?,
                tls: grpc_tls,
                config: g.clone(),
            }),
            None => None,
        };
        let http = match &p.thrift_http {
            Some(h) => Some(TcpServer {
                auth: authenticator(
                    h.auth.as_ref().map(|a| a.authenticator.as_str()),
                    "protocols.thrift_http.auth.authenticator",
                )?,
                listener: bind(ctx, &h.endpoint, "protocols.thrift_http.endpoint").await?,
                tls: http_tls,
                config: h.clone(),
            }),
            None => None,
        };
        let mut udp = vec![];
        let agents = [
            (
                "thrift_compact",
                &p.thrift_compact,
                decode::Protocol::Compact,
            ),
            ("thrift_binary", &p.thrift_binary, decode::Protocol::Binary),
        ];
        for (key, cfg, protocol) in agents {
            if let Some(u) = cfg {
                udp.push((u.clone(), protocol, udp::bind(ctx, u, key).await?));
            }
        }
        Ok(Bound { grpc, http, udp })
    }

    fn serve_grpc(&mut self, ctx: &ReceiverContext, s: TcpServer<GrpcConfig>) {
        let g = &s.config;
        self.addrs.grpc = s.listener.local_addr().ok();
        let message = "Starting gRPC server for Jaeger Protobuf";
        log_start(ctx, message, self.addrs.grpc, &g.endpoint);
        let limits = LimitsConfig::default();
        let endpoint = Endpoint::new(ctx, TRANSPORT_GRPC, g.include_metadata, s.auth, &limits);
        let stop = self.stop.clone();
        self.tasks
            .push(grpc::serve(g, endpoint, s.listener, s.tls, stop));
    }

    fn serve_http(&mut self, ctx: &ReceiverContext, s: TcpServer<ThriftHttpConfig>) {
        let h = &s.config;
        self.addrs.thrift_http = s.listener.local_addr().ok();
        let message = "Starting HTTP server for Jaeger Thrift";
        log_start(ctx, message, self.addrs.thrift_http, &h.endpoint);
        let limits = LimitsConfig::default();
        let endpoint = Endpoint::new(ctx, TRANSPORT_HTTP, h.include_metadata, s.auth, &limits);
        let api = Box::new(ThriftHttpApi);
        let stop = self.stop.clone();
        self.tasks.push(http::serve_api(
            &h.http(),
            endpoint,
            api,
            s.listener,
            s.tls,
            stop,
        ));
    }

    fn serve_udp(
        &mut self,
        ctx: &ReceiverContext,
        u: &UdpConfig,
        protocol: decode::Protocol,
        socket: UdpSocket,
    ) {
        let addr = socket.local_addr().ok();
        let (message, transport) = match protocol {
            decode::Protocol::Compact => {
                self.addrs.thrift_compact = addr;
                ("Starting UDP server for Compact Thrift", TRANSPORT_COMPACT)
            }
            decode::Protocol::Binary => {
                self.addrs.thrift_binary = addr;
                ("Starting UDP server for Binary Thrift", TRANSPORT_BINARY)
            }
        };
        log_start(ctx, message, addr, &u.endpoint);
        let agent = udp::Agent::new(ctx, transport, protocol, &LimitsConfig::default());
        self.tasks
            .extend(udp::serve(u, agent, socket, self.stop.clone()));
    }
}

#[async_trait::async_trait]
impl Receiver for JaegerReceiver {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        let bound = self.prepare(&ctx).await?;
        self.stop = ctx.shutdown.child_token();
        if let Some(g) = bound.grpc {
            self.serve_grpc(&ctx, g);
        }
        if let Some(h) = bound.http {
            self.serve_http(&ctx, h);
        }
        for (u, protocol, socket) in bound.udp {
            self.serve_udp(&ctx, &u, protocol, socket);
        }
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.stop.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

/// The Thrift content types otelcol accepts on `/api/traces`.
const THRIFT_CONTENT_TYPES: [&str; 2] = [
    "application/x-thrift",
    "application/vnd.apache.thrift.binary",
];

/// `POST /api/traces` on the shared HTTP server.
struct ThriftHttpApi;

#[async_trait::async_trait]
impl Api for ThriftHttpApi {
    async fn route(
        &self,
        state: &HttpState,
        peer: SocketAddr,
        req: &Request<()>,
        body: &mut Incoming,
    ) -> Resp {
        if req.uri().path() != API_TRACES_PATH {
            return go_http_error(StatusCode::NOT_FOUND, "404 page not found");
        }
        if req.method() != Method::POST {
            return response(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "",
            );
        }
        let auth = match state.authenticate(req).await {
            Ok(a) => a,
            Err(message) => return go_http_error(StatusCode::UNAUTHORIZED, &message),
        };
        let encoding = match state.encoding_of(req.headers()) {
            Ok(e) => e,
            Err(message) => return go_http_error(StatusCode::BAD_REQUEST, &message),
        };
        let endpoint = &state.endpoint;
        let Some(consumer) = endpoint.consumer(Signal::Traces).cloned() else {
            return go_http_error(StatusCode::NOT_FOUND, "404 page not found");
        };
        if let Err(e) = consumer.admit() {
            return refusal(&e);
        }
        let body = match state.read_body(body, encoding).await {
            Ok(b) => b,
            Err(m) => {
                return http_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Unable to process request body: {m}"),
                )
            }
        };
        if let Err(m) = check_content_type(req) {
            return http_error(StatusCode::BAD_REQUEST, &m);
        }
        let batch = match decode::binary_batch(&body) {
            Ok(b) => b,
            Err(e) => {
                return http_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Unable to process request body: {e}"),
                )
            }
        };
        let spans = batch.spans.len();
        let data = traces(translate::thrift_batch(&batch));
        if spans > 0 {
            let meta = endpoint.meta(peer, req.headers(), auth);
            if let Err(e) = endpoint
                .export(&consumer, Batch::from_data(data, meta), spans)
                .await
            {
                return refusal(&e);
            }
        }
        response(StatusCode::ACCEPTED, "text/plain; charset=utf-8", "")
    }
}

/// Go's `mime.ParseMediaType` then the accepted list.
fn check_content_type(req: &Request<()>) -> Result<(), String> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media.is_empty() {
        return Err("Cannot parse content type: mime: no media type".into());
    }
    if !media.contains('/') || media.ends_with('/') || media.starts_with('/') {
        return Err("Cannot parse content type: mime: expected slash after first token".into());
    }
    if THRIFT_CONTENT_TYPES.contains(&media.as_str()) {
        Ok(())
    } else {
        Err(format!("Unsupported content type: {media}"))
    }
}

/// Go's `http.Error(w, html.EscapeString(msg), code)`.
fn http_error(status: StatusCode, message: &str) -> Resp {
    go_http_error(status, &html_escape(message))
}

/// Go's `html.EscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    ferrotel_core::format::html_escape_into(s, &mut out);
    out
}

/// otelcol's answer to a pipeline refusal: 500 `Cannot submit Jaeger batch: ...`; ferrotel
/// adds `Retry-After` when the refusal is retryable.
fn refusal(e: &PipelineError) -> Resp {
    let mut r = http_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("Cannot submit Jaeger batch: {e}"),
    );
    if let Some(d) = e.retry_after().filter(|_| e.is_retryable()) {
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(d.as_secs()));
    }
    r
}

/// Translated spans as pipeline data.
pub(crate) fn traces(resource_spans: Vec<ferrotel_core::proto::trace::v1::ResourceSpans>) -> Data {
    Data::Traces(ExportTraceServiceRequest { resource_spans })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod translate_tests;
