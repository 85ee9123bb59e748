//! OTLP to Prometheus names, as otelcol's translator does with name normalisation on: sanitised
//! metric names with unit suffixes, `_total` for counters and `_ratio` for unit-`1` gauges, and
//! sanitised label names.

/// What kind of OTLP metric a name is built for (suffixes depend on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    /// An OTLP gauge.
    Gauge,
    /// A monotonic cumulative sum (a Prometheus counter).
    Counter,
    /// Anything else (non-monotonic sums, histograms, summaries).
    Other,
}

/// UCUM-ish units with a Prometheus name (the table shared with the prometheus receiver,
/// plus the spellings only this direction reads); `1` has none.
fn main_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "B" => "bytes",
        "KB" => "kilobytes",
        "MB" => "megabytes",
        "GB" => "gigabytes",
        "TB" => "terabytes",
        "1" => "",
        "$" => "dollars",
        u => return ferrotel_core::prom_units::ucum_to_word(u),
    })
}

/// The unit after `/` is singular: `m/s` is `meters_per_second`.
fn per_unit(unit: &str) -> Option<&'static str> {
    ferrotel_core::prom_units::per_ucum_to_word(unit)
}

/// Splits `s` into `_`-free tokens after replacing characters outside `[a-zA-Z0-9_:]` (so
/// repeated, leading and trailing underscores disappear when the tokens are joined).
fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Appends `suffix` (already tokenised) unless the name already ends with it.
fn push_suffix(name: &mut Vec<String>, suffix: &[String]) {
    if !suffix.is_empty() && !name.ends_with(suffix) {
        name.extend_from_slice(suffix);
    }
}

/// The unit's suffix tokens: `By` -> `bytes`, `m/s` -> `meters_per_second`, `{packets}` -> none.
fn unit_tokens(unit: &str) -> (Vec<String>, Vec<String>) {
    // Annotations in braces carry no unit.
    let mut clean = String::with_capacity(unit.len());
    let mut depth = 0u32;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if depth == 0 => clean.push(c),
            _ => {}
        }
    }
    let (main, per) = match clean.split_once('/') {
        Some((m, p)) => (m.trim(), Some(p.trim())),
        None => (clean.trim(), None),
    };
    let main_tokens = match main_unit(main) {
        Some(m) => tokens(m),
        None => tokens(main),
    };
    let per_tokens = match per {
        Some(p) if !p.is_empty() => {
            let t = match per_unit(p) {
                Some(p) => tokens(p),
                None => tokens(p),
            };
            if t.is_empty() {
                t
            } else {
                std::iter::once("per".to_string()).chain(t).collect()
            }
        }
        _ => vec![],
    };
    (main_tokens, per_tokens)
}

/// The Prometheus metric name of an OTLP metric.
pub(crate) fn metric_name(
    name: &str,
    unit: &str,
    kind: NameKind,
    namespace: &str,
    add_suffixes: bool,
) -> String {
    let mut t = tokens(name);
    if add_suffixes {
        let (main, per) = unit_tokens(unit);
        push_suffix(&mut t, &main);
        push_suffix(&mut t, &per);
        match kind {
            NameKind::Counter => {
                if t.last().map(String::as_str) == Some("total") {
                    t.pop();
                }
                t.push("total".into());
            }
            NameKind::Gauge if unit == "1" => push_suffix(&mut t, &["ratio".to_string()]),
            _ => {}
        }
    }
    let ns = tokens(namespace);
    let mut out = ns.join("_");
    if !out.is_empty() && !t.is_empty() {
        out.push('_');
    }
    out.push_str(&t.join("_"));
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A Prometheus label name for an attribute key: invalid characters become `_`; a name not
/// starting with a letter gets a `key` prefix (`_name` -> `key_name`, `0x` -> `key_0x`), except
/// the reserved `__*`. None for an empty key.
pub(crate) fn label_name(key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let s: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{s}")
    } else if s.starts_with('_') && !s.starts_with("__") {
        format!("key{s}")
    } else {
        s
    })
}

/// Escapes a label value for both text formats (`\`, `"`, newline).
pub(crate) fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}
