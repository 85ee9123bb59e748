//! `jaeger` exporter (alias `jaeger_thrift`, otelcol-contrib's removed Thrift-over-HTTP
//! exporter): sends traces to Jaeger in Thrift, translated as otelcol-contrib's
//! `pkg/translator/jaeger` does (one Jaeger batch per resource; service name, kind, status,
//! scope, events and links mapped to Jaeger's process, tags, logs and references). The endpoint
//! picks the transport: a URL (`http://jaeger:14268/api/traces`) POSTs each batch to the
//! collector in the Thrift binary protocol (`Content-Type: application/x-thrift`); a bare
//! `host:port` (`jaeger-agent:6831`) sends `emitBatch` messages in the Thrift compact protocol
//! to the agent over UDP, as many spans per datagram as fit in `max_packet_size`. HTTP 429 and
//! 503 (honouring `Retry-After`), 502 and 504, connection failures and UDP send failures are
//! retried; other HTTP statuses are permanent, as for `otlphttp`. A span too large for a
//! datagram even alone is dropped and reported as a permanent error.
//! Jaeger (1.35+) also accepts OTLP directly, with the `otlp` exporter at `jaeger:4317`.
//!
//! ```yaml
//! exporters:
//!   jaeger:
//!     endpoint: http://jaeger:14268/api/traces   # or jaeger-agent:6831 for UDP
//!     timeout: 5s
//!     headers: { authorization: "Bearer ${env:TOKEN}" }   # HTTP only
//!     # max_packet_size: 65000                           # UDP only
//!     retry_on_failure: { enabled: true }
//!     sending_queue: { enabled: true }
//! ```

mod translate;

pub use encode::{Datagrams, EncodeError};
use ferrotel_transport::jaeger::encode;

use crate::shared::{check_headers, header_map, http_client_builder, read_limited};
use ferrotel_config::{
    ConfigErrors, GoDuration, QueueConfig, RetryConfig, TlsClientConfig, Validate, Validator,
};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::{
    Batch, CreateContext, Data, ExportError, Exporter, ExporterParts, ExporterSettings, Factory,
    FactoryInfo, Signal, Stability,
};
use ferrotel_transport::http::parse_retry_after;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::UdpSocket;

/// `exporters.jaeger`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JaegerConfig {
    /// `http(s)://host:port/path` of a Jaeger collector (Thrift over HTTP, usually port 14268
    /// and `/api/traces`), or `host:port` of a Jaeger agent (Thrift compact over UDP, usually
    /// port 6831).
    pub endpoint: String,
    /// Per-attempt timeout.
    pub timeout: GoDuration,
    /// Extra HTTP request headers (HTTP endpoints only).
    pub headers: BTreeMap<String, String>,
    /// Client TLS for `https://` endpoints.
    pub tls: TlsClientConfig,
    /// Largest UDP datagram sent to an agent, in bytes (UDP endpoints only).
    pub max_packet_size: usize,
    /// exporterhelper retry settings.
    pub retry_on_failure: RetryConfig,
    /// exporterhelper queue settings.
    pub sending_queue: QueueConfig,
    /// gRPC load-balancing policy of otelcol-contrib's gRPC `jaeger` exporter (accepted for
    /// compatibility; ferrotel's transports are HTTP and UDP).
    pub balancer_name: Option<String>,
}

/// Jaeger agents read datagrams of up to 65000 bytes by default.
const DEFAULT_MAX_PACKET_SIZE: usize = 65000;
/// The largest UDP payload over IPv4.
const MAX_UDP_PAYLOAD: usize = 65507;
/// Error bodies beyond this are not read.
const MAX_ERROR_BODY: usize = 4096;

impl Default for JaegerConfig {
    fn default() -> Self {
        JaegerConfig {
            endpoint: String::new(),
            timeout: GoDuration::from_secs(5),
            headers: BTreeMap::new(),
            tls: TlsClientConfig::default(),
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            balancer_name: None,
        }
    }
}

impl Validate for JaegerConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if !(1..=MAX_UDP_PAYLOAD).contains(&self.max_packet_size) {
            v.report_at(
                "max_packet_size",
                format!("must be between 1 and {MAX_UDP_PAYLOAD}"),
            );
        }
        v.check("retry_on_failure", &self.retry_on_failure);
        v.check("sending_queue", &self.sending_queue);
        match collector_url(&self.endpoint) {
            Err(problem) => v.report_at("endpoint", problem),
            Ok(Some(_)) => check_headers(&mut v.at("headers"), &self.headers),
            Ok(None) => {
                if !self.headers.is_empty() {
                    v.report_at("headers", "headers apply to HTTP endpoints only");
                }
                if self.tls != TlsClientConfig::default() {
                    v.report_at("tls", "tls applies to https:// endpoints only");
                }
            }
        }
        v.check("tls", &self.tls);
    }
}

