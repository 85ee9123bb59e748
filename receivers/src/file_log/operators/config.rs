//! Operator configurations, as stanza's: a list of maps, each with a `type` that selects the
//! operator; the remaining keys are that operator's (unknown keys are errors). The keys every
//! operator takes (`id`, `output`, `if`, `on_error`) and the keys every parser takes
//! (`parse_from`, `parse_to`, `body`, `timestamp`, `severity`, `trace`, `scope_name`) are read
//! once here, before the operator's own.
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
use ferrotel_config::GoDuration;
use serde::{de, Deserialize, Deserializer, Serialize};
use serde_yaml_ng::{Mapping, Value as Yaml};
use std::collections::BTreeMap;

/// What an operator does with an entry it cannot process (stanza's `on_error`).
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

/// One operator id or a list of them (stanza's `output` and router `default`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(from = "OneOrMany", into = "OneOrMany")]
pub struct Outputs(pub Vec<String>);

#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Outputs {
    fn from(o: OneOrMany) -> Self {
        match o {
            OneOrMany::One(s) => Outputs(vec![s]),
            OneOrMany::Many(v) => Outputs(v),
        }
    }
}

impl From<Outputs> for OneOrMany {
    fn from(o: Outputs) -> Self {
        OneOrMany::Many(o.0)
    }
}

/// Keys every operator takes besides its own.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Common {
    /// Unique name of the operator (default: its type).
    pub id: Option<String>,
    /// The operator(s) that receive what this one emits (default: the next in the list).
    pub output: Option<Outputs>,
    /// An expression; entries for which it is false skip this operator.
    #[serde(rename = "if")]
    pub if_expr: Option<String>,
    pub on_error: OnError,
}

const COMMON_KEYS: &[&str] = &["id", "output", "if", "on_error"];

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

/// The keys every parser takes (stanza's `ParserConfig`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParserBase {
    /// Field to parse (default `body`).
    pub parse_from: Field,
    /// Where the parsed map goes (default `attributes`).
    pub parse_to: Field,
    /// Field of the parsed result to copy to the body afterwards.
    pub body: Option<Field>,
    pub timestamp: Option<TimeConfig>,
    pub severity: Option<SeverityConfig>,
    pub trace: Option<TraceConfig>,
    /// Sets the entry's scope name from a field (`parse_from`).
    pub scope_name: Option<ParseFrom>,
}

const PARSER_KEYS: &[&str] = &[
    "parse_from",
    "parse_to",
    "body",
    "timestamp",
    "severity",
    "trace",
    "scope_name",
];

impl Default for ParserBase {
    fn default() -> Self {
        ParserBase {
            parse_from: Field::body(),
            parse_to: Field::attributes(),
            body: None,
            timestamp: None,
            severity: None,
            trace: None,
            scope_name: None,
        }
    }
}

/// `regex_parser`'s own keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegexConfig {
    /// The regular expression with named captures (required).
    pub regex: String,
}

/// `key_value_parser`'s own keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyValueConfig {
    /// Between a key and its value (default `=`).
    pub delimiter: String,
    /// Between pairs (default: whitespace).
    pub pair_delimiter: Option<String>,
}

impl Default for KeyValueConfig {
    fn default() -> Self {
        KeyValueConfig {
            delimiter: "=".into(),
            pair_delimiter: None,
        }
    }
}

/// `csv_parser`'s own keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvConfig {
    /// The field names, delimited (required unless `header_attribute`).
    pub header: Option<String>,
    /// An attribute holding the header, read per entry.
    pub header_attribute: Option<String>,
    /// One character between fields (default `,`).
    pub delimiter: String,
    /// One character between header names (default: `delimiter`).
    pub header_delimiter: Option<String>,
    /// A quote may appear in an unquoted field, a lone quote in a quoted field.
    pub lazy_quotes: bool,
    /// Quotes are ordinary characters: fields are split on the delimiter only.
    pub ignore_quotes: bool,
}

impl Default for CsvConfig {
    fn default() -> Self {
        CsvConfig {
            header: None,
            header_attribute: None,
            delimiter: ",".into(),
            header_delimiter: None,
            lazy_quotes: false,
            ignore_quotes: false,
        }
    }
}

