//! `key_value_parser`: `k1=v1 k2="v 2"` into `{k1: v1, k2: "v 2"}`. Pairs are split on
//! `pair_delimiter` (default: runs of whitespace) outside quotes, each pair once on
//! `delimiter`; keys and values lose surrounding quotes and spaces; all values are strings.

use super::config::KeyValueConfig;
use super::parser::Parse;
use super::{kind, Entry};
use serde_json::{Map, Value};

pub struct KeyValue {
    delimiter: String,
    pair_delimiter: Option<String>,
}

impl KeyValue {
    pub fn new(c: &KeyValueConfig) -> Result<KeyValue, String> {
        if c.delimiter.is_empty() {
            return Err("delimiter is a required parameter".into());
        }
        let pair_delimiter = c.pair_delimiter.clone().filter(|p| !p.is_empty());
        if pair_delimiter.as_deref() == Some(c.delimiter.as_str()) {
            return Err("delimiter and pair_delimiter cannot be the same value".into());
        }
        Ok(KeyValue {
            delimiter: c.delimiter.clone(),
            pair_delimiter,
        })
    }

    /// The pairs, split outside single or double quotes.
    fn pairs<'a>(&self, s: &'a str) -> Vec<&'a str> {
        let mut out = vec![];
        let mut quote: Option<char> = None;
        let mut start = 0;
        let mut i = 0;
        while i < s.len() {
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None => {
                    let sep = match &self.pair_delimiter {
                        Some(d) => s[i..].starts_with(d.as_str()).then_some(d.len()),
                        None => c.is_whitespace().then_some(c.len_utf8()),
                    };
                    if let Some(n) = sep {
                        out.push(&s[start..i]);
                        i += n;
                        start = i;
                        continue;
                    }
                }
            }
            i += c.len_utf8();
        }
        out.push(&s[start..]);
        out.retain(|p| !p.trim().is_empty());
        out
    }
}

fn clean(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'').trim().to_string()
}

impl Parse for KeyValue {
    fn parse(&self, v: &Value, _: &Entry) -> Result<Map<String, Value>, String> {
        let Value::String(s) = v else {
            return Err(format!(
                "type {} cannot be parsed as key value pairs",
                kind(v)
            ));
        };
        if s.is_empty() {
            return Err("parse from field is empty".into());
        }
        let mut out = Map::new();
        let mut errs = vec![];
        for raw in self.pairs(s) {
            match raw.split_once(self.delimiter.as_str()) {
                Some((k, v)) => {
                    out.insert(clean(k), Value::String(clean(v)));
                }
                None => errs.push(format!(
                    "expected '{raw}' to split by '{}' into two items, got 1",
                    self.delimiter
                )),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(errs.join("; "))
        }
    }
}
