//! The example distribution as a user runs it: the `my-ferrotel` binary with a YAML config using
//! its own processors next to stock ones, real OTLP/HTTP in, a real OTLP/gRPC sink out.

use ferrotel::prelude::pdata;
use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, Collector};
use prost::Message;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_my-ferrotel");

#[test]
fn custom_processors_run_in_a_yaml_pipeline() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let config = base_config(
        "  tenant: {header: x-tenant}\n  drop_health: {}\n  batch: {timeout: 20ms}",
        &format!("  otlp:\n    endpoint: 127.0.0.1:{}\n    tls: {{insecure: true}}", sink.port()),
        "    traces: {receivers: [otlp], processors: [drop_health, tenant, batch], exporters: [otlp]}",
    )
    .replace("      http:\n", "      http:\n        include_metadata: true\n");
    let c = Collector::start_binary(Path::new(BIN), &config, &[]);
    let ports = c.ports;

    let mut req = ferrotel_testkit::fixtures::traces(6);
    let spans = &mut req.resource_spans[0].scope_spans[0].spans;
    pdata::upsert(
        &mut spans[1].attributes,
        "url.path",
        pdata::str_value("/healthz"),
    );
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/v1/traces", ports.http))
            .header("content-type", "application/x-protobuf")
            .header("x-tenant", "acme")
            .body(req.encode_to_vec())
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(status.ok(), Some(200));
    assert!(
        eventually(Duration::from_secs(10), || sink.span_count() == 5),
        "sink got {} spans",
        sink.span_count()
    );
    let st = sink.lock();
    for rs in st.traces.iter().flat_map(|r| &r.resource_spans) {
        let attrs = &rs.resource.as_ref().expect("resource").attributes;
        assert_eq!(pdata::attr_str(attrs, "tenant"), Some("acme"));
        for s in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            assert_ne!(pdata::attr_str(&s.attributes, "url.path"), Some("/healthz"));
        }
    }
}

#[test]
fn components_and_validate_know_the_custom_processors() {
    let out = Command::new(BIN).arg("components").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("name: tenant")
            && text.contains("name: drop_health")
            && text.contains("name: batch"),
        "{text}"
    );

    let dir = tempfile_dir();
    let cfg = dir.join("bad.yaml");
    std::fs::write(&cfg, "receivers: {otlp: {protocols: {http: {}}}}\nprocessors: {tenant: {heder: x}}\nexporters: {debug: {}}\nservice: {pipelines: {traces: {receivers: [otlp], processors: [tenant], exporters: [debug]}}}\n").expect("write");
    let out = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(&cfg)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("processors.tenant") && err.contains("heder"),
        "{err}"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("my-ferrotel-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tempdir");
    d
}
