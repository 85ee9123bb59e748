//! `otlphttp` exporter (also `otlp_http`): POSTs batches to an OTLP/HTTP backend as otelcol's,
//! at `<endpoint>/v1/traces` (`/v1/metrics`, `/v1/logs`, and `/v1development/profiles` for
//! profiles, behind the `service.profilesSupport` feature gate) unless a per-signal URL is given.
//! Protobuf bodies are the batch's bytes as they are; `encoding: json` sends OTLP/JSON.
//! Bodies are gzip-compressed by default. 429/502/503/504 are retried (429 and 503 honour
//! `Retry-After`, in seconds or as an HTTP date); every other non-2xx is permanent, with the
//! server's `google.rpc.Status` message in the error.
//!
//! ```yaml
//! exporters:
//!   otlphttp:
//!     endpoint: https://otlp.example.com:4318
//!     # traces_endpoint: https://traces.example.com/v1/traces
//!     # profiles_endpoint: https://profiles.example.com/v1development/profiles
//!     headers: { x-scope-orgid: tenant-a }
//!     auth: { authenticator: bearertokenauth }   # or basicauth/client
//!     tls: { ca_file: /certs/ca.pem }   # also cert_file/key_file, insecure_skip_verify, min_version
//!     compression: gzip          # gzip | zstd | snappy | none
//!     encoding: proto            # proto | json
//!     timeout: 30s
//!     retry_on_failure: { enabled: true }
//!     sending_queue: { enabled: true }
//! ```

pub use crate::shared::{AuthSettings, Compression};

use crate::shared::{
    check_compression, header_map, header_problem, http_client_builder, log_partial_success,
    partial_success, partial_success_json, read_limited, ClientAuth,
};
use bytes::Bytes;
use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{
    ConfigError, ConfigErrors, Findings, GoDuration, QueueConfig, RetryConfig, TlsClientConfig,
    Validate, Validator, Value,
};
use ferrotel_core::{
    Batch, CreateContext, Data, ExportError, Exporter, ExporterParts, ExporterSettings,
    ExporterStartContext, Factory, FactoryInfo, Signal, Stability, StartError,
};
use ferrotel_transport::http::{parse_retry_after, CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF};
use ferrotel_transport::status::RpcStatus;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::HeaderMap;
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

/// `exporters.otlphttp`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpConfig {
    /// Base URL; `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended.
    pub endpoint: String,
    /// Full URL for traces, instead of `<endpoint>/v1/traces`.
    pub traces_endpoint: Option<String>,
    /// Full URL for metrics, instead of `<endpoint>/v1/metrics`.
    pub metrics_endpoint: Option<String>,
    /// Full URL for logs, instead of `<endpoint>/v1/logs`.
    pub logs_endpoint: Option<String>,
    /// Full URL for profiles, instead of `<endpoint>/v1development/profiles`.
    pub profiles_endpoint: Option<String>,
    /// Client TLS for `https://` URLs.
    pub tls: TlsClientConfig,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// `gzip` (default), `zstd`, `snappy` or `none`.
    pub compression: Choice<Compression>,
    /// `proto` (default) or `json`.
    pub encoding: Choice<Encoding>,
    /// Per-attempt timeout.
    pub timeout: GoDuration,
    /// exporterhelper retry settings.
    pub retry_on_failure: RetryConfig,
    /// exporterhelper queue settings.
    pub sending_queue: QueueConfig,
    /// Idle connections kept per host.
    pub max_idle_conns_per_host: Option<usize>,
    /// How long an idle connection is kept.
    pub idle_conn_timeout: Option<GoDuration>,
    /// A proxy for all requests (`http://proxy:3128`).
    pub proxy_url: Option<String>,
    /// Accepted for compatibility, not used: buffer and pool sizes, HTTP/2 tuning.
    pub read_buffer_size: Option<Value>,
    /// Accepted for compatibility, not used.
    pub write_buffer_size: Option<Value>,
    /// Accepted for compatibility, not used.
    pub max_idle_conns: Option<Value>,
    /// Accepted for compatibility, not used.
    pub max_conns_per_host: Option<Value>,
    /// Accepted for compatibility, not used.
    pub disable_keep_alives: Option<bool>,
    /// Accepted for compatibility, not used.
    pub http2_read_idle_timeout: Option<GoDuration>,
    /// Accepted for compatibility, not used.
    pub http2_ping_timeout: Option<GoDuration>,
    /// Accepted for compatibility, not used.
    pub force_attempt_http2: Option<bool>,
    /// Accepted for compatibility, not used.
    pub compression_params: Option<Value>,
    /// A client authenticator extension that adds its headers to every request.
    pub auth: Option<AuthSettings>,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: String::new(),
            traces_endpoint: None,
            metrics_endpoint: None,
            logs_endpoint: None,
            profiles_endpoint: None,
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            compression: Choice::Known(Compression::Gzip),
            encoding: Choice::Known(Encoding::Proto),
            timeout: GoDuration::from_secs(30),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            max_idle_conns_per_host: None,
            idle_conn_timeout: None,
            proxy_url: None,
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            max_conns_per_host: None,
            disable_keep_alives: None,
            http2_read_idle_timeout: None,
            http2_ping_timeout: None,
            force_attempt_http2: None,
            compression_params: None,
            auth: None,
        }
    }
}

