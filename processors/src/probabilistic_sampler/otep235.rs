//! Consistent probability sampling values (OTEP 235, W3C trace context level 2): 56-bit
//! thresholds and randomness, their hex encodings, the OpenTelemetry `ot` entry of a W3C
//! `tracestate`, and otelcol's legacy FNV-1a hash.

/// 2^56: the number of distinct randomness values.
pub const MAX_ADJUSTED_COUNT: u64 = 1 << 56;
const NUM_HEX_DIGITS: usize = 14;
/// The smallest probability a threshold can express.
pub const MIN_PROBABILITY: f64 = 1.0 / MAX_ADJUSTED_COUNT as f64;

/// A rejection threshold in [0, 2^56]: sample when randomness >= threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Threshold(pub u64);

/// 56 random bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Randomness(pub u64);

impl Threshold {
    pub const ALWAYS: Threshold = Threshold(0);
    pub const NEVER: Threshold = Threshold(MAX_ADJUSTED_COUNT);

    pub fn should_sample(self, r: Randomness) -> bool {
        r.0 >= self.0
    }

    /// The `th` encoding: 14 hex digits, trailing zeros removed; `0` for always.
    pub fn tvalue(self) -> String {
        if self == Threshold::ALWAYS {
            return "0".into();
        }
        Randomness(self.0)
            .rvalue()
            .trim_end_matches('0')
            .to_string()
    }

    pub fn probability(self) -> f64 {
        (MAX_ADJUSTED_COUNT - self.0.min(MAX_ADJUSTED_COUNT)) as f64 / MAX_ADJUSTED_COUNT as f64
    }

    /// Parses a `th` value (1 to 14 hex digits).
    pub fn parse(s: &str) -> Option<Threshold> {
        if s.is_empty() || s.len() > NUM_HEX_DIGITS {
            return None;
        }
        let v = u64::from_str_radix(s, 16).ok()?;
        Some(Threshold(v << (4 * (NUM_HEX_DIGITS - s.len()))))
    }
}

/// `T = 2^56 - round(p * 2^56)`, rounded to `precision` significant hex digits (plus one per
/// leading `0` or `f` digit). `None` when `p` is outside [2^-56, 1]; a precision too great for
/// the value gives always-sample, as otelcol does.
pub fn probability_to_threshold(p: f64, precision: u32) -> Option<Threshold> {
    if !(MIN_PROBABILITY..=1.0).contains(&p) {
        return None;
    }
    if p == 1.0 {
        return Some(Threshold::ALWAYS);
    }
    let scaled = (p * MAX_ADJUSTED_COUNT as f64).round() as u64;
    let rejected = MAX_ADJUSTED_COUNT - scaled;
    if precision == 0 {
        return Some(Threshold(rejected));
    }
    let mut prec = precision;
    let mut reject = 1.0 - p;
    while reject * 16.0 < 1.0 {
        reject *= 16.0;
        prec += 1;
    }
    if prec as usize > NUM_HEX_DIGITS {
        return Some(Threshold::ALWAYS);
    }
    let shift = 4 * (NUM_HEX_DIGITS as u32 - prec);
    if shift == 0 {
        return Some(Threshold(rejected));
    }
    let rounded = ((rejected + (1 << (shift - 1))) >> shift) << shift;
    Some(Threshold(rounded))
}

impl Randomness {
    /// The largest randomness (sampled at every probability).
    pub const ALL: Randomness = Randomness(MAX_ADJUSTED_COUNT - 1);

    /// The `rv` encoding: exactly 14 lower-case hex digits.
    pub fn rvalue(self) -> String {
        if self.0 >= MAX_ADJUSTED_COUNT {
            return String::new();
        }
        hex14(self.0)
    }

