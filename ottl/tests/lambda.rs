//! Lambda expressions and otelcol's lambda converters (All, Any, Filter, Find, MapEach, MapKeys,
//! Reduce, When), with the `ottl.functions.enableLambda` gate enabled: written from otelcol's
//! ottlfuncs README examples and its e2e cases (pkg/ottl/e2e, `Test_e2e_converters`), on a log
//! record with the e2e test's attributes. The gate-off behaviour is in lambda_gate_off.rs (the
//! gate is process-wide).

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::common::v1::{any_value, AnyValue};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_ottl::{
    Condition, ErrorMode, LogContext, LogItem, LogItemMut, SpanContext, Statement, Statements,
};

use any_value::Value as V;

mod common;
use common::{kv, list, map, s};

fn enable() {
    ferrotel_ottl::register_feature_gates();
    ferrotel_config::featuregate::global()
        .set("ottl.functions.enableLambda", true)
        .unwrap();
}

/// A compact rendering: `{k=v, ...}` in order, `[a, b]`, strings quoted.
fn render(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => "nil".into(),
        Some(V::StringValue(s)) => format!("{s:?}"),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(f)) => f.to_string(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::KvlistValue(m)) => {
            let items: Vec<String> = (m.values.iter())
                .map(|kv| format!("{}={}", kv.key, render(kv.value.as_ref())))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Some(V::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|v| render(Some(v))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(other) => format!("{other:?}"),
    }
}

/// The e2e test's log record (the attributes the lambda cases read).
fn log() -> LogRecord {
    LogRecord {
        attributes: vec![
            kv("int_value", V::IntValue(0)),
            kv("http.method", s("get")),
            kv("array", list(vec![s("looong")])),
            kv(
                "foo",
                map(vec![
                    kv("bar", s("pass")),
                    kv("flags", s("pass")),
                    kv("slice", list(vec![s("val")])),
                    kv("nested", map(vec![kv("test", s("pass"))])),
                ]),
            ),
            kv(
                "primitiveValuesSlice",
                list(vec![s("value1"), V::IntValue(42), V::BoolValue(true)]),
            ),
            kv("empty_list", list(vec![])),
            kv("empty_map", map(vec![])),
            kv("tags", list(vec![s("user"), s("admin")])),
        ],
        ..Default::default()
    }
}

fn run(statement: &str) -> Result<LogRecord, String> {
    enable();
    let st = Statements::<LogContext>::new(&[statement], &[] as &[&str], ErrorMode::Propagate)
        .map_err(|e| format!("{e:?}"))?;
    let mut log = log();
    st.execute(&mut LogItemMut {
        cache: &mut Vec::new(),
        log: &mut log,
        scope: &mut None,
        resource: &mut None,
    })
    .map_err(|e| e.to_string())?;
    Ok(log)
}

