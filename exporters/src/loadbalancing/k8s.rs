//! The `k8s` resolver of the `load_balancing` exporter, as otelcol's: the backends are the ready
//! endpoints of a Kubernetes service, read from its EndpointSlices (`discovery.k8s.io/v1`,
//! labelled `kubernetes.io/service-name=<name>`) in the service's namespace. The slices are
//! listed, then watched (`watch=true` from the list's `resourceVersion`, newline-delimited JSON
//! events `ADDED` / `MODIFIED` / `DELETED`); a `410 Gone` (as a status or an `ERROR` event) or
//! the end of the stream starts over with a new list, and a failure waits (exponential backoff,
//! up to 30s) before it does. Each change of the set of backends rebuilds the ring through the
//! same path as the `dns` resolver, so the same metrics are recorded with `resolver="k8s"`.
//!
//! An endpoint is a backend unless its `conditions.ready` is `false`: its first address with each
//! of `ports` (`ip:port`, `[ipv6]:port`), or with `return_hostnames` its `hostname` as
//! `<hostname>.<service>.<namespace>:port` (a headless service in front of a StatefulSet; an
//! endpoint without a hostname then makes that slice's update fail, as in otelcol).
//!
//! The API is reached with the pod's in-cluster configuration: `KUBERNETES_SERVICE_HOST` and
//! `KUBERNETES_SERVICE_PORT`, the service account's token (read again for each request, as it
//! is rotated) and CA certificate under `/var/run/secrets/kubernetes.io/serviceaccount/`. As
//! in otelcol, the exporter cannot be created outside a cluster (the variables unset), so
//! `ferrotel validate` refuses such a config there. The service account needs `get`, `list`
//! and `watch` on `endpointslices` (`discovery.k8s.io`) in the namespace
//! (`deploy/kubernetes/` has the Role). A namespace left out of `service` is the pod's own
//! (the service account's `namespace` file), else `default`.
//!
//! Bounds: a list response of at most 16 MiB, a watch event of at most 4 MiB, and 4096
//! backends; past them the update fails (counted) and the backends in use stay.
//!
//! ```yaml
//! exporters:
//!   load_balancing:
//!     protocol:
//!       otlp: { tls: { insecure: true } }
//!     resolver:
//!       k8s:
//!         service: ferrotel-sampler.observability   # name.namespace
//!         ports: [4317]                             # the default
//!         return_hostnames: false
//!         timeout: 1s                               # of a list request (otelcol's default)
//! ```

use ferrotel_config::{GoDuration, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// otelcol's timeout of a list when it is not set (or zero).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// The port of every backend when `ports` is empty.
const DEFAULT_PORT: u16 = super::config::DEFAULT_PORT;
/// Where a pod finds its service account.
pub const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// A list response, a watch event and the number of backends, at most.
const MAX_LIST_BYTES: usize = 16 << 20;
const MAX_EVENT_BYTES: usize = 4 << 20;
const MAX_BACKENDS: usize = 4096;
/// How long the server keeps a watch open before it ends it (then a new list starts).
const WATCH_SECONDS: u64 = 300;
/// Waits after a failure: doubling from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(30));

/// `resolver.k8s`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct K8sResolverConfig {
    /// The service, `name.namespace` (the pod's namespace when there is none, else `default`).
    pub service: String,
    /// The port of every backend; an endpoint with several ports makes several backends.
    /// `[4317]` when empty.
    pub ports: Vec<u16>,
    /// Backends by name (`<hostname>.<service>.<namespace>:port`) rather than by address.
    pub return_hostnames: bool,
    /// Of a list request; 1s when zero.
    pub timeout: GoDuration,
}

impl Validate for K8sResolverConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.service.is_empty() {
            v.report_at("service", "no service specified to resolve the backends");
        }
    }
}

impl K8sResolverConfig {
    fn timeout(&self) -> Duration {
        if self.timeout.0.is_zero() {
            DEFAULT_TIMEOUT
        } else {
            self.timeout.0
        }
    }

    fn ports(&self) -> &[u16] {
        if self.ports.is_empty() {
            &[DEFAULT_PORT]
        } else {
            &self.ports
        }
    }
}

/// Where the Kubernetes API is and how to authenticate to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiAccess {
    /// `https://host:port`, without a trailing slash.
    pub base_url: String,
    /// The bearer token's file, read for each request.
    pub token_path: PathBuf,
    /// The CA certificate (PEM) that signed the server's; none: the system's roots.
    pub ca_path: Option<PathBuf>,
    /// The file with the pod's namespace.
    pub namespace_path: PathBuf,
}

