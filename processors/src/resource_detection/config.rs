//! The `resource_detection` processor's configuration, as otelcol-contrib's
//! resourcedetectionprocessor reads it: `detectors`, `override`, `timeout`, the deprecated
//! `attributes`, and one block per detector (`system`, `ec2`, ...).
//!
//! ```yaml
//! processors:
//!   resource_detection:
//!     detectors: [env, system]
//!     timeout: 2s
//!     override: false
//!     system:
//!       hostname_sources: [os]
//!       resource_attributes:
//!         host.id: { enabled: true }
//! ```

use super::attrs::{self, ResourceAttributes};
use ferrotel_config::{GoDuration, RetryConfig, Validate, Validator, Value};
use serde::{Deserialize, Serialize};

/// Every detector name otelcol-contrib knows (`k8snode` is the deprecated name of `k8s_api`).
pub const KNOWN_DETECTORS: &[&str] = &[
    "akamai",
    "aks",
    "alibaba_ecs",
    "azure",
    "azurecontainerapps",
    "consul",
    "digitalocean",
    "docker",
    "dynatrace",
    "ec2",
    "ecs",
    "eks",
    "elastic_beanstalk",
    "env",
    "gcp",
    "heroku",
    "hetzner",
    "ibmcloud_classic",
    "ibmcloud_vpc",
    "k8s_api",
    "k8snode",
    "kubeadm",
    "lambda",
    "nova",
    "openshift",
    "oraclecloud",
    "scaleway",
    "system",
    "tencent_cvm",
    "upcloud",
    "vultr",
];

/// The detectors ferrotel implements; naming another known one is a config error.
pub const IMPLEMENTED_DETECTORS: &[&str] = &[
    "env", "system", "docker", "ec2", "gcp", "azure", "heroku", "lambda",
];

/// `processors.resource_detection`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceDetectionConfig {
    /// The detectors to run, in order: on a conflict the first one to set a key wins.
    pub detectors: Vec<String>,
    /// Whether detected attributes replace attributes the data already has (default true).
    #[serde(rename = "override")]
    pub override_existing: bool,
    /// Bound of the whole detection (default 5s): a detector still running then contributes
    /// nothing.
    pub timeout: GoDuration,
    /// Deprecated: keep only these detected keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<String>>,
    /// otelcol re-runs detection this often (0 = never, the default); refused when not 0.
    pub refresh_interval: GoDuration,
    /// Whether an unreachable metadata service fails the detector (default false: it is
    /// logged and the detector contributes nothing, ferrotel's only behaviour).
    pub fail_on_missing_metadata: bool,
    /// otelcol's retries of a failed detector; ferrotel makes one attempt per detector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// `env`: which keys of OTEL_RESOURCE_ATTRIBUTES to keep (all when absent).
    pub env: EnvConfig,
    /// `system`: host name sources and attribute switches.
    pub system: SystemConfig,
    /// `docker`: attribute switches.
    pub docker: DockerConfig,
    /// `ec2`: tags and attribute switches.
    pub ec2: Ec2Config,
    /// `gcp`: labels and attribute switches.
    pub gcp: GcpConfig,
    /// `azure`: tags and attribute switches.
    pub azure: AzureConfig,
    /// `heroku`: attribute switches.
    pub heroku: HerokuConfig,
    /// `lambda`: attribute switches.
    pub lambda: LambdaConfig,
    // The blocks of the detectors ferrotel does not implement: accepted unchecked, since naming
    // such a detector in `detectors` is refused anyway.
    /// `akamai`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub akamai: Option<Value>,
    /// `aks`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aks: Option<Value>,
    /// `alibaba_ecs`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alibaba_ecs: Option<Value>,
    /// `azurecontainerapps`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azurecontainerapps: Option<Value>,
    /// `consul`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consul: Option<Value>,
    /// `digitalocean`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digitalocean: Option<Value>,
    /// `ecs`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecs: Option<Value>,
    /// `eks`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eks: Option<Value>,
    /// `elasticbeanstalk`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elasticbeanstalk: Option<Value>,
    /// `hetzner`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hetzner: Option<Value>,
    /// `ibmcloud_classic`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ibmcloud_classic: Option<Value>,
    /// `ibmcloud_vpc`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ibmcloud_vpc: Option<Value>,
    /// `k8s_api`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s_api: Option<Value>,
    /// `k8snode`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8snode: Option<Value>,
    /// `kubeadm`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeadm: Option<Value>,
    /// `nova`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nova: Option<Value>,
    /// `openshift`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openshift: Option<Value>,
    /// `oraclecloud`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oraclecloud: Option<Value>,
    /// `scaleway`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaleway: Option<Value>,
    /// `tencent_cvm`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tencent_cvm: Option<Value>,
    /// `upcloud`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upcloud: Option<Value>,
    /// `vultr`: accepted unchecked (the detector is not implemented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vultr: Option<Value>,
}

