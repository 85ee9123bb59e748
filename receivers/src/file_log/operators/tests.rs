#![allow(clippy::unwrap_used)]
use super::config::OperatorConfig;
use super::*;
use serde_json::json;

fn pipeline(yaml: &str) -> Pipeline {
    let cfgs: Vec<OperatorConfig> = serde_yaml_ng::from_str(yaml).unwrap();
    build(&cfgs).unwrap()
}

fn line(s: &str) -> Entry {
    Entry::new(json!(s), 1)
}

/// Runs one entry; what came out (None if dropped), asserting at most one did.
fn run1(p: &Pipeline, e: &mut Entry) -> bool {
    let mut out = vec![];
    p.run(std::mem::take(e), &mut out);
    assert!(out.len() <= 1, "{out:?}");
    match out.pop() {
        Some(o) => {
            *e = o;
            true
        }
        None => false,
    }
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
    assert!(run1(&p, &mut e));
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
    assert!(run1(&p, &mut e));
    assert_eq!(e.timestamp, Some(1_704_161_045_000_000_000));
    assert_eq!((e.severity, e.severity_text.as_str()), (17, "ERROR"));
    assert_eq!(e.attributes["msg"], json!("boom"));
    let mut z = line("2024-01-02T02:04:05Z INFO ok");
    assert!(run1(&p, &mut z));
    assert_eq!(z.timestamp, Some(1_704_161_045_000_000_000));
    assert!(!run1(&p, &mut line("not matching")));
}

#[test]
fn parse_error_with_send_keeps_the_entry_unchanged() {
    let p = pipeline("- type: json_parser");
    let mut e = line("not json");
    assert!(run1(&p, &mut e));
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
    assert!(run1(&p, &mut e));
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
    assert!(run1(&p, &mut e));
    assert_eq!(
        (e.trace_id.len(), e.span_id.len(), e.trace_flags),
        (16, 8, 1)
    );
    let mut bad = Entry::new(json!({"trace_id": "zz"}), 1);
    assert!(run1(&p, &mut bad));
    assert!(bad.trace_id.is_empty());
}

