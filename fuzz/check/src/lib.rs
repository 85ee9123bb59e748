//! The properties ferrotel's fuzz targets check, one function per target. Each takes the raw
//! fuzz input, must never panic on it, and panics (with a message) when a property fails:
//! - [`otlp_protobuf`]: OTLP protobuf decoding of each signal, the limits check, and the lazy
//!   `Batch` (wire item count = decoded count, original bytes kept, `make_mut` + re-encode
//!   round trip); the fast traces decoder answers only as prost does, and never where prost
//!   fails;
//! - [`otlp_json`]: OTLP/JSON decoding and the limits check, then a protobuf round trip;
//! - [`decompress`]: every `Content-Encoding`, output bounded by the limit;
//! - [`batch_split`]: splitting a request by item count loses, duplicates and reorders nothing;
//! - [`config_load`]: YAML loading, merging and `${env:...}` substitution;
//! - [`jaeger_thrift`]: the Jaeger Thrift encoders' output decodes with the thrift crate's own
//!   binary and compact protocols, with every span accounted for;
//! - [`jaeger_receiver`]: the `jaeger` receiver's Thrift reader (HTTP body, compact and binary
//!   agent datagrams) never panics, translates every non-blank span, and what it read encodes
//!   and reads back the same;
//! - [`prometheus_exposition`]: the exposition the exporter serves parses back line by line.
//! - [`file_log_parsers`]: the `filelog` operators' syslog, CSV and key-value parsers and
//!   their expressions either refuse an input with an error or give one entry that converts
//!   to an OTLP record, never panicking; expressions compile or are refused, and evaluate.
//! - [`ottl_statements`]: OTTL statements (one per line) either refuse to compile with an error
//!   or run on a span under every error mode without panicking, the span staying encodable and
//!   its size bounded by the input's.
//!
//! `cargo test` in this crate replays every input kept in `fuzz/regressions/<target>/` (inputs
//! that once failed) and `fuzz/seeds/<target>/` (the starting corpora).

use bytes::Bytes;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::metrics::v1::metric;
use ferrotel_core::{Batch, Data, Exporter, Signal};
use ferrotel_receivers::otlp::compression::{self, Encoding};
use ferrotel_receivers::otlp::{json, LimitsConfig};
use prost::Message;

/// The signal a fuzz input's first byte picks; the rest is the payload.
fn signal_and_payload(data: &[u8]) -> Option<(Signal, &[u8])> {
    let (first, rest) = data.split_first()?;
    let s = match first % 3 {
        0 => Signal::Traces,
        1 => Signal::Metrics,
        _ => Signal::Logs,
    };
    Some((s, rest))
}

/// OTLP protobuf request decoding and the lazy batch.
pub fn otlp_protobuf(data: &[u8]) {
    let Some((signal, payload)) = signal_and_payload(data) else {
        return;
    };
    let wire_count = ferrotel_core::pdata::count_items_encoded(signal, payload);
    if signal == Signal::Traces {
        if let Some(fast) = ferrotel_core::decode::traces(payload) {
            let by_prost = ExportTraceServiceRequest::decode(payload).ok();
            assert_eq!(Some(fast), by_prost, "the fast decoder answers as prost does");
        }
    }
    let Ok(decoded) = Data::decode(signal, payload) else {
        return;
    };
    if let Data::Traces(req) = &decoded {
        assert_eq!(
            ferrotel_core::encode::traces(req),
            req.encode_to_vec(),
            "the traces encoder writes what prost writes"
        );
    }
    let _ = LimitsConfig::default().check(&decoded);
    let bytes = Bytes::copy_from_slice(payload);
    let mut batch = Batch::from_bytes(signal, bytes.clone(), None, Default::default());
    assert_eq!(
        wire_count,
        Some(decoded.item_count()),
        "the wire count of a decodable request matches its decoded count"
    );
    assert_eq!(batch.item_count(), decoded.item_count());
    let shared = batch.clone();
    assert_eq!(batch.view().map(Data::item_count), Ok(decoded.item_count()));
    assert_eq!(batch.encoded(), bytes, "an unchanged batch keeps its bytes");
    // Mutating a shared batch copies it: the other holder keeps the original bytes.
    let encoded = match batch.make_mut() {
        Ok(d) => d.encode(),
        Err(e) => panic!("a viewed batch must be mutable: {e}"),
    };
    assert_eq!(shared.encoded(), bytes);
    assert_eq!(batch.encoded(), encoded);
    // Re-encoding is stable: decode(encode(x)) encodes to the same bytes.
    let again = match Data::decode(signal, &encoded) {
        Ok(d) => d,
        Err(e) => panic!("our own encoding must decode: {e}"),
    };
    assert_eq!(again.encode(), encoded);
    assert_eq!(again.item_count(), decoded.item_count());
}

