//! The `filter` processor (otelcol-contrib's filterprocessor): drops spans, span events,
//! metrics, data points, log records and profiles for which any OTTL condition holds. The flat
//! `trace_conditions` / `metric_conditions` / `log_conditions` / `profile_conditions` infer each
//! condition's context from its paths (`resource.*` drops a whole resource, `scope.*` a scope,
//! `span.*` a span with its events, `spanevent.*` an event, `metric.*` a metric, `datapoint.*` a
//! point, `log.*` a record) and evaluate top down; a group may pin a `context` and set its own
//! `error_mode`. The older per-context blocks (`traces.span`, `metrics.datapoint`,
//! `logs.log_record`, `profiles.profile`, ...) and the `include` / `exclude` matchers of
//! `spans`, `metrics` and `logs` work as in otelcol, and cannot be mixed with the flat lists of
//! the same signal. A metric left without data points is dropped; so are empty scopes and
//! resources, and a request left empty (the client still gets success). `error_mode` is
//! `ignore` by default (otelcol's since v0.153): a failing condition counts as false and is
//! logged; `silent` does not log; `propagate` fails the whole batch. Counted in
//! `otelcol_processor_filter_{spans,datapoints,logs,profiles}_filtered{filter="<id>"}`.
//! Profiles are filtered on their `resource.*` and `scope.*` paths only; other profile paths are
//! refused at config time, and `match_type: expr` is refused (write the expressions in OTTL).
//!
//! ```yaml
//! processors:
//!   filter/drop-noise:
//!     error_mode: ignore
//!     trace_conditions:
//!       - span.attributes["http.route"] == "/healthz"
//!       - resource.attributes["deployment.environment"] == "test"
//!       - spanevent.name == "debug"
//!     metric_conditions:
//!       - context: metric
//!         conditions: ['name == "internal.debug.timing"']
//!       - datapoint.attributes["k8s.namespace.name"] == "kube-system"
//!     logs:
//!       log_record: ['severity_number < SEVERITY_NUMBER_WARN']
//!   filter/sanitize_profiles:
//!     profiles:
//!       profile: ['IsMatch(resource.attributes["service.name"], "containerd-shim-.*")']
//! ```

mod apply;
mod compile;
pub mod config;

use compile::Filters;
pub use config::FilterConfig;
use ferrotel_config::{ConfigErrors, Findings};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    profiles::v1development::ExportProfilesServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::{
    pdata, process_decoded, Batch, CreateContext, Data, Factory, FactoryInfo, Form, PipelineError,
    Processor, RequestMeta, Signal, SignalProcessor, Stability, Telemetry,
};

/// What the processor drops, counted as otelcol counts it.
struct Counters {
    spans: ferrotel_core::telemetry::Counter,
    datapoints: ferrotel_core::telemetry::Counter,
    logs: ferrotel_core::telemetry::Counter,
    profiles: ferrotel_core::telemetry::Counter,
}

impl Counters {
    fn new(t: &Telemetry, id: &str) -> Self {
        let c = |what: &str, help: &str| {
            t.counter(
                &format!("otelcol_processor_filter_{what}_filtered"),
                help,
                &[("filter", id)],
            )
        };
        Counters {
            spans: c("spans", "Number of spans dropped by the filter processor"),
            datapoints: c(
                "datapoints",
                "Number of metric data points dropped by the filter processor",
            ),
            logs: c("logs", "Number of logs dropped by the filter processor"),
            profiles: c(
                "profiles",
                "Number of profiles dropped by the filter processor",
            ),
        }
    }
}

/// The processor: the compiled groups of each signal, run in order.
pub struct FilterProcessor {
    filters: Filters,
    counters: Counters,
}

/// `Err` with the first `propagate` error, which fails the batch (retryable, as otelcol's
/// non-permanent processor errors).
fn failed(err: apply::FirstError) -> Result<(), PipelineError> {
    match err {
        None => Ok(()),
        Some(e) => Err(PipelineError::Refused {
            message: e.to_string(),
            retry_after: None,
        }),
    }
}

impl FilterProcessor {
    /// The processor of a validated config.
    pub fn new(cfg: &FilterConfig, telemetry: &Telemetry, id: &str) -> Self {
        FilterProcessor {
            filters: Filters::new(cfg),
            counters: Counters::new(telemetry, id),
        }
    }

    fn has_filters(&self, signal: Signal) -> bool {
        let f = &self.filters;
        match signal {
            Signal::Traces => !f.traces.is_empty(),
            Signal::Metrics => !f.metrics.is_empty(),
            Signal::Logs => !f.logs.is_empty(),
            Signal::Profiles => !f.profiles.is_empty(),
        }
    }

