//! The fast path of request validation: a walk over the protobuf wire format of a traces or
//! logs request that counts its items and checks what decoding plus [`LimitsConfig::check`]
//! would check (framing, wire types of known fields, UTF-8 of strings, id lengths, attribute
//! counts, string lengths, value nesting), without allocating. It is conservative: it answers
//! `Some(items)` only when the full decode would accept the request, and `None` whenever it
//! is unsure (malformed or over-limit data, and shapes no encoder produces, such as a
//! singular message field sent twice, which protobuf merges). The caller then takes the slow
//! path, the full decode, which produces the exact error. Metrics requests always take the
//! slow path. So a pass-through pipeline accepts a request without building it in memory. A
//! pipeline that decodes every request first (a transform or filter processor, see
//! `Consumer::decodes_first`) skips this walk: the receiver decodes the request instead.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols: { grpc: {}, http: {} }
//!     limits: { max_value_depth: 32, max_attributes: 10000, max_string_length: 0 }
//! ```

use super::limits::LimitsConfig;
use ferrotel_core::wire;
use ferrotel_core::Signal;

/// Unsure: the full decode must decide.
struct Unsure;
type R = Result<(), Unsure>;

/// One field's value on the wire.
#[derive(Clone, Copy)]
enum V<'a> {
    Varint,
    I64,
    I32,
    Len(&'a [u8]),
}

/// Deepest nesting of attribute values this check follows; deeper goes to the slow path, which
/// also enforces prost's recursion limit (100 message levels, about 45 value levels).
const MAX_DEPTH: usize = 30;

/// Items of a valid traces or logs request, `None` when the full decode must decide.
pub fn count_valid(limits: &LimitsConfig, signal: Signal, body: &[u8]) -> Option<usize> {
    let cap = match limits.max_value_depth {
        0 => MAX_DEPTH,
        n => n.min(MAX_DEPTH),
    };
    let mut c = Check {
        limits,
        cap,
        items: 0,
    };
    let r = match signal {
        Signal::Traces => c.request(body, Check::resource_spans),
        Signal::Logs => c.request(body, Check::resource_logs),
        Signal::Metrics | Signal::Profiles => Err(Unsure),
    };
    r.ok().map(|()| c.items)
}

/// Calls `f(field_number, value)` for each field of a message, checking the framing. Groups
/// are left to the slow path.
#[inline(always)]
fn fields<'a>(buf: &'a [u8], mut f: impl FnMut(u64, V<'a>) -> R) -> R {
    let mut c = wire::Cursor::new(buf);
    while c.more() {
        let key = c.varint().map_err(|_| Unsure)?;
        let number = wire::field_number(key).map_err(|_| Unsure)?;
        let v = match key & 7 {
            0 => c.varint().map(|_| V::Varint),
            1 => c.fixed::<8>().map(|_| V::I64),
            2 => c.bytes().map(V::Len),
            5 => c.fixed::<4>().map(|_| V::I32),
            _ => return Err(Unsure),
        };
        f(u64::from(number), v.map_err(|_| Unsure)?)?;
    }
    Ok(())
}

/// Remembers which singular message fields a message had: a second one is merged by protobuf,
/// which this check does not model.
#[derive(Default)]
struct Once(u64);

impl Once {
    fn mark(&mut self, field: u64) -> R {
        let bit = 1u64 << (field & 63);
        if self.0 & bit != 0 {
            return Err(Unsure);
        }
        self.0 |= bit;
        Ok(())
    }
}

/// Valid UTF-8 ([`wire::utf8`]).
fn utf8(b: &[u8]) -> R {
    wire::utf8(b).map(drop).ok_or(Unsure)
}

/// A trace or span id: `len` bytes or none.
fn id(b: &[u8], len: usize) -> R {
    if b.is_empty() || b.len() == len {
        Ok(())
    } else {
        Err(Unsure)
    }
}

struct Check<'l> {
    limits: &'l LimitsConfig,
    /// Deepest value nesting followed (see [`MAX_DEPTH`]).
    cap: usize,
    items: usize,
}

