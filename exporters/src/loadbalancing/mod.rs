//! `loadbalancing` exporter (also `load_balancing`), as otelcol's: the front tier of a two-tier
//! deployment, sending all items with the same routing key to the same backend, so that a
//! stateful component behind it (a tail sampler, a span-metrics connector, a cumulative-to-delta
//! processor) sees all of them. Each batch is split by routing key (`split.rs`) over a
//! consistent-hash ring with otelcol's parameters ([`ring`]); every backend gets its share, with
//! the resources and scopes copied into it, through an `otlp` exporter built from
//! `protocol.otlp` with the backend as endpoint.
//!
//! `routing_key` (`config.rs`), as otelcol's, per signal:
//! - spans: `traceID` (the default), `service` (the resource's `service.name`) or `attributes`
//!   (the values of the attributes named in `routing_attributes`, looked up on the resource,
//!   the scope, then the span: [`attributes`]);
//! - logs: `traceID` (the default; a record without one goes by its resource's `service.name`,
//!   where otelcol picks a random backend), `service` or `resource` (all its attributes);
//! - metrics: `service` (the default), `resource`, `metric` (the metric's name) or `streamID`
//!   (resource, scope, metric name, unit, type, temporality and point attributes: the points
//!   of a metric are cut over backends, each stream kept whole).
//!
//! A pipeline of a signal the key does not apply to is refused when the config is checked,
//! with otelcol's error (`unsupported routing_key: metric` in a traces pipeline), as otelcol
//! refuses to create the exporter for that signal; a batch of such a signal is refused too. The
//! `resource` and `streamID` identities are hashed in ferrotel's own encoding, not otelcol's, so
//! the backend a given resource or stream lands on differs from otelcol's (the grouping is the
//! same).
//!
//! Backends come from the `static` resolver (a fixed list), the `dns` resolver ([`dns`]), which
//! follows a headless service's addresses, the `k8s` one ([`k8s`]), which watches a service's
//! EndpointSlices, or the `aws_cloud_map` one ([`cloud_map`]). Each resolver sends its answers
//! to one follower, which counts them and, on a change, rebuilds the ring: new backends are
//! started and removed ones shut down once their requests in flight have ended. A batch part
//! that was bound for a removed backend and still has to be (re)sent is split again over the
//! current ring, not dropped (counted in `ferrotel_loadbalancer_rerouted_items`).
//!
//! Delivery: the queue, retries and timeout of the whole export are the engine's, configured by
//! the top-level `sending_queue`, `retry_on_failure` and `timeout` when given, else by those in
//! `protocol.otlp` (otelcol runs one queue per backend instead; ferrotel runs one for the
//! exporter). `protocol.otlp.timeout` bounds each backend's request. When some backends took
//! their part and another failed with a retryable error, the attempt fails as retryable and the
//! retry sends only the parts still missing: the exporter remembers, per batch being retried,
//! which parts were delivered, so a healthy backend gets no duplicates. That memory is bounded
//! (a few batches per export worker, and no longer than the retry window); a batch forgotten
//! meanwhile is sent whole again, so delivery is at least once, never lossy. A part refused
//! permanently is dropped and not retried; the batch then fails permanently once the others are
//! delivered, and the engine counts the whole batch as failed.
//!
//! ```yaml
//! exporters:
//!   loadbalancing:
//!     routing_key: traceID        # or service, attributes, resource, metric, streamID
//!     protocol:
//!       otlp:                     # every otlp exporter key except endpoint
//!         timeout: 1s
//!         tls: { insecure: true }
//!         retry_on_failure: { enabled: true }
//!         sending_queue: { queue_size: 5000 }
//!     resolver:
//!       static:
//!         hostnames: [sampler-1:4317, sampler-2:4317, sampler-3]   # port 4317 by default
//! ```

mod attributes;
pub mod cloud_map;
mod config;
pub mod dns;
pub mod k8s;
pub mod ring;
mod split;

use crate::otlp::{OtlpConfig, OtlpExporter};
use config::{hostnames, otlp_settings, with_default_port};
pub use config::{
    LoadBalancingConfig, ProtocolConfig, ResolverConfig, RoutingKey, StaticResolverConfig,
};
use ferrotel_config::{ConfigErrors, GoDuration, QueueConfig, RetryConfig, Validator};
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{
    Batch, CreateContext, ExportError, Exporter, ExporterParts, ExporterSettings,
    ExporterStartContext, Factory, FactoryInfo, Signal, Stability, StartError, Telemetry,
};
use ring::Ring;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// One backend: an inner `otlp` exporter and its outcome counters.
struct Backend {
    endpoint: String,
    exporter: Arc<dyn Exporter>,
    succeeded: Counter,
    failed: Counter,
}

