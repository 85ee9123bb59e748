//! `otlp` exporter (also `otlp_grpc`): sends batches to an OTLP/gRPC backend, as otelcol's.
//! The batch's encoded bytes go out as they are (no re-encode), gzip-compressed by default,
//! over TLS unless the endpoint is `http://...` or `tls.insecure: true`. The connection is made
//! lazily, so a backend that is down does not stop the collector from starting. Failures are
//! classified as otelcol's: UNAVAILABLE and friends are retried, RESOURCE_EXHAUSTED only with
//! a `RetryInfo`, everything else is permanent; a `partial_success` is logged, not retried.
//!
//! ```yaml
//! exporters:
//!   otlp:
//!     endpoint: otelcol.example.com:4317
//!     tls:
//!       insecure: false
//!       ca_file: /certs/ca.pem            # else the system roots
//!       # cert_file: /certs/client.crt   # mTLS, with key_file
//!       # insecure_skip_verify: true     # no server certificate check
//!     headers: { x-api-key: secret }
//!     auth: { authenticator: bearertokenauth }   # an extension that adds its header
//!     compression: gzip          # gzip | zstd | none
//!     timeout: 5s
//!     retry_on_failure: { enabled: true }
//!     sending_queue: { enabled: true, queue_size: 1000 }
//! ```

pub use crate::shared::{AuthSettings, Compression};

use crate::shared::{
    check_compression, header_map, header_problem, log_partial_success, not_supported,
    partial_success, ClientAuth,
};
use bytes::Bytes;
use ferrotel_config::choice::Choice;
use ferrotel_config::{
    ConfigError, ConfigErrors, Findings, GoDuration, QueueConfig, RetryConfig, TlsClientConfig,
    Validate, Validator, Value,
};
use ferrotel_core::{
    Batch, CreateContext, ExportError, Exporter, ExporterParts, ExporterSettings,
    ExporterStartContext, Factory, FactoryInfo, Signal, Stability, StartError,
};
mod endpoint;

use ferrotel_transport::grpc::{BytesCodec, LOGS_PATH, METRICS_PATH, PROFILES_PATH, TRACES_PATH};
use ferrotel_transport::status::retry_info_delay;
use ferrotel_transport::tls;
use http::uri::PathAndQuery;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use tonic::codec::CompressionEncoding;
use tonic::codegen::Service;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint, Identity};

/// `keepalive` (gRPC client keepalive).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveConfig {
    /// Send an HTTP/2 ping after this long without activity.
    pub time: Option<GoDuration>,
    /// Close the connection when a ping is not answered within this long.
    pub timeout: Option<GoDuration>,
    /// Send pings even without active streams.
    pub permit_without_stream: bool,
}

/// `exporters.otlp`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// `host:port`, or a URL with `http://` (plaintext) or `https://` scheme. Required.
    pub endpoint: String,
    /// Client TLS; TLS is used unless `insecure: true` or an `http://` endpoint.
    pub tls: TlsClientConfig,
    /// Extra request metadata sent with every export.
    pub headers: BTreeMap<String, String>,
    /// `gzip` (default), `zstd` or `none`.
    pub compression: Choice<Compression>,
    /// Per-attempt timeout.
    pub timeout: GoDuration,
    /// exporterhelper retry settings.
    pub retry_on_failure: RetryConfig,
    /// exporterhelper queue settings.
    pub sending_queue: QueueConfig,
    /// HTTP/2 keepalive pings.
    pub keepalive: Option<KeepaliveConfig>,
    /// Load-balancing policy (accepted; one connection is used).
    pub balancer_name: Option<String>,
    /// Wait for the connection instead of failing fast (accepted; the engine retries).
    pub wait_for_ready: bool,
    /// Socket buffer sizes (accepted, not used).
    pub write_buffer_size: Option<Value>,
    /// Socket buffer sizes (accepted, not used).
    pub read_buffer_size: Option<Value>,
    /// Overrides the `:authority` pseudo-header.
    pub authority: Option<String>,
    /// A client authenticator extension that adds its headers (metadata) to every export.
    pub auth: Option<AuthSettings>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: String::new(),
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            compression: Choice::Known(Compression::Gzip),
            timeout: GoDuration::from_secs(5),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            keepalive: None,
            balancer_name: None,
            wait_for_ready: false,
            write_buffer_size: None,
            read_buffer_size: None,
            authority: None,
            auth: None,
        }
    }
}

