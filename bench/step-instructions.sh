#!/usr/bin/env bash
# Instructions per request for every step of the flow, the app against its
# peer (bench/peer.rs), each server under valgrind's callgrind.
#
# bench/steps.rs sends N requests of a step on one keep-alive connection.
# Its preparation (logging in, and for logout one session per request) is
# not counted: callgrind's counts are zeroed just before the first timed
# request and dumped after the last (callgrind_control), so the dump holds
# the timed part alone. Counts repeat within about 1% where wall time does
# not; they do not show cache misses or the wait for the disk (a logout's
# fsync), which wall time pays for too.
#
# Usage: bench/step-instructions.sh [N (500)]
# Environment: STEPS (output login set delete logout); KEEP=DIR keeps each
# callgrind file there (DIR/app-login.cg, ...), for callgrind_annotate;
# APP_BIN counts another server in the app's place (bench/steps.sh).
# Needs: valgrind (callgrind_control comes with it), curl.
set -euo pipefail
# KEEP names a folder from where the script was started.
if [ -n "${KEEP:-}" ]; then KEEP=$(realpath -m "$KEEP"); fi
cd "$(dirname "$0")/.."

N="${1:-500}"
STEPS=${STEPS:-output login set delete logout}
for tool in valgrind callgrind_control curl cargo python3; do
  command -v "$tool" >/dev/null || { echo "bench: missing $tool (Debian: apt-get install valgrind curl)" >&2; exit 2; }
done

cargo build --release --quiet --bin session_app --example peer --example guarded --example steps
. bench/common.sh

# count SIDE STEP: the instructions of N requests of STEP on one server
# started under callgrind; sets $counted.
count() {
  local side=$1 step=$2 port url pid out="$work/$1-$2.cg"
  local grind=(valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$out")
  if [ "$side" = app ]; then
    port=$(free_port); url="http://127.0.0.1:$port"
    start_app "$port" "${grind[@]}"; pid=$app
    wait_for "$url/" 600
  else
    start_peer "${grind[@]}"; pid=$peer; url=$peer_url
  fi
  STEPS_BEFORE="callgrind_control -z $pid >/dev/null 2>&1" \
  STEPS_AFTER="callgrind_control -d $pid >/dev/null 2>&1" \
    target/release/examples/steps "$url" "$side" "$step" 1 "x$N" "$pid" >"$work/line"
  grep -q ' errors 0$' "$work/line" || { echo "bench: $side $step: $(cat "$work/line")" >&2; exit 1; }
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  counted=$(awk '/^summary:/ {print $2}' "$out.1")
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$out.1" "$KEEP/$side-$step.cg"; fi
}

echo "bench: instructions per request, callgrind, $N requests of each step on one connection, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-7s %9s %9s %7s %9s\n' step app peer ratio "app-peer"
for step in $STEPS; do
  count app "$step"; a=$((counted / N))
  count peer "$step"; p=$((counted / N))
  printf '%-7s %9s %9s %7s %9s\n' "$step" "$a" "$p" "$(awk -v a="$a" -v p="$p" 'BEGIN {printf "%.3f", p / a}')" $((a - p))
done
echo "(ratio: peer / app, the throughput ratio the counts alone would give)"
