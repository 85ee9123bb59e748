//! The `resource` context (otelcol's ottlresource): conditions on a resource of a request,
//! whatever its signal. Paths: `attributes` (with keys: `attributes["service.name"]`),
//! `dropped_attributes_count` and `schema_url`, each also spelled with the context's name first
//! (`resource.attributes["service.name"]`). It has no enums of its own.
//!
//! Used by the routing connector's routes with `context: resource` (the default):
//!
//! ```yaml
//! connectors:
//!   routing:
//!     table:
//!       - condition: resource.attributes["service.name"] == "checkout"
//!         pipelines: [traces/checkout]
//! ```
//!
//! ```
//! use ferrotel_ottl::{Condition, ResourceContext, ResourceItem};
//! use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
//! use ferrotel_core::proto::resource::v1::Resource;
//!
//! let c = Condition::<ResourceContext>::new(r#"attributes["env"] == "prod""#).unwrap();
//! let value = Some(AnyValue { value: Some(any_value::Value::StringValue("prod".into())) });
//! let resource = Resource {
//!     attributes: vec![KeyValue { key: "env".into(), value, ..Default::default() }],
//!     ..Default::default()
//! };
//! assert!(c.eval(ResourceItem { cache: &[], resource: Some(&resource), schema_url: "" }).unwrap());
//! ```

use crate::ast::{self, Key};
use crate::compile::Context;
use crate::contexts::{
    get_resource, invalid, last_keys, names, resource_path, strip_context, ResourcePath,
};
use crate::error::EvalError;
use crate::value::Value;
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::resource::v1::Resource;
use std::borrow::Cow;

/// A resource (absent in a request that did not send one: no attributes) and the schema URL of
/// its group (`ResourceSpans.schema_url`, ...).
#[derive(Debug, Clone, Copy)]
pub struct ResourceItem<'a> {
    pub resource: Option<&'a Resource>,
    /// The statements' temporary map (otelcol's `cache`), empty for conditions.
    pub cache: &'a [KeyValue],
    pub schema_url: &'a str,
}

/// Paths of the resource context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceContextPath {
    Resource(ResourcePath),
    SchemaUrl,
    /// `cache`: the statements' temporary map.
    Cache,
}

/// The `resource` context.
#[derive(Debug)]
pub struct ResourceContext;

impl Context for ResourceContext {
    crate::lambda_host!();

    const NAME: &'static str = "Resource";
    type Item<'a> = ResourceItem<'a>;
    type Path = ResourceContextPath;

    fn path(path: &ast::Path) -> Result<(ResourceContextPath, Vec<Key>), String> {
        let fields = strip_context(&path.fields, "resource");
        let p = match names(fields) {
            ("schema_url", None, None) => ResourceContextPath::SchemaUrl,
            ("cache", None, None) => ResourceContextPath::Cache,
            _ => ResourceContextPath::Resource(
                resource_path(fields).ok_or_else(|| invalid(path, Self::NAME))?,
            ),
        };
        Ok((p, last_keys(path, fields, Self::NAME)?))
    }

    fn get<'a>(
        path: &'a ResourceContextPath,
        item: ResourceItem<'a>,
    ) -> Result<Value<'a>, EvalError> {
        Ok(match path {
            ResourceContextPath::Resource(p) => get_resource(*p, item.resource),
            ResourceContextPath::SchemaUrl => Value::Str(Cow::Borrowed(item.schema_url)),
            ResourceContextPath::Cache => Value::Map(Cow::Borrowed(item.cache)),
        })
    }

    fn enum_value(_: &str) -> Option<i64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Condition;
    use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};

    fn resource() -> Resource {
        let s = |v: &str| {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            })
        };
        Resource {
            attributes: vec![
                KeyValue {
                    key: "service.name".into(),
                    value: s("checkout"),
                    ..Default::default()
                },
                KeyValue {
                    key: "env".into(),
                    value: s("prod"),
                    ..Default::default()
                },
            ],
            dropped_attributes_count: 3,
            ..Default::default()
        }
    }

    fn refused(text: &str) -> String {
        match Condition::<ResourceContext>::new(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    fn eval(text: &str, item: ResourceItem<'_>) -> bool {
        Condition::<ResourceContext>::new(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .eval(item)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn reads_attributes_dropped_count_and_schema_url_with_or_without_the_prefix() {
        let r = resource();
        let item = ResourceItem {
            cache: &[],
            resource: Some(&r),
            schema_url: "https://opentelemetry.io/schemas/1.21.0",
        };
        for yes in [
            r#"attributes["service.name"] == "checkout""#,
            r#"resource.attributes["env"] == "prod""#,
            r#"attributes["missing"] == nil"#,
            "dropped_attributes_count == 3",
            "resource.dropped_attributes_count > 2",
            r#"schema_url == "https://opentelemetry.io/schemas/1.21.0""#,
            r#"resource.schema_url != """#,
            r#"IsMatch(resource.attributes["service.name"], "^check")"#,
        ] {
            assert!(eval(yes, item), "{yes}");
        }
        for no in [
            r#"attributes["service.name"] == "cart""#,
            "dropped_attributes_count == 0",
        ] {
            assert!(!eval(no, item), "{no}");
        }
    }

    #[test]
    fn an_absent_resource_has_no_attributes() {
        let item = ResourceItem {
            cache: &[],
            resource: None,
            schema_url: "",
        };
        assert!(eval(r#"attributes["service.name"] == nil"#, item));
        assert!(eval("dropped_attributes_count == 0", item));
    }

    #[test]
    fn paths_of_other_contexts_and_unknown_enums_are_refused_naming_the_path() {
        for (text, want) in [
            (r#"name == "x""#, r#"segment "name" from path "name""#),
            (
                r#"span.attributes["a"] == "x""#,
                r#"segment "span" from path "span.attributes""#,
            ),
            (
                "resource.foo == 1",
                r#"segment "resource" from path "resource.foo""#,
            ),
        ] {
            let e = refused(text);
            assert!(e.contains(want), "{text}: {e}");
            assert!(e.contains("Resource context"), "{text}: {e}");
        }
        let e = refused("dropped_attributes_count == SPAN_KIND_SERVER");
        assert!(
            e.to_string()
                .contains("enum symbol, SPAN_KIND_SERVER, not found"),
            "{e}"
        );
    }
}
