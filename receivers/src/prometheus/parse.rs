//! A parser of the Prometheus text exposition format (0.0.4) and of OpenMetrics 1.0 text, as
//! scraped: `# HELP` / `# TYPE` / `# UNIT` metadata and samples with escaped label values,
//! optional timestamps (milliseconds in 0.0.4, seconds in OpenMetrics) and exemplars (skipped).
//! OpenMetrics bodies must end with `# EOF`. [`parse`] never panics: any input gives either
//! the samples or an error naming the line.
//!
//! ```text
//! # TYPE http_requests_total counter
//! http_requests_total{method="post",code="200"} 1027 1395066363000
//! ```

use std::collections::HashMap;

/// Which text format a body is in (from the response's `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4` (and anything that is not OpenMetrics).
    Text,
    /// `application/openmetrics-text`.
    OpenMetrics,
}

impl Format {
    /// The format a `Content-Type` header names.
    pub fn of_content_type(ct: &str) -> Format {
        if ct
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/openmetrics-text")
        {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// A metric family's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl Kind {
    /// Prometheus's name of the type (`model.MetricType`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::GaugeHistogram => "gaugehistogram",
            Kind::Summary => "summary",
            Kind::Info => "info",
            Kind::StateSet => "stateset",
            Kind::Unknown => "unknown",
        }
    }

    fn parse(s: &str, format: Format) -> Option<Kind> {
        Some(match (s, format) {
            ("counter", _) => Kind::Counter,
            ("gauge", _) => Kind::Gauge,
            ("histogram", _) => Kind::Histogram,
            ("summary", _) => Kind::Summary,
            ("untyped", Format::Text) | ("unknown", Format::OpenMetrics) => Kind::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => Kind::GaugeHistogram,
            ("info", Format::OpenMetrics) => Kind::Info,
            ("stateset", Format::OpenMetrics) => Kind::StateSet,
            _ => return None,
        })
    }
}

/// A family's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub kind: Kind,
    pub help: String,
    pub unit: String,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            kind: Kind::Unknown,
            help: String::new(),
            unit: String::new(),
        }
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds since the epoch, when the line has a timestamp.
    pub timestamp_ms: Option<i64>,
}

/// A parsed body: samples in order, metadata by family name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    pub meta: HashMap<String, Meta>,
}

/// Why a body does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole body.
pub fn parse(body: &str, format: Format) -> Result<Exposition, ParseError> {
    let mut out = Exposition::default();
    let mut eof = false;
    for (i, line) in body.lines().enumerate() {
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        if eof {
            return Err(err("content after # EOF".into()));
        }
        if format == Format::OpenMetrics && line == "# EOF" {
            eof = true;
            continue;
        }
        let trimmed = if format == Format::Text {
            line.trim()
        } else {
            line
        };
        if trimmed.is_empty() {
            if format == Format::OpenMetrics {
                return Err(err("empty line".into()));
            }
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            metadata(comment, format, &mut out.meta).map_err(err)?;
            continue;
        }
        out.samples.push(sample(trimmed, format).map_err(err)?);
    }
    if format == Format::OpenMetrics && !eof {
        return Err(ParseError {
            line: body.lines().count(),
            message: "missing # EOF at the end".into(),
        });
    }
    Ok(out)
}

/// A `# HELP`, `# TYPE` or `# UNIT` line (other comments are ignored in 0.0.4).
fn metadata(comment: &str, format: Format, meta: &mut HashMap<String, Meta>) -> Result<(), String> {
    let rest = match format {
        Format::Text => comment.trim_start(),
        Format::OpenMetrics => comment
            .strip_prefix(' ')
            .ok_or("a comment must start with \"# \"")?,
    };
    let (keyword, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return match format {
            Format::Text => Ok(()),
            Format::OpenMetrics => Err(format!("unknown comment {keyword:?}")),
        };
    }
    let rest = if format == Format::Text {
        rest.trim_start()
    } else {
        rest
    };
    let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?} in # {keyword}"));
    }
    let entry = meta.entry(name.to_string()).or_default();
    match keyword {
        "HELP" => entry.help = unescape_help(value),
        "TYPE" => {
            entry.kind = Kind::parse(value.trim(), format)
                .ok_or_else(|| format!("unknown metric type {:?}", value.trim()))?
        }
        _ if format == Format::OpenMetrics => entry.unit = value.to_string(),
        _ => {}
    }
    Ok(())
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn valid_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn valid_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A sample line: `name{labels} value [timestamp] [# exemplar]`.
fn sample(line: &str, format: Format) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = vec![];
    if let Some(after) = rest.strip_prefix('{') {
        rest = label_set(after, &mut labels)?;
    }
    // The exemplar (OpenMetrics) follows " # ".
    let rest = match format {
        Format::OpenMetrics => rest.split_once(" # ").map_or(rest, |(a, _)| a),
        Format::Text => rest,
    };
    let mut fields = rest.split_ascii_whitespace();
    let value = fields.next().ok_or("missing value")?;
    let value = parse_float(value).ok_or_else(|| format!("invalid value {value:?}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(timestamp(t, format)?),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the timestamp"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

fn timestamp(t: &str, format: Format) -> Result<i64, String> {
    let bad = || format!("invalid timestamp {t:?}");
    match format {
        Format::Text => t.parse::<i64>().map_err(|_| bad()),
        Format::OpenMetrics => {
            let secs = parse_float(t).filter(|s| s.is_finite()).ok_or_else(bad)?;
            let ms = (secs * 1000.0).round();
            if ms.abs() > 9.2e18 {
                return Err(bad());
            }
            Ok(ms as i64)
        }
    }
}

/// Go's `ParseFloat` spellings: decimals, exponents, `NaN`, `+Inf`, `-Inf`, `Inf` (any case).
fn parse_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// Reads `name="value",...}` into `labels`; returns what follows the `}`.
fn label_set<'a>(mut s: &'a str, labels: &mut Vec<(String, String)>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let eq = s.find('=').ok_or("missing = in a label")?;
        let name = s[..eq].trim();
        if !valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("duplicate label {name:?}"));
        }
        let after = s[eq + 1..].trim_start();
        let after = after
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name:?}: value must be quoted"))?;
        let (value, after) =
            quoted(after).ok_or_else(|| format!("label {name:?}: unterminated value"))?;
        labels.push((name.to_string(), value));
        s = after.trim_start();
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

