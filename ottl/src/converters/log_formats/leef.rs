//! `ParseLEEF`: `LEEF:1.0|Vendor|Product|Version|EventID|attributes` (attributes split at
//! tabs) or `LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|attributes`, where the
//! delimiter is one character or a `0x` hex byte (empty: tab) and may be left out; found at
//! the first `LEEF:` (a syslog prefix is skipped). Attributes are `key=value` pairs kept as
//! written, pairs without `=` or key skipped, a later key replacing an earlier one.

use super::{any_str, error, kv, string_map};
use crate::error::EvalError;
use ferrotel_core::proto::common::v1::KeyValue;

pub(super) fn parse(message: &str) -> Result<Vec<KeyValue>, EvalError> {
    let start = message
        .find("LEEF:")
        .ok_or_else(|| error("invalid LEEF message: 'LEEF:' not found"))?;
    let (version, rest) = message[start..]
        .split_once('|')
        .ok_or_else(|| error("invalid LEEF message: missing pipe delimiter in header"))?;
    let version = version.strip_prefix("LEEF:").unwrap_or(version);
    let (header, delimiter, attributes) = match version {
        "1.0" => header_v1(rest)?,
        "2.0" => header_v2(rest)?,
        other => {
            return Err(error(format!(
                "unsupported LEEF version: {other} (supported: 1.0, 2.0)"
            )))
        }
    };
    let pairs = attributes
        .split(delimiter.as_str())
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k, v.to_string()));
    let mut out = vec![kv("leef.version", any_str(version))];
    let keys = [
        "leef.vendor",
        "leef.product.name",
        "leef.product.version",
        "leef.event.id",
    ];
    out.extend(keys.iter().zip(header).map(|(k, v)| kv(*k, any_str(v))));
    out.push(kv("leef.attributes", string_map(pairs)));
    Ok(out)
}

/// Vendor, product, version and event id, the attribute delimiter, and the attributes.
type Header<'a> = ([&'a str; 4], String, &'a str);

/// The `|`-separated fields of a LEEF `version` header (at most `n`), of which the first four
/// (vendor, product, version, event id) are required.
fn header_fields<'a>(
    rest: &'a str,
    n: usize,
    version: &str,
) -> Result<([&'a str; 4], Vec<&'a str>), EvalError> {
    let parts: Vec<&str> = rest.splitn(n, '|').collect();
    if parts.len() < 4 {
        return Err(error(format!(
            "invalid LEEF {version} header: expected at least 4 fields (vendor, product, \
             version, eventID), got {}",
            parts.len()
        )));
    }
    Ok(([parts[0], parts[1], parts[2], parts[3]], parts))
}

fn header_v1(rest: &str) -> Result<Header<'_>, EvalError> {
    let (header, parts) = header_fields(rest, 5, "1.0")?;
    Ok((
        header,
        "\t".into(),
        parts.get(4).copied().unwrap_or_default(),
    ))
}

fn header_v2(rest: &str) -> Result<Header<'_>, EvalError> {
    let (header, parts) = header_fields(rest, 6, "2.0")?;
    match parts.get(4) {
        None => Ok((header, "\t".into(), "")),
        // No delimiter field: the fifth field is the first attribute.
        Some(spec) if spec.contains('=') => {
            let attributes = rest.splitn(5, '|').nth(4).unwrap_or_default();
            Ok((header, "\t".into(), attributes))
        }
        Some(spec) => {
            let delimiter =
                delimiter(spec).map_err(|e| error(format!("invalid LEEF 2.0 delimiter: {e}")))?;
            Ok((header, delimiter, parts.get(5).copied().unwrap_or_default()))
        }
    }
}

/// A LEEF 2.0 delimiter: one character, a `0x` hex byte, or tab when empty.
fn delimiter(spec: &str) -> Result<String, String> {
    if spec.is_empty() {
        return Ok("\t".into());
    }
    if let Some(hex) = spec.strip_prefix("0x").or_else(|| spec.strip_prefix("0X")) {
        if hex.is_empty() {
            return Err("empty hex value".into());
        }
        let bytes =
            ::hex::decode(hex).map_err(|e| format!("invalid hex delimiter {spec:?}: {e}"))?;
        return match bytes[..] {
            [b] => Ok(char::from(b).to_string()),
            _ => Err(format!(
                "hex delimiter must decode to a single byte, got {} bytes",
                bytes.len()
            )),
        };
    }
    if spec.len() != 1 {
        return Err(format!(
            "delimiter must be a single character or 0x-prefixed hex value, got {spec:?}"
        ));
    }
    Ok(spec.to_string())
}
