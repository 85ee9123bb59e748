//! One factory shape for every kind of component, and the [`Registry`] that holds them.
//!
//! A component is a typed config (serde with `deny_unknown_fields`, a `Default` that is
//! otelcol's defaults, [`Validate`]) and a [`Factory`] that says what the component is and
//! builds it from that config. The framework does the rest: decoding with every error under
//! its full path, validation, the extensions the config refers to, the checks of pipelines
//! against the signals the factory supports, the deprecated-alias warning, and the conformance
//! tests every registered component gets (`collector/tests/conformance.rs`).
//!
//! ```
//! use ferrotel_core::{CreateContext, Factory, FactoryInfo, Processor, Registry, SignalProcessor, PerSignal, Stability};
//! use ferrotel_config::{ConfigErrors, Validate, Validator};
//!
//! #[derive(serde::Deserialize, serde::Serialize, Default)]
//! #[serde(deny_unknown_fields, default)]
//! struct NoopConfig { note: String }
//!
//! impl Validate for NoopConfig {
//!     fn validate(&self, v: &mut Validator<'_>) {
//!         if self.note.len() > 10 { v.report_at("note", "must be at most 10 characters"); }
//!     }
//! }
//!
//! struct Noop;
//! impl SignalProcessor for Noop {}
//!
//! struct NoopFactory;
//! impl Factory for NoopFactory {
//!     type Config = NoopConfig;
//!     type Component = Box<dyn Processor>;
//!     fn info(&self) -> FactoryInfo {
//!         FactoryInfo::new("noop", "Passes everything on.").all_signals(Stability::Alpha)
//!     }
//!     fn create(&self, _: &CreateContext, _: NoopConfig) -> Result<Box<dyn Processor>, ConfigErrors> {
//!         Ok(Box::new(PerSignal(Noop)))
//!     }
//! }
//!
//! let registry = Registry::default().with(NoopFactory).with(NoopFactory);
//! assert!(registry.problems()[0].contains("registered twice"));
//! ```

use crate::{
    Connector, Exporter, ExporterSettings, Extension, PerSignal, Processor, Receiver,
    SignalProcessor, Telemetry,
};
use ferrotel_config::{
    decode, decode_valid, ComponentId, ConfigError, ConfigErrors, ExtensionUse, Findings, Kind,
    Signal, Validate, Validator, Value,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::Notify;

/// How far along a component is, shown by `ferrotel components`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stability {
    Stable,
    Beta,
    Alpha,
    Development,
    Deprecated,
}

impl Stability {
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Stable => "stable",
            Stability::Beta => "beta",
            Stability::Alpha => "alpha",
            Stability::Development => "development",
            Stability::Deprecated => "deprecated",
        }
    }
}

const ALL_SIGNALS: [Signal; 3] = Signal::ALL;

/// What a component type is: its names, what it supports and how mature each part is.
#[derive(Debug, Clone)]
pub struct FactoryInfo {
    /// The type name in configs (`otlp_http`).
    pub type_name: &'static str,
    /// Older names still accepted, each with otelcol's deprecation warning (`otlphttp`).
    pub aliases: &'static [&'static str],
    pub description: &'static str,
    /// The component's own stability (what extensions show; pipelines components show theirs
    /// per signal).
    pub stability: Stability,
    /// The signals a receiver, processor or exporter takes, each with its stability.
    pub signals: Vec<(Signal, Stability)>,
    /// The (from, to) signal pairs a connector joins, each with its stability.
    pub connects: Vec<(Signal, Signal, Stability)>,
    /// A small valid config (YAML) for a component whose defaults alone are not valid (an
    /// exporter needs its endpoint); empty when the defaults are. The conformance tests
    /// create, start and stop the component with it, so it must bind only loopback port 0.
    pub example: &'static str,
}

impl FactoryInfo {
    /// A component with no signals yet (an extension as it is).
    pub fn new(type_name: &'static str, description: &'static str) -> Self {
        FactoryInfo {
            type_name,
            aliases: &[],
            description,
            stability: Stability::Alpha,
            signals: Vec::new(),
            connects: Vec::new(),
            example: "",
        }
    }

    /// A small valid config for components whose defaults are not valid alone.
    pub fn example(mut self, yaml: &'static str) -> Self {
        self.example = yaml;
        self
    }

