use super::split::tests::{items, sample};
use super::*;
use ferrotel_config::Value;
use ferrotel_core::pdata;
use ferrotel_core::{AnyFactory, Data, Signal};
use ferrotel_testkit::metrics;

const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

struct Harness {
    p: BatchProcessor,
    wake: Arc<Notify>,
    telemetry: Telemetry,
}

fn harness(cfg: BatchConfig) -> Harness {
    let wake = Arc::new(Notify::new());
    let telemetry = Telemetry::new();
    Harness {
        p: BatchProcessor::new(&cfg, "batch", &telemetry, wake.clone()),
        wake,
        telemetry,
    }
}

fn cfg(send_batch_size: u32, max: u32, timeout: Duration) -> BatchConfig {
    BatchConfig {
        send_batch_size,
        send_batch_max_size: max,
        timeout: ferrotel_config::GoDuration(timeout),
        ..Default::default()
    }
}

/// An encoded request as a receiver would hand it over (not decoded), tagged with `tag` in
/// every resource so items of different requests differ.
fn request(signal: Signal, shape: &[&[usize]], tag: usize, headers: &[(&str, &str)]) -> Batch {
    let mut data = sample(signal, shape);
    for r in pdata::resources_mut(&mut data) {
        pdata::upsert(
            &mut r.attributes,
            "request",
            pdata::str_value(tag.to_string()),
        );
    }
    let meta = RequestMeta {
        receiver: "otlp".into(),
        transport: "grpc",
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    Batch::from_bytes(signal, data.encode(), None, Arc::new(meta))
}

fn all_items(batches: &[Batch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| items(b.view().expect("valid output")))
        .collect()
}

fn counts(batches: &[Batch]) -> Vec<usize> {
    batches.iter().map(Batch::item_count).collect()
}

async fn woken(wake: &Notify) -> bool {
    tokio::time::timeout(Duration::from_millis(20), wake.notified())
        .await
        .is_ok()
}

#[tokio::test]
async fn size_trigger_wakes_the_engine_and_on_tick_emits() {
    let h = harness(cfg(10, 0, Duration::from_secs(3600)));
    let mut out = Vec::new();
    assert!(h.p.is_idle(), "nothing held: the engine need not tick");
    h.p.process(request(Signal::Traces, &[&[4]], 0, &[]), &mut out)
        .unwrap();
    assert!(!h.p.is_idle());
    assert!(
        woken(&h.wake).await,
        "the first item after idling starts the ticks"
    );
    h.p.process(request(Signal::Traces, &[&[4]], 1, &[]), &mut out)
        .unwrap();
    assert!(out.is_empty(), "nothing is sent before the size is reached");
    assert!(!woken(&h.wake).await);
    h.p.on_tick(&mut out);
    assert!(out.is_empty(), "not full and not timed out");

    h.p.process(request(Signal::Traces, &[&[4]], 2, &[]), &mut out)
        .unwrap();
    assert!(out.is_empty(), "process only buffers");
    assert!(woken(&h.wake).await, "a full batch wakes the engine");
    h.p.on_tick(&mut out);
    assert_eq!(
        counts(&out),
        vec![12],
        "no max size: everything pending goes"
    );
    assert!(!out[0].is_decoded(), "merged without decoding");
    assert!(h.p.is_idle(), "everything sent");
    assert_eq!(h.p.metrics.size_trigger.get(), 1);
    assert_eq!(h.p.metrics.timeout_trigger.get(), 0);
    assert_eq!(h.p.metrics.send_size.count(), 1);
    let text = h.telemetry.render();
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_batch_batch_size_trigger_send{processor=\"batch\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\",le=\"25\"}"
        ),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn timeout_emits_what_waited_long_enough() {
    let h = harness(cfg(100, 0, Duration::from_millis(40)));
    assert_eq!(h.p.tick_interval(), Some(Duration::from_millis(10)));
    let mut out = Vec::new();
    h.p.process(request(Signal::Logs, &[&[3, 2]], 0, &[]), &mut out)
        .unwrap();
    h.p.on_tick(&mut out);
    assert!(out.is_empty(), "too early");
    // Not synchronisation: the 40ms batch timeout must pass (the behaviour under test).
    std::thread::sleep(Duration::from_millis(50));
    h.p.on_tick(&mut out);
    assert_eq!(counts(&out), vec![5]);
    assert_eq!(h.p.metrics.timeout_trigger.get(), 1);
    h.p.on_tick(&mut out);
    assert_eq!(out.len(), 1, "nothing left");
}

#[test]
fn tick_interval_follows_the_timeout() {
    let tick = |t: Duration| harness(cfg(1, 0, t)).p.tick_interval();
    assert_eq!(
        tick(Duration::from_millis(200)),
        Some(Duration::from_millis(50))
    );
    assert_eq!(
        tick(Duration::from_millis(5)),
        Some(Duration::from_millis(5))
    );
    assert_eq!(tick(Duration::ZERO), None);
}

#[test]
fn max_size_split_keeps_every_item_exactly_once() {
    let shapes: &[&[&[usize]]] = &[
        &[&[5]],
        &[&[3, 0, 4], &[1]],
        &[&[9]],
        &[&[1], &[2, 2]],
        &[&[6]],
    ];
    for signal in ALL {
        let h = harness(cfg(7, 7, Duration::from_secs(3600)));
        let mut out = Vec::new();
        let mut expected = Vec::new();
        for (i, shape) in shapes.iter().enumerate() {
            let b = request(signal, shape, i, &[]);
            expected.extend(items(b.view().unwrap()));
            h.p.process(b, &mut out).unwrap();
            h.p.on_tick(&mut out);
        }
        let before_flush = out.len();
        assert!(before_flush > 0, "{signal}: size triggers sent");
        assert!(
            out.iter().all(|b| b.item_count() == 7),
            "{signal}: size-triggered batches are exactly max: {:?}",
            counts(&out)
        );
        h.p.flush(&mut out);
        assert!(out.len() > before_flush, "{signal}: flush sent the rest");
        assert!(
            out.iter().all(|b| b.item_count() <= 7),
            "{signal}: {:?}",
            counts(&out)
        );
        assert_eq!(
            all_items(&out),
            expected,
            "{signal}: items lost, duplicated or reordered"
        );
        let mut rest = Vec::new();
        h.p.flush(&mut rest);
        assert!(rest.is_empty());
    }
}

#[test]
fn size_trigger_sends_max_sized_batches_and_keeps_a_small_remainder() {
    // 25 pending, size 10, max 12: send 12 + 12, keep 1 (below send_batch_size).
    let h = harness(cfg(10, 12, Duration::from_secs(3600)));
    let mut out = Vec::new();
    h.p.process(request(Signal::Traces, &[&[25]], 0, &[]), &mut out)
        .unwrap();
    h.p.on_tick(&mut out);
    assert_eq!(counts(&out), vec![12, 12]);
    h.p.flush(&mut out);
    assert_eq!(counts(&out), vec![12, 12, 1]);
    // 21 pending: 12 + 9 would leave 9 < 10, so 9 stays.
    let h = harness(cfg(10, 12, Duration::from_secs(3600)));
    let mut out = Vec::new();
    h.p.process(request(Signal::Traces, &[&[21]], 0, &[]), &mut out)
        .unwrap();
    h.p.on_tick(&mut out);
    assert_eq!(counts(&out), vec![12]);
    // 22 pending: 12 + 10, the remainder reaches send_batch_size and goes too.
    let h = harness(cfg(10, 12, Duration::from_secs(3600)));
    let mut out = Vec::new();
    h.p.process(request(Signal::Traces, &[&[22]], 0, &[]), &mut out)
        .unwrap();
    h.p.on_tick(&mut out);
    assert_eq!(counts(&out), vec![12, 10]);
}

#[test]
fn zero_timeout_sends_right_away_split_by_max_size() {
    for signal in ALL {
        let h = harness(cfg(8192, 4, Duration::ZERO));
        let mut out = Vec::new();
        let b = request(signal, &[&[3, 3], &[4]], 0, &[]);
        let expected = items(b.view().unwrap());
        let total = expected.len();
        h.p.process(b, &mut out).unwrap();
        let mut sizes = vec![4; total / 4];
        sizes.extend(Some(total % 4).filter(|&r| r > 0));
        assert_eq!(counts(&out), sizes, "{signal}");
        assert_eq!(all_items(&out), expected, "{signal}");
        let mut more = Vec::new();
        h.p.flush(&mut more);
        assert!(more.is_empty(), "nothing was held");
    }
}

#[test]
fn metadata_partitions_batches_and_carries_only_those_keys() {
    let mut c = cfg(100, 0, Duration::from_secs(3600));
    c.metadata_keys = vec!["X-Tenant".into()];
    let h = harness(c);
    let mut out = Vec::new();
    let a = [("x-tenant", "a"), ("authorization", "secret")];
    let b = [("X-TENANT", "b")];
    h.p.process(request(Signal::Metrics, &[&[1]], 0, &a), &mut out)
        .unwrap();
    h.p.process(request(Signal::Metrics, &[&[2]], 1, &b), &mut out)
        .unwrap();
    h.p.process(request(Signal::Metrics, &[&[1]], 2, &a), &mut out)
        .unwrap();
    h.p.process(request(Signal::Metrics, &[&[1]], 3, &[]), &mut out)
        .unwrap();
    h.p.flush(&mut out);
    let mut got: Vec<(Vec<(String, String)>, usize)> = out
        .iter()
        .map(|b| (b.meta.headers.clone(), b.item_count()))
        .collect();
    got.sort();
    let h_ = |v: &str| vec![("x-tenant".to_string(), v.to_string())];
    // sample() gives 2n+1 metric points per scope of n.
    assert_eq!(got, vec![(vec![], 3), (h_("a"), 6), (h_("b"), 5)]);
    assert!(out.iter().all(|b| b.meta.receiver.is_empty()));
    assert_eq!(h.p.metrics.cardinality.get(), 3);
}

#[test]
fn metadata_cardinality_limit_is_a_permanent_error() {
    let mut c = cfg(100, 0, Duration::from_secs(3600));
    c.metadata_keys = vec!["tenant".into()];
    c.metadata_cardinality_limit = 2;
    let h = harness(c);
    let mut out = Vec::new();
    for t in ["a", "b", "a"] {
        h.p.process(
            request(Signal::Logs, &[&[1]], 0, &[("tenant", t)]),
            &mut out,
        )
        .unwrap();
    }
    let e =
        h.p.process(
            request(Signal::Logs, &[&[1]], 0, &[("tenant", "c")]),
            &mut out,
        )
        .unwrap_err();
    assert_eq!(
        e,
        PipelineError::Permanent("too many batcher metadata-value combinations".into())
    );
    assert!(!e.is_retryable());
    assert_eq!(e.grpc_code(), 13);
    assert_eq!(h.p.metrics.cardinality.get(), 2);
    h.p.flush(&mut out);
    assert_eq!(
        counts(&out).iter().sum::<usize>(),
        3,
        "accepted data is all sent"
    );

    let mut c = cfg(100, 0, Duration::from_secs(3600));
    c.metadata_keys = vec!["tenant".into()];
    c.metadata_cardinality_limit = 0;
    let h = harness(c);
    for t in 0..20 {
        let t = t.to_string();
        h.p.process(
            request(Signal::Logs, &[&[1]], 0, &[("tenant", &t)]),
            &mut out,
        )
        .expect("0 means no limit");
    }
}

#[test]
fn flush_emits_everything_held() {
    for signal in ALL {
        let mut c = cfg(1000, 0, Duration::from_secs(3600));
        c.metadata_keys = vec!["k".into()];
        let h = harness(c);
        let mut out = Vec::new();
        let mut expected = 0;
        for i in 0..10 {
            let v = (i % 3).to_string();
            let b = request(signal, &[&[i + 1]], i, &[("k", &v)]);
            expected += b.item_count();
            h.p.process(b, &mut out).unwrap();
        }
        assert!(out.is_empty());
        h.p.flush(&mut out);
        assert_eq!(out.len(), 3, "{signal}: one batch per partition");
        assert_eq!(counts(&out).iter().sum::<usize>(), expected, "{signal}");
    }
}

#[test]
fn pending_bound_refuses_with_a_retryable_error_until_drained() {
    let h = harness(cfg(1024, 0, Duration::from_secs(3600)));
    assert_eq!(h.p.pending_limit(), 8192);
    let mut out = Vec::new();
    for i in 0..8 {
        h.p.process(request(Signal::Traces, &[&[1024]], i, &[]), &mut out)
            .unwrap();
    }
    let e =
        h.p.process(request(Signal::Traces, &[&[1]], 8, &[]), &mut out)
            .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert_eq!(e.grpc_code(), 14);
    assert!(e.to_string().starts_with("batch buffer full"), "{e}");
    assert!(out.is_empty());

    h.p.on_tick(&mut out);
    assert_eq!(counts(&out), vec![8192]);
    h.p.process(request(Signal::Traces, &[&[1]], 9, &[]), &mut out)
        .expect("accepted again once drained");
}

#[test]
fn a_request_larger_than_the_bound_is_taken_when_nothing_is_pending() {
    let h = harness(cfg(10, 0, Duration::from_secs(3600)));
    let mut out = Vec::new();
    h.p.process(request(Signal::Logs, &[&[9000]], 0, &[]), &mut out)
        .unwrap();
    assert!(h
        .p
        .process(request(Signal::Logs, &[&[1]], 1, &[]), &mut out)
        .is_err());
    h.p.on_tick(&mut out);
    assert_eq!(counts(&out), vec![9000]);
}

#[test]
fn empty_requests_pass_through() {
    let h = harness(cfg(10, 0, Duration::from_secs(3600)));
    let mut out = Vec::new();
    let b = Batch::from_data(Data::empty(Signal::Traces), Default::default());
    h.p.process(b, &mut out).unwrap();
    assert_eq!(out.len(), 1);
}

#[test]
fn concurrent_producers_lose_nothing() {
    let h = Arc::new(harness(cfg(50, 64, Duration::from_millis(1))));
    let mut handles = Vec::new();
    for t in 0..4 {
        let h = h.clone();
        handles.push(std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut accepted = 0;
            for i in 0..200 {
                let b = request(Signal::Traces, &[&[(i % 7) + 1]], t * 1000 + i, &[]);
                let n = b.item_count();
                if h.p.process(b, &mut out).is_ok() {
                    accepted += n;
                }
                if i % 10 == 0 {
                    h.p.on_tick(&mut out);
                }
            }
            (accepted, out.iter().map(Batch::item_count).sum::<usize>())
        }));
    }
    let mut accepted = 0;
    let mut sent = 0;
    for handle in handles {
        let (a, s) = handle.join().unwrap();
        accepted += a;
        sent += s;
    }
    let mut out = Vec::new();
    h.p.flush(&mut out);
    sent += counts(&out).iter().sum::<usize>();
    assert_eq!(sent, accepted);
    assert!(accepted > 0);
}

