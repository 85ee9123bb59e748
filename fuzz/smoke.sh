#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 30) each, one job at a time (the kept
# regression inputs are replayed on stable by `cargo test --manifest-path fuzz/check/Cargo.toml`,
# which scripts/test runs). Needs the nightly toolchain and cargo-fuzz
# (`rustup toolchain install nightly && cargo install cargo-fuzz`). scripts/test (CI) runs it with
# FUZZ_SECONDS=10; run it longer before a release (FUZZ_SECONDS=600).
# Usage: fuzz/smoke.sh [target...]     FUZZ_SECONDS=600 fuzz/smoke.sh otlp_json
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-30}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
mkdir -p logs
for t in "${targets[@]}"; do
  echo "== $t (${seconds}s)"
  mkdir -p "corpus/$t"
  # Seeds: valid inputs (fuzz/seeds) and the kept regression inputs.
  for d in seeds regressions; do
    if [ -d "$d/$t" ]; then cp -n "$d/$t"/* "corpus/$t/" 2>/dev/null || true; fi
  done
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 >"logs/$t.log" 2>&1 || true
  grep -E "^Done |panicked|SUMMARY|ERROR" "logs/$t.log" | head -5 || true
  if [ -n "$(find "artifacts/$t" -type f 2>/dev/null)" ]; then
    echo "!! $t found a failure: see fuzz/artifacts/$t (copy it to fuzz/regressions/$t once fixed)"
    exit 1
  fi
done
