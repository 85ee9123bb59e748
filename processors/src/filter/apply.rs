//! Dropping what a group's conditions hold for, top down as otelcol does: a dropped resource
//! or scope is not looked into, a dropped span takes its events along, a dropped metric its
//! data points, and a metric whose data points all go is dropped too. Empty scopes and
//! resources are pruned afterwards by the caller.

use super::compile::{Level, LogGroup, MetricGroup, ProfileGroup, TraceGroup};
use ferrotel_core::pdata::metric_points;
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    profiles::v1development::ExportProfilesServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::InstrumentationScope;
use ferrotel_core::proto::metrics::v1::{metric::Data, Metric};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::Span;
use ferrotel_ottl::{
    Context, DataPointItem, DataPointRef, EvalError, LogItem, MetricItem, ResourceItem, ScopeItem,
    SpanEventItem, SpanItem,
};

/// The first evaluation error `propagate` returned; filtering goes on (as otelcol's), and the
/// batch then fails with it.
pub type FirstError = Option<EvalError>;

/// Whether any of the level's conditions holds for `item`.
fn hit<'a, C: Context>(level: &'a Level<C>, item: C::Item<'a>, err: &mut FirstError) -> bool {
    match level.as_ref().map(|c| c.any(item)) {
        None | Some(Ok(false)) => false,
        Some(Ok(true)) => true,
        Some(Err(e)) => {
            err.get_or_insert(e);
            false
        }
    }
}

/// Keeps the entries of `v` whose `drop` flag is false.
fn retain_mask<T>(v: &mut Vec<T>, drop: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        let keep = !drop.get(i).copied().unwrap_or(false);
        i += 1;
        keep
    });
}

pub fn traces(g: &TraceGroup, req: &mut ExportTraceServiceRequest, err: &mut FirstError) {
    req.resource_spans.retain_mut(|rs| {
        let resource = rs.resource.as_ref();
        let ri = ResourceItem {
            cache: &[],
            resource,
            schema_url: &rs.schema_url,
        };
        if hit(&g.resource, ri, err) {
            return false;
        }
        rs.scope_spans.retain_mut(|ss| {
            let scope = ss.scope.as_ref();
            if hit(
                &g.scope,
                ScopeItem {
                    cache: &[],
                    scope,
                    schema_url: &ss.schema_url,
                    resource,
                },
                err,
            ) {
                return false;
            }
            ss.spans
                .retain_mut(|span| keep_span(g, span, scope, resource, err));
            true
        });
        true
    });
}

fn keep_span(
    g: &TraceGroup,
    span: &mut Span,
    scope: Option<&InstrumentationScope>,
    resource: Option<&Resource>,
    err: &mut FirstError,
) -> bool {
    let item = SpanItem {
        cache: &[],
        span,
        scope,
        resource,
    };
    let legacy = |s: &super::compile::Skip| s.skips(|m| m.span(resource, scope, item.span));
    if hit(&g.span, item, err) || g.legacy.as_ref().is_some_and(legacy) {
        return false;
    }
    if g.spanevent.is_some() {
        let drop: Vec<bool> = (item.span.events.iter().enumerate())
            .map(|(index, event)| {
                let e = SpanEventItem {
                    cache: &[],
                    event,
                    index,
                    span: item,
                };
                hit(&g.spanevent, e, err)
            })
            .collect();
        retain_mask(&mut span.events, &drop);
    }
    true
}

pub fn metrics(g: &MetricGroup, req: &mut ExportMetricsServiceRequest, err: &mut FirstError) {
    req.resource_metrics.retain_mut(|rm| {
        let resource = rm.resource.as_ref();
        let ri = ResourceItem {
            cache: &[],
            resource,
            schema_url: &rm.schema_url,
        };
        let legacy = |s: &super::compile::Skip| s.skips(|m| m.resource(resource));
        if hit(&g.resource, ri, err) || g.legacy_resource.as_ref().is_some_and(legacy) {
            return false;
        }
        rm.scope_metrics.retain_mut(|sm| {
            let scope = sm.scope.as_ref();
            if hit(
                &g.scope,
                ScopeItem {
                    cache: &[],
                    scope,
                    schema_url: &sm.schema_url,
                    resource,
                },
                err,
            ) {
                return false;
            }
            sm.metrics
                .retain_mut(|m| keep_metric(g, m, scope, resource, err));
            true
        });
        true
    });
}

