//! otelcol's `filterset`: a list of names matched exactly (`strict`) or as regular
//! expressions (`regexp`, unanchored as Go's `MatchString`).

use regex::Regex;

/// `match_type`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchType {
    Strict,
    Regexp,
}

impl MatchType {
    /// otelcol's names and error text.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "strict" => Ok(MatchType::Strict),
            "regexp" => Ok(MatchType::Regexp),
            other => Err(format!(
                "unrecognized match_type: '{other}', valid types are: [regexp strict]"
            )),
        }
    }
}

/// A compiled list.
#[derive(Debug, Clone)]
pub enum Filter {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl Filter {
    pub fn new(kind: MatchType, items: &[String]) -> Result<Self, String> {
        match kind {
            MatchType::Strict => Ok(Filter::Strict(items.to_vec())),
            MatchType::Regexp => items
                .iter()
                .map(|i| Regex::new(i).map_err(|e| format!("error parsing regexp: {e}")))
                .collect::<Result<_, _>>()
                .map(Filter::Regexp),
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            Filter::Strict(items) => items.iter().any(|i| i == s),
            Filter::Regexp(res) => res.iter().any(|r| r.is_match(s)),
        }
    }
}

/// An include list and an exclude list, either possibly absent.
#[derive(Debug, Clone, Default)]
pub struct IncludeExclude {
    pub include: Option<Filter>,
    pub exclude: Option<Filter>,
}

impl IncludeExclude {
    /// Kept: in the include list (when there is one) and not in the exclude list.
    pub fn keeps(&self, s: &str) -> bool {
        self.include.as_ref().is_none_or(|f| f.matches(s))
            && !self.exclude.as_ref().is_some_and(|f| f.matches(s))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_regexp() {
        let names = vec!["sda".to_string(), "nvme.*".to_string()];
        let strict = Filter::new(MatchType::Strict, &names).unwrap_or_else(|e| panic!("{e}"));
        assert!(strict.matches("sda") && !strict.matches("sda1") && !strict.matches("nvme0n1"));
        let re = Filter::new(MatchType::Regexp, &names).unwrap_or_else(|e| panic!("{e}"));
        assert!(re.matches("sda1") && re.matches("nvme0n1") && !re.matches("vdb"));
        let ie = IncludeExclude {
            include: Some(re),
            exclude: Some(strict),
        };
        assert!(ie.keeps("nvme0n1") && !ie.keeps("sda") && !ie.keeps("loop0"));
        assert_eq!(
            MatchType::parse("").unwrap_err(),
            "unrecognized match_type: '', valid types are: [regexp strict]"
        );
    }
}
