//! The sink that feeds the logs pipeline: entries are converted as they come and sent in
//! batches of [`MAX_BATCH`]; sending waits until the pipeline accepts (its backpressure stops
//! the reading: a full batch buffer is waited for, as otelcol's batch processor blocks), and
//! any other refusal is retried as `retry_on_failure` says, else dropped and logged, as otelcol
//! does. At most [`super::in_flight::IN_FLIGHT_LIMIT`] lines are sent and not yet delivered
//! (each batch carries a delivery token); reading pauses there. With `storage`, each batch
//! also carries a delivery token of the [`Ledger`], which moves the checkpoint once the batch
//! has left the collector.

use super::config::RetryOnFailure;
use super::emit::{At, Converter, FileInfo, Sink, Stopped};
use super::in_flight::InFlight;
use super::ledger::{Ledger, Marks};
use super::operators::Entry;
use super::wire::LogsEncoder;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{Batch, Consumer, RequestMeta, Signal};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Entries per request.
pub const MAX_BATCH: usize = 100;
/// How long to wait before sending again to a pipeline whose buffer was full.
const BUSY_WAIT: Duration = Duration::from_millis(5);

/// Self-metrics of the receiver.
pub struct Counters {
    pub accepted: Counter,
    pub refused: Counter,
}

/// Sends to a pipeline from the tailer's thread.
pub struct ConsumerSink {
    pub converter: Converter,
    pub consumer: Option<Arc<dyn Consumer>>,
    pub runtime: tokio::runtime::Handle,
    pub stop: CancellationToken,
    pub retry: RetryOnFailure,
    pub meta: Arc<RequestMeta>,
    pub counters: Counters,
    /// The lines sent and not yet delivered: reading pauses at its bound.
    pub in_flight: Arc<InFlight>,
    /// The current batch, encoded as its entries come.
    pub pending: LogsEncoder,
    /// What the operators emitted for one token (reused).
    pub emitted: Vec<Entry>,
    /// A batch was abandoned at shutdown: offsets past it must not be saved.
    pub aborted: bool,
    /// How long a send may still wait for the pipeline once the receiver is stopping.
    pub shutdown_grace: Duration,
    /// With `storage`: the sent batches awaiting delivery, and the current batch's marks.
    pub ledger: Option<Arc<Ledger>>,
    pub marks: Marks,
}

impl Sink for ConsumerSink {
    fn emit(&mut self, file: &FileInfo, token: &[u8], at: At) -> Result<(), Stopped> {
        if self.stop.is_cancelled() {
            return Err(Stopped);
        }
        if self.ledger.is_some() {
            self.marks.add(file, at);
        }
        self.converter
            .convert(file, token, at.record_number, &mut self.emitted);
        self.encode_emitted();
        if self.pending.len() >= MAX_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        let stopping = self.stop.is_cancelled();
        self.converter.tick(stopping, &mut self.emitted);
        self.encode_emitted();
        let marks = std::mem::take(&mut self.marks);
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(consumer) = self.consumer.clone() else {
            self.pending.finish();
            return Ok(());
        };
        if !self
            .in_flight
            .wait_for_room(&self.stop, self.shutdown_grace)
        {
            return Err(self.abort());
        }
        let n = self.pending.len() as u64;
        let bytes = self.pending.finish();
        let mut batch = Batch::from_bytes(Signal::Logs, bytes, Some(n as usize), self.meta.clone())
            .with_delivery(self.in_flight.send(n as usize));
        if let Some(l) = &self.ledger {
            batch = batch.with_delivery(l.send(marks));
        }
        let started = Instant::now();
        let mut wait = self.retry.initial_interval.0;
        loop {
            let Some(result) = self.send(&consumer, batch.clone()) else {
                return Err(self.abort());
            };
            let Err(e) = result else {
                self.counters.accepted.add(n);
                if let Some(l) = &self.ledger {
                    l.save_if_dirty();
                }
                return Ok(());
            };
            if e.is_busy() {
                // The pipeline's buffer is full: wait for it, as otelcol's blocking batch
                // processor makes its callers wait (the reading pauses; nothing is dropped).
                if self.sleep(BUSY_WAIT) {
                    return Err(self.abort());
                }
                continue;
            }
            let elapsed = started.elapsed();
            let budget = self.retry.max_elapsed_time.0;
            let give_up = !self.retry.enabled
                || (!budget.is_zero() && elapsed + wait > budget)
                || !e.is_retryable();
            if give_up {
                self.counters.refused.add(n);
                tracing::error!(receiver = %self.meta.receiver, "dropping {n} log records the pipeline refused: {e}");
                return Ok(());
            }
            tracing::debug!(receiver = %self.meta.receiver, "pipeline refused log records, retrying in {wait:?}: {e}");
            if self.sleep(wait) {
                return Err(self.abort());
            }
            wait = (wait * 2).min(self.retry.max_interval.0.max(Duration::from_millis(1)));
        }
    }
}

impl ConsumerSink {
    fn encode_emitted(&mut self) {
        for e in self.emitted.drain(..) {
            self.pending.push(&e);
            self.converter.recycle(e);
        }
    }

    /// A batch is abandoned at shutdown (the caller still holds it, so its token is not
    /// released before the ledger knows).
    fn abort(&mut self) -> Stopped {
        self.aborted = true;
        if let Some(l) = &self.ledger {
            l.freeze();
        }
        Stopped
    }

    /// One attempt; None when the receiver stopped and the pipeline did not answer within the
    /// grace period (a blocked pipeline must not hold up the collector's shutdown). While it
    /// waits, deliveries of earlier batches are checkpointed.
    fn send(
        &self,
        consumer: &Arc<dyn Consumer>,
        batch: ferrotel_core::Batch,
    ) -> Option<Result<(), ferrotel_core::PipelineError>> {
        let stop = self.stop.clone();
        let grace = self.shutdown_grace;
        let ledger = self.ledger.clone();
        self.runtime.block_on(async move {
            let consume = consumer.consume(batch);
            let stopped = async {
                stop.cancelled().await;
                tokio::time::sleep(grace).await
            };
            tokio::pin!(consume, stopped);
            loop {
                tokio::select! {
                    r = &mut consume => return Some(r),
                    _ = &mut stopped => return None,
                    _ = released(&ledger) => {}
                }
            }
        })
    }

    /// Sleeps; true if the receiver stopped meanwhile.
    fn sleep(&self, d: Duration) -> bool {
        let stop = self.stop.clone();
        self.runtime.block_on(async move {
            tokio::select! {
                _ = tokio::time::sleep(d) => false,
                _ = stop.cancelled() => true,
            }
        })
    }
}

/// Waits for a release and saves the checkpoint; never returns without a ledger.
pub async fn released(ledger: &Option<Arc<Ledger>>) {
    match ledger {
        Some(l) => {
            l.released.notified().await;
            l.save_if_dirty();
        }
        None => std::future::pending().await,
    }
}
