//! `connectors.routing`: otelcol's keys, defaults and validation messages.

use super::request::RequestCondition;
use ferrotel_config::{Signal, Validate, Validator};
use ferrotel_ottl::ErrorMode;
use serde::{Deserialize, Serialize};

/// `connectors.routing`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// What a route whose condition fails to evaluate does: `propagate` (the default: the
    /// request is refused with the error, nothing is routed), `ignore` or `silent` (the
    /// condition counts as false for that data, which goes on to the next routes and then the
    /// default pipelines).
    pub error_mode: String,
    /// Where data that no route matches goes; without them it is dropped.
    pub default_pipelines: Vec<String>,
    /// The routes, tried in order: data goes to the first route whose condition holds for it.
    pub table: Vec<RouteConfig>,
    /// Removed from otelcol in v0.120.0 (routes always match once); refused with a message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_once: Option<ferrotel_config::Value>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            error_mode: "propagate".into(),
            default_pipelines: Vec::new(),
            table: Vec::new(),
            match_once: None,
        }
    }
}

/// One route of `table`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// The OTTL context the condition is evaluated in: `resource` (the default: whole resource
    /// groups are routed), `span` (single spans), or `request` (the request's metadata).
    /// `metric`, `datapoint` and `log` are otelcol's too, not yet ferrotel's.
    pub context: String,
    /// `route() where <condition>`. One of `statement` and `condition` is required; not for
    /// the `request` context.
    pub statement: String,
    /// The condition alone (`attributes["env"] == "prod"`); required for the `request`
    /// context, whose grammar is only `request["<name>"] == "<value>"` (or `!=`).
    pub condition: String,
    /// The pipelines that get the data the route matches (`traces/prod`).
    pub pipelines: Vec<String>,
}

/// The context of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteContext {
    Resource,
    Span,
    Metric,
    DataPoint,
    Log,
    Request,
}

impl RouteContext {
    /// The context `name` stands for, or otelcol's message.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "" | "resource" => Ok(RouteContext::Resource),
            "span" => Ok(RouteContext::Span),
            "metric" => Ok(RouteContext::Metric),
            "datapoint" => Ok(RouteContext::DataPoint),
            "log" => Ok(RouteContext::Log),
            "request" => Ok(RouteContext::Request),
            _ => Err(format!("invalid context: {name}")),
        }
    }

    /// The name in messages and duplicate checks.
    pub fn name(self) -> &'static str {
        match self {
            RouteContext::Resource => "resource",
            RouteContext::Span => "span",
            RouteContext::Metric => "metric",
            RouteContext::DataPoint => "datapoint",
            RouteContext::Log => "log",
            RouteContext::Request => "request",
        }
    }
}

/// Parses a pipeline id (`traces/name`), with the reason it is not one.
pub fn pipeline_id(text: &str) -> Result<(Signal, String), String> {
    let (signal, name) = match text.split_once('/') {
        Some((s, n)) => (s.trim(), Some(n.trim())),
        None => (text.trim(), None),
    };
    if signal.is_empty() {
        return Err(match name {
            Some(_) => format!("in {text:?} id: the part before / should not be empty"),
            None => "id must not be empty".into(),
        });
    }
    if name == Some("") {
        return Err(format!(
            "in {text:?} id: the part after / should not be empty"
        ));
    }
    let signal = match signal {
        "traces" => Signal::Traces,
        "metrics" => Signal::Metrics,
        "logs" => Signal::Logs,
        "profiles" => Signal::Profiles,
        other => return Err(format!("in {text:?} id: unknown signal {other:?}")),
    };
    Ok((
        signal,
        name.map_or(signal.to_string(), |n| format!("{signal}/{n}")),
    ))
}

fn check_pipeline_ids(ids: &[String], v: &mut Validator<'_>) {
    for (i, id) in ids.iter().enumerate() {
        if let Err(e) = pipeline_id(id) {
            v.item(i).report(e);
        }
    }
}

impl Validate for RouteConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        match (self.statement.is_empty(), self.condition.is_empty()) {
            (true, true) => v.report("invalid route: no condition or statement provided"),
            (false, false) => v.report("invalid route: both condition and statement provided"),
            _ => {}
        }
        if self.pipelines.is_empty() {
            v.report_at("pipelines", "invalid route: no pipelines defined");
        }
        check_pipeline_ids(&self.pipelines, &mut v.at("pipelines"));
        match RouteContext::parse(&self.context) {
            Err(e) => v.report_at("context", e),
            Ok(RouteContext::Request)
                if !self.statement.is_empty() || self.condition.is_empty() =>
            {
                v.report_at("context", "\"request\" context requires a 'condition'")
            }
            Ok(RouteContext::Request) => {
                if let Err(e) = RequestCondition::parse(&self.condition) {
                    v.report_at("condition", e);
                }
            }
            Ok(_) => {}
        }
    }
}

impl Validate for RoutingConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if let Err(e) = ErrorMode::from_name(&self.error_mode) {
            v.report_at("error_mode", e);
        }
        if self.match_once.is_some() {
            v.report_at(
                "match_once",
                "`match_once` was deprecated in otelcol v0.116.0 and removed in v0.120.0: data \
                 always goes to the first route that matches it; remove the key",
            );
        }
        if self.table.is_empty() {
            v.report_at("table", "invalid routing table: the routing table is empty");
        }
        v.check("table", &self.table);
        check_pipeline_ids(&self.default_pipelines, &mut v.at("default_pipelines"));
    }
}
