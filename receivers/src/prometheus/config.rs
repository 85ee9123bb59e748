//! The `prometheus` receiver's configuration: otelcol's receiver keys plus `config:`, which is
//! Prometheus's own configuration format (`global` and `scrape_configs`). As in otelcol, a `$`
//! in this section must be written `$$` (the collector's config loader expands `$`), e.g. a
//! relabel replacement `$$1`.
//!
//! ```yaml
//! receivers:
//!   prometheus:
//!     trim_metric_suffixes: false
//!     config:
//!       global:
//!         scrape_interval: 30s
//!         external_labels: { cluster: eu-1 }
//!       scrape_configs:
//!         - job_name: otel-collector
//!           scrape_interval: 10s
//!           static_configs:
//!             - targets: ['0.0.0.0:8888']
//!               labels: { team: platform }
//!           metric_relabel_configs:
//!             - source_labels: [__name__]
//!               regex: 'go_.*'
//!               action: drop
//!         - job_name: files
//!           file_sd_configs:
//!             - files: ['/etc/targets/*.json']
//!               refresh_interval: 1m
//! ```

use super::relabel::{Relabel, RelabelConfig};
use ferrotel_config::{Validate, Validator, Value};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// otelcol's default `start_time_metric_regex`.
pub const DEFAULT_START_TIME_METRIC_REGEX: &str = "^(.+_)*process_start_time_seconds$";

/// The `prometheus` receiver.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// Prometheus's configuration (required: otelcol refuses a receiver without scrape configs).
    pub config: Option<PromConfig>,
    /// Remove `_total`, unit and type suffixes from metric names.
    pub trim_metric_suffixes: bool,
    /// Take counters' start time from the `process_start_time_seconds` gauge of the target.
    pub use_start_time_metric: bool,
    /// Which gauge `use_start_time_metric` reads (default `^(.+_)*process_start_time_seconds$`).
    pub start_time_metric_regex: String,
    /// Also report `scrape_body_size_bytes`, `scrape_sample_limit`, `scrape_timeout_seconds`.
    pub report_extra_scrape_metrics: bool,
    /// Not supported by ferrotel: refused.
    pub target_allocator: Option<Value>,
    /// Not supported by ferrotel: refused when enabled.
    pub api_server: Option<Value>,
}

/// Prometheus's configuration file format, the parts a scraper uses.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PromConfig {
    pub global: GlobalConfig,
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Files (the last path element may be a glob) each holding more `scrape_configs`.
    pub scrape_config_files: Vec<String>,
    /// Refused, as otelcol refuses them ("unsupported features").
    pub rule_files: Vec<String>,
    pub remote_write: Vec<Value>,
    pub remote_read: Vec<Value>,
    pub alerting: Option<Value>,
    /// Accepted and unused, as in otelcol (Prometheus's TSDB settings).
    pub storage: Option<Value>,
    pub runtime: Option<Value>,
    pub tracing: Option<Value>,
    pub otlp: Option<Value>,
}

/// `global:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    pub scrape_interval: PromDuration,
    pub scrape_timeout: PromDuration,
    /// Unused by a scraper (no rules).
    pub evaluation_interval: PromDuration,
    pub rule_query_offset: Option<PromDuration>,
    /// Added to every sample that does not have the label already.
    pub external_labels: BTreeMap<String, String>,
    pub body_size_limit: ByteLimit,
    pub sample_limit: u64,
    pub target_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub scrape_protocols: Option<Vec<String>>,
    pub query_log_file: Option<String>,
    pub scrape_failure_log_file: Option<String>,
    pub metric_name_validation_scheme: Option<String>,
    pub metric_name_escaping_scheme: Option<String>,
    pub keep_dropped_targets: u64,
    pub always_scrape_classic_histograms: Option<bool>,
    pub convert_classic_histograms_to_nhcb: Option<bool>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration(Duration::from_secs(60)),
            scrape_timeout: PromDuration(Duration::from_secs(10)),
            evaluation_interval: PromDuration(Duration::from_secs(60)),
            rule_query_offset: None,
            external_labels: BTreeMap::new(),
            body_size_limit: ByteLimit(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            scrape_protocols: None,
            query_log_file: None,
            scrape_failure_log_file: None,
            metric_name_validation_scheme: None,
            metric_name_escaping_scheme: None,
            keep_dropped_targets: 0,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
        }
    }
}

