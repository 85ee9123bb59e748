use super::*;
use crate::shared::encode_status;
use crate::shared::test_auth::auth_extensions;
use ferrotel_config::decode;
use ferrotel_core::proto::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{AnyFactory, Data};
use ferrotel_testkit::config::{create_context, refused, yaml};
use prost::Message;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::server::{Grpc, UnaryService};
use tonic::{Code, Status};

// ---------------------------------------------------------------------------------------------
// A real tonic server that records raw request bytes and answers a chosen status.

#[derive(Debug, Clone)]
struct Received {
    path: String,
    encoding: Option<String>,
    api_key: Option<String>,
    authorization: Option<String>,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Sink {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answer with this status instead of success.
    fail_with: Arc<Mutex<Option<Status>>>,
    /// Answer success with this body.
    ok_body: Arc<Mutex<Bytes>>,
}

struct Unary {
    sink: Sink,
    meta: Received,
}

impl UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<Bytes>, Status>> + Send>>;

    fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
        let mut r = self.meta.clone();
        r.api_key = req
            .metadata()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        r.authorization = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        r.body = req.into_inner();
        self.sink.received.lock().unwrap().push(r);
        let fail = self.sink.fail_with.lock().unwrap().clone();
        let ok = self.sink.ok_body.lock().unwrap().clone();
        Box::pin(async move {
            match fail {
                Some(s) => Err(s),
                None => Ok(tonic::Response::new(ok)),
            }
        })
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Sink {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let meta = Received {
            path: req.uri().path().to_string(),
            encoding: req
                .headers()
                .get("grpc-encoding")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            api_key: None,
            authorization: None,
            body: Bytes::new(),
        };
        let svc = Unary {
            sink: self.clone(),
            meta,
        };
        Box::pin(async move {
            let mut grpc = Grpc::new(BytesCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd);
            Ok(grpc.unary(svc, req).await)
        })
    }
}

async fn start_sink() -> (Sink, std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start_sink_tls(None).await
}

async fn start_sink_tls(
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> (Sink, std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = Sink::default();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let svc = sink.clone();
    tokio::spawn(async move {
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            server = server.tls_config(tls).unwrap();
        }
        server
            .serve_with_incoming_shutdown(
                svc,
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = rx.await;
                },
            )
            .await
            .unwrap();
    });
    (sink, addr, tx)
}

// ---------------------------------------------------------------------------------------------

fn create(id: &str, config: &str) -> Result<ExporterParts, ConfigErrors> {
    OtlpExporterFactory.create_from(&create_context("exporters", id), &yaml(config))
}

fn create_err(id: &str, config: &str) -> ConfigErrors {
    refused(create(id, config), config)
}

fn testdata(name: &str) -> String {
    ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "otlp", name)
}

fn batch() -> Batch {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..50)
                    .map(|i| Span {
                        name: format!("span-{i}"),
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    // From bytes, as a receiver would hand it over.
    Batch::from_bytes(
        Signal::Traces,
        Data::Traces(req).encode(),
        None,
        Default::default(),
    )
}

fn exporter_for(addr: std::net::SocketAddr, extra: &str) -> Arc<dyn Exporter> {
    create(
        "otlp",
        &format!("endpoint: {addr}\ntls: {{insecure: true}}\nheaders: {{x-api-key: k1}}\n{extra}"),
    )
    .unwrap()
    .exporter
}

#[tokio::test]
async fn sends_the_original_bytes_gzip_compressed() {
    let (sink, addr, _stop) = start_sink().await;
    let exp = exporter_for(addr, "");
    let b = batch();
    exp.export(b.clone()).await.unwrap();
    let got = sink.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, TRACES_PATH);
    assert_eq!(got[0].encoding.as_deref(), Some("gzip"));
    assert_eq!(got[0].api_key.as_deref(), Some("k1"));
    assert_eq!(got[0].body, b.encoded(), "bytes arrive unchanged");
    assert!(!b.is_decoded(), "the exporter did not decode the batch");
}

#[tokio::test]
async fn profiles_use_the_profiles_service_with_the_bytes_received() {
    let (sink, addr, _stop) = start_sink().await;
    let b = ferrotel_testkit::fixtures::encoded_batch(Signal::Profiles, 6);
    exporter_for(addr, "").export(b.clone()).await.unwrap();
    let got = sink.received.lock().unwrap().clone();
    assert_eq!(
        got[0].path,
        "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
    );
    assert_eq!(got[0].body, b.encoded(), "bytes arrive unchanged");
    assert!(!b.is_decoded());
}

