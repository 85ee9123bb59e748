//! Values formatted as otelcol (Go) writes them: `AsString`, floats as `strconv.FormatFloat`, maps
//! and lists as pdata's JSON, bytes as standard base64. Trace and span ids are plain lower-case
//! hex: `hex::encode`. Durations as Go's `Duration.String()`, times as RFC 3339 with nanoseconds.

use crate::proto::common::v1::any_value;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::time::{Duration, SystemTime};

/// otelcol's `Value.AsString()`: strings as-is, other scalars formatted, maps and lists as JSON.
pub fn value_as_string(v: Option<&any_value::Value>) -> String {
    use any_value::Value as V;
    match v {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => format_go_float(*d),
        Some(V::BytesValue(b)) => STANDARD.encode(b),
        Some(other) => value_to_json(Some(other)),
    }
}

/// A double formatted as Go's `strconv.FormatFloat(f, 'g', -1, 64)`-ish, which otelcol uses.
pub fn format_go_float(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if d.is_nan() {
        return "NaN".into();
    }
    let exp = if d == 0.0 {
        0
    } else {
        d.abs().log10().floor() as i32
    };
    if (-4..21).contains(&exp) {
        format!("{d}")
    } else {
        let s = format!("{d:e}");
        // Rust writes 1e21, Go writes 1e+21.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!(
                "{m}e+{}",
                if e.len() == 1 {
                    format!("0{e}")
                } else {
                    e.to_string()
                }
            ),
            Some((m, e)) => {
                let digits = &e[1..];
                format!(
                    "{m}e-{}",
                    if digits.len() == 1 {
                        format!("0{digits}")
                    } else {
                        digits.to_string()
                    }
                )
            }
            None => s,
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` exactly: the shortest digits that read back the
/// same, with an exponent (`1e+06`, `1.5e-05`) when it is below -4 or at least 6.
pub fn format_go_g(f: f64) -> String {
    if !f.is_finite() {
        return format_go_float(f);
    }
    // Rust's `{:e}` has the same shortest digits: `1.234567e6`.
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// JSON rendering of an AnyValue as pdata's `AsString` does for maps and slices.
pub fn value_to_json(v: Option<&any_value::Value>) -> String {
    use any_value::Value as V;
    fn esc(s: &str) -> String {
        let mut o = String::with_capacity(s.len() + 2);
        o.push('"');
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }
    match v {
        None => "null".into(),
        Some(V::StringValue(s)) => esc(s),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => format_go_float(*d),
        Some(V::BytesValue(b)) => esc(&STANDARD.encode(b)),
        Some(V::StringValueStrindex(i)) => i.to_string(),
        Some(V::ArrayValue(a)) => {
            let parts: Vec<String> = a
                .values
                .iter()
                .map(|x| value_to_json(x.value.as_ref()))
                .collect();
            format!("[{}]", parts.join(","))
        }
        Some(V::KvlistValue(kv)) => {
            let mut entries: Vec<(&str, String)> = kv
                .values
                .iter()
                .map(|e| {
                    (
                        e.key.as_str(),
                        value_to_json(e.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{v}", esc(k)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

/// Go's `net/url` unescaping: `%XX` escapes decoded, and `+` as a space when `plus_is_space`
/// (query strings, `url.QueryUnescape`); on a bad escape, Go's error text
/// (`invalid URL escape "%zz"`). The bytes, which need not be UTF-8.
pub fn url_unescape(s: &str, plus_is_space: bool) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |j: usize| b.get(j).and_then(|c| char::from(*c).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!("invalid URL escape {bad:?}"));
                };
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// Go's `html.EscapeString`, appended to `out`: `<`, `>`, `&`, `'` and `"` as entities.
pub fn html_escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            c => out.push(c),
        }
    }
}