/// Prometheus's service discovery mechanisms ferrotel does not implement: each is refused
/// with an error naming it.
pub const UNSUPPORTED_SD: &[&str] = &[
    "azure_sd_configs",
    "consul_sd_configs",
    "digitalocean_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "dns_sd_configs",
    "ec2_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "http_sd_configs",
    "ionos_sd_configs",
    "kubernetes_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "openstack_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "stackit_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
];

/// Keys of a scrape config that ferrotel does not implement (refused when set).
const UNSUPPORTED_SCRAPE_KEYS: &[&str] = &[
    "oauth2",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "bearer_token",
    "bearer_token_file",
    "scrape_classic_histograms",
    "always_scrape_classic_histograms",
    "convert_classic_histograms_to_nhcb",
    "native_histogram_bucket_limit",
    "native_histogram_min_bucket_factor",
    "track_timestamps_staleness",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "target_limit",
    "keep_dropped_targets",
    "http_headers",
    "scrape_failure_log_file",
];

/// One `scrape_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub scrape_interval: Option<PromDuration>,
    pub scrape_timeout: Option<PromDuration>,
    pub scrape_protocols: Option<Vec<String>>,
    pub fallback_scrape_protocol: Option<String>,
    pub metrics_path: String,
    pub scheme: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub enable_compression: bool,
    pub follow_redirects: bool,
    pub enable_http2: bool,
    pub body_size_limit: Option<ByteLimit>,
    pub sample_limit: Option<u64>,
    pub label_limit: Option<u64>,
    pub label_name_length_limit: Option<u64>,
    pub label_value_length_limit: Option<u64>,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub tls_config: Option<PromTls>,
    pub static_configs: Vec<StaticConfig>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// Every other key: an unsupported one (refused by name) or an unknown one (refused).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        ScrapeConfig {
            job_name: String::new(),
            honor_labels: false,
            honor_timestamps: true,
            scrape_interval: None,
            scrape_timeout: None,
            scrape_protocols: None,
            fallback_scrape_protocol: None,
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: BTreeMap::new(),
            enable_compression: true,
            follow_redirects: true,
            enable_http2: true,
            body_size_limit: None,
            sample_limit: None,
            label_limit: None,
            label_name_length_limit: None,
            label_value_length_limit: None,
            basic_auth: None,
            authorization: None,
            tls_config: None,
            static_configs: vec![],
            file_sd_configs: vec![],
            relabel_configs: vec![],
            metric_relabel_configs: vec![],
            other: BTreeMap::new(),
        }
    }
}

/// `static_configs` entry (also the format of `file_sd_configs` files).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSdConfig {
    /// Paths, the last element may be a glob (`*.json`, `*.yml`, `*.yaml`).
    pub files: Vec<String>,
    pub refresh_interval: PromDuration,
}

impl Default for FileSdConfig {
    fn default() -> Self {
        FileSdConfig {
            files: vec![],
            refresh_interval: PromDuration(Duration::from_secs(300)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    pub username: String,
    pub username_file: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: String,
    pub credentials: Option<String>,
    pub credentials_file: Option<String>,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            kind: "Bearer".into(),
            credentials: None,
            credentials_file: None,
        }
    }
}

/// Prometheus's `tls_config`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PromTls {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
}

