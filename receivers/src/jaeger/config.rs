//! The `jaeger` receiver's configuration, as otelcol-contrib's: `protocols` with `grpc`
//! (configgrpc server keys, default `localhost:14250`), `thrift_http` (confighttp server keys,
//! `localhost:14268`), `thrift_compact` (UDP, `localhost:6831`) and `thrift_binary` (UDP,
//! `localhost:6832`). A protocol is served only when its key is present (`grpc:` with no value
//! takes the defaults); at least one is required. Every endpoint needs a port in 1..=65535,
//! as otelcol checks. `remote_sampling` is refused, as otelcol does with its
//! `receiver.jaeger.DisableRemoteSampling` gate (beta, on).
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols:
//!       grpc:
//!       thrift_http: { endpoint: 0.0.0.0:14268 }
//!       thrift_compact: { endpoint: 0.0.0.0:6831, queue_size: 5000, workers: 4 }
//!       thrift_binary: { endpoint: 0.0.0.0:6832, max_packet_size: 65000 }
//! ```

use crate::otlp::config::{
    null_as_default, CompressionAlgorithm, CorsConfig, GrpcConfig, HttpAuthConfig, HttpConfig,
    HttpKeepalive, MiddlewareConfig, ResponseHeaders, Transport, DEFAULT_MAX_REQUEST_BODY_SIZE,
};
use ferrotel_config::{GoDuration, TlsServerConfig, Validate, Validator, Value};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// otelcol's default endpoints.
pub const DEFAULT_GRPC_ENDPOINT: &str = "localhost:14250";
pub const DEFAULT_THRIFT_HTTP_ENDPOINT: &str = "localhost:14268";
pub const DEFAULT_THRIFT_COMPACT_ENDPOINT: &str = "localhost:6831";
pub const DEFAULT_THRIFT_BINARY_ENDPOINT: &str = "localhost:6832";

/// The `jaeger` receiver.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JaegerConfig {
    /// The protocols to serve; at least one is required.
    pub protocols: Protocols,
    /// Removed from otelcol (use the `jaegerremotesampling` extension): present, it is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_sampling: Option<Value>,
}

/// `protocols`. A key present with no value enables it with its defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// `jaeger.api_v2.CollectorService/PostSpans` over gRPC.
    #[serde(
        deserialize_with = "grpc_protocol",
        skip_serializing_if = "Option::is_none"
    )]
    pub grpc: Option<GrpcConfig>,
    /// `POST /api/traces` with a Thrift binary `Batch` body.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub thrift_http: Option<ThriftHttpConfig>,
    /// `Agent.emitBatch` in the Thrift binary protocol over UDP.
    #[serde(
        deserialize_with = "binary_udp",
        skip_serializing_if = "Option::is_none"
    )]
    pub thrift_binary: Option<UdpConfig>,
    /// `Agent.emitBatch` in the Thrift compact protocol over UDP.
    #[serde(
        deserialize_with = "compact_udp",
        skip_serializing_if = "Option::is_none"
    )]
    pub thrift_compact: Option<UdpConfig>,
}

/// A present key with the receiver's own default endpoint when it names none.
fn with_default_endpoint<'de, D, T>(
    d: D,
    endpoint: &str,
    set: impl FnOnce(&mut T, String),
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let v = Option::<Value>::deserialize(d)?;
    let has_endpoint = v.as_ref().and_then(|v| v.get("endpoint")).is_some();
    let mut cfg = match v {
        None | Some(Value::Null) => T::default(),
        Some(v) => T::deserialize(v).map_err(|e| D::Error::custom(clean(&e.to_string())))?,
    };
    if !has_endpoint {
        set(&mut cfg, endpoint.to_string());
    }
    Ok(Some(cfg))
}

/// serde_yaml_ng appends a position that means nothing inside a re-read value.
fn clean(m: &str) -> String {
    m.find(" at line ").map_or(m, |i| &m[..i]).to_string()
}

fn grpc_protocol<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GrpcConfig>, D::Error> {
    with_default_endpoint(d, DEFAULT_GRPC_ENDPOINT, |c: &mut GrpcConfig, e| {
        c.endpoint = e
    })
}

fn binary_udp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UdpConfig>, D::Error> {
    with_default_endpoint(d, DEFAULT_THRIFT_BINARY_ENDPOINT, |c: &mut UdpConfig, e| {
        c.endpoint = e
    })
}

fn compact_udp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UdpConfig>, D::Error> {
    with_default_endpoint(
        d,
        DEFAULT_THRIFT_COMPACT_ENDPOINT,
        |c: &mut UdpConfig, e| c.endpoint = e,
    )
}

