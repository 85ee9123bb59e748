use super::*;
use ferrotel_config::{decode_valid, Value};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{AnyFactory, Data};
use ferrotel_testkit::{metrics, wait_for_blocking};
use std::sync::atomic::{AtomicU64, AtomicUsize};

const MIB: u64 = 1 << 20;

/// Memory usage set by the test; `release` frees `freed_by_release` bytes.
#[derive(Default)]
struct FakeMemory {
    used: AtomicU64,
    freed_by_release: AtomicU64,
    releases: AtomicUsize,
}

impl FakeMemory {
    fn set(&self, mib: u64) {
        self.used.store(mib * MIB, Ordering::SeqCst);
    }
}

impl MemoryProbe for FakeMemory {
    fn used(&self) -> Option<u64> {
        Some(self.used.load(Ordering::SeqCst))
    }
    fn release(&self) {
        self.releases.fetch_add(1, Ordering::SeqCst);
        let freed = self.freed_by_release.load(Ordering::SeqCst);
        let _ = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                Some(u.saturating_sub(freed))
            });
    }
}

fn config(yaml: &str) -> MemoryLimiterConfig {
    let v: Value = serde_yaml_ng::from_str(yaml).expect("test yaml parses");
    let (cfg, _) = decode_valid::<MemoryLimiterConfig>("processors.memory_limiter", &v).unwrap();
    cfg
}

/// limit 100 MiB, spike 20 MiB: soft limit 80 MiB.
fn limiter(mem: &Arc<FakeMemory>, telemetry: &Telemetry, extra: &str) -> MemoryLimiter {
    let cfg = config(&format!(
        "check_interval: 1s\nlimit_mib: 100\nspike_limit_mib: 20\n{extra}"
    ));
    let limits = cfg.limits(None).unwrap();
    MemoryLimiter::new(
        &cfg,
        limits,
        mem.clone(),
        "memory_limiter",
        telemetry,
        Some(Signal::Traces),
    )
}

fn spans(n: usize) -> Batch {
    Batch::from_data(
        Data::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
        Default::default(),
    )
}

#[test]
fn refuses_above_the_soft_limit_and_accepts_again_below() {
    let mem = Arc::new(FakeMemory::default());
    let telemetry = Telemetry::new();
    mem.set(50);
    let l = limiter(&mem, &telemetry, "");
    let mut out = Vec::new();
    assert!(l.admit().is_ok());
    l.process(spans(3), &mut out).unwrap();
    assert_eq!(out.len(), 1, "passed through untouched");
    assert_eq!(out[0].item_count(), 3);

    mem.set(79);
    l.check_now();
    assert!(l.admit().is_ok(), "just below the soft limit");

    mem.set(80);
    // Not synchronisation: the last measurement must age past ADMIT_REFRESH for admit to
    // measure again (the behaviour under test; check_interval is 1s).
    std::thread::sleep(ADMIT_REFRESH * 2);
    let e = l.admit().unwrap_err();
    assert_eq!(e.to_string(), "data refused due to high memory usage");
    assert!(e.is_retryable());
    assert_eq!(e.grpc_code(), 14);
    assert_eq!(e.http_status(), 503);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    let e = l.process(spans(2), &mut out).unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(out.len(), 1, "refused data is not passed on");

    mem.set(60);
    l.check_now();
    assert!(l.admit().is_ok());
    l.process(spans(4), &mut out).unwrap();
    assert_eq!(out.len(), 2);

    let text = telemetry.render();
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_memory_limiter_accepted_spans{processor=\"memory_limiter\"}"
        ),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_memory_limiter_refused_spans{processor=\"memory_limiter\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        !metrics::has(
            &text,
            "otelcol_processor_memory_limiter_accepted_log_records"
        ),
        "only the pipeline's signal is registered"
    );
}

#[test]
fn starts_refusing_when_created_above_the_limit() {
    let mem = Arc::new(FakeMemory::default());
    mem.set(95);
    let l = limiter(&mem, &Telemetry::new(), "");
    assert!(l.is_refusing());
}

#[test]
fn above_the_hard_limit_memory_is_given_back_at_most_every_min_interval() {
    let mem = Arc::new(FakeMemory::default());
    mem.set(10);
    let l = limiter(
        &mem,
        &Telemetry::new(),
        // The backoff caps must not be below the minimums (otelcol's rules).
        "min_gc_interval_when_hard_limited: 1h\nmin_gc_interval_when_soft_limited: 1h\n\
         max_gc_interval_when_hard_limited: 1h\nmax_gc_interval_when_soft_limited: 1h",
    );
    assert_eq!(mem.releases.load(Ordering::SeqCst), 0, "below the limits");
    mem.set(120);
    l.check_now();
    assert_eq!(mem.releases.load(Ordering::SeqCst), 1);
    assert!(l.is_refusing(), "releasing freed nothing");
    l.check_now();
    assert_eq!(mem.releases.load(Ordering::SeqCst), 1, "throttled");
}

