//! The attribute action engine shared by the `resource` and `attributes` processors (otelcol's
//! `coreinternal/attraction`): an ordered list of actions (`insert`, `update`, `upsert`, `delete`,
//! `hash`, `extract`, `convert`) applied to one attribute list at a time.
//!
//! ```yaml
//! actions:
//!   - { key: environment, value: production, action: insert }
//!   - { key: user.email, action: hash }
//!   - { pattern: '^http\.request\.header\..*', action: delete }
//!   - { key: http.url, pattern: '^(?P<scheme>\w+)://(?P<host>[^/]+)', action: extract }
//!   - { key: tenant, from_context: metadata.x-tenant, action: upsert }
//!   - { key: http.status_code, converted_type: int, action: convert }
//! ```

use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{Findings, Validator};
use ferrotel_core::proto::common::v1::{
    any_value::Value as V, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use ferrotel_core::RequestMeta;
use ferrotel_core::{format, pdata};
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One entry of `actions` (attributes) or `attributes` (resource).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionConfig {
    /// The attribute the action works on.
    pub key: String,
    /// `insert`, `update`, `upsert`, `delete`, `hash`, `extract` or `convert` (any case).
    pub action: Choice<ActionKind>,
    /// A literal value of any YAML type (string, int, double, bool, list, map).
    pub value: Option<serde_yaml_ng::Value>,
    /// Copy the value of this attribute of the same item.
    pub from_attribute: String,
    /// Copy a request value: `metadata.<header>`, `auth.<attribute>` or `client.address`.
    pub from_context: String,
    /// Used by insert/update/upsert when the `from_context` value is absent.
    pub default_value: Option<serde_yaml_ng::Value>,
    /// A regular expression: keys to delete or hash, or the named groups `extract` upserts.
    pub pattern: String,
    /// `int`, `double` or `string`, for `convert`.
    pub converted_type: Choice<ConvertedType>,
}

/// What an action does (`action`; otelcol accepts any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Adds the attribute if it is absent.
    Insert,
    /// Changes the attribute if it is present.
    Update,
    /// Adds or changes the attribute.
    Upsert,
    /// Removes `key` and the keys `pattern` matches.
    Delete,
    /// Replaces the values of `key` and of the keys `pattern` matches with their SHA-256.
    Hash,
    /// Upserts the named groups of `pattern` matched against the value of `key`.
    Extract,
    /// Converts the value of `key` to `converted_type`.
    Convert,
}

impl Choices for ActionKind {
    const IGNORE_CASE: bool = true;
}

impl ActionKind {
    /// The name, as otelcol's messages spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Insert => "insert",
            ActionKind::Update => "update",
            ActionKind::Upsert => "upsert",
            ActionKind::Delete => "delete",
            ActionKind::Hash => "hash",
            ActionKind::Extract => "extract",
            ActionKind::Convert => "convert",
        }
    }
}

/// The type `convert` converts to (`converted_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvertedType {
    Int,
    Double,
    String,
}

impl Choices for ConvertedType {}

#[derive(Debug, Clone)]
enum Source {
    Value(V),
    Attribute(String),
    Context(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Int,
    Double,
    Str,
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Source),
    Update(Source),
    Upsert(Source),
    Delete,
    Hash,
    /// The names of the pattern's groups, index 0 (the whole match) unused.
    Extract(Vec<String>),
    Convert(Target),
}

#[derive(Debug, Clone)]
struct Action {
    key: String,
    regex: Option<Regex>,
    default: Option<V>,
    op: Op,
}

/// A compiled action list.
#[derive(Debug, Clone, Default)]
pub struct AttrProc {
    actions: Vec<Action>,
}

impl AttrProc {
    /// Compiles `actions`, the list at `key` of the config `v` checks. Every problem is
    /// reported at its entry (`actions[2].pattern`), in otelcol's words; an entry with a
    /// problem is left out.
    pub fn compile(actions: &[ActionConfig], v: &mut Validator<'_>, key: &str) -> AttrProc {
        let mut out = Vec::with_capacity(actions.len());
        for (i, a) in actions.iter().enumerate() {
            match compile(a, i) {
                Ok(action) => out.push(action),
                Err((field, msg)) => {
                    let mut at = crate::entry(v, key, i);
                    match field {
                        "" => at.report(msg),
                        f => at.report_at(f, msg),
                    }
                }
            }
        }
        AttrProc { actions: out }
    }

