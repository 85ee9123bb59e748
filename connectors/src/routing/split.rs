//! Moving parts of a request into another, for every signal alike: whole resource groups
//! (`ResourceSpans`, `ResourceMetrics`, `ResourceLogs`) for resource-level routes, single
//! records (spans, metrics, log records) for record-level ones. A moved record goes under a copy
//! of its resource and scope; groups and scopes left empty are removed, as otelcol's
//! `Move*If` helpers do.

use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::InstrumentationScope;
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::Data;
use ferrotel_ottl::ResourceItem;

/// A request made of resource groups.
pub trait Groups: Default {
    type Group;
    fn groups(&self) -> &[Self::Group];
    fn groups_mut(&mut self) -> &mut Vec<Self::Group>;
    /// What the resource context sees of a group.
    fn resource_item(g: &Self::Group) -> ResourceItem<'_>;
    fn into_data(self) -> Data;
}

/// A request whose groups hold scopes of records.
pub trait Nested: Groups {
    type Scope;
    type Record;
    fn scopes(g: &mut Self::Group) -> &mut Vec<Self::Scope>;
    fn records(s: &mut Self::Scope) -> &mut Vec<Self::Record>;
    fn scope(s: &Self::Scope) -> Option<&InstrumentationScope>;
    /// A copy of the group's resource and schema URL, with no scopes.
    fn group_shell(g: &Self::Group) -> Self::Group;
    /// A copy of the scope and its schema URL, with no records.
    fn scope_shell(s: &Self::Scope) -> Self::Scope;
}

/// Moves the groups `pred` holds for from `from` to the end of `to`, both keeping their order.
pub fn move_groups_if<R: Groups>(
    from: &mut R,
    to: &mut R,
    mut pred: impl FnMut(&R::Group) -> bool,
) {
    let (yes, no): (Vec<_>, Vec<_>) = std::mem::take(from.groups_mut())
        .into_iter()
        .partition(|g| pred(g));
    *from.groups_mut() = no;
    to.groups_mut().extend(yes);
}

/// Moves the records `pred` holds for (given the record, its scope and its resource) from
/// `from` to `to`, regrouped under copies of their resource and scope.
pub fn move_records_if<R: Nested>(
    from: &mut R,
    to: &mut R,
    mut pred: impl FnMut(&R::Record, Option<&InstrumentationScope>, Option<&Resource>) -> bool,
) {
    for g in from.groups_mut().iter_mut() {
        let mut scopes = std::mem::take(R::scopes(g));
        let mut moved = Vec::new();
        let resource = R::resource_item(g).resource;
        for s in &mut scopes {
            let records = std::mem::take(R::records(s));
            let (yes, no): (Vec<_>, Vec<_>) = records
                .into_iter()
                .partition(|r| pred(r, R::scope(s), resource));
            *R::records(s) = no;
            if !yes.is_empty() {
                let mut shell = R::scope_shell(s);
                *R::records(&mut shell) = yes;
                moved.push(shell);
            }
        }
        scopes.retain_mut(|s| !R::records(s).is_empty());
        *R::scopes(g) = scopes;
        if !moved.is_empty() {
            let mut shell = R::group_shell(g);
            *R::scopes(&mut shell) = moved;
            to.groups_mut().push(shell);
        }
    }
    from.groups_mut().retain_mut(|g| !R::scopes(g).is_empty());
}

/// Implements [`Groups`] and [`Nested`] for one signal's request, group, scope and record
/// types and their field names (the three differ only in names).
macro_rules! nested {
    ($req:ty, $groups:ident, $group:ty, $scopes:ident, $scope:ty, $records:ident, $record:ty, $data:ident) => {
        impl Groups for $req {
            type Group = $group;
            fn groups(&self) -> &[$group] {
                &self.$groups
            }
            fn groups_mut(&mut self) -> &mut Vec<$group> {
                &mut self.$groups
            }
            fn resource_item(g: &$group) -> ResourceItem<'_> {
                ResourceItem {
                    resource: g.resource.as_ref(),
                    schema_url: &g.schema_url,
                }
            }
            fn into_data(self) -> Data {
                Data::$data(self)
            }
        }

        impl Nested for $req {
            type Scope = $scope;
            type Record = $record;
            fn scopes(g: &mut $group) -> &mut Vec<$scope> {
                &mut g.$scopes
            }
            fn records(s: &mut $scope) -> &mut Vec<$record> {
                &mut s.$records
            }
            fn scope(s: &$scope) -> Option<&InstrumentationScope> {
                s.scope.as_ref()
            }
            fn group_shell(g: &$group) -> $group {
                <$group>::from_shell(g.resource.clone(), g.schema_url.clone())
            }
            fn scope_shell(s: &$scope) -> $scope {
                <$scope>::from_shell(s.scope.clone(), s.schema_url.clone())
            }
        }
    };
}

/// Struct literals of the shells (each type's own field names).
trait Shell<T> {
    fn from_shell(parent: Option<T>, schema_url: String) -> Self;
}

macro_rules! shell {
    ($ty:ty, $parent:ty, $field:ident) => {
        impl Shell<$parent> for $ty {
            fn from_shell(parent: Option<$parent>, schema_url: String) -> Self {
                Self {
                    $field: parent,
                    schema_url,
                    ..Default::default()
                }
            }
        }
    };
}

shell!(ResourceSpans, Resource, resource);
shell!(ResourceMetrics, Resource, resource);
shell!(ResourceLogs, Resource, resource);
shell!(ScopeSpans, InstrumentationScope, scope);
shell!(ScopeMetrics, InstrumentationScope, scope);
shell!(ScopeLogs, InstrumentationScope, scope);

nested!(
    ExportTraceServiceRequest,
    resource_spans,
    ResourceSpans,
    scope_spans,
    ScopeSpans,
    spans,
    Span,
    Traces
);
nested!(
    ExportMetricsServiceRequest,
    resource_metrics,
    ResourceMetrics,
    scope_metrics,
    ScopeMetrics,
    metrics,
    Metric,
    Metrics
);
nested!(
    ExportLogsServiceRequest,
    resource_logs,
    ResourceLogs,
    scope_logs,
    ScopeLogs,
    log_records,
    LogRecord,
    Logs
);
