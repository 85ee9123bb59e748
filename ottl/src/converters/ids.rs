//! Id converters: TraceID, SpanID, ProfileID (from bytes or a hex string), UUID (v4), UUIDv7.

use super::{expected, str_value};
use crate::compile::{Context, Function};
use crate::error::EvalError;
use crate::value::Value;

/// `N` id bytes from a byte slice of exactly `N` bytes or a string of `2N` hex digits.
fn id_bytes<const N: usize>(v: Value<'_>, what: &str) -> Result<[u8; N], EvalError> {
    let bytes = match &v {
        Value::Bytes(b) => b.to_vec(),
        Value::Str(s) => {
            hex::decode(s.as_bytes()).map_err(|e| EvalError::new(format!("encoding/hex: {e}")))?
        }
        other => return Err(expected("[]byte or string", other)),
    };
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| EvalError::new(format!("{what} ids must be {N} bytes")))
}

/// TraceID(bytes|string)
pub fn trace_id(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    id_bytes::<16>(v, "traces").map(Value::TraceId)
}

/// SpanID(bytes|string)
pub fn span_id(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    id_bytes::<8>(v, "span").map(Value::SpanId)
}

/// ProfileID(bytes|string): the 16 id bytes (there is no profile-id value type here, so it
/// reads as bytes).
pub fn profile_id(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    id_bytes::<16>(v, "profile").map(|b| Value::Bytes(b.to_vec().into()))
}

/// UUID() and UUIDv7(): a new random (version 4) or time-ordered (version 7) UUID string.
pub struct NewUuid {
    pub v7: bool,
}

impl<C: Context> Function<C> for NewUuid {
    fn call<'a>(&'a self, _: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let id = if self.v7 {
            uuid::Uuid::now_v7()
        } else {
            uuid::Uuid::new_v4()
        };
        Ok(str_value(id.to_string()))
    }
}
