//! The `file_log` receiver (alias `filelog`): tails files matched by glob patterns, follows
//! them across rotation by rename, by new numbered files and by copytruncate (files are known
//! by their first `fingerprint_size` bytes, as otelcol does), splits them into entries on
//! newlines or `multiline` patterns, runs the configured stanza-style operators and sends the
//! entries as OTLP log records into the logs pipeline, waiting for the pipeline to accept each
//! batch before reading on. With `storage`, file fingerprints and offsets are checkpointed in
//! that storage extension as the entries are delivered (exported, dropped for good, or
//! written to a persistent sending queue: see [`ledger`]), so a restart resumes after the
//! last delivered entry.
//!
//! ```yaml
//! extensions:
//!   file_storage: { directory: /var/lib/ferrotel }
//! receivers:
//!   filelog:
//!     include: [/var/log/api/combined*.log]
//!     start_at: beginning
//!     storage: file_storage
//!     operators:
//!       - type: json_parser
//!         timestamp: { parse_from: attributes.timestamp, layout: '%Y-%m-%dT%H:%M:%S.%LZ' }
//!         severity: { parse_from: attributes.level }
//!         trace: { trace_id: { parse_from: attributes.trace_id }, span_id: { parse_from: attributes.span_id } }
//! service:
//!   extensions: [file_storage]
//!   pipelines:
//!     logs: { receivers: [filelog], exporters: [debug] }
//! ```

pub mod checkpoint;
pub mod config;
pub mod emit;
pub mod glob;
pub mod in_flight;
pub mod ledger;
pub mod operators;
pub mod reader;
pub mod sink;
pub mod size;
pub mod source;
pub mod split;
pub mod tailer;
pub mod wire;

pub use config::FileLogConfig;

use checkpoint::{Checkpoints, FilePos};
use emit::{Converter, Sink, Stopped};
use ferrotel_config::ConfigErrors;
use ferrotel_core::{
    CreateContext, Factory, FactoryInfo, Receiver, ReceiverContext, RequestMeta, Signal, Stability,
    StartError,
};
use in_flight::InFlight;
use ledger::{Ledger, Marks};
use sink::{ConsumerSink, Counters};
use std::sync::Arc;
use std::time::Duration;
use tailer::Tailer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Creates `file_log` (`filelog`) receivers.
pub struct FileLogReceiverFactory;

impl Factory for FileLogReceiverFactory {
    type Config = FileLogConfig;
    type Component = Box<dyn Receiver>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("file_log", "Tails log files (otelcol's filelog receiver)")
            .aliases(&["filelog"])
            .signal(Signal::Logs, Stability::Alpha)
            .example("include: [/var/log/app/*.log]")
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        config: FileLogConfig,
    ) -> Result<Box<dyn Receiver>, ConfigErrors> {
        Ok(Box::new(FileLogReceiver::new(config)))
    }
}

/// The receiver: one blocking thread that polls, reads and sends.
pub struct FileLogReceiver {
    config: FileLogConfig,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    /// How long a send blocked by the pipeline may delay shutdown.
    shutdown_grace: Duration,
    /// Lines sent and not yet delivered at most (see [`in_flight`]).
    in_flight_limit: usize,
}

impl FileLogReceiver {
    pub fn new(config: FileLogConfig) -> Self {
        FileLogReceiver {
            config,
            stop: CancellationToken::new(),
            task: None,
            shutdown_grace: Duration::from_secs(5),
            in_flight_limit: in_flight::IN_FLIGHT_LIMIT,
        }
    }

    /// Another bound on the lines in flight than [`in_flight::IN_FLIGHT_LIMIT`] (tests).
    #[cfg(test)]
    pub fn with_in_flight_limit(self, in_flight_limit: usize) -> Self {
        FileLogReceiver {
            in_flight_limit,
            ..self
        }
    }

