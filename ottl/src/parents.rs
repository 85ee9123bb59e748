//! The parent paths the log, metric and datapoint contexts share: `resource.*` and
//! `instrumentation_scope.*` (also spelled `scope.*`), read from the item's resource and scope.

use crate::ast;
use crate::contexts::{
    get_resource, get_scope, resource_path, scope_path, ResourcePath, ScopePath,
};
use crate::value::Value;
use ferrotel_core::proto::common::v1::InstrumentationScope;
use ferrotel_core::proto::resource::v1::Resource;

/// A path into the item's resource or instrumentation scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentPath {
    Resource(ResourcePath),
    Scope(ScopePath),
}

/// `resource.<path>`, `instrumentation_scope.<path>` or `scope.<path>`.
pub(crate) fn parent_path(fields: &[ast::Field]) -> Option<ParentPath> {
    let (first, rest) = fields.split_first()?;
    if rest.is_empty() || !first.keys.is_empty() {
        return None;
    }
    match first.name.as_str() {
        "resource" => resource_path(rest).map(ParentPath::Resource),
        "instrumentation_scope" | "scope" => scope_path(rest).map(ParentPath::Scope),
        _ => None,
    }
}

/// Reads a parent path.
pub(crate) fn get_parent<'a>(
    p: ParentPath,
    scope: Option<&'a InstrumentationScope>,
    resource: Option<&'a Resource>,
) -> Value<'a> {
    match p {
        ParentPath::Resource(p) => get_resource(p, resource),
        ParentPath::Scope(p) => get_scope(p, scope),
    }
}
