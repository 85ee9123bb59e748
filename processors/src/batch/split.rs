//! Splitting OTLP requests by item count: traces by span, metrics by data point, logs by log
//! record. Every part keeps the resource and scope of its items (they are copied when a resource
//! or scope straddles a split point); items themselves are moved, never copied.

use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::logs::v1::{ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{metric, Metric, ResourceMetrics, ScopeMetrics};
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans};
use ferrotel_core::{pdata, Batch, Data, DecodeError, Signal};

/// One level of the OTLP tree that holds items, directly or below it.
trait Node: Sized {
    fn items(&self) -> usize;
    /// Moves the first `n` items (`0 < n < self.items()`) into a new node with the same
    /// header fields (resource, scope, metric name...).
    fn take_front(&mut self, n: usize) -> Self;
}

/// Moves the first `n` items of `nodes` out: whole nodes while they fit, then part of the node
/// that straddles the split point.
fn take_nodes<T: Node>(nodes: &mut Vec<T>, mut n: usize) -> Vec<T> {
    let mut whole = 0;
    for node in nodes.iter() {
        let k = node.items();
        if k > n {
            break;
        }
        n -= k;
        whole += 1;
    }
    let mut out: Vec<T> = nodes.drain(..whole).collect();
    if n > 0 {
        if let Some(first) = nodes.first_mut() {
            out.push(first.take_front(n));
        }
    }
    out
}

fn count_nodes<T: Node>(nodes: &[T]) -> usize {
    nodes.iter().map(Node::items).sum()
}

fn count_leaves<T>(items: &[T]) -> usize {
    items.len()
}

fn take_leaves<T>(items: &mut Vec<T>, n: usize) -> Vec<T> {
    items.drain(..n.min(items.len())).collect()
}

/// `Node` for a level whose children are in `$field`: `take_front` clones the node without its
/// children, then moves the first `n` items of the children into the clone.
macro_rules! container {
    ($ty:ty, $field:ident, $count:ident, $take:ident) => {
        impl Node for $ty {
            fn items(&self) -> usize {
                $count(&self.$field)
            }
            fn take_front(&mut self, n: usize) -> Self {
                let children = std::mem::take(&mut self.$field);
                let mut head = self.clone();
                self.$field = children;
                head.$field = $take(&mut self.$field, n);
                head
            }
        }
    };
}

container!(ScopeSpans, spans, count_leaves, take_leaves);
container!(ResourceSpans, scope_spans, count_nodes, take_nodes);
container!(ScopeLogs, log_records, count_leaves, take_leaves);
container!(ResourceLogs, scope_logs, count_nodes, take_nodes);
container!(ScopeMetrics, metrics, count_nodes, take_nodes);
container!(ResourceMetrics, scope_metrics, count_nodes, take_nodes);

impl Node for Metric {
    fn items(&self) -> usize {
        pdata::metric_points(self)
    }
    fn take_front(&mut self, n: usize) -> Self {
        let data = self.data.take();
        let mut head = self.clone();
        self.data = data;
        // Clone the data's header fields (temporality, monotonicity), move the points.
        macro_rules! points {
            ($variant:ident, $d:expr) => {{
                let points = std::mem::take(&mut $d.data_points);
                let mut h = $d.clone();
                $d.data_points = points;
                h.data_points = take_leaves(&mut $d.data_points, n);
                metric::Data::$variant(h)
            }};
        }
        head.data = match self.data.as_mut() {
            Some(metric::Data::Gauge(d)) => Some(points!(Gauge, d)),
            Some(metric::Data::Sum(d)) => Some(points!(Sum, d)),
            Some(metric::Data::Histogram(d)) => Some(points!(Histogram, d)),
            Some(metric::Data::ExponentialHistogram(d)) => Some(points!(ExponentialHistogram, d)),
            Some(metric::Data::Summary(d)) => Some(points!(Summary, d)),
            None => None,
        };
        head
    }
}

/// Moves the first `n` items of `data` into a new request of the same signal; `data` keeps the
/// rest. Taking more items than there are takes them all. Profiles are not split (their
/// samples refer to the request's dictionary): all of them are taken.
pub fn take_front(data: &mut Data, n: usize) -> Data {
    match data {
        Data::Traces(t) => Data::Traces(ExportTraceServiceRequest {
            resource_spans: take_nodes(&mut t.resource_spans, n),
        }),
        Data::Metrics(m) => Data::Metrics(ExportMetricsServiceRequest {
            resource_metrics: take_nodes(&mut m.resource_metrics, n),
        }),
        Data::Logs(l) => Data::Logs(ExportLogsServiceRequest {
            resource_logs: take_nodes(&mut l.resource_logs, n),
        }),
        Data::Profiles(p) => Data::Profiles(std::mem::take(p)),
    }
}

