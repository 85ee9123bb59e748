//! Stanza-style operators for log entries: parsers (`json_parser`, `regex_parser`,
//! `time_parser`, `severity_parser`, `trace_parser`) and transformers (`move`, `add`,
//! `remove`), chained in the order configured. Parsers take `parse_from` / `parse_to` /
//! `on_error` and the embedded `timestamp`, `severity` and `trace` blocks as otelcol's do.
//!
//! ```yaml
//! operators:
//!   - type: regex_parser
//!     regex: '^(?P<time>\S+) (?P<sev>[A-Z]+) (?P<msg>.*)$'
//!     timestamp: { parse_from: attributes.time, layout_type: gotime, layout: '2006-01-02T15:04:05Z07:00' }
//!     severity: { parse_from: attributes.sev }
//!   - type: remove
//!     field: attributes.time
//! ```

pub mod config;
pub mod entry;
pub mod field;
pub mod parser;
pub mod severity;
pub mod time;
pub mod trace;
pub mod transform;

use config::{OnError, OperatorConfig};
pub use entry::Entry;

/// One step of the chain. `process` changes the entry in place; an `Err` is handled as the
/// operator's `on_error` says.
pub trait Operator: Send + Sync {
    fn process(&self, e: &mut Entry) -> Result<(), String>;
}

struct Step {
    id: String,
    on_error: OnError,
    op: Box<dyn Operator>,
}

/// The configured operators, in order.
#[derive(Default)]
pub struct Pipeline {
    steps: Vec<Step>,
}

impl Pipeline {
    /// Runs every operator; false when the entry is dropped (an error with `on_error: drop`).
    pub fn run(&self, e: &mut Entry) -> bool {
        for s in &self.steps {
            let Err(err) = s.op.process(e) else { continue };
            match s.on_error {
                OnError::Send => tracing::warn!(operator = %s.id, "failed to process entry: {err}"),
                OnError::Drop => {
                    tracing::warn!(operator = %s.id, "failed to process entry: {err}");
                    return false;
                }
                OnError::DropQuiet => return false,
                OnError::SendQuiet => {}
            }
        }
        true
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Builds the chain, with the first configuration error found.
pub fn build(configs: &[OperatorConfig]) -> Result<Pipeline, String> {
    let mut steps = Vec::with_capacity(configs.len());
    let mut ids = std::collections::HashSet::new();
    for c in configs {
        let id = c.id();
        if !ids.insert(id.clone()) {
            return Err(format!("duplicate operator id '{id}'"));
        }
        let (op, on_error) = build_one(c).map_err(|e| format!("operator '{id}': {e}"))?;
        steps.push(Step { id, on_error, op });
    }
    Ok(Pipeline { steps })
}

fn unsupported(if_expr: &Option<String>, output: &Option<String>) -> Result<(), String> {
    if if_expr.is_some() {
        return Err("`if` expressions are not supported yet".into());
    }
    if output.is_some() {
        return Err("`output` is not supported yet (operators run in order)".into());
    }
    Ok(())
}

fn build_one(c: &OperatorConfig) -> Result<(Box<dyn Operator>, OnError), String> {
    use OperatorConfig as O;
    Ok(match c {
        O::JsonParser(p) | O::RegexParser(p) => {
            unsupported(&p.if_expr, &p.output)?;
            let json = matches!(c, O::JsonParser(_));
            (Box::new(parser::Parser::new(p, json)?), p.on_error)
        }
        O::TimeParser(t) => {
            unsupported(&t.if_expr, &t.output)?;
            (Box::new(time::TimeOp::new(t)?), t.on_error)
        }
        O::SeverityParser(s) => {
            unsupported(&s.if_expr, &s.output)?;
            (Box::new(severity::SeverityOp::new(s)?), s.on_error)
        }
        O::TraceParser(t) => {
            unsupported(&t.if_expr, &t.output)?;
            (Box::new(trace::TraceOp::new(t)), t.on_error)
        }
        O::Move(m) => {
            unsupported(&m.if_expr, &m.output)?;
            (Box::new(transform::Move(m.clone())), m.on_error)
        }
        O::Add(a) => {
            unsupported(&a.if_expr, &a.output)?;
            (Box::new(transform::Add(a.clone())), a.on_error)
        }
        O::Remove(r) => {
            unsupported(&r.if_expr, &r.output)?;
            (Box::new(transform::Remove(r.clone())), r.on_error)
        }
    })
}

/// A field's value as text (numbers and booleans as written), for parsers of strings.
pub(crate) fn as_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