    pub fn parse(s: &str) -> Option<Randomness> {
        if s.len() != NUM_HEX_DIGITS {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(Randomness)
    }

    /// The low 56 bits of a trace id (W3C level 2 randomness).
    pub fn from_trace_id(id: &[u8; 16]) -> Randomness {
        let mut b = [0u8; 8];
        b.copy_from_slice(&id[8..]);
        Randomness(u64::from_be_bytes(b) & (MAX_ADJUSTED_COUNT - 1))
    }

    /// otelcol's hash_seed randomness: FNV-1a 32 over seed (LE) and `bytes`; the top 14 bits
    /// are `16383 - (h & 0x3fff)`, so that `R >= T` means `h & 0x3fff < scaled`.
    pub fn from_hash(bytes: &[u8], seed: u32) -> Randomness {
        let h = fnv1a32(seed, bytes);
        let hashed = u64::from(h & 0x3fff);
        let unused18 = u64::from(h >> 14);
        let mixed28 = unused18 ^ (unused18 << 10);
        Randomness(((0x3fff - hashed) << 42) | (mixed28 << 14) | hashed)
    }
}

/// FNV-1a 32-bit over the seed's 4 little-endian bytes followed by `bytes`.
pub fn fnv1a32(seed: u32, bytes: &[u8]) -> u32 {
    // Two folds rather than one over a chained iterator, whose per-byte state check kept the
    // loop from being a plain one.
    let step = |h: u32, b: &u8| (h ^ u32::from(*b)).wrapping_mul(16_777_619);
    let h = seed.to_le_bytes().iter().fold(2_166_136_261, step);
    bytes.iter().fold(h, step)
}

/// A parse failure of a tracestate (the item then counts as having no usable carrier).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tracestate")]
pub struct TraceStateError;

/// A parsed W3C `tracestate` with its `ot` entry broken out. Other vendors' entries and other
/// `ot` sub-keys are kept in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceState {
    pub rv: Option<(Randomness, String)>,
    pub th: Option<(Threshold, String)>,
    ot_extra: Vec<(String, String)>,
    vendors: Vec<(String, String)>,
}

fn valid_key(k: &str) -> bool {
    let key_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-*/".contains(&c);
    let part = |s: &str, first: fn(u8) -> bool, max: usize| {
        !s.is_empty() && s.len() <= max && first(s.as_bytes()[0]) && s.bytes().skip(1).all(key_char)
    };
    match k.split_once('@') {
        Some((tenant, system)) => {
            part(
                tenant,
                |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
                241,
            ) && part(system, |c| c.is_ascii_lowercase(), 14)
        }
        None => part(k, |c| c.is_ascii_lowercase(), 256),
    }
}

fn valid_value(v: &str) -> bool {
    let nonblank = |c: u8| (0x21..=0x7e).contains(&c) && c != b',' && c != b'=';
    !v.is_empty()
        && v.len() <= 256
        && v.bytes().last().is_some_and(nonblank)
        && v.bytes().all(|c| c == b' ' || nonblank(c))
}

impl TraceState {
    pub fn parse(input: &str) -> Result<TraceState, TraceStateError> {
        let mut ts = TraceState::default();
        if input.is_empty() {
            return Ok(ts);
        }
        if input.len() > 1024 {
            return Err(TraceStateError);
        }
        let mut items = 0;
        let mut ok = true;
        for member in input.split(',') {
            let member = member.trim_matches(|c| c == ' ' || c == '\t');
            if member.is_empty() {
                continue;
            }
            items += 1;
            let Some((k, v)) = member.split_once('=') else {
                return Err(TraceStateError);
            };
            if !valid_key(k) || !valid_value(v) {
                return Err(TraceStateError);
            }
            if k == "ot" {
                ok &= ts.parse_ot(v);
            } else {
                ts.vendors.push((k.to_string(), v.to_string()));
            }
        }
        // otelcol counts list members and refuses the 32nd.
        if items >= 32 || !ok {
            return Err(TraceStateError);
        }
        Ok(ts)
    }

    /// Parses the `ot` value; false on a syntax or value error.
    fn parse_ot(&mut self, v: &str) -> bool {
        if v.len() > 256 {
            return false;
        }
        let mut ok = true;
        for member in v.split(';') {
            let Some((k, val)) = member.split_once(':') else {
                return false;
            };
            let key_ok = k.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
                && k.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            let val_ok = val
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
            if !key_ok || !val_ok {
                return false;
            }
            match k {
                "rv" => match Randomness::parse(val) {
                    Some(r) => self.rv = Some((r, val.to_string())),
                    None => {
                        self.rv = None;
                        ok = false;
                    }
                },
                "th" => match Threshold::parse(val) {
                    Some(t) => self.th = Some((t, val.to_string())),
                    None => {
                        self.th = None;
                        ok = false;
                    }
                },
                _ => self.ot_extra.push((k.to_string(), val.to_string())),
            }
        }
        ok
    }

    pub fn set_rv(&mut self, r: Randomness) {
        self.rv = Some((r, r.rvalue()));
    }

    pub fn clear_th(&mut self) {
        self.th = None;
    }

    /// Records the threshold a sampler applied. Raising the sampling probability of an item is
    /// refused (the existing `th` stays).
    pub fn update_th(&mut self, t: Threshold) {
        if self.th.as_ref().is_some_and(|(cur, _)| *cur > t) {
            return;
        }
        self.th = Some((t, t.tvalue()));
    }

