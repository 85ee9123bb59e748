//! ferrotel's `validate` against otelcol's verdicts on the compat corpus (`tests/compat`, see its
//! README): every case must agree with `expected.tsv` except those listed, with the issue that
//! tracks them, in `known-disagreements.tsv` (a listed case that agrees now fails the test too,
//! so the list stays true). Each real-world config must load when ferrotel has every component
//! type it uses, and otherwise be refused with an error naming a missing type.
//!
//! Runs the built binary as `run.sh` does: `ferrotel validate --config cases/FILE` with the
//! corpus as working directory (cases refer to paths relative to it), exit 0 meaning valid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat")
}

fn ferrotel(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(args)
        .current_dir(corpus())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run ferrotel")
}

/// The rows of a TSV file with a header line, as columns.
fn tsv(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(corpus().join(name)).expect(name);
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Runs `job` on every item from a few threads; the results in item order.
fn parallel<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(items.len()));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = job(item);
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The first line of the output that looks like the error, for mismatch reports.
fn first_error(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("- "))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("");
    line.trim().chars().take(300).collect()
}

/// `known-disagreements.tsv`: case file (or real-world config name) -> the reason.
fn known_disagreements() -> BTreeMap<String, String> {
    tsv("known-disagreements.tsv")
        .into_iter()
        .map(|r| (r[0].clone(), r.get(1).cloned().unwrap_or_default()))
        .collect()
}

