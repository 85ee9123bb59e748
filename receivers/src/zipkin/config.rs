//! The `zipkin` receiver's configuration: otelcol's `confighttp.ServerConfig` keys (squashed
//! into the receiver's section, as otelcol does) plus `parse_string_tags`.
//!
//! ```yaml
//! receivers:
//!   zipkin:
//!     endpoint: 0.0.0.0:9411
//!     parse_string_tags: true
//!     max_request_body_size: 10485760
//! ```

use crate::otlp::config::{
    CompressionAlgorithm, CorsConfig, HttpAuthConfig, HttpConfig, HttpKeepalive, MiddlewareConfig,
    ResponseHeaders, Transport, DEFAULT_MAX_REQUEST_BODY_SIZE,
};
use ferrotel_config::{GoDuration, TlsServerConfig, Validate, Validator};
use serde::{Deserialize, Serialize};

/// The `zipkin` receiver.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZipkinConfig {
    /// Listen address, `host:port`.
    pub endpoint: String,
    /// `tcp` (`unix` is accepted by `validate` but refused at start).
    pub transport: Transport,
    /// Turn tag values that look like integers, decimals or `true`/`false` into typed
    /// attributes (`"123"` -> int, `"1.5"` -> double, `"true"` -> bool); off: every tag is a
    /// string attribute.
    pub parse_string_tags: bool,
    /// Largest accepted body in bytes, both as received and decompressed (<= 0: 20 MiB).
    pub max_request_body_size: i64,
    /// Accepted `Content-Encoding` values (`""` is no encoding). Unset: all supported ones.
    pub compression_algorithms: Option<Vec<CompressionAlgorithm>>,
    /// Copy request headers into each batch, for processors that read them.
    pub include_metadata: bool,
    /// Cross-origin resource sharing for browsers.
    pub cors: Option<CorsConfig>,
    /// Headers added to every response.
    pub response_headers: ResponseHeaders,
    /// Time allowed to read a whole request, body included (0: no limit).
    pub read_timeout: GoDuration,
    /// Time allowed to read the headers of an HTTP/1.1 request (0: 60 s).
    pub read_header_timeout: GoDuration,
    /// Time allowed to write a response (accepted, not enforced yet).
    pub write_timeout: GoDuration,
    /// Time an idle keep-alive connection stays open (accepted, not enforced yet).
    pub idle_timeout: GoDuration,
    /// HTTP/1.1 keep-alive.
    pub keep_alives_enabled: bool,
    /// Newer form of `keep_alives_enabled` / `idle_timeout`.
    pub keepalive: Option<HttpKeepalive>,
    /// TLS (HTTP/1.1 and HTTP/2 by ALPN); `client_ca_file` requires client certificates (mTLS).
    pub tls: Option<TlsServerConfig>,
    /// Authentication by an authenticator extension; failures get 401 before the body is read.
    pub auth: Option<HttpAuthConfig>,
    /// Middleware extensions (not supported yet: a non-empty list is a start error).
    pub middlewares: Vec<MiddlewareConfig>,
}

impl Default for ZipkinConfig {
    fn default() -> Self {
        ZipkinConfig {
            endpoint: "localhost:9411".into(),
            transport: Transport::Tcp,
            parse_string_tags: false,
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE as i64,
            compression_algorithms: None,
            include_metadata: false,
            cors: None,
            response_headers: ResponseHeaders::default(),
            read_timeout: GoDuration::default(),
            read_header_timeout: GoDuration::default(),
            write_timeout: GoDuration::default(),
            idle_timeout: GoDuration::default(),
            keep_alives_enabled: true,
            keepalive: None,
            tls: None,
            auth: None,
            middlewares: vec![],
        }
    }
}

impl ZipkinConfig {
    /// The HTTP server settings, as the OTLP receiver's HTTP server takes them (its URL paths
    /// are not used).
    pub(crate) fn http(&self) -> HttpConfig {
        HttpConfig {
            endpoint: self.endpoint.clone(),
            transport: self.transport,
            max_request_body_size: self.max_request_body_size,
            compression_algorithms: self.compression_algorithms.clone(),
            include_metadata: self.include_metadata,
            cors: self.cors.clone(),
            response_headers: self.response_headers.clone(),
            read_timeout: self.read_timeout,
            read_header_timeout: self.read_header_timeout,
            write_timeout: self.write_timeout,
            idle_timeout: self.idle_timeout,
            keep_alives_enabled: self.keep_alives_enabled,
            keepalive: self.keepalive.clone(),
            tls: self.tls.clone(),
            auth: self.auth.clone(),
            middlewares: self.middlewares.clone(),
            ..HttpConfig::default()
        }
    }
}

impl Validate for ZipkinConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        v.check("tls", &self.tls);
        v.check("auth", &self.auth);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::{decode_valid, ConfigErrors, Value};

    fn load(name: &str) -> Result<ZipkinConfig, ConfigErrors> {
        let path = format!("{}/testdata/zipkin/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let v: Value = serde_yaml_ng::from_str(&text).unwrap();
        decode_valid::<ZipkinConfig>("receivers.zipkin", &v).map(|(c, _)| c)
    }

    #[test]
    fn defaults_are_otelcols() {
        let c = ZipkinConfig::default();
        assert_eq!(c.endpoint, "localhost:9411");
        assert!(!c.parse_string_tags);
        assert_eq!(c.http().max_body(), 20 << 20);
    }

    #[test]
    fn valid_config_reads_every_key() {
        let c = load("valid.yaml").unwrap();
        assert_eq!(c.endpoint, "0.0.0.0:19411");
        assert!(c.parse_string_tags);
        assert_eq!(c.http().max_body(), 1000);
        assert_eq!(
            c.cors.unwrap().allowed_origins,
            ["https://*.example.com".to_string()]
        );
        assert_eq!(c.compression_algorithms.unwrap().len(), 2);
        assert_eq!(c.read_timeout, GoDuration::from_secs(5));
    }

    #[test]
    fn unknown_key_and_bad_value_fail_with_their_path() {
        let e = load("typo.yaml").unwrap_err().to_string();
        assert!(e.contains("parse_string_tag"), "{e}");
        let e = load("invalid.yaml").unwrap_err().to_string();
        assert!(e.contains("parse_string_tags"), "{e}");
    }
}
