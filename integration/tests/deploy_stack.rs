//! The deploy/ files (compose stack, Prometheus config and alert rules, Alertmanager routing,
//! Grafana dashboard, Kubernetes manifests, the image's health probe) checked with the real tools
//! and run as processes, since no container engine runs here: ferrotel with the compose config,
//! a real Prometheus (Debian package) with the compose Prometheus config, both moved to loopback
//! ports, and a Jaeger-compatible collector endpoint whose payloads Apache Thrift's own Python
//! library decodes. A trace and a metric sent by the Rust OpenTelemetry SDK must show up decoded
//! at the Jaeger endpoint and queryable in Prometheus, and every dashboard query must return data.

use ferrotel_integration::prometheus::{JaegerSpm, Prometheus};
use ferrotel_integration::{
    binary, eventually, metrics, startup, workspace, Collector, ReservedPort,
};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Tracer, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn deploy(rel: &str) -> PathBuf {
    workspace().join("deploy").join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy(rel)).unwrap_or_else(|e| panic!("deploy/{rel}: {e}"))
}

fn venv_bin(name: &str) -> PathBuf {
    let p = workspace().join(".venv/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-test-deps",
        p.display()
    );
    p
}

/// Runs a tool; panics with its output unless it exits 0. Returns stdout + stderr.
fn run_ok(cmd: &mut Command) -> String {
    let out = output(cmd);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{cmd:?} cannot run ({e}): run scripts/setup-test-deps"))
}

/// Replaces every `from` with `to`; each `from` must occur (so a drifting file fails here).
fn rewrite(text: &str, edits: &[(&str, String)]) -> String {
    edits.iter().fold(text.to_string(), |acc, (from, to)| {
        assert!(
            acc.contains(from),
            "{from:?} not found; the deploy file changed"
        );
        acc.replace(from, to)
    })
}

/// The compose Prometheus config with every target on loopback: ferrotel's self-metrics and
/// exporter ports, Prometheus's own port; Alertmanager and Jaeger on the `closed` port (where
/// nothing listens). Rule files come from the repository; scrape and evaluation every second
/// for the test.
fn prometheus_config(self_metrics: u16, exporter: u16, prom: u16, closed: u16) -> String {
    let rules = deploy("prometheus/rules");
    rewrite(
        &read("compose/prometheus.yml"),
        &[
            ("scrape_interval: 15s", "scrape_interval: 1s".into()),
            ("evaluation_interval: 15s", "evaluation_interval: 1s".into()),
            ("/etc/prometheus/rules", rules.display().to_string()),
            ("ferrotel:8888", format!("127.0.0.1:{self_metrics}")),
            ("ferrotel:8889", format!("127.0.0.1:{exporter}")),
            ("localhost:9090", format!("127.0.0.1:{prom}")),
            ("alertmanager:9093", format!("127.0.0.1:{closed}")),
            ("jaeger:14269", format!("127.0.0.1:{closed}")),
        ],
    )
}

/// The compose ferrotel config with every listener on loopback port 0 (the ports are read back
/// after start), exporting to `jaeger_port`.
fn ferrotel_config(jaeger_port: u16) -> String {
    rewrite(
        &read("compose/ferrotel.yaml"),
        &[
            ("0.0.0.0:13133", "127.0.0.1:0".into()),
            ("0.0.0.0:4317", "127.0.0.1:0".into()),
            ("0.0.0.0:4318", "127.0.0.1:0".into()),
            ("0.0.0.0:8889", "127.0.0.1:0".into()),
            (
                "http://jaeger:14268/api/traces",
                format!("http://127.0.0.1:{jaeger_port}/api/traces"),
            ),
            (
                "metrics_flush_interval: 15s",
                "metrics_flush_interval: 1s".into(),
            ),
            (
                "host: 0.0.0.0\n                port: 8888",
                "host: 127.0.0.1\n                port: 0".into(),
            ),
        ],
    )
}

fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write temp file");
    p
}

