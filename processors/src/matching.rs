//! `include` / `exclude` matching (otelcol's `filterconfig.MatchProperties`): which spans, log
//! records or metrics the `attributes` processor's actions apply to, and which ones the `filter`
//! processor's legacy `include` / `exclude` keep. Every property given must match; within a list,
//! any entry may match. `strict` compares for equality, `regexp` is an unanchored search.

use crate::attraction::yaml_to_value;
use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{Findings, Validate, Validator};
use ferrotel_core::proto::common::v1::{any_value::Value as V, InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::Span;
use ferrotel_core::Signal;
use ferrotel_core::{format, pdata};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// `include` or `exclude`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchProperties {
    /// `strict` or `regexp` (required).
    pub match_type: Choice<MatchType>,
    /// Regexp cache settings; accepted for compatibility (compiled patterns need no cache).
    pub regexp: Option<RegexpConfig>,
    /// `service.name` of the resource (spans).
    pub services: Vec<String>,
    /// Span names.
    pub span_names: Vec<String>,
    /// Span kinds, e.g. `SPAN_KIND_SERVER`.
    pub span_kinds: Vec<String>,
    /// Log bodies (as strings).
    pub log_bodies: Vec<String>,
    /// Log severity texts.
    pub log_severity_texts: Vec<String>,
    /// Minimum log severity number.
    pub log_severity_number: Option<SeverityNumberConfig>,
    /// Metric names.
    pub metric_names: Vec<String>,
    /// Item attributes; all must match. Without `value`, the key must exist.
    pub attributes: Vec<AttributeConfig>,
    /// Resource attributes; all must match.
    pub resources: Vec<AttributeConfig>,
    /// Instrumentation scopes (name and optional version).
    pub libraries: Vec<LibraryConfig>,
}

/// How `include` / `exclude` compare strings (`match_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchType {
    /// Equality.
    Strict,
    /// An unanchored regular expression search.
    Regexp,
}

impl Choices for MatchType {}

/// `regexp` cache settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegexpConfig {
    /// Cache match results.
    pub cacheenabled: bool,
    /// Cache size.
    pub cachemaxnumentries: u64,
}

/// An attribute to match.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributeConfig {
    /// Attribute key.
    pub key: String,
    /// Value to compare (any YAML type for strict; a pattern string for regexp).
    pub value: Option<serde_yaml_ng::Value>,
}

/// An instrumentation scope to match.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LibraryConfig {
    /// Scope name.
    pub name: String,
    /// Scope version; absent matches any version.
    pub version: Option<String>,
}

/// `log_severity_number`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityNumberConfig {
    /// Lowest severity that matches: a number (1-24) or a name (`INFO`, `warn2`, ...).
    pub min: Option<serde_yaml_ng::Value>,
    /// Whether records without a severity number match.
    pub match_undefined: bool,
}

#[derive(Debug, Clone)]
enum Strings {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl Strings {
    fn matches(&self, s: &str) -> bool {
        match self {
            Strings::Strict(v) => v.iter().any(|x| x == s),
            Strings::Regexp(v) => v.iter().any(|r| r.is_match(s)),
        }
    }
}

#[derive(Debug, Clone)]
enum ValueMatch {
    Exists,
    Equal(V),
    Regexp(Regex),
}

#[derive(Debug, Clone)]
struct AttrMatch {
    key: String,
    value: ValueMatch,
}

/// Compiled match properties.
#[derive(Debug, Clone)]
pub struct Matcher {
    services: Option<Strings>,
    span_names: Option<Strings>,
    span_kinds: Option<Strings>,
    log_bodies: Option<Strings>,
    log_severity_texts: Option<Strings>,
    severity: Option<(i32, bool)>,
    metric_names: Strings,
    attributes: Vec<AttrMatch>,
    resources: Vec<AttrMatch>,
    libraries: Vec<(Strings, Option<Strings>)>,
}

const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

impl Validate for MatchProperties {
    /// Everything but the signal check (see [`MatchProperties::signal_problem`]).
    fn validate(&self, v: &mut Validator<'_>) {
        Matcher::compile(self, v);
    }
}

impl MatchProperties {
    /// Why these properties cannot select items of `signal` (otelcol's wording), if they
    /// cannot.
    pub fn signal_problem(&self, signal: Signal) -> Option<String> {
        signal_problem(self, signal)
    }
}

/// A problem in match properties: the key it is under and otelcol's message.
type Problem = (String, String);

fn problem(field: &str, msg: String) -> Problem {
    (field.to_string(), msg)
}

/// How the properties' strings compile: as regular expressions or as strings compared for
/// equality.
#[derive(Clone, Copy)]
struct Patterns {
    regexp: bool,
}

impl Patterns {
    fn strings(self, field: &str, list: &[String]) -> Result<Strings, Problem> {
        if !self.regexp {
            return Ok(Strings::Strict(list.to_vec()));
        }
        list.iter()
            .map(|p| {
                Regex::new(p).map_err(|e| problem(field, format!("error parsing regexp: {e}")))
            })
            .collect::<Result<_, _>>()
            .map(Strings::Regexp)
    }

