//! otelcol's ctime-like time formats (internal/coreinternal/timeutils' ctimefmt): each `%x`
//! directive stands for a Go layout element (`%Y` for `2006`, `%L` for `999`, ...), and Go's
//! `time.Parse` / `Time.Format` rules for those elements apply, including their quirks: `%L`,
//! `%f` and `%s` are fractional seconds only right after a `.` or `,` (as `.999`: optional
//! when parsing, trailing zeros dropped when formatting; elsewhere they are literal nines),
//! and `%o` is Go's `_1`, an underscore and an unpadded month. A zone name (`%Z`) is read
//! as offset zero unless it is `UTC` (as Go does for names it does not know).

/// Seconds from 0001-01-01 to 1970-01-01.
pub const UNIX_TO_YEAR_1_SECS: i64 = 62_135_596_800;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Days from 1970-01-01 to a proleptic Gregorian date (the era-based method).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `z` days after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A time's calendar fields in UTC.
pub struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub nanos: i64,
    /// 0 is Sunday.
    pub weekday: i64,
}

impl Civil {
    pub fn from_unix_nanos(ns: i64) -> Civil {
        let secs = ns.div_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod % 3600 / 60,
            second: sod % 60,
            nanos: ns.rem_euclid(1_000_000_000),
            weekday: (days + 4).rem_euclid(7),
        }
    }
}

/// The fields a parse found; Go's defaults (year 0, January, day 1) for the others.
pub struct Parsed {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub nanos: i64,
    /// Seconds east of UTC, when the text gave a zone.
    pub offset: Option<i64>,
}

