//! The `tail_sampling` workload shared by the criterion bench (`benches/tail_sampling.rs`) and
//! the peak-RSS run (`bin/tail_sampling_rss.rs`): encoded OTLP requests of small web traces, and
//! the processor with the classic policies (errors, slow, 10% of the rest) holding a given
//! number of live traces.

use ferrotel_config::Value;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{Batch, Data, Signal, Telemetry};
use ferrotel_processors::tail_sampling::{TailSamplingConfig, TailSamplingProcessor};
use std::sync::Arc;

pub const SPANS_PER_TRACE: u64 = 3;
pub const TRACES_PER_REQUEST: u64 = 341;
pub const SPANS_PER_REQUEST: u64 = TRACES_PER_REQUEST * SPANS_PER_TRACE;

/// A well-spread 16-byte trace id for trace `n`.
pub fn trace_id(n: u64) -> Vec<u8> {
    let a = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995;
    let b = a.rotate_left(17).wrapping_mul(0xC2B2_AE3D_27D4_EB4F) | 1;
    [a.to_be_bytes(), b.to_be_bytes()].concat()
}

fn attr(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// An encoded request (as a receiver hands it on) with spans `spans` of traces
/// `first..first + TRACES_PER_REQUEST`.
pub fn request(first: u64, spans: std::ops::Range<u64>) -> Batch {
    let spans = (first..first + TRACES_PER_REQUEST)
        .flat_map(|t| {
            spans.clone().map(move |i| Span {
                trace_id: trace_id(t),
                span_id: (t * 8 + i + 1).to_be_bytes().to_vec(),
                name: format!("GET /api/items/{i}"),
                start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000,
                end_time_unix_nano: 1_700_000_000_010_000_000 + i * 1_000_000,
                attributes: vec![
                    attr("http.request.method", "GET"),
                    attr("http.route", "/api/items/:id"),
                ],
                ..Default::default()
            })
        })
        .collect();
    let data = Data::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr("service.name", "items")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    Batch::from_bytes(Signal::Traces, data.encode(), None, Default::default())
}

/// The processor with `num_traces: live_traces`, a decision wait longer than any run, the
/// default byte budget, and the classic policies.
pub fn processor(live_traces: u64) -> Result<TailSamplingProcessor, String> {
    let yaml = format!(
        "decision_wait: 1h
num_traces: {live_traces}
policies:
  - {{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}
  - {{name: slow, type: latency, latency: {{threshold_ms: 5000}}}}
  - {{name: some, type: probabilistic, probabilistic: {{sampling_percentage: 10}}}}"
    );
    let v: Value = serde_yaml_ng::from_str(&yaml).map_err(|e| e.to_string())?;
    let (cfg, _): (TailSamplingConfig, _) =
        ferrotel_config::decode_valid("processors.tail_sampling", &v).map_err(|e| e.to_string())?;
    Ok(TailSamplingProcessor::new(
        &cfg,
        &Telemetry::new(),
        Arc::new(tokio::sync::Notify::new()),
    ))
}
