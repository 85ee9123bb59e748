//! The XML editing converters (GetXML, InsertXML, RemoveXML, ConvertAttributesToElementsXML,
//! ConvertTextToElementsXML), with the cases of otelcol's `func_*_xml_test.go` tables and
//! README examples: the document in a span attribute, the result set into another.

#![allow(clippy::unwrap_used)]

use ferrotel_core::pdata::kv_str;
use ferrotel_core::proto::common::v1::any_value;
use ferrotel_core::proto::trace::v1::Span;
use ferrotel_ottl::{ErrorMode, SpanContext, SpanItemMut, Statement, Statements};

/// Sets `attributes["out"]` to `call` (which reads the document from `attributes["doc"]`
/// and a sub-document from `attributes["sub"]`) and returns it, or the error.
fn run(call: &str, doc: &str, sub: &str) -> Result<String, String> {
    let statement = format!(r#"set(attributes["out"], {call})"#);
    let st = Statements::<SpanContext>::new(&[statement], &[] as &[&str], ErrorMode::Propagate)
        .map_err(|e| e[0].to_string())?;
    let mut span = Span {
        attributes: vec![kv_str("doc", doc), kv_str("sub", sub)],
        ..Default::default()
    };
    let (mut scope, mut resource) = (None, None);
    st.execute(&mut SpanItemMut {
        cache: &mut Vec::new(),
        span: &mut span,
        scope: &mut scope,
        resource: &mut resource,
    })
    .map_err(|e| e.to_string())?;
    let out = span.attributes.iter().find(|a| a.key == "out").unwrap();
    match out.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Ok(s.clone()),
        other => panic!("{other:?}"),
    }
}

#[track_caller]
fn check(call: &str, cases: &[(&str, &str)]) {
    for (doc, want) in cases {
        assert_eq!(run(call, doc, "").as_deref(), Ok(*want), "{call} on {doc}");
    }
}

