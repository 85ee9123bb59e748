//! `uri_parser`: an absolute URI (`https://dev:pass@host:8443/path?a=1&a=2`), an absolute
//! path (`/app?user=admin`) or a query string (`?env=dev`) into a map of the parts present:
//! `scheme`, `user` (never the password), `host`, `port`, `path` and `query` (each name to
//! the list of its values). As otelcol (Go's `url.ParseRequestURI`): no fragment is split
//! off (a `#` stays in the path or query), the path keeps its escapes, query names and
//! values are unescaped (`+` is a space), and pairs that fail to unescape are skipped except
//! in a bare query string, where they are errors.

use super::parser::Parse;
use super::text::go_type;
use super::Entry;
use ferrotel_core::format::url_unescape;
use serde_json::{Map, Value};

pub struct Uri;

impl Parse for Uri {
    fn parse(&self, v: &Value, _: &Entry) -> Result<Map<String, Value>, String> {
        let Value::String(s) = v else {
            return Err(format!("type '{}' cannot be parsed as URI", go_type(v)));
        };
        let mut out = Map::new();
        if let Some(q) = s.strip_prefix('?') {
            insert_query(&mut out, parse_query(q, true)?);
            return Ok(out);
        }
        let parts = parse_request_uri(s).map_err(|e| format!("parse {s:?}: {e}"))?;
        let (host, port) = split_host_port(&parts.host);
        for (k, v) in [
            ("scheme", parts.scheme),
            ("user", parts.user),
            ("host", host.to_string()),
            ("port", port.to_string()),
            ("path", parts.path),
        ] {
            if !v.is_empty() {
                out.insert(k.into(), Value::String(v));
            }
        }
        insert_query(&mut out, parse_query(&parts.query, false)?);
        Ok(out)
    }
}

#[derive(Default)]
struct Parts {
    scheme: String,
    user: String,
    host: String,
    path: String,
    query: String,
}

/// Go's `url.ParseRequestURI`, the parts `uri_parser` reports.
fn parse_request_uri(s: &str) -> Result<Parts, String> {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    if s.is_empty() {
        return Err("empty url".into());
    }
    let mut p = Parts::default();
    if s == "*" {
        p.path = "*".into();
        return Ok(p);
    }
    let (scheme, rest) = split_scheme(s)?;
    p.scheme = scheme.to_ascii_lowercase();
    let (rest, query) = match rest.strip_suffix('?') {
        Some(r) if !r.contains('?') => (r, ""),
        _ => rest.split_once('?').unwrap_or((rest, "")),
    };
    p.query = query.to_string();
    if !rest.starts_with('/') {
        // An opaque URI (`mailto:a@b`) has no host or path; without a scheme it is refused.
        return if p.scheme.is_empty() {
            Err("invalid URI for request".into())
        } else {
            Ok(p)
        };
    }
    let mut path = rest;
    if !p.scheme.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            let (authority, tail) = after.find('/').map_or((after, ""), |i| after.split_at(i));
            (p.user, p.host) = parse_authority(authority)?;
            path = tail;
        }
    }
    unescape(path, false)?;
    p.path = escaped_path(path);
    Ok(p)
}

/// The scheme (empty when there is none) and the rest.
fn split_scheme(s: &str) -> Result<(&str, &str), String> {
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err("missing protocol scheme".into()),
            ':' => return Ok((&s[..i], &s[i + 1..])),
            _ => return Ok(("", s)),
        }
    }
    Ok(("", s))
}

/// The user name and the host (with its port) of `user:pass@host:port`.
fn parse_authority(a: &str) -> Result<(String, String), String> {
    let (userinfo, host) = match a.rfind('@') {
        Some(i) => (Some(&a[..i]), &a[i + 1..]),
        None => (None, a),
    };
    let host = parse_host(host)?;
    let Some(userinfo) = userinfo else {
        return Ok((String::new(), host));
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c);
    if !userinfo.chars().all(valid) {
        return Err("net/url: invalid userinfo".into());
    }
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    Ok((unescape(user, false)?, host))
}

fn parse_host(h: &str) -> Result<String, String> {
    let port_from = if h.starts_with('[') {
        let end = h.rfind(']').ok_or("missing ']' in host")?;
        end + 1
    } else {
        h.rfind(':').unwrap_or(h.len())
    };
    let colon_port = &h[port_from..];
    if !valid_optional_port(colon_port) {
        return Err(format!("invalid port {colon_port:?} after host"));
    }
    unescape(h, false)
}

