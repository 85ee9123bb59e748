//! Moving parts of a request into another, for every signal alike: whole resource groups
//! (`ResourceSpans`, `ResourceMetrics`, `ResourceLogs`) for resource-level routes, single
//! records (spans, metrics, log records) for record-level ones, single data points for
//! datapoint-level ones. A moved record goes under a copy of its resource and scope (a data
//! point under a copy of its metric too); groups, scopes and metrics left empty are removed, as
//! otelcol's `Move*If` helpers do. Generic over the request type, so a route of any context is
//! a predicate away from these.

use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::InstrumentationScope;
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::metric::{self, Data::*};
use ferrotel_core::proto::metrics::v1::{self as metrics, Metric, ResourceMetrics, ScopeMetrics};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::Data;
use ferrotel_ottl::DataPointRef;
use ferrotel_ottl::ResourceItem;

/// A request made of resource groups.
pub trait Groups: Default {
    type Group;
    fn groups(&self) -> &[Self::Group];
    fn groups_mut(&mut self) -> &mut Vec<Self::Group>;
    /// What the resource context sees of a group.
    fn resource_item(g: &Self::Group) -> ResourceItem<'_>;
    fn into_data(self) -> Data;
}

/// A request whose groups hold scopes of records.
pub trait Nested: Groups {
    type Scope;
    type Record;
    fn scopes(g: &mut Self::Group) -> &mut Vec<Self::Scope>;
    fn records(s: &mut Self::Scope) -> &mut Vec<Self::Record>;
    fn scope(s: &Self::Scope) -> Option<&InstrumentationScope>;
    /// A copy of the group's resource and schema URL, with no scopes.
    fn group_shell(g: &Self::Group) -> Self::Group;
    /// A copy of the scope and its schema URL, with no records.
    fn scope_shell(s: &Self::Scope) -> Self::Scope;
}

/// Moves the groups `pred` holds for from `from` to the end of `to`, both keeping their order.
pub fn move_groups_if<R: Groups>(
    from: &mut R,
    to: &mut R,
    mut pred: impl FnMut(&R::Group) -> bool,
) {
    let moved = take_if(from.groups_mut(), |g| pred(g));
    to.groups_mut().extend(moved);
}

/// Moves the records `pred` holds for (given the record, its scope and its resource) from
/// `from` to `to`, regrouped under copies of their resource and scope.
pub fn move_records_if<R: Nested>(
    from: &mut R,
    to: &mut R,
    mut pred: impl FnMut(&R::Record, Option<&InstrumentationScope>, Option<&Resource>) -> bool,
) {
    move_parts_if(from, to, |record, scope, resource| {
        if pred(&record, scope, resource) {
            (None, Some(record))
        } else {
            (Some(record), None)
        }
    });
}

/// What a splitter makes of a record: the part that stays and the part that moves.
type Parts<T> = (Option<T>, Option<T>);

/// Splits every record (given its scope and resource) into the part that stays and the part
/// that moves to `to`, regrouped under copies of its resource and scope.
fn move_parts_if<R: Nested>(
    from: &mut R,
    to: &mut R,
    mut split: impl FnMut(
        R::Record,
        Option<&InstrumentationScope>,
        Option<&Resource>,
    ) -> Parts<R::Record>,
) {
    for g in from.groups_mut().iter_mut() {
        let mut scopes = std::mem::take(R::scopes(g));
        let mut moved = Vec::new();
        let resource = R::resource_item(g).resource;
        for s in &mut scopes {
            let (mut kept, mut out) = (Vec::new(), Vec::new());
            for record in std::mem::take(R::records(s)) {
                let (k, m) = split(record, R::scope(s), resource);
                kept.extend(k);
                out.extend(m);
            }
            *R::records(s) = kept;
            if !out.is_empty() {
                let mut shell = R::scope_shell(s);
                *R::records(&mut shell) = out;
                moved.push(shell);
            }
        }
        scopes.retain_mut(|s| !R::records(s).is_empty());
        *R::scopes(g) = scopes;
        if !moved.is_empty() {
            let mut shell = R::group_shell(g);
            *R::scopes(&mut shell) = moved;
            to.groups_mut().push(shell);
        }
    }
    from.groups_mut().retain_mut(|g| !R::scopes(g).is_empty());
}