    fn profiles(&self, mut batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        // A body that does not decode is refused, as the other signals' are.
        let bad = |message: String| PipelineError::Status {
            code: ferrotel_core::error::code::INVALID_ARGUMENT,
            message,
        };
        let Data::Profiles(req) = batch.make_mut().map_err(|e| bad(e.0))? else {
            return Err(bad("not a profiles request".into()));
        };
        let before = profile_count(req);
        let mut err = None;
        for g in &self.filters.profiles {
            apply::profiles(g, req, &mut err);
        }
        let after = profile_count(req);
        failed(err)?;
        self.counters.profiles.add((before - after) as u64);
        if after > 0 {
            out.push(batch);
        }
        Ok(())
    }
}

fn profile_count(req: &ExportProfilesServiceRequest) -> usize {
    (req.resource_profiles.iter())
        .flat_map(|r| &r.scope_profiles)
        .map(|s| s.profiles.len())
        .sum()
}

impl Processor for FilterProcessor {
    fn process(&self, batch: Batch, out: &mut Vec<Batch>) -> Result<(), PipelineError> {
        let signal = batch.signal();
        if !self.has_filters(signal) {
            out.push(batch);
            return Ok(());
        }
        if signal == Signal::Profiles {
            return self.profiles(batch, out);
        }
        process_decoded(self, batch, out)
    }
    fn form(&self, signal: Signal) -> Form {
        if self.has_filters(signal) {
            Form::Decoded
        } else {
            Form::Untouched
        }
    }
}

/// Runs `groups` over `req`, counting the items (per `count`) they drop.
fn run<R, G>(
    groups: &[G],
    req: &mut R,
    apply: fn(&G, &mut R, &mut apply::FirstError),
    count: fn(&R) -> usize,
    counter: &ferrotel_core::telemetry::Counter,
) -> Result<(), PipelineError> {
    let before = count(req);
    let mut err = None;
    for g in groups {
        apply(g, req, &mut err);
    }
    failed(err)?;
    counter.add(before.saturating_sub(count(req)) as u64);
    Ok(())
}

impl SignalProcessor for FilterProcessor {
    fn traces(
        &self,
        req: &mut ExportTraceServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        let count = |r: &ExportTraceServiceRequest| {
            (r.resource_spans.iter())
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum()
        };
        let c = &self.counters.spans;
        run(&self.filters.traces, req, apply::traces, count, c)
    }

    fn metrics(
        &self,
        req: &mut ExportMetricsServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        let count = |r: &ExportMetricsServiceRequest| {
            (r.resource_metrics.iter())
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(pdata::metric_points)
                .sum()
        };
        let c = &self.counters.datapoints;
        run(&self.filters.metrics, req, apply::metrics, count, c)
    }

    fn logs(
        &self,
        req: &mut ExportLogsServiceRequest,
        _: &RequestMeta,
    ) -> Result<(), PipelineError> {
        let count = |r: &ExportLogsServiceRequest| {
            (r.resource_logs.iter())
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum()
        };
        let c = &self.counters.logs;
        run(&self.filters.logs, req, apply::logs, count, c)
    }
}

/// Factory for `filter`.
pub struct FilterProcessorFactory;

impl Factory for FilterProcessorFactory {
    type Config = FilterConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "filter",
            "Drops spans, span events, metrics, data points, logs or profiles matching conditions.",
        )
        .signal(Signal::Traces, Stability::Alpha)
        .signal(Signal::Metrics, Stability::Alpha)
        .signal(Signal::Logs, Stability::Alpha)
        .signal(Signal::Profiles, Stability::Development)
        .example(r#"trace_conditions: ['span.attributes["http.route"] == "/healthz"']"#)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: FilterConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        if ctx.signal == Some(Signal::Traces) {
            let mut findings = Findings::default();
            let mut v = ctx.validator(&mut findings);
            for (key, mp) in [
                ("spans.include", &cfg.spans.include),
                ("spans.exclude", &cfg.spans.exclude),
            ] {
                if let Some(msg) = mp.as_ref().and_then(|mp| mp.signal_problem(Signal::Traces)) {
                    v.report_at(key, msg);
                }
            }
            findings.into_result()?;
        }
        Ok(Box::new(FilterProcessor::new(
            &cfg,
            &ctx.telemetry,
            &ctx.id.to_string(),
        )))
    }
}

#[cfg(test)]
mod tests;
