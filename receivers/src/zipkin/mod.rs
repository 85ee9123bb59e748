//! The `zipkin` receiver: Zipkin v2 spans over HTTP (default port 9411), translated to OTLP
//! traces as otelcol's zipkin receiver does (see [`translate`]). Like otelcol it answers every
//! path and method: a path containing `api/v1/spans` is Zipkin v1, which ferrotel does not
//! read yet (400 naming v1); any other (`POST /api/v2/spans`) is v2, a `ListOfSpans` protobuf
//! with `Content-Type: application/x-protobuf`, else a JSON list. Bodies may be gzip, deflate,
//! zstd, ... encoded (`compression_algorithms`) and are bounded by `max_request_body_size`
//! before and after decompression. Answers: 202 when the pipeline took the spans, 400 with the
//! problem in `text/plain` for a body that does not decode, and otelcol's answers to a
//! pipeline refusal: 400 `"Bad Request"` when permanent, else 500 `"Internal Server Error"`
//! (with `Retry-After` when the refusal is retryable). The confighttp keys (`tls`, `cors`,
//! `auth`, `response_headers`, timeouts) behave as in the `otlp` receiver's HTTP server, which
//! serves this receiver too. Self-metrics: `otelcol_receiver_accepted_spans` /
//! `otelcol_receiver_refused_spans` with `receiver` and otelcol's `transport` per format:
//! `http_v2_json` or `http_v2_proto`.
//!
//! ```yaml
//! receivers:
//!   zipkin:
//!     endpoint: 0.0.0.0:9411
//!     parse_string_tags: true
//!     max_request_body_size: 10485760
//!     cors: { allowed_origins: ["https://*.example.com"] }
//! service:
//!   pipelines:
//!     traces: { receivers: [zipkin], exporters: [otlp] }
//! ```

pub mod config;
pub mod model;
pub mod translate;

pub use config::ZipkinConfig;

use crate::otlp::http::{self, go_http_error, response, Api, HttpState, Resp};
use crate::otlp::{bind, log_start, Endpoint, LimitsConfig};
use ::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use ::http::{Request, StatusCode};
use ferrotel_config::{ConfigErrors, Findings, Validator};
use ferrotel_core::{
    Batch, CreateContext, Data, Factory, FactoryInfo, PipelineError, Receiver, ReceiverContext,
    Signal, Stability, StartError,
};
use ferrotel_transport::http::CONTENT_TYPE_PROTOBUF;
use ferrotel_transport::tls;
use hyper::body::Incoming;
use std::net::SocketAddr;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Creates `zipkin` receivers.
pub struct ZipkinReceiverFactory;

impl Factory for ZipkinReceiverFactory {
    type Config = ZipkinConfig;
    type Component = Box<dyn Receiver>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("zipkin", "Zipkin v2 spans (JSON and protobuf) over HTTP")
            .signal(Signal::Traces, Stability::Beta)
            .example("endpoint: '127.0.0.1:0'")
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        config: ZipkinConfig,
    ) -> Result<Box<dyn Receiver>, ConfigErrors> {
        Ok(Box::new(ZipkinReceiver::new(config)))
    }
}

