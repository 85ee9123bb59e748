//! The `scope` context (otelcol's ottlscope, also named `instrumentation_scope`) and ferrotel's
//! part of the `profile` context (only its parents, `resource.*` and `scope.*`, as ferrotel
//! passes profiles on undecoded). A scope item is an
//! instrumentation scope of a request with its resource. Paths: `name`, `version`,
//! `attributes`, `dropped_attributes_count`, `schema_url` (the scope group's), each also with
//! the context's name first, and `resource.*`.
//!
//! ```yaml
//! processors:
//!   transform:
//!     log_statements:
//!       - context: scope
//!         statements:
//!           - set(attributes["otelcol_signal"], attributes["otelcol.signal"]) where attributes["otelcol.signal"] != nil
//! ```

use crate::ast::{self, Key};
use crate::compile::Context;
use crate::contexts::{get_scope, invalid, last_keys, names, scope_path, ScopePath};
use crate::error::EvalError;
use crate::parents::{get_parent, parent_path, ParentPath};
use crate::setters::{set_parent, set_scope, ParentMut};
use crate::statement::{ContextMut, Place};
use crate::value::Value;
use ferrotel_core::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use std::borrow::Cow;

/// A scope (absent when the request sent none), its group's schema URL and its resource.
#[derive(Debug, Clone, Copy)]
pub struct ScopeItem<'a> {
    pub scope: Option<&'a InstrumentationScope>,
    /// The statements' temporary map (otelcol's `cache`), empty for conditions.
    pub cache: &'a [KeyValue],
    pub schema_url: &'a str,
    pub resource: Option<&'a Resource>,
}

/// A scope borrowed for changing.
pub struct ScopeItemMut<'a> {
    /// The statements' temporary map (otelcol's `cache`), one per item.
    pub cache: &'a mut Vec<KeyValue>,
    pub scope: &'a mut Option<InstrumentationScope>,
    pub schema_url: &'a mut String,
    pub resource: &'a mut Option<Resource>,
}

/// Paths of the scope context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeContextPath {
    Scope(ScopePath),
    SchemaUrl,
    /// `cache`: the statements' temporary map.
    Cache,
    Resource(ParentPath),
}

/// The `scope` context.
#[derive(Debug)]
pub struct ScopeContext;

impl Context for ScopeContext {
    crate::lambda_host!();

    const NAME: &'static str = "instrumentation_scope";
    type Item<'a> = ScopeItem<'a>;
    type Path = ScopeContextPath;

    fn path(path: &ast::Path) -> Result<(ScopeContextPath, Vec<Key>), String> {
        let mut fields = crate::contexts::strip_context(&path.fields, "scope");
        if fields.len() == path.fields.len() {
            fields = crate::contexts::strip_context(&path.fields, "instrumentation_scope");
        }
        let p = match names(fields) {
            ("schema_url", None, None) => ScopeContextPath::SchemaUrl,
            ("cache", None, None) => ScopeContextPath::Cache,
            ("resource", Some(_), _) => ScopeContextPath::Resource(
                parent_path(fields).ok_or_else(|| invalid(path, Self::NAME))?,
            ),
            _ => ScopeContextPath::Scope(
                scope_path(fields).ok_or_else(|| invalid(path, Self::NAME))?,
            ),
        };
        Ok((p, last_keys(path, fields, Self::NAME)?))
    }

    fn get<'a>(path: &'a ScopeContextPath, item: ScopeItem<'a>) -> Result<Value<'a>, EvalError> {
        Ok(match path {
            ScopeContextPath::Scope(p) => get_scope(*p, item.scope),
            ScopeContextPath::SchemaUrl => Value::Str(Cow::Borrowed(item.schema_url)),
            ScopeContextPath::Cache => Value::Map(Cow::Borrowed(item.cache)),
            ScopeContextPath::Resource(p) => get_parent(*p, item.scope, item.resource),
        })
    }

    fn enum_value(_: &str) -> Option<i64> {
        None
    }
}

impl ContextMut for ScopeContext {
    type ItemMut<'a> = ScopeItemMut<'a>;

