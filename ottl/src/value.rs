//! Values as OTTL expressions produce them, borrowing from the telemetry or the compiled
//! expression where they can (an attribute read is a borrow, not a copy), and otelcol's rules
//! for comparing them (pkg/ottl/compare.go, LANGUAGE.md "Comparison Rules") and for math.

use crate::ast::{CmpOp, MathOp};
use crate::error::EvalError;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A value: nil, a scalar, bytes, a map or list (OTLP attribute form), or a trace or span id.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    Map(Cow<'a, [KeyValue]>),
    List(Cow<'a, [AnyValue]>),
    TraceId([u8; 16]),
    SpanId([u8; 8]),
    /// A point in time, in nanoseconds since the Unix epoch (`start_time`, `Now()`).
    Time(i64),
    /// A duration in nanoseconds (`end_time - start_time`, `Duration("2s")`).
    Duration(i64),
}

impl<'a> Value<'a> {
    /// The value of an OTLP `AnyValue` (an empty one is nil), borrowed.
    pub fn from_any(v: &'a AnyValue) -> Value<'a> {
        v.value.as_ref().map_or(Value::Nil, Value::from_any_value)
    }

    /// Whether [`Value::from_any`] gives `Nil` for `v` (no value, or a profiles dictionary
    /// index), without building the value.
    pub fn is_nil_any(v: &AnyValue) -> bool {
        matches!(
            v.value,
            None | Some(any_value::Value::StringValueStrindex(_))
        )
    }

    /// The value of a set OTLP value, borrowed.
    pub fn from_any_value(v: &'a any_value::Value) -> Value<'a> {
        match v {
            any_value::Value::StringValue(s) => Value::Str(Cow::Borrowed(s)),
            any_value::Value::BoolValue(b) => Value::Bool(*b),
            any_value::Value::IntValue(i) => Value::Int(*i),
            any_value::Value::DoubleValue(f) => Value::Float(*f),
            any_value::Value::BytesValue(b) => Value::Bytes(Cow::Borrowed(b)),
            any_value::Value::ArrayValue(a) => Value::List(Cow::Borrowed(&a.values)),
            any_value::Value::KvlistValue(m) => Value::Map(Cow::Borrowed(&m.values)),
            // A profiles dictionary index: not resolvable outside the profile.
            any_value::Value::StringValueStrindex(_) => Value::Nil,
        }
    }

    /// A borrowed view of this value (no copy of strings, bytes, maps or lists).
    pub fn borrowed(&'a self) -> Value<'a> {
        match self {
            Value::Str(s) => Value::Str(Cow::Borrowed(s)),
            Value::Bytes(b) => Value::Bytes(Cow::Borrowed(b)),
            Value::Map(m) => Value::Map(Cow::Borrowed(m)),
            Value::List(l) => Value::List(Cow::Borrowed(l)),
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

    /// The value as an OTLP `AnyValue` (ids as bytes), for lists and maps built by expressions.
    pub fn to_any(&self) -> AnyValue {
        self.borrowed().into_any()
    }

    /// The value as an OTLP `AnyValue`, moving what it owns (ids as bytes, times and durations
    /// as nanoseconds).
    pub fn into_any(self) -> AnyValue {
        let v = match self {
            Value::Nil => None,
            Value::Bool(b) => Some(any_value::Value::BoolValue(b)),
            Value::Int(i) => Some(any_value::Value::IntValue(i)),
            Value::Float(f) => Some(any_value::Value::DoubleValue(f)),
            Value::Str(s) => Some(any_value::Value::StringValue(s.into_owned())),
            Value::Bytes(b) => Some(any_value::Value::BytesValue(b.into_owned())),
            Value::TraceId(id) => Some(any_value::Value::BytesValue(id.to_vec())),
            Value::SpanId(id) => Some(any_value::Value::BytesValue(id.to_vec())),
            Value::Time(t) | Value::Duration(t) => Some(any_value::Value::IntValue(t)),
            Value::Map(m) => Some(any_value::Value::KvlistValue(KeyValueList {
                values: m.into_owned(),
            })),
            Value::List(l) => Some(any_value::Value::ArrayValue(ArrayValue {
                values: l.into_owned(),
            })),
        };
        AnyValue { value: v }
    }

    /// The type's name in error messages (Go's names, as otelcol's messages show them).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Bytes(_) => "[]byte",
            Value::Map(_) => "pcommon.Map",
            Value::List(_) => "pcommon.Slice",
            Value::TraceId(_) => "pcommon.TraceID",
            Value::SpanId(_) => "pcommon.SpanID",
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
        }
    }
}

/// `a op b` under otelcol's comparison rules: nil equals only nil; values of different types are
/// never equal (so `!=` holds) and never ordered, except ints and floats, which compare
/// numerically; maps and lists support only `==` and `!=`.
pub fn compare(a: &Value<'_>, b: &Value<'_>, op: CmpOp) -> bool {
    use Value::*;
    let invalid = op == CmpOp::Ne;
    let ord = match (a, b) {
        (Nil, Nil) => Ordering::Equal,
        (Bool(x), Bool(y)) => x.cmp(y),
        (Int(x), Int(y)) => x.cmp(y),
        (Int(x), Float(y)) => return float_cmp(*x as f64, *y, op),
        (Float(x), Int(y)) => return float_cmp(*x, *y as f64, op),
        (Float(x), Float(y)) => return float_cmp(*x, *y, op),
        // Equality first compares lengths, so most mismatches read no bytes.
        (Str(x), Str(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
            return equality_only(x == y, op)
        }
        (Str(x), Str(y)) => x.as_ref().cmp(y.as_ref()),
        (Bytes(x), Bytes(y)) => x.as_ref().cmp(y.as_ref()),
        (Map(x), Map(y)) => return equality_only(maps_equal(x, y), op),
        (List(x), List(y)) => return equality_only(x == y, op),
        (TraceId(x), TraceId(y)) => return equality_only(x == y, op),
        (SpanId(x), SpanId(y)) => return equality_only(x == y, op),
        (Time(x), Time(y)) | (Duration(x), Duration(y)) => x.cmp(y),
        _ => return invalid,
    };
    op.holds(ord)
}

/// Go's float comparisons: any comparison with NaN is false, except `!=`.
fn float_cmp(x: f64, y: f64, op: CmpOp) -> bool {
    match x.partial_cmp(&y) {
        Some(ord) => op.holds(ord),
        None => op == CmpOp::Ne,
    }
}

fn equality_only(equal: bool, op: CmpOp) -> bool {
    match op {
        CmpOp::Eq => equal,
        CmpOp::Ne => !equal,
        _ => false,
    }
}

/// Map equality ignores the order of keys, as pcommon's does.
fn maps_equal(a: &[KeyValue], b: &[KeyValue]) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|kv| b.iter().any(|o| o.key == kv.key && o.value == kv.value))
}

/// `a op b` for ints and floats (an int with a float is float math), as otelcol's math.
pub fn math<'a>(a: Value<'a>, op: MathOp, b: Value<'a>) -> Result<Value<'a>, EvalError> {
    match (&a, &b) {
        (Value::Int(x), Value::Int(y)) => int_math(*x, op, *y).map(Value::Int),
        (Value::Int(x), Value::Float(y)) => float_math(*x as f64, op, *y),
        (Value::Float(x), Value::Int(y)) => float_math(*x, op, *y as f64),
        (Value::Float(x), Value::Float(y)) => float_math(*x, op, *y),
        (Value::Time(_) | Value::Duration(_), _) => time_math(&a, op, &b),
        (Value::Int(_) | Value::Float(_), other) => Err(EvalError::new(format!(
            "{} must be int64 or float64",
            display(other)
        ))),
        (other, _) => Err(EvalError::new(format!(
            "{} must be int64, float64, time.Time or time.Duration",
            display(other)
        ))),
    }
}

/// Math on times and durations, as otelcol: time ± duration, time - time, duration ± duration.
fn time_math<'a>(a: &Value<'_>, op: MathOp, b: &Value<'_>) -> Result<Value<'a>, EvalError> {
    use Value::{Duration, Time};
    let bad = |m: &str| Err(EvalError::new(format!("{m}; found {} instead", display(b))));
    match (a, op, b) {
        (Time(t), MathOp::Add, Duration(d)) | (Duration(d), MathOp::Add, Time(t)) => {
            Ok(Time(t.saturating_add(*d)))
        }
        (Time(t), MathOp::Sub, Duration(d)) => Ok(Time(t.saturating_sub(*d))),
        (Time(t), MathOp::Sub, Time(u)) => Ok(Duration(t.saturating_sub(*u))),
        (Duration(d), MathOp::Add, Duration(e)) => Ok(Duration(d.saturating_add(*e))),
        (Duration(d), MathOp::Sub, Duration(e)) => Ok(Duration(d.saturating_sub(*e))),
        (Time(_), MathOp::Add, _) => bad("time.Time must be added to time.Duration"),
        (Time(_), MathOp::Sub, _) => {
            bad("time.Time or time.Duration must be subtracted from time.Time")
        }
        (Duration(_), MathOp::Add, _) => {
            bad("time.Duration must be added to time.Duration or time.Time")
        }
        (Duration(_), MathOp::Sub, _) => bad("time.Duration must be subtracted from time.Duration"),
        _ => Err(EvalError::new(
            "only addition and subtraction supported for time.Time and time.Duration",
        )),
    }
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units (`1h30m`, `1.5s`,
/// `-300ms`); `0` alone is allowed.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.trim() != rest {
        return None;
    }
    let ns = i64::try_from(ferrotel_config::GoDuration::parse(rest).ok()?.0.as_nanos()).ok()?;
    Some(if neg { -ns } else { ns })
}

fn int_math(x: i64, op: MathOp, y: i64) -> Result<i64, EvalError> {
    Ok(match op {
        MathOp::Add => x.wrapping_add(y),
        MathOp::Sub => x.wrapping_sub(y),
        MathOp::Mul => x.wrapping_mul(y),
        MathOp::Div => {
            if y == 0 {
                return Err(EvalError::new("attempted to divide by 0"));
            }
            x.wrapping_div(y)
        }
    })
}

fn float_math<'a>(x: f64, op: MathOp, y: f64) -> Result<Value<'a>, EvalError> {
    Ok(Value::Float(match op {
        MathOp::Add => x + y,
        MathOp::Sub => x - y,
        MathOp::Mul => x * y,
        MathOp::Div => {
            if y == 0.0 {
                return Err(EvalError::new("attempted to divide by 0"));
            }
            x / y
        }
    }))
}

/// Unary minus.
pub fn negate(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v {
        Value::Int(i) => Ok(Value::Int(i.wrapping_neg())),
        Value::Float(f) => Ok(Value::Float(-f)),
        other => Err(EvalError::new(format!(
            "unsupported unary minus operation on type {}",
            other.type_name()
        ))),
    }
}

/// How a value reads in an error message.
pub fn display(v: &Value<'_>) -> String {
    match v {
        Value::Nil => "<nil>".into(),
        other => string_like(other).map_or_else(|| other.type_name().into(), Cow::into_owned),
    }
}

/// otelcol's string-like conversion (StringLikeGetter): strings as they are, bytes as hex,
/// numbers and booleans as Go formats them, maps and lists as JSON; nil has none.
pub fn string_like<'a>(v: &Value<'a>) -> Option<Cow<'a, str>> {
    Some(match v {
        Value::Nil => return None,
        Value::Str(s) => s.clone(),
        Value::Bool(b) => Cow::Owned(b.to_string()),
        Value::Int(i) => Cow::Owned(i.to_string()),
        Value::Float(f) => Cow::Owned(go_float(*f)),
        Value::Bytes(b) => Cow::Owned(hex::encode(b)),
        Value::TraceId(id) => Cow::Owned(hex::encode(id)),
        Value::SpanId(id) => Cow::Owned(hex::encode(id)),
        Value::Time(t) => Cow::Owned(t.to_string()),
        Value::Duration(d) => Cow::Owned(format!("{d}ns")),
        Value::Map(_) | Value::List(_) => {
            let mut out = String::new();
            json(&v.to_any(), &mut out);
            Cow::Owned(out)
        }
    })
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back the same.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{f}")
    }
}

/// Writes an `AnyValue` as JSON (maps keep their order).
fn json(v: &AnyValue, out: &mut String) {
    use any_value::Value as V;
    match &v.value {
        None | Some(V::StringValueStrindex(_)) => out.push_str("null"),
        Some(V::StringValue(s)) => json_str(s, out),
        Some(V::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(V::IntValue(i)) => out.push_str(&i.to_string()),
        Some(V::DoubleValue(f)) => out.push_str(&go_float(*f)),
        Some(V::BytesValue(b)) => json_str(&hex::encode(b), out),
        Some(V::ArrayValue(a)) => {
            out.push('[');
            for (i, item) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(item, out);
            }
            out.push(']');
        }
        Some(V::KvlistValue(m)) => {
            out.push('{');
            for (i, kv) in m.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(&kv.key, out);
                out.push(':');
                match &kv.value {
                    Some(v) => json(v, out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
