//! The `forward` connector: passes everything from the pipelines that export to it to the
//! pipelines of the same signal that receive from it, unchanged, e.g. to run one set of
//! processors for data from several receivers and then fan out to differently processed
//! pipelines.
//!
//! ```yaml
//! connectors:
//!   forward: {}
//! service:
//!   pipelines:
//!     traces/in:  { receivers: [otlp], processors: [memory_limiter], exporters: [forward] }
//!     traces/out: { receivers: [forward], processors: [batch], exporters: [otlp] }
//! ```

use ferrotel_config::{ConfigErrors, Validate};
use ferrotel_core::{
    Batch, Connector, CreateContext, Factory, FactoryInfo, PipelineError, Routed, Signal, Stability,
};
use serde::{Deserialize, Serialize};

/// `connectors.forward`: it has no settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {}

impl Validate for ForwardConfig {}

/// Passes every batch on unchanged.
pub struct Forward;

impl Connector for Forward {
    fn consume(&self, batch: Batch, out: &mut Vec<Routed>) -> Result<(), PipelineError> {
        out.push(batch.into());
        Ok(())
    }
}

/// Builds `forward` connectors.
pub struct ForwardConnectorFactory;

impl Factory for ForwardConnectorFactory {
    type Config = ForwardConfig;
    type Component = Box<dyn Connector>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "forward",
            "Passes data from one pipeline to others of its signal",
        )
        .connects(Signal::Traces, Signal::Traces, Stability::Beta)
        .connects(Signal::Metrics, Signal::Metrics, Stability::Beta)
        .connects(Signal::Logs, Signal::Logs, Stability::Beta)
        .connects(Signal::Profiles, Signal::Profiles, Stability::Alpha)
    }

    fn create(
        &self,
        _: &CreateContext,
        _: ForwardConfig,
    ) -> Result<Box<dyn Connector>, ConfigErrors> {
        Ok(Box::new(Forward))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::AnyFactory;
    use ferrotel_testkit::config::{create_context, refused, yaml};
    use ferrotel_testkit::fixtures;

    #[test]
    fn passes_every_signal_on_unchanged() {
        let ctx = create_context("connectors", "forward/2");
        let c = ForwardConnectorFactory
            .create_from(&ctx, &yaml("{}"))
            .unwrap();
        for signal in Signal::ALL.into_iter().chain([Signal::Profiles]) {
            let batch = fixtures::encoded_batch(signal, 7);
            let mut out = Vec::new();
            c.consume(batch.clone(), &mut out).unwrap();
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].batch.signal(), signal);
            assert_eq!(out[0].batch.item_count(), 7);
            assert!(out[0].pipelines.is_none());
            assert!(
                out[0].batch.same_payload(&batch),
                "{signal}: not the same payload"
            );
        }
        let info = ForwardConnectorFactory.info();
        assert!(info.joins(Signal::Traces, Signal::Traces));
        assert!(!info.joins(Signal::Traces, Signal::Metrics));
    }

    #[test]
    fn has_no_settings() {
        let text = "unexpected: 1";
        let e = refused(
            ForwardConnectorFactory
                .create_from(&create_context("connectors", "forward"), &yaml(text)),
            text,
        );
        assert_eq!(e.0[0].path, "connectors.forward.unexpected");
        assert!(e.0[0].message.contains("unknown field `unexpected`"), "{e}");
    }
}
