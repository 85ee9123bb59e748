#!/usr/bin/env python3
"""Independent reference for the probabilistic_sampler's hash_seed mode (otelcol-compat.md §5).

Writes hash_seed_vectors.csv: for pseudo-random trace ids and several seeds and percentages,
the FNV-1a 32 hash, the 14-bit bucket, the decision, and the tracestate otelcol writes on a
sampled span that arrived without one (`ot=rv:<R>;th:<T>`). Written from the rules in the
reference, not from the Rust code: the Rust test compares every row.

Run: python3 gen_vectors.py  (deterministic; no dependencies)
"""
import csv
import random
import struct
from pathlib import Path

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


def fnv1a32(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & 0xFFFFFFFF
    return h


def f32(x: float) -> float:
    """Round a double to the nearest float32 (Go's float32 conversion)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def scaled_rate(pct: float) -> int:
    # uint32(float32(pct) * float32(163.84)): the product of two float32 values is exact in a
    # double, so rounding it once to float32 is IEEE float32 multiplication; then truncate.
    pct = min(f32(pct), 100.0)
    return int(f32(f32(pct) * f32(163.84)))


def tvalue(t: int) -> str:
    if t == 0:
        return "0"
    return ("%014x" % t).rstrip("0")


def decide(trace_id: bytes, seed: int, pct: float):
    h = fnv1a32(struct.pack("<I", seed) + trace_id)
    hashed = h & 0x3FFF
    scaled = scaled_rate(pct)
    sampled = scaled > 0 and hashed < scaled
    tracestate = ""
    if sampled:
        u18 = h >> 14
        rnd = ((16383 - hashed) << 42) | ((u18 ^ (u18 << 10)) << 14) | hashed
        threshold = (16384 - scaled) << 42
        tracestate = "ot=rv:%014x;th:%s" % (rnd, tvalue(threshold))
    return h, hashed, sampled, tracestate


def main():
    rng = random.Random(20240601)
    seeds = [0, 1, 22, 12345, 0xFFFFFFFF]
    pcts = [10, 25, 33.3, 1, 50, 99.99, 0.01, 0.005, 100, 15.3]
    rows = []
    # The reference's own test vectors first.
    for tid, seed in [
        ("4bf92f3577b34da6a3ce929d0e0e4736", 0),
        ("4bf92f3577b34da6a3ce929d0e0e4736", 22),
        ("0102030405060708090a0b0c0d0e0f10", 0),
        ("00000000000000000000000000000001", 0),
    ]:
        rows.append((tid, seed, 25))
    for i in range(10000):
        tid = rng.getrandbits(128).to_bytes(16, "big")
        if tid == bytes(16):
            continue
        rows.append((tid.hex(), seeds[i % len(seeds)], pcts[(i // len(seeds)) % len(pcts)]))
    out = Path(__file__).with_name("hash_seed_vectors.csv")
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["trace_id", "seed", "percentage", "fnv32a", "hashed", "sampled", "tracestate"])
        for tid, seed, pct in rows:
            h, hashed, sampled, ts = decide(bytes.fromhex(tid), seed, pct)
            w.writerow([tid, seed, pct, h, hashed, "true" if sampled else "false", ts])
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
