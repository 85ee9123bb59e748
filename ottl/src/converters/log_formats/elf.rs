//! `ParseELF`: a W3C Extended Log Format block. Directives (`#Version: 1.0`, `#Fields: date
//! time cs-uri`, `#Software`, `#Date`, `#Start-Date`, `#End-Date`, `#Remark`; names in any
//! case) become `elf.version`, `elf.software`, ...; each data line an entry of
//! `elf.entries`, keyed `elf.<field>` by the last `#Fields` before it (a missing value reads
//! `-`, with a warning); `elf.fields` is the last `#Fields`. Values are separated by spaces or
//! tabs and may be double-quoted (`""` inside for a quote). `#Version` is required, and
//! `#Fields` before any data.

use super::{any_str, error, kv, map_value, put};
use crate::error::EvalError;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};

fn list(values: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
    }
}

/// The directive keys other than `Fields`, and the key each sets.
const DIRECTIVES: [(&str, &str); 6] = [
    ("version", "elf.version"),
    ("software", "elf.software"),
    ("date", "elf.date"),
    ("start-date", "elf.start_date"),
    ("end-date", "elf.end_date"),
    ("remark", "elf.remark"),
];

pub(super) fn parse(input: &str) -> Result<Vec<KeyValue>, EvalError> {
    let mut out = vec![kv("elf.entries", list(Vec::new()))];
    let mut entries = Vec::new();
    let mut fields: Vec<&str> = Vec::new();
    let lines = input
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty());
    for line in lines {
        let Some(body) = line.strip_prefix('#') else {
            entries.push(entry(line, &fields)?);
            continue;
        };
        let Some((key, value)) = body.split_once(':') else {
            let name = body.trim_start();
            if name
                .get(..6)
                .is_some_and(|n| n.eq_ignore_ascii_case("fields"))
            {
                return Err(error(format!(
                    "invalid ELF: malformed #Fields directive {line:?}: directive {line:?} has \
                     no colon separator"
                )));
            }
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("fields") {
            fields = value.split_whitespace().collect();
        } else if let Some((_, k)) = DIRECTIVES.iter().find(|(d, _)| key.eq_ignore_ascii_case(d)) {
            put(&mut out, k, any_str(value));
        }
    }
    if !out.iter().any(|e| e.key == "elf.version") {
        return Err(error("invalid ELF: missing #Version directive"));
    }
    put(&mut out, "elf.entries", list(entries));
    let names = fields.iter().map(|f| any_str(*f)).collect();
    out.push(kv("elf.fields", list(names)));
    Ok(out)
}

/// A data line as a map from `elf.<field>` to its value.
fn entry(line: &str, fields: &[&str]) -> Result<AnyValue, EvalError> {
    if fields.is_empty() {
        return Err(error(
            "invalid ELF: data entry found before #Fields directive",
        ));
    }
    let values = values(line)?;
    if values.len() < fields.len() {
        tracing::warn!(
            field_count = fields.len(),
            value_count = values.len(),
            "ELF data line has fewer values than fields; substituting '-'"
        );
    }
    let entries = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let v = values.get(i).map_or("-", String::as_str);
            kv(format!("elf.{f}"), any_str(v))
        })
        .collect();
    Ok(map_value(entries))
}

/// A data line's values: separated by spaces or tabs, double-quoted ones unquoted.
fn values(line: &str) -> Result<Vec<String>, EvalError> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        let Some(quoted) = rest.strip_prefix('"') else {
            if rest.is_empty() {
                return Ok(out);
            }
            let end = rest.find([' ', '\t']).unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            rest = &rest[end..];
            continue;
        };
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        rest = loop {
            match chars.next() {
                None => {
                    return Err(error(format!(
                        "invalid ELF: unterminated quoted value in data line: {line:?}"
                    )))
                }
                Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                    value.push('"');
                    chars.next();
                }
                Some((i, '"')) => break &quoted[i + 1..],
                Some((_, c)) => value.push(c),
            }
        };
        out.push(value);
    }
}