/// `thrift_binary` / `thrift_compact`: a UDP endpoint and otelcol's UDP server settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UdpConfig {
    /// Listen address, `host:port`.
    pub endpoint: String,
    /// Datagrams read but not yet decoded, at most (more are dropped and counted; 0 holds one).
    #[serde(deserialize_with = "yaml_int")]
    pub queue_size: i64,
    /// Largest datagram in bytes; a longer one is truncated by the read and so fails to decode.
    /// Values over 65535, the most a UDP datagram holds, read whole datagrams.
    #[serde(deserialize_with = "yaml_int")]
    pub max_packet_size: i64,
    /// Tasks decoding datagrams from the queue.
    #[serde(deserialize_with = "yaml_int")]
    pub workers: i64,
    /// The socket's receive buffer (`SO_RCVBUF`) in bytes; 0 keeps the system's.
    #[serde(deserialize_with = "yaml_int")]
    pub socket_buffer_size: i64,
}

/// An integer as Go's YAML reads one: digits may be grouped with `_` (`5_000`, as otelcol's
/// README writes them), which YAML 1.2 readers take for a string.
fn yaml_int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrText {
        Int(i64),
        Text(String),
    }
    match IntOrText::deserialize(d)? {
        IntOrText::Int(i) => Ok(i),
        IntOrText::Text(t) => t
            .replace('_', "")
            .parse()
            .map_err(|_| D::Error::custom(format!("invalid integer {t:?}"))),
    }
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            endpoint: String::new(),
            queue_size: 1_000,
            max_packet_size: 65_000,
            workers: 10,
            socket_buffer_size: 0,
        }
    }
}

/// `thrift_http`: otelcol's `confighttp.ServerConfig` keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThriftHttpConfig {
    /// Listen address, `host:port`.
    pub endpoint: String,
    /// `tcp` (`unix` is accepted by `validate` but refused at start).
    pub transport: Transport,
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

