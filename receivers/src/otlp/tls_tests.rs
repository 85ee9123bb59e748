//! TLS, mTLS and authentication of the `otlp` receiver over real sockets, with tonic and reqwest
//! clients and certificates generated at test time.

use super::*;
use bytes::Bytes;
use ferrotel_config::TlsClientConfig;
use ferrotel_config::Value;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::AnyFactory;
use ferrotel_core::{AuthError, ComponentId, Extension, ExtensionContext, Extensions};
use ferrotel_testkit::pki::TestPki;
use ferrotel_testkit::CaptureConsumer;
use ferrotel_transport::grpc::{BytesCodec, TRACES_PATH};
use ferrotel_transport::status::RpcStatus;
use prost::Message;
use std::any::Any;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// Accepts `authorization: Bearer good` and attaches `subject=good`.
struct TestAuth;

#[async_trait::async_trait]
impl ServerAuthenticator for TestAuth {
    async fn authenticate(
        &self,
        headers: &::http::HeaderMap,
    ) -> Result<Vec<(String, String)>, AuthError> {
        match headers.get("authorization").map(|v| v.as_bytes()) {
            Some(b"Bearer good") => Ok(vec![("subject".into(), "good".into())]),
            Some(_) => Err(AuthError("bad token".into())),
            None => Err(AuthError("missing authorization header".into())),
        }
    }
}

struct AuthExtension;

#[async_trait::async_trait]
impl Extension for AuthExtension {
    async fn start(&mut self, _: ExtensionContext) -> Result<(), StartError> {
        Ok(())
    }
    async fn shutdown(&mut self) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn server_authenticator(&self) -> Option<Arc<dyn ServerAuthenticator>> {
        Some(Arc::new(TestAuth))
    }
}

/// An extension that authenticates nothing.
struct PlainExtension;

#[async_trait::async_trait]
impl Extension for PlainExtension {
    async fn start(&mut self, _: ExtensionContext) -> Result<(), StartError> {
        Ok(())
    }
    async fn shutdown(&mut self) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct Harness {
    rx: OtlpReceiver,
    capture: CaptureConsumer,
    telemetry: Telemetry,
}

impl Harness {
    fn unauthenticated(&self, transport: &str) -> u64 {
        let series =
            format!("{UNAUTHENTICATED_METRIC}{{receiver=\"otlp\",transport=\"{transport}\"}}");
        ferrotel_testkit::metrics::read(&self.telemetry, &series).map_or(0, |v| v as u64)
    }
}

fn extensions() -> Extensions {
    let (a, p) = (ComponentId::new("testauth"), ComponentId::new("plain"));
    let (ea, ep): (Box<dyn Extension>, Box<dyn Extension>) =
        (Box::new(AuthExtension), Box::new(PlainExtension));
    Extensions::new([(&a, ea.as_ref()), (&p, ep.as_ref())])
}

fn ctx(capture: &CaptureConsumer, telemetry: &Telemetry) -> ReceiverContext {
    let consumer: Arc<dyn Consumer> = Arc::new(capture.clone());
    ReceiverContext {
        id: ComponentId::new("otlp"),
        consumers: Consumers {
            traces: Some(consumer),
            metrics: None,
            logs: None,
            profiles: None,
        },
        telemetry: telemetry.clone(),
        shutdown: CancellationToken::new(),
        extensions: extensions(),
        listeners: Default::default(),
    }
}

fn config(yaml: &str) -> OtlpConfig {
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    ferrotel_config::decode_valid::<OtlpConfig>("receivers.otlp", &v)
        .unwrap()
        .0
}

async fn start(yaml: &str) -> Harness {
    let capture = CaptureConsumer::new();
    let telemetry = Telemetry::new();
    let mut rx = OtlpReceiver::new(config(yaml));
    rx.start(ctx(&capture, &telemetry)).await.unwrap();
    Harness {
        rx,
        capture,
        telemetry,
    }
}

fn traces_pb(n: usize) -> Bytes {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
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
    Bytes::from(req.encode_to_vec())
}

/// Both protocols with TLS; `extra` is added to each `tls` block.
fn tls_yaml(pki: &TestPki, extra: &str) -> String {
    let tls = format!(
        "{{ cert_file: '{}', key_file: '{}' {extra} }}",
        pki.path("server.crt"),
        pki.path("server.key")
    );
    format!(
        "protocols:\n  grpc: {{ endpoint: '127.0.0.1:0', tls: {tls} }}\n  http: {{ endpoint: '127.0.0.1:0', tls: {tls} }}\n"
    )
}

async fn grpc_export(
    channel: Result<Channel, tonic::transport::Error>,
    token: Option<&str>,
) -> Result<Bytes, tonic::Status> {
    let channel = channel.map_err(|e| tonic::Status::unavailable(format!("{e:?}")))?;
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut req = tonic::Request::new(traces_pb(2));
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", t.parse().unwrap());
    }
    client
        .unary(
            req,
            ::http::uri::PathAndQuery::from_static(TRACES_PATH),
            BytesCodec,
        )
        .await
        .map(|r| r.into_inner())
}

