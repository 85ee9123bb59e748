#![allow(clippy::unwrap_used)]
use super::*;
use ferrotel_core::proto::common::v1::any_value::Value as Av;
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::{
    Batch, ComponentId, Consumer, Consumers, Extension, ExtensionContext, Extensions,
    KeyValueStore, PipelineError, QueueStore, Storage, StorageError, Telemetry,
};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Default)]
struct Capture {
    records: Mutex<Vec<LogRecord>>,
    /// Refuse (retryably) this many calls first.
    refuse: AtomicUsize,
    /// Answer this many calls first that the pipeline's buffer is full.
    busy: AtomicUsize,
    /// Never answer (a pipeline stuck in backpressure).
    block: std::sync::atomic::AtomicBool,
    /// Accept but keep the batches (an exporter that has not finished them).
    hold: std::sync::atomic::AtomicBool,
    held: Mutex<Vec<Batch>>,
}

#[async_trait::async_trait]
impl Consumer for Capture {
    async fn consume(&self, batch: Batch) -> Result<(), PipelineError> {
        if self.block.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let take = |n: &AtomicUsize| {
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        if take(&self.busy) {
            return Err(PipelineError::Busy("batch buffer full".into()));
        }
        if take(&self.refuse) {
            return Err(PipelineError::Refused {
                message: "full".into(),
                retry_after: None,
            });
        }
        let Ok(ferrotel_core::Data::Logs(req)) = batch.view() else {
            panic!("not logs")
        };
        let mut out = self.records.lock().unwrap();
        for rl in &req.resource_logs {
            for sl in &rl.scope_logs {
                out.extend(sl.log_records.iter().cloned());
            }
        }
        if self.hold.load(Ordering::SeqCst) {
            self.held.lock().unwrap().push(batch);
        }
        Ok(())
    }
}

impl Capture {
    fn bodies(&self) -> Vec<String> {
        let recs = self.records.lock().unwrap();
        recs.iter().map(body).collect()
    }
}

fn body(r: &LogRecord) -> String {
    match r.body.as_ref().and_then(|b| b.value.clone()) {
        Some(Av::StringValue(s)) => s,
        other => format!("{other:?}"),
    }
}

#[derive(Default)]
pub(super) struct MemKv(Mutex<HashMap<String, Vec<u8>>>);

impl KeyValueStore for MemKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.0.lock().unwrap().insert(key.into(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }
}

struct MemStorage(Arc<MemKv>);

impl Storage for MemStorage {
    fn open_queue(&self, _: &str) -> Result<Arc<dyn QueueStore>, StorageError> {
        Err(StorageError("no queues".into()))
    }
    fn open_client(&self, _: &str) -> Result<Arc<dyn KeyValueStore>, StorageError> {
        Ok(self.0.clone())
    }
}

struct MemExt(Arc<MemKv>);

#[async_trait::async_trait]
impl Extension for MemExt {
    async fn start(&mut self, _: ExtensionContext) -> Result<(), StartError> {
        Ok(())
    }
    async fn shutdown(&mut self) {}
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn storage(&self) -> Option<Arc<dyn Storage>> {
        Some(Arc::new(MemStorage(self.0.clone())))
    }
}

fn context(capture: &Arc<Capture>, kv: Option<&Arc<MemKv>>) -> ReceiverContext {
    let consumer: Arc<dyn Consumer> = capture.clone();
    let ext_id = ComponentId::new("file_storage");
    let ext: Option<Box<dyn Extension>> = kv.map(|kv| Box::new(MemExt(kv.clone())) as _);
    let extensions = Extensions::new(ext.iter().map(|e| (&ext_id, e.as_ref())));
    ReceiverContext {
        id: ComponentId::new("filelog"),
        consumers: Consumers {
            logs: Some(consumer),
            ..Default::default()
        },
        telemetry: Telemetry::new(),
        shutdown: CancellationToken::new(),
        extensions,
        listeners: Default::default(),
    }
}

fn config(yaml: &str, dir: &std::path::Path) -> FileLogConfig {
    let text = yaml.replace("DIR", &dir.display().to_string());
    let v: ferrotel_config::Value = serde_yaml_ng::from_str(&text).unwrap();
    ferrotel_config::decode_valid::<FileLogConfig>("receivers.filelog", &v)
        .unwrap()
        .0
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

async fn wait_for(capture: &Capture, n: usize) {
    for _ in 0..200 {
        if capture.records.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("only {:?}", capture.bodies());
}

const WINSTON: &str = r#"
include: [DIR/*.log]
start_at: beginning
poll_interval: 20ms
operators:
  - type: json_parser
    timestamp: { parse_from: attributes.timestamp, layout: '%Y-%m-%dT%H:%M:%S.%LZ' }
    severity: { parse_from: attributes.level }
    trace: { trace_id: { parse_from: attributes.trace_id }, span_id: { parse_from: attributes.span_id } }
  - { type: move, from: attributes.message, to: body }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winston_lines_arrive_parsed() {
    let d = tempfile::tempdir().unwrap();
    let capture = Arc::new(Capture::default());
    let mut rx = FileLogReceiver::new(config(WINSTON, d.path()));
    rx.start(context(&capture, None)).await.unwrap();
    append(
        &d.path().join("combined.log"),
        "{\"level\":\"error\",\"message\":\"boom\",\"timestamp\":\"2025-01-02T03:04:05.006Z\",\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\",\"span_id\":\"b7ad6b7169203331\"}\n",
    );
    wait_for(&capture, 1).await;
    rx.shutdown().await;
    let recs = capture.records.lock().unwrap();
    let r = &recs[0];
    assert_eq!(body(r), "boom");
    assert_eq!(r.time_unix_nano, 1_735_787_045_006_000_000);
    assert_eq!((r.severity_number, r.severity_text.as_str()), (17, "error"));
    assert_eq!(hex::encode(&r.trace_id), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(hex::encode(&r.span_id), "b7ad6b7169203331");
    assert!(r.observed_time_unix_nano > 0);
    let name = r
        .attributes
        .iter()
        .find(|kv| kv.key == "log.file.name")
        .unwrap();
    assert_eq!(
        name.value.as_ref().unwrap().value,
        Some(Av::StringValue("combined.log".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_storage_resumes_without_duplicates() {
    let d = tempfile::tempdir().unwrap();
    let kv = Arc::new(MemKv::default());
    let cfg = config(
        "{include: [DIR/*.log], poll_interval: 20ms, storage: file_storage, start_at: beginning}",
        d.path(),
    );
    let log = d.path().join("app.log");
    let capture = Arc::new(Capture::default());
    let mut rx = FileLogReceiver::new(cfg.clone());
    rx.start(context(&capture, Some(&kv))).await.unwrap();
    (0..5).for_each(|i| append(&log, &format!("first {i}\n")));
    wait_for(&capture, 5).await;
    rx.shutdown().await;
    (0..3).for_each(|i| append(&log, &format!("while down {i}\n")));
    let mut rx = FileLogReceiver::new(cfg);
    rx.start(context(&capture, Some(&kv))).await.unwrap();
    wait_for(&capture, 8).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    rx.shutdown().await;
    let got = capture.bodies();
    assert_eq!(got.len(), 8, "{got:?}");
    assert_eq!(got[5], "while down 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_batches_are_retried_when_enabled() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        "{include: [DIR/*.log], poll_interval: 20ms, start_at: beginning, retry_on_failure: {enabled: true, initial_interval: 10ms}}",
        d.path(),
    );
    let capture = Arc::new(Capture::default());
    capture.refuse.store(3, Ordering::SeqCst);
    let mut rx = FileLogReceiver::new(cfg);
    rx.start(context(&capture, None)).await.unwrap();
    (0..250).for_each(|i| append(&d.path().join("a.log"), &format!("l{i}\n")));
    wait_for(&capture, 250).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    rx.shutdown().await;
    let got = capture.bodies();
    assert_eq!(got.len(), 250);
    let unique: std::collections::HashSet<_> = got.iter().collect();
    assert_eq!(unique.len(), 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pipeline_buffer_pauses_reading_without_retry_on_failure() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        "{include: [DIR/*.log], poll_interval: 20ms, start_at: beginning}",
        d.path(),
    );
    let capture = Arc::new(Capture::default());
    capture.busy.store(20, Ordering::SeqCst);
    let mut rx = FileLogReceiver::new(cfg);
    rx.start(context(&capture, None)).await.unwrap();
    (0..250).for_each(|i| append(&d.path().join("a.log"), &format!("l{i}\n")));
    wait_for(&capture, 250).await;
    rx.shutdown().await;
    let got = capture.bodies();
    let expected: Vec<String> = (0..250).map(|i| format!("l{i}")).collect();
    assert_eq!(got, expected);
    assert_eq!(capture.busy.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_pipeline_delays_shutdown_only_by_the_grace_period() {
    let d = tempfile::tempdir().unwrap();
    let kv = Arc::new(MemKv::default());
    let cfg = config(
        "{include: [DIR/*.log], poll_interval: 20ms, start_at: beginning, storage: file_storage}",
        d.path(),
    );
    let capture = Arc::new(Capture::default());
    capture.block.store(true, Ordering::SeqCst);
    append(&d.path().join("a.log"), "stuck\n");
    let mut rx = FileLogReceiver::new(cfg.clone());
    rx.shutdown_grace = Duration::from_millis(100);
    rx.start(context(&capture, Some(&kv))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = std::time::Instant::now();
    rx.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Nothing was accepted, so no offset was saved: the next run reads the line.
    capture.block.store(false, Ordering::SeqCst);
    let mut rx = FileLogReceiver::new(cfg);
    rx.start(context(&capture, Some(&kv))).await.unwrap();
    wait_for(&capture, 1).await;
    rx.shutdown().await;
    assert_eq!(capture.bodies(), ["stuck"]);
}

/// The offset saved for the only file, if any.
fn saved_offset(kv: &MemKv) -> Option<u64> {
    let bytes = kv.get(checkpoint::KEY).unwrap()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v.get(0).map(|f| f["offset"].as_u64().unwrap())
}

async fn wait_offset(kv: &MemKv, want: u64) {
    for _ in 0..200 {
        if saved_offset(kv) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("saved offset {:?}, want {want}", saved_offset(kv));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_pauses_while_the_limit_of_lines_in_flight_is_reached() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        "{include: [DIR/*.log], poll_interval: 20ms, start_at: beginning}",
        d.path(),
    );
    let log = d.path().join("app.log");
    (0..1000).for_each(|i| append(&log, &format!("line {i:04}\n")));
    let capture = Arc::new(Capture::default());
    capture.hold.store(true, Ordering::SeqCst);
    let mut rx = FileLogReceiver::new(cfg).with_in_flight_limit(250);
    rx.start(context(&capture, None)).await.unwrap();
    wait_for(&capture, 300).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Batches of 100: the third reaches the limit, and nothing more is sent while they are held.
    assert_eq!(capture.records.lock().unwrap().len(), 300);
    capture.hold.store(false, Ordering::SeqCst);
    drop(std::mem::take(&mut *capture.held.lock().unwrap()));
    wait_for(&capture, 1000).await;
    rx.shutdown().await;
    let expected: Vec<String> = (0..1000).map(|i| format!("line {i:04}")).collect();
    assert_eq!(capture.bodies(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_waits_until_the_data_left_the_collector() {
    let d = tempfile::tempdir().unwrap();
    let kv = Arc::new(MemKv::default());
    let cfg = config(
        "{include: [DIR/*.log], poll_interval: 20ms, storage: file_storage, start_at: beginning}",
        d.path(),
    );
    let log = d.path().join("app.log");
    let capture = Arc::new(Capture::default());
    capture.hold.store(true, Ordering::SeqCst);
    (0..250).for_each(|i| append(&log, &format!("line {i:03}\n")));
    let len = std::fs::metadata(&log).unwrap().len();
    let mut rx = FileLogReceiver::new(cfg);
    rx.start(context(&capture, Some(&kv))).await.unwrap();
    wait_for(&capture, 250).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        saved_offset(&kv),
        Some(0),
        "accepted, not exported: offset stays"
    );
    let held = std::mem::take(&mut *capture.held.lock().unwrap());
    assert_eq!(held.len(), 3, "batches of 100, 100 and 50");
    let mut held = held.into_iter();
    let (first, second, third) = (held.next(), held.next(), held.next());
    drop(second);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        saved_offset(&kv),
        Some(0),
        "in order: the first is still out"
    );
    drop(first);
    wait_offset(&kv, 9 * 200).await;
    drop(third);
    wait_offset(&kv, len).await;
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_exported_after_the_receiver_stopped_is_still_checkpointed() {
    let d = tempfile::tempdir().unwrap();
    let kv = Arc::new(MemKv::default());
    let cfg = config(
        "{include: [DIR/*.log], poll_interval: 20ms, storage: file_storage, start_at: beginning}",
        d.path(),
    );
    let log = d.path().join("app.log");
    let capture = Arc::new(Capture::default());
    capture.hold.store(true, Ordering::SeqCst);
    append(&log, "a\nb\n");
    let mut rx = FileLogReceiver::new(cfg);
    rx.start(context(&capture, Some(&kv))).await.unwrap();
    wait_for(&capture, 2).await;
    rx.shutdown().await;
    assert_eq!(saved_offset(&kv), Some(0));
    // The pipeline drains after the receivers stopped: the export ends now.
    capture.held.lock().unwrap().clear();
    assert_eq!(saved_offset(&kv), Some(4));
}

#[test]
fn factory_answers_to_both_names() {
    let info = FileLogReceiverFactory.info();
    assert!(info.answers_to("file_log") && info.answers_to("filelog"));
}
