//! The editors (otelcol's pkg/ottl/ottlfuncs functions that change telemetry), with otelcol's
//! names, parameters and semantics: set, delete_key, delete_matching_keys, keep_keys,
//! keep_matching_keys, limit, truncate_all, replace_pattern, replace_all_patterns,
//! replace_match, replace_all_matches, merge_maps, append and flatten. Literal patterns are
//! compiled once, when the statement is. Editors only one context has come from
//! [`ContextMut::own_editor`]: `set_semconv_span_name` (span) and the transform processor's
//! metric editors ([`crate::metric_editors`]).

use crate::compile::{CompiledArg, Expr};
use crate::error::EvalError;
use crate::funcs::{bind_optional, bounded_regex, int_arg, literal_string};
use crate::statement::{ContextMut, Editor, Target};
use crate::value::Value;
use ferrotel_core::proto::common::v1::{any_value, AnyValue};
use regex::Regex;
use std::borrow::Cow;

/// The editors [`editor`] knows.
pub const EDITORS: &[&str] = &[
    "append",
    "delete_index",
    "delete_key",
    "delete_matching_keys",
    "flatten",
    "keep_keys",
    "keep_matching_keys",
    "limit",
    "merge_maps",
    "replace_all_matches",
    "replace_all_patterns",
    "replace_match",
    "replace_pattern",
    "set",
    "stringify_all",
    "truncate_all",
];

/// Builds editor `name` over its arguments.
pub fn editor<C: ContextMut>(
    name: &str,
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Editor<C>>, String> {
    if let Some(build) = C::own_editor(name) {
        return build(args);
    }
    match name {
        "set" => {
            let [target, value] = required::<C, 2>(name, args, &["target", "value"])?;
            Ok(Box::new(Set {
                target: Target::new(target, name, "target")?,
                value,
            }))
        }
        "delete_key" | "keep_keys" | "delete_matching_keys" | "keep_matching_keys" => {
            key_filter(name, args)
        }
        "limit" => limit(args),
        "truncate_all" => truncate_all(args),
        "replace_pattern" | "replace_all_patterns" | "replace_match" | "replace_all_matches" => {
            crate::replace::editor(name, args)
        }
        "merge_maps" => merge_maps(args),
        "append" => append(args),
        "delete_index" => delete_index(args),
        "flatten" => crate::replace::flatten(args),
        "stringify_all" => crate::replace::stringify_all(args),
        _ if name.starts_with(|c: char| c.is_ascii_uppercase()) => Err(format!(
            "{name:?} is a converter: a statement must start with an editor"
        )),
        _ => Err(format!("undefined function {name:?}")),
    }
}

/// Binds arguments that are all required.
pub(crate) fn required<C: ContextMut, const N: usize>(
    name: &str,
    args: Vec<CompiledArg<C>>,
    params: &[&str; N],
) -> Result<[Expr<C>; N], String> {
    let bound = bind_optional(name, args, params, N)?;
    Ok(bound.map(|e| e.unwrap_or(Expr::Literal(Value::Nil))))
}

/// The value of an argument, borrowing from the statement when it is a literal and owned
/// otherwise (so the item can be changed afterwards). Inlined: returned through a `Result`
/// from a call, the value was copied with a store-forwarding stall that alone took a tenth of
/// `ottl/ten_statements`.
#[inline(always)]
pub(crate) fn arg_value<'s, C: ContextMut>(
    e: &'s Expr<C>,
    item: &C::ItemMut<'_>,
) -> Result<Value<'s>, EvalError> {
    match e.literal() {
        Some(v) => Ok(v.borrowed()),
        None => Ok(e.eval(C::view(item))?.to_any_owned()),
    }
}

/// `set(target, value)`: a nil value changes nothing.
struct Set<C: ContextMut> {
    target: Target<C>,
    value: Expr<C>,
}

impl<C: ContextMut> Editor<C> for Set<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        match arg_value(&self.value, item)? {
            Value::Nil => Ok(()),
            v => self.target.set(item, v),
        }
    }
}

