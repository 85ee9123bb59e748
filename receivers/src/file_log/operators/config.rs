//! Operator configurations, as stanza's: a list of maps, each with a `type` that selects the
//! operator; the remaining keys are that operator's (unknown keys are errors).
//!
//! ```yaml
//! operators:
//!   - type: json_parser
//!     timestamp: { parse_from: attributes.time, layout: '%Y-%m-%dT%H:%M:%S.%LZ' }
//!     severity: { parse_from: attributes.level }
//!     trace: { trace_id: { parse_from: attributes.trace_id } }
//!   - type: move
//!     from: attributes.message
//!     to: body
//! ```

use super::field::Field;
use serde::{de, Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// What a parser does with an entry it cannot parse (stanza's `on_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Log the error and pass the entry on unchanged.
    #[default]
    Send,
    /// Pass the entry on without logging.
    SendQuiet,
    /// Log the error and drop the entry.
    Drop,
    /// Drop the entry without logging.
    DropQuiet,
}

/// The `timestamp` block of a parser, and the `time_parser` operator's settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeConfig {
    /// Field holding the time text or number.
    pub parse_from: Option<Field>,
    /// `strptime` (default), `gotime` or `epoch`.
    pub layout_type: String,
    /// The layout in the chosen notation; for `epoch`: `s`, `ms`, `us`, `ns`, `s.ms`, `s.us`,
    /// `s.ns`.
    pub layout: String,
    /// IANA time zone for layouts without a zone (default: the local zone; ferrotel: UTC).
    pub location: String,
}

impl Default for TimeConfig {
    fn default() -> Self {
        TimeConfig {
            parse_from: None,
            layout_type: "strptime".into(),
            layout: String::new(),
            location: String::new(),
        }
    }
}

/// A severity mapping value: one text or number, a list of them, or a range.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum MappingValue {
    One(serde_json::Value),
    Many(Vec<serde_json::Value>),
}

/// The `severity` block of a parser, and the `severity_parser` operator's settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityConfig {
    pub parse_from: Option<Field>,
    /// `default` or `none`: the built-in mapping the `mapping` adds to.
    pub preset: String,
    /// Severity name (`warn`, `error2`, ...) -> values that mean it.
    pub mapping: BTreeMap<String, MappingValue>,
    /// Set the severity text to the severity's name instead of the original value.
    pub overwrite_text: bool,
}

impl Default for SeverityConfig {
    fn default() -> Self {
        SeverityConfig {
            parse_from: None,
            preset: "default".into(),
            mapping: BTreeMap::new(),
            overwrite_text: false,
        }
    }
}

/// One of the trace parser's fields.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParseFrom {
    pub parse_from: Option<Field>,
}

/// The `trace` block of a parser, and the `trace_parser` operator's settings.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceConfig {
    /// Default `body.trace_id`.
    pub trace_id: ParseFrom,
    /// Default `body.span_id`.
    pub span_id: ParseFrom,
    /// Default `body.trace_flags`.
    pub trace_flags: ParseFrom,
}

/// `json_parser` and `regex_parser`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParserConfig {
    pub id: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    /// Field to parse (default `body`).
    pub parse_from: Field,
    /// Where the parsed map goes (default `attributes`).
    pub parse_to: Field,
    pub on_error: OnError,
    /// Field of the parsed result to move to the body afterwards.
    pub body: Option<Field>,
    pub timestamp: Option<TimeConfig>,
    pub severity: Option<SeverityConfig>,
    pub trace: Option<TraceConfig>,
    /// The regular expression with named captures (`regex_parser` only, required).
    pub regex: Option<String>,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            id: None,
            output: None,
            if_expr: None,
            parse_from: Field::body(),
            parse_to: Field::attributes(),
            on_error: OnError::Send,
            body: None,
            timestamp: None,
            severity: None,
            trace: None,
            regex: None,
        }
    }
}

/// Keys every operator takes besides its own.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Common {
    pub id: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    pub on_error: OnError,
}

/// `move`: `from` -> `to`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MoveConfig {
    pub id: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    #[serde(default)]
    pub on_error: OnError,
    pub from: Field,
    pub to: Field,
}

