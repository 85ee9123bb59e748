//! The `redaction` processor: removes attributes not on an allow list, masks values of keys
//! matching `blocked_key_patterns`, and masks (or hashes) every substring of a value that a
//! `blocked_values` pattern matches. It works on span and span event attributes, log record
//! attributes and bodies (strings, and maps and lists recursively), and metric data point
//! attributes; resource and scope attributes are left alone. A ready PII recipe ships as
//! `config/recipes/redaction-pii.yaml`.
//!
//! ```yaml
//! processors:
//!   redaction:
//!     allow_all_keys: false
//!     allowed_keys: [description, group, id, name]
//!     ignored_keys: [safe_attribute]
//!     blocked_key_patterns: ['(?i)password']
//!     blocked_values: ['4[0-9]{12}(?:[0-9]{3})?', '[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}']
//!     allowed_values: ['.+@mycompany\.com']
//!     hash_function: md5
//!     summary: debug
//! ```

use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{ConfigErrors, Findings, Validate, Validator};
use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::proto::common::v1::{any_value::Value as V, AnyValue, KeyValue};
use ferrotel_core::telemetry::{Counter, Gauge, Telemetry};
use ferrotel_core::{
    format, pdata, CreateContext, Factory, FactoryInfo, PerSignal, PipelineError, Processor,
    RequestMeta, SignalProcessor, Stability,
};
use hmac::{Hmac, Mac};
use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use thread_local::ThreadLocal;

/// `processors.redaction`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    /// Keep every key (only masking applies). With false, only `allowed_keys` survive: an
    /// empty list removes every attribute.
    pub allow_all_keys: bool,
    /// Keys kept when `allow_all_keys` is false.
    pub allowed_keys: Vec<String>,
    /// Keys never removed nor masked (checked first).
    pub ignored_keys: Vec<String>,
    /// Regexes on keys never removed nor masked.
    pub ignored_key_patterns: Vec<String>,
    /// Regexes on keys whose whole value is masked.
    pub blocked_key_patterns: Vec<String>,
    /// Regexes on values; every matching substring is masked.
    pub blocked_values: Vec<String>,
    /// Regexes on values; a matching value is never masked (wins over `blocked_values`).
    pub allowed_values: Vec<String>,
    /// Also check non-string values (their string form); masked values become strings.
    pub redact_all_types: bool,
    /// Replace masked text with its hash instead of `****`: `md5`, `sha1`, `sha3`
    /// (SHA3-256), `hmac-sha256` or `hmac-sha512` (these need `hmac_key`).
    pub hash_function: Choice<HashFunction>,
    /// Key for the HMAC hash functions.
    pub hmac_key: String,
    /// `silent` (default), `info` (counts) or `debug` (counts and key lists) summary attributes.
    pub summary: Choice<Summary>,
    /// URL path sanitizing (otelcol's gibberish classifier): accepted only when disabled.
    pub url_sanitizer: Option<serde_yaml_ng::Value>,
    /// Database statement obfuscation: accepted only when disabled.
    pub db_sanitizer: Option<serde_yaml_ng::Value>,
}

/// What masked text is replaced with (`hash_function`; otelcol accepts any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashFunction {
    /// `****` (no hash).
    #[serde(rename = "none", alias = "")]
    Mask,
    Md5,
    Sha1,
    /// SHA3-256.
    Sha3,
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
}

impl Choices for HashFunction {
    const IGNORE_CASE: bool = true;
}

/// The summary attributes added (`summary`). As in otelcol, any other value is `silent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Summary {
    /// None.
    #[serde(alias = "")]
    Silent,
    /// Counts.
    Info,
    /// Counts and key lists.
    Debug,
}

impl Choices for Summary {}

/// Keys the processor writes; they are always allowed so that data can pass two redaction
/// processors and accumulate the summary.
const SUMMARY_KEYS: [&str; 14] = [
    "redaction.redacted.keys",
    "redaction.redacted.count",
    "redaction.masked.keys",
    "redaction.masked.count",
    "redaction.allowed.keys",
    "redaction.allowed.count",
    "redaction.ignored.count",
    "redaction.body.redacted.keys",
    "redaction.body.redacted.count",
    "redaction.body.masked.keys",
    "redaction.body.masked.count",
    "redaction.body.allowed.keys",
    "redaction.body.allowed.count",
    "redaction.body.ignored.count",
];

