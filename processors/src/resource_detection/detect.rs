//! Runs the configured detectors once, each on its own thread, all bounded by `timeout`: a
//! detector that fails or is still running at the deadline is logged and contributes nothing.
//! Their results merge in the order of `detectors` (the first to set a key wins; the first
//! schema URL wins), and the deprecated `attributes` list keeps only the keys it names.

use super::attrs::Detected;
use super::config::ResourceDetectionConfig;
use super::{azure, docker, ec2, env, gcp, heroku, lambda, system};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where the detectors that talk to a service find it.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub docker_socket: Result<String, String>,
    pub ec2: Result<String, String>,
    pub gcp: String,
    pub azure: String,
}

impl Endpoints {
    /// As the process environment says (`DOCKER_HOST`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`,
    /// `GCE_METADATA_HOST`), else the clouds' fixed addresses.
    pub fn from_env() -> Self {
        Endpoints {
            docker_socket: docker::socket_path(std::env::var("DOCKER_HOST").ok().as_deref()),
            ec2: ec2::endpoint_from_env(),
            gcp: gcp::endpoint_from_env(),
            azure: azure::DEFAULT_ENDPOINT.to_string(),
        }
    }
}

/// One detector of the config, run before `deadline`.
fn run_one(
    name: &str,
    cfg: &ResourceDetectionConfig,
    ep: &Endpoints,
    deadline: Instant,
) -> Result<Detected, String> {
    match name {
        "env" => env::detect(&cfg.env),
        "system" => system::detect(&cfg.system),
        "docker" => docker::detect(&cfg.docker, ep.docker_socket.as_ref()?, deadline),
        "ec2" => ec2::detect(&cfg.ec2, ep.ec2.as_ref()?, deadline),
        "gcp" => gcp::detect(&cfg.gcp, &ep.gcp, deadline),
        "azure" => azure::detect(&cfg.azure, &ep.azure, deadline),
        "heroku" => Ok(heroku::detect(&cfg.heroku)),
        "lambda" => Ok(lambda::detect(&cfg.lambda)),
        other => Err(format!("detector {other:?} is not implemented in ferrotel")),
    }
}

/// Runs every detector of `cfg` and merges what they found, returning within `timeout`.
pub fn detect_all(cfg: &ResourceDetectionConfig, ep: &Endpoints, timeout: Duration) -> Detected {
    let deadline = Instant::now() + timeout;
    let names: Vec<String> = cfg.detectors.iter().map(|d| d.trim().to_string()).collect();
    let (tx, rx) = mpsc::channel();
    for (i, name) in names.iter().enumerate() {
        let (tx2, name, cfg, ep) = (tx.clone(), name.clone(), cfg.clone(), ep.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("resdet-{name}"))
            .spawn(move || {
                let _ = tx2.send((i, run_one(&name, &cfg, &ep, deadline)));
            });
        if let Err(e) = spawned {
            let _ = tx.send((i, Err(format!("could not start: {e}"))));
        }
    }
    drop(tx);
    let mut results: Vec<Option<Detected>> = vec![None; names.len()];
    let mut done = vec![false; names.len()];
    while done.iter().any(|d| !d) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((i, r)) = rx.recv_timeout(left) else {
            break;
        };
        done[i] = true;
        match r {
            Ok(d) => results[i] = Some(d),
            Err(e) => tracing::warn!(detector = %names[i], error = %e, "failed to detect resource"),
        }
    }
    for (i, _) in done.iter().enumerate().filter(|(_, d)| !**d) {
        tracing::warn!(
            detector = %names[i], ?timeout,
            "failed to detect resource: not done within timeout, it contributes nothing"
        );
    }
    merge(results.into_iter().flatten(), cfg.attributes.as_deref())
}

/// Merges in order (the first to set a key or a schema URL wins), then keeps only `keep`.
pub fn merge(found: impl IntoIterator<Item = Detected>, keep: Option<&[String]>) -> Detected {
    let mut out = Detected::default();
    for d in found {
        out.schema_url = merge_schema_url(&out.schema_url, &d.schema_url).to_string();
        for kv in d.attributes {
            if !out.attributes.iter().any(|e| e.key == kv.key) {
                out.attributes.push(kv);
            }
        }
    }
    if let Some(keep) = keep.filter(|k| !k.is_empty()) {
        out.attributes.retain(|kv| keep.contains(&kv.key));
    }
    out
}

/// otelcol's rule: the current schema URL unless it is empty.
pub fn merge_schema_url<'a>(current: &'a str, new: &'a str) -> &'a str {
    if current.is_empty() {
        new
    } else {
        current
    }
}
