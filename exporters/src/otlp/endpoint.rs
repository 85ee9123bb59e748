//! otelcol's checks of a gRPC client `endpoint` and `balancer_name` (configgrpc
//! `ClientConfig.Validate`): a `unix://` socket needs a path; otherwise the endpoint, its
//! scheme (`http://`, `https://`, `dns:///`, or any resolver's `scheme://authority/`) taken off,
//! must be `host:port` with a numeric port, with Go's `net.SplitHostPort` messages.

/// Balancers grpc-go registers by default, the ones otelcol accepts.
const BALANCERS: &[&str] = &["pick_first", "round_robin"];

/// What otelcol says is wrong with `endpoint` (non-empty), if anything.
pub(crate) fn endpoint_problem(endpoint: &str) -> Option<String> {
    if let Some(path) = endpoint.strip_prefix("unix://") {
        return path
            .is_empty()
            .then(|| "unix socket path cannot be empty".to_string());
    }
    let host_port = sanitized(endpoint);
    if host_port.is_empty() {
        return None;
    }
    match split_host_port(host_port) {
        Err(e) => Some(e),
        Ok((_, port)) if port.parse::<i64>().is_err() => Some(format!("invalid port {port:?}")),
        Ok(_) => None,
    }
}

/// What otelcol says is wrong with `balancer_name`, if anything.
pub(crate) fn balancer_problem(name: &str) -> Option<String> {
    (!name.is_empty() && !BALANCERS.contains(&name))
        .then(|| format!("invalid balancer_name: {name}"))
}

/// `host:port` from an endpoint written with a scheme.
fn sanitized(endpoint: &str) -> &str {
    if let Some(rest) = endpoint.strip_prefix("http://") {
        return rest;
    }
    if let Some(rest) = endpoint.strip_prefix("https://") {
        return rest;
    }
    if let Some(rest) = endpoint.strip_prefix("dns://") {
        return rest.strip_prefix('/').unwrap_or(rest);
    }
    match endpoint.split_once("://") {
        // A resolver URI: the path after the authority.
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, path)| path),
        None => endpoint,
    }
}

/// Go's `net.SplitHostPort`, with its error messages.
pub(crate) fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| format!("address {hostport}: {why}");
    let Some(colon) = hostport.rfind(':') else {
        return Err(err("missing port in address"));
    };
    let (host, rest_from) = if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return Err(err("missing ']' in address"));
        };
        if end + 1 == hostport.len() {
            return Err(err("missing port in address"));
        }
        if end + 1 != colon {
            return Err(err(if hostport.as_bytes()[end + 1] == b':' {
                "too many colons in address"
            } else {
                "missing port in address"
            }));
        }
        (&hostport[1..end], (1, end + 1))
    } else {
        let host = &hostport[..colon];
        if host.contains(':') {
            return Err(err("too many colons in address"));
        }
        (host, (0, 0))
    };
    if hostport[rest_from.0..].contains('[') {
        return Err(err("unexpected '[' in address"));
    }
    if hostport[rest_from.1..].contains(']') {
        return Err(err("unexpected ']' in address"));
    }
    Ok((host, &hostport[colon + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_as_otelcol() {
        let cases = [
            (
                "example.com",
                Some("address example.com: missing port in address"),
            ),
            ("example.com:port", Some("invalid port \"port\"")),
            ("example.com:", Some("invalid port \"\"")),
            ("unix://", Some("unix socket path cannot be empty")),
            ("unix:///run/otel.sock", None),
            (
                "https://api.example.com",
                Some("address api.example.com: missing port in address"),
            ),
            ("http://localhost:4317", None),
            ("dns:///backend:4317", None),
            ("passthrough:///backend:4317", None),
            ("[::1]:4317", None),
            ("[::1]", Some("address [::1]: missing port in address")),
            (
                "::1:4317",
                Some("address ::1:4317: too many colons in address"),
            ),
        ];
        for (endpoint, want) in cases {
            assert_eq!(endpoint_problem(endpoint).as_deref(), want, "{endpoint}");
        }
    }

    #[test]
    fn balancer_names_are_grpc_go_defaults() {
        assert_eq!(balancer_problem("round_robin"), None);
        assert_eq!(balancer_problem("pick_first"), None);
        assert_eq!(balancer_problem(""), None);
        assert_eq!(
            balancer_problem("no_such_balancer").as_deref(),
            Some("invalid balancer_name: no_such_balancer")
        );
    }
}
