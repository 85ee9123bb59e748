//! The agent's UDP protocols (`thrift_compact`, `thrift_binary`): one task reads datagrams of up
//! to `max_packet_size` bytes into a queue of `queue_size` (a datagram that finds it full is
//! dropped, as otelcol's UDP server drops it), `workers` tasks decode each as an
//! `Agent.emitBatch` message and hand its spans to the pipeline. A datagram that does not
//! decode (garbage, another method, truncated by `max_packet_size`) is dropped; drops are
//! counted in `ferrotel_receiver_dropped_datagrams{receiver, transport, reason}` and logged at
//! debug level. Memory is bounded by `queue_size` datagrams plus one being read and one per
//! worker.
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols:
//!       thrift_compact: { endpoint: 0.0.0.0:6831, queue_size: 1000, workers: 10 }
//! ```

use super::config::UdpConfig;
use super::{traces, translate};
use crate::otlp::{Endpoint, LimitsConfig};
use bytes::Bytes;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{Batch, ReceiverContext, Signal, StartError};
use ferrotel_transport::jaeger::decode::{self, Protocol};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Datagrams dropped before reaching the pipeline (ferrotel's own metric).
pub const DROPPED_METRIC: &str = "ferrotel_receiver_dropped_datagrams";

/// Binds `cfg.endpoint` over UDP, with `socket_buffer_size` as `SO_RCVBUF` when set.
pub(crate) async fn bind(
    ctx: &ReceiverContext,
    cfg: &UdpConfig,
    key: &str,
) -> Result<UdpSocket, StartError> {
    let fail = |e: &dyn std::fmt::Display| {
        StartError(format!(
            "jaeger receiver {}: cannot listen on {} (protocols.{key}.endpoint): {e}",
            ctx.id, cfg.endpoint
        ))
    };
    let addr = tokio::net::lookup_host(&cfg.endpoint)
        .await
        .map_err(|e| fail(&e))?
        .next()
        .ok_or_else(|| fail(&"no address"))?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(|e| fail(&e))?;
    if cfg.socket_buffer_size > 0 {
        let size = usize::try_from(cfg.socket_buffer_size).unwrap_or(usize::MAX);
        socket.set_recv_buffer_size(size).map_err(|e| fail(&e))?;
    }
    socket.set_nonblocking(true).map_err(|e| fail(&e))?;
    socket.bind(&addr.into()).map_err(|e| fail(&e))?;
    UdpSocket::from_std(socket.into()).map_err(|e| fail(&e))
}

/// One UDP protocol's consumer, counters and wire protocol.
pub(crate) struct Agent {
    endpoint: Endpoint,
    protocol: Protocol,
    queue_full: Counter,
    undecodable: Counter,
}

impl Agent {
    pub(crate) fn new(
        ctx: &ReceiverContext,
        transport: &'static str,
        protocol: Protocol,
        limits: &LimitsConfig,
    ) -> Self {
        let receiver = ctx.id.to_string();
        let dropped = |reason: &str| {
            ctx.telemetry.counter(
                DROPPED_METRIC,
                "Number of datagrams dropped before reaching the pipeline.",
                &[
                    ("receiver", &receiver),
                    ("transport", transport),
                    ("reason", reason),
                ],
            )
        };
        Agent {
            queue_full: dropped("queue_full"),
            undecodable: dropped("decode"),
            endpoint: Endpoint::new(ctx, transport, false, None, limits),
            protocol,
        }
    }

    /// Decodes one datagram and hands its spans to the pipeline.
    async fn handle(&self, peer: SocketAddr, datagram: &[u8]) {
        let batch = match decode::agent_message(datagram, self.protocol) {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => {
                self.undecodable.add(1);
                tracing::debug!(transport = self.endpoint_transport(), %peer, error = %e, "dropping a datagram that is not an Agent.emitBatch message");
                return;
            }
        };
        let spans = batch.spans.len();
        let Some(consumer) = self.endpoint.consumer(Signal::Traces).cloned() else {
            return;
        };
        if spans == 0 {
            return;
        }
        let data = traces(translate::thrift_batch(&batch));
        let meta = self.endpoint.meta(peer, &http::HeaderMap::new(), vec![]);
        if let Err(e) = self
            .endpoint
            .export(&consumer, Batch::from_data(data, meta), spans)
            .await
        {
            tracing::debug!(%peer, error = %e, "the pipeline refused an agent batch");
        }
    }

    fn endpoint_transport(&self) -> &'static str {
        match self.protocol {
            Protocol::Compact => super::TRANSPORT_COMPACT,
            Protocol::Binary => super::TRANSPORT_BINARY,
        }
    }
}

/// Starts the reader and the workers; they stop when `stop` is cancelled, the workers once
/// the queue is drained.
pub(crate) fn serve(
    cfg: &UdpConfig,
    agent: Agent,
    socket: UdpSocket,
    stop: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let queue_size = usize::try_from(cfg.queue_size).unwrap_or(1).max(1);
    let max_packet = usize::try_from(cfg.max_packet_size)
        .unwrap_or(65_000)
        .clamp(1, 65_535);
    let workers = usize::try_from(cfg.workers).unwrap_or(1).max(1);
    let (tx, rx) = mpsc::channel::<(SocketAddr, Bytes)>(queue_size);
    let rx = Arc::new(Mutex::new(rx));
    let agent = Arc::new(agent);
    let mut tasks = Vec::with_capacity(workers + 1);
    tasks.push(tokio::spawn(read(
        socket,
        tx,
        max_packet,
        agent.clone(),
        stop,
    )));
    for _ in 0..workers {
        let (rx, agent) = (rx.clone(), agent.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = rx.lock().await.recv().await;
                let Some((peer, datagram)) = next else { break };
                agent.handle(peer, &datagram).await;
            }
        }));
    }
    tasks
}

/// Reads datagrams into the queue until `stop`; a full queue drops the datagram.
async fn read(
    socket: UdpSocket,
    tx: mpsc::Sender<(SocketAddr, Bytes)>,
    max_packet: usize,
    agent: Arc<Agent>,
    stop: CancellationToken,
) {
    let mut buf = vec![0u8; max_packet];
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors and the like: keep serving, without spinning.
                    tracing::debug!(error = %e, "UDP read failed");
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let datagram = Bytes::copy_from_slice(&buf[..n]);
        if tx.try_send((peer, datagram)).is_err() {
            agent.queue_full.add(1);
        }
    }
}
