//! The `count` connector: counts the spans, span events, metrics, data points, log records and
//! profiles of the pipelines that export to it and emits the counts to the metrics pipelines
//! that receive from it, as otelcol's contrib countconnector. With no settings it emits
//! `trace.span.count`, `trace.span.event.count`, `metric.count`, `metric.datapoint.count`,
//! `log.record.count` and `profile.count`; a section (`spans`, `spanevents`, `metrics`,
//! `datapoints`, `logs`, `profiles`) replaces its default with metrics of its own, each
//! counting the items that meet any of its OTTL `conditions` (none for profiles: ferrotel has
//! no profile context), separately per value of its `attributes` (looked up on the item, then
//! its scope, then its resource; an item lacking one without a `default_value` is not counted).
//! Each count is a monotonic delta sum of ints, per resource of the input (its attributes
//! copied), under the scope `github.com/open-telemetry/opentelemetry-collector-contrib/connector/countconnector`,
//! timed from the earliest to the latest timestamp of the counted resource's items.
//! Counting is per batch and nothing is kept between batches, so memory is bounded by the
//! batch. A condition that fails to evaluate fails the batch (otelcol's propagate mode).
//!
//! ```yaml
//! connectors:
//!   count:
//!     logs:
//!       my.error.log.count:
//!         description: Error+ logs.
//!         conditions:
//!           - 'severity_number >= SEVERITY_NUMBER_ERROR'
//!         attributes:
//!           - key: env
//!             default_value: unspecified_environment
//! service:
//!   pipelines:
//!     logs:    { receivers: [otlp], exporters: [count] }
//!     metrics: { receivers: [count], exporters: [prometheus] }
//! ```

mod compile;
pub mod config;
mod counter;
#[cfg(test)]
mod tests;

pub use config::CountConfig;

use compile::{compile_section, CompileError, MetricDef, NoProfileContext};
use config::Kind;
use counter::Counter;
use ferrotel_config::{ConfigError, ConfigErrors};
use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::{metric, Metric, ResourceMetrics, ScopeMetrics};
use ferrotel_core::proto::profiles::v1development::{Profile, ProfilesDictionary};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::{
    Batch, Connector, CreateContext, Data, Factory, FactoryInfo, PipelineError, Routed, Signal,
    Stability,
};
use ferrotel_ottl::{
    Context, DataPointContext, DataPointItem, DataPointRef, EvalError, LogContext, LogItem,
    MetricContext, MetricItem, SpanContext, SpanEventContext, SpanEventItem, SpanItem,
};
use std::time::{SystemTime, UNIX_EPOCH};

/// The instrumentation scope of the count metrics.
pub const SCOPE_NAME: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/connector/countconnector";

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn attributes(r: Option<&Resource>) -> &[KeyValue] {
    r.map_or(&[], |r| &r.attributes)
}

fn scope_attributes(s: Option<&InstrumentationScope>) -> &[KeyValue] {
    s.map_or(&[], |s| &s.attributes)
}

