use super::*;
use crate::golden;
use ferrotel_config::{Findings, Value};
use ferrotel_core::proto::common::v1::AnyValue;
use ferrotel_core::proto::logs::v1::{ResourceLogs, ScopeLogs};
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans};
use ferrotel_core::AnyFactory;
use ferrotel_testkit::fixtures::spans_of;
use ferrotel_testkit::metrics;
use std::collections::BTreeMap;
use std::sync::Arc;

const DIR: &str = "probabilistic_sampler";

fn sampler(yaml: &str, signal: Signal) -> Box<dyn Processor> {
    let cfg: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let ctx = ferrotel_testkit::conformance::processor_context(DIR, signal);
    ProbabilisticSamplerFactory.create_from(&ctx, &cfg).unwrap()
}

fn hex16(s: &str) -> Vec<u8> {
    hex::decode(&s[..32]).unwrap()
}

fn traces(spans: Vec<Span>) -> Data {
    Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn span(tid: &[u8], ts: &str) -> Span {
    Span {
        trace_id: tid.to_vec(),
        span_id: vec![1; 8],
        trace_state: ts.into(),
        name: "s".into(),
        ..Default::default()
    }
}

/// Samples `data` decoded and, for traces, also in its encoded form (the path that reads only
/// the fields it needs): both must keep and rewrite exactly the same items.
fn run(p: &dyn Processor, data: Data) -> Vec<Batch> {
    let mut out = vec![];
    let encoded = Batch::from_bytes(data.signal(), data.encode(), None, Default::default());
    p.process(Batch::from_data(data, Default::default()), &mut out)
        .unwrap();
    if encoded.signal() == Signal::Traces {
        let mut from_bytes = vec![];
        p.process(encoded, &mut from_bytes).unwrap();
        assert!(from_bytes.iter().all(|b| !b.is_decoded()), "decoded");
        assert_eq!(
            spans_of(&from_bytes),
            spans_of(&out),
            "encoded path differs"
        );
    }
    out
}

#[test]
fn config_valid_typo_invalid() {
    let f = ProbabilisticSamplerFactory;
    assert!(golden::create(&f, DIR, "valid", Signal::Logs).is_ok());
    assert!(golden::create(&f, DIR, "old_mode_key", Signal::Traces).is_ok());
    let e = golden::create(&f, DIR, "typo", Signal::Traces)
        .err()
        .unwrap();
    assert_eq!(
        e.0[0].path,
        "processors.probabilistic_sampler/x.sampling_percentag"
    );
    let e = golden::create(&f, DIR, "invalid", Signal::Traces)
        .err()
        .unwrap();
    let got: Vec<(&str, &str)> =
        e.0.iter()
            .map(|e| (e.path.as_str(), e.message.as_str()))
            .collect();
    assert_eq!(
        got,
        [
            (
                "processors.probabilistic_sampler/x.sampling_percentage",
                "sampling rate is negative: -1.000000%"
            ),
            (
                "processors.probabilistic_sampler/x.mode",
                "unsupported sampler mode \"random\""
            ),
            (
                "processors.probabilistic_sampler/x.attribute_source",
                "invalid attribute source: body. Expected: traceID or record"
            ),
            (
                "processors.probabilistic_sampler/x.sampling_precision",
                "sampling precision is too great, should be <= 14: 15"
            ),
        ]
    );
    let cfg = SamplerConfig {
        sampling_percentage: 1e-16,
        ..Default::default()
    };
    assert!(Findings::of("p", &cfg).errors[0]
        .message
        .starts_with("sampling rate is too small"));
    let cfg = SamplerConfig {
        sampling_percentage: f32::NAN,
        ..Default::default()
    };
    assert!(Findings::of("p", &cfg).into_result().is_err());
}

/// Every decision and every written tracestate matches the independent Python implementation
/// (testdata/probabilistic_sampler/gen_vectors.py), which includes the reference's vectors.
#[test]
fn hash_seed_mode_matches_reference_vectors() {
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/probabilistic_sampler/hash_seed_vectors.csv"
    ))
    .unwrap();
    // (seed, percentage) -> [(trace id, sampled, tracestate)]
    let mut groups: BTreeMap<(String, String), Vec<(String, bool, String)>> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 7, "{line}");
        let h = fnv1a32(f[1].parse().unwrap(), &hex16(f[0]));
        assert_eq!(h.to_string(), f[3], "fnv of {line}");
        assert_eq!((h & 0x3fff).to_string(), f[4]);
        groups
            .entry((f[1].to_string(), f[2].to_string()))
            .or_default()
            .push((f[0].to_string(), f[5] == "true", f[6].to_string()));
    }
    let mut checked = 0;
    for ((seed, pct), rows) in &groups {
        let p = sampler(
            &format!("{{sampling_percentage: {pct}, hash_seed: {seed}}}"),
            Signal::Traces,
        );
        let spans = rows.iter().map(|(t, _, _)| span(&hex16(t), "")).collect();
        let kept: BTreeMap<Vec<u8>, String> = spans_of(&run(p.as_ref(), traces(spans)))
            .into_iter()
            .map(|s| (s.trace_id, s.trace_state))
            .collect();
        for (t, sampled, ts) in rows {
            assert_eq!(
                kept.contains_key(&hex16(t)),
                *sampled,
                "{t} seed {seed} pct {pct}"
            );
            if *sampled {
                assert_eq!(&kept[&hex16(t)], ts, "{t} seed {seed} pct {pct}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 10_000);
}

use otep235::fnv1a32;

/// Every decision and written tracestate of the proportional and equalizing modes matches the
/// independent Python implementation of OTEP 235 (testdata/probabilistic_sampler/gen_vectors.py):
/// arriving `rv` and `th`, other vendors' entries, precisions 1 to 14.
#[test]
fn consistent_modes_match_reference_vectors() {
    let tsv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/probabilistic_sampler/consistent_vectors.tsv"
    ))
    .unwrap();
    // (mode, percentage, precision) -> [(trace id, tracestate in, sampled, tracestate out)]
    type Row = (String, String, bool, String);
    let mut groups: BTreeMap<(String, String, String), Vec<Row>> = BTreeMap::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 7, "{line}");
        groups
            .entry((f[0].into(), f[1].into(), f[2].into()))
            .or_default()
            .push((f[3].into(), f[4].into(), f[5] == "true", f[6].into()));
    }
    let mut checked = 0;
    let mut sampled_rows = 0;
    for ((mode, pct, precision), rows) in &groups {
        let yaml = format!(
            "{{mode: {mode}, sampling_percentage: {pct}, sampling_precision: {precision}}}"
        );
        let p = sampler(&yaml, Signal::Traces);
        let spans = rows
            .iter()
            .map(|(t, ts, _, _)| span(&hex16(t), ts))
            .collect();
        let kept: BTreeMap<Vec<u8>, String> = spans_of(&run(p.as_ref(), traces(spans)))
            .into_iter()
            .map(|s| (s.trace_id, s.trace_state))
            .collect();
        for (t, ts_in, sampled, ts_out) in rows {
            let got = kept.get(&hex16(t));
            assert_eq!(got.is_some(), *sampled, "{yaml}: {t} with {ts_in:?}");
            if let Some(got) = got {
                assert_eq!(got, ts_out, "{yaml}: {t} with {ts_in:?}");
                sampled_rows += 1;
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 6000);
    assert!(sampled_rows > 1000, "{sampled_rows}");
}

#[test]
fn consistent_modes_follow_otep235() {
    // Randomness 0x80000000000000: sampled at 50%, not at 49%.
    let tid = [
        0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
    ];
    // (config, incoming tracestate, equalizing result, proportional result); None = dropped.
    let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        (
            "sampling_percentage: 100",
            "",
            Some("ot=th:0"),
            Some("ot=th:0"),
        ),
        (
            "sampling_percentage: 50",
            "",
            Some("ot=th:8"),
            Some("ot=th:8"),
        ),
        ("sampling_percentage: 49", "", None, None),
        (
            "{sampling_percentage: 1, sampling_precision: 14}",
            "ot=rv:FD70A3D70A3D71",
            Some("ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
            Some("ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
        ),
        (
            "{sampling_percentage: 1, sampling_precision: 3}",
            "ot=rv:FD70A3D70A3D71",
            Some("ot=rv:FD70A3D70A3D71;th:fd7"),
            Some("ot=rv:FD70A3D70A3D71;th:fd7"),
        ),
        (
            "{sampling_percentage: 1, sampling_precision: 14}",
            "ot=rv:FD70A3D70A3D70",
            None,
            None,
        ),
        (
            "sampling_percentage: 50",
            "ot=rv:c0000000000000;th:8",
            Some("ot=rv:c0000000000000;th:8"),
            Some("ot=rv:c0000000000000;th:c"),
        ),
        ("sampling_percentage: 50", "ot=th:8", Some("ot=th:8"), None),
        (
            "{sampling_percentage: 40, sampling_precision: 3}",
            "ot=rv:a0000000000000,congo=t61rcWkgMzE",
            Some("ot=rv:a0000000000000;th:99a,congo=t61rcWkgMzE"),
            Some("ot=rv:a0000000000000;th:99a,congo=t61rcWkgMzE"),
        ),
        // An arriving th inconsistent with rv is an error: dropped when failing closed...
        (
            "sampling_percentage: 60",
            "ot=rv:70000000000000;th:8",
            None,
            None,
        ),
        // ...kept with the threshold cleared (then always-sample) when failing open.
        (
            "{sampling_percentage: 60, fail_closed: false}",
            "ot=rv:70000000000000;th:8",
            Some("ot=rv:70000000000000;th:0"),
            Some("ot=rv:70000000000000;th:0"),
        ),
        // An invalid tracestate is missing randomness.
        ("sampling_percentage: 100", "ot=rv:nothex", None, None),
    ];
    for (cfg, ts, eq, prop) in cases {
        for (mode, want) in [("equalizing", eq), ("proportional", prop)] {
            let yaml = format!(
                "{{mode: {mode}, {}}}",
                cfg.trim_matches(|c| c == '{' || c == '}')
            );
            let p = sampler(&yaml, Signal::Traces);
            let got = spans_of(&run(p.as_ref(), traces(vec![span(&tid, ts)])));
            assert_eq!(
                got.first().map(|s| s.trace_state.as_str()),
                *want,
                "{yaml} with {ts:?}"
            );
        }
    }
}

#[test]
fn hash_mode_tracestate_rules() {
    let tid = hex16("4bf92f3577b34da6a3ce929d0e0e4736");
    let p = sampler("sampling_percentage: 25", Signal::Traces);
    // Vendor entries are kept; ot goes first.
    let got = spans_of(&run(p.as_ref(), traces(vec![span(&tid, "congo=x")])));
    assert_eq!(got[0].trace_state, "ot=rv:fdc8d0b520408d;th:c,congo=x");
    // Existing rv/th: an error, so dropped (fail_closed) or kept untouched (fail open).
    let got = spans_of(&run(p.as_ref(), traces(vec![span(&tid, "ot=th:0")])));
    assert!(got.is_empty());
    let open = sampler(
        "{sampling_percentage: 25, fail_closed: false}",
        Signal::Traces,
    );
    let got = spans_of(&run(open.as_ref(), traces(vec![span(&tid, "ot=th:0")])));
    assert_eq!(got[0].trace_state, "ot=th:0");
    // An all-zero trace id is missing randomness.
    let got = spans_of(&run(p.as_ref(), traces(vec![span(&[0; 16], "")])));
    assert!(got.is_empty());
    let got = spans_of(&run(open.as_ref(), traces(vec![span(&[0; 16], "")])));
    assert_eq!(got[0].trace_state, "ot=rv:ffffffffffffff;th:0");
}

#[test]
fn sampling_priority_overrides() {
    let tid = hex16("4bf92f3577b34da6a3ce929d0e0e4736");
    let with = |v: V| {
        let mut s = span(&tid, "");
        s.attributes.push(KeyValue {
            key: "sampling.priority".into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        });
        s
    };
    let all = sampler("sampling_percentage: 100", Signal::Traces);
    assert!(spans_of(&run(all.as_ref(), traces(vec![with(V::IntValue(0))]))).is_empty());
    assert!(spans_of(&run(
        all.as_ref(),
        traces(vec![with(V::StringValue("0.0".into()))])
    ))
    .is_empty());
    let none = sampler("sampling_percentage: 0", Signal::Traces);
    let got = spans_of(&run(none.as_ref(), traces(vec![with(V::DoubleValue(2.0))])));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].trace_state, "ot=th:0");
    // Negative or unparsable: the hash decides (seed 22 drops this id at 25%).
    let p = sampler("{sampling_percentage: 25, hash_seed: 22}", Signal::Traces);
    assert!(spans_of(&run(p.as_ref(), traces(vec![with(V::IntValue(-1))]))).is_empty());
    assert_eq!(
        spans_of(&run(p.as_ref(), traces(vec![with(V::IntValue(3))]))).len(),
        1
    );
}

