//! String converters: Trim, TrimPrefix, TrimSuffix, ToLowerCase, ToUpperCase, ToSnakeCase,
//! ToCamelCase, Format (Go's `fmt.Sprintf`), ExtractPatterns, ParseInt, IsValidLuhn, Log,
//! Bool, IsEmpty, Coalesce, ParseSeverity.

use super::{arg, str_value, Built};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{apply_case, bind, literal_string, string_arg, Case, REGEX_SIZE_LIMIT};
use crate::value::{string_like, Value};
use ferrotel_core::proto::common::v1::KeyValue;
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;

pub use super::format::format;

/// `Trim(target, Optional[replacement])`: Go's `strings.Trim`: every leading and trailing
/// character that is in `replacement` (a set of characters) is removed. otelcol's docs say the
/// default is a space, but its code passes an absent `replacement` as "", which trims nothing;
/// we follow the code.
pub fn trim<'a>(vals: &[Option<Value<'a>>]) -> Result<Value<'a>, EvalError> {
    let s = string_arg(arg(vals, 0))?;
    let set = match arg(vals, 1) {
        Value::Nil => Cow::Borrowed(""),
        v => string_arg(v)?,
    };
    Ok(str_value(s.trim_matches(|c| set.contains(c)).to_string()))
}

/// TrimPrefix(target, prefix)
pub fn trim_prefix<'a>(t: Value<'a>, p: Value<'a>) -> Result<Value<'a>, EvalError> {
    let (t, p) = (string_arg(t)?, string_arg(p)?);
    Ok(str_value(t.strip_prefix(&*p).unwrap_or(&t).to_string()))
}

/// TrimSuffix(target, suffix)
pub fn trim_suffix<'a>(t: Value<'a>, p: Value<'a>) -> Result<Value<'a>, EvalError> {
    let (t, p) = (string_arg(t)?, string_arg(p)?);
    Ok(str_value(t.strip_suffix(&*p).unwrap_or(&t).to_string()))
}

fn case(v: Value<'_>, c: Case) -> Result<Value<'_>, EvalError> {
    Ok(str_value(apply_case(&string_arg(v)?, c)))
}

/// ToLowerCase(target)
pub fn to_lower(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    case(v, Case::Lower)
}

/// ToUpperCase(target)
pub fn to_upper(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    case(v, Case::Upper)
}

/// ToSnakeCase(target)
pub fn to_snake(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    case(v, Case::Snake)
}

/// ToCamelCase(target)
pub fn to_camel(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    case(v, Case::Camel)
}

/// ExtractPatterns(target, pattern): the named groups of the first match, as a map of
/// strings (a group that did not take part reads ""); no match, an empty map.
struct ExtractPatterns<C: Context> {
    target: Expr<C>,
    re: Regex,
}

pub fn extract_patterns<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let [target, pattern] = bind::<C, 2>("ExtractPatterns", args, &["target", "pattern"])?;
    let pattern = literal_string(&pattern, "ExtractPatterns", "pattern")?;
    let re = RegexBuilder::new(&pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            format!("the pattern supplied to ExtractPatterns is not a valid pattern: {e}")
        })?;
    if re.capture_names().flatten().next().is_none() {
        return Err("at least 1 named capture group must be supplied in the given regex".into());
    }
    Ok(Box::new(ExtractPatterns { target, re }))
}

impl<C: Context> Function<C> for ExtractPatterns<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let s = string_arg(self.target.eval(item)?)?;
        let mut out: Vec<KeyValue> = Vec::new();
        if let Some(caps) = self.re.captures(&s) {
            for (i, name) in self.re.capture_names().enumerate() {
                if let Some(name) = name {
                    let m = caps.get(i).map_or("", |m| m.as_str());
                    super::put(&mut out, name, super::any_str(m));
                }
            }
        }
        Ok(Value::Map(Cow::Owned(out)))
    }
}

/// ParseInt(target, base): Go's `strconv.ParseInt(target, base, 64)`.
pub fn parse_int<'a>(t: Value<'a>, b: Value<'a>) -> Result<Value<'a>, EvalError> {
    let s = string_arg(t)?;
    if s.is_empty() {
        return Err(EvalError::new(
            "invalid target value for ParseInt function, target cannot be empty",
        ));
    }
    let base = crate::funcs::int_arg(b)?;
    if base < 0 {
        return Err(EvalError::new(format!(
            "invalid base value: {base} for ParseInt function, base cannot be negative"
        )));
    }
    go_parse_int(&s, base as u64).map(Value::Int)
}

