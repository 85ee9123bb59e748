//! `syslog_parser`: RFC 3164 and RFC 5424 messages (with RFC 6587 octet counting or
//! non-transparent framing) into otelcol's fields: `priority`, `facility`, `facility_text`,
//! `hostname`, `appname`, `proc_id`, `msg_id`, `structured_data`, `version`, `message`. The
//! severity (`emerg` .. `debug`) and timestamp go to the entry itself; absent parts (`-`)
//! are left out, as go-syslog leaves them nil.

use super::config::{ParserBase, SyslogConfig};
use super::parser::Parse;
use super::{kind, Entry};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Protocol {
    Rfc3164,
    Rfc5424,
}

pub struct Syslog {
    protocol: Protocol,
    zone: jiff::tz::TimeZone,
    octet_counting: bool,
    allow_skip_pri: bool,
    trailer: Option<char>,
    max_octets: usize,
    /// A `timestamp` block is configured: the time stays in the map for it, as text.
    user_timestamp: bool,
}

/// OTLP severity numbers and texts of syslog severities 0 (emerg) to 7 (debug).
const SEVERITIES: [(i32, &str); 8] = [
    (21, "emerg"),
    (19, "alert"),
    (18, "crit"),
    (17, "err"),
    (13, "warning"),
    (10, "notice"),
    (9, "info"),
    (5, "debug"),
];

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

impl Syslog {
    pub fn new(c: &SyslogConfig, base: &ParserBase) -> Result<Syslog, String> {
        let proto = c.protocol.to_lowercase();
        let framing = c.non_transparent_framing_trailer.is_some() || c.enable_octet_counting;
        let protocol = match proto.as_str() {
            "" => return Err("missing field 'protocol'".into()),
            "rfc5424" => Protocol::Rfc5424,
            _ if framing => {
                return Err(
                    "octet_counting and non_transparent_framing are only compatible with protocol rfc5424"
                        .into(),
                )
            }
            "rfc3164" => Protocol::Rfc3164,
            other => return Err(format!("unsupported protocol version: {other}")),
        };
        if c.non_transparent_framing_trailer.is_some() && c.enable_octet_counting {
            return Err(
                "only one of octet_counting or non_transparent_framing can be enabled".into(),
            );
        }
        let trailer = match c.non_transparent_framing_trailer.as_deref() {
            None => None,
            Some("LF") => Some('\n'),
            Some("NUL") => Some('\0'),
            Some(other) => {
                return Err(format!(
                "invalid non_transparent_framing_trailer '{other}'. Must be either 'LF' or 'NUL'"
            ))
            }
        };
        let location = if c.location.is_empty() {
            "UTC"
        } else {
            c.location.as_str()
        };
        let zone = jiff::tz::TimeZone::get(location)
            .map_err(|e| format!("failed to load location {location}: {e}"))?;
        Ok(Syslog {
            protocol,
            zone,
            octet_counting: c.enable_octet_counting,
            allow_skip_pri: c.allow_skip_pri_header,
            trailer,
            max_octets: c.max_octets,
            user_timestamp: base.timestamp.is_some(),
        })
    }

    /// The message without its RFC 6587 framing.
    fn unframe<'a>(&self, s: &'a str) -> Result<&'a str, String> {
        if self.octet_counting {
            let (len, rest) = s
                .split_once(' ')
                .ok_or_else(|| "found EOF after \"\", expecting a MSGLEN".to_string())?;
            let len: usize = len
                .parse()
                .map_err(|_| format!("expecting a MSGLEN, got {len:?}"))?;
            if self.max_octets > 0 && len > self.max_octets {
                return Err(format!(
                    "message too long to parse. was size {len}, max length {}",
                    self.max_octets
                ));
            }
            let mut end = len.min(rest.len());
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            return Ok(&rest[..end]);
        }
        if let Some(t) = self.trailer {
            return Ok(s.split(t).next().unwrap_or(s));
        }
        Ok(s)
    }
}

impl Parse for Syslog {
    fn parse(&self, v: &Value, _: &Entry) -> Result<Map<String, Value>, String> {
        let Value::String(s) = v else {
            return Err(format!("unable to convert type '{}' to bytes", kind(v)));
        };
        let s = self.unframe(s)?;
        let mut c = Cursor { s, pos: 0 };
        let mut out = Map::new();
        let skip_pri = !self.octet_counting && self.allow_skip_pri && !s.starts_with('<');
        if !skip_pri {
            let pri = c.priority()?;
            out.insert("priority".into(), pri.into());
            out.insert("facility".into(), (pri / 8).into());
            out.insert(
                "facility_text".into(),
                FACILITIES[usize::from(pri / 8)].into(),
            );
            out.insert("severity".into(), (pri % 8).into());
        }
        let ns = match self.protocol {
            Protocol::Rfc3164 => rfc3164(&mut c, &self.zone, &mut out)?,
            Protocol::Rfc5424 => rfc5424(&mut c, &mut out)?,
        };
        if let Some(ns) = ns {
            out.insert("timestamp".into(), ns.into());
        }
        Ok(out)
    }

