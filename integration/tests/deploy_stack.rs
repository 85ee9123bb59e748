//! The deploy/ files (compose stack, Prometheus config and alert rules, Alertmanager routing,
//! Grafana dashboard, Kubernetes manifests, the image's health probe) checked with the real tools
//! and run as processes, since no container engine runs here: ferrotel with the compose config,
//! a real Prometheus (Debian package) with the compose Prometheus config, both moved to loopback
//! ports, and a Jaeger-compatible collector endpoint whose payloads Apache Thrift's own Python
//! library decodes. A trace and a metric sent by the Rust OpenTelemetry SDK must show up decoded
//! at the Jaeger endpoint and queryable in Prometheus, and every dashboard query must return data.
//!
//! The logs path: real Winston (integration/node, size rotation) writes the api's log files into
//! the directory the compose config tails, and an OTLP/HTTP endpoint in the test stands where
//! Loki would (`POST /otlp/v1/logs`, bodies decoded as `ExportLogsServiceRequest` by
//! `opentelemetry-proto`): no Loki binary is installable here (no Debian package; Grafana ships
//! it as an AGPL release binary or image), so Loki's own ingestion is verified only by
//! `docker compose up`.

use ferrotel_integration::prometheus::{JaegerSpm, Prometheus};
use ferrotel_integration::{
    binary, eventually, metrics, startup, workspace, Collector, ReservedPort,
};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Tracer, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message as _;
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

/// Where the compose stack's ferrotel config points outside itself, moved for a test.
struct StackPaths<'a> {
    jaeger_port: u16,
    loki_port: u16,
    /// The api's Winston log directory (`/var/log/api` in the container).
    api_logs: &'a Path,
    /// file_storage's directory (`/var/lib/ferrotel/file_storage` in the container).
    storage: &'a Path,
}