#[test]
fn deploy_promtool_checks_config_rules_and_rule_tests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_temp(dir.path(), "prometheus.yml", &prometheus_config(1, 2, 3, 4));
    let out = run_ok(
        Command::new("promtool")
            .arg("check")
            .arg("config")
            .arg(&cfg),
    );
    assert!(
        out.contains("SUCCESS: 1 rule files found") && out.contains("SUCCESS: 7 rules found"),
        "{out}"
    );
    run_ok(
        Command::new("promtool")
            .args(["check", "rules"])
            .arg(deploy("prometheus/rules/ferrotel-alerts.yml")),
    );
    // Unit tests: each alert fires (and only then) on synthetic series with ferrotel's labels.
    let out = run_ok(
        Command::new("promtool")
            .args(["test", "rules"])
            .arg(deploy("prometheus/tests/ferrotel-alerts-test.yml")),
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn deploy_alertmanager_routes_by_severity() {
    let cfg = deploy("compose/alertmanager.yml");
    run_ok(Command::new("amtool").arg("check-config").arg(&cfg));
    for (severity, receiver) in [
        ("critical", "pager"),
        ("high", "pager"),
        ("warning", "chat"),
    ] {
        let out = output(
            Command::new("amtool")
                .args(["config", "routes", "test", "--config.file"])
                .arg(&cfg)
                .arg(format!("severity={severity}"))
                .arg("alertname=FerrotelDown"),
        );
        let got = String::from_utf8_lossy(&out.stdout);
        assert_eq!(got.trim(), receiver, "severity {severity}");
    }
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("compose/alertmanager.yml")).expect("alertmanager.yml");
    let rule = &doc["inhibit_rules"][0];
    assert_eq!(
        rule["source_matchers"][0].as_str(),
        Some("severity=\"critical\"")
    );
    assert_eq!(
        rule["target_matchers"][0].as_str(),
        Some("severity=\"warning\"")
    );
    let equal: Vec<&str> = rule["equal"]
        .as_sequence()
        .map(|s| s.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(equal, ["alertname", "instance"]);
}

#[test]
fn deploy_compose_file_matches_schema_and_mounts_exist() {
    run_ok(
        Command::new(venv_bin("check-jsonschema"))
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(deploy("compose/docker-compose.yml")),
    );
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("compose/docker-compose.yml")).expect("compose yaml");
    let services = doc["services"].as_mapping().expect("services");
    for name in [
        "ferrotel",
        "prometheus",
        "jaeger",
        "grafana",
        "alertmanager",
        "api",
    ] {
        assert!(services.contains_key(name), "service {name} missing");
    }
    // Every bind mount points at a file or folder of the repository.
    let mut mounts = 0;
    for (_, svc) in services {
        for v in svc["volumes"].as_sequence().into_iter().flatten() {
            let src = v.as_str().and_then(|v| v.split(':').next()).unwrap_or("");
            if src.starts_with('.') {
                let p = deploy("compose").join(src);
                assert!(p.exists(), "mount source {} missing", p.display());
                mounts += 1;
            }
        }
    }
    assert!(mounts >= 6, "{mounts} bind mounts");
    let ports = |svc: &str| -> Vec<String> {
        services[svc]["ports"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect()
    };
    for p in [
        "4317:4317",
        "4318:4318",
        "8888:8888",
        "8889:8889",
        "13133:13133",
    ] {
        assert!(
            ports("ferrotel").contains(&p.to_string()),
            "ferrotel port {p}"
        );
    }
    assert!(ports("grafana").contains(&"3001:3000".to_string()));
    assert!(ports("prometheus").contains(&"9090:9090".to_string()));
    assert!(ports("alertmanager").contains(&"9093:9093".to_string()));
    assert!(ports("jaeger").contains(&"16686:16686".to_string()));
    let prom_args = format!("{:?}", services["prometheus"]["command"]);
    assert!(
        prom_args.contains("--storage.tsdb.retention.time=30d"),
        "{prom_args}"
    );
    // The image reads otelcol-contrib's default config path (a compose file without `command:`
    // keeps working), and bakes the default config there and at the path the compose file uses.
    let dockerfile = std::fs::read_to_string(workspace().join("Dockerfile")).expect("Dockerfile");
    assert!(dockerfile.contains(r#"CMD ["--config=/etc/otelcol-contrib/config.yaml"]"#));
    assert!(
        dockerfile.contains("/out/etc/otelcol-contrib/config.yaml")
            && dockerfile.contains("/out/etc/ferrotel/config.yaml")
    );
    assert!(dockerfile.contains("EXPOSE 4317 4318 8888 8889 13133"));
}

/// The ferrotel configs a manifest carries in ConfigMaps of ferrotel pods.
fn ferrotel_configmaps(file: &str) -> Vec<(String, String)> {
    read(file)
        .split("\n---\n")
        .map(|d| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(d).expect("manifest YAML"))
        .filter(|d| d["kind"].as_str() == Some("ConfigMap"))
        .filter_map(|d| {
            let name = d["metadata"]["name"].as_str()?.to_string();
            let cfg = d["data"]["config.yaml"].as_str()?.to_string();
            name.starts_with("ferrotel").then_some((name, cfg))
        })
        .collect()
}

#[test]
fn deploy_kubernetes_manifests_validate() {
    let files = [
        "kubernetes/gateway.yaml",
        "kubernetes/agent.yaml",
        "kubernetes/tail-sampling.yaml",
    ];
    let out = run_ok(
        Command::new(venv_bin("kubernetes-validate"))
            .args(["--strict", "-k", "1.30.0"])
            .args(files.iter().map(|f| deploy(f))),
    );
    assert_eq!(out.matches(" passed for resource ").count(), 11, "{out}");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = vec![];
    for f in files {
        for (name, cfg) in ferrotel_configmaps(f) {
            let p = write_temp(dir.path(), &format!("{name}.yaml"), &cfg);
            run_ok(
                Command::new(binary())
                    .arg("validate")
                    .arg("--config")
                    .arg(&p)
                    .env("K8S_NODE_NAME", "node-1"),
            );
            seen.push(name);
        }
    }
    assert_eq!(
        seen,
        [
            "ferrotel-gateway",
            "ferrotel-agent",
            "ferrotel-sampler",
            "ferrotel-router"
        ]
    );
}

#[test]
fn deploy_compose_ferrotel_config_validates() {
    run_ok(
        Command::new(binary())
            .arg("validate")
            .arg("--config")
            .arg(deploy("compose/ferrotel.yaml")),
    );
    // The config baked into the image.
    run_ok(
        Command::new(binary())
            .arg("validate")
            .arg("--config")
            .arg(workspace().join("config/default.yaml")),
    );
}

/// Builds deploy/healthcheck/probe.rs as the Dockerfile does.
fn build_probe(dir: &Path) -> PathBuf {
    let out = dir.join("healthcheck");
    run_ok(
        Command::new("rustc")
            .args([
                "--edition",
                "2021",
                "-C",
                "opt-level=s",
                "-C",
                "strip=symbols",
            ])
            .args(["-C", "target-feature=+crt-static", "-o"])
            .arg(&out)
            .arg(deploy("healthcheck/probe.rs")),
    );
    out
}

#[test]
fn deploy_healthcheck_probe_follows_health_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = build_probe(dir.path());
    let cfg = ferrotel_integration::base_config(
        "  batch: {}",
        "  debug: {}",
        "    traces: {receivers: [otlp], processors: [batch], exporters: [debug]}",
    );
    let mut collector = Collector::start(&cfg, &[]);
    let health = format!("127.0.0.1:{}", collector.ports.health);
    assert!(output(Command::new(&probe).arg(&health)).status.success());
    // A server answering 503 (health_check while not ready) and a closed port are unhealthy.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        }
    });
    assert!(!output(Command::new(&probe).arg(addr.to_string()))
        .status
        .success());
    assert_eq!(collector.terminate(Duration::from_secs(10)), Some(0));
    assert!(!output(Command::new(&probe).arg(&health)).status.success());
}

