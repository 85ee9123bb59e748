//! `set_semconv_span_name(semconvVersion, Optional[originalSpanNameAttribute])`, the span
//! context's editor from otelcol's transform processor: renames a span as the semantic
//! conventions name spans of its kind (HTTP `{method} {route}`, RPC `{service}/{method}`,
//! database `{operation} {namespace.collection}`, messaging `{operation} {destination}`), so
//! high-cardinality names (`GET /users/42`) become low-cardinality ones (`GET /users/:id`).
//! Keeps the old name in the given attribute when it changes; a span no convention covers
//! keeps its name.
//!
//! ```yaml
//! processors:
//!   transform:
//!     trace_statements:
//!       - context: span
//!         statements:
//!           - set_semconv_span_name("1.43.0", "original_span_name")
//! ```

use crate::compile::CompiledArg;
use crate::contexts::SpanContext;
use crate::error::EvalError;
use crate::funcs::{bind_optional, literal_string};
use crate::setters::SpanItemMut;
use crate::statement::Editor;
use crate::value::{string_like, Value};
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use std::borrow::Cow;

/// The semantic conventions versions whose span naming rules this follows (the rules did not
/// change between them).
pub const SUPPORTED_VERSIONS: &[&str] = &[
    "1.37.0", "1.38.0", "1.39.0", "1.40.0", "1.41.0", "1.42.0", "1.43.0",
];

struct SetSemconvSpanName {
    original_name_attribute: Option<String>,
}

/// Builds the editor.
pub fn editor(args: Vec<CompiledArg<SpanContext>>) -> Result<Box<dyn Editor<SpanContext>>, String> {
    let name = "set_semconv_span_name";
    let [version, original] = bind_optional(
        name,
        args,
        &["semconvVersion", "originalSpanNameAttribute"],
        1,
    )?;
    let version = literal_string(&version.expect("required"), name, "semconvVersion")?;
    if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
        return Err(format!(
            "unsupported semconv version: {version}, supported versions: {}",
            SUPPORTED_VERSIONS.join(", ")
        ));
    }
    let original_name_attribute = original
        .map(|o| literal_string(&o, name, "originalSpanNameAttribute"))
        .transpose()?;
    if original_name_attribute.as_deref() == Some("") {
        return Err("originalSpanNameAttribute cannot be an empty string".into());
    }
    Ok(Box::new(SetSemconvSpanName {
        original_name_attribute,
    }))
}

impl Editor<SpanContext> for SetSemconvSpanName {
    fn apply(&self, item: &mut SpanItemMut<'_>) -> Result<(), EvalError> {
        let span = &mut *item.span;
        let Some(name) = semconv_name(span.kind, &span.attributes) else {
            return Ok(());
        };
        if name == span.name {
            return Ok(());
        }
        let original = std::mem::replace(&mut span.name, name);
        if let Some(key) = &self.original_name_attribute {
            let value = Some(AnyValue {
                value: Some(any_value::Value::StringValue(original)),
            });
            match span.attributes.iter_mut().find(|kv| kv.key == *key) {
                Some(kv) => kv.value = value,
                None => span.attributes.push(KeyValue {
                    key: key.clone(),
                    value,
                    ..Default::default()
                }),
            }
        }
        Ok(())
    }
}

/// The attributes of one span, read as strings.
struct Attrs<'a>(&'a [KeyValue]);

impl<'a> Attrs<'a> {
    fn get(&self, key: &str) -> Option<Cow<'a, str>> {
        let v = self.0.iter().find(|kv| kv.key == key)?.value.as_ref();
        Some(string_like(&v.map_or(Value::Nil, Value::from_any)).unwrap_or(Cow::Borrowed("")))
    }

    /// The attribute, or its older name.
    fn either(&self, key: &str, old: &str) -> Option<Cow<'a, str>> {
        self.get(key).or_else(|| self.get(old))
    }

    fn is_true(&self, key: &str) -> bool {
        self.0.iter().any(|kv| {
            kv.key == key
                && matches!(
                    kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    Some(any_value::Value::BoolValue(true))
                )
        })
    }

    /// `server.address[:server.port]`.
    fn server(&self) -> Option<String> {
        let address = self.get("server.address")?;
        Some(match self.get("server.port") {
            Some(port) => format!("{address}:{port}"),
            None => address.into_owned(),
        })
    }
}