impl ApiAccess {
    /// The in-cluster configuration from `env` (the process environment in the collector) and
    /// the service account's directory ([`SERVICE_ACCOUNT`] in a pod); otelcol's error outside
    /// a cluster, or when the token cannot be read.
    pub fn in_cluster(
        env: &dyn Fn(&str) -> Option<String>,
        service_account: &Path,
    ) -> Result<ApiAccess, String> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let (Some(host), Some(port)) = (
            var("KUBERNETES_SERVICE_HOST"),
            var("KUBERNETES_SERVICE_PORT"),
        ) else {
            return Err("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined".into());
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let access = ApiAccess {
            base_url: format!("https://{host}:{port}"),
            token_path: service_account.join("token"),
            ca_path: Some(service_account.join("ca.crt")),
            namespace_path: service_account.join("namespace"),
        };
        access.token()?;
        Ok(access)
    }

    fn token(&self) -> Result<String, String> {
        std::fs::read_to_string(&self.token_path)
            .map(|t| t.trim().to_string())
            .map_err(|e| format!("open {}: {e}", self.token_path.display()))
    }
}

/// The service's name and namespace from `service`: after the first dot, else the pod's
/// namespace, else `default`.
pub fn service_and_namespace(service: &str, access: &ApiAccess) -> (String, String) {
    if let Some((name, namespace)) = service.split_once('.') {
        return (name.to_string(), namespace.to_string());
    }
    let namespace = match std::fs::read_to_string(&access.namespace_path) {
        Ok(ns) if !ns.trim().is_empty() => ns.trim().to_string(),
        _ => {
            tracing::warn!(
                "could not determine the namespace of service {service:?}: using \"default\""
            );
            "default".to_string()
        }
    };
    (service.to_string(), namespace)
}

/// An update of the backends, or why there is none.
pub type Update = Result<Vec<String>, String>;

/// Follows the EndpointSlices of one service.
pub struct K8sWatch {
    http: reqwest::Client,
    access: ApiAccess,
    cfg: K8sResolverConfig,
    name: String,
    namespace: String,
}

/// Why a watch ended.
enum Ended {
    /// Start over with a list now (410 Gone, or the server closed the stream).
    Relist,
    /// Start over after a wait.
    Failed(String),
}

