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

use crate::shared::{
    log_partial_success, not_supported, parse_headers, partial_success, push_settings,
    retry_info_delay, AuthSettings, ClientAuth, Compression,
};
use bytes::Bytes;
use ferrotel_config::{
    decode, ConfigError, ConfigErrors, GoDuration, QueueConfig, RetryConfig, TlsClientConfig, Value,
};
use ferrotel_core::grpc::{BytesCodec, LOGS_PATH, METRICS_PATH, TRACES_PATH};
use ferrotel_core::tls;
use ferrotel_core::{
    Batch, CreateContext, ExportError, Exporter, ExporterFactory, ExporterParts,
    ExporterStartContext, FactoryInfo, Signal, Stability, StartError,
};
use http::uri::PathAndQuery;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint, Identity};

/// `keepalive` (gRPC client keepalive).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// `host:port`, or a URL with `http://` (plaintext) or `https://` scheme. Required.
    pub endpoint: String,
    /// Client TLS; TLS is used unless `insecure: true` or an `http://` endpoint.
    pub tls: TlsClientConfig,
    /// Extra request metadata sent with every export.
    pub headers: BTreeMap<String, String>,
    /// `gzip` (default), `zstd` or `none`.
    pub compression: String,
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
            compression: "gzip".into(),
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

