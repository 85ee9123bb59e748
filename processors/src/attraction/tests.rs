use super::*;
use ferrotel_config::ConfigError;
use std::sync::Arc;

pub(crate) fn kv(key: &str, v: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(x: &str) -> V {
    V::StringValue(x.into())
}

fn actions(yaml: &str) -> Vec<ActionConfig> {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn proc(yaml: &str) -> AttrProc {
    let mut findings = Findings::default();
    let p = AttrProc::compile(
        &actions(yaml),
        &mut Validator::new("processors.attributes", &mut findings),
        "actions",
    );
    assert_eq!(findings.errors, []);
    p
}

fn err(yaml: &str) -> ConfigError {
    let mut findings = Findings::default();
    AttrProc::compile(
        &actions(yaml),
        &mut Validator::new("processors.attributes/x", &mut findings),
        "actions",
    );
    findings.errors.remove(0)
}

fn get<'a>(attrs: &'a [KeyValue], k: &str) -> Option<&'a V> {
    pdata::attr(attrs, k)
}

#[test]
fn insert_update_upsert() {
    let p = proc(
        r#"
- { key: a, value: new, action: INSERT }
- { key: b, value: 7, action: insert }
- { key: c, value: upd, action: update }
- { key: d, value: upd, action: Update }
- { key: e, value: [1, x], action: upsert }
- { key: f, from_attribute: a, action: upsert }
- { key: g, from_attribute: missing, action: upsert }
"#,
    );
    let mut attrs = vec![kv("a", s("old")), kv("d", s("old"))];
    p.process(&mut attrs, &RequestMeta::default());
    assert_eq!(
        get(&attrs, "a"),
        Some(&s("old")),
        "insert does not overwrite"
    );
    assert_eq!(get(&attrs, "b"), Some(&V::IntValue(7)));
    assert_eq!(get(&attrs, "c"), None, "update does not create");
    assert_eq!(get(&attrs, "d"), Some(&s("upd")));
    match get(&attrs, "e") {
        Some(V::ArrayValue(a)) => assert_eq!(a.values.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&attrs, "f"), Some(&s("old")));
    assert_eq!(get(&attrs, "g"), None);
}

#[test]
fn from_context_metadata_auth_peer_and_default() {
    let p = proc(
        r#"
- { key: tenant, from_context: metadata.x-tenant, action: upsert }
- { key: user, from_context: auth.subject, action: upsert }
- { key: peer, from_context: client.address, action: upsert }
- { key: legacy, from_context: x-tenant, action: upsert }
- { key: region, from_context: metadata.x-region, default_value: unknown, action: insert }
- { key: none, from_context: metadata.absent, action: insert }
"#,
    );
    let meta = RequestMeta {
        transport: "grpc",
        peer: Some("10.1.2.3:4567".parse().unwrap()),
        headers: vec![
            ("x-tenant".into(), "t1".into()),
            ("X-Tenant".into(), "t2".into()),
        ],
        auth: vec![("subject".into(), "alice".into())],
        ..Default::default()
    };
    let mut attrs = vec![];
    p.process(&mut attrs, &meta);
    assert_eq!(get(&attrs, "tenant"), Some(&s("t1;t2")));
    assert_eq!(get(&attrs, "legacy"), Some(&s("t1;t2")));
    assert_eq!(get(&attrs, "user"), Some(&s("alice")));
    assert_eq!(get(&attrs, "peer"), Some(&s("10.1.2.3:4567")));
    assert_eq!(get(&attrs, "region"), Some(&s("unknown")));
    assert_eq!(get(&attrs, "none"), None);

    let http = RequestMeta {
        transport: "http",
        ..meta
    };
    let mut attrs = vec![];
    p.process(&mut attrs, &Arc::new(http));
    assert_eq!(get(&attrs, "peer"), Some(&s("10.1.2.3")));
}

#[test]
fn delete_by_key_and_pattern() {
    let p = proc(
        r#"
- { key: a, action: delete }
- { pattern: '^http\.request\.header\.', action: delete }
"#,
    );
    let mut attrs = vec![
        kv("a", s("1")),
        kv("http.request.header.authorization", s("Bearer x")),
        kv("http.request.header.cookie", s("c")),
        kv("keep", s("k")),
    ];
    p.process(&mut attrs, &RequestMeta::default());
    let keys: Vec<&str> = attrs.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys, ["keep"]);
}

