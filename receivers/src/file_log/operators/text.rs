//! Transformers of one string field, in place: `unquote` (Go's `strconv.Unquote`),
//! `regex_replace` (Go's `ReplaceAllString`) and `sanitize_utf8`. A missing field is left
//! alone, as in stanza; a field that is not a string is an error.

use super::config::{RegexReplaceConfig, SanitizeConfig};
use super::field::Field;
use super::parser::go_regex;
use super::{Entry, Operator};
use serde_json::Value;

/// Go's `%T` of a value as stanza's entries hold it, for error texts.
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Applies `f` to the string at `field`; `what` completes "type T cannot be ...".
fn with_string(
    field: &Field,
    e: &mut Entry,
    what: &str,
    f: impl FnOnce(&str) -> Result<Option<String>, String>,
) -> Result<(), String> {
    let changed = match field.get(e) {
        None => return Ok(()),
        Some(Value::String(s)) => f(s)?,
        Some(other) => return Err(format!("type {} cannot be {what}", go_type(other))),
    };
    if let Some(s) = changed {
        field.set(e, Value::String(s));
    }
    Ok(())
}

/// `unquote`: a double-quoted, back-quoted or single-quoted (one character) Go string
/// literal becomes its text. Escapes of bytes that are not UTF-8 (`\xff`) become U+FFFD.
pub struct Unquote(pub Field);

impl Operator for Unquote {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        with_string(&self.0, e, "unquoted", |s| {
            go_unquote(s)
                .map(Some)
                .ok_or_else(|| "invalid syntax".to_string())
        })
    }
}

/// Go's `strconv.Unquote`; None is its `ErrSyntax`.
pub fn go_unquote(s: &str) -> Option<String> {
    let quote = s.chars().next()?;
    if s.len() < 2 || !s.ends_with(quote) {
        return None;
    }
    let inner = s.get(1..s.len() - 1)?;
    match quote {
        '`' if inner.contains('`') => None,
        '`' => Some(inner.replace('\r', "")),
        '"' | '\'' if inner.contains('\n') => None,
        '"' | '\'' => {
            let out = unescape(inner, quote)?;
            let one_char = out.chars().count() == 1;
            (quote == '"' || one_char).then_some(out)
        }
        _ => None,
    }
}

/// The escapes of a Go interpreted literal; a bare `quote` is an error.
fn unescape(s: &str, quote: char) -> Option<String> {
    let mut bytes: Vec<u8> = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return None;
        }
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let simple = match chars.next()? {
            'a' => 7,
            'b' => 8,
            'f' => 12,
            'n' => b'\n',
            'r' => b'\r',
            't' => b'\t',
            'v' => 11,
            '\\' => b'\\',
            c @ ('\'' | '"') if c == quote => c as u8,
            'x' => u8::from_str_radix(&take(&mut chars, 2)?, 16).ok()?,
            d @ '0'..='7' => {
                let digits = format!("{d}{}", take(&mut chars, 2)?);
                u8::try_from(u32::from_str_radix(&digits, 8).ok()?).ok()?
            }
            u @ ('u' | 'U') => {
                let hex = take(&mut chars, if u == 'u' { 4 } else { 8 })?;
                let c = char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?;
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return None,
        };
        bytes.push(simple);
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The next `n` characters, all hex or octal digits as the caller checks.
fn take(chars: &mut std::str::Chars<'_>, n: usize) -> Option<String> {
    let out: String = chars.take(n).collect();
    (out.chars().count() == n && out.chars().all(|c| c.is_ascii_hexdigit())).then_some(out)
}

/// ANSI "Control Sequence Introducer" escape codes (`ESC [` ... final byte).
const ANSI_CONTROL_SEQUENCES: &str = r"\x1B\[[\x30-\x3F]*[\x20-\x2F]*[\x40-\x7E]";

/// `regex_replace`: every match of `regex` (or the well-known `regex_name`) is replaced by
/// `replace_with`, where `$1`, `${1}` and `${name}` are groups.
pub struct RegexReplace {
    field: Field,
    regex: regex::Regex,
    replace_with: String,
}

impl RegexReplace {
    pub fn new(c: &RegexReplaceConfig) -> Result<RegexReplace, String> {
        if c.regex.is_empty() == c.regex_name.is_empty() {
            return Err("either regex or regex_name must be set".into());
        }
        let regex = match c.regex_name.as_str() {
            "" => go_regex(&c.regex)?,
            "ansi_control_sequences" => go_regex(ANSI_CONTROL_SEQUENCES)?,
            other => return Err(format!("regex_name {other} is unknown")),
        };
        Ok(RegexReplace {
            field: c.field.clone(),
            regex,
            replace_with: c.replace_with.clone(),
        })
    }
}

impl Operator for RegexReplace {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        with_string(&self.field, e, "handled", |s| {
            let out = self.regex.replace_all(s, self.replace_with.as_str());
            Ok(Some(out.into_owned()))
        })
    }
}

/// `sanitize_utf8`: otelcol replaces invalid UTF-8 in the field with U+FFFD. ferrotel's
/// strings are valid UTF-8 by construction (lines are decoded with U+FFFD for invalid
/// bytes as they are read), so only the type is checked.
pub struct SanitizeUtf8(Field);

impl SanitizeUtf8 {
    pub fn new(c: &SanitizeConfig) -> SanitizeUtf8 {
        SanitizeUtf8(c.field.clone())
    }
}

impl Operator for SanitizeUtf8 {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        match self.0.get(e) {
            None | Some(Value::String(_)) => Ok(()),
            Some(other) => Err(format!(
                "field '{}' is not a string, got {}",
                self.0,
                go_type(other)
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unquote_is_gos() {
        for (input, want) in [
            ("\"val\"", Some("val")),
            ("`val`", Some("val")),
            ("'v'", Some("v")),
            ("'val'", None),
            ("val", None),
            ("\"", None),
            ("\"a\\tb\\u00e9\\x41\\101\\\"\"", Some("a\tbéAA\"")),
            ("\"a\"b\"", None),
            ("\"\\'\"", None),
            ("'\\''", Some("'")),
            ("\"\\q\"", None),
            ("\"\\xff\"", Some("\u{fffd}")),
            ("\"\\ud800\"", None),
            ("`a\r\nb`", Some("a\nb")),
            ("\"a\nb\"", None),
        ] {
            assert_eq!(go_unquote(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn regex_replace_needs_exactly_one_regex() {
        let c = |regex: &str, name: &str| RegexReplaceConfig {
            field: Field::body(),
            regex: regex.into(),
            regex_name: name.into(),
            replace_with: String::new(),
        };
        let err = |c| RegexReplace::new(&c).err().unwrap();
        assert_eq!(err(c("", "")), "either regex or regex_name must be set");
        assert_eq!(err(c("a", "x")), "either regex or regex_name must be set");
        assert_eq!(err(c("", "x")), "regex_name x is unknown");
    }
}
