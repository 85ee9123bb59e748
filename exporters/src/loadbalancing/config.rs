//! The `loadbalancing` exporter's config and its validation, as otelcol's.
//!
//! ```yaml
//! exporters:
//!   loadbalancing:
//!     routing_key: attributes     # traceID, service, attributes, resource, metric or streamID
//!     routing_attributes: [tenant.id, span.kind]   # with `attributes` only
//!     protocol:
//!       otlp: { tls: { insecure: true } }
//!     resolver:                   # one of static, dns, k8s, aws_cloud_map
//!       static: { hostnames: [backend-1:4317, backend-2:4317] }
//! ```

use super::ring::Ring;
use super::{cloud_map, dns, k8s};
use crate::otlp::{endpoint_problem, OtlpConfig};
use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{decode, GoDuration, QueueConfig, RetryConfig, Validate, Validator, Value};
use serde::{Deserialize, Serialize};

/// The port otelcol adds to a static hostname without one.
pub(super) const DEFAULT_PORT: u16 = 4317;

/// `exporters.loadbalancing`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadBalancingConfig {
    /// What decides the backend (otelcol's keys): `traceID`, `service` (the resource's
    /// `service.name`), `attributes` (spans: `routing_attributes`), `resource`, `metric` (the
    /// metric name) or `streamID`; by default `traceID` for spans and logs, `service` for
    /// metrics.
    pub routing_key: Choice<RoutingKey>,
    /// The attributes whose values make the composite key of `routing_key: attributes`, in
    /// order; each looked up on the resource, then the scope, then the span (`span.kind` and
    /// `span.name` are the span's kind and name). Ignored with the other keys.
    pub routing_attributes: Vec<String>,
    /// How to reach the backends.
    pub protocol: ProtocolConfig,
    /// Where the list of backends comes from.
    pub resolver: ResolverConfig,
    /// Timeout of a whole export (all backends); none by default, each backend's request being
    /// bounded by `protocol.otlp.timeout`.
    pub timeout: Option<GoDuration>,
    /// Retries of the exporter; `protocol.otlp.retry_on_failure` when not given.
    pub retry_on_failure: Option<RetryConfig>,
    /// Queue of the exporter; `protocol.otlp.sending_queue` when not given.
    pub sending_queue: Option<QueueConfig>,
}

impl Default for LoadBalancingConfig {
    fn default() -> Self {
        LoadBalancingConfig {
            routing_key: Choice::Known(RoutingKey::Unset),
            routing_attributes: vec![],
            protocol: ProtocolConfig::default(),
            resolver: ResolverConfig::default(),
            timeout: None,
            retry_on_failure: None,
            sending_queue: None,
        }
    }
}

/// `protocol`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolConfig {
    /// The `otlp` exporter settings used for every backend (`endpoint` is replaced by the
    /// backend's). Kept as written and decoded on its own, so that its errors are reported
    /// along with the rest of the config's.
    pub otlp: Value,
}

/// `resolver`: exactly one of its keys.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverConfig {
    /// A fixed list of backends.
    #[serde(rename = "static")]
    pub static_: Option<StaticResolverConfig>,
    /// Backends from DNS records of a name.
    pub dns: Option<dns::DnsResolverConfig>,
    /// Backends from a Kubernetes service's EndpointSlices.
    pub k8s: Option<k8s::K8sResolverConfig>,
    /// Backends from AWS Cloud Map's `DiscoverInstances`.
    pub aws_cloud_map: Option<cloud_map::CloudMapResolverConfig>,
}

/// `resolver.static`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticResolverConfig {
    /// `host:port` of each backend (port 4317 when missing).
    pub hostnames: Vec<String>,
}

/// What decides the backend of an item (otelcol's spellings; which key applies to which
/// signal: [`super::split::key_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum RoutingKey {
    /// Not given (otelcol's zero value `""`): the signal's default.
    #[serde(rename = "")]
    Unset,
    /// The trace id (spans, logs).
    #[serde(rename = "traceID")]
    TraceId,
    /// The resource's `service.name` (spans, logs, metrics).
    #[serde(rename = "service")]
    Service,
    /// The whole resource: its attributes (logs, metrics).
    #[serde(rename = "resource")]
    Resource,
    /// The metric name (metrics).
    #[serde(rename = "metric")]
    Metric,
    /// The data point's stream: resource, scope, metric identity and point attributes
    /// (metrics).
    #[serde(rename = "streamID")]
    StreamId,
    /// The values of `routing_attributes` (spans).
    #[serde(rename = "attributes")]
    Attributes,
}

