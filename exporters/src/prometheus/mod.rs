//! `prometheus` exporter (pull): keeps the latest value of every series it receives, with
//! otelcol's accumulator rules (delta counters and histograms are accumulated into cumulatives,
//! delta up-down counters and unspecified temporalities are dropped, series not updated for
//! `metric_expiration` disappear), and serves them at `GET /metrics` in the Prometheus text
//! format 0.0.4, or OpenMetrics 1.0.0 when `enable_open_metrics` is set and the scraper asks
//! for it. Names follow otelcol's translator (unit suffixes, `_total`, `_ratio`), resources
//! become `job`/`instance` labels and `target_info`, scopes become `otel_scope_*` labels.
//! When `endpoint` is the collector's own telemetry address (`service.telemetry.metrics`,
//! often both `:8888`), no second listener is opened: the series are appended to the
//! self-metrics page. Exponential histograms are exposed as in the text formats of otelcol's
//! current version (a native histogram's `+Inf` bucket, `_sum` and `_count`; ferrotel does not
//! serve the protobuf format).
//!
//! ```yaml
//! exporters:
//!   prometheus:
//!     endpoint: "0.0.0.0:8889"
//!     namespace: myapp
//!     const_labels: { env: prod }
//!     send_timestamps: false
//!     metric_expiration: 5m
//!     resource_to_telemetry_conversion: { enabled: false }
//!     enable_open_metrics: false
//!     add_metric_suffixes: true
//! ```

mod accumulator;
mod exposition;
mod naming;

use crate::shared::not_supported;
use accumulator::{Accumulator, Options};
use bytes::Bytes;
use exposition::{declared_families, render, Format, RenderOptions};
use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{decode_valid, ConfigErrors, GoDuration, QueueConfig, RetryConfig};
use ferrotel_config::{TlsServerConfig, Validate, Validator, Value};
use ferrotel_core::{
    Batch, CreateContext, Data, ExportError, Exporter, ExporterParts, ExporterSettings,
    ExporterStartContext, Factory, FactoryInfo, Signal, Stability, StartError, Telemetry,
};
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `resource_to_telemetry_conversion`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceToTelemetryConfig {
    /// Turn every resource attribute into a label of every series.
    pub enabled: bool,
    /// With `enabled`, leave out `service.name`, `service.namespace` and `service.instance.id`.
    pub exclude_service_attributes: bool,
}

/// `exporters.prometheus`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// `host:port` serving `GET /metrics` (required; `:8889` means every interface).
    pub endpoint: String,
    /// Prefix of every metric name (`<namespace>_`).
    pub namespace: String,
    /// Labels added to every series.
    pub const_labels: BTreeMap<String, String>,
    /// Expose each point's timestamp.
    pub send_timestamps: bool,
    /// A series not updated for this long disappears (default 5m).
    pub metric_expiration: GoDuration,
    /// Resource attributes as labels.
    pub resource_to_telemetry_conversion: ResourceToTelemetryConfig,
    /// Serve OpenMetrics (with exemplars) to scrapers that ask for it.
    pub enable_open_metrics: bool,
    /// Unit suffixes, `_total` and `_ratio` (default true).
    pub add_metric_suffixes: bool,
    /// Newer form of `add_metric_suffixes`: `UnderscoreEscapingWithSuffixes` or
    /// `UnderscoreEscapingWithoutSuffixes` (the UTF-8 strategies are not supported).
    pub translation_strategy: Option<Choice<TranslationStrategy>>,
    /// Leave out the `otel_scope_*` labels.
    pub without_scope_info: bool,
    /// Server TLS: not supported by ferrotel yet (refused when a certificate is set).
    pub tls: TlsServerConfig,
    /// HTTP server authentication: not supported (refused when set).
    pub auth: Option<Value>,
    /// CORS of otelcol's HTTP server settings: accepted for compatibility, not used.
    pub cors: Option<Value>,
    /// Accepted for compatibility, not used.
    pub include_metadata: Option<bool>,
    /// Accepted for compatibility, not used (scrapes have no body).
    pub max_request_body_size: Option<Value>,
    /// Accepted for compatibility, not used.
    pub read_timeout: Option<Value>,
    /// Accepted for compatibility, not used.
    pub read_header_timeout: Option<Value>,
    /// Accepted for compatibility, not used.
    pub write_timeout: Option<Value>,
    /// Accepted for compatibility, not used.
    pub idle_timeout: Option<Value>,
    /// Accepted for compatibility, not used.
    pub response_headers: Option<Value>,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            endpoint: String::new(),
            namespace: String::new(),
            const_labels: BTreeMap::new(),
            send_timestamps: false,
            metric_expiration: GoDuration::from_secs(300),
            resource_to_telemetry_conversion: ResourceToTelemetryConfig::default(),
            enable_open_metrics: false,
            add_metric_suffixes: true,
            translation_strategy: None,
            without_scope_info: false,
            tls: TlsServerConfig::default(),
            auth: None,
            cors: None,
            include_metadata: None,
            max_request_body_size: None,
            read_timeout: None,
            read_header_timeout: None,
            write_timeout: None,
            idle_timeout: None,
            response_headers: None,
        }
    }
}

