//! The binary's life: the CLI, config errors, health_check states, self-metrics checked by
//! promtool, SIGTERM draining everything accepted, and the embedded default config.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{
    base_config, base_config_on, binary, eventually, http_get, metrics, Collector, Ports,
};
use std::process::Command;
use std::time::Duration;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("ferrotel runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn write_config(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write");
    p.to_string_lossy().into_owned()
}

/// As otelcol, `validate` reads no TLS, token or htpasswd file and resolves no authenticator;
/// `ferrotel` with the same config fails at start, naming the component, the key and the cause.
#[test]
fn files_and_authenticators_are_start_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "extensions:\n  bearertokenauth/x: {filename: /nonexistent/ferrotel/f.token}\nreceivers: {otlp: {protocols: {grpc: {endpoint: '127.0.0.1:0', auth: {authenticator: bearertokenauth/x}}}}}\nexporters: {debug: {}}\nservice:\n  telemetry: {metrics: {address: '127.0.0.1:0'}}\n  extensions: [bearertokenauth/x]\n  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n",
            "extensions.bearertokenauth/x: filename: failed to read \"/nonexistent/ferrotel/f.token\"",
        ),
        (
            "receivers: {otlp: {protocols: {grpc: {endpoint: '127.0.0.1:0', tls: {cert_file: /nonexistent/ferrotel/s.crt, key_file: /nonexistent/ferrotel/s.key}}}}}\nexporters: {debug: {}}\nservice:\n  telemetry: {metrics: {address: '127.0.0.1:0'}}\n  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n",
            "receivers.otlp: protocols.grpc.tls.cert_file: failed to read \"/nonexistent/ferrotel/s.crt\"",
        ),
        (
            "receivers: {otlp: {protocols: {grpc: {endpoint: '127.0.0.1:0', auth: {authenticator: nosuch}}}}}\nexporters: {debug: {}}\nservice:\n  telemetry: {metrics: {address: '127.0.0.1:0'}}\n  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n",
            "receivers.otlp.protocols.grpc.auth.authenticator: failed to resolve authenticator \"nosuch\"",
        ),
    ];
    for (i, (config, needle)) in cases.into_iter().enumerate() {
        let path = write_config(&dir, &format!("c{i}.yaml"), config);
        let (code, _, err) = run(&["validate", "--config", &path]);
        assert_eq!(code, 0, "validate reads no file: {err}");
        let mut c = Collector::spawn(config, &[]);
        let status = c
            .wait_exit(Duration::from_secs(20))
            .expect("exits at start");
        let err = c.stderr();
        assert!(!status.success(), "{err}");
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn version_components_and_validate() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ferrotel "), "{out}");

    let (code, out, _) = run(&["components"]);
    assert_eq!(code, 0);
    for name in [
        "otlp",
        "batch",
        "memory_limiter",
        "debug",
        "otlp_http",
        "health_check",
    ] {
        assert!(
            out.contains(&format!("name: {name}")),
            "components lists {name}:\n{out}"
        );
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let good = write_config(
        &dir,
        "good.yaml",
        &base_config(
            "  batch: {}",
            "  debug: {}",
            "    traces: {receivers: [otlp], processors: [batch], exporters: [debug]}",
        ),
    );
    let (code, _, err) = run(&["validate", "--config", &good]);
    assert_eq!(code, 0, "{err}");

    let bad = write_config(
        &dir,
        "bad.yaml",
        "receivers: {otlp: {protocols: {grpc: {endpont: x}}}}\nprocessors: {batch: {timout: 1s}}\nexporters: {debug: {verbosity: loud}, kafka: {}}\nservice:\n  pipelines:\n    traces: {receivers: [otlp], processors: [batch, missing], exporters: [debug]}\n",
    );
    let (code, _, err) = run(&["validate", "--config", &bad]);
    assert_eq!(code, 1);
    for needle in [
        "receivers.otlp.protocols.grpc.endpont",
        "processors.batch.timout",
        "exporters.debug.verbosity",
        "exporters.kafka: unknown type \"kafka\"",
        "service.pipelines.traces.processors[1]: references processor \"missing\" which is not configured",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );

    // Later --config sources and --set merge over earlier ones.
    let (code, _, err) = run(&[
        "validate",
        "--config",
        &bad,
        "--config",
        &good,
        "--set",
        "processors.batch.timeout=2s",
    ]);
    assert_eq!(
        code, 1,
        "maps merge: the typo'd keys of the first file remain"
    );
    assert!(err.contains("processors.batch.timout"));
    let (code, _, err) = run(&[
        "validate",
        "--config",
        &good,
        "--config",
        "yaml:processors::batch::send_batch_size: 5",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&[
        "validate",
        "--config",
        &good,
        "--config",
        "yaml:processors::batch::send_batch_size: -5",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("processors.batch.send_batch_size"), "{err}");
}

#[test]
fn env_config_source_and_substitution() {
    let cfg = base_config(
        "  batch:\n    timeout: ${env:BATCH_TIMEOUT:-100ms}",
        "  debug:\n    verbosity: ${VERBOSITY}",
        "    logs: {receivers: [otlp], processors: [batch], exporters: [debug]}",
    );
    let out = Command::new(binary())
        .args(["validate", "--config", "env:FERROTEL_TEST_CFG"])
        .env("FERROTEL_TEST_CFG", &cfg)
        .env("VERBOSITY", "detailed")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(binary())
        .args(["validate", "--config", "env:FERROTEL_TEST_CFG"])
        .env("FERROTEL_TEST_CFG", &cfg)
        .env("VERBOSITY", "loud")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verbosity level \"loud\" is not supported")
    );
}

#[test]
fn port_in_use_is_a_clear_start_error() {
    // Held for the whole test, so the port really is in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let ports = Ports {
        grpc: taken_port,
        ..Ports::ANY
    };
    let cfg = base_config_on(
        &ports,
        "  batch: {}",
        "  debug: {}",
        "    traces: {receivers: [otlp], processors: [batch], exporters: [debug]}",
    );
    let mut c = Collector::spawn(&cfg, &[]);
    let status = c.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "exits with 1");
    let err = c.stderr();
    assert!(
        err.contains(&taken_port.to_string()) && err.contains("receivers.otlp"),
        "{err}"
    );
}