/// The compose ferrotel config with every listener on loopback port 0 (the ports are read back
/// after start), exporting to the test's Jaeger and Loki endpoints and reading the api's logs
/// from a test directory.
fn ferrotel_config(at: &StackPaths) -> String {
    let jaeger_port = at.jaeger_port;
    rewrite(
        &read("compose/ferrotel.yaml"),
        &[
            ("/var/log/api/", format!("{}/", at.api_logs.display())),
            (
                "/var/lib/ferrotel/file_storage",
                at.storage.display().to_string(),
            ),
            (
                "http://loki:3100/otlp",
                format!("http://127.0.0.1:{}/otlp", at.loki_port),
            ),
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
        "loki",
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
    assert!(ports("loki").contains(&"3100:3100".to_string()));
    check_log_wiring(&doc);
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
    // A new named volume takes the owner of the image's directory: the collector's user.
    assert!(dockerfile.contains("--chown=65532:65532 /out/var/lib/ferrotel /var/lib/ferrotel"));
}

/// The logs path's volumes and addresses agree across the compose file, ferrotel's config,
/// Loki's config and Grafana's datasources.
fn check_log_wiring(compose: &serde_yaml_ng::Value) {
    let volumes = |svc: &str| -> Vec<String> {
        compose["services"][svc]["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    for v in ["api-logs", "ferrotel-storage", "loki-data"] {
        assert!(
            compose["volumes"]
                .as_mapping()
                .is_some_and(|m| m.contains_key(v)),
            "volume {v}"
        );
    }
    // The api writes into the volume ferrotel reads (read-only) where file_log's include points.
    assert!(
        volumes("api").iter().any(|v| v.starts_with("api-logs:")),
        "{:?}",
        volumes("api")
    );
    let ferrotel = volumes("ferrotel");
    assert!(
        ferrotel.contains(&"api-logs:/var/log/api:ro".to_string()),
        "{ferrotel:?}"
    );
    assert!(
        ferrotel.contains(&"ferrotel-storage:/var/lib/ferrotel".to_string()),
        "{ferrotel:?}"
    );
    let cfg: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("compose/ferrotel.yaml")).expect("ferrotel.yaml");
    assert_eq!(
        cfg["receivers"]["file_log"]["include"][0].as_str(),
        Some("/var/log/api/combined*.log")
    );
    assert_eq!(
        cfg["receivers"]["file_log"]["storage"].as_str(),
        Some("file_storage")
    );
    let storage_dir = cfg["extensions"]["file_storage"]["directory"]
        .as_str()
        .unwrap_or("");
    assert!(
        storage_dir.starts_with("/var/lib/ferrotel/"),
        "{storage_dir}"
    );
    // Loki listens where ferrotel sends and Grafana reads.
    assert_eq!(
        cfg["exporters"]["otlp_http/loki"]["endpoint"].as_str(),
        Some("http://loki:3100/otlp")
    );
    let loki: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("compose/loki.yaml")).expect("loki.yaml");
    assert_eq!(loki["server"]["http_listen_port"].as_u64(), Some(3100));
    assert!(volumes("loki").contains(&"./loki.yaml:/etc/loki/config.yaml:ro".to_string()));
    assert_eq!(
        compose["services"]["loki"]["command"][0].as_str(),
        Some("-config.file=/etc/loki/config.yaml")
    );
    check_loki_datasource();
}

/// Grafana's Loki datasource reads the stack's Loki and links trace ids to the Jaeger datasource.
fn check_loki_datasource() {
    let ds: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(
        "compose/grafana/provisioning/datasources/datasources.yml",
    ))
    .expect("datasources.yml");
    let list = ds["datasources"].as_sequence().expect("datasources");
    let by_uid = |uid: &str| list.iter().find(|d| d["uid"].as_str() == Some(uid));
    let loki_ds = by_uid("loki").expect("Loki datasource");
    assert_eq!(loki_ds["type"].as_str(), Some("loki"));
    assert_eq!(loki_ds["url"].as_str(), Some("http://loki:3100"));
    // Its trace links go to the Jaeger datasource.
    let link = &loki_ds["jsonData"]["derivedFields"][0];
    assert_eq!(link["matcherRegex"].as_str(), Some("trace_id"));
    let target = link["datasourceUid"].as_str().unwrap_or("");
    assert!(
        by_uid(target).is_some_and(|d| d["type"].as_str() == Some("jaeger")),
        "{target}"
    );
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
    assert_eq!(out.matches(" passed for resource ").count(), 14, "{out}");
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

/// One request received by [`HttpEndpoint`].
#[derive(Clone)]
struct Post {
    request_line: String,
    content_type: String,
    content_encoding: String,
    body: Vec<u8>,
}

/// What a Jaeger collector's Thrift-over-HTTP endpoint answers.
const JAEGER_REPLY: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
/// What Loki's OTLP endpoint answers to an accepted push.
const LOKI_REPLY: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";

/// An HTTP endpoint of a peer of the stack (Jaeger's collector, Loki): records each POST and
/// answers `reply`, as that peer does.
struct HttpEndpoint {
    port: u16,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl HttpEndpoint {
    fn start(reply: &'static [u8]) -> HttpEndpoint {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let posts = Arc::new(Mutex::new(vec![]));
        let p = posts.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let p = p.clone();
                std::thread::spawn(move || Self::serve(s, &p, reply));
            }
        });
        HttpEndpoint { port, posts }
    }

    /// Serves HTTP/1.1 requests with a Content-Length body on one connection.
    fn serve(s: TcpStream, posts: &Mutex<Vec<Post>>, reply: &[u8]) {
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
            let (mut len, mut ctype, mut encoding) = (0usize, String::new(), String::new());
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
                        "content-encoding" => encoding = v.trim().to_string(),
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
                    content_encoding: encoding,
                    body,
                });
            }
            if w.write_all(reply).is_err() {
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
    let jaeger = HttpEndpoint::start(JAEGER_REPLY);
    let loki = HttpEndpoint::start(LOKI_REPLY);
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(
        &ferrotel_config(&StackPaths {
            jaeger_port: jaeger.port,
            loki_port: loki.port,
            api_logs: dir.path(),
            storage: &dir.path().join("storage"),
        }),
        &[],
    );
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

    check_traces_at_jaeger(&jaeger, &collector);
    check_prometheus(&prom, &collector);
}

/// Jaeger: the checkout span arrives, decoded by Apache Thrift, with PII masked; the sampler
/// kept few background traces.
fn check_traces_at_jaeger(jaeger: &HttpEndpoint, collector: &Collector) {
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
}

