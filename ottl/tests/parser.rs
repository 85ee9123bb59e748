//! Parser tests: every construct of otelcol's OTTL grammar, and the positions of syntax errors.

#![allow(clippy::unwrap_used)]

use ferrotel_ottl::ast::{Arg, ArgValue, BoolExpr, Call, CmpOp, Field, Key, MathOp, Path, Value};
use ferrotel_ottl::{parse_condition, parse_statement};

fn path(at: usize, fields: &[(&str, Vec<Key>)]) -> Value {
    Value::Path(Path {
        fields: fields
            .iter()
            .map(|(n, k)| Field {
                name: n.to_string(),
                keys: k.clone(),
            })
            .collect(),
        at,
    })
}

fn s(v: &str) -> Key {
    Key::Str(v.into())
}

fn cmp(src: &str) -> (Value, CmpOp, Value) {
    match parse_condition(src).unwrap_or_else(|e| panic!("{src}: {e}")) {
        BoolExpr::Compare(a, op, b) => (*a, op, *b),
        other => panic!("{src}: not a comparison: {other:?}"),
    }
}

fn rhs(src: &str) -> Value {
    cmp(&format!("name == {src}")).2
}

#[test]
fn paths_with_keys_and_indexes() {
    let (l, op, r) = cmp(r#"attributes["http"]["route"] == "/x""#);
    assert_eq!(l, path(0, &[("attributes", vec![s("http"), s("route")])]));
    assert_eq!(op, CmpOp::Eq);
    assert_eq!(r, Value::Str("/x".into()));
    let (l, _, _) = cmp(r#"body["a"][0] != nil"#);
    assert_eq!(l, path(0, &[("body", vec![s("a"), Key::Int(0)])]));
    let (l, _, _) = cmp(r#"resource.attributes["service.name"] == "a""#);
    assert_eq!(
        l,
        path(
            0,
            &[
                ("resource", vec![]),
                ("attributes", vec![s("service.name")])
            ]
        )
    );
    let (l, _, _) = cmp("status.code == 1");
    assert_eq!(l, path(0, &[("status", vec![]), ("code", vec![])]));
    let (l, _, _) = cmp("attributes[\"l\"][-1] == 1");
    assert_eq!(l, path(0, &[("attributes", vec![s("l"), Key::Int(-1)])]));
    // A key read from a path or a converter.
    let (l, _, _) = cmp(r#"attributes[resource.attributes["k"]] == 1"#);
    let inner = path(11, &[("resource", vec![]), ("attributes", vec![s("k")])]);
    assert_eq!(
        l,
        path(0, &[("attributes", vec![Key::Expr(Box::new(inner))])])
    );
    let (l, _, _) = cmp(r#"attributes[Concat(["a", "b"], ".")] == 1"#);
    assert!(
        matches!(&l, Value::Path(p) if matches!(&p.fields[0].keys[0], Key::Expr(e) if matches!(**e, Value::Converter(_)))),
        "{l:?}"
    );
}

#[test]
fn every_comparison_operator() {
    for (text, op) in [
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<", CmpOp::Lt),
        ("<=", CmpOp::Le),
        (">", CmpOp::Gt),
        (">=", CmpOp::Ge),
    ] {
        assert_eq!(cmp(&format!("1 {text} 2")).1, op, "{text}");
        assert_eq!(cmp(&format!("1{text}2")).1, op, "{text} without spaces");
    }
}

#[test]
fn literals() {
    assert_eq!(
        rhs(r#""a\"b\\c\n\t\u00e9\x41""#),
        Value::Str("a\"b\\c\n\té\x41".into())
    );
    assert_eq!(rhs("42"), Value::Int(42));
    assert_eq!(rhs("-42"), Value::Int(-42));
    assert_eq!(rhs("-9223372036854775808"), Value::Int(i64::MIN));
    assert_eq!(rhs("1.5"), Value::Float(1.5));
    assert_eq!(rhs(".5"), Value::Float(0.5));
    assert_eq!(rhs("-2.5e3"), Value::Float(-2500.0));
    assert_eq!(rhs("true"), Value::Bool(true));
    assert_eq!(rhs("false"), Value::Bool(false));
    assert_eq!(rhs("nil"), Value::Nil);
    assert_eq!(
        rhs("0xdeadBEEF"),
        Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
    );
    assert_eq!(
        rhs("SPAN_KIND_SERVER"),
        Value::Enum("SPAN_KIND_SERVER".into())
    );
    assert_eq!(
        rhs("SEVERITY_NUMBER_WARN"),
        Value::Enum("SEVERITY_NUMBER_WARN".into())
    );
    assert_eq!(
        rhs(r#"["a", 1, [true], {"k": nil}]"#),
        Value::List(vec![
            Value::Str("a".into()),
            Value::Int(1),
            Value::List(vec![Value::Bool(true)]),
            Value::Map(vec![("k".into(), Value::Nil)]),
        ])
    );
    assert_eq!(rhs("[]"), Value::List(vec![]));
    assert_eq!(
        rhs(r#"{"a": 1, "b": {"c": "d"}}"#),
        Value::Map(vec![
            ("a".into(), Value::Int(1)),
            (
                "b".into(),
                Value::Map(vec![("c".into(), Value::Str("d".into()))])
            ),
        ])
    );
    assert_eq!(rhs("{}"), Value::Map(vec![]));
}

#[test]
fn math_precedence_and_parentheses() {
    let m = |a, op, b| Value::Math(Box::new(a), op, Box::new(b));
    // 1 + 2 * 3 - 4 / 2 == (1 + (2*3)) - (4/2)
    assert_eq!(
        rhs("1 + 2 * 3 - 4 / 2"),
        m(
            m(
                Value::Int(1),
                MathOp::Add,
                m(Value::Int(2), MathOp::Mul, Value::Int(3))
            ),
            MathOp::Sub,
            m(Value::Int(4), MathOp::Div, Value::Int(2))
        )
    );
    assert_eq!(
        rhs("(1 + 2) * 3"),
        m(
            m(Value::Int(1), MathOp::Add, Value::Int(2)),
            MathOp::Mul,
            Value::Int(3)
        )
    );
    assert_eq!(
        rhs("-attributes[\"x\"]"),
        Value::Neg(Box::new(path(9, &[("attributes", vec![s("x")])])))
    );
    assert_eq!(
        rhs("end_time_unix_nano - start_time_unix_nano"),
        m(
            path(8, &[("end_time_unix_nano", vec![])]),
            MathOp::Sub,
            path(29, &[("start_time_unix_nano", vec![])])
        )
    );
}

#[test]
fn boolean_structure_and_precedence() {
    // and binds tighter than or.
    let e = parse_condition("a == 1 or b == 2 and c == 3").unwrap();
    let BoolExpr::Or(terms) = e else {
        panic!("{e:?}")
    };
    assert_eq!(terms.len(), 2);
    assert!(matches!(&terms[1], BoolExpr::And(v) if v.len() == 2));
    let e = parse_condition("(a == 1 or b == 2) and not c == 3").unwrap();
    let BoolExpr::And(values) = e else {
        panic!("{e:?}")
    };
    assert!(matches!(&values[0], BoolExpr::Or(_)));
    assert!(matches!(&values[1], BoolExpr::Not(inner) if matches!(**inner, BoolExpr::Compare(..))));
    assert_eq!(parse_condition("true").unwrap(), BoolExpr::Const(true));
    assert_eq!(
        parse_condition("not false").unwrap(),
        BoolExpr::Not(Box::new(BoolExpr::Const(false)))
    );
    // A comparison between parenthesised math, not a boolean sub-expression.
    assert!(matches!(
        parse_condition("(1 + 2) > 2").unwrap(),
        BoolExpr::Compare(..)
    ));
}

#[test]
fn converters_named_arguments_and_function_names() {
    let e = parse_condition(r#"IsMatch(name, "^/health")"#).unwrap();
    let BoolExpr::Converter(Call { name, args, .. }) = e else {
        panic!("{e:?}")
    };
    assert_eq!(name, "IsMatch");
    assert_eq!(args.len(), 2);
    let (_, _, r) = cmp(r#"name == Concat([a, "b"], delimiter = "-")"#);
    let Value::Converter(call) = r else {
        panic!("{r:?}")
    };
    assert_eq!(call.args[1].name.as_deref(), Some("delimiter"));
    let (l, _, _) = cmp(r#"Split(name, ",")[0] == "a""#);
    let Value::Converter(call) = l else {
        panic!("{l:?}")
    };
    assert_eq!(call.keys, vec![Key::Int(0)]);
    let st = parse_statement(r#"set(attributes["h"], SHA256(name)) where IsString(name)"#).unwrap();
    assert_eq!(st.editor.name, "set");
    assert!(st.condition.is_some());
    let st = parse_statement("keep_keys(attributes, [\"a\", \"b\"])").unwrap();
    assert!(st.condition.is_none());
    let st = parse_statement("apply(target = attributes, f = Hex)").unwrap();
    assert_eq!(
        st.editor.args[1],
        Arg {
            name: Some("f".into()),
            value: ArgValue::Function("Hex".into())
        }
    );
}

fn err(src: &str) -> String {
    match parse_condition(src) {
        Ok(e) => panic!("{src:?} parsed: {e:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn syntax_errors_name_the_position() {
    assert!(
        err(r#"attributes["x"] ==="#).starts_with("1:19: unexpected token \"=\""),
        "{}",
        err(r#"attributes["x"] ==="#)
    );
    assert!(err("name == ").starts_with("1:9: unexpected token \"<EOF>\""));
    assert!(err("name == \"abc").contains("1:9: unterminated string"));
    assert!(err("name == 'a'").contains("1:9: invalid input text \"'\""));
    assert!(err("(name == \"a\"").starts_with("1:13:"));
    assert!(err("attributes[=] == 1").starts_with("1:12:"));
    assert!(err("name == \"a\" and").starts_with("1:16:"));
    assert!(err(r#"name == "\q""#).contains("unknown escape"));
    assert!(err("x == 99999999999999999999").contains("out of range"));
    assert!(err("isMatch(name, \"a\")")
        .contains("converter names must start with an uppercase letter but got 'isMatch'"));
    assert!(err("attributes.fooBar == 1").starts_with("1:12:"));
    assert!(err("name ==\n  nil nil").starts_with("2:7:"));
}

#[test]
fn statement_errors() {
    let e = parse_statement("Set(name, \"a\")").unwrap_err().to_string();
    assert!(
        e.contains("editor names must start with a lowercase letter but got 'Set'"),
        "{e}"
    );
    let e = parse_statement("set(name, \"a\")[0]")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("only paths and converters may be indexed"),
        "{e}"
    );
    let e = parse_statement("set(name, \"a\") where")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("1:21:"), "{e}");
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err(&deep).contains("nested more than"));
    let ok = format!("{}true{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(parse_condition(&ok).unwrap(), BoolExpr::Const(true));
}
