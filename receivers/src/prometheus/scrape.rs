//! Scraping one target: an HTTP GET with Prometheus's headers (`Accept` negotiating
//! OpenMetrics and the text format, `Accept-Encoding: gzip`, the timeout header), the body
//! bounded by `body_size_limit` both as received and decompressed, parsed by the
//! `Content-Type` format. One task per target, started at an offset within the interval
//! derived from the target (as Prometheus spreads its scrapes), then every interval.
//!
//! ```yaml
//! scrape_configs:
//!   - job_name: app
//!     scrape_interval: 15s
//!     scrape_timeout: 5s
//!     body_size_limit: 10MB
//!     enable_compression: true
//!     basic_auth: {username: u, password_file: /etc/secret}
//!     tls_config: {ca_file: /etc/ca.pem}
//!     static_configs: [{targets: ['app:8080']}]
//! ```

use super::config::{Job, ScrapeConfig};
use super::discovery::Target;
use super::parse::{parse, Exposition, Format};
use ferrotel_config::{ConfigErrors, Findings, Validator};
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::time::Duration;

/// The media type of each `scrape_protocols` entry.
fn media_type(protocol: &str) -> &'static str {
    match protocol {
        "OpenMetricsText1.0.0" => "application/openmetrics-text;version=1.0.0",
        "OpenMetricsText0.0.1" => "application/openmetrics-text;version=0.0.1",
        "PrometheusText1.0.0" => "text/plain;version=1.0.0",
        _ => "text/plain;version=0.0.4",
    }
}

/// Prometheus's `Accept` header: the protocols with falling weights, then `*/*`.
pub fn accept_header(protocols: &[String]) -> String {
    let mut weight = protocols.len() + 1;
    let mut vals: Vec<String> = vec![];
    for p in protocols {
        vals.push(format!("{};q=0.{weight}", media_type(p)));
        weight -= 1;
    }
    vals.push(format!("*/*;q=0.{weight}"));
    vals.join(",")
}

/// The HTTP client of a scrape config (TLS files are read here).
pub fn client(cfg: &ScrapeConfig) -> Result<reqwest::Client, ConfigErrors> {
    use ferrotel_transport::tls;
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("ferrotel/", env!("CARGO_PKG_VERSION")))
        .no_proxy();
    if !cfg.follow_redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    if let Some(t) = &cfg.tls_config {
        let c = tls::client_config(&t.to_client(), "tls_config", &[tls::ALPN_HTTP1])?;
        b = b.use_preconfigured_tls(c);
    }
    b.build().map_err(|e| {
        let mut f = Findings::default();
        Validator::new("", &mut f).report_at("tls_config", e.to_string());
        f.into_result().err().unwrap_or_default()
    })
}

/// Reads a secret file (trailing newline removed, as Prometheus does).
fn secret_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        .map_err(|e| format!("unable to read {path}: {e}"))
}

/// The `Authorization` header of a scrape config, if any.
pub fn authorization(cfg: &ScrapeConfig) -> Result<Option<String>, String> {
    use base64::Engine;
    if let Some(b) = &cfg.basic_auth {
        let user = match &b.username_file {
            Some(f) => secret_file(f)?,
            None => b.username.clone(),
        };
        let pass = match (&b.password_file, &b.password) {
            (Some(f), _) => secret_file(f)?,
            (None, Some(p)) => p.clone(),
            (None, None) => String::new(),
        };
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        return Ok(Some(format!("Basic {token}")));
    }
    if let Some(a) = &cfg.authorization {
        let cred = match (&a.credentials_file, &a.credentials) {
            (Some(f), _) => secret_file(f)?,
            (None, Some(c)) => c.clone(),
            (None, None) => String::new(),
        };
        return Ok(Some(format!("{} {cred}", a.kind)));
    }
    Ok(None)
}

/// A successful scrape: the parsed body and its size.
pub struct Scraped {
    pub exposition: Exposition,
    pub body_bytes: usize,
}

/// Fetches and parses a target once (the caller applies the timeout).
pub async fn fetch(
    client: &reqwest::Client,
    job: &Job,
    target: &Target,
    auth: Option<&str>,
) -> Result<Scraped, String> {
    let mut req = client
        .get(&target.url)
        .header("Accept", accept_header(&job.protocols))
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", job.timeout.as_secs_f64()),
        );
    req = if job.cfg.enable_compression {
        req.header("Accept-Encoding", "gzip")
    } else {
        req.header("Accept-Encoding", "identity")
    };
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut resp = req.send().await.map_err(|e| error_chain(&e))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!(
            "server returned HTTP status {}",
            status_text(resp.status())
        ));
    }
    let limit = if job.body_size_limit == 0 {
        usize::MAX
    } else {
        job.body_size_limit as usize
    };
    let gzip = resp
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(body_limit_error(limit));
        }
        body.extend_from_slice(&chunk);
    }
    if gzip {
        body = gunzip(&body, limit)?;
    }
    let format = format_of(&ct, job);
    let text = std::str::from_utf8(&body).map_err(|e| format!("body is not UTF-8: {e}"))?;
    let exposition = parse(text, format).map_err(|e| e.to_string())?;
    Ok(Scraped {
        exposition,
        body_bytes: body.len(),
    })
}

fn status_text(s: reqwest::StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
        .trim_end()
        .to_string()
}

fn body_limit_error(limit: usize) -> String {
    format!("exceeded body size limit of {limit} bytes")
}

/// A gzip body, decompressed up to `limit` bytes.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let cap = (limit as u64).saturating_add(1);
    flate2::read::GzDecoder::new(body)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    if out.len() > limit {
        return Err(body_limit_error(limit));
    }
    Ok(out)
}

/// The format of a response: by `Content-Type`; none: `fallback_scrape_protocol`, which
/// otelcol defaults to `PrometheusText0.0.4` for every scrape config.
fn format_of(ct: &str, job: &Job) -> Format {
    if !ct.trim().is_empty() {
        return Format::of_content_type(ct);
    }
    match job.cfg.fallback_scrape_protocol.as_deref() {
        Some(p) if p.starts_with("OpenMetrics") => Format::OpenMetrics,
        _ => Format::Text,
    }
}

/// The error and its causes (`error sending request: connection refused`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Where in the interval a target's scrapes fall: a hash of the target, as Prometheus
/// offsets each target to spread load.
pub fn offset(target: &Target, interval: Duration) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    target.url.hash(&mut h);
    target.labels.hash(&mut h);
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h.finish() % ms)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_is_prometheus_default() {
        let p: Vec<String> = super::super::config::DEFAULT_PROTOCOLS
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            accept_header(&p),
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
        );
    }

    #[test]
    fn gzip_is_bounded_after_decompression() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b'a'; 100_000]).unwrap();
        let z = e.finish().unwrap();
        assert!(z.len() < 1000);
        assert_eq!(gunzip(&z, 100_000).unwrap().len(), 100_000);
        assert!(gunzip(&z, 99_999).unwrap_err().contains("body size limit"));
    }
}
