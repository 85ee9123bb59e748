//! Time converters: Time, FormatTime, TruncateTime, Unix, UnixSeconds, UnixMilli, UnixMicro,
//! UnixNano, Year, Month, Day, Hour, Minute, Second, Nanosecond, Weekday, and the duration
//! ones: Hours, Minutes, Seconds, Milliseconds, Microseconds, Nanoseconds. Times are
//! nanoseconds since the Unix epoch and carry no zone, so the calendar converters and
//! FormatTime read them in UTC, as pdata's timestamps are. (Go's times keep a zone: there,
//! `Hour(Now())` or `FormatTime(Time(..))` read the host's local zone, which is the same only
//! on hosts running in UTC, as collectors usually do.)
//!
//! Formats are otelcol's ctime-like directives (`%Y-%m-%d %H:%M:%S`), translated as otelcol
//! translates them to Go layouts, so parsing and formatting follow Go's rules for those
//! layouts (see the `ctime` module).

use super::ctime::{self, Layout, Parsed};
use super::{arg, expected, opt_literal, str_value, Built};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{bind, bind_optional, literal_string, string_arg};
use crate::value::Value;
use jiff::tz::TimeZone;
use std::borrow::Cow;

const NS_PER_SEC: i64 = 1_000_000_000;

fn time_arg(v: Value<'_>) -> Result<i64, EvalError> {
    match v {
        Value::Time(t) => Ok(t),
        other => Err(expected("time", &other)),
    }
}

fn duration_arg(v: Value<'_>) -> Result<i64, EvalError> {
    match v {
        Value::Duration(d) => Ok(d),
        other => Err(expected("duration", &other)),
    }
}

/// `Time(time, format, Optional[location], Optional[locale])`. A time without a zone is read
/// in `location`; without one, in the host's local zone, or UTC when the format ends in `Z`
/// (as otelcol's timeutils.GetLocation). Only English names are known (otelcol also takes
/// CLDR locales).
struct Time<C: Context> {
    target: Expr<C>,
    layout: Layout,
    /// The zone, or the expression naming it.
    location: Result<TimeZone, Expr<C>>,
    default_zone: TimeZone,
}

pub fn time<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let params = &["time", "format", "location", "locale"];
    let [target, format, location, locale] = bind_optional::<C, 4>("Time", args, params, 2)?;
    let format = match format {
        Some(f) => literal_string(&f, "Time", "format")?,
        None => String::new(),
    };
    if format.is_empty() {
        return Err("format cannot be nil".into());
    }
    let layout = Layout::new(&format)?;
    let default_zone = if format.ends_with('Z') {
        TimeZone::UTC
    } else {
        TimeZone::system()
    };
    let location = match location {
        None => Ok(default_zone.clone()),
        Some(e) => match e.literal() {
            Some(Value::Str(name)) if name.is_empty() => Ok(default_zone.clone()),
            Some(Value::Str(name)) => Ok(load_zone(name)?),
            _ => Err(e),
        },
    };
    match opt_literal(&locale, "Time", "locale")?.as_deref() {
        None | Some("") => {}
        Some(l) if l == "en" || l.starts_with("en-") || l.starts_with("en_") => {}
        Some(l) => return Err(format!("unsupported locale '{l}'")),
    }
    Ok(Box::new(Time {
        target: target.ok_or("missing time")?,
        layout,
        location,
        default_zone,
    }))
}

/// Go's `time.LoadLocation`: `UTC`, `Local` or an IANA name from the system's database.
fn load_zone(name: &str) -> Result<TimeZone, String> {
    match name {
        "UTC" => Ok(TimeZone::UTC),
        "Local" => Ok(TimeZone::system()),
        _ => TimeZone::get(name)
            .map_err(|_| format!("failed to load location {name}: unknown time zone {name}")),
    }
}

impl<C: Context> Function<C> for Time<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let zone = match &self.location {
            Ok(tz) => Cow::Borrowed(tz),
            Err(e) => match string_arg(e.eval(item)?)? {
                name if name.is_empty() => Cow::Borrowed(&self.default_zone),
                name => Cow::Owned(load_zone(&name).map_err(EvalError::new)?),
            },
        };
        let s = string_arg(self.target.eval(item)?)?;
        if s.is_empty() {
            return Err(EvalError::new("time cannot be nil"));
        }
        let p = self.layout.parse(&s).map_err(EvalError::new)?;
        let ns = match p.offset {
            Some(offset) => p.unix_nanos(offset),
            None => in_zone(&p, &zone),
        };
        ns.map(Value::Time)
            .ok_or_else(|| EvalError::new(format!("time {s:?} is out of range")))
    }
}

