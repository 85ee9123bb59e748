//! UserAgent(userAgent): a user-agent string parsed with ua-parser's user-agent and OS rules
//! (uap-core's `regexes.yaml`, kept in `ottl/data/uap-regexes.yaml`), as otelcol's converter
//! does with uap-go: `user_agent.name` (the family, `Other` when no rule matches),
//! `user_agent.version` (major.minor.patch, as far as known), `user_agent.original`, and
//! `os.name` / `os.version` when not empty.
//!
//! The rules are ordered and the first that matches wins. They are read and compiled once, the
//! first time a statement using UserAgent is compiled; one `RegexSet` per rule list finds the
//! first matching rule in one pass over the string.

use super::{any_str, kv};
use crate::error::EvalError;
use crate::funcs::string_arg;
use crate::value::Value;
use regex::{Captures, Regex, RegexSet, RegexSetBuilder};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::OnceLock;

const RULES: &str = include_str!("../../data/uap-regexes.yaml");
/// The compiled size allowed to one rule list (the rules compile to a few MB).
const SET_SIZE_LIMIT: usize = 64 << 20;

/// One rule: its pattern and the replacements for its captures (`$1` .. `$9` substituted).
#[derive(Debug, Deserialize)]
struct Rule {
    regex: String,
    #[serde(alias = "os_replacement")]
    family_replacement: Option<String>,
    #[serde(alias = "os_v1_replacement")]
    v1_replacement: Option<String>,
    #[serde(alias = "os_v2_replacement")]
    v2_replacement: Option<String>,
    #[serde(alias = "os_v3_replacement")]
    v3_replacement: Option<String>,
    #[serde(alias = "os_v4_replacement")]
    v4_replacement: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RuleFile {
    user_agent_parsers: Vec<Rule>,
    os_parsers: Vec<Rule>,
}

/// An ordered rule list, compiled.
struct Rules {
    rules: Vec<Rule>,
    regexes: Vec<Regex>,
    set: RegexSet,
}

impl Rules {
    fn new(rules: Vec<Rule>) -> Result<Rules, String> {
        let patterns: Vec<&str> = rules.iter().map(|r| r.regex.as_str()).collect();
        let set = RegexSetBuilder::new(&patterns)
            .size_limit(SET_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("user-agent rules: {e}"))?;
        let regexes = patterns
            .iter()
            .map(|p| Regex::new(p).map_err(|e| format!("user-agent rule {p:?}: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Rules {
            rules,
            regexes,
            set,
        })
    }

    /// The family and up to four version parts of the first rule matching `s`.
    fn parse(&self, s: &str) -> Parsed {
        let Some(i) = self.set.matches(s).iter().next() else {
            return Parsed::other();
        };
        let Some(caps) = self.regexes[i].captures(s) else {
            return Parsed::other();
        };
        let r = &self.rules[i];
        let family =
            part(&caps, r.family_replacement.as_deref(), 1).unwrap_or_else(|| "Other".to_string());
        Parsed {
            family,
            version: [
                part(&caps, r.v1_replacement.as_deref(), 2),
                part(&caps, r.v2_replacement.as_deref(), 3),
                part(&caps, r.v3_replacement.as_deref(), 4),
                part(&caps, r.v4_replacement.as_deref(), 5),
            ],
        }
    }
}

/// A replacement with `$n` substituted, or else capture `group`; empty reads as absent.
fn part(caps: &Captures<'_>, replacement: Option<&str>, group: usize) -> Option<String> {
    let text = match replacement {
        Some(r) => substitute(r, caps),
        None => caps.get(group)?.as_str().to_string(),
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `$1` .. `$9` replaced by their captures (an absent one by nothing).
fn substitute(template: &str, caps: &Captures<'_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('$', Some(n)) => {
                chars.next();
                out.push_str(caps.get(n as usize).map_or("", |m| m.as_str()));
            }
            _ => out.push(c),
        }
    }
    out
}

struct Parsed {
    family: String,
    version: [Option<String>; 4],
}

impl Parsed {
    fn other() -> Parsed {
        Parsed {
            family: "Other".to_string(),
            version: [None, None, None, None],
        }
    }