    /// Compiles a list [`AttrProc::compile`] found no problem in (a validated config's).
    pub fn new(actions: &[ActionConfig]) -> AttrProc {
        AttrProc::compile(
            actions,
            &mut Validator::new("", &mut Findings::default()),
            "",
        )
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Applies every action, in order, to one attribute list.
    pub fn process(&self, attrs: &mut Vec<KeyValue>, meta: &RequestMeta) {
        for a in &self.actions {
            match &a.op {
                Op::Insert(src) => {
                    if find(attrs, &a.key).is_none() {
                        if let Some(v) = a.source_value(src, attrs, meta) {
                            pdata::upsert(attrs, &a.key, v);
                        }
                    }
                }
                Op::Update(src) => {
                    if find(attrs, &a.key).is_some() {
                        if let Some(v) = a.source_value(src, attrs, meta) {
                            pdata::upsert(attrs, &a.key, v);
                        }
                    }
                }
                Op::Upsert(src) => {
                    if let Some(v) = a.source_value(src, attrs, meta) {
                        pdata::upsert(attrs, &a.key, v);
                    }
                }
                Op::Delete => {
                    if !a.key.is_empty() {
                        pdata::delete(attrs, &a.key);
                    }
                    if let Some(re) = &a.regex {
                        attrs.retain(|kv| !re.is_match(&kv.key));
                    }
                }
                Op::Hash => {
                    if let Some(i) = find(attrs, &a.key) {
                        hash_in_place(&mut attrs[i]);
                    }
                    if let Some(re) = &a.regex {
                        for kv in attrs.iter_mut().filter(|kv| re.is_match(&kv.key)) {
                            hash_in_place(kv);
                        }
                    }
                }
                Op::Extract(names) => a.extract(names, attrs),
                Op::Convert(t) => {
                    if let Some(i) = find(attrs, &a.key) {
                        convert(&mut attrs[i], *t);
                    }
                }
            }
        }
    }
}

impl Action {
    fn source_value(&self, src: &Source, attrs: &[KeyValue], meta: &RequestMeta) -> Option<V> {
        match src {
            Source::Value(v) => Some(v.clone()),
            Source::Attribute(k) => pdata::attr(attrs, k).cloned(),
            Source::Context(k) => context_value(meta, k)
                .map(V::StringValue)
                .or_else(|| self.default.clone()),
        }
    }

