use super::policy::{fnv1a64, probabilistic_threshold};
use super::store::Chunk;
use super::*;
use crate::golden;
use ferrotel_config::{decode_valid, Value};
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value::Value as AV, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_testkit::fixtures::spans_of;
use ferrotel_testkit::{fixtures, metrics};
use std::collections::HashSet;

const DIR: &str = "tail_sampling";
const PATH: &str = "processors.tail_sampling";

fn yaml(s: &str) -> Value {
    serde_yaml_ng::from_str(s).unwrap()
}

fn load(s: &str) -> Result<TailSamplingProcessor, ConfigErrors> {
    load_with(s, &Telemetry::new())
}

fn load_with(s: &str, t: &Telemetry) -> Result<TailSamplingProcessor, ConfigErrors> {
    let (cfg, _) = decode_valid::<TailSamplingConfig>(PATH, &yaml(s))?;
    Ok(TailSamplingProcessor::new(&cfg, t, Arc::new(Notify::new())))
}

fn kv(k: &str, v: AV) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn tid(n: u64) -> Vec<u8> {
    fixtures::trace_id(n)
}

/// A span of trace `n`.
fn span(n: u64) -> Span {
    Span {
        trace_id: tid(n),
        span_id: vec![1; 8],
        name: format!("span of {n}"),
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_001_000_000,
        ..Default::default()
    }
}

fn with_attrs(mut s: Span, attrs: Vec<KeyValue>) -> Span {
    s.attributes = attrs;
    s
}

fn with_status(mut s: Span, code: status::StatusCode) -> Span {
    s.status = Some(Status {
        code: code as i32,
        message: String::new(),
    });
    s
}

fn request(resource_attrs: Vec<KeyValue>, spans: Vec<Span>) -> Batch {
    Batch::from_data(
        Data::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource_attrs,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
        Default::default(),
    )
}

fn feed(p: &TailSamplingProcessor, b: Batch) -> Vec<Batch> {
    let mut out = vec![];
    p.process(b, &mut out).unwrap();
    out
}

fn flushed(p: &TailSamplingProcessor) -> Vec<Span> {
    let mut out = vec![];
    p.flush(&mut out);
    spans_of(&out)
}

/// Whether one policy (YAML of a `policies` entry) samples a trace made of `spans` under a
/// resource with `resource_attrs`.
fn samples(policy: &str, resource_attrs: Vec<KeyValue>, spans: Vec<Span>) -> bool {
    let p = load(&format!("decision_wait: 1h\npolicies:\n  - {policy}")).unwrap();
    assert!(feed(&p, request(resource_attrs, spans)).is_empty());
    !flushed(&p).is_empty()
}

// ---------------------------------------------------------------------------------------------
// Policies

#[test]
fn always_sample_and_latency() {
    assert!(samples(
        "{name: a, type: always_sample}",
        vec![],
        vec![span(1)]
    ));
    let lat = |lo: i64, hi: i64, durations_ms: &[(u64, u64)]| {
        let spans = durations_ms
            .iter()
            .map(|(start, end)| {
                let mut s = span(1);
                s.start_time_unix_nano = start * 1_000_000;
                s.end_time_unix_nano = end * 1_000_000;
                s
            })
            .collect();
        samples(
            &format!(
                "{{name: l, type: latency, latency: {{threshold_ms: {lo}, upper_threshold_ms: {hi}}}}}"
            ),
            vec![],
            spans,
        )
    };
    // The duration spans all spans: 100..250 and 200..400 make 300ms.
    assert!(lat(300, 0, &[(100, 250), (200, 400)]));
    assert!(!lat(301, 0, &[(100, 250), (200, 400)]));
    // With an upper bound the lower bound is strict.
    assert!(!lat(300, 500, &[(100, 400)]));
    assert!(lat(299, 300, &[(100, 400)]));
    assert!(!lat(100, 200, &[(100, 400)]));
}

/// otelcol compares whole milliseconds (`Duration.Milliseconds()`, truncated), and treats a
/// start time of 0 as "no start yet".
#[test]
fn latency_compares_whole_milliseconds_as_otelcol() {
    let lat = |lo: i64, hi: i64, spans_ns: &[(u64, u64)]| {
        let spans = spans_ns
            .iter()
            .map(|&(start, end)| {
                let mut s = span(1);
                s.start_time_unix_nano = start;
                s.end_time_unix_nano = end;
                s
            })
            .collect();
        samples(
            &format!(
                "{{name: l, type: latency, latency: {{threshold_ms: {lo}, upper_threshold_ms: {hi}}}}}"
            ),
            vec![],
            spans,
        )
    };
    const MS: u64 = 1_000_000;
    let t0 = 1_700_000_000_000 * MS;
    // 500.9ms is 500ms: not above a strict lower bound of 500, within an upper bound of 500.
    assert!(!lat(500, 600, &[(t0, t0 + 500 * MS + 900_000)]));
    assert!(lat(499, 500, &[(t0, t0 + 500 * MS + 900_000)]));
    assert!(lat(500, 600, &[(t0, t0 + 501 * MS)]));
    // Without an upper bound: 499.999ms is 499ms.
    assert!(!lat(500, 0, &[(t0, t0 + 500 * MS - 1)]));
    assert!(lat(500, 0, &[(t0, t0 + 500 * MS)]));
    // A zero start time is replaced by the next span's start: 0..10ms then t0..t0+10ms is a
    // 10ms trace for otelcol, not one of 54 years.
    assert!(!lat(1000, 0, &[(0, 10 * MS), (t0, t0 + 10 * MS)]));
    assert!(lat(10, 0, &[(0, 10 * MS), (t0, t0 + 10 * MS)]));
}

