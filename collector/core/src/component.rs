//! The component traits and their factories. Components are small; the engine does the rest
//! (queues, retries, fan-out, start/stop order, telemetry of items in and out).

use crate::auth::{ClientAuthenticator, Extensions, ServerAuthenticator};
use crate::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use crate::{Batch, ComponentId, Data, ExportError, PipelineError, RequestMeta, Signal, Telemetry};
use ferrotel_config::{GoDuration, QueueConfig, RetryConfig};
use std::any::Any;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// A component that could not start (e.g. its port is taken).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// Problems found at start in settings that `validate` does not check (a TLS or token file that
/// cannot be read), each with its key relative to the component: `tls.cert_file: failed to read
/// "server.crt": No such file or directory (os error 2)`; the engine prefixes the component.
impl From<ferrotel_config::ConfigErrors> for StartError {
    fn from(errors: ferrotel_config::ConfigErrors) -> Self {
        let all: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        StartError(all.join("; "))
    }
}

// ---------------------------------------------------------------------------------------------
// Consumers: what receivers push into.

/// The entry of a pipeline (or of a fan-out to several pipelines).
///
/// `consume` resolves when the data is accepted (buffered by a processor or enqueued for every
/// exporter) or refused; its error is what the client gets. If the future is dropped before it
/// resolves, the data was not accepted, and the client (which sees no success) retries.
#[async_trait::async_trait]
pub trait Consumer: Send + Sync {
    async fn consume(&self, batch: Batch) -> Result<(), PipelineError>;

    /// Called by receivers before they read or decode a request body, so that a refusal (the
    /// memory limiter's) costs nothing. Returns the refusal, if any.
    fn admit(&self) -> Result<(), PipelineError> {
        Ok(())
    }

    /// Whether the first thing done with a `signal` batch is decoding all of it, so that a
    /// receiver that must read a request through anyway saves work by decoding it instead and
    /// handing over both forms. The default: no.
    fn decodes_first(&self, _signal: Signal) -> bool {
        false
    }
}

/// What a processor does with the form of the batches of one signal (see
/// [`Processor::form`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Passes batches on without reading their items (memory_limiter, or no rule for the
    /// signal).
    Untouched,
    /// Decodes every batch (a processor that changes items in place).
    Decoded,
    /// Reads or passes on the encoded form: decoding up front could be wasted.
    Encoded,
}

/// The consumer for each signal a receiver feeds (None: no pipeline takes that signal).
#[derive(Clone, Default)]
pub struct Consumers {
    pub traces: Option<Arc<dyn Consumer>>,
    pub metrics: Option<Arc<dyn Consumer>>,
    pub logs: Option<Arc<dyn Consumer>>,
    pub profiles: Option<Arc<dyn Consumer>>,
}

