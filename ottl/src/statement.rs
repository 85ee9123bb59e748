//! Editor statements (`set(attributes["x"], 1) where name == "a"`): the mutable side of a
//! context ([`ContextMut`]), compiled targets that editors write through ([`Target`]),
//! statements, and sequences of them with otelcol's error modes ([`Statements`]).
//!
//! A statement first evaluates its `where` condition and its arguments against a shared view of
//! the item, then changes the item: reads borrow, only the values written are copied.
//!
//! ```
//! use ferrotel_ottl::{ErrorMode, SpanContext, SpanItemMut, Statements};
//! use ferrotel_core::proto::trace::v1::Span;
//!
//! let s = Statements::<SpanContext>::new(
//!     &[r#"set(attributes["http.route"], "/") where name == "GET /""#],
//!     &[] as &[&str],
//!     ErrorMode::Propagate,
//! )
//! .unwrap();
//! let mut span = Span { name: "GET /".into(), ..Default::default() };
//! let (mut scope, mut resource) = (None, None);
//! s.execute(&mut SpanItemMut { cache: &mut Vec::new(), span: &mut span, scope: &mut scope, resource: &mut resource })
//!     .unwrap();
//! assert_eq!(span.attributes[0].key, "http.route");
//! ```

use crate::compile::{bool_expr, BoolExpr, CKey, CompiledArg, Context, ErrorMode, Expr};
use crate::error::{Error, EvalError};
use crate::value::Value;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use std::borrow::Cow;

/// The largest list index a `set` may create (`attributes["l"][3]` on an empty value creates a
/// list of 4): bounds the memory one statement can allocate.
pub const MAX_CREATED_INDEX: i64 = 1024;

