//! The `ec2` detector: the instance identity document and host name from the EC2 instance
//! metadata service (IMDSv2: a token `PUT`, then `GET`s with it; IMDSv1 when the token is
//! refused), and with `tags_from_imds` the instance tags matching `tags` as `ec2.tag.<key>`.
//! The service is `AWS_EC2_METADATA_SERVICE_ENDPOINT` when set (as the AWS SDKs read it),
//! else `http://169.254.169.254`; `AWS_EC2_METADATA_DISABLED=true` turns the detector off.
//!
//! ```yaml
//! resource_detection:
//!   detectors: [ec2]
//!   ec2:
//!     tags: [^team$]
//!     tags_from_imds: true
//! ```

use super::attrs::{str_kv, Builder, Detected, EC2};
use super::cloud::{host_port, probe_deadline};
use super::config::Ec2Config;
use super::http::{request, Target};
use super::SCHEMA_URL;
use regex::Regex;
use std::time::Instant;

pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";

/// Where IMDS is, from the environment.
pub fn endpoint_from_env() -> Result<String, String> {
    let disabled = std::env::var("AWS_EC2_METADATA_DISABLED").unwrap_or_default();
    if disabled.eq_ignore_ascii_case("true") {
        return Err("EC2 metadata is disabled (AWS_EC2_METADATA_DISABLED=true)".into());
    }
    Ok(std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()))
}

struct Imds {
    addr: String,
    token: Option<String>,
    deadline: Instant,
}

impl Imds {
    fn get(&self, path: &str) -> Result<String, String> {
        let mut headers = Vec::new();
        if let Some(t) = &self.token {
            headers.push(("X-aws-ec2-metadata-token", t.as_str()));
        }
        let r = request(
            &Target::Tcp(&self.addr),
            "GET",
            path,
            &headers,
            self.deadline,
        )?;
        if r.status != 200 {
            return Err(format!("GET {path}: status {}", r.status));
        }
        Ok(r.text())
    }
}

/// Asks IMDS at `endpoint` before `deadline`.
pub fn detect(cfg: &Ec2Config, endpoint: &str, deadline: Instant) -> Result<Detected, String> {
    let not_ec2 = |e: String| format!("not on EC2 or IMDS unreachable at {endpoint}: {e}");
    let addr = host_port(endpoint)?;
    let token = request(
        &Target::Tcp(&addr),
        "PUT",
        "/latest/api/token",
        &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        probe_deadline(deadline),
    )
    .map_err(not_ec2)?;
    let token = (token.status == 200).then(|| token.text());
    let imds = Imds {
        addr,
        token,
        deadline,
    };
    let doc = imds
        .get("/latest/dynamic/instance-identity/document")
        .map_err(not_ec2)?;
    let doc: serde_json::Value =
        serde_json::from_str(&doc).map_err(|e| format!("EC2 identity document: {e}"))?;
    let field = |k: &str| {
        doc.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut b = Builder::new(&cfg.resource_attributes, EC2, SCHEMA_URL);
    b.str("cloud.provider", "aws");
    b.str("cloud.platform", "aws_ec2");
    b.str("cloud.region", field("region"));
    b.str("cloud.account.id", field("accountId"));
    b.str("cloud.availability_zone", field("availabilityZone"));
    b.str("host.id", field("instanceId"));
    b.str("host.image.id", field("imageId"));
    b.str("host.type", field("instanceType"));
    if b.wants("host.name") {
        b.str("host.name", imds.get("/latest/meta-data/hostname")?);
    }
    let mut out = b.finish();
    if !cfg.tags.is_empty() && cfg.tags_from_imds {
        out.attributes.extend(tags(&imds, &cfg.tags)?);
    }
    Ok(out)
}

fn tags(
    imds: &Imds,
    patterns: &[String],
) -> Result<Vec<ferrotel_core::proto::common::v1::KeyValue>, String> {
    let res: Vec<Regex> = patterns.iter().filter_map(|p| Regex::new(p).ok()).collect();
    let keys = imds
        .get("/latest/meta-data/tags/instance")
        .map_err(|e| format!("instance tags from IMDS (is InstanceMetadataTags enabled?): {e}"))?;
    let mut out = Vec::new();
    for key in keys.lines().map(str::trim).filter(|k| !k.is_empty()) {
        if res.iter().any(|r| r.is_match(key)) {
            let value = imds.get(&format!("/latest/meta-data/tags/instance/{key}"))?;
            out.push(str_kv(&format!("ec2.tag.{key}"), &value));
        }
    }
    Ok(out)
}
