//! Context inference, as otelcol's pkg/ottl does it for flat-style conditions and statements
//! (`trace_conditions: ['span.name == "x"']`, `trace_statements: ['set(span.attributes["a"], 1)']`).
//!
//! The rules, from otelcol's `priorityContextInferrer` and `ParserCollection`:
//! - a path's *context* is its first segment when a `.` follows it without keys
//!   (`span.name` → `span`, `resource.attributes["a"]` → `resource`, `status.code` → `status`);
//!   a path without one (`name`, `attributes["a"]`) names no context and is ignored;
//! - among the contexts named anywhere (comparisons, converter and editor arguments, keys, math,
//!   lists, maps), the one earliest in [`PRIORITY`] wins (the most specific: `spanevent` over
//!   `span` over `resource`); a context not in that list ranks last, the first such one seen;
//! - when the conditions call functions or use enum symbols, the winner must support them all;
//!   if it does not, the *lower* contexts (the candidates whose paths may start with the
//!   winner's name, e.g. `span` and `spanevent` for `resource`) are tried in priority order;
//! - nothing named → "unable to infer context"; a winner that is not a candidate → "not a
//!   supported context".
//!
//! ```
//! use ferrotel_ottl::infer::{self, Hints};
//!
//! let c = ferrotel_ottl::parse_condition(r#"resource.attributes["a"] == "b" or spanevent.name == "x""#).unwrap();
//! let hints = Hints::of_condition(&c);
//! assert_eq!(infer::infer_context(&hints, infer::TRACES), Ok("spanevent"));
//! assert_eq!(
//!     infer::infer_conditions(&[r#"span.name == "x""#], infer::TRACES).unwrap(),
//!     vec!["span"],
//! );
//! ```

use crate::ast::{self, ArgValue, BoolExpr, Call, Key, Statement, Value};
use std::collections::BTreeSet;
use std::fmt;

/// otelcol's inference priority, highest first.
pub const PRIORITY: &[&str] = &[
    "log",
    "datapoint",
    "metric",
    "spanevent",
    "span",
    "profile",
    "scope",
    "instrumentation_scope",
    "resource",
];

/// What inference looks at in one condition or statement (or several, merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// The context of every path, in order of appearance; `""` for a path without one.
    pub contexts: Vec<String>,
    /// Every path as otelcol writes it in messages (`span.attributes[http.route]`), in the same
    /// order.
    pub paths: Vec<String>,
    /// Every editor and converter called.
    pub functions: BTreeSet<String>,
    /// Every enum symbol used.
    pub enums: BTreeSet<String>,
}

/// The context a path names (its first segment, when another follows and it has no keys).
pub fn path_context(p: &ast::Path) -> Option<&str> {
    match p.fields.as_slice() {
        [first, _, ..] if first.keys.is_empty() => Some(&first.name),
        _ => None,
    }
}

/// A path as otelcol's messages write it: segments joined by `.`, keys in brackets without
/// quotes (`resource.attributes[service.name]`).
pub fn path_text(p: &ast::Path) -> String {
    let fields: Vec<String> = p
        .fields
        .iter()
        .map(|f| {
            let keys: String = f
                .keys
                .iter()
                .map(|k| match k {
                    Key::Str(s) => format!("[{s}]"),
                    Key::Int(i) => format!("[{i}]"),
                    Key::Expr(_) => "[...]".to_string(),
                })
                .collect();
            format!("{}{keys}", f.name)
        })
        .collect();
    fields.join(".")
}

/// In an inferred context every path must start with a context `cand` reads (otelcol parses
/// inferred conditions with path context names required); otelcol's message otherwise.
pub fn check_path_contexts(hints: &Hints, cand: &Candidate) -> Result<(), String> {
    for (context, text) in hints.contexts.iter().zip(&hints.paths) {
        let options = |suffix: &str| -> String {
            let names: Vec<String> = cand
                .path_contexts
                .iter()
                .map(|c| format!("\"{c}{suffix}\""))
                .collect();
            names.join(", ")
        };
        if context.is_empty() {
            return Err(format!(
                "missing context name for path \"{text}\", possibly valid options are: {}",
                options(&format!(".{text}"))
            ));
        }
        if !cand.path_contexts.contains(&context.as_str()) {
            return Err(format!(
                "context \"{context}\" from path \"{text}\" is not valid, it must be replaced by \
                 one of: {}",
                options("")
            ));
        }
    }
    Ok(())
}

