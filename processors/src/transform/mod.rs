//! The `transform` processor (otelcol-contrib's transformprocessor): OTTL statements that
//! change traces, metrics and logs, compiled once at config load (see `ferrotel_ottl`).
//! Groups run in the order written, each over every item of its context in the batch; a
//! signal no statement touches passes through still encoded.
//!
//! ```yaml
//! processors:
//!   transform:
//!     error_mode: ignore
//!     trace_statements:
//!       - context: span
//!         statements:
//!           - delete_key(attributes, "demo.payment.card_cvv") where attributes["demo.payment.card_cvv"] != nil
//!           - set(attributes["user.hash"], SHA256(attributes["user.email"])) where attributes["user.email"] != nil
//!           - replace_pattern(attributes["demo.payment.card_number"], "^\\d{4}-\\d{4}-\\d{4}-", "****-****-****-")
//!       - set(resource.attributes["deployment.environment"], "prod")
//!     log_statements:
//!       - context: log
//!         conditions: ['severity_number < SEVERITY_NUMBER_INFO']
//!         statements: ['set(attributes["debug"], true)']
//! ```
//!
//! Error modes as otelcol's: under `ignore` (the default, as otelcol's since v0.156) a statement
//! that fails is logged and the next statement runs; under `silent` it is not logged; under
//! `propagate` the batch is refused with the statement named.

mod config;
mod run;

pub use config::{ContextStatements, StatementGroup, TransformConfig};

use ferrotel_config::{ConfigErrors, Findings, Validator};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::{
    process_decoded, Batch, CreateContext, Factory, FactoryInfo, Form, PipelineError, Processor,
    RequestMeta, Signal, SignalProcessor, Stability,
};
use ferrotel_ottl::infer::{self, Candidate, Hints};
use ferrotel_ottl::{
    ContextMut, DataPointContext, ErrorMode, LogContext, MetricContext, ResourceContext,
    ScopeContext, SpanContext, SpanEventContext, Statements,
};
use run::{LogGroup, MetricGroup, TraceGroup};

/// The compiled statement groups of each signal.
pub struct Compiled {
    traces: Vec<TraceGroup>,
    metrics: Vec<MetricGroup>,
    logs: Vec<LogGroup>,
}