impl PromTls {
    /// The collector's TLS client settings for the same files.
    pub fn to_client(&self) -> ferrotel_config::TlsClientConfig {
        ferrotel_config::TlsClientConfig {
            insecure: false,
            insecure_skip_verify: self.insecure_skip_verify,
            ca_file: self.ca_file.clone(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            server_name_override: self.server_name.clone(),
            min_version: self.min_version.as_deref().map(tls_version),
            max_version: self.max_version.as_deref().map(tls_version),
            ..Default::default()
        }
    }
}

/// Prometheus spells versions `TLS12`; the collector `1.2`.
fn tls_version(v: &str) -> String {
    match v {
        "TLS10" => "1.0".into(),
        "TLS11" => "1.1".into(),
        "TLS12" => "1.2".into(),
        "TLS13" => "1.3".into(),
        o => o.into(),
    }
}

/// A Prometheus duration: `1h30m`, `10s`, `500ms`, `1d`, `1w`, `1y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Parses Prometheus's syntax (integers, units y w d h m s ms, largest first).
    pub fn parse(s: &str) -> Result<PromDuration, String> {
        let bad = || format!("not a valid duration string: {s:?}");
        if s == "0" {
            return Ok(PromDuration(Duration::ZERO));
        }
        let units: [(&str, u64); 7] = [
            ("y", 365 * 86_400_000),
            ("w", 7 * 86_400_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ];
        let (mut rest, mut ms, mut next_unit) = (s, 0u64, 0usize);
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let ulen = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..ulen];
            rest = &rest[ulen..];
            let i = units[next_unit..]
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or_else(bad)?;
            let factor = units[next_unit + i].1;
            next_unit += i + 1;
            ms = n
                .checked_mul(factor)
                .and_then(|v| v.checked_add(ms))
                .ok_or_else(bad)?;
        }
        Ok(PromDuration(Duration::from_millis(ms)))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A byte size as Prometheus writes `body_size_limit`: `0` (no limit), `1024`, `10MB`, `1GiB`
/// (KB, MB, GB, TB are powers of 1024, as in Prometheus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ByteLimit(pub u64);

impl ByteLimit {
    pub fn parse(s: &str) -> Result<ByteLimit, String> {
        let s = s.trim();
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let n: u64 = s[..digits]
            .parse()
            .map_err(|_| format!("invalid size {s:?}"))?;
        let factor: u64 = match &s[digits..] {
            "" | "B" => 1,
            "KB" | "KiB" => 1 << 10,
            "MB" | "MiB" => 1 << 20,
            "GB" | "GiB" => 1 << 30,
            "TB" | "TiB" => 1 << 40,
            "PB" | "PiB" => 1 << 50,
            u => return Err(format!("invalid size {s:?}: unknown unit {u:?}")),
        };
        n.checked_mul(factor)
            .map(ByteLimit)
            .ok_or_else(|| format!("invalid size {s:?}: too large"))
    }
}

impl<'de> Deserialize<'de> for ByteLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .map(ByteLimit)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid size {n}"))),
            Value::String(s) => ByteLimit::parse(&s).map_err(serde::de::Error::custom),
            o => Err(serde::de::Error::custom(format!("invalid size {o:?}"))),
        }
    }
}

/// A scrape config with the globals applied and its relabel steps compiled.
#[derive(Debug, Clone)]
pub struct Job {
    pub cfg: ScrapeConfig,
    pub interval: Duration,
    pub timeout: Duration,
    pub body_size_limit: u64,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub relabel: Vec<Relabel>,
    pub metric_relabel: Vec<Relabel>,
    pub external_labels: Vec<(String, String)>,
    pub protocols: Vec<String>,
}

