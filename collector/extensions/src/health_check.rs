//! `health_check` extension (otelcol contrib, v1): an HTTP endpoint for liveness/readiness
//! probes. It answers `200 {"status":"Server available","upSince":...,"uptime":...}` while the
//! collector is ready, and `503 {"status":"Server not available",...}` before that and once
//! shutdown begins, for any method, with `Content-Type: application/json`.
//!
//! ```yaml
//! extensions:
//!   health_check:
//!     endpoint: 0.0.0.0:13133   # default localhost:13133
//!     path: /health/status      # default /
//!     response_body:            # optional, replaces the JSON bodies
//!       healthy: I'm OK
//!       unhealthy: I'm not well
//! service:
//!   extensions: [health_check]
//! ```

use crate::http_server::{not_found, reply, HttpServer, Request};
use ferrotel_config::{ConfigErrors, GoDuration, TlsServerConfig, Validate, Validator, Value};
use ferrotel_core::format::{go_duration, rfc3339_nano};
use ferrotel_core::{
    CreateContext, Extension, ExtensionContext, Factory, FactoryInfo, Health, HealthState,
    Stability, StartError,
};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// `response_body`: custom bodies instead of the JSON status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseBody {
    /// Body while the collector is ready.
    pub healthy: String,
    /// Body otherwise.
    pub unhealthy: String,
}

/// `check_collector_pipeline` (deprecated and broken in otelcol; accepted and ignored here).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckCollectorPipeline {
    /// Fail the check after too many exporter failures (ignored, with a warning).
    pub enabled: bool,
    /// Window in which failures are counted.
    pub interval: GoDuration,
    /// Failures tolerated in `interval`.
    pub exporter_failure_threshold: u32,
}

impl Default for CheckCollectorPipeline {
    fn default() -> Self {
        CheckCollectorPipeline {
            enabled: false,
            interval: GoDuration::from_secs(300),
            exporter_failure_threshold: 5,
        }
    }
}

/// `extensions.health_check`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    /// `host:port` to listen on.
    pub endpoint: String,
    /// URL path of the check; must start with `/`.
    pub path: String,
    /// Custom bodies for the healthy and unhealthy answers.
    pub response_body: Option<ResponseBody>,
    /// Deprecated pipeline check (accepted, ignored).
    pub check_collector_pipeline: CheckCollectorPipeline,
    /// TLS for the endpoint: not supported yet.
    pub tls: Option<TlsServerConfig>,
    /// confighttp server settings accepted for compatibility, not used.
    pub include_metadata: Option<bool>,
    pub max_request_body_size: Option<Value>,
    pub cors: Option<Value>,
    pub response_headers: Option<Value>,
    pub read_timeout: Option<GoDuration>,
    pub read_header_timeout: Option<GoDuration>,
    pub write_timeout: Option<GoDuration>,
    pub idle_timeout: Option<GoDuration>,
    pub keep_alives_enabled: Option<bool>,
    pub compression_algorithms: Option<Value>,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "localhost:13133".into(),
            path: "/".into(),
            response_body: None,
            check_collector_pipeline: CheckCollectorPipeline::default(),
            tls: None,
            include_metadata: None,
            max_request_body_size: None,
            cors: None,
            response_headers: None,
            read_timeout: None,
            read_header_timeout: None,
            write_timeout: None,
            idle_timeout: None,
            keep_alives_enabled: None,
            compression_algorithms: None,
        }
    }
}

impl Validate for HealthCheckConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.endpoint.is_empty() {
            v.report_at("endpoint", "must not be empty");
        }
        if !self.path.starts_with('/') {
            v.report_at(
                "path",
                format!("path must start with / (got {:?})", self.path),
            );
        }
        v.check("tls", &self.tls);
    }
}

