//! `severity_parser` and the parsers' `severity` block: a value (text or number) looked up in
//! the mapping (the `default` preset plus `mapping`), case-insensitively.

use super::config::{MappingValue, SeverityConfig};
use super::field::Field;
use super::{as_text, text, Entry, Operator};
use serde_json::Value;
use std::collections::HashMap;

const LEVELS: [(&str, i32); 6] = [
    ("trace", 1),
    ("debug", 5),
    ("info", 9),
    ("warn", 13),
    ("error", 17),
    ("fatal", 21),
];

/// The OTLP number of a severity name (`info`, `warn3`, `default`).
pub fn number_of(name: &str) -> Option<i32> {
    if name == "default" {
        return Some(0);
    }
    LEVELS.iter().find_map(|(base, n)| {
        let rest = name.strip_prefix(base)?;
        match rest {
            "" => Some(*n),
            "2" | "3" | "4" => rest.parse::<i32>().ok().map(|k| n + k - 1),
            _ => None,
        }
    })
}

/// Stanza's name of a severity number (`INFO`, `WARN2`).
pub fn text_of(n: i32) -> String {
    let Some((base, first)) = LEVELS.iter().rev().find(|(_, first)| n >= *first) else {
        return "DEFAULT".into();
    };
    match n - first {
        0 => base.to_uppercase(),
        k => format!("{}{}", base.to_uppercase(), k + 1),
    }
}

/// A compiled mapping.
#[derive(Debug, Clone)]
pub struct Severity {
    parse_from: Field,
    exact: HashMap<String, i32>,
    ranges: Vec<(i64, i64, i32)>,
    overwrite_text: bool,
}

impl Severity {
    pub fn new(c: &SeverityConfig) -> Result<Severity, String> {
        let mut s = Severity {
            parse_from: c.parse_from.clone().unwrap_or_else(Field::body),
            exact: HashMap::new(),
            ranges: vec![],
            overwrite_text: c.overwrite_text,
        };
        match c.preset.as_str() {
            "none" => {}
            "default" | "" => {
                for (base, n) in LEVELS {
                    for k in 1..=4 {
                        let name = if k == 1 {
                            base.into()
                        } else {
                            format!("{base}{k}")
                        };
                        s.exact.insert(name, n + k - 1);
                    }
                }
            }
            other => return Err(format!("unrecognized preset '{other}'")),
        }
        for (name, values) in &c.mapping {
            let n = number_of(&name.to_lowercase())
                .ok_or_else(|| format!("unrecognized severity '{name}'"))?;
            let list = match values {
                MappingValue::One(v) => std::slice::from_ref(v),
                MappingValue::Many(vs) => vs.as_slice(),
            };
            for v in list {
                s.add(v, n)?;
            }
        }
        Ok(s)
    }

    fn add(&mut self, v: &Value, n: i32) -> Result<(), String> {
        match v {
            // A YAML list reads as one JSON array value.
            Value::Array(items) => {
                for i in items {
                    self.add(i, n)?;
                }
            }
            Value::Object(m) => {
                let bound = |k: &str| m.get(k).and_then(Value::as_i64);
                let (Some(min), Some(max)) = (bound("min"), bound("max")) else {
                    return Err("a severity range needs integer min and max".into());
                };
                self.ranges.push((min.min(max), min.max(max), n));
            }
            Value::String(s) if s.len() == 3 && s.ends_with("xx") => {
                let d: i64 = s[..1]
                    .parse()
                    .map_err(|_| format!("invalid severity value '{s}'"))?;
                self.ranges.push((d * 100, d * 100 + 99, n));
            }
            other => {
                self.exact.insert(as_text(other).to_lowercase(), n);
            }
        }
        Ok(())
    }

    /// Sets severity and text from the field; a missing field changes nothing.
    pub fn apply(&self, e: &mut Entry) -> Result<(), String> {
        // The text's buffer is reused (the entry may be a recycled one).
        let mut buf = std::mem::take(&mut e.severity_text);
        let Some(v) = self.parse_from.get(e) else {
            e.severity_text = buf;
            return Err(format!(
                "severity field does not exist: {}",
                self.parse_from
            ));
        };
        let text = &*text(v);
        let lower = if text
            .bytes()
            .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
        {
            std::borrow::Cow::Owned(text.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let found = self.exact.get(lower.as_ref()).copied().or_else(|| {
            let i = v.as_i64().or_else(|| text.parse().ok())?;
            self.ranges
                .iter()
                .find(|(lo, hi, _)| (*lo..=*hi).contains(&i))
                .map(|r| r.2)
        });
        buf.clear();
        if self.overwrite_text && found.is_some() {
            buf.push_str(&text_of(found.unwrap_or(0)));
        } else {
            buf.push_str(text);
        }
        e.severity = found.unwrap_or(0);
        e.severity_text = buf;
        Ok(())
    }
}

/// The `severity_parser` operator.
pub struct SeverityOp(Severity);

impl SeverityOp {
    pub fn new(c: &SeverityConfig) -> Result<SeverityOp, String> {
        Severity::new(c).map(SeverityOp)
    }
}

impl Operator for SeverityOp {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.0.apply(e)
    }
}