fn valid_optional_port(p: &str) -> bool {
    p.is_empty()
        || p.strip_prefix(':')
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
}

/// Go's `Hostname()` and `Port()`: brackets of an IPv6 literal removed.
fn split_host_port(h: &str) -> (&str, &str) {
    let (host, port) = match h.rfind(':') {
        Some(i) if valid_optional_port(&h[i..]) => (&h[..i], &h[i + 1..]),
        _ => (h, ""),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(host);
    (host, port)
}

/// Characters Go leaves unescaped in a path.
fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.~$&+,/:;=@".contains(c)
}

/// Go's `EscapedPath()`: the path as written when it is a valid encoding, else escaped.
fn escaped_path(raw: &str) -> String {
    if raw.chars().all(|c| path_char(c) || "%!'()*[]".contains(c)) {
        return raw.to_string();
    }
    let bytes = unescape(raw, false).unwrap_or_else(|_| raw.to_string());
    bytes
        .bytes()
        .map(|b| match b as char {
            c if c.is_ascii() && path_char(c) => c.to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `%XX` decoded (and `+` as a space in queries); Go's error for a bad escape.
fn unescape(s: &str, query: bool) -> Result<String, String> {
    url_unescape(s, query).map(|b| String::from_utf8_lossy(&b).into_owned())
}

type Query = Vec<(String, Vec<String>)>;

/// Go's `url.ParseQuery`: pairs split on `&`; a bad pair is skipped, and is the error when
/// `strict`.
fn parse_query(q: &str, strict: bool) -> Result<Query, String> {
    let mut out: Query = vec![];
    for pair in q.split('&') {
        if pair.is_empty() {
            continue;
        }
        let decoded = if pair.contains(';') {
            Err("invalid semicolon separator in query".to_string())
        } else {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            unescape(k, true).and_then(|k| Ok((k, unescape(v, true)?)))
        };
        let (k, v) = match decoded {
            Ok(kv) => kv,
            Err(e) if strict => return Err(e),
            Err(_) => continue,
        };
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(v),
            None => out.push((k, vec![v])),
        }
    }
    Ok(out)
}

fn insert_query(out: &mut Map<String, Value>, q: Query) {
    if q.is_empty() {
        return;
    }
    let map = q
        .into_iter()
        .map(|(k, vs)| (k, Value::Array(vs.into_iter().map(Value::String).collect())))
        .collect();
    out.insert("query".into(), Value::Object(map));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Result<Value, String> {
        Uri.parse(&json!(s), &Entry::default()).map(Value::Object)
    }

    #[test]
    fn the_parts_go_reports() {
        assert_eq!(
            parse("https://dev:pass@www.golang.org:8443/v1/a%20b?x=1+2&x=%41&y").unwrap(),
            json!({"scheme": "https", "user": "dev", "host": "www.golang.org", "port": "8443",
                   "path": "/v1/a%20b", "query": {"x": ["1 2", "A"], "y": [""]}})
        );
        assert_eq!(
            parse("http://[::1]:80/").unwrap(),
            json!({"scheme": "http", "host": "::1", "port": "80", "path": "/"})
        );
        assert_eq!(parse("mailto:a@b").unwrap(), json!({"scheme": "mailto"}));
        assert_eq!(
            parse("/a?b=%zz&c=1").unwrap(),
            json!({"path": "/a", "query": {"c": ["1"]}})
        );
        assert_eq!(parse("/a b").unwrap(), json!({"path": "/a%20b"}));
    }

    #[test]
    fn gos_errors() {
        for (input, want) in [
            ("invalid", "parse \"invalid\": invalid URI for request"),
            (":x", "parse \":x\": missing protocol scheme"),
            (
                "http://h:x/",
                "parse \"http://h:x/\": invalid port \":x\" after host",
            ),
            ("/a%zz", "parse \"/a%zz\": invalid URL escape \"%zz\""),
            ("?a=%x", "invalid URL escape \"%x\""),
            ("?a;b", "invalid semicolon separator in query"),
        ] {
            assert_eq!(parse(input).unwrap_err(), want, "{input}");
        }
    }
}
