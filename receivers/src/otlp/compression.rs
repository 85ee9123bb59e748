//! HTTP request body decompression with a bound on the output, as otelcol's confighttp decodes
//! `Content-Encoding`: gzip, zstd, zlib (`deflate` is read as zlib), snappy (block format, or
//! the framed format when the body starts with its stream identifier), `x-snappy-framed`, and
//! lz4 (frame format).
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       http:
//!         compression_algorithms: ["", gzip, zstd]
//! ```

use bytes::Bytes;
use std::io::Read;

/// A supported `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
    Zlib,
    Snappy,
    SnappyFramed,
    Lz4,
}

impl Encoding {
    /// The encoding of a `Content-Encoding` value (`""` is none); case-sensitive, as otelcol.
    pub fn from_name(name: &str) -> Option<Encoding> {
        Some(match name {
            "" => Encoding::Identity,
            "gzip" => Encoding::Gzip,
            "zstd" => Encoding::Zstd,
            "zlib" | "deflate" => Encoding::Zlib,
            "snappy" => Encoding::Snappy,
            "x-snappy-framed" => Encoding::SnappyFramed,
            "lz4" => Encoding::Lz4,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    /// The decoded body is larger than the limit.
    #[error("http: request body too large")]
    TooLarge,
    #[error("{0}")]
    Invalid(String),
}

/// The first bytes of every framed snappy stream.
const SNAPPY_STREAM_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// Decodes `body`, refusing (without producing more than `limit + 1` bytes) output over `limit`.
pub fn decompress(enc: Encoding, body: Bytes, limit: usize) -> Result<Bytes, DecompressError> {
    let input = &body[..];
    match enc {
        Encoding::Identity => Ok(body),
        Encoding::Gzip => read_limited(flate2::read::MultiGzDecoder::new(input), limit),
        Encoding::Zlib => read_limited(flate2::read::ZlibDecoder::new(input), limit),
        Encoding::Zstd => {
            let d = zstd::stream::read::Decoder::new(input).map_err(invalid)?;
            read_limited(d, limit)
        }
        Encoding::Lz4 => read_limited(lz4_flex::frame::FrameDecoder::new(input), limit),
        Encoding::SnappyFramed => read_limited(snap::read::FrameDecoder::new(input), limit),
        Encoding::Snappy if input.starts_with(SNAPPY_STREAM_ID) => {
            read_limited(snap::read::FrameDecoder::new(input), limit)
        }
        Encoding::Snappy => {
            let len = snap::raw::decompress_len(input).map_err(invalid)?;
            if len > limit {
                return Err(DecompressError::TooLarge);
            }
            snap::raw::Decoder::new()
                .decompress_vec(input)
                .map(Bytes::from)
                .map_err(invalid)
        }
    }
}

fn invalid(e: impl std::fmt::Display) -> DecompressError {
    DecompressError::Invalid(e.to_string())
}

fn read_limited(r: impl Read, limit: usize) -> Result<Bytes, DecompressError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    r.take(cap).read_to_end(&mut out).map_err(invalid)?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn compress(enc: Encoding, data: &[u8]) -> Vec<u8> {
        match enc {
            Encoding::Identity => data.to_vec(),
            Encoding::Gzip => {
                let mut w = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            Encoding::Zlib => {
                let mut w = flate2::write::ZlibEncoder::new(vec![], flate2::Compression::fast());
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            Encoding::Zstd => zstd::encode_all(data, 1).unwrap(),
            Encoding::Snappy => snap::raw::Encoder::new().compress_vec(data).unwrap(),
            Encoding::SnappyFramed => {
                let mut w = snap::write::FrameEncoder::new(vec![]);
                w.write_all(data).unwrap();
                w.into_inner().unwrap()
            }
            Encoding::Lz4 => {
                let mut w = lz4_flex::frame::FrameEncoder::new(vec![]);
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
        }
    }

    const ALL: [Encoding; 7] = [
        Encoding::Identity,
        Encoding::Gzip,
        Encoding::Zstd,
        Encoding::Zlib,
        Encoding::Snappy,
        Encoding::SnappyFramed,
        Encoding::Lz4,
    ];

    #[test]
    fn round_trips_and_limits_every_encoding() {
        let data = vec![7u8; 10_000];
        for enc in ALL {
            let c = Bytes::from(compress(enc, &data));
            assert_eq!(decompress(enc, c.clone(), 10_000).unwrap(), data, "{enc:?}");
            if enc != Encoding::Identity {
                assert!(
                    matches!(decompress(enc, c, 9_999), Err(DecompressError::TooLarge)),
                    "{enc:?}"
                );
            }
        }
        // `snappy` also reads the framed format, as otelcol does.
        let framed = Bytes::from(compress(Encoding::SnappyFramed, &data));
        assert_eq!(decompress(Encoding::Snappy, framed, 10_000).unwrap(), data);
        assert_eq!(Encoding::from_name("deflate"), Some(Encoding::Zlib));
        assert_eq!(Encoding::from_name("br"), None);
        assert_eq!(Encoding::from_name("GZIP"), None);
    }

    #[test]
    fn garbage_is_invalid() {
        for enc in ALL.into_iter().skip(1) {
            let r = decompress(enc, Bytes::from_static(b"\x01\x02not compressed"), 1000);
            assert!(
                matches!(r, Err(DecompressError::Invalid(_))),
                "{enc:?}: {r:?}"
            );
        }
    }
}
