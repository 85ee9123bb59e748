//! `trace_parser` and the parsers' `trace` block: hex trace id, span id and flags.

use super::config::TraceConfig;
use super::field::Field;
use super::{as_text, Entry, Operator};

/// Where the three values are read from.
#[derive(Debug, Clone)]
pub struct TraceFields {
    trace_id: Field,
    span_id: Field,
    trace_flags: Field,
}

impl TraceFields {
    pub fn new(c: &TraceConfig) -> TraceFields {
        // Stanza's defaults are body fields (`body.trace_id`, ...).
        let or = |f: &Option<Field>, key: &str| {
            f.clone().unwrap_or_else(|| Field {
                root: super::field::Root::Body,
                keys: vec![key.to_string()],
            })
        };
        TraceFields {
            trace_id: or(&c.trace_id.parse_from, "trace_id"),
            span_id: or(&c.span_id.parse_from, "span_id"),
            trace_flags: or(&c.trace_flags.parse_from, "trace_flags"),
        }
    }

    /// Sets what is present; the fields stay where they were.
    pub fn apply(&self, e: &mut Entry) -> Result<(), String> {
        let mut errs = vec![];
        let mut hex_at = |f: &Field, name: &str| -> Option<Vec<u8>> {
            let text = as_text(f.get(e)?);
            hex::decode(text)
                .map_err(|err| errs.push(format!("{name}: {err}")))
                .ok()
        };
        let trace_id = hex_at(&self.trace_id, "trace_id");
        let span_id = hex_at(&self.span_id, "span_id");
        let flags = hex_at(&self.trace_flags, "trace_flags");
        if let Some(t) = trace_id {
            e.trace_id = t;
        }
        if let Some(s) = span_id {
            e.span_id = s;
        }
        if let Some(f) = flags {
            e.trace_flags = f.first().copied().unwrap_or_default();
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "Error decoding traces for logs: {}",
                errs.join("; ")
            ))
        }
    }
}

/// The `trace_parser` operator.
pub struct TraceOp(pub TraceFields);

impl Operator for TraceOp {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.0.apply(e)
    }
}