    fn extract(&self, names: &[String], attrs: &mut Vec<KeyValue>) {
        let (Some(re), Some(V::StringValue(s))) = (&self.regex, pdata::attr(attrs, &self.key))
        else {
            return;
        };
        let Some(caps) = re.captures(s) else { return };
        let found: Vec<(usize, String)> = (1..names.len())
            .map(|i| (i, caps.get(i).map_or("", |m| m.as_str()).to_string()))
            .collect();
        for (i, v) in found {
            pdata::upsert(attrs, &names[i], V::StringValue(v));
        }
    }
}

fn find(attrs: &[KeyValue], key: &str) -> Option<usize> {
    attrs.iter().position(|kv| kv.key == key)
}

/// A request value for `from_context`. Several values are joined with `;`.
pub fn context_value(meta: &RequestMeta, key: &str) -> Option<String> {
    let vals: Vec<&str> = if key == "client.address" {
        // otelcol records the peer as ip:port for gRPC and as the bare IP for HTTP.
        return meta.peer.map(|p| {
            if meta.transport == "http" {
                p.ip().to_string()
            } else {
                p.to_string()
            }
        });
    } else if let Some(name) = key.strip_prefix("metadata.") {
        meta.header_values(name).collect()
    } else if let Some(name) = key.strip_prefix("auth.") {
        meta.auth
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    } else {
        meta.header_values(key).collect()
    };
    if vals.is_empty() {
        None
    } else {
        Some(vals.join(";"))
    }
}

/// Lower-case hex SHA-256 of the value's bytes (strings as UTF-8, bools as one byte, ints and
/// doubles as 8 little-endian bytes); maps, lists, bytes and empty strings become `""`.
pub fn hash_value(v: Option<&V>) -> String {
    let bytes: Vec<u8> = match v {
        Some(V::StringValue(s)) => s.as_bytes().to_vec(),
        Some(V::BoolValue(b)) => vec![u8::from(*b)],
        Some(V::IntValue(i)) => i.to_le_bytes().to_vec(),
        Some(V::DoubleValue(d)) => d.to_bits().to_le_bytes().to_vec(),
        _ => Vec::new(),
    };
    if bytes.is_empty() {
        return String::new();
    }
    hex::encode(Sha256::digest(&bytes))
}

fn hash_in_place(kv: &mut KeyValue) {
    let h = hash_value(kv.value.as_ref().and_then(|v| v.value.as_ref()));
    kv.value = Some(AnyValue {
        value: Some(V::StringValue(h)),
    });
}

fn convert(kv: &mut KeyValue, t: Target) {
    let Some(v) = kv.value.as_mut().and_then(|v| v.value.as_mut()) else {
        return;
    };
    let new = match (t, &*v) {
        (Target::Int, V::DoubleValue(d)) => Some(V::IntValue(*d as i64)),
        (Target::Int, V::BoolValue(b)) => Some(V::IntValue(i64::from(*b))),
        (Target::Int, V::StringValue(s)) => s.parse::<i64>().ok().map(V::IntValue),
        (Target::Double, V::IntValue(i)) => Some(V::DoubleValue(*i as f64)),
        (Target::Double, V::BoolValue(b)) => Some(V::DoubleValue(if *b { 1.0 } else { 0.0 })),
        (Target::Double, V::StringValue(s)) => parse_go_float(s).map(V::DoubleValue),
        (Target::Str, V::StringValue(_)) => None,
        (Target::Str, other) => Some(V::StringValue(format::value_as_string(Some(other)))),
        _ => None,
    };
    if let Some(n) = new {
        *v = n;
    }
}

/// Go's `strconv.ParseFloat` for the forms people write (`1.5`, `-3`, `1e3`, `+Inf`, `NaN`).
pub fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    let lower = t.to_ascii_lowercase();
    if matches!(lower.trim_start_matches('-'), "inf" | "infinity" | "nan") {
        return s.parse::<f64>().ok();
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b".+-eE".contains(&b))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// A YAML value as an attribute value (pdata's `FromRaw`); `None` for null.
pub fn yaml_to_value(v: &serde_yaml_ng::Value) -> Option<V> {
    use serde_yaml_ng::Value as Y;
    let any = |v: &Y| AnyValue {
        value: yaml_to_value(v),
    };
    Some(match v {
        Y::Null => return None,
        Y::Bool(b) => V::BoolValue(*b),
        Y::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        Y::String(s) => V::StringValue(s.clone()),
        Y::Sequence(seq) => V::ArrayValue(ArrayValue {
            values: seq.iter().map(any).collect(),
        }),
        Y::Mapping(m) => V::KvlistValue(KeyValueList {
            values: m
                .iter()
                .map(|(k, v)| KeyValue {
                    key: yaml_key(k),
                    value: Some(any(v)),
                    ..Default::default()
                })
                .collect(),
        }),
        Y::Tagged(t) => return yaml_to_value(&t.value),
    })
}

fn yaml_key(k: &serde_yaml_ng::Value) -> String {
    match k {
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// A problem of an action: the offending field and otelcol's message.
type Problem = (&'static str, String);

/// Compiles one action; on error, the offending field and otelcol's message.
fn compile(a: &ActionConfig, i: usize) -> Result<Action, Problem> {
    let kind = a.action.known();
    let is_key_or_pattern = matches!(kind, Some(ActionKind::Delete | ActionKind::Hash));
    if is_key_or_pattern {
        if a.key.is_empty() && a.pattern.is_empty() {
            return Err(("key", format!("error creating AttrProc due to missing required field (at least one of \"key\" and \"pattern\" have to be used) at the {i}-th actions")));
        }
    } else if a.key.is_empty() {
        return Err((
            "key",
            format!("error creating AttrProc due to missing required field \"key\" at the {i}-th actions"),
        ));
    }
    let value = a.value.as_ref().and_then(yaml_to_value);
    let c = Compiling {
        a,
        i,
        action: kind.map_or("", ActionKind::as_str),
        sources: usize::from(value.is_some())
            + usize::from(!a.from_attribute.is_empty())
            + usize::from(!a.from_context.is_empty()),
    };
    let (op, regex) = match kind {
        Some(kind @ (ActionKind::Insert | ActionKind::Update | ActionKind::Upsert)) => {
            (c.set(kind, value)?, None)
        }
        Some(kind @ (ActionKind::Delete | ActionKind::Hash)) => c.delete_or_hash(kind)?,
        Some(ActionKind::Extract) => c.extract()?,
        Some(ActionKind::Convert) => (c.convert()?, None),
        None => {
            let other = a.action.unknown().unwrap_or_default();
            let msg = format!(
                "error creating AttrProc due to unsupported action \"{other}\" at the {i}-th actions"
            );
            return Err(("action", msg));
        }
    };
    Ok(Action {
        key: a.key.clone(),
        regex,
        default: a.default_value.as_ref().and_then(yaml_to_value),
        op,
    })
}

/// The `i`-th action being compiled, with what the checks of every kind look at.
struct Compiling<'a> {
    a: &'a ActionConfig,
    i: usize,
    /// The action's name.
    action: &'static str,
    /// How many of `value`, `from_attribute` and `from_context` are set.
    sources: usize,
}

impl Compiling<'_> {
    /// `insert`, `update` or `upsert`, from exactly one value source.
    fn set(&self, kind: ActionKind, value: Option<V>) -> Result<Op, Problem> {
        let (a, i, action) = (self.a, self.i, self.action);
        if self.sources == 0 {
            return Err(("", format!("error creating AttrProc. Either field \"value\", \"from_attribute\" or \"from_context\" setting must be specified for {i}-th action")));
        }
        if self.sources > 1 {
            return Err(("", format!("error creating AttrProc due to multiple value sources being set at the {i}-th actions")));
        }
        if !a.pattern.is_empty() {
            return Err(("pattern", format!("error creating AttrProc. Action \"{action}\" does not use the \"pattern\" field. This must not be specified for {i}-th action")));
        }
        self.no_converted_type()?;
        let src = match value {
            Some(v) => Source::Value(v),
            None if !a.from_attribute.is_empty() => Source::Attribute(a.from_attribute.clone()),
            None => Source::Context(a.from_context.clone()),
        };
        Ok(match kind {
            ActionKind::Insert => Op::Insert(src),
            ActionKind::Update => Op::Update(src),
            _ => Op::Upsert(src),
        })
    }

    fn delete_or_hash(&self, kind: ActionKind) -> Result<(Op, Option<Regex>), Problem> {
        let (i, action) = (self.i, self.action);
        if self.sources > 0 {
            return Err(("", format!("error creating AttrProc. Action \"{action}\" does not use value sources or \"from_attribute\" field. These must not be specified for {i}-th action")));
        }
        self.no_converted_type()?;
        let regex = self.pattern()?;
        let op = if kind == ActionKind::Delete {
            Op::Delete
        } else {
            Op::Hash
        };
        Ok((op, regex))
    }

    /// `extract`: a pattern whose groups are all named.
    fn extract(&self) -> Result<(Op, Option<Regex>), Problem> {
        let (a, i, action) = (self.a, self.i, self.action);
        if self.sources > 0 {
            return Err(("", format!("error creating AttrProc. Action \"{action}\" does not use a value source field. These must not be specified for {i}-th action")));
        }
        if a.pattern.is_empty() {
            return Err(("pattern", format!("error creating AttrProc due to missing required field \"pattern\" for action \"{action}\" at the {i}-th action")));
        }
        self.no_converted_type()?;
        let re = self.pattern()?;
        let names: Vec<String> = re
            .as_ref()
            .map(|r| {
                r.capture_names()
                    .map(|n| n.unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        if names.len() <= 1 {
            return Err(("pattern", format!("error creating AttrProc. Field \"pattern\" contains no named matcher groups at the {i}-th actions")));
        }
        if names[1..].iter().any(String::is_empty) {
            return Err(("pattern", format!("error creating AttrProc. Field \"pattern\" contains at least one unnamed matcher group at the {i}-th actions")));
        }
        Ok((Op::Extract(names), re))
    }

    fn convert(&self) -> Result<Op, Problem> {
        let (a, i, action) = (self.a, self.i, self.action);
        if self.sources > 0 || !a.pattern.is_empty() {
            return Err(("", format!("error creating AttrProc. Action \"{action}\" does not use value sources or \"from_attribute\" field or pattern. These must not be specified for {i}-th action")));
        }
        Ok(Op::Convert(match &a.converted_type {
            Choice::Known(ConvertedType::Int) => Target::Int,
            Choice::Known(ConvertedType::Double) => Target::Double,
            Choice::Known(ConvertedType::String) => Target::Str,
            Choice::Unknown(other) if other.is_empty() => return Err(("converted_type", format!("error creating AttrProc due to missing required field \"converted_type\" for action \"{action}\" at the {i}-th action"))),
            Choice::Unknown(other) => return Err(("converted_type", format!("error creating AttrProc due to invalid value \"{other}\" in field \"converted_type\" for action \"{action}\" at the {i}-th action"))),
        }))
    }

    fn no_converted_type(&self) -> Result<(), Problem> {
        let (i, action) = (self.i, self.action);
        if self.a.converted_type == Choice::Unknown(String::new()) {
            Ok(())
        } else {
            Err(("converted_type", format!("error creating AttrProc. Action \"{action}\" does not use the \"converted_type\" field. This must not be specified for {i}-th action")))
        }
    }

    /// The compiled `pattern`, if set.
    fn pattern(&self) -> Result<Option<Regex>, Problem> {
        let (a, i) = (self.a, self.i);
        if a.pattern.is_empty() {
            return Ok(None);
        }
        Regex::new(&a.pattern).map(Some).map_err(|_| {
            (
                "pattern",
                format!("error creating AttrProc. Field \"pattern\" has invalid pattern: \"{}\" to be set at the {i}-th actions", a.pattern),
            )
        })
    }
}

#[cfg(test)]
mod tests;