/// One request received by [`JaegerEndpoint`].
#[derive(Clone)]
struct Post {
    request_line: String,
    content_type: String,
    body: Vec<u8>,
}

/// A Jaeger collector's Thrift-over-HTTP endpoint: records each POST and answers 202 as Jaeger.
struct JaegerEndpoint {
    port: u16,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl JaegerEndpoint {
    fn start() -> JaegerEndpoint {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let posts = Arc::new(Mutex::new(vec![]));
        let p = posts.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let p = p.clone();
                std::thread::spawn(move || Self::serve(s, &p));
            }
        });
        JaegerEndpoint { port, posts }
    }

    /// Serves HTTP/1.1 requests with a Content-Length body on one connection.
    fn serve(s: TcpStream, posts: &Mutex<Vec<Post>>) {
        let mut w = match s.try_clone() {
            Ok(w) => w,
            Err(_) => return,
        };
        let mut r = BufReader::new(s);
        loop {
            let mut request_line = String::new();
            if r.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let (mut len, mut ctype) = (0usize, String::new());
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    match k.to_ascii_lowercase().as_str() {
                        "content-length" => len = v.trim().parse().unwrap_or(0),
                        "content-type" => ctype = v.trim().to_string(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0u8; len];
            if r.read_exact(&mut body).is_err() {
                return;
            }
            let line = request_line.trim_end().to_string();
            if let Ok(mut v) = posts.lock() {
                v.push(Post {
                    request_line: line,
                    content_type: ctype,
                    body,
                });
            }
            if w.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Decodes Jaeger Thrift batches with Apache Thrift's Python library
/// (exporters/testdata/jaeger/decode.py on classes generated by the `thrift` compiler).
fn thrift_decode(bodies: &[Vec<u8>]) -> Vec<Json> {
    let testdata = workspace().join("exporters/testdata/jaeger");
    let dir = tempfile::tempdir().expect("tempdir");
    let gen = dir.path().join("gen");
    std::fs::create_dir(&gen).expect("mkdir");
    run_ok(
        Command::new("thrift")
            .args(["-r", "--gen", "py", "-out"])
            .arg(&gen)
            .arg(testdata.join("agent.thrift")),
    );
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(testdata.join("decode.py")).arg(&gen).arg("http");
    for (i, b) in bodies.iter().enumerate() {
        let f = dir.path().join(format!("{i}.bin"));
        std::fs::write(&f, b).expect("write body");
        cmd.arg(f);
    }
    serde_json::from_str(&run_ok(&mut cmd)).expect("decode.py prints JSON")
}

/// The PromQL of every target of the stack's dashboards, with Grafana's variables filled in.
fn dashboard_queries() -> Vec<String> {
    let ds = read("compose/grafana/provisioning/datasources/datasources.yml");
    let mut out = vec![];
    for file in ["ferrotel.json", "red.json"] {
        let dash: Json = serde_json::from_str(&read(&format!("grafana/dashboards/{file}")))
            .expect("dashboard JSON");
        let before = out.len();
        for p in dash["panels"].as_array().expect("panels") {
            for t in p["targets"].as_array().into_iter().flatten() {
                let uid = t["datasource"]["uid"].as_str().unwrap_or("");
                assert!(
                    ds.contains(&format!("uid: {uid}\n    type: prometheus")),
                    "{uid}"
                );
                let expr = t["expr"].as_str().expect("expr");
                out.push(
                    expr.replace("$__rate_interval", "1m")
                        .replace("$instance", ".*")
                        .replace("$service", ".*"),
                );
            }
        }
        assert!(out.len() > before, "{file} has no queries");
    }
    assert!(out.len() >= 31, "{} dashboard queries", out.len());
    out
}

/// The queries Jaeger's Monitor tab sends for `service`, with the `PROMETHEUS_*` settings of
/// the compose file's jaeger service (which must point it at the stack's Prometheus).
fn jaeger_monitor_queries(service: &str) -> Vec<String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("compose/docker-compose.yml")).expect("compose yaml");
    let env = &doc["services"]["jaeger"]["environment"];
    let var = |k: &str| env[k].as_str().unwrap_or("").to_string();
    assert_eq!(var("METRICS_STORAGE_TYPE"), "prometheus");
    assert_eq!(var("PROMETHEUS_SERVER_URL"), "http://prometheus:9090");
    let unit = var("PROMETHEUS_QUERY_DURATION_UNIT");
    let spm = JaegerSpm::new(
        &var("PROMETHEUS_QUERY_NAMESPACE"),
        var("PROMETHEUS_QUERY_NORMALIZE_CALLS") == "true",
        var("PROMETHEUS_QUERY_NORMALIZE_DURATION") == "true",
        if unit.is_empty() { "ms" } else { &unit },
    );
    vec![
        spm.call_rates(service),
        spm.error_rates(service),
        spm.latencies(0.95, service),
    ]
}

/// `otelcol_*` metric names used by a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("otelcol_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// Sends what the stack's Express API would: one checkout trace that must be kept
/// (`sampling.priority` 1) carrying PII, 200 background traces for the 10 % sampler, and a counter.
fn send_with_sdk(http_port: u16) {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("checkout-api")
        .build();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("http://127.0.0.1:{http_port}/v1/traces"))
        .build()
        .expect("span exporter");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.clone())
        .build();
    let tracer = provider.tracer("express");
    let mut span = tracer
        .span_builder("GET /api/orders/:id")
        .with_kind(SpanKind::Server)
        .start(&tracer);
    span.set_attribute(KeyValue::new("sampling.priority", 1i64));
    span.set_attribute(KeyValue::new("http.route", "/api/orders/:id"));
    span.set_attribute(KeyValue::new("user.email", "alice@example.com"));
    span.set_attribute(KeyValue::new(
        "http.request.header.authorization",
        "Bearer abc.def",
    ));
    span.end();
    // A failed request, so the error-rate queries of the Monitor tab and dashboard have data.
    let mut failed = tracer
        .span_builder("POST /api/orders")
        .with_kind(SpanKind::Server)
        .start(&tracer);
    failed.set_status(opentelemetry::trace::Status::error("payment declined"));
    failed.end();
    for i in 0..200i64 {
        let mut s = tracer.span_builder("background-job").start(&tracer);
        s.set_attribute(KeyValue::new("job.index", i));
        s.end();
    }
    provider.shutdown().expect("traces flushed");

    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("http://127.0.0.1:{http_port}/v1/metrics"))
        .build()
        .expect("metric exporter");
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_periodic_exporter(exporter)
        .with_resource(resource)
        .build();
    let counter = meters.meter("express").u64_counter("orders.placed").build();
    counter.add(3, &[KeyValue::new("region", "eu")]);
    meters.shutdown().expect("metrics flushed");
}

