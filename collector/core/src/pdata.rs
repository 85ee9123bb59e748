//! Helpers over the OTLP types so no component hand-writes the resource -> scope -> item loops:
//! item counting (decoded, or straight off the wire), visitors, and attribute access.

use crate::proto::common::v1::{any_value, AnyValue, KeyValue};
use crate::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::metrics::v1::{metric, Metric, ResourceMetrics, ScopeMetrics};
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::{wire, Data, Signal};

/// Spans, metric data points, log records or profile samples.
pub fn count_items(data: &Data) -> usize {
    match data {
        Data::Traces(t) => t
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
        Data::Metrics(m) => m
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(metric_points)
            .sum(),
        Data::Logs(l) => l
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum(),
        Data::Profiles(p) => p
            .resource_profiles
            .iter()
            .flat_map(|r| &r.scope_profiles)
            .flat_map(|s| &s.profiles)
            .map(|p| p.samples.len())
            .sum(),
    }
}

/// Data points of one metric.
pub fn metric_points(m: &Metric) -> usize {
    match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// Counts items by walking the protobuf wire format, without allocating. `None` for a
/// structurally broken payload.
pub fn count_items_encoded(signal: Signal, buf: &[u8]) -> Option<usize> {
    count_encoded(signal, buf).map(|c| c.items)
}

/// What an encoded request holds, counted on the wire format.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EncodedCounts {
    /// Resource spans, metrics, logs or profiles.
    pub resources: usize,
    /// Spans, metrics, log records or profiles.
    pub entries: usize,
    /// Spans, metric data points, log records or profile samples.
    pub items: usize,
}

/// [`EncodedCounts`] of a request, without allocating. `None` for a structurally broken
/// payload.
pub fn count_encoded(signal: Signal, buf: &[u8]) -> Option<EncodedCounts> {
    count_in(signal, buf).ok()
}

/// Spans and log records are one item each; a metric's items are its data points (in field 1
/// of its 5 gauge, 7 sum, 9 histogram, 10 exponential histogram or 11 summary), a profile's
/// its samples (field 2).
fn items_of(signal: Signal, entry: &[u8]) -> Result<usize, wire::WireError> {
    let mut n = 0;
    match signal {
        Signal::Traces | Signal::Logs => n = 1,
        Signal::Profiles => {
            for f in wire::fields(entry) {
                n += usize::from(f?.number == 2);
            }
        }
        Signal::Metrics => {
            for f in wire::fields(entry) {
                let f = f?;
                if matches!(f.number, 5 | 7 | 9 | 10 | 11) {
                    for p in wire::fields(f.bytes()?) {
                        n += usize::from(p?.number == 1);
                    }
                }
            }
        }
    }
    Ok(n)
}

