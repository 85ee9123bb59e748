//! Feature gates, as otelcol's `featuregate` package: named switches with a lifecycle stage
//! that turn features on or off for the whole process.
//!
//! A gate is registered once with its stage: `alpha` gates start disabled, `beta` and `stable`
//! ones enabled, `deprecated` ones disabled. The command line changes them with
//! `--feature-gates` (comma lists, repeatable; `id` or `+id` enables, `-id` disables): a stable
//! gate cannot be disabled and a deprecated one cannot be enabled, and an unknown id is an
//! error listing the known ones. Code asks [`is_enabled`]. The process-wide registry
//! ([`global`]) holds ferrotel's own gates; a component may [`Registry::register`] its own
//! there, before the command line is parsed (a distribution's `main`, a kind crate's
//! `register` function).
//!
//! ```text
//! ferrotel --config config.yaml --feature-gates=service.profilesSupport
//! ferrotel featuregate                          # ID, Enabled, Stage, Description of every gate
//! ferrotel featuregate service.profilesSupport  # one gate's details
//! ```

use once_cell::sync::Lazy;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// Gate of the `profiles` signal: `profiles[/name]` pipelines and the OTLP profiles endpoints.
pub const PROFILES_SUPPORT: &str = "service.profilesSupport";

/// Where a gate is in its life, and so its default and what may be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// New; disabled unless enabled on the command line.
    Alpha,
    /// Well tested; enabled unless disabled on the command line.
    Beta,
    /// Always enabled; the gate is about to be removed.
    Stable,
    /// Always disabled; the gate is about to be removed.
    Deprecated,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Alpha => "Alpha",
            Stage::Beta => "Beta",
            Stage::Stable => "Stable",
            Stage::Deprecated => "Deprecated",
        })
    }
}

/// What registering or setting a gate can get wrong, in otelcol's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("invalid ID {0:?}: empty ID")]
    EmptyId(String),
    #[error("invalid ID {0:?}: invalid character(s) in ID")]
    InvalidId(String),
    #[error("failed to register {0:?}: gate is already registered")]
    AlreadyRegistered(String),
    #[error("no removal version set for {stage} gate {id:?}")]
    NoRemovalVersion { stage: Stage, id: String },
    #[error(
        "invalid version {version:?} for gate {id:?}: expected Major.Minor.Patch[-PreRelease]"
    )]
    InvalidVersion { id: String, version: String },
    #[error("toVersion {to:?} is before fromVersion {from:?}")]
    ToBeforeFrom { from: String, to: String },
    #[error("no such feature gate {id:?}. valid gates: [{}]", valid.join(" "))]
    Unknown { id: String, valid: Vec<String> },
    #[error("feature gate {0:?} is stable, can not be disabled")]
    StableCannotBeDisabled(String),
    #[error("feature gate {0:?} is deprecated, can not be enabled")]
    DeprecatedCannotBeEnabled(String),
    #[error("empty feature gate identifier at index {0}")]
    EmptyIdentifier(usize),
}

/// A gate to register: its id and stage, and what `featuregate` shows about it.
#[derive(Debug, Clone)]
pub struct GateSpec {
    id: String,
    stage: Stage,
    description: String,
    reference_url: String,
    from_version: Option<String>,
    to_version: Option<String>,
}

impl GateSpec {
    /// A gate `id` (ASCII letters, digits and dots) at `stage`.
    pub fn new(id: &str, stage: Stage) -> Self {
        GateSpec {
            id: id.to_string(),
            stage,
            description: String::new(),
            reference_url: String::new(),
            from_version: None,
            to_version: None,
        }
    }

    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_string();
        self
    }

    /// Where to read about the feature.
    pub fn reference_url(mut self, url: &str) -> Self {
        self.reference_url = url.to_string();
        self
    }

    /// The release that introduced the gate (`v0.112.0`).
    pub fn from_version(mut self, version: &str) -> Self {
        self.from_version = Some(version.to_string());
        self
    }

    /// The last release in which the gate may be used; required for stable and deprecated
    /// gates.
    pub fn to_version(mut self, version: &str) -> Self {
        self.to_version = Some(version.to_string());
        self
    }
}

/// A registered gate. Its facts are fixed; only whether it is enabled changes.
#[derive(Debug)]
pub struct Gate {
    id: String,
    stage: Stage,
    description: String,
    reference_url: String,
    from_version: Option<Version>,
    to_version: Option<Version>,
    enabled: AtomicBool,
}

