//! URL(uri): a URL's parts under semantic-convention names, split as Go's `net/url.Parse`
//! splits them (scheme lowercased; path, fragment, user name and password unescaped; no other
//! normalization), as otelcol's parseutils.ParseURI maps them.

use super::{any_str, kv};
use crate::error::EvalError;
use crate::funcs::string_arg;
use crate::value::Value;
use std::borrow::Cow;

/// `URL(uri)`: `url.original`, `url.domain`, `url.scheme` and `url.path` always; `url.port`
/// (an int), `url.fragment`, `url.user_info`, `url.username`, `url.password`, `url.query`
/// and `url.extension` when present.
pub fn url(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    if s.is_empty() {
        return Err(EvalError::new("url cannot be empty"));
    }
    let bad = |what: String| EvalError::new(format!("parse {s:?}: {what}"));
    let u = split_url(&s);
    let path = unescape(u.path).map_err(bad)?;
    let mut m = vec![
        kv("url.original", any_str(&*s)),
        kv("url.domain", any_str(u.host)),
        kv("url.scheme", any_str(u.scheme.to_ascii_lowercase())),
        kv("url.path", any_str(path.clone())),
    ];
    if !u.port.is_empty() {
        let port: i64 = u.port.parse().map_err(|_| {
            bad(format!(
                "invalid port {:?} after host",
                format!(":{}", u.port)
            ))
        })?;
        m.push(kv("url.port", Value::Int(port).to_any()));
    }
    let mut optional = vec![("url.fragment", unescape(u.fragment).map_err(bad)?)];
    if let Some(user_info) = u.user_info {
        let (user, password) = match user_info.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (user_info, None),
        };
        optional.push(("url.user_info", user_info.to_string()));
        optional.push(("url.username", unescape(user).map_err(bad)?));
        if let Some(p) = password {
            m.push(kv("url.password", any_str(unescape(p).map_err(bad)?)));
        }
    }
    optional.push(("url.query", u.query.to_string()));
    if let Some((_, ext)) = path.rsplit_once('.') {
        optional.push(("url.extension", ext.to_string()));
    }
    for (k, v) in optional {
        if !v.is_empty() {
            m.push(kv(k, any_str(v)));
        }
    }
    Ok(Value::Map(Cow::Owned(m)))
}

/// Go's `url.PathUnescape`: `%XX` escapes decoded; a bad escape is an error.
fn unescape(s: &str) -> Result<String, String> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        let byte = hex
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                let end = (i + 3).min(b.len());
                let shown = String::from_utf8_lossy(&b[i..end]);
                format!("invalid URL escape {shown:?}")
            })?;
        out.push(byte);
        i += 3;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

struct UrlParts<'s> {
    scheme: &'s str,
    user_info: Option<&'s str>,
    host: &'s str,
    port: &'s str,
    path: &'s str,
    query: &'s str,
    fragment: &'s str,
}

fn split_url(s: &str) -> UrlParts<'_> {
    let (rest, fragment) = s.split_once('#').unwrap_or((s, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let scheme_end = rest.find(':').filter(|&i| {
        let b = rest.as_bytes();
        i > 0
            && b[0].is_ascii_alphabetic()
            && b[..i]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => ("", rest),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(r) => r.split_at(r.find('/').unwrap_or(r.len())),
        None => ("", rest),
    };
    let (user_info, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p),
        _ => (host_port, ""),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    UrlParts {
        scheme,
        user_info,
        host,
        port,
        path,
        query,
        fragment,
    }
}
