//! The small HTTP server the HTTP extensions (health_check, zpages, pprof) share: binds through
//! the service's listener pool, optionally terminates TLS, serves HTTP/1.1 and HTTP/2 with one
//! handler until shutdown.

use bytes::Bytes;
use ferrotel_config::TlsServerConfig;
use ferrotel_core::{ExtensionContext, StartError};
use http::{header, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A request as the handlers get it.
pub(crate) type Request = http::Request<hyper::body::Incoming>;
/// A response as the handlers give it.
pub(crate) type Reply = Response<Full<Bytes>>;

/// How long a client has to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A response with `status`, `content_type` and `body`.
pub(crate) fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"internal error"))))
}

/// A `text/plain` response, as Go's `http.Error` writes it.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut body = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    reply(status, "text/plain; charset=utf-8", body)
}

/// Go's answer to an unknown path.
pub(crate) fn not_found() -> Reply {
    text(StatusCode::NOT_FOUND, "404 page not found")
}

/// A started server; [`HttpServer::shutdown`] stops it (idempotent).
#[derive(Default)]
pub(crate) struct HttpServer {
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    local_addr: Option<SocketAddr>,
}

impl HttpServer {
    /// Binds `endpoint` (reported as `extensions.<id>.endpoint`) and serves `handler` on every
    /// connection until [`HttpServer::shutdown`]. TLS files are read here.
    pub(crate) async fn start<H, F>(
        ctx: &ExtensionContext,
        endpoint: &str,
        tls: Option<&TlsServerConfig>,
        handler: H,
    ) -> Result<HttpServer, StartError>
    where
        H: Fn(Request) -> F + Send + Sync + 'static,
        F: Future<Output = Reply> + Send + 'static,
    {
        let tls = match tls {
            Some(cfg) => {
                let alpn = [
                    ferrotel_transport::tls::ALPN_H2,
                    ferrotel_transport::tls::ALPN_HTTP1,
                ];
                let config = ferrotel_transport::tls::server_config(cfg, "tls", &alpn)?;
                Some(tokio_rustls::TlsAcceptor::from(config))
            }
            None => None,
        };
        let listener = ctx
            .listeners
            .bind(&format!("extensions.{}.endpoint", ctx.id), endpoint)
            .await
            .map_err(|e| StartError(format!("listen tcp {endpoint}: {e}")))?;
        let local_addr = listener.local_addr().ok();
        // The address actually bound (port 0 shows the kernel's choice; harnesses read it).
        let shown = local_addr.map_or_else(|| endpoint.to_string(), |a| a.to_string());
        tracing::info!(
            otelcol.component.id = %ctx.id,
            endpoint = %shown,
            "Starting {} extension",
            ctx.id.type_name
        );
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, tls, Arc::new(handler), stop.clone()));
        Ok(HttpServer {
            stop,
            task: Some(task),
            local_addr,
        })
    }

    /// The address actually bound (useful with port 0).
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Stops accepting and ends open connections. Idempotent, safe without start.
    pub(crate) async fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

async fn accept_loop<H, F>(
    listener: Arc<tokio::net::TcpListener>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: Arc<H>,
    stop: CancellationToken,
) where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    loop {
        let conn = tokio::select! {
            _ = stop.cancelled() => return,
            c = listener.accept() => c,
        };
        let Ok((stream, _)) = conn else { continue };
        let handler = handler.clone();
        let svc = service_fn(move |req: Request| {
            let answer = handler(req);
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let (stop, tls) = (stop.clone(), tls.clone());
        tokio::spawn(async move {
            let Some(tls) = tls else {
                return serve_connection(stream, svc, stop).await;
            };
            let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream));
            match handshake.await {
                Ok(Ok(s)) => serve_connection(s, svc, stop).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
}

/// Serves one connection (plain TCP or TLS; HTTP/1.1 or HTTP/2) until it ends or `stop`.
async fn serve_connection<S, Svc>(stream: S, svc: Svc, stop: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    Svc: hyper::service::Service<Request, Response = Reply, Error = Infallible> + Send + 'static,
    Svc::Future: Send + 'static,
{
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = stop.cancelled() => {}
    }
}