/// The compressions the HTTP exporter sends.
const COMPRESSIONS: &[Compression] = &[
    Compression::None,
    Compression::Gzip,
    Compression::Zstd,
    Compression::Snappy,
];

/// What `endpoint` gets appended for profiles (otelcol's `v1development`).
pub const PROFILES_PATH: &str = "/v1development/profiles";

/// The per-signal URL settings, in `Signal as usize` order: (override, its key, the path
/// appended to `endpoint`).
fn url_settings(cfg: &OtlpHttpConfig) -> [(&Option<String>, &'static str, &'static str); 4] {
    [
        (&cfg.traces_endpoint, "traces_endpoint", "/v1/traces"),
        (&cfg.metrics_endpoint, "metrics_endpoint", "/v1/metrics"),
        (&cfg.logs_endpoint, "logs_endpoint", "/v1/logs"),
        (&cfg.profiles_endpoint, "profiles_endpoint", PROFILES_PATH),
    ]
}

impl Validate for OtlpHttpConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        check_compression(v, &self.compression, COMPRESSIONS);
        if let Some(other) = self.encoding.unknown() {
            v.report_at(
                "encoding",
                format!("invalid encoding {other:?}: must be proto or json"),
            );
        }
        // Headers that are not HTTP headers are accepted, as otelcol does; every export then
        // fails (see `OtlpHttpExporter::export`).
        v.check("retry_on_failure", &self.retry_on_failure);
        v.check("sending_queue", &self.sending_queue);
        let mut any_url = false;
        for (over, key, suffix) in url_settings(self) {
            if let Some((at, url)) = signal_url(&self.endpoint, over, key, suffix) {
                any_url = true;
                if let Err(problem) = url {
                    v.report_at(at, problem);
                }
            }
        }
        if let Some(p) = &self.proxy_url {
            if let Err(e) = reqwest::Proxy::all(p) {
                v.report_at("proxy_url", e.to_string());
            }
        }
        v.check("tls", &self.tls);
        v.check("auth", &self.auth);
        if !any_url && !v.has_errors() {
            v.report_at("endpoint", "at least one endpoint must be specified");
        }
    }
}

/// The body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Proto,
    Json,
}

impl Choices for Encoding {}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Proto => CONTENT_TYPE_PROTOBUF,
            Encoding::Json => CONTENT_TYPE_JSON,
        }
    }
}

/// The exporter.
pub struct OtlpHttpExporter {
    id: String,
    /// The settings the client is built from (at start or first use: it reads the TLS files).
    cfg: OtlpHttpConfig,
    client: std::sync::OnceLock<reqwest::Client>,
    /// Per signal (in `Signal as usize` order); None when neither endpoint nor override is set.
    urls: [Option<reqwest::Url>; 4],
    headers: HeaderMap,
    /// A configured header that is not an HTTP header: every export fails with it.
    bad_header: Option<String>,
    auth: ClientAuth,
    compression: Compression,
    encoding: Encoding,
}

/// Error bodies beyond this are not read.
const MAX_ERROR_BODY: usize = 64 * 1024;

