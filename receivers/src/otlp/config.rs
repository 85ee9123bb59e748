//! The `otlp` receiver's configuration: otelcol's `configgrpc.ServerConfig` and
//! `confighttp.ServerConfig` keys with the OTLP receiver's defaults.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc:
//!         endpoint: 0.0.0.0:4317
//!         max_recv_msg_size_mib: 16
//!       http:
//!         endpoint: 0.0.0.0:4318
//!         cors: { allowed_origins: ["https://*.example.com"] }
//!         tls: { cert_file: /certs/server.crt, key_file: /certs/server.key }
//!         auth: { authenticator: bearertokenauth }
//! ```

use super::limits::LimitsConfig;
use ferrotel_config::{Capability, GoDuration, TlsServerConfig, Validate, Validator};
use ferrotel_transport::tls::{self, rustls::ServerConfig};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Default `max_request_body_size`: 20 MiB.
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: u64 = 20 * 1024 * 1024;
/// grpc-go's default receive limit, used when `max_recv_msg_size_mib` is 0.
pub const DEFAULT_MAX_RECV_MSG_SIZE_MIB: u64 = 4;

/// The `otlp` receiver.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// The protocols to serve; at least one is required.
    pub protocols: Protocols,
    /// Hostile-input limits of both protocols (ferrotel only, see [`super::limits`]).
    pub limits: LimitsConfig,
}

/// `protocols`. A key present with no value (`grpc:`) enables it with its defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// OTLP over gRPC (`/opentelemetry.proto.collector.*.v1.*Service/Export`).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub grpc: Option<GrpcConfig>,
    /// OTLP over HTTP (protobuf and JSON), `POST /v1/{traces,metrics,logs}`.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub http: Option<HttpConfig>,
}

/// A present key is `Some` even when its value is null (otelcol's `configoptional`). An absent
/// protocol is not serialised at all, so that it stays absent when read back.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// `auth` of a gRPC server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The id of an authenticator extension.
    pub authenticator: String,
}

/// `auth` of an HTTP server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpAuthConfig {
    /// The id of an authenticator extension.
    pub authenticator: String,
    /// Query parameters passed to the authenticator as if they were headers.
    pub request_params: Vec<String>,
}

/// One entry of `middlewares`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MiddlewareConfig {
    /// The id of a middleware extension.
    pub id: String,
}

/// `protocols.grpc` (otelcol's `configgrpc.ServerConfig`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    /// Listen address, `host:port`.
    pub endpoint: String,
    /// `tcp` (`unix` is accepted by otelcol but not supported here yet).
    pub transport: Transport,
    /// Largest accepted message in MiB, before and after decompression (0: 4 MiB).
    pub max_recv_msg_size_mib: u64,
    /// Concurrent HTTP/2 streams per connection (0: 200; grpc-go has no limit, ferrotel keeps
    /// hyper's bound so that one connection cannot hold unbounded requests).
    pub max_concurrent_streams: u32,
    /// Read buffer size per connection, in bytes (accepted, no effect yet).
    pub read_buffer_size: u64,
    /// Largest send buffer per HTTP/2 stream, in bytes (0: the default).
    pub write_buffer_size: u64,
    /// Keepalive parameters and enforcement policy.
    pub keepalive: Option<GrpcKeepalive>,
    /// Copy request metadata (headers) into each batch, for processors that read it.
    pub include_metadata: bool,
    /// TLS (HTTP/2 with ALPN `h2`); `client_ca_file` requires client certificates (mTLS).
    pub tls: Option<TlsServerConfig>,
    /// Authentication by an authenticator extension; failures get UNAUTHENTICATED.
    pub auth: Option<AuthConfig>,
    /// Middleware extensions (not supported yet: a non-empty list is a start error).
    pub middlewares: Vec<MiddlewareConfig>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: "localhost:4317".into(),
            transport: Transport::Tcp,
            max_recv_msg_size_mib: 0,
            max_concurrent_streams: 0,
            read_buffer_size: 512 * 1024,
            write_buffer_size: 0,
            keepalive: None,
            include_metadata: false,
            tls: None,
            auth: None,
            middlewares: vec![],
        }
    }
}

