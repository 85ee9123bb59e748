//! The `ferrotel` collector: command line, configuration loading and the run loop, reusable by
//! custom distributions that bring their own components.
//!
//! ```text
//! ferrotel [--config FILE|env:VAR|yaml:INLINE]... [--set key=value]...   run (embedded default config without --config)
//! ferrotel validate --config FILE...                                     check the configuration and exit
//! ferrotel components                                                    list the built-in components
//! ```

pub mod components;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferrotel_config::{ConfigErrors, ConfigSource, Document};
use ferrotel_core::{Registry, Signal};
use ferrotel_engine::Service;
use std::time::Duration;

/// The configuration used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.yaml");

#[derive(Parser, Debug)]
#[command(
    name = "ferrotel",
    version,
    about = "A high-throughput, OpenTelemetry Collector compatible collector"
)]
pub struct Cli {
    /// Configuration source, repeatable; later ones deep-merge over earlier ones (lists replace).
    /// A path, `file:PATH`, `env:VAR` or `yaml:INLINE` (`yaml:processors::batch::timeout: 2s`).
    #[arg(long = "config", global = true)]
    pub config: Vec<String>,
    /// Override one value, e.g. `--set=processors.batch.timeout=2s`. Applied last.
    #[arg(long = "set", global = true)]
    pub set: Vec<String>,
    /// Accepted for compatibility with otelcol's command line; ferrotel has no feature gates.
    #[arg(long = "feature-gates", global = true)]
    pub feature_gates: Vec<String>,
    /// How long shutdown may take to drain accepted data (e.g. 30s).
    #[arg(long = "shutdown-timeout", default_value = "30s", global = true)]
    pub shutdown_timeout: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the configuration (every component's settings and the pipeline graph) and exit.
    Validate,
    /// List the components built into this binary.
    Components,
}

/// The merged document and its structural errors (reported together with component errors).
fn load(cli: &Cli) -> Result<(Document, ConfigErrors), ConfigErrors> {
    let sources: Vec<ConfigSource> = if cli.config.is_empty() {
        vec![ConfigSource::Text(DEFAULT_CONFIG.to_string())]
    } else {
        cli.config.iter().map(|c| ConfigSource::parse(c)).collect()
    };
    ferrotel_config::load_partial(&sources, &cli.set, &|k| std::env::var(k).ok())
}

/// Renders the `components` listing.
pub fn describe_components(registry: &Registry) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let signals = |s: &[Signal]| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let mut section = |title: &str, infos: Vec<ferrotel_core::FactoryInfo>| {
        let _ = writeln!(out, "{title}:");
        for i in infos {
            let alias = if i.aliases.is_empty() {
                String::new()
            } else {
                format!(" (alias: {})", i.aliases.join(", "))
            };
            let _ = writeln!(
                out,
                "  - name: {}{alias}\n    stability: {}\n    signals: [{}]\n    description: {}",
                i.type_name,
                i.stability.as_str(),
                signals(i.signals),
                i.description
            );
        }
    };
    section(
        "receivers",
        registry.receivers.iter().map(|f| f.info()).collect(),
    );
    section(
        "processors",
        registry.processors.iter().map(|f| f.info()).collect(),
    );
    section(
        "exporters",
        registry.exporters.iter().map(|f| f.info()).collect(),
    );
    section(
        "extensions",
        registry.extensions.iter().map(|f| f.info()).collect(),
    );
    out
}

fn init_logging(level: &str) {
    let level = match level {
        "dpanic" | "panic" | "fatal" => "error",
        l => l,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROTEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Runs the command line with the given components. Returns the process exit code.
pub fn main_with(registry: Registry) -> i32 {
    let cli = Cli::parse();
    match run(cli, registry) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    }
}

fn run(cli: Cli, registry: Registry) -> anyhow::Result<()> {
    if let Some(Command::Components) = cli.command {
        let mut stdout = std::io::stdout().lock();
        std::io::Write::write_all(&mut stdout, describe_components(&registry).as_bytes())?;
        return Ok(());
    }
    let shutdown_timeout = ferrotel_config::GoDuration::parse(&cli.shutdown_timeout)
        .map_err(|e| anyhow::anyhow!("--shutdown-timeout: {e}"))?;
    let (doc, mut errors) = load(&cli)?;
    init_logging(&doc.service.telemetry.logs.level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Components are created inside the runtime: some spawn helpers at creation.
        let service = match Service::build(&doc, &registry) {
            Ok(service) if errors.is_empty() => service,
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
        serve(service, shutdown_timeout.0).await
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
