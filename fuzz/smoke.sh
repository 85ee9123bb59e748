#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 30) each, one job at a time, then
# replays the kept regression inputs on stable. Needs the nightly toolchain and cargo-fuzz
# (`rustup toolchain install nightly && cargo install cargo-fuzz`). Not part of the default CI
# run (it takes minutes); call it from a scheduled job or before a release.
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
  # Seeds: the kept regression inputs.
  if [ -d "regressions/$t" ]; then cp -n regressions/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 >"logs/$t.log" 2>&1 || true
  grep -E "^Done |panicked|SUMMARY|ERROR" "logs/$t.log" | head -5 || true
  if [ -n "$(find "artifacts/$t" -type f 2>/dev/null)" ]; then
    echo "!! $t found a failure: see fuzz/artifacts/$t (copy it to fuzz/regressions/$t once fixed)"
    exit 1
  fi
done
CARGO_TARGET_DIR=target cargo test --manifest-path check/Cargo.toml --quiet
