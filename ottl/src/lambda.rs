//! Lambda expressions, otelcol's `LambdaExpression` (alpha, behind the
//! `ottl.functions.enableLambda` feature gate): `(k, v) => body` as a function argument.
//!
//! The parser resolves a parameter to (how many lambdas out, its position); a body compiles in
//! the context [`Lambda<C>`], whose item is the telemetry item with a [`Frame`] of argument
//! values (each frame linking to the enclosing lambda's), so paths read the item as outside the
//! lambda and parameters read the frame. Nested lambdas share `Lambda<C>`. Arguments are
//! values borrowed from the source list or map, bound on the stack for each invocation:
//! calling a lambda allocates nothing itself.

use crate::ast::{self, LambdaBody};
use crate::compile::{self, BoolExpr, CKey, CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::value::Value;
use ferrotel_config::featuregate::{global, GateSpec, Stage};
use std::marker::PhantomData;

/// otelcol's gate for lambda arguments and the functions taking them.
pub const ENABLE_LAMBDA: &str = "ottl.functions.enableLambda";

/// Registers otelcol's `ottl.functions.enableLambda` gate (alpha, so disabled unless
/// `--feature-gates=ottl.functions.enableLambda`); registering again changes nothing.
pub fn register_feature_gates() {
    let spec = GateSpec::new(ENABLE_LAMBDA, Stage::Alpha)
        .description(
            "Allow OTTL functions to take lambda arguments. When disabled, lambda arguments are \
             rejected.",
        )
        .reference_url(
            "https://github.com/open-telemetry/opentelemetry-collector-contrib/pull/48227",
        )
        .from_version("v0.155.0");
    let _ = global().register(spec);
}

/// Whether lambda functions are enabled (the gate is registered and on).
pub fn enabled() -> bool {
    global().is_enabled(ENABLE_LAMBDA)
}

/// Most lambda invocations in one call of a lambda converter, the invocations of lambda
/// converters nested in its lambdas included (ferrotel's bound: nesting multiplies the work,
/// `MapEach(list, (_, v) => MapEach(list, ...))`, and sources come from the data).
pub const MAX_LAMBDA_INVOCATIONS: usize = 100_000;

thread_local! {
    /// Lambda converter calls in progress on this thread, and invocations since the
    /// outermost began.
    static BUDGET: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// Marks a lambda converter call in progress: the outermost one starts the count of
/// invocations that [`CompiledLambda::apply`] bounds by [`MAX_LAMBDA_INVOCATIONS`].
pub struct Budget(());

impl Budget {
    pub fn enter() -> Budget {
        BUDGET.with(|b| {
            let (depth, used) = b.get();
            b.set((depth + 1, if depth == 0 { 0 } else { used }));
        });
        Budget(())
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        BUDGET.with(|b| {
            let (depth, used) = b.get();
            b.set((depth.saturating_sub(1), used));
        });
    }
}

/// Counts one invocation against the outermost call's budget.
fn spend() -> Result<(), EvalError> {
    BUDGET.with(|b| {
        let (depth, used) = b.get();
        if used >= MAX_LAMBDA_INVOCATIONS {
            return Err(EvalError::new(format!(
                "lambda expressions evaluated more than {MAX_LAMBDA_INVOCATIONS} times in one \
                 call of a lambda function"
            )));
        }
        b.set((depth, used + 1));
        Ok(())
    })
}

/// The arguments of one lambda invocation, and the enclosing lambda's.
#[derive(Debug)]
pub struct Frame<'s> {
    pub values: &'s [Value<'s>],
    pub parent: Option<&'s Frame<'s>>,
}

/// Reads parameter `index` of the lambda `up` levels out from the innermost one.
pub(crate) fn param_value<'a, C: Context>(
    item: C::Item<'a>,
    up: usize,
    index: usize,
) -> Result<Value<'a>, EvalError> {
    let mut frame = C::frame(item);
    for _ in 0..up {
        frame = frame.and_then(|f| f.parent);
    }
    frame
        .and_then(|f| f.values.get(index))
        .map(Value::borrowed)
        .ok_or_else(|| EvalError::new("lambda parameter read outside its lambda"))
}

/// The context a lambda body is compiled in: `C`'s paths, enums and converters, plus the
/// parameters of the lambdas around it.
pub struct Lambda<C>(PhantomData<fn() -> C>);

/// An item of `C` with the innermost lambda's arguments.
pub struct LambdaItem<'s, C: Context> {
    pub outer: C::Item<'s>,
    pub frame: &'s Frame<'s>,
}

impl<C: Context> Clone for LambdaItem<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C: Context> Copy for LambdaItem<'_, C> {}

/// Declares a telemetry context's lambda support in its `impl Context`: bodies compile in
/// [`Lambda<Self>`], whose items are the context's items with a frame of arguments.
#[macro_export]
macro_rules! lambda_host {
    () => {
        type Lambda = $crate::lambda::Lambda<Self>;

        fn reborrow<'l: 's, 's>(item: Self::Item<'l>) -> Self::Item<'s> {
            item
        }

        fn enter<'s>(
            item: Self::Item<'s>,
            frame: &'s $crate::lambda::Frame<'s>,
        ) -> $crate::lambda::LambdaItem<'s, Self> {
            $crate::lambda::LambdaItem { outer: item, frame }
        }
    };
}