/// OTLP/JSON request decoding.
pub fn otlp_json(data: &[u8]) {
    let Some((signal, payload)) = signal_and_payload(data) else {
        return;
    };
    let Ok(decoded) = json::decode(signal, payload) else {
        return;
    };
    let _ = LimitsConfig::default().check(&decoded);
    let encoded = decoded.encode();
    match Data::decode(signal, &encoded) {
        Ok(d) => assert_eq!(d.item_count(), decoded.item_count()),
        Err(e) => panic!("the protobuf encoding of decoded JSON must decode: {e}"),
    }
}

const ENCODINGS: [Encoding; 7] = [
    Encoding::Identity,
    Encoding::Gzip,
    Encoding::Zstd,
    Encoding::Zlib,
    Encoding::Snappy,
    Encoding::SnappyFramed,
    Encoding::Lz4,
];

/// Request body decompression with a 1 MiB limit.
pub fn decompress(data: &[u8]) {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let enc = ENCODINGS[usize::from(*first) % ENCODINGS.len()];
    const LIMIT: usize = 1 << 20;
    if let Ok(out) = compression::decompress(enc, Bytes::copy_from_slice(rest), LIMIT) {
        assert!(out.len() <= LIMIT, "{enc:?} produced {} bytes", out.len());
    }
}

fn enc<M: Message>(m: &Option<M>) -> Vec<u8> {
    m.as_ref().map(Message::encode_to_vec).unwrap_or_default()
}

/// Each item of a request (span, data point, log record) encoded, in order, with the
/// resource and scope it belongs to.
fn items(d: &Data) -> Vec<Vec<u8>> {
    let mut out = vec![];
    match d {
        // Never produced here: the fuzzed signals are traces, metrics and logs.
        Data::Profiles(_) => {}
        Data::Traces(t) => {
            for r in &t.resource_spans {
                for s in &r.scope_spans {
                    for i in &s.spans {
                        out.push([enc(&r.resource), enc(&s.scope), i.encode_to_vec()].concat());
                    }
                }
            }
        }
        Data::Logs(l) => {
            for r in &l.resource_logs {
                for s in &r.scope_logs {
                    for i in &s.log_records {
                        out.push([enc(&r.resource), enc(&s.scope), i.encode_to_vec()].concat());
                    }
                }
            }
        }
        Data::Metrics(m) => {
            for r in &m.resource_metrics {
                for s in &r.scope_metrics {
                    for mt in &s.metrics {
                        let head =
                            [enc(&r.resource), enc(&s.scope), mt.name.as_bytes().to_vec()].concat();
                        let points: Vec<Vec<u8>> = match &mt.data {
                            Some(metric::Data::Gauge(g)) => {
                                g.data_points.iter().map(Message::encode_to_vec).collect()
                            }
                            Some(metric::Data::Sum(g)) => {
                                g.data_points.iter().map(Message::encode_to_vec).collect()
                            }
                            Some(metric::Data::Histogram(g)) => {
                                g.data_points.iter().map(Message::encode_to_vec).collect()
                            }
                            Some(metric::Data::ExponentialHistogram(g)) => {
                                g.data_points.iter().map(Message::encode_to_vec).collect()
                            }
                            Some(metric::Data::Summary(g)) => {
                                g.data_points.iter().map(Message::encode_to_vec).collect()
                            }
                            None => vec![],
                        };
                        out.extend(points.into_iter().map(|p| [head.clone(), p].concat()));
                    }
                }
            }
        }
    }
    out
}

