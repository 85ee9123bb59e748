//! The `prometheus` receiver against real HTTP servers on loopback sockets: good, failing
//! and hostile targets side by side, headers, gzip, authentication, staleness, self-metrics.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::otlp::tests::Capture;
use ferrotel_config::Value;
use ferrotel_core::pdata::attr_str;
use ferrotel_core::proto::metrics::v1::{metric, number_data_point, Metric, ResourceMetrics};
use ferrotel_core::Data;
use ferrotel_core::{ComponentId, Consumers, Telemetry};
use ferrotel_testkit::metrics;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a test server answers; bodies can change between scrapes.
#[derive(Clone)]
struct Reply {
    content_type: &'static str,
    body: Vec<u8>,
    gzip: bool,
}

/// A minimal HTTP/1.1 server on a loopback socket that records request heads.
struct Server {
    addr: SocketAddr,
    reply: Arc<Mutex<Reply>>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start(content_type: &'static str, body: &str) -> Server {
        Self::start_with(content_type, body, None).await
    }

    async fn start_with(
        content_type: &'static str,
        body: &str,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reply = Arc::new(Mutex::new(Reply {
            content_type,
            body: body.as_bytes().to_vec(),
            gzip: false,
        }));
        let heads = Arc::new(Mutex::new(vec![]));
        let (r, h) = (reply.clone(), heads.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (r, h) = (r.clone(), h.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(sock).await {
                                serve_one(s, r, h).await
                            }
                        }
                        None => serve_one(sock, r, h).await,
                    }
                });
            }
        });
        Server { addr, reply, heads }
    }

    fn set_body(&self, body: &str) {
        self.reply.lock().unwrap().body = body.as_bytes().to_vec();
    }
}

/// Reads one request head, records it, answers and closes.
async fn serve_one<S>(mut sock: S, r: Arc<Mutex<Reply>>, h: Arc<Mutex<Vec<String>>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16384];
    let mut n = 0;
    while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => return,
            Ok(k) => n += k,
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    h.lock().unwrap().push(head);
    let reply = r.lock().unwrap().clone();
    let _ = sock.write_all(&response(&reply)).await;
    let _ = sock.shutdown().await;
}

fn response(r: &Reply) -> Vec<u8> {
    let body = if r.gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&r.body).unwrap();
        e.finish().unwrap()
    } else {
        r.body.clone()
    };
    let enc = if r.gzip {
        "Content-Encoding: gzip\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\n{enc}Content-Length: {}\r\nConnection: close\r\n\r\n",
        r.content_type,
        body.len()
    )
    .into_bytes();
    out.extend(body);
    out
}

/// A loopback address nothing listens on.
async fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

struct Harness {
    rx: PrometheusReceiver,
    capture: Arc<Capture>,
    telemetry: Telemetry,
}

async fn start(yaml: &str) -> Harness {
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let cfg = ferrotel_config::decode_valid::<PrometheusConfig>("receivers.prometheus", &v)
        .unwrap()
        .0;
    let capture = Arc::new(Capture::default());
    let telemetry = Telemetry::new();
    let consumer: Arc<dyn Consumer> = capture.clone();
    let ctx = ReceiverContext {
        id: ComponentId::new("prometheus"),
        consumers: Consumers {
            metrics: Some(consumer),
            ..Default::default()
        },
        telemetry: telemetry.clone(),
        shutdown: CancellationToken::new(),
        extensions: Default::default(),
        listeners: Default::default(),
    };
    let mut rx = PrometheusReceiver::new(cfg);
    rx.start(ctx).await.unwrap();
    Harness {
        rx,
        capture,
        telemetry,
    }
}

