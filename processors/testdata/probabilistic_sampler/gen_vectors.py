#!/usr/bin/env python3
"""Independent reference for the probabilistic_sampler's hash_seed mode (otelcol-compat.md §5).

Writes hash_seed_vectors.csv: for pseudo-random trace ids and several seeds and percentages,
the FNV-1a 32 hash, the 14-bit bucket, the decision, and the tracestate otelcol writes on a
sampled span that arrived without one (`ot=rv:<R>;th:<T>`). Written from the rules in the
reference, not from the Rust code: the Rust test compares every row.

Also writes consistent_vectors.tsv for the proportional and equalizing modes (OTEP 235): trace
ids with and without an arriving `rv`, with and without an arriving `th` (always consistent with
the randomness), other vendors' entries, several percentages and precisions; the decision and the
tracestate written on a sampled span (`rv` kept as it came, then the new `th`; other vendors'
entries after `ot`).

Run: python3 gen_vectors.py  (deterministic; no dependencies)
"""
import csv
import math
import random
import struct
from fractions import Fraction
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


# --- proportional and equalizing (OTEP 235) ----------------------------------------------------

MAX_ADJUSTED = 1 << 56  # thresholds and randomness are 56-bit


def probability_to_threshold(p: float, precision: int):
    """The rejection threshold of probability p, or None when p is out of range (underflow)."""
    if p < 2.0 ** -56 or p > 1:
        return None
    if p == 1:
        return 0
    # One more hex digit of precision per leading 0 hex digit of the rejection probability
    # 1 - p (a leading 0 of T). otelcol's pkg/sampling does not do the same for leading f
    # digits (small p): 1% at precision 1 rounds T up to 2^56, which never samples.
    reject = 1 - p
    while reject * 16 < 1:
        reject *= 16
        precision += 1
    assert precision <= 14, "precision underflow is not covered by these vectors"
    # round(p * 2^56), half away from zero; the product is exact in a double.
    scaled = math.floor(Fraction(p) * MAX_ADJUSTED + Fraction(1, 2))
    t = MAX_ADJUSTED - scaled
    shift = 4 * (14 - precision)
    if shift:
        t = ((t + (1 << (shift - 1))) >> shift) << shift
    return t


def threshold_probability(t: int) -> float:
    return float(MAX_ADJUSTED - t) / float(MAX_ADJUSTED)


def consistent_decide(mode, pct, precision, trace_id: bytes, rv, th_in):
    """(sampled, th written) for a span whose randomness is `rv` (hex) or the trace id's low 56
    bits, arriving with threshold `th_in` (int or None, consistent with the randomness)."""
    r = int(rv, 16) if rv is not None else int.from_bytes(trace_id[9:], "big")
    ratio = f32(pct) / 100.0
    if mode == "equalizing":
        t = probability_to_threshold(min(ratio, 1.0), precision)
    else:
        incoming = threshold_probability(th_in) if th_in is not None else 1.0
        t = probability_to_threshold(incoming * ratio, precision)
    if t is None or t > r:
        return False, None
    # A threshold is never lowered below the arriving one (that would raise the probability).
    if th_in is not None and th_in > t:
        t = th_in
    return True, t


def consistent_rows(rng):
    vendor = "congo=t61rcWkgMzE"
    pcts = [10, 25, 33.3, 1, 50, 66.6, 0.01, 90, 100]
    precisions = [4, 1, 3, 14]
    rows = []
    for i in range(6000):
        mode = "proportional" if i % 2 else "equalizing"
        pct = pcts[(i // 2) % len(pcts)]
        if mode == "proportional" and pct == 100:
            pct = 75
        precision = precisions[(i // 18) % len(precisions)]
        tid = rng.getrandbits(128).to_bytes(16, "big")
        shape = i % 5
        rv = "%014x" % rng.getrandbits(56) if shape in (1, 3) else None
        r = int(rv, 16) if rv else int.from_bytes(tid[9:], "big")
        th_in = None
        if shape in (2, 3):
            digits = rng.randint(1, 4)
            shift = 4 * (14 - digits)
            th_in = (r >> shift) << shift  # <= r: consistent
        ot = []
        if rv:
            ot.append("rv:" + rv)
        if th_in is not None:
            ot.append("th:" + tvalue(th_in))
        entries = ["ot=" + ";".join(ot)] if ot else []
        if shape == 4 or (shape == 1 and i % 3 == 0):
            entries.append(vendor)
        ts_in = ",".join(entries)
        sampled, t = consistent_decide(mode, pct, precision, tid, rv, th_in)
        ts_out = ""
        if sampled:
            ot_out = (["rv:" + rv] if rv else []) + ["th:" + tvalue(t)]
            ts_out = ",".join(["ot=" + ";".join(ot_out)] + ([vendor] if vendor in ts_in else []))
        rows.append((mode, pct, precision, tid.hex(), ts_in, "true" if sampled else "false", ts_out))
    return rows


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

    rows = consistent_rows(random.Random(20240602))
    out = Path(__file__).with_name("consistent_vectors.tsv")
    with out.open("w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["mode", "percentage", "precision", "trace_id", "tracestate_in", "sampled", "tracestate_out"])
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