/// The conventional name of a span of `kind` (OTLP numbers) with `attributes`.
fn semconv_name(kind: i32, attributes: &[KeyValue]) -> Option<String> {
    let a = Attrs(attributes);
    match kind {
        2 => http(&a, "http.route")
            .or_else(|| rpc(&a))
            .or_else(|| messaging(&a)),
        5 | 4 => messaging(&a),
        3 => http(&a, "url.template")
            .or_else(|| rpc(&a))
            .or_else(|| database(&a))
            .or_else(|| messaging(&a)),
        _ => None,
    }
}

fn joined(first: Option<Cow<'_, str>>, sep: &str, second: Option<Cow<'_, str>>) -> Option<String> {
    match (first, second) {
        (Some(a), Some(b)) => Some(format!("{a}{sep}{b}")),
        (Some(a), None) | (None, Some(a)) => Some(a.into_owned()),
        (None, None) => None,
    }
}

fn http(a: &Attrs<'_>, target: &str) -> Option<String> {
    let method = a.either("http.request.method", "http.method")?;
    joined(Some(method), " ", a.get(target))
}

fn rpc(a: &Attrs<'_>) -> Option<String> {
    let system = a.get("rpc.system")?;
    let method = a.either("rpc.method", "rpc.grpc.method");
    let service = a.either("rpc.service", "rpc.grpc.service");
    Some(match (service, method) {
        (Some(s), Some(m)) => format!("{s}/{m}"),
        (None, Some(m)) => m.into_owned(),
        (Some(s), None) => format!("{s}/*"),
        (None, None) => system.into_owned(),
    })
}

fn database(a: &Attrs<'_>) -> Option<String> {
    let system = a.either("db.system.name", "db.system")?;
    if let Some(summary) = a.get("db.query.summary") {
        return Some(summary.into_owned());
    }
    let operation = a
        .either("db.operation.name", "db.operation")
        .filter(|o| !o.is_empty());
    let target = database_target(a).filter(|t| !t.is_empty()).map(Cow::Owned);
    joined(operation, " ", target).or(Some(system.into_owned()))
}

fn database_target(a: &Attrs<'_>) -> Option<String> {
    let namespace = a
        .either("db.namespace", "db.name")
        .filter(|n| !n.is_empty());
    let object = a
        .get("db.collection.name")
        .or_else(|| a.get("db.stored_procedure.name"));
    match (namespace, object) {
        (ns, Some(o)) => joined(ns, ".", Some(o)),
        (Some(ns), None) => Some(ns.into_owned()),
        (None, None) => a.server(),
    }
}

fn messaging(a: &Attrs<'_>) -> Option<String> {
    let system = a.get("messaging.system")?;
    let operation = a.either("messaging.operation.name", "messaging.operation");
    let destination = messaging_destination(a).map(Cow::Owned);
    joined(operation, " ", destination).or(Some(system.into_owned()))
}