/// The processor.
pub struct RedactionProcessor {
    allow_all_keys: bool,
    allowed: HashSet<String>,
    ignored: HashSet<String>,
    patterns: Patterns,
    /// A copy of `patterns` per thread: a regex's scratch space comes from a pool that only
    /// the thread that used it first reaches without a lock, so each thread gets its own. Each
    /// thread also remembers the verdicts of the keys it met.
    per_thread: ThreadLocal<Local>,
    key_cache: KeyCacheMetrics,
    redact_all_types: bool,
    hash: HashFunction,
    hmac_key: Vec<u8>,
    summary: Summary,
}

/// The compiled regexes; the `*_any` sets answer "does any of them match" in one search.
#[derive(Clone)]
struct Patterns {
    ignored_any: RegexSet,
    blocked_keys_any: RegexSet,
    blocked_values: Vec<Regex>,
    blocked_values_any: RegexSet,
    allowed_values_any: RegexSet,
    whole: Regex,
}

/// What the key lists and key patterns say of one key: the same for every occurrence of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyVerdict {
    ignored: bool,
    redacted: bool,
    masked: bool,
}

/// The verdicts a thread keeps: attribute keys repeat (they come from semantic conventions and
/// instrumentation), so most keys are looked up here instead of matched against the patterns.
const KEY_CACHE_CAPACITY: usize = 1024;

/// A thread's copy of the regexes and the verdicts of the keys it met (at most
/// [`KEY_CACHE_CAPACITY`]; a full cache is emptied and starts over).
struct Local {
    patterns: Patterns,
    keys: RefCell<HashMap<Box<str>, KeyVerdict, foldhash::fast::RandomState>>,
}

/// The key caches' self-metrics: entries held over all threads, and entries dropped when a
/// full cache was emptied.
#[derive(Default)]
struct KeyCacheMetrics {
    entries: Gauge,
    evicted: Counter,
}

/// What happened to the keys of one attribute list (or body), for the summary.
#[derive(Default)]
struct Report {
    redacted: Vec<String>,
    masked: Vec<String>,
    allowed: Vec<String>,
    ignored: Vec<String>,
}

impl Drop for RedactionProcessor {
    /// The caches go with the processor (a reload builds a new one under the same name).
    fn drop(&mut self) {
        let held: usize = self
            .per_thread
            .iter_mut()
            .map(|l| l.keys.get_mut().len())
            .sum();
        self.key_cache.entries.add(-(held as i64));
    }
}

/// Whether any pattern of `set` matches `s`; an empty set answers without a search.
fn any_match(set: &RegexSet, s: &str) -> bool {
    !set.is_empty() && set.is_match(s)
}

