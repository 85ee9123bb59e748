//! The transform processor's log parsing converters (otelcol-contrib's transformprocessor
//! `internal/logparsingfuncs`), in the `log` context only: each parses a string and returns a
//! map whose keys carry the format's prefix.
//!
//! - `ParseCEF(target)`: ArcSight Common Event Format (`cef.version`, `cef.device_vendor`,
//!   `cef.device_product`, `cef.device_version`, `cef.device_event_class_id`, `cef.name`,
//!   `cef.severity`, `cef.extensions`), after an optional syslog prefix;
//! - `ParseCLF(target, Optional[format])`: Common Log Format (`"clf"`, the default) or NCSA
//!   combined (`"combined"`), `clf.remote_host` ... `clf.status` and `clf.bytes` as ints;
//! - `ParseELF(target)`: a W3C Extended Log Format block (`elf.version` and the other
//!   directives, `elf.fields`, `elf.entries`);
//! - `ParseLEEF(target)`: IBM LEEF 1.0 / 2.0 (`leef.version`, `leef.vendor`,
//!   `leef.product.name`, `leef.product.version`, `leef.event.id`, `leef.attributes`).
//!
//! An empty message is an error (`cannot parse empty CEF message`), and so is a malformed
//! one, with otelcol's messages; every value is a string unless said otherwise.
//!
//! ```yaml
//! log_statements:
//!   - merge_maps(log.attributes, ParseCEF(log.body), "upsert")
//!   - set(log.attributes["http"], ParseCLF(log.body, "combined"))
//! ```

mod cef;
mod clf;
mod elf;
mod leef;

use super::{any_str, kv, put};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{bind, bind_optional, literal_string, string_arg};
use crate::value::Value;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use std::borrow::Cow;

/// The converters [`converter`] builds.
pub const CONVERTERS: &[&str] = &["ParseCEF", "ParseCLF", "ParseELF", "ParseLEEF"];

/// A format's parser: the message to the map's entries.
type Parser = fn(&str) -> Result<Vec<KeyValue>, EvalError>;

#[derive(Clone, Copy)]
enum Format {
    Cef,
    Clf { combined: bool },
    Elf,
    Leef,
}

struct ParseLog<C: Context> {
    target: Expr<C>,
    format: Format,
}

/// Builds one of [`CONVERTERS`].
pub fn converter<C: Context>(
    name: &str,
    args: Vec<CompiledArg<C>>,
) -> Result<Box<dyn Function<C>>, String> {
    let format = match name {
        "ParseCEF" => Format::Cef,
        "ParseELF" => Format::Elf,
        "ParseLEEF" => Format::Leef,
        "ParseCLF" => return clf_converter(args),
        _ => return Err(format!("undefined function {name:?}")),
    };
    let [target] = bind::<C, 1>(name, args, &["target"])?;
    Ok(Box::new(ParseLog { target, format }))
}

/// `ParseCLF(target, Optional[format])`: the format is a literal checked here.
fn clf_converter<C: Context>(args: Vec<CompiledArg<C>>) -> Result<Box<dyn Function<C>>, String> {
    let [target, format] = bind_optional::<C, 2>("ParseCLF", args, &["target", "format"], 1)?;
    let format = match format {
        Some(e) => literal_string(&e, "ParseCLF", "format")?,
        None => "clf".to_string(),
    };
    let combined = match format.as_str() {
        "clf" => false,
        "combined" => true,
        other => {
            return Err(format!(
                "invalid format {other:?}: must be \"clf\" or \"combined\""
            ))
        }
    };
    Ok(Box::new(ParseLog {
        target: target.ok_or("missing target")?,
        format: Format::Clf { combined },
    }))
}

impl<C: Context> Function<C> for ParseLog<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let source = string_arg(self.target.eval(item)?)?;
        let (name, parse): (&str, Parser) = match self.format {
            Format::Cef => ("CEF", cef::parse),
            Format::Clf { combined: false } => ("CLF", clf::parse_clf),
            Format::Clf { combined: true } => ("CLF", clf::parse_combined),
            Format::Elf => ("ELF", elf::parse),
            Format::Leef => ("LEEF", leef::parse),
        };
        if source.is_empty() {
            return Err(EvalError::new(format!("cannot parse empty {name} message")));
        }
        Ok(Value::Map(Cow::Owned(parse(&source)?)))
    }
}

/// A map as a value.
fn map_value(entries: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: entries,
        })),
    }
}

/// String pairs as a map, a later key replacing an earlier one.
fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> AnyValue {
    let mut entries = Vec::new();
    for (k, v) in pairs {
        put(&mut entries, k, any_str(v));
    }
    map_value(entries)
}

fn error(message: impl Into<String>) -> EvalError {
    EvalError::new(message.into())
}
