//! What the cloud detectors share: where a metadata service is (a default address or an
//! environment override, as the clouds' SDKs allow) and a short connect bound, so that off
//! that cloud a detector fails within a second rather than waiting for the whole `timeout`.

use std::time::{Duration, Instant};

/// How long a metadata service may take to accept a connection.
pub const CONNECT_BOUND: Duration = Duration::from_secs(1);

/// `host:port` of an endpoint given as `http://host[:port][/...]` or `host[:port]`.
pub fn host_port(endpoint: &str) -> Result<String, String> {
    if endpoint.starts_with("https://") {
        return Err(format!(
            "{endpoint}: https metadata endpoints are not supported"
        ));
    }
    let rest = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("{endpoint}: no host"));
    }
    let has_port = match host.rsplit_once(':') {
        Some((h, p)) => !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()),
        None => false,
    };
    Ok(if has_port {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

/// The earlier of `deadline` and the connect bound from now, for the first request.
pub fn probe_deadline(deadline: Instant) -> Instant {
    deadline.min(Instant::now() + CONNECT_BOUND)
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints() {
        assert_eq!(
            super::host_port("http://169.254.169.254").unwrap(),
            "169.254.169.254:80"
        );
        assert_eq!(
            super::host_port("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(super::host_port("metadata:81").unwrap(), "metadata:81");
        assert!(super::host_port("https://x").is_err());
    }
}
