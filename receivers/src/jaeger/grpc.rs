//! The `grpc` protocol: `jaeger.api_v2.CollectorService/PostSpans` on the `otlp` receiver's
//! gRPC connection handling (HTTP/2, TLS, keepalive, `max_recv_msg_size_mib`, gzip/zstd,
//! authentication). A message that does not decode is answered as grpc-go answers it:
//! INTERNAL `grpc: error unmarshalling request: ...`; other methods get UNIMPLEMENTED; a
//! pipeline refusal gets its status (UNAVAILABLE with a retry delay when retryable).
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols:
//!       grpc: { endpoint: 0.0.0.0:14250, max_recv_msg_size_mib: 16 }
//! ```

use super::proto::PostSpansRequest;
use super::{traces, translate};
use crate::otlp::config::GrpcConfig;
use crate::otlp::grpc::{oversize_as_resource_exhausted, serve_with, GrpcState};
use crate::otlp::{status, Endpoint};
use bytes::Bytes;
use ferrotel_core::{Batch, Consumer, RequestMeta, Signal};
use ferrotel_transport::grpc::BytesCodec;
use http::{Request, Response};
use hyper::body::Incoming;
use prost::Message;
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

/// The one method served.
pub const POST_SPANS_PATH: &str = "/jaeger.api_v2.CollectorService/PostSpans";
const SERVICE: &str = "jaeger.api_v2.CollectorService";

/// Serves `PostSpans` on `listener` until `stop`, with the otlp receiver's gRPC serving.
pub(crate) fn serve(
    cfg: &GrpcConfig,
    endpoint: Endpoint,
    listener: Arc<TcpListener>,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    serve_with(cfg, endpoint, (listener, tls), stop, handle)
}

/// grpc-go's answer to a path it does not serve.
fn unknown(path: &str) -> Status {
    let path = path.trim_start_matches('/');
    match path.split_once('/') {
        Some((service, method)) if service == SERVICE => {
            Status::unimplemented(format!("unknown method {method} for service {service}"))
        }
        Some((service, _)) => Status::unimplemented(format!("unknown service {service}")),
        None => Status::unimplemented(format!("malformed method name: {path:?}")),
    }
}

async fn handle(
    state: Arc<GrpcState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<tonic::body::Body> {
    let path = req.uri().path();
    let consumer = match state.endpoint.consumer(Signal::Traces) {
        Some(c) if path == POST_SPANS_PATH => c.clone(),
        _ => return unknown(path).into_http(),
    };
    let auth = match state.endpoint.authenticate(req.headers()).await {
        Ok(a) => a,
        Err(e) => return Status::unauthenticated(e.0).into_http(),
    };
    if let Err(e) = consumer.admit() {
        return status::of_pipeline(&e).to_tonic().into_http();
    }
    let post = PostSpans {
        meta: state.endpoint.meta(peer, req.headers(), auth),
        state: state.clone(),
        consumer,
    };
    let mut grpc = tonic::server::Grpc::new(BytesCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(state.max_recv);
    let resp = grpc.unary(post, req).await;
    oversize_as_resource_exhausted(resp, state.max_recv)
}

/// One `PostSpans` call, after tonic decoded the gRPC framing.
struct PostSpans {
    state: Arc<GrpcState>,
    consumer: Arc<dyn Consumer>,
    meta: Arc<RequestMeta>,
}

fn unmarshal_error(e: impl std::fmt::Display) -> Status {
    Status::internal(format!("grpc: error unmarshalling request: {e}"))
}

impl Service<tonic::Request<Bytes>> for PostSpans {
    type Response = tonic::Response<Bytes>;
    type Error = Status;
    type Future = BoxFuture<Self::Response, Status>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
        let (state, consumer, meta) =
            (self.state.clone(), self.consumer.clone(), self.meta.clone());
        Box::pin(async move {
            let msg = PostSpansRequest::decode(req.into_inner()).map_err(unmarshal_error)?;
            let batch = msg.batch.unwrap_or_default();
            let resource_spans = translate::proto_batch(&batch).map_err(unmarshal_error)?;
            let spans = batch.spans.len();
            if spans > 0 {
                let batch = Batch::from_data(traces(resource_spans), meta);
                state
                    .endpoint
                    .export(&consumer, batch, spans)
                    .await
                    .map_err(|e| status::of_pipeline(&e).to_tonic())?;
            }
            // An empty PostSpansResponse.
            Ok(tonic::Response::new(Bytes::new()))
        })
    }
}
