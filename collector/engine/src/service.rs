//! Builds the component graph from a [`Document`] and runs it: start order extensions,
//! exporters, pipelines, receivers; stop order the reverse, each phase draining within the
//! shutdown deadline so that what was accepted before SIGTERM is exported before exit.

use crate::exporter_runner::ExporterRunner;
use crate::pipeline::{Fanout, Pipeline, Stage};
use crate::self_metrics;
use ferrotel_config::{ConfigError, ConfigErrors, Document, Kind, Signal, Value};
use ferrotel_core::telemetry::CounterStyle;
use ferrotel_core::{
    ComponentId, Consumer, Consumers, CreateContext, Exporter, ExporterSettings,
    ExporterStartContext, Extension, ExtensionContext, Extensions, FactoryInfo, Health,
    HealthState, Receiver, ReceiverContext, Registry, StartError, Telemetry,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

struct ReceiverSlot {
    id: ComponentId,
    receiver: Box<dyn Receiver>,
    consumers: Consumers,
}

/// A built, not yet started, collector.
pub struct Service {
    telemetry: Telemetry,
    health: Health,
    metrics_listen: Option<String>,
    counter_style: CounterStyle,
    extensions: Vec<(ComponentId, Box<dyn Extension>)>,
    exporters: Vec<(ComponentId, Arc<dyn Exporter>)>,
    runners: Vec<Arc<ExporterRunner>>,
    pipelines: Vec<Arc<Pipeline>>,
    receivers: Vec<ReceiverSlot>,
    stop: CancellationToken,
    hard_stop: CancellationToken,
    tickers: JoinSet<()>,
    workers: JoinSet<()>,
    servers: JoinSet<()>,
}

fn unknown_type(kind: Kind, id: &ComponentId, known: Vec<FactoryInfo>) -> ConfigError {
    let mut names: Vec<&str> = known.iter().map(|i| i.type_name).collect();
    names.sort_unstable();
    ConfigError::new(
        format!("{}.{id}", kind.section()),
        format!(
            "unknown type {:?} for id {:?} (valid values: [{}])",
            id.type_name,
            id.to_string(),
            names.join(" ")
        ),
    )
}

fn check_signal(
    kind: Kind,
    id: &ComponentId,
    info: &FactoryInfo,
    signal: Signal,
    pipeline: &str,
    errors: &mut ConfigErrors,
) -> bool {
    if info.signals.contains(&signal) {
        return true;
    }
    errors.push(ConfigError::new(
        format!("service.pipelines.{pipeline}"),
        format!(
            "{} {:?} does not support {signal}",
            kind.singular(),
            id.to_string()
        ),
    ));
    false
}

/// Checks every `auth: { authenticator: <id> }` in receiver and exporter configs, at any depth
/// (`protocols.grpc.auth`): the id must name an extension of `service.extensions` that is a
/// server authenticator (receivers) or a client authenticator (exporters). Receivers and
/// exporters then look their authenticator up at start in [`Extensions`].
fn check_authenticators(
    doc: &Document,
    extensions: &[(ComponentId, Box<dyn Extension>)],
    errors: &mut ConfigErrors,
) {
    fn walk(v: &Value, path: &str, found: &mut Vec<(String, String)>) {
        let Value::Mapping(m) = v else { return };
        for (k, v) in m {
            let Some(k) = k.as_str() else { continue };
            let here = format!("{path}.{k}");
            if k == "auth" {
                if let Some(Value::String(id)) = v.get("authenticator") {
                    found.push((format!("{here}.authenticator"), id.clone()));
                }
            }
            walk(v, &here, found);
        }
    }
    let lookup = Extensions::new(extensions.iter().map(|(id, e)| (id, e.as_ref())));
    let pipelines = || doc.service.pipelines.iter().map(|(_, p)| p);
    for kind in [Kind::Receiver, Kind::Exporter] {
        for (id, cfg) in doc.section(kind) {
            // Like otelcol, only components in a pipeline resolve their authenticator.
            let used = match kind {
                Kind::Receiver => pipelines().any(|p| p.receivers.contains(id)),
                _ => pipelines().any(|p| p.exporters.contains(id)),
            };
            if !used {
                continue;
            }
            let mut found = vec![];
            walk(cfg, &format!("{}.{id}", kind.section()), &mut found);
            for (path, auth) in found {
                let r = match kind {
                    Kind::Receiver => lookup.server_authenticator(&auth).map(|_| ()),
                    _ => lookup.client_authenticator(&auth).map(|_| ()),
                };
                if let Err(e) = r {
                    errors.push(ConfigError::new(path, e));
                }
            }
        }
    }
}

/// Checks every used exporter's `sending_queue.storage`: it must name an extension of
/// `service.extensions` that offers storage.
fn check_storage(
    runners: &BTreeMap<(ComponentId, Signal), Arc<ExporterRunner>>,
    extensions: &[(ComponentId, Box<dyn Extension>)],
    errors: &mut ConfigErrors,
) {
    let mut seen = Vec::new();
    for ((id, _), runner) in runners {
        let Some(storage) = runner.storage_id() else {
            continue;
        };
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let path = format!("exporters.{id}.sending_queue.storage");
        match extensions.iter().find(|(e, _)| e.to_string() == storage.trim()) {
            None => errors.push(ConfigError::new(
                path,
                format!("storage extension {storage:?} not found: it must be listed in service.extensions"),
            )),
            Some((_, ext)) if ext.storage().is_none() => errors.push(ConfigError::new(
                path,
                format!("extension {storage:?} is not a storage extension"),
            )),
            Some(_) => {}
        }
    }
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

impl Service {
    /// Checks the whole graph and creates every component, reporting all problems at once.
    /// Nothing is bound or started.
    pub fn build(doc: &Document, registry: &Registry) -> Result<Service, ConfigErrors> {
        let telemetry = Telemetry::new();
        let mut errors = ConfigErrors::default();
        let ctx = |kind: Kind, id: &ComponentId| CreateContext {
            id: id.clone(),
            path: format!("{}.{id}", kind.section()),
            telemetry: telemetry.clone(),
            signal: None,
            pipeline: None,
            wake: Arc::new(Notify::new()),
        };

        for (id, _) in &doc.connectors {
            errors.push(ConfigError::new(
                format!("connectors.{id}"),
                format!(
                    "connector type {:?} is not supported by ferrotel yet",
                    id.type_name
                ),
            ));
        }

        // Exporters and receivers: one instance per id; unused ones are still validated.
        let mut exporters: BTreeMap<
            ComponentId,
            (FactoryInfo, Arc<dyn Exporter>, ExporterSettings),
        > = BTreeMap::new();
        for (id, cfg) in &doc.exporters {
            match registry.exporter(&id.type_name) {
                None => errors.push(unknown_type(
                    Kind::Exporter,
                    id,
                    registry.exporters.iter().map(|f| f.info()).collect(),
                )),
                Some(f) => match f.create(&ctx(Kind::Exporter, id), cfg) {
                    Ok(parts) => {
                        exporters.insert(id.clone(), (f.info(), parts.exporter, parts.settings));
                    }
                    Err(e) => errors.extend(e),
                },
            }
        }
        let mut receivers: BTreeMap<ComponentId, (FactoryInfo, Box<dyn Receiver>)> =
            BTreeMap::new();
        for (id, cfg) in &doc.receivers {
            match registry.receiver(&id.type_name) {
                None => errors.push(unknown_type(
                    Kind::Receiver,
                    id,
                    registry.receivers.iter().map(|f| f.info()).collect(),
                )),
                Some(f) => match f.create(&ctx(Kind::Receiver, id), cfg) {
                    Ok(r) => {
                        receivers.insert(id.clone(), (f.info(), r));
                    }
                    Err(e) => errors.extend(e),
                },
            }
        }
        // Processors: one instance per pipeline; an unused one is validated once.
        let used_processors: Vec<&ComponentId> = doc
            .service
            .pipelines
            .iter()
            .flat_map(|(_, p)| &p.processors)
            .collect();
        for (id, cfg) in &doc.processors {
            match registry.processor(&id.type_name) {
                None => errors.push(unknown_type(
                    Kind::Processor,
                    id,
                    registry.processors.iter().map(|f| f.info()).collect(),
                )),
                Some(f) if !used_processors.contains(&id) => {
                    if let Err(e) = f.create(&ctx(Kind::Processor, id), cfg) {
                        errors.extend(e);
                    }
                }
                Some(_) => {}
            }
        }

        let mut runners: BTreeMap<(ComponentId, Signal), Arc<ExporterRunner>> = BTreeMap::new();
        let mut pipelines = Vec::new();
        let mut feeds: BTreeMap<(ComponentId, Signal), Vec<Arc<dyn Consumer>>> = BTreeMap::new();
        for (pid, pc) in &doc.service.pipelines {
            let pname = pid.to_string();
            let signal = pid.signal;
            let mut ok = true;
            let mut stages = Vec::new();
            for id in &pc.processors {
                let Some(f) = registry.processor(&id.type_name) else {
                    continue;
                };
                if !check_signal(Kind::Processor, id, &f.info(), signal, &pname, &mut errors) {
                    ok = false;
                    continue;
                }
                let wake = Arc::new(Notify::new());
                let pctx = CreateContext {
                    signal: Some(signal),
                    pipeline: Some(pname.clone()),
                    wake: wake.clone(),
                    ..ctx(Kind::Processor, id)
                };
                let Some(cfg) = doc.get(Kind::Processor, id) else {
                    continue;
                };
                match f.create(&pctx, cfg) {
                    Ok(processor) => {
                        let ids = id.to_string();
                        let labels = [
                            ("processor", ids.as_str()),
                            ("otel.signal", signal.as_str()),
                        ];
                        stages.push(Stage {
                            id: id.clone(),
                            processor,
                            wake,
                            incoming: telemetry.counter(
                                "otelcol_processor_incoming_items",
                                "Number of items passed to the processor.",
                                &labels,
                            ),
                            outgoing: telemetry.counter(
                                "otelcol_processor_outgoing_items",
                                "Number of items emitted from the processor.",
                                &labels,
                            ),
                        });
                    }
                    Err(e) => {
                        errors.extend(e);
                        ok = false;
                    }
                }
            }
            let mut outs = Vec::new();
            for id in &pc.exporters {
                let Some((info, exporter, settings)) = exporters.get(id) else {
                    ok = false;
                    continue;
                };
                if !check_signal(Kind::Exporter, id, info, signal, &pname, &mut errors) {
                    ok = false;
                    continue;
                }
                let runner = runners
                    .entry((id.clone(), signal))
                    .or_insert_with(|| {
                        ExporterRunner::new(
                            id.clone(),
                            signal,
                            exporter.clone(),
                            settings.clone(),
                            &telemetry,
                        )
                    })
                    .clone();
                outs.push(runner);
            }
            for id in &pc.receivers {
                if let Some((info, _)) = receivers.get(id) {
                    ok &= check_signal(Kind::Receiver, id, info, signal, &pname, &mut errors);
                }
            }
            if !ok {
                continue;
            }
            let pipeline = Arc::new(Pipeline::new(pid.clone(), stages, outs));
            for id in &pc.receivers {
                feeds
                    .entry((id.clone(), signal))
                    .or_default()
                    .push(pipeline.clone());
            }
            pipelines.push(pipeline);
        }

        let mut extensions = Vec::new();
        for id in &doc.service.extensions {
            let Some(cfg) = doc.get(Kind::Extension, id) else {
                continue;
            };
            match registry.extension(&id.type_name) {
                None => errors.push(unknown_type(
                    Kind::Extension,
                    id,
                    registry.extensions.iter().map(|f| f.info()).collect(),
                )),
                Some(f) => match f.create(&ctx(Kind::Extension, id), cfg) {
                    Ok(e) => extensions.push((id.clone(), e)),
                    Err(e) => errors.extend(e),
                },
            }
        }
        check_authenticators(doc, &extensions, &mut errors);
        check_storage(&runners, &extensions, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }

        let one = |v: Option<Vec<Arc<dyn Consumer>>>| -> Option<Arc<dyn Consumer>> {
            match v {
                None => None,
                Some(mut v) if v.len() == 1 => v.pop(),
                Some(v) => Some(Arc::new(Fanout(v))),
            }
        };
        let used_receivers: Vec<ComponentId> = feeds.keys().map(|(id, _)| id.clone()).collect();
        let receivers = receivers
            .into_iter()
            .filter(|(id, _)| used_receivers.contains(id))
            .map(|(id, (_, receiver))| {
                let consumers = Consumers {
                    traces: one(feeds.remove(&(id.clone(), Signal::Traces))),
                    metrics: one(feeds.remove(&(id.clone(), Signal::Metrics))),
                    logs: one(feeds.remove(&(id.clone(), Signal::Logs))),
                };
                ReceiverSlot {
                    id,
                    receiver,
                    consumers,
                }
            })
            .collect();
        let used_exporters: Vec<ComponentId> = runners.keys().map(|(id, _)| id.clone()).collect();
        let exporters = exporters
            .into_iter()
            .filter(|(id, _)| used_exporters.contains(id))
            .map(|(id, (_, e, _))| (id, e))
            .collect();
        let metrics = &doc.service.telemetry.metrics;
        Ok(Service {
            telemetry,
            health: Health::default(),
            metrics_listen: metrics.listen.clone(),
            counter_style: if metrics.counter_total {
                CounterStyle::Total
            } else {
                CounterStyle::Bare
            },
            extensions,
            exporters,
            runners: runners.into_values().collect(),
            pipelines,
            receivers,
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

    /// Starts everything in dependency order. On error, what was started is stopped again.
    pub async fn start(&mut self) -> Result<(), StartError> {
        self.health.set(HealthState::Starting);
        self_metrics::register_process_metrics(&self.telemetry);
        if let Some(addr) = self.metrics_listen.clone() {
            self_metrics::serve(
                &addr,
                self.telemetry.clone(),
                self.counter_style,
                self.stop.clone(),
                &mut self.servers,
            )
            .await?;
        }
        for (id, ext) in &mut self.extensions {
            let ctx = ExtensionContext {
                id: id.clone(),
                health: self.health.clone(),
                telemetry: self.telemetry.clone(),
                shutdown: self.stop.clone(),
            };
            ext.start(ctx)
                .await
                .map_err(|e| StartError(format!("extensions.{id}: {e}")))?;
        }
        let extensions = Extensions::new(self.extensions.iter().map(|(id, e)| (id, e.as_ref())));
        let ectx = ExporterStartContext {
            telemetry: self.telemetry.clone(),
            telemetry_listen: self.metrics_listen.clone(),
            shutdown: self.stop.clone(),
            extensions: extensions.clone(),
        };
        for (id, exp) in &self.exporters {
            exp.start(&ectx)
                .await
                .map_err(|e| StartError(format!("exporters.{id}: {e}")))?;
        }
        attach_storage(&self.runners, &self.extensions, &self.telemetry).await?;
        for r in &self.runners {
            r.spawn_workers(&mut self.workers);
        }
        for p in &self.pipelines {
            p.spawn_tickers(&mut self.tickers, self.stop.clone(), self.hard_stop.clone());
        }
        for slot in &mut self.receivers {
            let ctx = ReceiverContext {
                id: slot.id.clone(),
                consumers: slot.consumers.clone(),
                telemetry: self.telemetry.clone(),
                shutdown: self.stop.clone(),
                extensions: extensions.clone(),
            };
            slot.receiver
                .start(ctx)
                .await
                .map_err(|e| StartError(format!("receivers.{}: {e}", slot.id)))?;
        }
        self.health.set(HealthState::Ready);
        tracing::info!("Everything is ready. Begin running and processing data.");
        Ok(())
    }

    /// Stops in reverse order, draining each phase. Data still failing to export when
    /// `deadline` passes is counted as failed and logged.
    pub async fn shutdown(mut self, deadline: Duration) {
        let hard = self.hard_stop.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            hard.cancel();
        });
        self.health.set(HealthState::Stopping);
        tracing::info!("Starting shutdown...");
        self.stop.cancel();
        for slot in &mut self.receivers {
            slot.receiver.shutdown().await;
        }
        while self.tickers.join_next().await.is_some() {}
        for p in &self.pipelines {
            p.flush(&self.hard_stop).await;
        }
        for r in &self.runners {
            r.close();
        }
        let mut workers = std::mem::take(&mut self.workers);
        let drained = async { while workers.join_next().await.is_some() {} };
        tokio::select! {
            _ = drained => {}
            _ = self.hard_stop.cancelled() => {
                tracing::error!("shutdown deadline passed with exports still pending; giving up on them");
                for r in &self.runners {
                    r.abandon();
                }
                let _ = tokio::time::timeout(Duration::from_secs(2), async { while workers.join_next().await.is_some() {} }).await;
            }
        }
        for (_, e) in &self.exporters {
            e.shutdown().await;
        }
        for (_, ext) in self.extensions.iter_mut().rev() {
            ext.shutdown().await;
        }
        self.servers.abort_all();
        timer.abort();
        tracing::info!("Shutdown complete.");
    }
}