#[test]
fn passes_the_shared_payload_when_nothing_changes() {
    let tid = hex16("4bf92f3577b34da6a3ce929d0e0e4736");
    let p = sampler(
        "{sampling_percentage: 100, mode: equalizing}",
        Signal::Traces,
    );
    let data = traces(vec![span(&tid, "ot=th:0"), span(&tid, "ot=th:0")]);
    let bytes = data.encode();
    let batch = Batch::from_bytes(Signal::Traces, bytes.clone(), None, Default::default());
    let mut out = vec![];
    p.process(batch, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].encoded().as_ptr(),
        bytes.as_ptr(),
        "no re-encode, no copy"
    );
    // Everything dropped: nothing forwarded, no error.
    let never = sampler("sampling_percentage: 0", Signal::Traces);
    let mut out = vec![];
    never
        .process(
            Batch::from_bytes(Signal::Traces, bytes, None, Default::default()),
            &mut out,
        )
        .unwrap();
    assert!(out.is_empty());
}

fn logs(recs: Vec<LogRecord>) -> Data {
    Data::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: recs,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn out_logs(out: &[Batch]) -> Vec<LogRecord> {
    out.iter()
        .flat_map(|b| match b.view().unwrap() {
            Data::Logs(l) => l
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| s.log_records.clone())
                .collect::<Vec<_>>(),
            _ => vec![],
        })
        .collect()
}

