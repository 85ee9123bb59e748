//! A pipeline: its processors, called directly in order, then fan-out to its outputs, which are
//! exporters' queues and connectors.
//!
//! Data from a client runs through the processors inside the request's own task, so a refusal
//! (memory limit, full queue) reaches that client. Buffering processors (batch, tail sampling)
//! accept and emit later from a tick task; what they emit has been accepted already, so it
//! waits for queue room instead of being refused, and is never dropped.
//!
//! Fan-out: every output gets every batch (a shared reference, not a copy). On the client's
//! path every output is tried even when one refuses, as otelcol's fan-out does; the client gets
//! the first refusal and will send the data again, so the outputs that accepted it get it
//! twice. Those items are counted in `ferrotel_pipeline_partially_delivered_items`. On the
//! accepted path (what processors emit later) each output waits out its own refusals, so no
//! output gets anything twice.

use crate::connector::ConnectorNode;
use crate::exporter_runner::{ExporterRunner, Overflow};
use ferrotel_config::PipelineId;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{Batch, Consumer, Form, MemoryBudget, PipelineError, Processor, Signal};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One processor instance with its wake handle and item counters.
pub(crate) struct Stage {
    pub processor: Box<dyn Processor>,
    pub wake: Arc<Notify>,
    pub incoming: Counter,
    pub outgoing: Counter,
}

/// Where a pipeline's data goes after its processors.
#[derive(Clone)]
pub(crate) enum Output {
    Exporter(Arc<ExporterRunner>),
    Connector(Arc<ConnectorNode>),
}

impl Output {
    /// The client's path: a refusal is returned.
    async fn push(&self, batch: Batch) -> Result<(), PipelineError> {
        match self {
            Output::Exporter(e) => e.enqueue(batch, Overflow::RefuseWhenFull).await,
            Output::Connector(c) => c.consume(batch).await,
        }
    }

    /// The accepted path: refusals are waited out until `stop`.
    async fn push_accepted(&self, batch: Batch, stop: &CancellationToken) {
        match self {
            Output::Exporter(e) => {
                let id = e.id().to_string();
                let items = batch.item_count();
                let send = || e.enqueue(batch.clone(), Overflow::Wait);
                retry_accepted(&id, items, stop, send).await;
            }
            Output::Connector(c) => c.consume_accepted(batch, stop).await,
        }
    }

    fn admit(&self) -> Result<(), PipelineError> {
        match self {
            Output::Exporter(_) => Ok(()),
            Output::Connector(c) => c.admit(),
        }
    }
}

/// How long a refused re-try of already accepted data waits before trying again.
const ACCEPTED_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Runs `attempt` until it succeeds, waiting out retryable refusals until `stop` fires; a
/// permanent refusal (or one after `stop`) drops the data with an error log naming `who`.
pub(crate) async fn retry_accepted<F, Fut>(
    who: &str,
    items: usize,
    stop: &CancellationToken,
    mut attempt: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), PipelineError>>,
{
    loop {
        match attempt().await {
            Ok(()) => return,
            Err(e) if e.is_retryable() && !stop.is_cancelled() => {
                tracing::debug!(component = who, error = %e, "downstream refused accepted data, waiting");
                tokio::time::sleep(ACCEPTED_RETRY_DELAY).await;
            }
            Err(e) => {
                tracing::error!(component = who, error = %e, dropped_items = items, "Dropping accepted data that the rest of the pipeline refused");
                return;
            }
        }
    }
}

pub struct Pipeline {
    pub id: PipelineId,
    stages: Vec<Stage>,
    outputs: Vec<Output>,
    partially_delivered: Counter,
    /// The process-wide budget for queued data: new data is refused while it is spent.
    budget: Arc<MemoryBudget>,
}

impl Pipeline {
    pub(crate) fn new(
        id: PipelineId,
        stages: Vec<Stage>,
        outputs: Vec<Output>,
        partially_delivered: Counter,
        budget: Arc<MemoryBudget>,
    ) -> Self {
        Pipeline {
            id,
            stages,
            outputs,
            partially_delivered,
            budget,
        }
    }