fn compress(c: Compression, body: Bytes) -> std::io::Result<Bytes> {
    Ok(match c {
        Compression::None => body,
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::default(),
            );
            e.write_all(&body)?;
            Bytes::from(e.finish()?)
        }
        Compression::Zstd => Bytes::from(zstd::bulk::compress(&body, 0)?),
        Compression::Snappy => Bytes::from(
            snap::raw::Encoder::new()
                .compress_vec(&body)
                .map_err(std::io::Error::other)?,
        ),
    })
}

/// The message of an error response: the `google.rpc.Status` message (protobuf or JSON body),
/// else the body text.
fn error_message(content_type: Option<&str>, body: &[u8]) -> String {
    let ct = content_type.unwrap_or("");
    if ct.starts_with(CONTENT_TYPE_PROTOBUF) {
        if let Ok(s) = RpcStatus::decode(body) {
            return s.message;
        }
    }
    if ct.starts_with(CONTENT_TYPE_JSON) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
                return m.to_string();
            }
        }
    }
    String::from_utf8_lossy(body).trim().to_string()
}

impl OtlpHttpExporter {
    /// The HTTP client, built on first use; problems name their key (`tls.ca_file: ...`).
    fn client(&self) -> Result<reqwest::Client, ConfigErrors> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let mut findings = Findings::default();
        let built = client(&mut Validator::new("", &mut findings), &self.cfg);
        findings.into_result()?;
        let built =
            built.ok_or_else(|| ConfigErrors::from(ConfigError::new("tls", "cannot be used")))?;
        Ok(self.client.get_or_init(|| built).clone())
    }

    fn body(&self, batch: &Batch) -> Result<Bytes, ExportError> {
        let raw = match self.encoding {
            Encoding::Proto => batch.encoded(),
            Encoding::Json => {
                let data = batch
                    .view()
                    .map_err(|e| ExportError::permanent(e.to_string()))?;
                let json = match data {
                    Data::Traces(r) => serde_json::to_vec(r),
                    Data::Metrics(r) => serde_json::to_vec(r),
                    Data::Logs(r) => serde_json::to_vec(r),
                    Data::Profiles(r) => serde_json::to_vec(r),
                };
                Bytes::from(json.map_err(|e| ExportError::permanent(e.to_string()))?)
            }
        };
        compress(self.compression, raw)
            .map_err(|e| ExportError::permanent(format!("failed to compress the request: {e}")))
    }
}

#[async_trait::async_trait]
impl Exporter for OtlpHttpExporter {
    async fn start(&self, ctx: &ExporterStartContext) -> Result<(), StartError> {
        if let Some(problem) = &self.bad_header {
            tracing::warn!(
                "exporters.{}.headers: {problem}; every export will fail",
                self.id
            );
        }
        self.client()?;
        self.auth.resolve(&ctx.extensions)
    }

    fn accepts(&self, signal: Signal) -> Result<(), String> {
        match self.urls[signal as usize] {
            Some(_) => Ok(()),
            None => Err(format!(
                "either endpoint or {signal}_endpoint must be specified"
            )),
        }
    }

    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        if let Some(problem) = &self.bad_header {
            return Err(ExportError::permanent(problem.clone()));
        }
        let signal = batch.signal();
        let Some(url) = &self.urls[signal as usize] else {
            return Err(ExportError::permanent(format!(
                "no endpoint configured for {signal}"
            )));
        };
        let body = self.body(&batch)?;
        let mut headers = self.headers.clone();
        self.auth.apply(&mut headers)?;
        let mut req = self
            .client()
            .map_err(|e| ExportError::permanent(StartError::from(e).0))?
            .post(url.clone())
            .headers(headers)
            .header(CONTENT_TYPE, self.encoding.content_type());
        if let Some(enc) = self.compression.name() {
            req = req.header(CONTENT_ENCODING, enc);
        }
        let resp =
            req.body(body).send().await.map_err(|e| {
                ExportError::retryable(format!("failed to make an HTTP request: {e}"))
            })?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if (200..300).contains(&status) {
            let body = read_limited(resp, 16 << 20).await;
            let partial = match content_type.as_deref() {
                Some(ct) if ct.starts_with(CONTENT_TYPE_JSON) => {
                    partial_success_json(signal, &body)
                }
                _ => partial_success(signal, &body),
            };
            if let Some((rejected, msg)) = partial {
                log_partial_success(&self.id, signal, rejected, &msg);
            }
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = read_limited(resp, MAX_ERROR_BODY).await;
        let msg = error_message(content_type.as_deref(), &body);
        let mut text = format!(
            "error exporting items, request to {url} responded with HTTP Status Code {status}"
        );
        if !msg.is_empty() {
            text.push_str(&format!(", Message={msg}"));
        }
        Err(ExportError::from_http(status, text, retry_after))
    }
}