/// Splitting by item count: the parts hold exactly the items of the request, in order, each
/// part at most `max` items, and concatenating their encodings gives the items back.
pub fn batch_split(data: &[u8]) {
    let Some((signal, rest)) = signal_and_payload(data) else {
        return;
    };
    let Some((max, payload)) = rest.split_first() else {
        return;
    };
    let max = usize::from(*max % 16);
    let Ok(decoded) = Data::decode(signal, payload) else {
        return;
    };
    let before = items(&decoded);
    let parts = ferrotel_processors::batch::split::split_data(decoded, max);
    let mut after = vec![];
    for p in &parts {
        if max > 0 {
            assert!(
                p.item_count() <= max,
                "a part of {} items, max {max}",
                p.item_count()
            );
        }
        after.extend(items(p));
    }
    assert_eq!(before.len(), after.len(), "items lost or duplicated");
    assert!(before == after, "items changed or reordered");
    // Merging the parts back (byte concatenation) gives the same items.
    let batches: Vec<Batch> = parts
        .into_iter()
        .map(|p| Batch::from_data(p, Default::default()))
        .collect();
    if let Some(merged) = Batch::concat(&batches) {
        assert_eq!(merged.item_count(), before.len());
        match merged.view() {
            Ok(d) => assert!(items(d) == before, "merge changed the items"),
            Err(e) => panic!("merged parts must decode: {e}"),
        }
    }
}

