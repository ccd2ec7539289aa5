#!/usr/bin/env bash
# Logout benchmark: the app's resident memory under browsers that log in
# and out, against the same browsers only logging in, and (mode every)
# browsers that also set and delete an entry each loop.
#
# For each mode, login then logout, a fresh release app (bench/common.sh's
# start_app: a free port, an empty revocation store of its own) serves
# bench/browsers.rs's browsers over real HTTP/1.1 on loopback: each loops
# GET /, POST /login, GET /output, and in mode logout POST /logout with the
# same cookie jar (in mode login, a new browser every loop). Printed, per
# mode: the loops and errors, the app's resident memory before (VmRSS) and
# after (VmRSS, VmHWM), its threads after, and the revocations its store
# file holds at the end (its lines); then the verdict on the logout peak.
# A benchmark, not a test: figures vary with the machine.
#
# Usage: bench/logout.sh [browsers (16)] [seconds (60)]
# MODES="every" runs some modes only (login, logout, every).
# Needs: curl (apt-get install curl). It installs nothing itself.
# Any error from a browser (an unexpected status, a logout not recorded)
# fails the run, after its figures are printed.
set -euo pipefail
cd "$(dirname "$0")/.."

BROWSERS="${1:-16}"
SECONDS_EACH="${2:-60}"
TARGET_MIB=48
# Issue 26: every step (an entry set and deleted too) for 3 minutes.
EVERY_TARGET_MIB=32
MODES=${MODES:-login logout every}

missing=()
for tool in curl cargo python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: missing ${missing[*]} (Debian: apt-get install curl)" >&2
  exit 2
fi

cargo build --release --quiet --bin session_app --example browsers
. bench/common.sh

mib() { awk -v k="$2:" '$1 == k {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
threads() { awk '$1 == "Threads:" {print $2}' "/proc/$1/status"; }

echo "bench: $(nproc) cores, $BROWSERS browsers for ${SECONDS_EACH} s per mode, $(date -u +%Y-%m-%dT%H:%MZ)"
failed=0
for mode in $MODES; do
  port=$(free_port)
  start_app "$port"
  wait_for "http://127.0.0.1:$port/healthz"
  before=$(mib "$app" VmRSS)
  status=0
  target/release/examples/browsers "$port" "$BROWSERS" "$SECONDS_EACH" "$mode" \
    >"$work/browsers-$mode.out" 2>"$work/browsers-$mode.err" || status=$?
  after=$(mib "$app" VmRSS); peak=$(mib "$app" VmHWM); held_threads=$(threads "$app")
  store="$work/revoked-$port"
  held=$(if [ -f "$store" ]; then wc -l <"$store"; else echo 0; fi)
  counts=$(sed -n 's/^browsers: [a-z]* //p' "$work/browsers-$mode.out")
  printf '%-7s %s; resident before %s MiB, after %s MiB, peak %s MiB; %s threads; %s revocations held\n' \
    "$mode:" "${counts:-no counts}" "$before" "$after" "$peak" "$held_threads" "$held"
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "bench: the $mode browsers failed (exit $status):" >&2
    cat "$work/browsers-$mode.err" >&2
  fi
  if [ "$mode" = logout ]; then logout_peak=$peak; fi
  if [ "$mode" = every ]; then every_peak=$peak; fi
  kill "$app"; wait "$app" 2>/dev/null || true
done

if [ -n "${logout_peak:-}" ]; then
  verdict=$(awk -v p="$logout_peak" -v t="$TARGET_MIB" 'BEGIN {print (p < t) ? "PASS" : "MISS"}')
  echo "logout: peak resident $logout_peak MiB (target < $TARGET_MIB MiB: $verdict)"
fi
if [ -n "${every_peak:-}" ]; then
  verdict=$(awk -v p="$every_peak" -v t="$EVERY_TARGET_MIB" 'BEGIN {print (p < t) ? "PASS" : "MISS"}')
  echo "every step: peak resident $every_peak MiB (target < $EVERY_TARGET_MIB MiB: $verdict)"
fi
exit "$failed"
