#![allow(clippy::unwrap_used)]
use super::*;
use crate::file_log::operators::config::OperatorKind;
use ferrotel_config::{decode_valid, ConfigErrors, Value};

fn load(name: &str) -> Result<FileLogConfig, ConfigErrors> {
    let path = format!("{}/testdata/file_log/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_yaml_ng::from_str(&text).unwrap();
    decode_valid::<FileLogConfig>("receivers.filelog", &v).map(|(c, _)| c)
}

#[test]
fn defaults_are_otelcols() {
    let c = FileLogConfig::default();
    assert_eq!(c.start_at, "end");
    assert_eq!(c.poll_interval, GoDuration::from_millis(200));
    assert_eq!(c.fingerprint_size.0, 1000);
    assert_eq!(c.max_log_size.0, 1 << 20);
    assert_eq!(c.max_concurrent_files, 1024);
    assert_eq!(c.max_batches, 0);
    assert_eq!(c.encoding, "utf-8");
    assert!(c.include_file_name && !c.include_file_path);
    assert_eq!(c.force_flush_period, GoDuration::from_millis(500));
    assert!(!c.retry_on_failure.enabled);
    assert_eq!(
        c.retry_on_failure.initial_interval,
        GoDuration::from_secs(1)
    );
    assert_eq!(
        c.retry_on_failure.max_elapsed_time,
        GoDuration::from_secs(300)
    );
}

#[test]
fn valid_config_reads_every_key() {
    let c = load("valid.yaml").unwrap();
    assert_eq!(c.include.len(), 2);
    assert_eq!(c.exclude_older_than, Some(GoDuration::from_secs(86400)));
    assert_eq!(c.fingerprint_size.0, 2048);
    assert_eq!(c.max_log_size.0, 64_000);
    assert_eq!(c.multiline.as_ref().unwrap().line_start_pattern, r"^\d{4}-");
    assert_eq!(c.storage.as_deref(), Some("file_storage/logs"));
    assert_eq!(c.operators.len(), 8);
    assert!(matches!(c.operators[1].kind, OperatorKind::RegexParser(_)));
    assert_eq!(c.operators[2].id(), "t2");
    assert!(c.retry_on_failure.enabled);
}

#[test]
fn typo_is_reported_with_its_path() {
    let e = load("typo.yaml").unwrap_err().to_string();
    assert!(e.contains("poll_intervall"), "{e}");
}

#[test]
fn invalid_values_give_otelcols_messages() {
    let e = load("invalid.yaml").unwrap_err().to_string();
    for want in [
        "'include' must be specified",
        "invalid start_at location 'middle'",
        "`fingerprint_size` must be at least 16 bytes",
        "`max_log_size` must be positive",
        "`max_concurrent_files` must be greater than 1",
        "`max_batches` must not be negative",
        "unsupported encoding 'klingon'",
        "only one of line_start_pattern or line_end_pattern can be set",
    ] {
        assert!(e.contains(want), "{want} not in {e}");
    }
}

#[test]
fn unknown_operator_type_is_named() {
    let e = load("bad_operator.yaml").unwrap_err().to_string();
    assert!(e.contains("unsupported type 'xml_parser'"), "{e}");
}

#[test]
fn delete_after_read_needs_beginning() {
    let v: Value =
        serde_yaml_ng::from_str("{include: [/x/*.log], delete_after_read: true}").unwrap();
    let e = decode_valid::<FileLogConfig>("receivers.filelog", &v)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`delete_after_read` cannot be used with `start_at: end`"),
        "{e}"
    );
}
