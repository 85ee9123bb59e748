//! The command line: otelcol's flags and subcommands.

use clap::{Parser, Subcommand};

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
    /// Comma-delimited list of feature gate identifiers. Prefix with '-' to disable the
    /// feature. '+' or no prefix will enable the feature. Repeatable.
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
    /// Print the resolved configuration (sources merged, `${env:..}` expanded, `--set`
    /// applied); secrets are `[REDACTED]` unless `--mode unredacted`.
    #[command(alias = "print-initial-config")]
    PrintConfig {
        #[arg(long, value_enum, default_value_t = PrintMode::Redacted)]
        mode: PrintMode,
        #[arg(long, value_enum, default_value_t = PrintFormat::Yaml)]
        format: PrintFormat,
    },
    /// Display information about available feature gates and their status.
    Featuregate {
        /// One gate's details instead of the table of all.
        #[arg(value_name = "feature-id")]
        id: Option<String>,
    },
}

/// `print-config --mode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintMode {
    Redacted,
    Unredacted,
}

/// `print-config --format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintFormat {
    Yaml,
    Json,
}
