//! `ExtractGrokPatterns(target, pattern, Optional[namedCapturesOnly], Optional[patternDefinitions])`:
//! grok, regular expressions with reusable named patterns: `%{SYNTAX}`, `%{SYNTAX:ID}` and
//! `%{SYNTAX:ID:TYPE}` (TYPE `int`, `long`, `float`, `double`, `bool` or `boolean`).
//!
//! otelcol uses Elastic's go-grok with its complete pattern collection. Here the built-in set
//! is [`DEFAULT_PATTERNS`], the common core of that collection (numbers, words, strings,
//! networks, paths and URIs, dates and times, syslog, log levels; `URI`, `URIHOST` and
//! `SYSLOGPROG` name their parts with ECS field names, as go-grok's ECS set does), written
//! for this crate and for Rust's regex dialect (no look-around); other patterns can be given in
//! `patternDefinitions` as `NAME=PATTERN`. Everything is expanded and compiled once, with size
//! limits; the result is a map of the groups that took part in the match.

use super::{any_str, put, Built};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{bind_optional, literal_string, string_arg, REGEX_SIZE_LIMIT};
use crate::value::Value;
use ferrotel_core::proto::common::v1::{AnyValue, KeyValue};
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest nesting of `%{...}` references (also ends reference cycles).
const MAX_NESTING: usize = 32;
/// Longest expanded expression.
const MAX_EXPANDED: usize = 1 << 20;
/// Capture groups made for `%{...}` references are named this and a number.
const GROUP_PREFIX: &str = "__grok_";

