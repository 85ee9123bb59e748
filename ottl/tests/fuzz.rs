//! A quick fuzz loop: random token soup and random bytes never make the parser or the compiler
//! panic (a cargo-fuzz target can call `ferrotel_ottl::parse_condition` the same way).

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_core::proto::metrics::v1::{ExponentialHistogramDataPoint, Metric};
use ferrotel_ottl::{
    Condition, DataPointContext, DataPointItem, DataPointRef, LogContext, LogItem, MetricContext,
    MetricItem, SpanContext,
};

const PIECES: &[&str] = &[
    "name",
    "attributes",
    "[\"k\"]",
    "[0]",
    "[-1]",
    ".",
    "resource",
    "==",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    "not",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "=",
    "+",
    "-",
    "*",
    "/",
    "1",
    "-2",
    "1.5",
    ".5",
    "0x0a",
    "0x",
    "\"s\"",
    "\"\\x4",
    "\"",
    "nil",
    "true",
    "false",
    "SPAN_KIND_SERVER",
    "IsMatch",
    "Concat",
    "Split",
    "Len",
    "Substring",
    "set",
    "where",
    " ",
    "\n",
    "é",
    "\\",
    "'",
    "9999999999999999999999",
    "status",
    "code",
    "kind",
    "body",
    "string",
    "severity_number",
    "SEVERITY_NUMBER_ERROR",
    "metric",
    "type",
    "positive",
    "offset",
    "quantile_values",
    "FLAG_NONE",
    "METRIC_DATA_TYPE_SUM",
    "=>",
    "_",
    "(_, v) =>",
    "() =>",
    "v",
    "MapEach",
    "Filter",
    "Reduce",
    "When",
];

/// Compiles `src` in a context and, when it compiles, evaluates it on an item: neither may
/// panic (an evaluation error is fine). A macro, as the item borrows less long than a generic
/// function's condition would.
macro_rules! compile_and_eval {
    ($context:ty, $src:expr, $item:expr) => {
        if let Ok(c) = Condition::<$context>::new($src) {
            let _ = c.eval($item);
        }
    };
}

/// xorshift64*, so the test needs no dependency and is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_token_soup_never_panics() {
    // Lambdas too (otelcol's alpha gate; process-wide, so for every test of this binary).
    ferrotel_ottl::register_feature_gates();
    ferrotel_config::featuregate::global()
        .set("ottl.functions.enableLambda", true)
        .unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let n = 1 + rng.below(14);
        let src: String = (0..n)
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect::<Vec<_>>()
            .join(" ");
        if ferrotel_ottl::parse_condition(&src).is_ok() {
            parsed += 1;
        }
        let _ = ferrotel_ottl::parse_statement(&src);
        let _ = Condition::<SpanContext>::new(&src);
        let log = LogRecord::default();
        let log_item = LogItem {
            cache: &[],
            log: &log,
            scope: None,
            resource: None,
        };
        compile_and_eval!(LogContext, &src, log_item);
        let metric = Metric::default();
        let metric_item = MetricItem {
            cache: &[],
            metric: &metric,
            scope: None,
            resource: None,
        };
        compile_and_eval!(MetricContext, &src, metric_item);
        let point = ExponentialHistogramDataPoint::default();
        let point_item = DataPointItem {
            cache: &[],
            point: DataPointRef::ExponentialHistogram(&point),
            metric: metric_item,
        };
        compile_and_eval!(DataPointContext, &src, point_item);
    }
    // The soup is not all rejected: the loop exercises the parser past the first token.
    assert!(parsed > 20, "only {parsed} inputs parsed");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(40);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0x7f) as u8).collect();
        let src = String::from_utf8_lossy(&bytes);
        let _ = ferrotel_ottl::parse_condition(&src);
    }
}