fn within(n: usize, limit: usize) -> R {
    if limit > 0 && n > limit {
        Err(Unsure)
    } else {
        Ok(())
    }
}

impl Check<'_> {
    /// `Export*ServiceRequest`: field 1, the repeated resource entries.
    fn request(&mut self, b: &[u8], resource: fn(&mut Self, &[u8]) -> R) -> R {
        fields(b, |n, v| match (n, v) {
            (1, V::Len(x)) => resource(self, x),
            (1, _) => Err(Unsure),
            _ => Ok(()),
        })
    }

    /// `ResourceSpans` / `ResourceLogs` (same shape): resource, scope entries, schema_url.
    fn resource_entry(&mut self, b: &[u8], scope: fn(&mut Self, &[u8]) -> R) -> R {
        let mut once = Once::default();
        fields(b, |n, v| match (n, v) {
            (1, V::Len(x)) => {
                once.mark(1)?;
                self.resource(x)
            }
            (2, V::Len(x)) => scope(self, x),
            (3, V::Len(x)) => utf8(x),
            (1..=3, _) => Err(Unsure),
            _ => Ok(()),
        })
    }

    fn resource_spans(&mut self, b: &[u8]) -> R {
        self.resource_entry(b, Self::scope_spans)
    }

    fn resource_logs(&mut self, b: &[u8]) -> R {
        self.resource_entry(b, Self::scope_logs)
    }

    /// `ScopeSpans` / `ScopeLogs`: scope, items, schema_url.
    fn scope_entry(&mut self, b: &[u8], item: fn(&mut Self, &[u8]) -> R) -> R {
        let mut once = Once::default();
        fields(b, |n, v| match (n, v) {
            (1, V::Len(x)) => {
                once.mark(1)?;
                self.scope(x)
            }
            (2, V::Len(x)) => {
                self.items += 1;
                item(self, x)
            }
            (3, V::Len(x)) => utf8(x),
            (1..=3, _) => Err(Unsure),
            _ => Ok(()),
        })
    }

    fn scope_spans(&mut self, b: &[u8]) -> R {
        self.scope_entry(b, Self::span)
    }

    fn scope_logs(&mut self, b: &[u8]) -> R {
        self.scope_entry(b, Self::log_record)
    }

    /// `Resource`: attributes, dropped_attributes_count, entity_refs.
    fn resource(&mut self, b: &[u8]) -> R {
        let mut attrs = 0;
        fields(b, |n, v| match (n, v) {
            (1, V::Len(x)) => {
                attrs += 1;
                self.key_value(x, 1)
            }
            (2, V::Varint) => Ok(()),
            (3, V::Len(x)) => self.entity_ref(x),
            (1..=3, _) => Err(Unsure),
            _ => Ok(()),
        })?;
        within(attrs, self.limits.max_attributes)
    }

    /// `EntityRef`: four string fields (two repeated).
    fn entity_ref(&mut self, b: &[u8]) -> R {
        fields(b, |n, v| match (n, v) {
            (1..=4, V::Len(x)) => utf8(x),
            (1..=4, _) => Err(Unsure),
            _ => Ok(()),
        })
    }

    /// `InstrumentationScope`: name, version, attributes, dropped_attributes_count.
    fn scope(&mut self, b: &[u8]) -> R {
        let mut attrs = 0;
        fields(b, |n, v| match (n, v) {
            (1 | 2, V::Len(x)) => utf8(x),
            (3, V::Len(x)) => {
                attrs += 1;
                self.key_value(x, 1)
            }
            (4, V::Varint) => Ok(()),
            (1..=4, _) => Err(Unsure),
            _ => Ok(()),
        })?;
        within(attrs, self.limits.max_attributes)
    }

    fn span(&mut self, b: &[u8]) -> R {
        let mut attrs = 0;
        let mut once = Once::default();
        fields(b, |n, v| match (n, v) {
            (1, V::Len(x)) => id(x, 16),
            (2 | 4, V::Len(x)) => id(x, 8),
            (3 | 5, V::Len(x)) => utf8(x),
            (6 | 10 | 12 | 14, V::Varint) | (7 | 8, V::I64) | (16, V::I32) => Ok(()),
            (9, V::Len(x)) => {
                attrs += 1;
                self.key_value(x, 1)
            }
            (11, V::Len(x)) => self.event(x),
            (13, V::Len(x)) => self.link(x),
            (15, V::Len(x)) => {
                once.mark(15)?;
                status(x)
            }
            (1..=16, _) => Err(Unsure),
            _ => Ok(()),
        })?;
        within(attrs, self.limits.max_attributes)
    }

    /// `Span.Event`: time, name, attributes, dropped_attributes_count.
    fn event(&mut self, b: &[u8]) -> R {
        let mut attrs = 0;
        fields(b, |n, v| match (n, v) {
            (1, V::I64) | (4, V::Varint) => Ok(()),
            (2, V::Len(x)) => utf8(x),
            (3, V::Len(x)) => {
                attrs += 1;
                self.key_value(x, 1)
            }
            (1..=4, _) => Err(Unsure),
            _ => Ok(()),
        })?;
        within(attrs, self.limits.max_attributes)
    }

    /// `Span.Link`: trace_id, span_id, trace_state, attributes, dropped count, flags.
    fn link(&mut self, b: &[u8]) -> R {
        let mut attrs = 0;
        fields(b, |n, v| match (n, v) {
            (1, V::Len(x)) => id(x, 16),
            (2, V::Len(x)) => id(x, 8),
            (3, V::Len(x)) => utf8(x),
            (4, V::Len(x)) => {
                attrs += 1;
                self.key_value(x, 1)
            }
            (5, V::Varint) | (6, V::I32) => Ok(()),
            (1..=6, _) => Err(Unsure),
            _ => Ok(()),
        })?;
        within(attrs, self.limits.max_attributes)
    }

    fn log_record(&mut self, b: &[u8]) -> R {
        let mut attrs = 0;
        let mut once = Once::default();
        fields(b, |n, v| match (n, v) {
            (1 | 11, V::I64) | (2 | 7, V::Varint) | (8, V::I32) => Ok(()),
            (3 | 12, V::Len(x)) => utf8(x),
            (5, V::Len(x)) => {
                once.mark(5)?;
                self.any_value(x, 1)
            }
            (6, V::Len(x)) => {
                attrs += 1;
                self.key_value(x, 1)
            }
            (9, V::Len(x)) => id(x, 16),
            (10, V::Len(x)) => id(x, 8),
            (1..=3 | 5..=12, _) => Err(Unsure),
            _ => Ok(()),
        })?;
        within(attrs, self.limits.max_attributes)
    }

    /// `KeyValue` whose value is at `depth`: key, value, key_strindex.
    fn key_value(&mut self, b: &[u8], depth: usize) -> R {
        let mut once = Once::default();
        fields(b, |n, v| match (n, v) {
            (1, V::Len(x)) => {
                within(x.len(), self.limits.max_string_length)?;
                utf8(x)
            }
            (2, V::Len(x)) => {
                once.mark(2)?;
                self.any_value(x, depth)
            }
            (3, V::Varint) => Ok(()),
            (1..=3, _) => Err(Unsure),
            _ => Ok(()),
        })
    }

    /// `AnyValue` at `depth` (1 for an attribute's value or a log body). More than one of its
    /// `oneof` fields is left to the slow path.
    fn any_value(&mut self, b: &[u8], depth: usize) -> R {
        let mut set = false;
        fields(b, |n, v| {
            if (1..=8).contains(&n) {
                if set {
                    return Err(Unsure);
                }
                set = true;
            }
            match (n, v) {
                (1, V::Len(x)) => {
                    within(x.len(), self.limits.max_string_length)?;
                    utf8(x)
                }
                (7, V::Len(x)) => within(x.len(), self.limits.max_string_length),
                (2 | 3 | 8, V::Varint) | (4, V::I64) => Ok(()),
                (5 | 6, V::Len(x)) => {
                    if depth + 1 > self.cap {
                        return Err(Unsure);
                    }
                    // array_value (5) holds AnyValues, kvlist_value (6) KeyValues, both in 1.
                    let array = n == 5;
                    let mut entries = 0;
                    fields(x, |n, v| match (n, v) {
                        (1, V::Len(e)) => {
                            entries += 1;
                            if array {
                                self.any_value(e, depth + 1)
                            } else {
                                self.key_value(e, depth + 1)
                            }
                        }
                        (1, _) => Err(Unsure),
                        _ => Ok(()),
                    })?;
                    within(entries, self.limits.max_attributes)
                }
                (1..=8, _) => Err(Unsure),
                _ => Ok(()),
            }
        })
    }
}

