//! The consistent-hash ring of the `loadbalancing` exporter, with otelcol's parameters so that a
//! ferrotel front tier and an otelcol one send a given trace to the same backend.
//!
//! The ring has 36000 positions (360 degrees with two decimals). Each endpoint takes 100 of them:
//! position `i` (0..100) of endpoint `e` is `crc32_ieee(e ‖ [i as u8]) % 36000`. A position
//! already taken by an endpoint listed earlier (endpoints are sorted) stays with it. A key (the
//! 16 trace-id bytes, or the `service.name` string) sits at `crc32_ieee(key) % 36000` and belongs
//! to the first endpoint at or after that position, wrapping round to the first one.
//!
//! ```yaml
//! resolver:
//!   static:
//!     hostnames: [sampler-1:4317, sampler-2:4317]   # each owns about half of the ring
//! ```

/// Positions on the ring.
const MAX_POSITIONS: u32 = 36_000;
/// Positions per endpoint.
const WEIGHT: u32 = 100;

/// An immutable ring over a fixed list of endpoints; lookups return an index into the sorted,
/// de-duplicated endpoint list ([`Ring::endpoints`]).
#[derive(Debug, Clone)]
pub struct Ring {
    endpoints: Vec<String>,
    /// (position, endpoint index), sorted by position, one entry per position.
    pub(super) items: Vec<(u32, usize)>,
}

impl Ring {
    /// Builds the ring; the order of `endpoints` and duplicates in it do not matter.
    pub fn new(endpoints: &[String]) -> Ring {
        let mut endpoints = endpoints.to_vec();
        endpoints.sort();
        endpoints.dedup();
        let mut items: Vec<(u32, usize)> = Vec::with_capacity(endpoints.len() * WEIGHT as usize);
        let mut taken = std::collections::HashSet::new();
        for (idx, ep) in endpoints.iter().enumerate() {
            for i in 0..WEIGHT {
                let mut h = crc32fast::Hasher::new();
                h.update(ep.as_bytes());
                h.update(&[i as u8]);
                let pos = h.finalize() % MAX_POSITIONS;
                if taken.insert(pos) {
                    items.push((pos, idx));
                }
            }
        }
        items.sort_unstable();
        Ring { endpoints, items }
    }

    /// The endpoints, sorted; [`Ring::endpoint_for`] indexes into this.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The index of the endpoint that owns `key` (0 for an empty ring).
    pub fn endpoint_for(&self, key: &[u8]) -> usize {
        let pos = crc32fast::hash(key) % MAX_POSITIONS;
        let i = self.items.partition_point(|&(p, _)| p < pos);
        self.items
            .get(i)
            .or_else(|| self.items.first())
            .map_or(0, |&(_, idx)| idx)
    }
}
