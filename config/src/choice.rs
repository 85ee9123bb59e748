//! Enum-valued settings (`action`, `match_type`, `mode`, `compression`, `verbosity`, ...) that keep
//! otelcol's own message for a value that is none of the enum's: the value is kept as written,
//! and the config's [`Validate`](ferrotel_config::Validate) impl reports it, with every other
//! problem of the config, instead of decoding stopping at the first one.
//!
//! ```
//! use ferrotel_config::choice::{Choice, Choices};
//!
//! #[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum Mode { HashSeed, Proportional }
//! impl Choices for Mode {}
//!
//! let m: Choice<Mode> = serde_yaml_ng::from_str("proportional").unwrap();
//! assert_eq!(m, Choice::Known(Mode::Proportional));
//! let m: Choice<Mode> = serde_yaml_ng::from_str("random").unwrap();
//! assert_eq!(m, Choice::Unknown("random".into()));
//! assert_eq!(serde_yaml_ng::to_string(&m).unwrap().trim(), "random");
//! ```

use serde::de::{value, DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The values of a [`Choice`]: a serde enum whose variant names are otelcol's spellings
/// (`rename_all`, `rename`, `alias`).
pub trait Choices: Serialize + DeserializeOwned + Copy {
    /// otelcol lower-cases the value before it matches it (`action: INSERT`).
    const IGNORE_CASE: bool = false;
}

/// One of `E`'s values, or a value that is none of them, kept as written for the config's
/// validation to report. Absent, it is what otelcol's zero value (`""`) is: `E`'s value spelled
/// `""` if it has one, otherwise unknown (a missing required setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice<E> {
    Known(E),
    Unknown(String),
}

impl<E: Choices> Choice<E> {
    /// The value `spelling` stands for.
    pub fn parse(spelling: &str) -> Self {
        let folded;
        let matched = if E::IGNORE_CASE {
            folded = spelling.to_lowercase();
            folded.as_str()
        } else {
            spelling
        };
        let de: value::StrDeserializer<'_, value::Error> = matched.into_deserializer();
        match E::deserialize(de) {
            Ok(e) => Choice::Known(e),
            Err(_) => Choice::Unknown(spelling.to_string()),
        }
    }

    /// The value, when it is one of `E`'s.
    pub fn known(&self) -> Option<E> {
        match self {
            Choice::Known(e) => Some(*e),
            Choice::Unknown(_) => None,
        }
    }

    /// The spelling of a value that is none of `E`'s.
    pub fn unknown(&self) -> Option<&str> {
        match self {
            Choice::Known(_) => None,
            Choice::Unknown(s) => Some(s),
        }
    }
}

impl<E: Choices> Default for Choice<E> {
    fn default() -> Self {
        Choice::parse("")
    }
}

impl<E> From<E> for Choice<E> {
    fn from(e: E) -> Self {
        Choice::Known(e)
    }
}

impl<E: Serialize> Serialize for Choice<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Choice::Known(e) => e.serialize(s),
            Choice::Unknown(spelling) => s.serialize_str(spelling),
        }
    }
}

impl<'de, E: Choices> Deserialize<'de> for Choice<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Choice::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Action {
        Insert,
        #[serde(rename = "")]
        Unset,
    }
    impl Choices for Action {
        const IGNORE_CASE: bool = true;
    }

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Strict {
        Exact,
    }
    impl Choices for Strict {}

    #[test]
    fn spellings_case_and_the_zero_value() {
        assert_eq!(
            Choice::<Action>::parse("INSERT"),
            Choice::Known(Action::Insert)
        );
        assert_eq!(Choice::<Action>::default(), Choice::Known(Action::Unset));
        assert_eq!(
            Choice::<Strict>::parse("Exact"),
            Choice::Unknown("Exact".into())
        );
        assert_eq!(Choice::<Strict>::default(), Choice::Unknown(String::new()));
        let yaml = serde_yaml_ng::to_string(&Choice::Known(Action::Insert)).unwrap();
        assert_eq!(yaml.trim(), "insert");
        assert!(serde_yaml_ng::from_str::<Choice<Strict>>("[1]").is_err());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod more_tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Compression {
        #[serde(alias = "")]
        None,
        Gzip,
    }
    impl Choices for Compression {}

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Verbosity {
        Basic,
    }
    impl Choices for Verbosity {
        const IGNORE_CASE: bool = true;
    }

    #[test]
    fn spellings_case_and_the_zero_value() {
        assert_eq!(
            Choice::<Verbosity>::parse("BASIC"),
            Choice::Known(Verbosity::Basic)
        );
        assert_eq!(
            Choice::<Compression>::parse("GZIP"),
            Choice::Unknown("GZIP".into())
        );
        assert_eq!(
            Choice::<Compression>::default(),
            Choice::Known(Compression::None)
        );
        assert_eq!(
            Choice::<Verbosity>::default(),
            Choice::Unknown(String::new())
        );
        let yaml = serde_yaml_ng::to_string(&Choice::Known(Compression::None)).unwrap();
        assert_eq!(yaml.trim(), "none");
        assert!(serde_yaml_ng::from_str::<Choice<Compression>>("[1]").is_err());
    }
}
