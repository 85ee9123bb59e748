//! The `lambda` detector: the AWS Lambda runtime's environment variables
//! (`AWS_LAMBDA_FUNCTION_NAME`, `AWS_REGION`, `AWS_LAMBDA_FUNCTION_VERSION`,
//! `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_LOG_GROUP_NAME`,
//! `AWS_LAMBDA_LOG_STREAM_NAME`). Without a function name it finds nothing.
//!
//! ```yaml
//! resource_detection:
//!   detectors: [env, lambda]
//!   timeout: 0.2s
//! ```

use super::attrs::{Builder, Detected, LAMBDA};
use super::config::LambdaConfig;

/// The semantic conventions otelcol's lambda detector follows.
const LAMBDA_SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.16.0";

/// Detects from the process environment.
pub fn detect(cfg: &LambdaConfig) -> Detected {
    detect_from(cfg, |k| std::env::var(k).ok())
}

/// Detects from `var`, a lookup of environment variables.
pub fn detect_from(cfg: &LambdaConfig, var: impl Fn(&str) -> Option<String>) -> Detected {
    let Some(function) = var("AWS_LAMBDA_FUNCTION_NAME").filter(|f| !f.is_empty()) else {
        return Detected::default();
    };
    let mut b = Builder::new(&cfg.resource_attributes, LAMBDA, LAMBDA_SCHEMA_URL);
    b.str("cloud.provider", "aws");
    b.str("cloud.platform", "aws_lambda");
    if let Some(v) = var("AWS_REGION") {
        b.str("cloud.region", v);
    }
    b.str("faas.name", function);
    if let Some(v) = var("AWS_LAMBDA_FUNCTION_VERSION") {
        b.str("faas.version", v);
    }
    let stream = var("AWS_LAMBDA_LOG_STREAM_NAME");
    if let Some(v) = &stream {
        b.str("faas.instance", v.clone());
    }
    if let Some(v) = var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
        b.str("faas.max_memory", v);
    }
    if let Some(v) = var("AWS_LAMBDA_LOG_GROUP_NAME") {
        b.strs("aws.log.group.names", vec![v]);
    }
    if let Some(v) = stream {
        b.strs("aws.log.stream.names", vec![v]);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_runtime_variables() {
        let env = |k: &str| {
            let v = match k {
                "AWS_LAMBDA_FUNCTION_NAME" => "checkout",
                "AWS_REGION" => "eu-west-1",
                "AWS_LAMBDA_FUNCTION_VERSION" => "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => "512",
                "AWS_LAMBDA_LOG_GROUP_NAME" => "/aws/lambda/checkout",
                "AWS_LAMBDA_LOG_STREAM_NAME" => "2026/12/03/[$LATEST]abc",
                _ => return None,
            };
            Some(v.to_string())
        };
        let d = detect_from(&LambdaConfig::default(), env);
        let keys: Vec<&str> = d.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "cloud.provider",
                "cloud.platform",
                "cloud.region",
                "faas.name",
                "faas.version",
                "faas.instance",
                "faas.max_memory",
                "aws.log.group.names",
                "aws.log.stream.names"
            ]
        );
        assert_eq!(d.schema_url, LAMBDA_SCHEMA_URL);
        assert_eq!(
            detect_from(&LambdaConfig::default(), |_| None),
            Detected::default()
        );
    }
}