/// Config loading with `${env:...}` substitution: errors are fine, panics are not.
pub fn config_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line (if any) is a `--set` value, the rest the YAML document.
    let (set, yaml) = text.split_once('\n').unwrap_or(("", text));
    let sets: Vec<String> = if set.contains('=') {
        vec![set.to_string()]
    } else {
        vec![]
    };
    let lookup = |name: &str| match name {
        "A" => Some("plain".to_string()),
        "N" => Some("42".to_string()),
        "NESTED" => Some("${env:A}".to_string()),
        "MAP" => Some("{a: 1, b: [x, y]}".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let _ = ferrotel_config::load(
        &[ferrotel_config::ConfigSource::Text(yaml.to_string())],
        &sets,
        &lookup,
    );
}

/// Skips a value of type `t`. The thrift crate's own `skip` reads a string-typed value as UTF-8
/// text, but on the wire that type is also `binary` (Jaeger's `vBinary` tag holds the bytes of
/// a bytes attribute), so it refuses well-formed data; this reads it as bytes.
fn skip(
    p: &mut dyn thrift::protocol::TInputProtocol,
    t: thrift::protocol::TType,
    depth: usize,
) -> thrift::Result<()> {
    use thrift::protocol::TType;
    if depth > 64 {
        return Err(thrift::Error::from("nesting too deep"));
    }
    match t {
        TType::Bool => p.read_bool().map(drop),
        TType::I08 => p.read_i8().map(drop),
        TType::I16 => p.read_i16().map(drop),
        TType::I32 => p.read_i32().map(drop),
        TType::I64 => p.read_i64().map(drop),
        TType::Double => p.read_double().map(drop),
        TType::String => p.read_bytes().map(drop),
        TType::Struct => {
            p.read_struct_begin()?;
            loop {
                let f = p.read_field_begin()?;
                if f.field_type == TType::Stop {
                    break;
                }
                skip(p, f.field_type, depth + 1)?;
                p.read_field_end()?;
            }
            p.read_struct_end()
        }
        TType::List => {
            let l = p.read_list_begin()?;
            for _ in 0..l.size {
                skip(p, l.element_type, depth + 1)?;
            }
            p.read_list_end()
        }
        TType::Set => {
            let l = p.read_set_begin()?;
            for _ in 0..l.size {
                skip(p, l.element_type, depth + 1)?;
            }
            p.read_set_end()
        }
        TType::Map => {
            let m = p.read_map_begin()?;
            for _ in 0..m.size {
                skip(p, m.key_type.unwrap_or(TType::Stop), depth + 1)?;
                skip(p, m.value_type.unwrap_or(TType::Stop), depth + 1)?;
            }
            p.read_map_end()
        }
        other => Err(thrift::Error::from(format!("unexpected type {other}"))),
    }
}

/// Spans in a Thrift `jaeger.Batch` struct read with `p`; checks the struct is well formed.
fn batch_spans(p: &mut dyn thrift::protocol::TInputProtocol) -> thrift::Result<usize> {
    use thrift::protocol::TType;
    let mut spans = 0;
    p.read_struct_begin()?;
    loop {
        let f = p.read_field_begin()?;
        if f.field_type == TType::Stop {
            break;
        }
        if f.id == Some(2) && f.field_type == TType::List {
            let l = p.read_list_begin()?;
            assert_eq!(l.element_type, TType::Struct, "Batch.spans holds structs");
            for _ in 0..l.size {
                skip(p, TType::Struct, 0)?;
            }
            p.read_list_end()?;
            spans += usize::try_from(l.size).unwrap_or(0);
        } else {
            skip(p, f.field_type, 0)?;
        }
        p.read_field_end()?;
    }
    p.read_struct_end()?;
    Ok(spans)
}

/// The `jaeger` receiver's Thrift reading. The first byte picks the form: a `POST /api/traces`
/// body (binary `Batch`), or an `Agent.emitBatch` datagram in the compact or binary protocol.
/// A batch that reads translates to one OTLP span per non-blank span, and encoding it with the
/// exporter's encoder reads back to the same encoding (compared encoded: NaN tags).
pub fn jaeger_receiver(data: &[u8]) {
    use ferrotel_transport::jaeger::{decode, encode};
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let batch = match first % 3 {
        0 => decode::binary_batch(rest).ok(),
        1 => decode::agent_message(rest, decode::Protocol::Compact)
            .ok()
            .flatten(),
        _ => decode::agent_message(rest, decode::Protocol::Binary)
            .ok()
            .flatten(),
    };
    let Some(batch) = batch else {
        return;
    };
    let rs = ferrotel_receivers::jaeger::translate::thrift_batch(&batch);
    let spans: usize = rs
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let blank = batch
        .spans
        .iter()
        .filter(|s| **s == Default::default())
        .count();
    assert_eq!(
        spans,
        batch.spans.len() - blank,
        "every non-blank span is translated"
    );
    let Ok(once) = encode::binary_batch(&batch) else {
        return;
    };
    let again = decode::binary_batch(&once).expect("our own encoding reads back");
    let twice = encode::binary_batch(&again).expect("and encodes again");
    assert_eq!(once, twice, "read, written and read again the same");
}

/// The Jaeger Thrift encoders: every span of the request is in a body (binary protocol) and in
/// a datagram or counted as dropped (compact protocol, `Agent.emitBatch`).
pub fn jaeger_thrift(data: &[u8]) {
    use thrift::protocol::{TBinaryInputProtocol, TCompactInputProtocol, TInputProtocol, TType};
    let Ok(req) = ExportTraceServiceRequest::decode(data) else {
        return;
    };
    let total: usize = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let Ok(bodies) = ferrotel_exporters::jaeger::encode_http_bodies(&req) else {
        return;
    };
    let mut seen = 0;
    for body in &bodies {
        let mut cursor = &body[..];
        let mut p = TBinaryInputProtocol::new(&mut cursor, true);
        match batch_spans(&mut p) {
            Ok(n) => seen += n,
            Err(e) => panic!("a body does not decode as jaeger.Batch: {e}"),
        }
        assert!(cursor.is_empty(), "bytes after the Batch struct");
    }
    assert_eq!(seen, total, "spans in HTTP bodies");

    const MAX_PACKET: usize = 65000;
    let Ok(d) = ferrotel_exporters::jaeger::encode_agent_datagrams(&req, MAX_PACKET) else {
        return;
    };
    let mut seen = 0;
    for packet in &d.packets {
        assert!(
            packet.len() <= MAX_PACKET,
            "datagram of {} bytes",
            packet.len()
        );
        let mut cursor = &packet[..];
        let mut p = TCompactInputProtocol::new(&mut cursor);
        let r = (|| -> thrift::Result<usize> {
            let m = p.read_message_begin()?;
            assert_eq!(m.name, "emitBatch");
            p.read_struct_begin()?;
            let f = p.read_field_begin()?;
            assert_eq!((f.id, f.field_type), (Some(1), TType::Struct));
            let n = batch_spans(&mut p)?;
            p.read_field_end()?;
            let stop = p.read_field_begin()?;
            assert_eq!(stop.field_type, TType::Stop);
            p.read_struct_end()?;
            p.read_message_end()?;
            Ok(n)
        })();
        match r {
            Ok(n) => seen += n,
            Err(e) => panic!("a datagram does not decode as Agent.emitBatch: {e}"),
        }
        assert!(cursor.is_empty(), "bytes after the emitBatch message");
    }
    assert_eq!(seen + d.dropped, total, "spans in datagrams plus dropped");
}

/// A Prometheus metric or label name in the legacy charset.
fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn is_value(s: &str) -> bool {
    matches!(s, "+Inf" | "-Inf" | "NaN") || s.parse::<f64>().is_ok()
}

/// Parses one sample line (`name{a="x",b="y"} value [timestamp]`); the error says what is wrong.
pub fn parse_sample(line: &str) -> Result<(), String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| "no value".to_string())?;
    let name = &line[..name_end];
    if !is_name(name, true) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    if let Some(labels) = rest.strip_prefix('{') {
        let mut s = labels;
        loop {
            if let Some(r) = s.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = s.find('=').ok_or("label without =")?;
            if !is_name(&s[..eq], false) {
                return Err(format!("bad label name {:?}", &s[..eq]));
            }
            s = s[eq + 1..]
                .strip_prefix('"')
                .ok_or("unquoted label value")?;
            // The value: escapes are \\, \" and \n only.
            let mut chars = s.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("unterminated label value".into()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\' | '"' | 'n')) => {}
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((_, '\n')) => return Err("newline in label value".into()),
                    Some(_) => {}
                }
            };
            s = &s[end + 1..];
            s = s.strip_prefix(',').unwrap_or(s);
        }
    }
    let mut parts = rest
        .strip_prefix(' ')
        .ok_or("no space before the value")?
        .split(' ');
    let value = parts.next().unwrap_or_default();
    if !is_value(value) {
        return Err(format!("bad value {value:?}"));
    }
    if let Some(ts) = parts.next() {
        if ts.parse::<f64>().is_err() {
            return Err(format!("bad timestamp {ts:?}"));
        }
    }
    if parts.next().is_some() {
        return Err("extra fields".into());
    }
    Ok(())
}