fn go_parse_int(s: &str, base: u64) -> Result<i64, EvalError> {
    let err = |what: &str| EvalError::new(format!("strconv.ParseInt: parsing {s:?}: {what}"));
    if base == 1 || base > 36 {
        return Err(err(&format!("invalid base {base}")));
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (base, digits, underscores) = if base == 0 {
        let lower = body.to_ascii_lowercase();
        match lower.get(..2) {
            Some("0x") => (16, &body[2..], true),
            Some("0b") => (2, &body[2..], true),
            Some("0o") => (8, &body[2..], true),
            _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..], true),
            _ => (10, body, true),
        }
    } else {
        (base, body, false)
    };
    if digits.is_empty() || (underscores && !underscores_ok(digits)) {
        return Err(err("invalid syntax"));
    }
    let mut n: u64 = 0;
    for c in digits.chars().filter(|&c| !(underscores && c == '_')) {
        let d = c.to_digit(36).filter(|&d| u64::from(d) < base);
        let d = d.ok_or_else(|| err("invalid syntax"))?;
        n = n
            .checked_mul(base)
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or_else(|| err("value out of range"))?;
    }
    match (neg, n) {
        (true, n) if n <= 1 << 63 => Ok((n as i64).wrapping_neg()),
        (false, n) if n < 1 << 63 => Ok(n as i64),
        _ => Err(err("value out of range")),
    }
}

/// Go's rule for `_` in integer literals (after any base prefix): only between digits.
fn underscores_ok(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0
                && i + 1 < b.len()
                && b[i - 1].is_ascii_alphanumeric()
                && b[i + 1].is_ascii_alphanumeric())
    })
}

