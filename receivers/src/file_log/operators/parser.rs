//! What every parser does (stanza's `ParserOperator`): read `parse_from`, parse it into a map,
//! store the map at `parse_to`, copy `body` if set, then run the embedded `timestamp`,
//! `severity`, `trace` and `scope_name` blocks. Also the two simplest parsers, `json_parser`
//! and `regex_parser`.

use super::config::{ParserBase, RegexConfig};
use super::entry::Spare;
use super::field::{Field, Root};
use super::severity::Severity;
use super::time::TimeParse;
use super::trace::TraceFields;
use super::{as_text, kind, Entry, Operator};
use serde_json::{Map, Value};

/// Longest compiled regex program, in bytes.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a Go (RE2) regex: a `{` that does not start a counted repetition (`{2}`, `{2,}`,
/// `{2,5}`) is a literal there, as in `^{.*}$`, while Rust's regex refuses it; such braces are
/// escaped first. The compiled size is bounded.
pub fn go_regex(pattern: &str) -> Result<regex::Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.char_indices();
    let mut in_class = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '{' if !in_class => match repetition(&pattern[i..]) {
                Some(len) => {
                    out.push_str(&pattern[i..i + len]);
                    for _ in 1..len {
                        chars.next();
                    }
                }
                None => out.push_str("\\{"),
            },
            '}' if !in_class => out.push_str("\\}"),
            _ => out.push(c),
        }
    }
    regex::RegexBuilder::new(&out)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("compiling regex: {e}"))
}

/// The length of `{n}`, `{n,}` or `{n,m}` at the start of `s`.
fn repetition(s: &str) -> Option<usize> {
    let body = s.strip_prefix('{')?;
    let end = body.find('}')?;
    let (min, max) = body[..end].split_once(',').unwrap_or((&body[..end], "0"));
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    (!min.is_empty() && digits(min) && digits(max)).then_some(end + 2)
}

/// One kind of parse: a value to a map.
pub trait Parse: Send + Sync {
    fn parse(&self, v: &Value, e: &Entry) -> Result<Map<String, Value>, String>;

    /// The parsed value: the map of [`Parse::parse`], unless the parser makes lists
    /// (`json_array_parser` without `header`).
    fn parse_value(&self, v: &Value, e: &Entry) -> Result<Value, String> {
        self.parse(v, e).map(Value::Object)
    }

    /// Runs after a successful parse, before the map is stored (syslog sets the severity and
    /// timestamp from it).
    fn finish(&self, _parsed: &mut Map<String, Value>, _e: &mut Entry) -> Result<(), String> {
        Ok(())
    }

    /// Parses a string straight into `(key, value)` pairs (strings from `spare`), as
    /// [`Parse::parse`] would make its map; None where this parser has no such path (or not
    /// for this text). Only used when `finish` has nothing to do.
    fn parse_pairs(
        &self,
        _text: &str,
        _spare: &mut Spare,
        _out: &mut Vec<(String, Value)>,
    ) -> Option<Result<(), String>> {
        None
    }
}

/// A configured parser.
pub struct Parser {
    how: Box<dyn Parse>,
    parse_from: Field,
    parse_to: Field,
    body: Option<Field>,
    timestamp: Option<TimeParse>,
    severity: Option<Severity>,
    trace: Option<TraceFields>,
    scope_name: Option<Field>,
    /// From the body into the attributes root, without `body`: pairs may go in directly.
    direct: bool,
}

impl Parser {
    pub fn new(c: &ParserBase, how: Box<dyn Parse>) -> Result<Parser, String> {
        if c.body.is_some() && c.parse_to == Field::body() {
            return Err("`parse_to: body` not allowed when `body` is configured".into());
        }
        let scope_name = match &c.scope_name {
            Some(s) => Some(s.parse_from.clone().ok_or_else(|| {
                "scope_name: missing required configuration parameter `parse_from`".to_string()
            })?),
            None => None,
        };
        Ok(Parser {
            how,
            parse_from: c.parse_from.clone(),
            parse_to: c.parse_to.clone(),
            body: c.body.clone(),
            timestamp: c.timestamp.as_ref().map(TimeParse::new).transpose()?,
            severity: c.severity.as_ref().map(Severity::new).transpose()?,
            trace: c.trace.as_ref().map(TraceFields::new),
            scope_name,
            direct: c.parse_from == Field::body()
                && c.parse_to == Field::attributes()
                && c.body.is_none(),
        })
    }

