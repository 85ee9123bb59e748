//! [`Secret`]: a config string (token, password, htpasswd content) that never shows in `Debug`
//! output, logs or error messages, as otelcol's `configopaque.String`.
//!
//! ```yaml
//! extensions:
//!   bearertokenauth: { token: "${env:TOKEN}" }   # `token` is a Secret
//! ```

use serde::Deserialize;

/// A string that prints as `[REDACTED]`.
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
    }
}
