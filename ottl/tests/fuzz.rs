//! A quick fuzz loop: random token soup and random bytes never make the parser or the compiler
//! panic (a cargo-fuzz target can call `ferrotel_ottl::parse_condition` the same way).

#![allow(clippy::unwrap_used)]

use ferrotel_ottl::{Condition, SpanContext};

const PIECES: &[&str] = &[
    "name",
    "attributes",
    "[\"k\"]",
    "[0]",
    "[-1]",
    ".",
    "resource",
    "==",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    "not",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "=",
    "+",
    "-",
    "*",
    "/",
    "1",
    "-2",
    "1.5",
    ".5",
    "0x0a",
    "0x",
    "\"s\"",
    "\"\\x4",
    "\"",
    "nil",
    "true",
    "false",
    "SPAN_KIND_SERVER",
    "IsMatch",
    "Concat",
    "Split",
    "Len",
    "Substring",
    "set",
    "where",
    " ",
    "\n",
    "é",
    "\\",
    "'",
    "9999999999999999999999",
    "status",
    "code",
    "kind",
];

/// xorshift64*, so the test needs no dependency and is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_token_soup_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let n = 1 + rng.below(14);
        let src: String = (0..n)
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect::<Vec<_>>()
            .join(" ");
        if ferrotel_ottl::parse_condition(&src).is_ok() {
            parsed += 1;
        }
        let _ = ferrotel_ottl::parse_statement(&src);
        let _ = Condition::<SpanContext>::new(&src);
    }
    // The soup is not all rejected: the loop exercises the parser past the first token.
    assert!(parsed > 20, "only {parsed} inputs parsed");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(40);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0x7f) as u8).collect();
        let src = String::from_utf8_lossy(&bytes);
        let _ = ferrotel_ottl::parse_condition(&src);
    }
}
