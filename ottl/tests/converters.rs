//! Converter tests written from otelcol's ottlfuncs README examples (and, where the README
//! gives no value, otelcol's own unit tests or the algorithm's reference vectors), evaluated
//! through conditions on a span.

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use ferrotel_core::proto::trace::v1::Span;
use ferrotel_ottl::{Condition, SpanContext, SpanItem};

fn any(v: any_value::Value) -> AnyValue {
    AnyValue { value: Some(v) }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(any(v)),
        ..Default::default()
    }
}

fn map(entries: Vec<KeyValue>) -> any_value::Value {
    any_value::Value::KvlistValue(KeyValueList { values: entries })
}

fn list(values: Vec<any_value::Value>) -> any_value::Value {
    any_value::Value::ArrayValue(ArrayValue {
        values: values.into_iter().map(any).collect(),
    })
}

fn span() -> Span {
    use any_value::Value as V;
    let thing =
        |name: &str, value: i64| map(vec![kv("name", s(name)), kv("value", V::IntValue(value))]);
    Span {
        name: "GET /".into(),
        // 2023-02-04T10:20:30.123456789Z, a Saturday.
        start_time_unix_nano: 1_675_506_030_123_456_789,
        end_time_unix_nano: 1_675_506_031_623_456_789,
        attributes: vec![
            kv("hello", s("Hello World")),
            kv("n", V::IntValue(12)),
            kv("tags", list(vec![s("staging"), s("prod"), s("dev")])),
            kv("scores", list(vec![V::IntValue(80), V::IntValue(95)])),
            kv("things", list(vec![thing("foo", 2), thing("bar", 5)])),
            kv(
                "m",
                map(vec![
                    kv("k1", s("v1")),
                    kv("k2", s("v2")),
                    kv("k3", s("v3")),
                ]),
            ),
            kv("card", s("17893729974")),
        ],
        ..Default::default()
    }
}

fn eval(src: &str) -> Result<bool, String> {
    let span = span();
    let c = Condition::<SpanContext>::new(src).map_err(|e| e.to_string())?;
    let item = SpanItem {
        cache: &[],
        span: &span,
        scope: None,
        resource: None,
    };
    c.eval(item).map_err(|e| e.to_string())
}

#[track_caller]
fn yes(src: &str) {
    assert_eq!(eval(src), Ok(true), "{src}");
}

#[track_caller]
fn fails(src: &str, message: &str) {
    match eval(src) {
        Err(e) => assert!(e.contains(message), "{src}: {e}"),
        Ok(v) => panic!("{src}: expected an error containing {message:?}, got {v}"),
    }
}

