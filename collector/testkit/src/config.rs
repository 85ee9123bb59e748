//! Helpers for component config tests: a create context for a component at its place in the
//! config document, YAML from text, the crate's `testdata` files, and the errors of a config
//! that must be refused.

use ferrotel_config::{ComponentId, ConfigErrors, Kind, Value};
use ferrotel_core::{CreateContext, Telemetry};
use std::path::Path;

/// A create context for component `id` (such as `otlp/2`) under `section` (`exporters`,
/// `extensions`, ...), outside any pipeline, so that errors carry paths like
/// `exporters.otlp/2.endpoint`.
pub fn create_context(section: &str, id: &str) -> CreateContext {
    let id = ComponentId::parse(id).expect("a valid component id");
    let kind = [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Extension,
        Kind::Connector,
    ]
    .into_iter()
    .find(|k| k.section() == section)
    .expect("a config section name");
    CreateContext::new(kind, id, Telemetry::new())
}

/// The YAML value of `text` (test input: panics when it is not YAML).
pub fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).expect("test YAML parses")
}

/// The text of `testdata/<dir>/<name>` in the crate at `manifest_dir`
/// (pass `env!("CARGO_MANIFEST_DIR")`).
pub fn testdata(manifest_dir: &str, dir: &str, name: &str) -> String {
    let path = Path::new(manifest_dir)
        .join("testdata")
        .join(dir)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The errors of creating from `yaml`, which must be refused; panics when it was accepted.
pub fn refused<T>(created: Result<T, ConfigErrors>, yaml: &str) -> ConfigErrors {
    match created {
        Ok(_) => panic!("config accepted: {yaml}"),
        Err(e) => e,
    }
}
