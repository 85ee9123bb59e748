//! Loading the configuration, then validating it or running it (see [`crate::reload`]).

use crate::cli::{Cli, Command};
use crate::reload;
use crate::{describe_components, BuildInfo, DEFAULT_CONFIG};
use anyhow::Context;
use ferrotel_config::{ConfigErrors, ConfigSource, Document};
use ferrotel_core::Registry;

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
    let (doc, errors) = load(&cli)?;
    crate::logging::init_logging(&doc.service.telemetry.logs.level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Components are created inside the runtime: some spawn helpers at creation.
        let service = reload::build(&doc, errors, &registry)?;
        if let Some(Command::Validate) = cli.command {
            eprintln!("The configuration is valid.");
            return Ok(());
        }
        let supervisor = reload::Supervisor::new(move || load(&cli), registry, shutdown_timeout.0);
        supervisor.serve(service, doc).await
    })
}
