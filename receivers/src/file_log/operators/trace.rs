//! `trace_parser` and the parsers' `trace` block: hex trace id, span id and flags.

use super::config::TraceConfig;
use super::field::Field;
use super::{text, Entry, Operator};

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
        // Decoded into the entry's buffers (reused when the entry is a recycled one).
        let (mut trace_id, mut span_id) = (
            std::mem::take(&mut e.trace_id),
            std::mem::take(&mut e.span_id),
        );
        let mut hex_at = |f: &Field, name: &str, out: &mut Vec<u8>| -> bool {
            let Some(v) = f.get(e) else {
                return false;
            };
            let text = &*text(v);
            let kept = out.len();
            out.resize(kept + text.len() / 2, 0);
            if unhex(text.as_bytes(), &mut out[kept..]) {
                return true;
            }
            match hex::decode_to_slice(text, &mut out[kept..]) {
                Ok(()) => true,
                Err(err) => {
                    out.truncate(kept);
                    errs.push(format!("{name}: {err}"));
                    false
                }
            }
        };
        // Each id is decoded after the old one; on success the old bytes are dropped.
        let mut decode = |f: &Field, name: &str, buf: &mut Vec<u8>| {
            let old = buf.len();
            if hex_at(f, name, buf) {
                buf.drain(..old);
            }
        };
        decode(&self.trace_id, "trace_id", &mut trace_id);
        decode(&self.span_id, "span_id", &mut span_id);
        let mut flag_buf = Vec::new();
        if hex_at(&self.trace_flags, "trace_flags", &mut flag_buf) {
            e.trace_flags = flag_buf.first().copied().unwrap_or_default();
        }
        e.trace_id = trace_id;
        e.span_id = span_id;
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

/// Hex digits to bytes, `out` being half as long; false on anything else (the hex crate then
/// says what is wrong).
fn unhex(text: &[u8], out: &mut [u8]) -> bool {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.len() == out.len() * 2
        && out.iter_mut().zip(text.chunks_exact(2)).all(|(o, pair)| {
            let (Some(hi), Some(lo)) = (digit(pair[0]), digit(pair[1])) else {
                return false;
            };
            *o = hi << 4 | lo;
            true
        })
}

/// The `trace_parser` operator.
pub struct TraceOp(pub TraceFields);

impl Operator for TraceOp {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.0.apply(e)
    }
}
