//! otelcol's alpha lambda converters (pkg/ottl/ottlfuncs), defined only while the
//! `ottl.functions.enableLambda` gate is enabled: All, Any, Filter, Find, MapEach, MapKeys,
//! Reduce, When. Over a list a lambda gets `(index, value)`, over a map `(key, value)`
//! (Reduce's accumulator gets the accumulated value first); lambdas declaring another number
//! of parameters are refused at compile time, as otelcol's `ValidateArity`.

use super::{map_arg, Built};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{slots, value_arg, Slot};
use crate::lambda::{go_type, wrong_result, Budget, CompiledLambda};
use crate::value::{display, Value};
use ferrotel_core::proto::common::v1::{AnyValue, KeyValue};
use std::borrow::Cow;

/// The lambda converters, by otelcol's names.
pub const NAMES: &[&str] = &[
    "All", "Any", "Filter", "Find", "MapEach", "MapKeys", "Reduce", "When",
];

/// Builds lambda converter `name` (one of [`NAMES`]).
pub fn build<C: Context>(name: &str, args: Vec<CompiledArg<C>>) -> Built<C> {
    let each = |op, param: &str, args| -> Built<C> {
        let [s, l] = slots(name, args, &["source", param], 2)?;
        Ok(Box::new(Each {
            source: value(name, s)?,
            lambda: lambda(name, l, 2)?,
            op,
        }))
    };
    match name {
        "All" => each(Op::All, "predicate", args),
        "Any" => each(Op::Any, "predicate", args),
        "Filter" => each(Op::Filter, "predicate", args),
        "MapEach" => each(Op::MapEach, "mapper", args),
        "Find" => {
            let [s, p, m] = slots(name, args, &["source", "predicate", "mapper"], 2)?;
            let predicate = lambda(name, p, 2).map_err(|e| format!("invalid predicate: {e}"))?;
            let mapper = match m {
                Some(m) => {
                    Some(lambda(name, Some(m), 2).map_err(|e| format!("invalid mapper: {e}"))?)
                }
                None => None,
            };
            Ok(Box::new(Find {
                source: value(name, s)?,
                predicate,
                mapper,
            }))
        }
        "MapKeys" => {
            let [s, l] = slots(name, args, &["source", "keyMapper"], 2)?;
            Ok(Box::new(MapKeys {
                source: value(name, s)?,
                mapper: lambda(name, l, 2)?,
            }))
        }
        "Reduce" => {
            let [s, seed, l] = slots(name, args, &["source", "seed", "accumulator"], 3)?;
            Ok(Box::new(Reduce {
                source: value(name, s)?,
                seed: value(name, seed)?,
                accumulator: lambda(name, l, 3)?,
            }))
        }
        "When" => {
            let [c, t, f] = slots(name, args, &["condition", "trueValue", "falseValue"], 3)?;
            Ok(Box::new(When {
                condition: lambda(name, c, 0)?,
                then: value(name, t)?,
                otherwise: value(name, f)?,
            }))
        }
        _ => Err(format!("undefined function {name:?}")),
    }
}

/// A required value argument.
fn value<C: Context>(name: &str, slot: Slot<C>) -> Result<Expr<C>, String> {
    match slot {
        Some((pos, arg)) => value_arg(name, pos, arg, false),
        None => Ok(Expr::Literal(Value::Nil)),
    }
}

/// A lambda argument of `arity` parameters, compiled.
fn lambda<C: Context>(
    name: &str,
    slot: Slot<C>,
    arity: usize,
) -> Result<CompiledLambda<C>, String> {
    match slot {
        Some((
            _,
            CompiledArg {
                lambda: Some(l), ..
            },
        )) => CompiledLambda::new(&l, arity),
        Some((pos, _)) => Err(format!(
            "error while parsing arguments for call to {name:?}: invalid argument at position \
             {pos}: expected a lambda expression"
        )),
        None => Err(format!(
            "error while parsing arguments for call to {name:?}: missing lambda expression"
        )),
    }
}