/// `Status`: message, code (field 1 is reserved).
fn status(b: &[u8]) -> R {
    fields(b, |n, v| match (n, v) {
        (2, V::Len(x)) => utf8(x),
        (3, V::Varint) => Ok(()),
        (2 | 3, _) => Err(Unsure),
        _ => Ok(()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
    use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
    use ferrotel_core::proto::common::v1::{
        any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
    };
    use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use ferrotel_core::proto::resource::v1::Resource;
    use ferrotel_core::proto::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
    use ferrotel_core::Data;
    use prost::Message;

    fn s(v: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        })
    }

    fn kv(k: &str, value: Option<AnyValue>) -> KeyValue {
        KeyValue {
            key: k.into(),
            value,
            ..Default::default()
        }
    }

    fn attrs() -> Vec<KeyValue> {
        let nested = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    kv("a", s("x")),
                    kv(
                        "arr",
                        Some(AnyValue {
                            value: Some(any_value::Value::ArrayValue(ArrayValue {
                                values: vec![
                                    s("y").unwrap(),
                                    AnyValue {
                                        value: Some(any_value::Value::IntValue(-3)),
                                    },
                                ],
                            })),
                        }),
                    ),
                ],
            })),
        };
        vec![
            kv("http.method", s("GET")),
            kv(
                "http.status_code",
                Some(AnyValue {
                    value: Some(any_value::Value::IntValue(200)),
                }),
            ),
            kv(
                "ratio",
                Some(AnyValue {
                    value: Some(any_value::Value::DoubleValue(0.5)),
                }),
            ),
            kv(
                "raw",
                Some(AnyValue {
                    value: Some(any_value::Value::BytesValue(vec![1, 2, 3])),
                }),
            ),
            kv("nested", Some(nested)),
            kv("empty", None),
        ]
    }

    fn traces() -> Vec<u8> {
        let span = |i: u8| Span {
            trace_id: vec![i; 16],
            span_id: vec![i; 8],
            parent_span_id: if i.is_multiple_of(2) {
                vec![]
            } else {
                vec![9; 8]
            },
            trace_state: "k=v".into(),
            flags: 1,
            name: format!("GET /api/{i}"),
            kind: 2,
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            attributes: attrs(),
            dropped_attributes_count: 1,
            events: vec![span::Event {
                time_unix_nano: 3,
                name: "ev".into(),
                attributes: attrs(),
                dropped_attributes_count: 0,
            }],
            dropped_events_count: 2,
            links: vec![span::Link {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
                trace_state: String::new(),
                attributes: attrs(),
                dropped_attributes_count: 0,
                flags: 3,
            }],
            dropped_links_count: 0,
            status: Some(Status {
                message: "ok".into(),
                code: 1,
            }),
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: attrs(),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        version: "1".into(),
                        attributes: attrs(),
                        dropped_attributes_count: 0,
                    }),
                    spans: (0..5).map(span).collect(),
                    schema_url: "https://x".into(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec()
    }

    fn logs() -> Vec<u8> {
        let record = |i: u8| LogRecord {
            time_unix_nano: 1,
            observed_time_unix_nano: 2,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: attrs()[4].value.clone(),
            attributes: attrs(),
            dropped_attributes_count: 0,
            flags: 1,
            trace_id: vec![i; 16],
            span_id: vec![i; 8],
            event_name: "e".into(),
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    scope: None,
                    log_records: (0..4).map(record).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec()
    }

    /// The slow path's verdict: the item count, or None for a refused request.
    fn slow(limits: &LimitsConfig, signal: Signal, b: &[u8]) -> Option<usize> {
        let data = Data::decode(signal, b).ok()?;
        limits.check(&data).ok()?;
        Some(data.item_count())
    }

    #[test]
    fn valid_requests_take_the_fast_path_with_the_right_count() {
        let limits = LimitsConfig::default();
        assert_eq!(count_valid(&limits, Signal::Traces, &traces()), Some(5));
        assert_eq!(count_valid(&limits, Signal::Logs, &logs()), Some(4));
        assert_eq!(count_valid(&limits, Signal::Traces, &[]), Some(0));
        // Metrics always take the slow path.
        assert_eq!(count_valid(&limits, Signal::Metrics, &[]), None);
    }

    #[test]
    fn what_the_slow_path_refuses_is_never_accepted() {
        let id = |len| {
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![Span {
                            trace_id: vec![1; len],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .encode_to_vec()
        };
        let limits = LimitsConfig::default();
        assert_eq!(count_valid(&limits, Signal::Traces, &id(16)), Some(1));
        assert_eq!(count_valid(&limits, Signal::Traces, &id(15)), None);
        // Invalid UTF-8 in a span name (field 5 of the span).
        let mut bad = traces();
        let at = bad.windows(9).position(|w| w == b"GET /api/").unwrap();
        bad[at] = 0xff;
        assert_eq!(count_valid(&limits, Signal::Traces, &bad), None);
        assert_eq!(slow(&limits, Signal::Traces, &bad), None);
        // Each limit.
        for tight in [
            LimitsConfig {
                max_attributes: 5,
                ..Default::default()
            },
            LimitsConfig {
                max_string_length: 4,
                ..Default::default()
            },
            LimitsConfig {
                max_value_depth: 2,
                ..Default::default()
            },
        ] {
            for (signal, b) in [(Signal::Traces, traces()), (Signal::Logs, logs())] {
                assert_eq!(slow(&tight, signal, &b), None, "{tight:?}");
                assert_eq!(count_valid(&tight, signal, &b), None, "{tight:?}");
            }
        }
        let roomy = LimitsConfig {
            max_attributes: 6,
            max_string_length: 16,
            max_value_depth: 3,
            ..Default::default()
        };
        assert_eq!(count_valid(&roomy, Signal::Traces, &traces()), Some(5));
    }

    /// Random single-byte changes, truncations and insertions of valid requests: whenever the
    /// fast path answers, the slow path agrees, and most valid inputs are answered.
    #[test]
    fn mutations_agree_with_the_slow_path() {
        let limits = LimitsConfig {
            max_string_length: 200,
            ..Default::default()
        };
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let (mut fast, mut total) = (0, 0);
        for (signal, base) in [(Signal::Traces, traces()), (Signal::Logs, logs())] {
            for _ in 0..20_000 {
                let mut b = base.clone();
                let pos = (next() as usize) % b.len();
                match next() % 4 {
                    0 => b[pos] = next() as u8,
                    1 => b.truncate(pos),
                    2 => b.insert(pos, next() as u8),
                    _ => b[pos] ^= 1 << (next() % 8),
                }
                let f = count_valid(&limits, signal, &b);
                let sl = slow(&limits, signal, &b);
                if f.is_some() {
                    assert_eq!(f, sl, "{signal:?} {b:?}");
                    fast += 1;
                }
                if sl.is_some() {
                    total += 1;
                }
            }
        }
        assert!(fast * 10 >= total * 9, "fast path took {fast} of {total}");
    }
}
