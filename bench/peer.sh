#!/usr/bin/env bash
# The app's session page against a peer's: GET /output on the app against
# the same page of bench/peer.rs, a session kept the way Rocket's own
# examples/cookies keeps one (a private cookie, a handlebars page). Both run
# at once, in the release profile; wrk loads each in turn (-t1 -c64), in
# interleaved rounds. Printed: each run's req/s, p99, server CPU per
# request, the median of the per-round ratios, and PASS or MISS for the
# target (>= 0.80 of the peer). A benchmark, not a test.
#
# BASELINE=path/to/an/older/session_app adds it as a third side of every
# round, so that a change is measured against the code before it in the
# same run.
#
# Usage: bench/peer.sh [rounds (5)] [seconds per run (4)] [connections (64)]
# Needs: wrk and curl (apt-get install wrk curl). It installs nothing itself.
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/common.sh
load_arguments "$@"

cargo build --release --quiet --bin session_app --example peer

app_port=$(free_port)
start_app "$app_port"
app_url="http://127.0.0.1:$app_port"
wait_for "$app_url/healthz"
log_in "$app_url"
sides="app peer"

baseline="${BASELINE:-}"
if [ -n "$baseline" ]; then
  base_port=$(free_port)
  app_pid=$app
  APP_BIN="$baseline" start_app "$base_port"
  base=$app; app=$app_pid
  base_url="http://127.0.0.1:$base_port"
  wait_for "$base_url/healthz"
  # Its own login: an older version may not read the app's cookies.
  log_in "$base_url"; base_cookie=$cookie
  log_in "$app_url"
  sides="$sides baseline"
fi

start_peer
curl -fs -c "$work/peer-jar" -o /dev/null --data-urlencode "name=山田太郎" "$peer_url/login"
peer_cookie="user=$(awk '$6 == "user" {print $7}' "$work/peer-jar")"
curl -fs -H "Cookie: $peer_cookie" "$peer_url/output" | grep -q "山田太郎" \
  || { echo "bench: the peer's session page does not show the name" >&2; exit 1; }

echo "bench: $(nproc) cores, $ROUNDS interleaved rounds, wrk -t1 -c$CONNECTIONS -d${DURATION}s each, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-6s %-16s %12s %10s %12s %8s\n' round side "req/s" "p99 ms" "CPU µs/req" non-2xx
ratios=(); base_ratios=(); app_p99s=(); peer_p99s=(); base_p99s=(); bad_total=0
for round in $(seq "$ROUNDS"); do
  # Each side goes first in turn.
  order=$(echo $sides | awk -v r="$round" '{for (i = 0; i < NF; i++) printf "%s ", $((i + r - 1) % NF + 1)}')
  for side in $order; do
    case $side in
      app) load "app$round" "$app" "$app_url/output" -H "Cookie: $cookie"
           app_rps=$rps; app_p99s+=("$p99") ;;
      peer) load "peer$round" "$peer" "$peer_url/output" -H "Cookie: $peer_cookie"
            peer_rps=$rps; peer_p99s+=("$p99") ;;
      baseline) load "base$round" "$base" "$base_url/output" -H "Cookie: $base_cookie"
                base_rps=$rps; base_p99s+=("$p99") ;;
    esac
    bad_total=$((bad_total + bad))
    printf '%-6s %-16s %12s %10s %12s %8s\n' "$round" "$side /output" "$rps" "$p99" "$cpu" "$bad"
  done
  ratios+=("$(awk -v a="$app_rps" -v p="$peer_rps" 'BEGIN {printf "%.3f", a / p}')")
  if [ -n "$baseline" ]; then
    base_ratios+=("$(awk -v a="$base_rps" -v p="$peer_rps" 'BEGIN {printf "%.3f", a / p}')")
  fi
done

ratio=$(median "${ratios[@]}")
app_p99=$(median "${app_p99s[@]}"); peer_p99=$(median "${peer_p99s[@]}")
echo "per-round /output ratios (app / peer): ${ratios[*]}"
echo "median /output ratio: $ratio; median p99: app $app_p99 ms, peer $peer_p99 ms (x$(awk -v a="$app_p99" -v p="$peer_p99" 'BEGIN {printf "%.2f", a / p}'))"
if [ -n "$baseline" ]; then
  echo "per-round /output ratios (baseline / peer): ${base_ratios[*]}; median $(median "${base_ratios[@]}"); median p99 $(median "${base_p99s[@]}") ms"
fi
verdict "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.80)}')" "/output reaches >= 0.80 of the peer's session page ($ratio)"
verdict "$(( bad_total == 0 ))" "no non-2xx/3xx answers ($bad_total)"