    fn finish(&self, parsed: &mut Map<String, Value>, e: &mut Entry) -> Result<(), String> {
        if let Some(sev) = parsed.remove("severity").and_then(|s| s.as_u64()) {
            let (n, text) = SEVERITIES[(sev % 8) as usize];
            e.severity = n;
            e.severity_text = text.into();
        }
        let Some(ns) = parsed.remove("timestamp").and_then(|t| t.as_i64()) else {
            return Ok(());
        };
        if self.user_timestamp {
            let t = jiff::Timestamp::from_nanosecond(i128::from(ns)).map_err(|e| e.to_string())?;
            parsed.insert("timestamp".into(), t.to_string().into());
        } else {
            e.timestamp = Some(u64::try_from(ns).unwrap_or(0));
        }
        Ok(())
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.rest().starts_with(c);
        if hit {
            self.pos += c.len_utf8();
        }
        hit
    }

    fn expect_sp(&mut self, what: &str) -> Result<(), String> {
        if self.eat(' ') {
            Ok(())
        } else {
            Err(format!(
                "expecting a space before {what} [col {}]",
                self.pos
            ))
        }
    }

    /// Printable US-ASCII up to the next space (or the end), 1 to `max` characters; `-` is
    /// nil.
    fn token(&mut self, what: &str, max: usize) -> Result<Option<&'a str>, String> {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !c.is_ascii_graphic())
            .unwrap_or(rest.len());
        if end == 0 || end > max {
            return Err(format!(
                "expecting a {what} (from 1 to max {max} US-ASCII characters) [col {}]",
                self.pos
            ));
        }
        self.pos += end;
        Ok((&rest[..end] != "-").then_some(&rest[..end]))
    }

    fn priority(&mut self) -> Result<u8, String> {
        let bad =
            |col: usize| format!("expecting a priority value within angle brackets [col {col}]");
        if !self.eat('<') {
            return Err(bad(self.pos));
        }
        let rest = self.rest();
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let pri: u16 = rest[..end].parse().map_err(|_| bad(self.pos))?;
        if end > 3 || pri > 191 {
            return Err(format!(
                "expecting a priority value in the range 1-191 or equal to 0 [col {}]",
                self.pos
            ));
        }
        self.pos += end;
        if !self.eat('>') {
            return Err(bad(self.pos));
        }
        Ok(pri as u8)
    }

    /// The rest as the message; an empty one is left out.
    fn message(&mut self, out: &mut Map<String, Value>) {
        let rest = self.rest().trim_start_matches('\u{feff}');
        if !rest.is_empty() {
            out.insert("message".into(), rest.into());
        }
        self.pos = self.s.len();
    }
}