impl Choices for RoutingKey {}

impl RoutingKey {
    /// otelcol's spelling.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            RoutingKey::Unset => "",
            RoutingKey::TraceId => "traceID",
            RoutingKey::Service => "service",
            RoutingKey::Resource => "resource",
            RoutingKey::Metric => "metric",
            RoutingKey::StreamId => "streamID",
            RoutingKey::Attributes => "attributes",
        }
    }
}

/// `host:port`, with otelcol's default port when there is none.
pub(super) fn with_default_port(host: &str) -> String {
    let has_port = match host.rsplit_once(':') {
        Some((h, p)) => {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        host.to_string()
    } else {
        format!("{host}:{DEFAULT_PORT}")
    }
}

/// `protocol.otlp` with `endpoint` set.
fn otlp_value(otlp: &Value, endpoint: &str) -> Value {
    let mut v = if otlp.is_null() {
        Value::Mapping(Default::default())
    } else {
        otlp.clone()
    };
    if let Value::Mapping(m) = &mut v {
        m.insert("endpoint".into(), endpoint.into());
    }
    v
}

/// The `otlp` settings for every backend, with the placeholder endpoint they are checked
/// with (each backend's endpoint is checked apart); decoding errors are reported under
/// `protocol.otlp` of the config `v` is at.
pub(super) fn otlp_settings(v: &mut Validator<'_>, otlp: &Value) -> Option<OtlpConfig> {
    const PLACEHOLDER: &str = "placeholder:4317";
    let mut at = v.at("protocol.otlp");
    match decode::<OtlpConfig>(at.path(), &otlp_value(otlp, PLACEHOLDER)) {
        Ok(cfg) => Some(cfg),
        Err(e) => {
            at.extend(e);
            None
        }
    }
}

/// The backends' `host:port`, each with the default port when it has none.
pub(super) fn hostnames(cfg: &ResolverConfig) -> Vec<String> {
    cfg.static_
        .iter()
        .flat_map(|st| &st.hostnames)
        .map(|h| with_default_port(h.trim()))
        .collect()
}

impl ResolverConfig {
    /// otelcol's rules: exactly one resolver, each with what it needs.
    fn validate_at(&self, v: &mut Validator<'_>) {
        let chosen = [
            self.static_.is_some(),
            self.dns.is_some(),
            self.k8s.is_some(),
            self.aws_cloud_map.is_some(),
        ];
        match chosen.iter().filter(|c| **c).count() {
            0 => v.report_at("resolver", "no resolvers specified for the exporter"),
            1 => {}
            _ => v.report_at("resolver", "only one resolver should be specified"),
        }
        if let Some(st) = &self.static_ {
            if st.hostnames.is_empty() {
                v.report_at(
                    "resolver.static.hostnames",
                    "no endpoints specified for the static resolver",
                );
            }
            for (i, h) in st.hostnames.iter().enumerate() {
                if h.trim().is_empty() {
                    // Named as decoding errors name a list entry.
                    v.report_at(
                        format_args!("resolver.static.hostnames[{i}]"),
                        "empty hostname",
                    );
                }
            }
        }
        v.check("resolver.dns", &self.dns);
        v.check("resolver.k8s", &self.k8s);
        v.check("resolver.aws_cloud_map", &self.aws_cloud_map);
    }
}

impl Validate for LoadBalancingConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        match &self.routing_key {
            Choice::Known(_) => {}
            Choice::Unknown(spelling) => {
                v.report_at(
                    "routing_key",
                    format!(
                        "unsupported routing_key {spelling:?}: ferrotel supports \"traceID\", \"service\", \"attributes\", \"resource\", \"metric\" and \"streamID\""
                    ),
                );
            }
        }
        self.resolver.validate_at(v);
        // The otlp settings are checked once, with a placeholder endpoint, as the otlp
        // exporter checks them (their extensions are recorded there too); then each
        // backend's endpoint.
        if let Some(otlp) = otlp_settings(v, &self.protocol.otlp) {
            v.check("protocol.otlp", &otlp);
            let insecure = otlp.tls.insecure;
            for endpoint in Ring::new(&hostnames(&self.resolver)).endpoints() {
                if let Some(problem) = endpoint_problem(endpoint, insecure) {
                    v.report_at(
                        "resolver.static.hostnames",
                        format!("{endpoint:?}: {problem}"),
                    );
                }
            }
        }
        v.check("retry_on_failure", &self.retry_on_failure);
        v.check("sending_queue", &self.sending_queue);
    }
}
