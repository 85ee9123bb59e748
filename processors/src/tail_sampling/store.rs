//! Where spans wait for their trace's decision: pending traces by id with an arrival-ordered
//! queue (so a tick pops only what is due, never scanning every trace), the decisions kept
//! after a trace is decided (otelcol keeps a decided trace among its `num_traces` until it is
//! pushed out), and the two optional decision caches.

use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::InstrumentationScope;
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

pub type TraceId = [u8; 16];

/// A trace id as 16 bytes (a malformed id is zero-padded or cut).
pub fn trace_id(bytes: &[u8]) -> TraceId {
    let mut id = [0u8; 16];
    let n = bytes.len().min(16);
    id[..n].copy_from_slice(&bytes[..n]);
    id
}

/// A resource as it arrived, shared by every buffered span it carried.
#[derive(Debug, Default)]
pub struct ResourceInfo {
    pub resource: Option<Resource>,
    pub schema_url: String,
    /// Its protobuf size (counted once per chunk).
    pub bytes: u64,
}

impl ResourceInfo {
    pub fn new(resource: Option<Resource>, schema_url: String) -> Self {
        let bytes = resource.as_ref().map_or(0, |r| r.encoded_len()) + schema_url.len() + 8;
        ResourceInfo {
            resource,
            schema_url,
            bytes: bytes as u64,
        }
    }
}

/// An instrumentation scope as it arrived.
#[derive(Debug, Default)]
pub struct ScopeInfo {
    pub scope: Option<InstrumentationScope>,
    pub schema_url: String,
    pub bytes: u64,
}

impl ScopeInfo {
    pub fn new(scope: Option<InstrumentationScope>, schema_url: String) -> Self {
        let bytes = scope.as_ref().map_or(0, |s| s.encoded_len()) + schema_url.len() + 8;
        ScopeInfo {
            scope,
            schema_url,
            bytes: bytes as u64,
        }
    }
}

/// Spans of one trace that share a resource and a scope.
#[derive(Debug)]
pub struct Chunk {
    pub resource: Arc<ResourceInfo>,
    pub scope: Arc<ScopeInfo>,
    pub spans: Vec<Span>,
}

/// The protobuf size of a span inside its `ScopeSpans` (tag and length prefix included).
pub fn span_bytes(span: &Span) -> u64 {
    let len = span.encoded_len();
    (1 + prost::length_delimiter_len(len) + len) as u64
}

/// A buffered trace.
#[derive(Debug)]
pub struct Trace {
    pub chunks: Vec<Chunk>,
    pub spans: u64,
    /// Protobuf size of its spans plus one resource and scope per chunk.
    pub bytes: u64,
    pub arrived: Instant,
    seq: u64,
}

impl Trace {
    /// Adds a span; returns the bytes it added.
    pub fn push(&mut self, res: &Arc<ResourceInfo>, scope: &Arc<ScopeInfo>, span: Span) -> u64 {
        let mut added = span_bytes(&span);
        match self.chunks.last_mut() {
            Some(c) if Arc::ptr_eq(&c.resource, res) && Arc::ptr_eq(&c.scope, scope) => {
                c.spans.push(span)
            }
            _ => {
                added += res.bytes + scope.bytes;
                self.chunks.push(Chunk {
                    resource: res.clone(),
                    scope: scope.clone(),
                    spans: vec![span],
                });
            }
        }
        self.spans += 1;
        self.bytes += added;
        added
    }
}

/// A bounded set of trace ids; the oldest entry is forgotten first. Capacity 0 keeps nothing.
#[derive(Debug, Default)]
pub struct IdCache {
    cap: usize,
    set: HashSet<TraceId>,
    order: VecDeque<TraceId>,
}

impl IdCache {
    pub fn new(cap: usize) -> Self {
        IdCache {
            cap,
            ..Default::default()
        }
    }
    pub fn contains(&self, id: &TraceId) -> bool {
        self.set.contains(id)
    }
    pub fn insert(&mut self, id: TraceId) {
        if self.cap == 0 || !self.set.insert(id) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

/// A decision kept after its trace's spans were released.
#[derive(Debug, Clone, Copy)]
pub struct Decided {
    pub sampled: bool,
    pub at: Instant,
    pub arrived: Instant,
}

/// Where a span of a given trace goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The trace is buffered: add the span.
    Pending,
    /// A decision cache knows the trace.
    Cached { sampled: bool },
    /// The trace was decided and its decision is still in memory.
    Decided { sampled: bool, at: Instant },
    /// Never seen (or forgotten).
    New,
}

/// The buffered traces and remembered decisions; `pending + decided <= num_traces`.
pub struct Store {
    num_traces: usize,
    pending: HashMap<TraceId, Trace>,
    /// Pending traces in arrival order, as (arrival, seq, id); an entry whose seq no longer
    /// matches the pending trace is stale (that trace left early) and is skipped.
    queue: VecDeque<(Instant, u64, TraceId)>,
    decided: HashMap<TraceId, Decided>,
    decided_order: VecDeque<TraceId>,
    sampled_cache: IdCache,
    not_sampled_cache: IdCache,
    pending_bytes: u64,
    next_seq: u64,
}

impl Store {
    pub fn new(num_traces: usize, sampled_cache: usize, not_sampled_cache: usize) -> Self {
        Store {
            num_traces: num_traces.max(1),
            pending: HashMap::new(),
            queue: VecDeque::new(),
            decided: HashMap::new(),
            decided_order: VecDeque::new(),
            sampled_cache: IdCache::new(sampled_cache),
            not_sampled_cache: IdCache::new(not_sampled_cache),
            pending_bytes: 0,
            next_seq: 0,
        }
    }