/// Splits `data` into requests of at most `max` items each (`max == 0`: no limit), in order.
/// Profiles are never split.
pub fn split_data(mut data: Data, max: usize) -> Vec<Data> {
    let total = data.item_count();
    if max == 0 || total <= max || data.signal() == Signal::Profiles {
        return vec![data];
    }
    let mut parts = Vec::with_capacity(total.div_ceil(max));
    let mut left = total;
    while left > max {
        parts.push(take_front(&mut data, max));
        left -= max;
    }
    parts.push(data);
    parts
}

/// Moves the first `n` items of `batch` into a new batch with the same metadata; `batch` keeps
/// the rest. Decodes `batch` (copying it only if its payload is shared); on a decode error
/// `batch` is left as it was.
pub fn split_front(batch: &mut Batch, n: usize) -> Result<Batch, DecodeError> {
    let meta = batch.meta.clone();
    let head = take_front(batch.make_mut()?, n);
    // Both parts hold the tokens: the data is delivered when both are.
    Ok(Batch::from_data(head, meta).keep_deliveries_of(batch))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
    use ferrotel_core::proto::logs::v1::LogRecord;
    use ferrotel_core::proto::metrics::v1::{
        AggregationTemporality, Gauge, Histogram, HistogramDataPoint, NumberDataPoint, Sum,
    };
    use ferrotel_core::proto::resource::v1::Resource;
    use ferrotel_core::proto::trace::v1::Span;
    use ferrotel_core::Signal;
    use std::sync::Arc;

    fn resource(r: usize) -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!("svc{r}"))),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn scope(s: usize) -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: format!("scope{s}"),
            ..Default::default()
        })
    }

    /// A request whose items are named `r<resource>s<scope>i<item>`; `shape[r][s]` is the
    /// number of items in scope `s` of resource `r`.
    pub(crate) fn sample(signal: Signal, shape: &[&[usize]]) -> Data {
        let name = |r: usize, s: usize, i: usize| format!("r{r}s{s}i{i}");
        match signal {
            Signal::Profiles => panic!("profiles are never split"),
            Signal::Traces => Data::Traces(ExportTraceServiceRequest {
                resource_spans: shape
                    .iter()
                    .enumerate()
                    .map(|(r, scopes)| ResourceSpans {
                        resource: resource(r),
                        scope_spans: scopes
                            .iter()
                            .enumerate()
                            .map(|(s, &n)| ScopeSpans {
                                scope: scope(s),
                                spans: (0..n)
                                    .map(|i| Span {
                                        name: name(r, s, i),
                                        ..Default::default()
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
            }),
            Signal::Logs => Data::Logs(ExportLogsServiceRequest {
                resource_logs: shape
                    .iter()
                    .enumerate()
                    .map(|(r, scopes)| ResourceLogs {
                        resource: resource(r),
                        scope_logs: scopes
                            .iter()
                            .enumerate()
                            .map(|(s, &n)| ScopeLogs {
                                scope: scope(s),
                                log_records: (0..n)
                                    .map(|i| LogRecord {
                                        event_name: name(r, s, i),
                                        ..Default::default()
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
            }),
            // Each scope holds a gauge with n points and a cumulative sum with n points, and
            // a histogram with one point; point identity is kept in time_unix_nano.
            Signal::Metrics => Data::Metrics(ExportMetricsServiceRequest {
                resource_metrics: shape
                    .iter()
                    .enumerate()
                    .map(|(r, scopes)| ResourceMetrics {
                        resource: resource(r),
                        scope_metrics: scopes
                            .iter()
                            .enumerate()
                            .map(|(s, &n)| {
                                let id = |m: usize, i: usize| {
                                    (r * 1_000_000 + s * 10_000 + m * 1000 + i) as u64
                                };
                                let nums = |m: usize| {
                                    (0..n)
                                        .map(|i| NumberDataPoint {
                                            time_unix_nano: id(m, i),
                                            ..Default::default()
                                        })
                                        .collect::<Vec<_>>()
                                };
                                ScopeMetrics {
                                    scope: scope(s),
                                    metrics: vec![
                                        Metric {
                                            name: "g".into(),
                                            data: Some(metric::Data::Gauge(Gauge {
                                                data_points: nums(0),
                                            })),
                                            ..Default::default()
                                        },
                                        Metric {
                                            name: "s".into(),
                                            unit: "1".into(),
                                            data: Some(metric::Data::Sum(Sum {
                                                data_points: nums(1),
                                                aggregation_temporality:
                                                    AggregationTemporality::Cumulative as i32,
                                                is_monotonic: true,
                                            })),
                                            ..Default::default()
                                        },
                                        Metric {
                                            name: "h".into(),
                                            data: Some(metric::Data::Histogram(Histogram {
                                                data_points: vec![HistogramDataPoint {
                                                    time_unix_nano: id(2, 0),
                                                    ..Default::default()
                                                }],
                                                aggregation_temporality:
                                                    AggregationTemporality::Delta as i32,
                                            })),
                                            ..Default::default()
                                        },
                                    ],
                                    ..Default::default()
                                }
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
            }),
        }
    }

    /// Every item as (resource, scope, metric header, item id), in order: what a split must
    /// preserve exactly once.
    pub(crate) fn items(data: &Data) -> Vec<String> {
        let res = |r: &Option<Resource>| format!("{r:?}");
        let sc = |s: &Option<InstrumentationScope>| format!("{s:?}");
        let mut out = Vec::new();
        match data {
            Data::Profiles(_) => panic!("profiles are never split"),
            Data::Traces(t) => {
                for r in &t.resource_spans {
                    for s in &r.scope_spans {
                        for i in &s.spans {
                            out.push(format!("{}|{}|{}", res(&r.resource), sc(&s.scope), i.name));
                        }
                    }
                }
            }
            Data::Logs(l) => {
                for r in &l.resource_logs {
                    for s in &r.scope_logs {
                        for i in &s.log_records {
                            out.push(format!(
                                "{}|{}|{}",
                                res(&r.resource),
                                sc(&s.scope),
                                i.event_name
                            ));
                        }
                    }
                }
            }
            Data::Metrics(m) => {
                for r in &m.resource_metrics {
                    for s in &r.scope_metrics {
                        for metric in &s.metrics {
                            let head = format!(
                                "{}|{}|{}/{}",
                                res(&r.resource),
                                sc(&s.scope),
                                metric.name,
                                metric.unit
                            );
                            let ids: Vec<String> = match &metric.data {
                                Some(metric::Data::Gauge(g)) => g
                                    .data_points
                                    .iter()
                                    .map(|p| format!("gauge {}", p.time_unix_nano))
                                    .collect(),
                                Some(metric::Data::Sum(d)) => d
                                    .data_points
                                    .iter()
                                    .map(|p| {
                                        format!(
                                            "sum {} {} {}",
                                            d.aggregation_temporality,
                                            d.is_monotonic,
                                            p.time_unix_nano
                                        )
                                    })
                                    .collect(),
                                Some(metric::Data::Histogram(d)) => d
                                    .data_points
                                    .iter()
                                    .map(|p| {
                                        format!(
                                            "hist {} {}",
                                            d.aggregation_temporality, p.time_unix_nano
                                        )
                                    })
                                    .collect(),
                                other => vec![format!("{other:?}")],
                            };
                            out.extend(ids.into_iter().map(|i| format!("{head}|{i}")));
                        }
                    }
                }
            }
        }
        out
    }

    const SHAPES: &[&[&[usize]]] = &[
        &[&[5]],
        &[&[3, 0, 4], &[1], &[6, 2]],
        &[&[0], &[7, 7, 7]],
        &[&[1, 1, 1, 1], &[1, 1]],
    ];

    #[test]
    fn split_data_preserves_every_item_once_for_every_signal() {
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            for shape in SHAPES {
                let data = sample(signal, shape);
                let expected = items(&data);
                let total = expected.len();
                assert_eq!(total, data.item_count());
                for max in 1..=total + 1 {
                    let parts = split_data(data.clone(), max);
                    assert_eq!(parts.len(), total.div_ceil(max).max(1), "{signal} {max}");
                    for p in &parts {
                        assert!(p.item_count() <= max, "{signal} max {max}: part too big");
                        assert!(p.item_count() > 0 || total == 0);
                    }
                    let got: Vec<String> = parts.iter().flat_map(items).collect();
                    assert_eq!(got, expected, "{signal} shape {shape:?} max {max}");
                }
            }
        }
    }

    #[test]
    fn split_keeps_metric_headers_and_moves_points() {
        let mut data = sample(Signal::Metrics, &[&[3]]);
        // Points: g(3), s(3), h(1). Take 4: all of g and one point of s.
        let head = take_front(&mut data, 4);
        assert_eq!(head.item_count(), 4);
        assert_eq!(data.item_count(), 3);
        let Data::Metrics(h) = &head else {
            panic!("signal changed")
        };
        let metrics = &h.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 2);
        match &metrics[1].data {
            Some(metric::Data::Sum(s)) => {
                assert!(s.is_monotonic);
                assert_eq!(
                    s.aggregation_temporality,
                    AggregationTemporality::Cumulative as i32
                );
                assert_eq!(s.data_points.len(), 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(metrics[1].unit, "1");
    }

    #[test]
    fn split_front_of_a_batch_keeps_the_rest_and_the_metadata() {
        let bytes = sample(Signal::Traces, &[&[3]]).encode();
        let meta = Arc::new(ferrotel_core::RequestMeta {
            receiver: "otlp".into(),
            ..Default::default()
        });
        let mut b = Batch::from_bytes(Signal::Traces, bytes, None, meta.clone());
        let head = split_front(&mut b, 1).unwrap();
        assert_eq!(head.item_count(), 1);
        assert_eq!(b.item_count(), 2);
        assert_eq!(head.meta, meta);
        assert_eq!(b.meta, meta);

        let mut bad =
            Batch::from_bytes(Signal::Traces, vec![0x0a, 0xff, 0xff].into(), Some(5), meta);
        assert!(split_front(&mut bad, 1).is_err());
        assert_eq!(bad.item_count(), 5, "left as it was");
    }
}
