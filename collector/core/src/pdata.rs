//! Helpers over the OTLP types so no component hand-writes the resource -> scope -> item loops:
//! item counting (decoded, or straight off the wire), visitors, and attribute access.

use crate::proto::common::v1::{any_value, AnyValue, KeyValue};
use crate::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::metrics::v1::{metric, Metric, ResourceMetrics, ScopeMetrics};
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::{wire, Data, Signal};

/// Spans, metric data points or log records.
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
    count_in(signal, buf).ok()
}

fn count_in(signal: Signal, buf: &[u8]) -> Result<usize, wire::WireError> {
    // The fields of `msg` numbered `n`, as sub-messages.
    fn subs(msg: &[u8], n: u32) -> impl Iterator<Item = Result<&[u8], wire::WireError>> {
        wire::fields(msg).filter_map(move |f| match f {
            Ok(f) if f.number == n => Some(f.bytes()),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
    }
    let mut total = 0;
    for resource in subs(buf, 1) {
        for scope in subs(resource?, 2) {
            for item in subs(scope?, 2) {
                let item = item?;
                match signal {
                    Signal::Traces | Signal::Logs => total += 1,
                    Signal::Metrics => {
                        // Metric: 5 gauge, 7 sum, 9 histogram, 10 exponential histogram,
                        // 11 summary; each holds its data points in field 1.
                        for f in wire::fields(item) {
                            let f = f?;
                            if matches!(f.number, 5 | 7 | 9 | 10 | 11) {
                                for p in wire::fields(f.bytes()?) {
                                    total += usize::from(p?.number == 1);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(total)
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

/// A string attribute value.
pub fn str_value(s: impl Into<String>) -> any_value::Value {
    any_value::Value::StringValue(s.into())
}

/// otelcol's `Value.AsString()`: strings as-is, other scalars formatted, maps and lists as JSON.
pub fn value_as_string(v: Option<&any_value::Value>) -> String {
    use any_value::Value as V;
    match v {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => format_go_float(*d),
        Some(V::BytesValue(b)) => base64_std(b),
        Some(other) => value_to_json(Some(other)),
    }
}

/// A double formatted as Go's `strconv.FormatFloat(f, 'g', -1, 64)`-ish, which otelcol uses.
pub fn format_go_float(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if d.is_nan() {
        return "NaN".into();
    }
    let exp = if d == 0.0 {
        0
    } else {
        d.abs().log10().floor() as i32
    };
    if (-4..21).contains(&exp) {
        format!("{d}")
    } else {
        let s = format!("{d:e}");
        // Rust writes 1e21, Go writes 1e+21.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!(
                "{m}e+{}",
                if e.len() == 1 {
                    format!("0{e}")
                } else {
                    e.to_string()
                }
            ),
            Some((m, e)) => {
                let digits = &e[1..];
                format!(
                    "{m}e-{}",
                    if digits.len() == 1 {
                        format!("0{digits}")
                    } else {
                        digits.to_string()
                    }
                )
            }
            None => s,
        }
    }
}

/// JSON rendering of an AnyValue as pdata's `AsString` does for maps and slices.
pub fn value_to_json(v: Option<&any_value::Value>) -> String {
    use any_value::Value as V;
    fn esc(s: &str) -> String {
        let mut o = String::with_capacity(s.len() + 2);
        o.push('"');
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }
    match v {
        None => "null".into(),
        Some(V::StringValue(s)) => esc(s),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => format_go_float(*d),
        Some(V::BytesValue(b)) => esc(&base64_std(b)),
        Some(V::StringValueStrindex(i)) => i.to_string(),
        Some(V::ArrayValue(a)) => {
            let parts: Vec<String> = a
                .values
                .iter()
                .map(|x| value_to_json(x.value.as_ref()))
                .collect();
            format!("[{}]", parts.join(","))
        }
        Some(V::KvlistValue(kv)) => {
            let mut entries: Vec<(&str, String)> = kv
                .values
                .iter()
                .map(|e| {
                    (
                        e.key.as_str(),
                        value_to_json(e.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{v}", esc(k)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

/// Standard base64 with padding.
pub fn base64_std(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        o.push(T[(n >> 18) as usize & 63] as char);
        o.push(T[(n >> 12) as usize & 63] as char);
        o.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        o.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    o
}

/// Lower-case hex of bytes (trace and span ids).
pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
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

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_float(1.5), "1.5");
        assert_eq!(format_go_float(3.0), "3");
        assert_eq!(format_go_float(1e21), "1e+21");
        assert_eq!(base64_std(b"hello"), "aGVsbG8=");
        assert_eq!(hex(&[0xab, 0x01]), "ab01");
    }
}