impl Parsed {
    /// Nanoseconds since the epoch at `offset`; `None` out of range.
    pub fn unix_nanos(&self, offset: i64) -> Option<i64> {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400 + self.hour * 3600 + self.minute * 60 + self.second - offset;
        secs.checked_mul(1_000_000_000)?.checked_add(self.nanos)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Std {
    Year,
    Year2,
    Month2,
    MonthNum,
    MonthAbbr,
    MonthFull,
    Day2,
    DayUnder,
    DayNum,
    WeekdayAbbr,
    WeekdayFull,
    Hour,
    Hour12,
    Hour12Zero,
    PmUpper,
    PmLower,
    Minute,
    Second,
    /// Fractional seconds after `sep`, up to `digits` digits.
    Frac(char, usize),
    ZoneName,
    /// A numeric zone: hours, then minutes and seconds when present, `:`-separated or not.
    Zone {
        minutes: bool,
        seconds: bool,
        colons: bool,
    },
}

#[derive(Debug)]
enum Item {
    Lit(String),
    Std(Std),
}

/// A compiled format.
#[derive(Debug)]
pub struct Layout {
    items: Vec<Item>,
    /// The Go layout otelcol would use, for messages.
    native: String,
}

/// What a directive stands for: Go layout text, and its elements.
fn directive(c: char) -> Option<&'static str> {
    Some(match c {
        'Y' => "2006",
        'y' => "06",
        'm' => "01",
        'o' => "_1",
        'q' => "1",
        'b' | 'h' => "Jan",
        'B' => "January",
        'd' => "02",
        'e' => "_2",
        'g' => "2",
        'a' => "Mon",
        'A' => "Monday",
        'H' => "15",
        'l' => "3",
        'I' => "03",
        'p' => "PM",
        'P' => "pm",
        'M' => "04",
        'S' => "05",
        'L' => "999",
        'f' => "999999",
        's' => "99999999",
        'Z' => "MST",
        'z' => "-0700",
        'w' => "-070000",
        'i' => "-07",
        'j' => "-07:00",
        'k' => "-07:00:00",
        'D' | 'x' => "01/02/2006",
        'F' => "2006-01-02",
        'T' | 'X' => "15:04:05",
        'r' => "03:04:05 pm",
        'R' => "15:04",
        'n' => "\n",
        't' => "\t",
        '%' => "%",
        'c' => "Mon Jan 02 15:04:05 2006",
        _ => return None,
    })
}

/// The elements of a directive's Go layout text.
fn elements(c: char) -> Vec<Item> {
    use Std::*;
    let zone = |minutes, seconds, colons| {
        Item::Std(Zone {
            minutes,
            seconds,
            colons,
        })
    };
    let s = Item::Std;
    let lit = |t: &str| Item::Lit(t.to_string());
    match c {
        'Y' => vec![s(Year)],
        'y' => vec![s(Year2)],
        'm' => vec![s(Month2)],
        'o' => vec![lit("_"), s(MonthNum)],
        'q' => vec![s(MonthNum)],
        'b' | 'h' => vec![s(MonthAbbr)],
        'B' => vec![s(MonthFull)],
        'd' => vec![s(Day2)],
        'e' => vec![s(DayUnder)],
        'g' => vec![s(DayNum)],
        'a' => vec![s(WeekdayAbbr)],
        'A' => vec![s(WeekdayFull)],
        'H' => vec![s(Hour)],
        'l' => vec![s(Hour12)],
        'I' => vec![s(Hour12Zero)],
        'p' => vec![s(PmUpper)],
        'P' => vec![s(PmLower)],
        'M' => vec![s(Minute)],
        'S' => vec![s(Second)],
        'Z' => vec![s(ZoneName)],
        'z' => vec![zone(true, false, false)],
        'w' => vec![zone(true, true, false)],
        'i' => vec![zone(false, false, false)],
        'j' => vec![zone(true, false, true)],
        'k' => vec![zone(true, true, true)],
        'D' | 'x' => vec![s(Month2), lit("/"), s(Day2), lit("/"), s(Year)],
        'F' => vec![s(Year), lit("-"), s(Month2), lit("-"), s(Day2)],
        'T' | 'X' => vec![s(Hour), lit(":"), s(Minute), lit(":"), s(Second)],
        'r' => {
            let t = [s(Hour12Zero), lit(":"), s(Minute), lit(":"), s(Second)];
            t.into_iter().chain([lit(" "), s(PmLower)]).collect()
        }
        'R' => vec![s(Hour), lit(":"), s(Minute)],
        'c' => {
            let d = [
                s(WeekdayAbbr),
                lit(" "),
                s(MonthAbbr),
                lit(" "),
                s(Day2),
                lit(" "),
            ];
            let t = [
                s(Hour),
                lit(":"),
                s(Minute),
                lit(":"),
                s(Second),
                lit(" "),
                s(Year),
            ];
            d.into_iter().chain(t).collect()
        }
        other => directive(other).map_or_else(Vec::new, |t| vec![lit(t)]),
    }
}

impl Layout {
    /// Compiles a ctime-like format, with otelcol's errors.
    pub fn new(format: &str) -> Result<Layout, String> {
        if format.chars().any(|c| c.is_ascii_digit()) {
            return Err("format string should not contain decimals".into());
        }
        let mut items: Vec<Item> = Vec::new();
        let mut native = String::new();
        let mut errs = Vec::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            let Some(d) = (if c == '%' { chars.next() } else { None }) else {
                push_lit(&mut items, c);
                native.push(c);
                continue;
            };
            let Some(text) = directive(d) else {
                errs.push(format!("unsupported ctimefmt.ToNative() directive: %{d}"));
                continue;
            };
            native.push_str(text);
            let digits = match d {
                'L' => 3,
                'f' => 6,
                's' => 8,
                _ => {
                    items.extend(elements(d));
                    continue;
                }
            };
            match take_separator(&mut items) {
                Some(sep) => items.push(Item::Std(Std::Frac(sep, digits))),
                None => text.chars().for_each(|c| push_lit(&mut items, c)),
            }
        }
        if !errs.is_empty() {
            return Err(format!("convert to go time format: [{}]", errs.join(" ")));
        }
        Ok(Layout { items, native })
    }

    /// Formats nanoseconds since the epoch, in UTC.
    pub fn format(&self, ns: i64) -> String {
        let c = Civil::from_unix_nanos(ns);
        let mut out = String::new();
        for item in &self.items {
            match item {
                Item::Lit(s) => out.push_str(s),
                Item::Std(std) => format_std(&mut out, *std, &c),
            }
        }
        out
    }