/// `syslog_parser`'s own keys.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogConfig {
    /// `rfc3164` or `rfc5424` (required).
    pub protocol: String,
    /// Time zone of RFC 3164 timestamps (default `UTC`).
    pub location: String,
    /// RFC 6587 octet counting (`<length> <message>`; rfc5424 only).
    pub enable_octet_counting: bool,
    /// Accept messages without `<PRI>`; they get no priority, facility or severity.
    pub allow_skip_pri_header: bool,
    /// RFC 6587 non-transparent framing trailer: `LF` or `NUL` (rfc5424 only).
    pub non_transparent_framing_trailer: Option<String>,
    /// Longest octet-counted message (0: no limit).
    pub max_octets: usize,
}

/// `scope_name_parser`'s own keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScopeNameConfig {
    /// Field holding the scope name (default `body`).
    pub parse_from: Field,
}

impl Default for ScopeNameConfig {
    fn default() -> Self {
        ScopeNameConfig {
            parse_from: Field::body(),
        }
    }
}

/// `move` and `copy`: `from` -> `to`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FromTo {
    pub from: Field,
    pub to: Field,
}

/// `add`: sets `field` to `value`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddConfig {
    pub field: Field,
    pub value: serde_json::Value,
}

/// `regex_replace`'s keys: exactly one of `regex` and `regex_name`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegexReplaceConfig {
    /// The string field changed in place (required).
    pub field: Field,
    /// A Go (RE2) regular expression.
    #[serde(default)]
    pub regex: String,
    /// A well-known regex: `ansi_control_sequences` (CSI escape codes, `ESC [`).
    #[serde(default)]
    pub regex_name: String,
    /// What each match becomes; `${1}`, `${name}` refer to groups (default: empty).
    #[serde(default)]
    pub replace_with: String,
}

/// `sanitize_utf8`: one field, default `body`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SanitizeConfig {
    pub field: Field,
}

impl Default for SanitizeConfig {
    fn default() -> Self {
        SanitizeConfig {
            field: Field::body(),
        }
    }
}

/// `assign_keys`: the list at `field` becomes a map with `keys`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AssignKeysConfig {
    /// The list field (required).
    pub field: Field,
    /// One key per value of the list (required).
    #[serde(default)]
    pub keys: Vec<String>,
}

/// `json_array_parser`'s own keys.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JsonArrayConfig {
    /// Comma-separated names: the array becomes a map with these keys instead of a list.
    pub header: Option<String>,
}

/// `container`'s own keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainerConfig {
    /// `docker`, `crio` or `containerd`; empty: detected per entry.
    pub format: String,
    /// Set `k8s.*` resource attributes from `attributes["log.file.path"]`
    /// (`/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart count>.log`).
    pub add_metadata_from_filepath: bool,
    /// Longest recombined CRI line before it is flushed (0: no limit).
    pub max_log_size: super::super::size::StanzaSize,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            format: String::new(),
            add_metadata_from_filepath: true,
            max_log_size: super::super::size::StanzaSize(1 << 20),
        }
    }
}

/// `remove`, `flatten` and `unquote`: one field.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldConfig {
    pub field: Field,
}

/// `retain`: the fields kept.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetainConfig {
    pub fields: Vec<Field>,
}

/// One route of a `router`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Where matching entries go (required).
    pub output: Outputs,
    /// The condition (required).
    pub expr: String,
    /// Attributes added to entries that match.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// `router`: the first route whose `expr` is true gets the entry; else `default`, else
/// it is dropped.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub default: Option<Outputs>,
}

/// `filter`: drops entries for which `expr` is true, with probability `drop_ratio`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub expr: String,
    #[serde(default = "one")]
    pub drop_ratio: f64,
}

fn one() -> f64 {
    1.0
}