/// The backends in use and the ring over them, replaced whole when the resolver's answer
/// changes; `backends[i]` serves `ring.endpoints()[i]`.
pub(super) struct Membership {
    pub(super) ring: Ring,
    backends: Vec<Arc<Backend>>,
}

impl Membership {
    fn has(&self, backend: &Arc<Backend>) -> bool {
        self.backends.iter().any(|b| Arc::ptr_eq(b, backend))
    }
}

/// Where one part of a batch stands.
const PENDING: u8 = 0;
const DELIVERED: u8 = 1;
const REJECTED: u8 = 2;

/// The items of a batch that go to one backend.
struct Part {
    /// Index into the membership the batch was split over.
    backend: usize,
    target: Arc<Backend>,
    batch: Batch,
    state: AtomicU8,
}

impl Part {
    fn pending(&self) -> bool {
        self.state.load(Ordering::SeqCst) == PENDING
    }

    fn same(&self) -> Part {
        Part {
            backend: self.backend,
            target: self.target.clone(),
            batch: self.batch.clone(),
            state: AtomicU8::new(self.state.load(Ordering::SeqCst)),
        }
    }
}

/// A split batch whose last attempt did not deliver every part, kept for the engine's retry.
struct Pending {
    id: u64,
    /// A clone of the batch: tells its retries apart (and keeps its identity from being reused).
    batch: Batch,
    parts: Arc<[Part]>,
    /// An attempt with these parts is running (a concurrent export of the same payload, from
    /// another pipeline, gets its own parts).
    in_flight: bool,
    since: Instant,
}

/// Remembers which parts of the batches being retried were delivered.
struct Memo {
    entries: Mutex<Vec<Pending>>,
    next_id: AtomicU64,
    /// Entries kept at most (the oldest idle one goes first).
    capacity: usize,
    /// After this long the engine has given up retrying (None: it never does).
    ttl: Option<Duration>,
}

impl Memo {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The parts of an earlier attempt of this very batch, marked in flight.
    fn resume(&self, batch: &Batch) -> Option<(u64, Arc<[Part]>)> {
        let mut entries = self.lock();
        if let Some(ttl) = self.ttl {
            entries.retain(|e| e.since.elapsed() < ttl);
        }
        let e = entries
            .iter_mut()
            .find(|e| !e.in_flight && e.batch.same_payload(batch))?;
        e.in_flight = true;
        Some((e.id, e.parts.clone()))
    }

    fn insert(&self, batch: &Batch, parts: Arc<[Part]>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            if let Some(i) = entries.iter().position(|e| !e.in_flight) {
                entries.remove(i);
            }
        }
        entries.push(Pending {
            id,
            batch: batch.clone(),
            parts,
            in_flight: true,
            since: Instant::now(),
        });
        id
    }

    fn remove(&self, id: u64) {
        self.lock().retain(|e| e.id != id);
    }

    /// The entry's parts, re-split after a membership change.
    fn replace(&self, id: u64, parts: Arc<[Part]>) {
        if let Some(e) = self.lock().iter_mut().find(|e| e.id == id) {
            e.parts = parts;
        }
    }

    fn release(&self, id: u64) {
        if let Some(e) = self.lock().iter_mut().find(|e| e.id == id) {
            e.in_flight = false;
        }
    }
}

/// Marks a memo entry idle again when an attempt ends, however it ends (the engine's timeout
/// drops the attempt's future).
struct InFlight<'a> {
    memo: &'a Memo,
    id: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.memo.release(self.id);
    }
}

/// The exporter.
pub struct LoadBalancingExporter {
    members: Arc<RwLock<Arc<Membership>>>,
    key: RoutingKey,
    /// The attribute names of `routing_key: attributes`.
    routing_attributes: Vec<String>,
    /// Bound of one backend request (`protocol.otlp.timeout`; zero: none).
    backend_timeout: Duration,
    /// None when the engine does not retry (nothing to remember).
    memo: Option<Memo>,
    /// Builds the backends a resolver finds.
    maker: Arc<BackendMaker>,
    /// The resolver followed from start to shutdown (none for `static`).
    dynamic: Option<Dynamic>,
    follower: Mutex<Option<tokio::task::JoinHandle<()>>>,
    rerouted: Counter,
}