/// The instant of parsed wall-clock fields in a zone (an ambiguous or missing local time
/// resolved as jiff's `compatible` does); `None` out of range.
fn in_zone(p: &Parsed, tz: &TimeZone) -> Option<i64> {
    let dt = jiff::civil::DateTime::new(
        i16::try_from(p.year).ok()?,
        p.month as i8,
        p.day as i8,
        p.hour as i8,
        p.minute as i8,
        p.second as i8,
        p.nanos as i32,
    )
    .ok()?;
    let ts = tz.to_ambiguous_timestamp(dt).compatible().ok()?;
    i64::try_from(ts.as_nanosecond()).ok()
}

/// FormatTime(time, format)
struct FormatTime<C: Context> {
    time: Expr<C>,
    layout: Layout,
}

pub fn format_time<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let [time, format] = bind::<C, 2>("FormatTime", args, &["time", "format"])?;
    let format = literal_string(&format, "FormatTime", "format")?;
    if format.is_empty() {
        return Err("format cannot be nil".into());
    }
    let layout = Layout::new(&format)?;
    Ok(Box::new(FormatTime { time, layout }))
}

impl<C: Context> Function<C> for FormatTime<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let t = time_arg(self.time.eval(item)?)?;
        Ok(str_value(self.layout.format(t)))
    }
}

/// TruncateTime(time, duration): Go's `Time.Truncate`, which rounds down since year 1 (not
/// since 1970); a duration of zero or less leaves the time as it is.
pub fn truncate_time<'a>(t: Value<'a>, d: Value<'a>) -> Result<Value<'a>, EvalError> {
    let (t, d) = (time_arg(t)?, duration_arg(d)?);
    if d <= 0 {
        return Ok(Value::Time(t));
    }
    let since_year_1 = i128::from(t) + i128::from(ctime::UNIX_TO_YEAR_1_SECS) * 1_000_000_000;
    let cut = since_year_1.rem_euclid(i128::from(d));
    Ok(Value::Time(t.saturating_sub(cut as i64)))
}

/// `Unix(seconds, Optional[nanoseconds])`
pub fn unix<'a>(vals: &[Option<Value<'a>>]) -> Result<Value<'a>, EvalError> {
    let secs = crate::funcs::int_arg(arg(vals, 0))?;
    let nanos = match arg(vals, 1) {
        Value::Nil => 0,
        v => crate::funcs::int_arg(v)?,
    };
    secs.checked_mul(NS_PER_SEC)
        .and_then(|s| s.checked_add(nanos))
        .map(Value::Time)
        .ok_or_else(|| EvalError::new("time out of range"))
}

/// UnixSeconds(value)
pub fn unix_seconds(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Int(time_arg(v)?.div_euclid(NS_PER_SEC)))
}

/// UnixMilli(value)
pub fn unix_milli(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Int(time_arg(v)?.div_euclid(1_000_000)))
}

/// UnixMicro(value)
pub fn unix_micro(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Int(time_arg(v)?.div_euclid(1_000)))
}

/// UnixNano(value)
pub fn unix_nano(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Int(time_arg(v)?))
}

fn civil_part(v: Value<'_>, part: fn(&ctime::Civil) -> i64) -> Result<Value<'_>, EvalError> {
    Ok(Value::Int(part(&ctime::Civil::from_unix_nanos(time_arg(
        v,
    )?))))
}

/// Year(value)
pub fn year(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    civil_part(v, |c| c.year)
}

/// Month(value): 1 to 12.
pub fn month(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    civil_part(v, |c| c.month)
}

/// Day(value): the day of the month.
pub fn day(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    civil_part(v, |c| c.day)
}

/// Hour(value)
pub fn hour(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    civil_part(v, |c| c.hour)
}

/// Minute(value)
pub fn minute(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    civil_part(v, |c| c.minute)
}

/// Second(value)
pub fn second(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    civil_part(v, |c| c.second)
}

/// Nanosecond(value): the nanoseconds within the second.
pub fn nanosecond(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    civil_part(v, |c| c.nanos)
}

/// Weekday(value): 0 (Sunday) to 6 (Saturday).
pub fn weekday(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    civil_part(v, |c| c.weekday)
}

fn float_duration(v: Value<'_>, unit: i64) -> Result<Value<'_>, EvalError> {
    let d = duration_arg(v)?;
    // As Go: whole units plus the remainder's fraction, exact for large values.
    let (whole, rest) = (d / unit, d % unit);
    Ok(Value::Float(whole as f64 + rest as f64 / unit as f64))
}

/// Hours(value)
pub fn hours(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    float_duration(v, 3_600 * NS_PER_SEC)
}

/// Minutes(value)
pub fn minutes(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    float_duration(v, 60 * NS_PER_SEC)
}

/// Seconds(value)
pub fn seconds(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    float_duration(v, NS_PER_SEC)
}

/// Milliseconds(value): truncated toward zero.
pub fn milliseconds(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Int(duration_arg(v)? / 1_000_000))
}

/// Microseconds(value): truncated toward zero.
pub fn microseconds(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Int(duration_arg(v)? / 1_000))
}

/// Nanoseconds(value)
pub fn nanoseconds(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Int(duration_arg(v)?))
}