    fn view<'b>(item: &'b ScopeItemMut<'_>) -> ScopeItem<'b> {
        ScopeItem {
            cache: item.cache,
            scope: item.scope.as_ref(),
            schema_url: item.schema_url,
            resource: item.resource.as_ref(),
        }
    }

    fn place<'b>(path: &ScopeContextPath, item: &'b mut ScopeItemMut<'_>) -> Option<Place<'b>> {
        if *path == ScopeContextPath::Cache {
            return Some(Place::Map(&mut *item.cache));
        }
        let parents = ParentMut {
            scope: item.scope,
            resource: item.resource,
        };
        match path {
            ScopeContextPath::Scope(ScopePath::Attributes) => Some(Place::Map(
                &mut parents
                    .scope
                    .get_or_insert_with(Default::default)
                    .attributes,
            )),
            ScopeContextPath::Resource(p) => parents.place(*p),
            _ => None,
        }
    }

    fn set(
        path: &ScopeContextPath,
        item: &mut ScopeItemMut<'_>,
        value: Value<'_>,
    ) -> Result<(), EvalError> {
        match path {
            ScopeContextPath::Scope(p) => set_scope(*p, item.scope, value),
            ScopeContextPath::SchemaUrl => {
                if let Value::Str(s) = value {
                    *item.schema_url = s.into_owned();
                }
                Ok(())
            }
            ScopeContextPath::Resource(p) => set_parent(*p, item.scope, item.resource, value),
            ScopeContextPath::Cache => Err(EvalError::new("the path cannot be set")),
        }
    }
}

/// The fields after a parent prefix (`resource.`, `scope.`), for the keys check.
fn after_parent(fields: &[ast::Field]) -> &[ast::Field] {
    fields.get(1..).unwrap_or_default()
}

/// The `profile` context, limited to its parents' paths.
#[derive(Debug)]
pub struct ProfileContext;

impl Context for ProfileContext {
    crate::lambda_host!();

    const NAME: &'static str = "Profile";
    type Item<'a> = ScopeItem<'a>;
    type Path = ParentPath;

    fn path(path: &ast::Path) -> Result<(ParentPath, Vec<Key>), String> {
        let p = parent_path(&path.fields).ok_or_else(|| {
            format!(
                "path {:?} is not supported in the profile context: ferrotel's profile \
                 conditions read only resource.* and scope.* paths",
                path.dotted()
            )
        })?;
        Ok((p, last_keys(path, after_parent(&path.fields), Self::NAME)?))
    }

    fn get<'a>(path: &'a ParentPath, item: ScopeItem<'a>) -> Result<Value<'a>, EvalError> {
        Ok(get_parent(*path, item.scope, item.resource))
    }

    fn enum_value(_: &str) -> Option<i64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Condition;

    fn scope() -> InstrumentationScope {
        InstrumentationScope {
            name: "jdbc".into(),
            version: "1.2".into(),
            ..Default::default()
        }
    }

    #[test]
    fn scope_paths_with_and_without_prefix() {
        let s = scope();
        let item = ScopeItem {
            cache: &[],
            scope: Some(&s),
            schema_url: "",
            resource: None,
        };
        for c in [
            r#"name == "jdbc""#,
            r#"scope.name == "jdbc""#,
            r#"instrumentation_scope.version == "1.2""#,
            r#"resource.attributes["x"] == nil"#,
        ] {
            assert!(
                Condition::<ScopeContext>::new(c)
                    .unwrap()
                    .eval(item)
                    .unwrap(),
                "{c}"
            );
        }
        assert!(Condition::<ScopeContext>::new("kind == 1").is_err());
    }

    #[test]
    fn profile_paths_are_limited_to_parents() {
        let s = scope();
        let item = ScopeItem {
            cache: &[],
            scope: Some(&s),
            schema_url: "",
            resource: None,
        };
        assert!(Condition::<ProfileContext>::new(r#"scope.name == "jdbc""#)
            .unwrap()
            .eval(item)
            .unwrap());
        let err = Condition::<ProfileContext>::new("profile.duration_unix_nano > 1").unwrap_err();
        assert!(
            err.message.contains("\"profile.duration_unix_nano\""),
            "{err}"
        );
        assert!(Condition::<ProfileContext>::new("name == \"x\"").is_err());
    }
}
