use crate::expand::key_str;
use crate::{decode, featuregate, ComponentId, ConfigError, ConfigErrors, Kind, Signal, Value};
use serde::Deserialize;
use std::fmt;

/// A pipeline id: `signal[/name]`, e.g. `traces`, `metrics/prom`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    pub signal: Signal,
    pub name: Option<String>,
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.signal, n),
            None => write!(f, "{}", self.signal),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineConfig {
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

/// `service.telemetry.metrics`: where the collector serves its own metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsTelemetry {
    /// `none` turns the endpoint off.
    pub level: String,
    /// host:port to listen on, `None` when disabled.
    pub listen: Option<String>,
    /// Counters named with `_total` (the reader's `without_type_suffix: false`); otelcol's
    /// current default is without.
    pub counter_total: bool,
}

impl Default for MetricsTelemetry {
    fn default() -> Self {
        MetricsTelemetry {
            level: "normal".into(),
            listen: Some("localhost:8888".into()),
            counter_total: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsTelemetry {
    /// debug | info | warn | error
    pub level: String,
}

impl Default for LogsTelemetry {
    fn default() -> Self {
        LogsTelemetry {
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetryConfig {
    pub metrics: MetricsTelemetry,
    pub logs: LogsTelemetry,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceConfig {
    pub extensions: Vec<ComponentId>,
    pub pipelines: Vec<(PipelineId, PipelineConfig)>,
    pub telemetry: TelemetryConfig,
}

/// The merged configuration: each component section keyed by id (raw, for its factory to
/// decode), and the service section, checked for consistency.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub receivers: Vec<(ComponentId, Value)>,
    pub processors: Vec<(ComponentId, Value)>,
    pub exporters: Vec<(ComponentId, Value)>,
    pub extensions: Vec<(ComponentId, Value)>,
    pub connectors: Vec<(ComponentId, Value)>,
    pub service: ServiceConfig,
    /// Warnings found while loading (unset environment variables), to log once logging is up.
    pub warnings: Vec<String>,
}

impl Document {
    pub fn section(&self, kind: Kind) -> &[(ComponentId, Value)] {
        match kind {
            Kind::Receiver => &self.receivers,
            Kind::Processor => &self.processors,
            Kind::Exporter => &self.exporters,
            Kind::Extension => &self.extensions,
            Kind::Connector => &self.connectors,
        }
    }

    pub fn get(&self, kind: Kind, id: &ComponentId) -> Option<&Value> {
        self.section(kind)
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, v)| v)
    }

    /// Parses the merged YAML tree. Every structural problem is collected.
    pub fn from_value(v: Value) -> Result<Document, ConfigErrors> {
        let (doc, errors) = Document::from_value_partial(v);
        errors.into_result(doc)
    }

    /// Like [`Document::from_value`], but also returns what could be read when there are errors,
    /// so that `validate` can report component settings errors alongside structural ones. On a
    /// `service` error the document has no pipelines.
    pub fn from_value_partial(v: Value) -> (Document, ConfigErrors) {
        let mut errors = ConfigErrors::default();
        let mut doc = Document::default();
        let map = match v {
            Value::Mapping(m) => m,
            Value::Null => Default::default(),
            _ => {
                return (
                    doc,
                    ConfigError::new("", "the configuration must be a YAML mapping").into(),
                )
            }
        };
        let mut service = Value::Null;
        for (k, v) in map {
            let key = key_str(&k);
            let kind = match key.as_str() {
                "receivers" => Kind::Receiver,
                "processors" => Kind::Processor,
                "exporters" => Kind::Exporter,
                "extensions" => Kind::Extension,
                "connectors" => Kind::Connector,
                "service" => {
                    service = v;
                    continue;
                }
                other => {
                    errors.push(ConfigError::new(other, "unknown top-level key, expected one of receivers, processors, exporters, extensions, connectors, service"));
                    continue;
                }
            };
            let entries = match v {
                Value::Mapping(m) => m,
                Value::Null => continue,
                _ => {
                    errors.push(ConfigError::new(
                        &key,
                        "must be a mapping of component ids to their settings",
                    ));
                    continue;
                }
            };
            let target = match kind {
                Kind::Receiver => &mut doc.receivers,
                Kind::Processor => &mut doc.processors,
                Kind::Exporter => &mut doc.exporters,
                Kind::Extension => &mut doc.extensions,
                Kind::Connector => &mut doc.connectors,
            };
            for (id, body) in entries {
                let id_s = key_str(&id);
                match ComponentId::parse(&id_s) {
                    Ok(id) => target.push((id, body)),
                    Err(m) => errors.push(ConfigError::new(format!("{key}.{id_s}"), m)),
                }
            }
        }
        match parse_service(&service, &doc) {
            Ok(s) => doc.service = s,
            Err(e) => errors.extend(e),
        }
        (doc, errors)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawService {
    extensions: Vec<String>,
    pipelines: Option<serde_yaml_ng::Mapping>,
    telemetry: RawTelemetry,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawPipeline {
    receivers: Vec<String>,
    processors: Vec<String>,
    exporters: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTelemetry {
    metrics: RawMetrics,
    logs: RawLogs,
    /// Accepted for compatibility; ferrotel does not export its own traces.
    traces: Option<Value>,
    resource: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    level: String,
    /// Deprecated otelcol form: `address: ":8888"`.
    address: Option<String>,
    readers: Vec<RawReader>,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            level: "normal".into(),
            address: None,
            readers: vec![],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReader {
    pull: RawPull,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPull {
    exporter: RawPullExporter,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPullExporter {
    prometheus: RawPromReader,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPromReader {
    host: String,
    port: u16,
    without_scope_info: Option<bool>,
    without_units: Option<bool>,
    without_type_suffix: Option<bool>,
    with_resource_constant_labels: Option<Value>,
}

impl Default for RawPromReader {
    fn default() -> Self {
        RawPromReader {
            host: "localhost".into(),
            port: 8888,
            without_scope_info: None,
            without_units: None,
            without_type_suffix: None,
            with_resource_constant_labels: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLogs {
    level: String,
    encoding: Option<String>,
    development: Option<bool>,
    disable_caller: Option<bool>,
    disable_stacktrace: Option<bool>,
    output_paths: Option<Vec<String>>,
    error_output_paths: Option<Vec<String>>,
    initial_fields: Option<Value>,
    sampling: Option<Value>,
    processors: Option<Value>,
}

impl Default for RawLogs {
    fn default() -> Self {
        RawLogs {
            level: "info".into(),
            encoding: None,
            development: None,
            disable_caller: None,
            disable_stacktrace: None,
            output_paths: None,
            error_output_paths: None,
            initial_fields: None,
            sampling: None,
            processors: None,
        }
    }
}

/// Go's `:8888` means every interface.
fn normalize_listen(addr: &str) -> String {
    if let Some(port) = addr.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else {
        addr.to_string()
    }
}

fn parse_service(v: &Value, doc: &Document) -> Result<ServiceConfig, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let raw: RawService = decode("service", v)?;
    let extensions = parse_extensions(&raw.extensions, doc, &mut errors);
    let telemetry = TelemetryConfig {
        metrics: parse_metrics_telemetry(&raw.telemetry.metrics, &mut errors),
        logs: parse_logs_telemetry(&raw.telemetry.logs, &mut errors),
    };
    let pipelines = raw.pipelines.unwrap_or_default();
    if pipelines.is_empty() {
        errors.push(ConfigError::new(
            "service.pipelines",
            "service must have at least one pipeline",
        ));
    }
    let pipelines = pipelines
        .into_iter()
        .filter_map(|(k, body)| parse_pipeline(&key_str(&k), &body, doc, &mut errors))
        .collect();
    errors.into_result(ServiceConfig {
        extensions,
        pipelines,
        telemetry,
    })
}

/// `service.extensions`: each must be configured.
fn parse_extensions(
    names: &[String],
    doc: &Document,
    errors: &mut ConfigErrors,
) -> Vec<ComponentId> {
    let mut extensions = vec![];
    for (i, e) in names.iter().enumerate() {
        match ComponentId::parse(e) {
            Ok(id) if doc.get(Kind::Extension, &id).is_some() => extensions.push(id),
            Ok(id) => errors.push(ConfigError::new(
                format!("service.extensions[{i}]"),
                format!(
                    "references extension {:?} which is not configured",
                    id.to_string()
                ),
            )),
            Err(m) => errors.push(ConfigError::new(format!("service.extensions[{i}]"), m)),
        }
    }
    extensions
}

/// `service.telemetry.metrics`: the level, and where the metrics are served (the first
/// reader's Prometheus endpoint, else the deprecated `address`).
fn parse_metrics_telemetry(raw: &RawMetrics, errors: &mut ConfigErrors) -> MetricsTelemetry {
    let level = raw.level.to_ascii_lowercase();
    if !["none", "basic", "normal", "detailed"].contains(&level.as_str()) {
        errors.push(ConfigError::new(
            "service.telemetry.metrics.level",
            format!("unknown level {level:?}, expected none, basic, normal or detailed"),
        ));
    }
    let listen = if level == "none" {
        None
    } else if let Some(r) = raw.readers.first() {
        let p = &r.pull.exporter.prometheus;
        let host = if p.host.is_empty() {
            "0.0.0.0"
        } else {
            p.host.as_str()
        };
        Some(if host.contains(':') {
            format!("[{host}]:{}", p.port)
        } else {
            format!("{host}:{}", p.port)
        })
    } else if let Some(a) = &raw.address {
        Some(normalize_listen(a))
    } else {
        MetricsTelemetry::default().listen
    };
    let counter_total = raw
        .readers
        .first()
        .and_then(|r| r.pull.exporter.prometheus.without_type_suffix)
        == Some(false);
    MetricsTelemetry {
        level,
        listen,
        counter_total,
    }
}

fn parse_logs_telemetry(raw: &RawLogs, errors: &mut ConfigErrors) -> LogsTelemetry {
    let level = raw.level.to_ascii_lowercase();
    if !["debug", "info", "warn", "error", "dpanic", "panic", "fatal"].contains(&level.as_str()) {
        errors.push(ConfigError::new(
            "service.telemetry.logs.level",
            format!("unknown level {level:?}, expected debug, info, warn or error"),
        ));
    }
    LogsTelemetry { level }
}

/// One entry of `service.pipelines`; `None` when its id or body cannot be read.
fn parse_pipeline(
    key: &str,
    body: &Value,
    doc: &Document,
    errors: &mut ConfigErrors,
) -> Option<(PipelineId, PipelineConfig)> {
    let path = format!("service.pipelines.{key}");
    let (sig, name) = match key.split_once('/') {
        Some((s, n)) => (s, Some(n.to_string())),
        None => (key, None),
    };
    let Some(signal) = Signal::parse(sig) else {
        errors.push(ConfigError::new(
            &path,
            format!(
                "unknown signal {sig:?} in pipeline id, expected traces, metrics, logs or profiles"
            ),
        ));
        return None;
    };
    if signal == Signal::Profiles && !featuregate::is_enabled(featuregate::PROFILES_SUPPORT) {
        errors.push(ConfigError::new(
            "service.pipelines",
            format!(
                "pipeline {key:?}: profiling signal support is at alpha level, gated under the \
                 {:?} feature gate",
                featuregate::PROFILES_SUPPORT
            ),
        ));
        return None;
    }
    if name.as_deref() == Some("") {
        errors.push(ConfigError::new(
            &path,
            "pipeline id has an empty name after '/'",
        ));
        return None;
    }
    let rp: RawPipeline = match decode(&path, body) {
        Ok(p) => p,
        Err(e) => {
            errors.extend(e);
            return None;
        }
    };
    let pc = pipeline_components(&path, &rp, doc, errors);
    if rp.receivers.is_empty() {
        errors.push(ConfigError::new(
            format!("{path}.receivers"),
            "must have at least one receiver",
        ));
    }
    if rp.exporters.is_empty() {
        errors.push(ConfigError::new(
            format!("{path}.exporters"),
            "must have at least one exporter",
        ));
    }
    Some((PipelineId { signal, name }, pc))
}

/// A pipeline's receivers, processors and exporters: each configured (a connector counts as
/// a receiver or an exporter) and listed once.
fn pipeline_components(
    path: &str,
    rp: &RawPipeline,
    doc: &Document,
    errors: &mut ConfigErrors,
) -> PipelineConfig {
    let mut pc = PipelineConfig::default();
    let lists = [
        ("receivers", &rp.receivers, Kind::Receiver),
        ("processors", &rp.processors, Kind::Processor),
        ("exporters", &rp.exporters, Kind::Exporter),
    ];
    for (field, list, kind) in lists {
        for (i, s) in list.iter().enumerate() {
            let p = format!("{path}.{field}[{i}]");
            let id = match ComponentId::parse(s) {
                Ok(id) => id,
                Err(m) => {
                    errors.push(ConfigError::new(p, m));
                    continue;
                }
            };
            let is_connector = kind != Kind::Processor && doc.get(Kind::Connector, &id).is_some();
            if doc.get(kind, &id).is_none() && !is_connector {
                errors.push(ConfigError::new(
                    p,
                    format!(
                        "references {} {:?} which is not configured",
                        kind.singular(),
                        id.to_string()
                    ),
                ));
                continue;
            }
            let target = match kind {
                Kind::Receiver => &mut pc.receivers,
                Kind::Processor => &mut pc.processors,
                _ => &mut pc.exporters,
            };
            if target.contains(&id) {
                errors.push(ConfigError::new(
                    p,
                    format!(
                        "references {} {:?} multiple times",
                        kind.singular(),
                        id.to_string()
                    ),
                ));
                continue;
            }
            target.push(id);
        }
    }
    pc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(y: &str) -> Result<Document, ConfigErrors> {
        Document::from_value(serde_yaml_ng::from_str(y).unwrap())
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let e = doc("receivers: {otlp: {}}\nexporters: {debug: {}}\nbogus: 1\nservice:\n  extensions: [health_check]\n  pipelines:\n    traces: {receivers: [otlp, otlp], processors: [batch]}\n    spans: {}\n").unwrap_err();
        let all = e.to_string();
        for needle in [
            "bogus: unknown top-level key",
            "service.extensions[0]: references extension \"health_check\" which is not configured",
            "service.pipelines.traces.receivers[1]: references receiver \"otlp\" multiple times",
            "service.pipelines.traces.processors[0]: references processor \"batch\" which is not configured",
            "service.pipelines.traces.exporters: must have at least one exporter",
            "service.pipelines.spans: unknown signal",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in\n{all}");
        }
    }

    /// No test of this crate enables the gate (the engine's profiles tests do, in their own
    /// process), so the process-wide registry has it at its default here.
    #[test]
    fn profiles_pipelines_need_the_gate() {
        let e = doc("receivers: {otlp: {}}\nexporters: {debug: {}}\nservice:\n  pipelines:\n    profiles/x: {receivers: [otlp], exporters: [debug]}\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration (1 error):\n  - service.pipelines: pipeline \"profiles/x\": profiling signal support is at alpha \
             level, gated under the \"service.profilesSupport\" feature gate"
        );
    }

    #[test]
    fn telemetry_address_forms() {
        let base = "receivers: {otlp: {}}\nexporters: {debug: {}}\nservice:\n  pipelines: {logs: {receivers: [otlp], exporters: [debug]}}\n";
        let d = doc(base).unwrap();
        assert_eq!(
            d.service.telemetry.metrics.listen.as_deref(),
            Some("localhost:8888")
        );
        let d = doc(&format!(
            "{base}  telemetry: {{metrics: {{address: ':9999'}}}}\n"
        ))
        .unwrap();
        assert_eq!(
            d.service.telemetry.metrics.listen.as_deref(),
            Some("0.0.0.0:9999")
        );
        let d = doc(&format!("{base}  telemetry: {{metrics: {{readers: [{{pull: {{exporter: {{prometheus: {{host: 0.0.0.0, port: 7777}}}}}}}}]}}}}\n")).unwrap();
        assert_eq!(
            d.service.telemetry.metrics.listen.as_deref(),
            Some("0.0.0.0:7777")
        );
        let d = doc(&format!(
            "{base}  telemetry: {{metrics: {{level: none}}}}\n"
        ))
        .unwrap();
        assert_eq!(d.service.telemetry.metrics.listen, None);
    }
}