/// A list or a map to iterate (otelcol's `GetSliceOrMapValue`).
enum Source<'a> {
    List(Cow<'a, [AnyValue]>),
    Map(Cow<'a, [KeyValue]>),
}

impl<'a> Source<'a> {
    fn of(v: Value<'a>) -> Result<Self, EvalError> {
        match v {
            Value::List(l) => Ok(Source::List(l)),
            Value::Map(m) => Ok(Source::Map(m)),
            other => Err(EvalError::new(format!(
                "unsupported type provided: {}",
                go_type(&other)
            ))),
        }
    }

    /// `(index, value)` of each element of a list, `(key, value)` of each entry of a map,
    /// borrowed.
    fn entries(&self) -> impl Iterator<Item = (Value<'_>, Value<'_>)> {
        let (list, map): (&[AnyValue], &[KeyValue]) = match self {
            Source::List(l) => (l, &[]),
            Source::Map(m) => (&[], m),
        };
        let items = list
            .iter()
            .enumerate()
            .map(|(i, v)| (Value::Int(i as i64), Value::from_any(v)));
        let entries = map.iter().map(|kv| {
            let v = kv.value.as_ref().map_or(Value::Nil, Value::from_any);
            (Value::Str(Cow::Borrowed(kv.key.as_str())), v)
        });
        items.chain(entries)
    }

    /// otelcol's error for a lambda failing on one entry.
    fn failed(&self, k: &Value<'_>, v: &Value<'_>, e: EvalError) -> EvalError {
        let what = match self {
            Source::List(_) => "slice item",
            Source::Map(_) => "map item",
        };
        EvalError::new(format!(
            "error while evaluating lambda function on {what} ({}, {}): {e}",
            display(k),
            display(v)
        ))
    }
}

/// What [`Each`] does with the lambda over every entry.
#[derive(Clone, Copy)]
enum Op {
    /// Whether the predicate holds for every entry (true when there are none).
    All,
    /// Whether the predicate holds for some entry (false when there are none).
    Any,
    /// The entries the predicate holds for: a list of a list, a map of a map.
    Filter,
    /// The mapper's results: a list of a list, a map (same keys) of a map.
    MapEach,
}

/// All, Any, Filter and MapEach: `(source, lambda(k, v))`.
struct Each<C: Context> {
    source: Expr<C>,
    lambda: CompiledLambda<C>,
    op: Op,
}

impl<C: Context> Function<C> for Each<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let _budget = Budget::enter();
        let src = Source::of(self.source.eval(item)?)?;
        let mut list = Vec::new();
        let mut map = Vec::new();
        for (k, v) in src.entries() {
            let args = [k, v];
            let keep = match self.op {
                Op::MapEach => self.lambda.apply(item, &args, |r| Ok(Some(r.into_any()))),
                _ => self
                    .lambda
                    .test(item, &args)
                    .map(|b| b.then(|| args[1].to_any())),
            };
            let [k, v] = &args;
            let kept = keep.map_err(|e| src.failed(k, v, e))?;
            match (self.op, kept) {
                (Op::All, None) => return Ok(Value::Bool(false)),
                (Op::Any, Some(_)) => return Ok(Value::Bool(true)),
                (Op::All | Op::Any, _) | (_, None) => {}
                (_, Some(new)) => match k {
                    Value::Str(key) => map.push(super::kv(key.as_ref(), new)),
                    _ => list.push(new),
                },
            }
        }
        Ok(match (self.op, src) {
            (Op::All, _) => Value::Bool(true),
            (Op::Any, _) => Value::Bool(false),
            (_, Source::List(_)) => Value::List(Cow::Owned(list)),
            (_, Source::Map(_)) => Value::Map(Cow::Owned(map)),
        })
    }
}

/// Find(source, predicate, Optional[mapper]): the first entry's value the predicate holds for
/// (or the mapper's result on it), nil when none does.
struct Find<C: Context> {
    source: Expr<C>,
    predicate: CompiledLambda<C>,
    mapper: Option<CompiledLambda<C>>,
}

impl<C: Context> Function<C> for Find<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let _budget = Budget::enter();
        let src = Source::of(self.source.eval(item)?)?;
        for (k, v) in src.entries() {
            let args = [k, v];
            let found = self.predicate.test(item, &args);
            let [k, v] = &args;
            if !found.map_err(|e| src.failed(k, v, e))? {
                continue;
            }
            let Some(mapper) = &self.mapper else {
                return Ok(v.to_any_owned());
            };
            return mapper
                .apply(item, &args, |r| Ok(r.to_any_owned()))
                .map_err(|e| {
                    EvalError::new(format!(
                        "error while evaluating mapper lambda function on item ({}, {}): {e}",
                        display(k),
                        display(v)
                    ))
                });
        }
        Ok(Value::Nil)
    }
}

/// MapKeys(source, keyMapper): the map with each key replaced by the mapper's result (a
/// string); of entries mapped to the same key, the first's place and the last's value.
struct MapKeys<C: Context> {
    source: Expr<C>,
    mapper: CompiledLambda<C>,
}

impl<C: Context> Function<C> for MapKeys<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let _budget = Budget::enter();
        let src = Source::Map(map_arg(self.source.eval(item)?)?);
        let mut out: Vec<KeyValue> = Vec::new();
        for (k, v) in src.entries() {
            let args = [k, v];
            let key = self.mapper.apply(item, &args, |r| match r {
                Value::Str(s) => Ok(s.into_owned()),
                other => Err(wrong_result("string", &other)),
            });
            let [k, v] = &args;
            let key = key.map_err(|e| src.failed(k, v, e))?;
            match out.iter_mut().find(|e| e.key == key) {
                Some(e) => e.value = Some(v.to_any()),
                None => out.push(super::kv(key, v.to_any())),
            }
        }
        Ok(Value::Map(Cow::Owned(out)))
    }
}

/// Reduce(source, seed, accumulator(acc, k, v)): the accumulator folded over the entries from
/// the seed; the seed when there are none.
struct Reduce<C: Context> {
    source: Expr<C>,
    seed: Expr<C>,
    accumulator: CompiledLambda<C>,
}

impl<C: Context> Function<C> for Reduce<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let _budget = Budget::enter();
        let src = Source::of(self.source.eval(item)?)?;
        let mut acc = self.seed.eval(item)?;
        for (k, v) in src.entries() {
            let args = [acc, k, v];
            acc = self
                .accumulator
                .apply(item, &args, |r| Ok(r.to_any_owned()))?;
        }
        Ok(acc)
    }
}

/// When(condition(), trueValue, falseValue): the value chosen by the condition, the other
/// one not evaluated.
struct When<C: Context> {
    condition: CompiledLambda<C>,
    then: Expr<C>,
    otherwise: Expr<C>,
}

impl<C: Context> Function<C> for When<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let _budget = Budget::enter();
        let holds = self
            .condition
            .test(item, &[])
            .map_err(|e| EvalError::new(format!("error while evaluating lambda function: {e}")))?;
        if holds {
            self.then.eval(item)
        } else {
            self.otherwise.eval(item)
        }
    }
}