/// The collector URL of an `endpoint`, None for an agent's `host:port`, or what is wrong with
/// it.
fn collector_url(endpoint: &str) -> Result<Option<reqwest::Url>, String> {
    if endpoint.is_empty() {
        return Err("\"endpoint\" must be specified".to_string());
    }
    if endpoint.contains("://") {
        return match reqwest::Url::parse(endpoint) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(u)),
            Ok(_) | Err(_) => Err(format!(
                "invalid URL {endpoint:?}: must be http:// or https://, or host:port for UDP"
            )),
        };
    }
    if !valid_host_port(endpoint) {
        return Err(format!(
            "invalid endpoint {endpoint:?}: must be a URL (http://host:14268/api/traces) or host:port (UDP)"
        ));
    }
    Ok(None)
}

/// otelcol-contrib's `jaeger_thrift` check of `endpoint` (Go's `url.ParseRequestURI`): an
/// absolute path, or something with a scheme; `jaeger-agent:6831` passes (`jaeger-agent` is
/// read as a scheme), `.example:123` does not.
fn request_uri_problem(endpoint: &str) -> Option<String> {
    let refuse = |why: &str| Some(format!("invalid \"endpoint\": parse {endpoint:?}: {why}"));
    if endpoint.is_empty() {
        return refuse("empty url");
    }
    if endpoint.starts_with('/') {
        return None;
    }
    for (i, c) in endpoint.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return refuse("missing protocol scheme"),
            ':' => return None,
            _ => break,
        }
    }
    refuse("invalid URI for request")
}

/// The Thrift binary `jaeger.Batch` bodies of a request, one per ResourceSpans (resources
/// without attributes and without ScopeSpans are skipped), as POSTed to a collector.
pub fn encode_http_bodies(req: &ExportTraceServiceRequest) -> Result<Vec<Vec<u8>>, EncodeError> {
    req.resource_spans
        .iter()
        .filter_map(translate::batch)
        .map(|b| encode::binary_batch(&b))
        .collect()
}

/// The compact `Agent.emitBatch` datagrams of a request, sequence numbers counting from 0.
pub fn encode_agent_datagrams(
    req: &ExportTraceServiceRequest,
    max_packet_size: usize,
) -> Result<Datagrams, EncodeError> {
    let mut seq: i32 = 0;
    agent_datagrams(req, max_packet_size, || {
        let s = seq;
        seq = seq.wrapping_add(1);
        s
    })
}

fn agent_datagrams(
    req: &ExportTraceServiceRequest,
    max_packet_size: usize,
    mut seq: impl FnMut() -> i32,
) -> Result<Datagrams, EncodeError> {
    let mut all = Datagrams::default();
    for b in req.resource_spans.iter().filter_map(translate::batch) {
        let d = encode::agent_datagrams(&b, max_packet_size, &mut seq)?;
        all.packets.extend(d.packets);
        all.dropped += d.dropped;
    }
    Ok(all)
}

/// The Jaeger collector's Thrift-over-HTTP endpoint.
struct HttpSender {
    url: reqwest::Url,
    client: reqwest::Client,
    headers: HeaderMap,
}