    /// `None` for an empty list (which does not restrict).
    fn optional(self, field: &str, list: &[String]) -> Result<Option<Strings>, Problem> {
        if list.is_empty() {
            Ok(None)
        } else {
            self.strings(field, list).map(Some)
        }
    }

    fn attributes(self, field: &str, list: &[AttributeConfig]) -> Result<Vec<AttrMatch>, Problem> {
        list.iter()
            .enumerate()
            .map(|(i, a)| self.attribute(&format!("{field}[{i}]"), a))
            .collect()
    }

    fn attribute(self, field: &str, a: &AttributeConfig) -> Result<AttrMatch, Problem> {
        if a.key.is_empty() {
            return Err(problem(
                field,
                "can't have empty key in the list of attributes".into(),
            ));
        }
        let value = match a.value.as_ref().and_then(yaml_to_value) {
            None => ValueMatch::Exists,
            Some(V::StringValue(p)) if self.regexp => ValueMatch::Regexp(
                Regex::new(&p).map_err(|e| problem(field, format!("error parsing regexp: {e}")))?,
            ),
            Some(other) if self.regexp => {
                return Err(problem(
                    field,
                    format!(
                        "match_type=regexp for {:?} only supports Str, but found {}",
                        a.key,
                        format::value_as_string(Some(&other))
                    ),
                ))
            }
            Some(v) => ValueMatch::Equal(v),
        };
        Ok(AttrMatch {
            key: a.key.clone(),
            value,
        })
    }

    /// Each library's name and, when set, version.
    fn libraries(self, list: &[LibraryConfig]) -> Result<Vec<(Strings, Option<Strings>)>, Problem> {
        let mut libraries = vec![];
        for (i, l) in list.iter().enumerate() {
            let field = format!("libraries[{i}]");
            let version = match &l.version {
                Some(v) => Some(self.strings(&field, std::slice::from_ref(v))?),
                None => None,
            };
            libraries.push((
                self.strings(&field, std::slice::from_ref(&l.name))?,
                version,
            ));
        }
        Ok(libraries)
    }
}

/// `log_severity_number`: the lowest severity that matches, and `match_undefined`.
fn severity_threshold(cfg: Option<&SeverityNumberConfig>) -> Result<Option<(i32, bool)>, Problem> {
    let Some(s) = cfg else {
        return Ok(None);
    };
    let min = severity_number(s.min.as_ref()).ok_or_else(|| {
        problem(
            "log_severity_number.min",
            "unrecognized severity number".into(),
        )
    })?;
    Ok(Some((min, s.match_undefined)))
}

impl Matcher {
    /// Compiles `mp`, reporting its first problem (as otelcol does) through `v`, the validator
    /// of `include` or `exclude`. The pipeline's signal is checked apart, by
    /// [`MatchProperties::signal_problem`].
    pub fn compile(mp: &MatchProperties, v: &mut Validator<'_>) -> Option<Matcher> {
        Matcher::build(mp)
            .map_err(|(field, msg)| v.report_at(field, msg))
            .ok()
    }

    /// Compiles properties [`Matcher::compile`] found no problem in (a validated config's).
    pub fn new(mp: &MatchProperties) -> Option<Matcher> {
        Matcher::compile(mp, &mut Validator::new("", &mut Findings::default()))
    }

    /// The matcher, or the key with the problem and otelcol's message.
    fn build(mp: &MatchProperties) -> Result<Matcher, Problem> {
        let regexp = match &mp.match_type {
            Choice::Known(MatchType::Strict) => false,
            Choice::Known(MatchType::Regexp) => true,
            Choice::Unknown(other) => {
                return Err(problem(
                    "match_type",
                    format!("unrecognized match_type: '{other}', valid types are: [regexp strict]"),
                ))
            }
        };
        let p = Patterns { regexp };
        let libraries = p.libraries(&mp.libraries)?;
        let severity = severity_threshold(mp.log_severity_number.as_ref())?;
        Ok(Matcher {
            services: p.optional("services", &mp.services)?,
            span_names: p.optional("span_names", &mp.span_names)?,
            span_kinds: p.optional("span_kinds", &mp.span_kinds)?,
            log_bodies: p.optional("log_bodies", &mp.log_bodies)?,
            log_severity_texts: p.optional("log_severity_texts", &mp.log_severity_texts)?,
            severity,
            metric_names: p.strings("metric_names", &mp.metric_names)?,
            attributes: p.attributes("attributes", &mp.attributes)?,
            resources: p.attributes("resources", &mp.resources)?,
            libraries,
        })
    }

    fn common(
        &self,
        res: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        attrs: &[KeyValue],
    ) -> bool {
        let res_attrs = res.map_or(&[][..], |r| &r.attributes[..]);
        let libraries_ok = self.libraries.is_empty()
            || self.libraries.iter().any(|(name, version)| {
                let (n, v) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
                name.matches(n) && version.as_ref().is_none_or(|m| m.matches(v))
            });
        libraries_ok && all_match(&self.resources, res_attrs) && all_match(&self.attributes, attrs)
    }

