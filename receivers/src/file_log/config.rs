//! The `file_log` receiver's configuration: otelcol's `filelog` keys, defaults and validation
//! messages (stanza's `fileconsumer` config, squashed into the receiver's section).
//!
//! ```yaml
//! receivers:
//!   filelog:
//!     include: [/var/log/app/*.log]
//!     exclude: [/var/log/app/debug.log]
//!     start_at: beginning
//!     poll_interval: 200ms
//!     fingerprint_size: 1kb
//!     max_log_size: 1MiB
//!     multiline: { line_start_pattern: '^\d{4}-' }
//!     storage: file_storage
//!     operators:
//!       - type: json_parser
//!         timestamp: { parse_from: attributes.time, layout: '%Y-%m-%dT%H:%M:%S.%LZ' }
//! ```

use super::glob::Glob;
use super::operators::config::OperatorConfig;
use super::size::StanzaSize;
use ferrotel_config::{Capability, GoDuration, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Smallest `fingerprint_size` otelcol accepts.
pub const MIN_FINGERPRINT_SIZE: i64 = 16;

/// `multiline`: split entries on a pattern instead of newlines.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultilineConfig {
    /// An entry starts where this regex matches.
    pub line_start_pattern: String,
    /// An entry ends where this regex matches.
    pub line_end_pattern: String,
    /// Leave the matched start/end pattern out of the entries.
    pub omit_pattern: bool,
}

/// `retry_on_failure` (otelcol's consumerretry): resend a batch the pipeline refused.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryOnFailure {
    /// Off: a refused batch is dropped (and logged).
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    /// Give up after this long (0: never).
    pub max_elapsed_time: GoDuration,
}

impl Default for RetryOnFailure {
    fn default() -> Self {
        RetryOnFailure {
            enabled: false,
            initial_interval: GoDuration::from_secs(1),
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
        }
    }
}

/// The `file_log` (`filelog`) receiver.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileLogConfig {
    /// Glob patterns of the files to read (required).
    pub include: Vec<String>,
    /// Glob patterns removed from what `include` matched.
    pub exclude: Vec<String>,
    /// Skip files not modified for this long.
    pub exclude_older_than: Option<GoDuration>,
    /// Where to start in files found at startup: `end` or `beginning`. Files that appear later
    /// are always read from their beginning.
    pub start_at: String,
    /// How often to look for files and new lines.
    pub poll_interval: GoDuration,
    /// How many first bytes identify a file across renames.
    pub fingerprint_size: StanzaSize,
    /// First size of read buffers.
    pub initial_buffer_size: StanzaSize,
    /// Longest entry; longer ones are split into pieces of this size.
    pub max_log_size: StanzaSize,
    /// Files read at once; more are read in batches of half this.
    pub max_concurrent_files: i64,
    /// Batches per poll when batching (0: no limit).
    pub max_batches: i64,
    /// `utf-8` (default), `nop` (bytes bodies), `ascii`.
    pub encoding: String,
    /// Attribute `log.file.name`.
    pub include_file_name: bool,
    /// Attribute `log.file.path`.
    pub include_file_path: bool,
    /// Attribute `log.file.name_resolved` (after symlinks).
    pub include_file_name_resolved: bool,
    /// Attribute `log.file.path_resolved` (after symlinks).
    pub include_file_path_resolved: bool,
    /// Attribute `log.file.owner.name`.
    pub include_file_owner_name: bool,
    /// Attribute `log.file.owner.group.name`.
    pub include_file_owner_group_name: bool,
    /// Attribute `log.file.record_number`.
    pub include_file_record_number: bool,
    /// Entries delimited by patterns instead of newlines.
    pub multiline: Option<MultilineConfig>,
    /// Emit an unterminated last entry after no new data came for this long (0: never).
    pub force_flush_period: GoDuration,
    pub preserve_leading_whitespaces: bool,
    pub preserve_trailing_whitespaces: bool,
    /// Delete each file once read (requires `start_at: beginning` and the feature gate
    /// `filelog.allowFileDeletion`).
    pub delete_after_read: bool,
    /// Take a filesystem lock before reading (not supported yet: accepted, ignored).
    pub acquire_fs_lock: bool,
    /// `""` (none) or `gzip`.
    pub compression: String,
    pub retry_on_failure: RetryOnFailure,
    /// A storage extension id for file offsets across restarts.
    pub storage: Option<String>,
    /// Attributes added to every entry.
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Resource attributes added to every entry.
    pub resource: BTreeMap<String, serde_json::Value>,
    /// Operators applied to each entry, in order.
    pub operators: Vec<OperatorConfig>,
}

