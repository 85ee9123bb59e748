use super::*;
use crate::jaeger::encode;

fn sample() -> Batch<'static> {
    let tag = |k: &'static str, v| Tag {
        key: Cow::Borrowed(k),
        value: v,
    };
    Batch {
        process: Process {
            service_name: "checkout".into(),
            tags: vec![
                tag("hostname", TagValue::Str("web-1".into())),
                tag("ip", TagValue::Long(167772161)),
            ],
        },
        spans: vec![Span {
            trace_id_low: -2,
            trace_id_high: 0x0102_0304_0506_0708,
            span_id: 42,
            parent_span_id: 7,
            operation_name: "GET /cart".into(),
            references: vec![SpanRef {
                ref_type: RefType::FollowsFrom,
                trace_id_low: 5,
                trace_id_high: 6,
                span_id: 9,
            }],
            flags: 1,
            start_time: 1_700_000_000_000_000,
            duration: 1500,
            tags: vec![
                tag("s", TagValue::Str("é".into())),
                tag("d", TagValue::Double(2.5)),
                tag("b", TagValue::Bool(true)),
                tag("f", TagValue::Bool(false)),
                tag("l", TagValue::Long(-500)),
                tag("x", TagValue::Binary(Cow::Borrowed(&[0, 1, 0xff]))),
            ],
            logs: vec![Log {
                timestamp: 1_700_000_000_000_100,
                fields: vec![tag("event", TagValue::Str("retry".into()))],
            }],
        }],
    }
}

#[test]
fn binary_batch_reads_what_the_thrift_crate_wrote() {
    let b = sample();
    let body = encode::binary_batch(&b).unwrap();
    assert_eq!(binary_batch(&body).unwrap(), b);
}

#[test]
fn compact_agent_datagram_reads_what_the_thrift_crate_wrote() {
    let b = sample();
    let d = encode::agent_datagrams(&b, 65000, || 3).unwrap();
    assert_eq!(d.packets.len(), 1);
    let got = agent_message(&d.packets[0], Protocol::Compact).unwrap();
    assert_eq!(got, Some(b));
}

#[test]
fn binary_agent_datagram_reads_what_the_thrift_crate_wrote() {
    let b = sample();
    let datagram = encode::emit_batch_binary(&b.process, &b.spans, 9).unwrap();
    assert_eq!(agent_message(&datagram, Protocol::Binary).unwrap(), Some(b));
}

#[test]
fn many_fields_in_compact_use_long_field_deltas_and_list_headers() {
    // 20 tags: a list header with the size in a varint (>= 15 elements).
    let mut b = sample();
    b.spans[0].tags = (0..20)
        .map(|i| Tag {
            key: format!("k{i}").into(),
            value: TagValue::Long(i),
        })
        .collect();
    let d = encode::agent_datagrams(&b, 65000, || 0).unwrap();
    let got = agent_message(&d.packets[0], Protocol::Compact)
        .unwrap()
        .unwrap();
    assert_eq!(got.spans[0].tags.len(), 20);
    assert_eq!(got.spans[0].tags[19].value, TagValue::Long(19));
}

#[test]
fn hostile_lengths_are_refused_without_allocating_them() {
    // Batch { 1: Process { 1: serviceName = <string of 2^31-1 bytes> } }
    let body = [12u8, 0, 1, 11, 0, 1, 0x7f, 0xff, 0xff, 0xff, b'a'];
    let e = binary_batch(&body).unwrap_err().to_string();
    assert!(e.contains("length 2147483647"), "{e}");
    // spans = list of 2^31-1 structs
    let body = [15u8, 0, 2, 12, 0x7f, 0xff, 0xff, 0xff, 0];
    let e = binary_batch(&body).unwrap_err().to_string();
    assert!(e.contains("list of 2147483647 elements"), "{e}");
    // A negative length.
    let body = [12u8, 0, 1, 11, 0, 1, 0xff, 0xff, 0xff, 0xff];
    assert!(binary_batch(&body).is_err());
}

#[test]
fn deep_nesting_in_unknown_fields_is_bounded() {
    // Field 9 of Batch: a struct containing a struct containing ... 1000 deep.
    let mut body = vec![];
    for _ in 0..1000 {
        body.extend_from_slice(&[12, 0, 9]);
    }
    let e = binary_batch(&body).unwrap_err().to_string();
    assert!(e.contains("nesting deeper than 64"), "{e}");
}

#[test]
fn missing_required_fields_and_garbage_are_named() {
    // An empty struct: no process.
    let e = binary_batch(&[0]).unwrap_err().to_string();
    assert_eq!(e, "required field Batch.process is not set");
    // 'h' (104) is no Thrift type.
    let e = binary_batch(b"hello world").unwrap_err().to_string();
    assert_eq!(e, "unknown Thrift type 104");
    let e = agent_message(b"\x00garbage", Protocol::Compact)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad compact protocol id 0x00"), "{e}");
    assert!(binary_batch(&[]).is_err());
}

#[test]
fn other_agent_methods_are_refused() {
    let b = sample();
    let mut datagram = encode::emit_batch_binary(&b.process, &b.spans, 9).unwrap();
    // "emitBatch" -> "emitBatcH"
    let at = datagram.windows(9).position(|w| w == b"emitBatch").unwrap();
    datagram[at + 8] = b'H';
    let e = agent_message(&datagram, Protocol::Binary)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unsupported Agent method \"emitBatcH\""), "{e}");
}

#[test]
fn every_truncation_of_a_valid_datagram_is_an_error_not_a_panic() {
    let b = sample();
    let d = encode::agent_datagrams(&b, 65000, || 0).unwrap();
    let p = &d.packets[0];
    for n in 0..p.len() {
        assert!(agent_message(&p[..n], Protocol::Compact).is_err(), "{n}");
    }
    let body = encode::binary_batch(&b).unwrap();
    for n in 0..body.len() {
        assert!(binary_batch(&body[..n]).is_err(), "{n}");
    }
}
