//! Pieces shared by the OTLP exporters: exporterhelper settings, headers, compression, the HTTP
//! client with its TLS settings,
//! `google.rpc.Status` (with `RetryInfo`) decoding and `partial_success` handling.

use ferrotel_config::{ConfigError, GoDuration, QueueConfig, RetryConfig, TlsClientConfig};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceResponse, metrics::v1::ExportMetricsServiceResponse,
    trace::v1::ExportTraceServiceResponse,
};
use ferrotel_core::{ExporterSettings, Signal};
use prost::Message;
use std::collections::BTreeMap;
use std::time::Duration;

/// The exporterhelper settings of a push exporter, validated.
pub(crate) fn push_settings(
    path: &str,
    timeout: GoDuration,
    retry: &RetryConfig,
    queue: &QueueConfig,
    errors: &mut Vec<ConfigError>,
) -> ExporterSettings {
    errors.extend(retry.validate(&format!("{path}.retry_on_failure")));
    errors.extend(queue.validate(&format!("{path}.sending_queue")));
    ExporterSettings {
        timeout,
        retry: retry.clone(),
        queue: queue.clone(),
    }
}

/// A config error for a key ferrotel accepts in otelcol's format but cannot honour yet.
pub(crate) fn not_supported(path: &str, key: &str) -> ConfigError {
    ConfigError::new(
        format!("{path}.{key}"),
        format!("`{key}` is not supported yet by ferrotel"),
    )
}

/// Request compression, as otelcol's `compression` key (`configcompression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
    Snappy,
}

impl Compression {
    /// Parses a `compression` value; `allowed` lists what this exporter supports.
    pub(crate) fn parse(
        path: &str,
        value: &str,
        allowed: &[Compression],
    ) -> Result<Compression, ConfigError> {
        let c = match value {
            "" | "none" => Some(Compression::None),
            "gzip" => Some(Compression::Gzip),
            "zstd" => Some(Compression::Zstd),
            "snappy" => Some(Compression::Snappy),
            _ => None,
        };
        match c {
            Some(c) if allowed.contains(&c) => Ok(c),
            _ => Err(ConfigError::new(
                format!("{path}.compression"),
                format!("unsupported compression type {value:?}"),
            )),
        }
    }

    /// The `Content-Encoding` / `grpc-encoding` name.
    pub(crate) fn name(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
            Compression::Snappy => Some("snappy"),
        }
    }
}

/// Validates the `headers` map into HTTP header pairs.
pub(crate) fn parse_headers(
    path: &str,
    headers: &BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Vec<(http::HeaderName, http::HeaderValue)> {
    let mut out = Vec::with_capacity(headers.len());
    for (k, v) in headers {
        let name = http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes());
        let value = http::HeaderValue::from_str(v);
        match (name, value) {
            (Ok(n), Ok(v)) => out.push((n, v)),
            _ => errors.push(ConfigError::new(
                format!("{path}.headers.{k}"),
                "invalid HTTP header name or value",
            )),
        }
    }
    out
}

/// A `reqwest` client builder with a client `tls` block applied (CA or system roots, client
/// certificate, `insecure_skip_verify`, `server_name_override`, `min_version`/`max_version`),
/// through [`ferrotel_core::tls::client_config`]; bad files are config errors naming their key.
/// ALPN offers HTTP/1.1 only, as the client is built without HTTP/2.
pub(crate) fn http_client_builder(
    path: &str,
    tls: &TlsClientConfig,
    errors: &mut Vec<ConfigError>,
) -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder().user_agent(concat!("ferrotel/", env!("CARGO_PKG_VERSION")));
    let tls_path = format!("{path}.tls");
    match ferrotel_core::tls::client_config(tls, &tls_path, &[ferrotel_core::tls::ALPN_HTTP1]) {
        Ok(config) => b.use_preconfigured_tls(config),
        Err(e) => {
            errors.extend(e.0);
            b.use_rustls_tls()
        }
    }
}

/// `auth` of an exporter (otelcol's `configauth.Config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// The id of a client authenticator extension (`bearertokenauth`, `basicauth/client`).
    pub authenticator: String,
}

/// An exporter's client authenticator: named by the config, resolved at start among the
/// started extensions, asked for its headers on every request.
#[derive(Default)]
pub(crate) struct ClientAuth {
    id: Option<String>,
    auth: std::sync::OnceLock<std::sync::Arc<dyn ferrotel_core::ClientAuthenticator>>,
}

impl ClientAuth {
    pub(crate) fn new(settings: &Option<AuthSettings>) -> Self {
        ClientAuth {
            id: settings.as_ref().map(|a| a.authenticator.clone()),
            auth: Default::default(),
        }
    }

    /// Looks the authenticator up; an unknown id or a non-authenticator is a start error.
    pub(crate) fn resolve(
        &self,
        extensions: &ferrotel_core::Extensions,
    ) -> Result<(), ferrotel_core::StartError> {
        let Some(id) = &self.id else { return Ok(()) };
        let a = extensions
            .client_authenticator(id)
            .map_err(|e| ferrotel_core::StartError(format!("auth.authenticator: {e}")))?;
        let _ = self.auth.set(a);
        Ok(())
    }

