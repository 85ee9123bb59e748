//! The `ferrotel` collector: command line, configuration loading and the run loop, reusable by
//! custom distributions that bring their own components.
//!
//! A custom distribution is a `main` that adds its components to the stock ones and runs the
//! same command line (`--config`, `validate`, `components`, signals and shutdown):
//!
//! ```no_run
//! use ferrotel::prelude::*;
//!
//! #[derive(Deserialize, Serialize, Default)]
//! #[serde(deny_unknown_fields, default)]
//! struct MarkConfig { value: String }
//! impl Validate for MarkConfig {}
//!
//! struct Mark(String);
//!
//! impl SignalProcessor for Mark {
//!     fn traces(&self, req: &mut ExportTraceServiceRequest, _: &RequestMeta) -> Result<(), PipelineError> {
//!         pdata::for_each_span_mut(&mut req.resource_spans, |_, span| pdata::upsert(&mut span.attributes, "mark", pdata::str_value(&self.0)));
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     ferrotel::Collector::builder()
//!         .named("my-collector", "1.0.0", "ferrotel with a mark processor")
//!         .with(SignalProcessorFactory::new("mark", "Marks every span.", |c: MarkConfig, _| Ok(Mark(c.value))))
//!         .run()
//! }
//! ```
//!
//! ```text
//! ferrotel [--config FILE|env:VAR|yaml:INLINE]... [--set key=value]...   run (embedded default config without --config)
//! ferrotel validate --config FILE...                                     check the configuration and exit
//! ferrotel components                                                    list the built-in components
//! ferrotel featuregate [id]                                              list the feature gates, or one
//! ferrotel --feature-gates=service.profilesSupport,-other.gate ...        enable (or `-` disable) gates
//! ```

mod allocator;
pub mod cli;
pub mod components;
pub mod featuregates;
mod logging;
mod reload;
mod run;

/// The extension guide, `docs/extending.md`; its Rust examples compile as doctests, so the guide
/// cannot drift from the API.
#[doc = include_str!("../../docs/extending.md")]
pub mod guide {}

pub use cli::{Cli, Command};
use ferrotel_core::Registry;

/// The allocator of the `ferrotel` binary (mimalloc). A custom distribution gets the same cost
/// per span by declaring it in its `main.rs`:
/// `#[global_allocator] static ALLOCATOR: ferrotel::Allocator = ferrotel::Allocator;`
/// (bench/RESULTS.md, "Allocator": 13-45% more spans per CPU-second than glibc's malloc in the
/// processing pipelines).
pub use allocator::Allocator;

/// The configuration used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.yaml");

/// What a distribution calls itself in `--version` and `components`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInfo {
    pub command: &'static str,
    pub version: &'static str,
    pub description: &'static str,
}

impl Default for BuildInfo {
    fn default() -> Self {
        BuildInfo {
            command: "ferrotel",
            version: env!("CARGO_PKG_VERSION"),
            description: "A high-throughput, OpenTelemetry Collector compatible collector",
        }
    }
}

/// `text` as a YAML scalar: plain when YAML reads it back as the same string, else
/// double-quoted (a JSON string is a valid YAML double-quoted scalar).
fn yaml_scalar(text: &str) -> std::borrow::Cow<'_, str> {
    let special_start =
        text.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace());
    let needs_quotes = text.is_empty()
        || special_start
        || text.ends_with([' ', ':'])
        || text.contains(": ")
        || text.contains(" #");
    match needs_quotes {
        true => serde_json::to_string(text).map_or(text.into(), Into::into),
        false => text.into(),
    }
}

/// Renders the `components` listing, in the shape of otelcol's: the build info, then each kind
/// with every type's deprecated aliases and its stability per signal (per signal pair for
/// connectors).
pub fn describe_components(build: &BuildInfo, registry: &Registry) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "buildinfo:\n  command: {}\n  description: {}\n  version: {}",
        build.command,
        yaml_scalar(build.description),
        build.version
    );
    let mut current = None;
    for (kind, info) in registry.all_infos() {
        if current != Some(kind) {
            let _ = writeln!(out, "{}:", kind.section());
            current = Some(kind);
        }
        let _ = writeln!(out, "  - name: {}", info.type_name);
        if !info.aliases.is_empty() {
            let _ = writeln!(out, "    deprecated_aliases: [{}]", info.aliases.join(", "));
        }
        let _ = writeln!(out, "    description: {}", yaml_scalar(info.description));
        let _ = writeln!(out, "    stability:");
        if kind == ferrotel_config::Kind::Extension {
            let _ = writeln!(out, "      extension: {}", info.stability.as_str());
        }
        for (signal, stability) in &info.signals {
            let _ = writeln!(out, "      {signal}: {}", stability.as_str());
        }
        for (from, to, stability) in &info.connects {
            let _ = writeln!(out, "      {from}_to_{to}: {}", stability.as_str());
        }
    }
    out
}