/// The value `expr` sets: `set(attributes["out"], expr)`, rendered.
#[track_caller]
fn out(expr: &str) -> String {
    let log = run(&format!(r#"set(attributes["out"], {expr})"#)).unwrap_or_else(|e| panic!("{e}"));
    let v = log.attributes.iter().find(|kv| kv.key == "out");
    v.map_or("unset".into(), |kv| render(kv.value.as_ref()))
}

/// The error running `set(attributes["out"], expr)` gives (compiling or evaluating).
#[track_caller]
fn error(expr: &str) -> String {
    match run(&format!(r#"set(attributes["out"], {expr})"#)) {
        Ok(log) => panic!("{expr}: no error, {:?}", log.attributes.last()),
        Err(e) => e,
    }
}

#[track_caller]
fn holds(condition: &str) {
    enable();
    let c = Condition::<LogContext>::new(condition).unwrap_or_else(|e| panic!("{e}"));
    let log = log();
    let item = LogItem {
        log: &log,
        cache: &[],
        scope: None,
        resource: None,
    };
    assert_eq!(c.eval(item), Ok(true), "{condition}");
}

#[test]
fn filter_keeps_a_list_as_a_list_and_a_map_as_a_map() {
    let slice = r#"Filter(attributes["primitiveValuesSlice"], (_, v) => v == "value1")"#;
    assert_eq!(out(slice), r#"["value1"]"#);
    let m = r#"Filter(attributes["foo"], (k, _) => k == "bar")"#;
    assert_eq!(out(m), r#"{bar="pass"}"#);
    // README: keys with a prefix; by index.
    assert_eq!(
        out(r#"Filter(attributes["foo"], (k, _) => HasPrefix(k, "fl"))"#),
        r#"{flags="pass"}"#
    );
    assert_eq!(
        out(r#"Filter(attributes["primitiveValuesSlice"], (i, _) => i > 0)"#),
        "[42, true]"
    );
    assert_eq!(
        out(r#"Filter(attributes["empty_list"], (_, v) => true)"#),
        "[]"
    );
    assert_eq!(
        out(r#"Filter(attributes["empty_map"], (_, v) => true)"#),
        "{}"
    );
    assert_eq!(out(r#"Filter([1, 2, 3, 4], (_, v) => v > 2)"#), "[3, 4]");
}

#[test]
fn map_each_maps_values_keeping_keys() {
    assert_eq!(
        out(
            r#"MapEach(attributes["primitiveValuesSlice"], (i, v) => Concat([String(i), ":", String(v)], ""))"#
        ),
        r#"["0:value1", "1:42", "2:true"]"#
    );
    assert_eq!(
        out(r#"MapEach(attributes["foo"], (k, v) => Concat([k, ":", String(v)], ""))"#),
        r#"{bar="bar:pass", flags="flags:pass", slice="slice:[\"val\"]", nested="nested:{\"test\":\"pass\"}"}"#
    );
    assert_eq!(
        out(r#"MapEach(["things"], (_, v) => {"result":v})"#),
        r#"[{result="things"}]"#
    );
    assert_eq!(out(r#"MapEach([1, 2], (_, v) => v * 10)"#), "[10, 20]");
    // A body reading a path reads the log record.
    assert_eq!(
        out(r#"MapEach({"key":"val"}, (_, _) => attributes["http.method"])"#),
        r#"{key="get"}"#
    );
    assert_eq!(
        out(r#"MapEach(attributes["empty_list"], (_, v) => v)"#),
        "[]"
    );
}

#[test]
fn all_and_any_over_lists_and_maps() {
    assert_eq!(
        out(r#"All(attributes["primitiveValuesSlice"], (_, v) => v == "value1")"#),
        "false"
    );
    assert_eq!(
        out(r#"All(attributes["foo"], (k, _) => k != "missing")"#),
        "true"
    );
    assert_eq!(
        out(r#"Any(attributes["primitiveValuesSlice"], (_, v) => v == "value1")"#),
        "true"
    );
    assert_eq!(
        out(r#"Any(attributes["foo"], (k, _) => k == "bar")"#),
        "true"
    );
    assert_eq!(
        out(r#"Any(attributes["foo"], (k, _) => k == "nope")"#),
        "false"
    );
    // Empty sources: All is true, Any is false.
    assert_eq!(
        out(r#"All(attributes["empty_list"], (_, v) => false)"#),
        "true"
    );
    assert_eq!(
        out(r#"Any(attributes["empty_map"], (_, v) => true)"#),
        "false"
    );
    // As conditions (a converter returning a bool).
    holds(r#"Any(attributes["tags"], (_, v) => v == "admin")"#);
    holds(r#"not All(attributes["tags"], (_, v) => v == "admin")"#);
    holds(r#"All([1, 2, 3], (i, v) => v == i + 1 and IsInt(v))"#);
}

#[test]
fn find_returns_the_first_match_or_its_mapping_or_nil() {
    assert_eq!(
        out(r#"Find(attributes["primitiveValuesSlice"], (_, v) => v == "value1")"#),
        r#""value1""#
    );
    assert_eq!(
        out(r#"Find(attributes["foo"], (k, _) => k == "bar")"#),
        r#""pass""#
    );
    assert_eq!(
        out(
            r#"Find(attributes["foo"], (k, _) => k == "bar", (k, v) => Concat([k, ":", String(v)], ""))"#
        ),
        r#""bar:pass""#
    );
    assert_eq!(
        out(
            r#"Find(attributes["primitiveValuesSlice"], (_, v) => v == "value1", (i, v) => Concat([String(i), ":", String(v)], ""))"#
        ),
        r#""0:value1""#
    );
    assert_eq!(out(r#"Find([5, 7, 9], (_, v) => v > 6)"#), "7");
    assert_eq!(
        out(r#"Find([5, 7, 9], (_, v) => v > 6, mapper = (i, _) => i)"#),
        "1"
    );
    // Nothing found: nil, so set leaves the attribute unset.
    assert_eq!(out(r#"Find([5, 7, 9], (_, v) => v > 60)"#), "unset");
    holds(r#"Find(attributes["empty_list"], (_, v) => true) == nil"#);
}

#[test]
fn map_keys_renames_keys_and_merges_collisions() {
    assert_eq!(
        out(r#"MapKeys(attributes["foo"], (k, _) => Concat(["http.", k], ""))"#),
        r#"{http.bar="pass", http.flags="pass", http.slice=["val"], http.nested={test="pass"}}"#
    );
    assert_eq!(
        out(r#"MapKeys(attributes["foo"], (k, v) => Concat([k, ":", String(v)], ""))"#),
        r#"{bar:pass="pass", flags:pass="pass", slice:["val"]=["val"], nested:{"test":"pass"}={test="pass"}}"#
    );
    // Two keys mapped to one: the first's place, the last's value.
    assert_eq!(
        out(r#"MapKeys({"a": 1, "b": 2, "c": 3}, (k, _) => When(() => k == "c", "c", "x"))"#),
        "{x=2, c=3}"
    );
    assert_eq!(
        out(r#"MapKeys(attributes["empty_map"], (k, _) => k)"#),
        "{}"
    );
    assert!(error(r#"MapKeys({"a": 1}, (_, v) => v)"#)
        .contains("lambda expression must return a value of type string, got int64"));
    assert!(error(r#"MapKeys(attributes["tags"], (k, _) => k)"#)
        .contains("expected pcommon.Map but got pcommon.Slice"));
}

#[test]
fn reduce_folds_from_the_seed() {
    assert_eq!(
        out(r#"Reduce([1, 2, 3], 0, (acc, _, v) => acc + Int(v))"#),
        "6"
    );
    assert_eq!(
        out(
            r#"Reduce({"env": "prod"}, "", (acc, k, v) => Concat([acc, k, "=", String(v), ";"], ""))"#
        ),
        r#""env=prod;""#
    );
    assert_eq!(
        out(r#"Reduce(attributes["tags"], "", (acc, i, v) => Concat([acc, String(i), v], ""))"#),
        r#""0user1admin""#
    );
    // Empty source: the seed.
    assert_eq!(
        out(r#"Reduce(attributes["empty_list"], 42, (acc, _, v) => acc + v)"#),
        "42"
    );
    assert_eq!(
        out(r#"Reduce(attributes["empty_map"], "s", (acc, _, _) => 1)"#),
        r#""s""#
    );
}

#[test]
fn when_chooses_a_value_by_a_condition_lambda() {
    assert_eq!(
        out(r#"When(() => attributes["int_value"] > 0, "positive", "negative")"#),
        r#""negative""#
    );
    assert_eq!(
        out(r#"When(() => IsMap(attributes["foo"]), attributes["foo"]["bar"], "fail")"#),
        r#""pass""#
    );
    assert_eq!(
        out(
            r#"When(() => IsMap(attributes["foo"]), When(() => attributes["foo"]["bar"] == "pass", "pass", "fail"), "fail")"#
        ),
        r#""pass""#
    );
    assert_eq!(
        out(
            r#"When(() => Any(attributes["tags"], (_, v) => v == "admin"), "privileged", "standard")"#
        ),
        r#""privileged""#
    );
    assert_eq!(
        out(r#"When(condition = () => true, falseValue = 2, trueValue = 1)"#),
        "1"
    );
    // Only the chosen value is evaluated.
    assert_eq!(
        out(r#"When(() => true, 1, attributes["foo"]["bar"]["x"])"#),
        "1"
    );
    assert!(error(r#"When(() => "yes", 1, 2)"#).contains(
        "error while evaluating lambda function: lambda expression must return a value of type bool, got string"
    ));
}

#[test]
fn nested_lambdas_read_outer_parameters() {
    // For each tag, whether another list holds it (the inner lambda reads the outer `v`).
    assert_eq!(
        out(r#"Filter(attributes["tags"], (_, v) => Any(["admin", "root"], (_, w) => w == v))"#),
        r#"["admin"]"#
    );
    assert_eq!(
        out(r#"MapEach([[1, 2], [3]], (i, l) => Reduce(l, i, (acc, _, x) => acc + x))"#),
        "[3, 4]"
    );
    // An inner parameter of the same name shadows the outer one.
    assert_eq!(
        out(r#"MapEach([10], (_, v) => MapEach([1, 2], (_, v) => v))"#),
        "[[1, 2]]"
    );
}

#[test]
fn parameters_shadow_paths_and_take_keys() {
    // `attributes` as a parameter is the element, not the log's attributes.
    assert_eq!(
        out(r#"MapEach(["x"], (_, attributes) => attributes)"#),
        r#"["x"]"#
    );
    // Outside the lambda the path reads the log again.
    assert_eq!(
        out(r#"Concat([Find(["x"], (_, attributes) => true), attributes["http.method"]], "-")"#),
        r#""x-get""#
    );
    // Keys index a parameter's value.
    assert_eq!(
        out(r#"MapEach([{"name": "a"}, {"name": "b"}], (_, v) => v["name"])"#),
        r#"["a", "b"]"#
    );
    // A parameter as a key of a path.
    assert_eq!(
        out(r#"MapEach(["http.method", "nope"], (_, k) => attributes[k])"#),
        r#"["get", nil]"#
    );
}

#[test]
fn blank_parameters_bind_nothing() {
    let e = error(r#"Filter([1], (_, _) => _ == 1)"#);
    assert!(e.contains("unexpected token"), "{e}");
    assert_eq!(out(r#"Filter([1, 2], (_, _) => true)"#), "[1, 2]");
}

#[test]
fn arity_and_argument_errors_are_compile_errors() {
    let e = error(r#"Filter([1], (v) => true)"#);
    assert!(
        e.contains("lambda should be defined with exactly 2 formal(s), but has 1"),
        "{e}"
    );
    let e = error(r#"Reduce([1], 0, (acc, v) => acc)"#);
    assert!(
        e.contains("lambda should be defined with exactly 3 formal(s), but has 2"),
        "{e}"
    );
    let e = error(r#"When((x) => true, 1, 2)"#);
    assert!(e.contains("exactly 0 formal(s), but has 1"), "{e}");
    let e = error(r#"Find([1], (i, v) => true, (v) => v)"#);
    assert!(
        e.contains("invalid mapper: lambda should be defined"),
        "{e}"
    );
    let e = error(r#"Find([1], () => true)"#);
    assert!(
        e.contains("invalid predicate: lambda should be defined"),
        "{e}"
    );
    let e = error(r#"Filter([1], true)"#);
    assert!(e.contains("expected a lambda expression"), "{e}");
    let e = error(r#"Len((i, v) => true)"#);
    assert!(e.contains("a lambda expression is not a value"), "{e}");
    let e = error(r#"Filter([1])"#);
    assert!(e.contains("incorrect number of arguments"), "{e}");
    let e = error(r#"Filter([1], (a, a) => true)"#);
    assert!(e.contains("1:40: duplicate lambda parameter"), "{e}");
}

#[test]
fn evaluation_errors_name_the_item() {
    let e = error(r#"Filter(attributes["primitiveValuesSlice"], (_, v) => v)"#);
    assert!(
        e.contains("error while evaluating lambda function on slice item (0, value1): lambda expression must return a value of type bool, got string"),
        "{e}"
    );
    let e = error(r#"Any(attributes["foo"], (k, _) => k)"#);
    assert!(e.contains("on map item (bar, pass)"), "{e}");
    let e = error(r#"Filter(attributes["http.method"], (_, v) => true)"#);
    assert!(e.contains("unsupported type provided: string"), "{e}");
    let e = error(r#"All(attributes["missing"], (_, v) => true)"#);
    assert!(e.contains("unsupported type provided: <nil>"), "{e}");
}

#[test]
fn parse_errors_name_the_position() {
    enable();
    let e = Statement::<LogContext>::new(r#"set(attributes["x"], Filter([1], (a, b) =>))"#)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains(r#"1:43: unexpected token ")" (expected a value)"#),
        "{e}"
    );
    let e = Statement::<LogContext>::new(r#"set(attributes["x"], Filter([1], (A, b) => true))"#)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("invalid lambda parameter \"A\""), "{e}");
    // A lambda is only an argument.
    assert!(Condition::<SpanContext>::new("(a) => true").is_err());
    assert!(Condition::<SpanContext>::new("Len([(a) => true]) == 1").is_err());
}

#[test]
fn lambdas_compile_in_every_context_and_with_context_converters() {
    enable();
    let c = Condition::<SpanContext>::new(
        r#"Any(attributes["x"], (_, v) => IsRootSpan() and v == name)"#,
    );
    assert!(c.is_ok(), "{:?}", c.err());
}

/// Nested lambdas multiply the work, and their sources come from the data: one call of a lambda
/// function evaluates at most `MAX_LAMBDA_INVOCATIONS` lambda bodies, nested calls included.
#[test]
fn lambda_invocations_per_call_are_bounded() {
    let nested = |n: usize| {
        let items = vec!["a"; n].join(",");
        format!(
            r#"Len(MapEach(Split("{items}", ","), (_, x) => Len(MapEach(Split("{items}", ","), (_, y) => y))))"#
        )
    };
    assert_eq!(ferrotel_ottl::lambda::MAX_LAMBDA_INVOCATIONS, 100_000);
    assert_eq!(out(&nested(300)), "300"); // 300 + 300 * 300 invocations
    let e = error(&nested(400)); // 400 + 400 * 400
    assert!(e.contains("evaluated more than 100000 times"), "{e}");
    // The count starts afresh with the next call.
    assert_eq!(out(&nested(300)), "300");
}