fn tag<'a>(tags: &'a Json, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["vStr"].as_str())
}

#[test]
fn deploy_stack_end_to_end() {
    let jaeger = JaegerEndpoint::start();
    let collector = Collector::start(&ferrotel_config(jaeger.port), &[]);
    let ports = collector.ports;
    let exporter_port = collector
        .logged_addr(startup::PROMETHEUS, None)
        .expect("the prometheus exporter's address")
        .port();
    // Prometheus scrapes itself: its config names its own port before it starts, so the port
    // is held until then.
    let prom_reserved = ReservedPort::new();
    let prom_port = prom_reserved.port();
    let closed = ReservedPort::new();
    let config = prometheus_config(ports.metrics, exporter_port, prom_port, closed.port());
    drop(prom_reserved);
    let prom = Prometheus::start(&config, prom_port);

    let http = ports.http;
    std::thread::spawn(move || send_with_sdk(http))
        .join()
        .expect("sdk thread");

    // Jaeger: the checkout span arrives, decoded by Apache Thrift, with PII masked.
    let checkout = |posts: &[Post]| -> Option<(Json, Json)> {
        let bodies: Vec<Vec<u8>> = posts.iter().map(|p| p.body.clone()).collect();
        thrift_decode(&bodies).into_iter().find_map(|b| {
            let batch = b["batch"].clone();
            let span = batch["spans"]
                .as_array()?
                .iter()
                .find(|s| s["operationName"] == "GET /api/orders/:id")?
                .clone();
            Some((batch["process"].clone(), span))
        })
    };
    assert!(
        eventually(Duration::from_secs(20), || checkout(&jaeger.posts())
            .is_some()),
        "the checkout span never reached the Jaeger endpoint ({} posts); ferrotel stderr:\n{}",
        jaeger.posts().len(),
        collector.stderr()
    );
    // Every span the SDK sent is in the pipeline; wait for the batch processor (1s timeout)
    // to emit them all and the jaeger exporter to send them.
    assert!(
        eventually(Duration::from_secs(10), || {
            let text = collector.metrics_text();
            let v = |series| metrics::value(&text, series).unwrap_or(0.0);
            let into_batch =
                v("otelcol_processor_incoming_items{processor=\"batch\",otel_signal=\"traces\"}");
            let out_of_batch =
                v("otelcol_processor_outgoing_items{processor=\"batch\",otel_signal=\"traces\"}");
            out_of_batch >= into_batch
                && v("otelcol_exporter_sent_spans{exporter=\"jaeger\"}") >= out_of_batch
        }),
        "{}",
        collector.metrics_text()
    );
    let posts = jaeger.posts();
    for p in &posts {
        assert_eq!(p.request_line, "POST /api/traces HTTP/1.1");
        assert_eq!(p.content_type, "application/x-thrift");
    }
    let (process, span) = checkout(&posts).expect("checkout span");
    assert_eq!(process["serviceName"], "checkout-api");
    assert_eq!(
        tag(&process["tags"], "deployment.environment"),
        Some("compose")
    );
    assert_eq!(tag(&span["tags"], "http.route"), Some("/api/orders/:id"));
    let email = tag(&span["tags"], "user.email").expect("user.email kept, masked");
    assert!(
        !email.contains("alice@example.com") && email.contains("****"),
        "{email}"
    );
    let auth = tag(&span["tags"], "http.request.header.authorization").expect("auth kept");
    assert!(!auth.contains("abc.def"), "{auth}");
    let background: usize =
        thrift_decode(&posts.iter().map(|p| p.body.clone()).collect::<Vec<_>>())
            .iter()
            .flat_map(|b| b["batch"]["spans"].as_array().cloned().unwrap_or_default())
            .filter(|s| s["operationName"] == "background-job")
            .count();
    assert!(
        background < 100,
        "the 10 % sampler kept {background} of 200 traces"
    );

    // Prometheus scraped ferrotel's self-metrics and the application metric from the exporter.
    assert!(
        eventually(Duration::from_secs(30), || {
            prom.value(r#"up{job="ferrotel"}"#) == 1.0
                && prom.value(r#"up{job="ferrotel-exporter"}"#) == 1.0
                && prom.value(r#"sum(orders_placed_total{region="eu"})"#) == 3.0
                && prom.value(r#"sum(otelcol_receiver_accepted_spans{job="ferrotel"})"#) >= 202.0
        }),
        "prometheus: up={:?} exporter up={:?} orders={:?} accepted={:?}\n{}",
        prom.query(r#"up"#),
        prom.query(r#"up{job="ferrotel-exporter"}"#),
        prom.query("orders_placed_total"),
        prom.query("otelcol_receiver_accepted_spans"),
        prom.log()
    );

    // Every metric the dashboard and the alert rules use is one ferrotel exposes.
    let exposed = collector.metrics_text();
    let rules = read("prometheus/rules/ferrotel-alerts.yml");
    let queries = dashboard_queries();
    for name in queries.iter().chain([&rules]).flat_map(|q| metric_names(q)) {
        assert!(
            metrics::has(&exposed, &name),
            "{name} is not exposed by ferrotel:\n{exposed}"
        );
    }
    // Every dashboard query, and every query of Jaeger's Monitor tab, is valid PromQL and
    // returns data.
    let mut empty = vec![];
    let queries: Vec<String> = queries
        .into_iter()
        .chain(jaeger_monitor_queries("checkout-api"))
        .collect();
    let all_have_data = eventually(Duration::from_secs(30), || {
        empty = queries
            .iter()
            .filter(|q| !matches!(prom.query(q), Ok(r) if !r.is_empty()))
            .cloned()
            .collect();
        empty.is_empty()
    });
    assert!(all_have_data, "dashboard queries without data: {empty:#?}");

    // The alert rules loaded, evaluate without error, and none fires on a healthy stack.
    assert!(
        eventually(Duration::from_secs(20), || {
            let r = prom.api("/api/v1/rules");
            let rules: Vec<Json> = r["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            rules.len() == 7 && rules.iter().all(|r| r["health"] == "ok")
        }),
        "rules: {}",
        prom.api("/api/v1/rules")
    );
    let alerts = prom.api("/api/v1/alerts");
    let firing: Vec<&Json> = alerts["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] == "firing")
        .collect();
    assert!(firing.is_empty(), "firing on a healthy stack: {firing:?}");
}