/// Checks a whole exposition: comments are `# HELP name text`, `# TYPE name type` or `# EOF`,
/// everything else a sample line.
pub fn check_exposition(text: &str) -> Result<(), String> {
    for line in text.lines() {
        let r = if let Some(c) = line.strip_prefix("# ") {
            let mut w = c.splitn(3, ' ');
            match (w.next(), w.next(), w.next()) {
                (Some("HELP"), Some(n), _) if is_name(n, true) => Ok(()),
                (Some("TYPE"), Some(n), Some(_)) if is_name(n, true) => Ok(()),
                (Some("UNIT"), Some(n), _) if is_name(n, true) => Ok(()),
                (Some("EOF"), None, None) => Ok(()),
                _ => Err("bad comment".to_string()),
            }
        } else if line.is_empty() {
            Err("empty line".to_string())
        } else {
            parse_sample(line)
        };
        r.map_err(|e| format!("{e} in line {line:?}"))?;
    }
    Ok(())
}

/// The Prometheus exporter's exposition, in text and OpenMetrics formats, parses back.
pub fn prometheus_exposition(data: &[u8]) {
    let Some((opts, payload)) = data.split_first() else {
        return;
    };
    let Ok(decoded) = Data::decode(Signal::Metrics, payload) else {
        return;
    };
    let yaml = format!(
        "endpoint: 127.0.0.1:0\nenable_open_metrics: true\nsend_timestamps: {}\nresource_to_telemetry_conversion: {{ enabled: {} }}\nnamespace: {}\n",
        opts & 1 == 1,
        opts & 2 == 2,
        if opts & 4 == 4 { "ns" } else { "\"\"" },
    );
    let Ok(config) = serde_yaml_from_str(&yaml) else {
        panic!("bad fuzz config {yaml}");
    };
    let exporter = match ferrotel_exporters::prometheus::PrometheusExporterFactory::build(
        "exporters.prometheus",
        "prometheus",
        &config,
    ) {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    };
    let _ = rt.block_on(exporter.export(Batch::from_data(decoded, Default::default())));
    for accept in [None, Some("application/openmetrics-text; version=1.0.0")] {
        let text = exporter.render(accept);
        if let Err(e) = check_exposition(&text) {
            panic!("{e}\n---\n{text}");
        }
    }
}

