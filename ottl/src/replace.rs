//! The replacing editors (replace_pattern, replace_all_patterns, replace_match,
//! replace_all_matches: a regular expression or a glob, a replacement, and optionally a
//! converter applied to the replacement and a `%s` format around its result) and the map
//! reshaping ones (flatten, stringify_all).

use crate::compile::{CompiledArg, Expr};
use crate::editors::{arg_value, required};
use crate::error::EvalError;
use crate::funcs::{bind_optional, bounded_regex, literal_string, string_arg};
use crate::statement::{ContextMut, Editor, Target};
use crate::value::{string_like, Value};
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use regex::{Captures, Regex};
use std::borrow::Cow;

/// A converter over one string that a replacing editor may apply to its replacement (otelcol
/// passes hash converters such as `SHA256`).
pub type StringFunction = fn(&str) -> String;

/// What is replaced: sections matching a regular expression, or whole strings matching a glob
/// (otelcol's replace_match: `*` any run of characters, `?` one, `[...]` a class).
enum Matcher {
    Pattern(Regex),
    Glob(Regex),
}

/// The optional converter and format applied to a replacement.
struct Transform {
    function: StringFunction,
    format: Option<(String, String)>,
}

impl Transform {
    fn apply(&self, replacement: &str) -> String {
        let hashed = (self.function)(replacement);
        match &self.format {
            Some((before, after)) => format!("{before}{hashed}{after}"),
            None => hashed,
        }
    }
}

/// Whether the editor changes one value, a map's values or a map's keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Value,
    MapValues,
    MapKeys,
}

struct Replace<C: ContextMut> {
    target: Target<C>,
    matcher: Matcher,
    replacement: Expr<C>,
    transform: Option<Transform>,
    scope: Scope,
}

