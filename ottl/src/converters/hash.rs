//! Hash converters: SHA1, SHA256, SHA512, MD5 (lowercase hex digests), FNV (64-bit FNV-1a as
//! an int), Murmur3Hash / Murmur3Hash128 (hex of the little-endian 32- and 128-bit x64
//! MurmurHash3, seed 0), XXH3 / XXH128 (hex of the big-endian digest, as Go's xxh3 `Sum`).
//!
//! As otelcol's code, SHA1, SHA256 and FNV return an empty string for an empty input; the
//! others (MD5, SHA512 included) hash it.

use crate::error::EvalError;
use crate::funcs::string_arg;
use crate::value::Value;
use sha1::Digest;

use super::str_value;

fn digest<D: Digest>(v: Value<'_>, empty_as_is: bool) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    if empty_as_is && s.is_empty() {
        return Ok(str_value(String::new()));
    }
    Ok(str_value(hex::encode(D::digest(s.as_bytes()))))
}

/// SHA1(value)
pub fn sha1(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    digest::<sha1::Sha1>(v, true)
}

/// SHA256(value)
pub fn sha256(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    digest::<sha2::Sha256>(v, true)
}

/// SHA512(input)
pub fn sha512(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    digest::<sha2::Sha512>(v, false)
}

/// MD5(value)
pub fn md5(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    digest::<md5::Md5>(v, false)
}

/// FNV(value): 64-bit FNV-1a, as an int64 (the bits of the unsigned hash).
pub fn fnv(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    if s.is_empty() {
        return Ok(str_value(String::new()));
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Ok(Value::Int(h as i64))
}

/// Murmur3Hash(target): hex of the 32-bit hash's little-endian bytes.
pub fn murmur3(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    Ok(str_value(hex::encode(
        murmur3_32(s.as_bytes()).to_le_bytes(),
    )))
}

/// Murmur3Hash128(target): hex of the two 64-bit halves' little-endian bytes.
pub fn murmur3_128(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    let (h1, h2) = murmur3_x64_128(s.as_bytes());
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&h1.to_le_bytes());
    b[8..].copy_from_slice(&h2.to_le_bytes());
    Ok(str_value(hex::encode(b)))
}

/// XXH3(value): the 64-bit XXH3 digest, big-endian hex.
pub fn xxh3(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    let h = twox_hash::XxHash3_64::oneshot(s.as_bytes());
    Ok(str_value(format!("{h:016x}")))
}

/// XXH128(value): the 128-bit XXH3 digest, big-endian hex (high half first).
pub fn xxh128(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let s = string_arg(v)?;
    let h = twox_hash::XxHash3_128::oneshot(s.as_bytes());
    Ok(str_value(format!("{h:032x}")))
}

fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Little-endian value of up to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// MurmurHash3_x86_32, seed 0.
fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut h: u32 = 0;
    let mut blocks = data.chunks_exact(4);
    for b in &mut blocks {
        h ^= mix(le(b) as u32);
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        h ^= mix(le(tail) as u32);
    }
    fmix32(h ^ data.len() as u32)
}

/// MurmurHash3_x64_128, seed 0: the two 64-bit halves.
fn murmur3_x64_128(data: &[u8]) -> (u64, u64) {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let mix1 = |k: u64| k.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    let mix2 = |k: u64| k.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        h1 ^= mix1(le(&b[..8]));
        h1 = h1.rotate_left(27).wrapping_add(h2);
        h1 = h1.wrapping_mul(5).wrapping_add(0x52dc_e729);
        h2 ^= mix2(le(&b[8..]));
        h2 = h2.rotate_left(31).wrapping_add(h1);
        h2 = h2.wrapping_mul(5).wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        h2 ^= mix2(le(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix1(le(&tail[..tail.len().min(8)]));
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}