impl Hints {
    /// The hints of a condition.
    pub fn of_condition(e: &BoolExpr) -> Hints {
        let mut h = Hints::default();
        h.bool_expr(e);
        h
    }

    /// The hints of a statement: its editor, arguments and `where` clause.
    pub fn of_statement(s: &Statement) -> Hints {
        let mut h = Hints::default();
        h.call(&s.editor);
        if let Some(c) = &s.condition {
            h.bool_expr(c);
        }
        h
    }

    /// Adds `other`'s hints to these.
    pub fn merge(&mut self, other: Hints) {
        self.contexts.extend(other.contexts);
        self.paths.extend(other.paths);
        self.functions.extend(other.functions);
        self.enums.extend(other.enums);
    }

    /// The distinct contexts named (without `""`), in order of appearance.
    pub fn named_contexts(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.contexts {
            if !c.is_empty() && !out.contains(&c.as_str()) {
                out.push(c);
            }
        }
        out
    }

    fn bool_expr(&mut self, e: &BoolExpr) {
        match e {
            BoolExpr::Or(v) | BoolExpr::And(v) => v.iter().for_each(|e| self.bool_expr(e)),
            BoolExpr::Not(e) => self.bool_expr(e),
            BoolExpr::Compare(a, _, b) => {
                self.value(a);
                self.value(b);
            }
            BoolExpr::Const(_) => {}
            BoolExpr::Converter(c) => self.call(c),
        }
    }

    fn call(&mut self, c: &Call) {
        self.functions.insert(c.name.clone());
        for a in &c.args {
            if let ArgValue::Value(v) = &a.value {
                self.value(v);
            }
        }
        self.keys(&c.keys);
    }

    fn keys(&mut self, keys: &[Key]) {
        for k in keys {
            if let Key::Expr(v) = k {
                self.value(v);
            }
        }
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Path(p) => {
                self.contexts
                    .push(path_context(p).unwrap_or_default().to_string());
                self.paths.push(path_text(p));
                p.fields.iter().for_each(|f| self.keys(&f.keys));
            }
            Value::Enum(name) => {
                self.enums.insert(name.clone());
            }
            Value::Converter(c) => self.call(c),
            Value::Math(a, _, b) => {
                self.value(a);
                self.value(b);
            }
            Value::Neg(a) => self.value(a),
            Value::Param(p) => self.keys(&p.keys),
            Value::Lambda(l) => match &l.body {
                crate::ast::LambdaBody::Value(v) => self.value(v),
                crate::ast::LambdaBody::Bool(b) => self.bool_expr(b),
            },
            Value::List(items) => items.iter().for_each(|v| self.value(v)),
            Value::Map(items) => items.iter().for_each(|(_, v)| self.value(v)),
            Value::Nil
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Str(_)
            | Value::Bytes(_) => {}
        }
    }
}

/// A context conditions or statements may be inferred to: its name, the contexts its paths may
/// start with (its own and its parents'), and which functions and enum symbols it has.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub name: &'static str,
    pub path_contexts: &'static [&'static str],
    pub has_function: fn(&str) -> bool,
    pub has_enum: fn(&str) -> bool,
}

impl Candidate {
    fn supports(&self, h: &Hints) -> Result<(), InferError> {
        if let Some(f) = h.functions.iter().find(|f| !(self.has_function)(f)) {
            return Err(InferError::Function(self.name.into(), f.clone()));
        }
        if let Some(e) = h.enums.iter().find(|e| !(self.has_enum)(e)) {
            return Err(InferError::Enum(self.name.into(), e.clone()));
        }
        Ok(())
    }
}

/// Why no context could be inferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InferError {
    /// No path names a context.
    NoContext,
    /// The winning context is not one of the candidates.
    Unsupported(String),
    /// Likewise, when functions or enums had to be checked against it.
    NotCandidate(String),
    /// The winning context (and its lower ones) lack a function.
    Function(String, String),
    /// The winning context (and its lower ones) lack an enum symbol.
    Enum(String, String),
}

