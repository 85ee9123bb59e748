//! Fixtures and harnesses for testing ferrotel components:
//! - [`alloc`]: a global allocator counting allocations;
//! - [`fixtures`]: realistic OTLP requests for each signal;
//! - [`CaptureConsumer`]: a pipeline stand-in that records what a receiver pushes;
//! - [`RecordingExporter`]: an exporter that records batches and can fail on demand;
//! - [`config`]: create contexts, YAML and testdata for component config tests;
//! - [`conformance`]: create / process / flush checks every processor factory must pass;
//! - [`pki`]: CA, server and client certificates generated for TLS tests;
//! - [`metrics`]: the one reader of self-metrics text (a series' value, a sum over labels);
//! - [`net`]: a [`ReservedPort`] where nothing listens (components bind port 0 instead);
//! - [`wait`]: [`wait_for`] a condition with a deadline instead of sleeping.

pub mod alloc;
pub mod config;
pub mod conformance;
pub mod fixtures;
pub mod metrics;
pub mod net;
pub mod pki;
pub mod wait;

pub use net::ReservedPort;
pub use wait::{wait_for, wait_for_async, wait_for_blocking};

use ferrotel_core::{Batch, Consumer, ExportError, Exporter, PipelineError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Records every batch it is given; answers with `refuse` when set.
#[derive(Default, Clone)]
pub struct CaptureConsumer {
    pub batches: Arc<Mutex<Vec<Batch>>>,
    pub refuse: Arc<Mutex<Option<PipelineError>>>,
}

impl CaptureConsumer {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn refuse_with(&self, e: Option<PipelineError>) {
        *self.refuse.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }
    pub fn taken(&self) -> Vec<Batch> {
        std::mem::take(&mut *self.batches.lock().unwrap_or_else(|p| p.into_inner()))
    }
    pub fn item_count(&self) -> usize {
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(Batch::item_count)
            .sum()
    }
}

#[async_trait::async_trait]
impl Consumer for CaptureConsumer {
    async fn consume(&self, batch: Batch) -> Result<(), PipelineError> {
        if let Some(e) = self
            .refuse
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(e);
        }
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(batch);
        Ok(())
    }
    fn admit(&self) -> Result<(), PipelineError> {
        match self
            .refuse
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(e) if e.is_retryable() => Err(e),
            _ => Ok(()),
        }
    }
}

/// Records exported batches. Scripted failures are returned first, one per attempt.
#[derive(Default, Clone)]
pub struct RecordingExporter {
    pub batches: Arc<Mutex<Vec<Batch>>>,
    pub failures: Arc<Mutex<VecDeque<ExportError>>>,
    pub attempts: Arc<std::sync::atomic::AtomicUsize>,
    /// Each attempt sleeps this long first (a slow backend).
    pub delay: Arc<Mutex<std::time::Duration>>,
}

impl RecordingExporter {
    pub fn fail_next(&self, e: ExportError) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(e);
    }
    pub fn item_count(&self) -> usize {
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(Batch::item_count)
            .sum()
    }
}

#[async_trait::async_trait]
impl Exporter for RecordingExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        self.attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap_or_else(|p| p.into_inner());
        if !delay.is_zero() {
            // Not synchronisation: the slow backend the test asked for.
            tokio::time::sleep(delay).await;
        }
        if let Some(e) = self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
        {
            return Err(e);
        }
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(batch);
        Ok(())
    }
}
