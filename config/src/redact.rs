//! `print-config --mode redacted`: the values otelcol keeps in `configopaque.String` (passwords,
//! tokens, secrets, PEM keys and every HTTP/gRPC header value) are shown as `[REDACTED]`.

use crate::expand::key_str;
use crate::Value;

/// What otelcol prints in place of an opaque value.
pub const REDACTED: &str = "[REDACTED]";

/// Keys whose values are secrets wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "password",
    "token",
    "bearer_token",
    "secret",
    "client_secret",
    "api_key",
    "key_pem",
];

/// Maps whose every value is a secret (header values may carry credentials or cookies).
const SECRET_MAPS: &[&str] = &["headers", "response_headers"];

/// Replaces every secret in `v` with `[REDACTED]`, in place.
pub fn redact(v: &mut Value) {
    match v {
        Value::Mapping(map) => {
            for (k, item) in map.iter_mut() {
                let key = key_str(k).to_ascii_lowercase();
                if SECRET_MAPS.contains(&key.as_str()) {
                    redact_all_values(item);
                } else if SECRET_KEYS.contains(&key.as_str()) && !item.is_null() {
                    *item = Value::String(REDACTED.into());
                } else {
                    redact(item);
                }
            }
        }
        Value::Sequence(seq) => seq.iter_mut().for_each(redact),
        Value::Tagged(t) => redact(&mut t.value),
        _ => {}
    }
}

fn redact_all_values(v: &mut Value) {
    match v {
        Value::Mapping(map) => map
            .iter_mut()
            .filter(|(_, item)| !item.is_null())
            .for_each(|(_, item)| *item = Value::String(REDACTED.into())),
        other => redact(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_header_values_are_redacted() {
        let mut v: Value = serde_yaml_ng::from_str(
            "extensions:\n  basicauth/client: {client_auth: {username: u, password: hunter2}}\n  bearertokenauth: {token: abc, scheme: Bearer}\nexporters:\n  otlp_http:\n    endpoint: http://x:4318\n    headers: {Authorization: Bearer abc, Cookie: s=1, x-tenant: t}\n    tls: {key_pem: '-----BEGIN', insecure: true}\n",
        )
        .unwrap();
        redact(&mut v);
        let text = serde_yaml_ng::to_string(&v).unwrap();
        for secret in ["hunter2", "abc", "s=1", "BEGIN", "x-tenant: t"] {
            assert!(!text.contains(secret), "{secret} shown in\n{text}");
        }
        assert_eq!(
            v["extensions"]["basicauth/client"]["client_auth"]["username"],
            Value::String("u".into())
        );
        assert_eq!(
            v["extensions"]["bearertokenauth"]["scheme"],
            Value::String("Bearer".into())
        );
        assert_eq!(
            v["exporters"]["otlp_http"]["headers"]["Cookie"],
            Value::String(REDACTED.into())
        );
        assert_eq!(
            v["exporters"]["otlp_http"]["tls"]["insecure"],
            Value::Bool(true)
        );
    }
}
