//! Compilation of parsed conditions against a [`Context`]: paths become the context's accessors,
//! enums their numbers, converter calls [`Function`] objects built once (regular expressions
//! compiled here), literals values kept in the tree; evaluation then walks the tree without
//! allocating for reads, compares and literal operands.

use crate::ast::{self, ArgValue, CmpOp, Key, MathOp};
use crate::error::{Error, EvalError};
use crate::funcs;
use crate::lambda::{param_value, Frame};
use crate::value::{compare, math, negate, Value};
use ferrotel_core::proto::common::v1::KeyValue;
use std::borrow::Cow;
use std::fmt;

/// A kind of telemetry conditions are evaluated on (otelcol's `span`, `spanevent`, ...): how its
/// paths and enums resolve at compile time and how a resolved path reads an item.
pub trait Context: Sized + 'static {
    /// The context's name in messages, as otelcol spells it there (`Span`).
    const NAME: &'static str;
    /// What a condition is evaluated on: references to the item and its parents.
    type Item<'a>: Copy;
    /// A path resolved at compile time.
    type Path: fmt::Debug + Clone + Send + Sync;

    /// Resolves a path; keys the context does not handle itself are returned, to be applied to
    /// the value it reads (`attributes["a"]["b"]` reads the attributes map, then indexes it).
    fn path(path: &ast::Path) -> Result<(Self::Path, Vec<Key>), String>;

    /// Reads a resolved path.
    fn get<'a>(path: &'a Self::Path, item: Self::Item<'a>) -> Result<Value<'a>, EvalError>;

    /// The number of an enum symbol (`SPAN_KIND_SERVER`).
    fn enum_value(name: &str) -> Option<i64>;

    /// Whether a path names an attribute map that [`Context::attributes`] reads directly:
    /// conditions of the form `attributes["key"] == literal` then look the key up without
    /// building values.
    fn is_attributes(_path: &Self::Path) -> bool {
        false
    }

    /// The attribute map a path names, for the paths [`Context::is_attributes`] accepts.
    fn attributes<'a>(_path: &'a Self::Path, _item: Self::Item<'a>) -> &'a [KeyValue] {
        &[]
    }

    /// The converters only this context has (`IsRootSpan` for spans).
    const OWN_CONVERTERS: &'static [&'static str] = &[];

    /// Builds one of [`Context::OWN_CONVERTERS`].
    fn own_converter(
        name: &str,
        _args: Vec<CompiledArg<Self>>,
    ) -> Result<Box<dyn Function<Self>>, String> {
        Err(format!("undefined function {name:?}"))
    }

    /// The context lambda bodies compile in: [`Lambda<Self>`](crate::lambda::Lambda) for a
    /// telemetry context, itself for a lambda body (so nested lambdas share it). A context
    /// declares it, with [`Context::reborrow`] and [`Context::enter`], by
    /// [`lambda_host!`](crate::lambda_host).
    type Lambda: Context<Path = Self::Path>;

    /// The item, for a shorter lifetime.
    fn reborrow<'l: 's, 's>(item: Self::Item<'l>) -> Self::Item<'s>;

    /// The item a lambda body is evaluated on: this item with `frame` (the lambda's arguments)
    /// innermost.
    fn enter<'s>(item: Self::Item<'s>, frame: &'s Frame<'s>)
        -> <Self::Lambda as Context>::Item<'s>;

    /// The arguments of the innermost lambda being evaluated, if any.
    fn frame<'s>(_item: Self::Item<'s>) -> Option<&'s Frame<'s>> {
        None
    }
}

/// A converter bound to its arguments, for context `C`.
pub trait Function<C: Context>: Send + Sync {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError>;
}

/// A compiled value expression.
pub enum Expr<C: Context> {
    Literal(Value<'static>),
    Path(C::Path, Vec<CKey<C>>),
    Call(Box<dyn Function<C>>, Vec<CKey<C>>),
    Math(Box<Expr<C>>, MathOp, Box<Expr<C>>),
    Neg(Box<Expr<C>>),
    List(Vec<Expr<C>>),
    Map(Vec<(String, Expr<C>)>),
    /// A lambda parameter: how many lambdas out, its position there, and keys.
    Param(usize, usize, Vec<CKey<C>>),
}

impl<C: Context> fmt::Debug for Expr<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(v) => write!(f, "Literal({v:?})"),
            Expr::Path(p, k) => write!(f, "Path({p:?}, {k:?})"),
            Expr::Call(_, k) => write!(f, "Call(.., {k:?})"),
            Expr::Math(a, op, b) => write!(f, "Math({a:?} {} {b:?})", op.as_str()),
            Expr::Neg(a) => write!(f, "Neg({a:?})"),
            Expr::List(l) => write!(f, "List({l:?})"),
            Expr::Map(m) => write!(f, "Map({m:?})"),
            Expr::Param(up, i, k) => write!(f, "Param({up}, {i}, {k:?})"),
        }
    }
}

