//! The official OpenTelemetry Python Zipkin exporters (opentelemetry-exporter-zipkin-json and
//! -proto-http, installed into .venv-zipkin by scripts/setup-test-deps) send spans to ferrotel's
//! `zipkin` receiver, which forwards them over OTLP to an independent sink; the test compares
//! what arrives with what the SDK recorded.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, startup, workspace, Collector};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AV;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use std::process::Command;
use std::time::Duration;

fn python() -> std::path::PathBuf {
    std::env::var("FERROTEL_ZIPKIN_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|_| workspace().join(".venv-zipkin/bin/python"))
}

fn send(encoding: &str, endpoint: &str) -> serde_json::Value {
    let out = Command::new(python())
        .arg(workspace().join("integration/python/send_zipkin.py"))
        .args(["--encoding", encoding, "--endpoint", endpoint])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {:?} (run scripts/setup-test-deps): {e}",
                python()
            )
        });
    assert!(
        out.status.success(),
        "python sender failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sender prints JSON")
}

fn attr(attrs: &[KeyValue], k: &str) -> Option<AV> {
    attrs
        .iter()
        .find(|kv| kv.key == k)
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value)
}

fn check(encoding: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let cfg = base_config(
        "  batch:\n    timeout: 50ms",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
            sink.port()
        ),
        "    traces: {receivers: [zipkin], processors: [batch], exporters: [otlp]}",
    )
    .replace(
        "receivers:\n",
        "receivers:\n  zipkin:\n    endpoint: 127.0.0.1:0\n    parse_string_tags: true\n",
    );
    let collector = Collector::start(&cfg, &[]);
    let addr = collector
        .logged_addr(startup::HTTP, Some("zipkin"))
        .expect("zipkin receiver's address in the log");
    let sent = send(encoding, &format!("http://{addr}/api/v2/spans"));
    assert!(
        eventually(Duration::from_secs(10), || sink.span_count() == 2),
        "got {} spans",
        sink.span_count()
    );
    let st = sink.lock();
    let resource_spans: Vec<_> = st.traces.iter().flat_map(|r| &r.resource_spans).collect();
    assert_eq!(resource_spans.len(), 1, "one local service");
    let resource = resource_spans[0].resource.clone().unwrap_or_default();
    assert_eq!(
        attr(&resource.attributes, "service.name"),
        Some(AV::StringValue("py-zipkin-test".into()))
    );
    let spans: Vec<_> = resource_spans[0]
        .scope_spans
        .iter()
        .flat_map(|s| &s.spans)
        .collect();
    for want in sent["spans"].as_array().expect("spans") {
        let sid = want["span_id"].as_str().unwrap_or_default();
        let span = spans
            .iter()
            .find(|s| hex::encode(&s.span_id) == sid)
            .unwrap_or_else(|| panic!("span {sid} missing"));
        assert_eq!(
            hex::encode(&span.trace_id),
            want["trace_id"].as_str().unwrap_or_default()
        );
        assert_eq!(
            hex::encode(&span.parent_span_id),
            want["parent_id"].as_str().unwrap_or_default()
        );
        assert_eq!(span.name, want["name"].as_str().unwrap_or_default());
        // Zipkin carries microseconds, which the exporter rounds to.
        let ns = |k: &str| want[k].as_u64().expect("a time in ns");
        assert_eq!(
            span.start_time_unix_nano,
            (ns("start_ns") + 500) / 1000 * 1000
        );
        let duration = (ns("end_ns") - ns("start_ns") + 500) / 1000 * 1000;
        let got_duration = span.end_time_unix_nano - span.start_time_unix_nano;
        assert_eq!(got_duration, duration);
    }
    let server = spans
        .iter()
        .find(|s| s.name == "GET /items")
        .expect("server span");
    assert_eq!(server.kind, 2);
    assert_eq!(
        attr(&server.attributes, "http.request.method"),
        Some(AV::StringValue("GET".into()))
    );
    assert_eq!(
        attr(&server.attributes, "item.count"),
        Some(AV::IntValue(3))
    );
    assert_eq!(
        attr(&server.attributes, "ratio"),
        Some(AV::DoubleValue(0.5))
    );
    assert_eq!(attr(&server.attributes, "flag"), Some(AV::BoolValue(true)));
    assert_eq!(server.events.len(), 1);
    assert!(
        server.events[0].name.contains("work.done"),
        "{:?}",
        server.events[0]
    );
    let client = spans
        .iter()
        .find(|s| s.name == "SELECT")
        .expect("client span");
    assert_eq!(client.kind, 3);
    assert_eq!(client.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(
        attr(&client.attributes, "db.system"),
        Some(AV::StringValue("postgresql".into()))
    );
    drop(st);
    let transport = if encoding == "json" {
        "http_v2_json"
    } else {
        "http_v2_proto"
    };
    let accepted = collector.metric(&format!(
        "otelcol_receiver_accepted_spans{{receiver=\"zipkin\",transport=\"{transport}\"}}"
    ));
    assert_eq!(accepted, 2.0);
}

#[test]
fn python_zipkin_json_exporter() {
    check("json");
}

#[test]
fn python_zipkin_proto_exporter() {
    check("proto");
}
