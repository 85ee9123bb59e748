//! `service.telemetry`: the collector's own metrics, logs, traces and resource, in otelcol's
//! schema (zap's logger settings, and the OpenTelemetry declarative-configuration readers and
//! processors, schema v0.3 as otelcol reads it).
//!
//! ```yaml
//! service:
//!   telemetry:
//!     resource: {deployment.environment: prod}
//!     metrics:
//!       level: normal
//!       readers:
//!         - pull: {exporter: {prometheus: {host: 0.0.0.0, port: 8888}}}
//!         - periodic:
//!             interval: 10000
//!             exporter: {otlp: {protocol: grpc, endpoint: "http://monitor:4317"}}
//!     logs:
//!       level: info
//!       encoding: json
//!       processors:
//!         - batch: {exporter: {otlp: {protocol: http/protobuf, endpoint: "http://monitor:4318"}}}
//! ```

use crate::{ConfigError, ConfigErrors, GoDuration, Value};
use serde::Deserialize;
use std::time::Duration;

/// `service.telemetry`, read and checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelemetryConfig {
    pub metrics: MetricsTelemetry,
    pub logs: LogsTelemetry,
    pub traces: TracesTelemetry,
    /// `resource`: attributes added to (a value `None` removes) the defaults `service.name`,
    /// `service.instance.id` and `service.version` of pushed metrics and logs.
    pub resource: Vec<(String, Option<String>)>,
}

/// `service.telemetry.metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsTelemetry {
    /// none | basic | normal | detailed. `none` turns every reader off.
    pub level: String,
    /// Each `pull` reader (and the deprecated `address`): a Prometheus `/metrics` endpoint.
    pub pull: Vec<PullReader>,
    /// Each `periodic` reader: OTLP pushes of the same metrics.
    pub periodic: Vec<PeriodicReader>,
}

impl MetricsTelemetry {
    /// The first Prometheus endpoint (a prometheus exporter on that address shares it).
    pub fn listen(&self) -> Option<&str> {
        self.pull.first().map(|p| p.listen.as_str())
    }
}

impl Default for MetricsTelemetry {
    fn default() -> Self {
        MetricsTelemetry {
            level: "normal".into(),
            pull: vec![PullReader {
                listen: "localhost:8888".into(),
                counter_total: false,
            }],
            periodic: vec![],
        }
    }
}

/// A `pull` reader's Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReader {
    /// host:port to listen on.
    pub listen: String,
    /// Counters named with `_total` (`without_type_suffix: false`); otelcol's default is without.
    pub counter_total: bool,
}

/// A `periodic` reader: pushes every `interval`, each export bounded by `timeout`, and once
/// more at shutdown.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodicReader {
    /// Where it is in the config (`service.telemetry.metrics.readers[1].periodic`), for errors.
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub exporter: OtlpPush,
}

/// How sums and histograms are pushed (`temporality_preference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    #[default]
    Cumulative,
    /// Sums and histograms as deltas since the previous push.
    Delta,
    /// Monotonic sums and histograms as deltas, up-down sums cumulative (ferrotel's sums are all
    /// monotonic, so the same as delta).
    LowMemory,
}

/// The wire protocol of an `otlp` exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    Grpc,
    #[default]
    HttpProtobuf,
    HttpJson,
}

/// An `exporter: {otlp: {...}}` of a periodic reader or a log processor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OtlpPush {
    /// Where it is in the config (`...exporter.otlp`), for errors.
    pub path: String,
    pub protocol: OtlpProtocol,
    /// The endpoint URL. For http, a URL without a path gets the signal's `/v1/<signal>`.
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    /// `gzip` or `none`.
    pub compression: Option<String>,
    /// Per-export timeout (`timeout`, milliseconds in the config).
    pub timeout: Option<Duration>,
    /// gRPC without TLS (an `http://` endpoint is plaintext anyway).
    pub insecure: Option<bool>,
    pub certificate: Option<String>,
    pub client_key: Option<String>,
    pub client_certificate: Option<String>,
    pub temporality: Temporality,
}

