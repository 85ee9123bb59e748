//! `tls` settings, as otelcol's configtls (keys only; see each component for what it supports).
//!
//! ```yaml
//! tls:
//!   cert_file: /certs/server.crt
//!   key_file: /certs/server.key
//!   client_ca_file: /certs/ca.crt   # server side: require client certificates (mTLS)
//!   min_version: "1.2"
//! ```

use crate::{Validate, Validator};
use serde::{Deserialize, Serialize};

/// TLS for a server (receivers, health_check).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerConfig {
    /// PEM certificate chain.
    pub cert_file: Option<String>,
    /// PEM private key.
    pub key_file: Option<String>,
    /// CA for verifying peers (otelcol accepts it on servers too).
    pub ca_file: Option<String>,
    /// CA that client certificates must chain to; setting it requires client certificates.
    pub client_ca_file: Option<String>,
    /// Lowest TLS version accepted: "1.2" or "1.3".
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    /// Re-read certificates at this interval (accepted, not yet used).
    pub reload_interval: Option<String>,
    pub cipher_suites: Option<Vec<String>>,
    pub include_system_ca_certs_pool: Option<bool>,
}

impl TlsServerConfig {
    /// True when a certificate is configured, i.e. the server speaks TLS.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// TLS for a client (exporters). Unlike servers, otelcol clients use TLS unless `insecure`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsClientConfig {
    /// Plain text (no TLS). For gRPC exporters, otelcol's default is TLS.
    pub insecure: bool,
    /// Do not verify the server certificate.
    pub insecure_skip_verify: bool,
    pub ca_file: Option<String>,
    /// Client certificate for mTLS.
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name_override: Option<String>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    pub reload_interval: Option<String>,
    pub cipher_suites: Option<Vec<String>>,
    pub include_system_ca_certs_pool: Option<bool>,
}

/// otelcol's `configtls` checks, which read no file: a certificate needs its key and the
/// other way round, versions are known ones, and the minimum is not above the maximum.
fn validate_common(
    cert: &Option<String>,
    key: &Option<String>,
    min: &Option<String>,
    max: &Option<String>,
    v: &mut Validator<'_>,
) {
    let set = |f: &Option<String>| f.as_deref().is_some_and(|s| !s.is_empty());
    if set(cert) != set(key) {
        v.report(
            "TLS configuration must include both certificate and key (CertFile/CertPem and KeyFile/KeyPem)",
        );
    }
    let version = |which: &str, value: &Option<String>, v: &mut Validator<'_>| match value
        .as_deref()
        .unwrap_or("")
    {
        "" => Some(None),
        "1.0" => Some(Some(0)),
        "1.1" => Some(Some(1)),
        "1.2" => Some(Some(2)),
        "1.3" => Some(Some(3)),
        other => {
            v.report(format!(
                "invalid TLS {which}: unsupported TLS version: {other:?}"
            ));
            None
        }
    };
    let min = version("min_version", min, v);
    let max = version("max_version", max, v);
    if let (Some(min), Some(Some(max))) = (min, max) {
        if min.unwrap_or(2) > max {
            v.report("invalid TLS configuration: min_version cannot be greater than max_version");
        }
    }
}

impl Validate for TlsServerConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        let (min, max) = (&self.min_version, &self.max_version);
        validate_common(&self.cert_file, &self.key_file, min, max, v);
    }
}

impl Validate for TlsClientConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        let (min, max) = (&self.min_version, &self.max_version);
        validate_common(&self.cert_file, &self.key_file, min, max, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Findings;

    fn messages(tls: &TlsClientConfig) -> Vec<String> {
        let f = Findings::of("tls", tls);
        f.errors.into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn checks_without_reading_files() {
        let ok = TlsClientConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        assert!(messages(&ok).is_empty());
        let half = TlsClientConfig {
            cert_file: Some("c.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            messages(&half),
            ["TLS configuration must include both certificate and key (CertFile/CertPem and KeyFile/KeyPem)"]
        );
        let bad = TlsClientConfig {
            min_version: Some("asd".into()),
            ..Default::default()
        };
        assert_eq!(
            messages(&bad),
            ["invalid TLS min_version: unsupported TLS version: \"asd\""]
        );
        let inverted = TlsClientConfig {
            min_version: Some("1.3".into()),
            max_version: Some("1.2".into()),
            ..Default::default()
        };
        assert_eq!(
            messages(&inverted),
            ["invalid TLS configuration: min_version cannot be greater than max_version"]
        );
    }
}
