//! The routing table compiled: each route's matcher (a request condition or an OTTL condition
//! of its context) and its pipelines. A `condition` is the statement `route() where
//! <condition>`, as otelcol normalises it, so errors name the statement either way.

use super::config::{pipeline_id, RouteConfig, RouteContext, RoutingConfig};
use super::request::RequestCondition;
use ferrotel_config::{ConfigErrors, Findings};
use ferrotel_core::CreateContext;
use ferrotel_ottl::compile::{bool_expr, BoolExpr};
use ferrotel_ottl::{
    ast, Context, DataPointContext, Error, LogContext, MetricContext, ResourceContext, SpanContext,
};

/// What a route matches on.
#[derive(Debug)]
pub enum Matcher {
    Request(RequestCondition),
    Resource(BoolExpr<ResourceContext>),
    Span(BoolExpr<SpanContext>),
    Metric(BoolExpr<MetricContext>),
    DataPoint(BoolExpr<DataPointContext>),
    Log(BoolExpr<LogContext>),
}

/// One compiled route.
#[derive(Debug)]
pub struct Route {
    pub matcher: Matcher,
    /// The statement as evaluated (for error messages).
    pub statement: String,
    /// The pipelines, normalised (`traces/a`), as the engine names them.
    pub pipelines: Vec<String>,
}

/// The statement a route evaluates: its `statement`, or its `condition` as
/// `route() where <condition>`.
fn statement_text(item: &RouteConfig) -> String {
    if item.condition.is_empty() {
        item.statement.clone()
    } else {
        format!("route() where {}", item.condition)
    }
}

/// Compiles `route() [where <condition>]` for context `C`; anything but `route()` as the
/// editor is refused.
fn compile<C: Context>(text: &str) -> Result<BoolExpr<C>, Error> {
    let fail = |message: String| Error {
        kind: "statement",
        text: text.to_string(),
        message,
    };
    let parsed = ferrotel_ottl::parse_statement(text).map_err(|e| fail(e.to_string()))?;
    let ast::Statement { editor, condition } = parsed;
    if editor.name != "route" {
        return Err(fail(format!(
            "undefined function {:?}: the routing connector's statements are route() only",
            editor.name
        )));
    }
    if !editor.args.is_empty() || !editor.keys.is_empty() {
        return Err(fail(format!(
            "incorrect number of arguments. Expected: 0 Received: {}",
            editor.args.len()
        )));
    }
    match condition {
        None => Ok(BoolExpr::Const(true)),
        Some(c) => bool_expr::<C>(&c).map_err(fail),
    }
}

/// The matcher of a route whose config validated.
fn matcher(item: &RouteConfig, text: &str) -> Result<Matcher, String> {
    fn c<C: Context>(text: &str) -> Result<BoolExpr<C>, String> {
        compile::<C>(text).map_err(|e| e.to_string())
    }
    Ok(match RouteContext::parse(&item.context)? {
        RouteContext::Request => Matcher::Request(RequestCondition::parse(&item.condition)?),
        RouteContext::Resource => Matcher::Resource(c(text)?),
        RouteContext::Span => Matcher::Span(c(text)?),
        RouteContext::Metric => Matcher::Metric(c(text)?),
        RouteContext::DataPoint => Matcher::DataPoint(c(text)?),
        RouteContext::Log => Matcher::Log(c(text)?),
    })
}

/// Normalised pipeline ids of a config that validated.
pub fn pipeline_names(ids: &[String]) -> Vec<String> {
    ids.iter()
        .filter_map(|id| pipeline_id(id).ok().map(|(_, name)| name))
        .collect()
}

/// Compiles the table; every route that does not compile is reported at its `statement` or
/// `condition`. A route repeating an earlier one's context and statement is left out with
/// otelcol's warning.
pub fn routes(ctx: &CreateContext, cfg: &RoutingConfig) -> Result<Vec<Route>, ConfigErrors> {
    let mut findings = Findings::default();
    let mut v = ctx.validator(&mut findings);
    let mut out: Vec<(&str, Route)> = Vec::new();
    for (i, item) in cfg.table.iter().enumerate() {
        let text = statement_text(item);
        let key = if item.condition.is_empty() {
            "statement"
        } else {
            "condition"
        };
        let matcher = match matcher(item, &text) {
            Ok(m) => m,
            Err(e) => {
                v.at("table").item(i).report_at(key, e);
                continue;
            }
        };
        let context = RouteContext::parse(&item.context).map_or("", |c| c.name());
        if out
            .iter()
            .any(|(c, r)| *c == context && r.statement == text)
        {
            tracing::warn!(
                connector = %ctx.id,
                "Statement {text:?} already exists in the routing table, the route with target pipeline(s) {:?} will be ignored.",
                item.pipelines.join(", ")
            );
            continue;
        }
        let pipelines = pipeline_names(&item.pipelines);
        out.push((
            context,
            Route {
                matcher,
                statement: text,
                pipelines,
            },
        ));
    }
    Findings::into_result(findings).map(|_| out.into_iter().map(|(_, r)| r).collect())
}