fn put(out: &mut Map<String, Value>, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        out.insert(key.into(), v.into());
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Mmm _d hh:mm:ss` in the current year and `zone`, or RFC 3339.
fn bsd_time(c: &mut Cursor<'_>, zone: &jiff::tz::TimeZone) -> Result<i64, String> {
    let rest = c.rest();
    let col = c.pos;
    let bad = || format!("expecting a timestamp [col {col}]");
    if let Some(month) = MONTHS.iter().position(|m| rest.starts_with(m)) {
        let text = rest.get(..15).filter(|t| t.is_ascii()).ok_or_else(bad)?;
        let day: i8 = text[4..6].trim_start().parse().map_err(|_| bad())?;
        let hms: Vec<i8> = text[7..]
            .split(':')
            .map(|p| p.parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let [h, m, s] = hms[..] else {
            return Err(bad());
        };
        let year = jiff::Zoned::now().with_time_zone(zone.clone()).year();
        let dt = jiff::civil::DateTime::new(year, month as i8 + 1, day, h, m, s, 0)
            .map_err(|_| bad())?;
        let z = dt.to_zoned(zone.clone()).map_err(|_| bad())?;
        c.pos += 15;
        return i64::try_from(z.timestamp().as_nanosecond()).map_err(|_| bad());
    }
    let end = rest.find(' ').unwrap_or(rest.len());
    let t: jiff::Timestamp = rest[..end].parse().map_err(|_| bad())?;
    c.pos += end;
    i64::try_from(t.as_nanosecond()).map_err(|_| bad())
}

/// RFC 3164 after the priority: timestamp, hostname, then `tag[pid]: message` or just the
/// message.
fn rfc3164(
    c: &mut Cursor<'_>,
    zone: &jiff::tz::TimeZone,
    out: &mut Map<String, Value>,
) -> Result<Option<i64>, String> {
    let ns = bsd_time(c, zone)?;
    c.expect_sp("the hostname")?;
    put(out, "hostname", c.token("hostname", 255)?);
    if !c.eat(' ') {
        return Ok(Some(ns));
    }
    let rest = c.rest();
    let tag_end = rest
        .find(|ch: char| !ch.is_ascii_graphic() || matches!(ch, ':' | '[' | ']'))
        .unwrap_or(rest.len());
    if (1..=32).contains(&tag_end) {
        let after = &rest[tag_end..];
        let (pid, after) = match after.strip_prefix('[').and_then(|a| a.split_once(']')) {
            Some((pid, a)) => (Some(pid), a),
            None => (None, after),
        };
        if let Some(msg) = after.strip_prefix(':') {
            out.insert("appname".into(), rest[..tag_end].into());
            put(out, "proc_id", pid);
            c.pos = c.s.len() - msg.len();
            c.eat(' ');
        }
    }
    c.message(out);
    Ok(Some(ns))
}

/// RFC 5424 after the priority: version, timestamp, hostname, app name, proc id, msg id,
/// structured data, message.
fn rfc5424(c: &mut Cursor<'_>, out: &mut Map<String, Value>) -> Result<Option<i64>, String> {
    let rest = c.rest();
    let end = rest
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(rest.len());
    let version: u16 = rest[..end]
        .parse()
        .ok()
        .filter(|v| (1..=999).contains(v) && !rest.starts_with('0'))
        .ok_or_else(|| {
            format!(
                "expecting a version value in the range 1-999 [col {}]",
                c.pos
            )
        })?;
    out.insert("version".into(), version.into());
    c.pos += end;
    c.expect_sp("the timestamp")?;
    let ts = match c.token("timestamp", 64)? {
        None => None,
        Some(t) => {
            let t: jiff::Timestamp = t.parse().map_err(|_| {
                format!(
                    "expecting a RFC3339MICRO timestamp or a nil value [col {}]",
                    c.pos
                )
            })?;
            Some(
                i64::try_from(t.as_nanosecond())
                    .map_err(|_| "timestamp out of range".to_string())?,
            )
        }
    };
    for (key, max) in [
        ("hostname", 255),
        ("appname", 48),
        ("proc_id", 128),
        ("msg_id", 32),
    ] {
        c.expect_sp(key)?;
        put(out, key, c.token(key, max)?);
    }
    c.expect_sp("the structured data")?;
    if !c.eat('-') {
        out.insert("structured_data".into(), structured_data(c)?.into());
    }
    if c.eat(' ') {
        c.message(out);
    } else if !c.rest().is_empty() {
        return Err(format!(
            "expecting a space before the message [col {}]",
            c.pos
        ));
    }
    Ok(ts)
}

/// `[id k="v" ...]...` into `{id: {k: v}}`; `\"`, `\\` and `\]` in values unescaped.
fn structured_data(c: &mut Cursor<'_>) -> Result<Map<String, Value>, String> {
    let bad = |c: &Cursor<'_>, what: &str| format!("expecting {what} [col {}]", c.pos);
    let name = |c: &mut Cursor<'_>, stop: &[char]| -> Option<String> {
        let rest = c.rest();
        let end = rest
            .find(|ch: char| !ch.is_ascii_graphic() || stop.contains(&ch))
            .unwrap_or(rest.len());
        c.pos += end;
        (1..=32).contains(&end).then(|| rest[..end].to_string())
    };
    let mut out = Map::new();
    if !c.rest().starts_with('[') {
        return Err(bad(c, "a structured data section containing an ID"));
    }
    while c.eat('[') {
        let id = name(c, &['=', ']', '"']).ok_or_else(|| bad(c, "a structured data element ID"))?;
        let mut params = Map::new();
        while c.eat(' ') {
            let key = name(c, &['=', ']', '"'])
                .ok_or_else(|| bad(c, "a structured data parameter name"))?;
            if !c.eat('=') || !c.eat('"') {
                return Err(bad(c, "a structured data parameter value within quotes"));
            }
            params.insert(key, param_value(c)?.into());
        }
        if !c.eat(']') {
            return Err(bad(c, "the end of a structured data element"));
        }
        out.insert(id, Value::Object(params));
    }
    Ok(out)
}

fn param_value(c: &mut Cursor<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = c.rest().char_indices();
    while let Some((i, ch)) = chars.next() {
        match ch {
            '"' => {
                c.pos += i + 1;
                return Ok(out);
            }
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\' | ']'))) => out.push(e),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            ']' => break,
            other => out.push(other),
        }
    }
    Err(format!(
        "expecting the end of a structured data parameter value [col {}]",
        c.pos
    ))
}