/// tonic's TLS settings from a client `tls` block: our verifier (CA file or system roots,
/// `insecure_skip_verify`, `server_name_override`, `min_version: "1.3"`), the client certificate
/// (mTLS) and the server name. tonic offers TLS 1.2 and 1.3, so `max_version: "1.2"` is refused.
fn tls_config(
    path: &str,
    cfg: &TlsClientConfig,
    errors: &mut Vec<ConfigError>,
) -> Option<(ClientTlsConfig, Arc<tls::Verifier>)> {
    if cfg.max_version.as_deref() == Some("1.2") {
        errors.push(not_supported(
            path,
            "tls.max_version: \"1.2\" (with the gRPC exporter)",
        ));
    }
    let parts = match tls::client_parts(cfg, &format!("{path}.tls")) {
        Ok(p) => p,
        Err(e) => {
            errors.extend(e.0);
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

/// Validates the config and prepares the (not yet connected) endpoint.
fn endpoint(path: &str, cfg: &OtlpConfig, errors: &mut Vec<ConfigError>) -> Option<Endpoint> {
    if cfg.endpoint.is_empty() {
        errors.push(ConfigError::new(
            format!("{path}.endpoint"),
            "requires a non-empty \"endpoint\"",
        ));
        return None;
    }
    let (uri, use_tls) = dial_uri(&cfg.endpoint, cfg.tls.insecure);
    let ep = match Endpoint::from_shared(uri) {
        Ok(e) => e,
        Err(e) => {
            errors.push(ConfigError::new(
                format!("{path}.endpoint"),
                format!("invalid endpoint {:?}: {e}", cfg.endpoint),
            ));
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
    if let Some(a) = &cfg.authority {
        match format!("https://{a}").parse() {
            Ok(u) => ep = ep.origin(u),
            Err(_) => errors.push(ConfigError::new(
                format!("{path}.authority"),
                "invalid authority",
            )),
        }
    }
    if use_tls {
        let (tls, verifier) = tls_config(path, &cfg.tls, errors)?;
        match ep.clone().tls_config_with_verifier(tls, verifier) {
            Ok(e) => ep = e,
            Err(e) => errors.push(ConfigError::new(format!("{path}.tls"), e.to_string())),
        }
    }
    Some(ep)
}

/// The exporter.
pub struct OtlpExporter {
    id: String,
    endpoint: Endpoint,
    compression: Compression,
    headers: http::HeaderMap,
    auth: ClientAuth,
    client: OnceLock<tonic::client::Grpc<Channel>>,
}

impl OtlpExporter {
    /// The gRPC client, created on first use (inside the runtime); it connects lazily.
    fn client(&self) -> tonic::client::Grpc<Channel> {
        self.client
            .get_or_init(|| {
                let mut g = tonic::client::Grpc::new(self.endpoint.connect_lazy())
                    .accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd)
                    .max_decoding_message_size(64 << 20);
                match self.compression {
                    Compression::Gzip => g = g.send_compressed(CompressionEncoding::Gzip),
                    Compression::Zstd => g = g.send_compressed(CompressionEncoding::Zstd),
                    Compression::None | Compression::Snappy => {}
                }
                g
            })
            .clone()
    }
}

/// An error status from the server (or from the transport, as tonic reports it).
fn classify(status: &tonic::Status) -> ExportError {
    ExportError::from_grpc(
        status.code() as i32,
        format!(
            "rpc error: code = {:?} desc = {}",
            status.code(),
            status.message()
        ),
        retry_info_delay(status.details()),
    )
}

fn method(signal: Signal) -> PathAndQuery {
    PathAndQuery::from_static(match signal {
        Signal::Traces => TRACES_PATH,
        Signal::Metrics => METRICS_PATH,
        Signal::Logs => LOGS_PATH,
    })
}

#[async_trait::async_trait]
impl Exporter for OtlpExporter {
    async fn start(&self, ctx: &ExporterStartContext) -> Result<(), StartError> {
        self.auth.resolve(&ctx.extensions)?;
        self.client();
        Ok(())
    }

    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        let mut grpc = self.client();
        grpc.ready()
            .await
            .map_err(|e| ExportError::retryable(format!("connection not ready: {e}")))?;
        let mut headers = self.headers.clone();
        self.auth.apply(&mut headers)?;
        let mut req = tonic::Request::new(batch.encoded());
        *req.metadata_mut() = MetadataMap::from_headers(headers);
        match grpc.unary(req, method(batch.signal()), BytesCodec).await {
            Ok(resp) => {
                let body: Bytes = resp.into_inner();
                if let Some((rejected, msg)) = partial_success(batch.signal(), &body) {
                    log_partial_success(&self.id, batch.signal(), rejected, &msg);
                }
                Ok(())
            }
            Err(status) => Err(classify(&status)),
        }
    }
}

/// Factory of `otlp` (alias `otlp_grpc`).
pub struct OtlpExporterFactory;

impl ExporterFactory for OtlpExporterFactory {
    fn info(&self) -> FactoryInfo {
        FactoryInfo {
            type_name: "otlp",
            aliases: &["otlp_grpc"],
            signals: &[Signal::Traces, Signal::Metrics, Signal::Logs],
            stability: Stability::Stable,
            description: "Sends OTLP over gRPC",
        }
    }

    fn create(&self, ctx: &CreateContext, config: &Value) -> Result<ExporterParts, ConfigErrors> {
        let path = &ctx.path;
        let cfg: OtlpConfig = decode(path, config)?;
        let mut errors = vec![];
        let compression = Compression::parse(
            path,
            &cfg.compression,
            &[Compression::None, Compression::Gzip, Compression::Zstd],
        )
        .unwrap_or_else(|e| {
            errors.push(e);
            Compression::None
        });
        let headers = parse_headers(path, &cfg.headers, &mut errors);
        let settings = push_settings(
            path,
            cfg.timeout,
            &cfg.retry_on_failure,
            &cfg.sending_queue,
            &mut errors,
        );
        let endpoint = endpoint(path, &cfg, &mut errors);
        match endpoint {
            Some(endpoint) if errors.is_empty() => Ok(ExporterParts {
                exporter: Arc::new(OtlpExporter {
                    id: ctx.id.to_string(),
                    endpoint,
                    compression,
                    headers: headers.into_iter().collect(),
                    auth: ClientAuth::new(&cfg.auth),
                    client: OnceLock::new(),
                }),
                settings,
            }),
            _ => Err(ConfigErrors(errors)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests;