    /// Parses `value` as Go's `time.Parse` would with this layout.
    pub fn parse(&self, value: &str) -> Result<Parsed, String> {
        let mut p = Parsed {
            year: 0,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
            offset: None,
        };
        let mut pm: Option<bool> = None;
        let mut rest = value;
        let bad = |rest: &str, what: &str| {
            format!(
                "parsing time {value:?} as {:?}: cannot parse {rest:?} as {what:?}",
                self.native
            )
        };
        for (i, item) in self.items.iter().enumerate() {
            rest = match item {
                Item::Lit(l) => skip(rest, l).ok_or_else(|| bad(rest, l))?,
                Item::Std(std) => parse_std(*std, rest, &mut p, &mut pm)
                    .map_err(|e| e.unwrap_or_else(|| bad(rest, std_text(*std))))
                    .map_err(|e| range_error(e, value))?,
            };
            // As Go: a fraction right after the seconds is read even when the layout has none.
            let next_is_frac = matches!(self.items.get(i + 1), Some(Item::Std(Std::Frac(..))));
            if matches!(item, Item::Std(Std::Second)) && !next_is_frac {
                rest = parse_frac(rest, &mut p);
            }
        }
        if !rest.is_empty() {
            return Err(format!("parsing time {value:?}: extra text: {rest:?}"));
        }
        match pm {
            Some(true) if p.hour < 12 => p.hour += 12,
            Some(false) if p.hour == 12 => p.hour = 0,
            _ => {}
        }
        if p.day > days_in_month(p.year, p.month) {
            return Err(format!("parsing time {value:?}: day out of range"));
        }
        Ok(p)
    }
}

fn range_error(e: String, value: &str) -> String {
    if e.ends_with("out of range") && !e.starts_with("parsing") {
        format!("parsing time {value:?}: {e}")
    } else {
        e
    }
}

fn push_lit(items: &mut Vec<Item>, c: char) {
    match items.last_mut() {
        Some(Item::Lit(s)) => s.push(c),
        _ => items.push(Item::Lit(c.to_string())),
    }
}

/// Takes a `.` or `,` that ends the literal before a fraction directive.
fn take_separator(items: &mut Vec<Item>) -> Option<char> {
    let Some(Item::Lit(s)) = items.last_mut() else {
        return None;
    };
    let sep = s.pop().filter(|c| matches!(c, '.' | ','));
    match sep {
        Some(_) if s.is_empty() => {
            items.pop();
        }
        None => return None,
        _ => {}
    }
    sep
}

/// The Go layout text of an element, for messages.
fn std_text(std: Std) -> &'static str {
    use Std::*;
    match std {
        Year => "2006",
        Year2 => "06",
        Month2 => "01",
        MonthNum => "1",
        MonthAbbr => "Jan",
        MonthFull => "January",
        Day2 => "02",
        DayUnder => "_2",
        DayNum => "2",
        WeekdayAbbr => "Mon",
        WeekdayFull => "Monday",
        Hour => "15",
        Hour12 => "3",
        Hour12Zero => "03",
        PmUpper => "PM",
        PmLower => "pm",
        Minute => "04",
        Second => "05",
        Frac(..) => ".999",
        ZoneName => "MST",
        Zone { minutes: false, .. } => "-07",
        Zone {
            seconds: false,
            colons: false,
            ..
        } => "-0700",
        Zone { seconds: false, .. } => "-07:00",
        Zone { colons: false, .. } => "-070000",
        Zone { .. } => "-07:00:00",
    }
}

