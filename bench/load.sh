#!/usr/bin/env bash
# Load benchmark: the app's GET /output against a floor, side by side.
#
# The floor (bench/floor.rs) is a plain Rocket app on the same Rocket and
# allocator that replays the app's own GET /output bytes and headers,
# captured from the running app. Both run at once; wrk loads each in turn
# (-t1 -c64), in interleaved rounds, with the app's Cookie header. Printed:
# the median of the per-round throughput ratios, each side's p99, server
# CPU per request, peak resident memory, non-2xx counts, the login round
# (GET / with its token, POST /login) against the floor, and PASS or MISS
# for each target. A benchmark, not a test: figures vary with the machine.
#
# Usage: bench/load.sh [rounds (5)] [seconds per run (4)] [connections (64)]
# Needs: wrk and curl (apt-get install wrk curl). It installs nothing itself.
#
# FLOOR_BURN=N adds a third side to every round: the floor spending N rounds
# of arithmetic per request (bench/floor.rs), a yardstick for what a given
# amount of CPU per request does to throughput and to p99, whatever spends it.
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/common.sh
load_arguments "$@"

cargo build --release --quiet --bin session_app --example floor
app_port=$(free_port)
floor_port=$(free_port)
app_url="http://127.0.0.1:$app_port"
floor_url="http://127.0.0.1:$floor_port"

start_app "$app_port"
wait_for "$app_url/healthz"
log_in "$app_url"

# The floor replays the app's own answer to the request wrk will send.
start_floor "$floor_port" 0
wait_for "$floor_url/output"
burn="${FLOOR_BURN:-}"
if [ -n "$burn" ]; then
  burn_port=$(free_port)
  burn_url="http://127.0.0.1:$burn_port"
  plain_floor=$floor
  start_floor "$burn_port" "$burn"
  burner=$floor; floor=$plain_floor
  wait_for "$burn_url/output"
fi
# Same body, same headers (but the date), from each floor.
strip() { grep -iv '^date:' | tr -d '\r'; }
strip <"$work/capture" | sort >"$work/app.sorted"
for url in "$floor_url" ${burn:+"$burn_url"}; do
  curl -fs -i -H "Cookie: $cookie" "$url/output" | strip | sort >"$work/floor.sorted"
  cmp -s "$work/app.sorted" "$work/floor.sorted" || {
    echo "bench: the floor at $url does not replay the app's answer:" >&2
    diff "$work/app.sorted" "$work/floor.sorted" >&2 || true; exit 1; }
done

cat >"$work/login.lua" <<LUA
-- The login round: GET / with the token cookie, then POST /login with the
-- token the page carries, over and over.
local n = 0
request = function()
  n = n + 1
  if n % 2 == 1 then
    return wrk.format("GET", "/", { ["Cookie"] = "csrf=$csrf" })
  end
  return wrk.format("POST", "/login", {
    ["Cookie"] = "csrf=$csrf",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "name=%E5%B1%B1%E7%94%B0%E5%A4%AA%E9%83%8E&csrf_token=$token")
end
LUA

echo "bench: $(nproc) cores, $ROUNDS interleaved rounds, wrk -t1 -c$CONNECTIONS -d${DURATION}s each, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-6s %-12s %12s %10s %12s %8s\n' round side "req/s" "p99 ms" "CPU µs/req" non-2xx
ratios=(); login_ratios=(); app_p99s=(); floor_p99s=(); burn_ratios=(); burn_p99s=(); bad_total=0
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="app floor"; else order="floor app"; fi
  if [ -n "$burn" ]; then order="$order burn"; fi
  for side in $order; do
    if [ "$side" = app ]; then
      load "app$round" "$app" "$app_url/output" -H "Cookie: $cookie"
      app_rps=$rps; app_p99s+=("$p99")
    elif [ "$side" = floor ]; then
      load "floor$round" "$floor" "$floor_url/output" -H "Cookie: $cookie"
      floor_rps=$rps; floor_p99s+=("$p99")
    else
      load "burn$round" "$burner" "$burn_url/output" -H "Cookie: $cookie"
      burn_rps=$rps; burn_p99s+=("$p99")
    fi
    bad_total=$((bad_total + bad))
    printf '%-6s %-12s %12s %10s %12s %8s\n' "$round" "$side /output" "$rps" "$p99" "$cpu" "$bad"
  done
  load "login$round" "$app" "$app_url/" -s "$work/login.lua"
  bad_total=$((bad_total + bad))
  printf '%-6s %-12s %12s %10s %12s %8s\n' "$round" "app login" "$rps" "$p99" "$cpu" "$bad"
  ratios+=("$(awk -v a="$app_rps" -v f="$floor_rps" 'BEGIN {printf "%.3f", a / f}')")
  if [ -n "$burn" ]; then
    burn_ratios+=("$(awk -v a="$burn_rps" -v f="$floor_rps" 'BEGIN {printf "%.3f", a / f}')")
  fi
  login_ratios+=("$(awk -v a="$rps" -v f="$floor_rps" 'BEGIN {printf "%.3f", a / f}')")
done

ratio=$(median "${ratios[@]}")
login_ratio=$(median "${login_ratios[@]}")
app_p99=$(median "${app_p99s[@]}")
floor_p99=$(median "${floor_p99s[@]}")
p99_ratio=$(awk -v a="$app_p99" -v f="$floor_p99" 'BEGIN {printf "%.2f", a / f}')
hwm() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
app_hwm=$(hwm "$app"); floor_hwm=$(hwm "$floor")

echo "per-round /output ratios (app / floor): ${ratios[*]}"
echo "per-round login-round ratios (app login round / floor /output): ${login_ratios[*]}"
echo "median /output ratio: $ratio; median p99: app $app_p99 ms, floor $floor_p99 ms (x$p99_ratio)"
echo "peak resident memory: app $app_hwm MiB, floor $floor_hwm MiB"
if [ -n "$burn" ]; then
  burn_p99=$(median "${burn_p99s[@]}")
  echo "floor burning $burn rounds per request: per-round ratios ${burn_ratios[*]}; median ratio $(median "${burn_ratios[@]}"); median p99 $burn_p99 ms (x$(awk -v a="$burn_p99" -v f="$floor_p99" 'BEGIN {printf "%.2f", a / f}'))"
fi
verdict "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.70)}')" "/output reaches >= 0.70 of the floor ($ratio)"
verdict "$(awk -v r="$p99_ratio" 'BEGIN {print (r <= 1.4)}')" "/output p99 at most 1.4x the floor's (x$p99_ratio)"
verdict "$(awk -v m="$app_hwm" 'BEGIN {print (m < 32)}')" "peak resident memory under 32 MiB ($app_hwm MiB)"
verdict "$(( bad_total == 0 ))" "no non-2xx/3xx answers ($bad_total)"
verdict "$(awk -v r="$login_ratio" 'BEGIN {print (r >= 0.5)}')" "the login round reaches >= 0.5 of the floor ($login_ratio)"