/// A literal list of strings (otelcol's `[]string` parameters).
pub(crate) fn literal_strings<C: ContextMut>(
    e: &Expr<C>,
    fname: &str,
    param: &str,
) -> Result<Vec<String>, String> {
    let fail = || {
        format!("error while parsing arguments for call to {fname:?}: {param} must be a list of strings")
    };
    match e {
        Expr::List(items) => items
            .iter()
            .map(|i| match i.literal() {
                Some(Value::Str(s)) => Ok(s.to_string()),
                _ => Err(fail()),
            })
            .collect(),
        _ => Err(fail()),
    }
}

/// A literal int (otelcol's `int64` parameters).
fn literal_int<C: ContextMut>(e: &Expr<C>, fname: &str, param: &str) -> Result<i64, String> {
    match e.literal() {
        Some(Value::Int(i)) => Ok(*i),
        _ => Err(format!(
            "error while parsing arguments for call to {fname:?}: {param} must be an int"
        )),
    }
}

/// Which keys a key filter removes.
enum KeyTest {
    Is(String),
    IsNotAny(Vec<String>),
    Matches(Regex),
    DoesNotMatch(Regex),
}

impl KeyTest {
    fn removes(&self, key: &str) -> bool {
        match self {
            KeyTest::Is(k) => key == k,
            KeyTest::IsNotAny(keep) => !keep.iter().any(|k| k == key),
            KeyTest::Matches(r) => r.is_match(key),
            KeyTest::DoesNotMatch(r) => !r.is_match(key),
        }
    }
}

/// `delete_key(target, key)`, `keep_keys(target, keys)`, `delete_matching_keys(target,
/// pattern)`, `keep_matching_keys(target, pattern)`.
struct KeyFilter<C: ContextMut> {
    target: Target<C>,
    test: KeyTest,
}

fn key_filter<C: ContextMut>(
    name: &str,
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Editor<C>>, String> {
    let second = match name {
        "delete_key" => "key",
        "keep_keys" => "keys",
        _ => "pattern",
    };
    let [target, arg] = required::<C, 2>(name, args, &["target", second])?;
    let pattern = |e: &Expr<C>| -> Result<Regex, String> {
        bounded_regex(&literal_string(e, name, second)?).map_err(|e| {
            format!("the regex pattern provided to {name} is not a valid pattern: {e}")
        })
    };
    let test = match name {
        "delete_key" => KeyTest::Is(literal_string(&arg, name, second)?),
        "keep_keys" => KeyTest::IsNotAny(literal_strings(&arg, name, second)?),
        "delete_matching_keys" => KeyTest::Matches(pattern(&arg)?),
        _ => KeyTest::DoesNotMatch(pattern(&arg)?),
    };
    Ok(Box::new(KeyFilter {
        target: Target::new(target, name, "target")?,
        test,
    }))
}

impl<C: ContextMut> Editor<C> for KeyFilter<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        let map = self.target.map_mut(item)?;
        match &self.test {
            // delete_key, the common one: a plain comparison per entry.
            KeyTest::Is(k) => map.retain(|kv| kv.key != *k),
            test => map.retain(|kv| !test.removes(&kv.key)),
        }
        Ok(())
    }
}

/// `limit(target, limit, priority_keys)`: keeps at most `limit` entries, the priority keys
/// first, then the others in order.
struct Limit<C: ContextMut> {
    target: Target<C>,
    limit: usize,
    priority: Vec<String>,
}

fn limit<C: ContextMut>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Editor<C>>, String> {
    let [target, limit, keys] =
        required::<C, 3>("limit", args, &["target", "limit", "priority_keys"])?;
    let limit = literal_int(&limit, "limit", "limit")?;
    if limit < 0 {
        return Err(format!(
            "invalid limit for limit function, {limit} cannot be negative"
        ));
    }
    let priority = literal_strings(&keys, "limit", "priority_keys")?;
    if priority.len() as i64 > limit {
        return Err(format!(
            "invalid limit for limit function, {limit} cannot be less than number of priority \
             attributes {}",
            priority.len()
        ));
    }
    Ok(Box::new(Limit {
        target: Target::new(target, "limit", "target")?,
        limit: limit as usize,
        priority,
    }))
}

