//! The `resource_detection` processor in the real binary: detection runs once at start with
//! `env` (OTEL_RESOURCE_ATTRIBUTES of the collector's environment), `system` and `ec2` pointed
//! (AWS_EC2_METADATA_SERVICE_ENDPOINT) at a loopback server that accepts and never answers:
//! ec2 is logged as failed and contributes nothing, the collector still becomes healthy, and
//! spans reach an independent sink with the detected attributes added, the client's own kept
//! (`override: false`).

use ferrotel_integration::sink::Sink;
use ferrotel_integration::{base_config, eventually, span_request, Collector};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::net::TcpListener;
use std::time::Duration;

fn str_value(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attrs
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?
    {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn detected_resource_reaches_the_sink() {
    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    std::thread::spawn(move || {
        let _held: Vec<_> = silent.incoming().collect();
    });
    // The only test of this binary: the variables reach the collector's environment.
    std::env::set_var(
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment=staging,team=a%2Cb",
    );
    std::env::set_var(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        format!("http://{silent_addr}"),
    );
    let sink = Sink::start().await;
    let processors = "  resource_detection:\n    detectors: [env, system, ec2]\n    timeout: 3s\n    override: false\n    system:\n      hostname_sources: [os]";
    let config = base_config(
        processors,
        &format!(
            "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
            sink.port()
        ),
        "    traces: {receivers: [otlp], processors: [resource_detection], exporters: [otlp]}",
    );
    let c = Collector::start(&config, &[]);
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{}", c.ports.grpc))
        .await
        .expect("grpc connect");
    let mut req = span_request(0..3);
    req.resource_spans[0].resource = Some(Resource {
        attributes: vec![KeyValue {
            key: "host.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("client-host".into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    });
    client.export(req).await.expect("accepted");
    assert!(
        eventually(Duration::from_secs(10), || sink.span_count() >= 3),
        "spans did not arrive; stderr:\n{}",
        c.stderr()
    );
    let state = sink.lock();
    let rs = &state.traces[0].resource_spans[0];
    let attrs = &rs.resource.as_ref().expect("a resource").attributes;
    assert_eq!(
        str_value(attrs, "deployment.environment").as_deref(),
        Some("staging")
    );
    assert_eq!(str_value(attrs, "team").as_deref(), Some("a,b"));
    assert_eq!(str_value(attrs, "os.type").as_deref(), Some("linux"));
    assert_eq!(
        str_value(attrs, "host.name").as_deref(),
        Some("client-host")
    );
    assert_eq!(
        str_value(attrs, "cloud.provider"),
        None,
        "ec2 found nothing"
    );
    assert_eq!(rs.schema_url, "https://opentelemetry.io/schemas/1.6.1");
    let stderr = c.stderr();
    assert!(
        stderr.contains("failed to detect resource") && stderr.contains("ec2"),
        "{stderr}"
    );
}
