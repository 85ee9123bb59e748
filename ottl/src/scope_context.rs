//! The `scope` context (otelcol's ottlscope) and ferrotel's part of the `profile` context.
//! A scope condition reads the instrumentation scope (`name`, `version`, `attributes`,
//! `dropped_attributes_count`, also spelled `scope.*` or `instrumentation_scope.*`) and its
//! resource (`resource.*`). A profile condition reads only its parents, `resource.*` and
//! `scope.*`: ferrotel passes profiles through without decoding them, so any other profile path
//! is refused when the condition is compiled.
//!
//! ```yaml
//! processors:
//!   filter:
//!     trace_conditions:
//!       - scope.name == "io.opentelemetry.jdbc"
//!     profiles:
//!       profile:
//!         - IsMatch(resource.attributes["service.name"], "containerd-shim-.*")
//! ```

use crate::ast::{self, Key};
use crate::compile::Context;
use crate::contexts::{invalid, last_keys, scope_path};
use crate::error::EvalError;
use crate::parents::{get_parent, parent_path, ParentPath};
use crate::value::Value;
use ferrotel_core::proto::common::v1::InstrumentationScope;
use ferrotel_core::proto::resource::v1::Resource;

/// An instrumentation scope (or a profile's) with its resource.
#[derive(Debug, Clone, Copy)]
pub struct ScopeItem<'a> {
    pub scope: Option<&'a InstrumentationScope>,
    pub resource: Option<&'a Resource>,
}

/// The fields after a parent prefix (`resource.`, `scope.`), for the keys check.
fn after_parent(fields: &[ast::Field]) -> &[ast::Field] {
    fields.get(1..).unwrap_or_default()
}

/// The `scope` context.
#[derive(Debug)]
pub struct ScopeContext;

impl Context for ScopeContext {
    const NAME: &'static str = "Scope";
    type Item<'a> = ScopeItem<'a>;
    type Path = ParentPath;

    fn path(path: &ast::Path) -> Result<(ParentPath, Vec<Key>), String> {
        let (p, fields) = match parent_path(&path.fields) {
            Some(p) => (p, after_parent(&path.fields)),
            None => {
                let own = scope_path(&path.fields).ok_or_else(|| invalid(path, Self::NAME))?;
                (ParentPath::Scope(own), path.fields.as_slice())
            }
        };
        Ok((p, last_keys(path, fields, Self::NAME)?))
    }

    fn get<'a>(path: &'a ParentPath, item: ScopeItem<'a>) -> Result<Value<'a>, EvalError> {
        Ok(get_parent(*path, item.scope, item.resource))
    }

    fn enum_value(_: &str) -> Option<i64> {
        None
    }
}

/// The `profile` context, limited to its parents' paths.
#[derive(Debug)]
pub struct ProfileContext;

impl Context for ProfileContext {
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
            scope: Some(&s),
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
            scope: Some(&s),
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
