//! Runs the component graph built from a [`Document`]: start order extensions, exporters,
//! pipelines and connectors, receivers; stop order the reverse, each phase draining within the
//! shutdown deadline so that what was accepted before SIGTERM is exported before exit.

use crate::build::{Graph, GraphBuilder, Node};
use crate::exporter_runner::ExporterRunner;
use crate::self_metrics;
use crate::self_push::{self, MetricPusher};
use ferrotel_config::telemetry::PullReader;
use ferrotel_config::{Capability, ConfigError, ConfigErrors, Document, ExtensionUse};
use ferrotel_core::host_memory::total_memory;
use ferrotel_core::memory_budget::BUDGET_ENV;
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::telemetry::CounterStyle;
use ferrotel_core::{
    ComponentId, ExporterStartContext, Extension, ExtensionContext, Extensions, Health,
    HealthState, Listeners, MemoryBudget, PipelineInfo, ReceiverContext, Registry, ServiceInfo,
    StartError, Telemetry,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A built, not yet started, collector.
pub struct Service {
    telemetry: Telemetry,
    health: Health,
    /// The `pull` readers' endpoints; the first is shared with a prometheus exporter on it.
    pull: Vec<PullReader>,
    pushers: Vec<MetricPusher>,
    /// Pushes self-metrics and logs: `service.telemetry.resource` over otelcol's defaults.
    resource: Resource,
    /// Ends the pushers after everything else stopped (their last push counts the drain).
    push_stop: CancellationToken,
    push_tasks: JoinSet<()>,
    listeners: Listeners,
    /// What extensions are told of the service (pipelines, extension ids).
    info: Arc<ServiceInfo>,
    graph: Graph,
    stop: CancellationToken,
    hard_stop: CancellationToken,
    tickers: JoinSet<()>,
    workers: JoinSet<()>,
    servers: JoinSet<()>,
}

/// Makes each persistent queue's runner use its storage extension, queueing what earlier runs
/// left on disk.
async fn attach_storage(
    runners: &[Arc<ExporterRunner>],
    extensions: &[(ComponentId, Box<dyn Extension>)],
    telemetry: &Telemetry,
) -> Result<(), StartError> {
    for r in runners {
        let Some(storage_id) = r.storage_id() else {
            continue;
        };
        let fail =
            |e: String| StartError(format!("exporters.{}.sending_queue.storage: {e}", r.id()));
        let storage = extensions
            .iter()
            .find(|(e, _)| e.to_string() == storage_id.trim())
            .and_then(|(_, e)| e.storage())
            .ok_or_else(|| fail(format!("storage extension {storage_id:?} not found")))?;
        let name = r.storage_name();
        let store = tokio::task::spawn_blocking(move || storage.open_queue(&name))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        r.attach_store(store, telemetry)
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}

/// Every extension a used component refers to (`auth.authenticator`, `sending_queue.storage`)
/// is in `service.extensions`, started, and offers what is asked of it; each problem names the
/// key that refers to it. otelcol finds these at start, so `validate` does not.
/// How a `pull` reader names counters.
fn style_of(p: &PullReader) -> CounterStyle {
    if p.counter_total {
        CounterStyle::Total
    } else {
        CounterStyle::Bare
    }
}

fn check_extension_uses(
    uses: &[ExtensionUse],
    extensions: &[(ComponentId, Box<dyn Extension>)],
) -> Result<(), StartError> {
    let lookup = Extensions::new(extensions.iter().map(|(id, e)| (id, e.as_ref())));
    let mut problems = Vec::new();
    for u in uses {
        let found = extensions
            .iter()
            .find(|(id, _)| id.to_string() == u.id.trim());
        let result = match u.capability {
            Capability::ServerAuthenticator => lookup.server_authenticator(&u.id).map(|_| ()),
            Capability::ClientAuthenticator => lookup.client_authenticator(&u.id).map(|_| ()),
            Capability::Storage => match found {
                None => Err(format!(
                    "storage extension {:?} not found: it must be listed in service.extensions",
                    u.id
                )),
                Some((_, ext)) if ext.storage().is_none() => {
                    Err(format!("extension {:?} is not a storage extension", u.id))
                }
                Some(_) => Ok(()),
            },
        };
        if let Err(message) = result {
            problems.push(format!("{}: {message}", u.path));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StartError(problems.join("; ")))
    }
}

/// The pipelines and extensions of `doc`, as extensions are told of them.
fn service_info(doc: &Document) -> ServiceInfo {
    let pipelines = doc.service.pipelines.iter().map(|(id, p)| PipelineInfo {
        id: id.to_string(),
        signal: id.signal,
        receivers: p.receivers.clone(),
        processors: p.processors.clone(),
        exporters: p.exporters.clone(),
    });
    ServiceInfo {
        pipelines: pipelines.collect(),
        extensions: doc.service.extensions.clone(),
        started: Some(std::time::SystemTime::now()),
    }
}

impl Service {
    /// Checks the whole graph and creates every component, reporting all problems at once
    /// (the phases are in [`crate::build`]). Nothing is bound or started.
    pub fn build(doc: &Document, registry: &Registry) -> Result<Service, ConfigErrors> {
        let telemetry = Telemetry::new();
        let mut errors = ConfigErrors::default();
        let env = std::env::var(BUDGET_ENV).ok();
        let limit = MemoryBudget::configured(env.as_deref(), total_memory()).unwrap_or_else(|e| {
            errors.push(ConfigError::new("", e));
            None
        });
        let budget = MemoryBudget::new(limit, &telemetry);
        let graph = GraphBuilder::new(doc, registry, telemetry.clone(), budget).build();
        let cfg = &doc.service.telemetry;
        let mut pushers = vec![];
        for r in &cfg.metrics.periodic {
            match MetricPusher::new(registry, r) {
                Ok(p) => pushers.push(p),
                Err(e) => errors.extend(e),
            }
        }
        let graph = match graph {
            Ok(g) => errors.into_result(g)?,
            Err(mut e) => {
                e.extend(errors);
                return Err(e);
            }
        };
        Ok(Service {
            telemetry,
            health: Health::default(),
            pull: cfg.metrics.pull.clone(),
            pushers,
            resource: self_push::resource(&cfg.resource, "ferrotel", env!("CARGO_PKG_VERSION")),
            push_stop: CancellationToken::new(),
            push_tasks: JoinSet::new(),
            listeners: Listeners::default(),
            info: Arc::new(service_info(doc)),
            graph,
            stop: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
            tickers: JoinSet::new(),
            workers: JoinSet::new(),
            servers: JoinSet::new(),
        })
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Replaces the resource of pushed self-metrics (a distribution's own `service.name` and
    /// version; see [`self_push::resource`]).
    pub fn set_resource(&mut self, resource: Resource) {
        self.resource = resource;
    }

    fn metrics_listen(&self) -> Option<String> {
        self.pull.first().map(|p| p.listen.clone())
    }

    /// How counters are named on the first `pull` reader's `/metrics`.
    pub fn counter_style(&self) -> CounterStyle {
        self.pull.first().map_or(CounterStyle::Bare, style_of)
    }

    /// Binds through `listeners` instead of a pool of its own, so that sockets outlive this
    /// service: a reload hands the same pool to the next one (see [`Listeners`]).
    pub fn with_listeners(mut self, listeners: Listeners) -> Self {
        self.listeners = listeners;
        self
    }

    /// Starts everything in dependency order: self-metrics, extensions, exporters (and their
    /// persistent queues and workers), the tick tasks of pipelines and connectors, the
    /// processors' `start` (resource detection), receivers.
    ///
    /// On error the service is left partly started: the caller must call [`Service::shutdown`],
    /// which stops what was started (every component's shutdown is safe without start).
    pub async fn start(&mut self) -> Result<(), StartError> {
        self.health.set(HealthState::Starting);
        self_metrics::register_process_metrics(&self.telemetry);
        for p in self.pull.clone() {
            let style = style_of(&p);
            self_metrics::serve(
                &self.listeners,
                &p.listen,
                self.telemetry.clone(),
                style,
                self.stop.clone(),
                &mut self.servers,
            )
            .await?;
        }
        self.start_extensions().await?;
        check_extension_uses(&self.graph.extension_uses, &self.graph.extensions)?;
        let extensions = self.started_extensions();
        self.start_exporters(&extensions).await?;
        self.start_pushers(&extensions).await?;
        self.start_tickers();
        self.start_processors().await;
        self.start_receivers(&extensions).await?;
        self.health.set(HealthState::Ready);
        tracing::info!("Everything is ready. Begin running and processing data.");
        Ok(())
    }

    fn started_extensions(&self) -> Extensions {
        Extensions::new(self.graph.extensions.iter().map(|(id, e)| (id, e.as_ref())))
    }

    async fn start_extensions(&mut self) -> Result<(), StartError> {
        for (id, ext) in &mut self.graph.extensions {
            let ctx = ExtensionContext {
                id: id.clone(),
                health: self.health.clone(),
                telemetry: self.telemetry.clone(),
                shutdown: self.stop.clone(),
                listeners: self.listeners.clone(),
                service: self.info.clone(),
            };
            ext.start(ctx)
                .await
                .map_err(|e| StartError(format!("extensions.{id}: {e}")))?;
        }
        Ok(())
    }

    fn exporter_start_context(&self, extensions: &Extensions) -> ExporterStartContext {
        ExporterStartContext {
            telemetry: self.telemetry.clone(),
            telemetry_listen: self.metrics_listen(),
            shutdown: self.stop.clone(),
            extensions: extensions.clone(),
            listeners: self.listeners.clone(),
        }
    }

    async fn start_pushers(&mut self, extensions: &Extensions) -> Result<(), StartError> {
        let mut ctx = self.exporter_start_context(extensions);
        // The last push happens after `stop`: its exporter must not see a shutdown.
        ctx.shutdown = CancellationToken::new();
        for p in std::mem::take(&mut self.pushers) {
            p.spawn(
                &ctx,
                self.telemetry.clone(),
                self.resource.clone(),
                self.push_stop.clone(),
                &mut self.push_tasks,
            )
            .await?;
        }
        Ok(())
    }

    async fn start_exporters(&mut self, extensions: &Extensions) -> Result<(), StartError> {
        let ctx = self.exporter_start_context(extensions);
        for (id, exp) in &self.graph.exporters {
            exp.start(&ctx)
                .await
                .map_err(|e| StartError(format!("exporters.{id}: {e}")))?;
        }
        attach_storage(&self.graph.runners, &self.graph.extensions, &self.telemetry).await?;
        for r in &self.graph.runners {
            r.spawn_workers(&mut self.workers);
        }
        Ok(())
    }

    /// Runs the processors' `start` (resource detection, say), every pipeline on a blocking
    /// thread of its own, and waits for them all.
    async fn start_processors(&self) {
        let mut tasks = JoinSet::new();
        for p in &self.graph.pipelines {
            let p = p.clone();
            tasks.spawn_blocking(move || p.start_processors());
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "a processor's start panicked");
            }
        }
    }

    fn start_tickers(&mut self) {
        for p in &self.graph.pipelines {
            p.spawn_tickers(&mut self.tickers, self.stop.clone(), self.hard_stop.clone());
        }
        for c in &self.graph.connectors {
            c.spawn_ticker(&mut self.tickers, self.stop.clone(), self.hard_stop.clone());
        }
    }

    async fn start_receivers(&mut self, extensions: &Extensions) -> Result<(), StartError> {
        for slot in &mut self.graph.receivers {
            let ctx = ReceiverContext {
                id: slot.id.clone(),
                consumers: slot.consumers.clone(),
                telemetry: self.telemetry.clone(),
                shutdown: self.stop.clone(),
                extensions: extensions.clone(),
                listeners: self.listeners.clone(),
            };
            slot.receiver
                .start(ctx)
                .await
                .map_err(|e| StartError(format!("receivers.{}: {e}", slot.id)))?;
        }
        Ok(())
    }

    /// Stops in reverse order, draining each phase: receivers stop accepting; pipelines and
    /// connectors flush, upstream before downstream; exporter queues drain; exporters and
    /// extensions shut down. Data still failing to export when `deadline` passes is counted as
    /// failed and logged.
    pub async fn shutdown(mut self, deadline: Duration) {
        let hard = self.hard_stop.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            hard.cancel();
        });
        self.health.set(HealthState::Stopping);
        tracing::info!("Starting shutdown...");
        self.stop.cancel();
        for slot in &mut self.graph.receivers {
            slot.receiver.shutdown().await;
        }
        while self.tickers.join_next().await.is_some() {}
        for node in &self.graph.flush_order {
            match node {
                Node::Pipeline(p) => p.flush(&self.hard_stop).await,
                Node::Connector(c) => c.flush(&self.hard_stop).await,
            }
        }
        self.drain_exporters().await;
        for (_, e) in &self.graph.exporters {
            e.shutdown().await;
        }
        for (_, ext) in self.graph.extensions.iter_mut().rev() {
            ext.shutdown().await;
        }
        self.push_stop.cancel();
        self_push::finish(&mut self.push_tasks, Duration::from_secs(5)).await;
        self.servers.abort_all();
        timer.abort();
        tracing::info!("Shutdown complete.");
    }

    /// Closes every queue and waits for the workers to send what is left, until the deadline.
    async fn drain_exporters(&mut self) {
        for r in &self.graph.runners {
            r.close();
        }
        let mut workers = std::mem::take(&mut self.workers);
        let drained = async { while workers.join_next().await.is_some() {} };
        tokio::select! {
            _ = drained => {}
            _ = self.hard_stop.cancelled() => {
                tracing::error!("shutdown deadline passed with exports still pending; giving up on them");
                for r in &self.graph.runners {
                    r.abandon();
                }
                let _ = tokio::time::timeout(Duration::from_secs(2), async { while workers.join_next().await.is_some() {} }).await;
            }
        }
    }
}
