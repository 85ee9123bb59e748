//! Evaluation tests written from otelcol's OTTL documentation (LANGUAGE.md comparison rules,
//! the ottlspan / ottlspanevent path tables, ottlfuncs' converter docs).

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{span::Event, Span, Status};
use ferrotel_ottl::{
    Condition, Conditions, ErrorMode, SpanContext, SpanEventContext, SpanEventItem, SpanItem,
};

fn any(v: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: any(v),
        ..Default::default()
    }
}

fn str_v(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.into())
}

struct Fixture {
    span: Span,
    scope: InstrumentationScope,
    resource: Resource,
}

fn fixture() -> Fixture {
    use any_value::Value as V;
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: vec![0xa, 0xb, 0xc, 0xd, 1, 2, 3, 4],
        trace_state: "ot=th:8,vendor=x".into(),
        name: "GET /users".into(),
        kind: 2,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 3_500,
        attributes: vec![
            kv("http.route", str_v("/users")),
            kv("http.status_code", V::IntValue(503)),
            kv("ratio", V::DoubleValue(0.25)),
            kv("ok", V::BoolValue(true)),
            kv("raw", V::BytesValue(vec![1, 2])),
            kv(
                "list",
                V::ArrayValue(ArrayValue {
                    values: vec![
                        any(str_v("a")).unwrap_or_default(),
                        any(V::IntValue(2)).unwrap_or_default(),
                    ],
                }),
            ),
            kv(
                "map",
                V::KvlistValue(KeyValueList {
                    values: vec![kv("inner", str_v("v"))],
                }),
            ),
            kv("csv", str_v("a,b,c")),
            kv("num", str_v("42")),
        ],
        dropped_attributes_count: 3,
        events: vec![Event {
            time_unix_nano: 2_000,
            name: "exception".into(),
            attributes: vec![kv("exception.type", str_v("TimeoutError"))],
            dropped_attributes_count: 0,
        }],
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
        ..Default::default()
    };
    Fixture {
        span,
        scope: InstrumentationScope {
            name: "io.lib".into(),
            version: "1.2.3".into(),
            attributes: vec![kv("scope.k", str_v("sv"))],
            dropped_attributes_count: 0,
        },
        resource: Resource {
            attributes: vec![kv("service.name", str_v("checkout"))],
            ..Default::default()
        },
    }
}

fn item(f: &Fixture) -> SpanItem<'_> {
    SpanItem {
        cache: &[],
        span: &f.span,
        scope: Some(&f.scope),
        resource: Some(&f.resource),
    }
}

fn eval(src: &str) -> Result<bool, String> {
    let f = fixture();
    let c = Condition::<SpanContext>::new(src).map_err(|e| e.to_string())?;
    c.eval(item(&f)).map_err(|e| e.to_string())
}

#[track_caller]
fn yes(src: &str) {
    assert_eq!(eval(src), Ok(true), "{src}");
}

#[track_caller]
fn no(src: &str) {
    assert_eq!(eval(src), Ok(false), "{src}");
}