impl<C: Context> Context for Lambda<C> {
    const NAME: &'static str = C::NAME;
    type Item<'a> = LambdaItem<'a, C>;
    type Path = C::Path;
    type Lambda = Self;
    const OWN_CONVERTERS: &'static [&'static str] = C::OWN_CONVERTERS;

    fn path(path: &ast::Path) -> Result<(Self::Path, Vec<ast::Key>), String> {
        C::path(path)
    }

    fn get<'a>(path: &'a Self::Path, item: Self::Item<'a>) -> Result<Value<'a>, EvalError> {
        C::get(path, item.outer)
    }

    fn enum_value(name: &str) -> Option<i64> {
        C::enum_value(name)
    }

    fn is_attributes(path: &Self::Path) -> bool {
        C::is_attributes(path)
    }

    fn attributes<'a>(
        path: &'a Self::Path,
        item: Self::Item<'a>,
    ) -> &'a [ferrotel_core::proto::common::v1::KeyValue] {
        C::attributes(path, item.outer)
    }

    /// `C`'s own converters, when their arguments read no lambda parameter (literals and
    /// paths): evaluated on the item outside the lambda.
    fn own_converter(
        name: &str,
        args: Vec<CompiledArg<Self>>,
    ) -> Result<Box<dyn Function<Self>>, String> {
        let args = args
            .into_iter()
            .map(|a| {
                let value = match a.value {
                    Ok(e) => Ok(lower::<C>(e).ok_or_else(|| {
                        format!("{name} in a lambda takes only literals and paths")
                    })?),
                    Err(f) => Err(f),
                };
                Ok(CompiledArg {
                    name: a.name,
                    value,
                    lambda: a.lambda,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Box::new(Outer(C::own_converter(name, args)?)))
    }

    fn reborrow<'l: 's, 's>(item: Self::Item<'l>) -> Self::Item<'s> {
        LambdaItem {
            outer: C::reborrow(item.outer),
            frame: item.frame,
        }
    }

    fn enter<'s>(item: Self::Item<'s>, frame: &'s Frame<'s>) -> Self::Item<'s> {
        LambdaItem {
            outer: item.outer,
            frame,
        }
    }

    fn frame<'s>(item: Self::Item<'s>) -> Option<&'s Frame<'s>> {
        Some(item.frame)
    }
}

/// A converter of `C` called from a lambda body.
struct Outer<C: Context>(Box<dyn Function<C>>);

impl<C: Context> Function<Lambda<C>> for Outer<C> {
    fn call<'a>(&'a self, item: LambdaItem<'a, C>) -> Result<Value<'a>, EvalError> {
        self.0.call(item.outer)
    }
}

/// A lambda-body expression as one of `C`, when it is a literal or a path with literal keys.
fn lower<C: Context>(e: Expr<Lambda<C>>) -> Option<Expr<C>> {
    match e {
        Expr::Literal(v) => Some(Expr::Literal(v)),
        Expr::Path(p, keys) => {
            let keys = keys
                .into_iter()
                .map(|k| match k {
                    CKey::Str(s) => Some(CKey::Str(s)),
                    CKey::Int(i) => Some(CKey::Int(i)),
                    CKey::Expr(_) => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Expr::Path(p, keys))
        }
        _ => None,
    }
}

/// A compiled lambda argument of a function of context `C`.
pub struct CompiledLambda<C: Context> {
    body: Body<C::Lambda>,
}

enum Body<L: Context> {
    Value(Expr<L>),
    Bool(BoolExpr<L>),
}

impl<C: Context> CompiledLambda<C> {
    /// Compiles `lambda`, which must declare `arity` parameters (otelcol's `ValidateArity`).
    pub fn new(lambda: &ast::Lambda, arity: usize) -> Result<Self, String> {
        if lambda.params.len() != arity {
            return Err(format!(
                "lambda should be defined with exactly {arity} formal(s), but has {}",
                lambda.params.len()
            ));
        }
        let body = match &lambda.body {
            LambdaBody::Value(v) => Body::Value(compile::value::<C::Lambda>(v)?),
            LambdaBody::Bool(b) => Body::Bool(compile::bool_expr::<C::Lambda>(b)?),
        };
        Ok(CompiledLambda { body })
    }

    /// Evaluates the body with `args` bound to the parameters, in order, and hands its value
    /// to `f` (the value may borrow from `args`, so it does not outlive the call).
    pub fn apply<'a, R>(
        &'a self,
        item: C::Item<'a>,
        args: &[Value<'_>],
        f: impl FnOnce(Value<'_>) -> Result<R, EvalError>,
    ) -> Result<R, EvalError> {
        spend()?;
        let frame = Frame {
            values: args,
            parent: C::frame(item),
        };
        let inner = C::enter(C::reborrow(item), &frame);
        match &self.body {
            Body::Value(e) => f(e.eval(inner)?),
            Body::Bool(b) => f(Value::Bool(b.eval(inner)?)),
        }
    }

    /// Evaluates a predicate: the body must return a bool.
    pub fn test<'a>(&'a self, item: C::Item<'a>, args: &[Value<'_>]) -> Result<bool, EvalError> {
        self.apply(item, args, |v| match v {
            Value::Bool(b) => Ok(b),
            other => Err(wrong_result("bool", &other)),
        })
    }
}

/// otelcol's error for a lambda result of the wrong type.
pub(crate) fn wrong_result(want: &str, got: &Value<'_>) -> EvalError {
    EvalError::new(format!(
        "lambda expression must return a value of type {want}, got {}",
        go_type(got)
    ))
}

/// A value's type as Go's `%T` prints otelcol's value of it.
pub(crate) fn go_type(v: &Value<'_>) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bytes(_) => "[]uint8",
        other => other.type_name(),
    }
}