impl K8sWatch {
    /// A watcher of `cfg.service` through `access`; a CA certificate that cannot be read is
    /// logged, and requests then fail to verify the server.
    pub fn new(access: ApiAccess, cfg: K8sResolverConfig) -> K8sWatch {
        let (name, namespace) = service_and_namespace(&cfg.service, &access);
        let mut builder = reqwest::Client::builder().connect_timeout(cfg.timeout());
        if let Some(ca) = &access.ca_path {
            match std::fs::read(ca)
                .map_err(|e| e.to_string())
                .and_then(|pem| reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string()))
            {
                Ok(cert) => builder = builder.add_root_certificate(cert),
                Err(e) => tracing::warn!("cannot read the Kubernetes CA {}: {e}", ca.display()),
            }
        }
        let http = builder.build().unwrap_or_else(|e| {
            tracing::warn!("cannot build the Kubernetes API client: {e}");
            reqwest::Client::new()
        });
        K8sWatch {
            http,
            access,
            cfg,
            name,
            namespace,
        }
    }

    /// Lists then watches for ever, sending every resolution (and every failure) to `out`;
    /// returns when `out` is closed.
    pub async fn run(&self, out: mpsc::Sender<Update>) {
        let mut wait = BACKOFF.0;
        loop {
            let ended = match self.list().await {
                Ok((mut slices, version)) => {
                    let first = slices.backends();
                    if out.send(first).await.is_err() {
                        return;
                    }
                    self.watch(&mut slices, version, &out).await
                }
                Err(e) => Ended::Failed(e),
            };
            if out.is_closed() {
                return;
            }
            match ended {
                // A short pause, so that a server ending every watch at once is not hammered.
                Ended::Relist => {
                    tokio::time::sleep(BACKOFF.0).await;
                    wait = BACKOFF.0;
                }
                Ended::Failed(e) => {
                    if out.send(Err(e)).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(BACKOFF.1);
                }
            }
        }
    }

    fn url(&self, query: &str) -> String {
        format!(
            "{}/apis/discovery.k8s.io/v1/namespaces/{}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D{}{query}",
            self.access.base_url, self.namespace, self.name
        )
    }

    async fn get(&self, url: &str) -> Result<reqwest::Response, String> {
        let token = self.access.token()?;
        self.http
            .get(url)
            .bearer_auth(token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))
    }

    /// The slices now and the list's resource version, within `timeout`.
    async fn list(&self) -> Result<(Slices, String), String> {
        let url = self.url("");
        let call = async {
            let mut response = self.get(&url).await?;
            let status = response.status();
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?
            {
                if body.len() + chunk.len() > MAX_LIST_BYTES {
                    return Err(format!(
                        "GET {url}: the response is over {MAX_LIST_BYTES} bytes"
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            if !status.is_success() {
                let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
                return Err(format!("GET {url}: HTTP {status}: {text}"));
            }
            let list: SliceList = serde_json::from_slice(&body)
                .map_err(|e| format!("GET {url}: bad EndpointSliceList: {e}"))?;
            Ok(list)
        };
        let list = tokio::time::timeout(self.cfg.timeout(), call)
            .await
            .map_err(|_| {
                format!(
                    "listing the EndpointSlices of {}.{} timed out after {}",
                    self.name,
                    self.namespace,
                    GoDuration(self.cfg.timeout())
                )
            })??;
        let mut slices = Slices::new(self);
        for slice in list.items {
            slices.set(slice);
        }
        Ok((slices, list.metadata.resource_version))
    }

    /// Applies the events of a watch from `version` to `slices`, sending the backends each
    /// time they change, until the watch ends.
    async fn watch(
        &self,
        slices: &mut Slices,
        version: String,
        out: &mpsc::Sender<Update>,
    ) -> Ended {
        let url = self.url(&format!(
            "&watch=true&allowWatchBookmarks=true&timeoutSeconds={WATCH_SECONDS}&resourceVersion={version}"
        ));
        let connect = tokio::time::timeout(self.cfg.timeout(), self.get(&url));
        let mut response = match connect.await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Ended::Failed(e),
            Err(_) => return Ended::Failed(format!("GET {url}: timed out")),
        };
        match response.status() {
            s if s == reqwest::StatusCode::GONE => return Ended::Relist,
            s if !s.is_success() => return Ended::Failed(format!("GET {url}: HTTP {s}")),
            _ => {}
        }
        let mut sent = slices.backends();
        let mut lines = Lines::default();
        loop {
            // The server ends the watch after WATCH_SECONDS: silence well past that is a dead
            // connection.
            let idle = Duration::from_secs(WATCH_SECONDS + 30);
            let chunk = match tokio::time::timeout(idle, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => return Ended::Relist,
                Ok(Err(e)) => return Ended::Failed(format!("watch of {url}: {e}")),
                Err(_) => return Ended::Failed(format!("watch of {url}: silent for {idle:?}")),
            };
            for line in lines.push(&chunk) {
                let line = match line {
                    Ok(line) => line,
                    Err(e) => return Ended::Failed(e),
                };
                if let Some(ended) = slices.apply(&line) {
                    return ended;
                }
                let now = slices.backends();
                if now != sent {
                    if out.send(now.clone()).await.is_err() {
                        return Ended::Relist;
                    }
                    sent = now;
                }
            }
        }
    }
}

/// The lines of a stream, each at most [`MAX_EVENT_BYTES`].
#[derive(Default)]
struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// The complete lines `chunk` ends (blank lines skipped).
    fn push(&mut self, chunk: &[u8]) -> Vec<Result<Vec<u8>, String>> {
        let mut out = vec![];
        for part in chunk.split_inclusive(|&b| b == b'\n') {
            if self.pending.len() + part.len() > MAX_EVENT_BYTES {
                self.pending.clear();
                out.push(Err(format!(
                    "a watch event is over {MAX_EVENT_BYTES} bytes"
                )));
                return out;
            }
            self.pending.extend_from_slice(part);
            if part.ends_with(b"\n") {
                let line = std::mem::take(&mut self.pending);
                if line.iter().any(|b| !b.is_ascii_whitespace()) {
                    out.push(Ok(line));
                }
            }
        }
        out
    }
}

/// The backends of each slice, by slice name.
struct Slices {
    by_name: BTreeMap<String, Result<Vec<String>, String>>,
    ports: Vec<u16>,
    /// `.<service>.<namespace>` with `return_hostnames`.
    host_suffix: Option<String>,
}

impl Slices {
    fn new(watch: &K8sWatch) -> Slices {
        Slices {
            by_name: BTreeMap::new(),
            ports: watch.cfg.ports().to_vec(),
            host_suffix: watch
                .cfg
                .return_hostnames
                .then(|| format!(".{}.{}", watch.name, watch.namespace)),
        }
    }

    fn set(&mut self, slice: EndpointSlice) {
        let backends = self.backends_of(&slice);
        self.by_name.insert(slice.metadata.name, backends);
    }

    /// Applies one watch event; `Some` when the watch has to end.
    fn apply(&mut self, line: &[u8]) -> Option<Ended> {
        let event: WatchEvent = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(e) => return Some(Ended::Failed(format!("bad watch event: {e}"))),
        };
        let parse = || serde_json::from_value::<EndpointSlice>(event.object.clone());
        match event.kind.as_str() {
            "ADDED" | "MODIFIED" => match parse() {
                Ok(slice) => self.set(slice),
                Err(e) => return Some(Ended::Failed(format!("bad EndpointSlice: {e}"))),
            },
            "DELETED" => match parse() {
                Ok(slice) => {
                    self.by_name.remove(&slice.metadata.name);
                }
                Err(e) => return Some(Ended::Failed(format!("bad EndpointSlice: {e}"))),
            },
            "BOOKMARK" => {}
            "ERROR" => {
                let status: ApiStatus =
                    serde_json::from_value(event.object.clone()).unwrap_or_default();
                if status.code == 410 {
                    return Some(Ended::Relist);
                }
                return Some(Ended::Failed(format!(
                    "watch error: {} {}",
                    status.code, status.message
                )));
            }
            other => tracing::debug!("ignored watch event type {other:?}"),
        }
        None
    }

    /// Every backend, sorted; an error when a slice could not be read or there are too many.
    fn backends(&self) -> Update {
        let mut all = Vec::new();
        for backends in self.by_name.values() {
            all.extend_from_slice(backends.as_ref().map_err(Clone::clone)?);
        }
        all.sort();
        all.dedup();
        if all.len() > MAX_BACKENDS {
            return Err(format!(
                "{} backends, over the bound of {MAX_BACKENDS}",
                all.len()
            ));
        }
        Ok(all)
    }

    /// `host:port` of each ready endpoint of `slice`, for each port.
    fn backends_of(&self, slice: &EndpointSlice) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let ready = slice
            .endpoints
            .iter()
            .flatten()
            .filter(|e| e.conditions.ready != Some(false));
        for endpoint in ready {
            let host = match &self.host_suffix {
                Some(suffix) => match endpoint.hostname.as_deref() {
                    Some(h) if !h.is_empty() => format!("{h}{suffix}"),
                    _ => {
                        return Err(format!(
                            "EndpointSlice {:?} has an endpoint without hostname",
                            slice.metadata.name
                        ))
                    }
                },
                None => match endpoint.addresses.first() {
                    Some(ip) if ip.contains(':') => format!("[{ip}]"),
                    Some(ip) => ip.clone(),
                    None => continue,
                },
            };
            if out.len() + self.ports.len() > MAX_BACKENDS {
                return Err(format!(
                    "EndpointSlice {:?} has over {MAX_BACKENDS} backends",
                    slice.metadata.name
                ));
            }
            out.extend(self.ports.iter().map(|p| format!("{host}:{p}")));
        }
        Ok(out)
    }
}

// The parts of the API objects read.

#[derive(Deserialize)]
struct SliceList {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<EndpointSlice>,
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(rename = "resourceVersion", default)]
    resource_version: String,
}

#[derive(Deserialize)]
struct EndpointSlice {
    #[serde(default)]
    metadata: ObjectMeta,
    /// Null when the slice has none.
    #[serde(default)]
    endpoints: Option<Vec<Endpoint>>,
}

#[derive(Deserialize, Default)]
struct ObjectMeta {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Endpoint {
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    conditions: Conditions,
    #[serde(default)]
    hostname: Option<String>,
}

#[derive(Deserialize, Default)]
struct Conditions {
    /// Unknown (null) counts as ready, as the API says.
    #[serde(default)]
    ready: Option<bool>,
}

#[derive(Deserialize)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: serde_json::Value,
}

#[derive(Deserialize, Default)]
struct ApiStatus {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    message: String,
}