/// The URL of one signal and the key that sets it (`traces_endpoint`, else `endpoint`), or
/// what is wrong with it; None when neither is set.
fn signal_url(
    base: &str,
    over: &Option<String>,
    key: &'static str,
    suffix: &str,
) -> Option<(&'static str, Result<reqwest::Url, String>)> {
    let (s, at) = match over {
        Some(u) => (u.clone(), key),
        None if base.is_empty() => return None,
        None => (
            format!("{}{suffix}", base.trim_end_matches('/')),
            "endpoint",
        ),
    };
    let url = match reqwest::Url::parse(&s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        Ok(_) | Err(_) => Err(format!("invalid URL {s:?}: must be http:// or https://")),
    };
    Some((at, url))
}

/// The HTTP client of a validated config (the one `v` is at); reads the TLS files (at start).
fn client(v: &mut Validator<'_>, cfg: &OtlpHttpConfig) -> Option<reqwest::Client> {
    let mut b = http_client_builder(v, &cfg.tls);
    if let Some(n) = cfg.max_idle_conns_per_host {
        b = b.pool_max_idle_per_host(n);
    }
    if let Some(t) = cfg.idle_conn_timeout {
        b = b.pool_idle_timeout(t.0);
    }
    if let Some(p) = &cfg.proxy_url {
        match reqwest::Proxy::all(p) {
            Ok(p) => b = b.proxy(p),
            Err(e) => v.report_at("proxy_url", e.to_string()),
        }
    }
    match b.build() {
        Ok(c) => Some(c),
        Err(e) => {
            v.report_at("tls", e.to_string());
            None
        }
    }
}

impl OtlpHttpExporter {
    /// The exporter of a validated config (the one `v` is at).
    fn new(_v: &mut Validator<'_>, id: String, cfg: &OtlpHttpConfig) -> Option<Self> {
        let urls = url_settings(cfg).map(|(over, key, suffix)| {
            signal_url(&cfg.endpoint, over, key, suffix).and_then(|(_, url)| url.ok())
        });
        Some(OtlpHttpExporter {
            id,
            cfg: cfg.clone(),
            client: std::sync::OnceLock::new(),
            urls,
            headers: header_map(&cfg.headers),
            bad_header: header_problem(&cfg.headers),
            auth: ClientAuth::new(&cfg.auth),
            compression: cfg.compression.known().unwrap_or(Compression::None),
            encoding: cfg.encoding.known().unwrap_or(Encoding::Proto),
        })
    }
}

/// Factory of `otlphttp` (alias `otlp_http`).
pub struct OtlpHttpExporterFactory;

impl Factory for OtlpHttpExporterFactory {
    type Config = OtlpHttpConfig;
    type Component = ExporterParts;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("otlp_http", "Sends OTLP over HTTP (protobuf or JSON)")
            .aliases(&["otlphttp"])
            .all_signals(Stability::Stable)
            .signal(Signal::Profiles, Stability::Alpha)
            .example("endpoint: http://127.0.0.1:4318")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: OtlpHttpConfig,
    ) -> Result<ExporterParts, ConfigErrors> {
        let exporter =
            crate::shared::build(ctx, |v| OtlpHttpExporter::new(v, ctx.id.to_string(), &cfg))?;
        Ok(ExporterParts {
            exporter: Arc::new(exporter),
            settings: ExporterSettings {
                timeout: cfg.timeout,
                retry: cfg.retry_on_failure.clone(),
                queue: cfg.sending_queue.clone(),
            },
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