/// Go's `time.Duration.String()`: `12.56420005s`, `1m30s`, `1h0m0s`, `1.5ms`, `0s`.
pub fn go_duration(d: Duration) -> String {
    fn with_fraction(n: u128, unit: u128) -> String {
        let (int, rem) = (n / unit, n % unit);
        if rem == 0 {
            return int.to_string();
        }
        let width = unit.ilog10() as usize;
        let frac = format!("{rem:0width$}");
        format!("{int}.{}", frac.trim_end_matches('0'))
    }
    let n = d.as_nanos();
    match n {
        0 => "0s".into(),
        1..=999 => format!("{n}ns"),
        1_000..=999_999 => format!("{}µs", with_fraction(n, 1_000)),
        1_000_000..=999_999_999 => format!("{}ms", with_fraction(n, 1_000_000)),
        _ => {
            let secs = d.as_secs();
            let (h, m) = (secs / 3600, (secs % 3600) / 60);
            let s = with_fraction(n % 60_000_000_000, 1_000_000_000);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, m) => format!("{m}m{s}s"),
                (h, m) => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

/// Go's RFC3339Nano in UTC: `2024-10-07T10:00:08.004685295Z` (trailing zeros trimmed).
pub fn rfc3339_nano(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_nanos(t).to_string();
    let s = s.trim_end_matches('Z');
    match s.split_once('.') {
        Some((secs, frac)) if !frac.trim_end_matches('0').is_empty() => {
            format!("{secs}.{}Z", frac.trim_end_matches('0'))
        }
        Some((secs, _)) => format!("{secs}Z"),
        None => format!("{s}Z"),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn url_unescape_as_go() {
        assert_eq!(url_unescape("a%20b+c", true).unwrap(), b"a b c");
        assert_eq!(url_unescape("a%20b+c", false).unwrap(), b"a b+c");
        assert_eq!(url_unescape("%ff", false).unwrap(), vec![0xff]);
        assert_eq!(
            url_unescape("x%zz", true).unwrap_err(),
            r#"invalid URL escape "%zz""#
        );
        assert_eq!(
            url_unescape("%4", true).unwrap_err(),
            r#"invalid URL escape "%4""#
        );
        // A bad escape before a multi-byte character is reported without splitting it.
        assert_eq!(
            url_unescape("%€", true).unwrap_err(),
            r#"invalid URL escape "%€""#
        );
    }

    use super::*;
    use crate::proto::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_float(1.5), "1.5");
        assert_eq!(format_go_float(3.0), "3");
        assert_eq!(format_go_float(1e21), "1e+21");
        assert_eq!(format_go_float(1e-7), "1e-07");
        assert_eq!(format_go_float(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn bytes_are_padded_standard_base64() {
        use any_value::Value as V;
        for (b, want) in [
            (&b""[..], ""),
            (b"h", "aA=="),
            (b"he", "aGU="),
            (b"hello", "aGVsbG8="),
            (&[0xfb, 0xff, 0xfe][..], "+//+"),
        ] {
            assert_eq!(value_as_string(Some(&V::BytesValue(b.to_vec()))), want);
        }
        let list = V::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key: "b".into(),
                value: Some(AnyValue {
                    value: Some(V::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(V::BytesValue(b"hi".to_vec())),
                        }],
                    })),
                }),
                ..Default::default()
            }],
        });
        assert_eq!(value_as_string(Some(&list)), r#"{"b":["aGk="]}"#);
    }

    #[test]
    fn go_formats() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(
            go_duration(Duration::from_nanos(12_564_200_050)),
            "12.56420005s"
        );
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(go_duration(Duration::from_nanos(42)), "42ns");
        let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_728_295_208_004_685_295);
        assert_eq!(rfc3339_nano(t), "2024-10-07T10:00:08.004685295Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_728_295_208_500);
        assert_eq!(rfc3339_nano(t), "2024-10-07T10:00:08.5Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_728_295_208);
        assert_eq!(rfc3339_nano(t), "2024-10-07T10:00:08Z");
    }
}
