//! `time_parser` and the parsers' `timestamp` block: `strptime` (otelcol's ctime-like
//! directives), `gotime` (Go reference layouts) and `epoch` (`s`, `ms`, `us`, `ns`, `s.ms`,
//! `s.us`, `s.ns`) layouts; `location` for text without a zone.

use super::config::TimeConfig;
use super::field::Field;
use super::{as_text, Entry, Operator};
use ferrotel_ottl::converters::ctime::Layout;
use serde_json::Value;

#[derive(Debug)]
enum Kind {
    Text { layout: Layout, rfc3339_z: bool },
    Epoch(String),
}

/// A compiled time parse.
#[derive(Debug)]
pub struct TimeParse {
    parse_from: Field,
    kind: Kind,
    zone: jiff::tz::TimeZone,
    /// The zone's offset in seconds when it has only one (UTC, fixed offsets): computed once.
    fixed_offset: Option<i64>,
    /// Local times (seconds, as if UTC) `lo..hi` that all have `offset`: no zone transition is
    /// within a day of them, so each line in it needs no zone lookup.
    span: std::sync::Mutex<OffsetSpan>,
}

#[derive(Debug, Clone, Copy, Default)]
struct OffsetSpan {
    lo: i64,
    hi: i64,
    offset: i64,
}

/// Seconds of margin around a transition (more than any offset change).
const DAY: i64 = 86_400;

