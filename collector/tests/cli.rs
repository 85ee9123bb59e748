//! The command line as a user meets it: `print-config` redaction, both spellings of renamed
//! component types with otelcol's deprecation warning, and unset `${env:VAR}` references.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn ferrotel(args: &[&str], yaml: &str) -> Output {
    let dir = std::env::temp_dir().join(format!("ferrotel-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:x}.yaml", file_name_for(yaml)));
    std::fs::write(&path, yaml).unwrap();
    Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(args)
        .arg("--config")
        .arg(&path)
        .env_remove("MY_POD_IP")
        .env("FERROTEL_TEST_TOKEN", "tok-from-env")
        .output()
        .unwrap()
}

/// A file name per config text, so parallel tests do not share files.
fn file_name_for(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

const SECRETS: &str = r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: "127.0.0.1:0"}}}
extensions:
  basicauth/client: {client_auth: {username: alice, password: hunter2}}
  bearertokenauth: {token: "${env:FERROTEL_TEST_TOKEN}"}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:4318
    headers: {Authorization: "Bearer abc123", Cookie: "session=xyz", X-Scope-OrgID: tenant-a}
    auth: {authenticator: basicauth/client}
service:
  extensions: [basicauth/client, bearertokenauth]
  pipelines:
    traces: {receivers: [otlp], exporters: [otlphttp]}
"#;

#[test]
fn print_config_redacts_secrets_by_default() {
    let out = ferrotel(&["print-config"], SECRETS);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [
        "hunter2",
        "tok-from-env",
        "abc123",
        "session=xyz",
        "tenant-a",
    ] {
        assert!(!stdout.contains(secret), "{secret} printed:\n{stdout}");
    }
    assert_eq!(stdout.matches("[REDACTED]").count(), 5, "{stdout}");
    assert!(stdout.contains("username: alice"), "{stdout}");
    assert!(
        stdout.contains("endpoint: http://127.0.0.1:4318"),
        "{stdout}"
    );
}

#[test]
fn print_config_unredacted_shows_the_resolved_values_as_json() {
    let out = ferrotel(
        &["print-config", "--mode", "unredacted", "--format", "json"],
        SECRETS,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["extensions"]["bearertokenauth"]["token"], "tok-from-env");
    assert_eq!(
        v["exporters"]["otlphttp"]["headers"]["Cookie"],
        "session=xyz"
    );
}

#[test]
fn print_config_refuses_an_unknown_mode() {
    let out = ferrotel(&["print-config", "--mode", "plain"], SECRETS);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain"));
}

const NAMES: &str = r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: "${env:MY_POD_IP}:4317"}}}
exporters:
  otlp: {endpoint: "127.0.0.1:4317", tls: {insecure: true}}
  otlp_grpc/new: {endpoint: "127.0.0.1:4317", tls: {insecure: true}}
  otlphttp: {endpoint: "http://127.0.0.1:4318"}
  otlp_http/new: {endpoint: "http://127.0.0.1:4318"}
service:
  telemetry:
    metrics:
      readers:
        - pull: {exporter: {prometheus: {host: "${env:MY_POD_IP}", port: 8888}}}
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp, otlp_grpc/new, otlphttp, otlp_http/new]}
"#;

#[test]
fn both_spellings_load_and_the_old_one_warns_as_otelcol() {
    let out = ferrotel(&["validate"], NAMES);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(r#""otlp" alias is deprecated; use "otlp_grpc" instead"#),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#""otlphttp" alias is deprecated; use "otlp_http" instead"#),
        "{stderr}"
    );
    assert!(!stderr.contains(r#""otlp_grpc" alias"#), "{stderr}");
}

#[test]
fn unset_variables_expand_to_empty_with_a_warning() {
    let out = ferrotel(&["validate"], NAMES);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .matches("Configuration references unset environment variable \"MY_POD_IP\"")
            .count(),
        2,
        "{stderr}"
    );
}

#[test]
fn components_lists_both_spellings() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .arg("components")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (name, old) in [
        ("otlp_grpc", "otlp"),
        ("otlp_http", "otlphttp"),
        ("load_balancing", "loadbalancing"),
        ("basic_auth", "basicauth"),
        ("bearer_token_auth", "bearertokenauth"),
    ] {
        let entry = format!("  - name: {name}\n    deprecated_aliases: [{old}]\n");
        assert!(stdout.contains(&entry), "{entry} missing from\n{stdout}");
    }
}