#[test]
fn validate_agrees_with_otelcol_on_every_case() {
    let known = known_disagreements();
    let cases = tsv("expected.tsv");
    assert!(
        cases.len() > 200,
        "corpus not found: {}",
        corpus().display()
    );
    let verdicts = parallel(&cases, |row| {
        let out = ferrotel(&[
            "validate".into(),
            "--config".into(),
            format!("cases/{}", row[0]),
        ]);
        (out.status.success(), first_error(&out))
    });
    let mut problems = Vec::new();
    for (row, (valid, error)) in cases.iter().zip(verdicts) {
        let (file, expected) = (&row[0], row[1].as_str());
        let got = if valid { "valid" } else { "invalid" };
        let agrees = got == expected;
        match (agrees, known.get(file)) {
            (true, Some(reason)) => problems.push(format!(
                "{file}: agrees with otelcol now ({got}); remove it from known-disagreements.tsv ({reason})"
            )),
            (false, None) => problems.push(format!(
                "{file}: otelcol={expected} ferrotel={got}: {}",
                if valid { row.get(3).cloned().unwrap_or_default() } else { error }
            )),
            _ => {}
        }
    }
    for file in known.keys().filter(|k| k.ends_with(".yaml")) {
        if !cases.iter().any(|r| &r[0] == file) {
            problems.push(format!(
                "{file}: listed in known-disagreements.tsv but not a case"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every component type name `ferrotel components` lists, by section (`receivers`, ...).
fn components() -> BTreeMap<String, BTreeSet<String>> {
    let out = ferrotel(&["components".into()]);
    assert!(out.status.success(), "{}", first_error(&out));
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    let mut found = BTreeMap::new();
    for (section, list) in doc.as_mapping().into_iter().flatten() {
        let (Some(section), Some(list)) = (section.as_str(), list.as_sequence()) else {
            continue;
        };
        let names = found
            .entry(section.to_string())
            .or_insert_with(BTreeSet::new);
        for entry in list {
            let aliases = ["aliases", "deprecated_aliases"]
                .into_iter()
                .filter_map(|key| entry.get(key).and_then(|a| a.as_sequence()));
            let all = entry.get("name").into_iter().chain(aliases.flatten());
            names.extend(all.filter_map(|n| n.as_str()).map(str::to_string));
        }
    }
    found
}

/// Whether this ferrotel has feature gates (then profiles pipelines are behind one, as otelcol).
fn has_feature_gates() -> bool {
    ferrotel(&["featuregate".into()]).status.success()
}

/// The types of a `types_used` cell (`receivers=otlp,jaeger;pipelines=profiles`) that ferrotel
/// lacks, as `section:type`. A profiles pipeline is a gap unless ferrotel has feature gates.
fn gaps(types_used: &str, have: &BTreeMap<String, BTreeSet<String>>, gates: bool) -> Vec<String> {
    let mut missing = Vec::new();
    for part in types_used.split(';').filter(|p| p.contains('=')) {
        let (section, types) = part.split_once('=').unwrap();
        for t in types.split(',') {
            let known = match section {
                "pipelines" => t == "profiles" && gates,
                _ => have.get(section).is_some_and(|s| s.contains(t)),
            };
            if !known {
                missing.push(format!("{section}:{t}"));
            }
        }
    }
    missing
}

#[test]
fn real_world_configs_load_or_name_a_missing_type() {
    let have = components();
    let gates = has_feature_gates();
    let rows = tsv("realworld.tsv");
    let results = parallel(&rows, |row| {
        let (name, configs, types_used) = (&row[0], &row[1], &row[3]);
        let mut args = vec!["validate".to_string()];
        if gates {
            args.push("--feature-gates=service.profilesSupport".into());
        }
        for c in configs.split(',') {
            args.extend(["--config".to_string(), format!("realworld/{c}")]);
        }
        let out = ferrotel(&args);
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        let missing = gaps(types_used, &have, gates);
        if types_used == "-" {
            // Nothing to load (a comment-only overlay): otelcol refuses it too.
            return (!out.status.success())
                .then_some(())
                .ok_or(format!("{name}: an empty configuration was accepted"));
        }
        match (missing.is_empty(), out.status.success()) {
            (true, true) => Ok(()),
            (true, false) => Err(format!(
                "{name}: uses only types ferrotel has, but was refused: {}",
                first_error(&out)
            )),
            (false, true) => Err(format!("{name}: lacks {missing:?} but was accepted")),
            (false, false) => {
                let named = missing.iter().any(|m| match m.split_once(':').unwrap() {
                    ("pipelines", t) => text.contains(t),
                    (_, t) => text.contains(&format!("unknown type \"{t}\"")),
                });
                named.then_some(()).ok_or(format!(
                    "{name}: refused without naming a missing type ({missing:?}): {}",
                    first_error(&out)
                ))
            }
        }
    });
    let known = known_disagreements();
    let mut problems = Vec::new();
    for (row, result) in rows.iter().zip(results) {
        match (result, known.get(&row[0])) {
            (Err(e), None) => problems.push(e),
            (Ok(()), Some(reason)) => problems.push(format!(
                "{}: behaves as expected now; remove it from known-disagreements.tsv ({reason})",
                row[0]
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The OpenTelemetry demo's `connectors:` section, taken unchanged from its collector config
/// (the rest of that config needs receivers ferrotel lacks), wired the way the demo wires it:
/// traces export to the connector, a metrics pipeline receives from it.
#[test]
fn the_otel_demos_connectors_section_loads_unchanged() {
    let text = std::fs::read_to_string(corpus().join("realworld/otel-demo_otelcol-config.yaml"))
        .expect("demo config");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("demo yaml");
    let connectors = &doc["connectors"];
    let names: Vec<String> = connectors
        .as_mapping()
        .expect("a connectors section")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    assert_eq!(names, ["span_metrics"], "the demo's connectors changed");
    let config = format!(
        "receivers: {{otlp: {{protocols: {{grpc: {{endpoint: 127.0.0.1:0}}}}}}}}\n\
         exporters: {{debug: {{}}}}\n\
         connectors:\n{}\n\
         service:\n  pipelines:\n    traces: {{receivers: [otlp], exporters: [debug, span_metrics]}}\n    metrics: {{receivers: [otlp, span_metrics], exporters: [debug]}}\n",
        serde_yaml_ng::to_string(connectors)
            .expect("section")
            .lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("demo-connectors.yaml");
    std::fs::write(&path, &config).expect("write");
    let out = ferrotel(&[
        "validate".into(),
        "--config".into(),
        path.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{config}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The OpenTelemetry demo's `filter/sanitize_profiles`, taken unchanged from its collector
/// config, in a profiles pipeline (behind otelcol's gate, as the demo runs it).
#[test]
fn the_otel_demos_profiles_filter_loads_unchanged() {
    let text = std::fs::read_to_string(corpus().join("realworld/otel-demo_otelcol-config.yaml"))
        .expect("demo config");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("demo yaml");
    let filter = &doc["processors"]["filter/sanitize_profiles"];
    assert!(filter.is_mapping(), "the demo's profiles filter changed");
    let section = serde_yaml_ng::to_string(filter).expect("section");
    let indented: Vec<String> = section.lines().map(|l| format!("    {l}")).collect();
    let config = format!(
        "receivers: {{otlp: {{protocols: {{grpc: {{endpoint: 127.0.0.1:0}}}}}}}}\n\
         exporters: {{debug: {{}}}}\n\
         processors:\n  filter/sanitize_profiles:\n{}\n\
         service:\n  pipelines:\n    profiles: {{receivers: [otlp], processors: [filter/sanitize_profiles], exporters: [debug]}}\n",
        indented.join("\n")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("demo-filter.yaml");
    std::fs::write(&path, &config).expect("write");
    let out = ferrotel(&[
        "validate".into(),
        "--feature-gates=service.profilesSupport".into(),
        "--config".into(),
        path.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{config}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The OpenTelemetry demo's `host_metrics` receiver, taken from its collector config with only
/// `root_path` changed (its `/hostfs` is the host mounted into the demo's container, absent
/// here), in a metrics pipeline; with `/hostfs` itself, the refusal is otelcol's.
#[test]
fn the_otel_demos_host_metrics_section_loads() {
    let text = std::fs::read_to_string(corpus().join("realworld/otel-demo_otelcol-config.yaml"))
        .expect("demo config");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("demo yaml");
    let mut section = doc["receivers"]["host_metrics"].clone();
    assert_eq!(
        section["root_path"].as_str(),
        Some("/hostfs"),
        "the demo's host_metrics changed"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let validate = |section: &serde_yaml_ng::Value, name: &str| {
        let indented: Vec<String> = serde_yaml_ng::to_string(section)
            .expect("section")
            .lines()
            .map(|l| format!("    {l}"))
            .collect();
        let config = format!(
            "receivers:\n  host_metrics:\n{}\nexporters: {{debug: {{}}}}\n\
             service:\n  pipelines:\n    metrics: {{receivers: [host_metrics], exporters: [debug]}}\n",
            indented.join("\n")
        );
        let path = dir.path().join(name);
        std::fs::write(&path, &config).expect("write");
        let out = ferrotel(&[
            "validate".into(),
            "--config".into(),
            path.display().to_string(),
        ]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            config,
        )
    };
    if !Path::new("/hostfs").exists() {
        let (ok, stderr, _) = validate(&section, "demo-hostfs.yaml");
        assert!(
            !ok && stderr.contains("invalid root_path: stat /hostfs: no such file or directory"),
            "{stderr}"
        );
    }
    section["root_path"] = dir.path().display().to_string().into();
    let (ok, stderr, config) = validate(&section, "demo-host-metrics.yaml");
    assert!(ok, "{config}\n{stderr}");
}
