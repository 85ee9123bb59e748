//! `recombine`: joins a field across consecutive entries of one source (a stack trace's
//! lines, CRI partial lines) into one entry, as stanza does: a series ends before an entry
//! for which `is_first_entry` is true, or with an entry for which `is_last_entry` is true,
//! or when it reaches `max_batch_size`, `max_unmatched_batch_size` (never matched) or
//! `max_log_size`, or `force_flush_period` after its first entry was read.

use super::config::RecombineConfig;
use super::expr::Expr;
use super::field::Field;
use super::Entry;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// The source of entries without `source_identifier`, as stanza names it.
pub const DEFAULT_SOURCE: &str = "DefaultSourceIdentifier";

struct Batch {
    base: Entry,
    entries: usize,
    combined: String,
    first_observed: u64,
    matched: bool,
}

pub struct Recombine {
    is_first: bool,
    expr: Expr,
    combine_field: Field,
    combine_with: String,
    max_batch_size: usize,
    max_unmatched_batch_size: usize,
    max_log_size: usize,
    max_sources: usize,
    newest: bool,
    source: Field,
    force_flush_ns: u64,
    batches: Mutex<HashMap<String, Batch>>,
}

impl Recombine {
    pub fn new(c: &RecombineConfig) -> Result<Recombine, String> {
        let (is_first, src) = match (&c.is_first_entry, &c.is_last_entry) {
            (Some(_), Some(_)) => {
                return Err("only one of is_first_entry and is_last_entry can be set".into())
            }
            (None, None) => {
                return Err("one of is_first_entry and is_last_entry must be set".into())
            }
            (Some(f), None) => (true, f),
            (None, Some(l)) => (false, l),
        };
        let which = if is_first {
            "is_first_entry"
        } else {
            "is_last_entry"
        };
        let expr = Expr::compile(src).map_err(|e| format!("failed to compile {which}: {e}"))?;
        let combine_field = c
            .combine_field
            .clone()
            .ok_or_else(|| "missing required argument 'combine_field'".to_string())?;
        let newest = match c.overwrite_with.as_str() {
            "newest" => true,
            "oldest" | "" => false,
            other => {
                return Err(format!(
                    "invalid value '{other}' for parameter 'overwrite_with'"
                ))
            }
        };
        Ok(Recombine {
            is_first,
            expr,
            combine_field,
            combine_with: c.combine_with.clone(),
            max_batch_size: c.max_batch_size,
            max_unmatched_batch_size: c.max_unmatched_batch_size,
            max_log_size: usize::try_from(c.max_log_size.0).unwrap_or(0),
            max_sources: c.max_sources,
            newest,
            source: c.source_identifier.clone(),
            force_flush_ns: u64::try_from(c.force_flush_period.0.as_nanos()).unwrap_or(u64::MAX),
            batches: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Batch>> {
        self.batches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the entry is a first (`is_first_entry`) or last (`is_last_entry`) one.
    pub fn matches(&self, e: &Entry) -> Result<bool, String> {
        self.expr.eval(e)
    }

    /// Takes an entry and what [`Recombine::matches`] said of it; combined entries that are
    /// complete are appended to `flushed`.
    pub fn add(&self, e: Entry, matches: bool, flushed: &mut Vec<Entry>) {
        let source = match self.source.get(&e) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => DEFAULT_SOURCE.to_string(),
        };
        let mut batches = self.lock();
        if matches && self.is_first {
            self.flush_source(&mut batches, &source, flushed);
        }
        self.add_to_batch(&mut batches, e, &source, matches, flushed);
        if matches && !self.is_first {
            self.flush_source(&mut batches, &source, flushed);
        }
    }

    fn add_to_batch(
        &self,
        batches: &mut HashMap<String, Batch>,
        e: Entry,
        source: &str,
        matches: bool,
        flushed: &mut Vec<Entry>,
    ) {
        let text = match self.combine_field.get(&e) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        if !batches.contains_key(source) && batches.len() >= self.max_sources {
            tracing::error!("Too many sources. Flushing all batched logs. Consider increasing max_sources parameter");
            self.flush_batches(batches, flushed, |_| true);
        }
        let batch = match batches.entry(source.to_string()) {
            std::collections::hash_map::Entry::Occupied(o) => {
                let b = o.into_mut();
                b.entries += 1;
                if self.newest {
                    b.base = e;
                }
                b
            }
            std::collections::hash_map::Entry::Vacant(v) => v.insert(Batch {
                first_observed: e.observed,
                base: e,
                entries: 1,
                combined: String::new(),
                matched: false,
            }),
        };
        batch.matched |= matches;
        let Some(text) = text else {
            tracing::error!("entry does not contain the combine_field");
            return;
        };
        if !batch.combined.is_empty() {
            batch.combined.push_str(&self.combine_with);
        }
        batch.combined.push_str(&text);
        let full = (self.max_log_size > 0 && batch.combined.len() > self.max_log_size)
            || (self.max_batch_size > 0 && batch.entries >= self.max_batch_size)
            || (!batch.matched
                && self.max_unmatched_batch_size > 0
                && batch.entries >= self.max_unmatched_batch_size);
        if full {
            self.flush_source(batches, source, flushed);
        }
    }

    fn flush_source(
        &self,
        batches: &mut HashMap<String, Batch>,
        source: &str,
        flushed: &mut Vec<Entry>,
    ) {
        if let Some(mut b) = batches.remove(source) {
            self.combine_field
                .set(&mut b.base, Value::String(b.combined));
            flushed.push(b.base);
        }
    }

    /// Flushes the batches `pick` selects, oldest first.
    fn flush_batches(
        &self,
        batches: &mut HashMap<String, Batch>,
        flushed: &mut Vec<Entry>,
        pick: impl Fn(&Batch) -> bool,
    ) {
        let mut due: Vec<(u64, String)> = batches
            .iter()
            .filter(|(_, b)| pick(b))
            .map(|(s, b)| (b.first_observed, s.clone()))
            .collect();
        due.sort();
        for (_, s) in due {
            self.flush_source(batches, &s, flushed);
        }
    }

    /// Flushes the series whose first entry was read `force_flush_period` or more before
    /// `now`.
    pub fn flush_expired(&self, now: u64, flushed: &mut Vec<Entry>) {
        let period = self.force_flush_ns;
        self.flush_batches(&mut self.lock(), flushed, |b| {
            now.saturating_sub(b.first_observed) >= period
        });
    }

    /// Flushes every series (at shutdown).
    pub fn flush_all(&self, flushed: &mut Vec<Entry>) {
        self.flush_batches(&mut self.lock(), flushed, |_| true);
    }
}