/// Prometheus scraped both ferrotel jobs; every dashboard, alert and Monitor-tab query works on
/// what ferrotel exposes; no alert fires on a healthy stack.
fn check_prometheus(prom: &Prometheus, collector: &Collector) {
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

/// The Winston writer's directory, with `winston` installed by `scripts/setup-test-deps`.
fn node_dir() -> PathBuf {
    let dir = workspace().join("integration/node");
    assert!(
        dir.join("node_modules/winston").is_dir(),
        "winston is not installed: run scripts/setup-test-deps (npm ci in integration/node)"
    );
    dir
}

/// Winston's npm levels, each with the severity number the compose config's mapping gives it.
const WINSTON_LEVELS: [(&str, i32); 7] = [
    ("error", 17),
    ("warn", 13),
    ("info", 9),
    ("http", 8),
    ("verbose", 6),
    ("debug", 5),
    ("silly", 1),
];

/// Lines `first..first + count` written by real Winston into `dir/combined.log`, rotated by size
/// as the api's transport is (4 KB here instead of 10 MB, so a few hundred lines rotate often).
fn winston_writes(dir: &Path, first: u64, count: u64) {
    let node = node_dir();
    let levels: Vec<&str> = WINSTON_LEVELS.iter().map(|(l, _)| *l).collect();
    run_ok(
        Command::new("node")
            .arg(node.join("winston_writer.js"))
            .arg(dir)
            .args([&count.to_string(), "4000", "false", &first.to_string()])
            .arg(levels.join(","))
            .current_dir(&node),
    );
}

/// Every line of every file in `dir`, parsed, by its line number.
fn winston_lines(dir: &Path) -> std::collections::HashMap<u64, Json> {
    let mut out = std::collections::HashMap::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        for l in text.lines() {
            let v: Json = serde_json::from_str(l).expect("winston writes JSON");
            let n = v["message"].as_str().and_then(|m| m.strip_prefix("line "));
            out.insert(n.and_then(|n| n.parse().ok()).expect("line n"), v);
        }
    }
    out
}

/// Sends what the api's OpenTelemetry SDK log exporter would: one record over OTLP/HTTP.
fn send_sdk_log(http_port: u16) {
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("http://127.0.0.1:{http_port}/v1/logs"))
        .build()
        .expect("log exporter");
    let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("checkout-api")
                .build(),
        )
        .build();
    let logger = provider.logger("express");
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Warn);
    record.set_body("payment retried".into());
    logger.emit(record);
    provider.shutdown().expect("logs flushed");
}

/// A log record as it reached Loki, with its resource's string attributes.
struct LokiRecord {
    resource: std::collections::BTreeMap<String, String>,
    record: LogRecord,
}

fn string_value(v: Option<&AnyValue>) -> Option<String> {
    match v?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn attribute(r: &LogRecord, key: &str) -> Option<String> {
    string_value(r.attributes.iter().find(|kv| kv.key == key)?.value.as_ref())
}

/// Every record POSTed to the Loki endpoint: OTLP/HTTP protobuf at /otlp/v1/logs, gzip as
/// otlp_http sends by default.
fn loki_records(loki: &HttpEndpoint) -> Vec<LokiRecord> {
    let mut out = vec![];
    for p in loki.posts() {
        assert_eq!(p.request_line, "POST /otlp/v1/logs HTTP/1.1");
        assert_eq!(p.content_type, "application/x-protobuf");
        assert_eq!(p.content_encoding, "gzip");
        let mut body = vec![];
        flate2::read::GzDecoder::new(&p.body[..])
            .read_to_end(&mut body)
            .expect("gzip body");
        let req = ExportLogsServiceRequest::decode(&body[..]).expect("ExportLogsServiceRequest");
        for rl in req.resource_logs {
            let resource: std::collections::BTreeMap<String, String> = rl
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .filter_map(|kv| Some((kv.key.clone(), string_value(kv.value.as_ref())?)))
                .collect();
            for record in rl.scope_logs.into_iter().flat_map(|s| s.log_records) {
                let resource = resource.clone();
                out.push(LokiRecord { resource, record });
            }
        }
    }
    out
}

/// The Winston line number of a record read from the api's files (body `line N`).
fn winston_number(r: &LokiRecord) -> Option<u64> {
    let body = string_value(r.record.body.as_ref())?;
    body.strip_prefix("line ")?.parse().ok()
}

/// `nanos` since the epoch as Winston writes time: ISO 8601, UTC, milliseconds.
fn iso_millis(nanos: u64) -> String {
    let ms = nanos / 1_000_000;
    let (days, sod) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = sod / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        sod % 1000
    )
}

/// One record from the api's files, against the line Winston wrote.
fn check_winston_record(r: &LokiRecord, i: u64, line: &Json) {
    let rec = &r.record;
    assert_eq!(
        r.resource.get("service.name").map(String::as_str),
        Some("api")
    );
    assert_eq!(
        r.resource.get("deployment.environment").map(String::as_str),
        Some("compose"),
        "line {i}"
    );
    assert_eq!(
        Some(iso_millis(rec.time_unix_nano)),
        line["timestamp"].as_str().map(str::to_string),
        "line {i}"
    );
    let (level, number) = WINSTON_LEVELS[(i % WINSTON_LEVELS.len() as u64) as usize];
    assert_eq!(line["level"], level);
    assert_eq!(
        (rec.severity_text.as_str(), rec.severity_number),
        (level, number),
        "line {i}"
    );
    assert_eq!(
        rec.trace_id,
        hex::decode(format!("{:032x}", i + 1)).expect("hex")
    );
    assert_eq!(
        rec.span_id,
        hex::decode(format!("{:016x}", i + 1)).expect("hex")
    );
    assert_eq!(attribute(rec, "request_id"), Some(format!("req-{i}")));
    let file = attribute(rec, "log.file.name").unwrap_or_default();
    assert!(
        file.starts_with("combined") && file.ends_with(".log"),
        "{file}"
    );
}

