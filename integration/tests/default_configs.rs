//! otelcol's shipped default configs (the release images', the Helm chart's, the core
//! examples', Grafana's docker-otel-lgtm) started unchanged but for their ports (each listener
//! moved to a free loopback port by rewriting the YAML text) and the environment variables
//! they read: each one starts, accepts an OTLP/HTTP request and exits 0 on SIGTERM.

use ferrotel_integration::{Collector, ReservedPort};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Ports the configs listen on (or scrape themselves on).
const PORTS: [u16; 11] = [
    1777, 55679, 4317, 4318, 8888, 14250, 6832, 6831, 14268, 9411, 13133,
];

fn realworld(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../collector/tests/compat/realworld")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The config with every listener on loopback and a free port; returns it with the new
/// OTLP/HTTP and self-metrics ports.
fn remap(text: &str) -> (String, u16, u16) {
    let mut text = text
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("localhost:", "127.0.0.1:")
        .replace("host: ${env:MY_POD_IP}", "host: 127.0.0.1");
    let mut new = std::collections::HashMap::new();
    for p in PORTS {
        // Reserved then released: nothing else binds it before the collector does, in practice.
        let free = ReservedPort::new().addr().port();
        text = text
            .replace(&format!(":{p}\""), &format!(":{free}\""))
            .replace(&format!(":{p}'"), &format!(":{free}'"))
            .replace(&format!(":{p}\n"), &format!(":{free}\n"))
            .replace(&format!("port: {p}\n"), &format!("port: {free}\n"));
        new.insert(p, free);
    }
    (text, new[&4318], new[&8888])
}

/// Posts an empty OTLP/JSON trace request until it is accepted.
async fn serves_otlp_http(port: u16, c: &Collector) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .post(format!("http://127.0.0.1:{port}/v1/traces"))
            .header("content-type", "application/json")
            .body(r#"{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","kind":1,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#)
            .send()
            .await;
        if let Ok(r) = r {
            assert_eq!(r.status(), 200, "{}", c.stderr());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never served OTLP/HTTP:\n{}",
            c.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run(name: &str, extra: &[&str]) {
    let (config, http, self_metrics) = remap(&realworld(name));
    let telemetry = format!("yaml:service::telemetry::metrics::address: 127.0.0.1:{self_metrics}");
    let mut args: Vec<&str> = extra.to_vec();
    if !config.contains("telemetry:") {
        args.extend(["--config", telemetry.as_str()]);
    }
    let mut c = Collector::spawn(&config, &args);
    serves_otlp_http(http, &c).await;
    assert_eq!(
        c.terminate(Duration::from_secs(30)),
        Some(0),
        "{name}:\n{}",
        c.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn otelcols_default_configs_start_serve_and_stop() {
    // What the Helm chart's pod and the k8s examples read from their environment.
    for (k, v) in [
        ("MY_POD_IP", "127.0.0.1"),
        ("OTEL_K8S_NAMESPACE", "default"),
        ("OTEL_K8S_NODE_NAME", "node-1"),
        ("OTEL_K8S_NODE_IP", "127.0.0.1"),
        ("OTEL_K8S_POD_NAME", "collector-0"),
        ("OTEL_K8S_POD_IP", "127.0.0.1"),
    ] {
        std::env::set_var(k, v);
    }
    run("releases_otelcol_default.yaml", &[]).await;
    run("releases_otelcol-contrib_default.yaml", &[]).await;
    run("helm_collector_values-default.yaml", &[]).await;
    run("core_examples_local.yaml", &[]).await;
    // These export to hosts of their cluster (unresolvable here): shutdown gives up on them
    // after --shutdown-timeout. The agent's zpages has no endpoint (otelcol's default port).
    let quick = ["--shutdown-timeout", "2s"];
    let agent = [
        "--shutdown-timeout",
        "2s",
        "--set=extensions.zpages.endpoint=127.0.0.1:0",
    ];
    run("core_examples_k8s_otel-agent-config.yaml", &agent).await;
    run("core_examples_k8s_otel-collector-config.yaml", &quick).await;
    run(
        "grafana_docker-otel-lgtm.yaml",
        &[
            "--feature-gates=service.profilesSupport",
            "--shutdown-timeout",
            "2s",
        ],
    )
    .await;
}
