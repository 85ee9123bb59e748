//! Checks of a decoded request that protect the collector from hostile input, run by both
//! transports before anything reaches a pipeline: trace and span ids of the right length
//! (16 and 8 bytes, or empty, as otelcol's pdata requires), attribute values nested no deeper
//! than `max_value_depth`, attribute lists, map and array values of at most `max_attributes`
//! entries, attribute keys and string/bytes values of at most `max_string_length` bytes. A
//! request that fails gets HTTP 400 / gRPC INVALID_ARGUMENT naming the field and the limit.
//! The `limits` block is a ferrotel extension (otelcol has none and would refuse the key);
//! the defaults accept any realistic data. Memory per request is bounded first by the body
//! size limits (`max_request_body_size`, `max_recv_msg_size_mib`); the decoders bound nesting
//! on their own too (prost at 100 message levels, serde_json at 128 JSON levels), so a
//! 10 000-deep value is refused without deep recursion whatever `max_value_depth` says.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols: { grpc: {}, http: {} }
//!     limits:                  # ferrotel only
//!       max_value_depth: 32    # map/array nesting of attribute values and log bodies
//!       max_attributes: 10000  # entries of one attribute list, map or array value
//!       max_string_length: 0   # bytes of a key or string/bytes value (0: no limit)
//!       max_connections: 0     # open connections per listener (0: no limit)
//! ```

use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::metrics::v1::{metric, Exemplar, Metric};
use ferrotel_core::Data;
use serde::{Deserialize, Serialize};

/// Default `max_value_depth`: reachable by both decoders (see the module doc) and far above
/// what real data nests.
pub const DEFAULT_MAX_VALUE_DEPTH: usize = 32;
/// Default `max_attributes`: 78 times the SDKs' default attribute count limit (128).
pub const DEFAULT_MAX_ATTRIBUTES: usize = 10_000;

/// `limits` of the `otlp` receiver (ferrotel only). 0 means no limit for every key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Deepest nesting of attribute values and log bodies: 1 is a scalar, 2 a map or array of
    /// scalars, and so on.
    pub max_value_depth: usize,
    /// Most entries in one attribute list (of a resource, scope, span, event, link, data point,
    /// exemplar or log record) or in one map or array value.
    pub max_attributes: usize,
    /// Longest attribute key or string/bytes value (attributes and log bodies), in bytes.
    pub max_string_length: usize,
    /// Most open connections per listener; more wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_value_depth: DEFAULT_MAX_VALUE_DEPTH,
            max_attributes: DEFAULT_MAX_ATTRIBUTES,
            max_string_length: 0,
            max_connections: 0,
        }
    }
}

/// Why a request was refused: the field's path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LimitError {
    pub path: String,
    pub message: String,
}

type R = Result<(), LimitError>;

fn fail(message: String) -> R {
    Err(LimitError {
        path: String::new(),
        message,
    })
}

/// Prefixes the error path with `segment` (`spans[3]`, `attributes`).
fn at(r: R, segment: impl FnOnce() -> String) -> R {
    r.map_err(|mut e| {
        let seg = segment();
        e.path = match e.path.chars().next() {
            None => seg,
            Some('[') => format!("{seg}{}", e.path),
            Some(_) => format!("{seg}.{}", e.path),
        };
        e
    })
}

/// Runs `f` on each element, naming the failing one `name[i]`.
fn each<T>(name: &str, items: &[T], mut f: impl FnMut(&T) -> R) -> R {
    for (i, item) in items.iter().enumerate() {
        at(f(item), || format!("{name}[{i}]"))?;
    }
    Ok(())
}

/// An array or map value.
fn is_nested(v: &AnyValue) -> bool {
    use any_value::Value as V;
    matches!(v.value, Some(V::ArrayValue(_) | V::KvlistValue(_)))
}

fn has_nested_value(kv: &KeyValue) -> bool {
    kv.value.as_ref().is_some_and(is_nested)
}

fn exceeds(value: usize, limit: usize) -> bool {
    limit > 0 && value > limit
}

/// A trace or span id must have `len` bytes or none.
fn id(name: &str, bytes: &[u8], len: usize) -> R {
    if bytes.is_empty() || bytes.len() == len {
        return Ok(());
    }
    at(
        fail(format!(
            "invalid length {} for an id (must be {len} bytes or empty)",
            bytes.len()
        )),
        || name.to_string(),
    )
}

