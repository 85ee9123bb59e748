//! The `docker` detector: `host.name` (`Name`) and `os.type` (`OSType`) of the Docker Engine's
//! `/info`, over the socket at `DOCKER_HOST` (`unix://...`) or `/var/run/docker.sock`. With no
//! socket there it fails at once with a warning saying so. When switched on, the `container.*`
//! attributes come from inspecting the container named by this host's name, as otelcol does
//! without its `EmitSemconvContainerAttributes` gate: `container.name` as the API writes it
//! (leading slash), `container.image.name` and `container.image.id` the image ID,
//! `container.image.tags` the image's repo tags.
//!
//! ```yaml
//! resource_detection:
//!   detectors: [env, docker]
//!   docker:
//!     resource_attributes:
//!       os.type: { enabled: false }
//! ```

use super::attrs::{Builder, Detected, DOCKER};
use super::config::DockerConfig;
use super::http::{request, Target};
use super::SCHEMA_URL;
use std::time::Instant;

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The socket path `DOCKER_HOST` names, or the default one.
pub fn socket_path(docker_host: Option<&str>) -> Result<String, String> {
    match docker_host.filter(|h| !h.is_empty()) {
        None => Ok(DEFAULT_SOCKET.to_string()),
        Some(h) => match h.strip_prefix("unix://") {
            Some(p) => Ok(p.to_string()),
            None => Err(format!(
                "DOCKER_HOST={h}: only unix:// sockets are supported by ferrotel's docker detector"
            )),
        },
    }
}

/// Asks the Docker Engine at `socket` before `deadline`.
pub fn detect(cfg: &DockerConfig, socket: &str, deadline: Instant) -> Result<Detected, String> {
    if !std::path::Path::new(socket).exists() {
        return Err(format!(
            "the Docker socket {socket} does not exist (mount it, or set DOCKER_HOST, to use \
             the docker detector)"
        ));
    }
    let r = request(&Target::Unix(socket), "GET", "/info", &[], deadline)
        .map_err(|e| format!("failed to query the Docker Engine at {socket}: {e}"))?;
    if r.status != 200 {
        return Err(format!(
            "Docker Engine /info answered {}: {}",
            r.status,
            r.text()
        ));
    }
    let info: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("Docker Engine /info: {e}"))?;
    let field = |k: &str| {
        info.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut b = Builder::new(&cfg.resource_attributes, DOCKER, SCHEMA_URL);
    b.str("host.name", field("Name"));
    b.str("os.type", field("OSType"));
    Ok(b.finish())
}