/// The status code and body for the collector's current health.
fn answer(health: &Health, custom: Option<&ResponseBody>) -> (StatusCode, String) {
    let up = match (health.get(), health.up_since()) {
        (HealthState::Ready, Some(since)) => Some(since),
        (HealthState::Ready, None) => Some(SystemTime::now()),
        _ => None,
    };
    match (up, custom) {
        (Some(_), Some(c)) => (StatusCode::OK, c.healthy.clone()),
        (None, Some(c)) => (StatusCode::SERVICE_UNAVAILABLE, c.unhealthy.clone()),
        (Some(since), None) => {
            let uptime = SystemTime::now()
                .duration_since(since)
                .unwrap_or(Duration::ZERO);
            (
                StatusCode::OK,
                format!(
                    r#"{{"status":"Server available","upSince":"{}","uptime":"{}"}}"#,
                    rfc3339_nano(since),
                    go_duration(uptime)
                ),
            )
        }
        (None, None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#
                .to_string(),
        ),
    }
}

/// The running extension.
pub struct HealthCheck {
    cfg: HealthCheckConfig,
    server: HttpServer,
}

impl HealthCheck {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.local_addr()
    }
}

#[async_trait::async_trait]
impl Extension for HealthCheck {
    async fn start(&mut self, ctx: ExtensionContext) -> Result<(), StartError> {
        if self.cfg.check_collector_pipeline.enabled {
            tracing::warn!(
                otelcol.component.id = %ctx.id,
                "check_collector_pipeline is deprecated and not implemented by ferrotel; it is ignored"
            );
        }
        // Serve until our own shutdown (extensions stop last), so probes see 503 while the
        // collector drains rather than a refused connection.
        let health = ctx.health.clone();
        let path: Arc<str> = self.cfg.path.clone().into();
        let custom = Arc::new(self.cfg.response_body.clone());
        let handler = move |req: Request| {
            let resp = if req.uri().path() == &*path {
                let (status, body) = answer(&health, custom.as_ref().as_ref());
                reply(status, "application/json", body)
            } else {
                not_found()
            };
            std::future::ready(resp)
        };
        self.server =
            HttpServer::start(&ctx, &self.cfg.endpoint, self.cfg.tls.as_ref(), handler).await?;
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.server.shutdown().await;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Factory of `health_check`.
pub struct HealthCheckFactory;

impl Factory for HealthCheckFactory {
    type Config = HealthCheckConfig;
    type Component = Box<dyn Extension>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "health_check",
            "HTTP health endpoint for liveness and readiness probes",
        )
        .stability(Stability::Beta)
        .example("endpoint: 127.0.0.1:0")
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        cfg: HealthCheckConfig,
    ) -> Result<Box<dyn Extension>, ConfigErrors> {
        Ok(Box::new(HealthCheck {
            cfg,
            server: HttpServer::default(),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_core::{AnyFactory, ComponentId};
    use ferrotel_testkit::config::{create_context, refused, yaml};

    fn create(config: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        HealthCheckFactory.create_from(&create_context("extensions", "health_check"), &yaml(config))
    }

    fn create_err(config: &str) -> ConfigErrors {
        refused(create(config), config)
    }

    fn testdata(name: &str) -> String {
        ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "health_check", name)
    }

    async fn started(yaml: &str, health: &Health) -> (Box<dyn Extension>, String) {
        let mut ext = create(yaml).unwrap();
        ext.start(ExtensionContext {
            health: health.clone(),
            ..ExtensionContext::new(ComponentId::new("health_check"))
        })
        .await
        .unwrap();
        let addr = ext
            .as_any()
            .downcast_ref::<HealthCheck>()
            .and_then(HealthCheck::local_addr)
            .unwrap();
        (ext, format!("http://{addr}"))
    }

    #[tokio::test]
    async fn answers_each_state() {
        let health = Health::default();
        let (mut ext, base) = started("endpoint: 127.0.0.1:0", &health).await;
        let client = reqwest::Client::new();

        let r = client.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#
        );

        health.set(HealthState::Ready);
        // Not synchronisation (the state is read per request): time must pass for the
        // uptime below to be more than zero.
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Any method.
        let r = client.post(format!("{base}/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["status"], "Server available");
        assert_eq!(v["upSince"], rfc3339_nano(health.up_since().unwrap()));
        let uptime = v["uptime"].as_str().unwrap();
        assert!(uptime.ends_with("ms") || uptime.ends_with('s'), "{uptime}");
        assert_ne!(uptime, "0s");
        assert_eq!(v.as_object().unwrap().len(), 3, "{v}");

        health.set(HealthState::Stopping);
        let r = client.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(r.status(), 503);

        let r = client.get(format!("{base}/other")).send().await.unwrap();
        assert_eq!(r.status(), 404);

        ext.shutdown().await;
        assert!(client.get(format!("{base}/")).send().await.is_err());
        ext.shutdown().await; // idempotent
    }

    #[tokio::test]
    async fn custom_path_and_bodies() {
        let health = Health::default();
        let (mut ext, base) = started(&testdata("config_valid.yaml"), &health).await;
        let client = reqwest::Client::new();
        let r = client
            .get(format!("{base}/health/status"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.text().await.unwrap(), "I'm not well");
        health.set(HealthState::Ready);
        let r = client
            .get(format!("{base}/health/status"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "I'm OK");
        assert_eq!(
            client
                .get(format!("{base}/"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        ext.shutdown().await;
    }

    #[tokio::test]
    async fn serves_over_tls_and_names_bad_files_at_start() {
        let pki = ferrotel_testkit::pki::TestPki::new();
        let health = Health::default();
        health.set(HealthState::Ready);
        let yaml = format!(
            "{{endpoint: '127.0.0.1:0', tls: {{cert_file: '{}', key_file: '{}'}}}}",
            pki.path("server.crt"),
            pki.path("server.key")
        );
        let (mut ext, url) = started(&yaml, &health).await;
        let ca = reqwest::Certificate::from_pem(&pki.pem("ca.crt")).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(ca)
            .tls_built_in_root_certs(false)
            .build()
            .unwrap();
        let https = url.replace("http://127.0.0.1", "https://localhost");
        let r = client.get(format!("{https}/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        ext.shutdown().await;

        // Files are read at start: creating succeeds, starting names the key and the file.
        let mut ext =
            create("tls: {cert_file: /nonexistent/h.crt, key_file: /nonexistent/h.key}").unwrap();
        let e = ext
            .start(ExtensionContext::new(ComponentId::new("health_check")))
            .await
            .err()
            .unwrap();
        assert!(
            e.0.contains("tls.cert_file: failed to read \"/nonexistent/h.crt\""),
            "{e}"
        );
    }

    #[tokio::test]
    async fn port_in_use_is_a_start_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut ext = create(&format!("endpoint: {}", taken.local_addr().unwrap())).unwrap();
        let e = ext
            .start(ExtensionContext::new(ComponentId::new("health_check")))
            .await;
        assert!(e.is_err());
    }

    #[test]
    fn defaults() {
        let c = HealthCheckConfig::default();
        assert_eq!(c.endpoint, "localhost:13133");
        assert_eq!(c.path, "/");
        assert_eq!(
            c.check_collector_pipeline.interval,
            GoDuration::from_secs(300)
        );
        assert_eq!(c.check_collector_pipeline.exporter_failure_threshold, 5);
        assert!(create("").is_ok());
    }

    #[test]
    fn config_typo_names_the_key() {
        let e = create_err(&testdata("config_typo.yaml"));
        assert_eq!(e.0[0].path, "extensions.health_check.endpont", "{e}");
    }

    #[test]
    fn config_invalid_values() {
        let e = create_err(&testdata("config_invalid.yaml"));
        assert_eq!(e.0[0].path, "extensions.health_check.path");
        let e = create_err("tls: {cert_file: a}");
        assert_eq!(e.0[0].path, "extensions.health_check.tls");
        let e = create_err("check_collector_pipeline: {interval: often}");
        assert_eq!(
            e.0[0].path,
            "extensions.health_check.check_collector_pipeline.interval"
        );
    }
}