    /// Deprecated names that still select this component.
    pub fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// The component's own stability.
    pub fn stability(mut self, stability: Stability) -> Self {
        self.stability = stability;
        self
    }

    /// Supports `signal` at `stability`.
    pub fn signal(mut self, signal: Signal, stability: Stability) -> Self {
        self.signals.push((signal, stability));
        if self.signals.len() == 1 || stability_rank(stability) < stability_rank(self.stability) {
            self.stability = stability;
        }
        self
    }

    /// Supports traces, metrics and logs, all at `stability`.
    pub fn all_signals(self, stability: Stability) -> Self {
        ALL_SIGNALS
            .iter()
            .fold(self, |info, &s| info.signal(s, stability))
    }

    /// A connector from `from` pipelines to `to` pipelines, at `stability`.
    pub fn connects(mut self, from: Signal, to: Signal, stability: Stability) -> Self {
        self.connects.push((from, to, stability));
        self.stability = stability;
        self
    }

    /// Whether a receiver, processor or exporter takes `signal`.
    pub fn supports(&self, signal: Signal) -> bool {
        self.signals.iter().any(|(s, _)| *s == signal)
    }

    /// Whether a connector joins `from` to `to`.
    pub fn joins(&self, from: Signal, to: Signal) -> bool {
        self.connects.iter().any(|(f, t, _)| *f == from && *t == to)
    }

    /// Whether `type_name` selects this component, by its name or an alias.
    pub fn answers_to(&self, type_name: &str) -> bool {
        self.type_name == type_name || self.aliases.contains(&type_name)
    }
}

/// Lower is less mature; a component's overall stability is its least mature signal's.
fn stability_rank(s: Stability) -> u8 {
    match s {
        Stability::Deprecated => 0,
        Stability::Development => 1,
        Stability::Alpha => 2,
        Stability::Beta => 3,
        Stability::Stable => 4,
    }
}

/// What every factory's `create` gets.
#[derive(Clone)]
pub struct CreateContext {
    pub id: ComponentId,
    /// Config path of the component (`processors.batch/2`). Report problems through
    /// [`CreateContext::error`] / [`CreateContext::error_at`] rather than spelling paths.
    pub path: String,
    pub telemetry: Telemetry,
    /// For processors: the pipeline's signal and name.
    pub signal: Option<Signal>,
    pub pipeline: Option<String>,
    /// For processors and connectors: notify to have the engine call `on_tick` now (e.g. a
    /// batch is full).
    pub wake: Arc<Notify>,
}

impl CreateContext {
    /// A context for the component `id` of `kind`, outside any pipeline.
    pub fn new(kind: Kind, id: ComponentId, telemetry: Telemetry) -> Self {
        CreateContext {
            path: format!("{}.{id}", kind.section()),
            id,
            telemetry,
            signal: None,
            pipeline: None,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The same component inside the pipeline `pipeline` of `signal`.
    pub fn in_pipeline(mut self, signal: Signal, pipeline: String) -> Self {
        self.signal = Some(signal);
        self.pipeline = Some(pipeline);
        self
    }

    /// A problem with the component's config as a whole, found while creating it.
    pub fn error(&self, message: impl Into<String>) -> ConfigErrors {
        ConfigError::new(self.path.clone(), message).into()
    }

    /// A problem with the key `key` of the component's config (`tls.ca_file`), found while
    /// creating it.
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> ConfigErrors {
        ConfigError::new(format!("{}.{key}", self.path), message).into()
    }

    /// A [`Validator`] at the component's path, for checks that only `create` can make
    /// (building a regex set; files are read at start, not here).
    pub fn validator<'a>(&self, findings: &'a mut Findings) -> Validator<'a> {
        Validator::new(self.path.clone(), findings)
    }
}

/// A component's typed config: decoded from YAML with unknown keys refused, a `Default` that is
/// otelcol's defaults, serialisable back (the conformance tests check that the defaults
/// round-trip), and [`Validate`]d. Implemented for every type with those traits.
pub trait ComponentConfig:
    DeserializeOwned + Serialize + Default + Validate + Send + Sync + 'static
{
}

impl<T> ComponentConfig for T where
    T: DeserializeOwned + Serialize + Default + Validate + Send + Sync + 'static
{
}

