//! The `profiles` signal end to end through the real binary, behind `--feature-gates`:
//! opentelemetry-proto's generated gRPC client and an HTTP client send
//! `ExportProfilesServiceRequest`s to the otlp receiver, and ferrotel's otlp (gRPC) and
//! otlphttp exporters deliver them, through the batch processor, to sinks that record the raw
//! request bodies: each arrives byte for byte as sent. Without the gate the same configuration
//! is refused with otelcol's message; `featuregate` shows the gate.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use ferrotel_integration::{base_config, binary, eventually, Collector};
use ferrotel_testkit::fixtures;
use opentelemetry_proto::tonic::collector::profiles::v1development::profiles_service_client::ProfilesServiceClient;
use opentelemetry_proto::tonic::collector::profiles::v1development::ExportProfilesServiceRequest;
use prost::Message;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (path, body) of every request a sink received.
type Received = Arc<Mutex<Vec<(String, Bytes)>>>;

/// A gRPC server written on h2 alone: it records each request's raw body (the gRPC frames as
/// they came) and answers an empty message with `grpc-status: 0`.
async fn grpc_sink() -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Received::default();
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let g = g.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(socket).await else {
                    return;
                };
                while let Some(Ok((req, respond))) = conn.accept().await {
                    tokio::spawn(answer_grpc(req, respond, g.clone()));
                }
            });
        }
    });
    (addr, got)
}

async fn answer_grpc(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    got: Received,
) {
    let path = req.uri().path().to_string();
    let mut body = req.into_body();
    let mut buf = BytesMut::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
    }
    got.lock().unwrap().push((path, buf.freeze()));
    let resp = http::Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let Ok(mut send) = respond.send_response(resp, false) else {
        return;
    };
    let _ = send.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), false);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let _ = send.send_trailers(trailers);
}

/// An HTTP/1.1 server on hyper that records each request and answers 200 with an empty body.
async fn http_sink() -> (SocketAddr, Received) {
    use http_body_util::{BodyExt, Full};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Received::default();
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let g = g.clone();
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let g = g.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await?.to_bytes();
                        g.lock().unwrap().push((path, body));
                        let resp = http::Response::builder()
                            .header("content-type", "application/x-protobuf")
                            .body(Full::new(Bytes::new()))
                            .unwrap();
                        Ok::<_, hyper::Error>(resp)
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service),
            );
        }
    });
    (addr, got)
}

fn config(grpc_sink: SocketAddr, http_sink: SocketAddr) -> String {
    base_config(
        "  batch: {send_batch_size: 2, timeout: 10s}",
        &format!(
            "  otlp: {{endpoint: 'http://{grpc_sink}', compression: none}}\n  otlphttp: {{endpoint: 'http://{http_sink}', compression: none}}"
        ),
        "    profiles:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [otlp, otlphttp]",
    )
}

/// A profiles request whose samples differ by `seed`, encoded as a client would send it.
fn request(samples: usize, seed: i64) -> ExportProfilesServiceRequest {
    let mut req = fixtures::profiles(samples);
    for p in req
        .resource_profiles
        .iter_mut()
        .flat_map(|r| &mut r.scope_profiles)
        .flat_map(|s| &mut s.profiles)
    {
        for s in &mut p.samples {
            s.values.push(seed);
        }
    }
    req
}

