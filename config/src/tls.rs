//! `tls` settings, as otelcol's configtls (keys only; see each component for what it supports).
//!
//! ```yaml
//! tls:
//!   cert_file: /certs/server.crt
//!   key_file: /certs/server.key
//!   client_ca_file: /certs/ca.crt   # server side: require client certificates (mTLS)
//!   min_version: "1.2"
//! ```

use crate::Validate;
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

impl Validate for TlsServerConfig {}
impl Validate for TlsClientConfig {}
