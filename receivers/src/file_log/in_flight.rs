//! The bound on the lines a file_log receiver has sent that have not left the collector yet
//! (exported, dropped for good, or written to a persistent queue: see
//! [`ferrotel_core::delivery`]). Past [`IN_FLIGHT_LIMIT`] the receiver stops reading until
//! deliveries come back, so its memory is that of a few batch-processor batches, not of every
//! buffer of the pipeline filled to its own bound. Each batch carries a delivery token.

use ferrotel_core::delivery::{Delivery, DeliveryListener};
use ferrotel_core::telemetry::Gauge;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Lines in flight at most: twice the batch processor's default `send_batch_size` (8192), so
/// that one batch can be exported while the next one fills.
pub const IN_FLIGHT_LIMIT: usize = 16_384;
/// How often a waiting receiver looks whether it is being stopped.
const STOP_CHECK: Duration = Duration::from_millis(50);

#[derive(Default)]
struct State {
    lines: usize,
    /// Lines of each batch in flight, by token id.
    batches: HashMap<u64, usize>,
    next_id: u64,
}

/// The lines in flight of one receiver.
pub struct InFlight {
    state: Mutex<State>,
    freed: Condvar,
    limit: usize,
    gauge: Gauge,
}

impl InFlight {
    pub fn new(limit: usize, gauge: Gauge) -> Arc<InFlight> {
        Arc::new(InFlight {
            state: Mutex::default(),
            freed: Condvar::new(),
            limit: limit.max(1),
            gauge,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token of a batch of `lines` lines, counted until it is released.
    pub fn send(self: &Arc<Self>, lines: usize) -> Delivery {
        let mut s = self.lock();
        let id = s.next_id;
        s.next_id += 1;
        s.batches.insert(id, lines);
        s.lines += lines;
        self.gauge.set(s.lines as i64);
        Delivery::new(self.clone(), id)
    }

    /// Waits until fewer than the limit are in flight. Once `stop` is cancelled it waits at
    /// most `grace` more (a stuck pipeline must not hold up shutdown); false if it gave up.
    pub fn wait_for_room(&self, stop: &CancellationToken, grace: Duration) -> bool {
        let mut deadline: Option<Instant> = None;
        let mut s = self.lock();
        while s.lines >= self.limit {
            if stop.is_cancelled() {
                let d = *deadline.get_or_insert_with(|| Instant::now() + grace);
                if Instant::now() >= d {
                    return false;
                }
            }
            s = match self.freed.wait_timeout(s, STOP_CHECK) {
                Ok((s, _)) => s,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }

    /// Lines in flight now (tests).
    #[cfg(test)]
    pub fn lines(&self) -> usize {
        self.lock().lines
    }
}

impl DeliveryListener for InFlight {
    fn delivered(&self, id: u64) {
        let mut s = self.lock();
        if let Some(n) = s.batches.remove(&id) {
            s.lines -= n;
            self.gauge.set(s.lines as i64);
        }
        drop(s);
        self.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::Telemetry;

    #[test]
    fn the_wait_ends_when_lines_are_delivered_or_after_the_grace_at_stop() {
        let t = Telemetry::new();
        let in_flight = InFlight::new(150, t.gauge("in_flight", "test", &[]));
        let (a, b) = (in_flight.send(100), in_flight.send(100));
        assert_eq!(in_flight.lines(), 200);
        let stop = CancellationToken::new();
        stop.cancel();
        let started = Instant::now();
        assert!(!in_flight.wait_for_room(&stop, Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));
        let b2 = b.clone();
        drop(b);
        assert_eq!(in_flight.lines(), 200, "a clone still holds the batch");
        drop(b2);
        assert_eq!(in_flight.lines(), 100);
        assert!(in_flight.wait_for_room(&stop, Duration::ZERO));
        drop(a);
        assert_eq!(in_flight.lines(), 0);
    }
}