/// The protocols Prometheus asks for by default, most preferred first.
pub const DEFAULT_PROTOCOLS: &[&str] = &[
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];
const KNOWN_PROTOCOLS: &[&str] = &[
    "PrometheusProto",
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

impl ScrapeConfig {
    /// Applies `global`'s defaults as Prometheus does (a timeout above the interval is an
    /// error; an unset timeout is the global one, capped at the interval).
    pub fn resolve(&self, g: &GlobalConfig) -> Result<Job, String> {
        let interval = self.scrape_interval.unwrap_or(g.scrape_interval).0;
        let timeout = match self.scrape_timeout {
            Some(t) => t.0,
            None => g.scrape_timeout.0.min(interval),
        };
        if timeout > interval {
            return Err(format!(
                "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                self.job_name
            ));
        }
        if interval.is_zero() {
            return Err("scrape_interval must be above zero".into());
        }
        let compile = |list: &[RelabelConfig]| {
            list.iter()
                .map(RelabelConfig::compile)
                .collect::<Result<Vec<_>, _>>()
        };
        let protocols = self
            .scrape_protocols
            .clone()
            .or_else(|| g.scrape_protocols.clone())
            .unwrap_or_else(|| DEFAULT_PROTOCOLS.iter().map(|s| s.to_string()).collect());
        Ok(Job {
            interval,
            timeout,
            body_size_limit: self.body_size_limit.unwrap_or(g.body_size_limit).0,
            sample_limit: self.sample_limit.unwrap_or(g.sample_limit),
            label_limit: self.label_limit.unwrap_or(g.label_limit),
            label_name_length_limit: self
                .label_name_length_limit
                .unwrap_or(g.label_name_length_limit),
            label_value_length_limit: self
                .label_value_length_limit
                .unwrap_or(g.label_value_length_limit),
            relabel: compile(&self.relabel_configs)?,
            metric_relabel: compile(&self.metric_relabel_configs)?,
            external_labels: g
                .external_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            protocols,
            cfg: self.clone(),
        })
    }

    fn validate_keys(&self, v: &mut Validator<'_>) {
        for key in self.other.keys() {
            let msg = if UNSUPPORTED_SD.contains(&key.as_str()) {
                "this service discovery is not supported by ferrotel (supported: static_configs, file_sd_configs)".to_string()
            } else if UNSUPPORTED_SCRAPE_KEYS.contains(&key.as_str()) {
                "not supported by ferrotel".to_string()
            } else {
                format!("field {key} not found in type config.ScrapeConfig")
            };
            v.report_at(key, msg);
        }
        if !matches!(self.scheme.as_str(), "http" | "https") {
            v.report_at("scheme", format!("unknown scrape scheme {:?}", self.scheme));
        }
        for p in self.scrape_protocols.iter().flatten() {
            if !KNOWN_PROTOCOLS.contains(&p.as_str()) {
                v.report_at("scrape_protocols", format!("unknown scrape protocol {p:?}"));
            } else if p == "PrometheusProto" {
                v.report_at(
                    "scrape_protocols",
                    "PrometheusProto (native histograms) is not supported by ferrotel",
                );
            }
        }
        if self.basic_auth.is_some() && self.authorization.is_some() {
            v.report("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
        }
        if let Some(t) = &self.tls_config {
            let c = t.to_client();
            v.check("tls_config", &c);
            if t.cert_file.is_some() != t.key_file.is_some() {
                v.report_at(
                    "tls_config",
                    "client cert file and client key file must both be specified",
                );
            }
        }
    }

    /// otelcol's checks that the files a scrape config names exist.
    fn check_files(&self, v: &mut Validator<'_>) {
        let missing = |f: &Option<String>| {
            f.as_deref()
                .filter(|p| !p.is_empty())
                .and_then(|p| std::fs::metadata(p).err().map(|e| (p.to_string(), e)))
        };
        if let Some(a) = &self.authorization {
            if let Some((p, e)) = missing(&a.credentials_file) {
                v.report_at(
                    "authorization.credentials_file",
                    format!("error checking authorization credentials file {p:?}: {e}"),
                );
            }
        }
        if let Some(t) = &self.tls_config {
            if let Some((p, e)) = missing(&t.cert_file) {
                v.report_at(
                    "tls_config.cert_file",
                    format!("error checking client cert file {p:?}: {e}"),
                );
            }
            if let Some((p, e)) = missing(&t.key_file) {
                v.report_at(
                    "tls_config.key_file",
                    format!("error checking client key file {p:?}: {e}"),
                );
            }
        }
    }

    fn validate_targets(&self, v: &mut Validator<'_>) {
        for (i, sc) in self.static_configs.iter().enumerate() {
            for t in &sc.targets {
                if t.contains('/') {
                    v.at("static_configs")
                        .item(i)
                        .report_at("targets", format!("{t:?} is not a valid hostname"));
                }
            }
        }
        for (i, f) in self.file_sd_configs.iter().enumerate() {
            let mut v = v.at("file_sd_configs");
            let mut v = v.item(i);
            for file in &f.files {
                if let Err(e) = super::discovery::check_pattern(file) {
                    v.report_at("files", e);
                }
            }
        }
    }
}

impl Validate for PrometheusConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.target_allocator.is_some() {
            v.report_at(
                "target_allocator",
                "the target allocator is not supported by ferrotel",
            );
        }
        if let Some(api) = &self.api_server {
            if api.get("enabled").and_then(Value::as_bool) == Some(true) {
                v.report_at("api_server", "the API server is not supported by ferrotel");
            }
        }
        if !self.start_time_metric_regex.is_empty() {
            if let Err(e) = regex::Regex::new(&self.start_time_metric_regex) {
                v.report_at("start_time_metric_regex", e.to_string());
            }
        }
        match &self.config {
            None => v.report_at(
                "config",
                "no Prometheus scrape_configs or target_allocator set",
            ),
            Some(c) => c.validate(&mut v.at("config")),
        }
    }
}