/// `transport` of a gRPC or HTTP server (otelcol's `confignet.TransportType`, the stream kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP over IPv4 or IPv6.
    Tcp,
    /// TCP over IPv4 only.
    Tcp4,
    /// TCP over IPv6 only.
    Tcp6,
    /// A Unix domain socket (accepted, not supported yet: a start error).
    Unix,
}

impl GrpcConfig {
    /// The receive limit in bytes.
    pub fn max_recv_msg_size(&self) -> usize {
        let mib = match self.max_recv_msg_size_mib {
            0 => DEFAULT_MAX_RECV_MSG_SIZE_MIB,
            n => n,
        };
        usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

/// `keepalive` of a gRPC server.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcKeepalive {
    /// Server-side keepalive parameters.
    pub server_parameters: Option<KeepaliveServerParameters>,
    /// What clients' keepalive pings must respect.
    pub enforcement_policy: Option<KeepaliveEnforcementPolicy>,
}

/// `keepalive.server_parameters`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveServerParameters {
    /// Close a connection idle this long (accepted, not enforced yet).
    pub max_connection_idle: GoDuration,
    /// Close a connection this old (accepted, not enforced yet).
    pub max_connection_age: GoDuration,
    /// Grace period after `max_connection_age` (accepted, not enforced yet).
    pub max_connection_age_grace: GoDuration,
    /// Ping an idle connection after this long (HTTP/2 keepalive interval).
    pub time: GoDuration,
    /// Close the connection when a ping is not answered within this long.
    pub timeout: GoDuration,
}

/// `keepalive.enforcement_policy` (accepted, not enforced yet).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveEnforcementPolicy {
    /// Minimum time between client pings.
    pub min_time: GoDuration,
    /// Allow pings when no stream is active.
    pub permit_without_stream: bool,
}

/// `protocols.http` (otelcol's `confighttp.ServerConfig` plus the URL paths).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address, `host:port`.
    pub endpoint: String,
    /// `tcp` (otelcol's confignet; `unix` is accepted by `validate` but refused at start, as
    /// ferrotel does not listen on Unix sockets yet).
    pub transport: Transport,
    /// Path for traces; a leading `/` is added if missing.
    pub traces_url_path: String,
    /// Path for metrics; a leading `/` is added if missing.
    pub metrics_url_path: String,
    /// Path for logs; a leading `/` is added if missing.
    pub logs_url_path: String,
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
    /// Time allowed to read the headers of an HTTP/1.1 request, which also closes a keep-alive
    /// connection idle that long (0: 60 s, confighttp's default; otelcol's OTLP receiver has no
    /// limit, ferrotel keeps one against slow-header clients).
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

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: "localhost:4318".into(),
            transport: Transport::Tcp,
            traces_url_path: "/v1/traces".into(),
            metrics_url_path: "/v1/metrics".into(),
            logs_url_path: "/v1/logs".into(),
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

/// One `Content-Encoding` value of `compression_algorithms`, spelled as otelcol's confighttp
/// spells it (case-sensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionAlgorithm {
    /// `""`: a body without `Content-Encoding`.
    #[serde(rename = "")]
    Identity,
    Gzip,
    Zstd,
    Zlib,
    Snappy,
    /// Read as zlib.
    Deflate,
    Lz4,
    /// Framed snappy.
    #[serde(rename = "x-snappy-framed")]
    XSnappyFramed,
}

impl CompressionAlgorithm {
    /// The `Content-Encoding` value (`""` for none).
    pub fn as_str(self) -> &'static str {
        match self {
            CompressionAlgorithm::Identity => "",
            CompressionAlgorithm::Gzip => "gzip",
            CompressionAlgorithm::Zstd => "zstd",
            CompressionAlgorithm::Zlib => "zlib",
            CompressionAlgorithm::Snappy => "snappy",
            CompressionAlgorithm::Deflate => "deflate",
            CompressionAlgorithm::Lz4 => "lz4",
            CompressionAlgorithm::XSnappyFramed => "x-snappy-framed",
        }
    }
}