/// Moves the data points `pred` holds for (given the point, its metric without points, its
/// scope and its resource) from `from` to `to`, under copies of their metric, scope and
/// resource; metrics left without points are removed, as otelcol's
/// `MoveDataPointsWithContextIf`.
pub fn move_points_if(
    from: &mut ExportMetricsServiceRequest,
    to: &mut ExportMetricsServiceRequest,
    mut pred: impl FnMut(
        DataPointRef<'_>,
        &Metric,
        Option<&InstrumentationScope>,
        Option<&Resource>,
    ) -> bool,
) {
    move_parts_if(from, to, |mut metric, scope, resource| {
        let shell = metric_shell(&metric);
        let mut moved = shell.clone();
        let mut p = |point: DataPointRef<'_>| pred(point, &shell, scope, resource);
        match (metric.data.as_mut(), moved.data.as_mut()) {
            (Some(Gauge(a)), Some(Gauge(b))) => {
                b.data_points = take_if(&mut a.data_points, |d| p(DataPointRef::Number(d)))
            }
            (Some(Sum(a)), Some(Sum(b))) => {
                b.data_points = take_if(&mut a.data_points, |d| p(DataPointRef::Number(d)))
            }
            (Some(Histogram(a)), Some(Histogram(b))) => {
                b.data_points = take_if(&mut a.data_points, |d| p(DataPointRef::Histogram(d)))
            }
            (Some(ExponentialHistogram(a)), Some(ExponentialHistogram(b))) => {
                b.data_points = take_if(&mut a.data_points, |d| {
                    p(DataPointRef::ExponentialHistogram(d))
                })
            }
            (Some(Summary(a)), Some(Summary(b))) => {
                b.data_points = take_if(&mut a.data_points, |d| p(DataPointRef::Summary(d)))
            }
            _ => return (Some(metric), None),
        }
        let has_points = |m: &Metric| m.data.as_ref().is_some_and(|d| points(d) > 0);
        (
            has_points(&metric).then_some(metric),
            has_points(&moved).then_some(moved),
        )
    });
}

/// Removes and returns the items `pred` holds for, both parts keeping their order.
fn take_if<T>(items: &mut Vec<T>, mut pred: impl FnMut(&T) -> bool) -> Vec<T> {
    let (yes, no) = std::mem::take(items).into_iter().partition(|t| pred(t));
    *items = no;
    yes
}

/// The number of data points of a metric's data.
fn points(d: &metric::Data) -> usize {
    match d {
        Gauge(g) => g.data_points.len(),
        Sum(s) => s.data_points.len(),
        Histogram(h) => h.data_points.len(),
        ExponentialHistogram(e) => e.data_points.len(),
        Summary(s) => s.data_points.len(),
    }
}

/// A copy of a metric (name, description, unit, metadata, type, temporality, monotonicity)
/// without its data points.
fn metric_shell(m: &Metric) -> Metric {
    let data = m.data.as_ref().map(|d| match d {
        Gauge(_) => Gauge(Default::default()),
        Sum(s) => Sum(metrics::Sum {
            aggregation_temporality: s.aggregation_temporality,
            is_monotonic: s.is_monotonic,
            data_points: Vec::new(),
        }),
        Histogram(h) => Histogram(metrics::Histogram {
            aggregation_temporality: h.aggregation_temporality,
            data_points: Vec::new(),
        }),
        ExponentialHistogram(e) => ExponentialHistogram(metrics::ExponentialHistogram {
            aggregation_temporality: e.aggregation_temporality,
            data_points: Vec::new(),
        }),
        Summary(_) => Summary(Default::default()),
    });
    Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        metadata: m.metadata.clone(),
        data,
    }
}

/// Implements [`Groups`] and [`Nested`] for one signal's request, group, scope and record
/// types and their field names (the three differ only in names).
macro_rules! nested {
    ($req:ty, $groups:ident, $group:ty, $scopes:ident, $scope:ty, $records:ident, $record:ty, $data:ident) => {
        impl Groups for $req {
            type Group = $group;
            fn groups(&self) -> &[$group] {
                &self.$groups
            }
            fn groups_mut(&mut self) -> &mut Vec<$group> {
                &mut self.$groups
            }
            fn resource_item(g: &$group) -> ResourceItem<'_> {
                ResourceItem {
                    cache: &[],
                    resource: g.resource.as_ref(),
                    schema_url: &g.schema_url,
                }
            }
            fn into_data(self) -> Data {
                Data::$data(self)
            }
        }

        impl Nested for $req {
            type Scope = $scope;
            type Record = $record;
            fn scopes(g: &mut $group) -> &mut Vec<$scope> {
                &mut g.$scopes
            }
            fn records(s: &mut $scope) -> &mut Vec<$record> {
                &mut s.$records
            }
            fn scope(s: &$scope) -> Option<&InstrumentationScope> {
                s.scope.as_ref()
            }
            fn group_shell(g: &$group) -> $group {
                <$group>::from_shell(g.resource.clone(), g.schema_url.clone())
            }
            fn scope_shell(s: &$scope) -> $scope {
                <$scope>::from_shell(s.scope.clone(), s.schema_url.clone())
            }
        }
    };
}

/// Struct literals of the shells (each type's own field names).
trait Shell<T> {
    fn from_shell(parent: Option<T>, schema_url: String) -> Self;
}

macro_rules! shell {
    ($ty:ty, $parent:ty, $field:ident) => {
        impl Shell<$parent> for $ty {
            fn from_shell(parent: Option<$parent>, schema_url: String) -> Self {
                Self {
                    $field: parent,
                    schema_url,
                    ..Default::default()
                }
            }
        }
    };
}

