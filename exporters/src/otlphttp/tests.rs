use super::*;
use crate::shared::encode_status;
use ferrotel_config::decode;
use ferrotel_core::proto::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::{AnyFactory, Signal};
use ferrotel_testkit::config::{create_context, refused, yaml};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// A real hyper server that records requests and answers a chosen response.

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: http::HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

#[derive(Clone)]
struct Server {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
}

impl Server {
    fn answer(&self, status: u16, headers: &[(&'static str, &str)], body: impl Into<Bytes>) {
        *self.answer.lock().unwrap() = Answer {
            status,
            headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            body: body.into(),
        };
    }
    fn last(&self) -> Received {
        self.received.lock().unwrap().last().cloned().unwrap()
    }
}

async fn start_server() -> Server {
    start_server_tls(None).await
}

/// The recording server, over TLS when `tls` is given.
async fn start_server_tls(tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let server = Server {
        url: format!("{scheme}://{}", listener.local_addr().unwrap()),
        received: Default::default(),
        answer: Arc::new(Mutex::new(Answer {
            status: 200,
            headers: vec![],
            body: Bytes::new(),
        })),
    };
    let s = server.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (s, tls) = (s.clone(), tls.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let s = s.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        s.received.lock().unwrap().push(Received {
                            path: parts.uri.path().to_string(),
                            headers: parts.headers,
                            body,
                        });
                        let a = s.answer.lock().unwrap().clone();
                        let mut resp = http::Response::builder().status(a.status);
                        for (k, v) in a.headers {
                            resp = resp.header(k, v);
                        }
                        Ok::<_, std::convert::Infallible>(resp.body(Full::new(a.body)).unwrap())
                    }
                });
                let http1 = hyper::server::conn::http1::Builder::new();
                let _ = match tls {
                    None => http1.serve_connection(TokioIo::new(stream), svc).await,
                    Some(tls) => match tls.accept(stream).await {
                        Ok(stream) => http1.serve_connection(TokioIo::new(stream), svc).await,
                        Err(_) => return,
                    },
                };
            });
        }
    });
    server
}

// ---------------------------------------------------------------------------------------------

fn create(id: &str, config: &str) -> Result<ExporterParts, ConfigErrors> {
    OtlpHttpExporterFactory.create_from(&create_context("exporters", id), &yaml(config))
}

fn create_err(id: &str, config: &str) -> ConfigErrors {
    refused(create(id, config), config)
}

fn exporter(server: &Server, extra: &str) -> Arc<dyn Exporter> {
    create(
        "otlphttp",
        &format!(
            "endpoint: {}/\nheaders: {{X-Api-Key: k1}}\n{extra}",
            server.url
        ),
    )
    .unwrap()
    .exporter
}

fn testdata(name: &str) -> String {
    ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "otlphttp", name)
}