impl Default for ResourceDetectionConfig {
    fn default() -> Self {
        ResourceDetectionConfig {
            detectors: Vec::new(),
            override_existing: true,
            timeout: GoDuration::from_secs(5),
            attributes: None,
            refresh_interval: GoDuration::default(),
            fail_on_missing_metadata: false,
            retry: None,
            env: EnvConfig::default(),
            system: SystemConfig::default(),
            docker: DockerConfig::default(),
            ec2: Ec2Config::default(),
            gcp: GcpConfig::default(),
            azure: AzureConfig::default(),
            heroku: HerokuConfig::default(),
            lambda: LambdaConfig::default(),
            akamai: None,
            aks: None,
            alibaba_ecs: None,
            azurecontainerapps: None,
            consul: None,
            digitalocean: None,
            ecs: None,
            eks: None,
            elasticbeanstalk: None,
            hetzner: None,
            ibmcloud_classic: None,
            ibmcloud_vpc: None,
            k8s_api: None,
            k8snode: None,
            kubeadm: None,
            nova: None,
            openshift: None,
            oraclecloud: None,
            scaleway: None,
            tencent_cvm: None,
            upcloud: None,
            vultr: None,
        }
    }
}

impl Validate for ResourceDetectionConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        for (i, name) in self.detectors.iter().enumerate() {
            let name = name.trim();
            if !KNOWN_DETECTORS.contains(&name) {
                v.at(format_args!("detectors[{i}]")).report(format!(
                    "invalid detector key: {name} (valid detectors: {})",
                    KNOWN_DETECTORS.join(", ")
                ));
            } else if !IMPLEMENTED_DETECTORS.contains(&name) {
                v.at(format_args!("detectors[{i}]")).report(format!(
                    "detector {name:?} is not implemented in ferrotel (implemented: {})",
                    IMPLEMENTED_DETECTORS.join(", ")
                ));
            }
        }
        if self.timeout.is_zero() {
            v.report_at(
                "timeout",
                "must be greater than 0 (ferrotel bounds detection by it)",
            );
        }
        if !self.refresh_interval.is_zero() {
            v.report_at(
                "refresh_interval",
                "periodic re-detection is not implemented in ferrotel (detection runs once)",
            );
        }
        v.check("system", &self.system);
        v.check("docker", &self.docker);
        v.check("ec2", &self.ec2);
        v.check("gcp", &self.gcp);
        v.check("azure", &self.azure);
        v.check("heroku", &self.heroku);
        v.check("lambda", &self.lambda);
    }
}

/// `env`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvConfig {
    /// Keep only these keys of OTEL_RESOURCE_ATTRIBUTES (all when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<Vec<String>>,
}

/// The `hostname_sources` otelcol accepts.
pub const HOSTNAME_SOURCES: &[&str] = &["dns", "os", "cname", "lookup"];

