//! The `transform` processor's configuration, as otelcol-contrib's transformprocessor reads it:
//! `error_mode` and `trace_statements` / `metric_statements` / `log_statements`, each a list
//! whose entries are either a statement (the flat style, its context inferred from its paths)
//! or a group (`context`, optional `conditions`, `statements`, optional `error_mode`).

use crate::ottl_mode::{error_mode, OttlErrorMode};
use ferrotel_config::choice::Choice;
use ferrotel_config::{Validate, Validator};
use ferrotel_ottl::ErrorMode;
use serde::{Deserialize, Serialize};

/// `processors.transform`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransformConfig {
    /// What a statement that fails does: `ignore` (the default since otelcol v0.156: logged, the
    /// next statement runs), `silent`, or `propagate` (the batch is refused).
    pub error_mode: Choice<OttlErrorMode>,
    /// Statements on traces: contexts resource, scope, span, spanevent.
    pub trace_statements: Vec<ContextStatements>,
    /// Statements on metrics: contexts resource, scope, metric, datapoint.
    pub metric_statements: Vec<ContextStatements>,
    /// Statements on logs: contexts resource, scope, log.
    pub log_statements: Vec<ContextStatements>,
    /// Statements on profiles (not supported: refused when not empty).
    pub profile_statements: Vec<ContextStatements>,
    /// otelcol's `flatten_data` for logs, behind its feature gate: refused when true.
    pub flatten_data: bool,
}

impl Default for TransformConfig {
    fn default() -> Self {
        TransformConfig {
            error_mode: Choice::Known(OttlErrorMode::Ignore),
            trace_statements: Vec::new(),
            metric_statements: Vec::new(),
            log_statements: Vec::new(),
            profile_statements: Vec::new(),
            flatten_data: false,
        }
    }
}

/// One entry of a `*_statements` list.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ContextStatements {
    /// A statement whose context is inferred from its paths.
    Flat(String),
    /// A group of statements in one context.
    Group(StatementGroup),
}

/// `context`, `conditions`, `statements`, `error_mode`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatementGroup {
    /// The context; inferred from the statements' paths when absent.
    pub context: Option<String>,
    /// The statements run only on items for which one of these holds.
    pub conditions: Vec<String>,
    pub statements: Vec<String>,
    /// Overrides the processor's error mode for this group.
    pub error_mode: Option<Choice<OttlErrorMode>>,
    /// Accepted: the groups here share nothing, so there is no cache to share.
    pub shared_cache: bool,
}

/// A group as written, whatever its style.
pub struct GroupRef<'c> {
    pub context: Option<&'c str>,
    pub conditions: &'c [String],
    pub statements: &'c [String],
    pub error_mode: Option<&'c Choice<OttlErrorMode>>,
}

impl ContextStatements {
    pub fn group(&self) -> GroupRef<'_> {
        match self {
            ContextStatements::Flat(s) => GroupRef {
                context: None,
                conditions: &[],
                statements: std::slice::from_ref(s),
                error_mode: None,
            },
            ContextStatements::Group(g) => GroupRef {
                context: g.context.as_deref(),
                conditions: &g.conditions,
                statements: &g.statements,
                error_mode: g.error_mode.as_ref(),
            },
        }
    }
}

impl TransformConfig {
    /// The processor's error mode (`None` after reporting an unknown one).
    pub fn mode(&self, v: &mut Validator<'_>) -> Option<ErrorMode> {
        error_mode(&self.error_mode, v)
    }
}

impl Validate for TransformConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.flatten_data {
            v.report_at(
                "flatten_data",
                "flatten_data is not supported (otelcol gates it behind \
                 transform.flatten.logs)",
            );
        }
        if !self.profile_statements.is_empty() {
            v.report_at(
                "profile_statements",
                "profile statements are not supported: the profile context is not implemented",
            );
        }
        super::Compiled::build(self, v);
    }
}