/// The `Content-Encoding` values accepted when `compression_algorithms` is unset
/// (otelcol with its `confighttp.framedSnappy` gate, beta and on by default).
pub const DEFAULT_COMPRESSION_ALGORITHMS: &[CompressionAlgorithm] = &[
    CompressionAlgorithm::Identity,
    CompressionAlgorithm::Gzip,
    CompressionAlgorithm::Zstd,
    CompressionAlgorithm::Zlib,
    CompressionAlgorithm::Snappy,
    CompressionAlgorithm::Deflate,
    CompressionAlgorithm::Lz4,
    CompressionAlgorithm::XSnappyFramed,
];

impl HttpConfig {
    /// The body limit in bytes.
    pub fn max_body(&self) -> usize {
        match u64::try_from(self.max_request_body_size) {
            Ok(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => DEFAULT_MAX_REQUEST_BODY_SIZE as usize,
        }
    }

    pub fn keep_alive(&self) -> bool {
        self.keepalive
            .as_ref()
            .and_then(|k| k.enabled)
            .unwrap_or(self.keep_alives_enabled)
    }
}

/// `keepalive` of an HTTP server.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpKeepalive {
    /// HTTP/1.1 keep-alive (default true).
    pub enabled: Option<bool>,
    /// Time an idle connection stays open (accepted, not enforced yet).
    pub idle_timeout: GoDuration,
}

/// `cors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins allowed to send requests; `*` wildcards match any characters
    /// (`https://*.example.com`). CORS is off while this is empty.
    pub allowed_origins: Vec<String>,
    /// Request headers allowed besides the CORS safelist (default: `X-Requested-With`); `*`
    /// allows any.
    pub allowed_headers: Vec<String>,
    /// Response headers exposed to the browser.
    pub exposed_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer (0: not sent).
    pub max_age: u64,
}

/// `response_headers`: a map, or a list of `{name, value}` (otelcol accepts both).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHeaders(pub Vec<(String, String)>);

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HeadersForm {
    Map(BTreeMap<String, String>),
    List(Vec<NameValue>),
}

impl<'de> Deserialize<'de> for ResponseHeaders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let form = Option::<HeadersForm>::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a map of header names to values"))?;
        Ok(ResponseHeaders(match form {
            None => vec![],
            Some(HeadersForm::Map(m)) => m.into_iter().collect(),
            Some(HeadersForm::List(l)) => l.into_iter().map(|h| (h.name, h.value)).collect(),
        }))
    }
}

/// A map when the names are distinct (the usual form, `{}` when empty), else the list form,
/// which keeps every entry.
impl Serialize for ResponseHeaders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut names: Vec<&str> = self.0.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() < self.0.len() {
            return s.collect_seq(self.0.iter().map(|(name, value)| NameValue {
                name: name.clone(),
                value: value.clone(),
            }));
        }
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// otelcol's `SanitizedURLPath`: a leading `/` is added when missing.
fn sanitize_path(p: &str) -> Result<String, String> {
    if p.starts_with(':') || p.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("invalid HTTP URL path set for signal: {p:?}"));
    }
    let path = p.split(['?', '#']).next().unwrap_or_default();
    Ok(if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    })
}

/// The rustls server configs of both protocols (None: plaintext), from their `tls` blocks.
pub(crate) type TlsConfigs = (Option<Arc<ServerConfig>>, Option<Arc<ServerConfig>>);

