//! `${env:VAR}`, `${VAR}`, `${env:VAR:-default}` and `$$` in string values, as otelcol's confmap.

use crate::{ConfigError, Value};
use once_cell::sync::Lazy;
use regex::Regex;

static VAR_NAME: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^[a-zA-Z_][a-zA-Z0-9_]*$").expect("static regex"));

/// What expanding a config source found besides its values.
#[derive(Debug, Default)]
pub struct Expansion {
    pub errors: Vec<ConfigError>,
    /// otelcol's warning for each reference to an unset variable without a default (which
    /// expands to the empty string): `Configuration references unset environment variable`.
    pub warnings: Vec<String>,
}

/// Expands environment references in every string scalar of `v`, in place. A scalar that is a
/// single reference takes the YAML type of the variable's value (`${env:PORT}` becomes an int);
/// an unset variable without a default expands to the empty string, with a warning, as in
/// otelcol.
pub fn expand_env(
    v: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    found: &mut Expansion,
) {
    match v {
        Value::String(s) => {
            if !s.contains('$') {
                return;
            }
            let mut unset = vec![];
            let expanded = expand_str(s, lookup, &mut unset);
            found.warnings.extend(unset.into_iter().map(|name| {
                format!("Configuration references unset environment variable {name:?} (at {path}); it expands to the empty string")
            }));
            match expanded {
                Ok(Expanded::Whole(raw)) if raw.is_empty() => *v = Value::String(raw),
                Ok(Expanded::Whole(raw)) => {
                    *v = match serde_yaml_ng::from_str::<Value>(&raw) {
                        Ok(parsed @ (Value::Bool(_) | Value::Number(_))) => parsed,
                        _ => Value::String(raw),
                    }
                }
                Ok(Expanded::Inline(out)) => *v = Value::String(out),
                Err(m) => found.errors.push(ConfigError::new(path, m)),
            }
        }
        Value::Sequence(seq) => {
            for (i, item) in seq.iter_mut().enumerate() {
                expand_env(item, &format!("{path}[{i}]"), lookup, found);
            }
        }
        Value::Mapping(map) => {
            for (k, item) in map.iter_mut() {
                let key = key_str(k);
                let p = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                expand_env(item, &p, lookup, found);
            }
        }
        Value::Tagged(t) => expand_env(&mut t.value, path, lookup, found),
        _ => {}
    }
}

pub(crate) fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "?".to_string(),
    }
}

enum Expanded {
    /// The whole scalar was one reference: the raw value, to be re-read as YAML.
    Whole(String),
    Inline(String),
}

/// Expands `s`; the names of unset variables without a default go to `unset`.
fn expand_str(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<Expanded, String> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut refs = 0;
    let mut whole = None;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() && bytes[i + 1] == b'$' {
            out.push('$');
            i += 2;
            continue;
        }
        if bytes[i] == b'$' && i + 1 < bytes.len() && bytes[i + 1] == b'{' {
            let start = i + 2;
            let end = s[start..]
                .find('}')
                .map(|e| start + e)
                .ok_or_else(|| format!("unterminated reference in {s:?}"))?;
            let inner = &s[start..end];
            let value = resolve(inner, lookup)?.unwrap_or_else(|| {
                unset.push(inner.trim_start_matches("env:").to_string());
                String::new()
            });
            if i == 0 && end + 1 == s.len() {
                whole = Some(value.clone());
            }
            out.push_str(&value);
            refs += 1;
            i = end + 1;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8();
    }
    match (refs, whole) {
        (1, Some(w)) => Ok(Expanded::Whole(w)),
        _ => Ok(Expanded::Inline(out)),
    }
}

fn resolve(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
    let (scheme, rest) = match inner.split_once(':') {
        Some((scheme, rest)) => (scheme, rest),
        None => ("env", inner),
    };
    if scheme != "env" {
        if inner.contains(":-") && !inner.starts_with("env:") {
            return Err(format!("scheme {scheme:?} is not supported for uri {inner:?} (defaults need the explicit form ${{env:VAR:-default}})"));
        }
        return Err(format!(
            "scheme {scheme:?} is not supported for uri {inner:?}"
        ));
    }
    let (name, default) = match rest.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (rest, None),
    };
    if !VAR_NAME.is_match(name) {
        return Err(format!(
            "environment variable {name:?} has invalid name: must match ^[a-zA-Z_][a-zA-Z0-9_]*$"
        ));
    }
    Ok(match (lookup(name), default) {
        (Some(v), _) => Some(v),
        (None, Some(d)) => Some(d.to_string()),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> (Value, Vec<ConfigError>) {
        let mut v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut found = Expansion::default();
        let env = |k: &str| match k {
            "PORT" => Some("4317".to_string()),
            "HOST" => Some("collector".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        expand_env(&mut v, "", &env, &mut found);
        (v, found.errors)
    }

    #[test]
    fn expands_like_confmap() {
        let (v, e) = run("a: ${env:PORT}\nb: http://${HOST}:4318\nc: ${env:NOPE:-dflt}\nd: ${env:EMPTY:-x}\ne: $${env:PORT}\nf: ${NOPE}");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(v["a"], Value::Number(4317.into()));
        assert_eq!(v["b"], Value::String("http://collector:4318".into()));
        assert_eq!(v["c"], Value::String("dflt".into()));
        assert_eq!(v["d"], Value::String(String::new()));
        assert_eq!(v["e"], Value::String("${env:PORT}".into()));
        assert_eq!(v["f"], Value::String(String::new()));
    }

    #[test]
    fn unset_variables_expand_to_empty_with_a_warning() {
        let mut v: Value = serde_yaml_ng::from_str(
            "host: ${env:MY_POD_IP}\nendpoint: ${env:MY_POD_IP}:4317\nd: ${env:NOPE:-x}",
        )
        .unwrap();
        let mut found = Expansion::default();
        expand_env(&mut v, "", &|_| None, &mut found);
        assert_eq!(v["host"], Value::String(String::new()));
        assert_eq!(v["endpoint"], Value::String(":4317".into()));
        assert_eq!(found.warnings.len(), 2, "{:?}", found.warnings);
        assert!(
            found.warnings[0].contains("\"MY_POD_IP\" (at host)"),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn bare_default_form_is_an_error() {
        let (_, e) = run("a: ${PORT:-1}\nb: ${env:bad-name}");
        assert_eq!(e.len(), 2);
        assert!(e[0].message.contains("not supported"), "{}", e[0]);
        assert!(e[1].message.contains("invalid name"), "{}", e[1]);
        assert_eq!(e[0].path, "a");
    }
}
