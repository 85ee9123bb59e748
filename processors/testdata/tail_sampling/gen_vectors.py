#!/usr/bin/env python3
"""Independent reference for the tail_sampling `probabilistic` policy (otelcol-compat.md §6).

Writes probabilistic_vectors.csv: for trace ids, salts and percentages, the FNV-1a 64 hash of
`salt bytes || 16 trace-id bytes`, otelcol's threshold `uint64(big.Float(MaxUint64) * ratio)`
(the product rounded to a 64-bit mantissa, ties to even, then truncated) and the decision
`hash <= threshold`. An empty salt means otelcol's default "default-hash-seed". Written from the
rules in the reference with exact rational arithmetic, not from the Rust code: the Rust test
compares every row.

Run: python3 gen_vectors.py  (deterministic; no dependencies)
"""
import csv
import random
from fractions import Fraction
from pathlib import Path

FNV64_OFFSET = 0xCBF29CE484222325
FNV64_PRIME = 0x100000001B3
MAX_U64 = 2**64 - 1
DEFAULT_SALT = "default-hash-seed"


def fnv1a64(data: bytes) -> int:
    h = FNV64_OFFSET
    for b in data:
        h ^= b
        h = (h * FNV64_PRIME) & MAX_U64
    return h


def round_to_bits(x: Fraction, bits: int) -> Fraction:
    """Round a positive rational to `bits` significant bits, ties to even."""
    e = 0
    while x >= 2**bits:
        x /= 2
        e += 1
    while x < 2 ** (bits - 1):
        x *= 2
        e -= 1
    q, r = divmod(x.numerator, x.denominator)
    rem = Fraction(r, x.denominator)
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and q % 2 == 1):
        q += 1
    return Fraction(q) * Fraction(2) ** e


def threshold(pct: float) -> int:
    ratio = pct / 100.0  # float64, as otelcol divides
    if ratio <= 0:
        return 0
    product = round_to_bits(Fraction(MAX_U64) * Fraction(ratio), 64)
    return min(int(product), MAX_U64)  # int() truncates; big.Float.Uint64 saturates


def main():
    rng = random.Random(20260801)
    salts = [DEFAULT_SALT, "", "my-salt", "tenant-b"]
    pcts = [0.01, 1, 10, 25, 33.3, 50, 99.9, 100, 15.3, 0]
    ids = ["4bf92f3577b34da6a3ce929d0e0e4736", "0102030405060708090a0b0c0d0e0f10",
           "00000000000000000000000000000001"]
    ids += [rng.getrandbits(128).to_bytes(16, "big").hex() for _ in range(397)]
    out = Path(__file__).with_name("probabilistic_vectors.csv")
    rows = 0
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["trace_id", "salt", "percentage", "hash", "threshold", "sampled"])
        for i, tid in enumerate(ids):
            salt = salts[i % len(salts)]
            pct = pcts[(i // len(salts)) % len(pcts)]
            h = fnv1a64((salt or DEFAULT_SALT).encode() + bytes.fromhex(tid))
            t = threshold(pct)
            w.writerow([tid, salt, pct, "%016x" % h, "%016x" % t, "true" if h <= t else "false"])
            rows += 1
    for pct, want in [(25, 0x3FFFFFFFFFFFFFFF), (50, 0x7FFFFFFFFFFFFFFF), (10, 0x19999999999999FF)]:
        assert threshold(pct) == want, (pct, hex(threshold(pct)))
    print(f"wrote {rows} rows to {out}")


if __name__ == "__main__":
    main()
