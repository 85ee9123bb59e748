//! The `filelog` operators in the real binary, on syslog written by a real syslog client:
//! util-linux `logger` sends RFC 5424 and RFC 3164 messages to a UDP socket of this test,
//! which appends them to a log file (as a syslog daemon would), together with a Java stack
//! trace. The collector routes each line by an expression to the right syslog parser,
//! recombines the stack trace, drops debug messages with a filter and sends the rest over OTLP.

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{eventually, Collector};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use std::io::Write;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn config(logs: &Path, sink_port: u16) -> String {
    format!(
        r#"extensions:
  health_check: {{endpoint: 127.0.0.1:0}}
receivers:
  filelog:
    include: [{logs}/syslog*.log]
    start_at: beginning
    poll_interval: 50ms
    # Stack frames are told apart by their indentation, which filelog trims by default.
    preserve_leading_whitespaces: true
    operators:
      - type: router
        routes:
          - {{ expr: 'body matches "^<\\d+>1 "', output: rfc5424 }}
          - {{ expr: 'body startsWith "<"', output: rfc3164 }}
        default: stack
      - {{ type: syslog_parser, id: rfc5424, protocol: rfc5424, output: debug_filter }}
      - {{ type: syslog_parser, id: rfc3164, protocol: rfc3164, output: debug_filter }}
      - type: recombine
        id: stack
        combine_field: body
        is_first_entry: 'body matches "^[^\\s]"'
        force_flush_period: 200ms
        output: debug_filter
      - {{ type: filter, id: debug_filter, expr: 'attributes.message != nil and attributes.message startsWith "debug:"' }}
exporters:
  otlp:
    endpoint: 127.0.0.1:{sink_port}
    tls: {{insecure: true}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: 127.0.0.1:0}}}}
  pipelines:
    logs: {{receivers: [filelog], exporters: [otlp]}}
"#,
        logs = logs.display(),
    )
}

/// What `logger` sends for these arguments, read from a UDP socket.
fn logger(args: &[&str]) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let port = sock.local_addr().expect("addr").port().to_string();
    let status = Command::new("logger")
        .args(["-n", "127.0.0.1", "-d", "-P", &port])
        .args(args)
        .status()
        .expect("util-linux logger is installed");
    assert!(status.success());
    let mut buf = [0u8; 8192];
    let n = sock.recv(&mut buf).expect("logger sent a datagram");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn text(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn attr(r: &LogRecord, key: &str) -> String {
    let v = r.attributes.iter().find(|kv| kv.key == key);
    text(v.and_then(|kv| kv.value.as_ref()))
}

fn records(sink: &Sink) -> Vec<LogRecord> {
    let state = sink.lock();
    state
        .logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|rl| &rl.scope_logs)
        .flat_map(|sl| sl.log_records.clone())
        .collect()
}

#[test]
fn logger_syslog_is_routed_parsed_recombined_and_filtered() {
    let rfc5424 = logger(&[
        "--rfc5424",
        "-t",
        "payments",
        "-p",
        "auth.crit",
        "--msgid",
        "ID47",
        "--sd-id",
        "order@32473",
        "--sd-param",
        "id=\"42\"",
        "card declined",
    ]);
    let rfc3164 = logger(&[
        "--rfc3164",
        "-t",
        "cron",
        "-p",
        "local0.warning",
        "job late",
    ]);
    let debug = logger(&[
        "--rfc3164",
        "-t",
        "cron",
        "-p",
        "local0.debug",
        "debug: noise",
    ]);
    let stack = "java.lang.Exception: boom\n        at Main.demo(Main.java:6)\n        at Main.main(Main.java:3)\n";

    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sink = rt.block_on(Sink::start());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut collector = Collector::start(&config(dir.path(), sink.port()), &[]);
    let mut f = std::fs::File::create(dir.path().join("syslog.log")).expect("create");
    write!(f, "{rfc5424}\n{rfc3164}\n{debug}\n{stack}").expect("write");
    f.flush().expect("flush");
    assert!(eventually(Duration::from_secs(10), || records(&sink).len() >= 3));
    std::thread::sleep(Duration::from_millis(500));
    collector.terminate(Duration::from_secs(10));

    let recs = records(&sink);
    assert_eq!(recs.len(), 3, "{recs:#?}");
    let r = recs
        .iter()
        .find(|r| attr(r, "appname") == "payments")
        .expect("the RFC 5424 line");
    assert_eq!((r.severity_number, r.severity_text.as_str()), (18, "crit"));
    assert_eq!(attr(r, "msg_id"), "ID47");
    assert_eq!(attr(r, "facility_text"), "auth");
    assert_eq!(attr(r, "message"), "card declined");
    assert!(r.time_unix_nano > 1_700_000_000_000_000_000);
    let r = recs
        .iter()
        .find(|r| attr(r, "appname") == "cron")
        .expect("the RFC 3164 line");
    assert_eq!(
        (r.severity_number, r.severity_text.as_str()),
        (13, "warning")
    );
    assert_eq!(attr(r, "facility_text"), "local0");
    assert_eq!(attr(r, "message"), "job late");
    let r = recs
        .iter()
        .find(|r| text(r.body.as_ref()).starts_with("java.lang"))
        .expect("the stack trace");
    assert_eq!(text(r.body.as_ref()), stack.trim_end());
}
