//! The `otlp` receiver: OTLP over gRPC (port 4317) and over HTTP with protobuf or JSON bodies
//! (port 4318), with otelcol's config keys, defaults, status codes and self-metrics. Protobuf
//! bodies are validated and then passed on as the original bytes (no re-encoding); an empty
//! request is answered with success without reaching the pipeline; a pipeline's refusal is
//! what the client gets (gRPC UNAVAILABLE / HTTP 503 with `Retry-After` for retryable ones).
//! Each protocol may serve TLS (`tls`, mTLS with `client_ca_file`) and check every request with
//! an authenticator extension (`auth.authenticator`) before reading its body: a refused request
//! gets gRPC UNAUTHENTICATED / HTTP 401 and is counted in
//! `ferrotel_receiver_unauthenticated_requests{receiver, transport}`.
//! With the `service.profilesSupport` feature gate and a `profiles` pipeline, it also serves
//! `ProfilesService/Export` (gRPC) and `POST /v1development/profiles` (HTTP; a fixed path, as in
//! otelcol), passing the profiles on as the bytes received.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc:
//!         endpoint: 0.0.0.0:4317
//!         max_recv_msg_size_mib: 4
//!         include_metadata: true
//!       http:
//!         endpoint: 0.0.0.0:4318
//!         traces_url_path: /v1/traces
//!         max_request_body_size: 20971520
//!         cors:
//!           allowed_origins: ["https://*.example.com"]
//!         response_headers: { x-served-by: ferrotel }
//!         tls:
//!           cert_file: /certs/server.crt
//!           key_file: /certs/server.key
//!           client_ca_file: /certs/ca.crt
//!         auth: { authenticator: bearertokenauth }
//! extensions:
//!   bearertokenauth: { token: "${env:OTLP_TOKEN}" }
//! service:
//!   extensions: [bearertokenauth]
//! ```

pub mod compression;
pub mod config;
pub mod fastcheck;
pub(crate) mod grpc;
pub(crate) mod http;
pub mod json;
pub mod limits;
pub(crate) mod server;
pub mod status;

pub use config::OtlpConfig;
pub use limits::LimitsConfig;

use bytes::Bytes;
use ferrotel_config::{ConfigErrors, Findings, Validator};
use ferrotel_core::telemetry::{item_suffix, Counter};
use ferrotel_core::{
    AuthError, Batch, Consumer, Consumers, CreateContext, Data, Factory, FactoryInfo,
    PipelineError, Receiver, ReceiverContext, RequestMeta, ServerAuthenticator, Signal, Stability,
    StartError, Telemetry,
};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Requests refused by the authenticator (ferrotel's own metric: otelcol counts them nowhere but
/// in its HTTP/gRPC server instrumentation).
pub const UNAUTHENTICATED_METRIC: &str = "ferrotel_receiver_unauthenticated_requests";

/// Creates `otlp` receivers.
pub struct OtlpReceiverFactory;

impl Factory for OtlpReceiverFactory {
    type Config = OtlpConfig;
    type Component = Box<dyn Receiver>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("otlp", "OTLP over gRPC and HTTP (protobuf and JSON)")
            .all_signals(Stability::Stable)
            .signal(Signal::Profiles, Stability::Alpha)
            .example(
                "protocols: {grpc: {endpoint: '127.0.0.1:0'}, http: {endpoint: '127.0.0.1:0'}}",
            )
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        config: OtlpConfig,
    ) -> Result<Box<dyn Receiver>, ConfigErrors> {
        // Certificates are read at start (as otelcol: `validate` reads no file).
        Ok(Box::new(OtlpReceiver::new(config)))
    }
}

/// The receiver: up to two listeners sharing the pipelines' consumers.
pub struct OtlpReceiver {
    config: OtlpConfig,
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// A receiver for a validated config (see [`OtlpConfig`]'s `Validate`); its URL paths are
    /// normalised here ([`OtlpConfig::normalized`]).
    pub fn new(config: OtlpConfig) -> Self {
        OtlpReceiver {
            config: config.normalized(),
            grpc_addr: None,
            http_addr: None,
            stop: CancellationToken::new(),
            tasks: vec![],
        }
    }

    /// The bound gRPC address, once started.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The bound HTTP address, once started.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }
}