#[test]
fn numeric_attribute() {
    let pol = "{name: n, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599}}";
    let code = |v: AV| vec![with_attrs(span(1), vec![kv("http.status_code", v)])];
    assert!(samples(pol, vec![], code(AV::IntValue(503))));
    assert!(!samples(pol, vec![], code(AV::IntValue(200))));
    // A non-integer reads as 0.
    assert!(!samples(pol, vec![], code(AV::StringValue("503".into()))));
    // Resource attributes count too.
    assert!(samples(
        pol,
        vec![kv("http.status_code", AV::IntValue(500))],
        vec![span(1)]
    ));
    // Only a min: no upper bound.
    let min_only = "{name: n, type: numeric_attribute, numeric_attribute: {key: k, min_value: 10}}";
    assert!(samples(
        min_only,
        vec![],
        vec![with_attrs(span(1), vec![kv("k", AV::IntValue(i64::MAX))])]
    ));
    // Inverted: a match means not sampled, no match sampled.
    let inv = "{name: n, type: numeric_attribute, numeric_attribute: {key: k, min_value: 1, max_value: 5, invert_match: true}}";
    assert!(!samples(
        inv,
        vec![],
        vec![with_attrs(span(1), vec![kv("k", AV::IntValue(3))])]
    ));
    assert!(samples(
        inv,
        vec![],
        vec![with_attrs(span(1), vec![kv("k", AV::IntValue(9))])]
    ));
}

#[test]
fn status_code() {
    let pol = "{name: s, type: status_code, status_code: {status_codes: [ERROR, UNSET]}}";
    assert!(samples(
        pol,
        vec![],
        vec![
            with_status(span(1), status::StatusCode::Ok),
            with_status(span(1), status::StatusCode::Error)
        ]
    ));
    assert!(samples(pol, vec![], vec![span(1)]), "no status is UNSET");
    assert!(!samples(
        pol,
        vec![],
        vec![with_status(span(1), status::StatusCode::Ok)]
    ));
}

#[test]
fn string_attribute() {
    let s = |k: &str, v: &str| vec![with_attrs(span(1), vec![kv(k, AV::StringValue(v.into()))])];
    let exact = "{name: s, type: string_attribute, string_attribute: {key: svc, values: [a, b]}}";
    assert!(samples(exact, vec![], s("svc", "b")));
    assert!(!samples(exact, vec![], s("svc", "bb")));
    assert!(samples(
        exact,
        vec![kv("svc", AV::StringValue("a".into()))],
        vec![span(1)]
    ));
    // Regular expressions are unanchored.
    let re = "{name: s, type: string_attribute, string_attribute: {key: url, values: ['^/api/v[0-9]+', health], enabled_regex_matching: true}}";
    assert!(samples(re, vec![], s("url", "/api/v2/orders")));
    assert!(samples(re, vec![], s("url", "/healthz")));
    assert!(!samples(re, vec![], s("url", "/static/api/v2")));
    // Inverted: sampled unless a value matches; spans without the attribute do not match.
    let inv = "{name: s, type: string_attribute, string_attribute: {key: svc, values: [a], invert_match: true}}";
    assert!(!samples(inv, vec![], s("svc", "a")));
    assert!(samples(inv, vec![], s("svc", "z")));
    assert!(samples(inv, vec![], vec![span(1)]));
    // A non-string span value reads as "" and is skipped.
    let empty = "{name: s, type: string_attribute, string_attribute: {key: k, values: ['']}}";
    assert!(!samples(
        empty,
        vec![],
        vec![with_attrs(span(1), vec![kv("k", AV::IntValue(1))])]
    ));
}

#[test]
fn span_count_boolean_and_trace_state() {
    let count = "{name: c, type: span_count, span_count: {min_spans: 2, max_spans: 3}}";
    assert!(!samples(count, vec![], vec![span(1)]));
    assert!(samples(count, vec![], vec![span(1), span(1)]));
    assert!(samples(count, vec![], vec![span(1), span(1), span(1)]));
    assert!(!samples(count, vec![], vec![span(1); 4]));
    let open = "{name: c, type: span_count, span_count: {min_spans: 2}}";
    assert!(samples(open, vec![], vec![span(1); 40]));

    let b = |v: AV| vec![with_attrs(span(1), vec![kv("debug", v)])];
    let yes = "{name: b, type: boolean_attribute, boolean_attribute: {key: debug, value: true}}";
    assert!(samples(yes, vec![], b(AV::BoolValue(true))));
    assert!(!samples(yes, vec![], b(AV::BoolValue(false))));
    assert!(!samples(yes, vec![], b(AV::StringValue("true".into()))));
    // value: false matches non-boolean values, which read as false.
    let no = "{name: b, type: boolean_attribute, boolean_attribute: {key: debug, value: false}}";
    assert!(samples(no, vec![], b(AV::StringValue("x".into()))));
    assert!(!samples(no, vec![], vec![span(1)]), "absent attribute");

    let ts = |v: &str| {
        let mut s = span(1);
        s.trace_state = v.into();
        vec![s]
    };
    let pol = "{name: t, type: trace_state, trace_state: {key: vendor, values: [gold, silver]}}";
    assert!(samples(pol, vec![], ts("ot=th:8,vendor=gold")));
    assert!(!samples(pol, vec![], ts("vendor=bronze")));
    assert!(
        !samples(pol, vec![], ts("Vendor=gold")),
        "invalid tracestate"
    );
    assert!(!samples(pol, vec![], vec![span(1)]));
}

