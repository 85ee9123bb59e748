use super::*;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::Signal;

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
    RedactionProcessor::new(&cfg).expect("valid config")
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
                format::value_as_string(kv.value.as_ref().and_then(|v| v.value.as_ref())),
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
    let e = Findings::of("processors.redaction", &cfg)
        .into_result()
        .expect_err("invalid");
    let text = e.to_string();
    assert!(text.contains("blocked_values"), "{text}");
    assert!(text.contains("hmac_key"), "{text}");
}

#[test]
fn config_valid_typo_invalid() {
    use crate::golden;
    let f = RedactionProcessorFactory;
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        assert!(golden::create(&f, "redaction", "valid", signal).is_ok());
    }
    let e = golden::create(&f, "redaction", "typo", Signal::Traces)
        .err()
        .unwrap();
    assert_eq!(e.0[0].path, "processors.redaction/x.allowed_key");
    let e = golden::create(&f, "redaction", "invalid", Signal::Traces)
        .err()
        .unwrap();
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "processors.redaction/x.blocked_values[1]",
            "processors.redaction/x.hash_function",
            "processors.redaction/x.url_sanitizer",
        ]
    );
    assert!(e.0[1].message.contains("unknown HashFunction crc32"), "{e}");
}

/// The shipped recipe (config/recipes/redaction-pii.yaml) is a valid config that masks each kind
/// of secret it lists and leaves other values alone (the end-to-end test with the binary is
/// integration/tests/redaction_recipe.rs).
#[test]
fn pii_recipe_masks_what_it_promises() {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(include_str!("../../../config/recipes/redaction-pii.yaml"))
            .expect("recipe yaml");
    let cfg: RedactionConfig =
        serde_yaml_ng::from_value(doc["processors"]["redaction"].clone()).expect("recipe config");
    assert_eq!(Findings::of("processors.redaction", &cfg).errors, []);
    let p = RedactionProcessor::new(&cfg).expect("valid recipe");
    let got = run(
        &p,
        vec![
            s("http.request.header.authorization", "Bearer abc.def"),
            s("http.response.header.set-cookie", "id=42; HttpOnly"),
            s("http.request.header.x-api-key", "k-123"),
            s("card", "visa 4111-1111-1111-1111, amex 3782 822463 10005"),
            s("mc", "2221000000000009"),
            s("mail", "to: a.b+c@example.co.uk"),
            s("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc_-123"),
            s("msg", "login ok; Cookie: sid=xyz\nnext line"),
            s("url", "/cb?api_key=k-123&x=1"),
            s("ip", "client 10.1.2.3"),
            s("route", "/checkout/4111"),
        ],
    );
    let got: std::collections::HashMap<_, _> = got.into_iter().collect();
    assert_eq!(got["http.request.header.authorization"], "****");
    assert_eq!(got["http.response.header.set-cookie"], "****");
    assert_eq!(got["http.request.header.x-api-key"], "****");
    assert_eq!(got["card"], "visa ****, amex ****");
    assert_eq!(got["mc"], "****");
    assert_eq!(got["mail"], "to: ****");
    assert_eq!(got["jwt"], "****");
    assert_eq!(got["msg"], "login ok; ****\nnext line");
    assert_eq!(got["url"], "/cb?****&x=1");
    assert_eq!(
        got["ip"], "client 10.1.2.3",
        "IPv4 masking is commented out"
    );
    assert_eq!(got["route"], "/checkout/4111");
}

/// Key verdicts are cached per thread up to KEY_CACHE_CAPACITY entries: a full cache is
/// emptied (counted as evicted), the gauge follows the entries held, and verdicts stay right
/// across evictions.
#[test]
fn key_cache_is_bounded_counted_and_keeps_verdicts() {
    let t = Telemetry::new();
    let p = processor("allow_all_keys: true\nblocked_key_patterns: ['(?i)secret']\n")
        .with_metrics(&t, "redaction/x");
    let metric = |name: &str| -> f64 {
        let text = t.render();
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {text}"));
        line.rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a value")
    };
    for round in 0..3 {
        let mut attrs: Vec<KeyValue> = (0..KEY_CACHE_CAPACITY)
            .map(|i| s(&format!("k{round}.{i}"), "v"))
            .collect();
        attrs.push(s("My-Secret", "hunter2"));
        let got = run(&p, attrs);
        assert!(
            got.contains(&("My-Secret".into(), "****".into())),
            "round {round}"
        );
        assert!(got.contains(&(format!("k{round}.7"), "v".into())));
        assert!(
            metric("ferrotel_processor_redaction_key_cache_entries") <= KEY_CACHE_CAPACITY as f64
        );
    }
    // 3 x 1025 distinct keys through one thread's cache of 1024.
    let evicted = metric("ferrotel_processor_redaction_key_cache_evicted");
    let held = metric("ferrotel_processor_redaction_key_cache_entries");
    assert_eq!(evicted + held, 3.0 * (KEY_CACHE_CAPACITY as f64 + 1.0));
    assert!(evicted >= 2.0 * KEY_CACHE_CAPACITY as f64);
    drop(p);
    assert_eq!(
        metric("ferrotel_processor_redaction_key_cache_entries"),
        0.0
    );
}