fn format_std(out: &mut String, std: Std, c: &Civil) {
    use std::fmt::Write;
    use Std::*;
    let h12 = if c.hour % 12 == 0 { 12 } else { c.hour % 12 };
    let month = MONTHS[(c.month - 1).clamp(0, 11) as usize];
    let weekday = WEEKDAYS[c.weekday.clamp(0, 6) as usize];
    let _ = match std {
        Year => write!(out, "{:04}", c.year),
        Year2 => write!(out, "{:02}", c.year.rem_euclid(100)),
        Month2 => write!(out, "{:02}", c.month),
        MonthNum => write!(out, "{}", c.month),
        MonthAbbr => write!(out, "{}", &month[..3]),
        MonthFull => write!(out, "{month}"),
        Day2 => write!(out, "{:02}", c.day),
        DayUnder => write!(out, "{:>2}", c.day),
        DayNum => write!(out, "{}", c.day),
        WeekdayAbbr => write!(out, "{}", &weekday[..3]),
        WeekdayFull => write!(out, "{weekday}"),
        Hour => write!(out, "{:02}", c.hour),
        Hour12 => write!(out, "{h12}"),
        Hour12Zero => write!(out, "{h12:02}"),
        PmUpper => write!(out, "{}", if c.hour >= 12 { "PM" } else { "AM" }),
        PmLower => write!(out, "{}", if c.hour >= 12 { "pm" } else { "am" }),
        Minute => write!(out, "{:02}", c.minute),
        Second => write!(out, "{:02}", c.second),
        Frac(sep, digits) => {
            let frac = format!("{:09}", c.nanos);
            let frac = frac[..digits].trim_end_matches('0');
            if frac.is_empty() {
                Ok(())
            } else {
                write!(out, "{sep}{frac}")
            }
        }
        ZoneName => write!(out, "UTC"),
        Zone {
            minutes,
            seconds,
            colons,
        } => {
            let sep = if colons { ":" } else { "" };
            out.push_str("+00");
            if minutes {
                let _ = write!(out, "{sep}00");
            }
            if seconds {
                let _ = write!(out, "{sep}00");
            }
            Ok(())
        }
    };
}

/// Go's `skip`: a run of spaces in the layout matches any run of spaces in the value.
fn skip<'v>(mut value: &'v str, mut lit: &str) -> Option<&'v str> {
    while let Some(c) = lit.chars().next() {
        if c == ' ' {
            if !value.is_empty() && !value.starts_with(' ') {
                return None;
            }
            lit = lit.trim_start_matches(' ');
            value = value.trim_start_matches(' ');
            continue;
        }
        value = value.strip_prefix(c)?;
        lit = &lit[c.len_utf8()..];
    }
    Some(value)
}

/// Go's `getnum`: one or two digits; with `fixed`, exactly two.
fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i64::from(c - b'0'))
    };
    let first = digit(0)?;
    match digit(1) {
        Some(second) => Some((first * 10 + second, &s[2..])),
        None if fixed => None,
        None => Some((first, &s[1..])),
    }
}

/// Case-insensitive prefix match against names (or their 3-letter abbreviations).
fn lookup<'v>(names: &[&str], value: &'v str, abbr: bool) -> Option<(usize, &'v str)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let name = if abbr { &name[..3] } else { name };
        let head = value.get(..name.len())?;
        head.eq_ignore_ascii_case(name)
            .then(|| (i, &value[name.len()..]))
    })
}

type StdResult<'v> = Result<&'v str, Option<String>>;