#[test]
fn and_drop_and_composite() {
    let and = "{name: a, type: and, and: {and_sub_policy: [{name: x, type: status_code, status_code: {status_codes: [ERROR]}}, {name: y, type: span_count, span_count: {min_spans: 2}}]}}";
    let err = || with_status(span(1), status::StatusCode::Error);
    assert!(samples(and, vec![], vec![err(), span(1)]));
    assert!(!samples(and, vec![], vec![err()]));
    assert!(!samples(and, vec![], vec![span(1), span(1)]));
    // An inverted sub-policy that matches makes `and` not sampled.
    let and_inv = "{name: a, type: and, and: {and_sub_policy: [{name: x, type: always_sample}, {name: y, type: string_attribute, string_attribute: {key: k, values: [v], invert_match: true}}]}}";
    assert!(samples(and_inv, vec![], vec![span(1)]));
    assert!(!samples(
        and_inv,
        vec![],
        vec![with_attrs(
            span(1),
            vec![kv("k", AV::StringValue("v".into()))]
        )]
    ));
}

#[test]
fn drop_beats_sampled_and_invert_not_sampled_beats_sampled() {
    let p = load(
        "decision_wait: 1h
policies:
  - {name: all, type: always_sample}
  - {name: inv, type: string_attribute, string_attribute: {key: tenant, values: [internal], invert_match: true}}
  - name: no-health
    type: drop
    drop:
      drop_sub_policy:
        - {name: health, type: string_attribute, string_attribute: {key: url.path, values: [/health]}}
        - {name: ok, type: status_code, status_code: {status_codes: [OK, UNSET]}}",
    )
    .unwrap();
    let s = |n: u64, k: &str, v: &str| with_attrs(span(n), vec![kv(k, AV::StringValue(v.into()))]);
    feed(
        &p,
        request(
            vec![],
            vec![
                s(1, "url.path", "/health"), // dropped
                with_status(s(2, "url.path", "/health"), status::StatusCode::Error), // drop sub-policy fails: sampled
                s(3, "tenant", "internal"), // InvertNotSampled
                s(4, "tenant", "customer"), // sampled
            ],
        ),
    );
    let out: HashSet<Vec<u8>> = flushed(&p).into_iter().map(|s| s.trace_id).collect();
    assert_eq!(out, HashSet::from([tid(2), tid(4)]));
}

#[test]
fn combine_precedence() {
    use Decision::*;
    assert_eq!(combine(&[Sampled, Dropped]), Outcome::Dropped);
    assert_eq!(combine(&[Sampled, InvertNotSampled]), Outcome::NotSampled);
    assert_eq!(combine(&[NotSampled, Sampled]), Outcome::Sampled);
    assert_eq!(combine(&[InvertSampled]), Outcome::Sampled);
    assert_eq!(combine(&[InvertSampled, NotSampled]), Outcome::NotSampled);
    assert_eq!(combine(&[NotSampled]), Outcome::NotSampled);
    assert_eq!(combine(&[]), Outcome::NotSampled);
}

/// A policy built from YAML, evaluated directly with a chosen clock.
fn policy(yaml_policy: &str) -> Policy {
    let (cfg, _) =
        decode_valid::<TailSamplingConfig>(PATH, &yaml(&format!("policies:\n  - {yaml_policy}")))
            .unwrap();
    cfg.policies().pop().unwrap()
}

fn eval(p: &mut Policy, spans: usize, bytes: u64, clock: &Clock) -> Decision {
    let chunks = vec![Chunk {
        resource: Arc::default(),
        scope: Arc::default(),
        spans: vec![span(1); spans],
    }];
    let id = [7u8; 16];
    p.evaluate(
        &TraceView {
            id: &id,
            chunks: &chunks,
            span_count: spans as i64,
            bytes,
        },
        clock,
    )
}

#[test]
fn rate_limiting_counts_spans_per_second() {
    let mut p = policy("{name: r, type: rate_limiting, rate_limiting: {spans_per_second: 10}}");
    let t0 = Clock {
        unix_second: 100,
        instant: Instant::now(),
    };
    assert_eq!(eval(&mut p, 4, 0, &t0), Decision::Sampled);
    assert_eq!(eval(&mut p, 5, 0, &t0), Decision::Sampled);
    // 9 + 1 is not below 10.
    assert_eq!(eval(&mut p, 1, 0, &t0), Decision::NotSampled);
    let t1 = Clock {
        unix_second: 101,
        ..t0
    };
    assert_eq!(eval(&mut p, 9, 0, &t1), Decision::Sampled);
}