/// Binds `endpoint` through the listener pool; `key` is the config key it came from.
pub(crate) async fn bind(
    ctx: &ReceiverContext,
    endpoint: &str,
    key: &str,
) -> Result<Arc<TcpListener>, StartError> {
    let owner = format!("receivers.{}.{key}", ctx.id);
    ctx.listeners.bind(&owner, endpoint).await.map_err(|e| {
        StartError(format!(
            "{} receiver: cannot listen on {endpoint} ({key}): {e}",
            ctx.id.type_name
        ))
    })
}

#[async_trait::async_trait]
impl Receiver for OtlpReceiver {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        let p = &self.config.protocols;
        let unsupported = p
            .grpc
            .as_ref()
            .and_then(config::unsupported_grpc)
            .or_else(|| p.http.as_ref().and_then(config::unsupported_http));
        if let Some(key) = unsupported {
            return Err(StartError(format!(
                "otlp receiver {}: {key} is not supported yet",
                ctx.id
            )));
        }
        let mut findings = Findings::default();
        let (grpc_tls, http_tls) = self
            .config
            .tls_configs(&mut Validator::new("", &mut findings));
        findings.into_result()?;
        let authenticator = |auth: Option<&str>, key: &str| {
            auth.map(|id| {
                ctx.extensions
                    .server_authenticator(id)
                    .map_err(|e| StartError(format!("otlp receiver {}: {key}: {e}", ctx.id)))
            })
            .transpose()
        };
        let grpc_auth = authenticator(
            p.grpc
                .as_ref()
                .and_then(|g| Some(g.auth.as_ref()?.authenticator.as_str())),
            "protocols.grpc.auth.authenticator",
        )?;
        let http_auth = authenticator(
            p.http
                .as_ref()
                .and_then(|h| Some(h.auth.as_ref()?.authenticator.as_str())),
            "protocols.http.auth.authenticator",
        )?;
        // Bind both before serving either, so a failure leaves nothing running.
        let grpc = match &p.grpc {
            Some(g) => Some((g, bind(&ctx, &g.endpoint, "protocols.grpc.endpoint").await?)),
            None => None,
        };
        let http = match &p.http {
            Some(h) => Some((h, bind(&ctx, &h.endpoint, "protocols.http.endpoint").await?)),
            None => None,
        };
        self.stop = ctx.shutdown.child_token();
        let limits = &self.config.limits;
        if let Some((g, listener)) = grpc {
            self.grpc_addr = listener.local_addr().ok();
            log_start(&ctx, "Starting GRPC server", self.grpc_addr, &g.endpoint);
            let endpoint = Endpoint::new(&ctx, "grpc", g.include_metadata, grpc_auth, limits);
            let tls = grpc_tls.map(TlsAcceptor::from);
            self.tasks
                .push(grpc::serve(g, endpoint, listener, tls, self.stop.clone()));
        }
        if let Some((h, listener)) = http {
            self.http_addr = listener.local_addr().ok();
            log_start(&ctx, "Starting HTTP server", self.http_addr, &h.endpoint);
            let endpoint = Endpoint::new(&ctx, "http", h.include_metadata, http_auth, limits);
            let tls = http_tls.map(TlsAcceptor::from);
            self.tasks
                .push(http::serve(h, endpoint, listener, tls, self.stop.clone()));
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

/// otelcol's startup line for a listener, with the address actually bound (port 0 shows the
/// port the kernel chose; test harnesses read it back).
pub(crate) fn log_start(
    ctx: &ReceiverContext,
    message: &str,
    bound: Option<SocketAddr>,
    configured: &str,
) {
    let endpoint = bound.map_or_else(|| configured.to_string(), |a| a.to_string());
    tracing::info!(otelcol.component.id = %ctx.id, endpoint = %endpoint, "{message}");
}

// ---------------------------------------------------------------------------------------------
// What both transports share: consumers, request metadata and self-metrics.

fn signal_index(s: Signal) -> usize {
    match s {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
        Signal::Profiles => 3,
    }
}

/// One transport's view of the receiver.
pub(crate) struct Endpoint {
    receiver: String,
    transport: &'static str,
    include_metadata: bool,
    consumers: Consumers,
    accepted: [Counter; 4],
    refused: [Counter; 4],
    auth: Option<Arc<dyn ServerAuthenticator>>,
    unauthenticated: Counter,
    pub(crate) limits: LimitsConfig,
}

impl Endpoint {
    pub(crate) fn new(
        ctx: &ReceiverContext,
        transport: &'static str,
        include_metadata: bool,
        auth: Option<Arc<dyn ServerAuthenticator>>,
        limits: &LimitsConfig,
    ) -> Self {
        let receiver = ctx.id.to_string();
        // Counters only for the signals a pipeline takes (as otelcol, which exports a series
        // once it is recorded): a traces-only receiver (zipkin) exports no metric/log series.
        let counters = |kind: &str, t: &Telemetry| {
            [
                Signal::Traces,
                Signal::Metrics,
                Signal::Logs,
                Signal::Profiles,
            ]
            .map(|s| {
                if ctx.consumers.get(s).is_none() {
                    return Counter::default();
                }
                let suffix = item_suffix(s);
                t.counter(
                    &format!("otelcol_receiver_{kind}_{suffix}"),
                    &format!("Number of {suffix} {kind} by the receiver."),
                    &[("receiver", &receiver), ("transport", transport)],
                )
            })
        };
        Endpoint {
            accepted: counters("accepted", &ctx.telemetry),
            refused: counters("refused", &ctx.telemetry),
            unauthenticated: ctx.telemetry.counter(
                UNAUTHENTICATED_METRIC,
                "Number of requests refused because the authenticator did not accept them.",
                &[("receiver", &receiver), ("transport", transport)],
            ),
            auth,
            limits: limits.clone(),
            receiver,
            transport,
            include_metadata,
            consumers: ctx.consumers.clone(),
        }
    }

    /// A protobuf request as a batch with its item count, validated as decoding it and
    /// checking it against the limits would: by a wire-format walk ([`fastcheck`]) when it is
    /// sure, unless the pipeline decodes first (see [`Consumer::decodes_first`]); else by the
    /// full decode, which such a pipeline then finds done. The error is the message for the
    /// client (INVALID_ARGUMENT).
    pub(crate) fn protobuf_batch(
        &self,
        consumer: &Arc<dyn Consumer>,
        signal: Signal,
        body: Bytes,
        meta: Arc<RequestMeta>,
    ) -> Result<(Batch, usize), String> {
        let decodes_first = consumer.decodes_first(signal);
        if !decodes_first {
            if let Some(items) = fastcheck::count_valid(&self.limits, signal, &body) {
                return Ok((Batch::from_bytes(signal, body, Some(items), meta), items));
            }
        }
        let data = Data::decode(signal, &body).map_err(|e| e.0)?;
        self.check(signal, &data)?;
        let batch = if decodes_first {
            Batch::from_bytes_and_data(body, data, meta)
        } else {
            Batch::from_bytes(signal, body, Some(data.item_count()), meta)
        };
        let items = batch.item_count();
        Ok((batch, items))
    }

    /// Checks a decoded request against the limits (see [`limits`]).
    pub(crate) fn check(&self, signal: Signal, data: &Data) -> Result<(), String> {
        self.limits
            .check(data)
            .map_err(|e| format!("invalid {signal} request: {e}"))
    }

    pub(crate) fn consumer(&self, s: Signal) -> Option<&Arc<dyn Consumer>> {
        self.consumers.get(s)
    }

    /// Checks a request with the authenticator, if any: Ok with the attributes it attached.
    /// A refusal is counted.
    pub(crate) async fn authenticate(
        &self,
        headers: &::http::HeaderMap,
    ) -> Result<Vec<(String, String)>, AuthError> {
        let Some(auth) = &self.auth else {
            return Ok(vec![]);
        };
        let r = auth.authenticate(headers).await;
        if r.is_err() {
            self.unauthenticated.add(1);
        }
        r
    }

    /// The metadata of one request; headers only with `include_metadata`; `auth` from
    /// [`Self::authenticate`].
    pub(crate) fn meta(
        &self,
        peer: SocketAddr,
        headers: &::http::HeaderMap,
        auth: Vec<(String, String)>,
    ) -> Arc<RequestMeta> {
        let headers = if self.include_metadata {
            headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect()
        } else {
            vec![]
        };
        Arc::new(RequestMeta {
            receiver: self.receiver.clone(),
            transport: self.transport,
            peer: Some(peer),
            headers,
            auth,
        })
    }

    /// Hands a non-empty batch to the pipeline and counts the outcome.
    pub(crate) async fn export(
        &self,
        consumer: &Arc<dyn Consumer>,
        batch: Batch,
        items: usize,
    ) -> Result<(), PipelineError> {
        let i = signal_index(batch.signal());
        let r = consumer.consume(batch).await;
        let counter = if r.is_ok() {
            &self.accepted[i]
        } else {
            &self.refused[i]
        };
        counter.add(items as u64);
        r
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod hostile_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tls_tests;