impl Default for FileLogConfig {
    fn default() -> Self {
        FileLogConfig {
            include: vec![],
            exclude: vec![],
            exclude_older_than: None,
            start_at: "end".into(),
            poll_interval: GoDuration::from_millis(200),
            fingerprint_size: StanzaSize(1000),
            initial_buffer_size: StanzaSize(16 * 1024),
            max_log_size: StanzaSize(1024 * 1024),
            max_concurrent_files: 1024,
            max_batches: 0,
            encoding: "utf-8".into(),
            include_file_name: true,
            include_file_path: false,
            include_file_name_resolved: false,
            include_file_path_resolved: false,
            include_file_owner_name: false,
            include_file_owner_group_name: false,
            include_file_record_number: false,
            multiline: None,
            force_flush_period: GoDuration::from_millis(500),
            preserve_leading_whitespaces: false,
            preserve_trailing_whitespaces: false,
            delete_after_read: false,
            acquire_fs_lock: false,
            compression: String::new(),
            retry_on_failure: RetryOnFailure::default(),
            storage: None,
            attributes: BTreeMap::new(),
            resource: BTreeMap::new(),
            operators: vec![],
        }
    }
}

/// The encodings ferrotel reads.
pub const ENCODINGS: &[&str] = &["utf-8", "utf8", "nop", "ascii", "us-ascii"];

impl Validate for FileLogConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        self.validate_files(v);
        self.validate_limits(v);
        if let Some(m) = &self.multiline {
            if let Err(e) = m.check() {
                v.report_at("multiline", e);
            }
        }
        if let Some(id) = &self.storage {
            v.at("storage").uses_extension(id, Capability::Storage);
        }
        if let Err(e) = super::operators::build(&self.operators) {
            v.report_at("operators", e);
        }
    }
}

impl FileLogConfig {
    fn validate_files(&self, v: &mut Validator<'_>) {
        if self.include.is_empty() {
            v.report("'include' must be specified");
        }
        for (key, list) in [("include", &self.include), ("exclude", &self.exclude)] {
            for p in list {
                if let Err(e) = Glob::new(p) {
                    v.report_at(key, format!("parse glob: {e}"));
                }
            }
        }
        if self.start_at != "end" && self.start_at != "beginning" {
            v.report_at(
                "start_at",
                format!("invalid start_at location '{}'", self.start_at),
            );
        }
        let gate = ferrotel_config::featuregate::FILELOG_ALLOW_FILE_DELETION;
        if self.delete_after_read && !ferrotel_config::featuregate::is_enabled(gate) {
            v.report(format!(
                "`delete_after_read` requires feature gate `{gate}`"
            ));
        }
        if self.delete_after_read && self.start_at == "end" {
            v.report("`delete_after_read` cannot be used with `start_at: end`");
        }
        if !ENCODINGS.contains(&self.encoding.to_ascii_lowercase().as_str()) {
            v.report_at(
                "encoding",
                format!("unsupported encoding '{}'", self.encoding),
            );
        }
        if !matches!(self.compression.as_str(), "" | "gzip") {
            v.report_at(
                "compression",
                format!("unsupported compression '{}'", self.compression),
            );
        }
    }

    fn validate_limits(&self, v: &mut Validator<'_>) {
        if self.max_log_size.0 <= 0 {
            v.report("`max_log_size` must be positive");
        }
        if self.max_concurrent_files <= 1 {
            v.report("`max_concurrent_files` must be greater than 1");
        }
        if self.fingerprint_size.0 < MIN_FINGERPRINT_SIZE {
            v.report(format!(
                "`fingerprint_size` must be at least {MIN_FINGERPRINT_SIZE} bytes"
            ));
        }
        if self.max_batches < 0 {
            v.report("`max_batches` must not be negative");
        }
    }
}

impl MultilineConfig {
    /// Exactly one pattern, and it compiles (otelcol's messages).
    pub fn check(&self) -> Result<(), String> {
        match (
            self.line_start_pattern.is_empty(),
            self.line_end_pattern.is_empty(),
        ) {
            (false, false) => {
                Err("only one of line_start_pattern or line_end_pattern can be set".into())
            }
            (true, true) => Err("one of line_start_pattern or line_end_pattern must be set".into()),
            (false, true) => regex::bytes::Regex::new(&self.line_start_pattern)
                .map(|_| ())
                .map_err(|e| format!("compile line start regex: {e}")),
            (true, false) => regex::bytes::Regex::new(&self.line_end_pattern)
                .map(|_| ())
                .map_err(|e| format!("compile line end regex: {e}")),
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