#[test]
fn a_release_that_frees_enough_avoids_refusing() {
    let mem = Arc::new(FakeMemory::default());
    mem.freed_by_release.store(50 * MIB, Ordering::SeqCst);
    mem.set(10);
    let l = limiter(&mem, &Telemetry::new(), "");
    mem.set(110);
    l.check_now();
    assert_eq!(mem.releases.load(Ordering::SeqCst), 1);
    assert!(
        !l.is_refusing(),
        "60 MiB after the release is below the soft limit"
    );
    mem.set(110);
    l.check_now();
    assert_eq!(
        mem.releases.load(Ordering::SeqCst),
        2,
        "min_gc_interval_when_hard_limited defaults to 0"
    );
}

#[test]
fn between_soft_and_hard_the_soft_interval_applies() {
    let mem = Arc::new(FakeMemory::default());
    mem.set(90);
    let l = limiter(&mem, &Telemetry::new(), "");
    assert_eq!(
        mem.releases.load(Ordering::SeqCst),
        1,
        "first release right away"
    );
    l.check_now();
    assert_eq!(
        mem.releases.load(Ordering::SeqCst),
        1,
        "min_gc_interval_when_soft_limited defaults to 10s"
    );
    assert!(l.is_refusing());
}

#[test]
fn checker_thread_follows_memory_and_stops_with_the_limiter() {
    let mem = Arc::new(FakeMemory::default());
    mem.set(10);
    let cfg = config("check_interval: 10ms\nlimit_mib: 100");
    let mut l = MemoryLimiter::new(
        &cfg,
        cfg.limits(None).unwrap(),
        mem.clone(),
        "ml",
        &Telemetry::new(),
        None,
    );
    l.spawn_checker().unwrap();
    mem.set(95);
    assert!(wait_for_blocking(
        || l.is_refusing(),
        Duration::from_secs(5)
    ));
    assert_eq!(
        l.admit().unwrap_err().retry_after(),
        Some(Duration::from_secs(1)),
        "retry after at least 1s"
    );
    let weak = Arc::downgrade(&l.checker);
    drop(l);
    assert!(
        wait_for_blocking(|| weak.upgrade().is_none(), Duration::from_secs(5)),
        "the thread let go of the checker"
    );
}

#[test]
fn pipelines_using_one_limiter_share_its_checker_thread() {
    let cfg = config("check_interval: 10ms\nlimit_mib: 100");
    let limiter = |id: &str| {
        let mem = Arc::new(FakeMemory::default());
        MemoryLimiter::new(
            &cfg,
            cfg.limits(None).unwrap(),
            mem,
            id,
            &Telemetry::new(),
            None,
        )
    };
    let (mut traces, mut logs, mut other) = (limiter("ml"), limiter("ml"), limiter("ml/2"));
    let key = |id: &str| format!("{id}|{cfg:?}|shared-test");
    traces.start_shared(key("ml")).unwrap();
    logs.start_shared(key("ml")).unwrap();
    other.start_shared(key("ml/2")).unwrap();
    assert!(Arc::ptr_eq(&traces.checker, &logs.checker), "one checker");
    assert!(!Arc::ptr_eq(&traces.checker, &other.checker));
    let weak = Arc::downgrade(&traces.checker);
    drop(traces);
    assert!(weak.upgrade().is_some(), "still used by the logs pipeline");
    drop(logs);
    assert!(
        wait_for_blocking(|| weak.upgrade().is_none(), Duration::from_secs(5)),
        "the thread ends with the last limiter using it"
    );
}

#[test]
fn factory_creates_a_working_limiter_and_reports_errors() {
    let f = MemoryLimiterFactory;
    assert_eq!(f.info().type_name, "memory_limiter");
    let ctx = CreateContext {
        id: ferrotel_core::ComponentId::new("memory_limiter"),
        path: "processors.memory_limiter".into(),
        telemetry: Telemetry::new(),
        signal: Some(Signal::Logs),
        pipeline: Some("logs".into()),
        wake: Arc::new(tokio::sync::Notify::new()),
    };
    let v: Value = serde_yaml_ng::from_str(
        "check_interval: 1s\nlimit_percentage: 100\nspike_limit_percentage: 1",
    )
    .unwrap();
    let p = f.create_from(&ctx, &v).unwrap();
    assert!(
        p.admit().is_ok(),
        "this test process is far below all of memory"
    );
    let v: Value = serde_yaml_ng::from_str("check_interval: 0s\nlimit_mib: 10").unwrap();
    let e = f.create_from(&ctx, &v).err().unwrap();
    assert_eq!(e.0[0].path, "processors.memory_limiter.check_interval");
    assert_eq!(e.0[0].message, "'check_interval' must be greater than zero");
}

#[test]
fn admit_measures_again_when_stale_but_never_releases() {
    let mem = Arc::new(FakeMemory::default());
    mem.freed_by_release.store(50 * MIB, Ordering::SeqCst);
    mem.set(10);
    let l = limiter(&mem, &Telemetry::new(), "");
    mem.set(120);
    // Not synchronisation: the measurement must be stale (the behaviour under test).
    std::thread::sleep(ADMIT_REFRESH * 2);
    assert!(
        l.admit().is_err(),
        "the burst is seen without waiting for check_interval"
    );
    assert_eq!(
        mem.releases.load(Ordering::SeqCst),
        0,
        "only the checker releases"
    );
    mem.set(30);
    // Not synchronisation: stale again, so admit measures again.
    std::thread::sleep(ADMIT_REFRESH * 2);
    assert!(l.admit().is_ok(), "and so is the recovery");
}