/// Compiles one group in context `C`; every error is reported at `v`.
fn compile<C: ContextMut>(
    group: &config::GroupRef<'_>,
    mode: ErrorMode,
) -> Result<Statements<C>, Vec<String>> {
    Statements::<C>::new(group.statements, group.conditions, mode)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

/// Compiles a group in the context it names, or else the one otelcol infers from its statements'
/// and conditions' paths (`ferrotel_ottl::infer`), every path then prefixed with a context.
fn compile_group<G>(
    group: &config::GroupRef<'_>,
    mode: ErrorMode,
    cands: &[Candidate],
    contexts: &[(&str, Builder<G>)],
) -> Result<G, Vec<String>> {
    let name = match group.context {
        Some("instrumentation_scope") => "scope",
        Some(name) => name,
        None => infer_group(group, cands).map_err(|e| vec![e])?,
    };
    let (_, build) = contexts.iter().find(|(c, _)| *c == name).ok_or_else(|| {
        let valid: Vec<&str> = contexts.iter().map(|(c, _)| *c).collect();
        vec![format!(
            "unknown context {name:?}: valid contexts here are {valid:?}"
        )]
    })?;
    build(group, mode)
}

/// The context a group without one infers to, as otelcol's parser collection does it.
fn infer_group(group: &config::GroupRef<'_>, cands: &[Candidate]) -> Result<&'static str, String> {
    let mut hints = Hints::default();
    for text in group.statements {
        let parsed = ferrotel_ottl::parse_statement(text).map_err(|e| {
            ferrotel_ottl::Error {
                kind: "statement",
                text: text.clone(),
                message: e.to_string(),
            }
            .to_string()
        })?;
        hints.merge(Hints::of_statement(&parsed));
    }
    for text in group.conditions {
        let parsed = ferrotel_ottl::parse_condition(text).map_err(|e| {
            ferrotel_ottl::Error {
                kind: "condition",
                text: text.clone(),
                message: e.to_string(),
            }
            .to_string()
        })?;
        hints.merge(Hints::of_condition(&parsed));
    }
    let name = infer::infer_context(&hints, cands)
        .map_err(|e| e.message("statements", group.statements, cands))?;
    if let Some(cand) = cands.iter().find(|c| c.name == name) {
        infer::check_path_contexts(&hints, cand)?;
    }
    Ok(name)
}

impl Compiled {
    /// Compiles every group of `cfg`, reporting each failure at its entry; `None` when one
    /// fails.
    pub fn build(cfg: &TransformConfig, v: &mut Validator<'_>) -> Option<Self> {
        let mode = cfg.mode(v);
        let traces = groups(
            &cfg.trace_statements,
            "trace_statements",
            mode,
            v,
            &[
                ("resource", |g, m| {
                    compile::<ResourceContext>(g, m).map(TraceGroup::Resource)
                }),
                ("scope", |g, m| {
                    compile::<ScopeContext>(g, m).map(TraceGroup::Scope)
                }),
                ("span", |g, m| {
                    compile::<SpanContext>(g, m).map(TraceGroup::Span)
                }),
                ("spanevent", |g, m| {
                    compile::<SpanEventContext>(g, m).map(TraceGroup::SpanEvent)
                }),
            ],
        );
        let metrics = groups(
            &cfg.metric_statements,
            "metric_statements",
            mode,
            v,
            &[
                ("resource", |g, m| {
                    compile::<ResourceContext>(g, m).map(MetricGroup::Resource)
                }),
                ("scope", |g, m| {
                    compile::<ScopeContext>(g, m).map(MetricGroup::Scope)
                }),
                ("metric", |g, m| {
                    compile::<MetricContext>(g, m).map(MetricGroup::Metric)
                }),
                ("datapoint", |g, m| {
                    compile::<DataPointContext>(g, m).map(MetricGroup::DataPoint)
                }),
            ],
        );
        let logs = groups(
            &cfg.log_statements,
            "log_statements",
            mode,
            v,
            &[
                ("resource", |g, m| {
                    compile::<ResourceContext>(g, m).map(LogGroup::Resource)
                }),
                ("scope", |g, m| {
                    compile::<ScopeContext>(g, m).map(LogGroup::Scope)
                }),
                ("log", |g, m| compile::<LogContext>(g, m).map(LogGroup::Log)),
            ],
        );
        Some(Compiled {
            traces: traces?,
            metrics: metrics?,
            logs: logs?,
        })
    }
}

type Builder<G> = fn(&config::GroupRef<'_>, ErrorMode) -> Result<G, Vec<String>>;

/// Compiles the groups of the list at `key`.
fn groups<G>(
    list: &[ContextStatements],
    key: &str,
    mode: Option<ErrorMode>,
    v: &mut Validator<'_>,
    contexts: &[(&str, Builder<G>)],
) -> Option<Vec<G>> {
    let mut out = Vec::new();
    let cands = match key {
        "trace_statements" => infer::TRACES,
        "metric_statements" => infer::METRICS,
        _ => infer::LOGS,
    };
    let mut ok = mode.is_some();
    for (i, entry) in list.iter().enumerate() {
        let group = entry.group();
        let mut at = crate::entry(v, key, i);
        let group_mode = match group.error_mode {
            Some(m) => crate::ottl_mode::error_mode(m, &mut at),
            None => mode,
        };
        let Some(group_mode) = group_mode else {
            ok = false;
            continue;
        };
        match compile_group(&group, group_mode, cands, contexts) {
            Ok(g) => out.push(g),
            Err(errors) => {
                ok = false;
                for e in errors {
                    at.report(e);
                }
            }
        }
    }
    ok.then_some(out)
}

/// The processor.
pub struct TransformProcessor {
    compiled: Compiled,
}

impl Processor for TransformProcessor {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        if self.form(batch.signal()) == Form::Untouched {
            out.push(batch);
            return Ok(());
        }
        process_decoded(self, batch, out)
    }
    fn form(&self, signal: Signal) -> Form {
        let untouched = match signal {
            Signal::Traces => self.compiled.traces.is_empty(),
            Signal::Metrics => self.compiled.metrics.is_empty(),
            Signal::Logs => self.compiled.logs.is_empty(),
            Signal::Profiles => true,
        };
        if untouched {
            Form::Untouched
        } else {
            Form::Decoded
        }
    }
}

fn failed(e: ferrotel_ottl::EvalError) -> PipelineError {
    PipelineError::Permanent(e.to_string())
}

impl SignalProcessor for TransformProcessor {
    fn traces(
        &self,
        req: &mut ExportTraceServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for g in &self.compiled.traces {
            g.run(req).map_err(failed)?;
        }
        Ok(())
    }
    fn metrics(
        &self,
        req: &mut ExportMetricsServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for g in &self.compiled.metrics {
            g.run(req).map_err(failed)?;
        }
        Ok(())
    }
    fn logs(
        &self,
        req: &mut ExportLogsServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for g in &self.compiled.logs {
            g.run(req).map_err(failed)?;
        }
        Ok(())
    }
}

/// Factory for `transform`.
pub struct TransformProcessorFactory;

impl Factory for TransformProcessorFactory {
    type Config = TransformConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "transform",
            "Changes telemetry with OTTL statements (set, delete_key, replace_pattern, ...).",
        )
        .all_signals(Stability::Beta)
        .example("trace_statements: ['set(span.attributes[\"env\"], \"prod\")']")
    }

    fn create(
        &self,
        _: &CreateContext,
        cfg: TransformConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        let mut findings = Findings::default();
        let compiled = Compiled::build(&cfg, &mut Validator::new("", &mut findings));
        match compiled {
            Some(compiled) => Ok(Box::new(TransformProcessor { compiled })),
            None => Err(ConfigErrors(findings.errors)),
        }
    }
}

#[cfg(test)]
mod tests;