    /// Whether a span matches.
    pub fn span(
        &self,
        res: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        let service = res
            .and_then(|r| pdata::attr_str(&r.attributes, "service.name"))
            .unwrap_or_default();
        let kind = SPAN_KINDS
            .get(usize::try_from(span.kind).unwrap_or(0))
            .copied()
            .unwrap_or("SPAN_KIND_UNSPECIFIED");
        self.services.as_ref().is_none_or(|m| m.matches(service))
            && self
                .span_names
                .as_ref()
                .is_none_or(|m| m.matches(&span.name))
            && self.span_kinds.as_ref().is_none_or(|m| m.matches(kind))
            && self.common(res, scope, &span.attributes)
    }

    /// Whether a log record matches.
    pub fn log(
        &self,
        res: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        rec: &LogRecord,
    ) -> bool {
        let body_ok = self.log_bodies.as_ref().is_none_or(|m| {
            m.matches(&format::value_as_string(
                rec.body.as_ref().and_then(|b| b.value.as_ref()),
            ))
        });
        let severity_ok = self.severity.is_none_or(|(min, undefined)| {
            if rec.severity_number == 0 {
                undefined
            } else {
                rec.severity_number >= min
            }
        });
        body_ok
            && severity_ok
            && self
                .log_severity_texts
                .as_ref()
                .is_none_or(|m| m.matches(&rec.severity_text))
            && self.common(res, scope, &rec.attributes)
    }

    /// Whether the resource attributes match (the other properties are not looked at).
    pub fn resource(&self, res: Option<&Resource>) -> bool {
        all_match(&self.resources, res.map_or(&[][..], |r| &r.attributes[..]))
    }

    /// Whether a metric matches (by name and resource attributes, as otelcol does).
    pub fn metric(&self, res: Option<&Resource>, name: &str) -> bool {
        let res_attrs = res.map_or(&[][..], |r| &r.attributes[..]);
        self.metric_names.matches(name) && all_match(&self.resources, res_attrs)
    }
}

fn all_match(wanted: &[AttrMatch], attrs: &[KeyValue]) -> bool {
    wanted.iter().all(|w| {
        let Some(kv) = attrs.iter().find(|kv| kv.key == w.key) else {
            return false;
        };
        let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
        match &w.value {
            ValueMatch::Exists => true,
            ValueMatch::Equal(e) => v == Some(e),
            ValueMatch::Regexp(r) => match v {
                Some(V::StringValue(_) | V::BoolValue(_) | V::IntValue(_) | V::DoubleValue(_)) => {
                    r.is_match(&format::value_as_string(v))
                }
                _ => false,
            },
        }
    })
}

fn signal_problem(mp: &MatchProperties, s: Signal) -> Option<String> {
    match s {
        Signal::Traces => {
            if !mp.log_bodies.is_empty() {
                Some("log_bodies should not be specified for trace spans".into())
            } else if !mp.log_severity_texts.is_empty() {
                Some("log_severity_texts should not be specified for trace spans".into())
            } else if mp.log_severity_number.is_some() {
                Some("log_severity_number should not be specified for trace spans".into())
            } else if mp.services.is_empty()
                && mp.span_names.is_empty()
                && mp.attributes.is_empty()
                && mp.libraries.is_empty()
                && mp.resources.is_empty()
                && mp.span_kinds.is_empty()
            {
                Some(r#"at least one of "services", "span_names", "span_kinds", "attributes", "libraries" or "resources" field must be specified"#.into())
            } else {
                None
            }
        }
        Signal::Logs => {
            if !mp.span_names.is_empty() || !mp.services.is_empty() {
                Some("neither services nor span_names should be specified for log records".into())
            } else if mp.attributes.is_empty()
                && mp.libraries.is_empty()
                && mp.resources.is_empty()
                && mp.log_bodies.is_empty()
                && mp.log_severity_texts.is_empty()
                && mp.log_severity_number.is_none()
                && mp.span_kinds.is_empty()
            {
                Some(r#"at least one of "attributes", "libraries", "span_kinds", "resources", "log_bodies", "log_severity_texts" or "log_severity_number" field must be specified"#.into())
            } else {
                None
            }
        }
        // The attributes processor does not take profiles.
        Signal::Metrics | Signal::Profiles => None,
    }
}

/// A severity number from a number or an OTel name (`TRACE`..`FATAL4`, any case).
fn severity_number(v: Option<&serde_yaml_ng::Value>) -> Option<i32> {
    const NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    match v? {
        serde_yaml_ng::Value::Number(n) => n.as_i64().and_then(|i| i32::try_from(i).ok()),
        serde_yaml_ng::Value::String(s) => {
            let up = s.to_ascii_uppercase();
            if let Ok(i) = up.parse::<i32>() {
                return Some(i);
            }
            let base = NAMES.iter().position(|n| up.starts_with(n))?;
            let suffix = &up[NAMES[base].len()..];
            let step = match suffix {
                "" => 1,
                "2" => 2,
                "3" => 3,
                "4" => 4,
                _ => return None,
            };
            i32::try_from(base * 4).ok().map(|b| b + step)
        }
        _ => None,
    }
}
