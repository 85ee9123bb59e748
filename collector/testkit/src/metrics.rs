//! Reading self-metrics in tests: one parser of the Prometheus text exposition for every test
//! that checks a counter, a gauge or a histogram bucket, whether the text came from
//! [`Telemetry::render`] in process or from a running collector's `/metrics`.
//!
//! A series is written as it is rendered, `name{label="value",...}` or `name` alone; label
//! order does not matter, the label set must be the same.

use ferrotel_core::Telemetry;

/// One sample line: name, labels (sorted), value.
struct Sample<'a> {
    name: &'a str,
    labels: Vec<(String, String)>,
    value: Option<f64>,
}

/// Parses `name{k="v",...} value [timestamp]` (the value is absent when parsing a series
/// selector). `None` for comments, blank and malformed lines.
fn parse(line: &str, with_value: bool) -> Option<Sample<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        let mut key = String::new();
        let close = loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => break i,
                ',' | ' ' => {}
                '=' => {
                    let (_, '"') = chars.next()? else {
                        return None;
                    };
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                c => value.push(c),
                            },
                            c => value.push(c),
                        }
                    }
                    labels.push((std::mem::take(&mut key).trim().to_string(), value));
                }
                c => key.push(c),
            }
        };
        rest = &body[close + 1..];
    }
    labels.sort();
    let value = if with_value {
        Some(rest.split_whitespace().next()?.parse().ok()?)
    } else if rest.trim().is_empty() {
        None
    } else {
        return None;
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The value of `series` (e.g. `otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"}`)
/// in a Prometheus text exposition; `None` if it is not there.
pub fn value(text: &str, series: &str) -> Option<f64> {
    let want = parse(series, false)
        .unwrap_or_else(|| panic!("not a series: {series:?} (write name{{label=\"value\"}})"));
    text.lines()
        .filter_map(|l| parse(l, true))
        .find(|s| s.name == want.name && s.labels == want.labels)
        .and_then(|s| s.value)
}

/// The sum of every series named `name` whose labels include all of `labels` (other labels
/// may be present too); 0 if none matches.
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter_map(|l| parse(l, true))
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .filter_map(|s| s.value)
        .sum()
}

/// Whether any series named `name` is in the text (whatever its labels).
pub fn has(text: &str, name: &str) -> bool {
    text.lines()
        .filter_map(|l| parse(l, true))
        .any(|s| s.name == name)
}

/// [`value`] of what `telemetry` renders now.
pub fn read(telemetry: &Telemetry, series: &str) -> Option<f64> {
    value(&telemetry.render(), series)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"b c\"} 3\na_total{x=\"2\",y=\"q\\\"}\"} 4\nplain 2.5\nplain_more 7\nh_bucket{le=\"+Inf\"} 9 1700000000\n";

    #[test]
    fn finds_series_by_name_and_label_set() {
        assert_eq!(value(TEXT, "a_total{x=\"1\",y=\"b c\"}"), Some(3.0));
        assert_eq!(
            value(TEXT, "a_total{y=\"b c\",x=\"1\"}"),
            Some(3.0),
            "any order"
        );
        assert_eq!(
            value(TEXT, "a_total{y=\"q\\\"}\",x=\"2\"}"),
            Some(4.0),
            "escapes"
        );
        assert_eq!(value(TEXT, "a_total{x=\"1\"}"), None, "the whole label set");
        assert_eq!(value(TEXT, "a_total"), None);
        assert_eq!(value(TEXT, "plain"), Some(2.5), "not plain_more");
        assert_eq!(
            value(TEXT, "h_bucket{le=\"+Inf\"}"),
            Some(9.0),
            "timestamp ignored"
        );
        assert_eq!(value(TEXT, "missing"), None);
    }

    #[test]
    fn sums_series_that_include_the_labels() {
        assert_eq!(sum(TEXT, "a_total", &[]), 7.0);
        assert_eq!(sum(TEXT, "a_total", &[("x", "2")]), 4.0);
        assert_eq!(sum(TEXT, "a_total", &[("x", "3")]), 0.0);
        assert!(has(TEXT, "a_total") && has(TEXT, "plain") && !has(TEXT, "a"));
    }

    #[test]
    fn reads_a_telemetry_registry() {
        let t = Telemetry::new();
        t.counter("c", "C.", &[("k", "v")]).add(5);
        assert_eq!(read(&t, "c{k=\"v\"}"), Some(5.0));
    }
}