    /// Adds the authenticator's headers (nothing without `auth`).
    pub(crate) fn apply(
        &self,
        headers: &mut http::HeaderMap,
    ) -> Result<(), ferrotel_core::ExportError> {
        let Some(id) = &self.id else { return Ok(()) };
        let auth = self.auth.get().ok_or_else(|| {
            ferrotel_core::ExportError::permanent(format!(
                "authenticator {id:?} was not resolved (exporter not started)"
            ))
        })?;
        auth.apply(headers).map_err(|e| {
            ferrotel_core::ExportError::retryable(format!("authenticator {id:?} failed: {e}"))
        })
    }
}

/// Up to `limit` bytes of a response body (the rest is not read).
pub(crate) async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// google.rpc.Status and RetryInfo (googleapis), declared here for decoding only.

#[derive(Clone, PartialEq, Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The `RetryInfo.retry_delay` in an encoded `google.rpc.Status` (gRPC `grpc-status-details-bin`).
pub(crate) fn retry_info_delay(status_details: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(status_details).ok()?;
    let any = status
        .details
        .iter()
        .find(|d| d.type_url == RETRY_INFO_TYPE)?;
    let d = RetryInfo::decode(any.value.as_slice()).ok()?.retry_delay?;
    let secs = u64::try_from(d.seconds).ok()?;
    let nanos = u32::try_from(d.nanos).ok()?;
    Some(Duration::new(secs, nanos))
}

// ---------------------------------------------------------------------------------------------
// partial_success

/// Rejected item count and message of an export response's `partial_success`, if any items
/// were rejected or a message was set.
pub(crate) fn partial_success(signal: Signal, body: &[u8]) -> Option<(i64, String)> {
    let (rejected, msg) = match signal {
        Signal::Traces => {
            let p = ExportTraceServiceResponse::decode(body)
                .ok()?
                .partial_success?;
            (p.rejected_spans, p.error_message)
        }
        Signal::Metrics => {
            let p = ExportMetricsServiceResponse::decode(body)
                .ok()?
                .partial_success?;
            (p.rejected_data_points, p.error_message)
        }
        Signal::Logs => {
            let p = ExportLogsServiceResponse::decode(body)
                .ok()?
                .partial_success?;
            (p.rejected_log_records, p.error_message)
        }
    };
    (rejected > 0 || !msg.is_empty()).then_some((rejected, msg))
}

/// The same for an OTLP/JSON response body.
pub(crate) fn partial_success_json(signal: Signal, body: &[u8]) -> Option<(i64, String)> {
    let (rejected, msg) = match signal {
        Signal::Traces => {
            let p = serde_json::from_slice::<ExportTraceServiceResponse>(body)
                .ok()?
                .partial_success?;
            (p.rejected_spans, p.error_message)
        }
        Signal::Metrics => {
            let p = serde_json::from_slice::<ExportMetricsServiceResponse>(body)
                .ok()?
                .partial_success?;
            (p.rejected_data_points, p.error_message)
        }
        Signal::Logs => {
            let p = serde_json::from_slice::<ExportLogsServiceResponse>(body)
                .ok()?
                .partial_success?;
            (p.rejected_log_records, p.error_message)
        }
    };
    (rejected > 0 || !msg.is_empty()).then_some((rejected, msg))
}

/// Logs a partial success as otelcol's OTLP exporters do (warn, not retried).
pub(crate) fn log_partial_success(id: &str, signal: Signal, rejected: i64, message: &str) {
    let field = match signal {
        Signal::Traces => "dropped_spans",
        Signal::Metrics => "dropped_data_points",
        Signal::Logs => "dropped_log_records",
    };
    tracing::warn!(
        otelcol.component.id = id,
        message,
        "Partial success response ({field}: {rejected})"
    );
}

/// An encoded `google.rpc.Status`, with a `RetryInfo` when `retry_secs` is given (for tests).
#[cfg(test)]
pub(crate) fn encode_status(code: i32, message: &str, retry_secs: Option<i64>) -> Vec<u8> {
    let details = retry_secs
        .map(|seconds| ProtoAny {
            type_url: RETRY_INFO_TYPE.into(),
            value: RetryInfo {
                retry_delay: Some(ProtoDuration { seconds, nanos: 0 }),
            }
            .encode_to_vec(),
        })
        .into_iter()
        .collect();
    RpcStatus {
        code,
        message: message.into(),
        details,
    }
    .encode_to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn status_with_retry(secs: i64) -> Vec<u8> {
        encode_status(8, "slow down", Some(secs))
    }

    #[test]
    fn retry_info_is_read_from_status_details() {
        assert_eq!(
            retry_info_delay(&status_with_retry(7)),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_info_delay(b""), None);
        assert_eq!(retry_info_delay(&status_with_retry(-1)), None);
    }

    #[test]
    fn compression_names() {
        let all = [Compression::Gzip, Compression::None];
        assert_eq!(Compression::parse("p", "gzip", &all), Ok(Compression::Gzip));
        assert_eq!(Compression::parse("p", "none", &all), Ok(Compression::None));
        let e = Compression::parse("p", "snappy", &all).unwrap_err();
        assert_eq!(e.path, "p.compression");
    }
}
