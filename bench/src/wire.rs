//! Counting the items of an OTLP export request by walking the protobuf wire format, without
//! decoding it: what the sink does, so that receiving costs it little next to the collectors.

use ferrotel_core::Signal;

/// A malformed protobuf message.
#[derive(Debug, thiserror::Error)]
#[error("malformed protobuf")]
pub struct Malformed;

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, Malformed> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or(Malformed)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(Malformed)
}

type FieldFn<'a> = dyn FnMut(u64, &[u8]) -> Result<(), Malformed> + 'a;
type LeafFn = dyn Fn(&[u8]) -> Result<u64, Malformed>;

/// Calls `f(field_number, payload)` for every length-delimited field of `buf`; skips the rest.
fn for_each_len_field(buf: &[u8], f: &mut FieldFn<'_>) -> Result<(), Malformed> {
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        match key & 7 {
            0 => {
                varint(buf, &mut pos)?;
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| Malformed)?;
                let end = pos.checked_add(len).ok_or(Malformed)?;
                f(key >> 3, buf.get(pos..end).ok_or(Malformed)?)?;
                pos = end;
            }
            _ => return Err(Malformed),
        }
    }
    if pos == buf.len() {
        Ok(())
    } else {
        Err(Malformed)
    }
}

/// Counts the messages found by following `path` (field numbers) from `buf`; at the last
/// level, `leaf` counts each message (`None` counts one per field occurrence).
fn count_path(buf: &[u8], path: &[u64], leaf: Option<&LeafFn>) -> Result<u64, Malformed> {
    let mut n = 0;
    for_each_len_field(buf, &mut |field, payload| {
        if field == path[0] {
            n += match (&path[1..], leaf) {
                ([], None) => 1,
                ([], Some(leaf)) => leaf(payload)?,
                (rest, _) => count_path(payload, rest, leaf)?,
            };
        }
        Ok(())
    })?;
    Ok(n)
}

/// Data points of one `Metric`: the `data_points` (field 1) of its gauge (5), sum (7),
/// histogram (9), exponential histogram (10) or summary (11).
fn metric_points(metric: &[u8]) -> Result<u64, Malformed> {
    let mut n = 0;
    for_each_len_field(metric, &mut |field, data| {
        if matches!(field, 5 | 7 | 9 | 10 | 11) {
            n += count_path(data, &[1], None)?;
        }
        Ok(())
    })?;
    Ok(n)
}

/// Spans, metric data points or log records in an export request.
pub fn count_items(signal: Signal, body: &[u8]) -> Result<u64, Malformed> {
    match signal {
        Signal::Traces | Signal::Logs => count_path(body, &[1, 2, 2], None),
        Signal::Metrics => count_path(body, &[1, 2, 2], Some(&metric_points)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{pool, Shape};

    #[test]
    fn counts_match_the_generated_items() {
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let shape = Shape {
                signal,
                items_per_request: 53,
                attrs_per_item: None,
                payload_bytes: 0,
            };
            for e in pool(&shape, 3, 9) {
                assert_eq!(
                    count_items(signal, &e.body).expect("well formed"),
                    53,
                    "{signal:?}"
                );
            }
        }
    }

    #[test]
    fn truncated_input_is_malformed() {
        let shape = Shape {
            signal: Signal::Traces,
            items_per_request: 10,
            attrs_per_item: None,
            payload_bytes: 0,
        };
        let body = &pool(&shape, 1, 1)[0].body;
        assert!(count_items(Signal::Traces, &body[..body.len() - 3]).is_err());
        assert_eq!(count_items(Signal::Traces, &[]).expect("empty is valid"), 0);
    }
}
