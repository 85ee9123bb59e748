//! Stanza field references: `body`, `body.key.nested`, `attributes.key`,
//! `attributes["dotted.key"]`, `resource.key`, and reading, writing and deleting them on an
//! [`Entry`].

use super::entry::Entry;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// Which part of the entry a field lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Body,
    Attributes,
    Resource,
}

/// A parsed field reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub root: Root,
    pub keys: Vec<String>,
}

impl Field {
    pub fn body() -> Field {
        Field {
            root: Root::Body,
            keys: vec![],
        }
    }

    pub fn attributes() -> Field {
        Field {
            root: Root::Attributes,
            keys: vec![],
        }
    }

    pub fn attribute(key: &str) -> Field {
        Field {
            root: Root::Attributes,
            keys: vec![key.to_string()],
        }
    }

    /// Parses `attributes.a.b`, `body`, `resource["k.8s"]`.
    pub fn parse(s: &str) -> Result<Field, String> {
        let parts = split_keys(s)?;
        let (first, keys) = parts
            .split_first()
            .ok_or_else(|| "empty field".to_string())?;
        let root = match first.as_str() {
            "body" => Root::Body,
            "attributes" => Root::Attributes,
            "resource" => Root::Resource,
            _ => return Err(format!("unrecognized prefix in field {s:?}")),
        };
        if root != Root::Body && keys.is_empty() {
            // Stanza allows the whole attributes map as parse_to.
            return Ok(Field { root, keys: vec![] });
        }
        Ok(Field {
            root,
            keys: keys.to_vec(),
        })
    }

    /// The value at this field, if present.
    pub fn get<'e>(&self, e: &'e Entry) -> Option<&'e Value> {
        let (first, rest) = match self.root {
            Root::Body => return get_path(&e.body, &self.keys),
            Root::Attributes => (self.keys.first()?, &self.keys[1..]),
            Root::Resource => (self.keys.first()?, &self.keys[1..]),
        };
        let map = self.map(e);
        get_path(map.get(first)?, rest)
    }

    fn map<'e>(&self, e: &'e Entry) -> &'e Map<String, Value> {
        match self.root {
            Root::Resource => &e.resource,
            _ => &e.attributes,
        }
    }

    /// Sets the value, creating intermediate maps (a non-map on the way is replaced). A map
    /// set where a map is merges into it, key by key, as stanza's fields do.
    pub fn set(&self, e: &mut Entry, value: Value) {
        let (root, keys): (&mut Value, &[String]) = match self.root {
            Root::Body => (&mut e.body, &self.keys),
            Root::Attributes | Root::Resource => {
                let map = match self.root {
                    Root::Resource => &mut e.resource,
                    _ => &mut e.attributes,
                };
                let Some((first, rest)) = self.keys.split_first() else {
                    if let Value::Object(m) = value {
                        map.extend(m);
                    }
                    return;
                };
                if rest.is_empty() {
                    merge_or_replace(map.entry(first.clone()).or_insert(Value::Null), value);
                    return;
                }
                let slot = map
                    .entry(first.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                (slot, rest)
            }
        };
        set_path(root, keys, value);
    }

    /// Removes and returns the value.
    pub fn delete(&self, e: &mut Entry) -> Option<Value> {
        match self.root {
            Root::Body => {
                let Some((last, parents)) = self.keys.split_last() else {
                    return Some(std::mem::replace(&mut e.body, Value::Null));
                };
                get_path_mut(&mut e.body, parents)?
                    .as_object_mut()?
                    .remove(last)
            }
            Root::Attributes | Root::Resource => {
                let map = match self.root {
                    Root::Resource => &mut e.resource,
                    _ => &mut e.attributes,
                };
                let (last, parents) = self.keys.split_last()?;
                let Some((first, mid)) = parents.split_first() else {
                    return map.remove(last);
                };
                get_path_mut(map.get_mut(first)?, mid)?
                    .as_object_mut()?
                    .remove(last)
            }
        }
    }
}

fn split_keys(s: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => out.push(std::mem::take(&mut cur)),
            '[' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                let quote = chars.next().filter(|q| *q == '"' || *q == '\'');
                let quote = quote.ok_or_else(|| format!("invalid field {s:?}"))?;
                let key: String = chars.by_ref().take_while(|c| *c != quote).collect();
                if chars.next() != Some(']') {
                    return Err(format!("invalid field {s:?}"));
                }
                out.push(key);
                if chars.peek() == Some(&'.') {
                    chars.next();
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    if out.iter().any(String::is_empty) {
        return Err(format!("invalid field {s:?}"));
    }
    Ok(out)
}

fn get_path<'v>(mut v: &'v Value, keys: &[String]) -> Option<&'v Value> {
    for k in keys {
        v = v.as_object()?.get(k)?;
    }
    Some(v)
}

fn get_path_mut<'v>(mut v: &'v mut Value, keys: &[String]) -> Option<&'v mut Value> {
    for k in keys {
        v = v.as_object_mut()?.get_mut(k)?;
    }
    Some(v)
}

fn set_path(mut v: &mut Value, keys: &[String], value: Value) {
    for k in keys {
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        let Value::Object(m) = v else { return };
        v = m.entry(k.clone()).or_insert(Value::Null);
    }
    merge_or_replace(v, value);
}

fn merge_or_replace(slot: &mut Value, value: Value) {
    match (slot, value) {
        (Value::Object(current), Value::Object(new)) => current.extend(new),
        (slot, value) => *slot = value,
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = match self.root {
            Root::Body => "body",
            Root::Attributes => "attributes",
            Root::Resource => "resource",
        };
        f.write_str(root)?;
        for k in &self.keys {
            if k.contains('.') {
                write!(f, "[\"{k}\"]")?;
            } else {
                write!(f, ".{k}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Field::parse(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_forms() {
        let f = Field::parse("attributes[\"k8s.pod\"].x").unwrap();
        assert_eq!(f.root, Root::Attributes);
        assert_eq!(f.keys, ["k8s.pod", "x"]);
        assert_eq!(Field::parse("body").unwrap(), Field::body());
        assert!(Field::parse("bogus.x").is_err());
    }

    #[test]
    fn set_get_delete_nested() {
        let mut e = Entry::default();
        let f = Field::parse("attributes.a.b").unwrap();
        f.set(&mut e, json!(1));
        assert_eq!(f.get(&e), Some(&json!(1)));
        assert_eq!(f.delete(&mut e), Some(json!(1)));
        assert_eq!(f.get(&e), None);
        let b = Field::parse("body.msg").unwrap();
        b.set(&mut e, json!("hi"));
        assert_eq!(e.body, json!({"msg": "hi"}));
    }
}
