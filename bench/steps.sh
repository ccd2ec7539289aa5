#!/usr/bin/env bash
# Every step of the flow against a peer of its own, in one interleaved run:
# GET /output, POST /login, POST /session/set, POST /session/delete and
# POST /logout on the app, each against the same step of bench/peer.rs (a
# session kept the way Rocket's examples/cookies keeps one). Both run at
# once, in the release profile; bench/steps.rs loads each in turn from
# $CONNECTIONS keep-alive connections, in interleaved rounds. Logout takes
# a session of its own per request, logged in before the clock starts:
# LOGOUTS of them per side and round. The last, `flow`, is the whole flow:
# each connection a browser looping log in, its page, log out (flows/s). Printed: each run's req/s, p99,
# server CPU per request, then per step the median ratio (app / peer) and
# PASS or MISS for the targets of issue 26 (>= 0.90 and p99 <= 1.2x; logout
# >= 0.70; the flow >= 0.80). A benchmark, not a test.
#
# Usage: bench/steps.sh [rounds (5)] [seconds per run (4)] [connections (64)]
# Environment: LOGOUTS (20000), FLOW_BROWSERS (16, each on one connection),
# STEPS (all six, e.g. "login logout"), APP_BIN (another server in the
# app's place: target/release/examples/guarded is the peer with only the
# issue's must-holds, see bench/guarded.rs).
# It installs nothing itself.
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/common.sh
load_arguments "$@"
LOGOUTS=${LOGOUTS:-20000}
FLOW_BROWSERS=${FLOW_BROWSERS:-16}
STEPS=${STEPS:-output login set delete logout flow}

cargo build --release --quiet --bin session_app --example peer --example guarded --example steps

app_port=$(free_port)
start_app "$app_port"
app_url="http://127.0.0.1:$app_port"
wait_for "$app_url/healthz"

start_peer

# run SIDE STEP: one run; sets rps, p99, cpu, errors.
run() {
  local side=$1 step=$2 url pid amount connections=$CONNECTIONS
  case $side in app) url=$app_url; pid=$app ;; peer) url=$peer_url; pid=$peer ;; esac
  amount=$DURATION
  [ "$step" = logout ] && amount="x$LOGOUTS"
  [ "$step" = flow ] && connections=$FLOW_BROWSERS
  local line
  line=$(target/release/examples/steps "$url" "$side" "$step" "$connections" "$amount" "$pid")
  rps=$(echo "$line" | awk '{for (i = 1; i < NF; i++) if ($i == "rps") print $(i + 1)}')
  p99=$(echo "$line" | awk '{for (i = 1; i < NF; i++) if ($i == "p99_ms") print $(i + 1)}')
  cpu=$(echo "$line" | awk '{for (i = 1; i < NF; i++) if ($i == "cpu_us") print $(i + 1)}')
  errors=$(echo "$line" | awk '{for (i = 1; i < NF; i++) if ($i == "errors") print $(i + 1)}')
}

echo "bench: $(nproc) cores, $ROUNDS interleaved rounds, $CONNECTIONS connections ($FLOW_BROWSERS browsers for the flow), ${DURATION}s per run ($LOGOUTS sessions per logout run), $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-6s %-7s %-5s %10s %9s %11s %7s\n' round step side "req/s" "p99 ms" "CPU µs/req" errors
declare -A ratios p99_app p99_peer cpu_app cpu_peer
error_total=0
for round in $(seq "$ROUNDS"); do
  for step in $STEPS; do
    # Each side goes first in turn.
    if (( round % 2 )); then order="app peer"; else order="peer app"; fi
    for side in $order; do
      run "$side" "$step"
      printf '%-6s %-7s %-5s %10s %9s %11s %7s\n' "$round" "$step" "$side" "$rps" "$p99" "$cpu" "$errors"
      error_total=$((error_total + errors))
      eval "${side}_rps=\$rps"
      case $side in
        app) p99_app[$step]+="$p99 "; cpu_app[$step]+="$cpu " ;;
        peer) p99_peer[$step]+="$p99 "; cpu_peer[$step]+="$cpu " ;;
      esac
    done
    ratios[$step]+="$(awk -v a="$app_rps" -v p="$peer_rps" 'BEGIN {printf "%.3f", a / p}') "
  done
done

echo
printf '%-7s %-34s %7s %16s %18s\n' step "ratios (app / peer)" median "p99 app/peer ms" "CPU app/peer µs"
for step in $STEPS; do
  # shellcheck disable=SC2086
  ratio=$(median ${ratios[$step]})
  # shellcheck disable=SC2086
  pa=$(median ${p99_app[$step]}); pp=$(median ${p99_peer[$step]})
  # shellcheck disable=SC2086
  ca=$(median ${cpu_app[$step]}); cp=$(median ${cpu_peer[$step]})
  printf '%-7s %-34s %7s %16s %18s\n' "$step" "${ratios[$step]}" "$ratio" "$pa/$pp" "$ca/$cp"
  if [ "$step" = logout ]; then
    verdict "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.70)}')" "logout reaches >= 0.70 of the peer's ($ratio)"
  elif [ "$step" = flow ]; then
    verdict "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.80)}')" "the whole flow reaches >= 0.80 of the peer's ($ratio)"
  else
    verdict "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.90)}')" "$step reaches >= 0.90 of the peer's ($ratio)"
    verdict "$(awk -v a="$pa" -v p="$pp" 'BEGIN {print (a <= 1.2 * p)}')" "$step p99 within 1.2x of the peer's (x$(awk -v a="$pa" -v p="$pp" 'BEGIN {printf "%.2f", a / p}'))"
  fi
done
verdict "$(( error_total == 0 ))" "every answer as a browser would get it ($error_total errors)"