#[test]
fn cryptographic_hashes() {
    yes(r#"SHA1("name") == "6ae999552a0d2dca14d62e2bc8b764d377b1dd6c""#);
    yes(r#"SHA256("name") == "82a3537ff0dbce7eec35d69edc3a189ee6f17d82f353a553f9aa96cb0be3ce89""#);
    yes(concat!(
        r#"SHA512("name") == "b114f311db0e009ca2a88a9b97b1d7b362ddb27dc3dd214c6d20327a1fc3add8"#,
        r#"cc488cca4cc3565a876f6040f8b73a7b92475be1d0b1bc453f6140fba7183b9a""#
    ));
    yes(r#"MD5("name") == "b068931cc450442b63f5b3d276ea4297""#);
    // otelcol binds named arguments to its argument structs' fields: `target` here.
    yes(r#"SHA256(target = "name") == SHA256("name")"#);
    yes(r#"SHA512(target = "name") == SHA512("name")"#);
    // otelcol returns an empty input as it is.
    yes(r#"SHA256("") == "" and SHA1("") == """#);
    yes(r#"MD5("") == "d41d8cd98f00b204e9800998ecf8427e""#);
    fails(
        r#"SHA256(attributes["n"]) == nil"#,
        "expected string but got int64",
    );
    fails(
        r#"MD5(attributes["missing"]) == nil"#,
        "expected string but got nil",
    );
}

#[test]
fn non_cryptographic_hashes() {
    yes(r#"FNV("name") == -4270347329889690746"#);
    yes(r#"FNV("") == """#);
    // otelcol's func_murmur3_test.go values.
    yes(r#"Murmur3Hash(attributes["hello"]) == "ce837619""#);
    yes(r#"Murmur3Hash128(attributes["hello"]) == "dbc2a0c1ab26631a27b4c09fcf1fe683""#);
    yes(r#"Murmur3Hash128("") == "00000000000000000000000000000000""#);
    // otelcol's func_xxh3_test.go values; XXH128's is the reference empty-input digest.
    yes(r#"XXH3("hello world") == "d447b1ea40e6988b""#);
    yes(r#"XXH3("") == "2d06800538d394c2""#);
    yes(r#"XXH128("") == "99aa06d3014798d86001c324468d497f""#);
    yes(r#"Len(XXH128("name")) == 32"#);
    fails(r#"XXH3(1) == nil"#, "expected string but got int64");
}

#[test]
fn hex_and_base64() {
    yes("Hex(1.1) == 0x3ff199999999999a");
    yes(r#"Hex("1") == 0x31"#);
    yes("Hex(true) == 0x01 and Hex(false) == 0x00");
    yes("Hex(12) == 0x000000000000000c");
    yes("Hex(0x02) == 0x02");
    yes(r#"Hex(attributes["missing"]) == nil"#);
    yes(r#"Base64Decode("aGVsbG8gd29ybGQ=") == "hello world""#);
    yes(r#"Decode("aGVsbG8gd29ybGQ=", "base64") == "hello world""#);
    yes(r#"Decode("aGVsbG8gd29ybGQ", "base64-raw") == "hello world""#);
    yes(r#"Decode("aGVsbG8gd29ybGQ=", encoding = "base64-url") == "hello world""#);
    yes(r#"Decode("hello", "us-ascii") == "hello""#);
    yes(r#"Decode(" aGVsbG8gd29ybGQ=\n", "base64") == "hello world""#);
    yes(r#"Decode(0x68006900, "utf-16le") == "hi""#);
    yes(r#"Decode(0xe9, "iso-8859-1") == "\u00e9""#);
    fails(
        r#"Decode("!!", "base64") == nil"#,
        "could not decode: illegal base64 data",
    );
    fails(
        r#"Decode(1, "base64") == nil"#,
        "unsupported type provided to Decode function",
    );
    yes(r#"Base64Encode("test string") == "dGVzdCBzdHJpbmc=""#);
    yes(r#"Base64Encode("test string", "base64-raw") == "dGVzdCBzdHJpbmc""#);
    yes(r#"Base64Encode("\u00fb\u00ff", "base64-url") == "w7vDvw==""#);
    fails(
        r#"Base64Decode("!!!!") == nil"#,
        "illegal base64 data at input byte 0",
    );
    fails(
        r#"Decode("x", "klingon") == nil"#,
        "unsupported encoding 'klingon'",
    );
    fails(
        r#"Base64Encode("x", "base32") == nil"#,
        "unsupported base64 variant: base32",
    );
}

#[test]
fn string_cases_and_trims() {
    yes(r#"ToLowerCase("MyMetricName") == "mymetricname""#);
    yes(r#"ToUpperCase("MyMetricName") == "MYMETRICNAME""#);
    yes(r#"ToSnakeCase("MyMetricName") == "my_metric_name""#);
    yes(r#"ToCamelCase("my_metric_name") == "MyMetricName""#);
    yes(r#"Trim(" this is a test ", " ") == "this is a test""#);
    yes(r#"Trim("!!this is a test!!", "!!") == "this is a test""#);
    // otelcol's code trims nothing without `replacement` (its docs say: spaces).
    yes(r#"Trim("  padded  ") == "  padded  ""#);
    yes(r#"TrimPrefix("ingest_service", "ingest_") == "service""#);
    yes(r#"TrimSuffix("ingest_service", "_service") == "ingest""#);
    yes(r#"TrimPrefix("service", "ingest_") == "service""#);
    fails(
        r#"ToLowerCase(attributes["n"]) == nil"#,
        "expected string but got int64",
    );
}

#[test]
fn substring_utf8_safe() {
    yes(r#"Substring("123456789", 0, 3) == "123""#);
    // "一二三" is three 3-byte characters: 4 bytes end inside the second.
    yes(r#"Substring("一二三", 0, 4, true) == "一""#);
    yes(r#"Substring("一二三", 1, 6, true) == "二""#);
    yes(r#"Substring("一二三", 0, 6, utf8_safe = true) == "一二""#);
    yes(r#"Substring("一二三", 0, 6, false) == "一二""#);
}

#[test]
fn format() {
    yes(r#"Format("%02d", [attributes["n"]]) == "12""#);
    yes(r#"Format("%04d-%02d-%02d", [2024, 3, 7]) == "2024-03-07""#);
    yes(r#"Format("%s/%s/%04d.log", ["host", "prog", 2024]) == "host/prog/2024.log""#);
    yes(
        r#"Format("%.2f|%5s|%-5s|%x|%t|%v", [3.14159, "ab", "ab", 255, true, 1.5]) == "3.14|   ab|ab   |ff|true|1.5""#,
    );
    yes(r#"Format("100%%", []) == "100%""#);
    yes(
        r#"Format("%v|%g|%g|%.3g|%.3g|%e", [100000000.0, 100000000.0, 123456.0, 12.345, 1234.5678, 1500.0]) == "1e+08|1e+08|123456|12.3|1.23e+03|1.500000e+03""#,
    );
    // Go's markers for mistakes.
    yes(r#"Format("%d %d", [1]) == "1 %!d(MISSING)""#);
    yes(r#"Format("%d", ["x"]) == "%!d(string=x)""#);
    yes(r#"Format("%d", [1, 2]) == "1%!(EXTRA int64=2)""#);
}

#[test]
fn extract_patterns() {
    yes(
        r#"ExtractPatterns("GIT_SHA=abc123 x", "GIT_SHA=(?P<git.sha>\\w+)") == {"git.sha": "abc123"}"#,
    );
    yes(concat!(
        r#"ExtractPatterns("Feb 04 10:20:30 host-1 sshd[42]: hello there", "#,
        r#""^(?P<timestamp>\\w+ \\w+ [0-9]+:[0-9]+:[0-9]+) (?P<hostname>([A-Za-z0-9-_]+)) "#,
        r#"(?P<process>\\w+)(\\[(?P<pid>\\d+)\\])?: (?P<message>.*)$")["pid"] == "42""#
    ));
    yes(r#"ExtractPatterns("nothing", "x=(?P<x>\\d+)") == {}"#);
    fails(
        r#"ExtractPatterns("a", "(\\w+)") == nil"#,
        "at least 1 named capture group",
    );
    fails(
        r#"ExtractPatterns("a", "(?P<x>") == nil"#,
        "not a valid pattern",
    );
}

#[test]
fn parse_int_luhn_log_bool() {
    yes(r#"ParseInt("12345", 10) == 12345"#);
    yes(r#"ParseInt("0xAA", 0) == 170"#);
    yes(r#"ParseInt("AA", 16) == 170"#);
    yes(r#"ParseInt("-20", 8) == -16"#);
    yes(r#"ParseInt("0b1111_0000", 0) == 240"#);
    yes(r#"ParseInt("0b10110", 0) == 22"#);
    yes(r#"ParseInt("0xFF", 0) == 255 and ParseInt("-0xFF", 0) == -255"#);
    yes(r#"ParseInt("-0o123", 0) == -83"#);
    fails(r#"ParseInt("notANumber", 10) == nil"#, "invalid syntax");
    fails(
        r#"ParseInt("99999999999999999999", 10) == nil"#,
        "value out of range",
    );
    fails(
        r#"ParseInt("1", -1) == nil"#,
        "invalid base value: -1 for ParseInt function",
    );
    fails(r#"ParseInt("", 10) == nil"#, "target cannot be empty");
    yes(r#"IsValidLuhn(attributes["card"])"#);
    yes(r#"IsValidLuhn("17893729974")"#);
    yes("IsValidLuhn(17893729974)");
    yes(r#"not IsValidLuhn("17893729975")"#);
    yes(r#"IsValidLuhn("1789 3729 974")"#);
    yes(r#"not IsValidLuhn("")"#);
    fails(
        r#"IsValidLuhn("12a")"#,
        "strconv.Atoi: parsing \"a\": invalid syntax",
    );
    fails(
        r#"IsValidLuhn(attributes["missing"])"#,
        "invalid input: <nil>",
    );
    yes("Log(1) == 0.0");
    yes(r#"Int(Log("100") * 1000) == 4605"#);
    fails(
        "Log(0) == nil",
        "expected number greater than zero but got 0",
    );
    yes(r#"Bool("true") and Bool("1") and Bool(1.5) and not Bool("F")"#);
    yes(r#"Bool("maybe") == nil"#);
    yes(r#"IsEmpty("") and IsEmpty(attributes["missing"]) and IsEmpty({}) and not IsEmpty("x")"#);
    yes(r#"Coalesce([attributes["missing"], attributes["hello"], "unknown"]) == "Hello World""#);
    yes(r#"Coalesce([attributes["missing"]]) == nil"#);
}

#[test]
fn keys_values_contains_index() {
    yes(r#"Keys({"k1": "v1", "k2": "v2"}) == ["k1", "k2"]"#);
    yes(r#"Keys(attributes["m"]) == ["k1", "k2", "k3"]"#);
    yes(r#"Values({"key1": "value1", "key2": 5, "key3": [1, 2]}) == ["value1", 5, [1, 2]]"#);
    fails(r#"Keys("x") == nil"#, "expected pcommon.Map but got string");
    yes(r#"ContainsValue(attributes["tags"], "staging")"#);
    yes("ContainsValue([1, 2, 3, 4, 5], 3)");
    yes("ContainsValue([1.1, 2.2, 3.3, 4.4], 4.4)");
    yes(r#"ContainsValue(["GET", "PUT", "POST"], "GET")"#);
    yes(r#"not ContainsValue(["GET"], "get")"#);
    yes(r#"Index("hello world", "world") == 6"#);
    yes(r#"Index(attributes["tags"], "prod") == 1"#);
    yes(r#"Index(attributes["tags"], "error") == -1"#);
    yes(r#"Index(attributes["scores"], 95) == 1"#);
    fails(
        r#"Index("abc", 1) == nil"#,
        "when source is string, value must also be string",
    );
    fails(
        "Index(1, 1) == nil",
        "source must be of type string or slice",
    );
}

#[test]
fn slice_to_map() {
    yes(concat!(
        r#"SliceToMap(attributes["things"], ["name"]) == "#,
        r#"{"foo": {"name": "foo", "value": 2}, "bar": {"name": "bar", "value": 5}}"#
    ));
    yes(concat!(
        r#"SliceToMap(attributes["things"]) == "#,
        r#"{"0": {"name": "foo", "value": 2}, "1": {"name": "bar", "value": 5}}"#
    ));
    yes(r#"SliceToMap(attributes["things"], ["name"], ["value"]) == {"foo": 2, "bar": 5}"#);
    yes(r#"SliceToMap(attributes["things"], valuePath = ["value"]) == {"0": 2, "1": 5}"#);
    // Without paths, any elements.
    yes(r#"SliceToMap(["a", 1]) == {"0": "a", "1": 1}"#);
    fails(
        r#"SliceToMap(["a"], ["name"]) == nil"#,
        "slice elements must be maps when using `key_path`",
    );
    fails(
        r#"SliceToMap([{"name": 1}], ["name"]) == nil"#,
        "element 0: extracted key attribute is not of type string",
    );
    fails(
        r#"SliceToMap(attributes["things"], ["nope"]) == nil"#,
        "element 0: could not extract key from element: provided object does not contain the path [nope]",
    );
}

#[test]
fn sort() {
    yes(r#"Sort(attributes["tags"]) == ["dev", "prod", "staging"]"#);
    yes(r#"Sort(attributes["tags"], "desc") == ["staging", "prod", "dev"]"#);
    yes("Sort([3, 1, 2]) == [1, 2, 3]");
    yes("Sort([3, 1.5, 2]) == [1.5, 2.0, 3.0]");
    yes(r#"Sort([true, "a", 1]) == ["1", "a", "true"]"#);
    // otelcol's code returns lists holding maps unsorted (its docs say: an error).
    yes(r#"Sort([{"b": 1}, {"a": 1}]) == [{"b": 1}, {"a": 1}]"#);
    fails(r#"Sort([1], "up") == nil"#, "Order should be either");
}

#[test]
fn parse_json() {
    yes(r#"ParseJSON("{\"attr\":true}") == {"attr": true}"#);
    yes(r#"ParseJSON("[\"attr1\",\"attr2\"]") == ["attr1", "attr2"]"#);
    yes(r#"ParseJSON("{\"n\":1,\"o\":{\"l\":[1,\"x\",null]}}")["o"]["l"][0] == 1.0"#);
    yes(r#"ParseJSON("{\"n\":1}")["n"] == 1.0"#);
    fails(r#"ParseJSON("{") == nil"#, "ParseJSON");
    fails(r#"ParseJSON("1") == nil"#, "could not convert");
    fails("ParseJSON(1) == nil", "expected string but got int64");
}

#[test]
fn parse_key_value_and_back() {
    yes(r#"ParseKeyValue("k1=v1 k2=v2 k3=v3") == {"k1": "v1", "k2": "v2", "k3": "v3"}"#);
    yes(r#"ParseKeyValue("k1!v1_k2!v2_k3!v3", "!", "_") == {"k1": "v1", "k2": "v2", "k3": "v3"}"#);
    yes(r#"ParseKeyValue("a=\"x y\" b='1 2'") == {"a": "x y", "b": "1 2"}"#);
    fails(
        r#"ParseKeyValue("") == nil"#,
        "cannot parse from empty target",
    );
    fails(
        r#"ParseKeyValue("a b") == nil"#,
        "cannot split \"a\" into 2 items",
    );
    fails(
        r#"ParseKeyValue("a=1", "=", "=") == nil"#,
        "cannot be equal to delimiter",
    );
    yes(r#"ToKeyValueString(attributes["m"]) == "k1=v1 k2=v2 k3=v3""#);
    yes(r#"ToKeyValueString({"b": "2", "a": "1"}, ":", ",", true) == "a:1,b:2""#);
    yes(
        r#"ToKeyValueString({"k1": "v1", "k2": {"k3": "v3", "k4": ["v4", "v5"]}}) == "k1=v1 k2={\\\"k3\\\":\\\"v3\\\",\\\"k4\\\":[\\\"v4\\\",\\\"v5\\\"]}""#,
    );
    yes(
        r#"ToKeyValueString({"k1": "v1", "k2": "v=2", "k3": "\"v=3\""}) == "k1=v1 k2=\"v=2\" k3=\"\\\"v=3\\\"\"""#,
    );
    fails(
        r#"ToKeyValueString({"a": "1"}, "") == nil"#,
        "delimiter cannot be set to an empty string",
    );
}

#[test]
fn parse_csv() {
    yes(concat!(
        r#"ParseCSV("999-999-9999,Joe Smith,joe.smith@example.com", "phone,name,email") == "#,
        r#"{"phone": "999-999-9999", "name": "Joe Smith", "email": "joe.smith@example.com"}"#
    ));
    yes(r#"ParseCSV("1|2|3", "a|b|c", delimiter = "|") == {"a": "1", "b": "2", "c": "3"}"#);
    yes(concat!(
        r#"ParseCSV("1|\"x|y\"|3", "a,b,c", delimiter = "|", headerDelimiter = ",", mode = "lazyQuotes") == "#,
        r#"{"a": "1", "b": "x|y", "c": "3"}"#
    ));
    yes(concat!(
        r#"ParseCSV("\"555-555-5556,Joe Smith\",joe.smith@example.com", "phone,name,email", mode = "ignoreQuotes") == "#,
        r#"{"phone": "\"555-555-5556", "name": "Joe Smith\"", "email": "joe.smith@example.com"}"#
    ));
    yes(r#"ParseCSV("\"a \"\"q\"\"\",b\n", "x,y") == {"x": "a \"q\"", "y": "b"}"#);
    fails(
        r#"ParseCSV("1,2", "a,b,c") == nil"#,
        "wrong number of fields: expected 3, found 2",
    );
    fails(
        r#"ParseCSV("a\"b,c", "x,y") == nil"#,
        "bare \" in non-quoted-field",
    );
    fails(
        r#"ParseCSV("a,b", "x,y", delimiter = "||") == nil"#,
        "invalid arguments: delimiter must be a single character",
    );
    fails(
        r#"ParseCSV("a,b", "x,y", mode = "fast") == nil"#,
        "unknown mode: fast",
    );
}

#[test]
fn url() {
    yes(concat!(
        r#"URL("http://www.example.com") == {"url.original": "http://www.example.com", "#,
        r#""url.scheme": "http", "url.domain": "www.example.com", "url.path": ""}"#
    ));
    yes(concat!(
        r#"URL("http://myusername:mypassword@www.example.com:80/foo.gif?key1=val1&key2=val2#fragment") == {"#,
        r#""url.path": "/foo.gif", "url.fragment": "fragment", "url.extension": "gif", "#,
        r#""url.password": "mypassword", "#,
        r#""url.original": "http://myusername:mypassword@www.example.com:80/foo.gif?key1=val1&key2=val2#fragment", "#,
        r#""url.scheme": "http", "url.port": 80, "url.user_info": "myusername:mypassword", "#,
        r#""url.domain": "www.example.com", "url.query": "key1=val1&key2=val2", "url.username": "myusername"}"#
    ));
    yes(r#"URL("HTTPS://h/a%20b.tar.gz#f%21")["url.path"] == "/a b.tar.gz""#);
    yes(r#"URL("HTTPS://h/a%20b.tar.gz#f%21")["url.extension"] == "gz""#);
    yes(r#"URL("HTTPS://h/a%20b.tar.gz#f%21")["url.fragment"] == "f!""#);
    yes(r#"URL("HTTPS://h/x")["url.scheme"] == "https""#);
    yes(
        r#"URL("http://[::1]:8080/")["url.domain"] == "::1" and URL("http://[::1]:8080/")["url.port"] == 8080"#,
    );
    fails(
        r#"URL("http://h/%zz") == nil"#,
        "invalid URL escape \"%zz\"",
    );
    fails(r#"URL("http://h:x/") == nil"#, "invalid port");
    fails(r#"URL("") == nil"#, "url cannot be empty");
    // otelcol's field is `URI`, which strcase.ToCamel reaches from `uRI` (not from `uri`).
    yes(r#"URL(uRI = "http://h/")["url.domain"] == "h""#);
}

#[test]
fn time_parsing() {
    yes(r#"UnixSeconds(Time("02/04/2023", "%m/%d/%Y", "UTC")) == 1675468800"#);
    yes(r#"UnixSeconds(Time("Feb 15, 2023", "%b %d, %Y", "UTC")) == 1676419200"#);
    yes(r#"UnixSeconds(Time("2023-05-26 12:34:56 HST", "%Y-%m-%d %H:%M:%S %Z")) == 1685104496"#);
    yes(r#"UnixSeconds(Time("1986-10-01T00:17:33 MST", "%Y-%m-%dT%H:%M:%S %Z")) == 528509853"#);
    yes(
        r#"UnixSeconds(Time("2012-11-01T22:08:41+0000 EST", "%Y-%m-%dT%H:%M:%S%z %Z")) == 1351807721"#,
    );
    yes(r#"UnixSeconds(Time("2012-11-01T22:08:41-0100", "%Y-%m-%dT%H:%M:%S%z")) == 1351811321"#);
    yes(
        r#"UnixSeconds(Time("2023-05-26 12:34:56", "%Y-%m-%d %H:%M:%S", "America/New_York")) == 1685118896"#,
    );
    yes(
        r#"UnixNano(Time("2023-02-04 10:20:30.123456", "%F %T.%f", "UTC")) == 1675506030123456000"#,
    );
    // The fraction is optional, as in Go's `.999`.
    yes(r#"UnixNano(Time("2023-02-04 10:20:30", "%F %T.%L", "UTC")) == 1675506030000000000"#);
    yes(r#"Hour(Time("2023-02-04 02:55:02 pm", "%F %r", "UTC")) == 14"#);
    // Go reads a fraction after the seconds even when the format has none.
    yes(r#"Nanosecond(Time("2023-02-04 10:20:30.5", "%F %T", "UTC")) == 500000000"#);
    // No year reads as year 0 in Go, which nanoseconds since 1970 cannot hold.
    fails(r#"Time("02:55:02 pm", "%r") == nil"#, "out of range");
    yes(r#"Year(Time("Saturday Feb  4 2023", "%A %h %e %Y", "UTC")) == 2023"#);
    fails(
        r#"Time("2023-02-30", "%Y-%m-%d") == nil"#,
        "day out of range",
    );
    fails(
        r#"Time("2023-13-01", "%Y-%m-%d") == nil"#,
        "month out of range",
    );
    fails(
        r#"Time("x2023", "%Y") == nil"#,
        r#"parsing time "x2023" as "2006": cannot parse "x2023" as "2006""#,
    );
    fails(
        r#"Time("2023", "%Y%Q") == nil"#,
        "unsupported ctimefmt.ToNative() directive: %Q",
    );
    fails(
        r#"Time("2023", "%Y1") == nil"#,
        "format string should not contain decimals",
    );
    fails(r#"Time("", "%Y") == nil"#, "time cannot be nil");
    fails(r#"Time("2023", "") == nil"#, "format cannot be nil");
    fails(
        r#"Time("2023", "%Y", "Mars/Olympus") == nil"#,
        "unknown time zone Mars/Olympus",
    );
}

#[test]
fn time_formatting() {
    yes(
        r#"FormatTime(Time("02/04/2023", "%m/%d/%Y", "UTC"), "%A %h %e %Y") == "Saturday Feb  4 2023""#,
    );
    yes(r#"FormatTime(start_time, "%b %d %Y %H:%M:%S") == "Feb 04 2023 10:20:30""#);
    yes(r#"FormatTime(start_time, "%Y-%m-%dT%H:%M:%S.%L%z") == "2023-02-04T10:20:30.123+0000""#);
    yes(r#"FormatTime(start_time, "%I:%M %p %Z, %j") == "10:20 AM UTC, +00:00""#);
    yes(r#"FormatTime(start_time, "%c") == "Sat Feb 04 10:20:30 2023""#);
    // Go truncates since year 1, not since 1970: 10-hour steps fall on 04:00 that day.
    yes(concat!(
        r#"FormatTime(TruncateTime(start_time, Duration("10h")), "%Y-%m-%d %H:%M:%S") == "#,
        r#""2023-02-04 04:00:00""#
    ));
    fails(
        r#"FormatTime("x", "%Y") == nil"#,
        "expected time but got string",
    );
}

#[test]
fn time_parts() {
    yes("Year(start_time) == 2023 and Month(start_time) == 2 and Day(start_time) == 4");
    yes("Hour(start_time) == 10 and Minute(start_time) == 20 and Second(start_time) == 30");
    yes("Nanosecond(start_time) == 123456789");
    yes("Weekday(start_time) == 6");
    yes("UnixSeconds(start_time) == 1675506030");
    yes("UnixMilli(start_time) == 1675506030123");
    yes("UnixMicro(start_time) == 1675506030123456");
    yes("UnixNano(start_time) == 1675506030123456789");
    yes("UnixSeconds(Unix(1672527600)) == 1672527600");
    yes("UnixNano(Unix(1672527600, 5)) == 1672527600000000005");
    yes("Year(Unix(1672527600)) == 2022 and Hour(Unix(1672527600)) == 23");
    yes("TruncateTime(start_time, Duration(\"1s\")) == Unix(1675506030)");
    yes("TruncateTime(start_time, Duration(\"0s\")) == start_time");
    fails("Day(1) == nil", "expected time but got int64");
    fails(r#"Unix("1") == nil"#, "expected int64 but got string");
}

#[test]
fn durations() {
    yes(r#"Hours(Duration("1h30m")) == 1.5"#);
    yes(r#"Minutes(Duration("1h")) == 60.0"#);
    yes(r#"Seconds(end_time - start_time) == 1.5"#);
    yes(r#"Milliseconds(Duration("1h")) == 3600000"#);
    yes(r#"Microseconds(Duration("1h")) == 3600000000"#);
    yes(r#"Nanoseconds(Duration("1h")) == 3600000000000"#);
    yes(r#"Milliseconds(Duration("-1500us")) == -1"#);
    fails(r#"Hours(1) == nil"#, "expected duration but got int64");
}

#[test]
fn ids() {
    yes(
        r#"TraceID("a389023abaa839283293ed323892389d") == TraceID(0xa389023abaa839283293ed323892389d)"#,
    );
    yes(
        r#"String(TraceID("a389023abaa839283293ed323892389d")) == "a389023abaa839283293ed323892389d""#,
    );
    yes(r#"String(SpanID("0102030405060708")) == "0102030405060708""#);
    yes("SpanID(0x0000000000000000) == SpanID(\"0000000000000000\")");
    yes(r#"ProfileID("a389023abaa839283293ed323892389d") == 0xa389023abaa839283293ed323892389d"#);
    fails("TraceID(0x0102) == nil", "traces ids must be 16 bytes");
    fails(r#"SpanID("01") == nil"#, "span ids must be 8 bytes");
    fails(r#"SpanID("zz") == nil"#, "encoding/hex");
    yes(
        r#"IsMatch(UUID(), "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")"#,
    );
    yes(
        r#"IsMatch(UUIDv7(), "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")"#,
    );
    yes("UUID() != UUID()");
}

#[test]
fn named_arguments() {
    // Any spelling strcase.ToCamel maps to the field: snake_case or camelCase.
    yes(
        r#"ParseKeyValue("k1!v1_k2!v2", pairDelimiter = "_", delimiter = "!") == {"k1": "v1", "k2": "v2"}"#,
    );
    yes(
        r#"ParseKeyValue("k1!v1_k2!v2", pair_delimiter = "_", delimiter = "!") == {"k1": "v1", "k2": "v2"}"#,
    );
    yes(
        r#"SliceToMap(attributes["things"], key_path = ["name"], value_path = ["value"]) == {"foo": 2, "bar": 5}"#,
    );
    yes(
        r#"CommunityID(sourceIP = "128.232.110.120", sourcePort = 34855, destinationIP = "66.35.250.204", destinationPort = 80) == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=""#,
    );
    yes(r#"Index(source = "hello world", value = "world") == 6"#);
}

#[test]
fn optional_arguments_are_checked() {
    fails(r#"Trim() == nil"#, "missing required argument target");
    fails(r#"Trim("a", "b", "c") == nil"#, "Expected: 2 Received: 3");
    fails(
        r#"Sort(order = "asc") == nil"#,
        "missing required argument target",
    );
    fails(
        r#"Time("a", "%Y", nope = "x") == nil"#,
        "no such parameter: nope",
    );
}

#[test]
fn networks() {
    yes(r#"IsInCIDR("192.168.1.10", ["192.168.0.0/16"])"#);
    yes(r#"IsInCIDR("10.1.2.3", ["192.168.0.0/16", "10.0.0.0/8"])"#);
    yes(r#"not IsInCIDR("11.1.2.3", ["192.168.0.0/16", "10.0.0.0/8"])"#);
    yes(
        r#"IsInCIDR("2001:db8::1", ["2001:db8::/32"]) and IsInCIDR("::ffff:10.0.0.1", ["10.0.0.0/8"])"#,
    );
    yes(r#"not IsInCIDR("not an ip", ["10.0.0.0/8"])"#);
    yes(r#"IsInCIDR("10.0.0.1", [Concat(["10.0.0.0", "8"], "/")])"#);
    fails(
        r#"IsInCIDR("10.0.0.1", ["10.0.0.0/33"])"#,
        "invalid CIDR address: 10.0.0.0/33",
    );
    // The Community ID specification's own example, both directions.
    yes(
        r#"CommunityID("128.232.110.120", 34855, "66.35.250.204", 80) == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=""#,
    );
    yes(
        r#"CommunityID("66.35.250.204", 80, "128.232.110.120", 34855, "TCP") == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=""#,
    );
    yes(
        r#"CommunityID("192.168.1.1", 54321, "10.0.0.1", 90, "UDP", 2) == "1:sAf4Y22Cz0Pq28qyrJYFQGhlvp4=""#,
    );
    fails(
        r#"CommunityID("1.2.3.4", 0, "1.2.3.5", 80) == nil"#,
        "source port must be between 1 and 65535, got 0",
    );
    fails(
        r#"CommunityID("1.2.3.4", 1, "x", 80) == nil"#,
        "invalid destination IP: x",
    );
    fails(
        r#"CommunityID("1.2.3.4", 1, "1.2.3.5", 80, "GRE") == nil"#,
        "unsupported protocol: GRE",
    );
    fails(
        r#"CommunityID("1.2.3.4", 1, "1.2.3.5", 80, seed = 70000) == nil"#,
        "seed must be between 0 and 65535",
    );
}

#[test]
fn parse_xml() {
    let doc = concat!(
        r#"ParseXML("<?xml version=\"1.0\" encoding=\"UTF-8\" ?><Log><User><ID>00001</ID>"#,
        r#"<Name type=\"first\">Joe</Name><Email>joe.smith@example.com</Email></User>"#,
        r#"<Text>User fired alert A</Text></Log>")"#
    );
    yes(&format!(
        "{doc} == {}",
        concat!(
            r#"{"tag": "Log", "children": [{"tag": "User", "children": ["#,
            r#"{"tag": "ID", "content": "00001"}, "#,
            r#"{"tag": "Name", "content": "Joe", "attributes": {"type": "first"}}, "#,
            r#"{"tag": "Email", "content": "joe.smith@example.com"}]}, "#,
            r#"{"tag": "Text", "content": "User fired alert A"}]}"#
        )
    ));
    yes(concat!(
        r#"ParseXML("<HostInfo hostname=\"example.com\" zone=\"east-1\" cloudprovider=\"aws\" />") == "#,
        r#"{"tag": "HostInfo", "attributes": {"hostname": "example.com", "zone": "east-1", "cloudprovider": "aws"}}"#
    ));
    fails(r#"ParseXML("<a>") == nil"#, "unmarshal xml");
    fails("ParseXML(1) == nil", "expected string but got int64");
}

#[test]
fn parse_simplified_xml() {
    yes(concat!(
        r#"ParseSimplifiedXML("<event><id>1</id><user>jane</user><details><time>2021-10-01T12:00:00Z</time>"#,
        r#"<description>Something happened</description><cause>unknown</cause></details></event>") == "#,
        r#"{"event": {"id": "1", "user": "jane", "details": {"time": "2021-10-01T12:00:00Z", "#,
        r#""description": "Something happened", "cause": "unknown"}}}"#
    ));
    yes(
        r#"ParseSimplifiedXML("<x>\n  <y>1</y>\n  <z>2</z>\n</x>") == {"x": {"y": "1", "z": "2"}}"#,
    );
    yes(r#"ParseSimplifiedXML("<a><b>1</b><b>2</b></a>") == {"a": {"b": ["1", "2"]}}"#);
    yes(r#"ParseSimplifiedXML("<a><b>1</b><b><![CDATA[2]]></b></a>") == {"a": {"b": ["1", "2"]}}"#);
    yes(r#"ParseSimplifiedXML("<a><b>1</b><b/></a>") == {"a": {"b": ["1"]}}"#);
    yes(r#"ParseSimplifiedXML("<a k=\"v\">text<b>1</b></a>") == {"a": {"b": "1"}}"#);
    let deep = format!("{}{}", "<a>".repeat(1200), "</a>".repeat(1200));
    fails(
        &format!(r#"ParseSimplifiedXML("{deep}") == nil"#),
        "nesting depth exceeds",
    );
}

#[test]
fn parse_severity() {
    let mapping = r#"{"info": [{"equals": ["inf"]}, {"range": {"min": 200, "max": 299}}], "error": [{"range": {"min": 400, "max": 499}}]}"#;
    let sev = |target: &str| format!("ParseSeverity({target}, {mapping})");
    yes(&format!(r#"{} == "info""#, sev(r#""inf""#)));
    yes(&format!(r#"{} == "info""#, sev("250")));
    yes(&format!(r#"{} == "error""#, sev("404")));
    fails(
        &format!("{} == nil", sev("503")),
        "no matching log level found for value '503'",
    );
    fails(
        &format!("{} == nil", sev("1.5")),
        "log level must be either string or int",
    );
    yes(
        r#"ParseSeverity(attributes["n"], {"debug": [{"range": {"min": 1, "max": 20}}]}) == "debug""#,
    );
    yes(r#"ParseSeverity(404, {"warn": [{"range": "4xx"}]}) == "warn""#);
}

/// Every converter with odd arguments: errors are fine, panics are not.
#[test]
fn no_converter_panics_on_odd_arguments() {
    let values = [
        "nil",
        r#""""#,
        r#""a=b c,d""#,
        r#""%Y-%m-%d %H %%d .%L,%s %Z%z %Q %""#,
        r#""\u00e9\u00e9é""#,
        r#""//b""#,
        r#""<a><b>1</b></a>""#,
        r#""snake""#,
        r#""(?P<x>a)|b""#,
        r#""ffffffffffffffffffffffffffffffff""#,
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "1.5",
        "-0.0",
        "true",
        "[]",
        r#"[1, "a", {}, 2.5, nil]"#,
        "{}",
        r#"{"a": [1], "b": {"range": "9xx"}}"#,
        "0x00",
        "start_time",
        r#"Duration("-1s")"#,
        r#"attributes["things"]"#,
    ];
    let span = span();
    let item = SpanItem {
        cache: &[],
        span: &span,
        scope: None,
        resource: None,
    };
    let mut calls: Vec<(&str, String)> = Vec::new();
    for &name in ferrotel_ottl::funcs::CONVERTERS {
        calls.push((name, format!("{name}()")));
        for a in values {
            calls.push((name, format!("{name}({a})")));
            for b in values {
                calls.push((name, format!("{name}({a}, {b})")));
            }
            for b in values.iter().step_by(5) {
                calls.push((name, format!("{name}({a}, {b}, {b})")));
                calls.push((name, format!("{name}({a}, {b}, {b}, {b}, {b}, {b})")));
            }
        }
    }
    let mut compiled = std::collections::BTreeSet::new();
    for (name, call) in calls {
        if let Ok(c) = Condition::<SpanContext>::new(&format!("{call} != nil")) {
            compiled.insert(name);
            let _ = c.eval(item);
        }
    }
    // Every listed converter exists (some call of it compiled).
    let missing: Vec<_> = ferrotel_ottl::funcs::CONVERTERS
        .iter()
        .filter(|n| !compiled.contains(*n))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}

#[test]
fn extract_grok_patterns() {
    // Plain regular expressions with named groups work as in ExtractPatterns.
    yes(
        r#"ExtractGrokPatterns("GIT_SHA=abc123", "GIT_SHA=(?P<git.sha>\\w+)") == {"git.sha": "abc123"}"#,
    );
    yes(
        r#"ExtractGrokPatterns("GET 200", "%{WORD:method} %{INT:status:int}") == {"method": "GET", "status": 200}"#,
    );
    // Without namedCapturesOnly, unnamed references are returned under their pattern names.
    // (Nested references are captured too: IPV4 here.)
    yes(r#"ExtractGrokPatterns("10.1.2.3 up", "%{IP} %{WORD:state}")["IP"] == "10.1.2.3""#);
    yes(r#"ExtractGrokPatterns("10.1.2.3 up", "%{IP} %{WORD:state}")["IPV4"] == "10.1.2.3""#);
    yes(r#"ExtractGrokPatterns("10.1.2.3 up", "%{IP} %{WORD:state}", true) == {"state": "up"}"#);
    yes(concat!(
        r#"ExtractGrokPatterns("https://example.com:8443/a?b=c", "%{URI}", true) == "#,
        r#"{"url.scheme": "https", "url.domain": "example.com", "url.port": 8443, "url.path": "/a", "url.query": "b=c"}"#
    ));
    yes(r#"ExtractGrokPatterns("x", "%{INT:n}") == {}"#);
    yes(concat!(
        r#"ExtractGrokPatterns("2024-03-07 10:20:30 UTC jane conn-42 1234", "#,
        r#""%{DATESTAMP_EU:timestamp} %{TZ:event.timezone} %{DATA:user.name} %{GREEDYDATA:postgresql.log.connection_id}", true, "#,
        r#"["DATESTAMP_EU=%{YEAR}-%{MONTHNUM}-%{MONTHDAY} %{TIME}"])["user.name"] == "jane""#
    ));
    // The README's /etc/passwd example.
    yes(concat!(
        r#"ExtractGrokPatterns("smith:pass123:1001:1000:J Smith,1234,(234)567-8910,(234)567-1098,email:/home/smith:/bin/sh", "#,
        r#""%{USERNAME:user.name}:%{PASSWORD:user.password}:%{USERINFO}", true, "#,
        r#"["PASSWORD=%{WORD}", "USERINFO=%{GREEDYDATA}"]) == {"user.name": "smith", "user.password": "pass123"}"#
    ));
    yes(
        r#"ExtractGrokPatterns("1.5 true", "%{NUMBER:n:float} %{BOOL:b:boolean}", true) == {"n": 1.5, "b": true}"#,
    );
    fails(
        r#"ExtractGrokPatterns("x", "%{NOPE:x}") == nil"#,
        "grok pattern not found: NOPE",
    );
    fails(
        r#"ExtractGrokPatterns("x", "%{A}", false, ["A=%{B}", "B=%{A}"]) == nil"#,
        "nest deeper",
    );
    fails(
        r#"ExtractGrokPatterns("x", "%{WORD}", true) == nil"#,
        "at least 1 named capture group",
    );
    fails(
        r#"ExtractGrokPatterns("x", "%{WORD:w:date}") == nil"#,
        "unsupported grok type",
    );
    fails(
        r#"ExtractGrokPatterns("x", "%{WORD:w}", false, ["bad"]) == nil"#,
        "PATTERN_NAME=PATTERN",
    );
    fails(
        r#"ExtractGrokPatterns("abc", "%{WORD:n:int}") == nil"#,
        "cannot convert \"abc\" to int",
    );
}

/// The replacing editors' optional `function` (given by name) is one of these converters.
#[test]
fn replace_editors_hash_with_converters() {
    use ferrotel_ottl::{ErrorMode, SpanItemMut, Statements};
    let mut span = span();
    let st = Statements::<SpanContext>::new(
        &[r#"replace_pattern(attributes["hello"], "World", "name", "SHA256", "h:%s")"#],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    st.execute(&mut SpanItemMut {
        cache: &mut Vec::new(),
        span: &mut span,
        scope: &mut None,
        resource: &mut None,
    })
    .unwrap();
    let hello = span.attributes.iter().find(|kv| kv.key == "hello").unwrap();
    assert_eq!(
        hello.value.as_ref().and_then(|v| v.value.clone()),
        Some(s(
            "Hello h:82a3537ff0dbce7eec35d69edc3a189ee6f17d82f353a553f9aa96cb0be3ce89"
        ))
    );
}