/// `recombine`'s own keys (stanza's defaults).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecombineConfig {
    /// True for the first entry of a series (exactly one of this and `is_last_entry`).
    pub is_first_entry: Option<String>,
    /// True for the last entry of a series.
    pub is_last_entry: Option<String>,
    /// The field joined across the series (required).
    pub combine_field: Option<Field>,
    /// Put between the joined values.
    pub combine_with: String,
    /// Flush after this many entries (0: no limit).
    pub max_batch_size: usize,
    /// Flush a series that never matched after this many entries (0: no limit).
    pub max_unmatched_batch_size: usize,
    /// Flush once the joined field is longer than this many bytes (0: no limit).
    pub max_log_size: super::super::size::StanzaSize,
    /// Entries are combined per value of this field.
    pub source_identifier: Field,
    /// `oldest` or `newest`: whose other fields the combined entry keeps.
    pub overwrite_with: String,
    /// Flush a series this long after its first entry was read.
    pub force_flush_period: GoDuration,
    /// Sources tracked at once; one more flushes them all.
    pub max_sources: usize,
}

impl Default for RecombineConfig {
    fn default() -> Self {
        RecombineConfig {
            is_first_entry: None,
            is_last_entry: None,
            combine_field: None,
            combine_with: "\n".into(),
            max_batch_size: 1000,
            max_unmatched_batch_size: 100,
            max_log_size: super::super::size::StanzaSize(0),
            source_identifier: Field::attribute("log.file.path"),
            overwrite_with: "oldest".into(),
            force_flush_period: GoDuration::from_secs(5),
            max_sources: 1000,
        }
    }
}

/// A parser's common keys and its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParserOf<T> {
    #[serde(flatten)]
    pub base: ParserBase,
    #[serde(flatten)]
    pub own: T,
}

/// Operators without keys of their own.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

/// What an operator is, with its own keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OperatorKind {
    JsonParser(ParserBase),
    RegexParser(ParserOf<RegexConfig>),
    KeyValueParser(ParserOf<KeyValueConfig>),
    CsvParser(ParserOf<CsvConfig>),
    SyslogParser(ParserOf<SyslogConfig>),
    /// `parse_from` defaults to `body`.
    TimeParser(TimeConfig),
    /// `parse_from` defaults to `body`.
    SeverityParser(SeverityConfig),
    TraceParser(TraceConfig),
    ScopeNameParser(ScopeNameConfig),
    Move(FromTo),
    Copy(FromTo),
    Add(AddConfig),
    Remove(FieldConfig),
    Flatten(FieldConfig),
    Retain(RetainConfig),
    Router(RouterConfig),
    Filter(FilterConfig),
    Recombine(RecombineConfig),
    Noop(Nothing),
    JsonArrayParser(ParserOf<JsonArrayConfig>),
    UriParser(ParserBase),
    Unquote(FieldConfig),
    RegexReplace(RegexReplaceConfig),
    SanitizeUtf8(SanitizeConfig),
    AssignKeys(AssignKeysConfig),
    Container(ParserOf<ContainerConfig>),
}

/// One entry of `operators`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorConfig {
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub kind: OperatorKind,
}

/// The type names, in the order of [`OperatorKind`].
pub const TYPES: &[&str] = &[
    "json_parser",
    "regex_parser",
    "key_value_parser",
    "csv_parser",
    "syslog_parser",
    "time_parser",
    "severity_parser",
    "trace_parser",
    "scope_name_parser",
    "move",
    "copy",
    "add",
    "remove",
    "flatten",
    "retain",
    "router",
    "filter",
    "recombine",
    "noop",
    "json_array_parser",
    "uri_parser",
    "unquote",
    "regex_replace",
    "sanitize_utf8",
    "assign_keys",
    "container",
];

