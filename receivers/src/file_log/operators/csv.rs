//! `csv_parser`: one delimited line into a map keyed by the header's names. Quoting follows
//! Go's `encoding/csv` (which otelcol uses), including its errors and `lazy_quotes`; with
//! `ignore_quotes` the line is split on the delimiter only. Several lines in one value (a
//! newline outside quotes) continue the previous line's last field, as in stanza.
//! Hand-written rather than the `csv` crate: that crate is deliberately lenient where Go's
//! reader errors (bare and extraneous quotes), and otelcol's results are what we match.

use super::config::CsvConfig;
use super::parser::Parse;
use super::{kind, Entry};
use serde_json::{Map, Value};

enum Header {
    Fixed(Vec<String>),
    Attribute(String),
}

pub struct Csv {
    header: Header,
    delimiter: char,
    header_delimiter: char,
    lazy_quotes: bool,
    ignore_quotes: bool,
}

fn one_char(s: &str, key: &str) -> Result<char, String> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c != '\r' && c != '\n' && c != '"' => Ok(c),
        _ => Err(format!("invalid '{key}': '{s}'")),
    }
}

impl Csv {
    pub fn new(c: &CsvConfig) -> Result<Csv, String> {
        let delimiter = one_char(&c.delimiter, "delimiter")?;
        let header_delimiter = match &c.header_delimiter {
            Some(d) => one_char(d, "header_delimiter")?,
            None => delimiter,
        };
        let header = match (&c.header, &c.header_attribute) {
            (None, None) => {
                return Err("missing required field 'header' or 'header_attribute'".into())
            }
            (Some(_), Some(_)) => {
                return Err(
                    "only one header parameter can be set: 'header' or 'header_attribute'".into(),
                )
            }
            (Some(h), None) if !h.contains(header_delimiter) => {
                return Err("missing field delimiter in header".into())
            }
            (Some(h), None) => Header::Fixed(h.split(header_delimiter).map(String::from).collect()),
            (None, Some(a)) => Header::Attribute(a.clone()),
        };
        if c.ignore_quotes && c.lazy_quotes {
            return Err("only one of 'ignore_quotes' or 'lazy_quotes' can be true".into());
        }
        Ok(Csv {
            header,
            delimiter,
            header_delimiter,
            lazy_quotes: c.lazy_quotes,
            ignore_quotes: c.ignore_quotes,
        })
    }

    fn names(&self, e: &Entry) -> Result<Vec<String>, String> {
        match &self.header {
            Header::Fixed(h) => Ok(h.clone()),
            Header::Attribute(a) => match e.attributes.get(a) {
                Some(Value::String(s)) => {
                    Ok(s.split(self.header_delimiter).map(String::from).collect())
                }
                Some(other) => Err(format!(
                    "header is expected to be a string but is {}",
                    kind(other)
                )),
                None => Err(format!("failed to read dynamic header attribute {a}")),
            },
        }
    }

    /// The fields of every line, the later lines continuing the previous last field.
    fn fields(&self, s: &str) -> Result<Vec<String>, String> {
        if self.ignore_quotes {
            return Ok(s.split(self.delimiter).map(String::from).collect());
        }
        let mut joined: Vec<String> = vec![];
        for line in records(s, self.delimiter, self.lazy_quotes)? {
            let mut it = line.into_iter();
            match (joined.last_mut(), it.next()) {
                (Some(last), Some(first)) => {
                    last.push('\n');
                    last.push_str(&first);
                }
                (None, Some(first)) => joined.push(first),
                (_, None) => {}
            }
            joined.extend(it);
        }
        Ok(joined)
    }
}

impl Parse for Csv {
    fn parse(&self, v: &Value, e: &Entry) -> Result<Map<String, Value>, String> {
        let Value::String(s) = v else {
            return Err(format!("type '{}' cannot be parsed as csv", kind(v)));
        };
        let names = self.names(e)?;
        let fields = self.fields(s)?;
        if names.len() != fields.len() {
            return Err(format!(
                "wrong number of fields: expected {}, found {}",
                names.len(),
                fields.len()
            ));
        }
        Ok(names
            .into_iter()
            .zip(fields.into_iter().map(Value::String))
            .collect())
    }
}

/// Go `encoding/csv` records: empty lines skipped, `""` in quotes is `"`, `\r\n` is `\n`.
fn records(s: &str, delim: char, lazy: bool) -> Result<Vec<Vec<String>>, String> {
    let s = s.replace("\r\n", "\n");
    let mut out = vec![];
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        if chars.peek() == Some(&'\n') {
            chars.next();
            continue;
        }
        let mut record = vec![];
        loop {
            let (field, end) = field(&mut chars, delim, lazy)?;
            record.push(field);
            if end != Some(delim) {
                break;
            }
        }
        out.push(record);
    }
    Ok(out)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// One field and what ended it (the delimiter, a newline, or the end).
fn field(chars: &mut Chars<'_>, delim: char, lazy: bool) -> Result<(String, Option<char>), String> {
    let mut out = String::new();
    if chars.peek() != Some(&'"') {
        for c in chars.by_ref() {
            if c == delim || c == '\n' {
                return Ok((out, Some(c)));
            }
            if c == '"' && !lazy {
                return Err("parse error: bare \" in non-quoted-field".into());
            }
            out.push(c);
        }
        return Ok((out, None));
    }
    chars.next();
    loop {
        match chars.next() {
            Some('"') => match chars.peek().copied() {
                Some('"') => {
                    chars.next();
                    out.push('"');
                }
                Some(c) if c == delim || c == '\n' => {
                    chars.next();
                    return Ok((out, Some(c)));
                }
                None => return Ok((out, None)),
                Some(_) if lazy => out.push('"'),
                Some(_) => {
                    return Err("parse error: extraneous or missing \" in quoted-field".into())
                }
            },
            Some(c) => out.push(c),
            None if lazy => return Ok((out, None)),
            None => return Err("parse error: extraneous or missing \" in quoted-field".into()),
        }
    }
}