/// A place editors change in place: an attribute map, or one value (a log body, a nested value).
pub enum Place<'b> {
    Map(&'b mut Vec<KeyValue>),
    Value(&'b mut AnyValue),
}

/// A context whose items statements can change.
pub trait ContextMut: Context {
    /// An item borrowed for changing, with its parents.
    type ItemMut<'a>;

    /// A shared view of the item, for conditions and arguments.
    fn view<'b>(item: &'b Self::ItemMut<'_>) -> Self::Item<'b>;

    /// The map or value a path names (`attributes`, `body`), for writing through keys and for
    /// editors that take a map; `None` for scalar paths (`name`, `status.code`).
    fn place<'b>(path: &Self::Path, item: &'b mut Self::ItemMut<'_>) -> Option<Place<'b>>;

    /// Sets a scalar path. As otelcol's setters, a value of a type the field cannot hold is
    /// ignored; a path that cannot be set is an error.
    fn set(
        path: &Self::Path,
        item: &mut Self::ItemMut<'_>,
        value: Value<'_>,
    ) -> Result<(), EvalError>;

    /// The builder of an editor only this context has (`set_semconv_span_name` for spans).
    fn own_editor(_name: &str) -> Option<EditorBuilder<Self>> {
        None
    }
}

/// Builds an editor from its arguments.
pub type EditorBuilder<C> = fn(Vec<CompiledArg<C>>) -> Result<Box<dyn Editor<C>>, String>;

/// A key resolved for writing.
#[derive(Debug, Clone)]
pub enum KeyVal<'s> {
    Str(Cow<'s, str>),
    Int(i64),
}

/// A path an editor writes (its first argument): the context's path and the keys after it.
pub struct Target<C: Context> {
    path: C::Path,
    keys: Vec<CKey<C>>,
    /// The keys, when all are literals (resolved once, at compile time).
    literal: Option<Vec<KeyVal<'static>>>,
}

impl<C: ContextMut> Target<C> {
    /// The target an argument names; anything but a path is refused.
    pub fn new(e: Expr<C>, function: &str, param: &str) -> Result<Self, String> {
        let Expr::Path(path, keys) = e else {
            return Err(format!(
                "error while parsing arguments for call to {function:?}: {param} must be a path"
            ));
        };
        let literal = keys
            .iter()
            .map(|k| match k {
                CKey::Str(s) => Some(KeyVal::Str(Cow::Owned(s.clone()))),
                CKey::Int(i) => Some(KeyVal::Int(*i)),
                CKey::Expr(_) => None,
            })
            .collect();
        Ok(Target {
            path,
            keys,
            literal,
        })
    }

    /// Reads the target.
    pub fn get<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        crate::compile::index(C::get(&self.path, item)?, &self.keys, item)
    }

    fn resolve_keys(&self, item: &C::ItemMut<'_>) -> Result<Cow<'_, [KeyVal<'_>]>, EvalError> {
        if let Some(keys) = &self.literal {
            return Ok(Cow::Borrowed(keys.as_slice()));
        }
        let view = C::view(item);
        self.keys
            .iter()
            .map(|k| {
                Ok(match k {
                    CKey::Str(s) => KeyVal::Str(Cow::Borrowed(s.as_str())),
                    CKey::Int(i) => KeyVal::Int(*i),
                    CKey::Expr(e) => match e.eval(view)? {
                        Value::Str(s) => KeyVal::Str(Cow::Owned(s.into_owned())),
                        Value::Int(i) => KeyVal::Int(i),
                        other => {
                            return Err(EvalError::new(format!(
                                "invalid key type {}: a key must be a string or an int64",
                                other.type_name()
                            )))
                        }
                    },
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Cow::Owned)
    }

    /// Writes `value` to the target, creating the maps and lists its keys go through (as
    /// otelcol's `set`).
    pub fn set(&self, item: &mut C::ItemMut<'_>, value: Value<'_>) -> Result<(), EvalError> {
        let keys = self.resolve_keys(item)?;
        match C::place(&self.path, item) {
            None if keys.is_empty() => C::set(&self.path, item, value),
            None => Err(EvalError::new("the path does not support indexing")),
            Some(place) => store(place, &keys, value),
        }
    }

    /// The map the target names, to change in place; an error when it is not a map.
    pub fn map_mut<'b>(
        &self,
        item: &'b mut C::ItemMut<'_>,
    ) -> Result<&'b mut Vec<KeyValue>, EvalError> {
        let keys = self.resolve_keys(item)?.into_owned();
        let place = C::place(&self.path, item)
            .ok_or_else(|| EvalError::new("expected pcommon.Map but got a scalar"))?;
        match walk_existing(place, &keys)? {
            Some(Place::Map(m)) => Ok(m),
            Some(Place::Value(AnyValue {
                value: Some(any_value::Value::KvlistValue(m)),
            })) => Ok(&mut m.values),
            Some(Place::Value(v)) => Err(EvalError::new(format!(
                "expected pcommon.Map but got {}",
                Value::from_any(v).type_name()
            ))),
            None => Err(EvalError::new("expected pcommon.Map but got nil")),
        }
    }
}

/// Stores a value in a place: a map replaces a map's contents (anything else leaves a map as
/// it is, as otelcol's map setters), any value replaces a value.
fn assign(place: Place<'_>, value: Value<'_>) {
    match place {
        Place::Map(m) => {
            if let Value::Map(new) = value {
                *m = new.into_owned();
            }
        }
        Place::Value(AnyValue {
            value: Some(any_value::Value::StringValue(old)),
        }) if matches!(value, Value::Str(_)) => {
            // Reuses the old string's buffer.
            if let Value::Str(new) = value {
                old.clear();
                old.push_str(&new);
            }
        }
        Place::Value(v) => *v = value.into_any(),
    }
}

/// Writes `value` where `keys` lead from `place`, creating the maps and lists on the way; a
/// map's last key is set with [`upsert`].
fn store(place: Place<'_>, keys: &[KeyVal<'_>], value: Value<'_>) -> Result<(), EvalError> {
    let Some((KeyVal::Str(k), parents)) = keys.split_last() else {
        assign(walk_creating(place, keys)?, value);
        return Ok(());
    };
    match walk_creating(place, parents)? {
        Place::Map(m) => upsert(m, k, value),
        place => assign(walk_creating(place, &keys[parents.len()..])?, value),
    }
    Ok(())
}

/// Sets `key` of a map: in place when present ([`assign`]), else appended already holding
/// `value` (no empty entry built and then replaced).
fn upsert(map: &mut Vec<KeyValue>, key: &str, value: Value<'_>) {
    match map.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => assign(
            Place::Value(kv.value.get_or_insert_with(AnyValue::default)),
            value,
        ),
        None => map.push(KeyValue {
            key: key.to_string(),
            value: Some(value.into_any()),
            ..Default::default()
        }),
    }
}