/// `translation_strategy`: how metric names are translated (otelcol's spellings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum TranslationStrategy {
    /// Names escaped to `[a-zA-Z0-9_:]`, with unit and type suffixes.
    UnderscoreEscapingWithSuffixes,
    /// Names escaped to `[a-zA-Z0-9_:]`, without suffixes.
    UnderscoreEscapingWithoutSuffixes,
    /// UTF-8 names with suffixes (not supported by ferrotel yet).
    #[serde(rename = "NoUTF8EscapingWithSuffixes")]
    NoUtf8EscapingWithSuffixes,
    /// UTF-8 names as they are (not supported by ferrotel yet).
    NoTranslation,
}

impl Choices for TranslationStrategy {}

impl Validate for PrometheusConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        // An empty endpoint is refused when the exporter is created (as otelcol), so an
        // exporter no pipeline uses may leave it out.
        if !self.endpoint.trim().is_empty() && normalize_endpoint(&self.endpoint).is_none() {
            v.report_at(
                "endpoint",
                format!("{:?} is not a valid host:port address", self.endpoint),
            );
        }
        v.check("tls", &self.tls);
        if self.auth.is_some() {
            v.report_at("auth", not_supported("auth"));
        }
        match &self.translation_strategy {
            None
            | Some(Choice::Known(
                TranslationStrategy::UnderscoreEscapingWithSuffixes
                | TranslationStrategy::UnderscoreEscapingWithoutSuffixes,
            )) => {}
            Some(Choice::Known(s)) => {
                let s = match s {
                    TranslationStrategy::NoTranslation => "NoTranslation",
                    _ => "NoUTF8EscapingWithSuffixes",
                };
                v.report_at(
                    "translation_strategy",
                    format!("{s:?} (UTF-8 names) is not supported yet by ferrotel"),
                );
            }
            Some(Choice::Unknown(s)) => v.report_at(
                "translation_strategy",
                format!("unknown translation strategy {s:?}, expected UnderscoreEscapingWithSuffixes, UnderscoreEscapingWithoutSuffixes, NoUTF8EscapingWithSuffixes or NoTranslation"),
            ),
        }
        if self
            .const_labels
            .keys()
            .any(|k| naming::label_name(k).is_none())
        {
            v.report_at("const_labels", "label names must not be empty");
        }
    }
}

/// `host` and `port` of an endpoint, with the wildcard and loopback spellings unified, so
/// `:8888` equals `0.0.0.0:8888` and `localhost:8888` equals `127.0.0.1:8888`.
fn normalize_endpoint(ep: &str) -> Option<(String, u16)> {
    let (host, port) = ep.trim().rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let host = match host.as_str() {
        "" | "0.0.0.0" => "0.0.0.0".to_string(),
        "localhost" => "127.0.0.1".to_string(),
        "::" => "::".to_string(),
        _ => host,
    };
    Some((host, port))
}

/// The address to bind (`:8889` binds every interface, as Go does).
fn bind_address(ep: &str) -> String {
    match ep.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => ep.to_string(),
    }
}

/// The accumulator options of a validated config.
fn options(cfg: &PrometheusConfig) -> Options {
    let add_metric_suffixes = match cfg.translation_strategy.as_ref().and_then(Choice::known) {
        Some(TranslationStrategy::UnderscoreEscapingWithoutSuffixes) => false,
        Some(_) => true,
        None => cfg.add_metric_suffixes,
    };
    let const_labels = cfg
        .const_labels
        .iter()
        .filter_map(|(k, v)| Some((naming::label_name(k)?, v.clone())))
        .collect();
    Options {
        namespace: cfg.namespace.clone(),
        const_labels,
        add_metric_suffixes,
        resource_to_labels: cfg.resource_to_telemetry_conversion.enabled,
        exclude_service_attributes: cfg
            .resource_to_telemetry_conversion
            .exclude_service_attributes,
        without_scope_info: cfg.without_scope_info,
        expiration: cfg.metric_expiration.0,
        exemplars: cfg.enable_open_metrics,
    }
}

/// The accumulator and how scrapes render it, shared by exports and the server.
struct Inner {
    acc: Mutex<Accumulator>,
    send_timestamps: bool,
    open_metrics: bool,
    /// Size of the last rendering, to allocate the next one at once.
    last_len: AtomicUsize,
    /// Whether a name collision with the self-metrics was already logged.
    warned_collision: AtomicBool,
}