fn messaging_destination(a: &Attrs<'_>) -> Option<String> {
    if a.is_true("messaging.destination.temporary") {
        return Some("(temporary)".into());
    }
    if a.is_true("messaging.destination.anonymous") {
        return Some("(anonymous)".into());
    }
    a.get("messaging.destination.template")
        .or_else(|| a.either("messaging.destination.name", "messaging.destination"))
        .map(Cow::into_owned)
        .or_else(|| a.server())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{ErrorMode, Statements};
    use ferrotel_core::proto::trace::v1::Span;

    fn kv(k: &str, v: &str) -> KeyValue {
        ferrotel_core::pdata::kv_str(k, v)
    }

    fn renamed(kind: i32, name: &str, attrs: Vec<KeyValue>) -> (String, Option<String>) {
        let st = Statements::<SpanContext>::new(
            &[r#"set_semconv_span_name("1.43.0", "original_span_name")"#],
            &[] as &[&str],
            ErrorMode::Propagate,
        )
        .unwrap();
        let mut span = Span {
            kind,
            name: name.into(),
            attributes: attrs,
            ..Default::default()
        };
        let (mut scope, mut resource) = (None, None);
        st.execute(&mut SpanItemMut {
            cache: &mut Vec::new(),
            span: &mut span,
            scope: &mut scope,
            resource: &mut resource,
        })
        .unwrap();
        let original = span
            .attributes
            .iter()
            .find(|kv| kv.key == "original_span_name")
            .and_then(|kv| match Value::from_any(kv.value.as_ref()?) {
                Value::Str(s) => Some(s.into_owned()),
                _ => None,
            });
        (span.name, original)
    }

    #[test]
    fn names_spans_by_their_conventions() {
        let cases = [
            (
                2,
                "GET /users/42",
                vec![
                    kv("http.request.method", "GET"),
                    kv("http.route", "/users/:id"),
                ],
                "GET /users/:id",
            ),
            (2, "GET /x", vec![kv("http.method", "GET")], "GET"),
            (
                3,
                "GET",
                vec![
                    kv("http.request.method", "GET"),
                    kv("url.template", "/users/{id}"),
                ],
                "GET /users/{id}",
            ),
            (
                3,
                "x",
                vec![
                    kv("rpc.system", "grpc"),
                    kv("rpc.service", "oteldemo.CartService"),
                    kv("rpc.method", "GetCart"),
                ],
                "oteldemo.CartService/GetCart",
            ),
            (
                2,
                "x",
                vec![kv("rpc.system", "grpc"), kv("rpc.service", "svc")],
                "svc/*",
            ),
            (
                3,
                "SELECT 1",
                vec![
                    kv("db.system.name", "postgresql"),
                    kv("db.operation.name", "SELECT"),
                    kv("db.namespace", "shop"),
                    kv("db.collection.name", "orders"),
                ],
                "SELECT shop.orders",
            ),
            (
                3,
                "q",
                vec![
                    kv("db.system", "redis"),
                    kv("server.address", "cache"),
                    kv("server.port", "6379"),
                ],
                "cache:6379",
            ),
            (3, "q", vec![kv("db.system.name", "mysql")], "mysql"),
            (
                4,
                "x",
                vec![
                    kv("messaging.system", "kafka"),
                    kv("messaging.operation.name", "send"),
                    kv("messaging.destination.name", "orders"),
                ],
                "send orders",
            ),
            (5, "x", vec![kv("messaging.system", "kafka")], "kafka"),
            (
                1,
                "internal work",
                vec![kv("http.request.method", "GET")],
                "internal work",
            ),
        ];
        for (kind, name, attrs, want) in cases {
            let (got, original) = renamed(kind, name, attrs);
            assert_eq!(got, want, "{name}");
            let expect_original = (name != want).then(|| name.to_string());
            assert_eq!(original, expect_original, "{name}");
        }
    }

    #[test]
    fn refuses_unsupported_versions_and_an_empty_attribute_name() {
        for (text, want) in [
            (
                r#"set_semconv_span_name("1.20.0")"#,
                "unsupported semconv version: 1.20.0",
            ),
            (
                r#"set_semconv_span_name("1.43.0", "")"#,
                "cannot be an empty string",
            ),
        ] {
            let e = crate::Statement::<SpanContext>::new(text).err().unwrap();
            assert!(e.to_string().contains(want), "{e}");
        }
        let e = crate::Statement::<crate::LogContext>::new(r#"set_semconv_span_name("1.43.0")"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("undefined function"), "{e}");
    }
}