/// A `scrape_config_files` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeConfigFile {
    #[serde(default)]
    scrape_configs: Vec<ScrapeConfig>,
}

impl PromConfig {
    /// The scrape configs of the `scrape_config_files` (read now), with their file's path.
    pub fn file_scrape_configs(&self) -> Result<Vec<(String, ScrapeConfig)>, String> {
        let mut out = vec![];
        for pattern in &self.scrape_config_files {
            if pattern
                .rsplit_once('/')
                .map_or(pattern.as_str(), |(d, _)| d)
                .contains('*')
            {
                return Err(format!("{pattern:?}: only the file name may be a glob"));
            }
            for path in super::discovery::expand(pattern) {
                if !std::path::Path::new(&path).exists() {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                let f: ScrapeConfigFile =
                    serde_yaml_ng::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
                out.extend(f.scrape_configs.into_iter().map(|sc| (path.clone(), sc)));
            }
        }
        Ok(out)
    }

    /// Every scrape config: those inline, then those of the files.
    pub fn all_scrape_configs(&self) -> Result<Vec<ScrapeConfig>, String> {
        let mut out = self.scrape_configs.clone();
        out.extend(self.file_scrape_configs()?.into_iter().map(|(_, sc)| sc));
        Ok(out)
    }
}

impl Validate for PromConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.scrape_configs.is_empty() && self.scrape_config_files.is_empty() {
            v.report("no Prometheus scrape_configs or target_allocator set");
        }
        let mut unsupported = vec![];
        if !self.remote_write.is_empty() {
            unsupported.push("remote_write");
        }
        if !self.remote_read.is_empty() {
            unsupported.push("remote_read");
        }
        if !self.rule_files.is_empty() {
            unsupported.push("rule_files");
        }
        if self.alerting.is_some() {
            unsupported.push("alerting");
        }
        if !unsupported.is_empty() {
            v.report(format!(
                "unsupported features:\n\t{}",
                unsupported.join("\n\t")
            ));
        }
        let from_files = self.file_scrape_configs().unwrap_or_else(|e| {
            v.report_at("scrape_config_files", e);
            vec![]
        });
        let g = &self.global;
        if g.scrape_timeout.0 > g.scrape_interval.0 {
            v.report_at(
                "global",
                "global scrape timeout greater than scrape interval",
            );
        }
        let mut seen = std::collections::HashSet::new();
        let inline = self
            .scrape_configs
            .iter()
            .enumerate()
            .map(|(i, sc)| (format!("scrape_configs[{i}]"), sc));
        let files = from_files
            .iter()
            .map(|(path, sc)| (format!("scrape_config_files({path})"), sc));
        for (at, sc) in inline.chain(files) {
            let mut v = v.at(at);
            if sc.job_name.is_empty() {
                v.report_at("job_name", "job_name is empty");
            } else if !seen.insert(sc.job_name.as_str()) {
                v.report_at(
                    "job_name",
                    format!(
                        "found multiple scrape configs with job name {:?}",
                        sc.job_name
                    ),
                );
            }
            sc.validate_keys(&mut v);
            sc.validate_targets(&mut v);
            if let Err(e) = sc.resolve(g) {
                v.report(e);
            }
            sc.check_files(&mut v);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::{decode_valid, ConfigErrors};

    fn load(yaml: &str) -> Result<PrometheusConfig, ConfigErrors> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        decode_valid::<PrometheusConfig>("receivers.prometheus", &v).map(|(c, _)| c)
    }

