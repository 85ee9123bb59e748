//! Map and list converters: Keys, Values, ContainsValue, Index, SliceToMap, Sort.

use super::{any_str, expected, map_arg, put, Built};
use crate::ast::CmpOp;
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::bind_optional;
use crate::value::{compare, string_like, Value};
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use std::borrow::Cow;

fn list_arg<'a>(v: Value<'a>) -> Result<Cow<'a, [AnyValue]>, EvalError> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(expected("pcommon.Slice", &other)),
    }
}

/// Keys(target): the map's keys, in its order.
pub fn keys(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let m = map_arg(v)?;
    let keys = m.iter().map(|kv| any_str(kv.key.clone())).collect();
    Ok(Value::List(Cow::Owned(keys)))
}

/// Values(target): the map's values, in its order.
pub fn values(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let m = map_arg(v)?;
    let values = m
        .iter()
        .map(|kv| kv.value.clone().unwrap_or_default())
        .collect();
    Ok(Value::List(Cow::Owned(values)))
}

/// ContainsValue(target, item): whether an element equals `item` under OTTL's comparison rules.
pub fn contains_value<'a>(t: Value<'a>, item: Value<'a>) -> Result<Value<'a>, EvalError> {
    let list = list_arg(t)?;
    let found = list
        .iter()
        .any(|e| compare(&Value::from_any(e), &item, CmpOp::Eq));
    Ok(Value::Bool(found))
}

/// Index(target, value): the byte index of `value` in a string target, or the index of the
/// first element equal to `value` in a list; -1 when absent.
pub fn index<'a>(t: Value<'a>, v: Value<'a>) -> Result<Value<'a>, EvalError> {
    let at = match (&t, &v) {
        (Value::Str(s), Value::Str(sub)) => s.find(&**sub),
        (Value::Str(_), _) => {
            return Err(EvalError::new(
                "when source is string, value must also be string",
            ))
        }
        (Value::List(l), _) => l
            .iter()
            .position(|e| compare(&Value::from_any(e), &v, CmpOp::Eq)),
        _ => return Err(EvalError::new("source must be of type string or slice")),
    };
    Ok(Value::Int(at.map_or(-1, |i| i as i64)))
}

/// `SliceToMap(target, Optional[keyPath], Optional[valuePath])`: `keyPath` and `valuePath` are
/// literal lists of keys into each element (a map).
struct SliceToMap<C: Context> {
    target: Expr<C>,
    key_path: Option<Vec<String>>,
    value_path: Option<Vec<String>>,
}

pub fn slice_to_map<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let params = &["target", "keyPath", "valuePath"];
    let [target, key, value] = bind_optional::<C, 3>("SliceToMap", args, params, 1)?;
    let path = |e: Option<Expr<C>>, p: &str| -> Result<Option<Vec<String>>, String> {
        let Some(e) = e else { return Ok(None) };
        let bad = || {
            format!("error while parsing arguments for call to \"SliceToMap\": {p} must be a list of strings")
        };
        let Expr::List(items) = e else {
            return Err(bad());
        };
        let keys = items
            .iter()
            .map(|i| match i.literal() {
                Some(Value::Str(s)) => Ok(s.to_string()),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(format!("{p} must be non-empty"));
        }
        Ok(Some(keys))
    };
    Ok(Box::new(SliceToMap {
        target: target.ok_or("missing target")?,
        key_path: path(key, "keyPath")?,
        value_path: path(value, "valuePath")?,
    }))
}

/// The value at `path` inside an element.
fn lookup<'v>(element: &'v AnyValue, path: &[String]) -> Option<&'v AnyValue> {
    path.iter().try_fold(element, |v, key| match &v.value {
        Some(any_value::Value::KvlistValue(m)) => m
            .values
            .iter()
            .find(|kv| &kv.key == key)
            .and_then(|kv| kv.value.as_ref()),
        _ => None,
    })
}

impl<C: Context> Function<C> for SliceToMap<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let list = match self.target.eval(item)? {
            Value::List(l) => l,
            other => {
                return Err(EvalError::new(format!(
                    "unsupported type provided to SliceToMap function: {}",
                    other.type_name()
                )))
            }
        };
        let mut out: Vec<KeyValue> = Vec::new();
        for (i, element) in list.iter().enumerate() {
            let key = match &self.key_path {
                None => i.to_string(),
                Some(path) => element_key(i, element, path)?,
            };
            let value = match &self.value_path {
                None => element.clone(),
                Some(path) => element_value(i, element, path)?,
            };
            put(&mut out, &key, value);
        }
        Ok(Value::Map(Cow::Owned(out)))
    }
}

/// A path as Go prints a `[]string`: `[a b]`.
fn go_path(path: &[String]) -> String {
    format!("[{}]", path.join(" "))
}

fn is_map(v: &AnyValue) -> bool {
    matches!(v.value, Some(any_value::Value::KvlistValue(_)))
}

