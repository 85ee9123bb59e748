//! Loading the configuration, then validating or running it until a shutdown signal.

use crate::cli::{Cli, Command};
use crate::{describe_components, BuildInfo, DEFAULT_CONFIG};
use anyhow::Context;
use ferrotel_config::{ConfigErrors, ConfigSource, Document};
use ferrotel_core::Registry;
use ferrotel_engine::Service;
use std::time::Duration;

/// The merged document and its structural errors (reported together with component errors).
fn load(cli: &Cli) -> Result<(Document, ConfigErrors), ConfigErrors> {
    let sources: Vec<ConfigSource> = if cli.config.is_empty() {
        vec![ConfigSource::Text(DEFAULT_CONFIG.to_string())]
    } else {
        cli.config.iter().map(|c| ConfigSource::parse(c)).collect()
    };
    ferrotel_config::load_partial(&sources, &cli.set, &|k| std::env::var(k).ok())
}

pub(crate) fn run(cli: Cli, build: BuildInfo, registry: Registry) -> anyhow::Result<()> {
    if let Some(problem) = registry.problems().first() {
        anyhow::bail!("the distribution's components: {problem}");
    }
    if let Some(Command::Components) = cli.command {
        let mut stdout = std::io::stdout().lock();
        std::io::Write::write_all(
            &mut stdout,
            describe_components(&build, &registry).as_bytes(),
        )?;
        return Ok(());
    }
    let shutdown_timeout = ferrotel_config::GoDuration::parse(&cli.shutdown_timeout)
        .map_err(|e| anyhow::anyhow!("--shutdown-timeout: {e}"))?;
    let (doc, mut errors) = load(&cli)?;
    let log_queue = crate::logging::init_logging(&doc.service.telemetry.logs)
        .map_err(|e| anyhow::anyhow!("service.telemetry.logs: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Components are created inside the runtime: some spawn helpers at creation.
        let resource = ferrotel_engine::self_push::resource(
            &doc.service.telemetry.resource,
            build.command,
            build.version,
        );
        let log_exporters = match log_queue.map(|q| q.exporters(&registry)).transpose() {
            Ok(l) => l,
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        let service = match Service::build(&doc, &registry) {
            Ok(mut service) if errors.is_empty() => {
                service.set_resource(resource.clone());
                service
            }
            Ok(_) => return Err(errors.into()),
            Err(e) => {
                errors.extend(e);
                return Err(errors.into());
            }
        };
        if let Some(Command::Validate) = cli.command {
            eprintln!("The configuration is valid.");
            return Ok(());
        }
        let log_stop = tokio_util::sync::CancellationToken::new();
        let mut log_tasks = tokio::task::JoinSet::new();
        if let Some(l) = log_exporters {
            l.spawn(resource, log_stop.clone(), &mut log_tasks);
        }
        let served = serve(service, shutdown_timeout.0).await;
        // The last records (shutdown's) are sent before exit.
        log_stop.cancel();
        let flushed = async { while log_tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(5), flushed).await;
        served
    })
}

async fn serve(mut service: Service, shutdown_timeout: Duration) -> anyhow::Result<()> {
    if let Err(e) = service.start().await {
        service.shutdown(Duration::from_secs(5)).await;
        anyhow::bail!("failed to start: {e}");
    }
    wait_for_signal().await;
    tracing::info!("Received shutdown signal, draining (up to {shutdown_timeout:?})");
    service.shutdown(shutdown_timeout).await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