impl LoadBalancingExporter {
    /// The backends in use now.
    pub(super) fn members(&self) -> Arc<Membership> {
        read(&self.members)
    }

    /// One part per backend that gets some of the batch's items; the batch itself when they
    /// all go to one backend.
    fn split(&self, batch: &Batch, members: &Arc<Membership>) -> Result<Vec<Part>, ExportError> {
        if members.backends.is_empty() {
            return Err(ExportError::retryable(
                "no backend to send to: the resolver has found none yet",
            ));
        }
        let data = batch
            .view()
            .map_err(|e| ExportError::permanent(format!("cannot decode the batch: {e}")))?;
        let routed = split::route(data, self.key, &self.routing_attributes, &members.ring)
            .map_err(ExportError::permanent)?;
        let part = |backend: usize, batch| Part {
            backend,
            target: members.backends[backend].clone(),
            batch,
            state: AtomicU8::new(PENDING),
        };
        Ok(match routed {
            split::Routed::Empty => vec![],
            split::Routed::One(b) => vec![part(b, batch.clone())],
            split::Routed::Many(parts) => parts
                .into_iter()
                .map(|(b, d)| part(b, Batch::from_data(d, batch.meta.clone())))
                .collect(),
        })
    }

    /// The parts of an earlier attempt, with those still to be sent to a backend that has
    /// left the ring split again over the current one; `None` when none has left.
    fn reroute(&self, parts: &[Part]) -> Result<Option<Arc<[Part]>>, ExportError> {
        let members = self.members();
        let orphaned = |p: &Part| p.pending() && !members.has(&p.target);
        if !parts.iter().any(orphaned) {
            return Ok(None);
        }
        let mut rerouted = Vec::with_capacity(parts.len());
        for p in parts {
            if orphaned(p) {
                self.rerouted.add(p.batch.item_count() as u64);
                rerouted.extend(self.split(&p.batch, &members)?);
            } else {
                rerouted.push(p.same());
            }
        }
        Ok(Some(rerouted.into()))
    }

    /// One request to one backend; the part's state records a final outcome.
    async fn send(&self, part: &Part) -> Result<(), ExportError> {
        let backend = &part.target;
        let attempt = backend.exporter.export(part.batch.clone());
        let result = if self.backend_timeout.is_zero() {
            attempt.await
        } else {
            tokio::time::timeout(self.backend_timeout, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(ExportError::retryable(format!(
                        "timed out after {}",
                        GoDuration(self.backend_timeout)
                    )))
                })
        };
        match &result {
            Ok(()) => {
                part.state.store(DELIVERED, Ordering::SeqCst);
                backend.succeeded.inc();
            }
            Err(e) => {
                if e.is_permanent() {
                    part.state.store(REJECTED, Ordering::SeqCst);
                }
                backend.failed.inc();
            }
        }
        result.map_err(|e| match e {
            ExportError::Retryable { message, throttle } => ExportError::Retryable {
                message: format!("backend {}: {message}", backend.endpoint),
                throttle,
            },
            ExportError::Permanent(m) => {
                ExportError::Permanent(format!("backend {}: {m}", backend.endpoint))
            }
        })
    }

    /// Starts the backends, then follows the resolver's `source` (if any).
    async fn start_with(
        &self,
        ctx: &ExporterStartContext,
        source: Option<Source>,
    ) -> Result<(), StartError> {
        let _ = self.maker.started.set(ctx.clone());
        for b in &self.members().backends {
            b.exporter
                .start(ctx)
                .await
                .map_err(|e| StartError(format!("backend {}: {e}", b.endpoint)))?;
        }
        if let Some(source) = source {
            let follower = follow(source, self.members.clone(), self.maker.clone());
            *self.follower.lock().unwrap_or_else(|e| e.into_inner()) = Some(follower);
        }
        Ok(())
    }

    /// This attempt's parts: an earlier attempt's (re-split if their backend left) or a new
    /// split, remembered for the engine's retries when there are several.
    fn parts_for(&self, batch: &Batch) -> Result<(Option<u64>, Arc<[Part]>), ExportError> {
        if let Some((id, parts)) = self.memo.as_ref().and_then(|m| m.resume(batch)) {
            let memo = self.memo.as_ref();
            return match self.reroute(&parts) {
                Ok(Some(rerouted)) => {
                    memo.into_iter()
                        .for_each(|m| m.replace(id, rerouted.clone()));
                    Ok((Some(id), rerouted))
                }
                Ok(None) => Ok((Some(id), parts)),
                Err(e) => {
                    memo.into_iter().for_each(|m| m.release(id));
                    Err(e)
                }
            };
        }
        let parts: Arc<[Part]> = self.split(batch, &self.members())?.into();
        // A single part is simply sent again on retry: nothing to remember.
        let id = match &self.memo {
            Some(m) if parts.len() > 1 => Some(m.insert(batch, parts.clone())),
            _ => None,
        };
        Ok((id, parts))
    }
}

