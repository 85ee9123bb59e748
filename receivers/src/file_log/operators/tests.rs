#![allow(clippy::unwrap_used)]
use super::*;
use serde_json::json;

fn pipeline(yaml: &str) -> Pipeline {
    let cfgs: Vec<OperatorConfig> = serde_yaml_ng::from_str(yaml).unwrap();
    build(&cfgs).unwrap()
}

fn line(s: &str) -> Entry {
    Entry::new(json!(s), 1)
}

#[test]
fn json_parser_with_embedded_blocks_parses_winston_lines() {
    let p = pipeline(
        r#"
- type: json_parser
  timestamp: { parse_from: attributes.timestamp, layout: '%Y-%m-%dT%H:%M:%S.%LZ' }
  severity: { parse_from: attributes.level }
  trace: { trace_id: { parse_from: attributes.trace_id }, span_id: { parse_from: attributes.span_id } }
"#,
    );
    let mut e = line(
        r#"{"level":"warn","message":"hi","timestamp":"2024-05-06T07:08:09.123Z","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708"}"#,
    );
    assert!(p.run(&mut e));
    assert_eq!(e.timestamp, Some(1_714_979_289_123_000_000));
    assert_eq!((e.severity, e.severity_text.as_str()), (13, "warn"));
    assert_eq!(e.trace_id.len(), 16);
    assert_eq!(e.span_id, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(e.attributes["message"], json!("hi"));
}

#[test]
fn regex_parser_with_gotime_and_on_error() {
    let p = pipeline(
        r#"
- type: regex_parser
  regex: '^(?P<time>\S+) (?P<sev>[A-Z]+) (?P<msg>.*)$'
  timestamp: { parse_from: attributes.time, layout_type: gotime, layout: '2006-01-02T15:04:05Z07:00' }
  severity: { parse_from: attributes.sev, overwrite_text: true }
  on_error: drop_quiet
"#,
    );
    let mut e = line("2024-01-02T03:04:05+01:00 ERROR boom");
    assert!(p.run(&mut e));
    assert_eq!(e.timestamp, Some(1_704_161_045_000_000_000));
    assert_eq!((e.severity, e.severity_text.as_str()), (17, "ERROR"));
    assert_eq!(e.attributes["msg"], json!("boom"));
    let mut z = line("2024-01-02T02:04:05Z INFO ok");
    assert!(p.run(&mut z));
    assert_eq!(z.timestamp, Some(1_704_161_045_000_000_000));
    assert!(!p.run(&mut line("not matching")));
}

#[test]
fn parse_error_with_send_keeps_the_entry_unchanged() {
    let p = pipeline("- type: json_parser");
    let mut e = line("not json");
    assert!(p.run(&mut e));
    assert_eq!(e.body, json!("not json"));
    assert!(e.attributes.is_empty());
}

#[test]
fn epoch_and_severity_mapping_and_transformers() {
    let p = pipeline(
        r#"
- { type: time_parser, parse_from: attributes.t, layout_type: epoch, layout: s.ms }
- type: severity_parser
  parse_from: attributes.code
  mapping: { error: 5xx, warn: { min: 400, max: 499 }, info: [ok, fine] }
- { type: move, from: attributes.msg, to: body }
- { type: add, field: resource.host, value: h1 }
- { type: remove, field: attributes.code }
"#,
    );
    let mut e = line("");
    e.attributes.insert("t".into(), json!("1700000000.250"));
    e.attributes.insert("code".into(), json!(404));
    e.attributes.insert("msg".into(), json!("m"));
    assert!(p.run(&mut e));
    assert_eq!(e.timestamp, Some(1_700_000_000_250_000_000));
    assert_eq!(e.severity, 13);
    assert_eq!(e.body, json!("m"));
    assert_eq!(e.resource["host"], json!("h1"));
    assert!(!e.attributes.contains_key("code"));
}

#[test]
fn severity_names_and_texts() {
    assert_eq!(severity::number_of("info3"), Some(11));
    assert_eq!(severity::number_of("fatal"), Some(21));
    assert_eq!(severity::text_of(14), "WARN2");
    assert_eq!(severity::text_of(9), "INFO");
}

#[test]
fn gotime_layouts_translate() {
    assert_eq!(
        time::go_to_ctime("Jan _2 15:04:05.000 2006"),
        "%b %e %H:%M:%S.%L %Y"
    );
}

#[test]
fn build_errors_name_the_operator() {
    let cfgs: Vec<OperatorConfig> =
        serde_yaml_ng::from_str("- { type: regex_parser, id: r1, regex: '(' }").unwrap();
    let e = build(&cfgs).err().unwrap();
    assert!(e.starts_with("operator 'r1': compiling regex"), "{e}");
    let cfgs: Vec<OperatorConfig> = serde_yaml_ng::from_str(
        "[{type: add, field: body, value: 1}, {type: add, field: body, value: 2}]",
    )
    .unwrap();
    assert!(build(&cfgs)
        .err()
        .unwrap()
        .contains("duplicate operator id 'add'"));
}

#[test]
fn trace_parser_defaults_read_the_body_map() {
    let p = pipeline("- type: trace_parser");
    let mut e = Entry::new(
        json!({"trace_id": "0102030405060708090a0b0c0d0e0f10", "span_id": "0102030405060708", "trace_flags": "01"}),
        1,
    );
    assert!(p.run(&mut e));
    assert_eq!(
        (e.trace_id.len(), e.span_id.len(), e.trace_flags),
        (16, 8, 1)
    );
    let mut bad = Entry::new(json!({"trace_id": "zz"}), 1);
    assert!(p.run(&mut bad));
    assert!(bad.trace_id.is_empty());
}