impl OtlpConfig {
    /// Reads the certificates of both protocols; `v` is at the component's path, and errors
    /// name the file's key (`receivers.otlp.protocols.grpc.tls.cert_file`).
    pub(crate) fn tls_configs(&self, v: &mut Validator<'_>) -> TlsConfigs {
        let mut protocols = v.at("protocols");
        let mut build = |tls: Option<&TlsServerConfig>, proto: &str, alpn: &[&[u8]]| {
            let tls = tls?;
            let mut v = protocols.at(proto);
            let mut v = v.at("tls");
            tls::server_config(tls, v.path(), alpn)
                .map_err(|e| v.extend(e))
                .ok()
        };
        let grpc = build(
            self.protocols.grpc.as_ref().and_then(|g| g.tls.as_ref()),
            "grpc",
            &[tls::ALPN_H2],
        );
        let http = build(
            self.protocols.http.as_ref().and_then(|h| h.tls.as_ref()),
            "http",
            &[tls::ALPN_H2, tls::ALPN_HTTP1],
        );
        (grpc, http)
    }

    /// The config with its URL paths normalised (a leading `/` added), as the receiver serves
    /// them. Paths that [`Validate`] refuses are left as they are.
    pub fn normalized(mut self) -> OtlpConfig {
        if let Some(h) = &mut self.protocols.http {
            for value in [
                &mut h.traces_url_path,
                &mut h.metrics_url_path,
                &mut h.logs_url_path,
            ] {
                if let Ok(p) = sanitize_path(value) {
                    *value = p;
                }
            }
        }
        self
    }
}

impl Validate for OtlpConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        v.check("protocols", &self.protocols);
    }
}

impl Validate for Protocols {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.grpc.is_none() && self.http.is_none() {
            v.report("must specify at least one protocol when using the OTLP receiver");
        }
        v.check("grpc", &self.grpc);
        v.check("http", &self.http);
    }
}

impl Validate for GrpcConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        v.check("tls", &self.tls);
        v.check("auth", &self.auth);
    }
}

impl Validate for HttpConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        for (key, value) in [
            ("traces_url_path", &self.traces_url_path),
            ("metrics_url_path", &self.metrics_url_path),
            ("logs_url_path", &self.logs_url_path),
        ] {
            if let Err(e) = sanitize_path(value) {
                v.report_at(key, e);
            }
        }
        v.check("tls", &self.tls);
        v.check("auth", &self.auth);
    }
}

impl Validate for AuthConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        v.at("authenticator")
            .uses_extension(&self.authenticator, Capability::ServerAuthenticator);
    }
}

impl Validate for HttpAuthConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        v.at("authenticator")
            .uses_extension(&self.authenticator, Capability::ServerAuthenticator);
    }
}

/// What [`GrpcConfig`] / [`HttpConfig`] hold that this receiver cannot do yet: the first such
/// key, with its path under `protocols`.
pub(crate) fn unsupported_grpc(g: &GrpcConfig) -> Option<&'static str> {
    if !g.middlewares.is_empty() {
        Some("protocols.grpc.middlewares")
    } else if g.transport == Transport::Unix {
        Some("protocols.grpc.transport: unix")
    } else {
        None
    }
}