    pub(crate) fn outputs(&self) -> &[Output] {
        &self.outputs
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

    /// The client's path: every output gets every batch; the first refusal is returned. What
    /// some output accepted before the refusal will come again with the client's retry: it
    /// is counted in `ferrotel_pipeline_partially_delivered_items`.
    async fn fan_out(&self, batches: Vec<Batch>) -> Result<(), PipelineError> {
        let mut delivered = 0;
        for b in batches {
            match push_to_all(&self.outputs, &b, Output::push).await {
                Ok(()) => delivered += b.item_count(),
                Err((e, accepted)) => {
                    let partial = if accepted > 0 { b.item_count() } else { 0 };
                    self.partially_delivered.add((delivered + partial) as u64);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Passes data already accepted (by a processor of this pipeline, or by an upstream
    /// pipeline's connector) through the stages from `from` on and to every output. Retryable
    /// refusals are waited out (until `stop` fires); nothing is dropped silently.
    pub(crate) fn forward_accepted<'a>(
        &'a self,
        from: usize,
        batches: Vec<Batch>,
        stop: &'a CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let who = self.id.to_string();
            for b in batches {
                let mut out = Vec::new();
                let items = b.item_count();
                let run = || {
                    let result = self.run_stages(from, vec![b.clone()]).map(|o| out = o);
                    std::future::ready(result)
                };
                retry_accepted(&who, items, stop, run).await;
                for ob in out {
                    for o in &self.outputs {
                        o.push_accepted(ob.clone(), stop).await;
                    }
                }
            }
        })
    }

    /// Spawns the tick task of every buffering stage; they stop when `stop` is cancelled.
    /// Runs every processor's `start`, in order (they may block: call on a blocking thread).
    pub(crate) fn start_processors(&self) {
        for stage in &self.stages {
            stage.processor.start();
        }
    }

    pub(crate) fn spawn_tickers(
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
                    let idle = me.stages[i].processor.is_idle();
                    tokio::select! {
                        _ = tokio::time::sleep(interval), if !idle => {}
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
    pub(crate) async fn flush(&self, hard_stop: &CancellationToken) {
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
        self.budget.admit()?;
        let out = self.run_stages(0, vec![batch])?;
        self.fan_out(out).await
    }

    fn admit(&self) -> Result<(), PipelineError> {
        self.budget.admit()?;
        self.stages.iter().try_for_each(|s| s.processor.admit())?;
        self.outputs.iter().try_for_each(Output::admit)
    }

    /// The first stage that looks at `signal` batches decides; with none, the outputs get
    /// the batches as they came (exporters and connectors read the encoded form).
    fn decodes_first(&self, signal: Signal) -> bool {
        let form = (self.stages.iter())
            .map(|s| s.processor.form(signal))
            .find(|f| *f != Form::Untouched);
        form == Some(Form::Decoded)
    }
}

/// Offers `batch` to every target, even after one refuses (as otelcol's fan-out does). On a
/// refusal: the first one, and how many targets accepted the batch.
pub(crate) async fn push_to_all<'a, T, F, Fut>(
    targets: impl IntoIterator<Item = &'a T>,
    batch: &Batch,
    push: F,
) -> Result<(), (PipelineError, usize)>
where
    T: 'a,
    F: Fn(&'a T, Batch) -> Fut,
    Fut: Future<Output = Result<(), PipelineError>>,
{
    let mut refusal = None;
    let mut accepted = 0;
    for t in targets {
        match push(t, batch.clone()).await {
            Ok(()) => accepted += 1,
            Err(e) => {
                refusal.get_or_insert(e);
            }
        }
    }
    refusal.map_or(Ok(()), |e| Err((e, accepted)))
}

/// `pipeline.consume(batch)`, as a function [`push_to_all`] can take.
pub(crate) async fn consume_into(
    pipeline: &Arc<Pipeline>,
    batch: Batch,
) -> Result<(), PipelineError> {
    pipeline.consume(batch).await
}

/// A receiver feeding several pipelines of one signal: each gets a shared reference, and the
/// first refusal is returned. Items some pipeline accepted before another refused are counted
/// in `ferrotel_receiver_partially_delivered_items`.
pub(crate) struct Fanout {
    pub pipelines: Vec<Arc<Pipeline>>,
    pub partially_delivered: Counter,
}

#[async_trait::async_trait]
impl Consumer for Fanout {
    async fn consume(&self, batch: Batch) -> Result<(), PipelineError> {
        push_to_all(&self.pipelines, &batch, consume_into)
            .await
            .map_err(|(e, accepted)| {
                if accepted > 0 {
                    self.partially_delivered.add(batch.item_count() as u64);
                }
                e
            })
    }

    fn admit(&self) -> Result<(), PipelineError> {
        self.pipelines.iter().try_for_each(|c| c.admit())
    }

    fn decodes_first(&self, signal: Signal) -> bool {
        self.pipelines.iter().all(|p| p.decodes_first(signal))
    }
}
