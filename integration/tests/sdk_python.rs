//! The official OpenTelemetry Python SDK exporters (opentelemetry-exporter-otlp-proto-grpc and
//! -http, installed into .venv by scripts/setup-test-deps) send traces, metrics and logs to
//! ferrotel, which forwards them to an independent sink; the test compares what arrives.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, workspace, Collector};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AV;
use std::process::Command;
use std::time::Duration;

fn python() -> std::path::PathBuf {
    std::env::var("FERROTEL_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|_| workspace().join(".venv/bin/python"))
}

fn send(
    protocol: &str,
    endpoint: &str,
    signal: &str,
    count: usize,
    gzip: bool,
) -> serde_json::Value {
    let mut cmd = Command::new(python());
    cmd.arg(workspace().join("integration/python/send_otlp.py"))
        .args([
            "--protocol",
            protocol,
            "--endpoint",
            endpoint,
            "--signal",
            signal,
            "--count",
            &count.to_string(),
        ]);
    if gzip {
        cmd.arg("--gzip");
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {:?} (run scripts/setup-test-deps): {e}",
            python()
        )
    });
    assert!(
        out.status.success(),
        "python sender failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sender prints JSON")
}

struct Setup {
    sink: Sink,
    collector: Collector,
    _rt: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let cfg = base_config(
        "  batch:\n    timeout: 50ms",
        &format!("  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true", sink.port()),
        "    traces: {receivers: [otlp], processors: [batch], exporters: [otlp]}\n    metrics: {receivers: [otlp], processors: [batch], exporters: [otlp]}\n    logs: {receivers: [otlp], processors: [batch], exporters: [otlp]}",
    );
    let collector = Collector::start(&cfg, &[]);
    Setup {
        sink,
        collector,
        _rt: rt,
    }
}

fn check_traces(protocol: &str, gzip: bool) {
    let s = setup();
    let endpoint = match protocol {
        "grpc" => format!("http://127.0.0.1:{}", s.collector.ports.grpc),
        _ => format!("http://127.0.0.1:{}", s.collector.ports.http),
    };
    let sent = send(protocol, &endpoint, "traces", 8, gzip);
    assert!(
        eventually(Duration::from_secs(10), || s.sink.span_count() == 8),
        "got {} spans",
        s.sink.span_count()
    );
    let st = s.sink.lock();
    let spans: Vec<_> = st
        .traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    for (i, want) in sent["spans"]
        .as_array()
        .expect("span ids")
        .iter()
        .enumerate()
    {
        let sid = want["span_id"].as_str().unwrap_or_default();
        let span = spans
            .iter()
            .find(|s| hex::encode(&s.span_id) == sid)
            .unwrap_or_else(|| panic!("span {sid} missing"));
        assert_eq!(
            hex::encode(&span.trace_id),
            want["trace_id"].as_str().unwrap_or_default()
        );
        assert_eq!(span.name, "GET /items");
        assert_eq!(span.kind, 2);
        let a = |k: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key == k)
                .and_then(|kv| kv.value.clone())
                .and_then(|v| v.value)
        };
        assert_eq!(a("item.index"), Some(AV::IntValue(i as i64)));
        assert_eq!(a("ratio"), Some(AV::DoubleValue(0.5)));
        assert_eq!(a("flag"), Some(AV::BoolValue(true)));
        assert_eq!(
            a("http.request.method"),
            Some(AV::StringValue("GET".into()))
        );
        match a("tags") {
            Some(AV::ArrayValue(arr)) => assert_eq!(arr.values.len(), 2),
            other => panic!("tags: {other:?}"),
        }
        assert_eq!(
            span.events.first().map(|e| e.name.as_str()),
            Some("work.done")
        );
        assert_eq!(
            span.status.as_ref().map(|s| s.code),
            Some(if i == 0 { 2 } else { 1 })
        );
    }
}

#[test]
fn python_sdk_traces_over_grpc() {
    check_traces("grpc", false);
}

#[test]
fn python_sdk_traces_over_grpc_gzip() {
    check_traces("grpc", true);
}

#[test]
fn python_sdk_traces_over_http_protobuf() {
    check_traces("http", false);
}

#[test]
fn python_sdk_traces_over_http_gzip() {
    check_traces("http", true);
}

#[test]
fn python_sdk_logs_and_metrics() {
    let s = setup();
    let grpc = format!("http://127.0.0.1:{}", s.collector.ports.grpc);
    let http = format!("http://127.0.0.1:{}", s.collector.ports.http);
    send("grpc", &grpc, "logs", 6, false);
    send("http", &http, "logs", 4, false);
    assert!(
        eventually(Duration::from_secs(10), || s.sink.log_count() == 10),
        "got {} logs",
        s.sink.log_count()
    );
    {
        let st = s.sink.lock();
        let rec = st
            .logs
            .iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .next()
            .expect("a log");
        assert_eq!(rec.severity_text, "WARN");
        assert_eq!(rec.severity_number, 13);
        match rec.body.as_ref().and_then(|b| b.value.clone()) {
            Some(AV::StringValue(s)) => {
                assert!(s.starts_with("order ") && s.ends_with(" shipped"), "{s}")
            }
            other => panic!("body: {other:?}"),
        }
    }
    send("http", &http, "metrics", 5, false);
    assert!(
        eventually(Duration::from_secs(10), || {
            let st = s.sink.lock();
            st.metrics
                .iter()
                .flat_map(|r| &r.resource_metrics)
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .any(|m| m.name == "requests")
        }),
        "metrics did not arrive"
    );
    let st = s.sink.lock();
    let m = st
        .metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == "requests")
        .expect("requests");
    match &m.data {
        Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(sum)) => {
            assert!(sum.is_monotonic);
            let v = match sum.data_points[0].value {
                Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(
                    v,
                )) => v as f64,
                Some(
                    opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(v),
                ) => v,
                None => -1.0,
            };
            assert_eq!(v, 5.0);
        }
        other => panic!("requests is not a sum: {other:?}"),
    }
}
