//! Loading the configuration, then validating it or running it (see [`crate::reload`]).

use crate::cli::{Cli, Command, PrintFormat, PrintMode};
use crate::reload;
use crate::{describe_components, featuregates, BuildInfo, DEFAULT_CONFIG};
use anyhow::Context;
use ferrotel_config::{ConfigErrors, ConfigSource, Document};
use ferrotel_core::Registry;
use std::io::Write;
use std::time::Duration;

/// The `--config` sources, the embedded default config when there are none.
fn sources(cli: &Cli) -> Vec<ConfigSource> {
    if cli.config.is_empty() {
        vec![ConfigSource::Text(DEFAULT_CONFIG.to_string())]
    } else {
        cli.config.iter().map(|c| ConfigSource::parse(c)).collect()
    }
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The merged document and its structural errors (reported together with component errors).
fn load(cli: &Cli) -> Result<(Document, ConfigErrors), ConfigErrors> {
    ferrotel_config::load_partial(&sources(cli), &cli.set, &env_lookup)
}

/// `print-config`: the resolved configuration, redacted unless asked otherwise.
fn print_config(cli: &Cli, mode: PrintMode, format: PrintFormat) -> anyhow::Result<()> {
    let (mut resolved, _) = ferrotel_config::resolve(&sources(cli), &cli.set, &env_lookup)?;
    if mode == PrintMode::Redacted {
        ferrotel_config::redact(&mut resolved);
    }
    let text = match format {
        PrintFormat::Yaml => serde_yaml_ng::to_string(&resolved)?,
        PrintFormat::Json => serde_json::to_string_pretty(&resolved)? + "\n",
    };
    std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
    Ok(())
}

pub(crate) fn run(cli: Cli, build: BuildInfo, registry: Registry) -> anyhow::Result<()> {
    if let Some(problem) = registry.problems().first() {
        anyhow::bail!("the distribution's components: {problem}");
    }
    let gates = ferrotel_core::featuregate::global();
    let notices = featuregates::apply(gates, &cli.feature_gates).map_err(anyhow::Error::msg)?;
    let mut stdout = std::io::stdout().lock();
    for notice in notices {
        writeln!(stdout, "{notice}")?;
    }
    match &cli.command {
        Some(Command::Components) => {
            stdout.write_all(describe_components(&build, &registry).as_bytes())?;
            return Ok(());
        }
        Some(Command::Featuregate { id }) => {
            let text = featuregates::describe(gates, id.as_deref()).map_err(anyhow::Error::msg)?;
            stdout.write_all(text.as_bytes())?;
            return Ok(());
        }
        Some(Command::PrintConfig { mode, format }) => {
            drop(stdout);
            return print_config(&cli, *mode, *format);
        }
        _ => {}
    }
    drop(stdout);
    let shutdown_timeout = ferrotel_config::GoDuration::parse(&cli.shutdown_timeout)
        .map_err(|e| anyhow::anyhow!("--shutdown-timeout: {e}"))?;
    let (doc, mut errors) = load(&cli)?;
    let log_queue = crate::logging::init_logging(&doc.service.telemetry.logs)
        .map_err(|e| anyhow::anyhow!("service.telemetry.logs: {e}"))?;
    for warning in &doc.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Components are created inside the runtime: some spawn helpers at creation.
        let log_exporters = match log_queue.map(|q| q.exporters(&registry)).transpose() {
            Ok(l) => l,
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        let service = reload::build(&doc, errors, &registry, build)?;
        if let Some(Command::Validate) = cli.command {
            eprintln!("The configuration is valid.");
            return Ok(());
        }
        let log_stop = tokio_util::sync::CancellationToken::new();
        let mut log_tasks = tokio::task::JoinSet::new();
        if let Some(l) = log_exporters {
            l.spawn(
                reload::resource(&doc, build),
                log_stop.clone(),
                &mut log_tasks,
            );
        }
        let supervisor =
            reload::Supervisor::new(move || load(&cli), registry, build, shutdown_timeout.0);
        let served = supervisor.serve(service, doc).await;
        // The last records (shutdown's) are sent before exit.
        log_stop.cancel();
        let flushed = async { while log_tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(5), flushed).await;
        served
    })
}
