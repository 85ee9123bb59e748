//! The `routing` connector (otelcol contrib's routingconnector): sends each part of the data
//! from its upstream pipelines to the downstream pipelines of the first route whose OTTL
//! condition holds for it, and what no route matches to `default_pipelines` (dropped when there
//! are none). Routes are tried in table order; the data a route takes is not seen by later
//! routes. In the `resource` context (the default) whole resource groups are routed; in the
//! `span`, `metric`, `datapoint` and `log` contexts single records, regrouped under copies of
//! their resource and scope (and metric, for data points); in the
//! `request` context the whole request, by its metadata (`request["X-Tenant"] == "acme"`: gRPC
//! metadata or HTTP headers, which ferrotel's receivers keep with `include_metadata: true`).
//! Traces to traces, metrics to metrics, logs to logs. A downstream refusal reaches the client
//! that sent the data, as every connector's does.
//!
//! ```yaml
//! connectors:
//!   routing:
//!     default_pipelines: [traces/other]
//!     error_mode: ignore
//!     table:
//!       - condition: attributes["env"] == "prod"          # resource context
//!         pipelines: [traces/prod]
//!       - context: span
//!         statement: route() where status.code == STATUS_CODE_ERROR
//!         pipelines: [traces/errors]
//!       - context: request
//!         condition: request["X-Tenant"] == "acme"
//!         pipelines: [traces/acme]
//! service:
//!   pipelines:
//!     traces/in:     { receivers: [otlp], exporters: [routing] }
//!     traces/prod:   { receivers: [routing], exporters: [otlp/prod] }
//!     traces/errors: { receivers: [routing], exporters: [otlp/errors] }
//!     traces/acme:   { receivers: [routing], exporters: [otlp/acme] }
//!     traces/other:  { receivers: [routing], exporters: [otlp/other] }
//! ```

mod config;
mod request;
mod route;
pub mod split;
#[cfg(test)]
mod tests;

pub use config::{RouteConfig, RoutingConfig};

use ferrotel_config::{ConfigErrors, PipelineId};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::{
    Batch, Connector, CreateContext, Data, Delivery, Factory, FactoryInfo, PipelineError,
    RequestMeta, Routed, Signal, Stability,
};
use ferrotel_ottl::compile::BoolExpr;
use ferrotel_ottl::{Context, DataPointItem, ErrorMode, EvalError, LogItem, MetricItem, SpanItem};
use route::{Matcher, Route};
use split::{move_groups_if, move_points_if, move_records_if, Groups};
use std::sync::Arc;

/// A signal's request as routes see it: resource groups, and the record-level contexts of the
/// signal (span for traces, metric and datapoint for metrics, log for logs). A route of a
/// context the signal lacks matches nothing, as in otelcol.
trait Routable: Groups {
    /// Moves what a record-level matcher holds for from `from` to `to`; the first evaluation
    /// error is kept in `error` (the record counts as unmatched).
    fn move_records(
        _m: &Matcher,
        _from: &mut Self,
        _to: &mut Self,
        _error: &mut Option<EvalError>,
    ) {
    }
}

impl Routable for ExportTraceServiceRequest {
    fn move_records(m: &Matcher, from: &mut Self, to: &mut Self, error: &mut Option<EvalError>) {
        if let Matcher::Span(c) = m {
            move_records_if(from, to, |span, scope, resource| {
                holds(
                    c,
                    SpanItem {
                        cache: &[],
                        span,
                        scope,
                        resource,
                    },
                    error,
                )
            });
        }
    }
}

impl Routable for ExportMetricsServiceRequest {
    fn move_records(m: &Matcher, from: &mut Self, to: &mut Self, error: &mut Option<EvalError>) {
        match m {
            Matcher::Metric(c) => move_records_if(from, to, |metric, scope, resource| {
                let item = MetricItem {
                    cache: &[],
                    metric,
                    scope,
                    resource,
                };
                holds(c, item, error)
            }),
            Matcher::DataPoint(c) => move_points_if(from, to, |point, metric, scope, resource| {
                let metric = MetricItem {
                    cache: &[],
                    metric,
                    scope,
                    resource,
                };
                holds(
                    c,
                    DataPointItem {
                        cache: &[],
                        point,
                        metric,
                    },
                    error,
                )
            }),
            _ => {}
        }
    }
}