/// The shared membership, readable whatever a panicking writer left.
fn read(members: &RwLock<Arc<Membership>>) -> Arc<Membership> {
    members.read().unwrap_or_else(|e| e.into_inner()).clone()
}

#[async_trait::async_trait]
impl Exporter for LoadBalancingExporter {
    async fn start(&self, ctx: &ExporterStartContext) -> Result<(), StartError> {
        let source = match &self.dynamic {
            Some(Dynamic::Dns(cfg)) => Some(Source::Dns(
                Box::new(dns::DnsLookup::system().map_err(StartError)?),
                cfg.clone(),
            )),
            Some(Dynamic::CloudMap(cfg)) => Some(Source::CloudMap(
                cloud_map::CloudMapLookup::new(|name| std::env::var(name).ok()),
                cfg.clone(),
            )),
            Some(Dynamic::K8s(cfg, access)) => Some(Source::K8s(Box::new(k8s::K8sWatch::new(
                access.clone(),
                cfg.clone(),
            )))),
            None => None,
        };
        self.start_with(ctx, source).await
    }

    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        let (id, parts) = self.parts_for(&batch)?;
        let _in_flight = self
            .memo
            .as_ref()
            .zip(id)
            .map(|(memo, id)| InFlight { memo, id });
        let todo = parts.iter().filter(|p| p.pending());
        let results = futures::future::join_all(todo.map(|p| self.send(p))).await;

        let mut retryable: Vec<String> = vec![];
        let mut permanent: Vec<String> = vec![];
        let mut throttle: Option<Duration> = None;
        for r in results {
            match r {
                Ok(()) => {}
                Err(ExportError::Retryable {
                    message,
                    throttle: t,
                }) => {
                    retryable.push(message);
                    throttle = throttle.max(t);
                }
                Err(ExportError::Permanent(m)) => permanent.push(m),
            }
        }
        if !retryable.is_empty() {
            retryable.extend(permanent);
            return Err(ExportError::Retryable {
                message: retryable.join("; "),
                throttle,
            });
        }
        if let (Some(memo), Some(id)) = (&self.memo, id) {
            memo.remove(id);
        }
        let rejected = parts
            .iter()
            .any(|p| p.state.load(Ordering::SeqCst) == REJECTED);
        if rejected {
            if permanent.is_empty() {
                permanent.push("a backend refused part of this batch in an earlier attempt".into());
            }
            return Err(ExportError::Permanent(permanent.join("; ")));
        }
        Ok(())
    }

    /// otelcol's refusal of a routing key the signal does not take (at config time, as otelcol
    /// refuses to create the exporter for that signal).
    fn accepts(&self, signal: Signal) -> Result<(), String> {
        split::key_for(self.key, signal).map(|_| ())
    }

    async fn shutdown(&self) {
        let follower = self
            .follower
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = follower {
            task.abort();
            let _ = task.await;
        }
        for b in &self.members().backends {
            b.exporter.shutdown().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Following a resolver.

/// The config of a resolver whose answer changes.
enum Dynamic {
    Dns(dns::DnsResolverConfig),
    CloudMap(cloud_map::CloudMapResolverConfig),
    /// With the API access found when the exporter was created.
    K8s(k8s::K8sResolverConfig, k8s::ApiAccess),
}

impl Dynamic {
    fn of(resolver: &ResolverConfig, k8s_access: Option<k8s::ApiAccess>) -> Option<Dynamic> {
        if let (Some(cfg), Some(access)) = (&resolver.k8s, k8s_access) {
            return Some(Dynamic::K8s(cfg.clone(), access));
        }
        match (&resolver.dns, &resolver.aws_cloud_map) {
            (Some(dns), _) => Some(Dynamic::Dns(dns.clone())),
            (None, Some(cloud_map)) => Some(Dynamic::CloudMap(cloud_map.clone())),
            (None, None) => None,
        }
    }
}

/// A resolver with what it asks.
enum Source {
    Dns(Box<dns::DnsLookup>, dns::DnsResolverConfig),
    CloudMap(cloud_map::CloudMapLookup, cloud_map::CloudMapResolverConfig),
    K8s(Box<k8s::K8sWatch>),
}

impl Source {
    /// The `resolver` label of its metrics, as otelcol's.
    fn name(&self) -> &'static str {
        match self {
            Source::Dns(..) => "dns",
            Source::CloudMap(..) => "aws",
            Source::K8s(..) => "k8s",
        }
    }

    /// Sends each answer to `out` until it is closed: the watched one as it changes, the
    /// polled ones every interval (the first time at once).
    async fn run(&self, out: tokio::sync::mpsc::Sender<k8s::Update>) {
        let interval = match self {
            Source::K8s(watch) => return watch.run(out).await,
            Source::Dns(_, cfg) => cfg.interval(),
            Source::CloudMap(_, cfg) => cfg.interval(),
        };
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let answer = match self {
                Source::Dns(lookup, cfg) => lookup.backends(cfg).await,
                Source::CloudMap(lookup, cfg) => lookup.backends(cfg).await,
                Source::K8s(_) => return,
            };
            if out.send(answer).await.is_err() {
                return;
            }
        }
    }
}