/// What a factory builds, which decides its kind.
pub trait Built: Sized + 'static {
    const KIND: Kind;
    #[doc(hidden)]
    fn catalog(registry: &mut Registry) -> &mut Catalog<Self>;
}

/// What an exporter factory builds: the exporter, and the exporterhelper settings the engine
/// wraps it in.
pub struct ExporterParts {
    pub exporter: Arc<dyn Exporter>,
    pub settings: ExporterSettings,
}

macro_rules! built {
    ($ty:ty, $kind:ident, $field:ident) => {
        impl Built for $ty {
            const KIND: Kind = Kind::$kind;
            fn catalog(registry: &mut Registry) -> &mut Catalog<Self> {
                &mut registry.$field
            }
        }
    };
}
built!(Box<dyn Receiver>, Receiver, receivers);
built!(Box<dyn Processor>, Processor, processors);
built!(ExporterParts, Exporter, exporters);
built!(Box<dyn Extension>, Extension, extensions);
built!(Box<dyn Connector>, Connector, connectors);

/// The one factory shape: a config type, what it builds, a description and `create`.
/// Register it with [`Registry::with`]; everything else is the framework's.
pub trait Factory: Send + Sync + 'static {
    type Config: ComponentConfig;
    /// `Box<dyn Receiver>`, `Box<dyn Processor>`, [`ExporterParts`], `Box<dyn Extension>` or
    /// `Box<dyn Connector>`.
    type Component: Built;
    fn info(&self) -> FactoryInfo;
    /// Builds the component from a decoded, validated config. Binds nothing, starts nothing
    /// and reads no file (TLS, tokens, htpasswd): `validate` calls it too, and otelcol's
    /// `validate` reads none, so files are read at start. Errors found here are reported
    /// through [`CreateContext::error_at`].
    fn create(
        &self,
        ctx: &CreateContext,
        config: Self::Config,
    ) -> Result<Self::Component, ConfigErrors>;
}

/// A [`Factory`] with its config type erased, as the registry and the engine hold it.
///
/// Its methods are named apart from [`Factory`]'s so that both traits can be in scope.
pub trait AnyFactory<C>: Send + Sync {
    fn describe(&self) -> FactoryInfo;
    /// The default config, as YAML.
    fn default_config(&self) -> Result<Value, String>;
    /// Decodes `raw` and serialises the typed config again: what the component reads from it,
    /// defaults filled in.
    fn normalize(&self, path: &str, raw: &Value) -> Result<Value, ConfigErrors>;
    /// Decodes and validates `raw` (the section at `path`); returns the extensions it uses.
    fn check(&self, path: &str, raw: &Value) -> Result<Vec<ExtensionUse>, ConfigErrors>;
    /// Decodes, validates and creates.
    fn create_from(&self, ctx: &CreateContext, raw: &Value) -> Result<C, ConfigErrors>;
}

impl<F: Factory> AnyFactory<F::Component> for F {
    fn describe(&self) -> FactoryInfo {
        Factory::info(self)
    }

    fn default_config(&self) -> Result<Value, String> {
        serde_yaml_ng::to_value(F::Config::default()).map_err(|e| e.to_string())
    }

    fn normalize(&self, path: &str, raw: &Value) -> Result<Value, ConfigErrors> {
        let config: F::Config = decode(path, raw)?;
        serde_yaml_ng::to_value(config).map_err(|e| ConfigError::new(path, e.to_string()).into())
    }

    fn check(&self, path: &str, raw: &Value) -> Result<Vec<ExtensionUse>, ConfigErrors> {
        decode_valid::<F::Config>(path, raw).map(|(_, uses)| uses)
    }

    fn create_from(&self, ctx: &CreateContext, raw: &Value) -> Result<F::Component, ConfigErrors> {
        let (config, _) = decode_valid::<F::Config>(&ctx.path, raw)?;
        Factory::create(self, ctx, config)
    }
}

/// The factories of one kind.
pub struct Catalog<C> {
    factories: Vec<Arc<dyn AnyFactory<C>>>,
}

impl<C> Default for Catalog<C> {
    fn default() -> Self {
        Catalog {
            factories: Vec::new(),
        }
    }
}

impl<C> Clone for Catalog<C> {
    fn clone(&self) -> Self {
        Catalog {
            factories: self.factories.clone(),
        }
    }
}