/// The compressions the gRPC exporter sends.
const COMPRESSIONS: &[Compression] = &[Compression::None, Compression::Gzip, Compression::Zstd];

impl Validate for OtlpConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        let problem = if self.endpoint.is_empty() {
            endpoint_problem(&self.endpoint, self.tls.insecure)
        } else {
            endpoint::endpoint_problem(&self.endpoint)
                .or_else(|| endpoint_problem(&self.endpoint, self.tls.insecure))
        };
        if let Some(problem) = problem {
            v.report_at("endpoint", problem);
        }
        if let Some(problem) = self
            .balancer_name
            .as_deref()
            .and_then(endpoint::balancer_problem)
        {
            v.report_at("balancer_name", problem);
        }
        check_compression(v, &self.compression, COMPRESSIONS);
        // Headers that are not HTTP headers are accepted, as otelcol does; every export then
        // fails (see `OtlpExporter::export`).
        v.check("retry_on_failure", &self.retry_on_failure);
        v.check("sending_queue", &self.sending_queue);
        if let Some(a) = &self.authority {
            if authority_origin(a).is_none() {
                v.report_at("authority", "invalid authority");
            }
        }
        let use_tls = dial_uri(&self.endpoint, self.tls.insecure).1;
        if use_tls && self.tls.max_version.as_deref() == Some("1.2") {
            // tonic offers TLS 1.2 and 1.3 together, so a 1.2 maximum cannot be honoured.
            // The reported key spells out the refused value (as it always has).
            let key = "tls.max_version: \"1.2\" (with the gRPC exporter)";
            v.report_at(key, not_supported(key));
        }
        v.check("tls", &self.tls);
        v.check("auth", &self.auth);
    }
}

/// The URI to dial and whether it uses TLS, from otelcol's endpoint forms.
fn dial_uri(endpoint: &str, insecure: bool) -> (String, bool) {
    let ep = endpoint.strip_prefix("dns:///").unwrap_or(endpoint);
    if ep.starts_with("http://") {
        (ep.to_string(), false)
    } else if let Some(rest) = ep.strip_prefix("https://") {
        (format!("https://{rest}"), true)
    } else if insecure {
        (format!("http://{ep}"), false)
    } else {
        (format!("https://{ep}"), true)
    }
}

/// What is wrong with an `endpoint`, if anything (also for the load-balancing exporter's
/// backends).
pub(crate) fn endpoint_problem(endpoint: &str, insecure: bool) -> Option<String> {
    if endpoint.is_empty() {
        return Some("requires a non-empty \"endpoint\"".to_string());
    }
    let (uri, _) = dial_uri(endpoint, insecure);
    Endpoint::from_shared(uri)
        .err()
        .map(|e| format!("invalid endpoint {endpoint:?}: {e}"))
}

/// The origin an `authority` stands for.
fn authority_origin(authority: &str) -> Option<http::Uri> {
    format!("https://{authority}").parse().ok()
}

