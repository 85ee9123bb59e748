//! `service.telemetry.logs.processors`: the collector's own records exported as OTLP logs.
//! The layer turns each record into a `LogRecord` (severity, body, attributes from the fields
//! and `initial_fields`) and queues it without blocking (a full queue drops, as the SDK's batch
//! processor); one task per processor sends them through an `otlp` or `otlphttp` exporter,
//! every `schedule_delay` or `max_export_batch_size` records (`simple`: at once), and what is
//! left at shutdown.

use super::{initial_fields, Fields};
use ferrotel_config::telemetry::LogProcessor;
use ferrotel_config::{ConfigErrors, LogsTelemetry, Signal};
use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::{Batch, Data, Exporter, Registry, RequestMeta};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::Context;

/// The receiving ends of the processors' queues, to be started in the runtime.
pub(crate) struct LogQueue {
    queues: Vec<(LogProcessor, mpsc::Receiver<LogRecord>)>,
}

/// The layer feeding every processor's queue.
pub(crate) struct OtlpLayer {
    senders: Vec<mpsc::Sender<LogRecord>>,
    initial: Vec<(String, serde_json::Value)>,
}

pub(crate) fn channel(cfg: &LogsTelemetry) -> (LogQueue, OtlpLayer) {
    let mut queues = vec![];
    let mut senders = vec![];
    for p in &cfg.processors {
        let (tx, rx) = mpsc::channel(p.max_queue_size.max(1));
        senders.push(tx);
        queues.push((p.clone(), rx));
    }
    (
        LogQueue { queues },
        OtlpLayer {
            senders,
            initial: initial_fields(cfg),
        },
    )
}

fn any(v: serde_json::Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        serde_json::Value::String(s) => V::StringValue(s),
        serde_json::Value::Bool(b) => V::BoolValue(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        other => V::StringValue(other.to_string()),
    };
    AnyValue { value: Some(value) }
}

fn severity(level: &tracing::Level) -> SeverityNumber {
    match *level {
        tracing::Level::ERROR => SeverityNumber::Error,
        tracing::Level::WARN => SeverityNumber::Warn,
        tracing::Level::INFO => SeverityNumber::Info,
        tracing::Level::DEBUG => SeverityNumber::Debug,
        tracing::Level::TRACE => SeverityNumber::Trace,
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for OtlpLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let f = Fields::of(event);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let record = LogRecord {
            time_unix_nano: now,
            observed_time_unix_nano: now,
            severity_number: severity(meta.level()) as i32,
            severity_text: super::level_name(meta.level()).to_string(),
            body: Some(any(f.message.into())),
            attributes: self
                .initial
                .iter()
                .cloned()
                .chain(f.fields)
                .map(|(key, v)| KeyValue {
                    key,
                    value: Some(any(v)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        for tx in &self.senders {
            let _ = tx.try_send(record.clone());
        }
    }
}

/// The processors' exporters, created (so that their settings are checked) before start.
pub(crate) struct LogExporters(Vec<(LogProcessor, mpsc::Receiver<LogRecord>, Arc<dyn Exporter>)>);

impl LogQueue {
    pub fn exporters(self, registry: &Registry) -> Result<LogExporters, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let mut out = vec![];
        for (p, rx) in self.queues {
            match ferrotel_engine::self_push::push_exporter(registry, &p.exporter, Signal::Logs) {
                Ok(e) => out.push((p, rx, e)),
                Err(e) => errors.extend(e),
            }
        }
        errors.into_result(LogExporters(out))
    }
}

impl LogExporters {
    /// Starts one sending task per processor; they send what is queued after `stop` and end.
    pub fn spawn(self, resource: Resource, stop: CancellationToken, tasks: &mut JoinSet<()>) {
        for (p, rx, exporter) in self.0 {
            tasks.spawn(run(p, rx, exporter, resource.clone(), stop.clone()));
        }
    }
}

async fn run(
    p: LogProcessor,
    mut rx: mpsc::Receiver<LogRecord>,
    exporter: Arc<dyn Exporter>,
    resource: Resource,
    stop: CancellationToken,
) {
    let ctx = ferrotel_core::ExporterStartContext::default();
    if let Err(e) = exporter.start(&ctx).await {
        tracing::error!(processor = %p.exporter.path, error = %e, "Cannot export logs");
        return;
    }
    let max = if p.batch {
        p.max_export_batch_size.max(1)
    } else {
        1
    };
    loop {
        let mut records = vec![];
        let stopped = tokio::select! {
            n = rx.recv_many(&mut records, max) => n == 0,
            _ = stop.cancelled() => true,
        };
        if !stopped && p.batch && records.len() < max {
            // Wait for more until the schedule delay (or the batch is full, or shutdown).
            let deadline = tokio::time::sleep(p.schedule_delay);
            tokio::pin!(deadline);
            while records.len() < max {
                let room = max - records.len();
                tokio::select! {
                    n = rx.recv_many(&mut records, room) => if n == 0 { break },
                    _ = &mut deadline => break,
                    _ = stop.cancelled() => break,
                }
            }
        }
        // Decided once: a stop that comes during the sends below is seen on the next turn,
        // which drains what arrived meanwhile.
        let last = stopped || stop.is_cancelled();
        if last {
            while let Ok(r) = rx.try_recv() {
                records.push(r);
            }
        }
        for chunk in records.chunks(max) {
            send(&p, &exporter, &resource, chunk.to_vec()).await;
        }
        if last {
            break;
        }
    }
    exporter.shutdown().await;
}

async fn send(
    p: &LogProcessor,
    exporter: &Arc<dyn Exporter>,
    resource: &Resource,
    records: Vec<LogRecord>,
) {
    if records.is_empty() {
        return;
    }
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "ferrotel".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    let batch = Batch::from_data(Data::Logs(req), Arc::new(RequestMeta::default()));
    // Failures are not logged: that record would be exported too, and fail again.
    let _ = tokio::time::timeout(
        p.export_timeout.max(Duration::from_millis(1)),
        exporter.export(batch),
    )
    .await;
}
