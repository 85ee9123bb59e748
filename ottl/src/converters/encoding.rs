//! Encoding converters: Hex, Base64Decode (deprecated), Base64Encode, Decode.

use super::{arg, str_value, Built};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{bind, string_arg};
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

/// `Base64Encode(value, Optional[variant])`.
pub fn base64_encode<'a>(vals: &[Option<Value<'a>>]) -> Result<Value<'a>, EvalError> {
    let s = string_arg(arg(vals, 0))?;
    let name = match arg(vals, 1) {
        Value::Nil => Cow::Borrowed("base64"),
        v => string_arg(v)?,
    };
    let engine = variant(&name)
        .ok_or_else(|| EvalError::new(format!("unsupported base64 variant: {name}")))?;
    Ok(str_value(engine.encode(s.as_bytes())))
}

/// What Decode decodes with.
#[derive(Clone, Copy)]
enum Decoder {
    Base64(&'static base64::engine::GeneralPurpose),
    Utf8,
    Latin1,
    Utf16 { big_endian: bool },
}

/// The decoder for an encoding name: base64 variants, or a character set (UTF-8, US-ASCII,
/// ISO-8859-1 and UTF-16 here; otelcol accepts every IANA name).
fn decoder(name: &str) -> Result<Decoder, String> {
    if let Some(engine) = variant(name) {
        return Ok(Decoder::Base64(engine));
    }
    Ok(match name.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" | "nop" => Decoder::Utf8,
        "us-ascii" | "ascii" | "iso-8859-1" | "iso8859-1" | "latin1" | "l1" => Decoder::Latin1,
        "utf-16le" => Decoder::Utf16 { big_endian: false },
        "utf-16be" | "utf-16" => Decoder::Utf16 { big_endian: true },
        _ => return Err(format!("unsupported encoding '{name}'")),
    })
}

fn decode_with(d: Decoder, bytes: &[u8]) -> Result<String, EvalError> {
    Ok(match d {
        Decoder::Base64(engine) => {
            let out = engine
                .decode(bytes.trim_ascii())
                .map_err(|e| EvalError::new(format!("could not decode: {}", base64_error(e))))?;
            String::from_utf8_lossy(&out).into_owned()
        }
        Decoder::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Decoder::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
        Decoder::Utf16 { big_endian } => {
            let units = bytes.chunks(2).map(|c| match (c, big_endian) {
                ([a, b], true) => u16::from_be_bytes([*a, *b]),
                ([a, b], false) => u16::from_le_bytes([*a, *b]),
                _ => 0xfffd,
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or('\u{fffd}'))
                .collect()
        }
    })
}

/// Decode(value, encoding): a literal encoding is looked up here, another at each call.
struct Decode<C: Context> {
    target: Expr<C>,
    encoding: Result<Decoder, Expr<C>>,
}

pub fn decode<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let [target, encoding] = bind::<C, 2>("Decode", args, &["target", "encoding"])?;
    let encoding = match encoding.literal() {
        Some(Value::Str(name)) => Ok(decoder(name)?),
        _ => Err(encoding),
    };
    Ok(Box::new(Decode { target, encoding }))
}

impl<C: Context> Function<C> for Decode<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let value = self.target.eval(item)?;
        let d = match &self.encoding {
            Ok(d) => *d,
            Err(e) => decoder(&string_arg(e.eval(item)?)?).map_err(EvalError::new)?,
        };
        let out = match &value {
            Value::Str(s) => decode_with(d, s.as_bytes())?,
            Value::Bytes(b) => decode_with(d, b)?,
            other => {
                return Err(EvalError::new(format!(
                    "unsupported type provided to Decode function: {}",
                    other.type_name()
                )))
            }
        };
        Ok(str_value(out))
    }
}
