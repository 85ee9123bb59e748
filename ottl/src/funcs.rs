//! Converter dispatch: [`converter`] builds any converter by otelcol's name. The ones
//! conditions use most are here, with otelcol's names, parameter names (for named arguments),
//! argument checks and semantics (pkg/ottl/ottlfuncs): IsMatch, IsString, IsInt, IsDouble,
//! IsBool, IsMap, IsList, Len, Concat, Int, Double, String, ConvertCase, Substring, Split,
//! HasPrefix, HasSuffix, Duration, Now; the others are in [`crate::converters`] by theme.
//! Arguments are bound at compile time; a literal regular expression is compiled once, with a
//! size limit.

use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::value::{parse_go_duration, string_like, Value};
use ferrotel_core::proto::common::v1::{any_value, AnyValue};
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;

/// Most memory a compiled regular expression may take.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The converters [`converter`] knows, for messages and docs.
pub const CONVERTERS: &[&str] = &[
    "Base64Decode",
    "Base64Encode",
    "Bool",
    "Coalesce",
    "CommunityID",
    "Concat",
    "ContainsValue",
    "ConvertAttributesToElementsXML",
    "ConvertCase",
    "ConvertTextToElementsXML",
    "Day",
    "Decode",
    "Double",
    "Duration",
    "ExtractGrokPatterns",
    "ExtractPatterns",
    "FNV",
    "Format",
    "FormatTime",
    "GetXML",
    "HasPrefix",
    "HasSuffix",
    "Hex",
    "Hour",
    "Hours",
    "Index",
    "InsertXML",
    "Int",
    "IsBool",
    "IsDouble",
    "IsEmpty",
    "IsInCIDR",
    "IsInt",
    "IsList",
    "IsMap",
    "IsMatch",
    "IsString",
    "IsValidLuhn",
    "Keys",
    "Len",
    "Log",
    "MD5",
    "Microseconds",
    "Milliseconds",
    "Minute",
    "Minutes",
    "Month",
    "Murmur3Hash",
    "Murmur3Hash128",
    "Nanosecond",
    "Nanoseconds",
    "Now",
    "ParseCSV",
    "ParseInt",
    "ParseJSON",
    "ParseKeyValue",
    "ParseSeverity",
    "ParseSimplifiedXML",
    "ParseXML",
    "ProfileID",
    "RemoveXML",
    "SHA1",
    "SHA256",
    "SHA512",
    "Second",
    "Seconds",
    "SliceToMap",
    "Sort",
    "SpanID",
    "Split",
    "String",
    "Substring",
    "Time",
    "ToCamelCase",
    "ToKeyValueString",
    "ToLowerCase",
    "ToSnakeCase",
    "ToUpperCase",
    "TraceID",
    "Trim",
    "TrimPrefix",
    "TrimSuffix",
    "TruncateTime",
    "URL",
    "UUID",
    "UserAgent",
    "UUIDv7",
    "Unix",
    "UnixMicro",
    "UnixMilli",
    "UnixNano",
    "UnixSeconds",
    "Values",
    "Weekday",
    "XXH128",
    "XXH3",
    "Year",
];

pub(crate) type Unary = for<'a> fn(Value<'a>) -> Result<Value<'a>, EvalError>;
pub(crate) type Binary = for<'a> fn(Value<'a>, Value<'a>) -> Result<Value<'a>, EvalError>;

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
        _ => more_converters(name, args),
    }
}

