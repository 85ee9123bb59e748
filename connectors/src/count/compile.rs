//! The config's metrics compiled against their OTTL contexts: conditions parsed once, attribute
//! defaults resolved to the values they count under.

use super::config::{CountConfig, DefaultValue, Kind, MetricInfo, Section};
use ferrotel_config::Validator;
use ferrotel_ottl::{
    ast::{self, Key},
    Condition, Conditions, Context, DataPointContext, ErrorMode, EvalError, LogContext,
    MetricContext, SpanContext, SpanEventContext, Value,
};

/// An attribute a metric counts by, and its value for items lacking it.
#[derive(Debug)]
pub struct AttrDef {
    pub key: String,
    pub default: Option<AttrDefault>,
}

/// A `default_value` otelcol would use (non-empty string, non-zero number).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrDefault {
    Int(i64),
    Double(f64),
    Str(String),
}

impl AttrDefault {
    fn of(v: &DefaultValue) -> Option<AttrDefault> {
        match v {
            DefaultValue::Str(s) if !s.is_empty() => Some(AttrDefault::Str(s.clone())),
            DefaultValue::Int(i) if *i != 0 => Some(AttrDefault::Int(*i)),
            DefaultValue::Float(f) if *f != 0.0 => Some(AttrDefault::Double(*f)),
            _ => None,
        }
    }
}

/// One count metric, ready to count items of context `C`.
pub struct MetricDef<C: Context> {
    pub name: String,
    pub description: String,
    /// None: every item is counted.
    pub conditions: Option<Conditions<C>>,
    pub attrs: Vec<AttrDef>,
}

/// A condition that did not compile: the metric, the condition's index, otelcol's message.
pub struct CompileError {
    pub name: String,
    pub index: usize,
    pub message: String,
}

fn compile_metric<C: Context>(
    kind: Kind,
    name: &str,
    info: &MetricInfo,
    errors: &mut Vec<CompileError>,
) -> MetricDef<C> {
    let mut compiled = Vec::with_capacity(info.conditions.len());
    for (index, text) in info.conditions.iter().enumerate() {
        match Condition::<C>::new(text) {
            Ok(c) => compiled.push(c),
            Err(e) => errors.push(CompileError {
                name: name.to_string(),
                index,
                message: format!("{} condition: metric {name:?}: {e}", kind.key()),
            }),
        }
    }
    let attrs = info
        .attributes
        .iter()
        .map(|a| AttrDef {
            key: a.key.clone(),
            default: a.default_value.as_ref().and_then(AttrDefault::of),
        })
        .collect();
    MetricDef {
        name: name.to_string(),
        description: info.description.clone(),
        conditions: (!compiled.is_empty())
            .then(|| Conditions::from_conditions(compiled, ErrorMode::Propagate)),
        attrs,
    }
}

/// Compiles a section's metrics; the conditions that fail are returned beside them.
pub fn compile_section<C: Context>(
    kind: Kind,
    section: &Section,
) -> (Vec<MetricDef<C>>, Vec<CompileError>) {
    let mut errors = Vec::new();
    let defs = section
        .iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, info)| compile_metric::<C>(kind, name, info, &mut errors))
        .collect();
    (defs, errors)
}

fn report<C: Context>(kind: Kind, section: &Section, v: &mut Validator<'_>) {
    let (_, errors) = compile_section::<C>(kind, section);
    for e in errors {
        v.at(kind.key())
            .at(&e.name)
            .at("conditions")
            .item(e.index)
            .report(e.message);
    }
}

/// Reports every condition of the config that does not compile, at its path.
pub fn report_condition_errors(config: &CountConfig, v: &mut Validator<'_>) {
    report::<SpanContext>(Kind::Spans, &config.spans, v);
    report::<SpanEventContext>(Kind::SpanEvents, &config.spanevents, v);
    report::<MetricContext>(Kind::Metrics, &config.metrics, v);
    report::<DataPointContext>(Kind::DataPoints, &config.datapoints, v);
    report::<LogContext>(Kind::Logs, &config.logs, v);
}

/// The profiles section's context: ferrotel has no OTTL profile context, so no path resolves and
/// no condition compiles (validation says so first); profiles are counted by attributes only.
#[derive(Debug)]
pub struct NoProfileContext;

impl Context for NoProfileContext {
    ferrotel_ottl::lambda_host!();

    const NAME: &'static str = "profile";
    type Item<'a> = ();
    type Path = ();

    fn path(path: &ast::Path) -> Result<((), Vec<Key>), String> {
        Err(format!(
            "path {:?}: ferrotel has no OTTL profile context",
            path.dotted()
        ))
    }

    fn get<'a>(_: &'a (), _: ()) -> Result<Value<'a>, EvalError> {
        Ok(Value::Nil)
    }

    fn enum_value(_: &str) -> Option<i64> {
        None
    }
}
