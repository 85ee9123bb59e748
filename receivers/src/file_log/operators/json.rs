//! `json_parser`'s direct path: a JSON object text parsed into `(key, value)` pairs whose
//! strings come from the entry's [`Spare`] pool, so the attributes are filled without an
//! intermediate map and, in a steady stream, without allocating strings. The values and the
//! errors are serde_json's (the same deserializer reads the text).

use super::entry::Spare;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};
use std::fmt;

/// Parses `text`, a JSON object, into pairs appended to `out`; None when `text` is not an
/// object (the general path says what it is). On an error, `out` may hold some pairs.
pub fn parse_object(
    text: &str,
    spare: &mut Spare,
    out: &mut Vec<(String, Value)>,
) -> Option<Result<(), String>> {
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let r = de
        .deserialize_map(Object { spare, out })
        .and_then(|()| de.end());
    Some(r.map_err(|e| e.to_string()))
}

struct Object<'a> {
    spare: &'a mut Spare,
    out: &'a mut Vec<(String, Value)>,
}

impl<'de> Visitor<'de> for Object<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // serde_json reads a key as a string whatever it is asked for.
        while let Some(k) = map.next_key_seed(Any(&mut *self.spare))? {
            let Value::String(k) = k else {
                return Err(serde::de::Error::custom("key must be a string"));
            };
            let v = map.next_value_seed(Any(&mut *self.spare))?;
            self.out.push((k, v));
        }
        Ok(())
    }
}

/// Any value (or key), as serde_json's `Value` reads it; top-level strings into spare buffers.
struct Any<'a>(&'a mut Spare);

impl<'de> DeserializeSeed<'de> for Any<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Any<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(i.into()))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Number(u.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(self.0.copy(s)))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Pairs and errors are what serde_json's own `Value` parse gives.
    #[test]
    fn same_as_serde_json() {
        let cases = [
            r#"{"a":"x","b":1,"c":-2,"d":1.5,"e":true,"f":null,"g":[1,{"h":"i"}],"j":{"k":[]}}"#,
            r#" {"dup":1,"dup":"last","esc":"\"\u00e9\n"} "#,
            r#"{}"#,
            r#"{"big":18446744073709551615,"neg":-9223372036854775808,"e":1e300}"#,
            r#"{"a":1} x"#,
            r#"{"a":1,}"#,
            r#"{"a":}"#,
            r#"{"a":"unterminated"#,
            r#"{"a":[1,2}"#,
            "{\"a\":\"\\ud800\"}",
        ];
        let mut spare = Spare::default();
        for text in cases {
            let want = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
            let mut pairs = vec![];
            let got = parse_object(text, &mut spare, &mut pairs).unwrap();
            match want {
                Ok(Value::Object(m)) => {
                    got.unwrap();
                    let mut built = serde_json::Map::new();
                    built.extend(pairs);
                    assert_eq!(built, m, "{text}");
                }
                Ok(other) => panic!("not an object: {other}"),
                Err(e) => assert_eq!(got.unwrap_err(), e, "{text}"),
            }
            spare.keep("reused".to_string());
        }
        for not_object in ["[1]", "\"s\"", "3", "", "x{"] {
            assert!(parse_object(not_object, &mut spare, &mut vec![]).is_none());
        }
    }
}