fn count_in(signal: Signal, buf: &[u8]) -> Result<EncodedCounts, wire::WireError> {
    // The fields of `msg` numbered `n`, as sub-messages.
    fn subs(msg: &[u8], n: u32) -> impl Iterator<Item = Result<&[u8], wire::WireError>> {
        wire::fields(msg).filter_map(move |f| match f {
            Ok(f) if f.number == n => Some(f.bytes()),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
    }
    let mut counts = EncodedCounts::default();
    for resource in subs(buf, 1) {
        counts.resources += 1;
        for scope in subs(resource?, 2) {
            for entry in subs(scope?, 2) {
                counts.entries += 1;
                counts.items += items_of(signal, entry?)?;
            }
        }
    }
    Ok(counts)
}

/// Calls `f` with each span and the resource and scope it belongs to.
pub fn for_each_span_mut(
    rs: &mut [ResourceSpans],
    mut f: impl FnMut(Option<&Resource>, &mut Span),
) {
    for r in rs {
        let res = r.resource.as_ref();
        for s in &mut r.scope_spans {
            for span in &mut s.spans {
                f(res, span);
            }
        }
    }
}

/// Calls `f` with each log record and its resource.
pub fn for_each_log_mut(
    rl: &mut [ResourceLogs],
    mut f: impl FnMut(Option<&Resource>, &mut LogRecord),
) {
    for r in rl {
        let res = r.resource.as_ref();
        for s in &mut r.scope_logs {
            for rec in &mut s.log_records {
                f(res, rec);
            }
        }
    }
}

/// Calls `f` with the attribute list of every metric data point.
pub fn for_each_datapoint_attrs_mut(
    rm: &mut [ResourceMetrics],
    mut f: impl FnMut(Option<&Resource>, &Metric, &mut Vec<KeyValue>),
) {
    for r in rm {
        let res = r.resource.as_ref();
        for s in &mut r.scope_metrics {
            for m in &mut s.metrics {
                let name_only = Metric {
                    name: m.name.clone(),
                    description: String::new(),
                    unit: m.unit.clone(),
                    metadata: vec![],
                    data: None,
                };
                match &mut m.data {
                    Some(metric::Data::Gauge(g)) => g
                        .data_points
                        .iter_mut()
                        .for_each(|p| f(res, &name_only, &mut p.attributes)),
                    Some(metric::Data::Sum(g)) => g
                        .data_points
                        .iter_mut()
                        .for_each(|p| f(res, &name_only, &mut p.attributes)),
                    Some(metric::Data::Histogram(g)) => g
                        .data_points
                        .iter_mut()
                        .for_each(|p| f(res, &name_only, &mut p.attributes)),
                    Some(metric::Data::ExponentialHistogram(g)) => g
                        .data_points
                        .iter_mut()
                        .for_each(|p| f(res, &name_only, &mut p.attributes)),
                    Some(metric::Data::Summary(g)) => g
                        .data_points
                        .iter_mut()
                        .for_each(|p| f(res, &name_only, &mut p.attributes)),
                    None => {}
                }
            }
        }
    }
}

/// The resource of every resource entry of any signal, created if absent.
pub fn resources_mut(data: &mut Data) -> Vec<&mut Resource> {
    match data {
        Data::Traces(t) => t
            .resource_spans
            .iter_mut()
            .map(|r| r.resource.get_or_insert_with(Default::default))
            .collect(),
        Data::Metrics(m) => m
            .resource_metrics
            .iter_mut()
            .map(|r| r.resource.get_or_insert_with(Default::default))
            .collect(),
        Data::Logs(l) => l
            .resource_logs
            .iter_mut()
            .map(|r| r.resource.get_or_insert_with(Default::default))
            .collect(),
        Data::Profiles(p) => p
            .resource_profiles
            .iter_mut()
            .map(|r| r.resource.get_or_insert_with(Default::default))
            .collect(),
    }
}

/// Removes empty scopes and resources (after a filter dropped items).
pub fn prune_empty(data: &mut Data) {
    match data {
        Data::Traces(t) => t.resource_spans.retain_mut(|r| {
            r.scope_spans.retain(|s: &ScopeSpans| !s.spans.is_empty());
            !r.scope_spans.is_empty()
        }),
        Data::Metrics(m) => m.resource_metrics.retain_mut(|r| {
            r.scope_metrics.retain_mut(|s: &mut ScopeMetrics| {
                s.metrics.retain(|m| metric_points(m) > 0);
                !s.metrics.is_empty()
            });
            !r.scope_metrics.is_empty()
        }),
        Data::Logs(l) => l.resource_logs.retain_mut(|r| {
            r.scope_logs
                .retain(|s: &ScopeLogs| !s.log_records.is_empty());
            !r.scope_logs.is_empty()
        }),
        // Profiles are passed through as they are (see `Data`).
        Data::Profiles(_) => {}
    }
}

/// The value of attribute `key`, if present.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The string value of attribute `key`, if it is a string.
pub fn attr_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// Sets `key` to `value`, replacing an existing entry.
pub fn upsert(attrs: &mut Vec<KeyValue>, key: &str, value: any_value::Value) {
    let v = Some(AnyValue { value: Some(value) });
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = v,
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: v,
            ..Default::default()
        }),
    }
}

/// Removes `key`; true if it was there.
pub fn delete(attrs: &mut Vec<KeyValue>, key: &str) -> bool {
    let before = attrs.len();
    attrs.retain(|kv| kv.key != key);
    attrs.len() != before
}

/// A string attribute.
pub fn kv_str(key: &str, value: &str) -> KeyValue {
    kv(key, str_value(value))
}

/// An attribute of any value.
pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A boolean attribute.
pub fn kv_bool(key: &str, value: bool) -> KeyValue {
    kv(key, any_value::Value::BoolValue(value))
}

/// A string attribute value.
pub fn str_value(s: impl Into<String>) -> any_value::Value {
    any_value::Value::StringValue(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
    use crate::proto::metrics::v1::{Gauge, Histogram, HistogramDataPoint, NumberDataPoint};
    use prost::Message;

    #[test]
    fn wire_count_matches_decoded_count() {
        let m = |data| Metric {
            name: "m".into(),
            data: Some(data),
            ..Default::default()
        };
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        m(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint::default(); 3],
                        })),
                        m(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint::default(); 2],
                            aggregation_temporality: 2,
                        })),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let bytes = req.encode_to_vec();
        assert_eq!(count_items_encoded(Signal::Metrics, &bytes), Some(5));
        assert_eq!(count_items(&Data::Metrics(req)), 5);
        assert_eq!(
            count_items_encoded(Signal::Traces, &[0x0a, 0x05, 0x01]),
            None
        );
        // Unknown groups (wire types 3 and 4) are skipped, as prost skips them (found by the
        // otlp_protobuf fuzz target: fuzz/regressions/otlp_protobuf/).
        let grouped = [
            0x25, 0, 0, 0x1a, 0, 0x23, 0x0b, 0x0c, 0x24, 0x0a, 0x04, 0x12, 0x02, 0x12, 0x00,
        ];
        assert_eq!(
            Data::decode(Signal::Traces, &grouped).map(|d| d.item_count()),
            Ok(1)
        );
        assert_eq!(count_items_encoded(Signal::Traces, &grouped), Some(1));
        assert_eq!(count_items_encoded(Signal::Traces, &[0x23, 0x24]), Some(0));
        assert_eq!(count_items_encoded(Signal::Traces, &[0x23]), None);
    }
}