#[test]
fn span_paths() {
    yes(r#"name == "GET /users""#);
    yes(r#"span.name == "GET /users""#);
    yes("kind == SPAN_KIND_SERVER");
    yes("kind == 2");
    yes(r#"kind.string == "Server""#);
    yes(r#"kind.deprecated_string == "SPAN_KIND_SERVER""#);
    yes("status.code == STATUS_CODE_ERROR");
    yes(r#"status.message == "boom""#);
    yes(r#"trace_id.string == "0102030405060708090a0b0c0d0e0f10""#);
    yes(r#"span_id.string == "0a0b0c0d01020304""#);
    yes(r#"parent_span_id.string == "0000000000000000""#);
    yes(r#"trace_state == "ot=th:8,vendor=x""#);
    yes(r#"trace_state["vendor"] == "x""#);
    yes(r#"trace_state["missing"] == """#);
    yes("start_time_unix_nano == 1000 and end_time_unix_nano == 3500");
    yes("end_time_unix_nano - start_time_unix_nano > 2000");
    yes("dropped_attributes_count == 3");
    yes(r#"attributes["http.route"] == "/users""#);
    yes(r#"attributes["map"]["inner"] == "v""#);
    yes(r#"attributes["list"][0] == "a""#);
    yes(r#"attributes["list"][1] == 2"#);
    yes(r#"resource.attributes["service.name"] == "checkout""#);
    yes(r#"instrumentation_scope.name == "io.lib""#);
    yes(r#"instrumentation_scope.version == "1.2.3""#);
    yes(r#"scope.attributes["scope.k"] == "sv""#);
    // Keys read at evaluation.
    yes(r#"attributes[Concat(["http", "route"], ".")] == "/users""#);
    yes(r#"attributes["list"][Len(attributes["map"])] == 2"#);
    yes(r#"attributes[instrumentation_scope.name] == nil"#);
    let e = eval(r#"attributes[kind == 2] == nil"#).unwrap_err();
    assert!(e.contains("1:"), "{e}");
    let e = eval(r#"attributes[attributes["ratio"]] == nil"#).unwrap_err();
    assert!(e.contains("invalid key type float64"), "{e}");
}

#[test]
fn unknown_paths_enums_and_functions_are_compile_errors() {
    let e = eval("nope == 1").unwrap_err();
    assert!(
        e.contains("unable to parse OTTL condition \"nope == 1\""),
        "{e}"
    );
    assert!(
        e.contains("segment \"nope\" from path \"nope\" is not a valid path"),
        "{e}"
    );
    let e = eval("kind == SEVERITY_NUMBER_WARN").unwrap_err();
    assert!(
        e.contains("enum symbol, SEVERITY_NUMBER_WARN, not found"),
        "{e}"
    );
    let e = eval("Nope(name)").unwrap_err();
    assert!(e.contains("undefined function \"Nope\""), "{e}");
    let e = eval(r#"IsMatch(name)"#).unwrap_err();
    assert!(e.contains("Expected: 2 Received: 1"), "{e}");
    let e = eval(r#"IsMatch(name, "(")"#).unwrap_err();
    assert!(e.contains("not a valid regexp pattern"), "{e}");
    let e = eval(r#"ConvertCase(name, "kebab") == "x""#).unwrap_err();
    assert!(e.contains("invalid case: kebab"), "{e}");
    let e = eval(r#"IsMatch(target = name, nope = "x")"#).unwrap_err();
    assert!(e.contains("no such parameter: nope"), "{e}");
}

#[test]
fn comparison_rules() {
    // Different types: never equal, so != holds; no ordering.
    no(r#"attributes["http.status_code"] == "503""#);
    yes(r#"attributes["http.status_code"] != "503""#);
    no(r#"attributes["http.status_code"] < "600""#);
    // Ints and floats compare numerically.
    yes(r#"attributes["http.status_code"] == 503.0"#);
    yes(r#"attributes["ratio"] < 1"#);
    yes("1 == 1.0");
    // nil.
    yes(r#"attributes["missing"] == nil"#);
    no(r#"attributes["missing"] != nil"#);
    yes("nil == nil");
    yes(r#"attributes["http.route"] != nil"#);
    no(r#"attributes["http.route"] == nil"#);
    no(r#"attributes["missing"] > 1"#);
    // Strings compare lexically; booleans false < true; bytes by bytes.
    yes(r#""a" < "b""#);
    yes("false < true");
    yes(r#"attributes["ok"] == true"#);
    yes(r#"attributes["raw"] == 0x0102"#);
    yes(r#"attributes["raw"] < 0x0103"#);
    // Maps and lists: equality only.
    yes(r#"attributes["map"] == {"inner": "v"}"#);
    yes(r#"attributes["list"] == ["a", 2]"#);
    no(r#"attributes["list"] < ["b"]"#);
    // Ids are not bytes.
    no("span_id == 0x0a0b0c0d01020304");
}

#[test]
fn boolean_logic_and_precedence() {
    yes(r#"name == "x" or kind == 2 and status.code == 2"#);
    no(r#"(name == "x" or kind == 2) and status.code == 1"#);
    yes(r#"not name == "x""#);
    yes("true and not false");
    yes("1 + 2 * 3 == 7");
    yes("(1 + 2) * 3 == 9");
    yes("10 / 4 == 2");
    yes("10.0 / 4 == 2.5");
    yes("-3 + 1 == -2");
    yes(r#"-attributes["http.status_code"] == -503"#);
    // Short-circuit: the failing right side is not evaluated.
    yes(r#"true or attributes["http.route"] + 1 > 0"#);
}

#[test]
fn evaluation_errors() {
    let e = eval("1 / 0 == 1").unwrap_err();
    assert_eq!(e, "attempted to divide by 0");
    let e = eval(r#"attributes["http.route"] + 1 > 0"#).unwrap_err();
    assert!(
        e.contains("must be int64, float64, time.Time or time.Duration"),
        "{e}"
    );
    let e = eval(r#"attributes["list"][5] == 1"#).unwrap_err();
    assert!(e.contains("index 5 out of bounds"), "{e}");
    let e = eval(r#"name["x"] == 1"#).unwrap_err();
    assert!(e.contains("does not support indexing"), "{e}");
    let e = eval(r#"Len(name) and true"#).unwrap_err();
    assert!(e.contains("must be bool"), "{e}");
}

#[test]
fn converters() {
    yes(r#"IsMatch(name, "^GET /")"#);
    no(r#"IsMatch(name, "^/health")"#);
    yes(r#"IsMatch(attributes["http.status_code"], "^5")"#);
    no(r#"IsMatch(attributes["missing"], ".*")"#);
    yes(r#"IsMatch(name, Concat(["^GET", "users"], ".*"))"#);
    yes(r#"IsString(name) and IsInt(kind) and IsDouble(attributes["ratio"])"#);
    yes(r#"IsBool(attributes["ok"]) and IsMap(attributes["map"]) and IsList(attributes["list"])"#);
    no(r#"IsString(attributes["missing"]) or IsInt(name)"#);
    yes(r#"Len(name) == 10 and Len(attributes["list"]) == 2 and Len(attributes["map"]) == 1"#);
    yes(r#"Concat([name, kind, nil], "|") == "GET /users|2|<nil>""#);
    yes(r#"Int(attributes["num"]) == 42 and Int(2.9) == 2 and Int(true) == 1"#);
    yes(r#"Int("x") == nil"#);
    yes(r#"Double(attributes["num"]) == 42.0 and Double(3) == 3.0"#);
    yes(r#"String(kind) == "2" and String(attributes["raw"]) == "0102""#);
    yes(r#"String(attributes["map"]) == "{\"inner\":\"v\"}""#);
    yes(r#"ConvertCase(name, "upper") == "GET /USERS""#);
    yes(r#"ConvertCase("HelloWorld", "snake") == "hello_world""#);
    yes(r#"ConvertCase("hello_world", "camel") == "HelloWorld""#);
    yes(r#"ConvertCase(name, "lower") == "get /users""#);
    yes(r#"Substring(name, 4, 6) == "/users""#);
    let e = eval(r#"Substring(name, 8, 6) == "x""#).unwrap_err();
    assert!(e.contains("invalid range for substring function"), "{e}");
    yes(r#"Split(attributes["csv"], ",") == ["a", "b", "c"]"#);
    yes(r#"Split(attributes["csv"], ",")[1] == "b""#);
    yes(r#"HasPrefix(name, "GET") and HasSuffix(name, "users")"#);
    yes(r#"IsMatch(target = name, pattern = "users$")"#);
    let e = eval(r#"HasPrefix(kind, "x")"#).unwrap_err();
    assert!(e.contains("expected string but got int64"), "{e}");
}

#[test]
fn times_and_durations() {
    // The fixture's span lasts 2500ns.
    yes(r#"end_time - start_time == Duration("2500ns")"#);
    yes(r#"end_time - start_time > Duration("2us")"#);
    yes(r#"end_time - start_time < Duration("1ms")"#);
    yes(r#"start_time + Duration("2.5us") == end_time"#);
    yes(r#"end_time - Duration("2500ns") == start_time"#);
    yes(r#"Duration("1h30m") == Duration("90m")"#);
    yes(r#"Duration("1h") - Duration("30m") == Duration("1800s")"#);
    yes("start_time < end_time");
    yes("Now() > end_time");
    // A time is not an int.
    no("start_time == 1000");
    let e = eval(r#"start_time + 1 > start_time"#).unwrap_err();
    assert!(
        e.contains("time.Time must be added to time.Duration"),
        "{e}"
    );
    let e = eval(r#"Duration("soon") > Duration("1s")"#).unwrap_err();
    assert!(e.contains("invalid duration"), "{e}");
}

#[test]
fn spanevent_context() {
    let f = fixture();
    let it = SpanEventItem {
        cache: &[],
        event: &f.span.events[0],
        index: 0,
        span: item(&f),
    };
    let check = |src: &str| {
        Condition::<SpanEventContext>::new(src)
            .unwrap_or_else(|e| panic!("{e}"))
            .eval(it)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    };
    assert!(check(r#"name == "exception""#));
    assert!(check(r#"spanevent.name == "exception""#));
    assert!(check(r#"attributes["exception.type"] == "TimeoutError""#));
    assert!(check("time_unix_nano == 2000"));
    assert!(check(r#"time - span.start_time == Duration("1us")"#));
    assert!(check(r#"span.name == "GET /users""#));
    assert!(check(r#"span.attributes["http.route"] == "/users""#));
    assert!(check("span.kind == SPAN_KIND_SERVER"));
    assert!(check(
        r#"resource.attributes["service.name"] == "checkout""#
    ));
    assert!(check(r#"instrumentation_scope.name == "io.lib""#));
    assert!(!check(r#"name == "GET /users""#));
    let e = Condition::<SpanEventContext>::new("kind == 2").unwrap_err();
    assert!(e.to_string().contains("for the SpanEvent context"), "{e}");
}

#[test]
fn error_modes() {
    let f = fixture();
    let texts = ["1 / 0 == 1", r#"name == "GET /users""#];
    let propagate = Conditions::<SpanContext>::new(&texts, ErrorMode::Propagate).unwrap();
    let e = propagate.any(item(&f)).unwrap_err().to_string();
    assert_eq!(
        e,
        "failed to eval condition: 1 / 0 == 1, attempted to divide by 0"
    );
    for mode in [ErrorMode::Ignore, ErrorMode::Silent] {
        let c = Conditions::<SpanContext>::new(&texts, mode).unwrap();
        assert_eq!(c.any(item(&f)), Ok(true), "{mode:?}");
        let c = Conditions::<SpanContext>::new(&texts[..1], mode).unwrap();
        assert_eq!(c.any(item(&f)), Ok(false), "{mode:?}");
    }
    let errors = Conditions::<SpanContext>::new(&["a ==", "nope == 1", "true"], ErrorMode::Ignore)
        .unwrap_err();
    assert_eq!(errors.len(), 2);
}

/// `attributes["k"] == nil` / `!= nil` are answered from whether the value is there: an entry
/// without a value, or with an empty one, is nil like a missing key; any set value (an empty
/// string, false, 0 included) is not. The same conditions through the general comparison
/// (`nil == attributes["k"]`) agree.
#[test]
fn nil_checks_on_attributes_match_the_general_comparison() {
    let mut f = fixture();
    f.span.attributes = vec![
        KeyValue {
            key: "unset".into(),
            value: None,
            ..Default::default()
        },
        KeyValue {
            key: "empty".into(),
            value: Some(AnyValue::default()),
            ..Default::default()
        },
        kv("blank", str_v("")),
        kv("zero", any_value::Value::IntValue(0)),
        kv("false", any_value::Value::BoolValue(false)),
    ];
    let eval = |src: &str| {
        let c = Condition::<SpanContext>::new(src).unwrap();
        c.eval(item(&f)).unwrap()
    };
    for (key, nil) in [
        ("unset", true),
        ("empty", true),
        ("missing", true),
        ("blank", false),
        ("zero", false),
        ("false", false),
    ] {
        for (op, holds) in [("==", nil), ("!=", !nil)] {
            let fast = format!(r#"attributes["{key}"] {op} nil"#);
            let general = format!(r#"nil {op} attributes["{key}"]"#);
            assert_eq!(eval(&fast), holds, "{fast}");
            assert_eq!(eval(&general), holds, "{general}");
        }
    }
}
