//! The `k8s` resolver against a stand-in for the Kubernetes API on loopback (no real
//! kube-apiserver): a hyper server that answers, for one namespace and the label selector
//! `kubernetes.io/service-name=<name>`, the EndpointSlice list (`discovery.k8s.io/v1`, with a
//! `resourceVersion`) and watches (`watch=true&resourceVersion=N`: the events after N from its
//! history, then each new one, as newline-delimited JSON `ADDED` / `MODIFIED` / `DELETED`). It
//! checks the bearer token, can refuse lists with a 500, can end every watch (the stream's
//! end) or send them an `ERROR` event with status 410 (`Expired`, as the API does when a
//! resource version is too old), and can change slices without telling the watches, so that
//! only a new list sees the change. Not covered: TLS to the API (tests talk plain HTTP; the CA
//! file is loaded the same way as anywhere else), bookmarks, and pagination.
//!
//! ```yaml
//! exporters:
//!   load_balancing:
//!     resolver:
//!       k8s: { service: sampler.observability, ports: [4317] }
//! ```

use super::*;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

const TOKEN: &str = "test-token";

/// One endpoint of a slice: address, hostname, `conditions.ready`.
type Ep = (&'static str, &'static str, Option<bool>);

/// The API's state: the slices, a resource version bumped by each change, the events so far,
/// the open watches, and the requests seen.
#[derive(Default)]
struct State {
    slices: BTreeMap<String, serde_json::Value>,
    version: u64,
    history: Vec<(u64, String)>,
    watches: Vec<tokio::sync::mpsc::UnboundedSender<Bytes>>,
    requests: Vec<(String, String)>,
    /// The resource version each successful list answered.
    list_versions: Vec<u64>,
    failing_lists: usize,
}

#[derive(Clone, Default)]
struct KubeApi(Arc<Mutex<State>>);

impl KubeApi {
    async fn start() -> (KubeApi, String) {
        use hyper_util::rt::TokioIo;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let api = KubeApi::default();
        let a = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let a = a.clone();
                let svc = hyper::service::service_fn(move |req| {
                    let a = a.clone();
                    async move { Ok::<_, Infallible>(a.answer(req)) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc),
                );
            }
        });
        (api, url)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    fn answer(&self, req: http::Request<hyper::body::Incoming>) -> http::Response<Body> {
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let auth = req.headers().get("authorization").cloned();
        let mut state = self.state();
        state.requests.push((path.clone(), query.clone()));
        if auth.as_ref().and_then(|a| a.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
            return reply(401, "Unauthorized");
        }
        if path != "/apis/discovery.k8s.io/v1/namespaces/observability/endpointslices"
            || !query.contains("labelSelector=kubernetes.io%2Fservice-name%3Dsampler")
        {
            return reply(404, "not found");
        }
        let params: HashMap<&str, &str> =
            query.split('&').filter_map(|p| p.split_once('=')).collect();
        if params.get("watch") != Some(&"true") {
            if state.failing_lists > 0 {
                state.failing_lists -= 1;
                return reply(500, "etcd is down");
            }
            let version = state.version;
            state.list_versions.push(version);
            let list = serde_json::json!({
                "kind": "EndpointSliceList",
                "apiVersion": "discovery.k8s.io/v1",
                "metadata": {"resourceVersion": state.version.to_string()},
                "items": state.slices.values().collect::<Vec<_>>(),
            });
            return reply(200, &list.to_string());
        }
        let from: u64 = params
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        for (_, line) in state.history.iter().filter(|(v, _)| *v > from) {
            tx.send(Bytes::from(line.clone())).unwrap();
        }
        state.watches.push(tx);
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
        });
        http::Response::new(BodyExt::boxed(StreamBody::new(stream)))
    }

    /// Creates or replaces slice `name` with `endpoints`; watches are told unless `silently`.
    fn put(&self, name: &str, endpoints: &[Ep], silently: bool) {
        let mut state = self.state();
        state.version += 1;
        let endpoints: Vec<serde_json::Value> = endpoints
            .iter()
            .map(|(ip, host, ready)| {
                serde_json::json!({"addresses": [ip], "hostname": host, "conditions": {"ready": ready, "serving": true}})
            })
            .collect();
        let slice = serde_json::json!({
            "kind": "EndpointSlice",
            "apiVersion": "discovery.k8s.io/v1",
            "metadata": {
                "name": name,
                "namespace": "observability",
                "resourceVersion": state.version.to_string(),
                "labels": {"kubernetes.io/service-name": "sampler"},
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": "otlp-grpc", "port": 4317, "protocol": "TCP"}],
        });
        let kind = if state.slices.contains_key(name) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        state.slices.insert(name.to_string(), slice.clone());
        if !silently {
            state.event(kind, slice);
        }
    }

    fn delete(&self, name: &str) {
        let mut state = self.state();
        state.version += 1;
        let slice = state.slices.remove(name).unwrap();
        state.event("DELETED", slice);
    }

    /// An `ERROR` event with a 410 status on every open watch, which stays open: the client
    /// has to start over on the event itself.
    fn expire_watches(&self) {
        let status = serde_json::json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "too old resource version", "reason": "Expired", "code": 410}});
        let line = Bytes::from(format!("{status}\n"));
        self.state()
            .watches
            .retain(|w| w.send(line.clone()).is_ok());
    }

    /// Ends every open watch (the server's timeout).
    fn end_watches(&self) {
        self.state().watches.clear();
    }

    fn lists(&self) -> usize {
        self.requests(|q| !q.contains("watch=true"))
    }

    fn watches(&self) -> usize {
        self.requests(|q| q.contains("watch=true"))
    }

    fn requests(&self, f: impl Fn(&str) -> bool) -> usize {
        self.state().requests.iter().filter(|(_, q)| f(q)).count()
    }
}