#[tokio::test]
async fn compression_none_and_zstd() {
    let (sink, addr, _stop) = start_sink().await;
    exporter_for(addr, "compression: none")
        .export(batch())
        .await
        .unwrap();
    exporter_for(addr, "compression: zstd")
        .export(batch())
        .await
        .unwrap();
    let got = sink.received.lock().unwrap().clone();
    assert_eq!(got[0].encoding, None);
    assert_eq!(got[1].encoding.as_deref(), Some("zstd"));
    assert_eq!(got[1].body, batch().encoded());
}

#[tokio::test]
async fn statuses_are_classified_like_otelcol() {
    let (sink, addr, _stop) = start_sink().await;
    let exp = exporter_for(addr, "");
    let answer = |s: Option<Status>| *sink.fail_with.lock().unwrap() = s;

    answer(Some(Status::unavailable("backend down")));
    match exp.export(batch()).await {
        Err(ExportError::Retryable { message, throttle }) => {
            assert_eq!(message, "rpc error: code = Unavailable desc = backend down");
            assert_eq!(throttle, None);
        }
        other => panic!("{other:?}"),
    }

    answer(Some(Status::invalid_argument("bad data")));
    let e = exp.export(batch()).await.unwrap_err();
    assert!(e.is_permanent(), "{e:?}");
    assert!(e.to_string().contains("InvalidArgument"), "{e}");

    answer(Some(Status::resource_exhausted("quota")));
    assert!(exp.export(batch()).await.unwrap_err().is_permanent());

    answer(Some(Status::with_details(
        Code::ResourceExhausted,
        "slow down",
        encode_status(8, "slow down", Some(3)).into(),
    )));
    match exp.export(batch()).await {
        Err(ExportError::Retryable { throttle, .. }) => {
            assert_eq!(throttle, Some(Duration::from_secs(3)))
        }
        other => panic!("{other:?}"),
    }

    // A partial success is a success (logged, not retried).
    answer(None);
    *sink.ok_body.lock().unwrap() = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 2,
            error_message: "2 spans too old".into(),
        }),
    }
    .encode_to_vec()
    .into();
    exp.export(batch()).await.unwrap();
    assert_eq!(sink.received.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn lazy_connect_and_retryable_when_down() {
    // A port with nothing listening (held for the whole test).
    let down = ferrotel_testkit::ReservedPort::new();
    let addr = down.addr();
    let exp = exporter_for(addr, "");
    let sc = ExporterStartContext::default();
    exp.start(&sc).await.unwrap();
    let e = exp.export(batch()).await.unwrap_err();
    assert!(!e.is_permanent(), "{e:?}");
}

#[tokio::test]
async fn default_is_tls() {
    // A plaintext server: the TLS handshake fails, and that is retryable, not a crash.
    let (sink, addr, _stop) = start_sink().await;
    let exp = create("otlp", &format!("endpoint: {addr}"))
        .unwrap()
        .exporter;
    assert!(exp.export(batch()).await.is_err());
    assert!(sink.received.lock().unwrap().is_empty());
    // http:// means plaintext.
    let exp = create("otlp_grpc", &format!("endpoint: http://{addr}"))
        .unwrap()
        .exporter;
    exp.export(batch()).await.unwrap();
    assert_eq!(sink.received.lock().unwrap().len(), 1);
}

#[test]
fn dial_uris() {
    assert_eq!(dial_uri("h:4317", false), ("https://h:4317".into(), true));
    assert_eq!(dial_uri("h:4317", true), ("http://h:4317".into(), false));
    assert_eq!(
        dial_uri("http://h:4317", false),
        ("http://h:4317".into(), false)
    );
    assert_eq!(
        dial_uri("https://h:4317", true),
        ("https://h:4317".into(), true)
    );
    assert_eq!(
        dial_uri("dns:///h:4317", true),
        ("http://h:4317".into(), false)
    );
}

#[test]
fn config_valid() {
    let parts = create("otlp", &testdata("config_valid.yaml")).unwrap();
    assert_eq!(parts.settings.timeout, GoDuration::from_secs(10));
    assert_eq!(
        parts.settings.retry.max_elapsed_time,
        GoDuration::from_secs(60)
    );
    assert_eq!(parts.settings.queue.queue_size, 5000);
    let cfg: OtlpConfig = decode(
        "x",
        &serde_yaml_ng::from_str(&testdata("config_valid.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(cfg.compression, Choice::Known(Compression::Zstd));
    let d = OtlpConfig::default();
    assert_eq!(d.compression, Choice::Known(Compression::Gzip));
    assert_eq!(d.timeout, GoDuration::from_secs(5));
    assert!(d.sending_queue.enabled && d.retry_on_failure.enabled);
}

#[test]
fn config_typo_names_the_key() {
    let e = create_err("otlp", &testdata("config_typo.yaml"));
    assert_eq!(e.0[0].path, "exporters.otlp.endpont", "{e}");
}

#[test]
fn config_invalid_values() {
    let e = create_err("otlp", &testdata("config_invalid.yaml"));
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"exporters.otlp.compression"), "{e}");
    assert!(
        paths.contains(&"exporters.otlp.retry_on_failure.randomization_factor"),
        "{e}"
    );
    let e = create_err("otlp", "endpoint: h:1\nauth: {authenticatr: x}");
    assert_eq!(e.0[0].path, "exporters.otlp.auth.authenticatr");
    let e = create_err("otlp", "tls: {insecure: true}");
    assert_eq!(e.0[0].path, "exporters.otlp.endpoint");
    // Files are read at start (as otelcol), not by validate.
    assert!(create("otlp", "endpoint: h:1\ntls: {ca_file: /nonexistent/ca.pem}").is_ok());
    let e = create_err("otlp", "endpoint: h:1\ntimeout: soon");
    assert_eq!(e.0[0].path, "exporters.otlp.timeout");
}

// ---------------------------------------------------------------------------------------------
// TLS and authentication against real TLS servers, with certificates made at test time.

use ferrotel_testkit::pki::TestPki;
use tonic::transport::{Certificate as TlsCert, ServerTlsConfig};

fn server_tls(pki: &TestPki, cert: &str, client_ca: bool) -> ServerTlsConfig {
    let tls = ServerTlsConfig::new().identity(Identity::from_pem(
        pki.pem(&format!("{cert}.crt")),
        pki.pem(&format!("{cert}.key")),
    ));
    if client_ca {
        tls.client_ca_root(TlsCert::from_pem(pki.pem("ca.crt")))
    } else {
        tls
    }
}

async fn started(
    yaml: &str,
    extensions: ferrotel_core::Extensions,
) -> Result<Arc<dyn Exporter>, StartError> {
    let exp = create("otlp", yaml).unwrap().exporter;
    let sc = ExporterStartContext {
        extensions,
        ..ExporterStartContext::default()
    };
    exp.start(&sc).await?;
    Ok(exp)
}

#[tokio::test]
async fn tls_with_ca_file_and_server_name_override() {
    let pki = TestPki::new();
    let (sink, addr, _stop) = start_sink_tls(Some(server_tls(&pki, "server", false))).await;
    let ca = pki.path("ca.crt");
    let exp = started(
        &format!("endpoint: {addr}\ntls: {{ ca_file: '{ca}' }}"),
        Default::default(),
    )
    .await
    .unwrap();
    exp.export(batch()).await.unwrap();
    let exp = started(
        &format!(
            "endpoint: https://{addr}\ntls: {{ ca_file: '{ca}', server_name_override: localhost }}"
        ),
        Default::default(),
    )
    .await
    .unwrap();
    exp.export(batch()).await.unwrap();
    assert_eq!(sink.received.lock().unwrap().len(), 2);
    // A name the certificate does not carry, or another CA: refused, retryable.
    for tls in [
        format!("{{ ca_file: '{ca}', server_name_override: other.example }}"),
        format!("{{ ca_file: '{}' }}", pki.path("other_ca.crt")),
    ] {
        let exp = started(&format!("endpoint: {addr}\ntls: {tls}"), Default::default())
            .await
            .unwrap();
        let e = exp.export(batch()).await.unwrap_err();
        assert!(!e.is_permanent(), "{e:?}");
    }
    assert_eq!(sink.received.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn insecure_skip_verify_accepts_a_self_signed_server() {
    let pki = TestPki::new();
    let (sink, addr, _stop) = start_sink_tls(Some(server_tls(&pki, "self_signed", false))).await;
    let exp = started(&format!("endpoint: {addr}"), Default::default())
        .await
        .unwrap();
    assert!(exp.export(batch()).await.is_err(), "verified by default");
    let exp = started(
        &format!("endpoint: {addr}\ntls: {{ insecure_skip_verify: true }}"),
        Default::default(),
    )
    .await
    .unwrap();
    exp.export(batch()).await.unwrap();
    assert_eq!(sink.received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn mtls_sends_the_client_certificate() {
    let pki = TestPki::new();
    let (sink, addr, _stop) = start_sink_tls(Some(server_tls(&pki, "server", true))).await;
    let ca = pki.path("ca.crt");
    let exp = started(
        &format!("endpoint: {addr}\ntls: {{ ca_file: '{ca}' }}"),
        Default::default(),
    )
    .await
    .unwrap();
    assert!(exp.export(batch()).await.is_err(), "no client certificate");
    let exp = started(
        &format!(
            "endpoint: {addr}\ntls: {{ ca_file: '{ca}', cert_file: '{}', key_file: '{}' }}",
            pki.path("client.crt"),
            pki.path("client.key")
        ),
        Default::default(),
    )
    .await
    .unwrap();
    exp.export(batch()).await.unwrap();
    assert_eq!(sink.received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn tls_file_and_version_errors_name_their_key() {
    let e = create_err(
        "otlp",
        "endpoint: h:1\ntls: {cert_file: /nonexistent/c.pem}",
    );
    assert_eq!(e.0[0].path, "exporters.otlp.tls", "{e}");
    // Files are read at start; each problem names its key.
    let e = started(
        "endpoint: h:1\ntls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}",
        Default::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(
        e.0.contains("tls.cert_file: failed to read \"/nonexistent/c.pem\"")
            && e.0
                .contains("tls.key_file: failed to read \"/nonexistent/k.pem\""),
        "{e}"
    );
    let e = create_err("otlp", "endpoint: h:1\ntls: {max_version: '1.2'}");
    assert_eq!(
        e.0[0].path,
        "exporters.otlp.tls.max_version: \"1.2\" (with the gRPC exporter)"
    );
    // TLS 1.0 is a valid setting (as otelcol) that ferrotel cannot honour: refused at start.
    let e = started(
        "endpoint: h:1\ntls: {min_version: '1.0'}",
        Default::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(e.0.contains("tls.min_version: "), "{e}");
    // insecure: no TLS, so no files are read.
    assert!(create(
        "otlp",
        "endpoint: h:1\ntls: {insecure: true, ca_file: /nonexistent}"
    )
    .is_ok());
}

#[tokio::test]
async fn the_authenticator_adds_its_header() {
    let (sink, addr, _stop) = start_sink().await;
    let yaml = format!(
        "endpoint: http://{addr}\nheaders: {{x-api-key: k}}\nauth: {{ authenticator: headerauth }}"
    );
    let exp = started(&yaml, auth_extensions()).await.unwrap();
    exp.export(batch()).await.unwrap();
    let got = sink.received.lock().unwrap()[0].clone();
    assert_eq!(got.authorization.as_deref(), Some("Bearer test-token"));
    assert_eq!(got.api_key.as_deref(), Some("k"));
    let e = started(&yaml.replace("headerauth", "nosuch"), auth_extensions())
        .await
        .err()
        .unwrap();
    assert!(
        e.0.contains("auth.authenticator") && e.0.contains("nosuch"),
        "{e}"
    );
}

#[tokio::test]
async fn a_connection_broken_mid_request_is_retryable_not_dropped() {
    // A server that reads the start of the request, then closes the connection: no gRPC status
    // ever arrives, so nothing says the data was delivered.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = l.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await;
            drop(conn);
        }
    });
    let exp = exporter_for(addr, "");
    let e = exp.export(batch()).await.unwrap_err();
    assert!(!e.is_permanent(), "{e:?}");
    assert!(e.to_string().contains("Unavailable"), "{e}");
}

#[test]
fn extensions_used_are_recorded_with_their_paths() {
    use ferrotel_config::{Capability, ExtensionUse};
    let uses = OtlpExporterFactory
        .check(
            "exporters.otlp/2",
            &yaml("endpoint: h:1\nauth: {authenticator: bearertokenauth/out}\nsending_queue: {storage: file_storage/q}"),
        )
        .unwrap();
    assert_eq!(
        uses,
        [
            ExtensionUse {
                path: "exporters.otlp/2.sending_queue.storage".into(),
                id: "file_storage/q".into(),
                capability: Capability::Storage,
            },
            ExtensionUse {
                path: "exporters.otlp/2.auth.authenticator".into(),
                id: "bearertokenauth/out".into(),
                capability: Capability::ClientAuthenticator,
            },
        ]
    );
    let uses = OtlpExporterFactory
        .check("exporters.otlp", &yaml("endpoint: h:1"))
        .unwrap();
    assert!(uses.is_empty(), "{uses:?}");
}