/// The receiver: one HTTP listener feeding the traces pipelines.
pub struct ZipkinReceiver {
    config: ZipkinConfig,
    addr: Option<SocketAddr>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ZipkinReceiver {
    pub fn new(config: ZipkinConfig) -> Self {
        ZipkinReceiver {
            config,
            addr: None,
            stop: CancellationToken::new(),
            task: None,
        }
    }

    /// The bound address, once started.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }
}

#[async_trait::async_trait]
impl Receiver for ZipkinReceiver {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        let http_cfg = self.config.http();
        if let Some(key) = crate::otlp::config::unsupported_http(&http_cfg) {
            let key = key.trim_start_matches("protocols.http.");
            return Err(StartError(format!(
                "zipkin receiver {}: {key} is not supported yet",
                ctx.id
            )));
        }
        let mut findings = Findings::default();
        let tls_config = self.config.tls.as_ref().and_then(|t| {
            let mut v = Validator::new("", &mut findings);
            let mut v = v.at("tls");
            tls::server_config(t, v.path(), &[tls::ALPN_H2, tls::ALPN_HTTP1])
                .map_err(|e| v.extend(e))
                .ok()
        });
        findings.into_result()?;
        let auth = match &self.config.auth {
            Some(a) => Some(
                ctx.extensions
                    .server_authenticator(&a.authenticator)
                    .map_err(|e| {
                        StartError(format!(
                            "zipkin receiver {}: auth.authenticator: {e}",
                            ctx.id
                        ))
                    })?,
            ),
            None => None,
        };
        let listener = bind(&ctx, &self.config.endpoint, "endpoint").await?;
        self.addr = listener.local_addr().ok();
        log_start(
            &ctx,
            "Starting HTTP server",
            self.addr,
            &self.config.endpoint,
        );
        self.stop = ctx.shutdown.child_token();
        let include_metadata = self.config.include_metadata;
        let limits = LimitsConfig::default();
        // The server's own endpoint authenticates (and counts refusals as transport "http");
        // spans are counted per format, under otelcol's transport names.
        let server_ctx = ReceiverContext {
            consumers: Default::default(),
            ..ctx.clone()
        };
        let endpoint = Endpoint::new(&server_ctx, "http", include_metadata, auth, &limits);
        let format = |t| Endpoint::new(&ctx, t, include_metadata, None, &limits);
        let api = Box::new(ZipkinApi {
            parse_string_tags: self.config.parse_string_tags,
            json: format(TRANSPORT_V2_JSON),
            protobuf: format(TRANSPORT_V2_PROTO),
        });
        let tls = tls_config.map(TlsAcceptor::from);
        self.task = Some(http::serve_api(
            &http_cfg,
            endpoint,
            api,
            listener,
            tls,
            self.stop.clone(),
        ));
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// otelcol's `transport` label of spans received as Zipkin v2 JSON / protobuf.
pub const TRANSPORT_V2_JSON: &str = "http_v2_json";
pub const TRANSPORT_V2_PROTO: &str = "http_v2_proto";

/// The Zipkin span API on the shared HTTP server, with one [`Endpoint`] (consumer, counters,
/// request metadata) per body format.
struct ZipkinApi {
    parse_string_tags: bool,
    json: Endpoint,
    protobuf: Endpoint,
}

#[async_trait::async_trait]
impl Api for ZipkinApi {
    async fn route(
        &self,
        state: &HttpState,
        peer: SocketAddr,
        req: &Request<()>,
        body: &mut Incoming,
    ) -> Resp {
        let auth = match state.authenticate(req).await {
            Ok(a) => a,
            Err(message) => return go_http_error(StatusCode::UNAUTHORIZED, &message),
        };
        let encoding = match state.encoding_of(req.headers()) {
            Ok(e) => e,
            Err(message) => return go_http_error(StatusCode::BAD_REQUEST, &message),
        };
        let protobuf = is_protobuf(req);
        let endpoint = if protobuf { &self.protobuf } else { &self.json };
        let Some(consumer) = endpoint.consumer(Signal::Traces).cloned() else {
            return go_http_error(StatusCode::NOT_FOUND, "404 page not found");
        };
        if let Err(e) = consumer.admit() {
            return refusal(&e);
        }
        let body = match state.read_body(body, encoding).await {
            Ok(b) => b,
            Err(message) => return go_http_error(StatusCode::BAD_REQUEST, &message),
        };
        let data = match self.decode(req, protobuf, &body) {
            Ok(d) => d,
            Err(message) => return go_http_error(StatusCode::BAD_REQUEST, &message),
        };
        if let Err(message) = endpoint.check(Signal::Traces, &data) {
            return go_http_error(StatusCode::BAD_REQUEST, &message);
        }
        let items = data.item_count();
        if items > 0 {
            let meta = endpoint.meta(peer, req.headers(), auth);
            let batch = Batch::from_data(data, meta);
            if let Err(e) = endpoint.export(&consumer, batch, items).await {
                return refusal(&e);
            }
        }
        response(StatusCode::ACCEPTED, "text/plain; charset=utf-8", "")
    }
}

impl ZipkinApi {
    /// The request's spans as OTLP; the error is the message for the client.
    fn decode(&self, req: &Request<()>, protobuf: bool, body: &[u8]) -> Result<Data, String> {
        if req.uri().path().contains("api/v1/spans") {
            return Err(
                "Zipkin v1 spans (/api/v1/spans) are not supported by ferrotel yet: send Zipkin \
                 v2 to /api/v2/spans"
                    .into(),
            );
        }
        let spans = if protobuf {
            let debug = req.headers().get("x-b3-flags").is_some_and(|v| v == "1");
            model::from_protobuf(body, debug)?
        } else {
            model::from_json(body)?
        };
        translate::to_otlp(spans, self.parse_string_tags).map(Data::Traces)
    }
}

/// A `ListOfSpans` protobuf body (`Content-Type: application/x-protobuf`); else JSON.
fn is_protobuf(req: &Request<()>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(CONTENT_TYPE_PROTOBUF))
}

/// otelcol's answer to a pipeline refusal: 400 when permanent, else 500 (ferrotel adds
/// `Retry-After` when the refusal is retryable).
fn refusal(e: &PipelineError) -> Resp {
    if e.is_retryable() {
        let mut r = response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            &br#""Internal Server Error""#[..],
        );
        if let Some(d) = e.retry_after() {
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(d.as_secs()));
        }
        return r;
    }
    match e {
        PipelineError::Permanent(_) => response(
            StatusCode::BAD_REQUEST,
            "text/plain; charset=utf-8",
            &br#""Bad Request""#[..],
        ),
        _ => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            &br#""Internal Server Error""#[..],
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod translate_tests;