#[test]
fn factory_builds_from_config_and_reports_errors_with_paths() {
    let factory = BatchProcessorFactory;
    assert_eq!(factory.info().type_name, "batch");
    assert_eq!(factory.info().signals.len(), 4);
    let ctx = CreateContext {
        id: ferrotel_core::ComponentId::new("batch"),
        path: "processors.batch".into(),
        telemetry: Telemetry::new(),
        signal: Some(Signal::Traces),
        pipeline: Some("traces".into()),
        wake: Arc::new(Notify::new()),
    };
    let v: Value =
        serde_yaml_ng::from_str("timeout: 0s\nsend_batch_max_size: 2\nsend_batch_size: 1").unwrap();
    let p = factory.create_from(&ctx, &v).unwrap();
    let mut out = Vec::new();
    p.process(request(Signal::Traces, &[&[5]], 0, &[]), &mut out)
        .unwrap();
    assert_eq!(counts(&out), vec![2, 2, 1]);
    let v: Value = serde_yaml_ng::from_str("timout: 1s").unwrap();
    let e = factory.create_from(&ctx, &v).err().unwrap();
    assert_eq!(e.0[0].path, "processors.batch.timout");
    let v: Value = serde_yaml_ng::from_str("send_batch_max_size: 5").unwrap();
    let e = factory.create_from(&ctx, &v).err().unwrap();
    assert_eq!(e.0[0].path, "processors.batch.send_batch_max_size");
}

#[test]
fn profiles_pass_through_one_request_at_a_time() {
    let h = harness(cfg(2, 3, Duration::from_secs(10)));
    let mut out = Vec::new();
    let sent: Vec<Batch> = (0..3)
        .map(|_| ferrotel_testkit::fixtures::encoded_batch(Signal::Profiles, 5))
        .collect();
    for b in &sent {
        h.p.process(b.clone(), &mut out).unwrap();
    }
    assert_eq!(
        out.len(),
        3,
        "neither held, merged nor split at send_batch_max_size"
    );
    for (got, b) in out.iter().zip(&sent) {
        assert!(got.same_payload(b));
        assert!(!got.is_decoded());
    }
    let mut rest = Vec::new();
    h.p.flush(&mut rest);
    assert!(rest.is_empty());
}
