use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, time::Duration};

/// A duration written as Go writes them (`200ms`, `5s`, `1m30s`, `1h`, `1.5s`), as otelcol's
/// config does. A bare integer is nanoseconds, as Go's decoder reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    pub const fn from_millis(ms: u64) -> Self {
        GoDuration(Duration::from_millis(ms))
    }
    pub const fn from_secs(s: u64) -> Self {
        GoDuration(Duration::from_secs(s))
    }
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Parses Go's `time.ParseDuration` syntax (negative durations are refused).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "0" {
            return Ok(GoDuration(Duration::ZERO));
        }
        if s.starts_with('-') {
            return Err(format!("duration {s:?} must not be negative"));
        }
        let body = s.strip_prefix('+').unwrap_or(s);
        if body.is_empty() {
            return Err(format!("invalid duration {s:?}"));
        }
        let mut total = 0f64;
        let mut rest = body;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if num_len == 0 {
                return Err(format!("invalid duration {s:?}"));
            }
            let num: f64 = rest[..num_len]
                .parse()
                .map_err(|_| format!("invalid duration {s:?}"))?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let nanos_per = match unit {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                "" => return Err(format!("missing unit in duration {s:?}")),
                other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
            };
            total += num * nanos_per;
        }
        Ok(GoDuration(Duration::from_nanos(total.round() as u64)))
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Duration {
        d.0
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 200ms, 5s or 1m30s")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
                GoDuration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
                Ok(GoDuration(Duration::from_nanos(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
                u64::try_from(v)
                    .map(|n| GoDuration(Duration::from_nanos(n)))
                    .map_err(|_| E::custom("duration must not be negative"))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Exact, in the largest unit that divides it, so it reads back the same.
        let n = self.0.as_nanos();
        let text = if n.is_multiple_of(1_000_000_000) {
            format!("{}s", n / 1_000_000_000)
        } else if n.is_multiple_of(1_000_000) {
            format!("{}ms", n / 1_000_000)
        } else {
            format!("{n}ns")
        };
        s.serialize_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(
            GoDuration::parse("200ms").unwrap().0,
            Duration::from_millis(200)
        );
        assert_eq!(
            GoDuration::parse("1m30s").unwrap().0,
            Duration::from_secs(90)
        );
        assert_eq!(
            GoDuration::parse("1.5s").unwrap().0,
            Duration::from_millis(1500)
        );
        assert_eq!(GoDuration::parse("0").unwrap().0, Duration::ZERO);
        assert_eq!(
            GoDuration::parse("2h").unwrap().0,
            Duration::from_secs(7200)
        );
        assert!(GoDuration::parse("5").is_err());
        assert!(GoDuration::parse("5 parsecs").is_err());
        assert!(GoDuration::parse("-1s").is_err());
        assert!(GoDuration::parse("").is_err());
    }
}