impl Harness {
    /// Resource metrics received so far (taken), waiting until `until` holds for them all.
    async fn collect(&self, until: impl Fn(&[ResourceMetrics]) -> bool) -> Vec<ResourceMetrics> {
        let mut all = vec![];
        for _ in 0..100 {
            for b in self.capture.take() {
                if let Data::Metrics(m) = b.view().unwrap() {
                    all.extend(m.resource_metrics.clone());
                }
            }
            if until(&all) {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("condition not met; got {} resource metrics", all.len());
    }
}

fn instance(r: &ResourceMetrics) -> &str {
    attr_str(
        &r.resource.as_ref().unwrap().attributes,
        "service.instance.id",
    )
    .unwrap_or("")
}

fn find<'a>(r: &'a ResourceMetrics, name: &str) -> Option<&'a Metric> {
    r.scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == name)
}

fn gauge_value(r: &ResourceMetrics, name: &str) -> Option<f64> {
    match find(r, name)?.data.as_ref()? {
        metric::Data::Gauge(g) => match g.data_points.first()?.value {
            Some(number_data_point::Value::AsDouble(v)) => Some(v),
            _ => None,
        },
        _ => None,
    }
}

fn up_of(all: &[ResourceMetrics], inst: &str) -> Vec<f64> {
    all.iter()
        .filter(|r| instance(r) == inst)
        .filter_map(|r| gauge_value(r, "up"))
        .collect()
}

const GOOD: &str =
    "# TYPE hits_total counter\nhits_total{path=\"/\"} 7\n# TYPE temp gauge\ntemp 3.5\n";

#[tokio::test]
async fn bad_targets_are_down_and_good_ones_unaffected() {
    let good = Server::start("text/plain; version=0.0.4", GOOD).await;
    let garbage = Server::start("text/plain; version=0.0.4", "this is { not prometheus\n").await;
    let big = Server::start(
        "text/plain",
        &format!("{GOOD}{}", "# padding\n".repeat(500)),
    )
    .await;
    let many = Server::start("text/plain", "a 1\nb 2\nc 3\nd 4\n").await;
    let refused = refused_addr().await;
    let yaml = format!(
        r#"
config:
  scrape_configs:
    - job_name: mixed
      scrape_interval: 300ms
      scrape_timeout: 250ms
      static_configs: [{{targets: ['{}', '{}', '{}']}}]
    - job_name: small
      scrape_interval: 300ms
      body_size_limit: 1KB
      static_configs: [{{targets: ['{}']}}]
    - job_name: limited
      scrape_interval: 300ms
      sample_limit: 3
      static_configs: [{{targets: ['{}']}}]
"#,
        good.addr, garbage.addr, refused, big.addr, many.addr
    );
    let mut h = start(&yaml).await;
    let insts = [good.addr, garbage.addr, refused, big.addr, many.addr].map(|a| a.to_string());
    let all = h
        .collect(|all| insts.iter().all(|i| up_of(all, i).len() >= 2))
        .await;
    h.rx.shutdown().await;
    assert!(up_of(&all, &insts[0]).iter().all(|&v| v == 1.0));
    for i in &insts[1..] {
        assert!(
            up_of(&all, i).iter().all(|&v| v == 0.0),
            "{i} should be down"
        );
    }
    let g = all
        .iter()
        .find(|r| instance(r) == insts[0] && find(r, "hits_total").is_some())
        .unwrap();
    assert_eq!(gauge_value(g, "temp"), Some(3.5));
    assert_eq!(gauge_value(g, "scrape_samples_scraped"), Some(2.0));
    assert_eq!(
        gauge_value(g, "scrape_samples_post_metric_relabeling"),
        Some(2.0)
    );
    let attrs = &g.resource.as_ref().unwrap().attributes;
    assert_eq!(attr_str(attrs, "service.name"), Some("mixed"));
    assert_eq!(
        attr_str(attrs, "server.port"),
        Some(good.addr.port().to_string().as_str())
    );
    let down = all.iter().find(|r| instance(r) == insts[4]).unwrap();
    assert_eq!(
        gauge_value(down, "scrape_samples_scraped"),
        Some(4.0),
        "as Prometheus: what the body had"
    );
    assert_eq!(
        gauge_value(down, "scrape_samples_post_metric_relabeling"),
        Some(0.0)
    );
    let refused = all.iter().find(|r| instance(r) == insts[2]).unwrap();
    assert_eq!(gauge_value(refused, "scrape_samples_scraped"), Some(0.0));
    assert!(find(down, "a").is_none());
    let accepted = metrics::read(
        &h.telemetry,
        "otelcol_receiver_accepted_metric_points{receiver=\"prometheus\",transport=\"http\"}",
    )
    .unwrap();
    assert!(accepted >= 2.0 * 7.0 + 8.0 * 5.0, "{accepted}");
}

