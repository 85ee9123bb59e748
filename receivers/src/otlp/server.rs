//! The accept loop shared by the gRPC and HTTP listeners: serves each connection with hyper
//! (over TLS when `tls` is set: the handshake runs in the connection's task, bounded by
//! [`TLS_HANDSHAKE_TIMEOUT`]), stops accepting when told to, then waits for the connections to
//! finish the requests they have in flight (HTTP/2 GOAWAY, HTTP/1.1 close after the current
//! response).
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc:
//!         endpoint: 127.0.0.1:4317
//!         tls: { cert_file: server.crt, key_file: server.key }
//! ```

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// A client that has not finished its TLS handshake by then is disconnected.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// HTTP/2 streams one connection may have open at once (hyper's default, stated here so it
/// cannot silently change). `protocols.grpc.max_concurrent_streams` overrides it.
pub(crate) const MAX_CONCURRENT_STREAMS: u32 = 200;
/// Largest header list (HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`, decoded size) a client may
/// send: a larger one is answered 431 and its stream reset. Room for big bearer tokens, far
/// below h2's own 16 MiB default.
pub(crate) const MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;
/// Streams a client may open and reset before the server has answered them (the HTTP/2
/// "rapid reset" attack, CVE-2023-44487): more closes the connection. h2's default.
pub(crate) const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// HTTP/1.1 header read timeout when `read_header_timeout` is 0.
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection builder with tokio's executor and timer and the HTTP/2 protections above.
/// HTTP/1.1 headers are bounded by hyper (100 headers, ~400 KiB buffer: more is a 431).
pub(crate) fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(DEFAULT_HEADER_READ_TIMEOUT);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS);
    b
}

/// How many connections a listener serves at once, and how soon each must send a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// 0: no limit. Over it, the next connections wait in the listen backlog.
    pub max_connections: usize,
    /// A connection that has not sent a whole request head by then is closed: this bounds
    /// clients that connect and stay silent, trickle the HTTP/2 preface or settings, or
    /// trickle HTTP/1.1 headers (which hyper's own header timer also bounds).
    pub first_request_timeout: Duration,
}

/// Completes when `timeout` passed without any request on the connection; never otherwise.
async fn no_request_within(got_request: &AtomicBool, timeout: Duration) {
    tokio::time::sleep(timeout).await;
    if got_request.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}

/// Serves `listener` (with TLS when `tls` is set) until `stop` is cancelled, within `limits`;
/// `handler(state, peer, request)` answers each request.
pub(crate) fn spawn<St, F, Fut, B>(
    listener: Arc<TcpListener>,
    tls: Option<TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    limits: ConnLimits,
    stop: CancellationToken,
    state: Arc<St>,
    handler: F,
) -> JoinHandle<()>
where
    St: Send + Sync + 'static,
    F: Fn(Arc<St>, SocketAddr, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        let slots =
            (limits.max_connections > 0).then(|| Arc::new(Semaphore::new(limits.max_connections)));
        loop {
            let slot = match &slots {
                Some(s) => tokio::select! {
                    p = s.clone().acquire_owned() => p.ok(),
                    _ = stop.cancelled() => break,
                },
                None => None,
            };
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stop.cancelled() => break,
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            let got_request = Arc::new(AtomicBool::new(false));
            let seen = got_request.clone();
            let service = hyper::service::service_fn(move |req| {
                seen.store(true, Ordering::Relaxed);
                let fut = handler(state.clone(), peer, req);
                async move { Ok::<_, Infallible>(fut.await) }
            });
            let (builder, watcher, tls) = (builder.clone(), graceful.watcher(), tls.clone());
            tokio::spawn(async move {
                let _slot = slot;
                let timeout = limits.first_request_timeout;
                let served = match tls {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        tokio::select! {
                            r = watcher.watch(conn.into_owned()) => r,
                            () = no_request_within(&got_request, timeout) => Err("no request in time".into()),
                        }
                    }
                    Some(tls) => {
                        let stream =
                            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, %peer, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        tokio::select! {
                            r = watcher.watch(conn.into_owned()) => r,
                            () = no_request_within(&got_request, timeout) => Err("no request in time".into()),
                        }
                    }
                };
                if let Err(e) = served {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
            });
        }
        drop(listener);
        graceful.shutdown().await;
    })
}
