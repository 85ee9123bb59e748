//! Stanza-style operators for log entries: parsers (`json_parser`, `json_array_parser`,
//! `regex_parser`, `key_value_parser`, `csv_parser`, `syslog_parser`, `uri_parser`,
//! `time_parser`, `severity_parser`, `trace_parser`, `scope_name_parser`), transformers
//! (`move`, `copy`, `add`, `remove`, `retain`, `flatten`, `assign_keys`, `unquote`,
//! `regex_replace`, `sanitize_utf8`, `recombine`, `noop`), flow (`router`, `filter`) and
//! `container` (docker / cri-o / containerd logs and their k8s metadata; see [`container`]).
//! `json_array_parser` and `assign_keys` are refused while their feature gates
//! (`logs.jsonParserArray`, `logs.assignKeys`; beta, so on by default) are disabled, as in
//! otelcol. Each operator
//! sends to the next one in the list unless its `output` names others; the last sends to the
//! receiver. Parsers take `parse_from` / `parse_to` / `on_error` and the embedded
//! `timestamp`, `severity`, `trace` and `scope_name` blocks as otelcol's do; every operator
//! takes an `if` expression (see [`expr`]).
//!
//! ```yaml
//! operators:
//!   - type: router
//!     routes:
//!       - { expr: 'body matches "^\\{"', output: json }
//!     default: kv
//!   - { type: json_parser, id: json, output: level }
//!   - { type: key_value_parser, id: kv }
//!   - { type: severity_parser, id: level, parse_from: attributes.level, if: 'attributes.level != nil' }
//! ```

pub mod config;
pub mod container;
pub mod csv;
pub mod entry;
pub mod expr;
pub mod field;
pub mod flow;
pub mod graph;
pub mod json;
pub mod jsonarray;
pub mod keyvalue;
pub mod parser;
pub mod recombine;
pub mod severity;
pub mod syslog;
pub mod text;
pub mod time;
pub mod trace;
pub mod transform;
pub mod uri;

pub use entry::Entry;
pub use graph::{build, Pipeline};

/// One transforming step. `process` changes the entry in place; an `Err` is handled as the
/// operator's `on_error` says.
pub trait Operator: Send + Sync {
    fn process(&self, e: &mut Entry) -> Result<(), String>;
}

/// A field's value as text (numbers and booleans as written), for parsers of strings.
pub(crate) fn as_text(v: &serde_json::Value) -> String {
    text(v).into_owned()
}

/// [`as_text`] without copying a string value.
pub(crate) fn text(v: &serde_json::Value) -> std::borrow::Cow<'_, str> {
    match v {
        serde_json::Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

/// The type name stanza's errors use for a value.
pub(crate) fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "nil",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "map",
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "golden_tests.rs"]
mod golden_tests;
