//! The transform processor's log parsers (ParseCEF, ParseCLF, ParseELF, ParseLEEF), with
//! the cases of otelcol's `logparsingfuncs/func_parse_*_test.go` tables: the message in the
//! log body, the parsed map set into an attribute and rendered `{key=value, ...}`.

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::common::v1::{any_value::Value as V, AnyValue};
use ferrotel_core::proto::logs::v1::LogRecord;
use ferrotel_ottl::{ErrorMode, LogContext, LogItemMut, SpanContext, Statement, Statements};

fn render(v: &AnyValue) -> String {
    match &v.value {
        Some(V::StringValue(s)) => s.clone(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::KvlistValue(m)) => {
            let entries: Vec<String> = m
                .values
                .iter()
                .map(|e| {
                    format!(
                        "{}={}",
                        e.key,
                        e.value.as_ref().map(render).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Some(V::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// `call` (reading the message from `log.body`) rendered, or the error.
fn run(call: &str, body: &str) -> Result<String, String> {
    let statement = format!(r#"set(log.attributes["out"], {call})"#);
    let st = Statements::<LogContext>::new(&[statement], &[] as &[&str], ErrorMode::Propagate)
        .map_err(|e| e[0].to_string())?;
    let mut log = LogRecord {
        body: Some(AnyValue {
            value: Some(V::StringValue(body.into())),
        }),
        ..Default::default()
    };
    let (mut scope, mut resource) = (None, None);
    st.execute(&mut LogItemMut {
        cache: &mut Vec::new(),
        log: &mut log,
        scope: &mut scope,
        resource: &mut resource,
    })
    .map_err(|e| e.to_string())?;
    Ok(render(log.attributes[0].value.as_ref().unwrap()))
}

#[track_caller]
fn parses(call: &str, body: &str, want: &str) {
    assert_eq!(run(call, body).as_deref(), Ok(want), "{call} on {body:?}");
}

#[track_caller]
fn fails(call: &str, body: &str, message: &str) {
    match run(call, body) {
        Err(e) => assert!(e.contains(message), "{body:?}: {e}"),
        Ok(v) => panic!("{body:?}: expected an error containing {message:?}, got {v}"),
    }
}

const CEF: &str = "ParseCEF(log.body)";

/// The rendered CEF header (version 0, vendor, product, version 1.0, class id, name,
/// severity) and extensions.
fn cef(vendor: &str, product: &str, id: &str, name: &str, sev: &str, ext: &str) -> String {
    format!(
        "{{cef.version=0, cef.device_vendor={vendor}, cef.device_product={product}, \
         cef.device_version=1.0, cef.device_event_class_id={id}, cef.name={name}, \
         cef.severity={sev}, cef.extensions={{{ext}}}}}"
    )
}

#[test]
fn parse_cef() {
    parses(
        CEF,
        "CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232",
        &cef("Security", "threatmanager", "100", "worm successfully stopped", "10", "src=10.0.0.1, dst=2.1.2.2, spt=1232"),
    );
    parses(
        CEF,
        "CEF:1|ArcSight|ArcSight|2.4.1|machine:20|New alert|Low|src=10.0.0.1",
        "{cef.version=1, cef.device_vendor=ArcSight, cef.device_product=ArcSight, cef.device_version=2.4.1, \
         cef.device_event_class_id=machine:20, cef.name=New alert, cef.severity=Low, cef.extensions={src=10.0.0.1}}",
    );
    let plain = cef("Vendor", "Product", "EventID", "EventName", "5", "");
    parses(CEF, "CEF:0|Vendor|Product|1.0|EventID|EventName|5", &plain);
    parses(CEF, "CEF:0|Vendor|Product|1.0|EventID|EventName|5|", &plain);
    let event = |ext: &str| cef("Vendor", "Product", "100", "Event", "5", ext);
    for (body, want) in [
        (r"CEF:0|Security|threatmanager|1.0|100|detected a \| in name|10|src=10.0.0.1",
         cef("Security", "threatmanager", "100", "detected a | in name", "10", "src=10.0.0.1")),
        (r"CEF:0|Security|threatmanager|1.0|100|detected a \\ in name|10|src=10.0.0.1",
         cef("Security", "threatmanager", "100", r"detected a \ in name", "10", "src=10.0.0.1")),
        ("CEF:0|Vendor|Product|1.0|100|Event|5|src=10.0.0.1 msg=this is a message with spaces dst=1.2.3.4",
         event("src=10.0.0.1, msg=this is a message with spaces, dst=1.2.3.4")),
        (r"CEF:0|Vendor|Product|1.0|100|Event|5|src=10.0.0.1 cs1=value with \= equals dst=1.2.3.4",
         event("src=10.0.0.1, cs1=value with = equals, dst=1.2.3.4")),
        (r"CEF:0|Vendor|Product|1.0|100|Event|5|fname=C:\\Windows\\System32\\cmd.exe",
         event(r"fname=C:\Windows\System32\cmd.exe")),
        (r"CEF:0|Vendor|Product|1.0|100|Event|5|msg=line one\nline two", event("msg=line one\nline two")),
        (r"CEF:0|Vendor|Product|1.0|100|Event|5|msg=line one\rline two", event("msg=line one\rline two")),
        ("<134>1 2024-03-01T10:15:00.000Z host app - - - CEF:0|Vendor|Product|1.0|EventID|EventName|5|src=10.0.0.1",
         cef("Vendor", "Product", "EventID", "EventName", "5", "src=10.0.0.1")),
        ("CEF:0|Vendor|Product|1.0|100|Event|5|cs1Label=Username cs1=jdoe cs2Label=Role cs2=admin",
         event("cs1Label=Username, cs1=jdoe, cs2Label=Role, cs2=admin")),
        ("CEF:0|Vendor|Product|1.0|100|Event|5|request=http://example.com?foo=bar&baz=qux src=10.0.0.1",
         event("request=http://example.com?foo=bar&baz=qux, src=10.0.0.1")),
        ("CEF:0|Vendor|Product|1.0|100|Event|5|src=10.0.0.1 ", event("src=10.0.0.1")),
        ("CEF:0|Vendor|Product|1.0|100|Event|5|this is not a valid extension", event("")),
        (r"CEF:0|Vendor\\Co|Product\|X|1.0|100|Event|5|src=10.0.0.1",
         cef(r"Vendor\Co", "Product|X", "100", "Event", "5", "src=10.0.0.1")),
        (r"CEF:0|V\x|P|1.0|100|Event|5|", cef(r"V\x", "P", "100", "Event", "5", "")),
    ] {
        parses(CEF, body, &want);
    }
    fails(CEF, "", "cannot parse empty CEF message");
    fails(
        CEF,
        "LEEF:1.0|Vendor|Product|1.0|EventID|src=1.2.3.4",
        "invalid CEF message: 'CEF:' not found",
    );
    fails(
        CEF,
        "CEF:0|Vendor|Product|1.0|100|Event",
        "invalid CEF header: expected at least 7 pipe-delimited fields",
    );
    fails(
        CEF,
        "CEF:|Vendor|Product|1.0|100|Event|5|src=1.2.3.4",
        "invalid CEF message: missing version",
    );
}

const CLF: &str = "ParseCLF(log.body)";

#[test]
fn parse_clf() {
    parses(
        CLF,
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        "{clf.remote_host=127.0.0.1, clf.rfc931=-, clf.authuser=frank, clf.timestamp=10/Oct/2000:13:55:36 -0700, \
         clf.request=GET /apache_pb.gif HTTP/1.0, clf.method=GET, clf.request_uri=/apache_pb.gif, \
         clf.protocol=HTTP/1.0, clf.status=200, clf.bytes=2326}",
    );
    parses(
        r#"ParseCLF(log.body, "clf")"#,
        r#"   192.168.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /redirect HTTP/1.1" 304 -  "#,
        "{clf.remote_host=192.168.1.1, clf.rfc931=-, clf.authuser=-, clf.timestamp=10/Oct/2000:13:55:36 -0700, \
         clf.request=GET /redirect HTTP/1.1, clf.method=GET, clf.request_uri=/redirect, clf.protocol=HTTP/1.1, \
         clf.status=304}",
    );
    parses(
        CLF,
        r#"2001:db8::1 bob alice [25/Dec/2023:00:00:00 +0000] "MALFORMED" 400 4294967296"#,
        "{clf.remote_host=2001:db8::1, clf.rfc931=bob, clf.authuser=alice, clf.timestamp=25/Dec/2023:00:00:00 +0000, \
         clf.request=MALFORMED, clf.status=400, clf.bytes=4294967296}",
    );
    parses(
        CLF,
        r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a\"b\x41\\ HTTP/1.1" 200 1"#,
        r#"{clf.remote_host=10.0.0.1, clf.rfc931=-, clf.authuser=-, clf.timestamp=10/Oct/2000:13:55:36 -0700, clf.request=GET /a"bA\ HTTP/1.1, clf.method=GET, clf.request_uri=/a"bA\, clf.protocol=HTTP/1.1, clf.status=200, clf.bytes=1}"#,
    );
    parses(
        r#"ParseCLF(log.body, format = "combined")"#,
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
        "{clf.remote_host=127.0.0.1, clf.rfc931=-, clf.authuser=frank, clf.timestamp=10/Oct/2000:13:55:36 -0700, \
         clf.request=GET /apache_pb.gif HTTP/1.0, clf.method=GET, clf.request_uri=/apache_pb.gif, \
         clf.protocol=HTTP/1.0, clf.status=200, clf.bytes=2326, clf.referer=http://www.example.com/start.html, \
         clf.user_agent=Mozilla/4.08 [en] (Win98; I ;Nav)}",
    );
    let combined_line =
        r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 42 "-" "curl/8.0""#;
    for (line, message) in [
        (
            "this is not a CLF message",
            r#"invalid CLF message: does not match expected "clf" format"#,
        ),
        (
            r#"127.0.0.1 - - 10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.1" 200 42"#,
            "does not match expected",
        ),
        (
            "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] GET / HTTP/1.1 200 42",
            "does not match expected",
        ),
        (
            r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" OK 42"#,
            r#"invalid status code "OK""#,
        ),
        (
            r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 lots"#,
            r#"invalid bytes value "lots""#,
        ),
        (
            r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200"#,
            "does not match expected",
        ),
        (combined_line, r#"does not match expected "clf" format"#),
        ("", "cannot parse empty CLF message"),
    ] {
        fails(CLF, line, message);
    }
    let clf_line = r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 42"#;
    fails(
        r#"ParseCLF(log.body, "combined")"#,
        clf_line,
        r#"does not match expected "combined" format"#,
    );
    assert!(run(r#"ParseCLF(log.body, "common")"#, clf_line)
        .unwrap_err()
        .contains(r#"invalid format "common": must be "clf" or "combined""#));
}

const LEEF: &str = "ParseLEEF(log.body)";

fn leef(version: &str, header: &str, attrs: &str) -> String {
    let [vendor, name, product_version, id]: [&str; 4] =
        header.split('|').collect::<Vec<_>>().try_into().unwrap();
    format!(
        "{{leef.version={version}, leef.vendor={vendor}, leef.product.name={name}, \
         leef.product.version={product_version}, leef.event.id={id}, leef.attributes={{{attrs}}}}}"
    )
}

#[test]
fn parse_leef() {
    for (body, want) in [
        ("LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=10.50.1.1\tdst=2.10.20.20\tsev=5",
         leef("1.0", "Microsoft|MSExchange|4.0 SP1|15345", "src=10.50.1.1, dst=2.10.20.20, sev=5")),
        ("LEEF:1.0|Vendor|Product|1.0|EventID|", leef("1.0", "Vendor|Product|1.0|EventID", "")),
        ("LEEF:1.0|Vendor|Product|1.0|EventID", leef("1.0", "Vendor|Product|1.0|EventID", "")),
        ("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5",
         leef("2.0", "Lancope|StealthWatch|1.0|41", "src=10.0.1.8, dst=10.0.0.5, sev=5")),
        ("LEEF:2.0|Vendor|Product|1.0|100|0x09|key1=val1\tkey2=val2", leef("2.0", "Vendor|Product|1.0|100", "key1=val1, key2=val2")),
        ("LEEF:2.0|Vendor|Product|1.0|100|0X5E|key1=val1^key2=val2", leef("2.0", "Vendor|Product|1.0|100", "key1=val1, key2=val2")),
        ("LEEF:2.0|Vendor|Product|1.0|100||key1=val1\tkey2=val2", leef("2.0", "Vendor|Product|1.0|100", "key1=val1, key2=val2")),
        ("LEEF:2.0|Vendor|Product|1.0|EventID|^|", leef("2.0", "Vendor|Product|1.0|EventID", "")),
        ("LEEF:2.0|Vendor|Product|1.0|EventID|^", leef("2.0", "Vendor|Product|1.0|EventID", "")),
        ("LEEF:2.0|Vendor|Product|1.0|EventID", leef("2.0", "Vendor|Product|1.0|EventID", "")),
        // No delimiter field: the attributes follow the event id, `|` kept inside them.
        ("LEEF:2.0|Vendor|Product|1.0|EventID|a=b|c\td=e", leef("2.0", "Vendor|Product|1.0|EventID", "a=b|c, d=e")),
        ("LEEF:1.0|Vendor|Product|1.0|Event|msg=This is a message with spaces\tsrc=1.2.3.4",
         leef("1.0", "Vendor|Product|1.0|Event", "msg=This is a message with spaces, src=1.2.3.4")),
        ("LEEF:1.0|Vendor|Product|1.0|Event|url=http://example.com?foo=bar\tsrc=1.2.3.4",
         leef("1.0", "Vendor|Product|1.0|Event", "url=http://example.com?foo=bar, src=1.2.3.4")),
        ("LEEF:1.0|Vendor|Product|1.0|Event|key1=\tkey2=value2", leef("1.0", "Vendor|Product|1.0|Event", "key1=, key2=value2")),
        ("LEEF:2.0|Vendor|Product|1.0|Event|^|key1=val1^^key2=val2^noequals^=nokey^key1=again",
         leef("2.0", "Vendor|Product|1.0|Event", "key1=again, key2=val2")),
        ("LEEF:1.0|Vendor|Product|1.0|Event|\tkey1=val1\tkey2=val2\t", leef("1.0", "Vendor|Product|1.0|Event", "key1=val1, key2=val2")),
        ("<30>Aug 19 12:33:31 ibm.guardium.test guard_sender[4486]: LEEF:1.0|IBM|Guardium|8.0|Login failures|ruleID=20026\tusrName=\tsql=",
         leef("1.0", "IBM|Guardium|8.0|Login failures", "ruleID=20026, usrName=, sql=")),
    ] {
        parses(LEEF, body, &want);
    }
    for (body, message) in [
        ("", "cannot parse empty LEEF message"),
        ("CEF:0|a|b", "invalid LEEF message: 'LEEF:' not found"),
        ("LEEF:1.0", "invalid LEEF message: missing pipe delimiter in header"),
        ("LEEF:3.0|a|b|c|d|", "unsupported LEEF version: 3.0 (supported: 1.0, 2.0)"),
        ("LEEF:1.0|a|b", "invalid LEEF 1.0 header: expected at least 4 fields (vendor, product, version, eventID), got 2"),
        ("LEEF:2.0|a|b|c", "invalid LEEF 2.0 header: expected at least 4 fields (vendor, product, version, eventID), got 3"),
        ("LEEF:2.0|a|b|c|d|0x|k=v", "invalid LEEF 2.0 delimiter: empty hex value"),
        ("LEEF:2.0|a|b|c|d|0xZZ|k=v", r#"invalid LEEF 2.0 delimiter: invalid hex delimiter "0xZZ""#),
        ("LEEF:2.0|a|b|c|d|0x0909|k=v", "invalid LEEF 2.0 delimiter: hex delimiter must decode to a single byte, got 2 bytes"),
        ("LEEF:2.0|a|b|c|d|ab|k=v", r#"invalid LEEF 2.0 delimiter: delimiter must be a single character or 0x-prefixed hex value, got "ab""#),
    ] {
        fails(LEEF, body, message);
    }
}

const ELF: &str = "ParseELF(log.body)";

#[test]
fn parse_elf() {
    let block = "#Version: 1.0\n#Date: 12-Jan-1996 00:00:00\n#Fields: time cs-method cs-uri\n\
                 00:34:23 GET /foo/bar.html\n12:21:16 GET /foo/bar.html\n";
    parses(
        ELF,
        block,
        "{elf.entries=[{elf.time=00:34:23, elf.cs-method=GET, elf.cs-uri=/foo/bar.html}, \
         {elf.time=12:21:16, elf.cs-method=GET, elf.cs-uri=/foo/bar.html}], elf.version=1.0, \
         elf.date=12-Jan-1996 00:00:00, elf.fields=[time, cs-method, cs-uri]}",
    );
    // Directives in any case, CRLF lines, quoted values, a missing value, a second #Fields.
    let iis = "#Software: Microsoft IIS 10.0\r\n#version: 1.0\r\n#Start-Date: a\r\n#End-Date: b\r\n\
               #Remark: r\r\n#Remark\r\n#FIELDS: date cs(User-Agent) sc-status\r\n\
               2024-01-01 \"Mozilla 5.0 \"\"x\"\"\" 200\r\n2024-01-02\t\"\"\r\n#Fields: a\r\n1 2\r\n";
    parses(
        ELF,
        iis,
        "{elf.entries=[{elf.date=2024-01-01, elf.cs(User-Agent)=Mozilla 5.0 \"x\", elf.sc-status=200}, \
         {elf.date=2024-01-02, elf.cs(User-Agent)=, elf.sc-status=-}, {elf.a=1}], \
         elf.software=Microsoft IIS 10.0, elf.version=1.0, elf.start_date=a, elf.end_date=b, elf.remark=r, \
         elf.fields=[a]}",
    );
    parses(
        ELF,
        "#Version: 1.0",
        "{elf.entries=[], elf.version=1.0, elf.fields=[]}",
    );
    for (body, message) in [
        ("", "cannot parse empty ELF message"),
        ("#Fields: a\n1", "invalid ELF: missing #Version directive"),
        (
            "#Version: 1.0\n1 2",
            "invalid ELF: data entry found before #Fields directive",
        ),
        (
            "#Version: 1.0\n#Fields a b\n1 2",
            "invalid ELF: malformed #Fields directive \"#Fields a b\"",
        ),
        (
            "#Version: 1.0\n#Fields: a\n\"open",
            "invalid ELF: unterminated quoted value in data line: \"\\\"open\"",
        ),
    ] {
        fails(ELF, body, message);
    }
}

#[test]
fn log_parsers_are_log_context_functions() {
    for name in ["ParseCEF", "ParseCLF", "ParseELF", "ParseLEEF"] {
        let e = Statement::<SpanContext>::new(&format!(r#"set(attributes["x"], {name}(name))"#))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(&format!("undefined function \"{name}\"")), "{e}");
    }
    assert!(run("ParseCEF(log.body, 1)", "")
        .unwrap_err()
        .contains("incorrect number of arguments"));
    fails(CEF, "", "cannot parse empty");
    assert!(run("ParseLEEF(log.attributes[\"none\"])", "x")
        .unwrap_err()
        .contains("expected string but got nil"));
}