/// The count metrics of one input resource (none when nothing was counted).
fn resource_metrics(resource: Option<&Resource>, metrics: Vec<Metric>) -> Option<ResourceMetrics> {
    if metrics.is_empty() {
        return None;
    }
    Some(ResourceMetrics {
        resource: Some(Resource {
            attributes: attributes(resource).to_vec(),
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.into(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// The connector: each section's metrics, compiled.
pub struct Count {
    spans: Vec<MetricDef<SpanContext>>,
    spanevents: Vec<MetricDef<SpanEventContext>>,
    metrics: Vec<MetricDef<MetricContext>>,
    datapoints: Vec<MetricDef<DataPointContext>>,
    logs: Vec<MetricDef<LogContext>>,
    profiles: Vec<MetricDef<NoProfileContext>>,
}

fn compiled<C: Context>(
    ctx: &CreateContext,
    kind: Kind,
    section: &config::Section,
    errors: &mut Vec<ConfigError>,
) -> Vec<MetricDef<C>> {
    let (defs, failed) = compile_section::<C>(kind, section);
    errors.extend(failed.into_iter().map(|e: CompileError| {
        let path = format!(
            "{}.{}.{}.conditions[{}]",
            ctx.path,
            kind.key(),
            e.name,
            e.index
        );
        ConfigError::new(path, e.message)
    }));
    defs
}

impl Count {
    pub fn new(ctx: &CreateContext, config: &CountConfig) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let count = Count {
            spans: compiled(ctx, Kind::Spans, &config.spans, &mut errors),
            spanevents: compiled(ctx, Kind::SpanEvents, &config.spanevents, &mut errors),
            metrics: compiled(ctx, Kind::Metrics, &config.metrics, &mut errors),
            datapoints: compiled(ctx, Kind::DataPoints, &config.datapoints, &mut errors),
            logs: compiled(ctx, Kind::Logs, &config.logs, &mut errors),
            profiles: compiled(ctx, Kind::Profiles, &config.profiles, &mut errors),
        };
        match errors.is_empty() {
            true => Ok(count),
            false => Err(ConfigErrors(errors)),
        }
    }

    fn count_traces(
        &self,
        req: &ExportTraceServiceRequest,
        now: u64,
    ) -> Result<Vec<ResourceMetrics>, EvalError> {
        let mut out = Vec::new();
        for rs in &req.resource_spans {
            let resource = rs.resource.as_ref();
            let mut spans = Counter::new(&self.spans);
            let mut events = Counter::new(&self.spanevents);
            for ss in &rs.scope_spans {
                let scope = ss.scope.as_ref();
                let parents = [scope_attributes(scope), attributes(resource)];
                for span in &ss.spans {
                    spans.observe_time(span.start_time_unix_nano);
                    spans.observe_time(span.end_time_unix_nano);
                    let item = SpanItem {
                        cache: &[],
                        span,
                        scope,
                        resource,
                    };
                    spans.update(item, [&span.attributes, parents[0], parents[1]])?;
                    for (index, event) in span.events.iter().enumerate() {
                        events.observe_time(event.time_unix_nano);
                        let e = SpanEventItem {
                            cache: &[],
                            event,
                            index,
                            span: item,
                        };
                        events.update(e, [&event.attributes, parents[0], parents[1]])?;
                    }
                }
            }
            let mut metrics = Vec::new();
            spans.append_to(&mut metrics, now);
            events.append_to(&mut metrics, now);
            out.extend(resource_metrics(resource, metrics));
        }
        Ok(out)
    }

    fn count_metrics(
        &self,
        req: &ExportMetricsServiceRequest,
        now: u64,
    ) -> Result<Vec<ResourceMetrics>, EvalError> {
        let mut out = Vec::new();
        for rm in &req.resource_metrics {
            let resource = rm.resource.as_ref();
            let mut metrics = Counter::new(&self.metrics);
            let mut points = Counter::new(&self.datapoints);
            for sm in &rm.scope_metrics {
                let scope = sm.scope.as_ref();
                let parents = [scope_attributes(scope), attributes(resource)];
                for metric in &sm.metrics {
                    let item = MetricItem {
                        cache: &[],
                        metric,
                        scope,
                        resource,
                    };
                    metrics.update(item, [&[], parents[0], parents[1]])?;
                    each_point(metric, |point| {
                        let (attrs, time) = point_attributes(point);
                        points.observe_time(time);
                        let p = DataPointItem {
                            cache: &[],
                            point,
                            metric: item,
                        };
                        points.update(p, [attrs, parents[0], parents[1]])
                    })?;
                }
            }
            let mut counted = Vec::new();
            metrics.append_to(&mut counted, now);
            points.append_to(&mut counted, now);
            out.extend(resource_metrics(resource, counted));
        }
        Ok(out)
    }

    fn count_logs(
        &self,
        req: &ExportLogsServiceRequest,
        now: u64,
    ) -> Result<Vec<ResourceMetrics>, EvalError> {
        let mut out = Vec::new();
        for rl in &req.resource_logs {
            let resource = rl.resource.as_ref();
            let mut logs = Counter::new(&self.logs);
            for sl in &rl.scope_logs {
                let scope = sl.scope.as_ref();
                let parents = [scope_attributes(scope), attributes(resource)];
                for log in &sl.log_records {
                    logs.observe_time(log.time_unix_nano);
                    let item = LogItem {
                        cache: &[],
                        log,
                        scope,
                        resource,
                    };
                    logs.update(item, [&log.attributes, parents[0], parents[1]])?;
                }
            }
            let mut metrics = Vec::new();
            logs.append_to(&mut metrics, now);
            out.extend(resource_metrics(resource, metrics));
        }
        Ok(out)
    }
}

impl Count {
    fn count_profiles(
        &self,
        req: &ExportProfilesServiceRequest,
        now: u64,
    ) -> Result<Vec<ResourceMetrics>, EvalError> {
        let dictionary = req.dictionary.as_ref();
        let by_attributes = self.profiles.iter().any(|d| !d.attrs.is_empty());
        let mut out = Vec::new();
        for rp in &req.resource_profiles {
            let resource = rp.resource.as_ref();
            let all = rp.scope_profiles.iter().flat_map(|sp| &sp.profiles);
            let resolved: Vec<Vec<KeyValue>> = match by_attributes {
                true => all.map(|p| profile_attributes(p, dictionary)).collect(),
                false => Vec::new(),
            };
            let mut own = resolved.iter();
            let mut profiles = Counter::new(&self.profiles);
            for sp in &rp.scope_profiles {
                let parents = [scope_attributes(sp.scope.as_ref()), attributes(resource)];
                for profile in &sp.profiles {
                    profiles.observe_time(profile.time_unix_nano);
                    let attrs = own.next().map_or(&[][..], Vec::as_slice);
                    profiles.update((), [attrs, parents[0], parents[1]])?;
                }
            }
            let mut metrics = Vec::new();
            profiles.append_to(&mut metrics, now);
            out.extend(resource_metrics(resource, metrics));
        }
        Ok(out)
    }
}

/// A profile's attributes, resolved through the request's dictionary (indexes out of range are
/// skipped).
fn profile_attributes(p: &Profile, d: Option<&ProfilesDictionary>) -> Vec<KeyValue> {
    let Some(d) = d else {
        return Vec::new();
    };
    let at = |i: i32| usize::try_from(i).ok();
    p.attribute_indices
        .iter()
        .filter_map(|i| d.attribute_table.get(at(*i)?))
        .map(|a| KeyValue {
            key: at(a.key_strindex)
                .and_then(|k| d.string_table.get(k))
                .cloned()
                .unwrap_or_default(),
            value: a.value.clone(),
            ..Default::default()
        })
        .collect()
}

/// Calls `f` on each of a metric's data points, whatever their kind; a metric without data is
/// otelcol's error.
fn each_point<'a>(
    m: &'a Metric,
    mut f: impl FnMut(DataPointRef<'a>) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    use metric::Data;
    match &m.data {
        Some(Data::Gauge(g)) => g
            .data_points
            .iter()
            .try_for_each(|p| f(DataPointRef::Number(p))),
        Some(Data::Sum(s)) => s
            .data_points
            .iter()
            .try_for_each(|p| f(DataPointRef::Number(p))),
        Some(Data::Histogram(h)) => {
            (h.data_points.iter()).try_for_each(|p| f(DataPointRef::Histogram(p)))
        }
        Some(Data::ExponentialHistogram(h)) => {
            (h.data_points.iter()).try_for_each(|p| f(DataPointRef::ExponentialHistogram(p)))
        }
        Some(Data::Summary(s)) => s
            .data_points
            .iter()
            .try_for_each(|p| f(DataPointRef::Summary(p))),
        None => Err(EvalError::new(format!(
            "metric {:?}: invalid metric type: Empty",
            m.name
        ))),
    }
}

/// A data point's attributes and time.
fn point_attributes(p: DataPointRef<'_>) -> (&[KeyValue], u64) {
    match p {
        DataPointRef::Number(d) => (&d.attributes, d.time_unix_nano),
        DataPointRef::Histogram(d) => (&d.attributes, d.time_unix_nano),
        DataPointRef::ExponentialHistogram(d) => (&d.attributes, d.time_unix_nano),
        DataPointRef::Summary(d) => (&d.attributes, d.time_unix_nano),
    }
}

impl Connector for Count {
    fn consume(&self, batch: Batch, out: &mut Vec<Routed>) -> Result<(), PipelineError> {
        let data = batch
            .view()
            .map_err(|e| PipelineError::Permanent(e.to_string()))?;
        let now = now_nanos();
        let counted = match data {
            Data::Traces(req) => self.count_traces(req, now),
            Data::Metrics(req) => self.count_metrics(req, now),
            Data::Logs(req) => self.count_logs(req, now),
            Data::Profiles(req) => self.count_profiles(req, now),
        };
        let resource_metrics = counted.map_err(|e| PipelineError::Permanent(e.to_string()))?;
        if resource_metrics.is_empty() {
            return Ok(());
        }
        let req = ExportMetricsServiceRequest { resource_metrics };
        out.push(Batch::from_data(Data::Metrics(req), batch.meta.clone()).into());
        Ok(())
    }
}

/// Builds `count` connectors.
pub struct CountConnectorFactory;

impl Factory for CountConnectorFactory {
    type Config = CountConfig;
    type Component = Box<dyn Connector>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "count",
            "Counts spans, span events, metrics, data points and log records into metrics",
        )
        .connects(Signal::Traces, Signal::Metrics, Stability::Development)
        .connects(Signal::Metrics, Signal::Metrics, Stability::Development)
        .connects(Signal::Logs, Signal::Metrics, Stability::Development)
        .connects(Signal::Profiles, Signal::Metrics, Stability::Development)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        config: CountConfig,
    ) -> Result<Box<dyn Connector>, ConfigErrors> {
        Ok(Box::new(Count::new(ctx, &config)?))
    }
}