fn keep_metric(
    g: &MetricGroup,
    metric: &mut Metric,
    scope: Option<&InstrumentationScope>,
    resource: Option<&Resource>,
    err: &mut FirstError,
) -> bool {
    let item = MetricItem {
        cache: &[],
        metric,
        scope,
        resource,
    };
    let legacy = |s: &super::compile::Skip| s.skips(|m| m.metric(None, &item.metric.name));
    if hit(&g.metric, item, err) || g.legacy_name.as_ref().is_some_and(legacy) {
        return false;
    }
    if g.datapoint.is_none() {
        return true;
    }
    let drop = point_mask(item.metric, |point| {
        hit(
            &g.datapoint,
            DataPointItem {
                cache: &[],
                point,
                metric: item,
            },
            err,
        )
    });
    retain_points(metric, &drop);
    metric_points(metric) > 0
}

/// For each data point of `m`, in order, what `f` says.
fn point_mask(m: &Metric, mut f: impl FnMut(DataPointRef<'_>) -> bool) -> Vec<bool> {
    match &m.data {
        Some(Data::Gauge(g)) => g
            .data_points
            .iter()
            .map(|p| f(DataPointRef::Number(p)))
            .collect(),
        Some(Data::Sum(s)) => s
            .data_points
            .iter()
            .map(|p| f(DataPointRef::Number(p)))
            .collect(),
        Some(Data::Histogram(h)) => (h.data_points.iter())
            .map(|p| f(DataPointRef::Histogram(p)))
            .collect(),
        Some(Data::ExponentialHistogram(h)) => (h.data_points.iter())
            .map(|p| f(DataPointRef::ExponentialHistogram(p)))
            .collect(),
        Some(Data::Summary(s)) => (s.data_points.iter())
            .map(|p| f(DataPointRef::Summary(p)))
            .collect(),
        None => Vec::new(),
    }
}

fn retain_points(m: &mut Metric, drop: &[bool]) {
    match &mut m.data {
        Some(Data::Gauge(g)) => retain_mask(&mut g.data_points, drop),
        Some(Data::Sum(s)) => retain_mask(&mut s.data_points, drop),
        Some(Data::Histogram(h)) => retain_mask(&mut h.data_points, drop),
        Some(Data::ExponentialHistogram(h)) => retain_mask(&mut h.data_points, drop),
        Some(Data::Summary(s)) => retain_mask(&mut s.data_points, drop),
        None => {}
    }
}

pub fn logs(g: &LogGroup, req: &mut ExportLogsServiceRequest, err: &mut FirstError) {
    req.resource_logs.retain_mut(|rl| {
        let resource = rl.resource.as_ref();
        let ri = ResourceItem {
            cache: &[],
            resource,
            schema_url: &rl.schema_url,
        };
        if hit(&g.resource, ri, err) {
            return false;
        }
        rl.scope_logs.retain_mut(|sl| {
            let scope = sl.scope.as_ref();
            if hit(
                &g.scope,
                ScopeItem {
                    cache: &[],
                    scope,
                    schema_url: &sl.schema_url,
                    resource,
                },
                err,
            ) {
                return false;
            }
            sl.log_records.retain(|log| {
                let legacy = |s: &super::compile::Skip| s.skips(|m| m.log(resource, scope, log));
                let item = LogItem {
                    cache: &[],
                    log,
                    scope,
                    resource,
                };
                !(hit(&g.log, item, err) || g.legacy.as_ref().is_some_and(legacy))
            });
            true
        });
        true
    });
}

pub fn profiles(g: &ProfileGroup, req: &mut ExportProfilesServiceRequest, err: &mut FirstError) {
    req.resource_profiles.retain_mut(|rp| {
        let resource = rp.resource.as_ref();
        let ri = ResourceItem {
            cache: &[],
            resource,
            schema_url: &rp.schema_url,
        };
        if hit(&g.resource, ri, err) {
            return false;
        }
        rp.scope_profiles.retain_mut(|sp| {
            let scope = sp.scope.as_ref();
            let si = ScopeItem {
                cache: &[],
                scope,
                schema_url: &sp.schema_url,
                resource,
            };
            if hit(&g.scope, si, err) {
                return false;
            }
            sp.profiles.retain(|_| !hit(&g.profile, si, err));
            !sp.profiles.is_empty()
        });
        !rp.scope_profiles.is_empty()
    });
}
