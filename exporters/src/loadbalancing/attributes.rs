//! `routing_key: attributes`: a span goes to the backend of the composite key built from the
//! attributes named in `routing_attributes`, as otelcol builds it. For each name in order, the
//! value is looked up on the span's resource, then on its scope, then (for the pseudo
//! attributes `span.kind` and `span.name`) the span's kind (`Server`, `Client`...) or name,
//! then the span's attributes; the key gets `name=value|`, or `name=|` when no level has it.
//! Values are written as otelcol writes them for this key: strings as they are, integers in
//! decimal, doubles as Go's `%g` (shortest), booleans `true`/`false`, bytes in standard base64,
//! lists `[a,b]` and maps `{k:v,...}` sorted by key, an empty value as nothing.
//!
//! otelcol computes the key once per trace and resource, from the first scope and span of the
//! trace in the request, and sends the whole trace to that backend; ferrotel computes it per
//! span, from the span's own scope and attributes, so the result does not depend on how
//! spans were batched. For keys on resource or scope attributes (the usual case) the two agree.
//!
//! ```yaml
//! exporters:
//!   load_balancing:
//!     routing_key: attributes
//!     routing_attributes: [service.name, span.kind]
//!     resolver: { static: { hostnames: [sampler-1:4317, sampler-2:4317] } }
//! ```

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ferrotel_core::format::format_go_g;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::SpanKind, Span};

/// The pseudo attributes otelcol reads from the span itself.
const SPAN_KIND: &str = "span.kind";
const SPAN_NAME: &str = "span.name";

/// The routing key of `span` (with its resource and scope) for the attribute names `names`.
pub(super) fn span_key(
    names: &[String],
    resource: &Option<Resource>,
    scope: &Option<InstrumentationScope>,
    span: &Span,
) -> String {
    let resource = resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
    let scope = scope.as_ref().map_or(&[][..], |s| &s.attributes[..]);
    let mut key = String::new();
    for name in names {
        key.push_str(name);
        key.push('=');
        if let Some(v) = get(resource, name).or_else(|| get(scope, name)) {
            push_value(&mut key, v);
        } else if name == SPAN_KIND {
            key.push_str(kind_name(span.kind));
        } else if name == SPAN_NAME {
            key.push_str(&span.name);
        } else if let Some(v) = get(&span.attributes, name) {
            push_value(&mut key, v);
        }
        key.push('|');
    }
    key
}

/// The first value of `name` in `attrs`, as pdata's `Map.Get`.
fn get<'a>(attrs: &'a [KeyValue], name: &str) -> Option<Option<&'a AnyValue>> {
    attrs
        .iter()
        .find(|kv| kv.key == name)
        .map(|kv| kv.value.as_ref())
}

/// Go's `ptrace.SpanKind.String()`.
fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Unspecified) => "Unspecified",
        Ok(SpanKind::Internal) => "Internal",
        Ok(SpanKind::Server) => "Server",
        Ok(SpanKind::Client) => "Client",
        Ok(SpanKind::Producer) => "Producer",
        Ok(SpanKind::Consumer) => "Consumer",
        Err(_) => "",
    }
}

/// Appends `v` as otelcol writes an attribute value into a routing key.
fn push_value(out: &mut String, v: Option<&AnyValue>) {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        None | Some(V::StringValueStrindex(_)) => {}
        Some(V::StringValue(s)) => out.push_str(s),
        Some(V::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(V::IntValue(i)) => out.push_str(&i.to_string()),
        Some(V::DoubleValue(d)) => out.push_str(&format_go_g(*d)),
        Some(V::BytesValue(b)) => out.push_str(&STANDARD.encode(b)),
        Some(V::ArrayValue(a)) => {
            out.push('[');
            for (i, item) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_value(out, Some(item));
            }
            out.push(']');
        }
        Some(V::KvlistValue(m)) => {
            let mut entries: Vec<&KeyValue> = m.values.iter().collect();
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            out.push('{');
            for (i, kv) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&kv.key);
                out.push(':');
                push_value(out, kv.value.as_ref());
            }
            out.push('}');
        }
    }
}