/// IsValidLuhn(value): the value's string form (StringLikeGetter), spaces removed, checked
/// with the Luhn algorithm; empty is false, a character that is not a digit an error.
pub fn is_valid_luhn(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let Some(s) = string_like(&v) else {
        return Err(EvalError::new("invalid input: <nil>"));
    };
    let digits: Vec<u32> = s
        .chars()
        .filter(|&c| c != ' ')
        .map(|c| {
            c.to_digit(10).ok_or_else(|| {
                EvalError::new(format!(
                    "strconv.Atoi: parsing {:?}: invalid syntax",
                    c.to_string()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let Some((&check, rest)) = digits.split_last() else {
        return Ok(Value::Bool(false));
    };
    let sum: u32 = rest
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (0, dd) if dd > 9 => dd - 9,
            (0, dd) => dd,
            _ => d,
        })
        .sum();
    Ok(Value::Bool((10 - sum % 10) % 10 == check))
}

/// Log(value): the natural logarithm of a float-like value (ints, numeric strings, booleans).
pub fn log(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let f = match &v {
        Value::Nil => return Err(EvalError::new("invalid input: <nil>")),
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.parse::<f64>().map_err(|_| {
            EvalError::new(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
        })?,
        other => {
            return Err(EvalError::new(format!(
                "unsupported type: {}",
                other.type_name()
            )))
        }
    };
    if f <= 0.0 {
        return Err(EvalError::new(format!(
            "invalid input: expected number greater than zero but got {}",
            crate::value::go_float(f)
        )));
    }
    Ok(Value::Float(f.ln()))
}

/// Bool(value): Go's `strconv.ParseBool` for strings, non-zero for numbers; else nil.
pub fn bool(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(match v {
        Value::Bool(b) => Value::Bool(b),
        Value::Int(i) => Value::Bool(i != 0),
        Value::Float(f) => Value::Bool(f != 0.0),
        Value::Str(s) => match &*s {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Value::Bool(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Value::Bool(false),
            _ => Value::Nil,
        },
        _ => Value::Nil,
    })
}

/// IsEmpty(value): nil, an empty string, map, list or bytes, or a zero value.
pub fn is_empty(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Bool(match &v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::Str(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::TraceId(id) => id.iter().all(|&b| b == 0),
        Value::SpanId(id) => id.iter().all(|&b| b == 0),
        Value::Time(t) | Value::Duration(t) => *t == 0,
    }))
}

/// `Coalesce(values[])`: the first value that is not nil; nil when all are.
struct Coalesce<C: Context> {
    values: Vec<Expr<C>>,
}

pub fn coalesce<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let [values] = bind::<C, 1>("Coalesce", args, &["values"])?;
    match values {
        Expr::List(values) if !values.is_empty() => Ok(Box::new(Coalesce { values })),
        _ => Err(
            "error while parsing arguments for call to \"Coalesce\": values must be a \
             non-empty list"
                .into(),
        ),
    }
}

impl<C: Context> Function<C> for Coalesce<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        for e in &self.values {
            let v = e.eval(item)?;
            if v != Value::Nil {
                return Ok(v);
            }
        }
        Ok(Value::Nil)
    }
}

/// A value's string form for messages and `%v`.
pub(crate) fn plain(v: &Value<'_>) -> String {
    string_like(v).map_or_else(|| "<nil>".to_string(), Cow::into_owned)
}

/// ParseSeverity(target, mapping): the first level in `mapping` (in its order) one of whose
/// criteria matches: `{"equals": [strings]}` for a string target, `{"range": {"min": a, "max":
/// b}}` (inclusive) or `{"range": "2xx"}` (to `"5xx"`) for an int target. As otelcol's README
/// describes it (the code we could read was an earlier draft with fixed level names).
pub fn parse_severity<'a>(target: Value<'a>, mapping: Value<'a>) -> Result<Value<'a>, EvalError> {
    let mapping = super::map_arg(mapping)
        .map_err(|e| EvalError::new(format!("cannot get severity mapping: {e}")))?;
    if !matches!(target, Value::Str(_) | Value::Int(_)) {
        return Err(EvalError::new(
            "could not map log level: log level must be either string or int",
        ));
    }
    for level in mapping.iter() {
        let criteria = match level.value.as_ref().map(Value::from_any) {
            Some(Value::List(l)) => l,
            _ => {
                return Err(EvalError::new(format!(
                    "invalid severity mapping: criteria for level {:?} must be a list",
                    level.key
                )))
            }
        };
        for c in criteria.iter() {
            if severity_matches(&target, &Value::from_any(c))? {
                return Ok(super::str_value(level.key.clone()));
            }
        }
    }
    Err(EvalError::new(format!(
        "could not map log level: no matching log level found for value '{}'",
        plain(&target)
    )))
}

fn severity_matches(target: &Value<'_>, criterion: &Value<'_>) -> Result<bool, EvalError> {
    let Value::Map(c) = criterion else {
        return Err(EvalError::new(
            "invalid severity mapping: each criterion must be a map",
        ));
    };
    let field = |name: &str| {
        c.iter()
            .find(|kv| kv.key == name)
            .and_then(|kv| kv.value.as_ref())
            .map(Value::from_any)
    };
    if let (Some(Value::List(equals)), Value::Str(s)) = (field("equals"), target) {
        if equals
            .iter()
            .any(|e| Value::from_any(e) == Value::Str(s.clone()))
        {
            return Ok(true);
        }
    }
    let Value::Int(n) = target else {
        return Ok(false);
    };
    let (min, max) = match field("range") {
        None => return Ok(false),
        Some(Value::Str(p)) => match &*p {
            "2xx" => (200, 299),
            "3xx" => (300, 399),
            "4xx" => (400, 499),
            "5xx" => (500, 599),
            other => {
                return Err(EvalError::new(format!(
                    "invalid severity mapping: unknown range placeholder {other:?}"
                )))
            }
        },
        Some(Value::Map(r)) => {
            let bound = |name: &str| match r.iter().find(|kv| kv.key == name) {
                Some(kv) => match kv.value.as_ref().map(Value::from_any) {
                    Some(Value::Int(i)) => Ok(i),
                    _ => Err(EvalError::new(format!(
                        "invalid severity mapping: range {name} must be an int"
                    ))),
                },
                None => Err(EvalError::new(format!(
                    "invalid severity mapping: range needs {name}"
                ))),
            };
            (bound("min")?, bound("max")?)
        }
        Some(_) => {
            return Err(EvalError::new(
                "invalid severity mapping: range must be a map or a placeholder",
            ))
        }
    };
    Ok((min..=max).contains(n))
}
