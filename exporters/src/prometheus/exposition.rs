//! Renders the accumulator as Prometheus text format 0.0.4 or OpenMetrics 1.0.0.

use super::accumulator::{Accumulator, Kind, Series, StoredExemplar, Value};
use ferrotel_core::format::format_go_float;
use std::collections::HashSet;
use std::fmt::Write as _;

/// The exposition format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format for a request's `Accept` header: OpenMetrics only when enabled and asked for.
    pub(crate) fn negotiate(accept: Option<&str>, open_metrics_enabled: bool) -> Format {
        match accept {
            Some(a) if open_metrics_enabled && a.contains("application/openmetrics-text") => {
                Format::OpenMetrics
            }
            _ => Format::Text,
        }
    }
}

/// What a render writes besides the series.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RenderOptions {
    pub format: Format,
    pub send_timestamps: bool,
}

fn escape_help(out: &mut String, help: &str, format: Format) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// One sample line: `name{labels,extra} value[ timestamp][ # exemplar]`.
struct Line<'a> {
    out: &'a mut String,
    opts: RenderOptions,
}

impl Line<'_> {
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &str,
        extra: Option<(&str, &str)>,
        value: &str,
        time_unix_nano: u64,
        exemplar: Option<&StoredExemplar>,
    ) {
        let out = &mut *self.out;
        out.push_str(name);
        out.push_str(suffix);
        if !labels.is_empty() || extra.is_some() {
            out.push('{');
            out.push_str(labels);
            if let Some((k, v)) = extra {
                if !labels.is_empty() {
                    out.push(',');
                }
                out.push_str(k);
                out.push_str("=\"");
                out.push_str(v);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        out.push_str(value);
        if self.opts.send_timestamps {
            write_timestamp(out, time_unix_nano, self.opts.format);
        }
        if let (Some(e), Format::OpenMetrics) = (exemplar, self.opts.format) {
            out.push_str(" # {");
            let mut first = true;
            for (k, v) in [("trace_id", &e.trace_id), ("span_id", &e.span_id)] {
                if v.is_empty() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                let _ = write!(out, "{k}=\"{v}\"");
            }
            out.push_str("} ");
            out.push_str(&format_go_float(e.value));
            if e.time_unix_nano > 0 {
                write_timestamp(out, e.time_unix_nano, Format::OpenMetrics);
            }
        }
        out.push('\n');
    }
}

/// Text format: milliseconds; OpenMetrics: seconds with a fraction.
fn write_timestamp(out: &mut String, unix_nano: u64, format: Format) {
    let ms = unix_nano / 1_000_000;
    match format {
        Format::Text => {
            let _ = write!(out, " {ms}");
        }
        Format::OpenMetrics => {
            let _ = write!(out, " {}.{:03}", ms / 1000, ms % 1000);
        }
    }
}

/// The family names already declared (`# TYPE name ...`) in an exposition.
pub(crate) fn declared_families(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Appends every family (and `target_info`) to `out`, skipping family names in `skip`.
/// Returns the names that were skipped.
pub(crate) fn render(
    acc: &Accumulator,
    out: &mut String,
    opts: RenderOptions,
    skip: &HashSet<String>,
) -> Vec<String> {
    let mut skipped = vec![];
    let om = opts.format == Format::OpenMetrics;
    for (name, fam) in &acc.families {
        if skip.contains(name) {
            skipped.push(name.clone());
            continue;
        }
        // OpenMetrics names a counter family without `_total` and its sample with it.
        let (family_name, sample_suffix) = match (fam.kind, om) {
            (Kind::Counter, true) => (name.strip_suffix("_total").unwrap_or(name), "_total"),
            _ => (name.as_str(), ""),
        };
        out.push_str("# HELP ");
        out.push_str(family_name);
        out.push(' ');
        escape_help(out, &fam.help, opts.format);
        out.push_str("\n# TYPE ");
        out.push_str(family_name);
        out.push(' ');
        out.push_str(fam.kind.as_str());
        out.push('\n');
        let mut line = Line {
            out: &mut *out,
            opts,
        };
        for (labels, s) in &fam.series {
            series(&mut line, family_name, sample_suffix, labels, s);
        }
    }
    if !acc.targets.is_empty() {
        if skip.contains("target_info") {
            skipped.push("target_info".into());
        } else {
            out.push_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n");
            let mut line = Line {
                out: &mut *out,
                opts: RenderOptions {
                    send_timestamps: false,
                    ..opts
                },
            };
            for t in acc.targets.values() {
                line.write("target_info", "", &t.labels, None, "1", 0, None);
            }
        }
    }
    if om {
        out.push_str("# EOF\n");
    }
    skipped
}

fn series(line: &mut Line, name: &str, suffix: &str, labels: &str, s: &Series) {
    let t = s.time_unix_nano;
    match &s.value {
        Value::Number(v) => {
            let ex = s.exemplars.first();
            line.write(name, suffix, labels, None, &format_go_float(*v), t, ex);
        }
        Value::Histogram {
            bounds,
            counts,
            count,
            sum,
        } => {
            let mut cum = 0u64;
            for (i, b) in bounds.iter().enumerate() {
                cum = cum.saturating_add(counts.get(i).copied().unwrap_or(0));
                if b.is_nan() || *b == f64::INFINITY {
                    // The `+Inf` bucket is written once, below.
                    continue;
                }
                let ex = s.exemplars.iter().find(|e| e.bucket == i);
                let le = format_go_float(*b);
                line.write(
                    name,
                    "_bucket",
                    labels,
                    Some(("le", &le)),
                    &cum.to_string(),
                    t,
                    ex,
                );
            }
            let ex = s.exemplars.iter().find(|e| e.bucket == bounds.len());
            let count = count.to_string();
            line.write(name, "_bucket", labels, Some(("le", "+Inf")), &count, t, ex);
            line.write(name, "_sum", labels, None, &format_go_float(*sum), t, None);
            line.write(name, "_count", labels, None, &count, t, None);
        }
        Value::Summary {
            quantiles,
            count,
            sum,
        } => {
            for (q, v) in quantiles {
                let q = format_go_float(*q);
                line.write(
                    name,
                    "",
                    labels,
                    Some(("quantile", &q)),
                    &format_go_float(*v),
                    t,
                    None,
                );
            }
            line.write(name, "_sum", labels, None, &format_go_float(*sum), t, None);
            line.write(name, "_count", labels, None, &count.to_string(), t, None);
        }
    }
}