/// The converters in [`crate::converters`], by name. Parameter names are otelcol's argument
/// struct fields (`target` where its docs say `value`, as only the field name binds there).
fn more_converters<C: Context>(
    name: &str,
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Function<C>>, String> {
    use crate::converters::{collections as col, encoding as enc, hash, nary};
    use crate::converters::{parse, strings as st, xml_edit};
    let unary = |f, param, args| unary_fn::<C>(name, f, param, args);
    let binary = |f, params, args| binary_fn::<C>(name, f, params, args);
    match name {
        // Hashes.
        "SHA1" => unary(hash::sha1, "target", args),
        "SHA256" => unary(hash::sha256, "target", args),
        "SHA512" => unary(hash::sha512, "target", args),
        "MD5" => unary(hash::md5, "target", args),
        "FNV" => unary(hash::fnv, "target", args),
        "Murmur3Hash" => unary(hash::murmur3, "target", args),
        "Murmur3Hash128" => unary(hash::murmur3_128, "target", args),
        "XXH3" => unary(hash::xxh3, "target", args),
        "XXH128" => unary(hash::xxh128, "target", args),
        // Encodings.
        "Hex" => unary(enc::hex, "target", args),
        "Base64Decode" => unary(enc::base64_decode, "target", args),
        "Base64Encode" => nary(name, args, &["target", "variant"], 1, enc::base64_encode),
        "Decode" => enc::decode(args),
        // Strings.
        "Trim" => nary(name, args, &["target", "replacement"], 1, st::trim),
        "TrimPrefix" => binary(st::trim_prefix, ["target", "prefix"], args),
        "TrimSuffix" => binary(st::trim_suffix, ["target", "suffix"], args),
        "ToLowerCase" => unary(st::to_lower, "target", args),
        "ToUpperCase" => unary(st::to_upper, "target", args),
        "ToSnakeCase" => unary(st::to_snake, "target", args),
        "ToCamelCase" => unary(st::to_camel, "target", args),
        "Format" => nary(name, args, &["format", "vals"], 2, st::format),
        "ExtractPatterns" => st::extract_patterns(args),
        "ExtractGrokPatterns" => crate::converters::grok::extract_grok_patterns(args),
        "ParseInt" => binary(st::parse_int, ["target", "base"], args),
        "IsValidLuhn" => unary(st::is_valid_luhn, "target", args),
        "Log" => unary(st::log, "target", args),
        "Bool" => unary(st::bool, "target", args),
        "IsEmpty" => unary(st::is_empty, "target", args),
        "Coalesce" => st::coalesce(args),
        "ParseSeverity" => binary(st::parse_severity, ["target", "mapping"], args),
        // Maps and lists.
        "Keys" => unary(col::keys, "target", args),
        "Values" => unary(col::values, "target", args),
        "ContainsValue" => binary(col::contains_value, ["target", "item"], args),
        "Index" => binary(col::index, ["source", "value"], args),
        "SliceToMap" => col::slice_to_map(args),
        "Sort" => col::sort(args),
        // Parsing.
        "ParseJSON" => unary(parse::parse_json, "target", args),
        "ParseKeyValue" => parse::parse_key_value(args),
        "ParseCSV" => parse::parse_csv(args),
        "ToKeyValueString" => parse::to_key_value_string(args),
        "URL" => unary(crate::converters::url::url, "URI", args),
        "UserAgent" => {
            crate::converters::user_agent::prepare()?;
            unary(crate::converters::user_agent::user_agent, "UserAgent", args)
        }
        "ParseXML" => unary(crate::converters::xml::parse_xml, "target", args),
        "ParseSimplifiedXML" => unary(crate::converters::xml::parse_simplified_xml, "target", args),
        "GetXML" => xml_edit::get_xml(args),
        "InsertXML" => xml_edit::insert_xml(args),
        "RemoveXML" => xml_edit::remove_xml(args),
        "ConvertAttributesToElementsXML" => xml_edit::convert_attributes_to_elements_xml(args),
        "ConvertTextToElementsXML" => xml_edit::convert_text_to_elements_xml(args),
        _ => time_and_id_converters(name, args),
    }
}

/// The time, network and id converters in [`crate::converters`], by name.
fn time_and_id_converters<C: Context>(
    name: &str,
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Function<C>>, String> {
    use crate::converters::{ids, nary, time as tm};
    let unary = |f, param, args| unary_fn::<C>(name, f, param, args);
    let binary = |f, params, args| binary_fn::<C>(name, f, params, args);
    match name {
        // Times and durations.
        "Time" => tm::time(args),
        "FormatTime" => tm::format_time(args),
        "TruncateTime" => binary(tm::truncate_time, ["time", "duration"], args),
        "Unix" => nary(name, args, &["seconds", "nanoseconds"], 1, tm::unix),
        "UnixSeconds" => unary(tm::unix_seconds, "time", args),
        "UnixMilli" => unary(tm::unix_milli, "time", args),
        "UnixMicro" => unary(tm::unix_micro, "time", args),
        "UnixNano" => unary(tm::unix_nano, "time", args),
        "Year" => unary(tm::year, "time", args),
        "Month" => unary(tm::month, "time", args),
        "Day" => unary(tm::day, "time", args),
        "Hour" => unary(tm::hour, "time", args),
        "Minute" => unary(tm::minute, "time", args),
        "Second" => unary(tm::second, "time", args),
        "Nanosecond" => unary(tm::nanosecond, "time", args),
        "Weekday" => unary(tm::weekday, "time", args),
        "Hours" => unary(tm::hours, "duration", args),
        "Minutes" => unary(tm::minutes, "duration", args),
        "Seconds" => unary(tm::seconds, "duration", args),
        "Milliseconds" => unary(tm::milliseconds, "duration", args),
        "Microseconds" => unary(tm::microseconds, "duration", args),
        "Nanoseconds" => unary(tm::nanoseconds, "duration", args),
        // Networks.
        "IsInCIDR" => crate::converters::network::is_in_cidr(args),
        "CommunityID" => {
            let params = &[
                "sourceIP",
                "sourcePort",
                "destinationIP",
                "destinationPort",
                "protocol",
                "seed",
            ];
            nary(
                name,
                args,
                params,
                4,
                crate::converters::network::community_id,
            )
        }
        // Ids.
        "TraceID" => unary(ids::trace_id, "target", args),
        "SpanID" => unary(ids::span_id, "target", args),
        "ProfileID" => unary(ids::profile_id, "target", args),
        "UUID" | "UUIDv7" => {
            bind::<C, 0>(name, args, &[])?;
            Ok(Box::new(ids::NewUuid {
                v7: name == "UUIDv7",
            }))
        }
        // otelcol registers the lambda converters only while its gate is enabled.
        _ if crate::converters::lambdas::NAMES.contains(&name) && crate::lambda::enabled() => {
            crate::converters::lambdas::build(name, args)
        }
        _ => Err(format!("undefined function {name:?}")),
    }
}

fn unary_fn<C: Context>(
    name: &str,
    f: Unary,
    param: &str,
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Function<C>>, String> {
    let [arg] = bind::<C, 1>(name, args, &[param])?;
    Ok(Box::new(UnaryFn { arg, f }))
}

fn binary_fn<C: Context>(
    name: &str,
    f: Binary,
    params: [&str; 2],
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Function<C>>, String> {
    let [a, b] = bind::<C, 2>(name, args, &params)?;
    Ok(Box::new(BinaryFn { a, b, f }))
}

/// Binds positional then named arguments to `params`, all required.
pub(crate) fn bind<C: Context, const N: usize>(
    name: &str,
    args: Vec<CompiledArg<C>>,
    params: &[&str; N],
) -> Result<[Expr<C>; N], String> {
    let bound = bind_optional::<C, N>(name, args, params, N)?;
    Ok(bound.map(|e| e.unwrap_or(Expr::Literal(Value::Nil))))
}

/// Binds positional then named arguments to `params`, of which the first `required` must be
/// given; the others (otelcol's `Optional[...]`) are `None` when absent.
pub(crate) fn bind_optional<C: Context, const N: usize>(
    name: &str,
    args: Vec<CompiledArg<C>>,
    params: &[&str; N],
    required: usize,
) -> Result<[Option<Expr<C>>; N], String> {
    let slots = slots(name, args, params, required)?;
    let mut out: [Option<Expr<C>>; N] = std::array::from_fn(|_| None);
    for (at, slot) in slots.into_iter().enumerate() {
        let Some((pos, arg)) = slot else { continue };
        out[at] = Some(value_arg(name, pos, arg, params[at] == "function")?);
    }
    Ok(out)
}

/// The expression of `name`'s argument at call position `pos`. A lambda is refused, and so is
/// a function name unless the parameter takes one (`takes_function`: the replacing editors').
pub(crate) fn value_arg<C: Context>(
    name: &str,
    pos: usize,
    arg: CompiledArg<C>,
    takes_function: bool,
) -> Result<Expr<C>, String> {
    let invalid = |what: &str| {
        format!(
            "error while parsing arguments for call to {name:?}: invalid argument at position \
             {pos}: {what}"
        )
    };
    if arg.lambda.is_some() {
        return Err(invalid("a lambda expression is not a value"));
    }
    match arg.value {
        Ok(e) => Ok(e),
        Err(f) if takes_function => Ok(Expr::Literal(Value::Str(Cow::Owned(f)))),
        Err(f) => Err(invalid(&format!("{f} is a function name, not a value"))),
    }
}

/// An argument placed in a parameter's slot, with its position in the call.
pub(crate) type Slot<C> = Option<(usize, CompiledArg<C>)>;

/// Places positional then named arguments among `params`, each once, with their positions in
/// the call; the first `required` must be given.
pub(crate) fn slots<C: Context, const N: usize>(
    name: &str,
    args: Vec<CompiledArg<C>>,
    params: &[&str; N],
    required: usize,
) -> Result<[Slot<C>; N], String> {
    if args.len() > N || (required == N && args.len() != N) {
        return Err(format!(
            "error while parsing arguments for call to {name:?}: incorrect number of arguments. \
             Expected: {N} Received: {}",
            args.len()
        ));
    }
    let mut slots: [Slot<C>; N] = std::array::from_fn(|_| None);
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
                let n_camel = go_camel(n);
                params.iter().position(|p| go_camel(p) == n_camel).ok_or_else(|| {
                    format!("error while parsing arguments for call to {name:?}: no such parameter: {n}")
                })?
            }
        };
        if slots[at].replace((pos, arg)).is_some() {
            return Err(format!(
                "error while parsing arguments for call to {name:?}: {} provided more than once",
                params[at]
            ));
        }
    }
    if let Some(missing) = slots[..required].iter().position(Option::is_none) {
        return Err(format!(
            "error while parsing arguments for call to {name:?}: missing required argument {}",
            params[missing]
        ));
    }
    Ok(slots)
}

/// otelcol finds a named argument's field with `strcase.ToCamel(name)`, so `pair_delimiter`
/// and `pairDelimiter` both name `PairDelimiter`: the first letter and letters after `_`, `-`,
/// `.`, a space or a digit are capitalized, separators dropped, the rest kept.
fn go_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut cap_next = true;
    for c in name.chars() {
        if c.is_ascii_alphabetic() {
            out.push(if cap_next { c.to_ascii_uppercase() } else { c });
            cap_next = false;
        } else if c.is_ascii_digit() {
            out.push(c);
            cap_next = true;
        } else {
            cap_next = matches!(c, '_' | ' ' | '-' | '.');
        }
    }
    out
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

pub(crate) struct UnaryFn<C: Context> {
    pub(crate) arg: Expr<C>,
    pub(crate) f: Unary,
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
pub(crate) fn string_arg(v: Value<'_>) -> Result<Cow<'_, str>, EvalError> {
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
pub(crate) fn int_arg(v: Value<'_>) -> Result<i64, EvalError> {
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
    bounded_regex(pattern)
        .map_err(|e| format!("the pattern supplied to IsMatch is not a valid regexp pattern: {e}"))
}

/// A regular expression compiled with a size limit.
pub(crate) fn bounded_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
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
pub(crate) enum Case {
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
        Ok(Value::Str(Cow::Owned(apply_case(&s, self.case))))
    }
}

/// `s` in `case`.
pub(crate) fn apply_case(s: &str, case: Case) -> String {
    match case {
        Case::Lower => s.to_lowercase(),
        Case::Upper => s.to_uppercase(),
        Case::Snake => words(s)
            .iter()
            .map(|w| w.to_lowercase())
            .collect::<Vec<_>>()
            .join("_"),
        Case::Camel => words(s).iter().map(|w| capitalize(w)).collect(),
    }
}

/// Words of an identifier: split at spaces, `_`, `-`, `.`, and where case changes
/// (`HTTPServer` is `HTTP`, `Server`).
pub(crate) fn words(s: &str) -> Vec<String> {
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

pub(crate) fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `Substring(target, start, length, Optional[utf8_safe])`: byte offsets; with `utf8_safe`, a
/// start inside a character moves to the next character and an end inside one to the one
/// before, so no character is split.
struct Substring<C: Context> {
    target: Expr<C>,
    start: Expr<C>,
    length: Expr<C>,
    utf8_safe: Option<Expr<C>>,
}

fn substring<C: Context>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Function<C>>, String> {
    let params = &["target", "start", "length", "utf8_safe"];
    let [target, start, length, utf8_safe] = bind_optional::<C, 4>("Substring", args, params, 3)?;
    let missing = || "missing argument".to_string();
    Ok(Box::new(Substring {
        target: target.ok_or_else(missing)?,
        start: start.ok_or_else(missing)?,
        length: length.ok_or_else(missing)?,
        utf8_safe,
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
        let (mut start, mut end) = (start as usize, end as usize);
        let safe = match &self.utf8_safe {
            None => false,
            Some(e) => match e.eval(item)? {
                Value::Bool(b) => b,
                Value::Nil => false,
                other => {
                    return Err(EvalError::new(format!(
                        "expected bool but got {}",
                        other.type_name()
                    )))
                }
            },
        };
        if safe {
            while !s.is_char_boundary(start) {
                start += 1;
            }
            while end > start && !s.is_char_boundary(end) {
                end -= 1;
            }
            end = end.max(start);
        }
        let bytes = &s.as_bytes()[start..end];
        Ok(Value::Str(Cow::Owned(
            String::from_utf8_lossy(bytes).into_owned(),
        )))
    }
}

/// The converter of one string to a string named `name`, for the replacing editors' optional
/// `function` argument (otelcol passes hash converters there).
pub(crate) fn string_function(name: &str) -> Option<crate::replace::StringFunction> {
    crate::converters::string_function(name)
}