/// OTTL statements, one per input line, compiled and run on a span (the transform processor's
/// path): compiling never panics; what compiles runs under each error mode without panicking;
/// the span still encodes, within a size bound the statements' text sets.
pub fn ottl_statements(data: &[u8]) {
    use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
    use ferrotel_core::proto::trace::v1::Span;
    use ferrotel_ottl::{ErrorMode, SpanContext, SpanItemMut, Statements};
    // otelcol's alpha lambda functions too (their work per call is bounded).
    ferrotel_ottl::register_feature_gates();
    let _ = ferrotel_config::featuregate::global().set("ottl.functions.enableLambda", true);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.lines().take(16).collect();
    let string = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    };
    for mode in [ErrorMode::Propagate, ErrorMode::Ignore, ErrorMode::Silent] {
        let Ok(statements) = Statements::<SpanContext>::new(&lines, &[] as &[&str], mode) else {
            return;
        };
        let mut span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /api/orders/{id}".into(),
            attributes: vec![
                string("http.route", "/api/orders/{id}"),
                string("user.email", "a@b.example"),
            ],
            ..Default::default()
        };
        let before = span.encoded_len();
        let _ = statements.execute(&mut SpanItemMut {
            cache: &mut Vec::new(),
            span: &mut span,
            scope: &mut None,
            resource: &mut None,
        });
        // Each statement can at most copy what the span holds plus its own literals, a few
        // times over (Concat, Format, nested sets); growth far beyond is unbounded work.
        let bound = (before + data.len()) << (2 * lines.len().min(8) + 8);
        assert!(
            span.encoded_len() <= bound,
            "the span grew from {before} to {} bytes",
            span.encoded_len()
        );
    }
}

/// The operator configurations [`file_log_parsers`] picks from with its first byte.
const FILE_LOG_OPERATORS: [&str; 8] = [
    "{ type: syslog_parser, protocol: rfc3164 }",
    "{ type: syslog_parser, protocol: rfc5424 }",
    "{ type: syslog_parser, protocol: rfc5424, enable_octet_counting: true, max_octets: 512 }",
    "{ type: syslog_parser, protocol: rfc5424, allow_skip_pri_header: true, non_transparent_framing_trailer: LF }",
    "{ type: csv_parser, header: 'a,b,c' }",
    "{ type: csv_parser, header: 'a;b', delimiter: ';', lazy_quotes: true }",
    "{ type: key_value_parser }",
    "{ type: key_value_parser, delimiter: ':', pair_delimiter: ',' }",
];

/// The `filelog` operators' parsers and expressions on arbitrary text.
pub fn file_log_parsers(data: &[u8]) {
    use ferrotel_receivers::file_log::operators::{
        build, config::OperatorConfig, expr::Expr, Entry,
    };
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let entry = || Entry::new(serde_json::Value::String(text.to_string()), 1);
    if first & 0x80 != 0 {
        // An expression: compiled or refused with an error naming it, then evaluated.
        match Expr::compile(&text) {
            Ok(expr) => {
                let _ = expr.eval(&entry());
            }
            Err(e) => assert!(e.starts_with("expression "), "unnamed error {e}"),
        }
        return;
    }
    let yaml = format!(
        "[{}]",
        FILE_LOG_OPERATORS[usize::from(*first) % FILE_LOG_OPERATORS.len()]
    );
    let configs: Vec<OperatorConfig> = match serde_yaml_ng::from_str(&yaml) {
        Ok(c) => c,
        Err(e) => panic!("fixed config {yaml} must load: {e}"),
    };
    let pipeline = match build(&configs) {
        Ok(p) => p,
        Err(e) => panic!("fixed config {yaml} must build: {e}"),
    };
    let mut out = vec![];
    pipeline.run(entry(), &mut out);
    assert_eq!(out.len(), 1, "on_error: send passes every entry on");
    for e in out {
        let record = e.into_log_record();
        assert!(record.encoded_len() > 0);
    }
}