/// `system`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemConfig {
    /// Where `host.name` comes from, tried in order (default `[dns, os]`).
    pub hostname_sources: Vec<String>,
    /// Attribute switches (`host.name`, `os.type` on by default; the rest off).
    pub resource_attributes: ResourceAttributes,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            hostname_sources: vec!["dns".into(), "os".into()],
            resource_attributes: ResourceAttributes::default(),
        }
    }
}

impl Validate for SystemConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        for s in &self.hostname_sources {
            if !HOSTNAME_SOURCES.contains(&s.as_str()) {
                v.report_at(
                    "hostname_sources",
                    format!("hostname_sources contains invalid value: {s:?}"),
                );
            }
        }
        self.resource_attributes.check(attrs::SYSTEM, v);
    }
}

/// `docker`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// Attribute switches (`host.name`, `os.type`, both on by default).
    pub resource_attributes: ResourceAttributes,
}

impl Validate for DockerConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        self.resource_attributes.check(attrs::DOCKER, v);
    }
}

/// `ec2`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ec2Config {
    /// Regexes of instance tag keys to add as `ec2.tag.<key>`.
    pub tags: Vec<String>,
    /// Read tags from IMDS (`true`) rather than the DescribeTags API (refused: not implemented).
    pub tags_from_imds: bool,
    /// otelcol's SDK retry count; ferrotel makes one attempt within `timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// otelcol's SDK retry backoff bound; unused (one attempt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<GoDuration>,
    /// Deprecated per-detector switch (see the top-level `fail_on_missing_metadata`).
    pub fail_on_missing_metadata: bool,
    /// Attribute switches (all on by default).
    pub resource_attributes: ResourceAttributes,
}

impl Validate for Ec2Config {
    fn validate(&self, v: &mut Validator<'_>) {
        check_regexes(&self.tags, "tags", v);
        if !self.tags.is_empty() && !self.tags_from_imds {
            v.report_at(
                "tags",
                "tags through the EC2 DescribeTags API are not implemented in ferrotel; \
                 set tags_from_imds: true",
            );
        }
        self.resource_attributes.check(attrs::EC2, v);
    }
}

/// `gcp`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcpConfig {
    /// Regexes of GCE instance label keys (refused when not empty: needs the Compute API).
    pub labels: Vec<String>,
    /// Attribute switches (otelcol's defaults).
    pub resource_attributes: ResourceAttributes,
}

impl Validate for GcpConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if !self.labels.is_empty() {
            v.report_at(
                "labels",
                "GCE instance labels (Compute API) are not implemented in ferrotel",
            );
        }
        self.resource_attributes.check(attrs::GCP, v);
    }
}

/// `azure`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AzureConfig {
    /// Regexes of VM tag names to add as `azure.tags.<name>`.
    pub tags: Vec<String>,
    /// Deprecated per-detector switch (see the top-level `fail_on_missing_metadata`).
    pub fail_on_missing_metadata: bool,
    /// Attribute switches (all on by default).
    pub resource_attributes: ResourceAttributes,
}

impl Validate for AzureConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        check_regexes(&self.tags, "tags", v);
        self.resource_attributes.check(attrs::AZURE, v);
    }
}

/// `heroku`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HerokuConfig {
    /// Attribute switches (all on by default).
    pub resource_attributes: ResourceAttributes,
}

impl Validate for HerokuConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        self.resource_attributes.check(attrs::HEROKU, v);
    }
}

/// `lambda`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LambdaConfig {
    /// Attribute switches (all on by default).
    pub resource_attributes: ResourceAttributes,
}

impl Validate for LambdaConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        self.resource_attributes.check(attrs::LAMBDA, v);
    }
}

fn check_regexes(list: &[String], key: &str, v: &mut Validator<'_>) {
    for (i, r) in list.iter().enumerate() {
        if let Err(e) = regex::Regex::new(r) {
            v.at(format_args!("{key}[{i}]")).report(e.to_string());
        }
    }
}