#[test]
fn health_check_and_promtool_accept_self_metrics() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sink = rt.block_on(Sink::start());
    let cfg = base_config(
        "  batch:\n    timeout: 10ms",
        &format!("  otlp:\n    endpoint: 127.0.0.1:{}\n    tls: {{insecure: true}}\n  debug: {{}}", sink.port()),
        "    traces: {receivers: [otlp], processors: [batch], exporters: [otlp, debug]}\n    logs: {receivers: [otlp], exporters: [debug]}",
    );
    let mut c = Collector::start(&cfg, &[]);
    let ports = c.ports;
    let health =
        http_get::blocking_text(&format!("http://127.0.0.1:{}/", ports.health)).expect("health");
    let v: serde_json::Value = serde_json::from_str(&health).expect("health JSON");
    assert_eq!(v["status"], "Server available");
    assert!(
        v["upSince"].as_str().is_some_and(|s| s.contains('T'))
            && v["uptime"].as_str().is_some_and(|s| s.ends_with('s')),
        "{health}"
    );

    let body = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
        resource_spans: vec![opentelemetry_proto::tonic::trace::v1::ResourceSpans {
            scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                spans: vec![
                    opentelemetry_proto::tonic::trace::v1::Span {
                        trace_id: vec![7; 16],
                        span_id: vec![7; 8],
                        name: "m".into(),
                        ..Default::default()
                    };
                    3
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/v1/traces", ports.http))
            .header("content-type", "application/x-protobuf")
            .body(prost::Message::encode_to_vec(&body))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(status.ok(), Some(200));
    assert!(
        eventually(Duration::from_secs(5), || c
            .metric("otelcol_exporter_sent_spans{exporter=\"otlp\"}")
            == 3.0),
        "{}",
        c.metrics_text()
    );
    let text = c.metrics_text();
    for (series, want) in [
        (
            "otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"http\"}",
            Some(3.0),
        ),
        ("otelcol_exporter_sent_spans{exporter=\"debug\"}", Some(3.0)),
        (
            "otelcol_processor_incoming_items{processor=\"batch\",otel_signal=\"traces\"}",
            Some(3.0),
        ),
        (
            "otelcol_exporter_queue_capacity{exporter=\"otlp\",data_type=\"traces\"}",
            Some(1000.0),
        ),
    ] {
        assert_eq!(metrics::value(&text, series), want, "{series}:\n{text}");
    }
    for series in [
        "otelcol_process_memory_rss",
        "otelcol_process_cpu_seconds",
        "otelcol_process_uptime",
    ] {
        assert!(
            metrics::value(&text, series).is_some(),
            "missing {series:?}:\n{text}"
        );
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (scripts/setup-test-deps installs it)");
    std::io::Write::write_all(promtool.stdin.as_mut().expect("stdin"), text.as_bytes())
        .expect("write");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(c.terminate(Duration::from_secs(10)), Some(0));
    assert!(
        http_get::blocking_get(&format!("http://127.0.0.1:{}/", ports.health)).is_err(),
        "health endpoint closed after exit"
    );
}

#[test]
fn sigterm_exports_everything_accepted() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sink = rt.block_on(Sink::start());
    sink.lock().delay = Duration::from_millis(150);
    let cfg = base_config(
        "  batch:\n    timeout: 5s\n    send_batch_size: 100000",
        &format!("  otlp:\n    endpoint: 127.0.0.1:{}\n    tls: {{insecure: true}}\n    sending_queue: {{num_consumers: 2}}", sink.port()),
        "    logs: {receivers: [otlp], processors: [batch], exporters: [otlp]}\n    traces: {receivers: [otlp], exporters: [otlp]}",
    );
    let mut c = Collector::start(&cfg, &[]);
    let ports = c.ports;
    let mut accepted = 0usize;
    rt.block_on(async {
        let client = reqwest::Client::new();
        for i in 0..40usize {
            let (path, body) = if i % 2 == 0 {
                ("/v1/logs", serde_json::json!({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":format!("log {i}")}},{"body":{"stringValue":"second"}}]}]}]}))
            } else {
                ("/v1/traces", serde_json::json!({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":format!("{:016x}", i + 1),"name":"s"}]}]}]}))
            };
            let r = client.post(format!("http://127.0.0.1:{}{path}", ports.http)).json(&body).send().await.expect("sent");
            if r.status() == 200 {
                accepted += if i % 2 == 0 { 2 } else { 1 };
            }
        }
    });
    assert_eq!(accepted, 60, "all accepted before shutdown");
    assert_eq!(
        c.terminate(Duration::from_secs(30)),
        Some(0),
        "{}",
        c.stderr()
    );
    let delivered = sink.span_count() + sink.log_count();
    assert_eq!(
        delivered,
        60,
        "every accepted item was exported before exit\n{}",
        c.stderr()
    );
}

#[test]
fn default_config_runs_the_otelcol_image_pipeline() {
    // The embedded default listens on the fixed otelcol ports; skip if something holds them.
    for p in [4317, 4318, 13133, 8888] {
        if std::net::TcpListener::bind(("0.0.0.0", p)).is_err() {
            eprintln!("port {p} busy, skipping");
            return;
        }
    }
    let mut child = Command::new(binary())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let healthy = eventually(Duration::from_secs(20), || {
        http_get::blocking_get("http://127.0.0.1:13133/").ok() == Some(200)
    });
    let metrics = http_get::blocking_text("http://127.0.0.1:8888/metrics").unwrap_or_default();
    let grpc_open = std::net::TcpStream::connect("127.0.0.1:4317").is_ok();
    let http_open = std::net::TcpStream::connect("127.0.0.1:4318").is_ok();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("exits");
    assert!(
        healthy && grpc_open && http_open,
        "default pipeline serving"
    );
    assert!(
        ferrotel_integration::metrics::value(&metrics, "otelcol_process_uptime").is_some(),
        "{metrics}"
    );
    assert_eq!(status.code(), Some(0));
}