/// Follows `source`, applying each changed answer; a failed one keeps the backends in use.
/// Every answer is counted as a resolution, with its outcome.
fn follow(
    source: Source,
    members: Arc<RwLock<Arc<Membership>>>,
    maker: Arc<BackendMaker>,
) -> tokio::task::JoinHandle<()> {
    let resolver = source.name();
    let resolutions = |success: &str| {
        maker.telemetry.counter(
            "otelcol_loadbalancer_num_resolutions",
            "Number of times the resolver has triggered new resolutions.",
            &[("resolver", resolver), ("success", success)],
        )
    };
    let (succeeded, failed) = (resolutions("true"), resolutions("false"));
    tokio::spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let apply_answers = async {
            while let Some(answer) = rx.recv().await {
                match answer {
                    Ok(endpoints) => {
                        succeeded.inc();
                        apply(&members, &maker, resolver, endpoints).await;
                    }
                    Err(e) => {
                        failed.inc();
                        tracing::warn!(exporter = %maker.id, "failed to resolve: {e}");
                    }
                }
            }
        };
        tokio::join!(source.run(tx), apply_answers);
    })
}

/// Rebuilds the ring over `endpoints` when they differ from the backends in use: new backends
/// are created and started, kept ones reused, removed ones shut down once idle.
async fn apply(
    members: &RwLock<Arc<Membership>>,
    maker: &BackendMaker,
    resolver: &str,
    endpoints: Vec<String>,
) {
    let endpoints: Vec<String> = endpoints.iter().map(|e| with_default_port(e)).collect();
    let current = read(members);
    let ring = Ring::new(&endpoints);
    if ring.endpoints() == current.ring.endpoints() {
        return;
    }
    let mut backends = Vec::with_capacity(ring.endpoints().len());
    let mut serving = Vec::with_capacity(ring.endpoints().len());
    for endpoint in ring.endpoints() {
        let existing = current.backends.iter().find(|b| &b.endpoint == endpoint);
        let backend = match existing {
            Some(b) => Some(b.clone()),
            None => maker.start(endpoint).await,
        };
        if let Some(b) = backend {
            serving.push(endpoint.clone());
            backends.push(b);
        }
    }
    let next = Arc::new(Membership {
        ring: Ring::new(&serving),
        backends,
    });
    *members.write().unwrap_or_else(|e| e.into_inner()) = next.clone();
    maker.record_update(resolver, next.backends.len());
    tracing::info!(exporter = %maker.id, backends = ?serving, "load_balancing backends changed");
    for gone in current.backends.iter().filter(|b| !next.has(b)) {
        retire(gone.clone());
    }
}