impl<C: Context> Expr<C> {
    pub fn eval<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        match self {
            Expr::Literal(v) => Ok(v.borrowed()),
            Expr::Path(p, keys) => index(C::get(p, item)?, keys, item),
            Expr::Call(f, keys) => index(f.call(item)?, keys, item),
            Expr::Math(a, op, b) => math(a.eval(item)?, *op, b.eval(item)?),
            Expr::Neg(a) => negate(a.eval(item)?),
            Expr::Param(up, i, keys) => index(param_value::<C>(item, *up, *i)?, keys, item),
            Expr::List(items) => {
                let values = items
                    .iter()
                    .map(|e| e.eval(item).map(|v| v.to_any()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::List(Cow::Owned(values)))
            }
            Expr::Map(items) => {
                let mut values = Vec::with_capacity(items.len());
                for (k, e) in items {
                    values.push(ferrotel_core::proto::common::v1::KeyValue {
                        key: k.clone(),
                        value: Some(e.eval(item)?.to_any()),
                        ..Default::default()
                    });
                }
                Ok(Value::Map(Cow::Owned(values)))
            }
        }
    }

    /// The value, when the expression is a literal.
    pub fn literal(&self) -> Option<&Value<'static>> {
        match self {
            Expr::Literal(v) => Some(v),
            _ => None,
        }
    }
}

/// A compiled index: a literal key, or an expression whose value (a string or an int) is the key.
pub enum CKey<C: Context> {
    Str(String),
    Int(i64),
    Expr(Expr<C>),
}

impl<C: Context> fmt::Debug for CKey<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CKey::Str(s) => write!(f, "[{s:?}]"),
            CKey::Int(i) => write!(f, "[{i}]"),
            CKey::Expr(e) => write!(f, "[{e:?}]"),
        }
    }
}

/// Compiles the keys of a path or a converter call.
pub fn keys<C: Context>(keys: &[Key]) -> Result<Vec<CKey<C>>, String> {
    keys.iter()
        .map(|k| {
            Ok(match k {
                Key::Str(s) => CKey::Str(s.clone()),
                Key::Int(i) => CKey::Int(*i),
                Key::Expr(v) => CKey::Expr(value(v)?),
            })
        })
        .collect()
}

/// A key as used: a map key or a list index.
enum KeyRef<'k> {
    Str(Cow<'k, str>),
    Int(i64),
}

/// Applies keys: a string key looks a map up (a missing key is nil), an int key indexes a list.
pub fn index<'a, C: Context>(
    mut v: Value<'a>,
    keys: &'a [CKey<C>],
    item: C::Item<'a>,
) -> Result<Value<'a>, EvalError> {
    // The common case, `attributes["key"]`: one lookup, no key value built.
    if let (Value::Map(Cow::Borrowed(map)), [CKey::Str(k)]) = (&v, keys) {
        let map: &'a [KeyValue] = map;
        return Ok(map
            .iter()
            .find(|kv| kv.key == *k)
            .and_then(|kv| kv.value.as_ref())
            .map_or(Value::Nil, Value::from_any));
    }
    for key in keys {
        let key = match key {
            CKey::Str(s) => KeyRef::Str(Cow::Borrowed(s)),
            CKey::Int(i) => KeyRef::Int(*i),
            CKey::Expr(e) => match e.eval(item)? {
                Value::Str(s) => KeyRef::Str(s),
                Value::Int(i) => KeyRef::Int(i),
                other => {
                    return Err(EvalError::new(format!(
                        "invalid key type {}: a key must be a string or an int64",
                        other.type_name()
                    )))
                }
            },
        };
        v = index_one(v, &key)?;
    }
    Ok(v)
}