/// tonic's TLS settings from a client `tls` block (the one `v` is at): our verifier (CA file or
/// system roots, `insecure_skip_verify`, `server_name_override`, `min_version: "1.3"`), the
/// client certificate (mTLS) and the server name.
fn tls_config(
    v: &mut Validator<'_>,
    cfg: &TlsClientConfig,
) -> Option<(ClientTlsConfig, Arc<tls::Verifier>)> {
    let parts = match tls::client_parts(cfg, v.path()) {
        Ok(p) => p,
        Err(e) => {
            v.extend(e);
            return None;
        }
    };
    let mut tls = ClientTlsConfig::new();
    if let (Some(cert), Some(key)) = (&cfg.cert_file, &cfg.key_file) {
        // Both were just read and parsed by client_parts.
        let (cert, key) = (std::fs::read(cert).ok()?, std::fs::read(key).ok()?);
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    if let Some(name) = cfg.server_name_override.as_ref().filter(|n| !n.is_empty()) {
        tls = tls.domain_name(name.clone());
    }
    Some((tls, parts.verifier))
}

/// The (not yet connected) endpoint of a validated config (the one `v` is at), without TLS:
/// [`with_tls`] adds it, reading the files, at start.
fn endpoint(v: &mut Validator<'_>, cfg: &OtlpConfig) -> Option<Endpoint> {
    let (uri, _) = dial_uri(&cfg.endpoint, cfg.tls.insecure);
    let ep = match Endpoint::from_shared(uri) {
        Ok(e) => e,
        Err(e) => {
            v.report_at(
                "endpoint",
                format!("invalid endpoint {:?}: {e}", cfg.endpoint),
            );
            return None;
        }
    };
    let mut ep = ep
        .user_agent(concat!("ferrotel/", env!("CARGO_PKG_VERSION")))
        .ok()?;
    if let Some(ka) = &cfg.keepalive {
        if let Some(t) = ka.time {
            ep = ep.http2_keep_alive_interval(t.0);
        }
        if let Some(t) = ka.timeout {
            ep = ep.keep_alive_timeout(t.0);
        }
        ep = ep.keep_alive_while_idle(ka.permit_without_stream);
    }
    if let Some(origin) = cfg.authority.as_deref().and_then(authority_origin) {
        ep = ep.origin(origin);
    }
    Some(ep)
}

/// `ep` with the client `tls` block applied; reads its files. Problems name the key relative
/// to the exporter (`tls.ca_file: failed to read ...`).
fn with_tls(ep: Endpoint, cfg: &TlsClientConfig) -> Result<Endpoint, ConfigErrors> {
    let mut findings = Findings::default();
    let mut v = Validator::new("", &mut findings);
    let built = tls_config(&mut v.at("tls"), cfg);
    findings.into_result()?;
    let (tls, verifier) =
        built.ok_or_else(|| ConfigErrors::from(ConfigError::new("tls", "cannot be used")))?;
    ep.tls_config_with_verifier(tls, verifier)
        .map_err(|e| ConfigError::new("tls", e.to_string()).into())
}

/// The exporter.
pub struct OtlpExporter {
    id: String,
    /// The endpoint without TLS.
    endpoint: Endpoint,
    /// The client TLS settings, when the endpoint uses TLS (read at start or first use).
    tls: Option<TlsClientConfig>,
    compression: Compression,
    headers: http::HeaderMap,
    /// A configured header that is not an HTTP header: every export fails with it.
    bad_header: Option<String>,
    auth: ClientAuth,
    channel: OnceLock<Channel>,
}

/// Largest response message read (a `partial_success`).
const MAX_RESPONSE: usize = 64 << 20;

impl OtlpExporter {
    /// The channel, created at start or on first use (inside the runtime, reading the TLS
    /// files); it connects lazily.
    fn channel(&self) -> Result<Channel, ConfigErrors> {
        if let Some(c) = self.channel.get() {
            return Ok(c.clone());
        }
        let ep = match &self.tls {
            Some(tls) => with_tls(self.endpoint.clone(), tls)?,
            None => self.endpoint.clone(),
        };
        Ok(self.channel.get_or_init(|| ep.connect_lazy()).clone())
    }

    /// The request body: the gRPC message frame (compressed flag, length, message) of a batch's
    /// bytes, compressed here at the fastest level (tonic would copy the message into its
    /// buffer, then compress at gzip level 6, which made export slower than gzip intake). An
    /// uncompressed message is sent as it is, after a separate 5-byte header: no copy.
    fn frame(&self, msg: Bytes) -> Result<Vec<Bytes>, ExportError> {
        let header = |compressed: bool, len: usize| -> Result<Bytes, ExportError> {
            let len = u32::try_from(len)
                .map_err(|_| ExportError::permanent("message over 4 GiB".to_string()))?;
            let mut h = vec![u8::from(compressed)];
            h.extend_from_slice(&len.to_be_bytes());
            Ok(Bytes::from(h))
        };
        let compressed = match self.compression {
            Compression::Gzip => {
                let mut w = flate2::write::GzEncoder::new(
                    Vec::with_capacity(msg.len() / 4 + 64),
                    flate2::Compression::fast(),
                );
                w.write_all(&msg)
                    .and_then(|()| w.finish())
                    .map_err(|e| ExportError::permanent(format!("gzip: {e}")))?
            }
            Compression::Zstd => zstd::bulk::compress(&msg, 1)
                .map_err(|e| ExportError::permanent(format!("zstd: {e}")))?,
            Compression::None | Compression::Snappy => {
                return Ok(vec![header(false, msg.len())?, msg])
            }
        };
        Ok(vec![
            header(true, compressed.len())?,
            Bytes::from(compressed),
        ])
    }

    /// One unary call with a pre-framed body; the response message (or the error status) as
    /// tonic's client reads it.
    async fn call(
        &self,
        path: PathAndQuery,
        frames: Vec<Bytes>,
        headers: http::HeaderMap,
    ) -> Result<Bytes, ExportError> {
        let mut channel = self
            .channel()
            .map_err(|e| ExportError::permanent(StartError::from(e).0))?;
        std::future::poll_fn(|cx| channel.poll_ready(cx))
            .await
            .map_err(|e| ExportError::retryable(format!("connection not ready: {e}")))?;
        let body = http_body_util::StreamBody::new(futures::stream::iter(
            frames
                .into_iter()
                .map(|b| Ok::<_, std::convert::Infallible>(http_body::Frame::data(b))),
        ));
        let mut req = http::Request::new(tonic::body::Body::new(body));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = http::Uri::from(path);
        *req.headers_mut() = headers;
        let h = req.headers_mut();
        h.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        h.insert(
            "grpc-accept-encoding",
            http::HeaderValue::from_static("gzip,zstd"),
        );
        if let (Compression::Gzip | Compression::Zstd, Some(name)) =
            (self.compression, self.compression.name())
        {
            h.insert("grpc-encoding", http::HeaderValue::from_static(name));
        }
        let resp = channel
            .call(req)
            .await
            .map_err(|e| classify(&tonic::Status::from_error(Box::new(e))))?;
        read_response(resp).await.map_err(|s| classify(&s))
    }
}

/// A unary response: the trailers-only status, or the one message and the trailers' status.
async fn read_response(resp: http::Response<tonic::body::Body>) -> Result<Bytes, tonic::Status> {
    if let Some(status) = tonic::Status::from_header_map(resp.headers()) {
        if status.code() != tonic::Code::Ok {
            return Err(status);
        }
        return Ok(Bytes::new());
    }
    let encoding = match resp.headers().get("grpc-encoding").map(|v| v.as_bytes()) {
        None | Some(b"identity") => None,
        Some(b"gzip") => Some(CompressionEncoding::Gzip),
        Some(b"zstd") => Some(CompressionEncoding::Zstd),
        Some(other) => {
            return Err(tonic::Status::unimplemented(format!(
                "Content is compressed with `{}` which isn't supported",
                String::from_utf8_lossy(other)
            )))
        }
    };
    let status = resp.status();
    let mut stream = tonic::codec::Streaming::new_response(
        BytesCodec,
        resp.into_body(),
        status,
        encoding,
        Some(MAX_RESPONSE),
    );
    let msg = stream
        .message()
        .await?
        .ok_or_else(|| tonic::Status::internal("Missing response message."))?;
    stream.trailers().await?;
    Ok(msg)
}

/// An error status from the server, or from the transport as tonic reports it: UNKNOWN with
/// the transport error as its source. A broken connection is retryable (grpc-go, so otelcol,
/// reports it as UNAVAILABLE): the data may never have reached the server.
fn classify(status: &tonic::Status) -> ExportError {
    let code = match status.code() {
        tonic::Code::Unknown if std::error::Error::source(status).is_some() => {
            tonic::Code::Unavailable
        }
        code => code,
    };
    ExportError::from_grpc(
        code as i32,
        format!("rpc error: code = {:?} desc = {}", code, status.message()),
        retry_info_delay(status.details()),
    )
}

fn method(signal: Signal) -> PathAndQuery {
    PathAndQuery::from_static(match signal {
        Signal::Traces => TRACES_PATH,
        Signal::Metrics => METRICS_PATH,
        Signal::Logs => LOGS_PATH,
        Signal::Profiles => PROFILES_PATH,
    })
}

#[async_trait::async_trait]
impl Exporter for OtlpExporter {
    async fn start(&self, ctx: &ExporterStartContext) -> Result<(), StartError> {
        self.auth.resolve(&ctx.extensions)?;
        if let Some(problem) = &self.bad_header {
            tracing::warn!(
                "exporters.{}.headers: {problem}; every export will fail",
                self.id
            );
        }
        self.channel()?;
        Ok(())
    }

    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        if let Some(problem) = &self.bad_header {
            return Err(ExportError::permanent(problem.clone()));
        }
        let mut headers = self.headers.clone();
        self.auth.apply(&mut headers)?;
        let frames = self.frame(batch.encoded())?;
        let body = self.call(method(batch.signal()), frames, headers).await?;
        if let Some((rejected, msg)) = partial_success(batch.signal(), &body) {
            log_partial_success(&self.id, batch.signal(), rejected, &msg);
        }
        Ok(())
    }
}

