//! The entry operators work on (stanza's `entry.Entry`) and its conversion to an OTLP
//! `LogRecord`.

use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use ferrotel_core::proto::logs::v1::LogRecord;
use serde_json::{Map, Value};

/// One log entry: a body, attributes and resource (JSON-like values), and the fields the
/// time, severity and trace parsers fill.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// Nanoseconds since the epoch when the line was read.
    pub observed: u64,
    /// Nanoseconds since the epoch from the log itself, when parsed.
    pub timestamp: Option<u64>,
    pub body: Value,
    pub attributes: Map<String, Value>,
    pub resource: Map<String, Value>,
    /// OTLP severity number (0: unspecified).
    pub severity: i32,
    pub severity_text: String,
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub trace_flags: u8,
    /// Instrumentation scope name (`scope_name_parser`).
    pub scope_name: String,
    /// Strings of entries already sent, for this one's new strings (not part of its value).
    pub spare: Spare,
}

/// A pool of emptied strings an entry carries so that parsing it allocates none: entries that
/// were encoded are [`Entry::recycle`]d, their strings kept here. Not part of the entry's
/// value: equal to any other, and a clone of an entry starts with an empty one.
#[derive(Default)]
pub struct Spare {
    strings: Vec<String>,
    /// A parser's buffer of parsed pairs (see [`super::parser::Parse::parse_pairs`]).
    pub pairs: Vec<(String, Value)>,
}

/// Strings kept at most, and the largest capacity kept.
const SPARE_STRINGS: usize = 64;
const SPARE_CAPACITY: usize = 16 << 10;

impl Spare {
    /// An empty string, with capacity when one is spare.
    pub fn string(&mut self) -> String {
        self.strings.pop().unwrap_or_default()
    }

    /// An owned copy of `s`.
    pub fn copy(&mut self, s: &str) -> String {
        let mut out = self.string();
        out.push_str(s);
        out
    }

    /// Keeps a string's buffer (within the bounds).
    pub fn keep(&mut self, mut s: String) {
        if self.strings.len() < SPARE_STRINGS && s.capacity() <= SPARE_CAPACITY && s.capacity() > 0
        {
            s.clear();
            self.strings.push(s);
        }
    }

    /// Keeps the buffer of a string value.
    pub fn keep_value(&mut self, v: Value) {
        if let Value::String(s) = v {
            self.keep(s);
        }
    }
}

impl Clone for Spare {
    fn clone(&self) -> Spare {
        Spare::default()
    }
}

impl PartialEq for Spare {
    fn eq(&self, _: &Spare) -> bool {
        true
    }
}

impl std::fmt::Debug for Spare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spare({})", self.strings.len())
    }
}

impl Entry {
    /// An entry with a string body, observed now.
    pub fn new(body: Value, observed: u64) -> Entry {
        Entry {
            observed,
            body,
            ..Entry::default()
        }
    }

    /// Empties the entry for reuse: its strings go to [`Entry::spare`], its buffers keep
    /// their capacity.
    pub fn recycle(&mut self) {
        let sp = &mut self.spare;
        sp.keep_value(std::mem::take(&mut self.body));
        for map in [&mut self.attributes, &mut self.resource] {
            for (k, v) in std::mem::take(map) {
                sp.keep(k);
                sp.keep_value(v);
            }
        }
        self.observed = 0;
        self.timestamp = None;
        self.severity = 0;
        self.severity_text.clear();
        self.trace_id.clear();
        self.span_id.clear();
        self.trace_flags = 0;
        self.scope_name.clear();
    }

    /// The OTLP record.
    pub fn into_log_record(self) -> LogRecord {
        LogRecord {
            time_unix_nano: self.timestamp.unwrap_or(0),
            observed_time_unix_nano: self.observed,
            severity_number: self.severity,
            severity_text: self.severity_text,
            body: Some(to_any(self.body)),
            attributes: to_kvs(self.attributes),
            flags: u32::from(self.trace_flags),
            trace_id: self.trace_id,
            span_id: self.span_id,
            ..LogRecord::default()
        }
    }
}

/// Map entries as OTLP attributes.
pub fn to_kvs(map: Map<String, Value>) -> Vec<KeyValue> {
    map.into_iter()
        .map(|(key, v)| KeyValue {
            key,
            value: Some(to_any(v)),
            ..KeyValue::default()
        })
        .collect()
}

/// A JSON-like value as an OTLP value (integers stay integers).
pub fn to_any(v: Value) -> AnyValue {
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(any_value::Value::BoolValue(b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or_default()),
        }),
        Value::String(s) => Some(any_value::Value::StringValue(s)),
        Value::Array(a) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: a.into_iter().map(to_any).collect(),
        })),
        Value::Object(m) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: to_kvs(m),
        })),
    };
    AnyValue { value }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn record_carries_every_field() {
        let mut e = Entry::new(json!("line"), 5);
        e.timestamp = Some(7);
        e.severity = 9;
        e.attributes.insert("n".into(), json!(3));
        e.span_id = vec![1; 8];
        let r = e.into_log_record();
        assert_eq!((r.time_unix_nano, r.observed_time_unix_nano), (7, 5));
        assert_eq!(r.severity_number, 9);
        assert_eq!(
            r.attributes[0].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(3))
        );
        assert_eq!(r.span_id.len(), 8);
    }
}