    /// The direct path: a string body parsed into pairs, merged into the attributes (as
    /// `parse_to.set` merges a map); None where it does not apply.
    fn parse_direct(&self, e: &mut Entry) -> Option<Result<(), String>> {
        if !self.direct {
            return None;
        }
        let Entry { body, spare, .. } = e;
        let Value::String(text) = body else {
            return None;
        };
        let mut pairs = std::mem::take(&mut spare.pairs);
        let result = match self.how.parse_pairs(text, spare, &mut pairs) {
            None => None,
            Some(Ok(())) => Some(Ok(())),
            Some(Err(err)) => Some(Err(format!("{err}: {text}"))),
        };
        if !matches!(result, Some(Ok(()))) {
            for (k, v) in pairs.drain(..) {
                spare.keep(k);
                spare.keep_value(v);
            }
            spare.pairs = pairs;
            return result;
        }
        for (k, v) in pairs.drain(..) {
            if let Some(old) = e.attributes.insert(k, v) {
                e.spare.keep_value(old);
            }
        }
        e.spare.pairs = pairs;
        Some(self.blocks(e))
    }

    /// The embedded blocks, each tried; their errors together.
    fn blocks(&self, e: &mut Entry) -> Result<(), String> {
        let mut errs = vec![];
        if let Some(t) = &self.timestamp {
            t.apply(e)
                .unwrap_or_else(|err| errs.push(format!("time parser: {err}")));
        }
        if let Some(s) = &self.severity {
            s.apply(e)
                .unwrap_or_else(|err| errs.push(format!("severity parser: {err}")));
        }
        if let Some(t) = &self.trace {
            t.apply(e)
                .unwrap_or_else(|err| errs.push(format!("trace parser: {err}")));
        }
        if let Some(f) = &self.scope_name {
            set_scope_name(f, e)
                .unwrap_or_else(|err| errs.push(format!("scope_name parser: {err}")));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

impl Operator for Parser {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        if let Some(r) = self.parse_direct(e) {
            return r;
        }
        let v = self.parse_from.get(e).ok_or_else(|| {
            format!(
                "Entry is missing the expected parse_from field: {}",
                self.parse_from
            )
        })?;
        let mut parsed = self
            .how
            .parse_value(v, e)
            .map_err(|err| format!("{err}: {}", as_text(v)))?;
        if let Value::Object(m) = &mut parsed {
            self.how.finish(m, e)?;
        } else if self.parse_to.root != Root::Body && self.parse_to.keys.is_empty() {
            return Err(format!("set parse_to: cannot set {} root", self.parse_to));
        }
        if self.parse_to == self.parse_from {
            self.parse_from.delete(e);
        }
        self.parse_to.set(e, parsed);
        if let Some(b) = &self.body {
            if let Some(v) = b.get(e).cloned() {
                e.body = v;
            }
        }
        self.blocks(e)
    }
}

/// Sets the entry's scope name from a field (`scope_name_parser` and the parsers' block).
pub fn set_scope_name(f: &Field, e: &mut Entry) -> Result<(), String> {
    match f.get(e) {
        Some(Value::String(s)) => {
            e.scope_name = s.clone();
            Ok(())
        }
        Some(other) => Err(format!("cannot parse type {} as scope name", kind(other))),
        None => Err(format!(
            "log entry does not have the expected parse_from field {f}"
        )),
    }
}

/// `json_parser`.
pub struct Json;

impl Parse for Json {
    fn parse_pairs(
        &self,
        text: &str,
        spare: &mut Spare,
        out: &mut Vec<(String, Value)>,
    ) -> Option<Result<(), String>> {
        super::json::parse_object(text, spare, out)
    }

    fn parse(&self, v: &Value, _: &Entry) -> Result<Map<String, Value>, String> {
        match v {
            Value::String(s) => match serde_json::from_str(s) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err("expected { character for map value".into()),
                Err(e) => Err(e.to_string()),
            },
            Value::Object(m) => Ok(m.clone()),
            other => Err(format!("type {} cannot be parsed as JSON", kind(other))),
        }
    }
}

/// `regex_parser`.
pub struct Regex(regex::Regex);

impl Regex {
    pub fn new(c: &RegexConfig) -> Result<Regex, String> {
        let re = go_regex(&c.regex)?;
        if re.capture_names().flatten().next().is_none() {
            return Err("no named capture groups in regex pattern".into());
        }
        Ok(Regex(re))
    }
}

impl Parse for Regex {
    fn parse(&self, v: &Value, _: &Entry) -> Result<Map<String, Value>, String> {
        let Value::String(s) = v else {
            return Err(format!("type '{}' cannot be parsed as regex", kind(v)));
        };
        let caps = self
            .0
            .captures(s)
            .ok_or_else(|| "regex pattern does not match".to_string())?;
        Ok(self
            .0
            .capture_names()
            .flatten()
            .filter_map(|n| Some((n.to_string(), Value::String(caps.name(n)?.as_str().into()))))
            .collect())
    }
}
