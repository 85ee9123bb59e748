//! `tenant`: copies the value of a request header into a resource attribute of every resource in
//! the request. Headers reach processors only when the otlp receiver has `include_metadata: true`
//! (as in otelcol). Requests without the header pass unchanged.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       http: { include_metadata: true }
//! processors:
//!   tenant:
//!     header: x-tenant      # default
//!     attribute: tenant     # default
//! ```

use ferrotel::prelude::*;

/// `processors.tenant`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantConfig {
    /// Request header to read (case-insensitive).
    pub header: String,
    /// Resource attribute to write.
    pub attribute: String,
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig {
            header: "x-tenant".into(),
            attribute: "tenant".into(),
        }
    }
}

impl Validate for TenantConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.header.is_empty() {
            v.report_at("header", "must not be empty");
        }
    }
}

pub struct Tenant(TenantConfig);

impl Tenant {
    fn tag<'a>(
        &self,
        resources: impl Iterator<Item = &'a mut Option<Resource>>,
        meta: &RequestMeta,
    ) {
        if let Some(tenant) = meta.header_values(&self.0.header).next() {
            for r in resources {
                pdata::upsert(
                    &mut r.get_or_insert_with(Default::default).attributes,
                    &self.0.attribute,
                    pdata::str_value(tenant),
                );
            }
        }
    }
}

impl SignalProcessor for Tenant {
    fn traces(
        &self,
        req: &mut ExportTraceServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        self.tag(req.resource_spans.iter_mut().map(|r| &mut r.resource), meta);
        Ok(())
    }
    fn metrics(
        &self,
        req: &mut ExportMetricsServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        self.tag(
            req.resource_metrics.iter_mut().map(|r| &mut r.resource),
            meta,
        );
        Ok(())
    }
    fn logs(
        &self,
        req: &mut ExportLogsServiceRequest,
        meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        self.tag(req.resource_logs.iter_mut().map(|r| &mut r.resource), meta);
        Ok(())
    }
}

/// The factory to register: `Collector::builder().with(tenant::factory())`.
pub fn factory() -> SignalProcessorFactory<TenantConfig, Tenant> {
    SignalProcessorFactory::new(
        "tenant",
        "Copies a request header into a resource attribute.",
        |c: TenantConfig, _| Ok(Tenant(c)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_testkit::conformance;
    use std::sync::Arc;

    fn create(yaml: &str) -> Result<Box<dyn Processor>, ConfigErrors> {
        let cfg: Value = serde_yaml_ng::from_str(yaml).expect("yaml");
        factory().create_from(
            &conformance::processor_context("tenant/2", Signal::Logs),
            &cfg,
        )
    }

    #[test]
    fn copies_the_header_into_every_resource_of_every_signal() {
        assert_eq!(
            conformance::run_processor(&factory(), "").len(),
            3,
            "conformance for traces, metrics, logs"
        );
        let p = create("attribute: org").expect("valid");
        let meta = RequestMeta {
            headers: vec![("X-Tenant".into(), "acme".into())],
            ..Default::default()
        };
        let mut out = vec![];
        p.process(
            Batch::from_data(
                ferrotel_testkit::fixtures::data(Signal::Logs, 4),
                Arc::new(meta),
            ),
            &mut out,
        )
        .expect("ok");
        let Data::Logs(logs) = out[0].view().expect("decodes") else {
            panic!("logs")
        };
        for rl in &logs.resource_logs {
            let attrs = &rl.resource.as_ref().expect("resource").attributes;
            assert_eq!(pdata::attr_str(attrs, "org"), Some("acme"));
        }
    }

    #[test]
    fn config_errors_name_the_key() {
        let e = create("heder: x").err().expect("typo refused").to_string();
        assert!(
            e.contains("processors.tenant") && e.contains("heder"),
            "{e}"
        );
        let e = create("header: ''")
            .err()
            .expect("empty refused")
            .to_string();
        assert!(
            e.contains("processors.tenant/2.header: must not be empty"),
            "{e}"
        );
    }
}
