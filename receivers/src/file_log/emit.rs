//! Where entries go: the [`Sink`] trait the tailer writes tokens to, and [`Converter`], which
//! turns a token into an [`Entry`] (encoding, file attributes, configured attributes and
//! resource, operators) and groups entries into OTLP requests.

use super::config::FileLogConfig;
use super::operators::entry::to_kvs;
use super::operators::{Entry, Pipeline};
use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_core::proto::common::v1::InstrumentationScope;
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use serde_json::{Map, Value};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The receiver is stopping: the tailer returns without saving further offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// The file a token came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileInfo {
    /// The reader's id, unique in this run.
    pub id: u64,
    /// The reader's fingerprint (kept here shared, for checkpoints).
    pub fingerprint: std::sync::Arc<[u8]>,
    pub name: String,
    pub path: String,
    pub name_resolved: String,
    pub path_resolved: String,
}

impl FileInfo {
    pub fn of(path: &Path) -> FileInfo {
        let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        FileInfo {
            id: 0,
            fingerprint: std::sync::Arc::from(&[][..]),
            name: name(path),
            path: path.to_string_lossy().into_owned(),
            name_resolved: name(&resolved),
            path_resolved: resolved.to_string_lossy().into_owned(),
        }
    }
}

/// Where a token lies in its file: it starts at `start` and reading on from `end` skips it;
/// it is the file's `record_number`th entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub start: u64,
    pub end: u64,
    pub record_number: i64,
}

/// Takes the entries the tailer reads. `emit` may block (a full batch waits for the pipeline);
/// after `flush` returns Ok, everything emitted before it was accepted downstream.
pub trait Sink {
    fn emit(&mut self, file: &FileInfo, token: &[u8], at: At) -> Result<(), Stopped>;
    fn flush(&mut self) -> Result<(), Stopped>;
}

/// Builds entries from tokens as the configuration says.
pub struct Converter {
    cfg: FileLogConfig,
    attributes: Map<String, Value>,
    resource: Map<String, Value>,
    operators: Pipeline,
    /// An entry already encoded, emptied for the next token (see [`Entry::recycle`]).
    spare: Option<Entry>,
}

impl Converter {
    pub fn new(cfg: &FileLogConfig) -> Result<Converter, String> {
        Ok(Converter {
            attributes: cfg.attributes.clone().into_iter().collect(),
            resource: cfg.resource.clone().into_iter().collect(),
            operators: super::operators::build(&cfg.operators)?,
            cfg: cfg.clone(),
            spare: None,
        })
    }

    /// The entry for a token, run through the operators; what they emit (none if dropped
    /// or held by `recombine`) is appended to `out`.
    pub fn convert(
        &mut self,
        file: &FileInfo,
        token: &[u8],
        record_number: i64,
        out: &mut Vec<Entry>,
    ) {
        let mut e = self.spare.take().unwrap_or_default();
        let mut body = e.spare.string();
        match std::str::from_utf8(token) {
            Ok(text) => body.push_str(text),
            Err(_) => body.push_str(&String::from_utf8_lossy(token)),
        }
        e.body = Value::String(body);
        e.observed = now_nanos();
        if !self.attributes.is_empty() {
            e.attributes.clone_from(&self.attributes);
        }
        if !self.resource.is_empty() {
            e.resource.clone_from(&self.resource);
        }
        let c = &self.cfg;
        let mut put = |on: bool, key: &str, v: &str| {
            if on {
                let (k, v) = (e.spare.copy(key), e.spare.copy(v));
                e.attributes.insert(k, Value::String(v));
            }
        };
        put(c.include_file_name, "log.file.name", &file.name);
        put(c.include_file_path, "log.file.path", &file.path);
        put(
            c.include_file_name_resolved,
            "log.file.name_resolved",
            &file.name_resolved,
        );
        put(
            c.include_file_path_resolved,
            "log.file.path_resolved",
            &file.path_resolved,
        );
        if c.include_file_record_number {
            let k = e.spare.copy("log.file.record_number");
            e.attributes.insert(k, record_number.into());
        }
        self.operators.run(e, out);
    }

    /// Takes back an entry that was encoded, for the next token to reuse its buffers.
    pub fn recycle(&mut self, mut e: Entry) {
        if self.spare.is_none() {
            e.recycle();
            self.spare = Some(e);
        }
    }

    /// Appends what operators held past their flush period (`recombine`); with `all`, all
    /// they hold (at shutdown).
    pub fn tick(&self, all: bool, out: &mut Vec<Entry>) {
        if all {
            self.operators.flush_all(out);
        } else {
            self.operators.tick(now_nanos(), out);
        }
    }
}

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

type Scopes = Vec<(String, Vec<LogRecord>)>;

/// Groups entries by resource, then by scope name (`scope_name_parser`; otherwise one empty
/// scope per resource, as otelcol), into one request.
pub fn to_request(entries: Vec<Entry>) -> ExportLogsServiceRequest {
    let mut groups: Vec<(Map<String, Value>, Scopes)> = vec![];
    for mut e in entries {
        let resource = std::mem::take(&mut e.resource);
        let scope = std::mem::take(&mut e.scope_name);
        let rec = e.into_log_record();
        let i = match groups.iter().position(|(r, _)| *r == resource) {
            Some(i) => i,
            None => {
                groups.push((resource, vec![]));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[i].1;
        match scopes.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, recs)) => recs.push(rec),
            None => scopes.push((scope, vec![rec])),
        }
    }
    ExportLogsServiceRequest {
        resource_logs: groups
            .into_iter()
            .map(|(res, scopes)| ResourceLogs {
                resource: Some(ferrotel_core::proto::resource::v1::Resource {
                    attributes: to_kvs(res),
                    ..Default::default()
                }),
                scope_logs: scopes
                    .into_iter()
                    .map(|(name, log_records)| ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name,
                            ..Default::default()
                        }),
                        log_records,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}