#[test]
fn bytes_limiting_is_a_token_bucket() {
    let mut p = policy("{name: b, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1000}}");
    let t0 = Instant::now();
    let at = |ms: u64| Clock {
        unix_second: 0,
        instant: t0 + Duration::from_millis(ms),
    };
    // Burst defaults to twice the rate.
    assert_eq!(eval(&mut p, 1, 1500, &at(0)), Decision::Sampled);
    assert_eq!(eval(&mut p, 1, 600, &at(0)), Decision::NotSampled);
    assert_eq!(eval(&mut p, 1, 500, &at(0)), Decision::Sampled);
    // Half a second refills 500 bytes.
    assert_eq!(eval(&mut p, 1, 500, &at(500)), Decision::Sampled);
    assert_eq!(eval(&mut p, 1, 10, &at(500)), Decision::NotSampled);
}

#[test]
fn composite_allocates_rates_without_fall_through() {
    let mut p = policy(
        "{name: c, type: composite, composite: {max_total_spans_per_second: 100, policy_order: [first, second], composite_sub_policy: [{name: first, type: span_count, span_count: {min_spans: 5}}, {name: second, type: always_sample}], rate_allocation: [{policy: first, percent: 50}, {policy: second, percent: 25}]}}",
    );
    let t = Clock {
        unix_second: 7,
        instant: Instant::now(),
    };
    // `first` has 50 spans per second.
    assert_eq!(eval(&mut p, 30, 0, &t), Decision::Sampled);
    assert_eq!(eval(&mut p, 20, 0, &t), Decision::Sampled);
    // `first` matches but is exhausted: not sampled, no fall-through to `second`.
    assert_eq!(eval(&mut p, 5, 0, &t), Decision::NotSampled);
    // Small traces go to `second` (25 per second).
    assert_eq!(eval(&mut p, 3, 0, &t), Decision::Sampled);
    let next = Clock {
        unix_second: 8,
        ..t
    };
    assert_eq!(eval(&mut p, 50, 0, &next), Decision::Sampled);
}

// ---------------------------------------------------------------------------------------------
// Probabilistic: bit-exact with the reference's rules (vectors from gen_vectors.py)

/// (row number, trace id, sampled) of probabilistic_vectors.csv.
type VectorRow = (u64, Vec<u8>, bool);

#[test]
fn probabilistic_matches_independent_vectors() {
    assert_eq!(probabilistic_threshold(25.0), 0x3fff_ffff_ffff_ffff);
    assert_eq!(probabilistic_threshold(50.0), 0x7fff_ffff_ffff_ffff);
    assert_eq!(probabilistic_threshold(10.0), 0x1999_9999_9999_99ff);
    assert_eq!(probabilistic_threshold(100.0), u64::MAX);
    assert_eq!(probabilistic_threshold(0.0), 0);
    let csv = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/tail_sampling/probabilistic_vectors.csv"),
    )
    .unwrap();
    let mut rows = 0;
    // Every fourth row through the processor itself, grouped by (salt, percentage).
    let mut by_config: std::collections::BTreeMap<(String, String), Vec<VectorRow>> =
        Default::default();
    for (i, line) in csv.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let id: Vec<u8> = hex::decode(&f[0][..32]).unwrap();
        let salt = if f[1].is_empty() {
            config::DEFAULT_HASH_SALT
        } else {
            f[1]
        };
        let pct: f64 = f[2].parse().unwrap();
        assert_eq!(
            format!("{:016x}", fnv1a64(salt.as_bytes(), &id)),
            f[3],
            "{line}"
        );
        assert_eq!(
            format!("{:016x}", probabilistic_threshold(pct)),
            f[4],
            "{line}"
        );
        by_config
            .entry((f[1].to_string(), f[2].to_string()))
            .or_default()
            .push((i as u64, id, f[5] == "true"));
        rows += 1;
    }
    assert_eq!(rows, 400);
    for ((salt, pct), ids) in by_config {
        let p = load(&format!(
            "decision_wait: 1h\npolicies: [{{name: p, type: probabilistic, probabilistic: {{hash_salt: '{salt}', sampling_percentage: {pct}}}}}]"
        ))
        .unwrap();
        let spans = ids
            .iter()
            .map(|(n, id, _)| Span {
                trace_id: id.clone(),
                span_id: n.to_be_bytes().to_vec(),
                ..Default::default()
            })
            .collect();
        feed(&p, request(vec![], spans));
        let got: HashSet<Vec<u8>> = flushed(&p).into_iter().map(|s| s.trace_id).collect();
        let want: HashSet<Vec<u8>> = ids
            .into_iter()
            .filter(|(_, _, s)| *s)
            .map(|(_, id, _)| id)
            .collect();
        assert_eq!(got, want, "salt {salt:?} pct {pct}");
    }
}

// ---------------------------------------------------------------------------------------------
// Timing, late spans, caches

#[test]
fn decides_after_decision_wait_on_tick() {
    let p = load("decision_wait: 1h\npolicies: [{name: a, type: always_sample}]").unwrap();
    feed(&p, request(vec![], vec![span(1), span(2)]));
    let mut out = vec![];
    p.on_tick(&mut out);
    assert!(out.is_empty(), "nothing is due before decision_wait");
    assert_eq!(flushed(&p).len(), 2, "flush decides everything pending");
    assert!(flushed(&p).is_empty(), "a second flush emits nothing");

    let p = load("decision_wait: 0s\npolicies: [{name: a, type: always_sample}]").unwrap();
    feed(&p, request(vec![], vec![span(1), span(1), span(2)]));
    let mut out = vec![];
    p.on_tick(&mut out);
    assert_eq!(out.len(), 1, "one request per tick");
    assert_eq!(spans_of(&out).len(), 3);
}