impl RedactionProcessor {
    /// Compiles `cfg`, reporting every problem through `v` (the validator of the config);
    /// `None` when there was one.
    pub fn compile(cfg: &RedactionConfig, v: &mut Validator<'_>) -> Option<Self> {
        let mut failed = false;
        let mut report = |at: &mut Validator<'_>, msg: String| {
            failed = true;
            at.report(msg);
        };
        let mut regexes = |v: &mut Validator<'_>, field: &str, list: &[String]| -> Vec<Regex> {
            list.iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    Regex::new(p)
                        .map_err(|e| {
                            report(
                                &mut crate::entry(v, field, i),
                                format!("error compiling regex in list: {e}"),
                            )
                        })
                        .ok()
                })
                .collect()
        };
        let ignored_patterns = regexes(v, "ignored_key_patterns", &cfg.ignored_key_patterns);
        let blocked_keys = regexes(v, "blocked_key_patterns", &cfg.blocked_key_patterns);
        let blocked_values = regexes(v, "blocked_values", &cfg.blocked_values);
        let allowed_values = regexes(v, "allowed_values", &cfg.allowed_values);
        let hash = match &cfg.hash_function {
            Choice::Known(hash) => *hash,
            Choice::Unknown(other) => {
                report(
                    &mut v.at("hash_function"),
                    format!("unknown HashFunction {}, allowed functions are sha1, sha3, md5, hmac-sha256 and hmac-sha512", other.to_lowercase()),
                );
                HashFunction::Mask
            }
        };
        if matches!(hash, HashFunction::HmacSha256 | HashFunction::HmacSha512)
            && cfg.hmac_key.is_empty()
        {
            report(
                &mut v.at("hmac_key"),
                "hmac_key must be set when hash_function is an HMAC function".into(),
            );
        }
        for (field, block) in [
            ("url_sanitizer", &cfg.url_sanitizer),
            ("db_sanitizer", &cfg.db_sanitizer),
        ] {
            if block.as_ref().is_some_and(any_enabled) {
                report(
                    &mut v.at(field),
                    format!(
                        "{field} is not supported by ferrotel; remove it or set enabled: false"
                    ),
                );
            }
        }
        let mut set = |field: &str, list: &[Regex]| {
            RegexSet::new(list.iter().map(Regex::as_str))
                .map_err(|e| report(&mut v.at(field), e.to_string()))
                .ok()
        };
        let sets = (
            set("ignored_key_patterns", &ignored_patterns),
            set("blocked_key_patterns", &blocked_keys),
            set("blocked_values", &blocked_values),
            set("allowed_values", &allowed_values),
        );
        let whole = Regex::new(".*").map_err(|e| report(v, e.to_string())).ok();
        match (sets, whole) {
            (
                (
                    Some(ignored_any),
                    Some(blocked_keys_any),
                    Some(blocked_values_any),
                    Some(allowed_values_any),
                ),
                Some(whole),
            ) if !failed => Some(RedactionProcessor {
                allow_all_keys: cfg.allow_all_keys,
                allowed: cfg
                    .allowed_keys
                    .iter()
                    .cloned()
                    .chain(SUMMARY_KEYS.iter().map(|s| s.to_string()))
                    .collect(),
                ignored: cfg.ignored_keys.iter().cloned().collect(),
                patterns: Patterns {
                    ignored_any,
                    blocked_keys_any,
                    blocked_values,
                    blocked_values_any,
                    allowed_values_any,
                    whole,
                },
                per_thread: ThreadLocal::new(),
                key_cache: KeyCacheMetrics::default(),
                redact_all_types: cfg.redact_all_types,
                hash,
                hmac_key: cfg.hmac_key.as_bytes().to_vec(),
                summary: cfg.summary.known().unwrap_or(Summary::Silent),
            }),
            _ => None,
        }
    }

    /// The processor of a config [`RedactionProcessor::compile`] found no problem in.
    pub fn new(cfg: &RedactionConfig) -> Option<Self> {
        RedactionProcessor::compile(cfg, &mut Validator::new("", &mut Findings::default()))
    }

    /// Counts the key caches in `telemetry` (as processor `id`).
    fn with_metrics(mut self, telemetry: &Telemetry, id: &str) -> Self {
        let labels = [("processor", id)];
        self.key_cache = KeyCacheMetrics {
            entries: telemetry.gauge(
                "ferrotel_processor_redaction_key_cache_entries",
                "Attribute keys whose verdict the redaction processor's per-thread caches hold.",
                &labels,
            ),
            evicted: telemetry.counter(
                "ferrotel_processor_redaction_key_cache_evicted",
                "Key verdicts dropped because a per-thread cache was full.",
                &labels,
            ),
        };
        self
    }

    fn local(&self) -> &Local {
        self.per_thread.get_or(|| Local {
            patterns: self.patterns.clone(),
            keys: RefCell::default(),
        })
    }

    /// This thread's copy of the regexes.
    fn patterns(&self) -> &Patterns {
        &self.local().patterns
    }

    /// `k`'s verdict, from this thread's cache when it is there. `redacted` and `masked` are
    /// false for an ignored key, so each field can be read alone.
    fn key(&self, k: &str) -> KeyVerdict {
        let local = self.local();
        if let Some(v) = local.keys.borrow().get(k) {
            return *v;
        }
        let ignored = self.ignored.contains(k) || any_match(&local.patterns.ignored_any, k);
        let verdict = KeyVerdict {
            ignored,
            redacted: !ignored && !self.allow_all_keys && !self.allowed.contains(k),
            masked: !ignored && any_match(&local.patterns.blocked_keys_any, k),
        };
        let mut keys = local.keys.borrow_mut();
        if keys.len() >= KEY_CACHE_CAPACITY {
            self.key_cache.evicted.add(keys.len() as u64);
            self.key_cache.entries.add(-(keys.len() as i64));
            keys.clear();
        }
        keys.insert(k.into(), verdict);
        self.key_cache.entries.add(1);
        verdict
    }

    fn allow_value(&self, v: &str) -> bool {
        any_match(&self.patterns().allowed_values_any, v)
    }

    fn replacement(&self, matched: &str) -> String {
        fn hex_of<D: Digest>(s: &str) -> String {
            hex::encode(D::digest(s.as_bytes()))
        }
        fn hmac_of<M: Mac + hmac::digest::KeyInit>(key: &[u8], s: &str) -> String {
            match <M as hmac::digest::KeyInit>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(s.as_bytes());
                    hex::encode(m.finalize().into_bytes())
                }
                Err(_) => "****".into(),
            }
        }
        match self.hash {
            HashFunction::Mask => "****".into(),
            HashFunction::Md5 => hex_of::<md5::Md5>(matched),
            HashFunction::Sha1 => hex_of::<sha1::Sha1>(matched),
            HashFunction::Sha3 => hex_of::<sha3::Sha3_256>(matched),
            HashFunction::HmacSha256 => hmac_of::<Hmac<sha2::Sha256>>(&self.hmac_key, matched),
            HashFunction::HmacSha512 => hmac_of::<Hmac<sha2::Sha512>>(&self.hmac_key, matched),
        }
    }

    fn mask<'a>(&self, s: &'a str, re: &Regex) -> Cow<'a, str> {
        re.replace_all(s, |c: &regex::Captures| self.replacement(&c[0]))
    }

    /// Masks every substring a blocked pattern matches, pattern after pattern.
    fn block_values<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let patterns = self.patterns();
        if !any_match(&patterns.blocked_values_any, s) {
            return Cow::Borrowed(s);
        }
        let mut out = Cow::Borrowed(s);
        for re in &patterns.blocked_values {
            if re.is_match(&out) {
                out = Cow::Owned(self.mask(&out, re).into_owned());
            }
        }
        out
    }

    fn tracks(&self) -> bool {
        self.summary != Summary::Silent
    }

    /// Redacts one attribute list and adds its summary.
    fn attrs(&self, attrs: &mut Vec<KeyValue>) {
        let mut rep = Report::default();
        let track = self.tracks();
        let mut any_redacted = false;
        for kv in attrs.iter_mut() {
            let k = kv.key.as_str();
            let verdict = self.key(k);
            if verdict.ignored {
                if track {
                    rep.ignored.push(k.to_string());
                }
                continue;
            }
            if verdict.redacted {
                any_redacted = true;
                if track {
                    rep.redacted.push(k.to_string());
                }
                continue;
            }
            let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
            let s: Cow<str> = match v {
                Some(V::StringValue(s)) => Cow::Borrowed(s),
                other if self.redact_all_types => Cow::Owned(format::value_as_string(other)),
                _ => Cow::Borrowed(""),
            };
            if self.allow_value(&s) {
                if track {
                    rep.allowed.push(k.to_string());
                }
                continue;
            }
            let new = if verdict.masked {
                Some(self.mask(&s, &self.patterns().whole).into_owned())
            } else {
                match self.block_values(&s) {
                    Cow::Owned(o) if o != s => Some(o),
                    _ => None,
                }
            };
            if let Some(new) = new {
                if track {
                    rep.masked.push(k.to_string());
                }
                kv.value = Some(AnyValue {
                    value: Some(V::StringValue(new)),
                });
            }
        }
        if any_redacted {
            attrs.retain(|kv| !self.key(&kv.key).redacted);
        }
        self.summarize(attrs, rep, "redaction");
    }

    /// Redacts a log body; its summary goes to the record's attributes as `redaction.body.*`.
    fn body(&self, body: &mut Option<AnyValue>, attrs: &mut Vec<KeyValue>) {
        let Some(v) = body.as_mut().and_then(|b| b.value.as_mut()) else {
            return;
        };
        let mut rep = Report::default();
        match v {
            V::KvlistValue(m) => self.body_map(&mut m.values, None, &mut rep),
            V::ArrayValue(a) => {
                for (i, x) in a.values.iter_mut().enumerate() {
                    self.body_value(x, &format!("[{i}]"), &mut rep);
                }
            }
            scalar => {
                let s = format::value_as_string(Some(scalar));
                if self.allow_value(&s) {
                    return;
                }
                if let Cow::Owned(o) = self.block_values(&s) {
                    if o != s {
                        rep.masked.push("body".into());
                        *scalar = V::StringValue(o);
                    }
                }
            }
        }
        self.summarize(attrs, rep, "redaction.body");
    }

    fn body_map(&self, entries: &mut Vec<KeyValue>, prefix: Option<&str>, rep: &mut Report) {
        let path = |k: &str| match prefix {
            Some(p) => format!("{p}.{k}"),
            None => k.to_string(),
        };
        let mut any_redacted = false;
        for kv in entries.iter_mut() {
            let k = kv.key.as_str();
            let verdict = self.key(k);
            if verdict.ignored {
                rep.ignored.push(path(k));
            } else if verdict.redacted {
                any_redacted = true;
                rep.redacted.push(path(k));
            } else if verdict.masked {
                rep.masked.push(path(k));
                let s = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(V::StringValue(s)) => s.as_str(),
                    _ => "",
                };
                let masked = self.mask(s, &self.patterns().whole).into_owned();
                kv.value = Some(AnyValue {
                    value: Some(V::StringValue(masked)),
                });
            } else {
                let p = path(k);
                if let Some(v) = kv.value.as_mut() {
                    self.body_value(v, &p, rep);
                }
            }
        }
        if any_redacted {
            entries.retain(|kv| !self.key(&kv.key).redacted);
        }
    }

    fn body_value(&self, v: &mut AnyValue, key: &str, rep: &mut Report) {
        match v.value.as_mut() {
            Some(V::KvlistValue(m)) => self.body_map(&mut m.values, Some(key), rep),
            Some(V::ArrayValue(a)) => {
                for (i, x) in a.values.iter_mut().enumerate() {
                    self.body_value(x, &format!("{key}.[{i}]"), rep);
                }
            }
            other => {
                let s = format::value_as_string(other.as_deref());
                if self.allow_value(&s) {
                    rep.allowed.push(key.to_string());
                    return;
                }
                if let Cow::Owned(o) = self.block_values(&s) {
                    if o != s {
                        rep.masked.push(key.to_string());
                        v.value = Some(V::StringValue(o));
                    }
                }
            }
        }
    }

    /// Adds the summary attributes (`<prefix>.redacted.count` etc.), adding to existing ones.
    fn summarize(&self, attrs: &mut Vec<KeyValue>, rep: Report, prefix: &str) {
        if !self.tracks() {
            return;
        }
        for (kind, keys) in [
            ("redacted", rep.redacted),
            ("masked", rep.masked),
            ("allowed", rep.allowed),
            ("ignored", rep.ignored),
        ] {
            if keys.is_empty() {
                continue;
            }
            let n = keys.len() as i64;
            if self.summary == Summary::Debug && kind != "ignored" {
                let key = format!("{prefix}.{kind}.keys");
                let mut all = keys;
                if let Some(V::StringValue(prev)) = pdata::attr(attrs, &key) {
                    if !prev.is_empty() {
                        all.extend(prev.split(',').map(str::to_string));
                    }
                }
                all.sort();
                pdata::upsert(attrs, &key, V::StringValue(all.join(",")));
            }
            let key = format!("{prefix}.{kind}.count");
            let prev = match pdata::attr(attrs, &key) {
                Some(V::IntValue(i)) => *i,
                _ => 0,
            };
            pdata::upsert(attrs, &key, V::IntValue(prev + n));
        }
    }
}

