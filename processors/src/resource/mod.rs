//! The `resource` processor: applies attribute actions (see [`crate::attraction`]) to the
//! resource attributes of every signal, e.g. to set `deployment.environment` or drop a host
//! name before data leaves the network.
//!
//! A batch still in its encoded form stays encoded: only each resource is decoded, changed and
//! spliced back (see [`ferrotel_core::wire::map_resources`]), so the spans, data points and
//! log records are copied, never decoded.
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
use ferrotel_config::{ConfigErrors, Validate, Validator};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::{
    process_decoded, wire, Batch, CreateContext, Factory, FactoryInfo, PipelineError, Processor,
    RequestMeta, SignalProcessor, Stability,
};
use prost::Message;
use serde::{Deserialize, Serialize};

/// `processors.resource`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceConfig {
    /// Actions applied, in order, to the resource attributes (required, at least one).
    pub attributes: Vec<ActionConfig>,
}

impl Validate for ResourceConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.attributes.is_empty() {
            v.report_at("attributes", "missing required field \"attributes\"");
            return;
        }
        AttrProc::compile(&self.attributes, v, "attributes");
    }
}

/// The processor: one compiled action list.
pub struct ResourceProcessor {
    actions: AttrProc,
}

impl ResourceProcessor {
    /// The processor of a validated config.
    pub fn new(cfg: &ResourceConfig) -> Self {
        ResourceProcessor {
            actions: AttrProc::new(&cfg.attributes),
        }
    }

    fn apply(&self, res: &mut Option<Resource>, meta: &RequestMeta) {
        let r = res.get_or_insert_with(Default::default);
        self.actions.process(&mut r.attributes, meta);
    }

    /// The batch's encoding with every resource changed, without decoding anything else;
    /// `None` when a resource does not decode (the decoding path then reports it).
    fn apply_encoded(&self, batch: &Batch) -> Option<Batch> {
        let bytes = batch.encoded();
        let mut failed = false;
        let out = wire::map_resources(&bytes, |encoded| {
            let mut res = match encoded.map(Resource::decode).transpose() {
                Ok(r) => r,
                Err(_) => {
                    failed = true;
                    return Vec::new();
                }
            };
            self.apply(&mut res, &batch.meta);
            res.unwrap_or_default().encode_to_vec()
        })
        .ok()?;
        (!failed).then(|| {
            let items = Some(batch.item_count());
            Batch::from_bytes(batch.signal(), out.into(), items, batch.meta.clone())
                .keep_deliveries_of(batch)
        })
    }
}

impl Processor for ResourceProcessor {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        if !batch.is_decoded() {
            if let Some(changed) = self.apply_encoded(&batch) {
                out.push(changed);
                return Ok(());
            }
        }
        process_decoded(self, batch, out)
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

impl Factory for ResourceProcessorFactory {
    type Config = ResourceConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "resource",
            "Inserts, updates, deletes or hashes resource attributes.",
        )
        .all_signals(Stability::Beta)
        .example("attributes: [{key: deployment.environment, value: test, action: upsert}]")
    }

    fn create(
        &self,
        _: &CreateContext,
        cfg: ResourceConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        Ok(Box::new(ResourceProcessor::new(&cfg)))
    }
}

#[cfg(test)]
mod tests;
