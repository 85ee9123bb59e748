//! A connector in the graph: the output of its upstream pipelines and the input of its
//! downstream ones. What the connector emits runs through the downstream pipelines of the
//! emitted batch's signal (all of them, or those the connector names) in the same task, so a
//! downstream refusal reaches the client that sent the data upstream.

use crate::pipeline::{consume_into, push_to_all, Pipeline};
use ferrotel_config::PipelineId;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{
    Batch, ComponentId, Connector, Consumer, CreateContext, PipelineError, Routed,
};
use std::sync::{Arc, OnceLock};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub(crate) struct ConnectorNode {
    pub id: ComponentId,
    connector: Box<dyn Connector>,
    pub wake: Arc<Notify>,
    partially_delivered: Counter,
    /// The pipelines that list it as a receiver; set once every pipeline is built.
    downstream: OnceLock<Vec<Arc<Pipeline>>>,
}

impl ConnectorNode {
    pub fn new(id: ComponentId, connector: Box<dyn Connector>, ctx: &CreateContext) -> Self {
        let partially_delivered = ctx.telemetry.counter(
            "ferrotel_connector_partially_delivered_items",
            "Items some downstream pipelines accepted while another refused them (the client sends them again).",
            &[("connector", id.to_string().as_str())],
        );
        ConnectorNode {
            id,
            connector,
            wake: ctx.wake.clone(),
            partially_delivered,
            downstream: OnceLock::new(),
        }
    }

    pub fn set_downstream(&self, pipelines: Vec<Arc<Pipeline>>) {
        let _ = self.downstream.set(pipelines);
    }

    /// The connector's own check of the pipelines it joins (see [`Connector::check_pipelines`]).
    pub fn check_pipelines(
        &self,
        upstream: &[PipelineId],
        downstream: &[PipelineId],
    ) -> Result<(), String> {
        self.connector.check_pipelines(upstream, downstream)
    }

    pub fn downstream(&self) -> &[Arc<Pipeline>] {
        self.downstream.get().map(Vec::as_slice).unwrap_or(&[])
    }

    /// The downstream pipelines a routed batch goes to.
    fn targets<'a>(&'a self, routed: &'a Routed) -> impl Iterator<Item = &'a Arc<Pipeline>> + 'a {
        let signal = routed.batch.signal();
        self.downstream().iter().filter(move |p| {
            p.id.signal == signal
                && routed
                    .pipelines
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| *n == p.id.to_string()))
        })
    }

    /// The client's path: every emitted batch goes to all its targets; the first downstream
    /// refusal is returned, and what other targets accepted (the client will send it again)
    /// is counted in `ferrotel_connector_partially_delivered_items`.
    pub async fn consume(&self, batch: Batch) -> Result<(), PipelineError> {
        let mut out = Vec::new();
        self.connector.consume(batch, &mut out)?;
        let mut refusal = None;
        let mut delivered = 0;
        for routed in &out {
            match push_to_all(self.targets(routed), &routed.batch, consume_into).await {
                Ok(()) => delivered += routed.batch.item_count(),
                Err((e, accepted)) => {
                    if accepted > 0 {
                        delivered += routed.batch.item_count();
                    }
                    refusal.get_or_insert(e);
                }
            }
        }
        match refusal {
            None => Ok(()),
            Some(e) => {
                self.partially_delivered.add(delivered as u64);
                Err(e)
            }
        }
    }

    /// The accepted path: the connector sees the data once (a refusal drops it, logged);
    /// each downstream pipeline waits out its own refusals.
    pub async fn consume_accepted(&self, batch: Batch, stop: &CancellationToken) {
        let mut out = Vec::new();
        let items = batch.item_count();
        if let Err(e) = self.connector.consume(batch, &mut out) {
            tracing::error!(connector = %self.id, error = %e, dropped_items = items, "Dropping accepted data that the connector refused");
        }
        self.emit_accepted(out, stop).await;
    }

    async fn emit_accepted(&self, out: Vec<Routed>, stop: &CancellationToken) {
        for routed in &out {
            for p in self.targets(routed) {
                p.forward_accepted(0, vec![routed.batch.clone()], stop)
                    .await;
            }
        }
    }

    /// Refuses when any downstream pipeline refuses before reading (memory limit).
    pub fn admit(&self) -> Result<(), PipelineError> {
        self.downstream().iter().try_for_each(|p| p.admit())
    }

    /// Spawns the connector's tick task, if it has one; it stops when `stop` is cancelled.
    pub fn spawn_ticker(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        stop: CancellationToken,
        hard_stop: CancellationToken,
    ) {
        let Some(interval) = self.connector.tick_interval() else {
            return;
        };
        let me = self.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = me.wake.notified() => {}
                    _ = stop.cancelled() => break,
                }
                let mut out = Vec::new();
                me.connector.on_tick(&mut out);
                me.emit_accepted(out, &hard_stop).await;
            }
        });
    }

    /// At shutdown, after every upstream pipeline flushed into it.
    pub async fn flush(&self, hard_stop: &CancellationToken) {
        let mut out = Vec::new();
        self.connector.flush(&mut out);
        self.emit_accepted(out, hard_stop).await;
    }
}
