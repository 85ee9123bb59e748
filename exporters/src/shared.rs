//! Pieces shared by the exporters: building with a validator at the component's path,
//! headers, compression, the HTTP client with its TLS settings, client authentication and
//! `partial_success` handling (`google.rpc.Status`, TLS and `Retry-After` are in
//! `ferrotel-transport`).
//! Each piece is compiled with the exporters that use it.

#[cfg(any(feature = "otlp", feature = "otlphttp"))]
use ferrotel_config::choice::{Choice, Choices};
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
use ferrotel_config::Capability;
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
use ferrotel_config::Validate;
#[cfg(any(
    feature = "debug",
    feature = "otlp",
    feature = "otlphttp",
    feature = "jaeger"
))]
use ferrotel_config::Validator;
#[cfg(any(
    feature = "debug",
    feature = "otlp",
    feature = "otlphttp",
    feature = "jaeger"
))]
use ferrotel_config::{ConfigErrors, Findings};
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceResponse, metrics::v1::ExportMetricsServiceResponse,
    profiles::v1development::ExportProfilesServiceResponse, trace::v1::ExportTraceServiceResponse,
};
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
use ferrotel_core::Signal;
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
use prost::Message;
#[cfg(any(feature = "otlp", feature = "otlphttp", feature = "jaeger"))]
use std::collections::BTreeMap;

/// Builds a component with a validator at its config path, for the problems only `create`
/// finds (files, TLS): the component, or every problem reported. `f` returns `None` only after
/// reporting why.
#[cfg(any(
    feature = "debug",
    feature = "otlp",
    feature = "otlphttp",
    feature = "jaeger"
))]
pub(crate) fn build<T>(
    ctx: &ferrotel_core::CreateContext,
    f: impl FnOnce(&mut Validator<'_>) -> Option<T>,
) -> Result<T, ConfigErrors> {
    let mut findings = Findings::default();
    let built = f(&mut ctx.validator(&mut findings));
    findings.into_result()?;
    built.ok_or_else(|| ctx.error("the exporter cannot be built from this configuration"))
}

/// The message for a key ferrotel accepts in otelcol's format but cannot honour yet.
#[cfg(any(feature = "otlp", feature = "prometheus"))]
pub(crate) fn not_supported(key: &str) -> String {
    format!("`{key}` is not supported yet by ferrotel")
}

/// Request compression, as otelcol's `compression` key (`configcompression`): `""` and `none`
/// mean none.
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[serde(alias = "")]
    None,
    Gzip,
    Zstd,
    Snappy,
}

#[cfg(any(feature = "otlp", feature = "otlphttp"))]
impl Choices for Compression {}