    #[test]
    fn durations_and_sizes_in_prometheus_syntax() {
        assert_eq!(
            PromDuration::parse("1m").unwrap().0,
            Duration::from_secs(60)
        );
        assert_eq!(
            PromDuration::parse("1h30m15s500ms").unwrap().0,
            Duration::from_millis(5_415_500)
        );
        assert_eq!(
            PromDuration::parse("1d").unwrap().0,
            Duration::from_secs(86_400)
        );
        assert!(PromDuration::parse("1.5s").is_err());
        assert!(PromDuration::parse("30s1m").is_err());
        assert!(PromDuration::parse("").is_err());
        assert_eq!(ByteLimit::parse("10MB").unwrap().0, 10 << 20);
        assert_eq!(ByteLimit::parse("1KiB").unwrap().0, 1024);
        assert!(ByteLimit::parse("10 parsecs").is_err());
    }

    #[test]
    fn otelcol_default_config_loads_with_prometheus_defaults() {
        let c = load(
            "config:\n  scrape_configs:\n  - job_name: 'otel-collector'\n    scrape_interval: 10s\n    static_configs:\n    - targets: ['0.0.0.0:8888']\n",
        )
        .unwrap();
        let p = c.config.unwrap();
        let job = p.scrape_configs[0].resolve(&p.global).unwrap();
        assert_eq!(job.interval, Duration::from_secs(10));
        assert_eq!(job.timeout, Duration::from_secs(10));
        assert_eq!(job.cfg.metrics_path, "/metrics");
        assert_eq!(job.cfg.scheme, "http");
        assert!(job.cfg.honor_timestamps);
        assert!(!job.cfg.honor_labels);
        assert_eq!(p.global.scrape_interval.0, Duration::from_secs(60));
    }

    #[test]
    fn timeout_is_capped_at_a_short_interval_and_must_not_exceed_it() {
        let c =
            load("config:\n  scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n").unwrap();
        let p = c.config.unwrap();
        assert_eq!(
            p.scrape_configs[0].resolve(&p.global).unwrap().timeout,
            Duration::from_secs(5)
        );
        let e = load("config:\n  scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("scrape timeout greater than scrape interval"),
            "{e}"
        );
    }