impl Default for ThriftHttpConfig {
    fn default() -> Self {
        ThriftHttpConfig {
            endpoint: DEFAULT_THRIFT_HTTP_ENDPOINT.into(),
            transport: Transport::Tcp,
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

impl ThriftHttpConfig {
    /// The settings as the `otlp` receiver's HTTP server takes them (its URL paths unused).
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

/// otelcol's `checkPortFromEndpoint`: the error after `endpoint is not formatted correctly`,
/// `endpoint port is not a number` or the range check.
pub(crate) fn check_port(endpoint: &str) -> Result<u16, String> {
    let port = split_port(endpoint).ok_or_else(|| {
        format!("endpoint is not formatted correctly: address {endpoint}: missing port in address")
    })?;
    let n: i64 = port.parse().map_err(|_| {
        format!("endpoint port is not a number: strconv.ParseInt: parsing {port:?}: invalid syntax")
    })?;
    u16::try_from(n)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| "port number must be between 1 and 65535".to_string())
}

/// The port of `host:port` or `[v6]:port`, as Go's `net.SplitHostPort` finds it.
fn split_port(endpoint: &str) -> Option<&str> {
    if let Some(rest) = endpoint.strip_prefix('[') {
        let (_, after) = rest.split_once(']')?;
        return after.strip_prefix(':');
    }
    let (host, port) = endpoint.rsplit_once(':')?;
    (!host.contains(':')).then_some(port)
}

impl Validate for JaegerConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        let p = &self.protocols;
        if p.grpc.is_none()
            && p.thrift_http.is_none()
            && p.thrift_binary.is_none()
            && p.thrift_compact.is_none()
        {
            v.report("must specify at least one protocol when using the Jaeger receiver");
        }
        let endpoints = [
            ("grpc", p.grpc.as_ref().map(|g| &g.endpoint), "gRPC"),
            (
                "thrift_http",
                p.thrift_http.as_ref().map(|h| &h.endpoint),
                "Thrift HTTP",
            ),
            (
                "thrift_binary",
                p.thrift_binary.as_ref().map(|u| &u.endpoint),
                "Thrift UDP Binary",
            ),
            (
                "thrift_compact",
                p.thrift_compact.as_ref().map(|u| &u.endpoint),
                "Thrift UDP Compact",
            ),
        ];
        for (key, endpoint, name) in endpoints {
            if let Some(Err(e)) = endpoint.map(|e| check_port(e)) {
                v.report_at(
                    format!("protocols.{key}.endpoint"),
                    format!("invalid port number for the {name} endpoint: {e}"),
                );
            }
        }
        let mut pv = v.at("protocols");
        if let Some(g) = &p.grpc {
            pv.check("grpc", g);
        }
        if let Some(h) = &p.thrift_http {
            pv.at("thrift_http").check("tls", &h.tls);
            pv.at("thrift_http").check("auth", &h.auth);
        }
        for (key, u) in [
            ("thrift_binary", &p.thrift_binary),
            ("thrift_compact", &p.thrift_compact),
        ] {
            if let Some(u) = u {
                u.validate(&mut pv.at(key));
            }
        }
        if self.remote_sampling.is_some() {
            v.report_at(
                "remote_sampling",
                "remote sampling config detected in the Jaeger receiver; use the \
                 `jaegerremotesampling` extension instead",
            );
        }
    }
}

impl Validate for UdpConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        // otelcol starts with any value and fails later or quietly (no worker, every datagram
        // truncated to nothing, a negative queue panics): ferrotel says so up front.
        for (key, value) in [
            ("max_packet_size", self.max_packet_size),
            ("workers", self.workers),
        ] {
            if value <= 0 {
                v.report_at(key, format!("must be positive, got {value}"));
            }
        }
        if self.queue_size < 0 {
            v.report_at(
                "queue_size",
                format!("must not be negative, got {}", self.queue_size),
            );
        }
        if self.socket_buffer_size < 0 {
            v.report_at("socket_buffer_size", "must not be negative");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::{decode_valid, ConfigErrors};

    fn yaml(text: &str) -> Result<JaegerConfig, ConfigErrors> {
        let v: Value = serde_yaml_ng::from_str(text).unwrap();
        decode_valid::<JaegerConfig>("receivers.jaeger", &v).map(|(c, _)| c)
    }

    fn load(name: &str) -> Result<JaegerConfig, ConfigErrors> {
        let path = format!("{}/testdata/jaeger/{name}", env!("CARGO_MANIFEST_DIR"));
        yaml(&std::fs::read_to_string(path).unwrap())
    }

    #[test]
    fn present_protocols_take_otelcols_defaults() {
        let c =
            yaml("protocols: {grpc: , thrift_http: , thrift_compact: , thrift_binary: }").unwrap();
        let p = &c.protocols;
        assert_eq!(p.grpc.as_ref().unwrap().endpoint, "localhost:14250");
        assert_eq!(p.thrift_http.as_ref().unwrap().endpoint, "localhost:14268");
        let compact = p.thrift_compact.as_ref().unwrap();
        assert_eq!(compact.endpoint, "localhost:6831");
        assert_eq!(
            (
                compact.queue_size,
                compact.max_packet_size,
                compact.workers,
                compact.socket_buffer_size
            ),
            (1000, 65000, 10, 0)
        );
        assert_eq!(p.thrift_binary.as_ref().unwrap().endpoint, "localhost:6832");
        // Only named protocols are served.
        let c = yaml("protocols: {thrift_http: {}}").unwrap();
        assert!(c.protocols.grpc.is_none() && c.protocols.thrift_compact.is_none());
    }

    #[test]
    fn valid_config_reads_every_key() {
        let c = load("valid.yaml").unwrap();
        let p = &c.protocols;
        let g = p.grpc.as_ref().unwrap();
        assert_eq!(
            (g.endpoint.as_str(), g.max_recv_msg_size_mib),
            ("0.0.0.0:14260", 16)
        );
        let h = p.thrift_http.as_ref().unwrap();
        assert_eq!(h.endpoint, "0.0.0.0:14268");
        assert_eq!(h.http().max_body(), 1000);
        let b = p.thrift_binary.as_ref().unwrap();
        assert_eq!(
            (
                b.queue_size,
                b.max_packet_size,
                b.workers,
                b.socket_buffer_size
            ),
            (5000, 131072, 50, 8388608)
        );
    }

    #[test]
    fn otelcols_validation_errors() {
        let e = yaml("protocols: {}").unwrap_err().to_string();
        assert!(
            e.contains("must specify at least one protocol when using the Jaeger receiver"),
            "{e}"
        );
        let e = yaml("{}").unwrap_err().to_string();
        assert!(e.contains("must specify at least one protocol"), "{e}");
        let e = yaml("protocols: {grpc: {endpoint: 'localhost:0'}}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("invalid port number for the gRPC endpoint: port number must be between 1 and 65535"),
            "{e}"
        );
        let e = yaml("protocols: {thrift_compact: {endpoint: 'localhost'}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("protocols.thrift_compact.endpoint"), "{e}");
        assert!(e.contains("invalid port number for the Thrift UDP Compact endpoint: endpoint is not formatted correctly"), "{e}");
        let e = yaml("protocols: {thrift_http: {endpoint: 'host:http'}}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Thrift HTTP endpoint: endpoint port is not a number"),
            "{e}"
        );
        let e = yaml("protocols: {grpc: }\nremote_sampling: {host_endpoint: 'localhost:5778'}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("receivers.jaeger.remote_sampling"), "{e}");
        assert!(
            e.contains("use the `jaegerremotesampling` extension instead"),
            "{e}"
        );
        let e = yaml("protocols: {thrift_binary: {workers: 0}}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("protocols.thrift_binary.workers: must be positive"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_fail_with_their_path() {
        let e = load("typo.yaml").unwrap_err().to_string();
        assert!(e.contains("queue_sise"), "{e}");
        let e = yaml("protocols: {grpc: {endpont: 'x:1'}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("endpont"), "{e}");
        let e = yaml("protocols: {thrift_http: {traces_url_path: /x}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("traces_url_path"), "{e}");
    }

    #[test]
    fn ports_as_go_splits_them() {
        assert_eq!(check_port("0.0.0.0:14250"), Ok(14250));
        assert_eq!(check_port("[::1]:6831"), Ok(6831));
        assert_eq!(check_port(":6832"), Ok(6832));
        assert!(check_port("::1:6831").is_err());
        assert!(check_port("localhost:70000").is_err());
    }
}