impl HttpSender {
    async fn post(&self, body: Vec<u8>) -> Result<(), ExportError> {
        let resp = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/x-thrift")
            .body(body)
            .send()
            .await
            .map_err(|e| ExportError::retryable(format!("failed to make an HTTP request: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = read_limited(resp, MAX_ERROR_BODY).await;
        let mut text = format!(
            "HTTP {} {:?} from {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            self.url
        );
        let msg = String::from_utf8_lossy(&body);
        if !msg.trim().is_empty() {
            text.push_str(&format!(": {}", msg.trim()));
        }
        Err(ExportError::from_http(status.as_u16(), text, retry_after))
    }
}

/// A Jaeger agent's UDP port.
struct UdpSender {
    endpoint: String,
    max_packet_size: usize,
    /// Resolved and connected on first use, dropped after a send error so the next attempt
    /// resolves the name again.
    socket: tokio::sync::Mutex<Option<Arc<UdpSocket>>>,
    seq: AtomicI32,
}

impl UdpSender {
    async fn socket(&self) -> std::io::Result<Arc<UdpSocket>> {
        let mut slot = self.socket.lock().await;
        if let Some(s) = &*slot {
            return Ok(s.clone());
        }
        let addr = tokio::net::lookup_host(&self.endpoint)
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other("no address found"))?;
        let local = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let s = UdpSocket::bind(local).await?;
        s.connect(addr).await?;
        let s = Arc::new(s);
        *slot = Some(s.clone());
        Ok(s)
    }

    async fn send(&self, packets: &[Vec<u8>]) -> std::io::Result<()> {
        let socket = self.socket().await?;
        for p in packets {
            if let Err(e) = socket.send(p).await {
                *self.socket.lock().await = None;
                return Err(e);
            }
        }
        Ok(())
    }
}

enum Transport {
    Http(HttpSender),
    Udp(UdpSender),
}

/// The exporter.
pub struct JaegerExporter {
    id: String,
    transport: Transport,
}

fn encode_error(e: EncodeError) -> ExportError {
    ExportError::permanent(e.to_string())
}

#[async_trait::async_trait]
impl Exporter for JaegerExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        let req = match batch.view() {
            Ok(Data::Traces(req)) => req,
            Ok(other) => {
                return Err(ExportError::permanent(format!(
                    "the jaeger exporter does not support {}",
                    other.signal()
                )))
            }
            Err(e) => return Err(ExportError::permanent(e.to_string())),
        };
        match &self.transport {
            Transport::Http(h) => {
                for body in encode_http_bodies(req).map_err(encode_error)? {
                    h.post(body).await?;
                }
                Ok(())
            }
            Transport::Udp(u) => {
                let d = agent_datagrams(req, u.max_packet_size, || {
                    u.seq.fetch_add(1, Ordering::Relaxed)
                })
                .map_err(encode_error)?;
                u.send(&d.packets).await.map_err(|e| {
                    ExportError::retryable(format!(
                        "failed to send to the Jaeger agent at {}: {e}",
                        u.endpoint
                    ))
                })?;
                if d.dropped == 0 {
                    return Ok(());
                }
                let msg = format!(
                    "{} span(s) dropped: larger than max_packet_size ({} bytes) even alone in a datagram",
                    d.dropped, u.max_packet_size
                );
                tracing::warn!(otelcol.component.id = %self.id, dropped_spans = d.dropped, "{msg}");
                Err(ExportError::permanent(msg))
            }
        }
    }
}

/// Checks a UDP `host:port` endpoint.
fn valid_host_port(endpoint: &str) -> bool {
    match endpoint.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok_and(|p| p != 0)
        }
        None => false,
    }
}

/// The transport of a validated config (the one `v` is at); reads the TLS files.
fn transport(v: &mut Validator<'_>, cfg: &JaegerConfig) -> Option<Transport> {
    let url = match collector_url(&cfg.endpoint) {
        Ok(url) => url,
        Err(problem) => {
            v.report_at("endpoint", problem);
            return None;
        }
    };
    let Some(url) = url else {
        return Some(Transport::Udp(UdpSender {
            endpoint: cfg.endpoint.clone(),
            max_packet_size: cfg.max_packet_size,
            socket: tokio::sync::Mutex::new(None),
            seq: AtomicI32::new(0),
        }));
    };
    let client = match http_client_builder(v, &cfg.tls).build() {
        Ok(c) => c,
        Err(e) => {
            v.report_at("tls", e.to_string());
            return None;
        }
    };
    Some(Transport::Http(HttpSender {
        url,
        client,
        headers: header_map(&cfg.headers),
    }))
}

/// Factory of `jaeger` (alias `jaeger_thrift`).
pub struct JaegerExporterFactory;

impl Factory for JaegerExporterFactory {
    type Config = JaegerConfig;
    type Component = ExporterParts;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "jaeger",
            "Sends traces to Jaeger in Thrift (collector over HTTP, agent over UDP)",
        )
        .aliases(&["jaeger_thrift"])
        .signal(Signal::Traces, Stability::Beta)
        .example("endpoint: http://127.0.0.1:14268/api/traces")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: JaegerConfig,
    ) -> Result<ExporterParts, ConfigErrors> {
        if ctx.id.type_name == "jaeger_thrift" {
            if let Some(problem) = request_uri_problem(&cfg.endpoint) {
                return Err(ctx.error_at("endpoint", problem));
            }
        }
        let transport = crate::shared::build(ctx, |v| transport(v, &cfg))?;
        Ok(ExporterParts {
            exporter: Arc::new(JaegerExporter {
                id: ctx.id.to_string(),
                transport,
            }),
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
