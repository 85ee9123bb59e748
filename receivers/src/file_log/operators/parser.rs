//! `json_parser` and `regex_parser`: parse `parse_from` into a map at `parse_to`, then the
//! embedded `timestamp`, `severity` and `trace` blocks and the optional `body` move.

use super::config::ParserConfig;
use super::field::Field;
use super::severity::Severity;
use super::time::TimeParse;
use super::trace::TraceFields;
use super::{as_text, Entry, Operator};
use serde_json::{Map, Value};

enum How {
    Json,
    Regex(regex::Regex),
}

/// A configured parser.
pub struct Parser {
    how: How,
    parse_from: Field,
    parse_to: Field,
    body: Option<Field>,
    timestamp: Option<TimeParse>,
    severity: Option<Severity>,
    trace: Option<TraceFields>,
}

impl Parser {
    pub fn new(c: &ParserConfig, json: bool) -> Result<Parser, String> {
        let how = match (json, &c.regex) {
            (true, None) => How::Json,
            (true, Some(_)) => return Err("unknown field `regex` for json_parser".into()),
            (false, None) => return Err("missing required field 'regex'".into()),
            (false, Some(r)) => {
                let re = regex::Regex::new(r).map_err(|e| format!("compiling regex: {e}"))?;
                if re.capture_names().flatten().next().is_none() {
                    return Err("no named capture groups in regex pattern".into());
                }
                How::Regex(re)
            }
        };
        Ok(Parser {
            how,
            parse_from: c.parse_from.clone(),
            parse_to: c.parse_to.clone(),
            body: c.body.clone(),
            timestamp: c.timestamp.as_ref().map(TimeParse::new).transpose()?,
            severity: c.severity.as_ref().map(Severity::new).transpose()?,
            trace: c.trace.as_ref().map(TraceFields::new),
        })
    }

    fn parse(&self, v: &Value) -> Result<Map<String, Value>, String> {
        match &self.how {
            How::Json => match v {
                Value::String(s) => match serde_json::from_str(s) {
                    Ok(Value::Object(m)) => Ok(m),
                    Ok(_) => Err("expected { character for map value".into()),
                    Err(e) => Err(e.to_string()),
                },
                Value::Object(m) => Ok(m.clone()),
                other => Err(format!("type {} cannot be parsed as JSON", kind(other))),
            },
            How::Regex(re) => {
                let Value::String(s) = v else {
                    return Err(format!("type '{}' cannot be parsed as regex", kind(v)));
                };
                let caps = re
                    .captures(s)
                    .ok_or_else(|| "regex pattern does not match".to_string())?;
                Ok(re
                    .capture_names()
                    .flatten()
                    .filter_map(|n| {
                        Some((n.to_string(), Value::String(caps.name(n)?.as_str().into())))
                    })
                    .collect())
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

impl Operator for Parser {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        let v = self.parse_from.get(e).ok_or_else(|| {
            format!(
                "entry is missing the expected parse_from field: {}",
                self.parse_from
            )
        })?;
        let parsed = self
            .parse(v)
            .map_err(|err| format!("{err}: {}", as_text(v)))?;
        if self.parse_to == self.parse_from {
            self.parse_from.delete(e);
        }
        self.parse_to.set(e, Value::Object(parsed));
        if let Some(b) = &self.body {
            if let Some(v) = b.get(e).cloned() {
                e.body = v;
            }
        }
        let mut errs = vec![];
        if let Some(t) = &self.timestamp {
            t.apply(e).unwrap_or_else(|err| errs.push(err));
        }
        if let Some(s) = &self.severity {
            s.apply(e).unwrap_or_else(|err| errs.push(err));
        }
        if let Some(t) = &self.trace {
            t.apply(e).unwrap_or_else(|err| errs.push(err));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}
