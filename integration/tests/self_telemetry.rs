//! `service.telemetry` through the real binary: self-metrics pushed by `periodic` readers to a
//! gRPC sink (the generated tonic service) and an HTTP server (hyper), with the values the
//! `/metrics` endpoint serves, and a last push at shutdown; self logs pushed as OTLP; the json
//! log encoding; zap's sampling.

use bytes::Bytes;
use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, Collector};
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A config with the otlp receiver, a traces pipeline to debug, and `telemetry` as the
/// `service.telemetry` section (indented by the caller at 4 spaces).
fn config_with_telemetry(telemetry: &str) -> String {
    let base = base_config(
        "  batch: {timeout: 10ms}",
        "  debug: {}",
        "    traces: {receivers: [otlp], processors: [batch], exporters: [debug]}",
    );
    let old = base
        .lines()
        .skip_while(|l| *l != "  telemetry:")
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    assert!(old.contains("address"), "{old}");
    base.replace(&old, &format!("  telemetry:\n{telemetry}"))
}

const PULL: &str =
    "      readers:\n        - pull: {exporter: {prometheus: {host: 127.0.0.1, port: 0}}}\n";

fn str_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// The value of the sum `name` with attributes `attrs` in a pushed request.
fn sum_value(req: &ExportMetricsServiceRequest, name: &str, attrs: &[(&str, &str)]) -> Option<i64> {
    let m = req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == name)?;
    let Some(metric::Data::Sum(s)) = &m.data else {
        return None;
    };
    s.data_points
        .iter()
        .find(|p| {
            attrs
                .iter()
                .all(|(k, v)| str_attr(&p.attributes, k).as_deref() == Some(v))
        })
        .and_then(|p| match p.value {
            Some(number_data_point::Value::AsInt(i)) => Some(i),
            _ => None,
        })
}

fn send_spans(rt: &tokio::runtime::Runtime, http_port: u16, n: u64) {
    let body = ferrotel_integration::span_request(0..n);
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{http_port}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body.encode_to_vec())
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(status.ok(), Some(200));
}

const ACCEPTED: &str = "otelcol_receiver_accepted_spans";
const ACCEPTED_SERIES: &str =
    "otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"http\"}";
const ACCEPTED_ATTRS: &[(&str, &str)] = &[("receiver", "otlp"), ("transport", "http")];

#[test]
fn self_metrics_pushed_over_grpc_match_the_pull_endpoint() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sink = rt.block_on(Sink::start());
    let cfg = config_with_telemetry(&format!(
        "    resource: {{deployment.environment: test}}\n    metrics:\n{PULL}        - periodic:\n            interval: 200\n            exporter:\n              otlp: {{protocol: grpc, endpoint: 'http://127.0.0.1:{}', headers: [{{name: x-tenant, value: t1}}]}}\n",
        sink.port()
    ));
    let c = Collector::start(&cfg, &[]);
    send_spans(&rt, c.ports.http, 7);
    assert!(eventually(Duration::from_secs(5), || c
        .metric(ACCEPTED_SERIES)
        == 7.0));
    let pushed = |sink: &Sink| {
        sink.lock()
            .metrics
            .iter()
            .any(|r| sum_value(r, ACCEPTED, ACCEPTED_ATTRS) == Some(7))
    };
    assert!(
        eventually(Duration::from_secs(10), || pushed(&sink)),
        "no push with 7 accepted spans; got {} pushes",
        sink.lock().metrics.len()
    );
    let state = sink.lock();
    let req = state.metrics.last().expect("a push");
    let res = req.resource_metrics[0].resource.as_ref().expect("resource");
    assert_eq!(
        str_attr(&res.attributes, "service.name").as_deref(),
        Some("ferrotel")
    );
    assert_eq!(
        str_attr(&res.attributes, "deployment.environment").as_deref(),
        Some("test")
    );
    assert_eq!(
        str_attr(&res.attributes, "service.instance.id").map(|s| s.len()),
        Some(36)
    );
    assert!(str_attr(&res.attributes, "service.version").is_some());
    assert!(
        state
            .last_headers
            .iter()
            .any(|(k, v)| k == "x-tenant" && v == "t1"),
        "{:?}",
        state.last_headers
    );
    let names: Vec<&str> = req.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    for want in [
        "otelcol_process_uptime",
        "otelcol_process_memory_rss",
        ACCEPTED,
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
}

/// What the HTTP server received: (path, content-type, body).
type Received = Arc<Mutex<Vec<(String, String, Bytes)>>>;

/// An OTLP/HTTP endpoint made with hyper: answers 200 to every POST and records it.
async fn http_sink() -> (u16, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got: Received = Arc::default();
    let rec = got.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let rec = rec.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let rec = rec.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let ct = req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            rec.lock().expect("lock").push((path, ct, body));
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::new(),
                            )))
                        }
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
            });
        }
    });
    (port, got)
}

#[test]
fn self_metrics_pushed_over_http_and_once_more_at_shutdown() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let (port, got) = rt.block_on(http_sink());
    // An hour's interval: the only push is the one at shutdown.
    let cfg = config_with_telemetry(&format!(
        "    metrics:\n{PULL}        - periodic:\n            interval: 3600000\n            exporter:\n              otlp: {{protocol: http/protobuf, endpoint: 'http://127.0.0.1:{port}'}}\n"
    ));
    let mut c = Collector::start(&cfg, &[]);
    send_spans(&rt, c.ports.http, 4);
    assert!(eventually(Duration::from_secs(5), || c
        .metric(ACCEPTED_SERIES)
        == 4.0));
    assert!(got.lock().expect("lock").is_empty());
    assert_eq!(
        c.terminate(Duration::from_secs(20)),
        Some(0),
        "{}",
        c.stderr()
    );
    let got = got.lock().expect("lock");
    assert_eq!(got.len(), 1, "one push at shutdown");
    let (path, ct, body) = &got[0];
    assert_eq!(path, "/v1/metrics");
    assert_eq!(ct, "application/x-protobuf");
    let req = ExportMetricsServiceRequest::decode(body.clone()).expect("OTLP metrics");
    assert_eq!(sum_value(&req, ACCEPTED, ACCEPTED_ATTRS), Some(4));
}