    pub fn route(&self, id: &TraceId) -> Route {
        if self.sampled_cache.contains(id) {
            return Route::Cached { sampled: true };
        }
        if self.not_sampled_cache.contains(id) {
            return Route::Cached { sampled: false };
        }
        if self.pending.contains_key(id) {
            return Route::Pending;
        }
        match self.decided.get(id) {
            Some(d) => Route::Decided {
                sampled: d.sampled,
                at: d.at,
            },
            None => Route::New,
        }
    }

    /// Traces in memory (pending and decided), the `sampling_traces_on_memory` gauge.
    pub fn traces_in_memory(&self) -> usize {
        self.pending.len() + self.decided.len()
    }
    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes
    }
    pub fn is_full(&self) -> bool {
        self.traces_in_memory() >= self.num_traces
    }

    /// Starts buffering a new trace (the caller made room first).
    pub fn insert(&mut self, id: TraceId, now: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.insert(
            id,
            Trace {
                chunks: Vec::new(),
                spans: 0,
                bytes: 0,
                arrived: now,
                seq,
            },
        );
        self.queue.push_back((now, seq, id));
    }

    /// Adds a span to a pending trace; returns the trace's size after it, if pending.
    pub fn append(
        &mut self,
        id: &TraceId,
        res: &Arc<ResourceInfo>,
        scope: &Arc<ScopeInfo>,
        span: Span,
    ) -> Option<u64> {
        let t = self.pending.get_mut(id)?;
        self.pending_bytes += t.push(res, scope, span);
        Some(t.bytes)
    }

    /// Takes a pending trace out (e.g. it grew too large).
    pub fn remove(&mut self, id: &TraceId) -> Option<Trace> {
        let t = self.pending.remove(id)?;
        self.pending_bytes -= t.bytes;
        Some(t)
    }

    /// Takes the oldest pending trace out if `due(its arrival)`.
    pub fn pop_oldest(&mut self, due: impl Fn(Instant) -> bool) -> Option<(TraceId, Trace)> {
        while let Some(&(arrived, seq, id)) = self.queue.front() {
            if !due(arrived) {
                return None;
            }
            self.queue.pop_front();
            if self.pending.get(&id).is_some_and(|t| t.seq == seq) {
                return self.remove(&id).map(|t| (id, t));
            }
        }
        None
    }

    /// Forgets the oldest remembered decision; returns when its trace arrived.
    pub fn forget_oldest_decided(&mut self) -> Option<Instant> {
        let id = self.decided_order.pop_front()?;
        self.decided.remove(&id).map(|d| d.arrived)
    }

    /// Records a decision: in the caches, and in memory when `keep` (the trace then keeps its
    /// slot among `num_traces` until it is pushed out).
    pub fn record(
        &mut self,
        id: TraceId,
        sampled: bool,
        arrived: Instant,
        now: Instant,
        keep: bool,
    ) {
        if sampled {
            self.sampled_cache.insert(id);
        } else {
            self.not_sampled_cache.insert(id);
        }
        if keep
            && self
                .decided
                .insert(
                    id,
                    Decided {
                        sampled,
                        at: now,
                        arrived,
                    },
                )
                .is_none()
        {
            self.decided_order.push_back(id);
        }
    }
}

/// Assembles spans into one export request, merging consecutive spans that share a resource
/// and scope.
#[derive(Default)]
pub struct Builder {
    req: ExportTraceServiceRequest,
    last: Option<(Arc<ResourceInfo>, Arc<ScopeInfo>)>,
    spans: usize,
}

impl Builder {
    fn target(&mut self, res: &Arc<ResourceInfo>, scope: &Arc<ScopeInfo>) -> &mut Vec<Span> {
        let (same_res, same_scope) = match &self.last {
            Some((r, s)) => (Arc::ptr_eq(r, res), Arc::ptr_eq(s, scope)),
            None => (false, false),
        };
        if !same_res {
            self.req.resource_spans.push(ResourceSpans {
                resource: res.resource.clone(),
                schema_url: res.schema_url.clone(),
                scope_spans: Vec::new(),
            });
        }
        let Some(rs) = self.req.resource_spans.last_mut() else {
            unreachable!("a resource was pushed above")
        };
        if !(same_res && same_scope) {
            rs.scope_spans.push(ScopeSpans {
                scope: scope.scope.clone(),
                schema_url: scope.schema_url.clone(),
                spans: Vec::new(),
            });
            self.last = Some((res.clone(), scope.clone()));
        }
        let Some(ss) = rs.scope_spans.last_mut() else {
            unreachable!("a scope was pushed above")
        };
        &mut ss.spans
    }

    pub fn push_span(&mut self, res: &Arc<ResourceInfo>, scope: &Arc<ScopeInfo>, span: Span) {
        self.target(res, scope).push(span);
        self.spans += 1;
    }

    pub fn push_trace(&mut self, trace: Trace) {
        for c in trace.chunks {
            self.spans += c.spans.len();
            self.target(&c.resource, &c.scope).extend(c.spans);
        }
    }

    pub fn finish(self) -> Option<ExportTraceServiceRequest> {
        (self.spans > 0).then_some(self.req)
    }
}
