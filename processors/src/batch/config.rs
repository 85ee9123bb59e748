//! The `batch` processor's configuration, with otelcol's keys, defaults and validation messages.

use ferrotel_config::{GoDuration, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// `processors.batch`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Items (spans, metric data points, log records) after which a batch is sent regardless
    /// of the timeout. A trigger, not a cap: a batch may be larger (see `send_batch_max_size`).
    pub send_batch_size: u32,
    /// How long a batch may wait for more items before it is sent anyway. `0` sends every
    /// request right away (then `send_batch_size` is ignored and only `send_batch_max_size`
    /// splits).
    pub timeout: GoDuration,
    /// Upper limit of items in a sent batch; larger batches are split. `0` means no limit.
    /// When set, it must be at least `send_batch_size`.
    pub send_batch_max_size: u32,
    /// Client metadata (request headers; the receiver needs `include_metadata: true`) whose
    /// values partition the batches: one pending batch per distinct combination of values.
    /// Case-insensitive; sent batches carry these headers.
    pub metadata_keys: Vec<String>,
    /// Most distinct `metadata_keys` value combinations; data with a new combination past it
    /// is refused with a permanent error. `0` means no limit.
    pub metadata_cardinality_limit: u32,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            send_batch_size: 8192,
            timeout: GoDuration::from_millis(200),
            send_batch_max_size: 0,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

impl Validate for BatchConfig {
    /// Checks what serde cannot.
    fn validate(&self, v: &mut Validator<'_>) {
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            v.report_at(
                "send_batch_max_size",
                "send_batch_max_size must be greater or equal to send_batch_size",
            );
        }
        let mut seen = HashSet::new();
        for key in &self.metadata_keys {
            let lower = key.to_ascii_lowercase();
            if !seen.insert(lower.clone()) {
                v.report_at(
                    "metadata_keys",
                    format!("duplicate entry in metadata_keys: {lower:?} (case-insensitive)"),
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::{decode_valid, ConfigErrors, Value};
    use std::time::Duration;

    const PATH: &str = "processors.batch";

    fn load(yaml: &str) -> Result<BatchConfig, ConfigErrors> {
        let v: Value = serde_yaml_ng::from_str(yaml).expect("test yaml parses");
        decode_valid::<BatchConfig>(PATH, &v).map(|(cfg, _)| cfg)
    }

    #[test]
    fn defaults_match_otelcol() {
        let cfg = load("").unwrap();
        assert_eq!(cfg, BatchConfig::default());
        assert_eq!(cfg.send_batch_size, 8192);
        assert_eq!(cfg.timeout.0, Duration::from_millis(200));
        assert_eq!(cfg.send_batch_max_size, 0);
        assert_eq!(cfg.metadata_cardinality_limit, 1000);
    }

    #[test]
    fn valid_file() {
        let cfg = load(include_str!("../../testdata/batch/valid.yaml")).unwrap();
        assert_eq!(cfg.send_batch_size, 1000);
        assert_eq!(cfg.send_batch_max_size, 2000);
        assert_eq!(cfg.timeout.0, Duration::from_secs(1));
        assert_eq!(cfg.metadata_keys, vec!["X-Tenant", "region"]);
        assert_eq!(cfg.metadata_cardinality_limit, 10);
    }

    #[test]
    fn typo_is_reported_with_its_path() {
        let e = load(include_str!("../../testdata/batch/typo.yaml")).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].path, "processors.batch.timout");
        assert!(e.0[0].message.contains("unknown field `timout`"), "{e}");
    }

    #[test]
    fn invalid_values_are_reported() {
        let e = load(include_str!("../../testdata/batch/invalid.yaml")).unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");
        assert_eq!(e.0[0].path, "processors.batch.send_batch_max_size");
        assert_eq!(
            e.0[0].message,
            "send_batch_max_size must be greater or equal to send_batch_size"
        );
        assert_eq!(e.0[1].path, "processors.batch.metadata_keys");
        assert_eq!(
            e.0[1].message,
            "duplicate entry in metadata_keys: \"tenant\" (case-insensitive)"
        );

        let e = load("timeout: -1s").unwrap_err();
        assert_eq!(e.0[0].path, "processors.batch.timeout");
        let e = load("send_batch_size: -5").unwrap_err();
        assert_eq!(e.0[0].path, "processors.batch.send_batch_size");
    }
}