/// The message of a gRPC body holding one uncompressed frame.
fn grpc_message(body: &Bytes) -> Bytes {
    assert!(body.len() >= 5, "a gRPC frame");
    assert_eq!(body[0], 0, "not compressed");
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    assert_eq!(body.len(), 5 + len, "one frame");
    body.slice(5..)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_arrive_byte_for_byte_over_otlp_and_otlphttp() {
    let (grpc_addr, grpc_got) = grpc_sink().await;
    let (http_addr, http_got) = http_sink().await;
    let cfg = config(grpc_addr, http_addr);
    let collector = tokio::task::spawn_blocking(move || {
        Collector::start(&cfg, &["--feature-gates=service.profilesSupport"])
    })
    .await
    .unwrap();

    let over_grpc = request(7, 1);
    let over_http = request(3, 2);
    let mut client =
        ProfilesServiceClient::connect(format!("http://127.0.0.1:{}", collector.ports.grpc))
            .await
            .unwrap();
    client.export(over_grpc.clone()).await.unwrap();
    let resp = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1development/profiles",
            collector.ports.http
        ))
        .header("content-type", "application/x-protobuf")
        .body(over_http.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let sent = [over_grpc.encode_to_vec(), over_http.encode_to_vec()];
    let arrived = eventually(Duration::from_secs(10), || {
        grpc_got.lock().unwrap().len() == 2 && http_got.lock().unwrap().len() == 2
    });
    assert!(
        arrived,
        "both sinks got both requests\n{}",
        collector.stderr()
    );
    let mut via_grpc: Vec<Vec<u8>> = grpc_got
        .lock()
        .unwrap()
        .iter()
        .map(|(path, body)| {
            assert_eq!(
                path,
                "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
            );
            grpc_message(body).to_vec()
        })
        .collect();
    let mut via_http: Vec<Vec<u8>> = http_got
        .lock()
        .unwrap()
        .iter()
        .map(|(path, body)| {
            assert_eq!(path, "/v1development/profiles");
            body.to_vec()
        })
        .collect();
    via_grpc.sort();
    via_http.sort();
    let mut expected = sent.to_vec();
    expected.sort();
    assert_eq!(
        via_grpc, expected,
        "otlp exporter: the bytes sent, unmerged"
    );
    assert_eq!(
        via_http, expected,
        "otlphttp exporter: the bytes sent, unmerged"
    );
    let accepted = collector
        .metric("otelcol_receiver_accepted_profile_samples{receiver=\"otlp\",transport=\"grpc\"}");
    assert_eq!(accepted, 7.0);
}

#[test]
fn a_profiles_pipeline_needs_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let cfg = config(
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:1".parse().unwrap(),
    );
    std::fs::write(&path, cfg).unwrap();
    let validate = |extra: &[&str]| {
        Command::new(binary())
            .arg("validate")
            .arg("--config")
            .arg(&path)
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = validate(&[]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(
            "service.pipelines: pipeline \"profiles\": profiling signal support is at alpha level, gated under the \"service.profilesSupport\" feature gate"
        ),
        "{stderr}"
    );
    let accepted = validate(&["--feature-gates=service.profilesSupport"]);
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
}

#[test]
fn featuregate_lists_and_describes_the_gates() {
    let run = |args: &[&str]| Command::new(binary()).args(args).output().unwrap();
    let list = run(&["featuregate"]);
    assert!(list.status.success());
    let text = String::from_utf8(list.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines
            .next()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["ID", "Enabled", "Stage", "Description"])
    );
    let row = lines
        .find(|l| l.starts_with("service.profilesSupport "))
        .unwrap();
    assert_eq!(
        row.split_whitespace().take(3).collect::<Vec<_>>(),
        ["service.profilesSupport", "false", "Alpha"]
    );

    let one = run(&[
        "--feature-gates=service.profilesSupport",
        "featuregate",
        "service.profilesSupport",
    ]);
    assert_eq!(
        String::from_utf8(one.stdout).unwrap(),
        "Feature: service.profilesSupport\nEnabled: true\nStage: Alpha\nDescription: Controls whether profiles support can be enabled\nFrom Version: v0.112.0\n"
    );
    let unknown = run(&["featuregate", "no.such"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("feature \"no.such\" not found"));

    let bad = run(&[
        "--feature-gates=-service.profilesSupport,bogus",
        "featuregate",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    let valid = err
        .split_once(
            "invalid argument \"-service.profilesSupport,bogus\" for \"--feature-gates\" flag: no such feature gate \"bogus\". valid gates: [",
        )
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(gates, _)| gates.split(' ').collect::<Vec<_>>());
    assert!(
        valid.is_some_and(|g| g.contains(&"service.profilesSupport")),
        "{err}"
    );
}
