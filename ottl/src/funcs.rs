//! The converters conditions use, with otelcol's names, parameter names (for named arguments),
//! argument checks and semantics (pkg/ottl/ottlfuncs): IsMatch, IsString, IsInt, IsDouble,
//! IsBool, IsMap, IsList, Len, Concat, Int, Double, String, ConvertCase, Substring, Split,
//! HasPrefix, HasSuffix, Duration, Now. Arguments are bound at compile time; a literal regular expression is
//! compiled once, with a size limit.

use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::value::{parse_go_duration, string_like, Value};
use ferrotel_core::proto::common::v1::{any_value, AnyValue};
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;

/// Most memory a compiled regular expression may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The converters [`converter`] knows, for messages and docs.
pub const CONVERTERS: &[&str] = &[
    "Concat",
    "ConvertCase",
    "Double",
    "Duration",
    "HasPrefix",
    "HasSuffix",
    "Int",
    "IsBool",
    "IsDouble",
    "IsInt",
    "IsList",
    "IsMap",
    "IsMatch",
    "IsString",
    "Len",
    "Now",
    "String",
    "Split",
    "Substring",
];

type Unary = for<'a> fn(Value<'a>) -> Result<Value<'a>, EvalError>;
type Binary = for<'a> fn(Value<'a>, Value<'a>) -> Result<Value<'a>, EvalError>;

/// Builds converter `name` over its arguments.
pub fn converter<C: Context>(
    name: &str,
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Function<C>>, String> {
    let unary = |f: Unary, args| -> Result<Box<dyn Function<C>>, String> {
        let [arg] = bind::<C, 1>(name, args, &["target"])?;
        Ok(Box::new(UnaryFn { arg, f }))
    };
    let binary = |f: Binary, second: &str, args| -> Result<Box<dyn Function<C>>, String> {
        let [a, b] = bind::<C, 2>(name, args, &["target", second])?;
        Ok(Box::new(BinaryFn { a, b, f }))
    };
    match name {
        "IsString" => unary(|v| Ok(Value::Bool(matches!(v, Value::Str(_)))), args),
        "IsInt" => unary(|v| Ok(Value::Bool(matches!(v, Value::Int(_)))), args),
        "IsDouble" => unary(|v| Ok(Value::Bool(matches!(v, Value::Float(_)))), args),
        "IsBool" => unary(|v| Ok(Value::Bool(matches!(v, Value::Bool(_)))), args),
        "IsMap" => unary(|v| Ok(Value::Bool(matches!(v, Value::Map(_)))), args),
        "IsList" => unary(|v| Ok(Value::Bool(matches!(v, Value::List(_)))), args),
        "Len" => unary(len, args),
        "Int" => unary(int, args),
        "Double" => unary(double, args),
        "String" => unary(|v| Ok(string_like(&v).map_or(Value::Nil, Value::Str)), args),
        "HasPrefix" => binary(has_prefix, "prefix", args),
        "HasSuffix" => binary(has_suffix, "suffix", args),
        "Split" => binary(split, "delimiter", args),
        "IsMatch" => is_match(args),
        "Concat" => concat(args),
        "ConvertCase" => convert_case(args),
        "Substring" => substring(args),
        "Duration" => unary(duration, args),
        "Now" => {
            bind::<C, 0>(name, args, &[])?;
            Ok(Box::new(Now))
        }
        _ => Err(format!("undefined function {name:?}")),
    }
}

/// Binds positional then named arguments to `params`, all required.
pub(crate) fn bind<C: Context, const N: usize>(
    name: &str,
    args: Vec<CompiledArg<C>>,
    params: &[&str; N],
) -> Result<[Expr<C>; N], String> {
    if args.len() != N {
        return Err(format!(
            "error while parsing arguments for call to {name:?}: incorrect number of arguments. \
             Expected: {N} Received: {}",
            args.len()
        ));
    }
    let mut slots: [Option<Expr<C>>; N] = std::array::from_fn(|_| None);
    let mut named = false;
    for (pos, arg) in args.into_iter().enumerate() {
        let at = match &arg.name {
            None if named => {
                return Err(format!(
                    "error while parsing arguments for call to {name:?}: unnamed argument used \
                     after named argument"
                ))
            }
            None => pos,
            Some(n) => {
                named = true;
                params.iter().position(|p| p == n).ok_or_else(|| {
                    format!("error while parsing arguments for call to {name:?}: no such parameter: {n}")
                })?
            }
        };
        let expr = arg.value.map_err(|f| {
            format!(
                "error while parsing arguments for call to {name:?}: invalid argument at position \
                 {pos}: {f} is a function name, not a value"
            )
        })?;
        if slots[at].replace(expr).is_some() {
            return Err(format!(
                "error while parsing arguments for call to {name:?}: {} provided more than once",
                params[at]
            ));
        }
    }
    let mut out = slots.into_iter();
    Ok(std::array::from_fn(|_| {
        out.next().flatten().unwrap_or(Expr::Literal(Value::Nil))
    }))
}

/// A literal string argument (otelcol's plain `string` parameters).
pub(crate) fn literal_string<C: Context>(
    e: &Expr<C>,
    fname: &str,
    param: &str,
) -> Result<String, String> {
    match e.literal() {
        Some(Value::Str(s)) => Ok(s.to_string()),
        _ => Err(format!(
            "error while parsing arguments for call to {fname:?}: {param} must be a string literal"
        )),
    }
}

struct UnaryFn<C: Context> {
    arg: Expr<C>,
    f: Unary,
}

impl<C: Context> Function<C> for UnaryFn<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        (self.f)(self.arg.eval(item)?)
    }
}

