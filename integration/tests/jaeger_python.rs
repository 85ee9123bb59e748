//! Real Jaeger clients (installed into .venv-jaeger by scripts/setup-test-deps) send spans to
//! ferrotel's `jaeger` receiver on its four protocols, which forwards them over OTLP to an
//! independent sink; the test compares what arrives with what the clients recorded:
//!
//! - `opentelemetry-exporter-jaeger-proto-grpc` -> `grpc` (api_v2 PostSpans);
//! - `opentelemetry-exporter-jaeger-thrift` -> `thrift_http` (`POST /api/traces`) and
//!   `thrift_compact` (agent UDP);
//! - `jaeger-client` (OpenTracing) -> `thrift_compact`;
//! - Apache Thrift's Python library (jaeger-client's generated `Agent.emitBatch`) in the
//!   binary protocol -> `thrift_binary`.
//!
//! Bad input (a garbage body, a garbage datagram) is answered or counted, and the receiver
//! keeps serving.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, workspace, Collector};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AV;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use std::process::Command;
use std::time::Duration;

fn python() -> std::path::PathBuf {
    std::env::var("FERROTEL_JAEGER_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|_| workspace().join(".venv-jaeger/bin/python"))
}

fn send(mode: &str, port: u16) -> serde_json::Value {
    let out = Command::new(python())
        .arg(workspace().join("integration/python/send_jaeger.py"))
        .args(["--mode", mode, "--port", &port.to_string()])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {:?} (run scripts/setup-test-deps): {e}",
                python()
            )
        });
    assert!(
        out.status.success(),
        "python sender {mode} failed:\n{}\n{}",
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

fn str_attr(attrs: &[KeyValue], k: &str) -> Option<String> {
    match attr(attrs, k) {
        Some(AV::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
        .port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

struct Ports {
    grpc: u16,
    http: u16,
    compact: u16,
    binary: u16,
}

fn start(sink: &Sink) -> (Collector, Ports) {
    let ports = Ports {
        grpc: free_tcp_port(),
        http: free_tcp_port(),
        compact: free_udp_port(),
        binary: free_udp_port(),
    };
    let jaeger = format!(
        "receivers:\n  jaeger:\n    protocols:\n      grpc: {{endpoint: '127.0.0.1:{}'}}\n      thrift_http: {{endpoint: '127.0.0.1:{}'}}\n      thrift_compact: {{endpoint: '127.0.0.1:{}'}}\n      thrift_binary: {{endpoint: '127.0.0.1:{}'}}\n",
        ports.grpc, ports.http, ports.compact, ports.binary
    );
    let cfg = base_config(
        "  batch:\n    timeout: 50ms",
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
            sink.port()
        ),
        "    traces: {receivers: [jaeger], processors: [batch], exporters: [otlp]}",
    )
    .replace("receivers:\n", &jaeger);
    (Collector::start(&cfg, &[]), ports)
}

/// The resource and span with `span_id` (hex) in what the sink received.
fn find(sink: &Sink, span_id: &str) -> Option<(ResourceSpans, Span)> {
    let st = sink.lock();
    for rs in st.traces.iter().flat_map(|r| &r.resource_spans) {
        for s in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            if hex::encode(&s.span_id) == span_id {
                return Some((rs.clone(), s.clone()));
            }
        }
    }
    None
}

/// Waits for every sent span and checks ids, parent, name and times (µs on the Thrift wire,
/// ns in protobuf).
fn received(sink: &Sink, sent: &serde_json::Value, micros: bool) -> Vec<(ResourceSpans, Span)> {
    let want = sent["spans"].as_array().expect("spans");
    let ids: Vec<&str> = want
        .iter()
        .map(|s| s["span_id"].as_str().unwrap_or(""))
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || ids
            .iter()
            .all(|id| find(sink, id).is_some())),
        "spans {ids:?} did not all arrive"
    );
    want.iter()
        .map(|w| {
            let (rs, span) = find(sink, w["span_id"].as_str().unwrap_or("")).expect("found");
            assert_eq!(
                hex::encode(&span.trace_id),
                w["trace_id"].as_str().unwrap_or("")
            );
            assert_eq!(
                hex::encode(&span.parent_span_id),
                w["parent_id"].as_str().unwrap_or("")
            );
            assert_eq!(span.name, w["name"].as_str().unwrap_or(""));
            let ns = |k: &str| w[k].as_u64().expect("a time in ns");
            // µs on the Thrift wire (the OTel exporters round, jaeger-client truncates); ns
            // in protobuf, from the Python exporter's float seconds.
            let start = span.start_time_unix_nano as i128;
            let tolerance = if micros { 1000 } else { 999 };
            assert!(
                (start - ns("start_ns") as i128).abs() <= tolerance,
                "start {start} vs {}",
                ns("start_ns")
            );
            if micros {
                assert_eq!(start % 1000, 0, "whole microseconds");
            }
            let end = span.end_time_unix_nano as i128;
            assert!(
                (end - ns("end_ns") as i128).abs() < 2000,
                "end {end} vs {}",
                ns("end_ns")
            );
            (rs, span)
        })
        .collect()
}