fn build_err(yaml: &str) -> String {
    match serde_yaml_ng::from_str::<Vec<OperatorConfig>>(yaml) {
        Ok(cfgs) => build(&cfgs).err().unwrap_or_default(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn gated_operators_are_refused_while_their_gate_is_disabled() {
    let kind = |yaml: &str| {
        serde_yaml_ng::from_str::<OperatorConfig>(yaml)
            .unwrap()
            .kind
    };
    let json_array = kind("{ type: json_array_parser }");
    let assign_keys = kind("{ type: assign_keys, field: body, keys: [a] }");
    for (k, want) in [
        (&json_array, "json_array_parser"),
        (&assign_keys, "assign_keys"),
    ] {
        let e = super::graph::gate(k, &|_| false).unwrap_err();
        assert!(e.starts_with(&format!("{want} operator disabled")), "{e}");
        assert!(super::graph::gate(k, &|_| true).is_ok());
    }
    assert!(super::graph::gate(&kind("{ type: noop }"), &|_| false).is_ok());
    // Beta gates: on by default.
    assert!(!pipeline("- { type: json_array_parser }").is_empty());
}

#[test]
fn config_errors_name_the_problem() {
    for (yaml, want) in [
        ("- { type: key_value_parser, delimiter: '' }", "delimiter is a required parameter"),
        ("- { type: key_value_parser, pair_delimiter: '=' }", "cannot be the same value"),
        ("- { type: csv_parser }", "missing required field 'header' or 'header_attribute'"),
        ("- { type: csv_parser, header: a, }", "missing field delimiter in header"),
        ("- { type: csv_parser, header: 'a,b', header_attribute: h }", "only one header parameter"),
        ("- { type: csv_parser, header: 'a;b', delimiter: ';;' }", "invalid 'delimiter': ';;'"),
        ("- { type: csv_parser, header: 'a,b', lazy_quotes: true, ignore_quotes: true }", "only one of 'ignore_quotes' or 'lazy_quotes'"),
        ("- { type: syslog_parser }", "missing field 'protocol'"),
        ("- { type: syslog_parser, protocol: rfc9999 }", "unsupported protocol version: rfc9999"),
        ("- { type: syslog_parser, protocol: rfc3164, enable_octet_counting: true }", "only compatible with protocol rfc5424"),
        ("- { type: syslog_parser, protocol: rfc5424, non_transparent_framing_trailer: CR }", "invalid non_transparent_framing_trailer 'CR'"),
        ("- { type: syslog_parser, protocol: rfc5424, location: Mars/Base }", "failed to load location Mars/Base"),
        ("- { type: syslog_parser, protocol: rfc5424, bogus: 1 }", "unknown field `bogus`"),
        ("- { type: recombine, combine_field: body }", "one of is_first_entry and is_last_entry must be set"),
        ("- { type: recombine, combine_field: body, is_first_entry: 'true', is_last_entry: 'true' }", "only one of is_first_entry"),
        ("- { type: recombine, is_first_entry: 'true' }", "missing required argument 'combine_field'"),
        ("- { type: recombine, combine_field: body, is_last_entry: 'body ==' }", "failed to compile is_last_entry"),
        ("- { type: recombine, combine_field: body, is_last_entry: 'true', overwrite_with: middle }", "invalid value 'middle' for parameter 'overwrite_with'"),
        ("- { type: router, routes: [] }", "missing required field 'routes'"),
        ("- { type: router, output: x, routes: [{expr: 'true', output: y}] }", "router has no `output`"),
        ("- { type: router, routes: [{expr: 'true', output: nowhere}] }", "output 'nowhere' does not exist"),
        ("- { type: filter, expr: 'true', drop_ratio: 2 }", "drop_ratio must be a number between 0 and 1"),
        ("- { type: filter, expr: 'level == 1' }", "unknown name 'level'"),
        ("- { type: noop, if: 'body.x +' }", "expression \"body.x +\""),
        ("- { type: noop, output: ghost }", "output 'ghost' does not exist"),
        ("- { type: flatten, field: body }", "invalid field type"),
        ("- { type: add, field: body.x, value: 'EXPR(body.y +)' }", "expression \"body.y +\""),
        ("- { type: json_parser, parse_to: body, body: attributes.msg }", "`parse_to: body` not allowed"),
        ("- { type: json_parser, regex: 'x' }", "unknown field `regex`"),
        ("- { type: copy, from: body.a }", "missing field `to`"),
        ("- { type: header }", "unsupported type 'header'"),
        ("- { type: unquote }", "missing field `field`"),
        ("- { type: unquote, field: body, regex: x }", "unknown field `regex`"),
        ("- { type: regex_replace, field: body }", "either regex or regex_name must be set"),
        ("- { type: regex_replace, field: body, regex_name: emoji }", "regex_name emoji is unknown"),
        ("- { type: regex_replace, field: body, regex: '(' }", "compiling regex"),
        ("- { type: regex_replace, field: body, regex: a, replace: b }", "unknown field `replace`"),
        ("- { type: sanitize_utf8, fields: [body] }", "unknown field `fields`"),
        ("- { type: assign_keys, field: body }", "assign_keys missing required field keys"),
        ("- { type: assign_keys, keys: [a] }", "missing field `field`"),
        ("- { type: json_array_parser, headers: a }", "unknown field `headers`"),
        ("- { type: uri_parser, drop_field: true }", "unknown field `drop_field`"),
        ("- { type: container, format: podman }", "invalid `format` field"),
        ("- { type: container, add_metadata: false }", "unknown field `add_metadata`"),
        ("- { type: container, max_log_size: lots }", "invalid byte size"),
        ("[{ type: noop, id: a, output: b }, { type: noop, id: b, output: a }]", "cycle"),
    ] {
        let e = build_err(yaml);
        assert!(e.contains(want), "{yaml}: got {e:?}, want {want:?}");
    }
}

#[test]
fn output_names_the_next_operator_and_lists_fan_out() {
    let p = pipeline(
        r#"
- { type: add, id: a, field: attributes.a, value: 1, output: [c, d] }
- { type: add, id: b, field: attributes.b, value: 1 }
- { type: add, id: c, field: attributes.c, value: 1, output: e }
- { type: add, id: d, field: attributes.d, value: 1, output: e }
- { type: noop, id: e }
"#,
    );
    let mut out = vec![];
    p.run(line("x"), &mut out);
    let keys: Vec<Vec<&String>> = out.iter().map(|e| e.attributes.keys().collect()).collect();
    assert_eq!(keys, [vec!["a", "c"], vec!["a", "d"]]);
}

#[test]
fn if_skips_an_operator_and_its_errors_follow_on_error() {
    let p = pipeline(
        r#"
- { type: add, id: x, field: attributes.x, value: 1, if: 'body startsWith "a"' }
- { type: add, id: y, field: attributes.y, value: 1, if: 'body.nested == 1', on_error: drop_quiet }
"#,
    );
    let mut out = vec![];
    p.run(line("abc"), &mut out);
    p.run(line("xyz"), &mut out);
    assert!(
        out.is_empty(),
        "a string body has no member: dropped {out:?}"
    );
    let mut e = Entry::new(json!({"nested": 1}), 1);
    assert!(run1(&p, &mut e));
    assert_eq!(e.attributes.get("y"), Some(&json!(1)));
    assert!(!e.attributes.contains_key("x"));
}

#[test]
fn parser_errors_send_or_drop() {
    let send = pipeline("- { type: syslog_parser, protocol: rfc5424 }");
    let mut e = line("no pri here");
    assert!(run1(&send, &mut e));
    assert!(e.attributes.is_empty());
    let drop = pipeline("- { type: csv_parser, header: 'a,b', on_error: drop }");
    assert!(!run1(&drop, &mut line("1,2,3")));
    assert!(!run1(&drop, &mut line("a\"b,c")));
    let lazy = pipeline("- { type: csv_parser, header: 'a,b', lazy_quotes: true }");
    let mut e = line("a\"b,c");
    assert!(run1(&lazy, &mut e));
    assert_eq!(e.attributes["a"], json!("a\"b"));
    let ignore = pipeline("- { type: csv_parser, header: 'a,b', ignore_quotes: true }");
    let mut e = line("\"x,y\"");
    assert!(run1(&ignore, &mut e));
    assert_eq!(e.attributes["b"], json!("y\""));
    let kv = pipeline("- { type: key_value_parser, on_error: drop_quiet }");
    assert!(!run1(&kv, &mut line("novalue")));
}

fn recombine(extra: &str) -> Pipeline {
    pipeline(&format!(
        "- {{ type: recombine, combine_field: body, is_first_entry: 'body startsWith \"S\"', {extra} }}"
    ))
}

fn bodies(out: &[Entry]) -> Vec<&str> {
    out.iter().map(|e| e.body.as_str().unwrap_or("?")).collect()
}

#[test]
fn recombine_flushes_on_force_flush_period_and_limits() {
    let p = recombine("force_flush_period: 1s");
    let mut out = vec![];
    p.run(Entry::new(json!("S1"), 1_000_000_000), &mut out);
    p.run(Entry::new(json!(" a"), 1_100_000_000), &mut out);
    p.tick(1_900_000_000, &mut out);
    assert!(out.is_empty());
    p.tick(2_000_000_000, &mut out);
    assert_eq!(bodies(&out), ["S1\n a"]);

    let p = recombine("max_batch_size: 2");
    let mut out = vec![];
    for b in ["S1", "x", "y", "S2"] {
        p.run(line(b), &mut out);
    }
    assert_eq!(bodies(&out), ["S1\nx", "y"]);
    p.flush_all(&mut out);
    assert_eq!(bodies(&out), ["S1\nx", "y", "S2"]);

    let p = recombine("max_unmatched_batch_size: 2");
    let mut out = vec![];
    for b in ["x", "y", "z"] {
        p.run(line(b), &mut out);
    }
    assert_eq!(bodies(&out), ["x\ny"]);

    let p = recombine("max_log_size: 5, combine_with: ''");
    let mut out = vec![];
    for b in ["S123", "45", "6"] {
        p.run(line(b), &mut out);
    }
    assert_eq!(bodies(&out), ["S12345"]);
}

#[test]
fn recombine_keeps_sources_apart_up_to_max_sources() {
    let p = recombine("max_sources: 2");
    let from = |b: &str, path: &str| {
        let mut e = line(b);
        e.attributes.insert("log.file.path".into(), json!(path));
        e
    };
    let mut out = vec![];
    p.run(from("S1", "a"), &mut out);
    p.run(from("S2", "b"), &mut out);
    p.run(from(" a-cont", "a"), &mut out);
    p.run(from(" b-cont", "b"), &mut out);
    assert!(out.is_empty());
    p.run(from("S3", "c"), &mut out);
    assert_eq!(bodies(&out), ["S1\n a-cont", "S2\n b-cont"]);
}

#[test]
fn filter_drop_ratio_samples() {
    let p = pipeline("- { type: filter, expr: 'body == \"x\"', drop_ratio: 0.5 }");
    let mut out = vec![];
    for _ in 0..2000 {
        p.run(line("x"), &mut out);
    }
    assert!((700..1300).contains(&out.len()), "{}", out.len());
}

#[test]
fn scope_names_become_otlp_scopes() {
    let p = pipeline("- { type: scope_name_parser, parse_from: attributes.logger }");
    let mut out = vec![];
    for logger in ["a", "b", "a"] {
        let mut e = line("x");
        e.attributes.insert("logger".into(), json!(logger));
        p.run(e, &mut out);
    }
    let req = crate::file_log::emit::to_request(out);
    let scopes: Vec<(String, usize)> = req.resource_logs[0]
        .scope_logs
        .iter()
        .map(|s| {
            (
                s.scope.clone().unwrap_or_default().name,
                s.log_records.len(),
            )
        })
        .collect();
    assert_eq!(scopes, [("a".to_string(), 2), ("b".to_string(), 1)]);
}