impl Routable for ExportLogsServiceRequest {
    fn move_records(m: &Matcher, from: &mut Self, to: &mut Self, error: &mut Option<EvalError>) {
        if let Matcher::Log(c) = m {
            move_records_if(from, to, |log, scope, resource| {
                holds(
                    c,
                    LogItem {
                        cache: &[],
                        log,
                        scope,
                        resource,
                    },
                    error,
                )
            });
        }
    }
}

/// Whether `c` holds for `item`; an evaluation error counts as no match and is kept.
fn holds<'a, C: Context>(
    c: &'a BoolExpr<C>,
    item: C::Item<'a>,
    error: &mut Option<EvalError>,
) -> bool {
    c.eval(item).unwrap_or_else(|e| {
        error.get_or_insert(e);
        false
    })
}

/// The routed parts of one request: per pipeline list, the data for it.
struct Outputs<'r, R> {
    parts: Vec<(&'r [String], R)>,
}

impl<'r, R: Groups> Outputs<'r, R> {
    /// Adds `data` for `pipelines`, merged with what the same pipelines already got.
    fn add(&mut self, pipelines: &'r [String], mut data: R) {
        if data.groups().is_empty() || pipelines.is_empty() {
            return;
        }
        match self.parts.iter_mut().find(|(p, _)| *p == pipelines) {
            Some((_, part)) => part.groups_mut().append(data.groups_mut()),
            None => self.parts.push((pipelines, data)),
        }
    }
}

/// The routing connector.
pub struct Routing {
    routes: Vec<Route>,
    default_pipelines: Vec<String>,
    error_mode: ErrorMode,
    id: String,
}

impl Routing {
    /// Under `propagate`, the error refuses the request (retryable, as otelcol's receivers
    /// answer a plain error); otherwise the data it concerned went on unmatched.
    fn on_error(&self, route: &Route, e: EvalError) -> Result<(), PipelineError> {
        let message = format!("failed to execute statement: {}, {e}", route.statement);
        match self.error_mode {
            ErrorMode::Propagate => Err(PipelineError::Refused {
                message,
                retry_after: None,
            }),
            ErrorMode::Ignore => {
                tracing::debug!(connector = %self.id, "{message}");
                Ok(())
            }
            ErrorMode::Silent => Ok(()),
        }
    }

    /// Runs `rest` through `routes`, each taking what it matches of what earlier ones left.
    fn split<'r, R: Routable>(
        &'r self,
        mut rest: R,
        meta: &RequestMeta,
        routes: &'r [Route],
    ) -> Result<Outputs<'r, R>, PipelineError> {
        let mut out = Outputs { parts: Vec::new() };
        for route in routes {
            if rest.groups().is_empty() {
                break;
            }
            let mut matched = R::default();
            let mut error = None;
            match &route.matcher {
                Matcher::Request(c) if c.matches(meta) => std::mem::swap(&mut rest, &mut matched),
                Matcher::Request(_) => {}
                Matcher::Resource(c) => move_groups_if(&mut rest, &mut matched, |g| {
                    holds(c, R::resource_item(g), &mut error)
                }),
                m => R::move_records(m, &mut rest, &mut matched, &mut error),
            }
            if let Some(e) = error {
                self.on_error(route, e)?;
            }
            out.add(&route.pipelines, matched);
        }
        out.add(&self.default_pipelines, rest);
        Ok(out)
    }

    fn emit<R: Routable>(
        &self,
        data: R,
        meta: &Arc<RequestMeta>,
        routes: &[Route],
        deliveries: &[Delivery],
        out: &mut Vec<Routed>,
    ) -> Result<(), PipelineError> {
        for (pipelines, part) in self.split(data, meta, routes)?.parts {
            let batch = deliveries
                .iter()
                .fold(Batch::from_data(part.into_data(), meta.clone()), |b, d| {
                    b.with_delivery(d.clone())
                });
            out.push(Routed {
                batch,
                pipelines: Some(pipelines.to_vec()),
            });
        }
        Ok(())
    }

    /// The request route among the leading ones (those before any OTTL route) that matches
    /// `meta`, if any, and the routes after the leading ones that did not.
    fn leading_requests(&self, meta: &RequestMeta) -> (&[Route], Option<&Route>) {
        for (i, route) in self.routes.iter().enumerate() {
            match &route.matcher {
                Matcher::Request(c) if c.matches(meta) => return (&[], Some(route)),
                Matcher::Request(_) => {}
                _ => return (&self.routes[i..], None),
            }
        }
        (&[], None)
    }

    /// Decodes the batch and runs it through `routes`.
    fn decoded(
        &self,
        batch: Batch,
        routes: &[Route],
        out: &mut Vec<Routed>,
    ) -> Result<(), PipelineError> {
        let meta = batch.meta.clone();
        let deliveries = batch.deliveries().to_vec();
        let data = batch.into_data().map_err(|e| PipelineError::Status {
            code: ferrotel_core::error::code::INVALID_ARGUMENT,
            message: e.0,
        })?;
        match data {
            Data::Traces(t) => self.emit(t, &meta, routes, &deliveries, out),
            Data::Metrics(m) => self.emit(m, &meta, routes, &deliveries, out),
            Data::Logs(l) => self.emit(l, &meta, routes, &deliveries, out),
            Data::Profiles(_) => Ok(()),
        }
    }

    /// The batch, untouched (its encoding kept), to `pipelines`; nothing when there are none.
    fn whole(batch: Batch, pipelines: &[String], out: &mut Vec<Routed>) {
        if !pipelines.is_empty() {
            out.push(Routed {
                batch,
                pipelines: Some(pipelines.to_vec()),
            });
        }
    }
}