fn index_one<'a>(v: Value<'a>, key: &KeyRef<'_>) -> Result<Value<'a>, EvalError> {
    Ok(match (v, key) {
        (Value::Map(m), KeyRef::Str(k)) => match m {
            Cow::Borrowed(m) => m
                .iter()
                .find(|kv| kv.key == *k)
                .and_then(|kv| kv.value.as_ref())
                .map_or(Value::Nil, Value::from_any),
            Cow::Owned(m) => m
                .iter()
                .find(|kv| kv.key == *k)
                .and_then(|kv| kv.value.as_ref())
                .map_or(Value::Nil, |a| Value::from_any(a).to_any_owned()),
        },
        (Value::List(l), KeyRef::Int(i)) => {
            let len = l.len();
            let at = usize::try_from(*i)
                .ok()
                .filter(|i| *i < len)
                .ok_or_else(|| EvalError::new(format!("index {i} out of bounds")))?;
            match l {
                Cow::Borrowed(l) => Value::from_any(&l[at]),
                Cow::Owned(l) => Value::from_any(&l[at]).to_any_owned(),
            }
        }
        (Value::Map(_), KeyRef::Int(_)) => {
            return Err(EvalError::new("non-string indexing is not supported"))
        }
        (Value::List(_), KeyRef::Str(_)) => {
            return Err(EvalError::new("non-integer indexing is not supported"))
        }
        (other, _) => {
            return Err(EvalError::new(format!(
                "type {} does not support indexing",
                other.type_name()
            )))
        }
    })
}

impl Value<'_> {
    /// A copy that borrows nothing.
    pub fn to_any_owned(&self) -> Value<'static> {
        match self {
            Value::Str(s) => Value::Str(Cow::Owned(s.to_string())),
            Value::Bytes(b) => Value::Bytes(Cow::Owned(b.to_vec())),
            Value::Map(m) => Value::Map(Cow::Owned(m.to_vec())),
            Value::List(l) => Value::List(Cow::Owned(l.to_vec())),
            Value::Nil => Value::Nil,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => Value::Float(*f),
            Value::TraceId(id) => Value::TraceId(*id),
            Value::SpanId(id) => Value::SpanId(*id),
            Value::Time(t) => Value::Time(*t),
            Value::Duration(d) => Value::Duration(*d),
        }
    }
}

/// A compiled boolean expression.
#[derive(Debug)]
pub enum BoolExpr<C: Context> {
    Or(Vec<BoolExpr<C>>),
    And(Vec<BoolExpr<C>>),
    Not(Box<BoolExpr<C>>),
    Compare(Expr<C>, CmpOp, Expr<C>),
    /// `<map path>["key"] op literal`, read through [`Context::attributes`].
    KeyCompare {
        map: C::Path,
        key: String,
        op: CmpOp,
        literal: Value<'static>,
    },
    Const(bool),
    Converter(Expr<C>),
}

