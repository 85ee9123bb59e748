use crate::expand::key_str;
use crate::telemetry::TelemetryConfig;
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

#[derive(Debug, Clone, Default, PartialEq)]
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
    telemetry: crate::telemetry::RawTelemetry,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawPipeline {
    receivers: Vec<String>,
    processors: Vec<String>,
    exporters: Vec<String>,
}

fn parse_service(v: &Value, doc: &Document) -> Result<ServiceConfig, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let raw: RawService = decode("service", v)?;
    let extensions = parse_extensions(&raw.extensions, doc, &mut errors);
    let telemetry = crate::telemetry::parse(raw.telemetry, &mut errors);
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
}