/// The unescaped value up to the closing quote, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                o => {
                    out.push('\\');
                    out.push(o);
                }
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_format_with_escapes_timestamps_and_types() {
        let body = "# HELP http_requests_total The total number of HTTP requests.\n\
            # TYPE http_requests_total counter\n\
            http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
            http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\
            \n\
            # A normal comment.\n\
            msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
            metric_without_timestamp_and_labels 12.47\n\
            something_weird{problem=\"division by zero\"} +Inf -3982045\n";
        let e = parse(body, Format::Text).unwrap();
        assert_eq!(e.samples.len(), 5);
        assert_eq!(e.meta["http_requests_total"].kind, Kind::Counter);
        assert_eq!(
            e.meta["http_requests_total"].help,
            "The total number of HTTP requests."
        );
        assert_eq!(e.samples[0].timestamp_ms, Some(1395066363000));
        assert_eq!(e.samples[1].value, 3.0);
        assert_eq!(e.samples[2].labels[0].1, "C:\\DIR\\FILE.TXT");
        assert_eq!(e.samples[2].labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
        assert_eq!(e.samples[2].value, 1.458255915e9);
        assert_eq!(e.samples[3].labels, vec![]);
        assert_eq!(e.samples[4].value, f64::INFINITY);
        assert_eq!(e.samples[4].timestamp_ms, Some(-3982045));
    }

    #[test]
    fn text_histogram_and_summary() {
        let body = "# TYPE h histogram\nh_bucket{le=\"0.05\"} 24054\nh_bucket{le=\"+Inf\"} 144320\n\
            h_sum 53423\nh_count 144320\n# TYPE s summary\ns{quantile=\"0.5\"} 4773\ns_sum 1.7560473e+07\ns_count 2693\n";
        let e = parse(body, Format::Text).unwrap();
        assert_eq!(e.meta["h"].kind, Kind::Histogram);
        assert_eq!(e.meta["s"].kind, Kind::Summary);
        assert_eq!(e.samples.len(), 7);
        assert_eq!(e.samples[1].labels[0], ("le".into(), "+Inf".into()));
    }

    #[test]
    fn openmetrics_units_seconds_timestamps_exemplars_and_eof() {
        let body = "# TYPE foo counter\n# UNIT foo seconds\n# HELP foo Help \\\"q\\\".\n\
            foo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n\
            foo_created{a=\"b\"} 1520872607.123\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n";
        let e = parse(body, Format::OpenMetrics).unwrap();
        assert_eq!(e.meta["foo"].unit, "seconds");
        assert_eq!(e.meta["foo"].help, "Help \"q\".");
        assert_eq!(e.meta["i"].kind, Kind::Info);
        assert_eq!(e.samples[0].timestamp_ms, Some(1520879607789));
        assert_eq!(e.samples[0].value, 17.0);
        assert_eq!(e.samples.len(), 3);
    }

    #[test]
    fn openmetrics_requires_eof_and_nothing_after_it() {
        let e = parse("a 1\n", Format::OpenMetrics).unwrap_err();
        assert!(e.message.contains("EOF"), "{e}");
        let e = parse("a 1\n# EOF\nb 2\n", Format::OpenMetrics).unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        for (body, line) in [
            ("a 1\nb{x=\"1} 2\n", 2),
            ("1a 1\n", 1),
            ("a{x=1} 1\n", 1),
            ("a one\n", 1),
            ("a 1 2 3\n", 1),
            ("a{x=\"1\",x=\"2\"} 1\n", 1),
            ("# TYPE a bogus\n", 1),
            ("a 1 1.5\n", 1),
            ("a\n", 1),
        ] {
            let e = parse(body, Format::Text).unwrap_err();
            assert_eq!(e.line, line, "{body:?}: {e}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 7u64;
        let alphabet = b"a_{}=\",# \n\\1.eE+-InfNa";
        for _ in 0..5000 {
            let s: String = (0..40)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(seed >> 33) as usize % alphabet.len()] as char
                })
                .collect();
            let _ = parse(&s, Format::Text);
            let _ = parse(&s, Format::OpenMetrics);
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Format::of_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::of_content_type("text/plain; version=0.0.4"),
            Format::Text
        );
    }
}