impl Connector for Routing {
    fn consume(&self, batch: Batch, out: &mut Vec<Routed>) -> Result<(), PipelineError> {
        // A request with items goes whole, undecoded, when leading request routes decide it.
        if batch.item_count() == 0 {
            return self.decoded(batch, &self.routes, out);
        }
        let (undecided, taken) = self.leading_requests(&batch.meta);
        match taken {
            Some(route) => Self::whole(batch, &route.pipelines, out),
            None if undecided.is_empty() => Self::whole(batch, &self.default_pipelines, out),
            None => return self.decoded(batch, undecided, out),
        }
        Ok(())
    }

    /// otelcol's router refuses a table or default naming a pipeline it does not feed:
    /// `pipeline not found: missing consumer: "traces/x"`, per signal the connector takes.
    fn check_pipelines(
        &self,
        upstream: &[PipelineId],
        downstream: &[PipelineId],
    ) -> Result<(), String> {
        let named = self
            .routes
            .iter()
            .flat_map(|r| &r.pipelines)
            .chain(&self.default_pipelines);
        let mut missing = Vec::new();
        for name in named {
            let fed = downstream.iter().any(|d| d.to_string() == *name);
            let signal = config::pipeline_id(name).ok().map(|(s, _)| s);
            let ok = fed && upstream.iter().all(|u| Some(u.signal) == signal);
            if !ok && !missing.contains(name) {
                missing.push(name.clone());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let each: Vec<String> = missing
            .iter()
            .map(|m| format!("missing consumer: {m:?}"))
            .collect();
        Err(format!("pipeline not found: {}", each.join("; ")))
    }
}

/// Builds `routing` connectors.
pub struct RoutingConnectorFactory;

impl Factory for RoutingConnectorFactory {
    type Config = RoutingConfig;
    type Component = Box<dyn Connector>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "routing",
            "Routes data to pipelines by OTTL conditions on resources, spans or request metadata",
        )
        .example(
            "table: [{condition: 'attributes[\"env\"] == \"prod\"', pipelines: [traces/prod]}]",
        )
        .connects(Signal::Traces, Signal::Traces, Stability::Alpha)
        .connects(Signal::Metrics, Signal::Metrics, Stability::Alpha)
        .connects(Signal::Logs, Signal::Logs, Stability::Alpha)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: RoutingConfig,
    ) -> Result<Box<dyn Connector>, ConfigErrors> {
        let error_mode =
            ErrorMode::from_name(&cfg.error_mode).map_err(|e| ctx.error_at("error_mode", e))?;
        Ok(Box::new(Routing {
            routes: route::routes(ctx, &cfg)?,
            default_pipelines: route::pipeline_names(&cfg.default_pipelines),
            error_mode,
            id: ctx.id.to_string(),
        }))
    }
}
