//! Parsing converters: ParseJSON, ParseKeyValue, ParseCSV, ToKeyValueString.

use super::{any_str, kv, map_arg, opt_literal, put, str_value, Built};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{bind_optional, string_arg};
use crate::value::{string_like, Value};
use base64::Engine;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use std::borrow::Cow;

/// ParseJSON(target): an object as a map, an array as a list; numbers are doubles, `null` an
/// empty value. Nesting is limited (serde_json's recursion limit).
pub fn parse_json(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    let parsed: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| EvalError::new(format!("ParseJSON: {e}")))?;
    match json_to_any(parsed).value {
        Some(any_value::Value::KvlistValue(m)) => Ok(Value::Map(Cow::Owned(m.values))),
        Some(any_value::Value::ArrayValue(a)) => Ok(Value::List(Cow::Owned(a.values))),
        _ => Err(EvalError::new(
            "could not convert parsed value to JSON object or array",
        )),
    }
}

fn json_to_any(v: serde_json::Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(V::BoolValue(b)),
        serde_json::Value::Number(n) => Some(V::DoubleValue(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Some(V::StringValue(s)),
        serde_json::Value::Array(a) => Some(V::ArrayValue(ArrayValue {
            values: a.into_iter().map(json_to_any).collect(),
        })),
        serde_json::Value::Object(o) => Some(V::KvlistValue(KeyValueList {
            values: o.into_iter().map(|(k, v)| kv(k, json_to_any(v))).collect(),
        })),
    };
    AnyValue { value }
}

/// `ParseKeyValue(target, Optional[delimiter], Optional[pair_delimiter])`
struct ParseKeyValue<C: Context> {
    target: Expr<C>,
    delimiter: String,
    pair_delimiter: String,
}

pub fn parse_key_value<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let name = "ParseKeyValue";
    let params = &["target", "delimiter", "pair_delimiter"];
    let [target, d, p] = bind_optional::<C, 3>(name, args, params, 1)?;
    let or = |s: Option<String>, default: &str| {
        s.filter(|s| !s.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let delimiter = or(opt_literal(&d, name, "delimiter")?, "=");
    let pair_delimiter = or(opt_literal(&p, name, "pair_delimiter")?, " ");
    if delimiter == pair_delimiter {
        return Err(format!(
            "pair delimiter {pair_delimiter:?} cannot be equal to delimiter {delimiter:?}"
        ));
    }
    Ok(Box::new(ParseKeyValue {
        target: target.ok_or("missing target")?,
        delimiter,
        pair_delimiter,
    }))
}

impl<C: Context> Function<C> for ParseKeyValue<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let source = string_arg(self.target.eval(item)?)?;
        if source.is_empty() {
            return Err(EvalError::new("cannot parse from empty target"));
        }
        let pairs = split_quoted(&source, &self.pair_delimiter).map_err(|e| {
            EvalError::new(format!(
                "splitting source {source:?} into pairs failed: {e}"
            ))
        })?;
        let mut out = Vec::new();
        for p in pairs {
            let Some((k, v)) = p.split_once(&*self.delimiter) else {
                return Err(EvalError::new(format!(
                    "cannot split {p:?} into 2 items, got 1 item(s)"
                )));
            };
            put(&mut out, k.trim(), any_str(v.trim()));
        }
        Ok(Value::Map(Cow::Owned(out)))
    }
}