impl Gate {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn stage(&self) -> Stage {
        self.stage
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn reference_url(&self) -> &str {
        &self.reference_url
    }
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }
    /// `v0.112.0`, if the gate says when it came.
    pub fn from_version(&self) -> Option<String> {
        self.from_version.as_ref().map(|v| format!("v{v}"))
    }
    /// The last release in which the gate may be used, if set.
    pub fn to_version(&self) -> Option<String> {
        self.to_version.as_ref().map(|v| format!("v{v}"))
    }
}

/// A release number, `Major.Minor.Patch[-PreRelease]` (the `v` prefix dropped), ordered by its
/// numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    numbers: [u64; 3],
    pre: String,
}

impl Version {
    fn parse(id: &str, s: &str) -> Result<Version, GateError> {
        let bad = || GateError::InvalidVersion {
            id: id.to_string(),
            version: s.to_string(),
        };
        let rest = s.strip_prefix('v').unwrap_or(s);
        let (core, pre) = rest.split_once('-').unwrap_or((rest, ""));
        let pre_ok = pre
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '~' | '.'));
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 || !pre_ok || (rest.contains('-') && pre.is_empty()) {
            return Err(bad());
        }
        let mut numbers = [0u64; 3];
        for (n, p) in numbers.iter_mut().zip(&parts) {
            *n = p.parse().map_err(|_| bad())?;
        }
        Ok(Version {
            numbers,
            pre: pre.to_string(),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.numbers;
        write!(f, "{a}.{b}.{c}")?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        Ok(())
    }
}

