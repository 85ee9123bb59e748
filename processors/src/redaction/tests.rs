use super::*;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(V::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn processor(yaml: &str) -> RedactionProcessor {
    let cfg: RedactionConfig = serde_yaml_ng::from_str(yaml).expect("yaml");
    RedactionProcessor::new(&cfg, "processors.redaction").expect("valid config")
}

fn run(p: &RedactionProcessor, attrs: Vec<KeyValue>) -> Vec<(String, String)> {
    let mut req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    attributes: attrs,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    p.traces(&mut req, &RequestMeta::default()).expect("ok");
    let mut out: Vec<_> = req.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                pdata::value_as_string(kv.value.as_ref().and_then(|v| v.value.as_ref())),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn masks_blocked_values_and_keys_and_drops_unlisted_keys() {
    let p = processor("allowed_keys: [card, email, password]\nblocked_key_patterns: ['(?i)passw']\nblocked_values: ['4[0-9]{12}(?:[0-9]{3})?']\n");
    let got = run(
        &p,
        vec![
            s("card", "paid with 4111111111111111 today"),
            s("email", "a@b.c"),
            s("password", "hunter2"),
            s("secret.token", "x"),
        ],
    );
    assert_eq!(
        got,
        vec![
            ("card".into(), "paid with **** today".into()),
            ("email".into(), "a@b.c".into()),
            ("password".into(), "****".into()),
        ]
    );
}

#[test]
fn allowed_values_win_and_hash_function_replaces_mask() {
    let p = processor("allow_all_keys: true\nblocked_values: ['[a-z]+@[a-z.]+']\nallowed_values: ['.+@mycompany\\.com']\nhash_function: md5\n");
    let got = run(
        &p,
        vec![s("a", "bob@mycompany.com"), s("b", "eve@evil.org")],
    );
    assert_eq!(got[0], ("a".into(), "bob@mycompany.com".into()));
    // md5("eve@evil.org")
    assert_eq!(got[1].0, "b");
    assert_eq!(got[1].1.len(), 32, "{got:?}");
    assert_ne!(got[1].1, "eve@evil.org");
}

#[test]
fn bad_regex_and_missing_hmac_key_are_config_errors() {
    let cfg: RedactionConfig =
        serde_yaml_ng::from_str("blocked_values: ['(']\nhash_function: hmac-sha256\n")
            .expect("yaml");
    let e = RedactionProcessor::new(&cfg, "processors.redaction")
        .err()
        .expect("invalid");
    let text = e.to_string();
    assert!(text.contains("blocked_values"), "{text}");
    assert!(text.contains("hmac_key"), "{text}");
}
