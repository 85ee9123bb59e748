//! An OTLP gRPC sink built from `opentelemetry-proto`'s generated tonic services: an
//! independent receiver that records every request and can be told to fail or stall.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Request, Response, Status};

/// The sink takes messages of any size a test sends (tonic's default limit is 4 MiB, and a
/// collector's batches can be bigger).
const MAX_MESSAGE: usize = 1 << 30;

/// What the sink received, and how it should answer.
#[derive(Default)]
pub struct SinkState {
    pub traces: Vec<ExportTraceServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
    pub logs: Vec<ExportLogsServiceRequest>,
    /// Request headers of the last request (lower-case names).
    pub last_headers: Vec<(String, String)>,
    /// Answers given before accepting (one per request).
    pub failures: VecDeque<Status>,
    /// Every request waits this long first; lowering it releases waiting requests.
    pub delay: Duration,
}

#[derive(Clone, Default)]
pub struct Sink {
    pub state: Arc<Mutex<SinkState>>,
    pub addr: Option<SocketAddr>,
}

impl Sink {
    /// Starts a sink on a free loopback port; it runs until the runtime stops.
    pub async fn start() -> Sink {
        Self::start_on(0).await
    }

    /// Starts a sink on loopback port `port` (a destination that comes back after an outage).
    pub async fn start_on(port: u16) -> Sink {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind sink");
        let addr = listener.local_addr().expect("sink addr");
        let sink = Sink {
            state: Default::default(),
            addr: Some(addr),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(
                    TraceServiceServer::new(s.clone())
                        .max_decoding_message_size(MAX_MESSAGE)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                        .accept_compressed(tonic::codec::CompressionEncoding::Zstd),
                )
                .add_service(
                    MetricsServiceServer::new(s.clone())
                        .max_decoding_message_size(MAX_MESSAGE)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                        .accept_compressed(tonic::codec::CompressionEncoding::Zstd),
                )
                .add_service(
                    LogsServiceServer::new(s)
                        .max_decoding_message_size(MAX_MESSAGE)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                        .accept_compressed(tonic::codec::CompressionEncoding::Zstd),
                )
                .serve_with_incoming(incoming)
                .await;
        });
        sink
    }

    pub fn port(&self) -> u16 {
        self.addr.map(|a| a.port()).unwrap_or(0)
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn span_count(&self) -> usize {
        self.lock()
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }

    /// The span ids of every span received, duplicates included, as big-endian integers.
    pub fn span_ids(&self) -> Vec<u64> {
        self.lock()
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .filter_map(|s| Some(u64::from_be_bytes(s.span_id.as_slice().try_into().ok()?)))
            .collect()
    }

    pub fn log_count(&self) -> usize {
        self.lock()
            .logs
            .iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum()
    }

    async fn gate<T>(&self, req: &Request<T>) -> Result<(), Status> {
        {
            let mut st = self.lock();
            st.last_headers = req
                .metadata()
                .clone()
                .into_headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
        }
        // The delay is re-read while waiting, so lowering it releases waiting requests (a
        // stalled sink is one with a very long delay).
        let start = tokio::time::Instant::now();
        loop {
            let remaining = self.lock().delay.saturating_sub(start.elapsed());
            if remaining.is_zero() {
                break;
            }
            // Not synchronisation: the slow (or stalled) destination the test asked for.
            tokio::time::sleep(remaining.min(Duration::from_millis(50))).await;
        }
        match self.lock().failures.pop_front() {
            Some(s) => Err(s),
            None => Ok(()),
        }
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.gate(&req).await?;
        self.lock().traces.push(req.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        req: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.gate(&req).await?;
        self.lock().metrics.push(req.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.gate(&req).await?;
        self.lock().logs.push(req.into_inner());
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}