/// The OpenTelemetry SDK scenario of send_jaeger.py, as the three OTel Jaeger exporters send it.
fn check_otel(sink: &Sink, sent: &serde_json::Value, proto: bool) {
    let got = received(sink, sent, !proto);
    let (rs, server) = got
        .iter()
        .find(|(_, s)| s.name == "GET /items")
        .expect("server span");
    let res = &rs.resource.as_ref().expect("resource").attributes;
    assert_eq!(
        str_attr(res, "service.name").as_deref(),
        Some("py-jaeger-test")
    );
    // The Thrift exporter sends the service name alone; the protobuf one the resource too.
    let deployment = str_attr(res, "deployment");
    assert_eq!(deployment.as_deref(), proto.then_some("test"));
    assert_eq!(server.kind, 2);
    assert_eq!(
        attr(&server.attributes, "item.count"),
        Some(AV::IntValue(3))
    );
    assert_eq!(
        attr(&server.attributes, "ratio"),
        Some(AV::DoubleValue(0.5))
    );
    assert_eq!(attr(&server.attributes, "flag"), Some(AV::BoolValue(true)));
    assert_eq!(
        str_attr(&server.attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(attr(&server.attributes, "span.kind"), None);
    assert_eq!(server.events.len(), 1);
    // The Python exporters put the event's name in a `message` field; otelcol names events
    // from `event` fields only.
    assert_eq!(server.events[0].name, "");
    assert_eq!(
        str_attr(&server.events[0].attributes, "message").as_deref(),
        Some("work.done")
    );
    assert_eq!(
        attr(&server.events[0].attributes, "rows"),
        Some(AV::IntValue(7))
    );
    assert_eq!(server.flags & 1, 1, "sampled");
    let (_, client) = got
        .iter()
        .find(|(_, s)| s.name == "SELECT")
        .expect("client span");
    assert_eq!(client.kind, 3);
    let status = client.status.clone().expect("status");
    assert_eq!(
        (status.code, status.message.as_str()),
        (2, "connection reset")
    );
    for k in ["error", "otel.status_code", "otel.status_description"] {
        assert_eq!(attr(&client.attributes, k), None, "{k} is consumed");
    }
    // The link to the server span arrives as a FOLLOWS_FROM reference and leaves as a link.
    let link = client
        .links
        .iter()
        .find(|l| l.span_id == server.span_id)
        .expect("link");
    assert_eq!(
        str_attr(&link.attributes, "opentracing.ref_type").as_deref(),
        Some("follows_from")
    );
    if proto {
        // ProtoToTraces reads the scope; ThriftToTraces leaves the tags as attributes.
        let scope = rs
            .scope_spans
            .iter()
            .find(|s| s.spans.iter().any(|x| x.span_id == server.span_id))
            .and_then(|s| s.scope.clone())
            .expect("scope");
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("send_jaeger", "1.2.3")
        );
    } else {
        assert_eq!(
            str_attr(&server.attributes, "otel.scope.name").as_deref(),
            Some("send_jaeger")
        );
    }
}

fn check_jaeger_client(sink: &Sink, sent: &serde_json::Value) {
    let got = received(sink, sent, true);
    let (rs, server) = got
        .iter()
        .find(|(_, s)| s.name == "GET /items")
        .expect("server span");
    let res = &rs.resource.as_ref().expect("resource").attributes;
    assert_eq!(
        str_attr(res, "service.name").as_deref(),
        Some("py-jaeger-test")
    );
    assert_eq!(
        str_attr(res, "opencensus.exporterversion").as_deref(),
        Some("Jaeger-Python-4.8.0")
    );
    assert!(
        str_attr(res, "host.name").is_some(),
        "hostname becomes host.name: {res:?}"
    );
    assert_eq!(attr(res, "hostname"), None);
    assert_eq!(server.kind, 2);
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
    assert_eq!(server.events[0].name, "work.done");
    assert_eq!(
        attr(&server.events[0].attributes, "rows"),
        Some(AV::IntValue(7))
    );
    let (_, client) = got
        .iter()
        .find(|(_, s)| s.name == "SELECT")
        .expect("client span");
    assert_eq!(client.kind, 3);
    assert_eq!(client.status.clone().map(|s| s.code), Some(2));
    assert_eq!(
        str_attr(&client.attributes, "db.system").as_deref(),
        Some("postgresql")
    );
    assert!(
        client.links.is_empty(),
        "the parent reference is no link: {:?}",
        client.links
    );
}

fn check_thrift_binary(sink: &Sink, sent: &serde_json::Value) {
    let got = received(sink, sent, true);
    let (rs, span) = &got[0];
    let res = &rs.resource.as_ref().expect("resource").attributes;
    assert_eq!(str_attr(res, "host.name").as_deref(), Some("box-1"));
    assert_eq!(span.kind, 4);
    assert_eq!(span.status.clone().map(|s| s.code), Some(1));
    assert_eq!(
        attr(&span.attributes, "bytes"),
        Some(AV::BytesValue(vec![0, 1, 0x7f]))
    );
    assert_eq!(attr(&span.attributes, "n"), Some(AV::IntValue(-5)));
    assert_eq!(span.events[0].name, "");
    assert_eq!(
        str_attr(&span.events[0].attributes, "message").as_deref(),
        Some("hi")
    );
}

#[test]
fn python_jaeger_clients_on_all_four_protocols() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let (collector, ports) = start(&sink);

    // Bad input first: answered or counted, and the receiver keeps serving.
    let (status, text) = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/api/traces", ports.http))
            .header("content-type", "application/x-thrift")
            .body("not thrift")
            .send()
            .await
            .expect("thrift_http answers");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    });
    assert_eq!(status, 400);
    assert!(
        text.starts_with("Unable to process request body: "),
        "{text}"
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.send_to(b"not thrift", ("127.0.0.1", ports.compact))
        .expect("sent");

    check_otel(&sink, &send("otel-grpc", ports.grpc), true);
    check_otel(&sink, &send("otel-thrift-http", ports.http), false);
    check_otel(&sink, &send("otel-thrift-agent", ports.compact), false);
    check_jaeger_client(&sink, &send("jaeger-client", ports.compact));
    check_thrift_binary(&sink, &send("thrift-binary", ports.binary));

    let series = |name: &str, transport: &str| {
        collector.metric(&format!(
            "{name}{{receiver=\"jaeger\",transport=\"{transport}\"}}"
        ))
    };
    assert!(eventually(Duration::from_secs(5), || {
        series("otelcol_receiver_accepted_spans", "udp_thrift_binary") == 1.0
    }));
    assert_eq!(series("otelcol_receiver_accepted_spans", "grpc"), 2.0);
    assert_eq!(
        series("otelcol_receiver_accepted_spans", "collector_http"),
        2.0
    );
    assert_eq!(
        series("otelcol_receiver_accepted_spans", "udp_thrift_compact"),
        4.0
    );
    assert_eq!(
        collector.metric(
            "ferrotel_receiver_dropped_datagrams{reason=\"decode\",receiver=\"jaeger\",transport=\"udp_thrift_compact\"}"
        ),
        1.0
    );
}
