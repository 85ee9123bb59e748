//! The `gcp` detector, for Compute Engine and GKE: the project, zone, region, instance id,
//! name, hostname and machine type from the GCE metadata server (`Metadata-Flavor: Google`),
//! plus `k8s.cluster.name` on GKE (`KUBERNETES_SERVICE_HOST` set). The server is
//! `GCE_METADATA_HOST` when set (as Google's client libraries read it), else 169.254.169.254.
//! Cloud Run, Cloud Functions and App Engine are not detected (an error says so).
//!
//! ```yaml
//! resource_detection:
//!   detectors: [env, gcp]
//!   gcp:
//!     resource_attributes:
//!       gcp.gce.instance.hostname: { enabled: true }
//! ```

use super::attrs::{Builder, Detected, GCP};
use super::cloud::{host_port, probe_deadline};
use super::config::GcpConfig;
use super::http::{request, Target};
use super::SCHEMA_URL;
use std::time::Instant;

pub const DEFAULT_HOST: &str = "169.254.169.254";

/// Where the metadata server is, from the environment.
pub fn endpoint_from_env() -> String {
    std::env::var("GCE_METADATA_HOST")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

fn get(addr: &str, path: &str, deadline: Instant) -> Result<String, String> {
    let path = format!("/computeMetadata/v1/{path}");
    let r = request(
        &Target::Tcp(addr),
        "GET",
        &path,
        &[("Metadata-Flavor", "Google")],
        deadline,
    )?;
    if r.status != 200 {
        return Err(format!("GET {path}: status {}", r.status));
    }
    Ok(r.text())
}

/// Asks the metadata server at `endpoint` before `deadline`.
pub fn detect(cfg: &GcpConfig, endpoint: &str, deadline: Instant) -> Result<Detected, String> {
    for (var, what) in [
        ("K_SERVICE", "Cloud Run"),
        ("FUNCTION_TARGET", "Cloud Functions"),
        ("GAE_SERVICE", "App Engine"),
    ] {
        if std::env::var_os(var).is_some() {
            return Err(format!("{what} ({var} is set) is not detected by ferrotel"));
        }
    }
    let addr = host_port(endpoint)?;
    let project = get(&addr, "project/project-id", probe_deadline(deadline))
        .map_err(|e| format!("not on GCP or metadata server unreachable at {endpoint}: {e}"))?;
    let get = |p: &str| get(&addr, p, deadline);
    let zone_path = get("instance/zone")?;
    let zone = zone_path.rsplit('/').next().unwrap_or("").to_string();
    let region = zone
        .rsplit_once('-')
        .map(|(r, _)| r.to_string())
        .unwrap_or_default();
    let gke = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let mut b = Builder::new(&cfg.resource_attributes, GCP, SCHEMA_URL);
    b.str("cloud.provider", "gcp");
    let platform = if gke {
        "gcp_kubernetes_engine"
    } else {
        "gcp_compute_engine"
    };
    b.str("cloud.platform", platform);
    b.str("cloud.account.id", project);
    b.str("cloud.region", region);
    b.str("cloud.availability_zone", zone);
    b.str("host.id", get("instance/id")?);
    let name = get("instance/name")?;
    b.str("host.name", name.clone());
    if gke {
        b.str("k8s.cluster.name", get("instance/attributes/cluster-name")?);
    } else {
        let machine = get("instance/machine-type")?;
        b.str("host.type", machine.rsplit('/').next().unwrap_or(""));
    }
    if b.wants("gcp.gce.instance.hostname") {
        b.str("gcp.gce.instance.hostname", get("instance/hostname")?);
    }
    b.str("gcp.gce.instance.name", name);
    Ok(b.finish())
}
