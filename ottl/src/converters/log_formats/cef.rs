//! `ParseCEF`: `CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class
//! ID|Name|Severity|Extension`, found at the first `CEF:` (a syslog prefix is skipped).
//! Header fields may escape `|` and `\`; extension values run to the next ` key=` and may
//! escape `\`, `=`, and newlines as `\n` / `\r`.

use super::{any_str, error, kv, string_map};
use crate::error::EvalError;
use ferrotel_core::proto::common::v1::KeyValue;
use regex::Regex;
use std::sync::LazyLock;

const HEADER_FIELDS: usize = 7;

/// An extension key (alphanumeric and `_`, from a letter) at the start or after a space.
static EXTENSION_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^| )([A-Za-z][A-Za-z0-9_]*)=").unwrap_or_else(|e| unreachable!("{e}"))
});

const KEYS: [&str; HEADER_FIELDS - 1] = [
    "cef.device_vendor",
    "cef.device_product",
    "cef.device_version",
    "cef.device_event_class_id",
    "cef.name",
    "cef.severity",
];

pub(super) fn parse(message: &str) -> Result<Vec<KeyValue>, EvalError> {
    let start = message
        .find("CEF:")
        .ok_or_else(|| error("invalid CEF message: 'CEF:' not found"))?;
    let fields = split_header(&message[start..])?;
    let version = fields[0].strip_prefix("CEF:").unwrap_or(fields[0]);
    if version.is_empty() {
        return Err(error("invalid CEF message: missing version"));
    }
    let mut out = vec![kv("cef.version", any_str(version))];
    for (key, field) in KEYS.iter().zip(&fields[1..HEADER_FIELDS]) {
        out.push(kv(
            *key,
            any_str(unescape(field, |c| matches!(c, '|' | '\\').then_some(c))),
        ));
    }
    let extension = fields.get(HEADER_FIELDS).copied().unwrap_or_default();
    out.push(kv("cef.extensions", string_map(extensions(extension))));
    Ok(out)
}

/// The seven header fields split at unescaped pipes, and the rest (the extension) when
/// there is a seventh pipe.
fn split_header(message: &str) -> Result<Vec<&str>, EvalError> {
    let bytes = message.as_bytes();
    let (mut fields, mut start, mut i) = (Vec::with_capacity(HEADER_FIELDS + 1), 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if matches!(bytes.get(i + 1), Some(b'|' | b'\\')) => i += 1,
            b'|' => {
                fields.push(&message[start..i]);
                start = i + 1;
                if fields.len() == HEADER_FIELDS {
                    fields.push(&message[start..]);
                    return Ok(fields);
                }
            }
            _ => {}
        }
        i += 1;
    }
    fields.push(&message[start..]);
    if fields.len() < HEADER_FIELDS {
        return Err(error(format!(
            "invalid CEF header: expected at least {HEADER_FIELDS} pipe-delimited fields \
             (CEF:Version, Device Vendor, Device Product, Device Version, Device Event Class \
             ID, Name, Severity), got {}",
            fields.len()
        )));
    }
    Ok(fields)
}

/// `s` with each `\c` that `escaped` maps replaced by its result; other backslashes kept.
fn unescape(s: &str, escaped: impl Fn(char) -> Option<char>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match chars
            .peek()
            .copied()
            .and_then(|n| (c == '\\').then(|| escaped(n)).flatten())
        {
            Some(r) => {
                out.push(r);
                chars.next();
            }
            None => out.push(c),
        }
    }
    out
}

/// The extension's `key=value` pairs.
fn extensions(extension: &str) -> Vec<(&str, String)> {
    let keys: Vec<_> = EXTENSION_KEY.captures_iter(extension).collect();
    let mut out = Vec::with_capacity(keys.len());
    for (i, caps) in keys.iter().enumerate() {
        let (Some(all), Some(key)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let end = keys
            .get(i + 1)
            .and_then(|next| next.get(0))
            .map_or(extension.len(), |m| m.start());
        let value = extension[all.end()..end].trim_end_matches(' ');
        let value = unescape(value, |c| match c {
            '\\' | '=' => Some(c),
            'n' => Some('\n'),
            'r' => Some('\r'),
            _ => None,
        });
        out.push((key.as_str(), value));
    }
    out
}