fn element_key(i: usize, element: &AnyValue, path: &[String]) -> Result<String, EvalError> {
    if !is_map(element) {
        return Err(EvalError::new(format!(
            "slice elements must be maps when using `key_path`, but could not cast element '{}' \
             to a map",
            crate::converters::strings::plain(&Value::from_any(element))
        )));
    }
    match lookup(element, path).map(|v| &v.value) {
        Some(Some(any_value::Value::StringValue(s))) => Ok(s.clone()),
        Some(_) => Err(EvalError::new(format!(
            "element {i}: extracted key attribute is not of type string"
        ))),
        None => Err(EvalError::new(format!(
            "element {i}: could not extract key from element: provided object does not contain \
             the path {}",
            go_path(path)
        ))),
    }
}

fn element_value(i: usize, element: &AnyValue, path: &[String]) -> Result<AnyValue, EvalError> {
    if !is_map(element) {
        return Err(EvalError::new(format!(
            "element {i}: cannot extract value, not a map-like structure"
        )));
    }
    lookup(element, path).cloned().ok_or_else(|| {
        EvalError::new(format!(
            "could not extract value from element: provided object does not contain the path {}",
            go_path(path)
        ))
    })
}

/// `Sort(target, Optional[order])`: ints as ints, ints with doubles as doubles, anything with a
/// string, bool or empty value as strings. A target that is not a list, or a list holding
/// maps, lists or bytes, is returned as it is. `order` is a literal, checked when compiled.
struct Sort<C: Context> {
    target: Expr<C>,
    desc: bool,
}

pub fn sort<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let [target, order] = bind_optional::<C, 2>("Sort", args, &["target", "order"], 1)?;
    let desc = match super::opt_literal(&order, "Sort", "order")?.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(format!(
                "invalid arguments: {other}. Order should be either \"asc\" or \"desc\""
            ))
        }
    };
    Ok(Box::new(Sort {
        target: target.ok_or("missing target")?,
        desc,
    }))
}

impl<C: Context> Function<C> for Sort<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let list = match self.target.eval(item)? {
            Value::List(l) => l,
            other => return Ok(other),
        };
        Ok(sorted(list, self.desc))
    }
}

fn sorted(list: Cow<'_, [AnyValue]>, desc: bool) -> Value<'_> {
    let mut items: Vec<Value<'_>> = list.iter().map(Value::from_any).collect();
    let Some(kind) = common_kind(&items) else {
        drop(items);
        return Value::List(list);
    };
    let key = |v: &Value<'_>| -> SortKey {
        match (kind, v) {
            (Kind::Int, Value::Int(i)) => SortKey::Int(*i),
            (Kind::Float, Value::Int(i)) => SortKey::Float(*i as f64),
            (Kind::Float, Value::Float(f)) => SortKey::Float(*f),
            (_, v) => SortKey::Str(string_like(v).map_or_else(String::new, Cow::into_owned)),
        }
    };
    items.sort_by(|a, b| {
        let ord = key(a).cmp(&key(b));
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
    let sorted = items.iter().map(|v| sorted_any(kind, v)).collect();
    Value::List(Cow::Owned(sorted))
}

/// A sorted element: strings sorting stands for converts every element to its string.
fn sorted_any(kind: Kind, v: &Value<'_>) -> AnyValue {
    match kind {
        Kind::Str => any_str(string_like(v).map_or_else(String::new, Cow::into_owned)),
        Kind::Float => match v {
            Value::Int(i) => Value::Float(*i as f64).to_any(),
            other => other.to_any(),
        },
        Kind::Int => v.to_any(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Float,
    Str,
}

#[derive(PartialEq, PartialOrd)]
enum SortKey {
    Int(i64),
    Float(f64),
    Str(String),
}

impl SortKey {
    /// Go's `cmp.Compare`: NaN sorts before every other float.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (SortKey::Float(a), SortKey::Float(b)) => match (a.is_nan(), b.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                _ => a.total_cmp(b),
            },
            _ => self.partial_cmp(other).unwrap_or(std::cmp::Ordering::Equal),
        }
    }
}

/// The type elements are sorted as; `None` for lists with maps, lists or bytes, which otelcol's
/// code returns unsorted (its docs say they are an error).
fn common_kind(items: &[Value<'_>]) -> Option<Kind> {
    let mut kind = match items.first() {
        Some(Value::Float(_)) => Kind::Float,
        _ => Kind::Int,
    };
    let mut strings = false;
    for v in items {
        match v {
            Value::Int(_) | Value::Float(_) if kind != Kind::Str => {
                if matches!(v, Value::Float(_)) {
                    kind = Kind::Float;
                }
            }
            Value::Str(_) | Value::Bool(_) | Value::Nil => strings = true,
            Value::Int(_) | Value::Float(_) => {}
            _ => return None,
        }
    }
    Some(if strings { Kind::Str } else { kind })
}