/// A set of gates. The process uses [`global`]; tests may build their own.
#[derive(Debug, Default)]
pub struct Registry {
    gates: RwLock<BTreeMap<String, Arc<Gate>>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a gate, enabled by default when beta or stable. Refuses a bad id or version, a
    /// stable or deprecated gate without `to_version`, and an id already registered.
    pub fn register(&self, spec: GateSpec) -> Result<Arc<Gate>, GateError> {
        let id = spec.id;
        if id.is_empty() {
            return Err(GateError::EmptyId(id));
        }
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(GateError::InvalidId(id));
        }
        let version = |v: &Option<String>| v.as_deref().map(|v| Version::parse(&id, v));
        let from_version = version(&spec.from_version).transpose()?;
        let to_version = version(&spec.to_version).transpose()?;
        if matches!(spec.stage, Stage::Stable | Stage::Deprecated) && to_version.is_none() {
            return Err(GateError::NoRemovalVersion {
                stage: spec.stage,
                id,
            });
        }
        if let (Some(from), Some(to)) = (&from_version, &to_version) {
            if to.numbers < from.numbers {
                return Err(GateError::ToBeforeFrom {
                    from: from.to_string(),
                    to: to.to_string(),
                });
            }
        }
        let gate = Arc::new(Gate {
            enabled: AtomicBool::new(matches!(spec.stage, Stage::Beta | Stage::Stable)),
            id: id.clone(),
            stage: spec.stage,
            description: spec.description,
            reference_url: spec.reference_url,
            from_version,
            to_version,
        });
        let mut gates = self.gates.write().unwrap_or_else(|e| e.into_inner());
        if gates.contains_key(&id) {
            return Err(GateError::AlreadyRegistered(id));
        }
        gates.insert(id, gate.clone());
        Ok(gate)
    }

    /// The gate `id`, if registered.
    pub fn get(&self, id: &str) -> Option<Arc<Gate>> {
        let gates = self.gates.read().unwrap_or_else(|e| e.into_inner());
        gates.get(id).cloned()
    }

    /// Whether the gate `id` is registered and enabled.
    pub fn is_enabled(&self, id: &str) -> bool {
        self.get(id).is_some_and(|g| g.is_enabled())
    }

    /// Every gate, by id.
    pub fn all(&self) -> Vec<Arc<Gate>> {
        let gates = self.gates.read().unwrap_or_else(|e| e.into_inner());
        gates.values().cloned().collect()
    }

    /// Enables or disables the gate `id`. Setting a stable gate on or a deprecated one off
    /// changes nothing and returns otelcol's notice that the gate is going away.
    pub fn set(&self, id: &str, enabled: bool) -> Result<Option<String>, GateError> {
        let Some(gate) = self.get(id) else {
            return Err(GateError::Unknown {
                id: id.to_string(),
                valid: self.all().iter().map(|g| g.id.clone()).collect(),
            });
        };
        let notice = |what: &str| {
            let to = gate.to_version.as_ref().map(ToString::to_string);
            let to = to.unwrap_or_default();
            format!(
                "Feature gate {id:?} is {what}. It will be removed in version {to} and continued \
                 use of the gate after version {to} will result in an error."
            )
        };
        match (gate.stage, enabled) {
            (Stage::Stable, false) => Err(GateError::StableCannotBeDisabled(id.to_string())),
            (Stage::Stable, true) => Ok(Some(notice("stable and already enabled"))),
            (Stage::Deprecated, true) => Err(GateError::DeprecatedCannotBeEnabled(id.to_string())),
            (Stage::Deprecated, false) => Ok(Some(notice("deprecated and already disabled"))),
            _ => {
                gate.enabled.store(enabled, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    /// Applies one `--feature-gates` value: a comma list of ids, `-id` disables, `+id` or `id`
    /// enables. Every entry is tried; the notices of those applied, or every error.
    pub fn apply_flag(&self, value: &str) -> Result<Vec<String>, Vec<GateError>> {
        if value.is_empty() {
            return Ok(vec![]);
        }
        let (mut notices, mut errors) = (vec![], vec![]);
        for (i, entry) in value.split(',').enumerate() {
            let (id, enabled) = match entry.as_bytes().first() {
                None => {
                    errors.push(GateError::EmptyIdentifier(i));
                    continue;
                }
                Some(b'-') => (&entry[1..], false),
                Some(b'+') => (&entry[1..], true),
                Some(_) => (entry, true),
            };
            match self.set(id, enabled) {
                Ok(notice) => notices.extend(notice),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(notices)
        } else {
            Err(errors)
        }
    }
}

/// The file_log receiver's `delete_after_read` needs this gate, as otelcol's filelog does.
pub const FILELOG_ALLOW_FILE_DELETION: &str = "filelog.allowFileDeletion";

/// file_log's `json_array_parser` operator needs this gate (beta: on unless disabled), as
/// otelcol's stanza does.
pub const LOGS_JSON_PARSER_ARRAY: &str = "logs.jsonParserArray";

/// file_log's `assign_keys` operator needs this gate (beta: on unless disabled).
pub const LOGS_ASSIGN_KEYS: &str = "logs.assignKeys";

static GLOBAL: Lazy<Registry> = Lazy::new(|| {
    let registry = Registry::new();
    let builtin = [
        GateSpec::new(PROFILES_SUPPORT, Stage::Alpha)
            .description("Controls whether profiles support can be enabled")
            .reference_url("https://github.com/open-telemetry/opentelemetry-collector/pull/11477")
            .from_version("v0.112.0"),
        GateSpec::new(FILELOG_ALLOW_FILE_DELETION, Stage::Alpha)
            .description("When enabled, allows usage of the `delete_after_read` setting.")
            .reference_url(
                "https://github.com/open-telemetry/opentelemetry-collector-contrib/issues/16314",
            ),
        GateSpec::new(LOGS_JSON_PARSER_ARRAY, Stage::Beta)
            .description("When enabled, allows usage of `json_array_parser`.")
            .reference_url(
                "https://github.com/open-telemetry/opentelemetry-collector-contrib/issues/30321",
            )
            .from_version("v0.93.0"),
        GateSpec::new(LOGS_ASSIGN_KEYS, Stage::Beta)
            .description("When enabled, allows usage of `assign_keys` transformer.")
            .reference_url(
                "https://github.com/open-telemetry/opentelemetry-collector-contrib/issues/30321",
            )
            .from_version("v0.93.0"),
    ];
    for spec in builtin {
        // The built-in specs are valid and distinct; the unit tests register each of them.
        let _ = registry.register(spec);
    }
    registry
});

/// The process-wide registry, with ferrotel's own gates.
pub fn global() -> &'static Registry {
    &GLOBAL
}

/// Whether the gate `id` of the process-wide registry is enabled (false for an unknown id).
pub fn is_enabled(id: &str) -> bool {
    global().is_enabled(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        let r = Registry::new();
        r.register(GateSpec::new("a.alpha", Stage::Alpha).from_version("v0.1.0"))
            .unwrap();
        r.register(GateSpec::new("b.beta", Stage::Beta)).unwrap();
        r.register(GateSpec::new("c.stable", Stage::Stable).to_version("v0.120.0"))
            .unwrap();
        r.register(GateSpec::new("d.deprecated", Stage::Deprecated).to_version("0.99.1"))
            .unwrap();
        r
    }

    #[test]
    fn stages_give_the_defaults() {
        let r = registry();
        assert!(!r.is_enabled("a.alpha"));
        assert!(r.is_enabled("b.beta"));
        assert!(r.is_enabled("c.stable"));
        assert!(!r.is_enabled("d.deprecated"));
        assert!(!r.is_enabled("nope"));
        let ids: Vec<_> = r.all().iter().map(|g| g.id().to_string()).collect();
        assert_eq!(ids, ["a.alpha", "b.beta", "c.stable", "d.deprecated"]);
    }

    #[test]
    fn flag_syntax_enables_and_disables() {
        let r = registry();
        assert_eq!(r.apply_flag("a.alpha,-b.beta"), Ok(vec![]));
        assert!(r.is_enabled("a.alpha"));
        assert!(!r.is_enabled("b.beta"));
        r.apply_flag("-a.alpha").unwrap();
        r.apply_flag("+b.beta").unwrap();
        assert!(!r.is_enabled("a.alpha"));
        assert!(r.is_enabled("b.beta"));
        assert_eq!(r.apply_flag(""), Ok(vec![]));
    }

    #[test]
    fn unknown_gate_lists_the_known_ones() {
        let r = registry();
        let errors = r.apply_flag("a.alpha,nope").unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "no such feature gate \"nope\". valid gates: [a.alpha b.beta c.stable d.deprecated]"
        );
        assert!(r.is_enabled("a.alpha"), "the valid entries still apply");
    }

    #[test]
    fn stable_and_deprecated_gates_cannot_change() {
        let r = registry();
        let errors = r.apply_flag("-c.stable,d.deprecated,,").unwrap_err();
        let texts: Vec<_> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "feature gate \"c.stable\" is stable, can not be disabled",
                "feature gate \"d.deprecated\" is deprecated, can not be enabled",
                "empty feature gate identifier at index 2",
                "empty feature gate identifier at index 3",
            ]
        );
        let notices = r.apply_flag("c.stable,-d.deprecated").unwrap();
        assert_eq!(
            notices,
            [
                "Feature gate \"c.stable\" is stable and already enabled. It will be removed in \
                 version 0.120.0 and continued use of the gate after version 0.120.0 will result \
                 in an error.",
                "Feature gate \"d.deprecated\" is deprecated and already disabled. It will be \
                 removed in version 0.99.1 and continued use of the gate after version 0.99.1 \
                 will result in an error.",
            ]
        );
        assert!(r.is_enabled("c.stable"));
        assert!(!r.is_enabled("d.deprecated"));
    }

    #[test]
    fn registration_is_checked() {
        let r = registry();
        let err = |spec| r.register(spec).unwrap_err().to_string();
        assert_eq!(
            err(GateSpec::new("a.alpha", Stage::Beta)),
            "failed to register \"a.alpha\": gate is already registered"
        );
        assert_eq!(
            err(GateSpec::new("", Stage::Beta)),
            "invalid ID \"\": empty ID"
        );
        assert_eq!(
            err(GateSpec::new("has space", Stage::Beta)),
            "invalid ID \"has space\": invalid character(s) in ID"
        );
        assert_eq!(
            err(GateSpec::new("x.stable", Stage::Stable)),
            "no removal version set for Stable gate \"x.stable\""
        );
        assert_eq!(
            err(GateSpec::new("x.v", Stage::Alpha).from_version("1.2")),
            "invalid version \"1.2\" for gate \"x.v\": expected Major.Minor.Patch[-PreRelease]"
        );
        assert_eq!(
            err(GateSpec::new("x.order", Stage::Alpha)
                .from_version("v0.10.0")
                .to_version("v0.9.0")),
            "toVersion \"0.9.0\" is before fromVersion \"0.10.0\""
        );
        let g = r
            .register(GateSpec::new("x.ok", Stage::Alpha).from_version("v1.2.3-rc.1"))
            .unwrap();
        assert_eq!(g.from_version().as_deref(), Some("v1.2.3-rc.1"));
        assert_eq!(g.to_version(), None);
    }

    #[test]
    fn the_global_registry_has_ferrotels_gates() {
        let g = global().get(PROFILES_SUPPORT).unwrap();
        assert_eq!(g.stage(), Stage::Alpha);
        assert_eq!(g.from_version().as_deref(), Some("v0.112.0"));
        assert!(!g.description().is_empty());
    }
}