/// Shuts a removed backend down once no request holds it (parts in flight keep it alive), or
/// after a minute at the latest.
fn retire(backend: Arc<Backend>) {
    tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Arc::strong_count(&backend) > 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        backend.exporter.shutdown().await;
    });
}

/// Factory of `loadbalancing` (alias `load_balancing`).
pub struct LoadBalancingExporterFactory;

impl Factory for LoadBalancingExporterFactory {
    type Config = LoadBalancingConfig;
    type Component = ExporterParts;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "load_balancing",
            "Routes spans, logs and metrics by trace id, service, attributes, resource, metric or stream to OTLP backends",
        )
        .aliases(&["loadbalancing"])
        .signal(Signal::Traces, Stability::Beta)
        .signal(Signal::Metrics, Stability::Development)
        .signal(Signal::Logs, Stability::Beta)
        .example(
            "protocol: {otlp: {tls: {insecure: true}}}\nresolver: {static: {hostnames: [127.0.0.1:4317]}}",
        )
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: LoadBalancingConfig,
    ) -> Result<ExporterParts, ConfigErrors> {
        let (exporter, settings) = LoadBalancingExporter::new(ctx, &cfg)?;
        Ok(ExporterParts {
            exporter: Arc::new(exporter),
            settings,
        })
    }
}

impl LoadBalancingExporter {
    /// The exporter and the engine settings for it, from a validated config; the `k8s`
    /// resolver reaches the API with the pod's in-cluster configuration.
    fn new(
        ctx: &CreateContext,
        cfg: &LoadBalancingConfig,
    ) -> Result<(LoadBalancingExporter, ExporterSettings), ConfigErrors> {
        LoadBalancingExporter::new_with(ctx, cfg, || {
            k8s::ApiAccess::in_cluster(
                &|name| std::env::var(name).ok(),
                std::path::Path::new(k8s::SERVICE_ACCOUNT),
            )
        })
    }

    /// [`LoadBalancingExporter::new`], with the `k8s` resolver's API access from `k8s_access`
    /// (asked only with that resolver; its error is the config's).
    fn new_with(
        ctx: &CreateContext,
        cfg: &LoadBalancingConfig,
        k8s_access: impl FnOnce() -> Result<k8s::ApiAccess, String>,
    ) -> Result<(LoadBalancingExporter, ExporterSettings), ConfigErrors> {
        let key = cfg.routing_key.known().unwrap_or(RoutingKey::TraceId);
        let ring = Ring::new(&hostnames(&cfg.resolver));
        // One inner otlp exporter per backend, from the same settings: their problems (TLS
        // files) are reported once, for the first; the others differ only in their endpoint,
        // which validation checked.
        let (otlp, backends, access) = crate::shared::build(ctx, |v| {
            // otelcol builds its Kubernetes client when it creates the exporter.
            let access = match cfg.resolver.k8s.as_ref().map(|_| k8s_access()) {
                Some(Err(e)) => {
                    v.report_at("resolver.k8s", e);
                    None
                }
                found => found.and_then(Result::ok),
            };
            let otlp = otlp_settings(v, &cfg.protocol.otlp)?;
            // Checks the settings once, also when a resolver finds the backends later.
            OtlpExporter::new(&mut v.at("protocol.otlp"), ctx.id.to_string(), &otlp)?;
            let maker = BackendMaker::new(ctx, &otlp);
            let backends: Option<Vec<_>> = ring.endpoints().iter().map(|e| maker.make(e)).collect();
            Some((otlp, backends?, access))
        })?;
        let retry = cfg
            .retry_on_failure
            .clone()
            .unwrap_or(otlp.retry_on_failure.clone());
        let queue = cfg
            .sending_queue
            .clone()
            .unwrap_or(otlp.sending_queue.clone());
        let timeout = cfg.timeout.unwrap_or_default();
        let memo = Memo::for_retries(&retry, &queue, timeout.0, otlp.timeout.0);
        let maker = Arc::new(BackendMaker::new(ctx, &otlp));
        if cfg.resolver.static_.is_some() {
            maker.record_static_resolution(backends.len());
        }
        let exporter = LoadBalancingExporter {
            members: Arc::new(RwLock::new(Arc::new(Membership { ring, backends }))),
            key,
            routing_attributes: cfg.routing_attributes.clone(),
            backend_timeout: otlp.timeout.0,
            memo,
            maker,
            dynamic: Dynamic::of(&cfg.resolver, access),
            follower: Mutex::new(None),
            rerouted: ctx.telemetry.counter(
                "ferrotel_loadbalancer_rerouted_items",
                "Items re-split over a new ring because their backend left before they were delivered.",
                &[("exporter", &ctx.id.to_string())],
            ),
        };
        Ok((
            exporter,
            ExporterSettings {
                timeout,
                retry,
                queue,
            },
        ))
    }
}