/// The built-in patterns.
pub const DEFAULT_PATTERNS: &[(&str, &str)] = &[
    ("WORD", r"\b\w+\b"),
    ("NOTSPACE", r"\S+"),
    ("SPACE", r"\s*"),
    ("DATA", r".*?"),
    ("GREEDYDATA", r".*"),
    ("INT", r"(?:[+-]?(?:[0-9]+))"),
    ("BASE10NUM", r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"),
    ("NUMBER", r"(?:%{BASE10NUM})"),
    ("BASE16NUM", r"(?:[+-]?(?:0[xX])?[0-9A-Fa-f]+)"),
    (
        "BASE16FLOAT",
        r"\b[+-]?(?:0[xX])?(?:[0-9A-Fa-f]+(?:\.[0-9A-Fa-f]*)?|\.[0-9A-Fa-f]+)\b",
    ),
    ("POSINT", r"\b[1-9][0-9]*\b"),
    ("NONNEGINT", r"\b[0-9]+\b"),
    ("BOOL", r"(?i:true|false)"),
    (
        "QUOTEDSTRING",
        r#"(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)"#,
    ),
    ("QS", r"%{QUOTEDSTRING}"),
    (
        "UUID",
        r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    ),
    (
        "URN",
        r"urn:[0-9A-Za-z][0-9A-Za-z-]{0,31}:(?:%[0-9a-fA-F]{2}|[0-9A-Za-z()+,.:=@;$_!*'/?#-])+",
    ),
    ("USERNAME", r"[a-zA-Z0-9._-]+"),
    ("USER", r"%{USERNAME}"),
    (
        "EMAILLOCALPART",
        r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    ),
    ("EMAILADDRESS", r"%{EMAILLOCALPART}@%{HOSTNAME}"),
    ("INT4", r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"),
    ("IPV4", r"(?:%{INT4}\.){3}%{INT4}"),
    (
        "IPV6",
        r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,1}|::(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}|::",
    ),
    ("IP", r"(?:%{IPV6}|%{IPV4})"),
    (
        "HOSTNAME",
        r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*\.?",
    ),
    ("HOST", r"%{HOSTNAME}"),
    ("IPORHOST", r"(?:%{IP}|%{HOSTNAME})"),
    ("HOSTPORT", r"%{IPORHOST}:%{POSINT}"),
    ("COMMONMAC", r"(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2}"),
    ("MAC", r"%{COMMONMAC}"),
    ("UNIXPATH", r"(?:/[\w_%!$@:.,+~-]*)+"),
    ("WINPATH", r"(?:[A-Za-z]+:|\\)(?:\\[^\\?*]*)+"),
    ("PATH", r"(?:%{UNIXPATH}|%{WINPATH})"),
    ("URIPROTO", r"[A-Za-z][A-Za-z0-9+.-]+"),
    (
        "URIHOST",
        r"%{IPORHOST:url.domain}(?::%{POSINT:url.port:int})?",
    ),
    ("URIPATH", r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+"),
    ("URIQUERY", r"[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*"),
    ("URIPARAM", r"\?%{URIQUERY}"),
    ("URIPATHPARAM", r"%{URIPATH}(?:%{URIPARAM})?"),
    (
        "URI",
        r"%{URIPROTO:url.scheme}://(?:%{USER:url.username}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATH:url.path}(?:\?%{URIQUERY:url.query})?)?",
    ),
    (
        "MONTH",
        r"\b(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|[Jj]un(?:e)?|[Jj]ul(?:y)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo]ct(?:ober)?|[Nn]ov(?:ember)?|[Dd]ec(?:ember)?)\b",
    ),
    ("MONTHNUM", r"(?:0?[1-9]|1[0-2])"),
    ("MONTHNUM2", r"(?:0[1-9]|1[0-2])"),
    ("MONTHDAY", r"(?:0[1-9]|[12][0-9]|3[01]|[1-9])"),
    (
        "DAY",
        r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)",
    ),
    ("YEAR", r"(?:\d\d){1,2}"),
    ("HOUR", r"(?:2[0123]|[01]?[0-9])"),
    ("MINUTE", r"(?:[0-5][0-9])"),
    ("SECOND", r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"),
    ("TIME", r"(?:%{HOUR}:%{MINUTE}(?::%{SECOND})?)"),
    ("DATE_US", r"%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}"),
    ("DATE_EU", r"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}"),
    ("DATE", r"(?:%{DATE_US}|%{DATE_EU})"),
    ("DATESTAMP", r"%{DATE}[- ]%{TIME}"),
    ("TZ", r"(?:[APMCE][SD]T|UTC)"),
    ("ISO8601_TIMEZONE", r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"),
    ("ISO8601_SECOND", r"%{SECOND}"),
    (
        "TIMESTAMP_ISO8601",
        r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    ),
    (
        "DATESTAMP_RFC822",
        r"%{DAY} %{MONTH} %{MONTHDAY} %{YEAR} %{TIME} %{TZ}",
    ),
    (
        "DATESTAMP_OTHER",
        r"%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{TZ} %{YEAR}",
    ),
    ("HTTPDATE", r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"),
    ("SYSLOGTIMESTAMP", r"%{MONTH} +%{MONTHDAY} %{TIME}"),
    ("PROG", r"[\x21-\x5a\x5c\x5e-\x7e]+"),
    (
        "SYSLOGPROG",
        r"%{PROG:process.name}(?:\[%{POSINT:process.pid:int}\])?",
    ),
    ("SYSLOGHOST", r"%{IPORHOST}"),
    (
        "LOGLEVEL",
        r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)",
    ),
];

#[derive(Clone, Copy)]
enum Cast {
    Int,
    Float,
    Bool,
}

/// What a capture group of the expanded expression stands for.
struct Field {
    name: String,
    cast: Option<Cast>,
}

/// Expands `%{...}` references into one regular expression.
struct Expander<'p> {
    custom: HashMap<&'p str, &'p str>,
    named_only: bool,
    fields: Vec<Field>,
}

impl<'p> Expander<'p> {
    fn expand(&mut self, pattern: &str, depth: usize, out: &mut String) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err(format!(
                "grok patterns nest deeper than {MAX_NESTING} (a cycle?)"
            ));
        }
        let mut rest = pattern;
        while let Some(at) = rest.find("%{") {
            out.push_str(&rest[..at]);
            let end = rest[at..]
                .find('}')
                .ok_or_else(|| format!("unterminated grok reference in {pattern:?}"))?;
            let reference = &rest[at + 2..at + end];
            rest = &rest[at + end + 1..];
            self.reference(reference, depth, out)?;
            if out.len() > MAX_EXPANDED {
                return Err("grok pattern expands too large".into());
            }
        }
        out.push_str(rest);
        Ok(())
    }

    fn reference(&mut self, reference: &str, depth: usize, out: &mut String) -> Result<(), String> {
        let mut parts = reference.splitn(3, ':');
        let syntax = parts.next().unwrap_or_default();
        let id = parts.next().filter(|s| !s.is_empty());
        let cast = match parts.next() {
            None => None,
            Some("int" | "long") => Some(Cast::Int),
            Some("float" | "double") => Some(Cast::Float),
            Some("bool" | "boolean") => Some(Cast::Bool),
            Some(other) => {
                return Err(format!(
                    "unsupported grok type {other:?} in %{{{reference}}}"
                ))
            }
        };
        let definition = self
            .custom
            .get(syntax)
            .copied()
            .or_else(|| {
                DEFAULT_PATTERNS
                    .iter()
                    .find(|(n, _)| *n == syntax)
                    .map(|(_, p)| *p)
            })
            .ok_or_else(|| format!("grok pattern not found: {syntax}"))?;
        let name = match id {
            Some(id) => Some(id),
            None if !self.named_only => Some(syntax),
            None => None,
        };
        match name {
            Some(name) => {
                out.push_str(&format!("(?P<{GROUP_PREFIX}{}>", self.fields.len()));
                self.fields.push(Field {
                    name: name.to_string(),
                    cast,
                });
            }
            None => out.push_str("(?:"),
        }
        self.expand(definition, depth + 1, out)?;
        out.push(')');
        Ok(())
    }
}