impl<C> Catalog<C> {
    /// The factory `type_name` selects, by name or alias.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn AnyFactory<C>>> {
        self.factories
            .iter()
            .find(|f| f.describe().answers_to(type_name))
    }

    /// Every factory, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn AnyFactory<C>>> {
        self.factories.iter()
    }

    /// Every factory's info, in registration order.
    pub fn infos(&self) -> Vec<FactoryInfo> {
        self.factories.iter().map(|f| f.describe()).collect()
    }

    /// The sorted type names, for "valid values" messages.
    pub fn type_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self
            .factories
            .iter()
            .map(|f| f.describe().type_name)
            .collect();
        names.sort_unstable();
        names
    }

    /// Copies the factory of `stock` that answers to `type_name`, if any; true when found.
    fn adopt(&mut self, stock: &Catalog<C>, type_name: &str, problems: &mut Vec<String>) -> bool {
        let Some(factory) = stock.get(type_name) else {
            return false;
        };
        let info = factory.describe();
        if self.clashes(&info).is_empty() {
            self.factories.push(factory.clone());
        } else {
            problems.push(format!("\"{type_name}\" is registered twice"));
        }
        true
    }

    /// The names of `info` already taken by another factory of this kind.
    fn clashes(&self, info: &FactoryInfo) -> Vec<&'static str> {
        std::iter::once(info.type_name)
            .chain(info.aliases.iter().copied())
            .filter(|name| self.get(name).is_some())
            .collect()
    }
}

/// Every component type a distribution knows: one [`Catalog`] per kind. Registering a type
/// name or alias twice is refused (the first stays, and [`Registry::problems`] says so; the
/// engine refuses to build from a registry with problems) unless the second registration says
/// it replaces the first, with [`Registry::replacing`].
#[derive(Default, Clone)]
pub struct Registry {
    pub receivers: Catalog<Box<dyn Receiver>>,
    pub processors: Catalog<Box<dyn Processor>>,
    pub exporters: Catalog<ExporterParts>,
    pub extensions: Catalog<Box<dyn Extension>>,
    pub connectors: Catalog<Box<dyn Connector>>,
    problems: Vec<String>,
}

impl Registry {
    /// Registers `factory`; a name or alias already taken is a problem, and the earlier
    /// registration stays.
    pub fn with<F: Factory>(mut self, factory: F) -> Self {
        let info = Factory::info(&factory);
        let catalog = F::Component::catalog(&mut self);
        let clashes = catalog.clashes(&info);
        if clashes.is_empty() {
            catalog.factories.push(Arc::new(factory));
        } else {
            let kind = F::Component::KIND.singular();
            let names = clashes.join("\", \"");
            self.problems.push(format!(
                "{kind} type \"{}\" is registered twice: \"{names}\" is already taken (to replace a built-in {kind}, register it with `replacing`)",
                info.type_name
            ));
        }
        self
    }

    /// Registers `factory` in place of every factory of its kind that answers to its type
    /// name or one of its aliases (a distribution's own `batch`).
    pub fn replacing<F: Factory>(mut self, factory: F) -> Self {
        let info = Factory::info(&factory);
        let catalog = F::Component::catalog(&mut self);
        catalog.factories.retain(|f| {
            let other = f.describe();
            !(info.answers_to(other.type_name) || other.aliases.iter().any(|a| info.answers_to(a)))
        });
        catalog.factories.push(Arc::new(factory));
        self
    }

    /// Registers, from `stock`, every factory that answers to `type_name` (whatever its
    /// kind); a name `stock` does not have, or one already taken here, is a problem.
    pub fn with_from(mut self, stock: &Registry, type_name: &str) -> Self {
        let found = self
            .receivers
            .adopt(&stock.receivers, type_name, &mut self.problems)
            | self
                .processors
                .adopt(&stock.processors, type_name, &mut self.problems)
            | self
                .exporters
                .adopt(&stock.exporters, type_name, &mut self.problems)
            | self
                .connectors
                .adopt(&stock.connectors, type_name, &mut self.problems)
            | self
                .extensions
                .adopt(&stock.extensions, type_name, &mut self.problems);
        if !found {
            self.problems
                .push(format!("no stock component is named \"{type_name}\""));
        }
        self
    }