shell!(ResourceSpans, Resource, resource);
shell!(ResourceMetrics, Resource, resource);
shell!(ResourceLogs, Resource, resource);
shell!(ScopeSpans, InstrumentationScope, scope);
shell!(ScopeMetrics, InstrumentationScope, scope);
shell!(ScopeLogs, InstrumentationScope, scope);

nested!(
    ExportTraceServiceRequest,
    resource_spans,
    ResourceSpans,
    scope_spans,
    ScopeSpans,
    spans,
    Span,
    Traces
);
nested!(
    ExportMetricsServiceRequest,
    resource_metrics,
    ResourceMetrics,
    scope_metrics,
    ScopeMetrics,
    metrics,
    Metric,
    Metrics
);
nested!(
    ExportLogsServiceRequest,
    resource_logs,
    ResourceLogs,
    scope_logs,
    ScopeLogs,
    log_records,
    LogRecord,
    Logs
);

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::proto::metrics::v1::number_data_point::Value;
    use ferrotel_core::proto::metrics::v1::{HistogramDataPoint, NumberDataPoint};

    fn number(v: i64) -> NumberDataPoint {
        NumberDataPoint {
            value: Some(Value::AsInt(v)),
            ..Default::default()
        }
    }

    fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource::default()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "s".into(),
                        ..Default::default()
                    }),
                    metrics,
                    schema_url: "u".into(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn metric(name: &str, data: metric::Data) -> Metric {
        Metric {
            name: name.into(),
            unit: "1".into(),
            data: Some(data),
            ..Default::default()
        }
    }

    /// Per metric: its name and the int values (or counts) of its points.
    fn points_of(r: &ExportMetricsServiceRequest) -> Vec<(String, Vec<i64>)> {
        let values = |d: &metric::Data| match d {
            Gauge(g) => g.data_points.iter().map(int).collect(),
            Sum(s) => s.data_points.iter().map(int).collect(),
            Histogram(h) => h.data_points.iter().map(|p| p.count as i64).collect(),
            _ => Vec::new(),
        };
        r.resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| {
                (
                    m.name.clone(),
                    m.data.as_ref().map(values).unwrap_or_default(),
                )
            })
            .collect()
    }

    fn int(p: &NumberDataPoint) -> i64 {
        match p.value {
            Some(Value::AsInt(i)) => i,
            _ => 0,
        }
    }

    #[test]
    fn data_points_move_under_copies_of_their_metric_and_emptied_metrics_go() {
        let sum = metrics::Sum {
            data_points: vec![number(5)],
            aggregation_temporality: 1,
            is_monotonic: true,
        };
        let hist = metrics::Histogram {
            data_points: vec![
                HistogramDataPoint {
                    count: 3,
                    ..Default::default()
                },
                HistogramDataPoint {
                    count: 30,
                    ..Default::default()
                },
            ],
            aggregation_temporality: 2,
        };
        let mut from = request(vec![
            metric(
                "g",
                Gauge(metrics::Gauge {
                    data_points: vec![number(1), number(2), number(3)],
                }),
            ),
            metric("sum", Sum(sum)),
            metric("h", Histogram(hist)),
        ]);
        let mut to = ExportMetricsServiceRequest::default();
        let mut seen = Vec::new();
        move_points_if(&mut from, &mut to, |p, m, scope, _| {
            seen.push((m.name.clone(), scope.map(|s| s.name.clone())));
            match p {
                DataPointRef::Number(n) => int(n) > 1,
                DataPointRef::Histogram(h) => h.count > 10,
                _ => false,
            }
        });
        let owned = |v: &[(&str, &[i64])]| -> Vec<(String, Vec<i64>)> {
            v.iter().map(|(n, p)| (n.to_string(), p.to_vec())).collect()
        };
        assert_eq!(points_of(&from), owned(&[("g", &[1]), ("h", &[3])]));
        assert_eq!(
            points_of(&to),
            owned(&[("g", &[2, 3]), ("sum", &[5]), ("h", &[30])])
        );
        assert_eq!(seen.len(), 6, "every point seen once");
        assert_eq!(seen[3], ("sum".to_string(), Some("s".to_string())));
        let moved = &to.resource_metrics[0].scope_metrics[0];
        assert_eq!(moved.schema_url, "u");
        assert_eq!(moved.metrics[1].unit, "1");
        let Some(Sum(s)) = &moved.metrics[1].data else {
            panic!("a sum")
        };
        assert_eq!((s.aggregation_temporality, s.is_monotonic), (1, true));
    }

    #[test]
    fn moving_every_point_leaves_nothing_behind() {
        let mut from = request(vec![metric(
            "g",
            Gauge(metrics::Gauge {
                data_points: vec![number(1)],
            }),
        )]);
        let mut to = ExportMetricsServiceRequest::default();
        move_points_if(&mut from, &mut to, |_, _, _, _| true);
        assert!(
            from.resource_metrics.is_empty(),
            "emptied groups are removed"
        );
        assert_eq!(points_of(&to), [("g".to_string(), vec![1])]);
    }
}