impl<C: Context> BoolExpr<C> {
    /// Evaluates with short-circuit `and` / `or`.
    pub fn eval<'a>(&'a self, item: C::Item<'a>) -> Result<bool, EvalError> {
        match self {
            BoolExpr::Or(terms) => {
                for t in terms {
                    if t.eval(item)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            BoolExpr::And(values) => {
                for v in values {
                    if !v.eval(item)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            BoolExpr::Not(e) => Ok(!e.eval(item)?),
            BoolExpr::Compare(a, op, b) => Ok(compare(&a.eval(item)?, &b.eval(item)?, *op)),
            BoolExpr::KeyCompare {
                map,
                key,
                op,
                literal,
            } => {
                let found = C::attributes(map, item).iter().find(|kv| kv.key == *key);
                let value = found.and_then(|kv| kv.value.as_ref());
                // `attributes["k"] != nil` and `== nil`: whether the value is there, without
                // building it.
                if let (Value::Nil, CmpOp::Eq | CmpOp::Ne) = (literal, op) {
                    return Ok(value.is_none_or(Value::is_nil_any) == (*op == CmpOp::Eq));
                }
                // Only borrows (from_any copies nothing), so there is nothing to drop.
                let v = std::mem::ManuallyDrop::new(value.map_or(Value::Nil, Value::from_any));
                Ok(compare(&v, literal, *op))
            }
            BoolExpr::Const(b) => Ok(*b),
            BoolExpr::Converter(e) => match e.eval(item)? {
                Value::Bool(b) => Ok(b),
                other => Err(EvalError::new(format!(
                    "value returned from Converter in constant expression must be bool but got {}",
                    other.type_name()
                ))),
            },
        }
    }
}

/// Compiles a parsed boolean expression.
pub fn bool_expr<C: Context>(e: &ast::BoolExpr) -> Result<BoolExpr<C>, String> {
    Ok(match e {
        ast::BoolExpr::Or(v) => BoolExpr::Or(v.iter().map(bool_expr).collect::<Result<_, _>>()?),
        ast::BoolExpr::And(v) => BoolExpr::And(v.iter().map(bool_expr).collect::<Result<_, _>>()?),
        ast::BoolExpr::Not(e) => BoolExpr::Not(Box::new(bool_expr(e)?)),
        ast::BoolExpr::Compare(a, op, b) => comparison(value(a)?, *op, value(b)?),
        ast::BoolExpr::Const(b) => BoolExpr::Const(*b),
        ast::BoolExpr::Converter(c) => BoolExpr::Converter(call(c)?),
    })
}

/// A comparison, through the context's map reader when it compares one attribute with a
/// literal.
fn comparison<C: Context>(a: Expr<C>, op: CmpOp, b: Expr<C>) -> BoolExpr<C> {
    if let (Expr::Path(path, keys), Some(literal)) = (&a, b.literal()) {
        if let ([CKey::Str(key)], true) = (keys.as_slice(), C::is_attributes(path)) {
            return BoolExpr::KeyCompare {
                map: path.clone(),
                key: key.clone(),
                op,
                literal: literal.clone(),
            };
        }
    }
    BoolExpr::Compare(a, op, b)
}

/// Compiles a parsed value.
pub fn value<C: Context>(v: &ast::Value) -> Result<Expr<C>, String> {
    Ok(Expr::Literal(match v {
        ast::Value::Nil => Value::Nil,
        ast::Value::Bool(b) => Value::Bool(*b),
        ast::Value::Int(i) => Value::Int(*i),
        ast::Value::Float(f) => Value::Float(*f),
        ast::Value::Str(s) => Value::Str(Cow::Owned(s.clone())),
        ast::Value::Bytes(b) => Value::Bytes(Cow::Owned(b.clone())),
        ast::Value::Enum(name) => Value::Int(
            C::enum_value(name).ok_or_else(|| format!("enum symbol, {name}, not found"))?,
        ),
        ast::Value::Path(p) => {
            let (path, rest) = C::path(p)?;
            return Ok(Expr::Path(path, keys(&rest)?));
        }
        ast::Value::Converter(c) => return call(c),
        ast::Value::Math(a, op, b) => {
            return Ok(Expr::Math(Box::new(value(a)?), *op, Box::new(value(b)?)))
        }
        ast::Value::Neg(a) => return Ok(Expr::Neg(Box::new(value(a)?))),
        ast::Value::List(items) => {
            return Ok(Expr::List(
                items.iter().map(value).collect::<Result<_, _>>()?,
            ))
        }
        ast::Value::Map(items) => {
            return Ok(Expr::Map(
                items
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), value(v)?)))
                    .collect::<Result<_, String>>()?,
            ))
        }
        ast::Value::Param(p) => return Ok(Expr::Param(p.up, p.index, keys(&p.keys)?)),
        ast::Value::Lambda(_) => {
            return Err("a lambda expression is only allowed as a function argument".into())
        }
    }))
}

/// A compiled argument: its name if given, and its expression (or a function name). A lambda
/// stays parsed (`lambda`, with `value` an empty `Err`): the function taking it compiles it.
pub struct CompiledArg<C: Context> {
    pub name: Option<String>,
    pub value: Result<Expr<C>, String>,
    pub lambda: Option<Box<ast::Lambda>>,
}

