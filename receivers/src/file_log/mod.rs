//! The `file_log` receiver (alias `filelog`): tails files matched by glob patterns, follows
//! them across rotation by rename, by new numbered files and by copytruncate (files are known
//! by their first `fingerprint_size` bytes, as otelcol does), splits them into entries on
//! newlines or `multiline` patterns, runs the configured stanza-style operators and sends the
//! entries as OTLP log records into the logs pipeline, waiting for the pipeline to accept each
//! batch before reading on. With `storage`, file fingerprints and offsets are checkpointed in
//! that storage extension, so a restart resumes where the last accepted batch ended.
//!
//! ```yaml
//! extensions:
//!   file_storage: { directory: /var/lib/ferrotel }
//! receivers:
//!   filelog:
//!     include: [/var/log/api/combined*.log]
//!     start_at: beginning
//!     storage: file_storage
//!     operators:
//!       - type: json_parser
//!         timestamp: { parse_from: attributes.timestamp, layout: '%Y-%m-%dT%H:%M:%S.%LZ' }
//!         severity: { parse_from: attributes.level }
//!         trace: { trace_id: { parse_from: attributes.trace_id }, span_id: { parse_from: attributes.span_id } }
//! service:
//!   extensions: [file_storage]
//!   pipelines:
//!     logs: { receivers: [filelog], exporters: [debug] }
//! ```

pub mod config;
pub mod glob;
pub mod operators;
pub mod size;

pub use config::FileLogConfig;
pub mod emit;
pub mod reader;
pub mod source;
pub mod split;
pub mod tailer;