#[test]
fn logs_by_trace_id_attribute_and_priority() {
    // A record with a trace id gets the same decision and randomness as its span.
    let tid = hex16("4bf92f3577b34da6a3ce929d0e0e4736");
    let p = sampler("sampling_percentage: 25", Signal::Logs);
    let rec = LogRecord {
        trace_id: tid.clone(),
        ..Default::default()
    };
    let got = out_logs(&run(p.as_ref(), logs(vec![rec])));
    assert_eq!(
        pdata::attr_str(&got[0].attributes, "sampling.randomness"),
        Some("fdc8d0b520408d")
    );
    assert_eq!(
        pdata::attr_str(&got[0].attributes, "sampling.threshold"),
        Some("c")
    );

    // attribute_source: record hashes the attribute; priority overrides.
    let p = sampler(
        "{sampling_percentage: 50, attribute_source: record, from_attribute: log.id, sampling_priority: prio}",
        Signal::Logs,
    );
    let rec = |id: &str, prio: Option<i64>| {
        let mut attrs = vec![KeyValue {
            key: "log.id".into(),
            value: Some(AnyValue {
                value: Some(V::StringValue(id.into())),
            }),
            ..Default::default()
        }];
        if let Some(p) = prio {
            attrs.push(KeyValue {
                key: "prio".into(),
                value: Some(AnyValue {
                    value: Some(V::IntValue(p)),
                }),
                ..Default::default()
            });
        }
        LogRecord {
            attributes: attrs,
            ..Default::default()
        }
    };
    let ids: Vec<String> = (0..400).map(|i| format!("rec-{i}")).collect();
    let got = out_logs(&run(
        p.as_ref(),
        logs(ids.iter().map(|i| rec(i, None)).collect()),
    ));
    let expected = ids
        .iter()
        .filter(|i| fnv1a32(0, i.as_bytes()) & 0x3fff < 8192)
        .count();
    assert_eq!(got.len(), expected);
    assert!((150..250).contains(&got.len()), "{}", got.len());
    let got = out_logs(&run(
        p.as_ref(),
        logs(ids.iter().map(|i| rec(i, Some(100))).collect()),
    ));
    assert_eq!(got.len(), 400, "priority 100 keeps all");
    let got = out_logs(&run(
        p.as_ref(),
        logs(ids.iter().map(|i| rec(i, Some(0))).collect()),
    ));
    assert!(got.is_empty(), "priority 0 keeps none");
    // No randomness at all: dropped (fail_closed).
    assert!(out_logs(&run(p.as_ref(), logs(vec![LogRecord::default()]))).is_empty());
}