fn logs_batch() -> Batch {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..20)
                    .map(|i| LogRecord {
                        severity_text: format!("INFO {i}"),
                        trace_id: vec![7; 16],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_bytes(
        Signal::Logs,
        Data::Logs(req).encode(),
        None,
        Default::default(),
    )
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn posts_gzip_protobuf_to_the_signal_path() {
    let server = start_server().await;
    let exp = exporter(&server, "");
    let b = logs_batch();
    exp.export(b.clone()).await.unwrap();
    let r = server.last();
    assert_eq!(r.path, "/v1/logs");
    assert_eq!(r.headers["content-type"], "application/x-protobuf");
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_eq!(r.headers["x-api-key"], "k1");
    assert_eq!(
        gunzip(&r.body),
        b.encoded().to_vec(),
        "same bytes after gunzip"
    );
    assert!(!b.is_decoded());
}

#[tokio::test]
async fn other_compressions_and_json() {
    let server = start_server().await;
    let b = logs_batch();
    exporter(&server, "compression: none")
        .export(b.clone())
        .await
        .unwrap();
    let r = server.last();
    assert!(r.headers.get("content-encoding").is_none());
    assert_eq!(r.body, b.encoded());

    exporter(&server, "compression: zstd")
        .export(b.clone())
        .await
        .unwrap();
    let r = server.last();
    assert_eq!(r.headers["content-encoding"], "zstd");
    assert_eq!(zstd::decode_all(&r.body[..]).unwrap(), b.encoded().to_vec());

    exporter(&server, "compression: snappy")
        .export(b.clone())
        .await
        .unwrap();
    let r = server.last();
    assert_eq!(r.headers["content-encoding"], "snappy");
    assert_eq!(
        snap::raw::Decoder::new().decompress_vec(&r.body).unwrap(),
        b.encoded().to_vec()
    );

    exporter(&server, "encoding: json\ncompression: none")
        .export(b.clone())
        .await
        .unwrap();
    let r = server.last();
    assert_eq!(r.headers["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let first = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(first["severityText"], "INFO 0", "{v}");
    assert_eq!(first["traceId"], "07070707070707070707070707070707", "{v}");
}

#[tokio::test]
async fn statuses_are_classified_like_otelcol() {
    let server = start_server().await;
    let exp = exporter(&server, "");

    server.answer(503, &[("retry-after", "3")], "");
    match exp.export(logs_batch()).await {
        Err(ExportError::Retryable { throttle, message }) => {
            assert_eq!(throttle, Some(Duration::from_secs(3)));
            assert!(message.contains("HTTP Status Code 503"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let status = encode_status(3, "field resourceLogs is malformed", None);
    server.answer(400, &[("content-type", "application/x-protobuf")], status);
    let e = exp.export(logs_batch()).await.unwrap_err();
    assert!(e.is_permanent(), "{e:?}");
    assert!(
        e.to_string()
            .contains("Message=field resourceLogs is malformed"),
        "{e}"
    );

    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    server.answer(429, &[("retry-after", &date)], "");
    match exp.export(logs_batch()).await {
        Err(ExportError::Retryable {
            throttle: Some(t), ..
        }) => assert!(
            t > Duration::from_secs(100) && t <= Duration::from_secs(120),
            "{t:?}"
        ),
        other => panic!("{other:?}"),
    }

    server.answer(502, &[], "bad gateway");
    assert!(!exp.export(logs_batch()).await.unwrap_err().is_permanent());
    server.answer(500, &[], "oops");
    assert!(exp.export(logs_batch()).await.unwrap_err().is_permanent());
    server.answer(404, &[], "404 page not found");
    let e = exp.export(logs_batch()).await.unwrap_err();
    assert!(
        e.is_permanent() && e.to_string().contains("404 page not found"),
        "{e}"
    );

    // A partial success is a success, not retried.
    let partial = ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess {
            rejected_log_records: 3,
            error_message: "too old".into(),
        }),
    };
    server.answer(
        200,
        &[("content-type", "application/x-protobuf")],
        partial.encode_to_vec(),
    );
    exp.export(logs_batch()).await.unwrap();
    assert_eq!(server.received.lock().unwrap().len(), 7);
}

#[tokio::test]
async fn unreachable_backend_is_retryable() {
    // A port with nothing listening (held for the whole test).
    let down = ferrotel_testkit::ReservedPort::new();
    let addr = down.addr();
    let exp = create("otlp_http", &format!("endpoint: http://{addr}"))
        .unwrap()
        .exporter;
    assert!(!exp.export(logs_batch()).await.unwrap_err().is_permanent());
}

#[tokio::test]
async fn per_signal_endpoint_overrides() {
    let server = start_server().await;
    let exp = create(
        "otlphttp",
        &format!("logs_endpoint: {}/custom/logs", server.url),
    )
    .unwrap()
    .exporter;
    exp.export(logs_batch()).await.unwrap();
    assert_eq!(server.last().path, "/custom/logs");
}

#[test]
fn config_valid() {
    let parts = create("otlphttp", &testdata("config_valid.yaml")).unwrap();
    assert_eq!(parts.settings.timeout, GoDuration::from_secs(10));
    assert_eq!(parts.settings.queue.num_consumers, 2);
    let d = OtlpHttpConfig::default();
    assert_eq!(
        (d.compression, d.encoding),
        (Compression::Gzip.into(), Encoding::Proto.into())
    );
}

#[test]
fn config_typo_names_the_key() {
    let e = create_err("otlphttp/x", &testdata("config_typo.yaml"));
    assert_eq!(e.0[0].path, "exporters.otlphttp/x.endpont", "{e}");
}

#[test]
fn config_invalid_values() {
    let e = create_err("otlphttp", &testdata("config_invalid.yaml"));
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"exporters.otlphttp.compression"), "{e}");
    assert!(paths.contains(&"exporters.otlphttp.encoding"), "{e}");
    assert!(
        paths.contains(&"exporters.otlphttp.sending_queue.num_consumers"),
        "{e}"
    );
    assert!(paths.contains(&"exporters.otlphttp.traces_endpoint"), "{e}");
    let e = create_err("otlphttp", "");
    assert_eq!(e.0[0].path, "exporters.otlphttp.endpoint");
    assert_eq!(e.0[0].message, "at least one endpoint must be specified");
    let e = create_err("otlphttp", "endpoint: http://h\nauth: {authenticatr: x}");
    assert_eq!(e.0[0].path, "exporters.otlphttp.auth.authenticatr");
}

// ---------------------------------------------------------------------------------------------
// TLS and authentication against a real TLS server, with certificates made at test time.

use ferrotel_testkit::pki::TestPki;

async fn tls_server(pki: &TestPki, cert: &str, extra: &str) -> Server {
    let yaml = format!(
        "{{ cert_file: '{}', key_file: '{}' {extra} }}",
        pki.path(&format!("{cert}.crt")),
        pki.path(&format!("{cert}.key"))
    );
    let cfg: ferrotel_config::TlsServerConfig =
        decode("t", &serde_yaml_ng::from_str(&yaml).unwrap()).unwrap();
    let cfg = ferrotel_transport::tls::server_config(&cfg, "t", &[b"http/1.1"]).unwrap();
    start_server_tls(Some(tokio_rustls::TlsAcceptor::from(cfg))).await
}

async fn started(
    server: &Server,
    extra: &str,
    extensions: ferrotel_core::Extensions,
) -> Result<Arc<dyn Exporter>, StartError> {
    let exp = exporter(server, extra);
    let sc = ExporterStartContext {
        extensions,
        ..ExporterStartContext::default()
    };
    exp.start(&sc).await?;
    Ok(exp)
}

async fn sends(server: &Server, tls: &str) -> bool {
    let exp = started(server, &format!("tls: {tls}"), Default::default())
        .await
        .unwrap();
    match exp.export(logs_batch()).await {
        Ok(()) => true,
        Err(e) => {
            assert!(!e.is_permanent(), "a TLS failure is retryable: {e:?}");
            false
        }
    }
}

#[tokio::test]
async fn tls_verifies_against_ca_file_and_server_name() {
    let pki = TestPki::new();
    let server = tls_server(&pki, "server", "").await;
    let ca = pki.path("ca.crt");
    assert!(sends(&server, &format!("{{ ca_file: '{ca}' }}")).await);
    assert!(
        sends(
            &server,
            &format!("{{ ca_file: '{ca}', server_name_override: localhost }}")
        )
        .await
    );
    assert!(
        !sends(
            &server,
            &format!("{{ ca_file: '{ca}', server_name_override: other.example }}")
        )
        .await
    );
    assert!(
        !sends(
            &server,
            &format!("{{ ca_file: '{}' }}", pki.path("other_ca.crt"))
        )
        .await
    );
    assert!(!sends(&server, "{}").await, "not in the system roots");
    assert_eq!(server.received.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn insecure_skip_verify_accepts_a_self_signed_server() {
    let pki = TestPki::new();
    let server = tls_server(&pki, "self_signed", "").await;
    assert!(!sends(&server, "{}").await);
    assert!(sends(&server, "{ insecure_skip_verify: true }").await);
    assert_eq!(server.received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn mtls_and_min_version() {
    let pki = TestPki::new();
    let ca = pki.path("ca.crt");
    let server = tls_server(&pki, "server", &format!(", client_ca_file: '{ca}'")).await;
    assert!(!sends(&server, &format!("{{ ca_file: '{ca}' }}")).await);
    let with_cert = format!(
        "{{ ca_file: '{ca}', cert_file: '{}', key_file: '{}' }}",
        pki.path("client.crt"),
        pki.path("client.key")
    );
    assert!(sends(&server, &with_cert).await);
    assert_eq!(server.received.lock().unwrap().len(), 1);

    let old = tls_server(&pki, "server", ", max_version: '1.2'").await;
    assert!(sends(&old, &format!("{{ ca_file: '{ca}' }}")).await);
    assert!(!sends(&old, &format!("{{ ca_file: '{ca}', min_version: '1.3' }}")).await);
}

#[tokio::test]
async fn tls_errors_name_their_key() {
    // Files are read at start (as otelcol), not by validate.
    let exp = create(
        "otlphttp",
        "endpoint: https://h\ntls: {ca_file: /nonexistent/ca.pem}",
    )
    .unwrap()
    .exporter;
    let sc = ExporterStartContext::default();
    let e = exp.start(&sc).await.err().unwrap();
    assert!(
        e.0.starts_with("tls.ca_file: failed to read \"/nonexistent/ca.pem\""),
        "{e}"
    );
    // An export without start fails the same way, permanently.
    let err = exp.export(logs_batch()).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    let e = create_err("otlphttp", "endpoint: https://h\ntls: {min_version: '1.4'}");
    assert_eq!(e.0[0].path, "exporters.otlphttp.tls", "{e}");
    assert_eq!(
        e.0[0].message,
        "invalid TLS min_version: unsupported TLS version: \"1.4\""
    );
}

#[tokio::test]
async fn the_authenticator_adds_its_header() {
    let server = start_server().await;
    let ext = crate::shared::test_auth::auth_extensions();
    let exp = started(&server, "auth: { authenticator: headerauth }", ext.clone())
        .await
        .unwrap();
    exp.export(logs_batch()).await.unwrap();
    let got = server.last();
    assert_eq!(
        got.headers.get("authorization").unwrap(),
        "Bearer test-token"
    );
    assert_eq!(got.headers.get("x-api-key").unwrap(), "k1");
    let e = started(&server, "auth: { authenticator: nosuch }", ext)
        .await
        .err()
        .unwrap();
    assert!(e.0.contains("nosuch"), "{e}");
}

#[test]
fn extensions_used_are_recorded_with_their_paths() {
    use ferrotel_config::Capability;
    let uses = OtlpHttpExporterFactory
        .check(
            "exporters.otlphttp",
            &yaml("endpoint: http://h\nauth: {authenticator: basicauth/client}"),
        )
        .unwrap();
    let got: Vec<_> = uses
        .iter()
        .map(|u| (u.path.as_str(), u.id.as_str(), u.capability))
        .collect();
    assert_eq!(
        got,
        [(
            "exporters.otlphttp.auth.authenticator",
            "basicauth/client",
            Capability::ClientAuthenticator
        )]
    );
}

#[test]
fn a_signal_without_its_endpoint_is_refused_when_used() {
    let exp = create("otlphttp", "traces_endpoint: http://127.0.0.1:1/v1/traces")
        .unwrap()
        .exporter;
    assert_eq!(exp.accepts(Signal::Traces), Ok(()));
    assert_eq!(
        exp.accepts(Signal::Metrics),
        Err("either endpoint or metrics_endpoint must be specified".to_string())
    );
    let exp = create("otlphttp", "endpoint: http://127.0.0.1:1")
        .unwrap()
        .exporter;
    assert_eq!(exp.accepts(Signal::Logs), Ok(()));
    create(
        "otlphttp",
        "endpoint: http://127.0.0.1:1\nprofiles_endpoint: http://127.0.0.1:1/p",
    )
    .unwrap();
}

#[tokio::test]
async fn a_header_that_is_not_http_is_accepted_and_fails_each_export() {
    let exp = create(
        "otlphttp",
        "endpoint: http://127.0.0.1:1\nheaders: {'can you have a . here?': v}",
    )
    .unwrap()
    .exporter;
    let err = exp.export(logs_batch()).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(
        format!("{err:?}").contains("can you have a . here?"),
        "{err:?}"
    );
}

#[tokio::test]
async fn profiles_go_to_their_development_path_unchanged() {
    let server = start_server().await;
    let b = ferrotel_testkit::fixtures::encoded_batch(Signal::Profiles, 4);
    exporter(&server, "compression: none")
        .export(b.clone())
        .await
        .unwrap();
    let r = server.last();
    assert_eq!(r.path, "/v1development/profiles");
    assert_eq!(r.body, b.encoded(), "the bytes received");
    assert!(!b.is_decoded());

    let exp = create(
        "otlphttp",
        &format!(
            "profiles_endpoint: {}/custom/profiles\ncompression: none",
            server.url
        ),
    )
    .unwrap()
    .exporter;
    exp.export(b.clone()).await.unwrap();
    assert_eq!(server.last().path, "/custom/profiles");
    let e = exp.export(logs_batch()).await.unwrap_err();
    assert!(e.is_permanent(), "no logs URL: {e}");
}