fn compile_error(call: &str) -> String {
    match Statement::<SpanContext>::new(&format!(r#"set(attributes["out"], {call})"#)) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{call} compiled"),
    }
}

#[test]
fn get_xml_returns_the_selected_nodes() {
    let get =
        |xpath: &str, doc: &str| run(&format!("GetXML(attributes[\"doc\"], {xpath:?})"), doc, "");
    for (doc, xpath, want) in [
        ("<a><b/></a>", "/a/b", "<b></b>"),
        (
            r#"<a foo="bar"><b>hello</b></a>"#,
            "/a",
            r#"<a foo="bar"><b>hello</b></a>"#,
        ),
        (
            "<a><b>hello</b><b>world</b></a>",
            "/a/b",
            "<b>hello</b><b>world</b>",
        ),
        (
            "<a><b>hello</b><b><c>world</c></b><d/></a>",
            "/a/*",
            "<b>hello</b><b><c>world</c></b><d></d>",
        ),
        (
            "<a><x>1</x><b><x>2</x></b><d><e><f><x>3</x></f></e></d></a>",
            "/a//x",
            "<x>1</x><x>2</x><x>3</x>",
        ),
        (
            r#"<a><x env="prod">1</x><b><x env="dev">2</x></b><d><e><f><x env="prod">3</x></f></e></d></a>"#,
            "/a//x[@env='prod']",
            r#"<x env="prod">1</x><x env="prod">3</x>"#,
        ),
        ("", "/", ""),
        (
            r#"<?xml version="1.0" encoding="UTF-8"?><a></a>"#,
            "/*",
            "<a></a>",
        ),
        ("<!-- comment --><a></a><!-- comment -->", "/*", "<a></a>"),
        (r#"<a foo="bar"></a>"#, "/a/@foo", "bar"),
        ("<a>hello</a>", "/a/text()", "hello"),
        ("<a><![CDATA[hello]]></a>", "/a/text()", "hello"),
    ] {
        assert_eq!(get(xpath, doc).as_deref(), Ok(want), "{xpath} on {doc}");
    }
}

#[test]
fn remove_xml_removes_elements_attributes_text_comments_and_cdata() {
    let remove = |xpath: &str, doc: &str| {
        run(
            &format!("RemoveXML(attributes[\"doc\"], {xpath:?})"),
            doc,
            "",
        )
    };
    for (doc, xpath, want) in [
        ("<a><b/></a>", "/a/b", "<a></a>"),
        ("<a><b/><b/></a>", "/a/b", "<a></a>"),
        ("<a><b/><b><c/></b></a>", "/a/b", "<a></a>"),
        (
            "<a><b/><b/><c><b><d/></b></c></a>",
            "/a//b",
            "<a><c></c></a>",
        ),
        (r#"<a foo="bar"/>"#, "/a/@foo", "<a></a>"),
        (
            r#"<a><b foo="bar"/><b foo="notbar"/></a>"#,
            "/a/b[@foo='bar']",
            r#"<a><b foo="notbar"></b></a>"#,
        ),
        (
            r#"<a><b foo="bar"/><c foo="bar"/></a>"#,
            "//@foo",
            "<a><b></b><c></c></a>",
        ),
        (
            r#"<a><b foo="bar" hello="world" keep="this"/></a>"#,
            "//@*[local-name() != 'keep']",
            r#"<a><b keep="this"></b></a>"#,
        ),
        ("<a>delete this</a>", "//text()['*delete*']", "<a></a>"),
        (
            "<a><b><c><!-- delete this --></c><!-- this too--></b></a>",
            "//comment()",
            "<a><b><c></c></b></a>",
        ),
        (
            "<a><b><![CDATA[text content possibly containing literal <or &characters ]]></b></a>",
            "//text()['<![CDATA[*']",
            "<a><b></b></a>",
        ),
        (
            r#"<?xml version="1.0" encoding="UTF-8"?><a>delete this</a>"#,
            "//text()['*delete*']",
            r#"<?xml version="1.0" encoding="UTF-8"?><a></a>"#,
        ),
        ("", "/", ""),
    ] {
        assert_eq!(remove(xpath, doc).as_deref(), Ok(want), "{xpath} on {doc}");
    }
}

#[test]
fn insert_xml_appends_the_sub_document_to_each_selected_element() {
    let insert = |xpath: &str, doc: &str, sub: &str| {
        run(
            &format!("InsertXML(attributes[\"doc\"], {xpath:?}, attributes[\"sub\"])"),
            doc,
            sub,
        )
    };
    for (doc, xpath, sub, want) in [
        ("<a></a>", "/a", "<b/>", "<a><b></b></a>"),
        (
            "<a></a><a></a>",
            "/a",
            "<b/>",
            "<a><b></b></a><a><b></b></a>",
        ),
        (
            "<a></a><z><a></a></z>",
            "//a",
            "<b/>",
            "<a><b></b></a><z><a><b></b></a></z>",
        ),
        ("<a></a>", "/", "<b/><c/>", "<a></a><b></b><c></c>"),
        ("<a></a>", "/a", "<b/><c/>", "<a><b></b><c></c></a>"),
        (
            "<a></a><a></a>",
            "/a",
            "<b/><c/>",
            "<a><b></b><c></c></a><a><b></b><c></c></a>",
        ),
        (
            "<a></a><z><a></a></z>",
            "//a",
            "<b/><c/>",
            "<a><b></b><c></c></a><z><a><b></b><c></c></a></z>",
        ),
        (
            "<a></a>",
            "/a",
            r#"<x foo="bar"><b>text</b><c><d><e>1</e><e><![CDATA[two]]></e></d></c></x>"#,
            r#"<a><x foo="bar"><b>text</b><c><d><e>1</e><e><![CDATA[two]]></e></d></c></x></a>"#,
        ),
        ("", "/", "<a/>", "<a></a>"),
        ("<a></a>", "/", "<a/>", "<a></a><a></a>"),
        (
            "<a><b>has b</b></a><a></a><a><b>also has b</b></a>",
            "//a[not(b)]",
            "<b></b>",
            "<a><b>has b</b></a><a><b></b></a><a><b>also has b</b></a>",
        ),
    ] {
        assert_eq!(
            insert(xpath, doc, sub).as_deref(),
            Ok(want),
            "{xpath} on {doc}"
        );
    }
    let e = insert("/a/@foo", r#"<a foo="bar"></a>"#, "<b/>").unwrap_err();
    assert!(
        e.contains(r#"InsertXML XPath selected non-element: "foo""#),
        "{e}"
    );
    let e = insert("/a/text()", "<a>foo</a>", "<b/>").unwrap_err();
    assert!(
        e.contains(r#"InsertXML XPath selected non-element: "foo""#),
        "{e}"
    );
    assert!(insert("/", "<a/>", "<a>>>>>>>")
        .unwrap_err()
        .contains("parse xml"));
}

#[test]
fn convert_attributes_to_elements_xml() {
    check(
        r#"ConvertAttributesToElementsXML(attributes["doc"])"#,
        &[
            ("<a><b/></a>", "<a><b></b></a>"),
            (
                r#"<?xml version="1.0" encoding="UTF-8"?><a><b/></a>"#,
                r#"<?xml version="1.0" encoding="UTF-8"?><a><b></b></a>"#,
            ),
            (r#"<a foo="bar"/>"#, "<a><foo>bar</foo></a>"),
            (
                r#"<a foo="bar" hello="world"/>"#,
                "<a><foo>bar</foo><hello>world</hello></a>",
            ),
            (
                r#"<a hello="world" foo="bar"/>"#,
                "<a><hello>world</hello><foo>bar</foo></a>",
            ),
            (
                r#"<a hello="world" foo="bar"><b/><c/><b/></a>"#,
                "<a><b></b><c></c><b></b><hello>world</hello><foo>bar</foo></a>",
            ),
            (
                r#"<a hello="world" foo="bar">free value</a>"#,
                "<a>free value<hello>world</hello><foo>bar</foo></a>",
            ),
            (
                r#"<a hello="world" foo="bar">free value<b/>2<c/></a>"#,
                "<a>free value<b></b>2<c></c><hello>world</hello><foo>bar</foo></a>",
            ),
            (
                r#"<a hello="world" foo="bar"><b href="www.example.com"></b></a>"#,
                "<a><b><href>www.example.com</href></b><hello>world</hello><foo>bar</foo></a>",
            ),
        ],
    );
    let doc = r#"<a hello="world" foo="bar"><b href="www.example.com"></b></a>"#;
    check(
        r#"ConvertAttributesToElementsXML(attributes["doc"], "/a/b/@*")"#,
        &[(
            doc,
            r#"<a hello="world" foo="bar"><b><href>www.example.com</href></b></a>"#,
        )],
    );
    // An xpath selecting elements converts nothing.
    check(
        r#"ConvertAttributesToElementsXML(attributes["doc"], "/a/b")"#,
        &[(
            doc,
            r#"<a hello="world" foo="bar"><b href="www.example.com"></b></a>"#,
        )],
    );
}

#[test]
fn convert_text_to_elements_xml() {
    check(
        r#"ConvertTextToElementsXML(attributes["doc"])"#,
        &[
            ("<a><b/></a>", "<a><b></b></a>"),
            (
                r#"<?xml version="1.0" encoding="UTF-8"?><a><b/></a>"#,
                r#"<?xml version="1.0" encoding="UTF-8"?><a><b></b></a>"#,
            ),
            (
                r#"<a foo="bar" hello="world"/>"#,
                r#"<a foo="bar" hello="world"></a>"#,
            ),
            ("<a>hello world</a>", "<a>hello world</a>"),
            ("<a><b/>foo</a>", "<a><b></b><value>foo</value></a>"),
            (
                "<a>foo<b/>bar</a>",
                "<a><value>foo</value><b></b><value>bar</value></a>",
            ),
        ],
    );
    check(
        r#"ConvertTextToElementsXML(attributes["doc"], elementName = "bar")"#,
        &[("<a><b/>foo</a>", "<a><b></b><bar>foo</bar></a>")],
    );
    check(
        r#"ConvertTextToElementsXML(attributes["doc"], element_name = "v")"#,
        &[(
            "<a>foo<b/>bar<c/>1<d>not</d>2<e><f/><f/></e></a>",
            "<a><v>foo</v><b></b><v>bar</v><c></c><v>1</v><d>not</d><v>2</v><e><f></f><f></f></e></a>",
        )],
    );
    let doc = "<a><b><c/>foo</b><d><c/>bar</d><b><c/>baz</b></a>";
    check(
        r#"ConvertTextToElementsXML(attributes["doc"], "/a/b")"#,
        &[(doc, "<a><b><c></c><value>foo</value></b><d><c></c>bar</d><b><c></c><value>baz</value></b></a>")],
    );
    check(
        r#"ConvertTextToElementsXML(attributes["doc"], "/a/b", "V")"#,
        &[(
            doc,
            "<a><b><c></c><V>foo</V></b><d><c></c>bar</d><b><c></c><V>baz</V></b></a>",
        )],
    );
    let deep = format!("{}{}", "<a>".repeat(1200), "</a>".repeat(1200));
    let e = run(r#"ConvertTextToElementsXML(attributes["doc"])"#, &deep, "").unwrap_err();
    assert!(e.contains("nesting depth exceeds"), "{e}");
}

#[test]
fn xpaths_beyond_otelcols_cases() {
    let get = |xpath: &str, doc: &str| {
        run(&format!("GetXML(attributes[\"doc\"], {xpath:?})"), doc, "").unwrap()
    };
    let doc = r#"<log><r n="1" lvl="info">a</r><r n="2" lvl="error">b</r><r n="3" lvl="error">c</r></log>"#;
    assert_eq!(get("/log/r[2]/text()", doc), "b");
    assert_eq!(get("/log/r[last()]/@n", doc), "3");
    assert_eq!(get("//r[@lvl='error' and @n > 2]/text()", doc), "c");
    assert_eq!(
        get("//r[contains(., 'a') or starts-with(@lvl, 'err')]/@n", doc),
        "123"
    );
    assert_eq!(get("count(//r)", doc), "");
    assert_eq!(
        get("//r[position() < 3]/../@missing | //r[1]/text()", doc),
        "a"
    );
    assert_eq!(get("/log/r[@n='2']/following-sibling::r/text()", doc), "c");
    assert_eq!(get("/log/r[@n='2']/preceding-sibling::*/text()", doc), "a");
    assert_eq!(get("/log/child::r[3]/self::node()/text()", doc), "c");
    // Namespaces are written where declared; names match with or without the prefix.
    let ns = r#"<e:a xmlns:e="urn:e"><e:b k="v">1</e:b></e:a>"#;
    assert_eq!(get("/e:a/e:b", ns), r#"<e:b k="v">1</e:b>"#);
    assert_eq!(
        get("/a", ns),
        r#"<e:a xmlns:e="urn:e"><e:b k="v">1</e:b></e:a>"#
    );
    // Text is trimmed and escaped as Go's html.EscapeString, unless xml:space="preserve".
    assert_eq!(
        get("/a", "<a> x &amp; &lt;y&gt; 'q' </a>"),
        "<a>x &amp; &lt;y&gt; &#39;q&#39;</a>"
    );
    // A document with a DOCTYPE (read as it is, one root).
    assert_eq!(get("/a/b", "<!DOCTYPE a><a><b>1</b></a>"), "<b>1</b>");
    let preserved = r#"<a xml:space="preserve"> x </a>"#;
    assert_eq!(get("/a", preserved), r#"<a xml:space="preserve"> x </a>"#);
}

#[test]
fn xml_errors() {
    for call in [
        r#"GetXML(attributes["doc"], "!")"#,
        r#"RemoveXML(attributes["doc"], "/a[")"#,
        r#"InsertXML(attributes["doc"], "nosuch(1)", attributes["sub"])"#,
        r#"ConvertAttributesToElementsXML(attributes["doc"], "$var")"#,
        r#"ConvertTextToElementsXML(attributes["doc"], "/a/b/")"#,
    ] {
        assert!(compile_error(call).contains("invalid xpath"), "{call}");
    }
    assert!(
        compile_error(r#"GetXML(attributes["doc"], attributes["x"])"#)
            .contains("x_path must be a string literal")
    );
    for call in [
        r#"GetXML(attributes["doc"], "/")"#,
        r#"RemoveXML(attributes["doc"], "/")"#,
        r#"InsertXML(attributes["doc"], "/", attributes["sub"])"#,
        r#"ConvertAttributesToElementsXML(attributes["doc"])"#,
        r#"ConvertTextToElementsXML(attributes["doc"])"#,
    ] {
        let e = run(call, "<a>>>>>>>", "<b/>").unwrap_err();
        assert!(e.contains("parse xml"), "{call}: {e}");
        let e = run(
            &call.replace(r#"attributes["doc"]"#, "attributes[\"none\"]"),
            "",
            "",
        )
        .unwrap_err();
        assert!(e.contains("expected string but got nil"), "{call}: {e}");
    }
}
