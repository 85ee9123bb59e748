//! Units in OTLP (UCUM) and in Prometheus metric names (words), as otelcol's Prometheus
//! translator pairs them: the prometheus exporter appends the word of a metric's UCUM unit
//! (`s` -> `_seconds`), the prometheus receiver turns an OpenMetrics `# UNIT` word back into
//! UCUM (`seconds` -> `s`, `meters_per_second` -> `m/s`). One table serves both directions.
//!
//! ```
//! use ferrotel_core::prom_units::{ucum_to_word, word_to_ucum};
//! assert_eq!(ucum_to_word("By"), Some("bytes"));
//! assert_eq!(word_to_ucum("meters_per_second"), "m/s");
//! ```

/// UCUM units with their Prometheus word (canonical spelling first where two UCUM spellings
/// share a word).
pub const MAIN_UNITS: &[(&str, &str)] = &[
    ("d", "days"),
    ("h", "hours"),
    ("min", "minutes"),
    ("s", "seconds"),
    ("ms", "milliseconds"),
    ("us", "microseconds"),
    ("ns", "nanoseconds"),
    ("By", "bytes"),
    ("KiBy", "kibibytes"),
    ("MiBy", "mebibytes"),
    ("GiBy", "gibibytes"),
    ("TiBy", "tebibytes"),
    ("KBy", "kilobytes"),
    ("MBy", "megabytes"),
    ("GBy", "gigabytes"),
    ("TBy", "terabytes"),
    ("m", "meters"),
    ("V", "volts"),
    ("A", "amperes"),
    ("J", "joules"),
    ("W", "watts"),
    ("g", "grams"),
    ("Cel", "celsius"),
    ("Hz", "hertz"),
    ("%", "percent"),
];

/// The unit after `/` (singular words): `m/s` is `meters_per_second`.
pub const PER_UNITS: &[(&str, &str)] = &[
    ("s", "second"),
    ("m", "minute"),
    ("h", "hour"),
    ("d", "day"),
    ("w", "week"),
    ("mo", "month"),
    ("y", "year"),
];

fn lookup(table: &'static [(&str, &str)], ucum: &str) -> Option<&'static str> {
    table.iter().find(|(u, _)| *u == ucum).map(|(_, w)| *w)
}

fn reverse(table: &'static [(&str, &str)], word: &str) -> Option<&'static str> {
    table.iter().find(|(_, w)| *w == word).map(|(u, _)| *u)
}

/// The Prometheus word of a UCUM main unit.
pub fn ucum_to_word(unit: &str) -> Option<&'static str> {
    lookup(MAIN_UNITS, unit)
}

/// The Prometheus word of a UCUM unit after `/`.
pub fn per_ucum_to_word(unit: &str) -> Option<&'static str> {
    lookup(PER_UNITS, unit)
}

/// otelcol's `UnitWordToUCUM`: `seconds` -> `s`, `ratio` -> `1`, `bytes_per_second` ->
/// `By/s`; words it does not know stay as they are.
pub fn word_to_ucum(unit: &str) -> String {
    if unit.is_empty() {
        return String::new();
    }
    let main = |w: &str| match w {
        "ratio" => "1".to_string(),
        w => reverse(MAIN_UNITS, w).unwrap_or(w).to_string(),
    };
    match unit.split_once("_per_") {
        Some((m, p)) => format!("{}/{}", main(m), reverse(PER_UNITS, p).unwrap_or(p)),
        None => main(unit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions() {
        assert_eq!(ucum_to_word("s"), Some("seconds"));
        assert_eq!(per_ucum_to_word("s"), Some("second"));
        assert_eq!(word_to_ucum("seconds"), "s");
        assert_eq!(word_to_ucum("ratio"), "1");
        assert_eq!(word_to_ucum("bytes_per_second"), "By/s");
        assert_eq!(word_to_ucum("widgets"), "widgets");
        assert_eq!(word_to_ucum(""), "");
        for (u, w) in MAIN_UNITS {
            assert_eq!(word_to_ucum(w), *u);
        }
    }
}