#[test]
fn late_spans_follow_the_remembered_decision() {
    let t = Telemetry::new();
    let p = load_with(
        "decision_wait: 0s
policies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]",
        &t,
    )
    .unwrap();
    feed(
        &p,
        request(
            vec![],
            vec![with_status(span(1), status::StatusCode::Error), span(2)],
        ),
    );
    let mut out = vec![];
    p.on_tick(&mut out);
    assert_eq!(spans_of(&out).len(), 1);
    // Late spans: trace 1 was sampled, trace 2 not; both decisions are still in memory.
    let out = feed(&p, request(vec![], vec![span(1), span(2), span(1)]));
    let late = spans_of(&out);
    assert_eq!(late.len(), 2);
    assert!(late.iter().all(|s| s.trace_id == tid(1)));
    let mut tick = vec![];
    p.on_tick(&mut tick);
    assert!(tick.is_empty(), "late spans are not buffered again");
    let text = t.render();
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_tail_sampling_sampling_late_span_age_count"
        ),
        Some(3.0),
        "{text}"
    );
}

#[test]
fn decision_caches_outlive_memory() {
    let t = Telemetry::new();
    let p = load_with(
        "decision_wait: 0s
num_traces: 2
decision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 10}
policies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]",
        &t,
    )
    .unwrap();
    feed(
        &p,
        request(
            vec![],
            vec![with_status(span(1), status::StatusCode::Error), span(2)],
        ),
    );
    p.on_tick(&mut vec![]);
    // Push both decisions out of memory with new traces.
    feed(&p, request(vec![], vec![span(3), span(4)]));
    p.on_tick(&mut vec![]);
    let out = feed(&p, request(vec![], vec![span(1), span(2)]));
    assert_eq!(
        spans_of(&out).len(),
        1,
        "trace 1 released from the sampled cache"
    );
    let text = t.render();
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_tail_sampling_early_releases_from_cache_decision{sampled=\"true\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_tail_sampling_early_releases_from_cache_decision{sampled=\"false\"}"
        ),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn forgotten_decision_without_cache_starts_a_new_trace() {
    let p = load("decision_wait: 1h\nnum_traces: 1\npolicies: [{name: a, type: always_sample}]")
        .unwrap();
    feed(&p, request(vec![], vec![span(1)]));
    // Trace 2 evicts pending trace 1, which is decided early and emitted on the next tick.
    feed(&p, request(vec![], vec![span(2)]));
    let mut out = vec![];
    p.on_tick(&mut out);
    assert_eq!(spans_of(&out)[0].trace_id, tid(1));
    // Trace 1 is unknown again: buffered as a new trace (evicting trace 2 in turn).
    assert!(feed(&p, request(vec![], vec![span(1)])).is_empty());
    let ids: Vec<Vec<u8>> = flushed(&p).into_iter().map(|s| s.trace_id).collect();
    assert_eq!(ids, vec![tid(2), tid(1)]);
}

// ---------------------------------------------------------------------------------------------
// Memory bounds

#[test]
fn flood_of_trace_ids_stays_within_num_traces_and_loses_nothing() {
    let t = Telemetry::new();
    let p = load_with(
        "decision_wait: 1h\nnum_traces: 1000\npolicies: [{name: a, type: always_sample}]",
        &t,
    )
    .unwrap();
    let mut emitted = 0;
    for chunk in 0..50u64 {
        let spans = (0..1000).map(|i| span(chunk * 1000 + i)).collect();
        emitted += spans_of(&feed(&p, request(vec![], spans))).len();
        assert!(p.usage().0 <= 1000, "traces in memory: {}", p.usage().0);
        let mut out = vec![];
        p.on_tick(&mut out);
        emitted += spans_of(&out).len();
    }
    emitted += flushed(&p).len();
    assert_eq!(
        emitted, 50_000,
        "every evicted trace was decided, none lost"
    );
    let text = t.render();
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early"
        ),
        Some(49000.0),
        "{text}"
    );
    assert_eq!(
        metrics::value(
            &text,
            "otelcol_processor_tail_sampling_new_trace_id_received"
        ),
        Some(50000.0),
        "{text}"
    );
}

#[test]
fn flood_stays_within_the_byte_budget() {
    let p = load(
        "decision_wait: 1h\nnum_traces: 5000\nmax_buffered_bytes: 64KiB
policies: [{name: p, type: probabilistic, probabilistic: {sampling_percentage: 0}}]",
    )
    .unwrap();
    for chunk in 0..100u64 {
        let spans = (0..100).map(|i| span(chunk * 100 + i)).collect();
        feed(&p, request(vec![], spans));
        let (traces, bytes) = p.usage();
        assert!(bytes <= 64 * 1024, "{bytes} bytes buffered");
        assert!(traces <= 5000);
    }
}

#[test]
fn a_huge_trace_is_capped() {
    let t = Telemetry::new();
    let p = load_with(
        "decision_wait: 1h\nmaximum_trace_size_bytes: 10000\npolicies: [{name: a, type: always_sample}]",
        &t,
    )
    .unwrap();
    feed(&p, request(vec![], vec![span(2)]));
    for _ in 0..100 {
        let spans = (0..1000).map(|_| span(1)).collect();
        assert!(feed(&p, request(vec![], spans)).is_empty());
        assert!(p.usage().1 <= 10_000, "{} bytes", p.usage().1);
    }
    let out = flushed(&p);
    assert_eq!(out.len(), 1, "the huge trace was dropped, trace 2 kept");
    assert_eq!(out[0].trace_id, tid(2));
    assert_eq!(
        metrics::read(
            &t,
            "otelcol_processor_tail_sampling_traces_dropped_too_large"
        ),
        Some(1.0)
    );
}