impl LimitsConfig {
    /// Checks every id, attribute and log body of a decoded request.
    pub fn check(&self, data: &Data) -> R {
        match data {
            Data::Traces(t) => each("resource_spans", &t.resource_spans, |rs| {
                at(
                    self.resource(rs.resource.as_ref().map(|r| &r.attributes)),
                    || "resource".into(),
                )?;
                each("scope_spans", &rs.scope_spans, |ss| {
                    at(self.scope(ss.scope.as_ref().map(|s| &s.attributes)), || {
                        "scope".into()
                    })?;
                    each("spans", &ss.spans, |s| {
                        id("trace_id", &s.trace_id, 16)?;
                        id("span_id", &s.span_id, 8)?;
                        id("parent_span_id", &s.parent_span_id, 8)?;
                        self.attributes(&s.attributes)?;
                        each("events", &s.events, |e| self.attributes(&e.attributes))?;
                        each("links", &s.links, |l| {
                            id("trace_id", &l.trace_id, 16)?;
                            id("span_id", &l.span_id, 8)?;
                            self.attributes(&l.attributes)
                        })
                    })
                })
            }),
            Data::Metrics(m) => each("resource_metrics", &m.resource_metrics, |rm| {
                at(
                    self.resource(rm.resource.as_ref().map(|r| &r.attributes)),
                    || "resource".into(),
                )?;
                each("scope_metrics", &rm.scope_metrics, |sm| {
                    at(self.scope(sm.scope.as_ref().map(|s| &s.attributes)), || {
                        "scope".into()
                    })?;
                    each("metrics", &sm.metrics, |m| self.metric(m))
                })
            }),
            Data::Logs(l) => each("resource_logs", &l.resource_logs, |rl| {
                at(
                    self.resource(rl.resource.as_ref().map(|r| &r.attributes)),
                    || "resource".into(),
                )?;
                each("scope_logs", &rl.scope_logs, |sl| {
                    at(self.scope(sl.scope.as_ref().map(|s| &s.attributes)), || {
                        "scope".into()
                    })?;
                    each("log_records", &sl.log_records, |r| {
                        id("trace_id", &r.trace_id, 16)?;
                        id("span_id", &r.span_id, 8)?;
                        if let Some(body) = &r.body {
                            at(self.value(body, 1), || "body".into())?;
                        }
                        self.attributes(&r.attributes)
                    })
                })
            }),
            // Profiles keep their attributes in the request's dictionary; resources and scopes
            // are checked as for the other signals.
            Data::Profiles(p) => each("resource_profiles", &p.resource_profiles, |rp| {
                at(
                    self.resource(rp.resource.as_ref().map(|r| &r.attributes)),
                    || "resource".into(),
                )?;
                each("scope_profiles", &rp.scope_profiles, |sp| {
                    at(self.scope(sp.scope.as_ref().map(|s| &s.attributes)), || {
                        "scope".into()
                    })
                })
            }),
        }
    }

    fn resource(&self, attrs: Option<&Vec<KeyValue>>) -> R {
        attrs.map_or(Ok(()), |a| self.attributes(a))
    }

    fn scope(&self, attrs: Option<&Vec<KeyValue>>) -> R {
        self.resource(attrs)
    }

    fn metric(&self, m: &Metric) -> R {
        at(self.key_values(&m.metadata, 1), || "metadata".into())?;
        match &m.data {
            Some(metric::Data::Gauge(g)) => {
                self.points(&g.data_points, |p| (&p.attributes, &p.exemplars))
            }
            Some(metric::Data::Sum(s)) => {
                self.points(&s.data_points, |p| (&p.attributes, &p.exemplars))
            }
            Some(metric::Data::Histogram(h)) => {
                self.points(&h.data_points, |p| (&p.attributes, &p.exemplars))
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                self.points(&h.data_points, |p| (&p.attributes, &p.exemplars))
            }
            Some(metric::Data::Summary(s)) => each("data_points", &s.data_points, |p| {
                self.attributes(&p.attributes)
            }),
            None => Ok(()),
        }
    }

    fn points<P>(&self, points: &[P], parts: fn(&P) -> (&Vec<KeyValue>, &Vec<Exemplar>)) -> R {
        each("data_points", points, |p| {
            let (attrs, exemplars) = parts(p);
            self.attributes(attrs)?;
            each("exemplars", exemplars, |e| {
                id("trace_id", &e.trace_id, 16)?;
                id("span_id", &e.span_id, 8)?;
                at(self.key_values(&e.filtered_attributes, 1), || {
                    "filtered_attributes".into()
                })
            })
        })
    }

    /// An item's `attributes` list (values at depth 1).
    fn attributes(&self, attrs: &[KeyValue]) -> R {
        at(self.key_values(attrs, 1), || "attributes".into())
    }

    /// A list of key-values whose values are at `depth`.
    fn key_values(&self, kvs: &[KeyValue], depth: usize) -> R {
        if exceeds(kvs.len(), self.max_attributes) {
            return fail(format!(
                "{} entries, more than the limit of {} (limits.max_attributes)",
                kvs.len(),
                self.max_attributes
            ));
        }
        if self.max_string_length == 0 && !kvs.iter().any(has_nested_value) {
            return Ok(()); // only nested values can break a limit (the common case)
        }
        each("", kvs, |kv| {
            at(self.string(kv.key.len()), || "key".into())?;
            match &kv.value {
                Some(v) => at(self.value(v, depth), || "value".into()),
                None => Ok(()),
            }
        })
    }

    fn string(&self, len: usize) -> R {
        if exceeds(len, self.max_string_length) {
            return fail(format!(
                "{len} bytes, longer than the limit of {} (limits.max_string_length)",
                self.max_string_length
            ));
        }
        Ok(())
    }

    /// A value at `depth` (1 for an attribute's value or a log body).
    fn value(&self, v: &AnyValue, depth: usize) -> R {
        use any_value::Value as V;
        if is_nested(v) && exceeds(depth + 1, self.max_value_depth) {
            return fail(format!(
                "value nested deeper than the limit of {} levels (limits.max_value_depth)",
                self.max_value_depth
            ));
        }
        match &v.value {
            Some(V::StringValue(s)) => self.string(s.len()),
            Some(V::BytesValue(b)) => self.string(b.len()),
            Some(V::ArrayValue(a)) => {
                if exceeds(a.values.len(), self.max_attributes) {
                    return fail(format!(
                        "{} array entries, more than the limit of {} (limits.max_attributes)",
                        a.values.len(),
                        self.max_attributes
                    ));
                }
                each("array_value.values", &a.values, |x| {
                    self.value(x, depth + 1)
                })
            }
            Some(V::KvlistValue(kv)) => at(self.key_values(&kv.values, depth + 1), || {
                "kvlist_value.values".into()
            }),
            _ => Ok(()),
        }
    }
}
