//! The process-wide memory budget for queued data (`FERROTEL_MEMORY_BUDGET_MIB`): with the
//! backend blocked, a queue without an explicit `queue_size` stops taking new data once the
//! budget is spent (retryable, before the body is read), keeps what it accepted, and takes
//! data again once the backlog is exported; a queue whose `queue_size` is set explicitly is
//! bounded by that alone. The budget is read from the environment when the service is built,
//! so this file holds one test (its own process).

#![allow(clippy::unwrap_used)]

mod common;

use common::{document, RecordingFactory, StubReceiverFactory};
use ferrotel_core::{Registry, Signal};
use ferrotel_engine::Service;
use ferrotel_testkit::fixtures;
use std::time::Duration;

const CONFIG: &str = "receivers: {stub: {}}
exporters:
  recording/budgeted: {sending_queue: {num_consumers: 1}}
  recording/explicit: {sending_queue: {num_consumers: 1, queue_size: 1000}}
service:
  pipelines:
    traces/budgeted: {receivers: [stub], exporters: [recording/budgeted]}
    logs/explicit: {receivers: [stub], exporters: [recording/explicit]}
";

/// Spans per request: about 20 KB of protobuf.
const SPANS: usize = 100;

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not reached");
}

#[tokio::test]
async fn queued_data_stays_within_the_budget_and_explicit_queue_sizes_win() {
    // SAFETY of the test: this binary has no other test, so nothing reads the environment
    // concurrently.
    std::env::set_var("FERROTEL_MEMORY_BUDGET_MIB", "1");
    let (stub, rec) = (StubReceiverFactory::default(), RecordingFactory::default());
    let registry = Registry::default().with(stub.clone()).with(rec.clone());
    let mut service = Service::build(&document(CONFIG), &registry).unwrap();
    service.start().await.unwrap();
    let budgeted = rec.exporter("recording/budgeted");
    let explicit = rec.exporter("recording/explicit");
    budgeted.close_gate();
    explicit.close_gate();
    let traces = stub.traces();
    let logs = stub.consumers("stub").logs.unwrap();
    let request_bytes = fixtures::encoded_batch(Signal::Traces, SPANS).encoded_len();

    // The explicit queue_size wins: 2 MiB of logs are queued in full and take nothing from
    // the budget.
    let log_requests = (2 << 20) / fixtures::encoded_batch(Signal::Logs, SPANS).encoded_len();
    for _ in 0..log_requests {
        logs.consume(fixtures::encoded_batch(Signal::Logs, SPANS))
            .await
            .unwrap();
    }
    assert!(
        traces.admit().is_ok(),
        "the explicit queue is outside the budget"
    );

    let mut accepted = 0;
    let refusal = loop {
        assert!(accepted < 1000, "never refused: the budget does not hold");
        match traces
            .consume(fixtures::encoded_batch(Signal::Traces, SPANS))
            .await
        {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(
        refusal.grpc_code(),
        14,
        "retryable (UNAVAILABLE): {refusal}"
    );
    assert!(refusal.to_string().contains("memory budget"), "{refusal}");
    let queued = accepted * request_bytes;
    assert!(
        (1 << 20) <= queued + request_bytes && queued <= (1 << 20) + request_bytes,
        "{accepted} requests of {request_bytes} bytes queued against a 1 MiB budget"
    );
    let text = service.telemetry().render();
    assert!(
        text.contains("ferrotel_memory_budget_refused_requests 1"),
        "{text}"
    );

    // The backends recover: everything accepted is exported, and the budget takes data again.
    budgeted.open_gate();
    explicit.open_gate();
    eventually("the backlog exported", || {
        budgeted.item_count() == accepted * SPANS
    })
    .await;
    // A request larger than the whole budget gets in alone; while it is queued the budget is
    // spent, and every pipeline refuses before reading a body.
    eventually("the budget freed", || traces.admit().is_ok()).await;
    budgeted.close_gate();
    let big = fixtures::encoded_batch(Signal::Traces, SPANS * 120);
    assert!(big.encoded_len() > 1 << 20);
    traces.consume(big).await.unwrap();
    assert!(traces.admit().is_err(), "refused before the body is read");
    assert!(logs.admit().is_err(), "the budget is the whole process's");
    budgeted.open_gate();
    eventually("the budget freed", || traces.admit().is_ok()).await;
    traces
        .consume(fixtures::encoded_batch(Signal::Traces, SPANS))
        .await
        .unwrap();
    eventually("the explicit queue exported", || {
        explicit.item_count() == log_requests * SPANS
    })
    .await;
    service.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        budgeted.item_count(),
        (accepted + 1) * SPANS + SPANS * 120,
        "nothing accepted lost"
    );
}