async fn tls_channel(pki: &TestPki, addr: SocketAddr, client_cert: bool) -> Channel {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.pem("ca.crt")))
        .domain_name("localhost");
    if client_cert {
        tls = tls.identity(Identity::from_pem(
            pki.pem("client.crt"),
            pki.pem("client.key"),
        ));
    }
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy()
}

fn reqwest_client(pki: &TestPki, addr: SocketAddr, identity: bool) -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pki.pem("ca.crt")).unwrap())
        .resolve("localhost", addr);
    if identity {
        let mut pem = pki.pem("client.crt");
        pem.extend(pki.pem("client.key"));
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b
}

async fn post(client: &reqwest::Client, addr: SocketAddr) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("https://localhost:{}/v1/traces", addr.port()))
        .header("content-type", "application/x-protobuf")
        .body(traces_pb(2))
        .send()
        .await
}

#[tokio::test]
async fn grpc_tls_serves_a_client_that_trusts_the_ca_and_refuses_plaintext() {
    let pki = TestPki::new();
    let h = start(&tls_yaml(&pki, "")).await;
    let addr = h.rx.grpc_addr().unwrap();

    let resp = grpc_export(Ok(tls_channel(&pki, addr, false).await), None).await;
    assert_eq!(&resp.unwrap()[..], &[0x0a, 0x00]);
    assert_eq!(h.capture.item_count(), 2);

    let plain = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    let e = grpc_export(plain, None).await.unwrap_err();
    assert_ne!(e.code(), tonic::Code::Ok);
    // A client trusting another CA fails the handshake.
    let other = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.pem("other_ca.crt")))
        .domain_name("localhost");
    let ch = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(other)
        .unwrap()
        .connect()
        .await;
    assert!(grpc_export(ch, None).await.is_err());
    assert_eq!(h.capture.item_count(), 2, "nothing more got in");
    // ... and the server still serves good clients.
    assert!(grpc_export(Ok(tls_channel(&pki, addr, false).await), None)
        .await
        .is_ok());
    assert_eq!(h.capture.item_count(), 4);
}