impl OperatorConfig {
    /// The operator's `type`.
    pub fn type_name(&self) -> &'static str {
        use OperatorKind as K;
        let i = match &self.kind {
            K::JsonParser(_) => 0,
            K::RegexParser(_) => 1,
            K::KeyValueParser(_) => 2,
            K::CsvParser(_) => 3,
            K::SyslogParser(_) => 4,
            K::TimeParser(_) => 5,
            K::SeverityParser(_) => 6,
            K::TraceParser(_) => 7,
            K::ScopeNameParser(_) => 8,
            K::Move(_) => 9,
            K::Copy(_) => 10,
            K::Add(_) => 11,
            K::Remove(_) => 12,
            K::Flatten(_) => 13,
            K::Retain(_) => 14,
            K::Router(_) => 15,
            K::Filter(_) => 16,
            K::Recombine(_) => 17,
            K::Noop(_) => 18,
            K::JsonArrayParser(_) => 19,
            K::UriParser(_) => 20,
            K::Unquote(_) => 21,
            K::RegexReplace(_) => 22,
            K::SanitizeUtf8(_) => 23,
            K::AssignKeys(_) => 24,
            K::Container(_) => 25,
        };
        TYPES[i]
    }

    /// The operator's `id` (default: its type).
    pub fn id(&self) -> String {
        self.common
            .id
            .clone()
            .unwrap_or_else(|| self.type_name().to_string())
    }
}

fn typed<T: de::DeserializeOwned, E: de::Error>(v: Mapping) -> Result<T, E> {
    serde_yaml_ng::from_value(Yaml::Mapping(v)).map_err(E::custom)
}

/// Moves `keys` out of `map` into a map of their own.
fn take(map: &mut Mapping, keys: &[&str]) -> Mapping {
    keys.iter()
        .filter_map(|k| Some((Yaml::from(*k), map.remove(*k)?)))
        .collect()
}

fn parser<T: de::DeserializeOwned, E: de::Error>(mut map: Mapping) -> Result<ParserOf<T>, E> {
    let base = typed(take(&mut map, PARSER_KEYS))?;
    Ok(ParserOf {
        base,
        own: typed(map)?,
    })
}

fn kind<E: de::Error>(ty: &str, m: Mapping) -> Result<OperatorKind, E> {
    use OperatorKind as K;
    Ok(match ty {
        "json_parser" => K::JsonParser(parser::<Nothing, E>(m)?.base),
        "regex_parser" => K::RegexParser(parser(m)?),
        "key_value_parser" => K::KeyValueParser(parser(m)?),
        "csv_parser" => K::CsvParser(parser(m)?),
        "syslog_parser" => K::SyslogParser(parser(m)?),
        "time_parser" => K::TimeParser(typed(m)?),
        "severity_parser" => K::SeverityParser(typed(m)?),
        "trace_parser" => K::TraceParser(typed(m)?),
        "scope_name_parser" => K::ScopeNameParser(typed(m)?),
        "move" => K::Move(typed(m)?),
        "copy" => K::Copy(typed(m)?),
        "add" => K::Add(typed(m)?),
        "remove" => K::Remove(typed(m)?),
        "flatten" => K::Flatten(typed(m)?),
        "retain" => K::Retain(typed(m)?),
        "router" => K::Router(typed(m)?),
        "filter" => K::Filter(typed(m)?),
        "recombine" => K::Recombine(typed(m)?),
        "noop" => K::Noop(typed(m)?),
        "json_array_parser" => K::JsonArrayParser(parser(m)?),
        "uri_parser" => K::UriParser(parser::<Nothing, E>(m)?.base),
        "unquote" => K::Unquote(typed(m)?),
        "regex_replace" => K::RegexReplace(typed(m)?),
        "sanitize_utf8" => K::SanitizeUtf8(typed(m)?),
        "assign_keys" => K::AssignKeys(typed(m)?),
        "container" => K::Container(parser(m)?),
        other => return Err(E::custom(format!("unsupported type '{other}'"))),
    })
}

impl<'de> Deserialize<'de> for OperatorConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Mapping::deserialize(d)?;
        let ty = match map.remove("type") {
            Some(Yaml::String(s)) => s,
            Some(_) | None => return Err(de::Error::custom("missing required field 'type'")),
        };
        let common: Common = typed(take(&mut map, COMMON_KEYS))?;
        if ty == "router" && common.output.is_some() {
            return Err(de::Error::custom(
                "router has no `output`: routes name theirs, and `default` the rest",
            ));
        }
        Ok(OperatorConfig {
            common,
            kind: kind(&ty, map)?,
        })
    }
}