/// Splits at `delimiter` outside single or double quotes, dropping the quotes and empty parts
/// (otelcol's parseutils.SplitString).
fn split_quoted(input: &str, delimiter: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        if quote.is_none() && rest.starts_with(delimiter) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            rest = &rest[delimiter.len()..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if q == c => quote = None,
            _ => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("never reached the end of a quoted value");
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum CsvMode {
    Strict,
    LazyQuotes,
    IgnoreQuotes,
}

/// `ParseCSV(target, headers, Optional[delimiter], Optional[headerDelimiter], Optional[mode])`
/// (the second parameter's field in otelcol is `Header`, so it binds by that name)
struct ParseCsv<C: Context> {
    target: Expr<C>,
    headers: Expr<C>,
    delimiter: char,
    header_delimiter: String,
    mode: CsvMode,
}

pub fn parse_csv<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let name = "ParseCSV";
    let params = &["target", "header", "delimiter", "headerDelimiter", "mode"];
    let [target, headers, d, hd, mode] = bind_optional::<C, 5>(name, args, params, 2)?;
    let single = |s: Option<String>, what: &str| match s {
        None => Ok(None),
        Some(s) if s.chars().count() == 1 => Ok(s.chars().next()),
        Some(_) => Err(format!(
            "invalid arguments: {what} must be a single character"
        )),
    };
    let delim = single(opt_literal(&d, name, "delimiter")?, "delimiter")?.unwrap_or(',');
    let header_delimiter = single(
        opt_literal(&hd, name, "headerDelimiter")?,
        "header_delimiter",
    )?
    .unwrap_or(delim)
    .to_string();
    let mode = match opt_literal(&mode, name, "mode")?.as_deref() {
        None | Some("strict") => CsvMode::Strict,
        Some("lazyQuotes") => CsvMode::LazyQuotes,
        Some("ignoreQuotes") => CsvMode::IgnoreQuotes,
        Some(other) => return Err(format!("unknown mode: {other}")),
    };
    Ok(Box::new(ParseCsv {
        target: target.ok_or("missing target")?,
        headers: headers.ok_or("missing headers")?,
        delimiter: delim,
        header_delimiter,
        mode,
    }))
}

impl<C: Context> Function<C> for ParseCsv<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let row = string_arg(self.target.eval(item)?)?;
        let headers = string_arg(self.headers.eval(item)?)?;
        if headers.is_empty() {
            return Err(EvalError::new("headers must not be an empty string"));
        }
        let headers: Vec<&str> = headers.split(&*self.header_delimiter).collect();
        let fields = match self.mode {
            CsvMode::IgnoreQuotes => row.split(self.delimiter).map(str::to_string).collect(),
            // Go's CSV reader skips the blank lines around a row.
            mode => csv_row(
                row.trim_matches(['\n', '\r']),
                self.delimiter,
                mode == CsvMode::LazyQuotes,
            )
            .map_err(|e| EvalError::new(format!("read csv line: {e}")))?,
        };
        if fields.len() != headers.len() {
            return Err(EvalError::new(format!(
                "map csv headers: wrong number of fields: expected {}, found {}",
                headers.len(),
                fields.len()
            )));
        }
        let mut out = Vec::with_capacity(fields.len());
        for (h, f) in headers.iter().zip(fields) {
            put(&mut out, h, any_str(f));
        }
        Ok(Value::Map(Cow::Owned(out)))
    }
}

/// One CSV row, as Go's encoding/csv reads it (newlines are part of fields here).
fn csv_row(row: &str, delim: char, lazy: bool) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = row.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None if lazy => break,
                    None => return Err("extraneous or missing \" in quoted-field".into()),
                    Some('"') => match chars.peek() {
                        Some('"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some(&c) if c == delim => break,
                        None => break,
                        Some(_) if lazy => field.push('"'),
                        Some(_) => return Err("extraneous or missing \" in quoted-field".into()),
                    },
                    Some(c) => field.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == delim {
                    break;
                }
                if c == '"' && !lazy {
                    return Err("bare \" in non-quoted-field".into());
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// `ToKeyValueString(target, Optional[delimiter], Optional[pair_delimiter], Optional[sort_output])`
struct ToKeyValueString<C: Context> {
    target: Expr<C>,
    delimiter: String,
    pair_delimiter: String,
    sort: Option<Expr<C>>,
}

pub fn to_key_value_string<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let name = "ToKeyValueString";
    let params = &["target", "delimiter", "pair_delimiter", "sort_output"];
    let [target, d, p, sort] = bind_optional::<C, 4>(name, args, params, 1)?;
    let delimiter = match opt_literal(&d, name, "delimiter")? {
        Some(d) if d.is_empty() => return Err("delimiter cannot be set to an empty string".into()),
        d => d.unwrap_or_else(|| "=".into()),
    };
    let pair_delimiter = match opt_literal(&p, name, "pair_delimiter")? {
        Some(p) if p.is_empty() => {
            return Err("pair delimiter cannot be set to an empty string".into())
        }
        p => p.unwrap_or_else(|| " ".into()),
    };
    if delimiter == pair_delimiter {
        return Err(format!(
            "pair delimiter {pair_delimiter:?} cannot be equal to delimiter {delimiter:?}"
        ));
    }
    Ok(Box::new(ToKeyValueString {
        target: target.ok_or("missing target")?,
        delimiter,
        pair_delimiter,
        sort,
    }))
}

impl<C: Context> Function<C> for ToKeyValueString<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let map = map_arg(self.target.eval(item)?)?;
        let sort = match super::opt(&self.sort, item)? {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(other) => return Err(super::expected("bool", &other)),
        };
        let mut entries: Vec<&KeyValue> = map.iter().collect();
        if sort {
            entries.sort_by(|a, b| a.key.cmp(&b.key));
        }
        let (d, p) = (&*self.delimiter, &*self.pair_delimiter);
        let pairs: Vec<String> = entries
            .iter()
            .map(|e| {
                let v = e.value.as_ref().map_or(String::new(), as_string);
                format!("{}{d}{}", quote_kv(&e.key, d, p), quote_kv(&v, d, p))
            })
            .collect();
        Ok(str_value(pairs.join(p)))
    }
}

/// pcommon's `Value.AsString`: bytes as base64, empty as "", the rest as OTTL strings them.
fn as_string(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::BytesValue(b)) => {
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        _ => string_like(&Value::from_any(v)).map_or_else(String::new, Cow::into_owned),
    }
}

fn quote_kv(s: &str, d: &str, p: &str) -> String {
    let s = s.replace('"', "\\\"");
    if s.contains(p) || s.contains(d) {
        format!("\"{s}\"")
    } else {
        s
    }
}