/// Builds one of the four replacing editors.
pub fn editor<C: ContextMut>(
    name: &str,
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Editor<C>>, String> {
    let all_patterns = name == "replace_all_patterns";
    let params: &[&str; 6] = if all_patterns {
        &[
            "target",
            "mode",
            "regex",
            "replacement",
            "function",
            "replacementFormat",
        ]
    } else {
        &[
            "target",
            "pattern",
            "replacement",
            "function",
            "replacementFormat",
            "",
        ]
    };
    let required = if all_patterns { 4 } else { 3 };
    let mut bound = bind_optional(name, args, params, required)?.into_iter();
    let mut next = || bound.next().flatten();
    let target = Target::new(next().expect("required"), name, "target")?;
    let scope = match name {
        "replace_all_patterns" => {
            match literal_string(&next().expect("required"), name, "mode")?.as_str() {
                "key" => Scope::MapKeys,
                "value" => Scope::MapValues,
                other => {
                    return Err(format!(
                        "invalid mode {other}, must be either 'key' or 'value'"
                    ))
                }
            }
        }
        "replace_all_matches" => Scope::MapValues,
        _ => Scope::Value,
    };
    let pattern = literal_string(&next().expect("required"), name, "pattern")?;
    let matcher = if name.ends_with("matches") || name == "replace_match" {
        Matcher::Glob(glob(&pattern).map_err(|e| format!("invalid glob pattern {pattern:?}: {e}"))?)
    } else {
        Matcher::Pattern(bounded_regex(&pattern).map_err(|e| {
            format!("the regex pattern supplied to {name} is not a valid pattern: {e}")
        })?)
    };
    let replacement = next().expect("required");
    let transform = transform(name, next(), next())?;
    Ok(Box::new(Replace {
        target,
        matcher,
        replacement,
        transform,
        scope,
    }))
}

fn transform<C: ContextMut>(
    name: &str,
    function: Option<Expr<C>>,
    format: Option<Expr<C>>,
) -> Result<Option<Transform>, String> {
    let Some(function) = function else {
        return match format {
            Some(_) => Err(format!("{name}: replacementFormat needs a function")),
            None => Ok(None),
        };
    };
    let fname = literal_string(&function, name, "function")?;
    let function = crate::funcs::string_function(&fname).ok_or_else(|| {
        format!("{name}: {fname} is not a converter of one string that can hash a replacement")
    })?;
    let format = format
        .map(|f| literal_string(&f, name, "replacementFormat"))
        .transpose()?
        .map(|f| match f.split_once("%s") {
            Some((before, after)) if !before.contains('%') && !after.contains('%') => {
                Ok((before.to_string(), after.to_string()))
            }
            _ => Err(
                "replacementFormat must be format string containing a single %s and no other \
                 format specifiers"
                    .to_string(),
            ),
        })
        .transpose()?;
    Ok(Some(Transform { function, format }))
}

/// A glob as an anchored regular expression.
fn glob(pattern: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                let mut first = true;
                for c in chars.by_ref() {
                    match c {
                        ']' => break,
                        '!' if first => re.push('^'),
                        '\\' | '[' | '&' | '~' => {
                            re.push('\\');
                            re.push(c)
                        }
                        c => re.push(c),
                    }
                    first = false;
                }
                re.push(']');
            }
            '\\' => {
                if let Some(c) = chars.next() {
                    re.push_str(&regex::escape(&c.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    bounded_regex(&re)
}

/// The new string of a replacement, `None` when it borrowed the input back (no match).
fn owned(out: Cow<'_, str>) -> Option<String> {
    match out {
        Cow::Owned(o) => Some(o),
        Cow::Borrowed(_) => None,
    }
}

impl<C: ContextMut> Replace<C> {
    /// The new string, or `None` when `s` does not match.
    fn replaced(&self, s: &str, replacement: &str) -> Option<String> {
        match &self.matcher {
            Matcher::Glob(g) => g.is_match(s).then(|| match &self.transform {
                Some(t) => t.apply(replacement),
                None => replacement.to_string(),
            }),
            // replace_all borrows `s` back exactly when nothing matched: one search, not an
            // is_match first and the replacing search again.
            Matcher::Pattern(r) => match &self.transform {
                None => owned(r.replace_all(s, replacement)),
                Some(t) => owned(r.replace_all(s, |caps: &Captures<'_>| {
                    let mut expanded = String::new();
                    caps.expand(replacement, &mut expanded);
                    t.apply(&expanded)
                })),
            },
        }
    }

    fn replace_map(&self, map: &mut [KeyValue], replacement: &str) {
        for kv in map {
            if self.scope == Scope::MapKeys {
                if let Some(k) = self.replaced(&kv.key, replacement) {
                    kv.key = k;
                }
                continue;
            }
            if let Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) = &mut kv.value
            {
                if let Some(new) = self.replaced(s, replacement) {
                    *s = new;
                }
            }
        }
    }
}

impl<C: ContextMut> Editor<C> for Replace<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        let replacement = string_arg(arg_value(&self.replacement, item)?)?;
        if self.scope != Scope::Value {
            let map = self.target.map_mut(item)?;
            self.replace_map(map, &replacement);
            return Ok(());
        }
        let new = match self.target.get(C::view(item))? {
            Value::Str(s) => self.replaced(&s, &replacement),
            _ => None,
        };
        match new {
            Some(new) => self.target.set(item, Value::Str(Cow::Owned(new))),
            None => Ok(()),
        }
    }
}

/// Most entries `flatten` may produce from one map.
const MAX_FLATTENED: usize = 10_000;

/// `flatten(target, prefix?, depth?, resolveConflicts?)`.
struct Flatten<C: ContextMut> {
    target: Target<C>,
    prefix: String,
    depth: usize,
    resolve_conflicts: bool,
}