impl<C: ContextMut> Editor<C> for Limit<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        let map = self.target.map_mut(item)?;
        if map.len() <= self.limit {
            return Ok(());
        }
        let is_priority = |k: &str| self.priority.iter().any(|p| p == k);
        let mut kept = map.iter().filter(|kv| is_priority(&kv.key)).count();
        map.retain(|kv| {
            if is_priority(&kv.key) {
                return true;
            }
            kept += 1;
            kept <= self.limit
        });
        Ok(())
    }
}

/// `truncate_all(target, limit, utf8_safe?, truncation_marker?)`: string values cut to at most
/// `limit` bytes, the marker included; by default at a character boundary, so the result
/// stays valid UTF-8 (with `utf8_safe = false` a cut inside a character leaves its bytes
/// replaced, as strings here are always UTF-8).
struct TruncateAll<C: ContextMut> {
    target: Target<C>,
    limit: usize,
    marker: String,
}

fn truncate_all<C: ContextMut>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Editor<C>>, String> {
    let name = "truncate_all";
    let [target, limit, _utf8_safe, marker] = bind_optional(
        name,
        args,
        &["target", "limit", "utf8_safe", "truncation_marker"],
        2,
    )?;
    let limit = literal_int(&limit.expect("required"), name, "limit")?;
    if limit < 0 {
        return Err(format!(
            "invalid limit for truncate_all function, {limit} cannot be negative"
        ));
    }
    let marker = marker
        .map(|m| literal_string(&m, name, "truncation_marker"))
        .transpose()?
        .unwrap_or_default();
    if marker.len() as i64 > limit {
        return Err(format!(
            "invalid truncation_marker for truncate_all function, its length {} is larger than \
             the limit {limit}",
            marker.len()
        ));
    }
    Ok(Box::new(TruncateAll {
        target: Target::new(target.expect("required"), name, "target")?,
        limit: limit as usize,
        marker,
    }))
}

/// `s` cut to at most `limit` bytes at a character boundary.
pub(crate) fn truncate(s: &mut String, limit: usize) {
    if s.len() > limit {
        let mut at = limit;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
}

impl<C: ContextMut> Editor<C> for TruncateAll<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        for kv in self.target.map_mut(item)? {
            if let Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) = &mut kv.value
            {
                if s.len() > self.limit {
                    truncate(s, self.limit - self.marker.len());
                    s.push_str(&self.marker);
                }
            }
        }
        Ok(())
    }
}

/// How `merge_maps` treats keys both maps have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Insert,
    Update,
    Upsert,
}

/// `merge_maps(target, source, strategy)`.
struct MergeMaps<C: ContextMut> {
    target: Target<C>,
    source: Expr<C>,
    strategy: Strategy,
}

fn merge_maps<C: ContextMut>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Editor<C>>, String> {
    let [target, source, strategy] =
        required::<C, 3>("merge_maps", args, &["target", "source", "strategy"])?;
    let strategy = match literal_string(&strategy, "merge_maps", "strategy")?.as_str() {
        "insert" => Strategy::Insert,
        "update" => Strategy::Update,
        "upsert" => Strategy::Upsert,
        other => {
            return Err(format!(
                "invalid value for strategy, {other:?}, must be 'insert', 'update' or 'upsert'"
            ))
        }
    };
    Ok(Box::new(MergeMaps {
        target: Target::new(target, "merge_maps", "target")?,
        source,
        strategy,
    }))
}