    /// Decodes and validates `raw`, the section at `path` of a component of `kind` and type
    /// `type_name`, with the factory that type selects (`None`: no such factory); returns the
    /// extensions it uses.
    pub fn check(
        &self,
        kind: Kind,
        type_name: &str,
        path: &str,
        raw: &Value,
    ) -> Option<Result<Vec<ExtensionUse>, ConfigErrors>> {
        match kind {
            Kind::Receiver => self.receivers.get(type_name).map(|f| f.check(path, raw)),
            Kind::Processor => self.processors.get(type_name).map(|f| f.check(path, raw)),
            Kind::Exporter => self.exporters.get(type_name).map(|f| f.check(path, raw)),
            Kind::Connector => self.connectors.get(type_name).map(|f| f.check(path, raw)),
            Kind::Extension => self.extensions.get(type_name).map(|f| f.check(path, raw)),
        }
    }

    /// Registration problems (duplicates); empty when the registry is usable.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The info of every factory, with the kind, in registration order.
    pub fn all_infos(&self) -> Vec<(Kind, FactoryInfo)> {
        let tag = |k: Kind, v: Vec<FactoryInfo>| v.into_iter().map(move |i| (k, i));
        tag(Kind::Receiver, self.receivers.infos())
            .chain(tag(Kind::Processor, self.processors.infos()))
            .chain(tag(Kind::Exporter, self.exporters.infos()))
            .chain(tag(Kind::Connector, self.connectors.infos()))
            .chain(tag(Kind::Extension, self.extensions.infos()))
            .collect()
    }
}

/// A ready [`Factory`] for a [`SignalProcessor`] made from a typed config `C`: decoding,
/// validation and error paths are the framework's, `build` may add its own errors through the
/// [`CreateContext`]. Handles all three signals unless [`Self::signals`] says otherwise.
///
/// ```
/// use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
/// use ferrotel_core::{pdata, PipelineError, RequestMeta, SignalProcessor, SignalProcessorFactory};
///
/// #[derive(serde::Deserialize, serde::Serialize, Default)]
/// #[serde(deny_unknown_fields, default)]
/// struct RenameConfig { to: String }
/// impl ferrotel_config::Validate for RenameConfig {}
///
/// struct Rename(String);
///
/// impl SignalProcessor for Rename {
///     fn traces(&self, req: &mut ExportTraceServiceRequest, _: &RequestMeta) -> Result<(), PipelineError> {
///         pdata::for_each_span_mut(&mut req.resource_spans, |_, span| span.name = self.0.clone());
///         Ok(())
///     }
/// }
///
/// let factory = SignalProcessorFactory::new("rename", "Renames every span.", |c: RenameConfig, _| Ok(Rename(c.to)));
/// assert_eq!(ferrotel_core::Factory::info(&factory).type_name, "rename");
/// ```
pub struct SignalProcessorFactory<C, P> {
    info: FactoryInfo,
    #[allow(clippy::type_complexity)]
    build: Box<dyn Fn(C, &CreateContext) -> Result<P, ConfigErrors> + Send + Sync>,
}

impl<C, P> SignalProcessorFactory<C, P> {
    /// A factory for the processor type `type_name` (its key in the YAML), alpha on every
    /// signal.
    pub fn new(
        type_name: &'static str,
        description: &'static str,
        build: impl Fn(C, &CreateContext) -> Result<P, ConfigErrors> + Send + Sync + 'static,
    ) -> Self {
        SignalProcessorFactory {
            info: FactoryInfo::new(type_name, description).all_signals(Stability::Alpha),
            build: Box::new(build),
        }
    }

    /// Restricts the signals the processor may be used for (checked against pipelines).
    pub fn signals(mut self, signals: &[Signal]) -> Self {
        let stability = self.info.stability;
        self.info.signals = signals.iter().map(|&s| (s, stability)).collect();
        self
    }

    /// Sets the stability shown by `ferrotel components` (default alpha).
    pub fn stability(mut self, stability: Stability) -> Self {
        self.info.stability = stability;
        for s in &mut self.info.signals {
            s.1 = stability;
        }
        self
    }
}

impl<C, P> Factory for SignalProcessorFactory<C, P>
where
    C: ComponentConfig,
    P: SignalProcessor + 'static,
{
    type Config = C;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        self.info.clone()
    }

    fn create(&self, ctx: &CreateContext, config: C) -> Result<Box<dyn Processor>, ConfigErrors> {
        Ok(Box::new(PerSignal((self.build)(config, ctx)?)))
    }
}