impl OtlpExporter {
    /// The exporter of a validated config (the one `v` is at; its TLS files are read at start).
    pub(crate) fn new(v: &mut Validator<'_>, id: String, cfg: &OtlpConfig) -> Option<Self> {
        let endpoint = endpoint(v, cfg)?;
        let use_tls = dial_uri(&cfg.endpoint, cfg.tls.insecure).1;
        Some(OtlpExporter {
            id,
            endpoint,
            tls: use_tls.then(|| cfg.tls.clone()),
            compression: cfg.compression.known().unwrap_or(Compression::None),
            headers: header_map(&cfg.headers),
            bad_header: header_problem(&cfg.headers),
            auth: ClientAuth::new(&cfg.auth),
            channel: OnceLock::new(),
        })
    }
}

/// The exporterhelper settings of a config.
pub(crate) fn settings(cfg: &OtlpConfig) -> ExporterSettings {
    ExporterSettings {
        timeout: cfg.timeout,
        retry: cfg.retry_on_failure.clone(),
        queue: cfg.sending_queue.clone(),
    }
}

/// Factory of `otlp` (alias `otlp_grpc`).
pub struct OtlpExporterFactory;

impl Factory for OtlpExporterFactory {
    type Config = OtlpConfig;
    type Component = ExporterParts;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("otlp_grpc", "Sends OTLP over gRPC")
            .aliases(&["otlp"])
            .all_signals(Stability::Stable)
            .signal(Signal::Profiles, Stability::Alpha)
            .example("endpoint: http://127.0.0.1:4317")
    }

    fn create(&self, ctx: &CreateContext, cfg: OtlpConfig) -> Result<ExporterParts, ConfigErrors> {
        let exporter =
            crate::shared::build(ctx, |v| OtlpExporter::new(v, ctx.id.to_string(), &cfg))?;
        Ok(ExporterParts {
            exporter: Arc::new(exporter),
            settings: settings(&cfg),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
