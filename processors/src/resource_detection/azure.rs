//! The `azure` detector: the VM's compute metadata from the Azure Instance Metadata Service
//! (`GET /metadata/instance/compute`, header `Metadata: true`), and the VM tags matching `tags`
//! as `azure.tags.<name>`. The service is at 169.254.169.254 (the Azure SDKs offer no override;
//! tests pass another endpoint to [`detect`]).
//!
//! ```yaml
//! resource_detection:
//!   detectors: [azure]
//!   azure:
//!     tags: [^team$]
//! ```

use super::attrs::{str_kv, Builder, Detected, AZURE};
use super::cloud::{host_port, probe_deadline};
use super::config::AzureConfig;
use super::http::{request, Target};
use super::SCHEMA_URL;
use regex::Regex;
use std::time::Instant;

pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const PATH: &str = "/metadata/instance/compute?api-version=2020-09-01&format=json";

/// Asks IMDS at `endpoint` before `deadline`.
pub fn detect(cfg: &AzureConfig, endpoint: &str, deadline: Instant) -> Result<Detected, String> {
    let addr = host_port(endpoint)?;
    let headers = [("Metadata", "true")];
    let r = request(
        &Target::Tcp(&addr),
        "GET",
        PATH,
        &headers,
        probe_deadline(deadline),
    )
    .map_err(|e| format!("not on Azure or IMDS unreachable at {endpoint}: {e}"))?;
    if r.status != 200 {
        return Err(format!("Azure IMDS answered {}: {}", r.status, r.text()));
    }
    let c: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("Azure IMDS: {e}"))?;
    let field = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let mut b = Builder::new(&cfg.resource_attributes, AZURE, SCHEMA_URL);
    b.str("cloud.provider", "azure");
    b.str("cloud.platform", "azure_vm");
    b.str("host.name", field("name"));
    b.str("cloud.region", field("location"));
    b.str("host.id", field("vmId"));
    b.str("cloud.account.id", field("subscriptionId"));
    b.str("azure.vm.name", field("name"));
    b.str("azure.vm.size", field("vmSize"));
    b.str("azure.vm.scaleset.name", field("vmScaleSetName"));
    b.str("azure.resourcegroup.name", field("resourceGroupName"));
    let zone = field("zone");
    if !zone.is_empty() {
        b.str("cloud.availability_zone", zone);
    }
    let mut out = b.finish();
    let res: Vec<Regex> = cfg.tags.iter().filter_map(|p| Regex::new(p).ok()).collect();
    let tags = c
        .get("tagsList")
        .and_then(|t| t.as_array())
        .cloned()
        .unwrap_or_default();
    for t in tags {
        let name = t.get("name").and_then(|v| v.as_str()).unwrap_or("");
        let value = t.get("value").and_then(|v| v.as_str()).unwrap_or("");
        if !name.is_empty() && res.iter().any(|r| r.is_match(name)) {
            out.attributes
                .push(str_kv(&format!("azure.tags.{name}"), value));
        }
    }
    Ok(out)
}