    /// The version parts joined by `.` up to the first absent one, at most `parts` of them.
    fn version(&self, parts: usize) -> String {
        let known: Vec<&str> = self.version[..parts]
            .iter()
            .map_while(|p| p.as_deref())
            .collect();
        known.join(".")
    }
}

struct Parser {
    agents: Rules,
    systems: Rules,
}

fn parser() -> Result<&'static Parser, String> {
    static PARSER: OnceLock<Result<Parser, String>> = OnceLock::new();
    PARSER
        .get_or_init(|| {
            let file: RuleFile =
                serde_yaml_ng::from_str(RULES).map_err(|e| format!("user-agent rules: {e}"))?;
            Ok(Parser {
                agents: Rules::new(file.user_agent_parsers)?,
                systems: Rules::new(file.os_parsers)?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Compiles the rules (once per process), so a statement using UserAgent fails to load rather
/// than to run if they could not be.
pub fn prepare() -> Result<(), String> {
    parser().map(|_| ())
}

/// `UserAgent(userAgent)`.
pub fn user_agent(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    let p = parser().map_err(EvalError::new)?;
    let agent = p.agents.parse(&s);
    let os = p.systems.parse(&s);
    let mut m = vec![
        kv("user_agent.name", any_str(agent.family.clone())),
        kv("user_agent.original", any_str(&*s)),
        kv("user_agent.version", any_str(agent.version(3))),
    ];
    m.push(kv("os.name", any_str(os.family.clone())));
    let os_version = os.version(4);
    if !os_version.is_empty() {
        m.push(kv("os.version", any_str(os_version)));
    }
    Ok(Value::Map(Cow::Owned(m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::proto::common::v1::any_value;

    fn parsed(ua: &str) -> Vec<(String, String)> {
        let Ok(Value::Map(m)) = user_agent(Value::Str(Cow::Borrowed(ua))) else {
            panic!("not a map");
        };
        let mut out: Vec<(String, String)> = m
            .iter()
            .map(
                |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(v)) => (kv.key.clone(), v.clone()),
                    other => panic!("{}: {other:?}", kv.key),
                },
            )
            .collect();
        out.sort();
        out
    }

    fn expect(ua: &str, name: &str, version: &str, os: &str, os_version: Option<&str>) {
        let mut want = vec![
            ("os.name".to_string(), os.to_string()),
            ("user_agent.name".to_string(), name.to_string()),
            ("user_agent.original".to_string(), ua.to_string()),
            ("user_agent.version".to_string(), version.to_string()),
        ];
        if let Some(v) = os_version {
            want.push(("os.version".to_string(), v.to_string()));
        }
        want.sort();
        assert_eq!(parsed(ua), want, "{ua}");
    }

    /// The cases of otelcol's documentation and tests for UserAgent.
    #[test]
    fn otelcol_cases() {
        expect(
            "Mozilla/5.0 (Linux; Android 4.1.1; SPH-L710 Build/JRO03L) AppleWebKit/535.19 (KHTML, like Gecko) Chrome/18.0.1025.166 Mobile Safari/535.19",
            "Chrome Mobile",
            "18.0.1025",
            "Android",
            Some("4.1.1"),
        );
        expect(
            "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
            "Firefox",
            "126.0",
            "Linux",
            None,
        );
        expect(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 13_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Mobile/15E148 Safari/604.1",
            "Mobile Safari",
            "13.1.1",
            "iOS",
            Some("13.5.1"),
        );
        expect(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36 Edg/91.0.864.59",
            "Edge",
            "91.0.864",
            "Windows",
            Some("10"),
        );
        expect(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.106 Safari/537.36 OPR/38.0.2220.41",
            "Opera",
            "38.0.2220",
            "Linux",
            None,
        );
        expect("curl/7.81.0", "curl", "7.81.0", "Other", None);
        expect("foobar/1.2.3 (foo; bar baz)", "Other", "", "Other", None);
        expect(
            "OpenTelemetry Collector Contrib/0.106.1 (linux/amd64)",
            "Other",
            "",
            "Linux",
            None,
        );
        expect(
            "ViaFree-DK/3.8.3 (com.MTGx.ViaFree.dk; build:7383; iOS 12.1.0) Alamofire/4.7.0",
            "ViaFree",
            "3.8.3",
            "iOS",
            Some("12.1.0"),
        );
        expect(
            "ibm-cos-sdk-java/2.3.0 Linux/4.9.0-8-amd64 Java_HotSpot(TM)_64-Bit_Server_VM/9.0.4+11/9.0.4'",
            "ibm-cos-sdk-java",
            "2.3.0",
            "Linux",
            Some("4.9.0"),
        );
    }

    #[test]
    fn not_a_string_is_an_error() {
        assert!(user_agent(Value::Int(1)).is_err());
        assert!(user_agent(Value::Nil).is_err());
    }
}