/// Builds `flatten`.
pub fn flatten<C: ContextMut>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Editor<C>>, String> {
    let [target, prefix, depth, resolve] = bind_optional(
        "flatten",
        args,
        &["target", "prefix", "depth", "resolveConflicts"],
        1,
    )?;
    let prefix = prefix
        .map(|p| literal_string(&p, "flatten", "prefix"))
        .transpose()?
        .unwrap_or_default();
    let depth = match depth.as_ref().map(|d| d.literal()) {
        None => usize::MAX,
        Some(Some(Value::Int(d))) if *d >= 0 => *d as usize,
        Some(Some(Value::Int(d))) => {
            return Err(format!(
                "invalid depth for flatten function, {d} cannot be negative"
            ))
        }
        Some(_) => return Err("flatten: depth must be an int".into()),
    };
    let resolve_conflicts = match resolve.as_ref().map(|r| r.literal()) {
        None => false,
        Some(Some(Value::Bool(b))) => *b,
        Some(_) => return Err("flatten: resolveConflicts must be a bool".into()),
    };
    Ok(Box::new(Flatten {
        target: Target::new(target.expect("required"), "flatten", "target")?,
        prefix,
        depth,
        resolve_conflicts,
    }))
}

/// Where flattened entries go: in order, a later key replacing an earlier one, or (resolving
/// conflicts) suffixed `.0`, `.1`, ... from the first repeated key.
struct Flattened {
    entries: Vec<KeyValue>,
    resolve_conflicts: bool,
}

impl Flattened {
    fn put(&mut self, key: String, value: Option<AnyValue>) {
        if self.entries.len() >= MAX_FLATTENED {
            return;
        }
        let exists = |k: &str, e: &[KeyValue]| e.iter().position(|kv| kv.key == k);
        match exists(&key, &self.entries) {
            None => self.entries.push(KeyValue {
                key,
                value,
                ..Default::default()
            }),
            Some(at) if !self.resolve_conflicts => self.entries[at].value = value,
            Some(_) => {
                let key = (0..)
                    .map(|n| format!("{key}.{n}"))
                    .find(|k| exists(k, &self.entries).is_none())
                    .expect("a free suffix");
                self.entries.push(KeyValue {
                    key,
                    value,
                    ..Default::default()
                });
            }
        }
    }

    fn add(&mut self, key: String, value: Option<AnyValue>, depth: usize) {
        use any_value::Value as V;
        match value {
            Some(AnyValue {
                value: Some(V::KvlistValue(m)),
            }) if depth > 0 => {
                for kv in m.values {
                    self.add(format!("{key}.{}", kv.key), kv.value, depth - 1);
                }
            }
            Some(AnyValue {
                value: Some(V::ArrayValue(a)),
            }) if depth > 0 => {
                if self.resolve_conflicts {
                    for v in a.values {
                        self.add(key.clone(), Some(v), depth - 1);
                    }
                } else {
                    for (i, v) in a.values.into_iter().enumerate() {
                        self.add(format!("{key}.{i}"), Some(v), depth - 1);
                    }
                }
            }
            v => self.put(key, v),
        }
    }
}

impl<C: ContextMut> Editor<C> for Flatten<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        let map = self.target.map_mut(item)?;
        let mut out = Flattened {
            entries: Vec::with_capacity(map.len()),
            resolve_conflicts: self.resolve_conflicts,
        };
        for kv in std::mem::take(map) {
            let key = match self.prefix.as_str() {
                "" => kv.key,
                p => format!("{p}.{}", kv.key),
            };
            out.add(key, kv.value, self.depth);
        }
        *map = out.entries;
        Ok(())
    }
}

/// `stringify_all(target)`: every value of the map as its string form.
struct StringifyAll<C: ContextMut> {
    target: Target<C>,
}

/// Builds `stringify_all`.
pub fn stringify_all<C: ContextMut>(
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Editor<C>>, String> {
    let [target] = required::<C, 1>("stringify_all", args, &["target"])?;
    Ok(Box::new(StringifyAll {
        target: Target::new(target, "stringify_all", "target")?,
    }))
}

impl<C: ContextMut> Editor<C> for StringifyAll<C> {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        for kv in self.target.map_mut(item)? {
            let value = kv.value.get_or_insert_with(AnyValue::default);
            let s = match Value::from_any(value) {
                Value::Str(_) => continue,
                Value::Nil => String::new(),
                Value::Bytes(b) => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(b)
                }
                v => string_like(&v).map_or_else(String::new, Cow::into_owned),
            };
            value.value = Some(any_value::Value::StringValue(s));
        }
        Ok(())
    }
}