/// Waits until the Loki endpoint has every line of `lines` and the SDK's record.
fn await_loki(
    loki: &HttpEndpoint,
    lines: &std::collections::HashMap<u64, Json>,
    collector: &Collector,
) {
    let missing = || {
        let recs = loki_records(loki);
        let got: BTreeSet<u64> = recs.iter().filter_map(winston_number).collect();
        let sdk = recs
            .iter()
            .any(|r| r.resource.get("service.name").map(String::as_str) == Some("checkout-api"));
        let mut missing: Vec<u64> = lines.keys().filter(|n| !got.contains(n)).copied().collect();
        missing.sort_unstable();
        (!sdk)
            .then_some(u64::MAX)
            .into_iter()
            .chain(missing)
            .collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(30), || missing().is_empty());
    let missing = missing();
    assert!(
        missing.is_empty(),
        "{} of {} lines at Loki, missing {missing:?} (u64::MAX: the SDK's record); ferrotel stderr:\n{}",
        loki_records(loki).len(),
        lines.len(),
        collector.stderr()
    );
}

/// Winston's lines and rotations across a clean restart of the collector reach Loki once each.
/// The reference is what Winston wrote to the files, not the numbers it was asked to log: on a
/// loaded machine Winston's File transport itself can drop lines around a slow rotation (see
/// integration/node/winston_writer.js), which once passed here for the collector stalling.
#[test]
fn deploy_stack_api_logs_reach_loki_once() {
    let (jaeger, loki) = (
        HttpEndpoint::start(JAEGER_REPLY),
        HttpEndpoint::start(LOKI_REPLY),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (logs, storage) = (dir.path().join("api-logs"), dir.path().join("file_storage"));
    std::fs::create_dir(&logs).expect("mkdir");
    let config = ferrotel_config(&StackPaths {
        jaeger_port: jaeger.port,
        loki_port: loki.port,
        api_logs: &logs,
        storage: &storage,
    });
    let mut collector = Collector::start(&config, &[]);
    winston_writes(&logs, 0, 300);
    send_sdk_log(collector.ports.http);
    let before = winston_lines(&logs);
    assert!(
        before.len() >= 100,
        "winston wrote {} of 300 lines",
        before.len()
    );
    await_loki(&loki, &before, &collector);
    assert_eq!(collector.terminate(Duration::from_secs(10)), Some(0));
    let checkpoints = std::fs::read_dir(&storage)
        .expect("file_storage directory")
        .count();
    assert!(checkpoints > 0, "nothing in file_storage's directory");

    // Restarted with `start_at: beginning`, the receiver resumes from its checkpoints: the 300
    // lines are not read again, the new ones (and their rotations) are.
    let mut collector = Collector::start(&config, &[]);
    winston_writes(&logs, 300, 100);
    let on_disk = winston_lines(&logs);
    let new = on_disk.len() - before.len();
    assert!(
        new >= 20,
        "winston wrote {new} of 100 lines after the restart"
    );
    await_loki(&loki, &on_disk, &collector);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(collector.terminate(Duration::from_secs(10)), Some(0));

    let files = std::fs::read_dir(&logs).expect("read_dir").count();
    assert!(files > 5, "winston rotated into {files} files only");
    let recs = loki_records(&loki);
    let mut seen = std::collections::HashMap::<u64, usize>::new();
    for r in &recs {
        let Some(i) = winston_number(r) else { continue };
        *seen.entry(i).or_default() += 1;
        check_winston_record(r, i, &on_disk[&i]);
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "lines delivered twice: {dupes:?}");
    assert_eq!(seen.len(), on_disk.len());
    // The OTLP logs pipeline still carries the SDK's records, to the same Loki.
    let sdk: Vec<&LokiRecord> = recs
        .iter()
        .filter(|r| winston_number(r).is_none())
        .collect();
    assert_eq!(sdk.len(), 1, "records not from the api's files");
    assert_eq!(
        sdk[0].resource.get("service.name").map(String::as_str),
        Some("checkout-api")
    );
    assert_eq!(sdk[0].record.severity_number, 13);
    assert_eq!(
        string_value(sdk[0].record.body.as_ref()).as_deref(),
        Some("payment retried")
    );
}
