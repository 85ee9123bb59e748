//! The debug exporter's text, laid out as otelcol's so users recognise it: a one-line summary
//! (basic), one line per item (normal) and the full `otlptext` dump (detailed). Values of
//! credential-bearing attributes (Authorization, Cookie, ...) are printed as `[REDACTED]`.

use ferrotel_core::format::{format_go_float, value_as_string};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use ferrotel_core::proto::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point, Exemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::Data;
use ferrotel_core::Signal;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

const REDACTED: &str = "[REDACTED]";

/// True for attribute keys that carry credentials: `authorization`, `proxy-authorization`,
/// `cookie`, `set-cookie`, alone or as the last segment (`http.request.header.authorization`).
pub fn is_sensitive(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let norm = last.to_ascii_lowercase().replace('_', "-");
    matches!(
        norm.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    )
}

/// The value to print for `key`: `[REDACTED]` for sensitive keys, with nested maps redacted.
fn shown<'a>(key: &str, v: Option<&'a AnyValue>) -> Option<Cow<'a, any_value::Value>> {
    if is_sensitive(key) {
        return Some(Cow::Owned(any_value::Value::StringValue(REDACTED.into())));
    }
    let inner = v.and_then(|v| v.value.as_ref())?;
    Some(if needs_redaction(Some(inner)) {
        Cow::Owned(redact_nested(inner))
    } else {
        Cow::Borrowed(inner)
    })
}

fn needs_redaction(v: Option<&any_value::Value>) -> bool {
    match v {
        Some(any_value::Value::KvlistValue(kv)) => kv.values.iter().any(|e| {
            is_sensitive(&e.key) || needs_redaction(e.value.as_ref().and_then(|v| v.value.as_ref()))
        }),
        Some(any_value::Value::ArrayValue(a)) => {
            a.values.iter().any(|x| needs_redaction(x.value.as_ref()))
        }
        _ => false,
    }
}

fn redact_nested(v: &any_value::Value) -> any_value::Value {
    match v {
        any_value::Value::KvlistValue(kv) => any_value::Value::KvlistValue(KeyValueList {
            values: kv
                .values
                .iter()
                .map(|e| KeyValue {
                    key: e.key.clone(),
                    value: Some(AnyValue {
                        value: if is_sensitive(&e.key) {
                            Some(any_value::Value::StringValue(REDACTED.into()))
                        } else {
                            e.value
                                .as_ref()
                                .and_then(|v| v.value.as_ref())
                                .map(redact_nested)
                        },
                    }),
                    ..Default::default()
                })
                .collect(),
        }),
        any_value::Value::ArrayValue(a) => any_value::Value::ArrayValue(ArrayValue {
            values: a
                .values
                .iter()
                .map(|x| AnyValue {
                    value: x.value.as_ref().map(redact_nested),
                })
                .collect(),
        }),
        other => other.clone(),
    }
}

/// A value with its type, as otelcol prints it: `Str(x)`, `Int(1)`, `Map({...})`.
fn typed(v: Option<&any_value::Value>) -> String {
    use any_value::Value as V;
    let ty = match v {
        None => "Empty",
        Some(V::StringValue(_)) => "Str",
        Some(V::BoolValue(_)) => "Bool",
        Some(V::IntValue(_)) | Some(V::StringValueStrindex(_)) => "Int",
        Some(V::DoubleValue(_)) => "Double",
        Some(V::ArrayValue(_)) => "Slice",
        Some(V::KvlistValue(_)) => "Map",
        Some(V::BytesValue(_)) => "Bytes",
    };
    format!("{ty}({})", value_as_string(v))
}

/// A Unix-nanosecond timestamp as Go's `time.Time.String()` in UTC:
/// `2025-04-17 08:40:44.555461596 +0000 UTC`.
pub fn go_time(nanos: u64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos);
    // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"
    let s = humantime::format_rfc3339_nanos(t).to_string();
    let s = s.trim_end_matches('Z');
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = frac.trim_end_matches('0');
    let secs = secs.replacen('T', " ", 1);
    if frac.is_empty() {
        format!("{secs} +0000 UTC")
    } else {
        format!("{secs}.{frac} +0000 UTC")
    }
}

