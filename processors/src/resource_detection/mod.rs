//! The `resource_detection` processor (alias `resourcedetection`), as otelcol-contrib's
//! resourcedetectionprocessor: detects the resource of the host the collector runs on once,
//! with the configured detectors (`env`, `system`, `docker`, `ec2`, `gcp`, `azure`, `heroku`,
//! `lambda`), and adds
//! it to the resource of every batch of every signal, replacing attributes already there
//! unless `override: false`; a resource entry without a schema URL gets the detected one.
//!
//! Detection runs once, when the service starts (the processor's `start`, before any receiver
//! accepts data, as otelcol's `Start`), bounded by `timeout`: startup waits at most that long;
//! the pipelines that list the same processor id share that one detection, and `validate`
//! queries nothing. A processor used without the engine detects on its first batch instead. A
//! detector that fails (not on that cloud, no Docker socket, bad `OTEL_RESOURCE_ATTRIBUTES`) is
//! logged as a warning and contributes nothing, as otelcol's do with `fail_on_missing_metadata`
//! off.
//!
//! ```yaml
//! processors:
//!   resource_detection:
//!     detectors: [env, docker, system]
//!     timeout: 2s
//!     override: false
//!     system:
//!       hostname_sources: [os]
//! ```

mod attrs;
mod azure;
mod cloud;
pub mod config;
mod detect;
mod docker;
mod ec2;
mod env;
mod gcp;
mod heroku;
mod host;
mod http;
mod lambda;
mod system;

pub use attrs::Detected;
pub use config::ResourceDetectionConfig;
pub use detect::Endpoints;

use ferrotel_config::ConfigErrors;
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::{
    process_decoded, Batch, CreateContext, Data, Factory, FactoryInfo, PipelineError, Processor,
    RequestMeta, Signal, SignalProcessor, Stability,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The semantic conventions version the system, docker and cloud detectors follow.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.6.1";

/// The processor: its config, and the resource once detected.
pub struct ResourceDetectionProcessor {
    cfg: ResourceDetectionConfig,
    endpoints: Option<Endpoints>,
    detected: Arc<OnceLock<Detected>>,
}

/// The detection of each processor id (and config), shared by the instances of every pipeline
/// that lists it, as otelcol's factory shares one resource provider per id.
fn shared_detection(id: &str, cfg: &ResourceDetectionConfig) -> Arc<OnceLock<Detected>> {
    static SHARED: OnceLock<Mutex<HashMap<String, Arc<OnceLock<Detected>>>>> = OnceLock::new();
    let key = format!("{id}\n{cfg:?}");
    let mut map = SHARED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    map.entry(key).or_default().clone()
}

impl ResourceDetectionProcessor {
    /// The processor of a validated config; services are found through the environment.
    pub fn new(cfg: ResourceDetectionConfig) -> Self {
        ResourceDetectionProcessor {
            cfg,
            endpoints: None,
            detected: Arc::default(),
        }
    }

    /// The same, with the services at `endpoints` (tests use loopback mocks).
    pub fn with_endpoints(cfg: ResourceDetectionConfig, endpoints: Endpoints) -> Self {
        ResourceDetectionProcessor {
            endpoints: Some(endpoints),
            ..Self::new(cfg)
        }
    }

    /// The processor of `cfg` with `detected` as if already detected (for tests).
    pub fn with_detected(cfg: ResourceDetectionConfig, detected: Detected) -> Self {
        let p = Self::new(cfg);
        let _ = p.detected.set(detected);
        p
    }

    /// The detected resource, detecting it on the first call.
    pub fn detected(&self) -> &Detected {
        self.detected.get_or_init(|| {
            let ep = self.endpoints.clone().unwrap_or_else(Endpoints::from_env);
            let d = detect::detect_all(&self.cfg, &ep, self.cfg.timeout.0);
            let keys: Vec<&str> = d.attributes.iter().map(|kv| kv.key.as_str()).collect();
            tracing::info!(detectors = ?self.cfg.detectors, attributes = ?keys, "detected resource");
            d
        })
    }

    fn apply(&self, res: &mut Option<Resource>, schema_url: &mut String) {
        let d = self.detected();
        if d.attributes.is_empty() && d.schema_url.is_empty() {
            return;
        }
        let r = res.get_or_insert_with(Default::default);
        for kv in &d.attributes {
            match r.attributes.iter_mut().find(|e| e.key == kv.key) {
                Some(e) if self.cfg.override_existing => e.value.clone_from(&kv.value),
                Some(_) => {}
                None => r.attributes.push(kv.clone()),
            }
        }
        *schema_url = detect::merge_schema_url(schema_url, &d.schema_url).to_string();
    }

    fn profiles(&self, mut batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        let bad = |message: String| PipelineError::Status {
            code: ferrotel_core::error::code::INVALID_ARGUMENT,
            message,
        };
        let Data::Profiles(req) = batch.make_mut().map_err(|e| bad(e.0))? else {
            return Err(bad("not a profiles request".into()));
        };
        for r in &mut req.resource_profiles {
            self.apply(&mut r.resource, &mut r.schema_url);
        }
        out.push(batch);
        Ok(())
    }
}

impl Processor for ResourceDetectionProcessor {
    /// Detects, bounded by `timeout`, before the receivers start.
    fn start(&self) {
        self.detected();
    }

    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        let d = self.detected();
        if d.attributes.is_empty() && d.schema_url.is_empty() {
            out.push(batch);
            return Ok(());
        }
        if batch.signal() == Signal::Profiles {
            return self.profiles(batch, out);
        }
        process_decoded(self, batch, out)
    }
}

impl SignalProcessor for ResourceDetectionProcessor {
    fn traces(
        &self,
        req: &mut ExportTraceServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for r in &mut req.resource_spans {
            self.apply(&mut r.resource, &mut r.schema_url);
        }
        Ok(())
    }
    fn metrics(
        &self,
        req: &mut ExportMetricsServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for r in &mut req.resource_metrics {
            self.apply(&mut r.resource, &mut r.schema_url);
        }
        Ok(())
    }
    fn logs(
        &self,
        req: &mut ExportLogsServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        for r in &mut req.resource_logs {
            self.apply(&mut r.resource, &mut r.schema_url);
        }
        Ok(())
    }
}

/// Factory for `resource_detection` (alias `resourcedetection`).
pub struct ResourceDetectionFactory;

impl Factory for ResourceDetectionFactory {
    type Config = ResourceDetectionConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "resource_detection",
            "Detects the host's resource (env, system, docker, ec2, gcp, azure, heroku, lambda) once and adds it to every batch.",
        )
        .aliases(&["resourcedetection"])
        .all_signals(Stability::Beta)
        .signal(Signal::Profiles, Stability::Development)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: ResourceDetectionConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        if cfg.attributes.as_ref().is_some_and(|a| !a.is_empty()) {
            tracing::warn!("resource_detection: `attributes` is deprecated (otelcol's warning); keep or drop attributes with a resource or transform processor");
        }
        let detected = shared_detection(&ctx.id.to_string(), &cfg);
        Ok(Box::new(ResourceDetectionProcessor {
            detected,
            ..ResourceDetectionProcessor::new(cfg)
        }))
    }
}

#[cfg(test)]
mod mock_tests;
#[cfg(test)]
mod tests;