/// `service.telemetry.logs`: zap's settings as otelcol reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsTelemetry {
    /// debug | info | warn | error | dpanic | panic | fatal
    pub level: String,
    /// `console` (tab-separated) or `json` (one object a line).
    pub encoding: String,
    pub development: bool,
    pub disable_caller: bool,
    pub disable_stacktrace: bool,
    /// `stderr`, `stdout` or file paths.
    pub output_paths: Vec<String>,
    pub error_output_paths: Vec<String>,
    /// Fields added to every record, in order.
    pub initial_fields: Vec<(String, Value)>,
    /// `None` when sampling is disabled.
    pub sampling: Option<LogSampling>,
    /// Each processor exports the records as OTLP logs.
    pub processors: Vec<LogProcessor>,
}

impl Default for LogsTelemetry {
    fn default() -> Self {
        LogsTelemetry {
            level: "info".into(),
            encoding: "console".into(),
            development: false,
            disable_caller: false,
            disable_stacktrace: false,
            output_paths: vec!["stderr".into()],
            error_output_paths: vec!["stderr".into()],
            initial_fields: vec![],
            sampling: Some(LogSampling::default()),
            processors: vec![],
        }
    }
}

/// zap's sampler: per `tick`, the first `initial` records with the same level and message,
/// then every `thereafter`-th (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSampling {
    pub tick: Duration,
    pub initial: u64,
    pub thereafter: u64,
}

impl Default for LogSampling {
    fn default() -> Self {
        LogSampling {
            tick: Duration::from_secs(10),
            initial: 10,
            thereafter: 100,
        }
    }
}

/// A `batch` or `simple` log record processor.
#[derive(Debug, Clone, PartialEq)]
pub struct LogProcessor {
    /// `batch`: records are sent every `schedule_delay` or when `max_export_batch_size` are
    /// waiting; `simple`: each record is sent as soon as possible.
    pub batch: bool,
    pub schedule_delay: Duration,
    pub max_queue_size: usize,
    pub max_export_batch_size: usize,
    pub export_timeout: Duration,
    pub exporter: OtlpPush,
}

/// `service.telemetry.traces`: accepted; ferrotel does not emit spans of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracesTelemetry {
    pub level: String,
}

