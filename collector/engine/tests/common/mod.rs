//! Pieces shared by the engine's integration tests: a receiver that hands out the consumers the
//! engine gave it (to feed pipelines as a client would), a recording exporter that can be
//! blocked, typed test configs with `auth.authenticator` references, config documents from YAML
//! text, and polling for a condition.

#![allow(clippy::unwrap_used, dead_code)]

use ferrotel_config::{
    Capability, ConfigErrors, Document, GoDuration, QueueConfig, RetryConfig, Validate, Validator,
};
use ferrotel_core::{
    Batch, Consumer, Consumers, CreateContext, ExportError, Exporter, ExporterParts,
    ExporterSettings, Factory, FactoryInfo, Receiver, ReceiverContext, Signal, Stability,
    StartError,
};
use ferrotel_testkit::RecordingExporter;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A config with no settings (any key is refused).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmptyConfig {}

impl Validate for EmptyConfig {}

/// `auth: {authenticator: <extension id>}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The id of the authenticator extension.
    pub authenticator: String,
}

/// Records the authenticator of `auth` (if set) at `auth.authenticator` under `v`.
fn auth_use(auth: &Option<AuthConfig>, v: &mut Validator<'_>, capability: Capability) {
    if let Some(a) = auth {
        v.at("auth")
            .at("authenticator")
            .uses_extension(&a.authenticator, capability);
    }
}

// --- the stub receiver -------------------------------------------------------------------------

/// The stub receiver's config: authenticators per protocol (as otlp's) and for the receiver
/// as a whole.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StubConfig {
    pub protocols: StubProtocols,
    pub auth: Option<AuthConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StubProtocols {
    pub grpc: Option<StubProtocol>,
    pub http: Option<StubProtocol>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StubProtocol {
    pub auth: Option<AuthConfig>,
}

impl Validate for StubConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        v.check("protocols", &self.protocols);
        auth_use(&self.auth, v, Capability::ServerAuthenticator);
    }
}

impl Validate for StubProtocols {
    fn validate(&self, v: &mut Validator<'_>) {
        v.check("grpc", &self.grpc);
        v.check("http", &self.http);
    }
}

impl Validate for StubProtocol {
    fn validate(&self, v: &mut Validator<'_>) {
        auth_use(&self.auth, v, Capability::ServerAuthenticator);
    }
}

/// The consumers each started stub receiver got, by receiver id.
type Started = Arc<Mutex<BTreeMap<String, Consumers>>>;

/// A receiver that listens to nothing: at start it hands the consumers the engine gave it to
/// its factory, so that a test can send data into the pipelines as a client would.
pub struct StubReceiver {
    started: Started,
}

#[async_trait::async_trait]
impl Receiver for StubReceiver {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        self.started
            .lock()
            .unwrap()
            .insert(ctx.id.to_string(), ctx.consumers);
        Ok(())
    }
    async fn shutdown(&mut self) {}
}

/// The factory of [`StubReceiver`], type `stub`, for every signal (profiles included). Clones share what the
/// receivers they created were given.
#[derive(Clone, Default)]
pub struct StubReceiverFactory {
    started: Started,
}

impl StubReceiverFactory {
    /// The consumers the receiver `id` got at start; panics when it was not started.
    pub fn consumers(&self, id: &str) -> Consumers {
        self.started
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("receiver {id:?} was not started"))
    }

    /// The traces consumer of the receiver `stub`.
    pub fn traces(&self) -> Arc<dyn Consumer> {
        self.consumers("stub")
            .traces
            .expect("the stub receiver feeds a traces pipeline")
    }
}

impl Factory for StubReceiverFactory {
    type Config = StubConfig;
    type Component = Box<dyn Receiver>;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("stub", "test")
            .all_signals(Stability::Alpha)
            .signal(Signal::Profiles, Stability::Alpha)
    }
    fn create(&self, _: &CreateContext, _: StubConfig) -> Result<Box<dyn Receiver>, ConfigErrors> {
        Ok(Box::new(StubReceiver {
            started: self.started.clone(),
        }))
    }
}

// --- the recording exporter --------------------------------------------------------------------

