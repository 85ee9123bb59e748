//! OTTL, the OpenTelemetry Transformation Language, as otelcol's pkg/ottl defines it: a lexer
//! and recursive-descent parser for the whole grammar (editor statements with `where`,
//! conditions with `and` / `or` / `not` and parentheses, comparisons, math with precedence,
//! paths with map keys and list indexes, string / int / float / bool / bytes / nil literals,
//! lists, maps, enums, converter calls with named arguments), compilation of conditions against
//! a [`Context`] (paths resolved to accessors, regular expressions compiled once), otelcol's
//! comparison and nil rules, otelcol's converters (see [`funcs::CONVERTERS`]), and the `span`
//! and `spanevent` contexts. Evaluation reads attributes by reference: comparing an attribute,
//! a name or a status code with a literal allocates nothing.
//!
//! Used by tail_sampling's `ottl_condition` policy:
//!
//! ```yaml
//! processors:
//!   tail_sampling:
//!     policies:
//!       - name: slow-checkout-or-errors
//!         type: ottl_condition
//!         ottl_condition:
//!           error_mode: ignore
//!           span:
//!             - 'attributes["http.route"] == "/checkout" and end_time_unix_nano - start_time_unix_nano > 2000000000'
//!             - 'status.code == STATUS_CODE_ERROR'
//!           spanevent:
//!             - 'name == "exception" and IsMatch(attributes["exception.type"], "Timeout")'
//! ```
//!
//! ```
//! use ferrotel_ottl::{Condition, SpanContext, SpanItem};
//! use ferrotel_core::proto::trace::v1::Span;
//!
//! let c = Condition::<SpanContext>::new(r#"name == "GET /" and kind == SPAN_KIND_SERVER"#).unwrap();
//! let span = Span { name: "GET /".into(), kind: 2, ..Default::default() };
//! assert!(c.eval(SpanItem { cache: &[], span: &span, scope: None, resource: None }).unwrap());
//! ```

// Tests may unwrap: a panic is how they fail.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod ast;
pub mod compile;
pub mod context_funcs;
pub mod contexts;
pub mod converters;
pub mod editors;
pub mod error;
pub mod funcs;
pub mod infer;
pub mod lambda;
pub mod lexer;
pub mod log_context;
pub mod metric_context;
pub mod metric_editors;
pub mod parents;
pub mod parser;
pub mod replace;
pub mod resource_context;
pub mod scope_context;
pub mod semconv_name;
pub mod setters;
pub mod statement;
pub mod value;

pub use compile::{Condition, Conditions, Context, ErrorMode, Function};
pub use contexts::{SpanContext, SpanEventContext, SpanEventItem, SpanItem};
pub use error::{Error, EvalError, ParseError};
pub use lambda::register_feature_gates;
pub use log_context::{LogContext, LogItem};
pub use metric_context::{
    DataPointContext, DataPointItem, DataPointRef, MetricContext, MetricItem,
};
pub use metric_editors::NewMetrics;
pub use resource_context::{ResourceContext, ResourceContextPath, ResourceItem};
pub use scope_context::{ProfileContext, ScopeContext, ScopeItem, ScopeItemMut};
pub use setters::{
    DataPointItemMut, DataPointMut, LogItemMut, MetricItemMut, ResourceItemMut, SpanEventItemMut,
    SpanItemMut,
};
pub use statement::{ContextMut, Editor, Place, Statement, Statements, Target};
pub use value::Value;

/// Parses a condition without compiling it; never panics, whatever the input (the entry point
/// for fuzzing).
pub fn parse_condition(src: &str) -> Result<ast::BoolExpr, ParseError> {
    parser::parse_condition(src)
}

/// Parses a statement (`editor(args) where condition`) without compiling it.
pub fn parse_statement(src: &str) -> Result<ast::Statement, ParseError> {
    parser::parse_statement(src)
}
