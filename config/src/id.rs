use once_cell::sync::Lazy;
use regex::Regex;
use std::fmt;

/// The telemetry signals a pipeline can carry. `Profiles` is in development, behind the
/// `service.profilesSupport` feature gate, and passed through as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
    Profiles,
}

impl Signal {
    /// The generally available signals: traces, metrics and logs (not `Profiles`, which a
    /// component supports explicitly).
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Profiles => "profiles",
        }
    }

    pub fn parse(s: &str) -> Option<Signal> {
        match s {
            "traces" => Some(Signal::Traces),
            "metrics" => Some(Signal::Metrics),
            "logs" => Some(Signal::Logs),
            "profiles" => Some(Signal::Profiles),
            _ => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of component a config can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Extension,
    Connector,
}

impl Kind {
    /// The config section name (`receivers`, ...).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Extension => "extensions",
            Kind::Connector => "connectors",
        }
    }
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Extension => "extension",
            Kind::Connector => "connector",
        }
    }
}

static TYPE_RE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^[a-zA-Z][0-9a-zA-Z_]{0,62}$").expect("static regex"));
static NAME_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[^\pZ\pC\pS]+$").expect("static regex"));

/// A component id, `type[/name]`, e.g. `otlp`, `batch/traces`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    pub type_name: String,
    pub name: Option<String>,
}

impl ComponentId {
    pub fn new(type_name: &str) -> Self {
        ComponentId {
            type_name: type_name.to_string(),
            name: None,
        }
    }

    /// Parses and validates an id with otelcol's rules.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (t, n) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        if t.is_empty() {
            return Err(format!("id {s:?} has an empty type"));
        }
        if !TYPE_RE.is_match(t) {
            return Err(format!("invalid character(s) in type {t:?}"));
        }
        if let Some(n) = n {
            if n.is_empty() {
                return Err(format!("id {s:?} has an empty name after '/'"));
            }
            if !NAME_RE.is_match(n) {
                return Err(format!("invalid character(s) in name {n:?}"));
            }
        }
        Ok(ComponentId {
            type_name: t.to_string(),
            name: n.map(str::to_string),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.type_name, n),
            None => f.write_str(&self.type_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_otelcol_rules() {
        let id = ComponentId::parse("batch/traces").unwrap();
        assert_eq!(id.type_name, "batch");
        assert_eq!(id.name.as_deref(), Some("traces"));
        assert_eq!(id.to_string(), "batch/traces");
        assert!(ComponentId::parse("/x").is_err());
        assert!(ComponentId::parse("1abc").is_err());
        assert!(ComponentId::parse("otlp/").is_err());
        assert!(ComponentId::parse("otlp/a b").is_err());
        assert!(ComponentId::parse("otlp/in-1.a").is_ok());
    }
}
