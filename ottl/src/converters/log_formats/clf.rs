//! `ParseCLF`: `remotehost rfc931 authuser [date] "request" status bytes`, and for the
//! combined format `"referer" "user-agent"` after it. Quoted fields may hold Apache's
//! escapes (`\"`, `\\`, `\n`, `\xhh`, ...), which are undone; a request of three words is also
//! split into `clf.method`, `clf.request_uri` and `clf.protocol`; `clf.bytes` is absent when
//! the log says `-`.

use super::{any_str, error, kv};
use crate::error::EvalError;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use regex::Regex;
use std::sync::LazyLock;

/// A quoted field, with backslash escapes.
const QUOTED: &str = r#""((?:[^"\\]|\\.)*)""#;

fn regex(pattern: String) -> Regex {
    Regex::new(&pattern).unwrap_or_else(|e| unreachable!("{e}"))
}

static CLF: LazyLock<Regex> = LazyLock::new(|| {
    regex(format!(
        r"^(\S+) (\S+) (\S+) \[([^\]]+)\] {QUOTED} (\S+) (\S+)$"
    ))
});

static COMBINED: LazyLock<Regex> = LazyLock::new(|| {
    regex(format!(
        r"^(\S+) (\S+) (\S+) \[([^\]]+)\] {QUOTED} (\S+) (\S+) {QUOTED} {QUOTED}$"
    ))
});

pub(super) fn parse_clf(message: &str) -> Result<Vec<KeyValue>, EvalError> {
    parse(message, false)
}

pub(super) fn parse_combined(message: &str) -> Result<Vec<KeyValue>, EvalError> {
    parse(message, true)
}

fn int(v: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    }
}

fn parse(message: &str, combined: bool) -> Result<Vec<KeyValue>, EvalError> {
    let (re, format) = if combined {
        (&*COMBINED, "combined")
    } else {
        (&*CLF, "clf")
    };
    let caps = re.captures(message.trim()).ok_or_else(|| {
        error(format!(
            "invalid CLF message: does not match expected {format:?} format"
        ))
    })?;
    let group = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let mut out = vec![
        kv("clf.remote_host", any_str(group(1))),
        kv("clf.rfc931", any_str(group(2))),
        kv("clf.authuser", any_str(group(3))),
        kv("clf.timestamp", any_str(group(4))),
    ];
    let request = unescape(group(5));
    out.push(kv("clf.request", any_str(request.as_str())));
    let parts: Vec<&str> = request.splitn(3, ' ').collect();
    if let [method, uri, protocol] = parts[..] {
        out.push(kv("clf.method", any_str(method)));
        out.push(kv("clf.request_uri", any_str(uri)));
        out.push(kv("clf.protocol", any_str(protocol)));
    }
    let status = group(6);
    let status: i64 = status
        .parse()
        .map_err(|e| error(format!("invalid status code {status:?}: {e}")))?;
    out.push(kv("clf.status", int(status)));
    let bytes = group(7);
    if bytes != "-" {
        let n: i64 = bytes
            .parse()
            .map_err(|e| error(format!("invalid bytes value {bytes:?}: {e}")))?;
        out.push(kv("clf.bytes", int(n)));
    }
    if combined {
        out.push(kv("clf.referer", any_str(unescape(group(8)))));
        out.push(kv("clf.user_agent", any_str(unescape(group(9)))));
    }
    Ok(out)
}

/// Undoes Apache's escaping of a quoted field: `\"`, `\\`, C escapes and `\xhh`; other
/// backslashes are kept.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let (c, next) = (b[i], b.get(i + 1).copied());
        i += 1;
        let Some(next) = next.filter(|_| c == b'\\') else {
            out.push(c);
            continue;
        };
        i += 1;
        match next {
            b'\\' | b'"' => out.push(next),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' => match s
                .get(i..i + 2)
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => {
                    out.push(v);
                    i += 2;
                }
                None => out.extend_from_slice(b"\\x"),
            },
            other => out.extend_from_slice(&[b'\\', other]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
