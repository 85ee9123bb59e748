//! `json_array_parser`: a JSON array string into a list, or with `header` into a map keyed by
//! the header's comma-separated names. As otelcol: numbers become integers (fractions are
//! cut), objects stay as their JSON text (keys in their order, whitespace outside strings
//! removed), nested arrays fail, and a value that is JSON but not an array gives an empty
//! list.

use super::config::JsonArrayConfig;
use super::parser::Parse;
use super::text::go_type;
use super::Entry;
use serde_json::{Map, Value};

pub struct JsonArray {
    header: Option<Vec<String>>,
}

impl JsonArray {
    pub fn new(c: &JsonArrayConfig) -> JsonArray {
        JsonArray {
            header: c
                .header
                .as_deref()
                .filter(|h| !h.is_empty())
                .map(|h| h.split(',').map(String::from).collect()),
        }
    }

    fn items(v: &Value) -> Result<Vec<Value>, String> {
        let Value::String(s) = v else {
            return Err(format!(
                "type '{}' cannot be parsed as json array",
                go_type(v)
            ));
        };
        let failed = || "failed to parse entry".to_string();
        match serde_json::from_str(s).map_err(|_| failed())? {
            Value::Array(_) => {}
            _ => return Ok(vec![]),
        }
        elements(s)
            .into_iter()
            .map(
                |text| match serde_json::from_str(text).map_err(|_| failed())? {
                    Value::Number(n) => Ok(Value::from(
                        n.as_i64()
                            .unwrap_or_else(|| n.as_f64().unwrap_or_default() as i64),
                    )),
                    Value::Object(_) => Ok(Value::String(minify(text))),
                    Value::Array(_) => Err(failed()),
                    other => Ok(other),
                },
            )
            .collect()
    }
}

/// The texts of a valid JSON array's elements (serde_json's maps would sort an object's
/// keys; otelcol keeps them as written).
fn elements(s: &str) -> Vec<&str> {
    let mut out = vec![];
    let (mut depth, mut start, mut string) = (0usize, 0, InString::default());
    for (i, c) in s.char_indices() {
        if string.step(c) {
            continue;
        }
        match c {
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    start = i + 1;
                }
            }
            ',' | ']' | '}' if depth == 1 => {
                let item = s[start..i].trim();
                if !item.is_empty() {
                    out.push(item);
                }
                start = i + 1;
                if c != ',' {
                    depth -= 1;
                }
            }
            ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    out
}

/// JSON text without the whitespace outside strings.
fn minify(text: &str) -> String {
    let mut string = InString::default();
    text.chars()
        .filter(|&c| string.step(c) || !c.is_whitespace())
        .collect()
}

/// Whether JSON text is inside a string, character by character.
#[derive(Default)]
struct InString {
    on: bool,
    escaped: bool,
}

impl InString {
    /// True when `c` belongs to a string (its quotes included).
    fn step(&mut self, c: char) -> bool {
        if self.on {
            self.on = c != '"' || self.escaped;
            self.escaped = c == '\\' && !self.escaped;
            return true;
        }
        self.on = c == '"';
        self.on
    }
}

impl Parse for JsonArray {
    fn parse(&self, v: &Value, _: &Entry) -> Result<Map<String, Value>, String> {
        let header = self.header.as_deref().unwrap_or_default();
        let items = Self::items(v)?;
        if header.len() != items.len() {
            return Err(format!(
                "wrong number of fields: expected {}, found {}",
                header.len(),
                items.len()
            ));
        }
        Ok(header.iter().cloned().zip(items).collect())
    }

    fn parse_value(&self, v: &Value, e: &Entry) -> Result<Value, String> {
        match self.header {
            Some(_) => self.parse(v, e).map(Value::Object),
            None => Self::items(v).map(Value::Array),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_keep_their_text_order_and_fractions_are_cut() {
        let p = JsonArray::new(&JsonArrayConfig::default());
        let v = p
            .parse_value(
                &json!(r#"[{"b": 1, "a": [2]}, -2.7, 3e2]"#),
                &Entry::default(),
            )
            .unwrap();
        assert_eq!(v, json!([r#"{"b":1,"a":[2]}"#, -2, 300]));
        let err = p.parse_value(&json!("[1,"), &Entry::default()).unwrap_err();
        assert_eq!(err, "failed to parse entry");
        let err = p.parse_value(&json!(1), &Entry::default()).unwrap_err();
        assert_eq!(err, "type 'int64' cannot be parsed as json array");
        assert_eq!(
            p.parse_value(&json!("{}"), &Entry::default()).unwrap(),
            json!([])
        );
        let tricky = r#"[ "a,]\"\\", {"k" : "x, } \"y"} , null ]"#;
        assert_eq!(
            p.parse_value(&json!(tricky), &Entry::default()).unwrap(),
            json!(["a,]\"\\", r#"{"k":"x, } \"y"}"#, null])
        );
    }
}
