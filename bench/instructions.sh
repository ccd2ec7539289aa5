#!/usr/bin/env bash
# Instructions per GET /output over a real socket, the app against the floor.
#
# Each server runs under valgrind's callgrind twice: once for N requests,
# once for 5N, sent by curl on one kept-alive connection with the app's
# Cookie header. The difference over 4N is the cost of one request, with
# start-up and shutdown cancelled out. Instruction counts repeat where wall
# time does not (within 1-2k between runs: hash seeds and thread wake-ups
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
. bench/common.sh

# The capture the floor replays, from an app outside valgrind.
port=$(free_port)
start_app "$port"
wait_for "http://127.0.0.1:$port/healthz"
log_in "http://127.0.0.1:$port"
kill "$app"; wait "$app" 2>/dev/null || true

# collect SIDE REQUESTS: runs one callgrind'd server for that many requests
# and sets $counted to the instructions it counted. Not run in a subshell,
# so that the trap knows the server's pid whatever happens.
collect() {
  local side=$1 requests=$2 port
  port=$(free_port)
  local url="http://127.0.0.1:$port"
  local grind=(valgrind --tool=callgrind --callgrind-out-file="$work/$side-$requests.out")
  if [ "$side" = app ]; then
    start_app "$port" "${grind[@]}"; pid=$app
    wait_for "$url/output" 600
    # A fresh login: the session is far from its renewal, so no request
    # of the run re-seals it. Both runs pay for it; the difference drops it.
    log_in "$url"
  else
    start_floor "$port" 0 "${grind[@]}"; pid=$floor
    wait_for "$url/output" 600
  fi
  for _ in $(seq "$requests"); do
    printf 'url = "%s/output"\noutput = /dev/null\n' "$url"
  done >"$work/urls"
  local codes
  codes=$(curl -fs -H "Cookie: $cookie" -K "$work/urls" -w '%{http_code}\n' | sort | uniq -c | tr -s ' ')
  [ "$codes" = " $requests 200" ] || { echo "bench: $side answered$codes" >&2; exit 1; }
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  counted=$(awk '/^summary:/ {print $2}' "$work/$side-$requests.out")
}

echo "bench: instructions per GET /output, callgrind, ($((5 * N)) - $N) requests over a socket"
for side in app floor; do
  collect "$side" "$N"; low=$counted
  collect "$side" $((5 * N)); high=$counted
  echo "$side: $(( (high - low) / (4 * N) ))"
done