impl InferError {
    /// otelcol's message for `texts` (conditions or statements, `kind` naming which).
    pub fn message<S: AsRef<str>>(&self, kind: &str, texts: &[S], cands: &[Candidate]) -> String {
        let texts = quoted(texts.iter().map(AsRef::as_ref));
        let names = supported_names(cands);
        match self {
            InferError::NoContext => format!(
                "unable to infer context from {kind}, path's first segment must be a valid \
                 context name: {names}, and at least one context must be capable of parsing all \
                 {kind}: {texts}"
            ),
            InferError::Unsupported(c) => format!(
                "context \"{c}\" inferred from the {kind} {texts} is not a supported context: \
                 {names}"
            ),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for InferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InferError::NoContext => write!(f, "unable to infer context"),
            InferError::Unsupported(c) => write!(f, "context \"{c}\" is not a supported context"),
            InferError::NotCandidate(c) => {
                write!(f, "inferred context \"{c}\" is not a valid candidate")
            }
            InferError::Function(c, name) => write!(
                f,
                "inferred context \"{c}\" does not support the function \"{name}\""
            ),
            InferError::Enum(c, name) => write!(
                f,
                "inferred context \"{c}\" does not support the enum symbol \"{name}\""
            ),
        }
    }
}

/// Go's `%+q` of a string slice: `["a" "b"]`.
pub fn quoted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(" "))
}

/// The candidates' names, sorted, as otelcol lists the supported contexts.
pub fn supported_names(cands: &[Candidate]) -> String {
    let mut names: Vec<&str> = cands.iter().map(|c| c.name).collect();
    names.sort_unstable();
    quoted(names.into_iter())
}

fn rank(context: &str) -> usize {
    PRIORITY
        .iter()
        .position(|p| *p == context)
        .unwrap_or(usize::MAX)
}

/// The context the hints' paths name with the highest priority, if any.
pub fn winner(hints: &Hints) -> Option<&str> {
    let mut best: Option<&str> = None;
    for c in hints.contexts.iter().filter(|c| !c.is_empty()) {
        if best.is_none_or(|b| rank(c) < rank(b)) {
            best = Some(c);
        }
    }
    best
}

/// The context `hints` infer to among `cands` (otelcol's rules, see the module doc).
pub fn infer_context(hints: &Hints, cands: &[Candidate]) -> Result<&'static str, InferError> {
    let won = winner(hints).ok_or(InferError::NoContext)?;
    let needs_nothing = hints.functions.is_empty() && hints.enums.is_empty();
    let Some(cand) = cands.iter().find(|c| c.name == won) else {
        return Err(if needs_nothing {
            InferError::Unsupported(won.to_string())
        } else {
            InferError::NotCandidate(won.to_string())
        });
    };
    let Err(e) = cand.supports(hints) else {
        return Ok(cand.name);
    };
    lower_contexts(won, cands)
        .into_iter()
        .find(|c| c.supports(hints).is_ok())
        .map(|c| c.name)
        .ok_or(e)
}

/// The candidates other than `context` whose paths may start with it, by priority.
fn lower_contexts<'c>(context: &str, cands: &'c [Candidate]) -> Vec<&'c Candidate> {
    let mut lower: Vec<&Candidate> = cands
        .iter()
        .filter(|c| c.name != context && c.path_contexts.contains(&context))
        .collect();
    lower.sort_by_key(|c| rank(c.name));
    lower
}

/// Infers each condition's context on its own (as the filter processor's flat lists do),
/// with otelcol's messages; a condition that does not parse reports its parse error.
pub fn infer_conditions<S: AsRef<str>>(
    texts: &[S],
    cands: &[Candidate],
) -> Result<Vec<&'static str>, String> {
    texts
        .iter()
        .map(|t| {
            let parsed = crate::parse_condition(t.as_ref()).map_err(|e| {
                crate::Error {
                    kind: "condition",
                    text: t.as_ref().to_string(),
                    message: e.to_string(),
                }
                .to_string()
            })?;
            infer_context(&Hints::of_condition(&parsed), cands)
                .map_err(|e| e.message("conditions", std::slice::from_ref(t), cands))
        })
        .collect()
}

/// Infers one context for a group of statements (as the transform processor's flat lists do),
/// with otelcol's messages.
pub fn infer_statements<S: AsRef<str>>(
    texts: &[S],
    cands: &[Candidate],
) -> Result<&'static str, String> {
    let mut hints = Hints::default();
    for t in texts {
        let parsed = crate::parse_statement(t.as_ref()).map_err(|e| {
            crate::Error {
                kind: "statement",
                text: t.as_ref().to_string(),
                message: e.to_string(),
            }
            .to_string()
        })?;
        hints.merge(Hints::of_statement(&parsed));
    }
    infer_context(&hints, cands).map_err(|e| e.message("statements", texts, cands))
}