#[test]
fn hash_uses_sha256_over_typed_bytes() {
    let p = proc(
        r#"
- { key: s, action: hash }
- { key: i, action: hash }
- { key: d, action: hash }
- { key: b, action: hash }
- { key: empty, action: hash }
- { pattern: '^m', action: hash }
"#,
    );
    let mut attrs = vec![
        kv("s", s("foo")),
        kv("i", V::IntValue(1)),
        kv("d", V::DoubleValue(2.5)),
        kv("b", V::BoolValue(true)),
        kv("empty", s("")),
        kv("map", V::KvlistValue(KeyValueList::default())),
        kv("mstr", s("foo")),
    ];
    p.process(&mut attrs, &RequestMeta::default());
    let foo = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
    assert_eq!(get(&attrs, "s"), Some(&s(foo)));
    assert_eq!(
        get(&attrs, "i"),
        Some(&s(
            "7c9fa136d4413fa6173637e883b6998d32e1d675f88cddff9dcbcf331820f4b8"
        ))
    );
    assert_eq!(
        get(&attrs, "d"),
        Some(&s(
            "5caaabe50da77f59f448b3edf650d68fbca7b858390664c251c52b3f458a881c"
        ))
    );
    assert_eq!(
        get(&attrs, "b"),
        Some(&s(
            "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"
        ))
    );
    assert_eq!(get(&attrs, "empty"), Some(&s("")));
    assert_eq!(get(&attrs, "map"), Some(&s("")));
    assert_eq!(get(&attrs, "mstr"), Some(&s(foo)));
}

#[test]
fn extract_named_groups() {
    let p = proc(
        r#"
- key: url
  pattern: '^(?P<scheme>\w+)://(?P<host>[^/:]+)(?::(?P<port>\d+))?'
  action: extract
"#,
    );
    let mut attrs = vec![kv("url", s("https://example.com/x")), kv("host", s("old"))];
    p.process(&mut attrs, &RequestMeta::default());
    assert_eq!(get(&attrs, "scheme"), Some(&s("https")));
    assert_eq!(get(&attrs, "host"), Some(&s("example.com")));
    assert_eq!(
        get(&attrs, "port"),
        Some(&s("")),
        "unmatched group -> empty"
    );
    assert_eq!(get(&attrs, "url"), Some(&s("https://example.com/x")));
    // Non-string values are left alone.
    let mut attrs = vec![kv("url", V::IntValue(3))];
    p.process(&mut attrs, &RequestMeta::default());
    assert_eq!(attrs.len(), 1);
}

#[test]
fn convert_between_types() {
    let p = proc(
        r#"
- { key: a, converted_type: int, action: convert }
- { key: b, converted_type: double, action: convert }
- { key: c, converted_type: string, action: convert }
- { key: d, converted_type: int, action: convert }
- { key: e, converted_type: int, action: convert }
"#,
    );
    let mut attrs = vec![
        kv("a", s("42")),
        kv("b", V::IntValue(3)),
        kv("c", V::DoubleValue(1.5)),
        kv("d", s("not a number")),
        kv("e", V::DoubleValue(-2.9)),
    ];
    p.process(&mut attrs, &RequestMeta::default());
    assert_eq!(get(&attrs, "a"), Some(&V::IntValue(42)));
    assert_eq!(get(&attrs, "b"), Some(&V::DoubleValue(3.0)));
    assert_eq!(get(&attrs, "c"), Some(&s("1.5")));
    assert_eq!(
        get(&attrs, "d"),
        Some(&s("not a number")),
        "failed conversion keeps value"
    );
    assert_eq!(get(&attrs, "e"), Some(&V::IntValue(-2)));
}

#[test]
fn validation_errors_carry_paths_and_otelcol_wording() {
    let e = err("[{key: a, action: insert, value: 1, from_attribute: b}]");
    assert_eq!(e.path, "processors.attributes/x.actions[0]");
    assert!(
        e.message
            .contains("multiple value sources being set at the 0-th actions"),
        "{}",
        e.message
    );
    let e = err("[{key: a, action: delete}, {key: a, action: upsert, value: 1, pattern: x}]");
    assert_eq!(e.path, "processors.attributes/x.actions[1].pattern");
    let e = err("[{key: a, action: delete}, {key: a, action: delete}, {key: a, action: extract, pattern: '(\\w+)'}]");
    assert_eq!(e.path, "processors.attributes/x.actions[2].pattern");
    assert!(e.message.contains("unnamed matcher group"), "{}", e.message);
    let e = err("[{key: a, action: frobnicate}]");
    assert_eq!(e.path, "processors.attributes/x.actions[0].action");
    assert!(e.message.contains("unsupported action \"frobnicate\""));
    let e = err("[{action: delete}]");
    assert_eq!(e.path, "processors.attributes/x.actions[0].key");
    let e = err("[{key: a, action: convert, converted_type: float}]");
    assert_eq!(e.path, "processors.attributes/x.actions[0].converted_type");
    let e = err("[{key: a, action: hash, pattern: '('}]");
    assert!(e.message.contains("has invalid pattern"), "{}", e.message);
    let e = err("[{key: a, action: insert}]");
    assert!(
        e.message.contains("Either field \"value\""),
        "{}",
        e.message
    );
}