    fn ledger(&self, ctx: &ReceiverContext) -> Result<Option<Arc<Ledger>>, StartError> {
        let Some(id) = &self.config.storage else {
            return Ok(None);
        };
        let fail = |e: String| StartError(format!("storage: {e}"));
        let storage = ctx.extensions.storage(id).map_err(fail)?;
        let name = format!(
            "receiver_filelog_{}",
            ctx.id.name.as_deref().unwrap_or_default()
        );
        let client = storage
            .open_client(&name)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Some(Ledger::new(
            Checkpoints::new(client),
            ctx.id.to_string(),
        )))
    }

    fn sink(
        &self,
        ctx: &ReceiverContext,
        ledger: Option<Arc<Ledger>>,
    ) -> Result<ConsumerSink, StartError> {
        let receiver = ctx.id.to_string();
        let labels = [("receiver", receiver.as_str()), ("transport", "")];
        let t = &ctx.telemetry;
        Ok(ConsumerSink {
            converter: Converter::new(&self.config).map_err(StartError)?,
            consumer: ctx.consumers.logs.clone(),
            runtime: tokio::runtime::Handle::current(),
            stop: self.stop.clone(),
            retry: self.config.retry_on_failure.clone(),
            meta: Arc::new(RequestMeta {
                receiver: receiver.clone(),
                ..Default::default()
            }),
            counters: Counters {
                accepted: t.counter(
                    "otelcol_receiver_accepted_log_records",
                    "Number of log records successfully pushed into the pipeline.",
                    &labels,
                ),
                refused: t.counter(
                    "otelcol_receiver_refused_log_records",
                    "Number of log records that could not be pushed into the pipeline.",
                    &labels,
                ),
            },
            in_flight: InFlight::new(
                self.in_flight_limit,
                t.gauge(
                    "ferrotel_receiver_file_log_lines_in_flight",
                    "Lines the file_log receiver sent that have not left the collector yet (reading pauses at 16384).",
                    &[("receiver", receiver.as_str())],
                ),
            ),
            pending: Default::default(),
            emitted: vec![],
            aborted: false,
            shutdown_grace: self.shutdown_grace,
            ledger,
            marks: Marks::default(),
        })
    }
}

#[async_trait::async_trait]
impl Receiver for FileLogReceiver {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        self.stop = ctx.shutdown.child_token();
        let tailer = Tailer::new(&self.config).map_err(StartError)?;
        let ledger = self.ledger(&ctx)?;
        let sink = self.sink(&ctx, ledger.clone())?;
        let run = Run {
            tailer,
            sink,
            ledger,
            poll_interval: self.config.poll_interval.0,
            stop: self.stop.clone(),
            receiver: ctx.id.to_string(),
        };
        self.task = Some(tokio::task::spawn_blocking(move || run.run()));
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// The polling loop, on its own blocking thread.
struct Run {
    tailer: Tailer,
    sink: ConsumerSink,
    ledger: Option<Arc<Ledger>>,
    poll_interval: Duration,
    stop: CancellationToken,
    receiver: String,
}

impl Run {
    fn run(mut self) {
        if let Some(l) = &self.ledger {
            match l.load() {
                Ok(files) => self.tailer.restore(files),
                Err(e) => tracing::warn!(receiver = %self.receiver, "{e}; reading files as new"),
            }
        }
        self.sync();
        loop {
            let polled = self.tailer.poll(&mut self.sink);
            // After a stop, what was read is still sent before offsets are synced.
            let sent = match polled {
                Ok(()) => true,
                Err(Stopped) => !self.sink.aborted && self.sink.flush().is_ok(),
            };
            if sent {
                self.sync();
            }
            if polled.is_err() || self.wait() {
                break;
            }
        }
        // What is still in the pipeline is checkpointed as it leaves.
        if let Some(l) = &self.ledger {
            l.stop();
        }
    }

    /// Hands the tailer's positions to the ledger and saves what is delivered.
    fn sync(&mut self) {
        let Some(l) = &self.ledger else {
            return;
        };
        l.sync(self.tailer.known_files().map(FilePos::of).collect());
        l.save_if_dirty();
    }

    /// Waits for the next poll, checkpointing deliveries meanwhile; true when stopping.
    fn wait(&self) -> bool {
        let stop = self.stop.clone();
        let d = self.poll_interval;
        let ledger = self.ledger.clone();
        self.sink.runtime.block_on(async move {
            let sleep = tokio::time::sleep(d);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => return false,
                    _ = stop.cancelled() => return true,
                    _ = sink::released(&ledger) => {}
                }
            }
        })
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