pub(crate) fn unsupported_http(h: &HttpConfig) -> Option<&'static str> {
    if !h.middlewares.is_empty() {
        Some("protocols.http.middlewares")
    } else if h.transport == Transport::Unix {
        Some("protocols.http.transport: unix")
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::{decode_valid, ConfigErrors, ExtensionUse, Findings, Value};

    fn load(name: &str) -> Result<OtlpConfig, ConfigErrors> {
        let path = format!("{}/testdata/otlp/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let v: Value = serde_yaml_ng::from_str(&text).unwrap();
        decode_valid::<OtlpConfig>("receivers.otlp", &v).map(|(c, _)| c.normalized())
    }

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn valid_config_reads_every_key() {
        let c = load("valid.yaml").unwrap();
        let g = c.protocols.grpc.unwrap();
        assert_eq!(g.endpoint, "0.0.0.0:5317");
        assert_eq!(g.max_recv_msg_size_mib, 32);
        assert_eq!(g.max_recv_msg_size(), 32 << 20);
        assert_eq!(g.max_concurrent_streams, 16);
        assert_eq!(g.read_buffer_size, 1024);
        let ka = g.keepalive.unwrap().server_parameters.unwrap();
        assert_eq!(ka.time, GoDuration::from_secs(30));
        assert!(g.include_metadata);
        let h = c.protocols.http.unwrap();
        assert_eq!(h.traces_url_path, "/traces");
        assert_eq!(h.metrics_url_path, "/v2/metrics");
        assert_eq!(h.logs_url_path, "/log/ingest");
        assert_eq!(
            h.max_body(),
            DEFAULT_MAX_REQUEST_BODY_SIZE as usize,
            "<=0 means 20 MiB"
        );
        let cors = h.cors.as_ref().unwrap();
        assert_eq!(
            cors.allowed_origins,
            ["https://*.test.com", "https://test.com"]
        );
        assert_eq!(cors.max_age, 7200);
        assert_eq!(h.response_headers.0, [("x-a".to_string(), "1".to_string())]);
        let algorithms: Vec<&str> = h
            .compression_algorithms
            .as_deref()
            .unwrap()
            .iter()
            .map(|a| a.as_str())
            .collect();
        assert_eq!(algorithms, ["", "gzip"]);
        assert!(!h.keep_alive());
    }

    #[test]
    fn limits_are_read_and_default_safely() {
        let c = load("limits.yaml").unwrap();
        assert_eq!(
            c.limits,
            LimitsConfig {
                max_value_depth: 8,
                max_attributes: 500,
                max_string_length: 65536,
                max_connections: 1000,
            }
        );
        let d = load("only_grpc_null.yaml").unwrap().limits;
        assert_eq!(d.max_value_depth, 32);
        assert_eq!(d.max_attributes, 10_000);
        assert_eq!((d.max_string_length, d.max_connections), (0, 0));
        let e = load("limits_typo.yaml").unwrap_err();
        assert_eq!(e.0[0].path, "receivers.otlp.limits.max_value_dept");
    }

    #[test]
    fn null_protocol_means_defaults() {
        let c = load("only_grpc_null.yaml").unwrap();
        assert_eq!(c.protocols.grpc, Some(GrpcConfig::default()));
        assert_eq!(c.protocols.grpc.unwrap().max_recv_msg_size(), 4 << 20);
        assert!(c.protocols.http.is_none());
    }

    #[test]
    fn no_protocol_is_an_error() {
        let e = load("no_protocols.yaml").unwrap_err();
        assert_eq!(e.0[0].path, "receivers.otlp.protocols");
        assert!(e.0[0]
            .message
            .contains("must specify at least one protocol"));
        let e = Findings::of("receivers.otlp", &OtlpConfig::default()).errors;
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn typo_is_reported_with_its_path() {
        let e = load("typo.yaml").unwrap_err();
        assert_eq!(e.0[0].path, "receivers.otlp.protocols.grpc.endpont");
        assert!(e.0[0].message.contains("unknown field `endpont`"), "{e}");
    }

    #[test]
    fn invalid_value_is_reported_with_its_path() {
        let e = load("invalid_value.yaml").unwrap_err();
        assert_eq!(e.0[0].path, "receivers.otlp.protocols.http.read_timeout");
        let e = load("invalid_path.yaml").unwrap_err();
        assert_eq!(e.0[0].path, "receivers.otlp.protocols.http.traces_url_path");
    }

    #[test]
    fn tls_and_auth_parse_and_missing_files_name_their_key() {
        let c = load("tls_auth.yaml").unwrap();
        assert_eq!(unsupported_grpc(c.protocols.grpc.as_ref().unwrap()), None);
        assert_eq!(unsupported_http(c.protocols.http.as_ref().unwrap()), None);
        let auth = c.protocols.http.as_ref().unwrap().auth.as_ref().unwrap();
        assert_eq!(auth.authenticator, "test");
        let mut findings = Findings::default();
        c.tls_configs(&mut Validator::new("receivers.otlp", &mut findings));
        let e = findings.into_result().unwrap_err();
        let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "receivers.otlp.protocols.grpc.tls.cert_file",
                "receivers.otlp.protocols.grpc.tls.key_file"
            ],
            "{e}"
        );
        assert!(e.0[0].message.contains("test.crt"), "{e}");
    }

    #[test]
    fn default_config_round_trips() {
        for config in [
            OtlpConfig::default(),
            load("only_grpc_null.yaml").unwrap(),
            load("valid.yaml").unwrap(),
        ] {
            let v = serde_yaml_ng::to_value(&config).unwrap();
            let back: OtlpConfig = ferrotel_config::decode("receivers.otlp", &v).unwrap();
            assert_eq!(back, config, "{v:?}");
        }
        let v = serde_yaml_ng::to_value(OtlpConfig::default()).unwrap();
        assert_eq!(v["protocols"], yaml("{}"), "absent protocols stay absent");
        assert_eq!(v["protocols"].get("grpc"), None);
    }

    #[test]
    fn response_headers_serialise_in_a_form_that_reads_back() {
        for (text, form) in [
            ("{x-a: '1', x-b: '2'}", "{x-a: '1', x-b: '2'}"),
            (
                "[{name: x-a, value: '1'}, {name: x-a, value: '2'}]",
                "[{name: x-a, value: '1'}, {name: x-a, value: '2'}]",
            ),
            ("[]", "{}"),
        ] {
            let h: ResponseHeaders = serde_yaml_ng::from_value(yaml(text)).unwrap();
            let v = serde_yaml_ng::to_value(&h).unwrap();
            assert_eq!(v, yaml(form), "{text}");
            let back: ResponseHeaders = serde_yaml_ng::from_value(v).unwrap();
            assert_eq!(back, h, "{text}");
        }
    }

    #[test]
    fn enum_like_values_are_checked_when_read() {
        let e = decode_valid::<OtlpConfig>(
            "receivers.otlp",
            &yaml("protocols: { grpc: { transport: udp } }"),
        )
        .unwrap_err();
        assert_eq!(e.0[0].path, "receivers.otlp.protocols.grpc.transport");
        assert!(e.0[0].message.contains("unknown variant `udp`"), "{e}");
        let c = decode_valid::<OtlpConfig>(
            "receivers.otlp",
            &yaml("protocols: { grpc: { transport: unix }, http: { transport: unix } }"),
        )
        .unwrap()
        .0;
        assert_eq!(
            unsupported_grpc(c.protocols.grpc.as_ref().unwrap()),
            Some("protocols.grpc.transport: unix")
        );
        assert_eq!(
            unsupported_http(c.protocols.http.as_ref().unwrap()),
            Some("protocols.http.transport: unix")
        );
        let e = decode_valid::<OtlpConfig>(
            "receivers.otlp",
            &yaml("protocols: { http: { compression_algorithms: ['', br] } }"),
        )
        .unwrap_err();
        assert_eq!(
            e.0[0].path,
            "receivers.otlp.protocols.http.compression_algorithms[1]"
        );
        assert!(e.0[0].message.contains("unknown variant `br`"), "{e}");
    }

    #[test]
    fn authenticators_are_recorded_as_extension_uses() {
        let (_, uses) = decode_valid::<OtlpConfig>(
            "receivers.otlp/in",
            &yaml(
                "protocols: { grpc: { auth: { authenticator: bearertokenauth } }, \
                 http: { auth: { authenticator: basicauth/server } } }",
            ),
        )
        .unwrap();
        assert_eq!(
            uses,
            [
                ExtensionUse {
                    path: "receivers.otlp/in.protocols.grpc.auth.authenticator".into(),
                    id: "bearertokenauth".into(),
                    capability: Capability::ServerAuthenticator,
                },
                ExtensionUse {
                    path: "receivers.otlp/in.protocols.http.auth.authenticator".into(),
                    id: "basicauth/server".into(),
                    capability: Capability::ServerAuthenticator,
                },
            ]
        );
    }
}