impl Inner {
    /// Drops expired series and appends the exposition to `out`, leaving out families named
    /// in `skip`; returns the skipped names.
    fn render_into(&self, out: &mut String, format: Format, skip: &HashSet<String>) -> Vec<String> {
        let mut acc = self.acc.lock().unwrap_or_else(|e| e.into_inner());
        acc.expire(Instant::now());
        out.reserve(self.last_len.load(Ordering::Relaxed));
        let start = out.len();
        let skipped = render(
            &acc,
            out,
            RenderOptions {
                format,
                send_timestamps: self.send_timestamps,
            },
            skip,
        );
        self.last_len.store(out.len() - start, Ordering::Relaxed);
        skipped
    }

    /// The rendering appended to the self-metrics page: families the collector's own metrics
    /// already declare are left out, so the page stays valid (no family is declared twice).
    fn render_shared(&self, out: &mut String) {
        let declared = declared_families(out);
        let skipped = self.render_into(out, Format::Text, &declared);
        if !skipped.is_empty() && !self.warned_collision.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                families = ?skipped,
                "prometheus exporter: these metric names are also the collector's own metrics on the shared endpoint; only the collector's are exposed (use another endpoint or a namespace)"
            );
        }
    }
}

struct Server {
    stop: CancellationToken,
    task: JoinHandle<()>,
    addr: SocketAddr,
}

/// The exporter: `export` feeds the accumulator; scrapes read it.
pub struct PrometheusExporter {
    id: String,
    endpoint: String,
    /// Server TLS (`tls` with a certificate): its files are read at start.
    tls: Option<TlsServerConfig>,
    inner: Arc<Inner>,
    server: Mutex<Option<Server>>,
    shared: Mutex<Option<Telemetry>>,
}

impl PrometheusExporter {
    fn new(id: String, cfg: &PrometheusConfig, opts: Options) -> Self {
        PrometheusExporter {
            id,
            endpoint: cfg.endpoint.trim().to_string(),
            tls: cfg.tls.enabled().then(|| cfg.tls.clone()),
            inner: Arc::new(Inner {
                acc: Mutex::new(Accumulator::new(opts)),
                send_timestamps: cfg.send_timestamps,
                open_metrics: cfg.enable_open_metrics,
                last_len: AtomicUsize::new(0),
                warned_collision: AtomicBool::new(false),
            }),
            server: Mutex::new(None),
            shared: Mutex::new(None),
        }
    }

    /// The address of its own listener (None before start or when sharing the telemetry one).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| s.addr)
    }

    /// The current exposition, as a scrape with this `Accept` header would get it.
    pub fn render(&self, accept: Option<&str>) -> String {
        let format = Format::negotiate(accept, self.inner.open_metrics);
        let mut out = String::new();
        self.inner.render_into(&mut out, format, &HashSet::new());
        out
    }

    fn exposition_key(&self) -> String {
        format!("exporter/{}", self.id)
    }
}

fn respond(req: &Request<hyper::body::Incoming>, inner: &Inner) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = status;
        r
    };
    if req.uri().path() != "/metrics" {
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    let header = |name: http::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let format = Format::negotiate(header(http::header::ACCEPT).as_deref(), inner.open_metrics);
    let mut body = String::new();
    inner.render_into(&mut body, format, &HashSet::new());
    let gzip = header(http::header::ACCEPT_ENCODING).is_some_and(|v| v.contains("gzip"));
    let mut bytes = Bytes::from(body);
    let mut encoded = false;
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(bytes.len() / 4),
            flate2::Compression::fast(),
        );
        if enc.write_all(&bytes).is_ok() {
            if let Ok(z) = enc.finish() {
                bytes = Bytes::from(z);
                encoded = true;
            }
        }
    }
    let mut r = Response::new(Full::new(bytes));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(format.content_type()),
    );
    if encoded {
        h.insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_static("gzip"),
        );
    }
    r
}

/// Answers scrapes on one connection (plain TCP or TLS) until it ends or `stop`.
async fn serve_connection<S>(stream: S, inner: Arc<Inner>, stop: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let inner = inner.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(&req, &inner)) }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = stop.cancelled() => {}
    }
}

/// How long a client has to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn serve(
    listener: Arc<TcpListener>,
    inner: Arc<Inner>,
    stop: CancellationToken,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "prometheus exporter: accept failed");
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let (inner, stop, tls) = (inner.clone(), stop.clone(), tls.clone());
        tokio::spawn(async move {
            let Some(tls) = tls else {
                return serve_connection(stream, inner, stop).await;
            };
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(s)) => serve_connection(s, inner, stop).await,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "prometheus exporter: TLS handshake failed")
                }
                Err(_) => tracing::debug!("prometheus exporter: TLS handshake timed out"),
            }
        });
    }
}

