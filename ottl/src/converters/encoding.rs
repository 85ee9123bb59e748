//! Encoding converters: Hex, Base64Decode (deprecated), Base64Encode, Decode.

use super::{arg, expected, str_value};
use crate::error::EvalError;
use crate::funcs::string_arg;
use crate::value::Value;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use std::borrow::Cow;

/// otelcol's ByteSliceLikeGetter: strings as their bytes, ints and floats as their 8
/// big-endian bytes (a float's IEEE 754 bits), booleans as one byte, bytes and ids as they are;
/// nil stays nil.
fn byte_slice_like<'a>(v: Value<'a>) -> Result<Option<Cow<'a, [u8]>>, EvalError> {
    Ok(Some(match v {
        Value::Nil => return Ok(None),
        Value::Str(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
        Value::Str(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
        Value::Bytes(b) => b,
        Value::Int(i) => Cow::Owned(i.to_be_bytes().to_vec()),
        Value::Float(f) => Cow::Owned(f.to_bits().to_be_bytes().to_vec()),
        Value::Bool(b) => Cow::Owned(vec![u8::from(b)]),
        Value::TraceId(id) => Cow::Owned(id.to_vec()),
        Value::SpanId(id) => Cow::Owned(id.to_vec()),
        other => {
            return Err(EvalError::new(format!(
                "unsupported type: {}",
                other.type_name()
            )))
        }
    }))
}

/// Hex(value): the value's bytes (ByteSliceLikeGetter). otelcol's docs call the result "the
/// string representation of the hexadecimal value", but its code returns the byte slice
/// itself, which compares equal to a bytes literal (`Hex(12) == 0x000000000000000c`); we
/// follow the code.
pub fn hex(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(byte_slice_like(v)?.map_or(Value::Nil, Value::Bytes))
}

/// Base64Decode(value): the standard-alphabet, padded decoding, as a string.
pub fn base64_decode(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    let bytes = STANDARD.decode(s.as_bytes()).map_err(base64_error)?;
    Ok(str_value(String::from_utf8_lossy(&bytes).into_owned()))
}

fn base64_error(e: base64::DecodeError) -> EvalError {
    let at = match e {
        base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => {
            at
        }
        _ => 0,
    };
    EvalError::new(format!("illegal base64 data at input byte {at}"))
}

/// The base64 variant named as otelcol names them.
fn variant(name: &str) -> Option<&'static base64::engine::GeneralPurpose> {
    Some(match name {
        "base64" => &STANDARD,
        "base64-raw" => &STANDARD_NO_PAD,
        "base64-url" => &URL_SAFE,
        "base64-raw-url" => &URL_SAFE_NO_PAD,
        _ => return None,
    })
}

/// Base64Encode(value, Optional[variant]).
pub fn base64_encode<'a>(vals: &[Option<Value<'a>>]) -> Result<Value<'a>, EvalError> {
    let s = string_arg(arg(vals, 0))?;
    let name = match arg(vals, 1) {
        Value::Nil => Cow::Borrowed("base64"),
        v => string_arg(v)?,
    };
    let engine = variant(&name).ok_or_else(|| {
        EvalError::new(format!(
            "unsupported base64 variant {name}, supported variants are: base64, base64-raw, \
             base64-url, base64-raw-url"
        ))
    })?;
    Ok(str_value(engine.encode(s.as_bytes())))
}

/// Decode(value, encoding): base64 variants, or a character set (UTF-8, US-ASCII and
/// ISO-8859-1 here; otelcol accepts every IANA name).
pub fn decode<'a>(vals: &[Option<Value<'a>>]) -> Result<Value<'a>, EvalError> {
    let bytes: Cow<'_, [u8]> = match arg(vals, 0) {
        Value::Str(s) => Cow::Owned(s.into_owned().into_bytes()),
        Value::Bytes(b) => b,
        other => return Err(expected("string or []byte", &other)),
    };
    let encoding = string_arg(arg(vals, 1))?;
    if let Some(engine) = variant(&encoding) {
        let out = engine.decode(&bytes).map_err(base64_error)?;
        return Ok(str_value(String::from_utf8_lossy(&out).into_owned()));
    }
    let out = match encoding.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" | "unicode-1-1-utf-8" => String::from_utf8_lossy(&bytes).into_owned(),
        "us-ascii" | "ascii" | "iso-8859-1" | "iso8859-1" | "latin1" | "l1" => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        _ => {
            return Err(EvalError::new(format!(
                "could not get encoding for {encoding}: unsupported encoding '{encoding}'"
            )))
        }
    };
    Ok(str_value(out))
}
