//! The `resource` processor: applies attribute actions (see [`crate::attraction`]) to the
//! resource attributes of every signal, e.g. to set `deployment.environment` or drop a host
//! name before data leaves the network.
//!
//! ```yaml
//! processors:
//!   resource:
//!     attributes:
//!       - { key: deployment.environment, value: production, action: upsert }
//!       - { key: host.name, action: delete }
//!       - { key: tenant, from_context: metadata.x-tenant, action: insert }
//! ```

use crate::attraction::{ActionConfig, AttrProc};
use ferrotel_config::{decode, ConfigError, ConfigErrors, Value};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::{
    CreateContext, FactoryInfo, PerSignal, PipelineError, Processor, ProcessorFactory, RequestMeta,
    Signal, SignalProcessor, Stability,
};
use serde::Deserialize;

/// `processors.resource`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceConfig {
    /// Actions applied, in order, to the resource attributes (required, at least one).
    pub attributes: Vec<ActionConfig>,
}

/// The processor: one compiled action list.
pub struct ResourceProcessor {
    actions: AttrProc,
}

impl ResourceProcessor {
    pub fn new(cfg: &ResourceConfig, path: &str) -> Result<Self, ConfigErrors> {
        if cfg.attributes.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.attributes"),
                "missing required field \"attributes\"",
            )
            .into());
        }
        Ok(ResourceProcessor {
            actions: AttrProc::new(&cfg.attributes, &format!("{path}.attributes"))?,
        })
    }

    fn apply(&self, res: &mut Option<Resource>, meta: &RequestMeta) {
        let r = res.get_or_insert_with(Default::default);
        self.actions.process(&mut r.attributes, meta);
    }
}

impl SignalProcessor for ResourceProcessor {
    fn traces(
        &self,
        req: &mut ExportTraceServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for r in &mut req.resource_spans {
            self.apply(&mut r.resource, meta);
        }
        Ok(())
    }
    fn metrics(
        &self,
        req: &mut ExportMetricsServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for r in &mut req.resource_metrics {
            self.apply(&mut r.resource, meta);
        }
        Ok(())
    }
    fn logs(
        &self,
        req: &mut ExportLogsServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for r in &mut req.resource_logs {
            self.apply(&mut r.resource, meta);
        }
        Ok(())
    }
}

/// Factory for `resource`.
pub struct ResourceProcessorFactory;

impl ProcessorFactory for ResourceProcessorFactory {
    fn info(&self) -> FactoryInfo {
        FactoryInfo {
            type_name: "resource",
            aliases: &[],
            signals: &[Signal::Traces, Signal::Metrics, Signal::Logs],
            stability: Stability::Beta,
            description: "Inserts, updates, deletes or hashes resource attributes.",
        }
    }

    fn create(
        &self,
        ctx: &CreateContext,
        config: &Value,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        let cfg: ResourceConfig = decode(&ctx.path, config)?;
        Ok(Box::new(PerSignal(ResourceProcessor::new(
            &cfg, &ctx.path,
        )?)))
    }
}

#[cfg(test)]
mod tests;
