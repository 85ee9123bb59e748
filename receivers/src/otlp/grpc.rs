//! OTLP/gRPC: the three `Export` methods, served with tonic's unary machinery over a raw-bytes
//! codec, so the request body reaches the pipeline as received. gzip and zstd request
//! compression are accepted; messages over `max_recv_msg_size_mib` (compressed or not) get
//! RESOURCE_EXHAUSTED as from grpc-go; unknown methods and signals without a pipeline get
//! UNIMPLEMENTED. With `auth`, a request the authenticator refuses gets UNAUTHENTICATED before
//! its message is read; with `tls`, connections are TLS with ALPN `h2`.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc: { endpoint: 0.0.0.0:4317, max_recv_msg_size_mib: 16, max_concurrent_streams: 100 }
//! ```

use super::config::GrpcConfig;
use super::server;
use super::status;
use super::Endpoint;
use bytes::Bytes;
use ferrotel_core::{Consumer, RequestMeta, Signal};
use ferrotel_transport::grpc::{BytesCodec, LOGS_PATH, METRICS_PATH, PROFILES_PATH, TRACES_PATH};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{BoxFuture, Service};
use tonic::Status;

/// The encoding of an empty `Export*ServiceResponse` as otelcol sends it: `partial_success`
/// present and empty.
pub(crate) const EMPTY_RESPONSE: &[u8] = &[0x0a, 0x00];

/// What every call on one gRPC listener shares: the endpoint and `max_recv_msg_size`.
pub(crate) struct GrpcState {
    pub endpoint: Endpoint,
    pub max_recv: usize,
}

pub(crate) fn serve(
    cfg: &GrpcConfig,
    endpoint: Endpoint,
    listener: Arc<TcpListener>,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    serve_with(cfg, endpoint, (listener, tls), stop, handle)
}

/// Serves gRPC on `listener` (TLS when given) with `cfg`'s HTTP/2 settings and connection
/// limits until `stop`, answering every call with `handler` (the otlp receiver's services, or
/// another receiver's, e.g. jaeger's `PostSpans`).
pub(crate) fn serve_with<F, Fut>(
    cfg: &GrpcConfig,
    endpoint: Endpoint,
    (listener, tls): (Arc<TcpListener>, Option<TlsAcceptor>),
    stop: CancellationToken,
    handler: F,
) -> JoinHandle<()>
where
    F: Fn(Arc<GrpcState>, SocketAddr, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<tonic::body::Body>> + Send + 'static,
{
    let state = Arc::new(GrpcState {
        endpoint,
        max_recv: cfg.max_recv_msg_size(),
    });
    let limits = server::ConnLimits {
        max_connections: state.endpoint.limits.max_connections,
        first_request_timeout: server::DEFAULT_HEADER_READ_TIMEOUT,
    };
    server::spawn(listener, tls, builder(cfg), limits, stop, state, handler)
}

/// An HTTP/2-only connection builder with `cfg`'s stream, keepalive and buffer settings (also
/// the `jaeger` receiver's gRPC server).
pub(crate) fn builder(cfg: &GrpcConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = server::builder().http2_only();
    {
        let mut h2 = builder.http2();
        if cfg.max_concurrent_streams > 0 {
            h2.max_concurrent_streams(cfg.max_concurrent_streams);
        }
        if let Some(sp) = cfg
            .keepalive
            .as_ref()
            .and_then(|k| k.server_parameters.as_ref())
        {
            if !sp.time.is_zero() {
                h2.keep_alive_interval(sp.time.0);
            }
            if !sp.timeout.is_zero() {
                h2.keep_alive_timeout(sp.timeout.0);
            }
        }
        if cfg.write_buffer_size > 0 {
            h2.max_send_buf_size(usize::try_from(cfg.write_buffer_size).unwrap_or(usize::MAX));
        }
    }
    builder
}

fn signal_of(path: &str) -> Option<Signal> {
    match path {
        TRACES_PATH => Some(Signal::Traces),
        METRICS_PATH => Some(Signal::Metrics),
        LOGS_PATH => Some(Signal::Logs),
        PROFILES_PATH => Some(Signal::Profiles),
        _ => None,
    }
}

async fn handle(
    state: Arc<GrpcState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<tonic::body::Body> {
    let path = req.uri().path();
    let Some((signal, consumer)) =
        signal_of(path).and_then(|s| Some((s, state.endpoint.consumer(s)?.clone())))
    else {
        return Status::unimplemented(format!("unknown method {path}")).into_http();
    };
    let auth = match state.endpoint.authenticate(req.headers()).await {
        Ok(a) => a,
        Err(e) => return Status::unauthenticated(e.0).into_http(),
    };
    if let Err(e) = consumer.admit() {
        return status::of_pipeline(&e).to_tonic().into_http();
    }
    let export = Export {
        meta: state.endpoint.meta(peer, req.headers(), auth),
        state: state.clone(),
        signal,
        consumer,
    };
    let mut grpc = tonic::server::Grpc::new(BytesCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(state.max_recv);
    let resp = grpc.unary(export, req).await;
    oversize_as_resource_exhausted(resp, state.max_recv)
}

/// tonic refuses a message whose length prefix is over the limit with OUT_OF_RANGE, and one
/// that inflates over it (tonic stops decompressing at the limit) with its own wording; grpc-go
/// (and so otelcol) answers RESOURCE_EXHAUSTED with its wording.
pub(crate) fn oversize_as_resource_exhausted(
    resp: Response<tonic::body::Body>,
    limit: usize,
) -> Response<tonic::body::Body> {
    match Status::from_header_map(resp.headers()) {
        Some(s)
            if s.code() == tonic::Code::OutOfRange
                && s.message().contains("message length too large") =>
        {
            let found = s
                .message()
                .split_whitespace()
                .find_map(|w| w.parse::<usize>().ok())
                .unwrap_or(0);
            Status::resource_exhausted(format!(
                "grpc: received message larger than max ({found} vs. {limit})"
            ))
            .into_http()
        }
        Some(s)
            if s.code() == tonic::Code::ResourceExhausted
                && s.message().starts_with("Error decompressing: size limit") =>
        {
            Status::resource_exhausted(format!(
                "grpc: received message after decompression larger than max {limit}"
            ))
            .into_http()
        }
        _ => resp,
    }
}

/// One `Export` call, after tonic decoded the gRPC framing.
struct Export {
    state: Arc<GrpcState>,
    signal: Signal,
    consumer: Arc<dyn Consumer>,
    meta: Arc<RequestMeta>,
}

impl Service<tonic::Request<Bytes>> for Export {
    type Response = tonic::Response<Bytes>;
    type Error = Status;
    type Future = BoxFuture<Self::Response, Status>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
        let (state, signal, consumer, meta) = (
            self.state.clone(),
            self.signal,
            self.consumer.clone(),
            self.meta.clone(),
        );
        Box::pin(async move {
            let body = req.into_inner();
            let (batch, items) = state
                .endpoint
                .protobuf_batch(&consumer, signal, body, meta)
                .map_err(Status::invalid_argument)?;
            if items > 0 {
                state
                    .endpoint
                    .export(&consumer, batch, items)
                    .await
                    .map_err(|e| status::of_pipeline(&e).to_tonic())?;
            }
            Ok(tonic::Response::new(Bytes::from_static(EMPTY_RESPONSE)))
        })
    }
}