impl Default for TracesTelemetry {
    fn default() -> Self {
        TracesTelemetry {
            level: "basic".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The document as written.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTelemetry {
    metrics: RawMetrics,
    logs: RawLogs,
    traces: RawTraces,
    resource: Option<serde_yaml_ng::Mapping>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    level: Option<String>,
    /// Deprecated otelcol form: `address: ":8888"`.
    address: Option<String>,
    readers: Option<Vec<RawReader>>,
    views: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReader {
    pull: Option<RawPull>,
    periodic: Option<RawPeriodic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPull {
    exporter: RawPullExporter,
    /// Accepted; ferrotel has no other metric producers.
    #[serde(rename = "producers")]
    _producers: Option<Value>,
    /// Accepted; ferrotel's series are bounded by its components.
    #[serde(rename = "cardinality_limits")]
    _cardinality_limits: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPullExporter {
    prometheus: RawPromReader,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawPromReader {
    /// Absent: localhost; null or empty: every interface.
    #[serde(deserialize_with = "present")]
    host: Option<Value>,
    port: Option<u16>,
    without_scope_info: Option<bool>,
    without_units: Option<bool>,
    without_type_suffix: Option<bool>,
    with_resource_constant_labels: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriodic {
    /// Milliseconds.
    interval: Option<u64>,
    /// Milliseconds.
    timeout: Option<u64>,
    exporter: RawPushExporter,
    /// Accepted; ferrotel has no other metric producers.
    #[serde(rename = "producers")]
    _producers: Option<Value>,
    /// Accepted; ferrotel's series are bounded by its components.
    #[serde(rename = "cardinality_limits")]
    _cardinality_limits: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPushExporter {
    otlp: Option<RawOtlp>,
    console: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawHeaders {
    /// Schema v0.3: `[{name: x, value: y}]`.
    List(Vec<RawHeader>),
    /// Schema v0.2: `{x: y}`.
    Map(std::collections::BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawOtlp {
    protocol: Option<String>,
    endpoint: Option<String>,
    certificate: Option<String>,
    client_key: Option<String>,
    client_certificate: Option<String>,
    headers: Option<RawHeaders>,
    headers_list: Option<String>,
    compression: Option<String>,
    /// Milliseconds.
    timeout: Option<u64>,
    insecure: Option<bool>,
    temporality_preference: Option<String>,
    default_histogram_aggregation: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawLogs {
    level: Option<String>,
    encoding: Option<String>,
    development: Option<bool>,
    disable_caller: Option<bool>,
    disable_stacktrace: Option<bool>,
    output_paths: Option<Vec<String>>,
    error_output_paths: Option<Vec<String>>,
    initial_fields: Option<serde_yaml_ng::Mapping>,
    sampling: Option<RawSampling>,
    processors: Option<Vec<RawLogProcessor>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSampling {
    enabled: bool,
    tick: GoDuration,
    initial: u64,
    thereafter: u64,
}

impl Default for RawSampling {
    fn default() -> Self {
        let d = LogSampling::default();
        RawSampling {
            enabled: true,
            tick: GoDuration(d.tick),
            initial: d.initial,
            thereafter: d.thereafter,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogProcessor {
    batch: Option<RawBatchProcessor>,
    simple: Option<RawSimpleProcessor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatchProcessor {
    /// Milliseconds; the SDK's default 1000.
    schedule_delay: Option<u64>,
    /// Milliseconds; the SDK's default 30000.
    export_timeout: Option<u64>,
    max_queue_size: Option<usize>,
    max_export_batch_size: Option<usize>,
    exporter: RawPushExporter,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimpleProcessor {
    exporter: RawPushExporter,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTraces {
    level: Option<String>,
    propagators: Option<Vec<String>>,
    processors: Option<Vec<Value>>,
}

/// `Some` whenever the key is there, even with a null value (with `default`, absent is `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Reading.

const METRICS: &str = "service.telemetry.metrics";
const LOGS: &str = "service.telemetry.logs";

/// Checks `raw`, reporting every problem into `errors`.
pub(crate) fn parse(raw: RawTelemetry, errors: &mut ConfigErrors) -> TelemetryConfig {
    TelemetryConfig {
        metrics: parse_metrics(raw.metrics, errors),
        logs: parse_logs(raw.logs, errors),
        traces: parse_traces(raw.traces, errors),
        resource: parse_resource(raw.resource, errors),
    }
}

fn parse_metrics(raw: RawMetrics, errors: &mut ConfigErrors) -> MetricsTelemetry {
    let level = raw
        .level
        .unwrap_or_else(|| "normal".into())
        .to_ascii_lowercase();
    if !["none", "basic", "normal", "detailed"].contains(&level.as_str()) {
        errors.push(ConfigError::new(
            format!("{METRICS}.level"),
            format!("unknown metrics level {level:?}"),
        ));
    }
    if raw.views.is_some() && level != "detailed" {
        errors.push(ConfigError::new(
            format!("{METRICS}.views"),
            "service::telemetry::metrics::views can only be set when service::telemetry::metrics::level is detailed",
        ));
    }
    let readers_set = raw.readers.is_some();
    let mut out = MetricsTelemetry {
        level: level.clone(),
        pull: vec![],
        periodic: vec![],
    };
    for (i, r) in raw.readers.into_iter().flatten().enumerate() {
        let path = format!("{METRICS}.readers[{i}]");
        match (r.pull, r.periodic) {
            (Some(p), None) => out.pull.push(pull_reader(&p.exporter.prometheus)),
            (None, Some(p)) => {
                if let Some(p) = periodic_reader(&format!("{path}.periodic"), p, errors) {
                    out.periodic.push(p);
                }
            }
            _ => errors.push(ConfigError::new(
                path,
                "a reader must have exactly one of pull or periodic",
            )),
        }
    }
    if !readers_set {
        out.pull = MetricsTelemetry::default().pull;
    }
    if let Some(a) = &raw.address {
        if !readers_set {
            out.pull.clear();
        }
        out.pull.push(PullReader {
            listen: normalize_listen(a),
            counter_total: false,
        });
    }
    if level != "none" && out.pull.is_empty() && out.periodic.is_empty() && errors.is_empty() {
        errors.push(ConfigError::new(
            METRICS,
            "collector telemetry metrics reader should exist when metric level is not none",
        ));
    }
    if level == "none" {
        out.pull.clear();
        out.periodic.clear();
    }
    out
}

/// Go's `:8888` means every interface.
fn normalize_listen(addr: &str) -> String {
    if let Some(port) = addr.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else {
        addr.to_string()
    }
}

fn pull_reader(p: &RawPromReader) -> PullReader {
    let host = match &p.host {
        None => "localhost".to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => "0.0.0.0".to_string(),
    };
    let port = p.port.unwrap_or(8888);
    let listen = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    PullReader {
        listen,
        counter_total: p.without_type_suffix == Some(false),
    }
}

fn periodic_reader(
    path: &str,
    raw: RawPeriodic,
    errors: &mut ConfigErrors,
) -> Option<PeriodicReader> {
    let interval = Duration::from_millis(raw.interval.unwrap_or(60_000));
    let timeout = Duration::from_millis(raw.timeout.unwrap_or(30_000));
    if interval.is_zero() {
        errors.push(ConfigError::new(
            format!("{path}.interval"),
            "must be greater than 0",
        ));
    }
    let exporter = push_exporter(&format!("{path}.exporter"), raw.exporter, errors)?;
    Some(PeriodicReader {
        path: path.to_string(),
        interval,
        timeout,
        exporter,
    })
}

/// An `exporter` of a periodic reader or log processor: `otlp` is supported, `console` refused.
fn push_exporter(path: &str, raw: RawPushExporter, errors: &mut ConfigErrors) -> Option<OtlpPush> {
    match (raw.otlp, raw.console) {
        (Some(o), None) => otlp(&format!("{path}.otlp"), o, errors),
        (None, Some(_)) => {
            errors.push(ConfigError::new(
                format!("{path}.console"),
                "the console exporter is not supported by ferrotel; use otlp",
            ));
            None
        }
        _ => {
            errors.push(ConfigError::new(
                path,
                "must have exactly one exporter: otlp",
            ));
            None
        }
    }
}

fn otlp(path: &str, raw: RawOtlp, errors: &mut ConfigErrors) -> Option<OtlpPush> {
    let before = errors.0.len();
    let protocol = match raw.protocol.as_deref().unwrap_or("http/protobuf") {
        "grpc" | "grpc/protobuf" => OtlpProtocol::Grpc,
        "http/protobuf" => OtlpProtocol::HttpProtobuf,
        "http/json" => OtlpProtocol::HttpJson,
        other => {
            errors.push(ConfigError::new(
                format!("{path}.protocol"),
                format!(
                    "unsupported protocol {other:?}, expected grpc, http/protobuf or http/json"
                ),
            ));
            OtlpProtocol::HttpProtobuf
        }
    };
    let endpoint = raw.endpoint.unwrap_or_else(|| match protocol {
        OtlpProtocol::Grpc => "http://localhost:4317".into(),
        _ => "http://localhost:4318".into(),
    });
    let temporality = match raw
        .temporality_preference
        .as_deref()
        .unwrap_or("cumulative")
    {
        "cumulative" => Temporality::Cumulative,
        "delta" => Temporality::Delta,
        "lowmemory" | "low_memory" => Temporality::LowMemory,
        other => {
            errors.push(ConfigError::new(
                format!("{path}.temporality_preference"),
                format!("unsupported temporality preference {other:?}, expected cumulative, delta or lowmemory"),
            ));
            Temporality::Cumulative
        }
    };
    if let Some(a) = raw.default_histogram_aggregation.as_deref() {
        if a != "explicit_bucket_histogram" {
            errors.push(ConfigError::new(
                format!("{path}.default_histogram_aggregation"),
                format!("unsupported aggregation {a:?}: ferrotel pushes explicit_bucket_histogram"),
            ));
        }
    }
    let compression = match raw.compression.as_deref() {
        None | Some("") | Some("none") => None,
        Some("gzip") => Some("gzip".to_string()),
        Some(other) => {
            errors.push(ConfigError::new(
                format!("{path}.compression"),
                format!("unsupported compression {other:?}, expected gzip or none"),
            ));
            None
        }
    };
    let headers = headers(path, raw.headers, raw.headers_list.as_deref(), errors);
    (errors.0.len() == before).then(|| OtlpPush {
        path: path.to_string(),
        protocol,
        endpoint,
        headers,
        compression,
        timeout: raw.timeout.map(Duration::from_millis),
        insecure: raw.insecure,
        certificate: raw.certificate,
        client_key: raw.client_key,
        client_certificate: raw.client_certificate,
        temporality,
    })
}

/// `headers` (list or map) then `headers_list` (`k=v,k2=v2`); a name in `headers` wins.
fn headers(
    path: &str,
    raw: Option<RawHeaders>,
    list: Option<&str>,
    errors: &mut ConfigErrors,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = match raw {
        None => vec![],
        Some(RawHeaders::List(l)) => l.into_iter().map(|h| (h.name, h.value)).collect(),
        Some(RawHeaders::Map(m)) => m.into_iter().collect(),
    };
    for pair in list
        .unwrap_or("")
        .split(',')
        .filter(|p| !p.trim().is_empty())
    {
        match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                let k = k.trim().to_string();
                if !out.iter().any(|(n, _)| *n == k) {
                    out.push((k, v.trim().to_string()));
                }
            }
            _ => errors.push(ConfigError::new(
                format!("{path}.headers_list"),
                format!("invalid header {pair:?}, expected name=value"),
            )),
        }
    }
    out
}

fn parse_logs(raw: RawLogs, errors: &mut ConfigErrors) -> LogsTelemetry {
    let d = LogsTelemetry::default();
    let level = raw.level.unwrap_or(d.level).to_ascii_lowercase();
    if !["debug", "info", "warn", "error", "dpanic", "panic", "fatal"].contains(&level.as_str()) {
        errors.push(ConfigError::new(
            format!("{LOGS}.level"),
            format!("unrecognized level: {level:?}"),
        ));
    }
    let encoding = raw.encoding.unwrap_or(d.encoding);
    if encoding != "console" && encoding != "json" {
        errors.push(ConfigError::new(
            format!("{LOGS}.encoding"),
            format!("no encoder registered for name {encoding:?}, expected console or json"),
        ));
    }
    let sampling = raw.sampling.unwrap_or_default();
    let mut processors = vec![];
    for (i, p) in raw.processors.into_iter().flatten().enumerate() {
        if let Some(p) = log_processor(&format!("{LOGS}.processors[{i}]"), p, errors) {
            processors.push(p);
        }
    }
    LogsTelemetry {
        level,
        encoding,
        development: raw.development.unwrap_or(false),
        disable_caller: raw.disable_caller.unwrap_or(false),
        disable_stacktrace: raw.disable_stacktrace.unwrap_or(false),
        output_paths: raw.output_paths.unwrap_or(d.output_paths),
        error_output_paths: raw.error_output_paths.unwrap_or(d.error_output_paths),
        initial_fields: initial_fields(raw.initial_fields),
        sampling: sampling.enabled.then_some(LogSampling {
            tick: sampling.tick.0,
            initial: sampling.initial,
            thereafter: sampling.thereafter,
        }),
        processors,
    }
}

fn initial_fields(raw: Option<serde_yaml_ng::Mapping>) -> Vec<(String, Value)> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (crate::expand::key_str(&k), v))
        .collect()
}

fn log_processor(
    path: &str,
    raw: RawLogProcessor,
    errors: &mut ConfigErrors,
) -> Option<LogProcessor> {
    match (raw.batch, raw.simple) {
        (Some(b), None) => {
            let exporter = push_exporter(&format!("{path}.batch.exporter"), b.exporter, errors)?;
            Some(LogProcessor {
                batch: true,
                schedule_delay: Duration::from_millis(b.schedule_delay.unwrap_or(1000)),
                export_timeout: Duration::from_millis(b.export_timeout.unwrap_or(30_000)),
                max_queue_size: b.max_queue_size.unwrap_or(2048),
                max_export_batch_size: b.max_export_batch_size.unwrap_or(512),
                exporter,
            })
        }
        (None, Some(s)) => {
            let exporter = push_exporter(&format!("{path}.simple.exporter"), s.exporter, errors)?;
            Some(LogProcessor {
                batch: false,
                schedule_delay: Duration::ZERO,
                export_timeout: Duration::from_secs(30),
                max_queue_size: 2048,
                max_export_batch_size: 512,
                exporter,
            })
        }
        _ => {
            errors.push(ConfigError::new(
                path,
                "a processor must have exactly one of batch or simple",
            ));
            None
        }
    }
}

fn parse_traces(raw: RawTraces, errors: &mut ConfigErrors) -> TracesTelemetry {
    let level = raw
        .level
        .unwrap_or_else(|| "basic".into())
        .to_ascii_lowercase();
    if !["none", "basic", "normal", "detailed"].contains(&level.as_str()) {
        errors.push(ConfigError::new(
            "service.telemetry.traces.level",
            format!("unknown metrics level {level:?}"),
        ));
    }
    if level != "none" && raw.processors.is_some_and(|p| !p.is_empty()) {
        errors.push(ConfigError::new(
            "service.telemetry.traces.processors",
            "ferrotel does not emit traces of its own yet: remove the processors or set service.telemetry.traces.level to none",
        ));
    }
    TracesTelemetry { level }
}

fn parse_resource(
    raw: Option<serde_yaml_ng::Mapping>,
    errors: &mut ConfigErrors,
) -> Vec<(String, Option<String>)> {
    let mut out = vec![];
    for (k, v) in raw.unwrap_or_default() {
        let key = crate::expand::key_str(&k);
        let value = match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => {
                errors.push(ConfigError::new(
                    format!("service.telemetry.resource.{key}"),
                    "must be a string (or null to remove the attribute)",
                ));
                continue;
            }
        };
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Document;

    const BASE: &str = "receivers: {otlp: {}}\nexporters: {debug: {}}\nservice:\n  pipelines: {logs: {receivers: [otlp], exporters: [debug]}}\n";

    fn telemetry(section: &str) -> Result<TelemetryConfig, ConfigErrors> {
        let y = format!("{BASE}  telemetry:\n{}", indent(section));
        let v = serde_yaml_ng::from_str(&y).map_err(|e| ConfigError::new("", e.to_string()))?;
        Document::from_value(v).map(|d| d.service.telemetry)
    }

    fn indent(s: &str) -> String {
        s.lines().map(|l| format!("    {l}\n")).collect()
    }

    fn refused(section: &str) -> String {
        match telemetry(section) {
            Ok(t) => panic!("accepted: {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn listens(t: &TelemetryConfig) -> Vec<&str> {
        t.metrics.pull.iter().map(|p| p.listen.as_str()).collect()
    }

    #[test]
    fn address_forms_and_pull_readers() {
        assert_eq!(listens(&telemetry("{}").unwrap()), ["localhost:8888"]);
        let t = telemetry("metrics: {address: ':9999'}").unwrap();
        assert_eq!(listens(&t), ["0.0.0.0:9999"]);
        let t = telemetry("metrics:\n  readers:\n    - pull: {exporter: {prometheus: {host: 0.0.0.0, port: 7777}}}\n    - pull: {exporter: {prometheus: {host: '', port: 7778}}}\n    - pull: {exporter: {prometheus: {host: null, port: 7779, without_type_suffix: false}}}\n    - pull: {exporter: {prometheus: {host: '::1', port: 7780}}}").unwrap();
        assert_eq!(
            listens(&t),
            ["0.0.0.0:7777", "0.0.0.0:7778", "0.0.0.0:7779", "[::1]:7780"]
        );
        assert!(t.metrics.pull[2].counter_total && !t.metrics.pull[0].counter_total);
        let t = telemetry("metrics: {level: none}").unwrap();
        assert!(t.metrics.pull.is_empty());
        assert_eq!(t.metrics.listen(), None);
    }

    #[test]
    fn periodic_reader_defaults_and_settings() {
        let t = telemetry("metrics:\n  readers:\n    - periodic:\n        exporter:\n          otlp: {protocol: http/protobuf, endpoint: 'http://h:4318'}\n    - periodic:\n        interval: 500\n        timeout: 100\n        exporter:\n          otlp:\n            protocol: grpc\n            endpoint: 'https://h:4317'\n            headers: [{name: a, value: b}]\n            headers_list: 'c=d,a=x'\n            compression: gzip\n            timeout: 250\n            insecure: true\n            certificate: /ca.pem\n            temporality_preference: delta").unwrap();
        let [a, b] = &t.metrics.periodic[..] else {
            panic!("{t:?}")
        };
        assert!(t.metrics.pull.is_empty());
        assert_eq!(a.interval, Duration::from_secs(60));
        assert_eq!(a.timeout, Duration::from_secs(30));
        assert_eq!(a.exporter.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(a.exporter.endpoint, "http://h:4318");
        assert_eq!(a.path, "service.telemetry.metrics.readers[0].periodic");
        assert_eq!(b.interval, Duration::from_millis(500));
        assert_eq!(b.exporter.protocol, OtlpProtocol::Grpc);
        assert_eq!(
            b.exporter.headers,
            [("a".to_string(), "b".to_string()), ("c".into(), "d".into())]
        );
        assert_eq!(b.exporter.compression.as_deref(), Some("gzip"));
        assert_eq!(b.exporter.timeout, Some(Duration::from_millis(250)));
        assert_eq!(b.exporter.temporality, Temporality::Delta);
        assert_eq!(b.exporter.certificate.as_deref(), Some("/ca.pem"));
    }

    #[test]
    fn otelcol_errors() {
        let e = refused("metrics: {level: normal, readers: []}");
        assert!(
            e.contains(
                "collector telemetry metrics reader should exist when metric level is not none"
            ),
            "{e}"
        );
        let e = refused("metrics: {level: normal, views: []}");
        assert!(e.contains("service.telemetry.metrics.views: service::telemetry::metrics::views can only be set when service::telemetry::metrics::level is detailed"), "{e}");
        telemetry("metrics: {level: detailed, views: []}").unwrap();
        let e = refused("metrics: {level: loud}");
        assert!(
            e.contains("service.telemetry.metrics.level: unknown metrics level \"loud\""),
            "{e}"
        );
        let e = refused("logs: {level: verbose}");
        assert!(
            e.contains("service.telemetry.logs.level: unrecognized level: \"verbose\""),
            "{e}"
        );
        let e = refused("logs: {encoding: xml}");
        assert!(
            e.contains("service.telemetry.logs.encoding: no encoder registered for name \"xml\""),
            "{e}"
        );
        let e = refused("metrics: {readers: [{periodic: {exporter: {otlp: {protocol: thrift}}}}]}");
        assert!(e.contains("service.telemetry.metrics.readers[0].periodic.exporter.otlp.protocol: unsupported protocol \"thrift\""), "{e}");
        let e = refused(
            "metrics: {readers: [{periodic: {exporter: {otlp: {endpoint: x, bogus: 1}}}}]}",
        );
        assert!(e.contains("bogus"), "{e}");
        let e = refused("metrics: {readers: [{pull: {exporter: {prometheus: {}}}, periodic: {exporter: {otlp: {}}}}]}");
        assert!(e.contains("service.telemetry.metrics.readers[0]: a reader must have exactly one of pull or periodic"), "{e}");
    }

    #[test]
    fn traces_accepted_when_empty_refused_with_processors() {
        assert_eq!(
            telemetry("traces: {level: none}").unwrap().traces.level,
            "none"
        );
        telemetry("traces: {processors: [], propagators: [tracecontext]}").unwrap();
        let e = refused(
            "traces:\n  processors:\n    - batch: {exporter: {otlp: {endpoint: 'http://h:4317'}}}",
        );
        assert!(
            e.contains(
                "service.telemetry.traces.processors: ferrotel does not emit traces of its own yet"
            ),
            "{e}"
        );
        telemetry("traces:\n  level: none\n  processors:\n    - batch: {exporter: {otlp: {endpoint: 'http://h:4317'}}}").unwrap();
    }

    #[test]
    fn logs_settings() {
        let d = telemetry("{}").unwrap().logs;
        assert_eq!(d.sampling, Some(LogSampling::default()));
        assert_eq!(d.encoding, "console");
        assert_eq!(d.output_paths, ["stderr"]);
        let t = telemetry("logs:\n  level: debug\n  encoding: json\n  initial_fields: {service: x, n: 1}\n  sampling: {tick: 1s, initial: 2, thereafter: 3}\n  output_paths: [stdout, /tmp/x.log]\n  disable_caller: true\n  processors:\n    - batch: {schedule_delay: 200, exporter: {otlp: {protocol: grpc, endpoint: 'http://h:4317'}}}\n    - simple: {exporter: {otlp: {endpoint: 'http://h:4318'}}}").unwrap().logs;
        assert_eq!(
            t.sampling,
            Some(LogSampling {
                tick: Duration::from_secs(1),
                initial: 2,
                thereafter: 3
            })
        );
        assert_eq!(t.initial_fields.len(), 2);
        assert_eq!(t.output_paths, ["stdout", "/tmp/x.log"]);
        assert!(t.disable_caller);
        assert_eq!(t.processors.len(), 2);
        assert!(t.processors[0].batch && !t.processors[1].batch);
        assert_eq!(t.processors[0].schedule_delay, Duration::from_millis(200));
        let t = telemetry("logs: {sampling: {enabled: false}}")
            .unwrap()
            .logs;
        assert_eq!(t.sampling, None);
    }

    #[test]
    fn resource_attributes() {
        let t = telemetry("resource: {host.name: h, service.instance.id: null, n: 3}").unwrap();
        assert_eq!(
            t.resource,
            [
                ("host.name".to_string(), Some("h".to_string())),
                ("service.instance.id".into(), None),
                ("n".into(), Some("3".into()))
            ]
        );
    }

    /// The telemetry sections of the OpenTelemetry demo's and the Helm chart's collector
    /// configs, with their `${env:...}` references unset (empty).
    #[test]
    fn realworld_sections() {
        let demo = "metrics:\n  readers:\n    - periodic:\n        exporter:\n          otlp:\n            protocol: http/protobuf\n            endpoint: 'http://:'\nlogs:\n  processors:\n    - batch:\n        exporter:\n          otlp:\n            protocol: http/protobuf\n            endpoint: 'http://:'";
        let t = telemetry(demo).unwrap();
        assert_eq!(t.metrics.periodic.len(), 1);
        assert_eq!(t.logs.processors.len(), 1);
        let helm = "metrics:\n  readers:\n  - pull:\n      exporter:\n        prometheus:\n          host: ''\n          port: 8888\nresource:\n  host.name: ''\n  k8s.pod.ip: ''";
        let t = telemetry(helm).unwrap();
        assert_eq!(listens(&t), ["0.0.0.0:8888"]);
        assert_eq!(t.resource.len(), 2);
    }
}
