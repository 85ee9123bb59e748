//! otelcol's converters beyond the ones conditions need most (those are in [`crate::funcs`]),
//! grouped by theme: hashes, encodings, strings, collections, parsing, times and ids. Each
//! module builds [`Function`]s from compiled arguments; [`crate::funcs::converter`] is the one
//! dispatch by name.

pub mod collections;
pub mod ctime;
pub mod encoding;
mod format;
pub mod grok;
pub mod hash;
pub mod ids;
pub mod lambdas;
pub mod log_formats;
pub mod network;
pub mod parse;
pub mod strings;
pub mod time;
pub mod url;
pub mod user_agent;
pub mod xml;
pub mod xml_edit;

use crate::compile::{Context, Expr, Function};
use crate::error::EvalError;
use crate::value::Value;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use std::borrow::Cow;

/// A built converter, or the compile error.
pub type Built<C> = Result<Box<dyn Function<C>>, String>;

/// An owned string value.
pub(crate) fn str_value<'a>(s: String) -> Value<'a> {
    Value::Str(Cow::Owned(s))
}

/// A string as an OTLP `AnyValue`.
pub(crate) fn any_str(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    }
}

/// A map entry.
pub(crate) fn kv(key: impl Into<String>, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

/// Sets `key` in `map`, replacing an earlier entry with the same key (as pcommon's `Put*`).
pub(crate) fn put(map: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match map.iter_mut().find(|e| e.key == key) {
        Some(e) => e.value = Some(value),
        None => map.push(kv(key, value)),
    }
}

/// Evaluates an optional argument: absent, or present but nil, reads as `None`.
pub(crate) fn opt<'a, C: Context>(
    e: &'a Option<Expr<C>>,
    item: C::Item<'a>,
) -> Result<Option<Value<'a>>, EvalError> {
    match e {
        None => Ok(None),
        Some(e) => match e.eval(item)? {
            Value::Nil => Ok(None),
            v => Ok(Some(v)),
        },
    }
}

/// A literal string for an optional parameter (`None` when absent).
pub(crate) fn opt_literal<C: Context>(
    e: &Option<Expr<C>>,
    fname: &str,
    param: &str,
) -> Result<Option<String>, String> {
    e.as_ref()
        .map(|e| crate::funcs::literal_string(e, fname, param))
        .transpose()
}

/// An error for a value of the wrong type, in otelcol's words (`expected time but got int64`).
pub(crate) fn expected(what: &str, got: &Value<'_>) -> EvalError {
    EvalError::new(format!("expected {what} but got {}", got.type_name()))
}

/// otelcol's PMapGetter.
pub(crate) fn map_arg<'a>(v: Value<'a>) -> Result<Cow<'a, [KeyValue]>, EvalError> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(expected("pcommon.Map", &other)),
    }
}

/// A function over evaluated arguments (required ones first, absent optionals `None`).
pub(crate) type Nary = for<'a> fn(&[Option<Value<'a>>]) -> Result<Value<'a>, EvalError>;

/// A converter whose arguments need no compile-time preparation.
pub(crate) struct NaryFn<C: Context> {
    pub(crate) args: Vec<Option<Expr<C>>>,
    pub(crate) f: Nary,
}

impl<C: Context> Function<C> for NaryFn<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let mut vals = Vec::with_capacity(self.args.len());
        for a in &self.args {
            vals.push(match a {
                None => None,
                Some(e) => Some(e.eval(item)?),
            });
        }
        (self.f)(&vals)
    }
}

/// Builds an [`NaryFn`] for `name` over `params`, the first `required` of them required.
pub(crate) fn nary<C: Context, const N: usize>(
    name: &str,
    args: Vec<crate::compile::CompiledArg<C>>,
    params: &[&str; N],
    required: usize,
    f: Nary,
) -> Built<C> {
    let bound = crate::funcs::bind_optional::<C, N>(name, args, params, required)?;
    Ok(Box::new(NaryFn {
        args: bound.into_iter().collect(),
        f,
    }))
}

/// The `i`th evaluated argument, nil when absent.
pub(crate) fn arg<'a>(vals: &[Option<Value<'a>>], i: usize) -> Value<'a> {
    vals.get(i).cloned().flatten().unwrap_or(Value::Nil)
}

/// The converters from one string to a string, as plain functions, for the replacing editors'
/// optional `function` argument (otelcol passes hash converters there): SHA1, SHA256, SHA512,
/// MD5, XXH3, XXH128, Murmur3Hash, Murmur3Hash128 and the case converters.
pub(crate) fn string_function(name: &str) -> Option<fn(&str) -> String> {
    use crate::funcs::Unary;
    fn apply(f: Unary, s: &str) -> String {
        match f(Value::Str(Cow::Borrowed(s))) {
            Ok(Value::Str(out)) => out.into_owned(),
            _ => String::new(),
        }
    }
    Some(match name {
        "SHA1" => |s| apply(hash::sha1, s),
        "SHA256" => |s| apply(hash::sha256, s),
        "SHA512" => |s| apply(hash::sha512, s),
        "MD5" => |s| apply(hash::md5, s),
        "XXH3" => |s| apply(hash::xxh3, s),
        "XXH128" => |s| apply(hash::xxh128, s),
        "Murmur3Hash" => |s| apply(hash::murmur3, s),
        "Murmur3Hash128" => |s| apply(hash::murmur3_128, s),
        "ToLowerCase" => |s| apply(strings::to_lower, s),
        "ToUpperCase" => |s| apply(strings::to_upper, s),
        "ToSnakeCase" => |s| apply(strings::to_snake, s),
        "ToCamelCase" => |s| apply(strings::to_camel, s),
        _ => return None,
    })
}
