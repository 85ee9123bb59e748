//! Reading `--config` sources and `--set` overrides and merging them as otelcol does: maps are
//! deep-merged with later sources winning, lists are replaced, and a null erases.

use crate::expand::{expand_env, key_str, Expansion};
use crate::{ConfigError, ConfigErrors, Document, Value};
use serde_yaml_ng::Mapping;

/// Where one `--config` value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `file:path` or a bare path.
    File(String),
    /// `env:VAR`: the variable holds YAML.
    Env(String),
    /// `yaml:inline`, where `::` separates nested keys (`yaml:processors::batch::timeout: 2s`).
    Yaml(String),
    /// YAML text given directly (the embedded default config).
    Text(String),
}

impl ConfigSource {
    pub fn parse(arg: &str) -> ConfigSource {
        if let Some(p) = arg.strip_prefix("file:") {
            ConfigSource::File(p.to_string())
        } else if let Some(v) = arg.strip_prefix("env:") {
            ConfigSource::Env(v.to_string())
        } else if let Some(y) = arg.strip_prefix("yaml:") {
            ConfigSource::Yaml(y.to_string())
        } else {
            ConfigSource::File(arg.to_string())
        }
    }

    fn describe(&self) -> String {
        match self {
            ConfigSource::File(p) => format!("file:{p}"),
            ConfigSource::Env(v) => format!("env:{v}"),
            ConfigSource::Yaml(_) => "yaml:".to_string(),
            ConfigSource::Text(_) => "embedded config".to_string(),
        }
    }

    fn read(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Value, ConfigError> {
        let text = match self {
            ConfigSource::File(p) => std::fs::read_to_string(p)
                .map_err(|e| ConfigError::new("", format!("cannot read config file {p:?}: {e}")))?,
            ConfigSource::Env(v) => lookup(v).ok_or_else(|| {
                ConfigError::new(
                    "",
                    format!("environment variable {v:?} named by --config is not set"),
                )
            })?,
            ConfigSource::Yaml(y) | ConfigSource::Text(y) => y.clone(),
        };
        let value: Value = serde_yaml_ng::from_str(&text)
            .map_err(|e| ConfigError::new("", format!("{}: invalid YAML: {e}", self.describe())))?;
        Ok(match self {
            ConfigSource::Yaml(_) => split_colon_keys(value),
            _ => value,
        })
    }
}

/// Turns keys written `a::b::c` into nested maps.
fn split_colon_keys(v: Value) -> Value {
    match v {
        Value::Mapping(m) => {
            let mut out = Value::Mapping(Mapping::new());
            for (k, val) in m {
                let key = key_str(&k);
                let parts: Vec<&str> = key.split("::").collect();
                let mut nested = split_colon_keys(val);
                for part in parts.iter().rev() {
                    let mut m = Mapping::new();
                    m.insert(Value::String(part.to_string()), nested);
                    nested = Value::Mapping(m);
                }
                merge(&mut out, nested);
            }
            out
        }
        other => other,
    }
}

/// Deep-merges `over` into `base`: maps merge key by key, anything else replaces.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing)
                        if matches!((&*existing, &v), (Value::Mapping(_), Value::Mapping(_))) =>
                    {
                        merge(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Parses `--set key.path=value` into a nested map (`::` may be used as separator too).
fn set_override(arg: &str) -> Result<Value, ConfigError> {
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| ConfigError::new("", format!("--set {arg:?}: expected key=value")))?;
    let sep = if key.contains("::") { "::" } else { "." };
    let value: Value =
        serde_yaml_ng::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let mut nested = value;
    for part in key.split(sep).collect::<Vec<_>>().iter().rev() {
        if part.is_empty() {
            return Err(ConfigError::new(
                "",
                format!("--set {arg:?}: empty key segment"),
            ));
        }
        let mut m = Mapping::new();
        m.insert(Value::String(part.to_string()), nested);
        nested = Value::Mapping(m);
    }
    Ok(nested)
}

/// Reads, expands and merges the sources, then applies the `--set` overrides, and parses the
/// result into a [`Document`] (structure only: component sections stay raw).
pub fn load(
    sources: &[ConfigSource],
    sets: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Document, ConfigErrors> {
    let (doc, errors) = load_partial(sources, sets, lookup)?;
    errors.into_result(doc)
}

/// Like [`load`], but once the sources are read and merged it returns the document together with
/// its structural errors (see [`Document::from_value_partial`]), so that callers can report every
/// problem at once. Unreadable sources or bad `--set` values are still an early error.
pub fn load_partial(
    sources: &[ConfigSource],
    sets: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Document, ConfigErrors), ConfigErrors> {
    let (merged, warnings) = resolve(sources, sets, lookup)?;
    let (mut doc, errors) = Document::from_value_partial(merged);
    doc.warnings = warnings;
    Ok((doc, errors))
}

/// Reads, expands and merges the sources and applies the `--set` overrides: the resolved YAML
/// tree (what `print-config` shows), and the expansion warnings.
pub fn resolve(
    sources: &[ConfigSource],
    sets: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Value, Vec<String>), ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let mut merged = Value::Mapping(Mapping::new());
    let mut warnings = vec![];
    for src in sources {
        match src.read(lookup) {
            Ok(mut v) => {
                let mut found = Expansion::default();
                expand_env(&mut v, "", lookup, &mut found);
                found.errors.into_iter().for_each(|e| errors.push(e));
                warnings.extend(found.warnings);
                if !v.is_null() {
                    merge(&mut merged, v);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    for s in sets {
        match set_override(s) {
            Ok(v) => merge(&mut merged, v),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((merged, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_sources_win_and_lists_replace() {
        let a = ConfigSource::Text("receivers: {otlp: {protocols: {grpc: {endpoint: a:1}, http: {}}}}\nexporters: {debug: {}}\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}".into());
        let b = ConfigSource::Yaml("receivers::otlp::protocols::grpc::endpoint: b:2".into());
        let doc = load(
            &[a, b],
            &["service.pipelines.traces.exporters=[debug, debug/2]".into()],
            &|_| None,
        )
        .unwrap_err();
        // debug/2 is not configured: the error names the pipeline path.
        assert!(
            doc.to_string()
                .contains("service.pipelines.traces.exporters"),
            "{doc}"
        );
    }

    #[test]
    fn null_erases_a_section() {
        let mut base: Value = serde_yaml_ng::from_str("processors: {batch: {}}\nx: 1").unwrap();
        merge(&mut base, serde_yaml_ng::from_str("processors:").unwrap());
        assert!(base["processors"].is_null());
        assert_eq!(base["x"], Value::Number(1.into()));
    }
}
