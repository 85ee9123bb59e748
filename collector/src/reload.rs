//! Running the service until SIGTERM/SIGINT, and replacing it on SIGHUP.
//!
//! SIGHUP re-reads every configuration source (`--config` files, `env:`, `yaml:`, `--set`)
//! and swaps services without losing what was accepted:
//!
//! 1. the new configuration is loaded and its service built; a problem there leaves the
//!    current service running untouched;
//! 2. the current service shuts down as at exit (receivers stop accepting and answer what is
//!    in flight, processors flush, exporter queues drain; a persistent queue keeps on disk
//!    what is left) while its listening sockets stay open in the [`Listeners`] pool, so new
//!    connections wait in the kernel's backlog instead of being refused;
//! 3. the new service starts, taking the sockets of endpoints that did not change from the
//!    pool; sockets it no longer uses are closed;
//! 4. if the new service fails to start, it is stopped and a service is started again from
//!    the previous configuration.
//!
//! Unlike otelcol, which exits when a reloaded configuration is bad, a failed reload keeps
//! serving. Every reload is counted in `ferrotel_config_reloads{result="success|failure"}`,
//! which, unlike the other self-metrics, survives reloads.

use crate::BuildInfo;
use anyhow::Context;
use ferrotel_config::{ConfigErrors, Document};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{Listeners, Registry, Telemetry};
use ferrotel_engine::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The self-metric counting reloads, by `result`.
pub const RELOADS_METRIC: &str = "ferrotel_config_reloads";

/// How long a service that failed to start may take to stop.
const FAILED_START_SHUTDOWN: Duration = Duration::from_secs(5);

/// Builds the service of `doc`, reporting `errors` (the document's own) with the
/// components' problems. Its pushed self-telemetry carries `build`'s name and version under
/// `service.telemetry.resource`.
pub(crate) fn build(
    doc: &Document,
    mut errors: ConfigErrors,
    registry: &Registry,
    info: BuildInfo,
) -> Result<Service, ConfigErrors> {
    match Service::build(doc, registry) {
        Ok(mut service) if errors.is_empty() => {
            service.set_resource(resource(doc, info));
            Ok(service)
        }
        Ok(_) => Err(errors),
        Err(e) => {
            errors.extend(e);
            Err(errors)
        }
    }
}

/// The resource of `doc`'s pushed self-metrics and logs.
pub(crate) fn resource(doc: &Document, info: BuildInfo) -> Resource {
    let attrs = &doc.service.telemetry.resource;
    ferrotel_engine::self_push::resource(attrs, info.command, info.version)
}

/// A started service and the configuration it runs.
struct Running {
    service: Service,
    doc: Document,
}

/// What the run loop keeps across services.
pub(crate) struct Supervisor<L> {
    /// Loads the configuration from every source again.
    load: L,
    registry: Registry,
    info: BuildInfo,
    listeners: Listeners,
    shutdown_timeout: Duration,
    /// Self-metrics that outlive each service (shown on every service's `/metrics`).
    lasting: Telemetry,
    succeeded: Counter,
    failed: Counter,
}

/// The signals the run loop waits for.
enum Event {
    Stop,
    Reload,
}

struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        let on = |kind| signal(kind).context("cannot install signal handlers");
        Ok(Signals {
            term: on(SignalKind::terminate())?,
            int: on(SignalKind::interrupt())?,
            hup: on(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Event {
        let name = tokio::select! {
            _ = self.term.recv() => "terminated",
            _ = self.int.recv() => "interrupt",
            _ = self.hup.recv() => "hangup",
        };
        tracing::info!(signal = name, "Received signal from OS");
        if name == "hangup" {
            Event::Reload
        } else {
            Event::Stop
        }
    }
}

impl<L> Supervisor<L>
where
    L: Fn() -> Result<(Document, ConfigErrors), ConfigErrors>,
{
    pub(crate) fn new(
        load: L,
        registry: Registry,
        info: BuildInfo,
        shutdown_timeout: Duration,
    ) -> Self {
        let lasting = Telemetry::new();
        let counter = |result| {
            lasting.counter(
                RELOADS_METRIC,
                "Configuration reloads (SIGHUP), by result: a failed one keeps the previous configuration serving.",
                &[("result", result)],
            )
        };
        let (succeeded, failed) = (counter("success"), counter("failure"));
        Supervisor {
            load,
            registry,
            info,
            listeners: Listeners::default(),
            shutdown_timeout,
            lasting,
            succeeded,
            failed,
        }
    }

    /// Starts `service` (built from `doc`), then serves until SIGTERM or SIGINT, reloading on
    /// SIGHUP; drains on the way out.
    pub(crate) async fn serve(self, service: Service, doc: Document) -> anyhow::Result<()> {
        let mut signals = Signals::install()?;
        let mut running = match self.start(service, doc).await {
            Ok(r) => r,
            Err((_, e)) => anyhow::bail!("failed to start: {e}"),
        };
        loop {
            match signals.next().await {
                Event::Stop => break,
                Event::Reload => running = self.reload(running).await?,
            }
        }
        let timeout = self.shutdown_timeout;
        tracing::info!("Received shutdown signal, draining (up to {timeout:?})");
        running.service.shutdown(timeout).await;
        Ok(())
    }

    /// Starts a built service on the pool's sockets and closes the sockets it did not take;
    /// a service that fails is shut down and its configuration handed back.
    async fn start(
        &self,
        service: Service,
        doc: Document,
    ) -> Result<Running, (Document, ferrotel_core::StartError)> {
        let mut service = service.with_listeners(self.listeners.clone());
        let lasting = self.lasting.clone();
        let style = service.counter_style();
        service.telemetry().add_exposition(
            RELOADS_METRIC,
            Arc::new(move |out: &mut String| out.push_str(&lasting.render_with(style))),
        );
        self.listeners.begin_generation();
        match service.start().await {
            Ok(()) => {
                self.listeners.release_unclaimed();
                Ok(Running { service, doc })
            }
            // The sockets stay held: the previous configuration starts again on them.
            Err(e) => {
                service.shutdown(FAILED_START_SHUTDOWN).await;
                Err((doc, e))
            }
        }
    }

    /// Applies the configuration the sources hold now; on any failure the previous one keeps
    /// (or goes back to) serving. An error only when the previous one cannot start again.
    async fn reload(&self, running: Running) -> anyhow::Result<Running> {
        let built = (self.load)()
            .and_then(|(doc, errors)| Ok((build(&doc, errors, &self.registry, self.info)?, doc)));
        let (service, doc) = match built {
            Ok(built) => built,
            Err(e) => {
                self.failed.inc();
                tracing::error!(error = %e, "Config reload failed: the new configuration is invalid; keeping the current one");
                return Ok(running);
            }
        };
        tracing::warn!("Config updated, restart service");
        running.service.shutdown(self.shutdown_timeout).await;
        let (previous, e) = match self.start(service, doc).await {
            Ok(r) => {
                self.succeeded.inc();
                tracing::info!("Config reload succeeded");
                return Ok(r);
            }
            Err((_, e)) => (running.doc, e),
        };
        self.failed.inc();
        tracing::error!(error = %e, "Config reload failed: the new configuration did not start; restarting the previous one");
        let service = build(
            &previous,
            ConfigErrors::default(),
            &self.registry,
            self.info,
        )
        .map_err(|e| anyhow::anyhow!("the previous configuration no longer builds: {e}"))?;
        self.start(service, previous).await.map_err(|(_, e)| {
            anyhow::anyhow!("the previous configuration failed to start again: {e}")
        })
    }
}