#[test]
fn counts_decisions_under_otelcol_names() {
    let cfg: Value = serde_yaml_ng::from_str("sampling_percentage: 50").unwrap();
    let ctx = ferrotel_testkit::conformance::processor_context(DIR, Signal::Traces);
    let telemetry = ctx.telemetry.clone();
    let p = ProbabilisticSamplerFactory.create_from(&ctx, &cfg).unwrap();
    let input = ferrotel_testkit::fixtures::data(Signal::Traces, 300);
    let mut out = vec![];
    p.process(
        Batch::from_data(input.clone(), Arc::new(Default::default())),
        &mut out,
    )
    .unwrap();
    // The same request again, encoded (sampled without decoding): counted the same way.
    let encoded = Batch::from_bytes(Signal::Traces, input.encode(), None, Default::default());
    p.process(encoded, &mut out).unwrap();
    let kept: usize = out.iter().map(Batch::item_count).sum();
    assert_eq!(
        out[0].item_count() * 2,
        kept,
        "both paths keep the same spans"
    );
    let kept = kept / 2;
    let text = telemetry.render();
    let line = |name: &str, sampled: &str| -> u64 {
        let series =
            format!("{name}{{processor=\"{DIR}\",policy=\"trace_id_hash\",sampled=\"{sampled}\"}}");
        metrics::value(&text, &series).map_or(0, |v| v as u64)
    };
    assert_eq!(line(SPANS_METRIC, "true") as usize, 2 * kept, "{text}");
    assert_eq!(
        line(SPANS_METRIC, "false") as usize,
        2 * (300 - kept),
        "{text}"
    );
    assert_eq!(line(TRACES_METRIC_DEPRECATED, "true") as usize, 2 * kept);
}

#[test]
fn golden_pairs() {
    assert!(golden::run(DIR, &ProbabilisticSamplerFactory) >= 2);
}

#[test]
fn conformance() {
    for (signal, fed, out) in ferrotel_testkit::conformance::run_processor(
        &ProbabilisticSamplerFactory,
        "sampling_percentage: 50",
    ) {
        assert!(out < fed && out > fed / 4, "{signal}: {out} of {fed}");
    }
}
