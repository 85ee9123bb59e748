//! Byte sizes as stanza reads them (`fingerprint_size: 1kb`, `max_log_size: 1MiB`): a number
//! or a string with an optional, case-insensitive unit, decimal (`kb`, `mb`, `gb`, `tb`) or
//! binary (`kib`, `mib`, `gib`, `tib`); fractions are allowed (`1.5kb`).

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A byte count in stanza's notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct StanzaSize(pub i64);

impl StanzaSize {
    /// Parses `1kb`, `16KiB`, `1048576`, `1.5mb`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let mult: f64 = match unit.trim() {
            "" | "b" => 1.0,
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            "tb" => 1e12,
            "kib" => 1024.0,
            "mib" => 1024.0 * 1024.0,
            "gib" => 1024.0 * 1024.0 * 1024.0,
            "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            _ => return Err(format!("invalid byte size {s:?}")),
        };
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid byte size {s:?}"))?;
        Ok(StanzaSize((n * mult) as i64))
    }
}

impl Serialize for StanzaSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for StanzaSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = StanzaSize;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte size such as 1024, 1kb or 1MiB")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StanzaSize, E> {
                Ok(StanzaSize(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StanzaSize, E> {
                i64::try_from(v)
                    .map(StanzaSize)
                    .map_err(|_| E::custom("byte size too large"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<StanzaSize, E> {
                Ok(StanzaSize(v as i64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StanzaSize, E> {
                StanzaSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn units_as_stanza() {
        assert_eq!(StanzaSize::parse("1kb").unwrap().0, 1000);
        assert_eq!(StanzaSize::parse("1KiB").unwrap().0, 1024);
        assert_eq!(StanzaSize::parse("1MiB").unwrap().0, 1 << 20);
        assert_eq!(StanzaSize::parse("1.5kb").unwrap().0, 1500);
        assert_eq!(StanzaSize::parse("77").unwrap().0, 77);
        assert!(StanzaSize::parse("3 parsecs").is_err());
    }
}
