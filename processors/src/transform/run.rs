//! Running compiled groups over a request: each group visits every item of its context, with
//! the item's scope and resource borrowed alongside (span events and data points are taken out
//! of their span or metric while visited, and put back). Each item gets an empty `cache`, the
//! map statements may use for intermediate values, kept across the group's statements.

use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::{metric::Data, Metric};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_ottl::{
    DataPointContext, DataPointItemMut, DataPointMut, EvalError, LogContext, LogItemMut,
    MetricContext, MetricItemMut, NewMetrics, ResourceContext, ResourceItemMut, ScopeContext,
    ScopeItemMut, SpanContext, SpanEventContext, SpanEventItemMut, SpanItemMut, Statements,
};

/// A group of trace statements, by context.
pub enum TraceGroup {
    Resource(Statements<ResourceContext>),
    Scope(Statements<ScopeContext>),
    Span(Statements<SpanContext>),
    SpanEvent(Statements<SpanEventContext>),
}

/// A group of metric statements, by context.
pub enum MetricGroup {
    Resource(Statements<ResourceContext>),
    Scope(Statements<ScopeContext>),
    Metric(Statements<MetricContext>),
    DataPoint(Statements<DataPointContext>),
}

/// A group of log statements, by context.
pub enum LogGroup {
    Resource(Statements<ResourceContext>),
    Scope(Statements<ScopeContext>),
    Log(Statements<LogContext>),
}

impl TraceGroup {
    pub fn run(&self, req: &mut ExportTraceServiceRequest) -> Result<(), EvalError> {
        let mut cache = Vec::new();
        for rs in &mut req.resource_spans {
            let resource = &mut rs.resource;
            if let TraceGroup::Resource(st) = self {
                st.execute(&mut ResourceItemMut {
                    cache: fresh(&mut cache),
                    resource,
                    schema_url: &mut rs.schema_url,
                })?;
                continue;
            }
            for ss in &mut rs.scope_spans {
                let scope = &mut ss.scope;
                match self {
                    TraceGroup::Scope(st) => st.execute(&mut ScopeItemMut {
                        cache: fresh(&mut cache),
                        scope,
                        schema_url: &mut ss.schema_url,
                        resource,
                    })?,
                    TraceGroup::Span(st) => {
                        for span in &mut ss.spans {
                            st.execute(&mut SpanItemMut {
                                cache: fresh(&mut cache),
                                span,
                                scope,
                                resource,
                            })?;
                        }
                    }
                    TraceGroup::SpanEvent(st) => {
                        for span in &mut ss.spans {
                            let mut events = std::mem::take(&mut span.events);
                            let result =
                                events
                                    .iter_mut()
                                    .enumerate()
                                    .try_for_each(|(index, event)| {
                                        st.execute(&mut SpanEventItemMut {
                                            cache: fresh(&mut cache),
                                            event,
                                            index,
                                            span: SpanItemMut {
                                                cache: &mut Vec::new(),
                                                span,
                                                scope,
                                                resource,
                                            },
                                        })
                                    });
                            span.events = events;
                            result?;
                        }
                    }
                    TraceGroup::Resource(_) => {}
                }
            }
        }
        Ok(())
    }
}

impl MetricGroup {
    pub fn run(&self, req: &mut ExportMetricsServiceRequest) -> Result<(), EvalError> {
        let mut cache = Vec::new();
        for rm in &mut req.resource_metrics {
            let resource = &mut rm.resource;
            if let MetricGroup::Resource(st) = self {
                st.execute(&mut ResourceItemMut {
                    cache: fresh(&mut cache),
                    resource,
                    schema_url: &mut rm.schema_url,
                })?;
                continue;
            }
            for sm in &mut rm.scope_metrics {
                let scope = &mut sm.scope;
                match self {
                    MetricGroup::Scope(st) => st.execute(&mut ScopeItemMut {
                        cache: fresh(&mut cache),
                        scope,
                        schema_url: &mut sm.schema_url,
                        resource,
                    })?,
                    MetricGroup::Metric(st) => {
                        each_metric(&mut sm.metrics, scope, resource, |item| st.execute(item))?
                    }
                    MetricGroup::DataPoint(st) => {
                        each_metric(&mut sm.metrics, scope, resource, |item| {
                            each_point(item, |point, metric| {
                                st.execute(&mut DataPointItemMut {
                                    cache: fresh(&mut cache),
                                    point,
                                    metric,
                                })
                            })
                        })?
                    }
                    MetricGroup::Resource(_) => {}
                }
            }
        }
        Ok(())
    }
}

/// The cache (otelcol's `cache` path) an item starts with: empty, its allocation reused.
fn fresh(cache: &mut Vec<KeyValue>) -> &mut Vec<KeyValue> {
    cache.clear();
    cache
}

