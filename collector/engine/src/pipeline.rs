//! A pipeline: its processors, called directly in order, then fan-out to its exporters' queues.
//!
//! Data from a client runs through the processors inside the request's own task, so a refusal
//! (memory limit, full queue) reaches that client. Buffering processors (batch, tail sampling)
//! accept and emit later from a tick task; what they emit has been accepted already, so it
//! waits for queue room instead of being refused, and is never dropped.

use crate::exporter_runner::{ExporterRunner, Overflow};
use ferrotel_config::PipelineId;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{Batch, ComponentId, Consumer, PipelineError, Processor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One processor instance with its wake handle and item counters.
pub struct Stage {
    pub id: ComponentId,
    pub processor: Box<dyn Processor>,
    pub wake: Arc<Notify>,
    pub incoming: Counter,
    pub outgoing: Counter,
}

pub struct Pipeline {
    pub id: PipelineId,
    stages: Vec<Stage>,
    exporters: Vec<Arc<ExporterRunner>>,
}

/// How long a refused re-try of already accepted data waits before trying again.
const ACCEPTED_RETRY_DELAY: Duration = Duration::from_millis(100);

impl Pipeline {
    pub fn new(id: PipelineId, stages: Vec<Stage>, exporters: Vec<Arc<ExporterRunner>>) -> Self {
        Pipeline {
            id,
            stages,
            exporters,
        }
    }

    fn count(counter: &Counter, batches: &[Batch]) {
        counter.add(batches.iter().map(|b| b.item_count() as u64).sum());
    }

    /// Runs `batches` through the stages from `from` on, as direct calls.
    fn run_stages(&self, from: usize, batches: Vec<Batch>) -> Result<Vec<Batch>, PipelineError> {
        let mut cur = batches;
        for stage in &self.stages[from.min(self.stages.len())..] {
            if cur.is_empty() {
                break;
            }
            Self::count(&stage.incoming, &cur);
            let mut next = Vec::with_capacity(cur.len());
            for b in cur {
                stage.processor.process(b, &mut next)?;
            }
            Self::count(&stage.outgoing, &next);
            cur = next;
        }
        Ok(cur)
    }

    async fn deliver(&self, batches: Vec<Batch>, overflow: Overflow) -> Result<(), PipelineError> {
        for b in batches {
            for e in &self.exporters {
                e.enqueue(b.clone(), overflow).await?;
            }
        }
        Ok(())
    }

    /// Passes data a processor already accepted through the rest of the pipeline. Retryable
    /// refusals are waited out (until `stop` fires); nothing is dropped silently.
    async fn forward_accepted(&self, from: usize, batches: Vec<Batch>, stop: &CancellationToken) {
        for b in batches {
            loop {
                let result = match self.run_stages(from, vec![b.clone()]) {
                    Ok(out) => self.deliver(out, Overflow::Wait).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => break,
                    Err(e) if e.is_retryable() && !stop.is_cancelled() => {
                        tracing::debug!(pipeline = %self.id, error = %e, "downstream refused accepted data, waiting");
                        tokio::time::sleep(ACCEPTED_RETRY_DELAY).await;
                    }
                    Err(e) => {
                        tracing::error!(pipeline = %self.id, error = %e, dropped_items = b.item_count(), "Dropping accepted data that the rest of the pipeline refused");
                        break;
                    }
                }
            }
        }
    }

    /// Spawns the tick task of every buffering stage; they stop when `stop` is cancelled.
    pub fn spawn_tickers(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        stop: CancellationToken,
        hard_stop: CancellationToken,
    ) {
        for (i, stage) in self.stages.iter().enumerate() {
            let Some(interval) = stage.processor.tick_interval() else {
                continue;
            };
            let me = self.clone();
            let stop = stop.clone();
            let hard_stop = hard_stop.clone();
            let wake = stage.wake.clone();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = wake.notified() => {}
                        _ = stop.cancelled() => break,
                    }
                    let mut out = Vec::new();
                    me.stages[i].processor.on_tick(&mut out);
                    Self::count(&me.stages[i].outgoing, &out);
                    me.forward_accepted(i + 1, out, &hard_stop).await;
                }
            });
        }
    }

    /// At shutdown (tickers stopped): flushes each stage in order, passing what it emits on.
    pub async fn flush(&self, hard_stop: &CancellationToken) {
        for (i, stage) in self.stages.iter().enumerate() {
            let mut out = Vec::new();
            stage.processor.flush(&mut out);
            Self::count(&stage.outgoing, &out);
            self.forward_accepted(i + 1, out, hard_stop).await;
        }
    }
}

#[async_trait::async_trait]
impl Consumer for Pipeline {
    async fn consume(&self, batch: Batch) -> Result<(), PipelineError> {
        let out = self.run_stages(0, vec![batch])?;
        self.deliver(out, Overflow::RefuseWhenFull).await
    }

    fn admit(&self) -> Result<(), PipelineError> {
        self.stages.iter().try_for_each(|s| s.processor.admit())
    }
}

/// A receiver feeding several pipelines of one signal: each gets a (cheap) clone.
pub struct Fanout(pub Vec<Arc<dyn Consumer>>);

#[async_trait::async_trait]
impl Consumer for Fanout {
    async fn consume(&self, batch: Batch) -> Result<(), PipelineError> {
        for c in &self.0 {
            c.consume(batch.clone()).await?;
        }
        Ok(())
    }

    fn admit(&self) -> Result<(), PipelineError> {
        self.0.iter().try_for_each(|c| c.admit())
    }
}