impl State {
    /// Records an event and sends it to the open watches, cut in two chunks (a client must
    /// join the parts of a line).
    fn event(&mut self, kind: &str, object: serde_json::Value) {
        let line = format!("{}\n", serde_json::json!({"type": kind, "object": object}));
        self.history.push((self.version, line.clone()));
        let (a, b) = line.split_at(line.len() / 2);
        let (a, b) = (Bytes::from(a.to_string()), Bytes::from(b.to_string()));
        self.watches
            .retain(|w| w.send(a.clone()).is_ok() && w.send(b.clone()).is_ok());
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn reply(code: u16, body: &str) -> http::Response<Body> {
    let mut r = http::Response::new(BodyExt::boxed(Full::new(Bytes::from(body.to_string()))));
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap();
    r
}

/// A `k8s`-resolved exporter reaching the API at `url`, started, and its telemetry.
async fn k8s_exporter(
    url: &str,
    dir: &std::path::Path,
    extra: &str,
) -> (LoadBalancingExporter, Telemetry) {
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let config = format!(
        "resolver: {{k8s: {{service: sampler.observability{extra}}}}}\nprotocol: {{otlp: {{tls: {{insecure: true}}, timeout: 2s}}}}"
    );
    let (cfg, _) = decode_valid::<LoadBalancingConfig>(&ctx().path, &yaml(&config)).unwrap();
    let access = k8s::ApiAccess {
        base_url: url.to_string(),
        token_path: dir.join("token"),
        ca_path: None,
        namespace_path: dir.join("namespace"),
    };
    let e = LoadBalancingExporter::new_with(&ctx(), &cfg, || Ok(access))
        .unwrap()
        .0;
    let telemetry = e.maker.telemetry.clone();
    let start = ExporterStartContext {
        telemetry: telemetry.clone(),
        ..ExporterStartContext::default()
    };
    e.start(&start).await.unwrap();
    (e, telemetry)
}

async fn wait_for_endpoints(e: &LoadBalancingExporter, want: &[String]) {
    let got = wait_for(
        || e.members().ring.endpoints() == want,
        Duration::from_secs(10),
    )
    .await;
    assert!(
        got,
        "wanted {want:?}, have {:?}",
        e.members().ring.endpoints()
    );
}

/// Sends 200 spans of 50 traces; the spans each backend got meanwhile.
async fn send_and_count(e: &LoadBalancingExporter, servers: &[Server]) -> Vec<usize> {
    let before: Vec<usize> = servers.iter().map(|s| s.span_ids().len()).collect();
    export_until_accepted(e, traces_batch(traces_request(200, 50))).await;
    servers
        .iter()
        .zip(before)
        .map(|(s, b)| s.span_ids().len() - b)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k8s_backends_follow_the_endpointslices() {
    let (servers, port) = three_backends().await;
    let at = |ip: &str| format!("{ip}:{port}");
    let (api, url) = KubeApi::start().await;
    api.put(
        "sampler-abc",
        &[
            ("127.0.0.1", "s-0", Some(true)),
            ("127.0.0.2", "s-1", None),
            ("127.0.0.3", "s-2", Some(false)),
        ],
        false,
    );
    let dir = tempfile::tempdir().unwrap();
    let (e, telemetry) = k8s_exporter(&url, dir.path(), &format!(", ports: [{port}]")).await;

    // Ready endpoints only (an unknown condition counts as ready).
    wait_for_endpoints(&e, &[at("127.0.0.1"), at("127.0.0.2")]).await;
    let got = send_and_count(&e, &servers).await;
    assert_eq!(got.iter().sum::<usize>(), 200);
    assert!(got[0] > 0 && got[1] > 0 && got[2] == 0, "{got:?}");

    // A second slice is added, then an endpoint turns not ready.
    api.put("sampler-def", &[("127.0.0.3", "s-2", Some(true))], false);
    wait_for_endpoints(&e, &[at("127.0.0.1"), at("127.0.0.2"), at("127.0.0.3")]).await;
    api.put(
        "sampler-abc",
        &[
            ("127.0.0.1", "s-0", Some(false)),
            ("127.0.0.2", "s-1", Some(true)),
        ],
        false,
    );
    wait_for_endpoints(&e, &[at("127.0.0.2"), at("127.0.0.3")]).await;
    let got = send_and_count(&e, &servers).await;
    assert!(got[0] == 0 && got[1] > 0 && got[2] > 0, "{got:?}");
    assert_eq!(got.iter().sum::<usize>(), 200);

    // The slice is deleted.
    api.delete("sampler-def");
    wait_for_endpoints(&e, &[at("127.0.0.2")]).await;
    assert_eq!(send_and_count(&e, &servers).await, [0, 200, 0]);

    // Changes the watch never hears of are found by the new list after a 410 Gone...
    let (lists, watches) = (api.lists(), api.watches());
    api.put(
        "sampler-abc",
        &[
            ("127.0.0.1", "s-0", Some(true)),
            ("127.0.0.2", "s-1", Some(true)),
        ],
        true,
    );
    api.expire_watches();
    wait_for_endpoints(&e, &[at("127.0.0.1"), at("127.0.0.2")]).await;
    assert_eq!(api.lists(), lists + 1);
    // ... and after the server ends the watch (once the new one is open).
    assert!(wait_for(|| api.watches() > watches, Duration::from_secs(10)).await);
    api.put("sampler-abc", &[("127.0.0.3", "s-2", Some(true))], true);
    api.end_watches();
    wait_for_endpoints(&e, &[at("127.0.0.3")]).await;
    assert_eq!(send_and_count(&e, &servers).await, [0, 0, 200]);
    assert!(api.watches() >= 3, "{} watches", api.watches());

    assert_watches_start_where_their_list_ended(&api);
    assert_k8s_metrics(&telemetry);
    e.shutdown().await;
}

/// Each watch follows a list and starts at the resource version that list answered.
fn assert_watches_start_where_their_list_ended(api: &KubeApi) {
    let state = api.state();
    let mut listed = state.list_versions.iter();
    let mut last = None;
    for (_, query) in &state.requests {
        if query.contains("watch=true") {
            let from = last.take().expect("a watch without a list before it");
            assert!(
                query.contains(&format!("&resourceVersion={from}")),
                "{query}"
            );
        } else {
            last = listed.next();
        }
    }
}

/// The metrics of the changes made by `k8s_backends_follow_the_endpointslices`.
fn assert_k8s_metrics(telemetry: &Telemetry) {
    let series = |s: &str| read(telemetry, s);
    assert_eq!(
        series(r#"otelcol_loadbalancer_num_backends{resolver="k8s"}"#),
        Some(1.0)
    );
    // 2, 3, 2 (not ready), 1 (deleted), 2 (410), 1 (stream end).
    assert_eq!(
        series(r#"otelcol_loadbalancer_num_backend_updates{resolver="k8s"}"#),
        Some(6.0)
    );
    assert!(
        series(r#"otelcol_loadbalancer_num_resolutions{resolver="k8s",success="true"}"#)
            >= Some(6.0)
    );
    // A 410 and the end of a watch start over without counting a failure.
    assert_eq!(
        series(r#"otelcol_loadbalancer_num_resolutions{resolver="k8s",success="false"}"#),
        Some(0.0)
    );
}

#[tokio::test]
async fn k8s_failed_lists_are_counted_and_retried() {
    let (api, url) = KubeApi::start().await;
    api.put("sampler-abc", &[("127.0.0.1", "s-0", None)], false);
    api.state().failing_lists = 2;
    let dir = tempfile::tempdir().unwrap();
    let (e, telemetry) = k8s_exporter(&url, dir.path(), "").await;
    wait_for_endpoints(&e, &["127.0.0.1:4317".to_string()]).await;
    let failed = read(
        &telemetry,
        r#"otelcol_loadbalancer_num_resolutions{resolver="k8s",success="false"}"#,
    );
    assert_eq!(failed, Some(2.0));
    assert_eq!(api.lists(), 3);
    e.shutdown().await;
}

#[tokio::test]
async fn k8s_returns_hostnames_and_every_port() {
    let (api, url) = KubeApi::start().await;
    api.put(
        "sampler-abc",
        &[
            ("10.1.0.7", "sampler-0", Some(true)),
            ("10.1.0.8", "sampler-1", Some(true)),
        ],
        false,
    );
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = k8s_exporter(
        &url,
        dir.path(),
        ", ports: [4317, 4318], return_hostnames: true",
    )
    .await;
    let want: Vec<String> = ["sampler-0", "sampler-1"]
        .iter()
        .flat_map(|h| [4317, 4318].map(|p| format!("{h}.sampler.observability:{p}")))
        .collect();
    wait_for_endpoints(&e, &want).await;
    e.shutdown().await;
}

#[test]
fn k8s_config_as_otelcol() {
    let outside = refused(
        create("resolver: {k8s: {service: lb-svc.observability}}"),
        "k8s",
    );
    assert!(
        outside.to_string().contains("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"),
        "{outside}"
    );
    let message = |config: &str| refused(create(config), config).to_string();
    assert!(message("resolver: {k8s: {ports: [4317]}}")
        .contains("resolver.k8s.service: no service specified to resolve the backends"));
    assert!(message("resolver: {k8s: {service: a, port: 4317}}").contains("resolver.k8s.port"));

    let dir = tempfile::tempdir().unwrap();
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let cluster = env(&[
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
    ]);
    let err = k8s::ApiAccess::in_cluster(&cluster, dir.path()).unwrap_err();
    assert!(err.contains("token"), "{err}");
    std::fs::write(dir.path().join("token"), "t").unwrap();
    let access = k8s::ApiAccess::in_cluster(&cluster, dir.path()).unwrap();
    assert_eq!(access.base_url, "https://10.96.0.1:443");
    assert_eq!(access.ca_path, Some(dir.path().join("ca.crt")));
    let v6 = env(&[
        ("KUBERNETES_SERVICE_HOST", "fd00::1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
    ]);
    assert_eq!(
        k8s::ApiAccess::in_cluster(&v6, dir.path())
            .unwrap()
            .base_url,
        "https://[fd00::1]:443"
    );

    // The namespace: from `service`, else the pod's, else `default`.
    assert_eq!(
        k8s::service_and_namespace("lb.ns", &access),
        ("lb".into(), "ns".into())
    );
    assert_eq!(
        k8s::service_and_namespace("lb", &access),
        ("lb".into(), "default".into())
    );
    std::fs::write(dir.path().join("namespace"), "observability").unwrap();
    let access = k8s::ApiAccess {
        namespace_path: dir.path().join("namespace"),
        ..access
    };
    assert_eq!(
        k8s::service_and_namespace("lb", &access),
        ("lb".into(), "observability".into())
    );
}
