//! `drop_health`: drops spans of health checks (a server span whose `url.path` or `http.route`
//! is one of `paths`), which otherwise make up much of the traffic and none of the insight.
//!
//! ```yaml
//! processors:
//!   drop_health:
//!     paths: [/health, /healthz, /ready]   # default
//! ```

use ferrotel::prelude::*;

/// `processors.drop_health`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DropHealthConfig {
    /// Request paths of health checks.
    pub paths: Vec<String>,
}

impl Default for DropHealthConfig {
    fn default() -> Self {
        DropHealthConfig {
            paths: vec!["/health".into(), "/healthz".into(), "/ready".into()],
        }
    }
}

impl Validate for DropHealthConfig {}

pub struct DropHealth(DropHealthConfig);

impl SignalProcessor for DropHealth {
    fn traces(
        &self,
        req: &mut ExportTraceServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        let is_health = |s: &Span| {
            ["url.path", "http.route"].iter().any(|k| {
                pdata::attr_str(&s.attributes, k)
                    .is_some_and(|p| self.0.paths.iter().any(|h| h == p))
            })
        };
        for scope in req
            .resource_spans
            .iter_mut()
            .flat_map(|r| &mut r.scope_spans)
        {
            scope.spans.retain(|s| !is_health(s));
        }
        Ok(()) // emptied scopes and resources are pruned by the adapter
    }
}

/// The factory to register: `Collector::builder().with(drop_health::factory())`.
pub fn factory() -> SignalProcessorFactory<DropHealthConfig, DropHealth> {
    SignalProcessorFactory::new("drop_health", "Drops health-check spans.", |c, _| {
        Ok(DropHealth(c))
    })
    .signals(&[Signal::Traces])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_testkit::{conformance, fixtures};
    use std::sync::Arc;

    #[test]
    fn drops_only_health_check_spans() {
        let p = factory()
            .create_from(
                &conformance::processor_context("drop_health", Signal::Traces),
                &Value::Null,
            )
            .expect("default config");
        let mut input = fixtures::traces(6);
        let spans = &mut input.resource_spans[0].scope_spans[0].spans;
        pdata::upsert(
            &mut spans[0].attributes,
            "url.path",
            pdata::str_value("/healthz"),
        );
        pdata::upsert(
            &mut spans[3].attributes,
            "http.route",
            pdata::str_value("/health"),
        );
        pdata::upsert(
            &mut spans[4].attributes,
            "url.path",
            pdata::str_value("/healthz/deep"),
        );
        let mut out = vec![];
        p.process(
            Batch::from_data(Data::Traces(input), Arc::new(RequestMeta::default())),
            &mut out,
        )
        .expect("ok");
        assert_eq!(out[0].item_count(), 6 - 2);
        let Data::Traces(t) = out[0].view().expect("decodes") else {
            panic!("traces")
        };
        let kept: Vec<_> = t
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .collect();
        assert!(kept
            .iter()
            .all(|s| !matches!(pdata::attr_str(&s.attributes, "url.path"), Some("/healthz"))));
        assert!(
            kept.iter()
                .any(|s| pdata::attr_str(&s.attributes, "url.path") == Some("/healthz/deep")),
            "only exact paths match"
        );
    }

    #[test]
    fn conformance() {
        assert_eq!(
            conformance::run_processor(&factory(), "paths: [/x]"),
            vec![(Signal::Traces, 331, 331)]
        );
    }
}