#[tokio::test]
async fn prometheus_headers_gzip_openmetrics_and_basic_auth() {
    let om =
        "# TYPE req counter\n# HELP req Requests.\nreq_total 5\nreq_created 1700000000.5\n# EOF\n";
    let s = Server::start(
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        om,
    )
    .await;
    s.reply.lock().unwrap().gzip = true;
    let yaml = format!(
        "config:\n  scrape_configs:\n    - job_name: om\n      scrape_interval: 300ms\n      metrics_path: /m\n      params: {{x: ['1']}}\n      basic_auth: {{username: u, password: p}}\n      static_configs: [{{targets: ['{}']}}]\n",
        s.addr
    );
    let mut h = start(&yaml).await;
    let all = h
        .collect(|all| all.iter().any(|r| find(r, "req").is_some()))
        .await;
    h.rx.shutdown().await;
    let head = s.heads.lock().unwrap()[0].clone();
    assert!(head.starts_with("GET /m?x=1 HTTP/1.1"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("accept: application/openmetrics-text;version=1.0.0;q=0.5,"),
        "{head}"
    );
    assert!(lower.contains("accept-encoding: gzip"), "{head}");
    assert!(
        lower.contains("x-prometheus-scrape-timeout-seconds: 0.3"),
        "{head}"
    );
    assert!(
        head.contains("authorization: Basic dTpw") || head.contains("Authorization: Basic dTpw"),
        "{head}"
    );
    let r = all.iter().find(|r| find(r, "req").is_some()).unwrap();
    let m = find(r, "req").unwrap();
    assert_eq!(m.description, "Requests.");
    let metric::Data::Sum(sum) = m.data.as_ref().unwrap() else {
        panic!("not a sum")
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.data_points[0].start_time_unix_nano,
        1_700_000_000_500_000_000
    );
}

#[tokio::test]
async fn vanished_series_and_a_failing_target_give_stale_points() {
    let s = Server::start(
        "text/plain",
        "# TYPE c counter\nc{k=\"a\"} 1\nc{k=\"b\"} 2\n",
    )
    .await;
    let yaml = format!(
        "config:\n  scrape_configs:\n    - job_name: st\n      scrape_interval: 200ms\n      static_configs: [{{targets: ['{}']}}]\n",
        s.addr
    );
    let mut h = start(&yaml).await;
    h.collect(|all| all.iter().any(|r| find(r, "c").is_some()))
        .await;
    s.set_body("# TYPE c counter\nc{k=\"a\"} 2\n");
    let stale_b = |all: &[ResourceMetrics]| {
        all.iter()
            .filter_map(|r| find(r, "c"))
            .any(|m| match m.data.as_ref() {
                Some(metric::Data::Sum(s)) => s
                    .data_points
                    .iter()
                    .any(|p| p.flags == 1 && attr_str(&p.attributes, "k") == Some("b")),
                _ => false,
            })
    };
    h.collect(stale_b).await;
    s.set_body("garbage {\n");
    let all = h
        .collect(|all| all.iter().any(|r| gauge_value(r, "up") == Some(0.0)))
        .await;
    h.rx.shutdown().await;
    let failed = all
        .iter()
        .find(|r| gauge_value(r, "up") == Some(0.0))
        .unwrap();
    let Some(metric::Data::Sum(sum)) = find(failed, "c").and_then(|m| m.data.as_ref()) else {
        panic!("no stale c with up 0: {failed:?}");
    };
    assert_eq!(sum.data_points.len(), 1);
    assert_eq!(sum.data_points[0].flags, 1);
    assert_eq!(attr_str(&sum.data_points[0].attributes, "k"), Some("a"));
}

#[tokio::test]
async fn file_sd_targets_come_and_go_and_a_removed_target_ends_stale() {
    let a = Server::start("text/plain", "ma 1\n").await;
    let b = Server::start("text/plain", "mb 2\n").await;
    let dir = std::env::temp_dir().join(format!("ferrotel-prom-sd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("targets.json");
    let write = |addr: SocketAddr| {
        let tmp = dir.join("targets.tmp");
        std::fs::write(
            &tmp,
            format!(r#"[{{"targets":["{addr}"],"labels":{{"team":"t"}}}}]"#),
        )
        .unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    write(a.addr);
    let yaml = format!(
        "config:\n  scrape_configs:\n    - job_name: sd\n      scrape_interval: 200ms\n      file_sd_configs: [{{files: ['{}/*.json'], refresh_interval: 1s}}]\n",
        dir.display()
    );
    let mut h = start(&yaml).await;
    let (ia, ib) = (a.addr.to_string(), b.addr.to_string());
    h.collect(|all| !up_of(all, &ia).is_empty()).await;
    write(b.addr);
    let stale_up = |all: &[ResourceMetrics], inst: &str| {
        all.iter().filter(|r| instance(r) == inst).any(|r| {
            match find(r, "up").and_then(|m| m.data.as_ref()) {
                Some(metric::Data::Gauge(g)) => g.data_points.iter().any(|p| p.flags == 1),
                _ => false,
            }
        })
    };
    let all = h
        .collect(|all| stale_up(all, &ia) && !up_of(all, &ib).is_empty())
        .await;
    h.rx.shutdown().await;
    let gone = all.iter().find(|r| {
        instance(r) == ia
            && find(r, "ma").is_some_and(
                |m| matches!(&m.data, Some(metric::Data::Gauge(g)) if g.data_points[0].flags == 1),
            )
    });
    assert!(gone.is_some(), "ma of the removed target is stale");
    let got_b = all
        .iter()
        .find(|r| instance(r) == ib && find(r, "mb").is_some())
        .unwrap();
    let Some(metric::Data::Gauge(g)) = &find(got_b, "mb").unwrap().data else {
        panic!("gauge")
    };
    assert_eq!(attr_str(&g.data_points[0].attributes, "team"), Some("t"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn https_targets_with_a_ca_and_bearer_credentials_from_a_file() {
    use ferrotel_testkit::pki::TestPki;
    let pki = TestPki::new();
    let server_tls = ferrotel_config::TlsServerConfig {
        cert_file: Some(pki.path("server.crt")),
        key_file: Some(pki.path("server.key")),
        ..Default::default()
    };
    let cfg = ferrotel_transport::tls::server_config(&server_tls, "tls", &[b"http/1.1"]).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    let s = Server::start_with("text/plain", GOOD, Some(acceptor)).await;
    let token = pki.file("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let yaml = format!(
        "config:\n  scrape_configs:\n    - job_name: tls\n      scheme: https\n      scrape_interval: 300ms\n      authorization: {{credentials_file: '{}'}}\n      tls_config: {{ca_file: '{}', server_name: localhost}}\n      static_configs: [{{targets: ['{}']}}]\n",
        token.display(),
        pki.path("ca.crt"),
        s.addr
    );
    let mut h = start(&yaml).await;
    let all = h
        .collect(|all| all.iter().any(|r| find(r, "temp").is_some()))
        .await;
    h.rx.shutdown().await;
    let r = all.iter().find(|r| find(r, "temp").is_some()).unwrap();
    let attrs = &r.resource.as_ref().unwrap().attributes;
    assert_eq!(attr_str(attrs, "url.scheme"), Some("https"));
    let head = s.heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.contains("authorization: bearer s3cret\r\n"), "{head}");
}