/// What a custom processor, receiver or exporter needs, in one `use ferrotel::prelude::*;`.
/// Part of the extension API (semantic versioning, see CHANGELOG.md).
pub mod prelude {
    pub use async_trait::async_trait;
    pub use ferrotel_config::{
        Capability, ConfigError, ConfigErrors, GoDuration, QueueConfig, RetryConfig, Validate,
        Validator, Value,
    };
    pub use ferrotel_core::proto::collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
        trace::v1::ExportTraceServiceRequest,
    };
    pub use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
    pub use ferrotel_core::proto::logs::v1::LogRecord;
    pub use ferrotel_core::proto::resource::v1::Resource;
    pub use ferrotel_core::proto::trace::v1::Span;
    pub use ferrotel_core::{
        format, pdata, AnyFactory, Batch, Connector, Consumer, CreateContext, Data, ExportError,
        Exporter, ExporterParts, ExporterSettings, ExporterStartContext, Extension,
        ExtensionContext, Factory, FactoryInfo, PerSignal, PipelineError, Processor, Receiver,
        ReceiverContext, Registry, RequestMeta, Routed, Signal, SignalProcessor,
        SignalProcessorFactory, Stability, StartError, Telemetry,
    };
    pub use serde::{Deserialize, Serialize};
}

/// Entry point for custom distributions: `Collector::builder()` starts from the stock
/// components, `Collector::bare()` from none; add yours, name the distribution and `run()`.
pub struct Collector;

impl Collector {
    /// A builder with every built-in component registered.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder {
            registry: components::builtin(),
            build: BuildInfo::default(),
        }
    }

    /// A builder with no component at all: add back stock ones by type name with
    /// [`CollectorBuilder::with_stock`] (or depend on the kind crates with only the cargo
    /// features you want and register them with their `register` function).
    pub fn bare() -> CollectorBuilder {
        CollectorBuilder {
            registry: Registry::default(),
            build: BuildInfo::default(),
        }
    }
}

/// The components and the name of a distribution; see [`Collector`].
pub struct CollectorBuilder {
    registry: Registry,
    build: BuildInfo,
}

impl CollectorBuilder {
    /// Adds a component of any kind. A type name or alias that is already registered is an
    /// error when the distribution runs: use [`CollectorBuilder::replacing`] to replace a
    /// stock component.
    pub fn with<F: ferrotel_core::Factory>(mut self, factory: F) -> Self {
        self.registry = self.registry.with(factory);
        self
    }

    /// Adds a component in place of the stock one(s) with the same type name or alias.
    pub fn replacing<F: ferrotel_core::Factory>(mut self, factory: F) -> Self {
        self.registry = self.registry.replacing(factory);
        self
    }

    /// Adds the stock components named `type_names` (of whatever kind), e.g.
    /// `["otlp", "batch", "debug"]`. An unknown name is an error when the distribution runs.
    pub fn with_stock(mut self, type_names: &[&str]) -> Self {
        let stock = components::builtin();
        for name in type_names {
            self.registry = self.registry.with_from(&stock, name);
        }
        self
    }

    /// The command name, version and description shown by `--version` and `components`.
    pub fn named(
        mut self,
        command: &'static str,
        version: &'static str,
        description: &'static str,
    ) -> Self {
        self.build = BuildInfo {
            command,
            version,
            description,
        };
        self
    }

    /// The registered components (for tests: build a `Service` from YAML with them).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Runs the command line (from the process arguments) with these components.
    pub fn run(self) -> std::process::ExitCode {
        std::process::ExitCode::from(main_with_build(self.build, self.registry) as u8)
    }
}

/// Runs the `ferrotel` command line with the given components. Returns the process exit code.
pub fn main_with(registry: Registry) -> i32 {
    main_with_build(BuildInfo::default(), registry)
}

fn main_with_build(build: BuildInfo, registry: Registry) -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command()
        .name(build.command)
        .bin_name(build.command)
        .version(build.version)
        .about(build.description);
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run::run(cli, build, registry) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod yaml_scalar_tests {
    use super::yaml_scalar;

    #[test]
    fn every_text_reads_back_as_itself() {
        for text in [
            "Batches data by item count and time",
            "Jaeger spans: api_v2 gRPC, Thrift over HTTP",
            "- a list?",
            "ends with a colon:",
            "a # comment",
            "\"quoted\"",
            "",
        ] {
            let line = format!("k: {}", yaml_scalar(text));
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&line).unwrap();
            assert_eq!(v["k"].as_str(), Some(text), "{line}");
        }
        assert_eq!(yaml_scalar("plain text"), "plain text");
    }
}
