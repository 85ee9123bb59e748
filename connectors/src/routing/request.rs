//! The `request` context: otelcol's deliberately tiny grammar, exactly
//! `request["<name>"] == "<value>"` or `request["<name>"] != "<value>"`, matched against the
//! request's metadata (gRPC metadata or HTTP headers, names case-insensitive). A request without
//! the name matches neither comparison; with several values, any value that compares true
//! matches.

use ferrotel_core::RequestMeta;

/// A parsed `request[...]` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCondition {
    name: String,
    value: String,
    equal: bool,
}

/// The comparators of `text` (`==` or `!=`), left to right, without overlaps.
fn comparators(text: &str) -> Vec<&'static str> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'=', b'=') => found.push("=="),
            (b'!', b'=') => found.push("!="),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    found
}

/// Whether `text` holds `open`, then later `close` (otelcol's unanchored `request\[".*"\]` and
/// `".*"`).
fn contains_pair(text: &str, open: &str, close: &str) -> bool {
    text.find(open)
        .is_some_and(|at| text[at + open.len()..].contains(close))
}

impl RequestCondition {
    /// Parses `condition`, with otelcol's messages for what it refuses.
    pub fn parse(condition: &str) -> Result<Self, String> {
        if condition.is_empty() {
            return Err("condition is empty".into());
        }
        let comparator = match comparators(condition).as_slice() {
            [] => return Err("condition does not contain a valid comparator".into()),
            [one] => *one,
            _ => return Err("condition contains multiple comparators".into()),
        };
        let Some((left, right)) = condition.split_once(comparator) else {
            return Err("condition does not contain a valid comparator".into());
        };
        let (left, right) = (left.trim(), right.trim());
        if !contains_pair(left, "request[\"", "\"]") {
            return Err(
                r#"condition must have format 'request["<name>"] <comparator> <value>'"#.into(),
            );
        }
        if !contains_pair(right, "\"", "\"") {
            return Err(
                r#"condition must have format 'request["<name>"] <comparator> "<value>"'"#.into(),
            );
        }
        let name = left.strip_prefix("request[\"").unwrap_or(left);
        let value = right.strip_prefix('"').unwrap_or(right);
        Ok(RequestCondition {
            name: name.strip_suffix("\"]").unwrap_or(name).to_string(),
            value: value.strip_suffix('"').unwrap_or(value).to_string(),
            equal: comparator == "==",
        })
    }

    /// Whether some value of the request's metadata entry compares true.
    pub fn matches(&self, meta: &RequestMeta) -> bool {
        meta.header_values(&self.name)
            .any(|v| (v == self.value) == self.equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(headers: &[(&str, &str)]) -> RequestMeta {
        RequestMeta {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn equal_and_not_equal_match_any_value_of_the_entry_whatever_its_case() {
        let eq = RequestCondition::parse(r#"request["X-Tenant"] == "acme""#).unwrap();
        let ne = RequestCondition::parse(r#"request["X-Tenant"] != "acme""#).unwrap();
        let acme = meta(&[("x-tenant", "acme")]);
        let both = meta(&[("x-tenant", "ecorp"), ("x-tenant", "acme")]);
        let none = meta(&[("other", "acme")]);
        assert!(eq.matches(&acme) && !ne.matches(&acme));
        assert!(eq.matches(&both) && ne.matches(&both));
        assert!(
            !eq.matches(&none) && !ne.matches(&none),
            "no entry: no match"
        );
    }

    #[test]
    fn refuses_what_otelcol_refuses_with_its_messages() {
        for (text, want) in [
            ("", "condition is empty"),
            (
                r#"request["a"] = "b""#,
                "condition does not contain a valid comparator",
            ),
            (
                r#"request["a"] == "b" and request["c"] != "d""#,
                "condition contains multiple comparators",
            ),
            (
                r#"attributes["a"] == "b""#,
                r#"condition must have format 'request["<name>"] <comparator> <value>'"#,
            ),
            (
                r#"request["a"] == b"#,
                r#"condition must have format 'request["<name>"] <comparator> "<value>"'"#,
            ),
        ] {
            assert_eq!(RequestCondition::parse(text).unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn the_name_and_value_lose_their_quotes_only() {
        let c = RequestCondition::parse(r#"  request["x-b3"]=="a b"  "#).unwrap();
        assert_eq!(
            c,
            RequestCondition {
                name: "x-b3".into(),
                value: "a b".into(),
                equal: true
            }
        );
    }
}