struct ExtractGrok<C: Context> {
    target: Expr<C>,
    re: Regex,
    fields: Vec<Field>,
}

pub fn extract_grok_patterns<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let name = "ExtractGrokPatterns";
    let params = &[
        "target",
        "pattern",
        "namedCapturesOnly",
        "patternDefinitions",
    ];
    let [target, pattern, named_only, defs] = bind_optional::<C, 4>(name, args, params, 2)?;
    let pattern = literal_string(&pattern.ok_or("missing pattern")?, name, "pattern")?;
    let named_only = match named_only.as_ref().and_then(Expr::literal) {
        None if named_only.is_none() => false,
        Some(Value::Bool(b)) => *b,
        _ => return Err(format!("error while parsing arguments for call to {name:?}: namedCapturesOnly must be a bool literal")),
    };
    let definitions = definitions(defs, name)?;
    let mut expander = Expander {
        custom: definitions
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_str()))
            .collect(),
        named_only,
        fields: Vec::new(),
    };
    let mut expanded = String::new();
    expander.expand(&pattern, 0, &mut expanded)?;
    let re = RegexBuilder::new(&expanded)
        .size_limit(REGEX_SIZE_LIMIT * 8)
        .build()
        .map_err(|e| format!("the pattern supplied to {name} is not a valid pattern: {e}"))?;
    let fields = expander.fields;
    let own_groups = re
        .capture_names()
        .flatten()
        .any(|n| !n.starts_with(GROUP_PREFIX));
    if named_only && fields.is_empty() && !own_groups {
        return Err("at least 1 named capture group must be supplied in the given regex".into());
    }
    Ok(Box::new(ExtractGrok {
        target: target.ok_or("missing target")?,
        re,
        fields,
    }))
}

/// `patternDefinitions`: a literal list of `NAME=PATTERN` strings.
fn definitions<C: Context>(
    defs: Option<Expr<C>>,
    name: &str,
) -> Result<Vec<(String, String)>, String> {
    let Some(defs) = defs else {
        return Ok(Vec::new());
    };
    let Expr::List(items) = defs else {
        return Err(format!("error while parsing arguments for call to {name:?}: patternDefinitions must be a list of strings"));
    };
    items
        .iter()
        .map(|i| {
            let def = literal_string(i, name, "patternDefinitions")?;
            let (n, p) = def.split_once('=').ok_or_else(|| {
                format!("pattern definition {def:?} is not in the form PATTERN_NAME=PATTERN")
            })?;
            Ok((n.to_string(), p.to_string()))
        })
        .collect()
}

impl<C: Context> Function<C> for ExtractGrok<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let s = string_arg(self.target.eval(item)?)?;
        let mut out: Vec<KeyValue> = Vec::new();
        let Some(caps) = self.re.captures(&s) else {
            return Ok(Value::Map(Cow::Owned(out)));
        };
        for (i, group) in self.re.capture_names().enumerate() {
            let (Some(group), Some(m)) = (group, caps.get(i)) else {
                continue;
            };
            let field = group
                .strip_prefix(GROUP_PREFIX)
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| self.fields.get(n));
            let (key, value) = match field {
                Some(f) => (f.name.as_str(), cast(m.as_str(), f.cast)?),
                None => (group, any_str(m.as_str())),
            };
            put(&mut out, key, value);
        }
        Ok(Value::Map(Cow::Owned(out)))
    }
}

fn cast(s: &str, cast: Option<Cast>) -> Result<AnyValue, EvalError> {
    let bad = |t: &str| EvalError::new(format!("cannot convert {s:?} to {t}"));
    Ok(match cast {
        None => any_str(s),
        Some(Cast::Int) => Value::Int(s.parse().map_err(|_| bad("int"))?).to_any(),
        Some(Cast::Float) => Value::Float(s.parse().map_err(|_| bad("float"))?).to_any(),
        Some(Cast::Bool) => {
            Value::Bool(s.to_ascii_lowercase().parse().map_err(|_| bad("bool"))?).to_any()
        }
    })
}