/// Makes the backend of an endpoint: an inner `otlp` exporter with the shared settings.
struct BackendMaker {
    id: String,
    otlp: OtlpConfig,
    telemetry: Telemetry,
    /// What `start` got, for backends a resolver adds later.
    started: OnceLock<ExporterStartContext>,
}

impl BackendMaker {
    fn new(ctx: &CreateContext, otlp: &OtlpConfig) -> BackendMaker {
        BackendMaker {
            id: ctx.id.to_string(),
            otlp: otlp.clone(),
            telemetry: ctx.telemetry.clone(),
            started: OnceLock::new(),
        }
    }

    /// The backend at `endpoint` (the settings were checked; only the endpoint differs).
    fn make(&self, endpoint: &str) -> Option<Arc<Backend>> {
        let mut otlp = self.otlp.clone();
        otlp.endpoint = endpoint.to_string();
        let mut scratch = ferrotel_config::Findings::default();
        let mut at = Validator::new(String::new(), &mut scratch);
        let exporter = OtlpExporter::new(&mut at, self.id.clone(), &otlp)?;
        let outcome = |success: &str| {
            self.telemetry.counter(
                "otelcol_loadbalancer_backend_outcome",
                "Number of successes and failures for each endpoint.",
                &[("endpoint", endpoint), ("success", success)],
            )
        };
        Some(Arc::new(Backend {
            endpoint: endpoint.to_string(),
            exporter: Arc::new(exporter),
            succeeded: outcome("true"),
            failed: outcome("false"),
        }))
    }

    /// A new backend a resolver found, started; `None` (logged) when it cannot be.
    async fn start(&self, endpoint: &str) -> Option<Arc<Backend>> {
        let backend = self.make(endpoint);
        let (Some(backend), Some(ctx)) = (backend, self.started.get()) else {
            tracing::warn!(exporter = %self.id, "cannot create a backend for {endpoint:?}");
            return None;
        };
        match backend.exporter.start(ctx).await {
            Ok(()) => Some(backend),
            Err(e) => {
                tracing::warn!(exporter = %self.id, "cannot start the backend {endpoint:?}: {e}");
                None
            }
        }
    }

    fn num_backends(&self, resolver: &str, n: usize) {
        self.telemetry
            .gauge(
                "otelcol_loadbalancer_num_backends",
                "Current number of backends in use.",
                &[("resolver", resolver)],
            )
            .set(n as i64);
    }

    /// The telemetry of the static resolver, which resolves once, to `backends` backends.
    fn record_static_resolution(&self, backends: usize) {
        self.num_backends("static", backends);
        self.telemetry
            .counter(
                "otelcol_loadbalancer_num_resolutions",
                "Number of times the resolver has triggered new resolutions.",
                &[("resolver", "static"), ("success", "true")],
            )
            .inc();
    }

    /// A resolver's answer changed to `backends` backends.
    fn record_update(&self, resolver: &str, backends: usize) {
        self.num_backends(resolver, backends);
        self.telemetry
            .counter(
                "otelcol_loadbalancer_num_backend_updates",
                "Number of times the list of backends was updated.",
                &[("resolver", resolver)],
            )
            .inc();
    }
}

impl Memo {
    /// A memo sized for the queue's workers, when the engine retries (`None` otherwise): its
    /// entries outlive the engine's last retry, each attempt taking up to `timeout` (the
    /// engine's) plus `backend_timeout`.
    fn for_retries(
        retry: &RetryConfig,
        queue: &QueueConfig,
        timeout: Duration,
        backend_timeout: Duration,
    ) -> Option<Memo> {
        retry.enabled.then(|| Memo {
            entries: Mutex::new(vec![]),
            next_id: AtomicU64::new(0),
            capacity: 64.max(4 * queue.num_consumers),
            ttl: (!retry.max_elapsed_time.is_zero()).then(|| {
                retry.max_elapsed_time.0 + timeout + backend_timeout + Duration::from_secs(60)
            }),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