/// Compiles a call's arguments. A function name stays a name (`Err`); so does an all-capitals
/// word that is no enum of the context but names a converter (`SHA256` in
/// `replace_pattern(..., SHA256, "%s")`, which otelcol's grammar reads as an enum first).
pub(crate) fn args<C: Context>(args: &[ast::Arg]) -> Result<Vec<CompiledArg<C>>, String> {
    args.iter()
        .map(|a| {
            let value = match &a.value {
                ArgValue::Value(ast::Value::Lambda(l)) => {
                    return Ok(CompiledArg {
                        name: a.name.clone(),
                        value: Err(String::new()),
                        lambda: Some(l.clone()),
                    })
                }
                ArgValue::Value(ast::Value::Enum(name))
                    if C::enum_value(name).is_none()
                        && funcs::CONVERTERS.contains(&name.as_str()) =>
                {
                    Err(name.clone())
                }
                ArgValue::Value(v) => Ok(value(v)?),
                ArgValue::Function(f) => Err(f.clone()),
            };
            Ok(CompiledArg {
                name: a.name.clone(),
                value,
                lambda: None,
            })
        })
        .collect()
}

fn call<C: Context>(c: &ast::Call) -> Result<Expr<C>, String> {
    let args = args::<C>(&c.args)?;
    let f = if C::OWN_CONVERTERS.contains(&c.name.as_str()) {
        C::own_converter(&c.name, args)?
    } else {
        funcs::converter::<C>(&c.name, args)?
    };
    Ok(Expr::Call(f, keys(&c.keys)?))
}

/// How evaluation errors are handled (otelcol's `error_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    /// Logged, and the condition counts as false.
    Ignore,
    /// The condition counts as false, nothing is logged.
    Silent,
    /// The error is returned to the caller.
    #[default]
    Propagate,
}

impl ErrorMode {
    /// The mode a config names (`ignore`, `silent`, `propagate`; any case, as otelcol), or
    /// otelcol's message for a name it does not know.
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name.to_lowercase().as_str() {
            "ignore" => Ok(ErrorMode::Ignore),
            "silent" => Ok(ErrorMode::Silent),
            "propagate" => Ok(ErrorMode::Propagate),
            _ => Err(format!("unknown error mode {name}")),
        }
    }
}

/// One compiled condition and its text.
#[derive(Debug)]
pub struct Condition<C: Context> {
    expr: BoolExpr<C>,
    text: String,
}

impl<C: Context> Condition<C> {
    /// Parses and compiles `text`; the error names it.
    pub fn new(text: &str) -> Result<Self, Error> {
        let fail = |message: String| Error {
            kind: "condition",
            text: text.to_string(),
            message,
        };
        let parsed = crate::parser::parse_condition(text).map_err(|e| fail(e.to_string()))?;
        let expr = bool_expr::<C>(&parsed).map_err(fail)?;
        Ok(Condition {
            expr,
            text: text.to_string(),
        })
    }

    pub fn eval<'a>(&'a self, item: C::Item<'a>) -> Result<bool, EvalError> {
        self.expr.eval(item)
    }

    /// The condition as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Conditions of which any may match (otelcol's ConditionSequence with `or`), with an error
/// mode.
#[derive(Debug)]
pub struct Conditions<C: Context> {
    conditions: Vec<Condition<C>>,
    mode: ErrorMode,
}

impl<C: Context> Conditions<C> {
    /// Compiles every condition; the errors of all that fail are returned.
    pub fn new<S: AsRef<str>>(texts: &[S], mode: ErrorMode) -> Result<Self, Vec<Error>> {
        let mut conditions = Vec::new();
        let mut errors = Vec::new();
        for t in texts {
            match Condition::new(t.as_ref()) {
                Ok(c) => conditions.push(c),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(Conditions { conditions, mode })
        } else {
            Err(errors)
        }
    }

    /// Conditions compiled one by one (each error reported where it belongs).
    pub fn from_conditions(conditions: Vec<Condition<C>>, mode: ErrorMode) -> Self {
        Conditions { conditions, mode }
    }

    /// Whether any condition holds. A failing condition counts as false under `ignore` (logged)
    /// and `silent`; under `propagate` its error is returned, naming the condition.
    pub fn any<'a>(&'a self, item: C::Item<'a>) -> Result<bool, EvalError> {
        for c in &self.conditions {
            match c.eval(item) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => match self.mode {
                    ErrorMode::Propagate => {
                        return Err(EvalError::new(format!(
                            "failed to eval condition: {}, {e}",
                            c.text
                        )))
                    }
                    ErrorMode::Ignore => tracing::warn!(
                        condition = c.text.as_str(),
                        error = %e,
                        "failed to eval condition"
                    ),
                    ErrorMode::Silent => {}
                },
            }
        }
        Ok(false)
    }

    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }
}
