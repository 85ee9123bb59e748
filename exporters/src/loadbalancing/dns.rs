//! The `dns` resolver of the `load_balancing` exporter, as otelcol's: every `interval` it looks
//! `hostname` up (A and AAAA records, or SRV records then their targets' addresses with `mode:
//! srv`), each address with `port` becomes a backend, and a changed answer rebuilds the ring.
//! A failed lookup keeps the backends in use and is logged and counted
//! (`otelcol_loadbalancer_num_resolutions{resolver="dns",success="false"}`); a first lookup that
//! fails does not stop the collector from starting, as in otelcol.
//!
//! Names are resolved with the system's configuration (`/etc/resolv.conf`, `/etc/hosts`) by an
//! in-process resolver with its cache off, so a membership change is seen at the next lookup.
//!
//! ```yaml
//! exporters:
//!   load_balancing:
//!     protocol:
//!       otlp: { tls: { insecure: true } }
//!     resolver:
//!       dns:
//!         hostname: ferrotel-sampler-headless.observability.svc.cluster.local
//!         port: "4317"        # a string, as in otelcol; backends get 4317 when empty
//!         interval: 5s
//!         timeout: 1s
//! ```

use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{GoDuration, Validate, Validator};
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// otelcol's resolution interval and timeout when they are not set (or zero).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// `resolver.dns`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsResolverConfig {
    /// The name to resolve, e.g. a Kubernetes headless service.
    pub hostname: String,
    /// The backends' port, a string as in otelcol (an int is a type error there too); empty:
    /// the addresses alone, which then get the default port 4317.
    pub port: String,
    /// Between lookups; 5s when zero.
    pub interval: GoDuration,
    /// Of one lookup; 1s when zero.
    pub timeout: GoDuration,
    /// `standard` (A/AAAA, the default) or `srv`.
    pub mode: Choice<DnsMode>,
}

/// `resolver.dns.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsMode {
    /// A and AAAA records of `hostname`, each with `port`.
    #[default]
    #[serde(alias = "")]
    Standard,
    /// SRV records of `hostname`: each target's addresses with the record's port.
    Srv,
}

impl Choices for DnsMode {}

impl Validate for DnsResolverConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.hostname.is_empty() {
            v.report_at("hostname", "no hostname specified to resolve the backends");
        }
        if !self.port.is_empty() && self.port.parse::<u16>().is_err() {
            v.report_at("port", format!("invalid port {:?}", self.port));
        }
        if let Some(mode) = self.mode.unknown() {
            v.report_at(
                "mode",
                format!("unsupported DNS resolve mode {mode:?}: expected \"standard\" or \"srv\""),
            );
        }
    }
}

impl DnsResolverConfig {
    pub fn interval(&self) -> Duration {
        non_zero_or(self.interval.0, DEFAULT_INTERVAL)
    }

    pub fn timeout(&self) -> Duration {
        non_zero_or(self.timeout.0, DEFAULT_TIMEOUT)
    }
}

fn non_zero_or(d: Duration, default: Duration) -> Duration {
    if d.is_zero() {
        default
    } else {
        d
    }
}

/// Looks the backends up.
pub struct DnsLookup {
    resolver: TokioResolver,
}

impl DnsLookup {
    /// A resolver with the system's name servers and hosts file.
    pub fn system() -> Result<DnsLookup, String> {
        let mut builder = TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?;
        let options = builder_options(builder.options_mut().clone());
        Ok(DnsLookup {
            resolver: builder.with_options(options).build(),
        })
    }

    /// A resolver asking only the name server at `server` (tests run one on loopback).
    pub fn with_server(server: SocketAddr) -> DnsLookup {
        let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
        let config = ResolverConfig::from_parts(None, vec![], servers);
        let resolver =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                .with_options(builder_options(ResolverOpts::default()))
                .build();
        DnsLookup { resolver }
    }

    /// The backends `cfg` names now, sorted (`ip:port`, `[ipv6]:port`), within `cfg.timeout`.
    pub async fn backends(&self, cfg: &DnsResolverConfig) -> Result<Vec<String>, String> {
        let lookup = async {
            match cfg.mode.known().unwrap_or_default() {
                DnsMode::Standard => self.standard(cfg).await,
                DnsMode::Srv => self.srv(cfg).await,
            }
        };
        let mut backends = tokio::time::timeout(cfg.timeout(), lookup)
            .await
            .map_err(|_| {
                format!(
                    "lookup of {:?} timed out after {}",
                    cfg.hostname,
                    GoDuration(cfg.timeout())
                )
            })??;
        backends.sort();
        backends.dedup();
        Ok(backends)
    }

    async fn standard(&self, cfg: &DnsResolverConfig) -> Result<Vec<String>, String> {
        let ips = self.ips(&cfg.hostname).await?;
        Ok(ips
            .into_iter()
            .map(|ip| with_port(ip, (!cfg.port.is_empty()).then_some(cfg.port.as_str())))
            .collect())
    }

    async fn srv(&self, cfg: &DnsResolverConfig) -> Result<Vec<String>, String> {
        let records = self
            .resolver
            .srv_lookup(cfg.hostname.as_str())
            .await
            .map_err(|e| format!("SRV lookup of {:?}: {e}", cfg.hostname))?;
        let mut backends = vec![];
        for srv in records.iter() {
            let target = srv.target().to_utf8();
            match self.ips(&target).await {
                Ok(ips) => backends.extend(
                    ips.into_iter()
                        .map(|ip| with_port(ip, Some(&srv.port().to_string()))),
                ),
                Err(e) => tracing::warn!("failed lookup of host for SRV target {target:?}: {e}"),
            }
        }
        Ok(backends)
    }

    async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let found = self
            .resolver
            .lookup_ip(host)
            .await
            .map_err(|e| format!("lookup of {host:?}: {e}"))?;
        Ok(found.iter().collect())
    }
}

/// No cache (a changed answer is seen at the next lookup), one attempt (the lookup has its own
/// timeout).
fn builder_options(mut options: ResolverOpts) -> ResolverOpts {
    options.cache_size = 0;
    options.attempts = 1;
    options.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6;
    options
}

/// `ip:port`, with brackets for IPv6; the address alone without a port.
fn with_port(ip: IpAddr, port: Option<&str>) -> String {
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}