/// Parses one element; `Err(None)` is "cannot parse", `Err(Some(..))` another error.
fn parse_std<'v>(std: Std, s: &'v str, p: &mut Parsed, pm: &mut Option<bool>) -> StdResult<'v> {
    use Std::*;
    let range = |what: &str| Some(format!("{what} out of range"));
    let (n, rest) = match std {
        Year => {
            let y = s.get(..4).filter(|y| y.bytes().all(|c| c.is_ascii_digit()));
            p.year = y.ok_or(None)?.parse().map_err(|_| None)?;
            return Ok(&s[4..]);
        }
        Year2 => {
            let (y, rest) = getnum(s, true).ok_or(None)?;
            p.year = if y >= 69 { 1900 + y } else { 2000 + y };
            return Ok(rest);
        }
        Month2 | MonthNum => getnum(s, std == Month2).ok_or(None)?,
        MonthAbbr | MonthFull => {
            let (i, rest) = lookup(&MONTHS, s, std == MonthAbbr).ok_or(None)?;
            p.month = i as i64 + 1;
            return Ok(rest);
        }
        WeekdayAbbr | WeekdayFull => {
            return Ok(lookup(&WEEKDAYS, s, std == WeekdayAbbr).ok_or(None)?.1)
        }
        Day2 | DayNum => getnum(s, std == Day2).ok_or(None)?,
        DayUnder => getnum(s.strip_prefix(' ').unwrap_or(s), false).ok_or(None)?,
        Hour | Hour12 | Hour12Zero => getnum(s, std == Hour12Zero).ok_or(None)?,
        Minute | Second => getnum(s, true).ok_or(None)?,
        PmUpper | PmLower => {
            let head = s.get(..2).ok_or(None)?;
            let (am, pmt) = if std == PmUpper {
                ("AM", "PM")
            } else {
                ("am", "pm")
            };
            *pm = Some(match head {
                h if h == am => false,
                h if h == pmt => true,
                _ => return Err(None),
            });
            return Ok(&s[2..]);
        }
        Frac(..) => return Ok(parse_frac(s, p)),
        ZoneName => return parse_zone_name(s, p),
        Zone {
            minutes,
            seconds,
            colons,
        } => return parse_zone(s, p, minutes, seconds, colons),
    };
    match std {
        Month2 | MonthNum if !(1..=12).contains(&n) => return Err(range("month")),
        Day2 | DayNum | DayUnder if !(1..=31).contains(&n) => return Err(range("day")),
        Hour if n > 23 => return Err(range("hour")),
        Hour12 | Hour12Zero if n > 12 => return Err(range("hour")),
        Minute if n > 59 => return Err(range("minute")),
        Second if n > 59 => return Err(range("second")),
        _ => {}
    }
    match std {
        Month2 | MonthNum => p.month = n,
        Day2 | DayNum | DayUnder => p.day = n,
        Hour | Hour12 | Hour12Zero => p.hour = n,
        Minute => p.minute = n,
        _ => p.second = n,
    }
    Ok(rest)
}

/// An optional `.` or `,` and digits (the first nine count).
fn parse_frac<'v>(s: &'v str, p: &mut Parsed) -> &'v str {
    let b = s.as_bytes();
    if b.len() < 2 || !matches!(b[0], b'.' | b',') || !b[1].is_ascii_digit() {
        return s;
    }
    let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    let digits = &s[1..1 + n];
    let mut nanos: i64 = 0;
    for (i, c) in digits.bytes().take(9).enumerate() {
        nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
    }
    p.nanos = nanos;
    &s[1 + n..]
}

/// `UTC`, or an abbreviation of 3 to 5 capitals as Go accepts them (read as offset zero).
fn parse_zone_name<'v>(s: &'v str, p: &mut Parsed) -> StdResult<'v> {
    let upper = s.bytes().take(6).take_while(u8::is_ascii_uppercase).count();
    let b = s.as_bytes();
    let n = match upper {
        3 => 3,
        4 if b[3] == b'T' || &s[..4] == "WITA" => 4,
        5 if b[4] == b'T' => 5,
        _ => return Err(None),
    };
    // A numeric offset, when the layout also has one, wins.
    p.offset.get_or_insert(0);
    Ok(&s[n..])
}

/// A numeric zone: `±hh`, `±hhmm`, `±hh:mm`, `±hhmmss` or `±hh:mm:ss` as the layout says.
fn parse_zone<'v>(s: &'v str, p: &mut Parsed, min: bool, sec: bool, colons: bool) -> StdResult<'v> {
    let sign = match s.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(None),
    };
    let mut rest = &s[1..];
    let mut offset = 0;
    for (i, unit) in [(0, 3600), (1, 60), (2, 1)] {
        if (i == 1 && !min) || (i == 2 && !sec) {
            break;
        }
        if i > 0 && colons {
            rest = rest.strip_prefix(':').ok_or(None)?;
        }
        let (n, r) = getnum(rest, true).ok_or(None)?;
        offset += n * unit;
        rest = r;
    }
    p.offset = Some(sign * offset);
    Ok(rest)
}