/// A function every context has: a converter or an editor.
fn converter(name: &str) -> bool {
    crate::funcs::CONVERTERS.contains(&name)
        || crate::editors::EDITORS.contains(&name)
        || (crate::converters::lambdas::NAMES.contains(&name) && crate::lambda::enabled())
}

fn span_function(name: &str) -> bool {
    converter(name) || crate::context_funcs::SPAN.contains(&name) || name == "set_semconv_span_name"
}

/// The log context's functions: the common ones and the transform processor's log parsers.
fn log_function(name: &str) -> bool {
    converter(name) || crate::converters::log_formats::CONVERTERS.contains(&name)
}

/// The metric context's functions: the common ones, the filter processor's
/// `HasAttr*OnDatapoint` and the transform processor's metric editors.
fn metric_function(name: &str) -> bool {
    converter(name)
        || crate::context_funcs::METRIC.contains(&name)
        || crate::metric_editors::METRIC.contains(&name)
}

/// The datapoint context's functions: the common ones and the transform processor's
/// `convert_summary_count_val_to_sum` / `convert_summary_sum_val_to_sum`.
fn datapoint_function(name: &str) -> bool {
    converter(name) || crate::metric_editors::DATAPOINT.contains(&name)
}

fn no_enum(_: &str) -> bool {
    false
}

fn span_enum(name: &str) -> bool {
    crate::contexts::span_enum(name).is_some()
}

fn metric_enum(name: &str) -> bool {
    crate::metric_context::metric_enum(name).is_some()
}

fn datapoint_enum(name: &str) -> bool {
    crate::metric_context::datapoint_enum(name).is_some()
}

fn log_enum(name: &str) -> bool {
    crate::log_context::severity_enum(name).is_some()
}

const fn candidate(
    name: &'static str,
    path_contexts: &'static [&'static str],
    has_enum: fn(&str) -> bool,
) -> Candidate {
    Candidate {
        name,
        path_contexts,
        has_function: converter,
        has_enum,
    }
}

/// `resource`, with this crate's converters.
pub const RESOURCE: Candidate = candidate("resource", &["resource"], no_enum);
/// `scope` (paths: `scope.*`, `instrumentation_scope.*`, `resource.*`).
pub const SCOPE: Candidate = candidate(
    "scope",
    &["scope", "instrumentation_scope", "resource"],
    no_enum,
);
pub const SPAN: Candidate = Candidate {
    has_function: span_function,
    ..candidate(
        "span",
        &["span", "resource", "scope", "instrumentation_scope"],
        span_enum,
    )
};
pub const SPANEVENT: Candidate = candidate(
    "spanevent",
    &[
        "spanevent",
        "span",
        "resource",
        "scope",
        "instrumentation_scope",
    ],
    span_enum,
);
pub const METRIC: Candidate = Candidate {
    has_function: metric_function,
    ..candidate(
        "metric",
        &["metric", "resource", "scope", "instrumentation_scope"],
        metric_enum,
    )
};
pub const DATAPOINT: Candidate = Candidate {
    has_function: datapoint_function,
    ..candidate(
        "datapoint",
        &[
            "datapoint",
            "metric",
            "resource",
            "scope",
            "instrumentation_scope",
        ],
        datapoint_enum,
    )
};
pub const LOG: Candidate = Candidate {
    has_function: log_function,
    ..candidate(
        "log",
        &["log", "resource", "scope", "instrumentation_scope"],
        log_enum,
    )
};
pub const PROFILE: Candidate = candidate(
    "profile",
    &["profile", "resource", "scope", "instrumentation_scope"],
    no_enum,
);

/// The contexts of each signal's flat lists (otelcol's parser collections).
pub const TRACES: &[Candidate] = &[RESOURCE, SCOPE, SPAN, SPANEVENT];
pub const METRICS: &[Candidate] = &[RESOURCE, SCOPE, METRIC, DATAPOINT];
pub const LOGS: &[Candidate] = &[RESOURCE, SCOPE, LOG];
pub const PROFILES: &[Candidate] = &[RESOURCE, SCOPE, PROFILE];

#[cfg(test)]
mod tests;
