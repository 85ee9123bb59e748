//! Validation of typed configs: every problem is collected with the path of the key it concerns,
//! and every extension a config refers to (`auth.authenticator`, `sending_queue.storage`) is
//! recorded with its path, so the engine can check it against `service.extensions`.
//!
//! A config never spells its own path: it reports relative to where it sits, and the
//! [`Validator`] it is handed knows the rest (`processors.batch/2`, then `.timeout`).
//!
//! ```
//! use ferrotel_config::{Validate, Validator, Findings};
//!
//! struct Retry { multiplier: f64 }
//! impl Validate for Retry {
//!     fn validate(&self, v: &mut Validator<'_>) {
//!         if self.multiplier < 0.0 {
//!             v.report_at("multiplier", "must be a non-negative number");
//!         }
//!     }
//! }
//!
//! struct Exporter { retry_on_failure: Retry }
//! impl Validate for Exporter {
//!     fn validate(&self, v: &mut Validator<'_>) {
//!         v.check("retry_on_failure", &self.retry_on_failure);
//!     }
//! }
//!
//! let findings = Findings::of("exporters.otlp/2", &Exporter { retry_on_failure: Retry { multiplier: -1.0 } });
//! assert_eq!(findings.errors[0].path, "exporters.otlp/2.retry_on_failure.multiplier");
//! ```

use crate::{ConfigError, ConfigErrors};
use std::fmt;

/// What an extension referenced by a config must offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Checks incoming requests (`auth.authenticator` of a receiver).
    ServerAuthenticator,
    /// Adds credentials to outgoing requests (`auth.authenticator` of an exporter).
    ClientAuthenticator,
    /// Stores data (`sending_queue.storage`, `storage`).
    Storage,
}

impl Capability {
    /// How otelcol's messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            Capability::ServerAuthenticator => "a server authenticator",
            Capability::ClientAuthenticator => "a client authenticator",
            Capability::Storage => "a storage extension",
        }
    }
}

/// One reference from a config to an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionUse {
    /// Full path of the key holding the id (`receivers.otlp.protocols.grpc.auth.authenticator`).
    pub path: String,
    /// The extension id as written (`bearertokenauth/in`).
    pub id: String,
    pub capability: Capability,
}

/// Everything validation found: the errors and the extension references.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub errors: Vec<ConfigError>,
    pub extensions: Vec<ExtensionUse>,
}

impl Findings {
    /// Validates `config`, which sits at `path`.
    pub fn of(path: &str, config: &impl Validate) -> Findings {
        let mut findings = Findings::default();
        config.validate(&mut Validator::new(path, &mut findings));
        findings
    }

    /// The errors, or the extension references when there were none.
    pub fn into_result(self) -> Result<Vec<ExtensionUse>, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(self.extensions)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// Where a config reports what it finds: a path and the [`Findings`] it adds to. Get a child for
/// a nested key with [`Validator::at`]; paths are joined with dots.
pub struct Validator<'a> {
    path: String,
    findings: &'a mut Findings,
}

impl<'a> Validator<'a> {
    /// A validator for the config at `path`.
    pub fn new(path: impl Into<String>, findings: &'a mut Findings) -> Self {
        Validator {
            path: path.into(),
            findings,
        }
    }

    /// The full path of this place (for messages that must quote it).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The validator of the nested key `key` (a field name, a map key or a list index).
    pub fn at(&mut self, key: impl fmt::Display) -> Validator<'_> {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        Validator {
            path,
            findings: self.findings,
        }
    }

    /// The validator of item `index` of the list at this path (`exporters[1]`, as serde's
    /// decoding errors write it).
    pub fn item(&mut self, index: usize) -> Validator<'_> {
        Validator {
            path: format!("{}[{index}]", self.path),
            findings: self.findings,
        }
    }

    /// A problem with the value at this path.
    pub fn report(&mut self, message: impl Into<String>) {
        self.findings
            .errors
            .push(ConfigError::new(self.path.clone(), message));
    }

    /// A problem with the nested key `key`.
    pub fn report_at(&mut self, key: impl fmt::Display, message: impl Into<String>) {
        self.at(key).report(message);
    }

    /// Validates the nested value `value` at `key`.
    pub fn check(&mut self, key: impl fmt::Display, value: &impl Validate) {
        value.validate(&mut self.at(key));
    }

    /// Records that the value at this path names the extension `id`, which must offer
    /// `capability`.
    pub fn uses_extension(&mut self, id: &str, capability: Capability) {
        self.findings.extensions.push(ExtensionUse {
            path: self.path.clone(),
            id: id.to_string(),
            capability,
        });
    }

    /// Adds errors that already carry full paths (from [`crate::decode`], say).
    pub fn extend(&mut self, errors: ConfigErrors) {
        self.findings.errors.extend(errors.0);
    }

    /// Whether any error was reported so far, here or anywhere else.
    pub fn has_errors(&self) -> bool {
        !self.findings.errors.is_empty()
    }
}

/// A config (or a part of one) that can check itself. The default accepts everything.
pub trait Validate {
    /// Reports every problem through `v`, relative to where this value sits.
    fn validate(&self, _v: &mut Validator<'_>) {}
}

impl<T: Validate> Validate for Option<T> {
    fn validate(&self, v: &mut Validator<'_>) {
        if let Some(t) = self {
            t.validate(v);
        }
    }
}

impl<T: Validate> Validate for Box<T> {
    fn validate(&self, v: &mut Validator<'_>) {
        (**self).validate(v);
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate(&self, v: &mut Validator<'_>) {
        for (i, t) in self.iter().enumerate() {
            t.validate(&mut v.item(i));
        }
    }
}

impl<K: fmt::Display, T: Validate> Validate for std::collections::BTreeMap<K, T> {
    fn validate(&self, v: &mut Validator<'_>) {
        for (k, t) in self {
            v.check(k, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Leaf(i64);
    impl Validate for Leaf {
        fn validate(&self, v: &mut Validator<'_>) {
            if self.0 < 0 {
                v.report("must not be negative");
            }
        }
    }
    struct Auth(String);
    impl Validate for Auth {
        fn validate(&self, v: &mut Validator<'_>) {
            v.at("authenticator")
                .uses_extension(&self.0, Capability::ServerAuthenticator);
        }
    }
    struct Root {
        leaves: Vec<Leaf>,
        auth: Option<Auth>,
    }
    impl Validate for Root {
        fn validate(&self, v: &mut Validator<'_>) {
            v.check("leaves", &self.leaves);
            v.check("protocols.grpc.auth", &self.auth);
        }
    }

    #[test]
    fn paths_come_from_where_the_value_sits() {
        let root = Root {
            leaves: vec![Leaf(1), Leaf(-1), Leaf(-2)],
            auth: Some(Auth("bearertokenauth/in".into())),
        };
        let f = Findings::of("receivers.otlp/2", &root);
        let paths: Vec<_> = f.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["receivers.otlp/2.leaves[1]", "receivers.otlp/2.leaves[2]"]
        );
        assert_eq!(
            f.extensions,
            [ExtensionUse {
                path: "receivers.otlp/2.protocols.grpc.auth.authenticator".into(),
                id: "bearertokenauth/in".into(),
                capability: Capability::ServerAuthenticator,
            }]
        );
        assert!(f.clone().into_result().is_err());
        let ok = Findings::of(
            "x",
            &Root {
                leaves: vec![],
                auth: None,
            },
        );
        assert_eq!(ok.into_result(), Ok(vec![]));
    }
}