/// True when a sanitizer block, or any of its sub-blocks, has `enabled: true`.
fn any_enabled(v: &serde_yaml_ng::Value) -> bool {
    match v {
        serde_yaml_ng::Value::Mapping(m) => m.iter().any(|(k, v)| {
            (k.as_str() == Some("enabled") && v.as_bool() == Some(true)) || any_enabled(v)
        }),
        _ => false,
    }
}

impl SignalProcessor for RedactionProcessor {
    fn traces(
        &self,
        req: &mut ExportTraceServiceRequest,
        _meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        pdata::for_each_span_mut(&mut req.resource_spans, |_, span| {
            self.attrs(&mut span.attributes);
            for ev in &mut span.events {
                self.attrs(&mut ev.attributes);
            }
        });
        Ok(())
    }

    fn logs(
        &self,
        req: &mut ExportLogsServiceRequest,
        _meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        pdata::for_each_log_mut(&mut req.resource_logs, |_, rec| {
            self.attrs(&mut rec.attributes);
            self.body(&mut rec.body, &mut rec.attributes);
        });
        Ok(())
    }

    fn metrics(
        &self,
        req: &mut ExportMetricsServiceRequest,
        _meta: &RequestMeta,
    ) -> Result<(), PipelineError> {
        pdata::for_each_datapoint_attrs_mut(&mut req.resource_metrics, |_, _, attrs| {
            self.attrs(attrs)
        });
        Ok(())
    }
}

/// Factory for `redaction`.
pub struct RedactionProcessorFactory;

impl Validate for RedactionConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        RedactionProcessor::compile(self, v);
    }
}

impl Factory for RedactionProcessorFactory {
    type Config = RedactionConfig;
    type Component = Box<dyn Processor>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "redaction",
            "Removes attributes not allowed and masks sensitive values.",
        )
        .all_signals(Stability::Beta)
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: RedactionConfig,
    ) -> Result<Box<dyn Processor>, ConfigErrors> {
        let mut findings = Findings::default();
        let compiled = RedactionProcessor::compile(&cfg, &mut ctx.validator(&mut findings));
        findings.into_result()?;
        match compiled {
            Some(p) => Ok(Box::new(PerSignal(
                p.with_metrics(&ctx.telemetry, &ctx.id.to_string()),
            ))),
            None => Err(ctx.error("the configuration does not compile")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::type_complexity)]
mod tests;