#[async_trait::async_trait]
impl Exporter for PrometheusExporter {
    async fn start(&self, ctx: &ExporterStartContext) -> Result<(), StartError> {
        let mine = normalize_endpoint(&self.endpoint);
        let telemetry = ctx.telemetry_listen.as_deref();
        let tls = match &self.tls {
            Some(cfg) => Some(tokio_rustls::TlsAcceptor::from(
                ferrotel_transport::tls::server_config(
                    cfg,
                    "tls",
                    &[ferrotel_transport::tls::ALPN_HTTP1],
                )?,
            )),
            None => None,
        };
        // A TLS exporter needs its own listener (the telemetry one is plain HTTP).
        let shareable = tls.is_none();
        if let (Some(mine), Some(listen), true) = (&mine, telemetry, shareable) {
            // Port 0 asks for a port of its own, never the telemetry listener's.
            if mine.1 != 0 && normalize_endpoint(listen).as_ref() == Some(mine) {
                let inner = self.inner.clone();
                ctx.telemetry.add_exposition(
                    &self.exposition_key(),
                    Arc::new(move |out: &mut String| inner.render_shared(out)),
                );
                *self.shared.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(ctx.telemetry.clone());
                tracing::info!(endpoint = %self.endpoint, "prometheus exporter: serving on the collector's telemetry endpoint");
                return Ok(());
            }
        }
        let addr = bind_address(&self.endpoint);
        let owner = format!("exporters.{}.endpoint", self.id);
        let listener = ctx.listeners.bind(&owner, &addr).await.map_err(|e| {
            let hint = match (&mine, telemetry.and_then(normalize_endpoint)) {
                (Some((_, p)), Some((_, tp))) if *p == tp => format!(
                    " (service.telemetry.metrics listens on {}; give both the same address to share one listener)",
                    telemetry.unwrap_or_default()
                ),
                _ => String::new(),
            };
            StartError(format!("cannot listen on {}: {e}{hint}", self.endpoint))
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| StartError(format!("cannot listen on {}: {e}", self.endpoint)))?;
        let stop = ctx.shutdown.child_token();
        let task = tokio::spawn(serve(listener, self.inner.clone(), stop.clone(), tls));
        tracing::info!(endpoint = %local, "prometheus exporter: serving /metrics");
        *self.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(Server {
            stop,
            task,
            addr: local,
        });
        Ok(())
    }

    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        let data = batch
            .view()
            .map_err(|e| ExportError::permanent(format!("cannot decode metrics: {e}")))?;
        if let Data::Metrics(req) = data {
            let mut acc = self.inner.acc.lock().unwrap_or_else(|e| e.into_inner());
            let dropped = acc.accumulate(req, Instant::now());
            if dropped > 0 {
                tracing::debug!(
                    dropped,
                    "prometheus exporter: dropped points (delta up-down counters, unspecified temporality or out of order)"
                );
            }
        }
        Ok(())
    }

    async fn shutdown(&self) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(s) = server {
            s.stop.cancel();
            let _ = s.task.await;
        }
        let shared = self.shared.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = shared {
            t.add_exposition(&self.exposition_key(), Arc::new(|_: &mut String| {}));
        }
    }
}

/// Factory of `prometheus`.
pub struct PrometheusExporterFactory;

impl PrometheusExporterFactory {
    /// Decodes and validates a config (the section at `path`) and builds the exporter itself
    /// (the factory's `create` wraps it in [`ExporterParts`]).
    pub fn build(path: &str, id: &str, config: &Value) -> Result<PrometheusExporter, ConfigErrors> {
        let (cfg, _) = decode_valid::<PrometheusConfig>(path, config)?;
        Ok(PrometheusExporter::new(id.to_string(), &cfg, options(&cfg)))
    }
}

impl Factory for PrometheusExporterFactory {
    type Config = PrometheusConfig;
    type Component = ExporterParts;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "prometheus",
            "Serves received metrics for Prometheus to scrape at /metrics",
        )
        .signal(Signal::Metrics, Stability::Beta)
        .example("endpoint: 127.0.0.1:0")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: PrometheusConfig,
    ) -> Result<ExporterParts, ConfigErrors> {
        if cfg.endpoint.trim().is_empty() {
            return Err(ctx.error_at(
                "endpoint",
                "expecting a non-blank address to run the Prometheus metrics handler",
            ));
        }
        let exporter = PrometheusExporter::new(ctx.id.to_string(), &cfg, options(&cfg));
        Ok(ExporterParts {
            exporter: Arc::new(exporter),
            // A pull exporter: exports only update memory, so no queue and no retries.
            settings: ExporterSettings {
                retry: RetryConfig {
                    enabled: false,
                    ..Default::default()
                },
                queue: QueueConfig::disabled(),
                ..Default::default()
            },
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
