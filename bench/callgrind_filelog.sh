#!/bin/sh
# Instructions ferrotel spends on scenario (l) (bench/configs/filelog.yaml: file_log with
# json_parser -> memory_limiter -> batch -> otlphttp to the count-only sink), under callgrind:
#   bench/callgrind_filelog.sh [lines] [target dir]    (defaults: 50000, $CARGO_TARGET_DIR or target)
# Prints the total; the profile stays in /tmp/ferrotel-bench/callgrind.out.filelog for
# callgrind_annotate. Build first: cargo build --release -p ferrotel -p ferrotel-bench
set -eu
LINES=${1:-50000}
TARGET=${2:-${CARGO_TARGET_DIR:-target}}
OUT=/tmp/ferrotel-bench/callgrind.out.filelog
mkdir -p /tmp/ferrotel-bench
"$TARGET/release/compare_filelog" --lines "$LINES" --rounds 1 \
  --work-dir /tmp/ferrotel-bench/filelog-cg \
  --wrap "valgrind -q --tool=callgrind --callgrind-out-file=$OUT" >/dev/null
callgrind_annotate "$OUT" | grep -m1 "PROGRAM TOTALS"