/// The entry `key` of a map, added empty when missing.
fn entry<'b>(map: &'b mut Vec<KeyValue>, key: &str) -> &'b mut AnyValue {
    let at = match map.iter().position(|kv| kv.key == key) {
        Some(at) => at,
        None => {
            map.push(KeyValue {
                key: key.to_string(),
                value: Some(AnyValue::default()),
                ..Default::default()
            });
            map.len() - 1
        }
    };
    map[at].value.get_or_insert_with(AnyValue::default)
}

fn list_index(len: usize, i: i64) -> Result<usize, EvalError> {
    usize::try_from(i)
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| EvalError::new(format!("index {i} out of bounds")))
}

/// Follows keys from a place, creating empty maps and lists on the way (otelcol's
/// `SetIndexableValue`).
fn walk_creating<'b>(mut place: Place<'b>, keys: &[KeyVal<'_>]) -> Result<Place<'b>, EvalError> {
    use any_value::Value as V;
    for key in keys {
        let next = match (place, key) {
            (Place::Map(m), KeyVal::Str(k)) => entry(m, k),
            (Place::Map(_), KeyVal::Int(_)) => {
                return Err(EvalError::new("map must be indexed by a string"))
            }
            (Place::Value(v), key) => {
                if v.value.is_none() {
                    v.value = Some(match key {
                        KeyVal::Str(_) => V::KvlistValue(KeyValueList::default()),
                        KeyVal::Int(i) if (0..=MAX_CREATED_INDEX).contains(i) => {
                            V::ArrayValue(ArrayValue {
                                values: vec![AnyValue::default(); *i as usize + 1],
                            })
                        }
                        KeyVal::Int(i) => {
                            return Err(EvalError::new(format!("index {i} out of bounds")))
                        }
                    });
                }
                match (&mut v.value, key) {
                    (Some(V::KvlistValue(m)), KeyVal::Str(k)) => entry(&mut m.values, k),
                    (Some(V::ArrayValue(a)), KeyVal::Int(i)) => {
                        let at = list_index(a.values.len(), *i)?;
                        &mut a.values[at]
                    }
                    (Some(V::KvlistValue(_)), KeyVal::Int(_)) => {
                        return Err(EvalError::new("map must be indexed by a string"))
                    }
                    (Some(V::ArrayValue(_)), KeyVal::Str(_)) => {
                        return Err(EvalError::new("slice must be indexed by an int"))
                    }
                    (other, _) => {
                        return Err(EvalError::new(format!(
                            "type {} does not support indexing",
                            value_type(other.as_ref())
                        )))
                    }
                }
            }
        };
        place = Place::Value(next);
    }
    Ok(place)
}

/// Follows keys from a place without creating anything; `None` when a key is missing.
fn walk_existing<'b>(
    mut place: Place<'b>,
    keys: &[KeyVal<'_>],
) -> Result<Option<Place<'b>>, EvalError> {
    use any_value::Value as V;
    for key in keys {
        let values = match place {
            Place::Map(m) => m,
            Place::Value(v) => match (&mut v.value, key) {
                (Some(V::KvlistValue(m)), _) => &mut m.values,
                (Some(V::ArrayValue(a)), KeyVal::Int(i)) => {
                    let at = list_index(a.values.len(), *i)?;
                    place = Place::Value(&mut a.values[at]);
                    continue;
                }
                (other, _) => {
                    return Err(EvalError::new(format!(
                        "type {} does not support indexing",
                        value_type(other.as_ref())
                    )))
                }
            },
        };
        let KeyVal::Str(k) = key else {
            return Err(EvalError::new("map must be indexed by a string"));
        };
        match values.iter_mut().find(|kv| kv.key == *k) {
            Some(kv) => place = Place::Value(kv.value.get_or_insert_with(AnyValue::default)),
            None => return Ok(None),
        }
    }
    Ok(Some(place))
}