/// Trace/span ids as pdata prints them: hex, or nothing when empty or all zeros.
fn id_hex(b: &[u8]) -> String {
    if b.iter().all(|x| *x == 0) {
        String::new()
    } else {
        hex::encode(b)
    }
}

/// Go's `%f`.
fn go_f(d: f64) -> String {
    if d.is_nan() {
        "NaN".into()
    } else if d.is_infinite() {
        if d > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{d:.6}")
    }
}

// ---------------------------------------------------------------------------------------------
// basic

/// The one-line summary otelcol logs for every batch.
/// [`basic`] counted on the wire format of an undecoded request (no decoding: the embedded
/// configuration's debug exporter prints this for every batch). `None` for a broken payload.
pub fn basic_encoded(signal: Signal, bytes: &[u8]) -> Option<String> {
    let c = ferrotel_core::pdata::count_encoded(signal, bytes)?;
    let (resources, entries, items) = (c.resources, c.entries, c.items);
    Some(match signal {
        Signal::Traces => {
            format!(r#"Traces {{"resource spans": {resources}, "spans": {items}}}"#)
        }
        Signal::Metrics => format!(
            r#"Metrics {{"resource metrics": {resources}, "metrics": {entries}, "data points": {items}}}"#
        ),
        Signal::Logs => {
            format!(r#"Logs {{"resource logs": {resources}, "log records": {items}}}"#)
        }
        Signal::Profiles => {
            format!(r#"Profiles {{"resource profiles": {resources}, "sample records": {items}}}"#)
        }
    })
}

pub fn basic(data: &Data) -> String {
    match data {
        Data::Traces(t) => {
            let spans: usize = t
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            format!(
                r#"Traces {{"resource spans": {}, "spans": {spans}}}"#,
                t.resource_spans.len()
            )
        }
        Data::Metrics(m) => {
            let metrics = m
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics);
            let (n, points) = metrics.fold((0, 0), |(n, p), x| {
                (n + 1, p + ferrotel_core::pdata::metric_points(x))
            });
            format!(
                r#"Metrics {{"resource metrics": {}, "metrics": {n}, "data points": {points}}}"#,
                m.resource_metrics.len()
            )
        }
        Data::Logs(l) => {
            let records: usize = l
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum();
            format!(
                r#"Logs {{"resource logs": {}, "log records": {records}}}"#,
                l.resource_logs.len()
            )
        }
        Data::Profiles(p) => format!(
            r#"Profiles {{"resource profiles": {}, "sample records": {}}}"#,
            p.resource_profiles.len(),
            data.item_count()
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// normal

/// ` k=v k=v` (with a leading space), values as `AsString`.
fn kv_spaced(attrs: &[KeyValue]) -> String {
    let mut s = String::new();
    for kv in attrs {
        let v = shown(&kv.key, kv.value.as_ref());
        let _ = write!(s, " {}={}", kv.key, value_as_string(v.as_deref()));
    }
    s
}

fn resource_line(kind: &str, i: usize, schema: &str, res: Option<&Resource>) -> String {
    let mut s = format!("{kind} #{i}");
    if !schema.is_empty() {
        let _ = write!(s, " [{schema}]");
    }
    s.push_str(&kv_spaced(res.map(|r| &r.attributes[..]).unwrap_or(&[])));
    s.push('\n');
    s
}

fn scope_line(kind: &str, j: usize, schema: &str, scope: Option<&InstrumentationScope>) -> String {
    let mut s = format!("{kind} #{j}");
    if let Some(sc) = scope {
        if !sc.name.is_empty() {
            let _ = write!(s, " {}", sc.name);
        }
        if !sc.version.is_empty() {
            let _ = write!(s, "@{}", sc.version);
        }
    }
    if !schema.is_empty() {
        let _ = write!(s, " [{schema}]");
    }
    s.push_str(&kv_spaced(scope.map(|r| &r.attributes[..]).unwrap_or(&[])));
    s.push('\n');
    s
}

/// One line per resource, scope and item.
pub fn normal(data: &Data) -> String {
    let mut out = String::new();
    match data {
        Data::Traces(t) => normal_traces(t, &mut out),
        Data::Metrics(m) => normal_metrics(m, &mut out),
        Data::Logs(l) => normal_logs(l, &mut out),
        // Profiles get the summary line only (see the module docs).
        Data::Profiles(_) => {}
    }
    out
}

fn normal_traces(t: &ExportTraceServiceRequest, out: &mut String) {
    for (i, rs) in t.resource_spans.iter().enumerate() {
        out.push_str(&resource_line(
            "ResourceTraces",
            i,
            &rs.schema_url,
            rs.resource.as_ref(),
        ));
        for (j, ss) in rs.scope_spans.iter().enumerate() {
            out.push_str(&scope_line(
                "ScopeTraces",
                j,
                &ss.schema_url,
                ss.scope.as_ref(),
            ));
            for span in &ss.spans {
                let _ = writeln!(
                    out,
                    "{} {} {}{}",
                    span.name,
                    id_hex(&span.trace_id),
                    id_hex(&span.span_id),
                    kv_spaced(&span.attributes)
                );
            }
        }
    }
}

fn normal_logs(l: &ExportLogsServiceRequest, out: &mut String) {
    for (i, rl) in l.resource_logs.iter().enumerate() {
        out.push_str(&resource_line(
            "ResourceLog",
            i,
            &rl.schema_url,
            rl.resource.as_ref(),
        ));
        for (j, sl) in rl.scope_logs.iter().enumerate() {
            out.push_str(&scope_line(
                "ScopeLog",
                j,
                &sl.schema_url,
                sl.scope.as_ref(),
            ));
            for r in &sl.log_records {
                let body = shown("", r.body.as_ref());
                let _ = writeln!(
                    out,
                    "{}{}",
                    value_as_string(body.as_deref()),
                    kv_spaced(&r.attributes)
                );
            }
        }
    }
}

fn kv_braced(attrs: &[KeyValue]) -> String {
    let parts: Vec<String> = attrs
        .iter()
        .map(|kv| {
            let v = shown(&kv.key, kv.value.as_ref());
            format!("{}={}", kv.key, value_as_string(v.as_deref()))
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// `count=.. sum=.. min=.. max=..` with the optional fields present.
fn stats(count: u64, sum: Option<f64>, min: Option<f64>, max: Option<f64>) -> String {
    let mut s = format!("count={count}");
    for (k, v) in [("sum", sum), ("min", min), ("max", max)] {
        if let Some(v) = v {
            let _ = write!(s, " {k}={}", format_go_float(v));
        }
    }
    s
}

fn normal_metrics(m: &ExportMetricsServiceRequest, out: &mut String) {
    for (i, rm) in m.resource_metrics.iter().enumerate() {
        out.push_str(&resource_line(
            "ResourceMetrics",
            i,
            &rm.schema_url,
            rm.resource.as_ref(),
        ));
        for (j, sm) in rm.scope_metrics.iter().enumerate() {
            out.push_str(&scope_line(
                "ScopeMetrics",
                j,
                &sm.schema_url,
                sm.scope.as_ref(),
            ));
            for metric in &sm.metrics {
                normal_metric(metric, out);
            }
        }
    }
}

fn normal_metric(m: &Metric, out: &mut String) {
    let name = &m.name;
    let number = |points: &[ferrotel_core::proto::metrics::v1::NumberDataPoint],
                  out: &mut String| {
        for p in points {
            let v = match p.value {
                Some(number_data_point::Value::AsInt(i)) => i.to_string(),
                Some(number_data_point::Value::AsDouble(d)) => format_go_float(d),
                None => String::new(),
            };
            let _ = writeln!(out, "{name}{} {v}", kv_braced(&p.attributes));
        }
    };
    match &m.data {
        None => {}
        Some(metric::Data::Gauge(g)) => number(&g.data_points, out),
        Some(metric::Data::Sum(s)) => number(&s.data_points, out),
        Some(metric::Data::Histogram(h)) => {
            for p in &h.data_points {
                let mut line = format!(
                    "{name}{} {}",
                    kv_braced(&p.attributes),
                    stats(p.count, p.sum, p.min, p.max)
                );
                for (k, c) in p.bucket_counts.iter().enumerate() {
                    match p.explicit_bounds.get(k) {
                        Some(b) => {
                            let _ = write!(line, " le{}={c}", format_go_float(*b));
                        }
                        None => {
                            let _ = write!(line, " {c}");
                        }
                    }
                }
                let _ = writeln!(out, "{line}");
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            for p in &h.data_points {
                let mut line = format!(
                    "{name}{} {}",
                    kv_braced(&p.attributes),
                    stats(p.count, p.sum, p.min, p.max)
                );
                let base = 2f64.powf(2f64.powi(-p.scale));
                for b in [&p.negative, &p.positive].into_iter().flatten() {
                    for (k, c) in b.bucket_counts.iter().enumerate() {
                        let bound = base.powf(f64::from(b.offset) + k as f64);
                        let _ = write!(line, " le{}={c}", format_go_float(bound));
                    }
                }
                let _ = writeln!(out, "{line}");
            }
        }
        Some(metric::Data::Summary(s)) => {
            for p in &s.data_points {
                let mut line = format!(
                    "{name}{} count={} sum={}",
                    kv_braced(&p.attributes),
                    p.count,
                    go_f(p.sum)
                );
                for q in &p.quantile_values {
                    let _ = write!(
                        line,
                        " q{}={}",
                        format_go_float(q.quantile),
                        format_go_float(q.value)
                    );
                }
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// detailed (otlptext)

struct Dump(String);

impl Dump {
    fn line(&mut self, s: impl AsRef<str>) {
        self.0.push_str(s.as_ref());
        self.0.push('\n');
    }

    /// `    Name           : value` (otlptext's padded span fields).
    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.0, "    {name:<15}: {value}");
    }

    /// A header line and one `-> key: Type(value)` line per attribute; nothing when empty.
    /// A header like `     -> Attributes:` indents its entries under it.
    fn attributes(&mut self, header: &str, attrs: &[KeyValue]) {
        if attrs.is_empty() {
            return;
        }
        let _ = writeln!(self.0, "{header}:");
        let indent = match header.split_once("->") {
            Some((lead, _)) => lead,
            None => "",
        };
        for kv in attrs {
            let v = shown(&kv.key, kv.value.as_ref());
            let _ = writeln!(
                self.0,
                "{indent}     -> {}: {}",
                kv.key,
                typed(v.as_deref())
            );
        }
    }

    fn resource(&mut self, kind: &str, i: usize, schema: &str, res: Option<&Resource>) {
        self.line(format!("{kind} #{i}"));
        self.line(format!("Resource SchemaURL: {schema}"));
        self.attributes(
            "Resource attributes",
            res.map(|r| &r.attributes[..]).unwrap_or(&[]),
        );
    }

    fn scope(&mut self, kind: &str, j: usize, schema: &str, scope: Option<&InstrumentationScope>) {
        self.line(format!("{kind} #{j}"));
        self.line(format!("{kind} SchemaURL: {schema}"));
        let (name, version, attrs) = match scope {
            Some(s) => (s.name.as_str(), s.version.as_str(), &s.attributes[..]),
            None => ("", "", &[][..]),
        };
        self.line(format!("InstrumentationScope {name} {version}"));
        self.attributes("InstrumentationScope attributes", attrs);
    }

    fn exemplars(&mut self, ex: &[Exemplar]) {
        if ex.is_empty() {
            return;
        }
        self.line("Exemplars:");
        for (i, e) in ex.iter().enumerate() {
            self.line(format!("Exemplar #{i}"));
            self.line(format!("     -> Trace ID: {}", id_hex(&e.trace_id)));
            self.line(format!("     -> Span ID: {}", id_hex(&e.span_id)));
            self.line(format!("     -> Timestamp: {}", go_time(e.time_unix_nano)));
            match e.value {
                Some(exemplar::Value::AsInt(v)) => self.line(format!("     -> Value: {v}")),
                Some(exemplar::Value::AsDouble(v)) => {
                    self.line(format!("     -> Value: {}", go_f(v)))
                }
                None => {}
            }
            self.attributes("     -> FilteredAttributes", &e.filtered_attributes);
        }
    }

    fn point_header(&mut self, kind: &str, i: usize, attrs: &[KeyValue], start: u64, time: u64) {
        self.line(format!("{kind} #{i}"));
        self.attributes("Data point attributes", attrs);
        self.line(format!("StartTimestamp: {}", go_time(start)));
        self.line(format!("Timestamp: {}", go_time(time)));
    }

    fn aggregation_temporality(&mut self, t: i32) {
        self.line(format!(
            "     -> AggregationTemporality: {}",
            temporality(t)
        ));
    }

    fn optional_stats(&mut self, sum: Option<f64>, min: Option<f64>, max: Option<f64>) {
        for (k, v) in [("Sum", sum), ("Min", min), ("Max", max)] {
            if let Some(v) = v {
                self.line(format!("{k}: {}", go_f(v)));
            }
        }
    }
}

fn temporality(t: i32) -> &'static str {
    match t {
        1 => "Delta",
        2 => "Cumulative",
        _ => "Unspecified",
    }
}

fn span_kind(k: i32) -> &'static str {
    match k {
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "Unspecified",
    }
}

fn status_code(c: i32) -> &'static str {
    match c {
        1 => "Ok",
        2 => "Error",
        _ => "Unset",
    }
}

/// pdata's `SeverityNumber.String()`: `Info`, `Info2`, ..., `Unspecified`.
fn severity(n: i32) -> String {
    const NAMES: [&str; 6] = ["Trace", "Debug", "Info", "Warn", "Error", "Fatal"];
    match n {
        1..=24 => {
            let idx = ((n - 1) / 4) as usize;
            let step = (n - 1) % 4;
            if step == 0 {
                NAMES[idx].to_string()
            } else {
                format!("{}{}", NAMES[idx], step + 1)
            }
        }
        0 => "Unspecified".into(),
        _ => String::new(),
    }
}

/// The full dump.
pub fn detailed(data: &Data) -> String {
    let mut d = Dump(String::new());
    match data {
        Data::Traces(t) => detailed_traces(t, &mut d),
        Data::Metrics(m) => detailed_metrics(m, &mut d),
        Data::Logs(l) => detailed_logs(l, &mut d),
        Data::Profiles(_) => {}
    }
    d.0
}

fn detailed_traces(t: &ExportTraceServiceRequest, d: &mut Dump) {
    for (i, rs) in t.resource_spans.iter().enumerate() {
        d.resource("ResourceSpans", i, &rs.schema_url, rs.resource.as_ref());
        for (j, ss) in rs.scope_spans.iter().enumerate() {
            d.scope("ScopeSpans", j, &ss.schema_url, ss.scope.as_ref());
            for (k, s) in ss.spans.iter().enumerate() {
                d.line(format!("Span #{k}"));
                d.field("Trace ID", id_hex(&s.trace_id));
                d.field("Parent ID", id_hex(&s.parent_span_id));
                d.field("ID", id_hex(&s.span_id));
                d.field("Name", &s.name);
                d.field("Kind", span_kind(s.kind));
                if !s.trace_state.is_empty() {
                    d.field("TraceState", &s.trace_state);
                }
                d.field("Start time", go_time(s.start_time_unix_nano));
                d.field("End time", go_time(s.end_time_unix_nano));
                let (code, msg) = s
                    .status
                    .as_ref()
                    .map(|st| (st.code, st.message.as_str()))
                    .unwrap_or((0, ""));
                d.field("Status code", status_code(code));
                d.field("Status message", msg);
                d.attributes("Attributes", &s.attributes);
                if !s.events.is_empty() {
                    d.line("Events:");
                }
                for (e, ev) in s.events.iter().enumerate() {
                    d.line(format!("SpanEvent #{e}"));
                    d.line(format!("     -> Name: {}", ev.name));
                    d.line(format!("     -> Timestamp: {}", go_time(ev.time_unix_nano)));
                    d.line(format!(
                        "     -> DroppedAttributesCount: {}",
                        ev.dropped_attributes_count
                    ));
                    d.attributes("     -> Attributes:", &ev.attributes);
                }
                if !s.links.is_empty() {
                    d.line("Links:");
                }
                for (l, link) in s.links.iter().enumerate() {
                    d.line(format!("SpanLink #{l}"));
                    d.line(format!("     -> Trace ID: {}", id_hex(&link.trace_id)));
                    d.line(format!("     -> ID: {}", id_hex(&link.span_id)));
                    d.line(format!("     -> TraceState: {}", link.trace_state));
                    d.line(format!(
                        "     -> DroppedAttributesCount: {}",
                        link.dropped_attributes_count
                    ));
                    d.attributes("     -> Attributes:", &link.attributes);
                }
            }
        }
    }
}

fn detailed_logs(l: &ExportLogsServiceRequest, d: &mut Dump) {
    for (i, rl) in l.resource_logs.iter().enumerate() {
        d.resource("ResourceLog", i, &rl.schema_url, rl.resource.as_ref());
        for (j, sl) in rl.scope_logs.iter().enumerate() {
            d.scope("ScopeLogs", j, &sl.schema_url, sl.scope.as_ref());
            for (k, r) in sl.log_records.iter().enumerate() {
                d.line(format!("LogRecord #{k}"));
                d.line(format!(
                    "ObservedTimestamp: {}",
                    go_time(r.observed_time_unix_nano)
                ));
                d.line(format!("Timestamp: {}", go_time(r.time_unix_nano)));
                d.line(format!("SeverityText: {}", r.severity_text));
                d.line(format!(
                    "SeverityNumber: {}({})",
                    severity(r.severity_number),
                    r.severity_number
                ));
                if !r.event_name.is_empty() {
                    d.line(format!("EventName: {}", r.event_name));
                }
                let body = shown("", r.body.as_ref());
                d.line(format!("Body: {}", typed(body.as_deref())));
                d.attributes("Attributes", &r.attributes);
                d.line(format!("Trace ID: {}", id_hex(&r.trace_id)));
                d.line(format!("Span ID: {}", id_hex(&r.span_id)));
                d.line(format!("Flags: {}", r.flags));
            }
        }
    }
}

fn exp_buckets(
    d: &mut Dump,
    scale: i32,
    negative: Option<&Buckets>,
    zero: u64,
    positive: Option<&Buckets>,
) {
    let factor = std::f64::consts::LN_2 * 2f64.powi(-scale);
    if let Some(neg) = negative {
        for pos in (0..neg.bucket_counts.len()).rev() {
            let index = f64::from(neg.offset) + pos as f64;
            let lower = (index * factor).exp();
            let upper = ((index + 1.0) * factor).exp();
            d.line(format!(
                "Bucket [{}, {}), Count: {}",
                go_f(-upper),
                go_f(-lower),
                neg.bucket_counts[pos]
            ));
        }
    }
    if zero != 0 {
        d.line(format!("Bucket [0, 0], Count: {zero}"));
    }
    if let Some(p) = positive {
        for (pos, c) in p.bucket_counts.iter().enumerate() {
            let index = f64::from(p.offset) + pos as f64;
            let lower = (index * factor).exp();
            let upper = ((index + 1.0) * factor).exp();
            d.line(format!(
                "Bucket ({}, {}], Count: {c}",
                go_f(lower),
                go_f(upper)
            ));
        }
    }
}

fn detailed_metrics(m: &ExportMetricsServiceRequest, d: &mut Dump) {
    for (i, rm) in m.resource_metrics.iter().enumerate() {
        d.resource("ResourceMetrics", i, &rm.schema_url, rm.resource.as_ref());
        for (j, sm) in rm.scope_metrics.iter().enumerate() {
            d.scope("ScopeMetrics", j, &sm.schema_url, sm.scope.as_ref());
            for (k, metric) in sm.metrics.iter().enumerate() {
                d.line(format!("Metric #{k}"));
                d.line("Descriptor:");
                d.line(format!("     -> Name: {}", metric.name));
                d.line(format!("     -> Description: {}", metric.description));
                d.line(format!("     -> Unit: {}", metric.unit));
                let ty = match &metric.data {
                    None => "Empty",
                    Some(metric::Data::Gauge(_)) => "Gauge",
                    Some(metric::Data::Sum(_)) => "Sum",
                    Some(metric::Data::Histogram(_)) => "Histogram",
                    Some(metric::Data::ExponentialHistogram(_)) => "ExponentialHistogram",
                    Some(metric::Data::Summary(_)) => "Summary",
                };
                d.line(format!("     -> DataType: {ty}"));
                detailed_points(metric, d);
            }
        }
    }
}

fn detailed_points(metric: &Metric, d: &mut Dump) {
    match &metric.data {
        None => {}
        Some(metric::Data::Gauge(g)) => number_points(&g.data_points, d),
        Some(metric::Data::Sum(s)) => {
            d.line(format!("     -> IsMonotonic: {}", s.is_monotonic));
            d.aggregation_temporality(s.aggregation_temporality);
            number_points(&s.data_points, d);
        }
        Some(metric::Data::Histogram(h)) => {
            d.aggregation_temporality(h.aggregation_temporality);
            histogram_points(&h.data_points, d);
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            d.aggregation_temporality(h.aggregation_temporality);
            exponential_histogram_points(&h.data_points, d);
        }
        Some(metric::Data::Summary(s)) => summary_points(&s.data_points, d),
    }
}

fn number_points(points: &[NumberDataPoint], d: &mut Dump) {
    for (i, p) in points.iter().enumerate() {
        d.point_header(
            "NumberDataPoints",
            i,
            &p.attributes,
            p.start_time_unix_nano,
            p.time_unix_nano,
        );
        match p.value {
            Some(number_data_point::Value::AsInt(v)) => d.line(format!("Value: {v}")),
            Some(number_data_point::Value::AsDouble(v)) => d.line(format!("Value: {}", go_f(v))),
            None => {}
        }
        d.exemplars(&p.exemplars);
    }
}

fn histogram_points(points: &[HistogramDataPoint], d: &mut Dump) {
    for (i, p) in points.iter().enumerate() {
        d.point_header(
            "HistogramDataPoints",
            i,
            &p.attributes,
            p.start_time_unix_nano,
            p.time_unix_nano,
        );
        d.line(format!("Count: {}", p.count));
        d.optional_stats(p.sum, p.min, p.max);
        for (b, bound) in p.explicit_bounds.iter().enumerate() {
            d.line(format!("ExplicitBounds #{b}: {}", go_f(*bound)));
        }
        for (b, c) in p.bucket_counts.iter().enumerate() {
            d.line(format!("Buckets #{b}, Count: {c}"));
        }
        d.exemplars(&p.exemplars);
    }
}

fn exponential_histogram_points(points: &[ExponentialHistogramDataPoint], d: &mut Dump) {
    for (i, p) in points.iter().enumerate() {
        d.point_header(
            "ExponentialHistogramDataPoints",
            i,
            &p.attributes,
            p.start_time_unix_nano,
            p.time_unix_nano,
        );
        d.line(format!("Count: {}", p.count));
        d.optional_stats(p.sum, p.min, p.max);
        exp_buckets(
            d,
            p.scale,
            p.negative.as_ref(),
            p.zero_count,
            p.positive.as_ref(),
        );
        d.exemplars(&p.exemplars);
    }
}

fn summary_points(points: &[SummaryDataPoint], d: &mut Dump) {
    for (i, p) in points.iter().enumerate() {
        d.point_header(
            "SummaryDataPoints",
            i,
            &p.attributes,
            p.start_time_unix_nano,
            p.time_unix_nano,
        );
        d.line(format!("Count: {}", p.count));
        d.line(format!("Sum: {}", go_f(p.sum)));
        for (q, v) in p.quantile_values.iter().enumerate() {
            d.line(format!(
                "QuantileValue #{q}: Quantile {}, Value {}",
                go_f(v.quantile),
                go_f(v.value)
            ));
        }
    }
}
