//! The `aws_cloud_map` resolver of the `load_balancing` exporter, as otelcol's: every `interval`
//! it asks AWS Cloud Map's `DiscoverInstances` for the instances of `service_name` in
//! `namespace` with the wanted `health_status`, and each instance's `AWS_INSTANCE_IPV4` with
//! `port` (else the instance's `AWS_INSTANCE_PORT`) becomes a backend. A failed call keeps the
//! backends in use and is logged and counted, as with the `dns` resolver.
//!
//! Requests are signed with SigV4 (the `aws-sigv4` crate). Region: `AWS_REGION`, else
//! `AWS_DEFAULT_REGION`. Credentials, in the order of the AWS SDKs' default chain: the
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` variables, then the ECS
//! task role (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`, with
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`). Shared config files, web identity and the EC2 instance
//! metadata service are not read (yet): give the task role or the variables. The endpoint is
//! `https://data-servicediscovery.<region>.amazonaws.com`, or `AWS_ENDPOINT_URL_SERVICEDISCOVERY`
//! / `AWS_ENDPOINT_URL` as the SDKs honour them.
//!
//! ```yaml
//! exporters:
//!   load_balancing:
//!     protocol:
//!       otlp: { tls: { insecure: true } }
//!     resolver:
//!       aws_cloud_map:
//!         namespace: observability.local
//!         service_name: sampler
//!         health_status: HEALTHY     # UNHEALTHY, ALL, HEALTHY_OR_ELSE_ALL
//!         port: 4317                 # else each instance's AWS_INSTANCE_PORT
//!         interval: 30s
//!         timeout: 5s
//! ```

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{GoDuration, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// otelcol's interval and timeout when they are not set (or zero).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Where ECS serves a task role's credentials.
const ECS_CREDENTIALS_HOST: &str = "http://169.254.170.2";

/// `resolver.aws_cloud_map`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudMapResolverConfig {
    pub namespace: String,
    pub service_name: String,
    /// Which instances: `HEALTHY` (default), `UNHEALTHY`, `ALL`, `HEALTHY_OR_ELSE_ALL`.
    pub health_status: Choice<HealthStatus>,
    /// The backends' port; each instance's `AWS_INSTANCE_PORT` when absent.
    pub port: Option<u16>,
    /// Between calls; 30s when zero.
    pub interval: GoDuration,
    /// Of one call; 5s when zero.
    pub timeout: GoDuration,
}

/// `resolver.aws_cloud_map.health_status`, Cloud Map's `HealthStatus` filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum HealthStatus {
    #[default]
    #[serde(rename = "HEALTHY", alias = "")]
    Healthy,
    #[serde(rename = "UNHEALTHY")]
    Unhealthy,
    #[serde(rename = "ALL")]
    All,
    #[serde(rename = "HEALTHY_OR_ELSE_ALL")]
    HealthyOrElseAll,
}

impl Choices for HealthStatus {}

impl Validate for CloudMapResolverConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.namespace.is_empty() {
            v.report_at(
                "namespace",
                "no namespace specified to resolve the backends",
            );
        }
        if self.service_name.is_empty() {
            v.report_at(
                "service_name",
                "no service_name specified to resolve the backends",
            );
        }
        if let Some(status) = self.health_status.unknown() {
            v.report_at(
                "health_status",
                format!("unsupported health_status {status:?}: expected HEALTHY, UNHEALTHY, ALL or HEALTHY_OR_ELSE_ALL"),
            );
        }
    }
}

impl CloudMapResolverConfig {
    pub fn interval(&self) -> Duration {
        if self.interval.0.is_zero() {
            DEFAULT_INTERVAL
        } else {
            self.interval.0
        }
    }

    fn timeout(&self) -> Duration {
        if self.timeout.0.is_zero() {
            DEFAULT_TIMEOUT
        } else {
            self.timeout.0
        }
    }
}

/// Reads an environment variable (the process environment in the collector).
type Env = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Calls `DiscoverInstances`.
pub struct CloudMapLookup {
    http: reqwest::Client,
    env: Env,
}

