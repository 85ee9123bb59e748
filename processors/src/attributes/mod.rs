//! The `attributes` processor: applies attribute actions (see [`crate::attraction`]) to span
//! attributes (traces), log record attributes (logs) and data point attributes (metrics),
//! optionally only to the items an `include` block matches and an `exclude` block does not
//! (include is checked first).
//!
//! ```yaml
//! processors:
//!   attributes/pii:
//!     include:
//!       match_type: regexp
//!       services: ["^checkout"]
//!     exclude:
//!       match_type: strict
//!       span_names: ["healthcheck"]
//!     actions:
//!       - { key: user.email, action: hash }
//!       - { pattern: '^http\.request\.header\.', action: delete }
//!       - { key: tenant, from_context: metadata.x-tenant, action: upsert }
//! ```

use crate::attraction::{ActionConfig, AttrProc};
use crate::matching::{MatchProperties, Matcher};
use ferrotel_config::{ConfigErrors, Findings, Validate, Validator};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::{
    pdata, CreateContext, Factory, FactoryInfo, PerSignal, PipelineError, Processor, RequestMeta,
    Signal, SignalProcessor, Stability,
};
use serde::{Deserialize, Serialize};

/// `processors.attributes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributesConfig {
    /// Actions applied in order (required, at least one).
    pub actions: Vec<ActionConfig>,
    /// Apply only to items matching these properties.
    pub include: Option<MatchProperties>,
    /// Do not apply to items matching these properties.
    pub exclude: Option<MatchProperties>,
}

impl Validate for AttributesConfig {
    /// Everything but the pipeline signal's requirements on `include` / `exclude` (see
    /// [`AttributesConfig::check_signal`]).
    fn validate(&self, v: &mut Validator<'_>) {
        if self.actions.is_empty() {
            v.report_at("actions", "missing required field \"actions\"");
        }
        AttrProc::compile(&self.actions, v, "actions");
        v.check("include", &self.include);
        v.check("exclude", &self.exclude);
    }
}

impl AttributesConfig {
    /// Reports `include` / `exclude` properties that cannot select items of `signal`, as
    /// otelcol does when it creates the processor for a pipeline of that signal.
    pub fn check_signal(&self, signal: Signal, v: &mut Validator<'_>) {
        for (key, mp) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(msg) = mp.as_ref().and_then(|mp| mp.signal_problem(signal)) {
                v.report_at(key, msg);
            }
        }
    }
}

/// The processor.
pub struct AttributesProcessor {
    actions: AttrProc,
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl AttributesProcessor {
    /// The processor of a validated config.
    pub fn new(cfg: &AttributesConfig) -> Self {
        AttributesProcessor {
            actions: AttrProc::new(&cfg.actions),
            include: cfg.include.as_ref().and_then(Matcher::new),
            exclude: cfg.exclude.as_ref().and_then(Matcher::new),
        }
    }

    /// True when the item is outside include or inside exclude.
    fn skip(&self, matches: impl Fn(&Matcher) -> bool) -> bool {
        self.include.as_ref().is_some_and(|m| !matches(m))
            || self.exclude.as_ref().is_some_and(&matches)
    }
}

impl SignalProcessor for AttributesProcessor {
    fn traces(
        &self,
        req: &mut ExportTraceServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for rs in &mut req.resource_spans {
            let res = rs.resource.as_ref();
            for ss in &mut rs.scope_spans {
                let scope = ss.scope.as_ref();
                for span in &mut ss.spans {
                    if !self.skip(|m| m.span(res, scope, span)) {
                        self.actions.process(&mut span.attributes, meta);
                    }
                }
            }
        }
        Ok(())
    }

    fn logs(
        &self,
        req: &mut ExportLogsServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for rl in &mut req.resource_logs {
            let res = rl.resource.as_ref();
            for sl in &mut rl.scope_logs {
                let scope = sl.scope.as_ref();
                for rec in &mut sl.log_records {
                    if !self.skip(|m| m.log(res, scope, rec)) {
                        self.actions.process(&mut rec.attributes, meta);
                    }
                }
            }
        }
        Ok(())
    }

    fn metrics(
        &self,
        req: &mut ExportMetricsServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        pdata::for_each_datapoint_attrs_mut(&mut req.resource_metrics, |res, metric, attrs| {
            if !self.skip(|m| m.metric(res, &metric.name)) {
                self.actions.process(attrs, meta);
            }
        });
        Ok(())
    }
}

/// Factory for `attributes`.
pub struct AttributesProcessorFactory;

impl Factory for AttributesProcessorFactory {
    type Config = AttributesConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "attributes",
            "Inserts, updates, deletes, hashes, extracts or converts item attributes.",
        )
        .all_signals(Stability::Beta)
        .example("actions: [{key: env, value: test, action: upsert}]")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: AttributesConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        if let Some(signal) = ctx.signal {
            let mut findings = Findings::default();
            cfg.check_signal(signal, &mut ctx.validator(&mut findings));
            findings.into_result()?;
        }
        Ok(Box::new(PerSignal(AttributesProcessor::new(&cfg))))
    }
}

#[cfg(test)]
mod tests;