struct BinaryFn<C: Context> {
    a: Expr<C>,
    b: Expr<C>,
    f: Binary,
}

impl<C: Context> Function<C> for BinaryFn<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        (self.f)(self.a.eval(item)?, self.b.eval(item)?)
    }
}

/// otelcol's StringGetter: a string, or an error naming the type.
fn string_arg(v: Value<'_>) -> Result<Cow<'_, str>, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        Value::Nil => Err(EvalError::new("expected string but got nil")),
        other => Err(EvalError::new(format!(
            "expected string but got {}",
            other.type_name()
        ))),
    }
}

/// otelcol's IntGetter.
fn int_arg(v: Value<'_>) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(i),
        other => Err(EvalError::new(format!(
            "expected int64 but got {}",
            other.type_name()
        ))),
    }
}

fn len(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let n = match &v {
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Map(m) => m.len(),
        Value::List(l) => l.len(),
        other => {
            return Err(EvalError::new(format!(
                "unsupported type provided to Len function: {}",
                other.type_name()
            )))
        }
    };
    Ok(Value::Int(n as i64))
}

/// Int: ints as they are, floats truncated, decimal strings parsed, booleans 1 or 0; anything
/// else nil.
fn int(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(match v {
        Value::Int(i) => Value::Int(i),
        Value::Float(f) => Value::Int(f as i64),
        Value::Bool(b) => Value::Int(i64::from(b)),
        Value::Str(s) => s.parse::<i64>().map_or(Value::Nil, Value::Int),
        _ => Value::Nil,
    })
}

/// Double: floats as they are, ints converted, strings parsed, booleans 1 or 0; else nil.
fn double(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(match v {
        Value::Float(f) => Value::Float(f),
        Value::Int(i) => Value::Float(i as f64),
        Value::Bool(b) => Value::Float(if b { 1.0 } else { 0.0 }),
        Value::Str(s) => s.trim().parse::<f64>().map_or(Value::Nil, Value::Float),
        _ => Value::Nil,
    })
}

/// Duration("1h30m"): Go's duration syntax.
fn duration(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    parse_go_duration(&s)
        .map(Value::Duration)
        .ok_or_else(|| EvalError::new(format!("time: invalid duration {s:?}")))
}

/// Now(): the current time.
struct Now;

impl<C: Context> Function<C> for Now {
    fn call<'a>(&'a self, _: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Ok(Value::Time(ns))
    }
}

fn has_prefix<'a>(t: Value<'a>, p: Value<'a>) -> Result<Value<'a>, EvalError> {
    Ok(Value::Bool(string_arg(t)?.starts_with(&*string_arg(p)?)))
}

fn has_suffix<'a>(t: Value<'a>, p: Value<'a>) -> Result<Value<'a>, EvalError> {
    Ok(Value::Bool(string_arg(t)?.ends_with(&*string_arg(p)?)))
}

/// Go's `strings.Split`: an empty delimiter splits into characters.
fn split<'a>(t: Value<'a>, d: Value<'a>) -> Result<Value<'a>, EvalError> {
    let (t, d) = (string_arg(t)?, string_arg(d)?);
    let s = |p: &str| AnyValue {
        value: Some(any_value::Value::StringValue(p.to_string())),
    };
    let parts: Vec<AnyValue> = if d.is_empty() {
        t.chars().map(|c| s(c.encode_utf8(&mut [0; 4]))).collect()
    } else {
        t.split(&*d).map(s).collect()
    };
    Ok(Value::List(Cow::Owned(parts)))
}

fn regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("the pattern supplied to IsMatch is not a valid regexp pattern: {e}"))
}

/// IsMatch(target, pattern): a literal pattern is compiled here, another at each call.
struct IsMatch<C: Context> {
    target: Expr<C>,
    pattern: Result<Regex, Expr<C>>,
}