#[test]
fn a_huge_trace_without_a_cap_is_bounded_by_the_budget() {
    // No per-trace cap: the budget decides the huge trace early, its later spans follow that
    // decision at once, and nothing accepted is lost.
    let t = Telemetry::new();
    let p = load_with(
        "decision_wait: 1h\nmax_buffered_bytes: 20000\npolicies: [{name: a, type: always_sample}]",
        &t,
    )
    .unwrap();
    let (mut fed, mut got) = (0, 0);
    for round in 0..50u64 {
        let mut spans: Vec<Span> = (0..200).map(|_| span(1)).collect();
        spans.push(span(100 + round));
        fed += spans.len();
        let req = request(vec![], spans);
        let len = req.encoded_len() as u64;
        got += spans_of(&feed(&p, req)).len();
        assert!(p.usage().1 <= 20_000 + len, "{} bytes", p.usage().1);
        let mut out = vec![];
        p.on_tick(&mut out);
        got += spans_of(&out).len();
    }
    got += flushed(&p).len();
    assert_eq!(got, fed, "every span of the sampled traces came out");
    assert_ne!(
        metrics::read(
            &t,
            "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early"
        ),
        Some(0.0)
    );
}

#[test]
fn sampled_spans_waiting_past_the_budget_are_refused_retryably() {
    let p = load(
        "decision_wait: 1h\nnum_traces: 1\nmax_buffered_bytes: 2000\npolicies: [{name: a, type: always_sample}]",
    )
    .unwrap();
    let mut refused = None;
    let (mut accepted, mut emitted) = (0, 0);
    for n in 0..200u64 {
        let mut out = vec![];
        let r = p.process(request(vec![], vec![span(n); 5]), &mut out);
        emitted += spans_of(&out).len();
        match r {
            Ok(()) => accepted += 5,
            Err(e) => {
                refused = Some((n, e));
                break;
            }
        }
    }
    let (n, e) = refused.expect("refused once sampled traces fill the budget");
    assert!(e.is_retryable(), "{e}");
    // The tick sends what waits; then data is accepted again, and nothing was lost.
    let mut out = vec![];
    p.on_tick(&mut out);
    assert!(spans_of(&out).len() >= 5);
    assert!(p.process(request(vec![], vec![span(n)]), &mut out).is_ok());
    emitted += spans_of(&out).len();
    accepted += 1;
    emitted += flushed(&p).len();
    assert_eq!(emitted, accepted);
}