/// The most metrics one group may add to a scope, per metric the scope came with: a
/// `copy_metric` whose `where` also holds for its copies would otherwise add metrics for ever
/// (otelcol loops), and this keeps the memory a group may add proportional to its input.
pub const MAX_ADDED_PER_METRIC: usize = 16;

/// Calls `f` on every metric of a scope, then on the metrics editors added (`copy_metric`,
/// `extract_sum_metric`, ...), which are appended after the metrics as otelcol appends them to
/// the scope's metric slice, so the group's statements visit them in turn. Past
/// [`MAX_ADDED_PER_METRIC`] per metric of the scope, further added metrics are dropped, with a
/// warning.
pub fn each_metric(
    metrics: &mut Vec<Metric>,
    scope: &mut Option<InstrumentationScope>,
    resource: &mut Option<Resource>,
    mut f: impl FnMut(&mut MetricItemMut<'_>) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    let (mut added, mut cache) = (NewMetrics::default(), Vec::new());
    let limit = metrics.len().saturating_mul(MAX_ADDED_PER_METRIC);
    let (mut at, mut room, mut warned) = (0, limit, false);
    while at < metrics.len() {
        let result = f(&mut MetricItemMut {
            cache: fresh(&mut cache),
            metric: &mut metrics[at],
            scope,
            resource,
            added: &mut added,
        });
        if !added.is_empty() {
            let new = added.take(&metrics[at]);
            if new.len() > room && !warned {
                warned = true;
                tracing::warn!(
                    limit,
                    "metric statements added more metrics to one scope than the limit (16 per \
                     metric); the rest are dropped (does a copy_metric's where clause hold for \
                     its copies?)"
                );
            }
            let keep = new.len().min(room);
            room -= keep;
            metrics.extend(new.into_iter().take(keep));
        }
        result?;
        at += 1;
    }
    Ok(())
}

/// Calls `f` on every data point of `item`'s metric. The points are taken out of the metric
/// while they are visited (the metric keeps its type, temporality and monotonicity) and put
/// back after, whatever `f` returns.
pub fn each_point(
    item: &mut MetricItemMut<'_>,
    mut f: impl FnMut(DataPointMut<'_>, MetricItemMut<'_>) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    macro_rules! visit {
        ($variant:ident, $field:ident, $ref:ident) => {{
            let Some(Data::$variant(d)) = &mut item.metric.data else {
                unreachable!()
            };
            let mut points = std::mem::take(&mut d.$field);
            let result = points.iter_mut().try_for_each(|p| {
                f(
                    DataPointMut::$ref(p),
                    MetricItemMut {
                        cache: &mut *item.cache,
                        metric: item.metric,
                        scope: item.scope,
                        resource: item.resource,
                        added: item.added,
                    },
                )
            });
            if let Some(Data::$variant(d)) = &mut item.metric.data {
                d.$field = points;
            }
            result
        }};
    }
    match kind(item.metric) {
        Some(Kind::Gauge) => visit!(Gauge, data_points, Number),
        Some(Kind::Sum) => visit!(Sum, data_points, Number),
        Some(Kind::Histogram) => visit!(Histogram, data_points, Histogram),
        Some(Kind::Exponential) => visit!(ExponentialHistogram, data_points, ExponentialHistogram),
        Some(Kind::Summary) => visit!(Summary, data_points, Summary),
        None => Ok(()),
    }
}

enum Kind {
    Gauge,
    Sum,
    Histogram,
    Exponential,
    Summary,
}

fn kind(m: &Metric) -> Option<Kind> {
    Some(match m.data.as_ref()? {
        Data::Gauge(_) => Kind::Gauge,
        Data::Sum(_) => Kind::Sum,
        Data::Histogram(_) => Kind::Histogram,
        Data::ExponentialHistogram(_) => Kind::Exponential,
        Data::Summary(_) => Kind::Summary,
    })
}

impl LogGroup {
    pub fn run(&self, req: &mut ExportLogsServiceRequest) -> Result<(), EvalError> {
        let mut cache = Vec::new();
        for rl in &mut req.resource_logs {
            let resource = &mut rl.resource;
            if let LogGroup::Resource(st) = self {
                st.execute(&mut ResourceItemMut {
                    cache: fresh(&mut cache),
                    resource,
                    schema_url: &mut rl.schema_url,
                })?;
                continue;
            }
            for sl in &mut rl.scope_logs {
                let scope = &mut sl.scope;
                match self {
                    LogGroup::Scope(st) => st.execute(&mut ScopeItemMut {
                        cache: fresh(&mut cache),
                        scope,
                        schema_url: &mut sl.schema_url,
                        resource,
                    })?,
                    LogGroup::Log(st) => {
                        for log in &mut sl.log_records {
                            st.execute(&mut LogItemMut {
                                cache: fresh(&mut cache),
                                log,
                                scope,
                                resource,
                            })?;
                        }
                    }
                    LogGroup::Resource(_) => {}
                }
            }
        }
        Ok(())
    }
}