#[tokio::test]
async fn http_tls_serves_http1_and_h2_by_alpn() {
    let pki = TestPki::new();
    let h = start(&tls_yaml(&pki, "")).await;
    let addr = h.rx.http_addr().unwrap();
    let h2 = reqwest_client(&pki, addr, false).build().unwrap();
    let r = post(&h2, addr).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let h1 = reqwest_client(&pki, addr, false)
        .http1_only()
        .build()
        .unwrap();
    let r = post(&h1, addr).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(h.capture.item_count(), 4);
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .post(format!("http://{addr}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(traces_pb(1))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    assert_eq!(h.capture.item_count(), 4);
}

#[tokio::test]
async fn mtls_requires_a_client_certificate_signed_by_the_client_ca() {
    let pki = TestPki::new();
    let extra = format!(", client_ca_file: '{}'", pki.path("ca.crt"));
    let h = start(&tls_yaml(&pki, &extra)).await;
    let (ga, ha) = (h.rx.grpc_addr().unwrap(), h.rx.http_addr().unwrap());

    assert!(grpc_export(Ok(tls_channel(&pki, ga, false).await), None)
        .await
        .is_err());
    let no_cert = reqwest_client(&pki, ha, false).build().unwrap();
    assert!(post(&no_cert, ha).await.is_err());
    assert_eq!(h.capture.item_count(), 0);

    assert!(grpc_export(Ok(tls_channel(&pki, ga, true).await), None)
        .await
        .is_ok());
    let with_cert = reqwest_client(&pki, ha, true).build().unwrap();
    assert_eq!(post(&with_cert, ha).await.unwrap().status(), 200);
    assert_eq!(h.capture.item_count(), 4);
}

/// A raw TLS handshake with our own client settings (`max_version`), to test version limits.
async fn handshake(pki: &TestPki, addr: SocketAddr, max_version: &str) -> std::io::Result<()> {
    let cfg = TlsClientConfig {
        ca_file: Some(pki.path("ca.crt")),
        max_version: Some(max_version.into()),
        ..Default::default()
    };
    let cfg = ferrotel_transport::tls::client_config(&cfg, "t", &[b"h2"]).unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map(drop)
}

#[tokio::test]
async fn min_version_refuses_older_clients() {
    let pki = TestPki::new();
    let h = start(&tls_yaml(&pki, ", min_version: '1.3'")).await;
    let addr = h.rx.grpc_addr().unwrap();
    assert!(handshake(&pki, addr, "1.2").await.is_err());
    handshake(&pki, addr, "1.3").await.unwrap();

    let h = start(&tls_yaml(&pki, "")).await;
    handshake(&pki, h.rx.grpc_addr().unwrap(), "1.2")
        .await
        .unwrap();
}

/// TLS files are read at start, not by `validate` (as otelcol): creating the receiver succeeds,
/// and starting it fails naming each bad key.
#[tokio::test]
async fn bad_tls_settings_are_start_errors_naming_the_key() {
    let pki = TestPki::new();
    let f = OtlpReceiverFactory;
    let cctx = CreateContext {
        id: ComponentId::new("otlp"),
        path: "receivers.otlp".into(),
        telemetry: Telemetry::new(),
        signal: None,
        pipeline: None,
        wake: Default::default(),
    };
    let start_error = |yaml: String| {
        let v: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        let mut rx = f.create_from(&cctx, &v).unwrap();
        async move {
            let (capture, telemetry) = (CaptureConsumer::new(), Telemetry::new());
            rx.start(ctx(&capture, &telemetry)).await.err().unwrap()
        }
    };
    // A key that does not belong to the certificate.
    let e = start_error(format!(
        "protocols: {{ http: {{ endpoint: '127.0.0.1:0', tls: {{ cert_file: '{}', key_file: '{}' }} }} }}",
        pki.path("server.crt"),
        pki.path("client.key")
    ))
    .await;
    assert!(e.0.starts_with("protocols.http.tls.key_file: "), "{e}");
    // A certificate file that is not PEM; a missing CA; an unknown version; reload_interval.
    let e = start_error(format!(
        "protocols: {{ grpc: {{ endpoint: '127.0.0.1:0', tls: {{ cert_file: '{}', key_file: '{}', client_ca_file: /nonexistent/ca.pem, min_version: '1.1', reload_interval: 1m }} }} }}",
        pki.path("server.key"),
        pki.path("server.key"),
    ))
    .await;
    for key in [
        "reload_interval",
        "min_version",
        "cert_file",
        "client_ca_file",
    ] {
        let p = format!("protocols.grpc.tls.{key}: ");
        assert!(e.0.contains(&p), "{key} missing in {e}");
    }
    assert!(e.0.contains("/nonexistent/ca.pem"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Authentication

const AUTH_YAML: &str = "
protocols:
  grpc: { endpoint: '127.0.0.1:0', auth: { authenticator: testauth } }
  http: { endpoint: '127.0.0.1:0', max_request_body_size: 1000, auth: { authenticator: testauth, request_params: [authorization] } }
";

#[tokio::test]
async fn grpc_auth_refuses_missing_or_bad_credentials_with_unauthenticated() {
    let h = start(AUTH_YAML).await;
    let url = format!("http://{}", h.rx.grpc_addr().unwrap());
    let ch = || Channel::from_shared(url.clone()).unwrap().connect_lazy();
    let e = grpc_export(Ok(ch()), None).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    assert_eq!(e.message(), "missing authorization header");
    let e = grpc_export(Ok(ch()), Some("Bearer bad")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    assert_eq!(h.capture.item_count(), 0);
    assert_eq!(h.unauthenticated("grpc"), 2);

    grpc_export(Ok(ch()), Some("Bearer good")).await.unwrap();
    let got = h.capture.taken();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].meta.auth,
        [("subject".to_string(), "good".to_string())]
    );
    assert_eq!(h.unauthenticated("grpc"), 2);
}

#[tokio::test]
async fn http_auth_answers_401_before_reading_the_body() {
    let h = start(AUTH_YAML).await;
    let url = format!("http://{}/v1/traces", h.rx.http_addr().unwrap());
    let client = reqwest::Client::new();
    let send = |auth: Option<&str>, ct: &str, body: Bytes| {
        let mut r = client.post(&url).header("content-type", ct).body(body);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    // No credentials, protobuf: a google.rpc.Status with code 16.
    let r = send(None, "application/x-protobuf", traces_pb(2))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let st = RpcStatus::decode(r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (st.code, st.message.as_str()),
        (16, "missing authorization header")
    );
    // Bad credentials and a body over the limit: 401, not 400, so the body was not read.
    let big = Bytes::from(vec![b'x'; 100_000]);
    let r = send(Some("Bearer bad"), "application/json", big)
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["code"], 16);
    // Without a known content type: the message as text.
    let r = send(Some("Bearer bad"), "text/plain", traces_pb(1))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), "bad token");
    assert_eq!(h.capture.item_count(), 0);
    assert_eq!(h.unauthenticated("http"), 3);

    let r = send(Some("Bearer good"), "application/x-protobuf", traces_pb(2))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // request_params: the query parameter stands in for the header.
    let r = client
        .post(format!("{url}?authorization=Bearer%20good"))
        .header("content-type", "application/x-protobuf")
        .body(traces_pb(2))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = h.capture.taken();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].meta.auth[0].1, "good");
    assert_eq!(h.unauthenticated("http"), 3);
}

#[tokio::test]
async fn an_unknown_or_non_authenticator_extension_is_a_start_error() {
    for (id, why) in [
        ("nosuch", "no such extension"),
        ("plain", "not a server authenticator"),
    ] {
        let yaml = format!(
            "protocols: {{ http: {{ endpoint: '127.0.0.1:0', auth: {{ authenticator: {id} }} }} }}"
        );
        let capture = CaptureConsumer::new();
        let e = OtlpReceiver::new(config(&yaml))
            .start(ctx(&capture, &Telemetry::new()))
            .await
            .unwrap_err();
        assert!(
            e.0.contains("protocols.http.auth.authenticator") && e.0.contains(why),
            "{e}"
        );
    }
}
