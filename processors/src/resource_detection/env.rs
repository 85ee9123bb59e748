//! The `env` detector: the attributes of `OTEL_RESOURCE_ATTRIBUTES` (or the deprecated
//! `OTEL_RESOURCE`), `key1=value1,key2=value2`, values percent-decoded as Go's
//! `url.QueryUnescape` does (`+` is a space), with otelcol's errors on malformed input.
//!
//! ```yaml
//! resource_detection:
//!   detectors: [env]
//!   env:
//!     allowlist: [service.name]
//! ```

use super::attrs::{str_kv, Detected};
use super::config::EnvConfig;
use ferrotel_core::format::url_unescape;
use regex::Regex;
use std::sync::OnceLock;

/// Detects from the process environment.
pub fn detect(cfg: &EnvConfig) -> Result<Detected, String> {
    let var = |name: &str| std::env::var(name).unwrap_or_default().trim().to_string();
    let mut labels = var("OTEL_RESOURCE_ATTRIBUTES");
    if labels.is_empty() {
        labels = var("OTEL_RESOURCE");
    }
    if labels.is_empty() {
        return Ok(Detected::default());
    }
    let mut pairs = parse(&labels)?;
    if let Some(allow) = &cfg.allowlist {
        pairs.retain(|(k, _)| allow.contains(k));
    }
    let mut out = Detected::default();
    for (k, v) in pairs {
        // A repeated key keeps its last value, as a map put does.
        out.attributes.retain(|kv| kv.key != k);
        out.attributes.push(str_kv(&k, &v));
    }
    Ok(out)
}

fn label_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::unwrap_used)] // a constant pattern
        Regex::new(r"\s*([[:ascii:]]{1,256}?)\s*=\s*([[:ascii:]]{0,256}?)\s*(?:,|$)").unwrap()
    })
}

/// The `key=value` pairs of `s`, or otelcol's error text.
pub fn parse(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut prev = 0;
    for c in label_regex().captures_iter(s) {
        let (Some(whole), Some(key), Some(value)) = (c.get(0), c.get(1), c.get(2)) else {
            continue;
        };
        if prev != whole.start() {
            return Err(format!(
                "invalid resource format, invalid text: {:?}",
                &s[prev..whole.start()]
            ));
        }
        let value = query_unescape(value.as_str()).map_err(|e| {
            format!(
                "invalid resource format in attribute: {:?}, err: {e}",
                whole.as_str()
            )
        })?;
        out.push((key.as_str().to_string(), value));
        prev = whole.end();
    }
    if out.is_empty() {
        return Err(format!("invalid resource format: {s:?}"));
    }
    if prev != s.len() {
        return Err(format!(
            "invalid resource format, invalid text: {:?}",
            &s[prev..]
        ));
    }
    Ok(out)
}

/// Go's `url.QueryUnescape`: `%XX` escapes and `+` as a space; its error text on a bad escape.
pub fn query_unescape(s: &str) -> Result<String, String> {
    let out = url_unescape(s, true)?;
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 after unescaping {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        parse(s).unwrap()
    }

    #[test]
    fn parses_trims_and_unescapes() {
        assert_eq!(
            pairs(" service.name = shop , k8s.pod.name=a%2Cb,team=x+y"),
            vec![
                ("service.name".into(), "shop".into()),
                ("k8s.pod.name".into(), "a,b".into()),
                ("team".into(), "x y".into()),
            ]
        );
        assert_eq!(pairs("empty="), vec![("empty".into(), "".into())]);
    }

    #[test]
    fn malformed_input_has_otelcols_errors() {
        assert_eq!(
            parse("justtext").unwrap_err(),
            "invalid resource format: \"justtext\""
        );
        assert_eq!(
            parse("a=b,=c").unwrap_err(),
            "invalid resource format, invalid text: \"=c\""
        );
        assert_eq!(
            parse("a=%zz").unwrap_err(),
            "invalid resource format in attribute: \"a=%zz\", err: invalid URL escape \"%zz\""
        );
    }
}
