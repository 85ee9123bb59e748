//! [`Secret`]: a config string (token, password, htpasswd content) that never shows in `Debug`
//! output, logs or error messages, as otelcol's `configopaque.String`.
//!
//! ```yaml
//! extensions:
//!   bearertokenauth: { token: "${env:TOKEN}" }   # `token` is a Secret
//! ```

use serde::{Deserialize, Serialize, Serializer};

/// A string that prints as `[REDACTED]`, and serialises so too (as otelcol marshals
/// `configopaque.String`), unless it is empty: the default config reads back as it is.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "[REDACTED]" })
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Compares in time that depends only on the lengths, so a wrong guess reveals nothing about
/// how much of it was right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_and_comparison_works() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        let yaml = |s: &Secret| serde_yaml_ng::to_string(s).expect("a string serialises");
        assert_eq!(yaml(&s).trim(), "'[REDACTED]'");
        assert_eq!(yaml(&Secret::default()).trim(), "''");
    }
}
