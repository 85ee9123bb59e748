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

pub mod filter;

use crate::attraction::{ActionConfig, AttrProc};
use ferrotel_config::{decode, ConfigError, ConfigErrors, Value};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::{
    pdata, CreateContext, FactoryInfo, PerSignal, PipelineError, Processor, ProcessorFactory,
    RequestMeta, Signal, SignalProcessor, Stability,
};
use filter::{MatchProperties, Matcher};
use serde::Deserialize;

/// `processors.attributes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributesConfig {
    /// Actions applied in order (required, at least one).
    pub actions: Vec<ActionConfig>,
    /// Apply only to items matching these properties.
    pub include: Option<MatchProperties>,
    /// Do not apply to items matching these properties.
    pub exclude: Option<MatchProperties>,
}

/// The processor.
pub struct AttributesProcessor {
    actions: AttrProc,
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl AttributesProcessor {
    /// Compiles `cfg`; include/exclude are validated for `signal` when it is known.
    pub fn new(
        cfg: &AttributesConfig,
        signal: Option<Signal>,
        path: &str,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if cfg.actions.is_empty() {
            errors.push(ConfigError::new(
                format!("{path}.actions"),
                "missing required field \"actions\"",
            ));
        }
        let actions = AttrProc::new(&cfg.actions, &format!("{path}.actions"))
            .map_err(|e| errors.extend(e))
            .ok();
        let mut matcher = |mp: &Option<MatchProperties>, name: &str| {
            mp.as_ref().and_then(|mp| {
                Matcher::new(mp, signal, &format!("{path}.{name}"))
                    .map_err(|e| errors.push(e))
                    .ok()
            })
        };
        let include = matcher(&cfg.include, "include");
        let exclude = matcher(&cfg.exclude, "exclude");
        match actions {
            Some(actions) if errors.is_empty() => Ok(AttributesProcessor {
                actions,
                include,
                exclude,
            }),
            _ => Err(errors),
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

impl ProcessorFactory for AttributesProcessorFactory {
    fn info(&self) -> FactoryInfo {
        FactoryInfo {
            type_name: "attributes",
            aliases: &[],
            signals: &[Signal::Traces, Signal::Metrics, Signal::Logs],
            stability: Stability::Beta,
            description: "Inserts, updates, deletes, hashes, extracts or converts item attributes.",
        }
    }

    fn create(
        &self,
        ctx: &CreateContext,
        config: &Value,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        let cfg: AttributesConfig = decode(&ctx.path, config)?;
        Ok(Box::new(PerSignal(AttributesProcessor::new(
            &cfg, ctx.signal, &ctx.path,
        )?)))
    }
}

#[cfg(test)]
mod tests;
