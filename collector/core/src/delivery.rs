//! Delivery tokens: how a receiver learns that data it sent has left the collector.
//!
//! A receiver that must know (file_log with `storage` moves its checkpoint only past delivered
//! lines) attaches a [`Delivery`] to a [`Batch`](crate::Batch) with
//! [`Batch::with_delivery`](crate::Batch::with_delivery). The token is shared by every clone of
//! the batch, by every batch it is merged into and by every part it is split into; whatever
//! holds the data (a processor's buffer, an exporter's queue, an export in flight, a retry)
//! keeps it alive. When the last holder drops it, the receiver's [`DeliveryListener`] hears
//! `delivered(id)` once. So a token is released when its data was exported, when it was
//! dropped for good (a permanent error, retries exhausted, a filter: otelcol loses such data
//! too, and a checkpoint must not wait for it forever), or when a persistent sending queue has
//! written it to disk (the queue then strips the tokens off its copy).
//!
//! Components that build a new batch out of another's data (instead of [`Batch::make_mut`]
//! (crate::Batch::make_mut) or clones) carry the tokens over with
//! [`Batch::keep_deliveries_of`](crate::Batch::keep_deliveries_of); one that forgets releases
//! the tokens early, which only weakens the receiver's guarantee to otelcol's.
//!
//! Batches without tokens (every receiver that does not ask) carry an empty `Vec`: no
//! allocation and no reference counting.

use std::sync::Arc;

/// Told when a token's data has left the collector. Called from whatever task drops the last
/// holder, so it must be quick and must not block on the pipeline.
pub trait DeliveryListener: Send + Sync {
    fn delivered(&self, id: u64);
}

struct Inner {
    listener: Arc<dyn DeliveryListener>,
    id: u64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.delivered(self.id);
    }
}

/// One token; clones share it (released when the last clone is dropped).
#[derive(Clone)]
pub struct Delivery(Arc<Inner>);

impl Delivery {
    /// A token that tells `listener` `delivered(id)` when released.
    pub fn new(listener: Arc<dyn DeliveryListener>, id: u64) -> Delivery {
        Delivery(Arc::new(Inner { listener, id }))
    }

    pub fn id(&self) -> u64 {
        self.0.id
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Delivery({})", self.0.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Heard(Mutex<Vec<u64>>);
    impl DeliveryListener for Heard {
        fn delivered(&self, id: u64) {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(id);
        }
    }

    #[test]
    fn released_once_when_the_last_clone_goes() {
        let heard = Arc::new(Heard::default());
        let a = Delivery::new(heard.clone(), 7);
        let b = a.clone();
        drop(a);
        assert!(heard.0.lock().unwrap().is_empty(), "a clone still holds it");
        drop(b);
        assert_eq!(*heard.0.lock().unwrap(), vec![7]);
    }
}
