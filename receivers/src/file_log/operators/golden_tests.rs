//! Golden tests: `testdata/file_log/operators/<operator>.yaml` hold the examples of otelcol's
//! operator docs (pkg/stanza/docs/operators/*.md) as cases: the operators' config, the input
//! entries and the entries that must come out, field for field. Where a doc example is
//! wrong for the otelcol version it documents, the case says so in a `note`.

#![allow(clippy::unwrap_used)]
use super::config::OperatorConfig;
use super::{build, Entry};
use serde::Deserialize;
use serde_json::{Map, Value};

/// An entry as the docs write it; missing keys are empty.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Golden {
    /// RFC 3339; `{year}` is the current year (RFC 3164 syslog has none).
    timestamp: Option<String>,
    body: Value,
    attributes: Map<String, Value>,
    resource: Map<String, Value>,
    severity: i32,
    severity_text: String,
    trace_id: String,
    span_id: String,
    trace_flags: u8,
    scope_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    note: String,
    config: Vec<OperatorConfig>,
    input: Vec<Golden>,
    output: Vec<Golden>,
}

fn entry(g: Golden) -> Entry {
    let year = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .year();
    let timestamp = g.timestamp.map(|t| {
        let t: jiff::Timestamp = t.replace("{year}", &year.to_string()).parse().unwrap();
        u64::try_from(t.as_nanosecond()).unwrap()
    });
    Entry {
        observed: 1,
        timestamp,
        body: g.body,
        attributes: g.attributes,
        resource: g.resource,
        severity: g.severity,
        severity_text: g.severity_text,
        trace_id: hex::decode(g.trace_id).unwrap(),
        span_id: hex::decode(g.span_id).unwrap(),
        trace_flags: g.trace_flags,
        scope_name: g.scope_name,
        spare: Default::default(),
    }
}

fn run_file(path: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let cases: Vec<Case> =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for c in &cases {
        assert!(
            !c.output.is_empty() || !c.input.is_empty(),
            "{}: empty case",
            c.name
        );
    }
    let n = cases.len();
    for c in cases {
        let where_ = format!("{} / {}", path.display(), c.name);
        let p = build(&c.config).unwrap_or_else(|e| panic!("{where_}: {e}"));
        let mut got = vec![];
        for i in c.input {
            p.run(entry(i), &mut got);
        }
        p.flush_all(&mut got);
        let want: Vec<Entry> = c.output.into_iter().map(entry).collect();
        assert_eq!(got, want, "{where_}");
    }
    n
}

#[test]
fn every_operator_has_goldens_and_they_hold() {
    let dir = format!("{}/testdata/file_log/operators", env!("CARGO_MANIFEST_DIR"));
    let mut covered = vec![];
    for f in std::fs::read_dir(&dir).unwrap() {
        let path = f.unwrap().path();
        assert!(run_file(&path) > 0, "{}: no cases", path.display());
        covered.push(path.file_stem().unwrap().to_string_lossy().into_owned());
    }
    for ty in super::config::TYPES {
        assert!(covered.iter().any(|c| c == ty), "no golden file for {ty}");
    }
}