impl CloudMapLookup {
    /// A client reading the region, credentials and endpoint from `env` (the process
    /// environment in the collector).
    pub fn new(env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> CloudMapLookup {
        CloudMapLookup {
            http: reqwest::Client::new(),
            env: Box::new(env),
        }
    }

    /// The backends `cfg` names now, sorted.
    pub async fn backends(&self, cfg: &CloudMapResolverConfig) -> Result<Vec<String>, String> {
        let call = self.discover(cfg);
        let instances = tokio::time::timeout(cfg.timeout(), call)
            .await
            .map_err(|_| {
                format!(
                    "DiscoverInstances timed out after {}",
                    GoDuration(cfg.timeout())
                )
            })??;
        let mut backends: Vec<String> = instances
            .iter()
            .filter_map(|attributes| endpoint(attributes, cfg.port))
            .collect();
        backends.sort();
        backends.dedup();
        Ok(backends)
    }

    /// The attributes of every instance Cloud Map returns.
    async fn discover(
        &self,
        cfg: &CloudMapResolverConfig,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
        let region = self
            .var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
            .ok_or("no AWS region: set AWS_REGION")?;
        let credentials = self.credentials().await?;
        let url = self
            .var("AWS_ENDPOINT_URL_SERVICEDISCOVERY")
            .or_else(|| self.var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://data-servicediscovery.{region}.amazonaws.com"));
        let status = cfg.health_status.known().unwrap_or_default();
        let body = serde_json::json!({
            "NamespaceName": cfg.namespace,
            "ServiceName": cfg.service_name,
            "HealthStatus": status,
        })
        .to_string();
        let request = signed_request(&url, &region, &credentials, body)?;
        let response = self
            .http
            .execute(reqwest::Request::try_from(request).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| format!("DiscoverInstances: {e}"))?;
        let code = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("DiscoverInstances: {e}"))?;
        if !code.is_success() {
            return Err(format!("DiscoverInstances: HTTP {code}: {text}"));
        }
        let parsed: DiscoverInstancesOutput = serde_json::from_str(&text)
            .map_err(|e| format!("DiscoverInstances: bad response: {e}"))?;
        Ok(parsed.instances.into_iter().map(|i| i.attributes).collect())
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    /// The environment's keys, else the ECS task role's.
    async fn credentials(&self) -> Result<Credentials, String> {
        if let (Some(id), Some(secret)) = (
            self.var("AWS_ACCESS_KEY_ID"),
            self.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            let token = self.var("AWS_SESSION_TOKEN");
            return Ok(Credentials::new(id, secret, token, None, "environment"));
        }
        let uri = match (
            self.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            self.var("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        ) {
            (Some(relative), _) => format!("{ECS_CREDENTIALS_HOST}{relative}"),
            (None, Some(full)) => full,
            (None, None) => {
                return Err("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an ECS task role".into())
            }
        };
        let mut request = self.http.get(&uri);
        if let Some(token) = self.var("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            request = request.header("Authorization", token);
        }
        let fail = |e: &dyn std::fmt::Display| format!("ECS task role credentials from {uri}: {e}");
        let body = request
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| fail(&e))?
            .bytes()
            .await
            .map_err(|e| fail(&e))?;
        let role: RoleCredentials = serde_json::from_slice(&body).map_err(|e| fail(&e))?;
        Ok(Credentials::new(
            role.access_key_id,
            role.secret_access_key,
            role.token,
            None,
            "ecs",
        ))
    }
}

/// A `DiscoverInstances` POST (AWS JSON 1.1), signed for `servicediscovery` in `region`.
fn signed_request(
    url: &str,
    region: &str,
    credentials: &Credentials,
    body: String,
) -> Result<http::Request<String>, String> {
    let mut request = http::Request::post(url)
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            "Route53AutoNaming_v20170314.DiscoverInstances",
        )
        .body(body)
        .map_err(|e| format!("invalid Cloud Map endpoint {url:?}: {e}"))?;
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("servicediscovery")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigV4: {e}"))?
        .into();
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")));
    let signable = SignableRequest::new(
        "POST",
        url,
        headers,
        SignableBody::Bytes(request.body().as_bytes()),
    )
    .map_err(|e| format!("SigV4: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("SigV4: {e}"))?
        .into_parts();
    instructions.apply_to_request_http1x(&mut request);
    Ok(request)
}

/// `ip:port` of an instance: its IPv4 address with the configured port, else its own.
fn endpoint(
    attributes: &serde_json::Map<String, serde_json::Value>,
    port: Option<u16>,
) -> Option<String> {
    let ip = attributes.get("AWS_INSTANCE_IPV4")?.as_str()?;
    let port = match port {
        Some(p) => p.to_string(),
        None => attributes.get("AWS_INSTANCE_PORT")?.as_str()?.to_string(),
    };
    Some(format!("{ip}:{port}"))
}

#[derive(Deserialize)]
struct DiscoverInstancesOutput {
    #[serde(rename = "Instances", default)]
    instances: Vec<Instance>,
}

#[derive(Deserialize)]
struct Instance {
    #[serde(rename = "Attributes", default)]
    attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RoleCredentials {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    #[serde(rename = "Token")]
    token: Option<String>,
}