fn is_match<C: Context>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Function<C>>, String> {
    let [target, pattern] = bind::<C, 2>("IsMatch", args, &["target", "pattern"])?;
    let pattern = match pattern.literal() {
        Some(Value::Str(p)) => Ok(regex(p)?),
        _ => Err(pattern),
    };
    Ok(Box::new(IsMatch { target, pattern }))
}

impl<C: Context> Function<C> for IsMatch<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let target = self.target.eval(item)?;
        let Some(s) = string_like(&target) else {
            return Ok(Value::Bool(false));
        };
        let matched = match &self.pattern {
            Ok(re) => re.is_match(&s),
            Err(e) => regex(&string_arg(e.eval(item)?)?)
                .map_err(EvalError::new)?
                .is_match(&s),
        };
        Ok(Value::Bool(matched))
    }
}

/// Concat([values...], delimiter): string forms joined; nil reads `<nil>`.
struct Concat<C: Context> {
    values: Vec<Expr<C>>,
    delimiter: String,
}

fn concat<C: Context>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Function<C>>, String> {
    let [vals, delimiter] = bind::<C, 2>("Concat", args, &["vals", "delimiter"])?;
    let delimiter = literal_string(&delimiter, "Concat", "delimiter")?;
    let Expr::List(values) = vals else {
        return Err(
            "error while parsing arguments for call to \"Concat\": vals must be a list".into(),
        );
    };
    Ok(Box::new(Concat { values, delimiter }))
}

impl<C: Context> Function<C> for Concat<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let mut out = String::new();
        for (i, e) in self.values.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.delimiter);
            }
            match string_like(&e.eval(item)?) {
                Some(s) => out.push_str(&s),
                None => out.push_str("<nil>"),
            }
        }
        Ok(Value::Str(Cow::Owned(out)))
    }
}

#[derive(Clone, Copy)]
enum Case {
    Lower,
    Upper,
    Snake,
    Camel,
}

struct ConvertCase<C: Context> {
    target: Expr<C>,
    case: Case,
}

fn convert_case<C: Context>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Function<C>>, String> {
    let [target, to] = bind::<C, 2>("ConvertCase", args, &["target", "to_case"])?;
    let case = match literal_string(&to, "ConvertCase", "to_case")?.as_str() {
        "lower" => Case::Lower,
        "upper" => Case::Upper,
        "snake" => Case::Snake,
        "camel" => Case::Camel,
        other => {
            return Err(format!(
                "invalid case: {other}, allowed cases are: lower, upper, snake, camel"
            ))
        }
    };
    Ok(Box::new(ConvertCase { target, case }))
}

impl<C: Context> Function<C> for ConvertCase<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let s = string_arg(self.target.eval(item)?)?;
        let out = match self.case {
            Case::Lower => s.to_lowercase(),
            Case::Upper => s.to_uppercase(),
            Case::Snake => words(&s)
                .iter()
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
                .join("_"),
            Case::Camel => words(&s).iter().map(|w| capitalize(w)).collect(),
        };
        Ok(Value::Str(Cow::Owned(out)))
    }
}

/// Words of an identifier: split at spaces, `_`, `-`, `.`, and where case changes
/// (`HTTPServer` is `HTTP`, `Server`).
fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, ' ' | '_' | '-' | '.') {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && !cur.is_empty()
            && (prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || next.is_some_and(char::is_lowercase));
        if boundary {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

struct Substring<C: Context> {
    target: Expr<C>,
    start: Expr<C>,
    length: Expr<C>,
}

fn substring<C: Context>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Function<C>>, String> {
    let [target, start, length] = bind::<C, 3>("Substring", args, &["target", "start", "length"])?;
    Ok(Box::new(Substring {
        target,
        start,
        length,
    }))
}

impl<C: Context> Function<C> for Substring<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let start = int_arg(self.start.eval(item)?)?;
        if start < 0 {
            return Err(EvalError::new(format!(
                "invalid start for substring function, {start} cannot be negative"
            )));
        }
        let length = int_arg(self.length.eval(item)?)?;
        if length <= 0 {
            return Err(EvalError::new(format!(
                "invalid length for substring function, {length} cannot be negative or zero"
            )));
        }
        let s = string_arg(self.target.eval(item)?)?;
        let end = start.saturating_add(length);
        if end > s.len() as i64 {
            return Err(EvalError::new(format!(
                "invalid range for substring function, {end} cannot be greater than the length \
                 of target string({})",
                s.len()
            )));
        }
        let bytes = &s.as_bytes()[start as usize..end as usize];
        Ok(Value::Str(Cow::Owned(
            String::from_utf8_lossy(bytes).into_owned(),
        )))
    }
}