    /// The W3C encoding: `ot=rv:..;th:..;<other ot keys>` first, then the other vendors.
    pub fn serialize(&self) -> String {
        let mut out = String::new();
        let rv = self.rv.iter().map(|(_, v)| ("rv", v.as_str()));
        let th = self.th.iter().map(|(_, v)| ("th", v.as_str()));
        let extra = self.ot_extra.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        for (i, (k, v)) in rv.chain(th).chain(extra).enumerate() {
            out.push_str(if i == 0 { "ot=" } else { ";" });
            out.extend([k, ":", v]);
        }
        for (k, v) in &self.vendors {
            if !out.is_empty() {
                out.push(',');
            }
            out.extend([k.as_str(), "=", v.as_str()]);
        }
        out
    }
}

/// The 14 lower-case hex digits of a 56-bit value, written without the formatting machinery
/// (this runs for every kept item).
fn hex14(v: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = (0..NUM_HEX_DIGITS)
        .rev()
        .map(|i| char::from(DIGITS[((v >> (4 * i)) & 0xf) as usize]));
    digits.collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        // otelcol-compat.md §5 test vectors.
        let id = |h: &str| -> Vec<u8> { hex::decode(&h[..32]).unwrap() };
        assert_eq!(
            fnv1a32(0, &id("4bf92f3577b34da6a3ce929d0e0e4736")),
            874_528_909
        );
        assert_eq!(
            fnv1a32(22, &id("4bf92f3577b34da6a3ce929d0e0e4736")),
            1_443_901_547
        );
        assert_eq!(
            fnv1a32(0, &id("0102030405060708090a0b0c0d0e0f10")),
            3_743_685_157
        );
        assert_eq!(
            fnv1a32(0, &id("00000000000000000000000000000001")),
            3_103_711_938
        );
    }

    #[test]
    fn thresholds_and_precision() {
        assert_eq!(probability_to_threshold(0.5, 4).unwrap().tvalue(), "8");
        assert_eq!(probability_to_threshold(0.25, 4).unwrap().tvalue(), "c");
        assert_eq!(probability_to_threshold(1.0, 4).unwrap().tvalue(), "0");
        assert_eq!(probability_to_threshold(0.01, 3).unwrap().tvalue(), "fd7");
        assert_eq!(
            probability_to_threshold(0.01, 0).unwrap().tvalue(),
            "fd70a3d70a3d71"
        );
        assert_eq!(probability_to_threshold(0.4, 3).unwrap().tvalue(), "99a");
        assert_eq!(probability_to_threshold(0.6, 4).unwrap().tvalue(), "6666");
        assert!(probability_to_threshold(1.5, 4).is_none());
        assert_eq!(Threshold::parse("8").unwrap(), Threshold(1 << 55));
        assert_eq!(
            Threshold::parse("80000000000000").unwrap(),
            Threshold(1 << 55)
        );
        assert!(Threshold::parse("123456789abcdef").is_none());
        assert!(Randomness::parse("abc").is_none());
    }

    #[test]
    fn tracestate_roundtrip() {
        let mut ts =
            TraceState::parse("congo=t61rcWkgMzE, ot=th:8;foo:bar ,rojo=00f067aa0ba902b7").unwrap();
        assert_eq!(ts.th.as_ref().unwrap().0, Threshold(1 << 55));
        ts.set_rv(Randomness(0xabc));
        ts.update_th(Threshold(3 << 54));
        assert_eq!(
            ts.serialize(),
            "ot=rv:00000000000abc;th:c;foo:bar,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        );
        // Lowering the threshold (raising probability) is refused.
        ts.update_th(Threshold::ALWAYS);
        assert!(ts.serialize().contains("th:c"));
        assert!(TraceState::parse("ot=rv:xyz").is_err());
        assert!(TraceState::parse("Bad=1").is_err());
        assert!(TraceState::parse("ot=th:8;rv").is_err());
        assert_eq!(TraceState::parse("").unwrap().serialize(), "");
        assert_eq!(
            TraceState::parse("rojo=1,congo=2").unwrap().serialize(),
            "rojo=1,congo=2"
        );
        assert_eq!(
            TraceState::parse("ot=foo:bar").unwrap().serialize(),
            "ot=foo:bar"
        );
    }

    #[test]
    fn hex_digits_match_the_formatter() {
        for v in [
            0,
            1,
            0xabc,
            0x00f0_0000_0000_0001,
            MAX_ADJUSTED_COUNT - 1,
            0x0012_3456_789a_bcde,
        ] {
            assert_eq!(hex14(v), format!("{v:014x}"));
        }
    }
}