fn value_type(v: Option<&any_value::Value>) -> &'static str {
    match v {
        None => "Empty",
        Some(v) => Value::from_any_value(v).type_name(),
    }
}

/// An editor bound to its arguments: changes an item.
pub trait Editor<C: ContextMut>: Send + Sync {
    fn apply(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError>;
}

/// One compiled statement: an editor and its optional `where` condition.
pub struct Statement<C: ContextMut> {
    editor: Box<dyn Editor<C>>,
    condition: Option<BoolExpr<C>>,
    text: String,
}

impl<C: ContextMut> Statement<C> {
    /// Parses and compiles `text`; the error names it.
    pub fn new(text: &str) -> Result<Self, Error> {
        let fail = |message: String| Error {
            kind: "statement",
            text: text.to_string(),
            message,
        };
        let parsed = crate::parser::parse_statement(text).map_err(|e| fail(e.to_string()))?;
        let args = crate::compile::args::<C>(&parsed.editor.args).map_err(fail)?;
        let editor = crate::editors::editor::<C>(&parsed.editor.name, args).map_err(fail)?;
        let condition = parsed
            .condition
            .as_ref()
            .map(bool_expr::<C>)
            .transpose()
            .map_err(fail)?;
        Ok(Statement {
            editor,
            condition,
            text: text.to_string(),
        })
    }

    /// Runs the editor when the condition holds (or there is none).
    pub fn execute(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        if let Some(c) = &self.condition {
            if !c.eval(C::view(item))? {
                return Ok(());
            }
        }
        self.editor.apply(item)
    }

    /// The statement as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Statements run in order on each item, when any of the group's conditions holds (or there
/// are none), with an error mode (otelcol's StatementSequence with a ConditionSequence).
pub struct Statements<C: ContextMut> {
    statements: Vec<Statement<C>>,
    conditions: crate::Conditions<C>,
    mode: ErrorMode,
}

impl<C: ContextMut> Statements<C> {
    /// Compiles every statement and condition; the errors of all that fail are returned.
    pub fn new<S: AsRef<str>, T: AsRef<str>>(
        statements: &[S],
        conditions: &[T],
        mode: ErrorMode,
    ) -> Result<Self, Vec<Error>> {
        let mut errors = Vec::new();
        let mut compiled = Vec::new();
        for s in statements {
            match Statement::new(s.as_ref()) {
                Ok(s) => compiled.push(s),
                Err(e) => errors.push(e),
            }
        }
        let conditions = crate::Conditions::new(conditions, mode).map_err(|mut e| {
            errors.append(&mut e);
            std::mem::take(&mut errors)
        })?;
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Statements {
            statements: compiled,
            conditions,
            mode,
        })
    }

    /// Runs the statements on one item. Under `propagate` the first failure is returned, naming
    /// the statement; under `ignore` it is logged and the next statement runs; under `silent`
    /// the next statement runs.
    pub fn execute(&self, item: &mut C::ItemMut<'_>) -> Result<(), EvalError> {
        if !self.conditions.is_empty() && !self.conditions.any(C::view(item))? {
            return Ok(());
        }
        for s in &self.statements {
            if let Err(e) = s.execute(item) {
                match self.mode {
                    ErrorMode::Propagate => {
                        return Err(EvalError::new(format!(
                            "failed to execute statement: {}, {e}",
                            s.text
                        )))
                    }
                    ErrorMode::Ignore => tracing::warn!(
                        statement = s.text.as_str(),
                        error = %e,
                        "failed to execute statement"
                    ),
                    ErrorMode::Silent => {}
                }
            }
        }
        Ok(())
    }

    /// The statements as written.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.statements.iter().map(|s| s.text())
    }
}
