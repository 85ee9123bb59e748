//! With otelcol's `ottl.functions.enableLambda` gate disabled (its default, alpha) the lambda
//! converters are not defined, as otelcol's `ottlfuncs.StandardConverters` leaves them out: a
//! statement using one is refused when it compiles, naming the function. (Its own test binary:
//! the gate is process-wide.)

#![allow(clippy::unwrap_used)]

use ferrotel_ottl::{Condition, LogContext, SpanContext, Statement};

#[test]
fn lambda_converters_are_undefined_while_the_gate_is_off() {
    ferrotel_ottl::register_feature_gates();
    let gate = ferrotel_config::featuregate::global()
        .get("ottl.functions.enableLambda")
        .unwrap();
    assert!(!gate.is_enabled());
    assert_eq!(gate.stage(), ferrotel_config::featuregate::Stage::Alpha);
    let e = Statement::<LogContext>::new(
        r#"set(attributes["test"], When(() => true, "pass", "fail"))"#,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains(r#"undefined function "When""#), "{e}");
    for name in ["All", "Any", "Filter", "Find", "MapEach", "MapKeys"] {
        let text = format!(r#"{name}(attributes["x"], (k, v) => true) != nil"#);
        let e = Condition::<SpanContext>::new(&text)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(&format!("undefined function {name:?}")), "{e}");
    }
    let e = Condition::<SpanContext>::new(r#"Reduce([1], 0, (a, k, v) => a) != nil"#)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(r#"undefined function "Reduce""#), "{e}");
}