#[cfg(any(feature = "otlp", feature = "otlphttp"))]
impl Compression {
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

/// Reports a `compression` (the key of the config `v` is at) that is not one of `allowed`,
/// with otelcol's message.
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
pub(crate) fn check_compression(
    v: &mut Validator<'_>,
    compression: &Choice<Compression>,
    allowed: &[Compression],
) {
    let spelling = match compression {
        Choice::Known(c) if allowed.contains(c) => return,
        Choice::Known(c) => c.name().unwrap_or("none"),
        Choice::Unknown(s) => s,
    };
    v.report_at(
        "compression",
        format!("unsupported compression type {spelling:?}"),
    );
}

#[cfg(any(feature = "otlp", feature = "otlphttp", feature = "jaeger"))]
fn header(name: &str, value: &str) -> Option<(http::HeaderName, http::HeaderValue)> {
    let name = http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok()?;
    let value = http::HeaderValue::from_str(value).ok()?;
    Some((name, value))
}

/// Reports every entry of a `headers` map (the one `v` is at) that is not an HTTP header.
#[cfg(feature = "jaeger")]
pub(crate) fn check_headers(v: &mut Validator<'_>, headers: &BTreeMap<String, String>) {
    for (k, value) in headers {
        if header(k, value).is_none() {
            v.report_at(k, "invalid HTTP header name or value");
        }
    }
}

/// The first entry of a `headers` map that is not an HTTP header, described. otelcol accepts
/// such a header at validate, and every request then fails (Go's HTTP client and grpc-go refuse
/// it); the otlp and otlphttp exporters do the same: they warn at start and fail each export
/// with this message, a permanent error.
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
pub(crate) fn header_problem(headers: &BTreeMap<String, String>) -> Option<String> {
    headers
        .iter()
        .find(|(k, v)| header(k, v).is_none())
        .map(|(k, _)| format!("invalid header {k:?}: not a valid HTTP header name or value"))
}

/// A `headers` map as HTTP headers (checked by [`check_headers`]).
#[cfg(any(feature = "otlp", feature = "otlphttp", feature = "jaeger"))]
pub(crate) fn header_map(headers: &BTreeMap<String, String>) -> http::HeaderMap {
    headers.iter().filter_map(|(k, v)| header(k, v)).collect()
}

/// A `reqwest` client builder with the client `tls` block of the config `v` is at applied (CA
/// or system roots, client certificate, `insecure_skip_verify`, `server_name_override`,
/// `min_version`/`max_version`), through [`ferrotel_transport::tls::client_config`]; bad files are
/// reported under `tls`. ALPN offers HTTP/1.1 only, as the client is built without HTTP/2.
#[cfg(any(feature = "otlphttp", feature = "jaeger"))]
pub(crate) fn http_client_builder(
    v: &mut Validator<'_>,
    tls: &ferrotel_config::TlsClientConfig,
) -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder().user_agent(concat!("ferrotel/", env!("CARGO_PKG_VERSION")));
    let mut at = v.at("tls");
    use ferrotel_transport::tls;
    match tls::client_config(tls, at.path(), &[tls::ALPN_HTTP1]) {
        Ok(config) => b.use_preconfigured_tls(config),
        Err(e) => {
            at.extend(e);
            b.use_rustls_tls()
        }
    }
}

/// `auth` of an exporter (otelcol's `configauth.Config`).
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// The id of a client authenticator extension (`bearertokenauth`, `basicauth/client`).
    pub authenticator: String,
}

#[cfg(any(feature = "otlp", feature = "otlphttp"))]
impl Validate for AuthSettings {
    fn validate(&self, v: &mut Validator<'_>) {
        v.at("authenticator")
            .uses_extension(&self.authenticator, Capability::ClientAuthenticator);
    }
}

/// An exporter's client authenticator: named by the config, resolved at start among the
/// started extensions, asked for its headers on every request.
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
#[derive(Default)]
pub(crate) struct ClientAuth {
    id: Option<String>,
    auth: std::sync::OnceLock<std::sync::Arc<dyn ferrotel_core::ClientAuthenticator>>,
}

#[cfg(any(feature = "otlp", feature = "otlphttp"))]
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
#[cfg(any(feature = "otlphttp", feature = "jaeger"))]
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
// partial_success

/// Rejected item count and message of an export response's `partial_success`, if any items
/// were rejected or a message was set.
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
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
        Signal::Profiles => {
            let p = ExportProfilesServiceResponse::decode(body)
                .ok()?
                .partial_success?;
            (p.rejected_profiles, p.error_message)
        }
    };
    (rejected > 0 || !msg.is_empty()).then_some((rejected, msg))
}

/// The same for an OTLP/JSON response body.
#[cfg(feature = "otlphttp")]
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
        Signal::Profiles => {
            let p = serde_json::from_slice::<ExportProfilesServiceResponse>(body)
                .ok()?
                .partial_success?;
            (p.rejected_profiles, p.error_message)
        }
    };
    (rejected > 0 || !msg.is_empty()).then_some((rejected, msg))
}

/// Logs a partial success as otelcol's OTLP exporters do (warn, not retried).
#[cfg(any(feature = "otlp", feature = "otlphttp"))]
pub(crate) fn log_partial_success(id: &str, signal: Signal, rejected: i64, message: &str) {
    let field = match signal {
        Signal::Traces => "dropped_spans",
        Signal::Metrics => "dropped_data_points",
        Signal::Logs => "dropped_log_records",
        Signal::Profiles => "dropped_profiles",
    };
    tracing::warn!(
        otelcol.component.id = id,
        message,
        "Partial success response ({field}: {rejected})"
    );
}