/// Go layout elements and their ctime directives, longest first.
const GO_ELEMENTS: &[(&str, &str)] = &[
    ("January", "%B"),
    ("Monday", "%A"),
    ("Z07:00", "%j"),
    ("-07:00:00", "%k"),
    ("-07:00", "%j"),
    ("-0700", "%z"),
    (".000000000", ".%s"),
    (".999999999", ".%s"),
    (".000000", ".%f"),
    (".999999", ".%f"),
    (".000", ".%L"),
    (".999", ".%L"),
    ("2006", "%Y"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    ("-07", "%i"),
    ("_2", "%e"),
    ("15", "%H"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("06", "%y"),
    ("01", "%m"),
    ("02", "%d"),
    ("PM", "%p"),
    ("pm", "%P"),
    ("1", "%q"),
    ("2", "%g"),
    ("3", "%l"),
];

/// A Go reference layout as ctime directives.
pub fn go_to_ctime(layout: &str) -> String {
    let mut out = String::new();
    let mut rest = layout;
    'outer: while let Some(c) = rest.chars().next() {
        for (go, ct) in GO_ELEMENTS {
            if let Some(r) = rest.strip_prefix(go) {
                out.push_str(ct);
                rest = r;
                continue 'outer;
            }
        }
        if c == '%' {
            out.push('%');
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

impl TimeParse {
    pub fn new(c: &TimeConfig) -> Result<TimeParse, String> {
        let parse_from = c
            .parse_from
            .clone()
            .ok_or_else(|| "missing required configuration parameter `parse_from`".to_string())?;
        if c.layout.is_empty() {
            return Err("missing required configuration parameter `layout`".into());
        }
        let kind = match c.layout_type.as_str() {
            "strptime" | "" => Kind::Text {
                layout: Layout::new(&c.layout)?,
                rfc3339_z: false,
            },
            "gotime" => Kind::Text {
                layout: Layout::new(&go_to_ctime(&c.layout))?,
                rfc3339_z: c.layout.contains("Z07"),
            },
            "epoch" => match c.layout.as_str() {
                "s" | "ms" | "us" | "ns" | "s.ms" | "s.us" | "s.ns" => {
                    Kind::Epoch(c.layout.clone())
                }
                other => return Err(format!("invalid `layout` {other:?} for `epoch` type")),
            },
            other => return Err(format!("unsupported layout_type {other}")),
        };
        let zone = match c.location.as_str() {
            "" => jiff::tz::TimeZone::system(),
            name => jiff::tz::TimeZone::get(name)
                .map_err(|e| format!("failed to load location {name}: {e}"))?,
        };
        let fixed_offset = zone.to_fixed_offset().ok().map(|o| i64::from(o.seconds()));
        Ok(TimeParse {
            parse_from,
            kind,
            zone,
            fixed_offset,
            span: Default::default(),
        })
    }

    /// Sets the entry's timestamp from the field.
    pub fn apply(&self, e: &mut Entry) -> Result<(), String> {
        let v = self
            .parse_from
            .get(e)
            .ok_or_else(|| format!("time parser: field does not exist: {}", self.parse_from))?;
        let ns = match &self.kind {
            Kind::Epoch(layout) => epoch(v, layout)?,
            Kind::Text { layout, rfc3339_z } => self.text(v, layout, *rfc3339_z)?,
        };
        e.timestamp = Some(u64::try_from(ns).unwrap_or(0));
        Ok(())
    }

    fn text(&self, v: &Value, layout: &Layout, rfc3339_z: bool) -> Result<i64, String> {
        let mut s = super::text(v);
        if rfc3339_z && s.ends_with('Z') {
            let t = s.to_mut();
            t.pop();
            t.push_str("+00:00");
        }
        let p = layout.parse(&s)?;
        let offset = match (p.offset, self.fixed_offset) {
            (Some(o), _) | (None, Some(o)) => o,
            (None, None) => self.zone_offset(&p)?,
        };
        p.unix_nanos(offset)
            .ok_or_else(|| format!("time {s:?} out of range"))
    }

    /// The zone's offset at a local time: from the cached span, else looked up (and the
    /// span between the zone transitions around it cached).
    fn zone_offset(&self, p: &ferrotel_ottl::converters::ctime::Parsed) -> Result<i64, String> {
        let local = p.unix_nanos(0).map(|n| n.div_euclid(1_000_000_000));
        let mut span = self.span.lock().unwrap_or_else(|e| e.into_inner());
        if local.is_some_and(|l| (span.lo..span.hi).contains(&l)) {
            return Ok(span.offset);
        }
        let offset = self.lookup_offset(p)?;
        if let Some(l) = local {
            let at = jiff::Timestamp::from_second(l - offset).map_err(|e| e.to_string())?;
            let second = |t: Option<jiff::tz::TimeZoneTransition>, none: i64| {
                t.map_or(none, |t| t.timestamp().as_second())
            };
            *span = OffsetSpan {
                lo: second(self.zone.preceding(at).next(), i64::MIN / 2) + 2 * DAY,
                hi: second(self.zone.following(at).next(), i64::MAX / 2) - 2 * DAY,
                offset,
            };
        }
        Ok(offset)
    }

    fn lookup_offset(&self, p: &ferrotel_ottl::converters::ctime::Parsed) -> Result<i64, String> {
        let t = |v: i64| i8::try_from(v).map_err(|_| "time field out of range".to_string());
        let dt = jiff::civil::DateTime::new(
            i16::try_from(p.year).map_err(|_| "year out of range".to_string())?,
            t(p.month)?,
            t(p.day)?,
            t(p.hour)?,
            t(p.minute)?,
            t(p.second)?,
            0,
        )
        .map_err(|e| e.to_string())?;
        let z = dt.to_zoned(self.zone.clone()).map_err(|e| e.to_string())?;
        Ok(i64::from(z.offset().seconds()))
    }
}

fn epoch(v: &Value, layout: &str) -> Result<i64, String> {
    let bad = || format!("invalid value '{}' for layout '{layout}'", as_text(v));
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(bad()),
    };
    let unit_digits: u32 = match layout {
        "ms" => 6,
        "us" => 3,
        "ns" => 0,
        _ => 9,
    };
    // Exact decimal arithmetic: f64 cannot hold nanoseconds since 1970.
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let whole: i64 = int.parse().map_err(|_| bad())?;
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let frac: String = frac.chars().take(unit_digits as usize).collect();
    let frac_ns = if frac.is_empty() {
        0
    } else {
        let n: i64 = frac.parse().map_err(|_| bad())?;
        n * 10_i64.pow(unit_digits - frac.len() as u32)
    };
    let scaled = whole.checked_mul(10_i64.pow(unit_digits)).ok_or_else(bad)?;
    Ok(if whole < 0 {
        scaled - frac_ns
    } else {
        scaled + frac_ns
    })
}

/// The `time_parser` operator.
pub struct TimeOp(TimeParse);

impl TimeOp {
    pub fn new(c: &TimeConfig) -> Result<TimeOp, String> {
        let mut c = c.clone();
        c.parse_from.get_or_insert_with(Field::body);
        TimeParse::new(&c).map(TimeOp)
    }
}

impl Operator for TimeOp {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.0.apply(e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The cached offset span gives what a lookup per line gives, across DST changes and
    /// back and forth in time.
    #[test]
    fn cached_zone_offsets_match_lookups() {
        let c = TimeConfig {
            parse_from: Some(Field::attribute("t")),
            layout: "%Y-%m-%d %H:%M:%S".into(),
            location: "America/New_York".into(),
            ..TimeConfig::default()
        };
        let t = TimeParse::new(&c).unwrap();
        let Kind::Text { layout, .. } = &t.kind else {
            panic!("text layout")
        };
        let days = [
            "2024-03-01",
            "2024-03-09",
            "2024-03-10",
            "2024-03-10",
            "2024-03-11",
            "2024-06-01",
            "2024-11-03",
            "2024-11-02",
            "2024-11-04",
            "2024-03-10",
            "1900-01-01",
            "2024-12-25",
        ];
        for d in days {
            for h in ["00:30:00", "01:30:00", "02:30:00", "03:30:00", "12:00:00"] {
                let p = layout.parse(&format!("{d} {h}")).unwrap();
                let want = t.lookup_offset(&p);
                assert_eq!(t.zone_offset(&p), want, "{d} {h}");
            }
        }
        let utc = TimeParse::new(&TimeConfig {
            location: "UTC".into(),
            ..c.clone()
        })
        .unwrap();
        assert_eq!(utc.fixed_offset, Some(0));
    }
}