    #[test]
    fn missing_and_duplicate_jobs_are_refused() {
        let e = load("trim_metric_suffixes: true\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no Prometheus scrape_configs or target_allocator set"),
            "{e}"
        );
        let e = load("config:\n  scrape_configs:\n  - job_name: a\n  - job_name: a\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("found multiple scrape configs with job name \"a\""),
            "{e}"
        );
    }

    #[test]
    fn unsupported_features_are_refused_by_name() {
        let e = load("config:\n  scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs: [{role: pod}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("scrape_configs[0].kubernetes_sd_configs"), "{e}");
        assert!(e.contains("not supported"), "{e}");
        let e = load("config:\n  scrape_configs:\n  - job_name: k\n    bogus_key: 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus_key"), "{e}");
        let e = load("target_allocator: {endpoint: 'http://ta', collector_id: a}\nconfig:\n  scrape_configs: [{job_name: a}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("target_allocator"), "{e}");
        let e = load("config:\n  remote_write: [{url: 'http://x'}]\n  rule_files: [a]\n  scrape_configs: [{job_name: a}]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported features:\n\tremote_write\n\trule_files"),
            "{e}"
        );
        let e = load("config:\n  scrape_configs: [{job_name: a, authorization: {credentials_file: /nonexistent/x}}]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("error checking authorization credentials file \"/nonexistent/x\""),
            "{e}"
        );
        // Renaming by metric relabeling is allowed (otelcol dropped that check).
        assert!(load("config:\n  scrape_configs: [{job_name: a, metric_relabel_configs: [{source_labels: [a], target_label: __name__}]}]\n").is_ok());
    }

    #[test]
    fn every_supported_key_reads() {
        let c = load(
            r#"
trim_metric_suffixes: true
use_start_time_metric: true
config:
  global: {scrape_interval: 30s, scrape_timeout: 5s, external_labels: {cluster: a}, body_size_limit: 1MB, sample_limit: 100}
  scrape_configs:
  - job_name: j
    honor_labels: true
    honor_timestamps: false
    metrics_path: /m
    scheme: https
    params: {module: [http_2xx]}
    basic_auth: {username: u, password: p}
    tls_config: {insecure_skip_verify: true, server_name: s}
    label_limit: 5
    static_configs: [{targets: ['a:1', 'b:2'], labels: {env: prod}}]
    relabel_configs: [{source_labels: [__address__], target_label: x}]
"#,
        )
        .unwrap();
        assert!(c.trim_metric_suffixes);
        let p = c.config.unwrap();
        let job = p.scrape_configs[0].resolve(&p.global).unwrap();
        assert_eq!(job.interval, Duration::from_secs(30));
        assert_eq!(job.timeout, Duration::from_secs(5));
        assert_eq!(job.body_size_limit, 1 << 20);
        assert_eq!(job.sample_limit, 100);
        assert_eq!(job.label_limit, 5);
        assert_eq!(job.relabel.len(), 1);
        assert_eq!(job.external_labels, vec![("cluster".into(), "a".into())]);
        assert_eq!(job.cfg.params["module"], vec!["http_2xx".to_string()]);
    }

    #[test]
    fn dollar_dollar_in_the_collector_config_is_a_regex_group() {
        let yaml = "config:\n  scrape_configs:\n  - job_name: j\n    static_configs: [{targets: ['h:1']}]\n    relabel_configs:\n    - source_labels: [__address__]\n      regex: '(.*):1'\n      target_label: host\n      replacement: 'x-$$1-$${1}'\n";
        let mut v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut found = ferrotel_config::Expansion::default();
        ferrotel_config::expand_env(&mut v, "receivers.prometheus", &|_| None, &mut found);
        assert!(found.errors.is_empty() && found.warnings.is_empty());
        let c = decode_valid::<PrometheusConfig>("receivers.prometheus", &v)
            .unwrap()
            .0;
        let p = c.config.unwrap();
        let job = p.scrape_configs[0].resolve(&p.global).unwrap();
        let t = super::super::discovery::targets(&job);
        assert_eq!(t[0].label("host"), "x-h-h");
    }

    #[test]
    fn scrape_config_files_add_jobs_and_are_checked() {
        let dir = std::env::temp_dir().join(format!("ferrotel-prom-scf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.to_str().unwrap();
        std::fs::write(
            format!("{d}/a.yml"),
            "scrape_configs:\n- job_name: filed\n  scrape_interval: 5s\n  static_configs: [{targets: ['h:1']}]\n",
        )
        .unwrap();
        let c = load(&format!("config:\n  scrape_config_files: ['{d}/*.yml']\n")).unwrap();
        let all = c.config.unwrap().all_scrape_configs().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].job_name, "filed");
        std::fs::write(format!("{d}/b.yml"), "scrape_configs:\n- job_name: filed\n").unwrap();
        let e = load(&format!("config:\n  scrape_config_files: ['{d}/*.yml']\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("found multiple scrape configs with job name \"filed\""),
            "{e}"
        );
        std::fs::write(
            format!("{d}/b.yml"),
            "scrape_configs:\n- job_name: x\n  bogus: 1\n",
        )
        .unwrap();
        let e = load(&format!("config:\n  scrape_config_files: ['{d}/*.yml']\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