/// `add`: sets `field` to `value`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddConfig {
    pub id: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    #[serde(default)]
    pub on_error: OnError,
    pub field: Field,
    pub value: serde_json::Value,
}

/// `remove`: deletes `field`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveConfig {
    pub id: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    #[serde(default)]
    pub on_error: OnError,
    pub field: Field,
}

/// The `time_parser` operator.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeParserConfig {
    pub id: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    #[serde(default)]
    pub on_error: OnError,
    #[serde(default = "Field::body")]
    pub parse_from: Field,
    #[serde(default = "strptime")]
    pub layout_type: String,
    #[serde(default)]
    pub layout: String,
    #[serde(default)]
    pub location: String,
}

fn strptime() -> String {
    "strptime".into()
}

/// The `severity_parser` operator.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityParserConfig {
    pub id: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    #[serde(default)]
    pub on_error: OnError,
    #[serde(default = "Field::body")]
    pub parse_from: Field,
    #[serde(default = "default_preset")]
    pub preset: String,
    #[serde(default)]
    pub mapping: BTreeMap<String, MappingValue>,
    #[serde(default)]
    pub overwrite_text: bool,
}

fn default_preset() -> String {
    "default".into()
}

/// The `trace_parser` operator.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceParserConfig {
    pub id: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    pub on_error: OnError,
    pub trace_id: ParseFrom,
    pub span_id: ParseFrom,
    pub trace_flags: ParseFrom,
}

/// One entry of `operators`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OperatorConfig {
    JsonParser(ParserConfig),
    RegexParser(ParserConfig),
    TimeParser(TimeParserConfig),
    SeverityParser(SeverityParserConfig),
    TraceParser(TraceParserConfig),
    Move(MoveConfig),
    Add(AddConfig),
    Remove(RemoveConfig),
}

impl OperatorConfig {
    /// The operator's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            OperatorConfig::JsonParser(_) => "json_parser",
            OperatorConfig::RegexParser(_) => "regex_parser",
            OperatorConfig::TimeParser(_) => "time_parser",
            OperatorConfig::SeverityParser(_) => "severity_parser",
            OperatorConfig::TraceParser(_) => "trace_parser",
            OperatorConfig::Move(_) => "move",
            OperatorConfig::Add(_) => "add",
            OperatorConfig::Remove(_) => "remove",
        }
    }

    /// The operator's `id` (default: its type).
    pub fn id(&self) -> String {
        let id = match self {
            OperatorConfig::JsonParser(c) | OperatorConfig::RegexParser(c) => &c.id,
            OperatorConfig::TimeParser(c) => &c.id,
            OperatorConfig::SeverityParser(c) => &c.id,
            OperatorConfig::TraceParser(c) => &c.id,
            OperatorConfig::Move(c) => &c.id,
            OperatorConfig::Add(c) => &c.id,
            OperatorConfig::Remove(c) => &c.id,
        };
        id.clone().unwrap_or_else(|| self.type_name().to_string())
    }
}

fn typed<T: de::DeserializeOwned, E: de::Error>(v: serde_yaml_ng::Value) -> Result<T, E> {
    serde_yaml_ng::from_value(v).map_err(E::custom)
}

impl<'de> Deserialize<'de> for OperatorConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = serde_yaml_ng::Mapping::deserialize(d)?;
        let ty = match map.remove("type") {
            Some(serde_yaml_ng::Value::String(s)) => s,
            Some(_) | None => return Err(de::Error::custom("missing required field 'type'")),
        };
        let rest = serde_yaml_ng::Value::Mapping(map);
        Ok(match ty.as_str() {
            "json_parser" => OperatorConfig::JsonParser(typed(rest)?),
            "regex_parser" => OperatorConfig::RegexParser(typed(rest)?),
            "time_parser" => OperatorConfig::TimeParser(typed(rest)?),
            "severity_parser" => OperatorConfig::SeverityParser(typed(rest)?),
            "trace_parser" => OperatorConfig::TraceParser(typed(rest)?),
            "move" => OperatorConfig::Move(typed(rest)?),
            "add" => OperatorConfig::Add(typed(rest)?),
            "remove" => OperatorConfig::Remove(typed(rest)?),
            other => return Err(de::Error::custom(format!("unsupported type '{other}'"))),
        })
    }
}