impl Consumers {
    pub fn get(&self, s: Signal) -> Option<&Arc<dyn Consumer>> {
        match s {
            Signal::Traces => self.traces.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
            Signal::Logs => self.logs.as_ref(),
            Signal::Profiles => self.profiles.as_ref(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Receivers

/// What a receiver gets at start.
#[derive(Clone)]
pub struct ReceiverContext {
    pub id: ComponentId,
    pub consumers: Consumers,
    pub telemetry: Telemetry,
    /// Cancelled when the collector stops: stop accepting connections and requests.
    pub shutdown: CancellationToken,
    /// The started extensions (authenticators for `auth.authenticator`).
    pub extensions: Extensions,
    /// Where to bind: sockets kept open across a configuration reload.
    pub listeners: crate::Listeners,
}

/// A network listener that turns requests into [`Batch`]es.
///
/// Contract: `start` binds its sockets through `ctx.listeners` (a bind failure is a
/// [`StartError`]) and spawns its
/// serving tasks, then returns. When `ctx.shutdown` is cancelled it stops accepting; `shutdown`
/// waits until requests in flight have been answered. `shutdown` is idempotent and safe without
/// `start`.
#[async_trait::async_trait]
pub trait Receiver: Send + Sync {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError>;
    async fn shutdown(&mut self);
}

// ---------------------------------------------------------------------------------------------
// Processors

/// A pipeline stage, called synchronously by the engine (one instance per pipeline, shared by
/// the tasks that feed it, hence `&self`).
///
/// - `process` owns `batch`: it may drop it, pass it on (push to `out`), change it, split it or
///   buffer it. An `Err` goes back to the client (retryable refusals as UNAVAILABLE / 503).
/// - Buffering processors emit later from `on_tick` (called every `tick_interval`) or when they
///   ask for it through the wake handle in their [`CreateContext`]; `flush` is called once at
///   shutdown and must emit everything still held.
/// - Processors must not block: no I/O, no waiting on locks held across calls. One-off work
///   that needs I/O (resource detection) belongs in `start`.
pub trait Processor: Send + Sync {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError>;
    /// What `process` does with the form of `signal` batches, so the engine can tell a
    /// receiver whether to decode requests up front. The default, [`Form::Encoded`], is always
    /// correct; it only forgoes that saving.
    fn form(&self, _signal: Signal) -> Form {
        Form::Encoded
    }
    /// Called once by the engine as the service starts, after exporters and before receivers,
    /// on a thread where blocking is allowed (the pipelines' processors in parallel): the place
    /// for one-off I/O such as resource detection. It must bound its own time; the service's
    /// start waits for it. Not called by `validate`. The default does nothing.
    fn start(&self) {}
    /// Refuse before the payload is even read (see [`Consumer::admit`]).
    fn admit(&self) -> Result<(), PipelineError> {
        Ok(())
    }
    fn tick_interval(&self) -> Option<Duration> {
        None
    }
    /// Whether `on_tick` has nothing to do until the processor wakes the engine through its
    /// wake handle: the engine then stops ticking it, so an idle collector stays asleep. A
    /// processor answering `true` must wake the engine when it starts holding data again.
    fn is_idle(&self) -> bool {
        false
    }
    fn on_tick(&self, _out: &mut Vec<Batch>) {}
    fn flush(&self, _out: &mut Vec<Batch>) {}
}

/// The easy way to write a processor that changes data in place: implement the signals you
/// care about (each defaults to pass-through) and wrap it in [`PerSignal`]. Items left empty
/// are pruned; a request left with no items is dropped (the client still gets success).
/// Profiles are passed on untouched, still encoded.
pub trait SignalProcessor: Send + Sync {
    fn traces(
        &self,
        _req: &mut ExportTraceServiceRequest,
        _meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        Ok(())
    }
    fn metrics(
        &self,
        _req: &mut ExportMetricsServiceRequest,
        _meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        Ok(())
    }
    fn logs(
        &self,
        _req: &mut ExportLogsServiceRequest,
        _meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// Adapts a [`SignalProcessor`] to [`Processor`].
pub struct PerSignal<P>(pub P);

impl<P: SignalProcessor> Processor for PerSignal<P> {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        process_decoded(&self.0, batch, out)
    }
    /// [`process_decoded`] decodes every batch but profiles, which pass untouched.
    fn form(&self, signal: Signal) -> Form {
        match signal {
            Signal::Profiles => Form::Untouched,
            _ => Form::Decoded,
        }
    }
}

/// Runs a [`SignalProcessor`] on the decoded form of `batch` (decoding it if needed) and passes
/// it on unless it is left empty: what [`PerSignal`] does, for processors that implement
/// [`Processor`] themselves to add a faster path for some batches.
pub fn process_decoded(
    p: &impl SignalProcessor,
    mut batch: Batch,
    out: &mut Vec<Batch>,
) -> Result<(), PipelineError> {
    if batch.signal() == Signal::Profiles {
        out.push(batch);
        return Ok(());
    }
    let meta = batch.meta.clone();
    let data = batch.make_mut().map_err(|e| PipelineError::Status {
        code: crate::error::code::INVALID_ARGUMENT,
        message: e.0,
    })?;
    match data {
        Data::Traces(t) => p.traces(t, &meta)?,
        Data::Metrics(m) => p.metrics(m, &meta)?,
        Data::Logs(l) => p.logs(l, &meta)?,
        Data::Profiles(_) => {}
    }
    crate::pdata::prune_empty(data);
    if batch.item_count() > 0 {
        out.push(batch);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exporters

/// Sends batches to a backend. `export` is one attempt; the engine wraps it in otelcol's
/// exporterhelper behaviour: a bounded queue, `num_consumers` concurrent calls, a per-attempt
/// timeout (the future is dropped when it expires, so it must be cancellation safe) and
/// retries with backoff for [`ExportError::Retryable`].
#[async_trait::async_trait]
pub trait Exporter: Send + Sync {
    /// Connect, bind (pull exporters) or check settings. Called once before any export.
    async fn start(&self, _ctx: &ExporterStartContext) -> Result<(), StartError> {
        Ok(())
    }
    async fn export(&self, batch: Batch) -> Result<(), ExportError>;
    /// Whether this exporter, as configured, can send `signal`; asked by the engine for each
    /// signal of the pipelines that use it, when the graph is built (so `validate` reports it,
    /// as otelcol does when it creates the exporter for that signal).
    fn accepts(&self, _signal: Signal) -> Result<(), String> {
        Ok(())
    }
    /// Called after the queue drained. Idempotent, safe without `start`.
    async fn shutdown(&self) {}
}

/// What an exporter gets at start. `Default` is a context outside any service (tests, tools).
#[derive(Clone, Default)]
pub struct ExporterStartContext {
    pub telemetry: Telemetry,
    /// The self-metrics listen address (a pull exporter on the same address shares it).
    pub telemetry_listen: Option<String>,
    pub shutdown: CancellationToken,
    /// The started extensions (authenticators for `auth.authenticator`).
    pub extensions: Extensions,
    /// Where a pull exporter binds: sockets kept open across a configuration reload.
    pub listeners: crate::Listeners,
}

/// exporterhelper settings: per-attempt timeout, retry and queue.
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterSettings {
    pub timeout: GoDuration,
    pub retry: RetryConfig,
    pub queue: QueueConfig,
}

impl Default for ExporterSettings {
    fn default() -> Self {
        ExporterSettings {
            timeout: GoDuration::from_secs(5),
            retry: RetryConfig::default(),
            queue: QueueConfig::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Extensions

/// The collector's readiness, as health_check reports it.
#[derive(Clone, Default)]
pub struct Health {
    state: Arc<AtomicU8>,
    up_since: Arc<std::sync::Mutex<Option<SystemTime>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    Starting,
    Ready,
    Stopping,
}

impl Health {
    pub fn set(&self, s: HealthState) {
        self.state.store(s as u8, Ordering::SeqCst);
        let mut up = self.up_since.lock().unwrap_or_else(|e| e.into_inner());
        *up = if s == HealthState::Ready {
            Some(SystemTime::now())
        } else {
            None
        };
    }
    pub fn get(&self) -> HealthState {
        match self.state.load(Ordering::SeqCst) {
            1 => HealthState::Ready,
            2 => HealthState::Stopping,
            _ => HealthState::Starting,
        }
    }
    /// When the collector became ready (None unless ready).
    pub fn up_since(&self) -> Option<SystemTime> {
        *self.up_since.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What an extension gets at start.
#[derive(Clone)]
pub struct ExtensionContext {
    pub id: ComponentId,
    pub health: Health,
    pub telemetry: Telemetry,
    pub shutdown: CancellationToken,
    /// Where to bind: sockets kept open across a configuration reload.
    pub listeners: crate::Listeners,
    /// The running service's pipelines and extensions (what zpages shows).
    pub service: Arc<ServiceInfo>,
}

impl ExtensionContext {
    /// The context of extension `id` outside any service (tests, tools): its own health,
    /// telemetry, shutdown token and listener pool, and an empty [`ServiceInfo`].
    pub fn new(id: ComponentId) -> Self {
        ExtensionContext {
            id,
            health: Health::default(),
            telemetry: Telemetry::default(),
            shutdown: CancellationToken::default(),
            listeners: crate::Listeners::default(),
            service: Arc::default(),
        }
    }
}

/// What the running service is made of, as its configuration names it: read-only, for
/// extensions that describe the collector (zpages).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceInfo {
    /// `service.pipelines`, in configuration order.
    pub pipelines: Vec<PipelineInfo>,
    /// `service.extensions`, in start order.
    pub extensions: Vec<ComponentId>,
    /// When this service was built (a reload builds a new one).
    pub started: Option<SystemTime>,
}

/// One pipeline of [`ServiceInfo`]: its id (`traces/name`) and its components in order
/// (connectors appear among receivers and exporters, as in the configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineInfo {
    pub id: String,
    pub signal: Signal,
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

/// A component outside pipelines (health_check, auth, storage). Start order is
/// `service.extensions` order; extensions start before and stop after everything else.
/// Capabilities are typed accessors on the concrete type, reached through `as_any`.
#[async_trait::async_trait]
pub trait Extension: Send + Sync {
    async fn start(&mut self, ctx: ExtensionContext) -> Result<(), StartError>;
    /// Idempotent, safe without `start`.
    async fn shutdown(&mut self);
    fn as_any(&self) -> &dyn Any;
    /// The authenticator for receivers' `auth.authenticator`, if this extension is one. May be
    /// asked before `start` (to validate configs) and after it.
    fn server_authenticator(&self) -> Option<Arc<dyn ServerAuthenticator>> {
        None
    }
    /// The authenticator for exporters' `auth.authenticator`, if this extension is one.
    fn client_authenticator(&self) -> Option<Arc<dyn ClientAuthenticator>> {
        None
    }
    /// The storage for exporters' `sending_queue.storage`, if this extension is one. May be
    /// asked before `start` (to validate configs); queues are opened after `start`.
    fn storage(&self) -> Option<Arc<dyn crate::Storage>> {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Connectors

/// A batch a connector emits: for every downstream pipeline of its signal (`pipelines: None`),
/// or only for the named ones (`traces/errors`), as the routing connector does.
pub struct Routed {
    pub batch: Batch,
    pub pipelines: Option<Vec<String>>,
}

impl From<Batch> for Routed {
    fn from(batch: Batch) -> Self {
        Routed {
            batch,
            pipelines: None,
        }
    }
}

/// The exporter end of one or more pipelines and the receiver end of others, of the same or
/// another signal (otelcol's connectors: `forward`, `span_metrics`, `routing`). One instance per
/// id, shared by every pipeline that lists it.
///
/// Called synchronously by the engine like a [`Processor`]: `consume` takes a batch from an
/// upstream pipeline and pushes what it emits to `out`; the engine then runs each emitted batch
/// through the downstream pipelines of its signal, in the caller's task, so their refusals
/// (memory limit, full queue) reach the original client as the `consume` error would.
/// Stateful connectors emit later from `on_tick` (every `tick_interval`) and `flush` (once, at
/// shutdown, after every upstream pipeline has flushed into them).
pub trait Connector: Send + Sync {
    fn consume(&self, batch: Batch, out: &mut Vec<Routed>) -> Result<(), PipelineError>;
    /// Asked once the graph is built (so `validate` reports it): `upstream` are the pipelines
    /// that export to this connector, `downstream` those that receive from it. A connector whose
    /// config names pipelines (routing) refuses a name it does not feed; the message is
    /// reported at the connector's config path.
    fn check_pipelines(
        &self,
        _upstream: &[ferrotel_config::PipelineId],
        _downstream: &[ferrotel_config::PipelineId],
    ) -> Result<(), String> {
        Ok(())
    }
    fn tick_interval(&self) -> Option<Duration> {
        None
    }
    fn on_tick(&self, _out: &mut Vec<Routed>) {}
    fn flush(&self, _out: &mut Vec<Routed>) {}
}