impl<C: ContextMut> Editor<C> for MergeMaps<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        let source = match arg_value(&self.source, item)? {
            Value::Map(m) => m.into_owned(),
            Value::Nil => return Ok(()),
            other => {
                return Err(EvalError::new(format!(
                    "expected pcommon.Map but got {}",
                    other.type_name()
                )))
            }
        };
        let map = self.target.map_mut(item)?;
        for kv in source {
            match map.iter_mut().find(|t| t.key == kv.key) {
                Some(t) if self.strategy != Strategy::Insert => t.value = kv.value,
                Some(_) => {}
                None if self.strategy != Strategy::Update => map.push(kv),
                None => {}
            }
        }
        Ok(())
    }
}

/// `append(target, value?, values?)`: the target becomes a list (a single value is its first
/// element; nil an empty list) with the values appended.
struct Append<C: ContextMut> {
    target: Target<C>,
    value: Option<Expr<C>>,
    values: Option<Expr<C>>,
}

fn append<C: ContextMut>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Editor<C>>, String> {
    let [target, value, values] = bind_optional("append", args, &["target", "value", "values"], 1)?;
    let target = Target::new(target.expect("required"), "append", "target")?;
    if value.is_none() && values.is_none() {
        return Err("one of the optional arguments needs to be provided".into());
    }
    Ok(Box::new(Append {
        target,
        value,
        values,
    }))
}

impl<C: ContextMut> Editor<C> for Append<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        let mut list = match self.target.get(C::view(item))? {
            Value::Nil => Vec::new(),
            Value::List(l) => l.into_owned(),
            other => vec![other.into_any()],
        };
        if let Some(v) = &self.value {
            list.push(arg_value(v, item)?.into_any());
        }
        if let Some(vs) = &self.values {
            match arg_value(vs, item)? {
                Value::List(l) => list.extend(l.into_owned()),
                Value::Nil => {}
                other => list.push(other.into_any()),
            }
        }
        let list = Value::List(Cow::Owned(list));
        self.target.set(item, list)
    }
}

/// `delete_index(target, startIndex, endIndex?)`: removes the elements `[startIndex,
/// endIndex)` (one, without `endIndex`) from the list at `target`, with otelcol's bounds
/// messages.
struct DeleteIndex<C: ContextMut> {
    target: Target<C>,
    start: Expr<C>,
    end: Option<Expr<C>>,
}

fn delete_index<C: ContextMut>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Editor<C>>, String> {
    let [target, start, end] = bind_optional(
        "delete_index",
        args,
        &["target", "startIndex", "endIndex"],
        2,
    )?;
    let (Some(target), Some(start)) = (target, start) else {
        return Err("delete_index needs a target and a startIndex".into());
    };
    Ok(Box::new(DeleteIndex {
        target: Target::new(target, "delete_index", "target")?,
        start,
        end,
    }))
}

impl<C: ContextMut> Editor<C> for DeleteIndex<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        let mut list = match self.target.get(C::view(item))? {
            Value::List(l) => l.into_owned(),
            other => {
                return Err(EvalError::new(format!(
                    "expected pcommon.Slice but got {}",
                    other.type_name()
                )))
            }
        };
        let start = int_arg(arg_value(&self.start, item)?)?;
        let end = match &self.end {
            Some(e) => int_arg(arg_value(e, item)?)?,
            None => start + 1,
        };
        let len = list.len() as i64;
        if !(start == 0 && end == len) {
            check_bounds(start, end, len)?;
        }
        // In bounds: 0 <= start <= end <= len.
        list.drain(start as usize..end as usize);
        self.target.set(item, Value::List(Cow::Owned(list)))
    }
}

fn check_bounds(start: i64, end: i64, len: i64) -> Result<(), EvalError> {
    if start < 0 || start >= len {
        return Err(EvalError::new(format!(
            "startIndex {start} out of bounds for slice of length {len}"
        )));
    }
    if end < start {
        return Err(EvalError::new(format!(
            "endIndex {end} cannot be less than startIndex {start}"
        )));
    }
    if end > len {
        return Err(EvalError::new(format!(
            "deletion range [{start}:{end}] out of bounds for slice of length {len}"
        )));
    }
    Ok(())
}