/// An encoded `google.rpc.Status`, with a `RetryInfo` when `retry_secs` is given (for tests).
#[cfg(all(test, any(feature = "otlp", feature = "otlphttp")))]
pub(crate) fn encode_status(code: i32, message: &str, retry_secs: Option<u64>) -> Vec<u8> {
    let retry = retry_secs.map(std::time::Duration::from_secs);
    ferrotel_transport::status::RpcStatus::new(code, message, retry).encode_to_vec()
}

/// A client authenticator extension for tests: `headerauth` sends
/// `authorization: Bearer test-token`.
#[cfg(all(test, any(feature = "otlp", feature = "otlphttp")))]
pub(crate) mod test_auth {
    use std::sync::Arc;

    struct HeaderAuth;

    impl ferrotel_core::ClientAuthenticator for HeaderAuth {
        fn apply(&self, headers: &mut http::HeaderMap) -> Result<(), ferrotel_core::AuthError> {
            headers.insert(
                "authorization",
                http::HeaderValue::from_static("Bearer test-token"),
            );
            Ok(())
        }
    }

    struct AuthExt;

    #[async_trait::async_trait]
    impl ferrotel_core::Extension for AuthExt {
        async fn start(
            &mut self,
            _: ferrotel_core::ExtensionContext,
        ) -> Result<(), ferrotel_core::StartError> {
            Ok(())
        }
        async fn shutdown(&mut self) {}
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn client_authenticator(&self) -> Option<Arc<dyn ferrotel_core::ClientAuthenticator>> {
            Some(Arc::new(HeaderAuth))
        }
    }

    /// Started extensions with `headerauth` among them.
    pub(crate) fn auth_extensions() -> ferrotel_core::Extensions {
        let id = ferrotel_core::ComponentId::new("headerauth");
        let ext: Box<dyn ferrotel_core::Extension> = Box::new(AuthExt);
        ferrotel_core::Extensions::new([(&id, ext.as_ref())])
    }
}

#[cfg(all(test, any(feature = "otlp", feature = "otlphttp")))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::{Capability, ExtensionUse};

    fn compression(spelling: &str, allowed: &[Compression]) -> Findings {
        let c = Choice::<Compression>::parse(spelling);
        let mut findings = Findings::default();
        check_compression(&mut Validator::new("p", &mut findings), &c, allowed);
        findings
    }

    #[test]
    fn compression_names() {
        let all = [Compression::Gzip, Compression::None];
        assert_eq!(
            Choice::<Compression>::parse("gzip"),
            Choice::Known(Compression::Gzip)
        );
        assert!(compression("gzip", &all).errors.is_empty());
        assert_eq!(
            Choice::<Compression>::parse("none"),
            Choice::Known(Compression::None)
        );
        assert!(compression("none", &all).errors.is_empty());
        assert!(compression("", &all).errors.is_empty());
        let e = &compression("snappy", &all).errors[0];
        assert_eq!(e.path, "p.compression");
        assert_eq!(e.message, "unsupported compression type \"snappy\"");
        let e = &compression("lz4", &all).errors[0];
        assert_eq!(e.message, "unsupported compression type \"lz4\"");
    }

    #[test]
    fn headers_and_the_authenticator_are_checked_where_they_sit() {
        let headers = BTreeMap::from([
            ("x-ok".to_string(), "v".to_string()),
            ("bad name".to_string(), "v".to_string()),
        ]);
        let mut findings = Findings::default();
        check_headers(
            &mut Validator::new("exporters.otlp", &mut findings).at("headers"),
            &headers,
        );
        assert_eq!(findings.errors[0].path, "exporters.otlp.headers.bad name");
        assert_eq!(header_map(&headers).len(), 1);
        assert_eq!(
            header_problem(&headers).as_deref(),
            Some("invalid header \"bad name\": not a valid HTTP header name or value")
        );
        let auth = AuthSettings {
            authenticator: "basicauth/client".into(),
        };
        let f = Findings::of("exporters.otlp.auth", &auth);
        assert_eq!(
            f.extensions,
            [ExtensionUse {
                path: "exporters.otlp.auth.authenticator".into(),
                id: "basicauth/client".into(),
                capability: Capability::ClientAuthenticator,
            }]
        );
    }
}