/// A [`RecordingExporter`] behind a gate: while the gate is closed every export waits at it
/// (a blocked backend), without any timing assumption.
#[derive(Clone)]
pub struct TestExporter {
    pub rec: RecordingExporter,
    /// Exports that reached the exporter, including those waiting at the gate.
    pub entered: Arc<AtomicUsize>,
    /// `true` while closed.
    gate: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for TestExporter {
    fn default() -> Self {
        TestExporter {
            rec: RecordingExporter::default(),
            entered: Arc::default(),
            gate: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

impl TestExporter {
    pub fn close_gate(&self) {
        self.gate.send_replace(true);
    }
    pub fn open_gate(&self) {
        self.gate.send_replace(false);
    }
    pub fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }
}

impl Deref for TestExporter {
    type Target = RecordingExporter;
    fn deref(&self) -> &RecordingExporter {
        &self.rec
    }
}

#[async_trait::async_trait]
impl Exporter for TestExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let mut open = self.gate.subscribe();
        let _ = open.wait_for(|closed| !*closed).await;
        self.rec.export(batch).await
    }
}

/// The recording exporter's config: exporterhelper's settings and a client authenticator.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    pub timeout: GoDuration,
    pub retry_on_failure: RetryConfig,
    pub sending_queue: QueueConfig,
    pub auth: Option<AuthConfig>,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        let s = ExporterSettings::default();
        RecordingConfig {
            timeout: s.timeout,
            retry_on_failure: s.retry,
            sending_queue: s.queue,
            auth: None,
        }
    }
}

impl Validate for RecordingConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        v.check("retry_on_failure", &self.retry_on_failure);
        v.check("sending_queue", &self.sending_queue);
        auth_use(&self.auth, v, Capability::ClientAuthenticator);
    }
}

/// An exporter factory whose exporters are [`TestExporter`]s, one per id, which the test can
/// reach by id once the service is built. Clones share the exporters.
#[derive(Clone)]
pub struct RecordingFactory {
    type_name: &'static str,
    aliases: &'static [&'static str],
    exporters: Arc<Mutex<BTreeMap<String, TestExporter>>>,
}

impl Default for RecordingFactory {
    /// Type `recording`, alias `rec`.
    fn default() -> Self {
        RecordingFactory::named("recording", &["rec"])
    }
}

impl RecordingFactory {
    pub fn named(type_name: &'static str, aliases: &'static [&'static str]) -> Self {
        RecordingFactory {
            type_name,
            aliases,
            exporters: Arc::default(),
        }
    }

    /// The exporter created for `id`; panics when there is none.
    pub fn exporter(&self, id: &str) -> TestExporter {
        self.exporters
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("no exporter {id:?} was created"))
    }

    /// The ids of the exporters created so far.
    pub fn created(&self) -> Vec<String> {
        self.exporters.lock().unwrap().keys().cloned().collect()
    }
}

impl Factory for RecordingFactory {
    type Config = RecordingConfig;
    type Component = ExporterParts;
    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(self.type_name, "test")
            .aliases(self.aliases)
            .all_signals(Stability::Alpha)
            .signal(Signal::Profiles, Stability::Alpha)
    }
    fn create(
        &self,
        ctx: &CreateContext,
        cfg: RecordingConfig,
    ) -> Result<ExporterParts, ConfigErrors> {
        let exporter = TestExporter::default();
        self.exporters
            .lock()
            .unwrap()
            .insert(ctx.id.to_string(), exporter.clone());
        Ok(ExporterParts {
            exporter: Arc::new(exporter),
            settings: ExporterSettings {
                timeout: cfg.timeout,
                retry: cfg.retry_on_failure,
                queue: cfg.sending_queue,
            },
        })
    }
}

// --- documents and polling ---------------------------------------------------------------------

/// The config document of `yaml`, which must load, with the collector's own `/metrics`
/// endpoint turned off (services started by tests in parallel bind no port).
pub fn document(yaml: &str) -> Document {
    let mut doc = ferrotel_config::load(
        &[ferrotel_config::ConfigSource::Text(yaml.into())],
        &[],
        &|_| None,
    )
    .unwrap();
    doc.service.telemetry.metrics.pull.clear();
    doc
}

/// Polls `f` until it holds ([`ferrotel_testkit::wait_for`]); panics after 5s.
pub async fn wait_for(f: impl FnMut() -> bool) {
    assert!(
        ferrotel_testkit::wait_for(f, Duration::from_secs(5)).await,
        "condition not reached in 5s"
    );
}
