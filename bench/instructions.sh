#!/usr/bin/env bash
# Instructions per GET /output over a real socket, the app against the floor.
#
# Each server runs under valgrind's callgrind twice: once for N requests,
# once for 5N, sent by curl on one kept-alive connection with the app's
# Cookie header. The difference over 4N is the cost of one request, with
# start-up and shutdown cancelled out. Instruction counts repeat where wall
# time does not (about ±1k between runs: hash seeds and thread wake-ups
# vary); they do not show cache misses, which wall time pays for too.
#
# Usage: bench/instructions.sh [N (500)]
# Needs: valgrind and curl (apt-get install valgrind curl).
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-500}"
for tool in valgrind curl cargo python3; do
  command -v "$tool" >/dev/null || { echo "bench: missing $tool (Debian: apt-get install valgrind curl)" >&2; exit 2; }
done

cargo build --release --quiet --bin session_app --example floor
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
. bench/common.sh

# The login and the capture the floor replays, from an app outside valgrind.
port=$(free_port)
start_app "$port"
wait_for "http://127.0.0.1:$port/healthz"
log_in "http://127.0.0.1:$port"
kill "$app"; wait "$app" 2>/dev/null || true

# collected SIDE REQUESTS: the instructions one callgrind run counted.
collected() {
  local side=$1 requests=$2 port pid
  port=$(free_port)
  local grind=(valgrind --tool=callgrind --callgrind-out-file="$work/$side-$requests.out")
  if [ "$side" = app ]; then start_app "$port" "${grind[@]}"; pid=$app; else start_floor "$port" 0 "${grind[@]}"; pid=$floor; fi
  wait_for "http://127.0.0.1:$port/output" 600
  for _ in $(seq "$requests"); do
    printf 'url = "http://127.0.0.1:%s/output"\noutput = /dev/null\n' "$port"
  done >"$work/urls"
  local codes
  codes=$(curl -fs -H "Cookie: $cookie" -K "$work/urls" -w '%{http_code}\n' | sort | uniq -c | tr -s ' ')
  [ "$codes" = " $requests 200" ] || { echo "bench: $side answered$codes" >&2; exit 1; }
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  awk '/^summary:/ {print $2}' "$work/$side-$requests.out"
}

echo "bench: instructions per GET /output, callgrind, ($((5 * N)) - $N) requests over a socket"
for side in app floor; do
  low=$(collected "$side" "$N")
  high=$(collected "$side" $((5 * N)))
  echo "$side: $(( (high - low) / (4 * N) ))"
done