#[test]
fn shutdown_can_drop_pending_traces() {
    let p = load(
        "decision_wait: 1h\ndrop_pending_traces_on_shutdown: true\npolicies: [{name: a, type: always_sample}]",
    )
    .unwrap();
    feed(&p, request(vec![], vec![span(1)]));
    assert!(flushed(&p).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Telemetry, golden files, conformance

#[test]
fn telemetry_uses_otelcol_names() {
    let t = Telemetry::new();
    let p = load_with(
        "decision_wait: 1h
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: drop-all, type: drop, drop: {drop_sub_policy: [{name: x, type: span_count, span_count: {min_spans: 3}}]}}",
        &t,
    )
    .unwrap();
    feed(
        &p,
        request(
            vec![],
            vec![
                with_status(span(1), status::StatusCode::Error),
                span(2),
                span(3),
                span(3),
                span(3),
            ],
        ),
    );
    assert_eq!(flushed(&p).len(), 1);
    let text = t.render();
    for (series, want) in [
        ("otelcol_processor_tail_sampling_count_traces_sampled{policy=\"errors\",sampled=\"true\",decision=\"sampled\"}", 1.0),
        ("otelcol_processor_tail_sampling_count_traces_sampled{policy=\"errors\",sampled=\"false\",decision=\"not_sampled\"}", 1.0),
        ("otelcol_processor_tail_sampling_count_traces_sampled{policy=\"drop-all\",sampled=\"false\",decision=\"dropped\"}", 1.0),
        ("otelcol_processor_tail_sampling_global_count_traces_sampled{sampled=\"true\",decision=\"sampled\"}", 1.0),
        ("otelcol_processor_tail_sampling_global_count_traces_sampled{sampled=\"false\",decision=\"not_sampled\"}", 1.0),
        ("otelcol_processor_tail_sampling_global_count_traces_sampled{sampled=\"false\",decision=\"dropped\"}", 1.0),
        ("otelcol_processor_tail_sampling_sampling_decision_timer_latency_count", 1.0),
        ("otelcol_processor_tail_sampling_new_trace_id_received", 3.0),
        ("otelcol_processor_tail_sampling_sampling_traces_on_memory", 3.0),
    ] {
        assert_eq!(metrics::value(&text, series), Some(want), "{series}\n{text}");
    }
    assert!(
        metrics::has(
            &text,
            "otelcol_processor_tail_sampling_sampling_decision_latency_count"
        ),
        "{text}"
    );
}

#[test]
fn golden_files() {
    assert!(golden::run(DIR, &TailSamplingProcessorFactory) >= 1);
}

#[test]
fn conformance_harness() {
    let results = ferrotel_testkit::conformance::run_processor(
        &TailSamplingProcessorFactory,
        "policies: [{name: a, type: always_sample}]",
    );
    assert_eq!(results.len(), 1);
    let (_, fed, emitted) = results[0];
    assert_eq!(fed, emitted, "always_sample emits every span at flush");
}

// ---------------------------------------------------------------------------------------------
// ottl_condition

fn with_event(mut s: Span, name: &str, attrs: Vec<KeyValue>) -> Span {
    s.events.push(ferrotel_core::proto::trace::v1::span::Event {
        name: name.into(),
        attributes: attrs,
        ..Default::default()
    });
    s
}

/// One processor with an `ottl_condition` policy, fed traces 1..=n built by `make`; returns the
/// sampled trace numbers.
fn ottl_sampled(policy: &str, t: &Telemetry, make: impl Fn(u64) -> Span, n: u64) -> Vec<u64> {
    let p = load_with(&format!("decision_wait: 1h\npolicies:\n  - {policy}"), t).unwrap();
    for i in 1..=n {
        assert!(feed(&p, request(vec![], vec![span(i), make(i)])).is_empty());
    }
    let sampled: HashSet<Vec<u8>> = flushed(&p).into_iter().map(|s| s.trace_id).collect();
    (1..=n).filter(|i| sampled.contains(&tid(*i))).collect()
}

#[test]
fn ottl_condition_samples_traces_with_a_matching_span() {
    let policy = r#"{name: o, type: ottl_condition, ottl_condition: {span: ['attributes["http.route"] == "/checkout" and kind == SPAN_KIND_SERVER', 'IsMatch(resource.attributes["service.name"], "^pay")']}}"#;
    let route = |r: &str| kv("http.route", AV::StringValue(r.into()));
    let make = |i: u64| {
        let mut s = with_attrs(
            span(i),
            vec![route(if [2, 4, 6].contains(&i) {
                "/checkout"
            } else {
                "/cart"
            })],
        );
        s.kind = 2;
        s
    };
    assert_eq!(
        ottl_sampled(policy, &Telemetry::new(), make, 6),
        vec![2, 4, 6]
    );
    // Any span of the trace may match; the resource is visible from the span context.
    assert!(samples(
        policy,
        vec![kv("service.name", AV::StringValue("payments".into()))],
        vec![span(1)]
    ));
    assert!(!samples(
        policy,
        vec![kv("service.name", AV::StringValue("cart".into()))],
        vec![span(1)]
    ));
}

#[test]
fn ottl_condition_samples_on_span_events() {
    let policy = r#"{name: o, type: ottl_condition, ottl_condition: {spanevent: ['name == "exception" and span.name != "health"']}}"#;
    let make = |i: u64| {
        let s = span(i);
        if i == 2 {
            with_event(s, "exception", vec![])
        } else {
            with_event(s, "log", vec![])
        }
    };
    assert_eq!(ottl_sampled(policy, &Telemetry::new(), make, 3), vec![2]);
}

#[test]
fn ottl_condition_error_modes() {
    // The first condition fails on every span (string + int); the second matches trace 2.
    let conds = r#"span: ['name + 1 > 0', 'status.code == STATUS_CODE_ERROR']"#;
    let make = |i: u64| {
        if i == 2 {
            with_status(span(i), status::StatusCode::Error)
        } else {
            span(i)
        }
    };
    for mode in ["ignore", "silent"] {
        let policy = format!(
            "{{name: o, type: ottl_condition, ottl_condition: {{error_mode: {mode}, {conds}}}}}"
        );
        assert_eq!(
            ottl_sampled(&policy, &Telemetry::new(), make, 2),
            vec![2],
            "{mode}"
        );
    }
    // propagate (the default): the policy fails on every trace, counted as evaluation errors,
    // and its decision is ignored, so another policy still decides.
    let t = Telemetry::new();
    let p = load_with(
        &format!("decision_wait: 1h\npolicies:\n  - {{name: o, type: ottl_condition, ottl_condition: {{{conds}}}}}\n  - {{name: s, type: span_count, span_count: {{min_spans: 3}}}}"),
        &t,
    )
    .unwrap();
    assert!(feed(&p, request(vec![], vec![span(1), make(2)])).is_empty());
    assert!(feed(&p, request(vec![], vec![span(3), span(3), span(3)])).is_empty());
    let sampled: HashSet<Vec<u8>> = flushed(&p).into_iter().map(|s| s.trace_id).collect();
    assert_eq!(sampled, HashSet::from([tid(3)]));
    assert_eq!(
        metrics::read(
            &t,
            "otelcol_processor_tail_sampling_sampling_policy_evaluation_error"
        ),
        Some(3.0),
        "{}",
        t.render()
    );
}

#[test]
fn ottl_condition_inside_and_and_composite() {
    let and = r#"{name: a, type: and, and: {and_sub_policy: [{name: o, type: ottl_condition, ottl_condition: {span: ['name == "GET /"']}}, {name: s, type: span_count, span_count: {min_spans: 2}}]}}"#;
    let get = |i: u64| {
        let mut s = span(i);
        if i == 1 {
            s.name = "GET /".into();
        }
        s
    };
    assert_eq!(ottl_sampled(and, &Telemetry::new(), get, 2), vec![1]);
    let composite = r#"{name: c, type: composite, composite: {max_total_spans_per_second: 1000, policy_order: [o], composite_sub_policy: [{name: o, type: ottl_condition, ottl_condition: {span: ['name == "GET /"']}}], rate_allocation: [{policy: o, percent: 100}]}}"#;
    assert_eq!(ottl_sampled(composite, &Telemetry::new(), get, 2), vec![1]);
}

#[test]
fn ottl_condition_config_errors() {
    let err = |policy: &str| -> Vec<(String, String)> {
        match load(&format!("policies:\n  - {policy}")) {
            Ok(_) => panic!("{policy}: expected errors"),
            Err(e) => e.0.into_iter().map(|e| (e.path, e.message)).collect(),
        }
    };
    let e = err("{name: o, type: ottl_condition}");
    assert_eq!(
        e,
        vec![(
            "processors.tail_sampling.policies[0].ottl_condition".to_string(),
            "expected at least one OTTL condition to filter on".to_string()
        )]
    );
    let e =
        err("{name: o, type: ottl_condition, ottl_condition: {error_mode: LOUD, span: ['true']}}");
    assert_eq!(
        e[0].0,
        "processors.tail_sampling.policies[0].ottl_condition.error_mode"
    );
    assert_eq!(e[0].1, "unknown error mode loud");
    let e = err("{name: o, type: ottl_condition, ottl_condition: {span: ['true', 'kind == SPAN_KIND_NOPE']}}");
    assert_eq!(
        e[0].0,
        "processors.tail_sampling.policies[0].ottl_condition.span[1]"
    );
    assert!(
        e[0].1.contains("enum symbol, SPAN_KIND_NOPE, not found"),
        "{e:?}"
    );
    // otelcol lower-cases the mode.
    assert!(load("policies:\n  - {name: o, type: ottl_condition, ottl_condition: {error_mode: IGNORE, span: ['true']}}").is_ok());
}

// ---------------------------------------------------------------------------------------------
// Config

fn create(case: &str) -> Result<Box<dyn Processor>, ConfigErrors> {
    golden::create(&TailSamplingProcessorFactory, DIR, case, Signal::Traces)
}

fn errors(case: &str) -> Vec<(String, String)> {
    match create(case) {
        Ok(_) => panic!("{case}: expected errors"),
        Err(e) => e.0.into_iter().map(|e| (e.path, e.message)).collect(),
    }
}

#[test]
fn config_defaults_match_otelcol() {
    let d = TailSamplingConfig::default();
    assert_eq!(d.decision_wait.0, Duration::from_secs(30));
    assert_eq!(d.num_traces, 50_000);
    assert_eq!(d.decision_cache.sampled_cache_size, 0);
    assert_eq!(d.maximum_trace_size_bytes.0, 0);
    assert!(!d.sample_on_first_match);
}

#[test]
fn config_valid_with_every_policy_type() {
    let p = create("valid").unwrap();
    assert_eq!(p.tick_interval(), Some(Duration::from_secs(1)));
}

#[test]
fn config_typo_names_the_path() {
    let e = errors("typo");
    assert_eq!(e[0].0, "processors.tail_sampling/x.decision_wiat", "{e:?}");
    assert!(e[0].1.contains("unknown field"), "{e:?}");
    let e = errors("typo_in_policy");
    assert_eq!(
        e[0].0, "processors.tail_sampling/x.policies[0].latency.threshold_msec",
        "{e:?}"
    );
}

#[test]
fn config_invalid_values_are_all_reported_with_paths() {
    let e = errors("invalid");
    let p = "processors.tail_sampling/x";
    let has = |path: &str, msg: &str| {
        assert!(
            e.iter().any(|(ep, em)| ep == path && em.contains(msg)),
            "no {path}: {msg} in {e:#?}"
        )
    };
    has(&format!("{p}.num_traces"), "greater than zero");
    has(
        &format!("{p}.policies[0].status_code.status_codes"),
        "unknown status code \"FATAL\", supported: OK, ERROR, UNSET",
    );
    has(
        &format!("{p}.policies[1].ottl_condition.span[1]"),
        "unable to parse OTTL condition \"attributes[\\\"x\\\"] ===\": 1:19: unexpected token \"=\"",
    );
    has(
        &format!("{p}.policies[1].ottl_condition.spanevent[0]"),
        "undefined function \"Nope\"",
    );
    has(
        &format!("{p}.policies[2].type"),
        "unknown sampling policy type \"sometimes\"",
    );
    has(
        &format!("{p}.policies[3].and.and_sub_policy[1].string_attribute.values[0]"),
        "invalid regular expression",
    );
    has(
        &format!("{p}.policies[4].composite.rate_allocation[0].policy"),
        "not a composite_sub_policy",
    );
    has(&format!("{p}.policies[5].name"), "duplicate policy name");
    has(
        &format!("{p}.policies[5].rate_limiting.spans_per_second"),
        "greater than zero",
    );
    has(
        &format!("{p}.policies[6].name"),
        "policy name cannot be empty",
    );
}

#[test]
fn config_without_policies_is_refused() {
    let e = errors("no_policies");
    assert_eq!(e[0].0, "processors.tail_sampling/x.policies", "{e:?}");
}
