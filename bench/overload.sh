#!/usr/bin/env bash
# The memory_limiter promise at 512 MiB (issue #3) and overload behaviour (issue #6), measured on
# a release build: ferrotel (bench/configs/overload.yaml) exports to a destination that accepts
# TCP connections but never answers (stalled); 16 clients flood it with ~1.2 MB requests for
# FLOOD seconds. Prints ferrotel's peak RSS (VmHWM), the clients' statuses and latency; then the
# destination comes back (a count-only sink on the same port), the queue drains, and a second,
# gentle load must be accepted in full; at last ferrotel shuts down and everything clients were
# told was accepted must have reached the destination.
# `target/release/compare --scenarios g` does the same and reports it in bench/RESULTS.md.
#   cargo build --release -p ferrotel -p ferrotel-bench && bench/overload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${BIN_DIR:-target/release}"
flood="${FLOOD:-30}"
base="${BASE_PORT:-27317}"
grpc="127.0.0.1:$base"; http="127.0.0.1:$((base + 1))"; sink="127.0.0.1:$((base + 2))"
log=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# A stalled destination: the kernel completes the TCP handshake (listen backlog), nobody reads.
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $((base + 2)))); s.listen(1024); time.sleep(3600)" &
stall=$!; pids+=("$stall")
BENCH_GRPC_ENDPOINT=$grpc BENCH_HTTP_ENDPOINT=$http BENCH_SINK_ENDPOINT=$sink \
  "$bin/ferrotel" --config bench/configs/overload.yaml 2>"$log/ferrotel.log" &
fer=$!; pids+=("$fer")
sleep 1
peak=0
( while kill -0 "$fer" 2>/dev/null; do
    r=$(awk '/VmRSS/ {print $2}' "/proc/$fer/status" 2>/dev/null || echo 0); echo "$r"; sleep 0.1
  done ) >"$log/rss" &
pids+=("$!")
echo "== flood: ${flood}s, 16 gRPC clients, 512 spans x ~2.4 KB per request, destination stalled"
"$bin/loadgen" --endpoint "$grpc" --protocol grpc --spans-per-request 512 --payload-bytes 2000 \
  --concurrency 16 --duration "${flood}s" --timeout 5s --json >"$log/flood.json" 2>"$log/flood.txt" || true
cat "$log/flood.txt"
kill -0 "$fer" || { echo "FAIL: ferrotel died"; exit 1; }
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$fer/status")
echo "ferrotel peak RSS (VmHWM): $((hwm / 1024)) MiB (limit 512 MiB)"

echo "== destination back: a count-only sink on the same port; queue drains; gentle load"
kill "$stall"; sleep 0.5
"$bin/ceiling" --listen "$sink" --mode count >"$log/sink.json" 2>"$log/sink.txt" &
sinkpid=$!; pids+=("$sinkpid")
sleep 15
"$bin/loadgen" --endpoint "$grpc" --protocol grpc --spans-per-request 100 --concurrency 2 \
  --duration 5s --rate 5000 --json >"$log/after.json" 2>"$log/after.txt" || true
cat "$log/after.txt"
kill -0 "$fer" || { echo "FAIL: ferrotel died"; exit 1; }
echo "logs and samples in $log"

echo "== nothing accepted is lost: ferrotel shuts down (drains to the sink), then the sink"
kill -TERM "$fer"; wait "$fer" || { echo "FAIL: ferrotel exited with $?"; exit 1; }
kill -TERM "$sinkpid"; wait "$sinkpid" || true
read -r accepted received < <(python3 -c '
import json, sys
acc = sum(json.load(open(f))["items_ok"] for f in sys.argv[1:3])
print(acc, json.loads(open(sys.argv[3]).read().splitlines()[-1])["items"])' \
  "$log/flood.json" "$log/after.json" "$log/sink.json")
echo "accepted by ferrotel (clients got OK): $accepted spans; received by the destination: $received"
status=0
[ "$received" -ge "$accepted" ] || { echo "FAIL: $((accepted - received)) accepted spans lost"; status=1; }
[ "$((hwm / 1024))" -lt 512 ] && echo "RSS bound held" || { echo "FAIL: RSS above 512 MiB"; status=1; }
exit $status