#[test]
fn level_none_serves_and_pushes_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let (port, got) = rt.block_on(http_sink());
    let cfg = config_with_telemetry(&format!(
        "    metrics:\n      level: none\n      readers:\n        - periodic:\n            interval: 100\n            exporter:\n              otlp: {{endpoint: 'http://127.0.0.1:{port}'}}\n"
    ));
    let mut c = Collector::start(&cfg, &[]);
    assert_eq!(c.ports.metrics, 0, "{}", c.stderr());
    assert_eq!(c.terminate(Duration::from_secs(20)), Some(0));
    assert!(got.lock().expect("lock").is_empty());
}

fn log_bodies(sink: &Sink) -> Vec<String> {
    sink.lock()
        .logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .filter_map(|l| match l.body.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn self_logs_pushed_over_otlp_until_shutdown() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sink = rt.block_on(Sink::start());
    let cfg = config_with_telemetry(&format!(
        "    metrics:\n{PULL}    logs:\n      initial_fields: {{region: eu-1}}\n      processors:\n        - batch:\n            schedule_delay: 100\n            exporter:\n              otlp: {{protocol: grpc, endpoint: 'http://127.0.0.1:{}'}}\n",
        sink.port()
    ));
    let mut c = Collector::start(&cfg, &[]);
    let ready = "Everything is ready. Begin running and processing data.";
    assert!(
        eventually(Duration::from_secs(10), || log_bodies(&sink)
            .iter()
            .any(|b| b == ready)),
        "{:?}",
        log_bodies(&sink)
    );
    {
        let state = sink.lock();
        let rl = &state.logs[0].resource_logs[0];
        let res = rl.resource.as_ref().expect("resource");
        assert_eq!(
            str_attr(&res.attributes, "service.name").as_deref(),
            Some("ferrotel")
        );
        let rec = rl.scope_logs[0]
            .log_records
            .iter()
            .find(|l| l.severity_text == "info")
            .expect("an info record");
        assert_eq!(rec.severity_number, 9, "SEVERITY_NUMBER_INFO");
        assert_eq!(str_attr(&rec.attributes, "region").as_deref(), Some("eu-1"));
    }
    let grpc_line = log_bodies(&sink).contains(&"Starting GRPC server".to_string());
    assert!(grpc_line, "{:?}", log_bodies(&sink));
    assert_eq!(
        c.terminate(Duration::from_secs(20)),
        Some(0),
        "{}",
        c.stderr()
    );
    assert!(
        log_bodies(&sink).contains(&"Shutdown complete.".to_string()),
        "the records of shutdown are sent before exit: {:?}",
        log_bodies(&sink)
    );
}

#[test]
fn json_encoding_to_a_file_with_initial_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ferrotel.log");
    let cfg = config_with_telemetry(&format!(
        "    metrics:\n{PULL}    logs:\n      encoding: json\n      initial_fields: {{region: eu-1}}\n      output_paths: ['{}']\n",
        file.display()
    ));
    let mut c = Collector::spawn(&cfg, &[]);
    let text = || std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(20), || text()
            .contains("Everything is ready")),
        "{}\n{}",
        text(),
        c.stderr()
    );
    assert_eq!(c.terminate(Duration::from_secs(20)), Some(0));
    let lines: Vec<serde_json::Value> = text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() > 3, "{lines:?}");
    for l in &lines {
        assert!(l["level"].is_string() && l["msg"].is_string(), "{l}");
        assert!(
            l["ts"]
                .as_str()
                .is_some_and(|t| t.contains('T') && t.ends_with('Z')),
            "{l}"
        );
        assert!(
            l["caller"].as_str().is_some_and(|c| c.contains(".rs:")),
            "{l}"
        );
        assert_eq!(l["region"], "eu-1", "{l}");
    }
    let grpc = lines
        .iter()
        .find(|l| l["msg"] == "Starting GRPC server")
        .expect("the gRPC startup line");
    assert!(
        grpc["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with("127.0.0.1:")),
        "{grpc}"
    );
    assert!(lines.iter().any(|l| l["msg"] == "Shutdown complete."));
    assert!(c.stderr().is_empty(), "nothing on stderr: {}", c.stderr());
}

#[test]
fn validate_reports_otelcols_telemetry_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config_with_telemetry(
        "    metrics:\n      level: normal\n      views: []\n      readers:\n        - periodic: {exporter: {otlp: {protocol: grpc, endpoint: 'http://127.0.0.1:1'}}}\n    traces:\n      processors:\n        - batch: {exporter: {otlp: {endpoint: 'http://127.0.0.1:1'}}}\n",
    );
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, cfg).expect("write");
    let out = std::process::Command::new(ferrotel_integration::binary())
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("service::telemetry::metrics::views can only be set when service::telemetry::metrics::level is detailed"), "{err}");
    assert!(
        err.contains(
            "service.telemetry.traces.processors: ferrotel does not emit traces of its own yet"
        ),
        "{err}"
    );
}
