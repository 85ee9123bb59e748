//! `json_array_parser`: a JSON array string into a list, or with `header` into a map keyed by
//! the header's comma-separated names. As otelcol: numbers become integers (fractions are
//! cut), objects stay as their compact JSON text, nested arrays fail, and a value that is
//! JSON but not an array gives an empty list.

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
        let items = match serde_json::from_str(s).map_err(|_| failed())? {
            Value::Array(items) => items,
            _ => return Ok(vec![]),
        };
        items
            .into_iter()
            .map(|i| match i {
                Value::Number(n) => Ok(Value::from(
                    n.as_i64()
                        .unwrap_or_else(|| n.as_f64().unwrap_or_default() as i64),
                )),
                Value::Object(_) => Ok(Value::String(i.to_string())),
                Value::Array(_) => Err(failed()),
                other => Ok(other),
            })
            .collect()
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