fn serde_yaml_from_str(s: &str) -> Result<ferrotel_config::Value, String> {
    serde_yaml_ng::from_str(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Replays every kept input of every target.
    #[test]
    fn regressions_still_pass() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let targets: [(&str, fn(&[u8])); 10] = [
            ("otlp_protobuf", otlp_protobuf),
            ("otlp_json", otlp_json),
            ("decompress", decompress),
            ("batch_split", batch_split),
            ("config_load", config_load),
            ("jaeger_thrift", jaeger_thrift),
            ("jaeger_receiver", jaeger_receiver),
            ("prometheus_exposition", prometheus_exposition),
            ("ottl_statements", ottl_statements),
            ("file_log_parsers", file_log_parsers),
        ];
        let mut ran = 0;
        for (name, check) in targets {
            for dir in ["regressions", "seeds"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                    continue;
                };
                for e in entries.flatten() {
                    let input = std::fs::read(e.path()).unwrap_or_default();
                    check(&input);
                    ran += 1;
                }
            }
        }
        assert!(ran >= 19, "only {ran} inputs found");
        eprintln!("{ran} seed and regression inputs replayed");
    }

    /// Writes the seed corpora of fuzz/seeds/ (run with `--ignored` after changing fixtures).
    #[test]
    #[ignore]
    fn write_seeds() {
        use ferrotel_testkit::fixtures;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
        let write = |target: &str, name: &str, bytes: &[u8]| {
            let d = dir.join(target);
            std::fs::create_dir_all(&d).unwrap_or_default();
            std::fs::write(d.join(name), bytes).unwrap_or_default();
        };
        for (i, signal) in [Signal::Traces, Signal::Metrics, Signal::Logs]
            .into_iter()
            .enumerate()
        {
            for n in [1, 3] {
                let pb = fixtures::data(signal, n).encode();
                let name = format!("{signal}-{n}");
                write(
                    "otlp_protobuf",
                    &name,
                    &[[i as u8].as_slice(), &pb].concat(),
                );
                write(
                    "batch_split",
                    &name,
                    &[[i as u8, 2].as_slice(), &pb].concat(),
                );
                if signal == Signal::Traces {
                    write("jaeger_thrift", &name, &pb);
                }
                if signal == Signal::Metrics {
                    write(
                        "prometheus_exposition",
                        &name,
                        &[[7u8].as_slice(), &pb].concat(),
                    );
                }
            }
        }
        let json = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[{"scope":{"name":"s"},"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"j","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1700000000000000001","attributes":[{"key":"n","value":{"intValue":"9"}},{"key":"l","value":{"arrayValue":{"values":[{"doubleValue":1.5},{"kvlistValue":{"values":[{"key":"b","value":{"bytesValue":"AAE="}}]}}]}}}],"events":[{"name":"e"}],"links":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}],"status":{"code":2}}]}]}]}"#;
        write("otlp_json", "traces", &[[0u8].as_slice(), json].concat());
        let config = b"processors::batch::timeout=2s\nreceivers:\n  otlp:\n    protocols: { grpc: { endpoint: \"${env:A}:4317\" }, http: }\nprocessors:\n  batch: { send_batch_size: ${env:N} }\nexporters:\n  debug: ${env:MAP}\nservice:\n  pipelines:\n    traces: { receivers: [otlp], processors: [batch], exporters: [debug] }\n";
        write("config_load", "pipeline", config);
    }

    #[test]
    fn the_exposition_parser_refuses_what_prometheus_refuses() {
        assert!(check_exposition(
            "# HELP a_b help text\n# TYPE a_b counter\na_b{x=\"1\\\"\\n\"} 1.5 1700000000000\n"
        )
        .is_ok());
        for bad in [
            "1a 1",
            "a{x=1} 1",
            "a{x=\"\\t\"} 1",
            "a 1 2 3",
            "a{x=\"1\"}1",
            "a{1x=\"\"} 1",
            "a x",
        ] {
            assert!(parse_sample(bad).is_err(), "{bad}");
        }
    }
}
