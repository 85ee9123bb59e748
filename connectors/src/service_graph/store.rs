//! The store of incomplete edges: a request seen from one side (client or server span) waits
//! here, keyed by trace id and the client span's id, for the span of the other side, at most
//! `store.ttl` and at most `store.max_items` edges at once, oldest first out.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Where an edge's two spans meet: the trace and the client span's id (the server span's
/// parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Key {
    trace: [u8; 16],
    span: [u8; 8],
}

/// The first `N` bytes of `id`, zero-padded (ids of the wrong length still pair with
/// themselves).
fn fixed<const N: usize>(id: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = id.len().min(N);
    out[..n].copy_from_slice(&id[..n]);
    out
}

impl Key {
    pub fn new(trace_id: &[u8], span_id: &[u8]) -> Self {
        Key {
            trace: fixed(trace_id),
            span: fixed(span_id),
        }
    }

    /// A server span without a parent (a root span) has an empty key span id.
    pub fn span_is_empty(&self) -> bool {
        self.span == [0; 8]
    }
}

/// The `connection_type` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConnectionType {
    #[default]
    Unset,
    MessagingSystem,
    Database,
    VirtualNode,
}

impl ConnectionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionType::Unset => "",
            ConnectionType::MessagingSystem => "messaging_system",
            ConnectionType::Database => "database",
            ConnectionType::VirtualNode => "virtual_node",
        }
    }
}

/// The `virtual_node` attribute (with `virtual_node_extra_label`): which side was invented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VirtualSide {
    #[default]
    None,
    Client,
    Server,
}

impl VirtualSide {
    pub fn as_str(self) -> &'static str {
        match self {
            VirtualSide::None => "",
            VirtualSide::Client => "client",
            VirtualSide::Server => "server",
        }
    }
}

/// A request between two nodes, as far as its spans have been seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Edge {
    pub key: Key,
    pub connection_type: ConnectionType,
    /// The services (shared with every span of their resource in a batch).
    pub client: Arc<str>,
    pub server: Arc<str>,
    /// Seconds, as each side measured it.
    pub client_latency: f64,
    pub server_latency: f64,
    /// Either span had status ERROR.
    pub failed: bool,
    /// The values of `client_<dim>` and `server_<dim>`, at `2 * i` and `2 * i + 1` for the
    /// `i`th configured dimension (so that the order does not depend on which span came first).
    pub dimensions: Vec<Option<String>>,
    /// The peer attribute found on the client span: its priority (index in
    /// `virtual_node_peer_attributes`) and value.
    pub peer: Option<(usize, String)>,
    pub virtual_side: VirtualSide,
    /// When it expires (Unix nanoseconds).
    expires: u64,
}

impl Edge {
    pub fn is_complete(&self) -> bool {
        !self.client.is_empty() && !self.server.is_empty()
    }

    /// Sets the dimension at `index` (see [`Edge::dimensions`]).
    pub fn set_dimension(&mut self, index: usize, value: String) {
        if self.dimensions.len() <= index {
            self.dimensions.resize(index + 1, None);
        }
        self.dimensions[index] = Some(value);
    }
}

/// What an upsert did with the span.
#[derive(Debug, PartialEq)]
pub enum Upserted {
    /// The edge waits for its other span; `new` if this span started it.
    Waiting { new: bool },
    /// Both sides are known: the edge left the store (or never entered it).
    Complete { new: bool, edge: Edge },
    /// The store is full and its oldest edge has not expired: the span is dropped.
    Dropped,
}

/// The incomplete edges, bounded by count and age.
pub struct Store {
    edges: HashMap<Key, (u64, Edge), foldhash::fast::RandomState>,
    /// Insertion order (= expiry order: one ttl for all), with each entry's sequence number;
    /// entries of edges that completed since are skipped, and compacted away.
    order: VecDeque<(Key, u64)>,
    seq: u64,
    ttl: u64,
    max_items: usize,
}

impl Store {
    pub fn new(ttl_nanos: u64, max_items: usize) -> Self {
        Store {
            edges: HashMap::default(),
            order: VecDeque::new(),
            seq: 0,
            ttl: ttl_nanos,
            max_items,
        }
    }

    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Applies `update` to the edge of `key` (a new one if there is none) at `now`. A full
    /// store first lets its oldest edge go if it has expired (into `expired`).
    pub fn upsert(
        &mut self,
        key: Key,
        now: u64,
        update: impl FnOnce(&mut Edge),
        expired: &mut Vec<Edge>,
    ) -> Upserted {
        let full = self.edges.len() >= self.max_items;
        let vacant = match self.edges.entry(key) {
            Entry::Occupied(mut o) => {
                update(&mut o.get_mut().1);
                if !o.get().1.is_complete() {
                    return Upserted::Waiting { new: false };
                }
                let edge = o.remove().1;
                return Upserted::Complete { new: false, edge };
            }
            Entry::Vacant(v) => v,
        };
        let mut edge = Edge {
            key,
            expires: now.saturating_add(self.ttl),
            ..Edge::default()
        };
        update(&mut edge);
        if edge.is_complete() {
            return Upserted::Complete { new: true, edge };
        }
        self.seq += 1;
        let seq = self.seq;
        if !full {
            vacant.insert((seq, edge));
        } else {
            match self.pop_expired(now) {
                Some(old) => expired.push(old),
                None => return Upserted::Dropped,
            }
            self.edges.insert(key, (seq, edge));
        }
        self.order.push_back((key, seq));
        self.compact();
        Upserted::Waiting { new: true }
    }

    /// Takes every edge expired at `now` out, oldest first.
    pub fn expire(&mut self, now: u64, out: &mut Vec<Edge>) {
        while let Some(edge) = self.pop_expired(now) {
            out.push(edge);
        }
    }

    /// The oldest edge, if it expired before `now`.
    fn pop_expired(&mut self, now: u64) -> Option<Edge> {
        while let Some(&(key, seq)) = self.order.front() {
            match self.edges.get(&key) {
                Some((s, edge)) if *s == seq => {
                    if now <= edge.expires {
                        return None;
                    }
                    self.order.pop_front();
                    return self.edges.remove(&key).map(|(_, e)| e);
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
        None
    }

    /// Drops the order entries of completed edges once they outnumber the live ones, so the
    /// queue stays within twice the store's bound.
    fn compact(&mut self) {
        if self.order.len() <= 2 * self.edges.len() + 64 {
            return;
        }
        let edges = &self.edges;
        self.order
            .retain(|(k, seq)| edges.get(k).is_some_and(|(s, _)| s == seq));
    }

    /// Entries in the order queue (tests: its bound).
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.order.len()
    }
}
