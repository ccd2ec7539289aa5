#!/usr/bin/env bash
# Load benchmark: builds the release binary, starts it on loopback, logs in
# once, and measures with wrk (requests/s, p99 latency, non-2xx/3xx count)
#   GET /healthz, the authenticated GET /output, GET /, the POST /login round,
# then prints the ratio of /output to /healthz and the peak resident memory.
# A benchmark, not a test: figures vary with the machine and its load.
#
# Usage: bench/load.sh [seconds per run (10)] [connections (64)] [wrk threads (2)]
# Needs: wrk, curl (apt-get install wrk curl). It installs nothing itself.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
THREADS="${3:-2}"

missing=()
for tool in wrk curl cargo; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: missing ${missing[*]} (Debian: apt-get install wrk curl)" >&2
  exit 2
fi

cargo build --release --quiet
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

# Release profile, configured by the environment alone; logging off so the
# figures measure the app, not the terminal.
ROCKET_PROFILE=release \
ROCKET_SECRET_KEY="$(head -c 32 /dev/urandom | base64)" \
ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT="$port" ROCKET_LOG_LEVEL=off \
  target/release/session_app >"$work/app.log" 2>&1 &
app=$!
cleanup() { kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "$base/healthz" >/dev/null || { echo "bench: the app did not start" >&2; cat "$work/app.log" >&2; exit 1; }

# Resident memory, sampled while the runs go.
(peak=0; while kill -0 "$app" 2>/dev/null; do
   rss=$(awk '/VmRSS/ {print $2}' "/proc/$app/status" 2>/dev/null || echo 0)
   [ "${rss:-0}" -gt "$peak" ] && peak=$rss && echo "$peak" >"$work/rss"
   sleep 0.2
 done) &
sampler=$!

cookie_of() { awk -v n="$1" '$6 == n {print $7}' "$work/jar"; }
login_once() {
  rm -f "$work/jar"
  token=$(curl -fs -c "$work/jar" "$base/" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
  curl -fs -b "$work/jar" -c "$work/jar" -o /dev/null --data-urlencode "name=山田太郎" \
    --data-urlencode "csrf_token=$token" "$base/login"
  # Login issues a new CSRF token: read it back, as the next page would.
  token=$(curl -fs -b "$work/jar" -c "$work/jar" "$base/" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
  csrf=$(cookie_of csrf); session=$(cookie_of session)
  [ -n "$token" ] && [ -n "$csrf" ] && [ -n "$session" ] || { echo "bench: login failed" >&2; exit 1; }
}

cat >"$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "name=%E5%B1%B1%E7%94%B0%E5%A4%AA%E9%83%8E&csrf_token=" .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "csrf=" .. os.getenv("BENCH_CSRF")
LUA

# run NAME PATH [wrk args...]: one wrk run, one summary line.
run() {
  local name=$1 path=$2; shift 2
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$base$path" >"$work/$name.out"
  local rps p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$name.out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/$name.out")
  bad=$(awk '/Non-2xx or 3xx/ {print $5}' "$work/$name.out"); bad=${bad:-0}
  errors=$(awk '/Socket errors/ {print}' "$work/$name.out")
  printf '%-24s %12s req/s   p99 %8.3f ms   non-2xx/3xx %s %s\n' "$name" "$rps" "$p99" "$bad" "$errors"
  eval "rps_$name=$rps; p99_$name=$p99; bad_$name=$bad"
}

echo "bench: $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $(date -u +%Y-%m-%dT%H:%MZ)"
login_once
run healthz /healthz
login_once
run output /output -H "Cookie: session=$session; csrf=$csrf"
run index / -H "Cookie: csrf=$csrf"
BENCH_TOKEN=$token BENCH_CSRF=$csrf run login /login -s "$work/login.lua"

kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
rss_kib=$(cat "$work/rss" 2>/dev/null || echo 0)
hwm_kib=$(awk '/VmHWM/ {print $2}' "/proc/$app/status")
ratio=$(awk -v a="$rps_output" -v b="$rps_healthz" 'BEGIN {printf "%.3f", a / b}')
awk -v r="$rss_kib" -v h="$hwm_kib" 'BEGIN {printf "resident memory: peak sampled %.1f MiB, high-water mark %.1f MiB\n", r/1024, h/1024}'
echo "ratio /output to /healthz: $ratio"

verdict() { if [ "$1" = 1 ]; then echo "PASS  $2"; else echo "MISS  $2"; fi; }
verdict "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.85)}')" "/output reaches >= 0.85 of /healthz throughput ($ratio)"
verdict "$(awk -v p="$p99_output" 'BEGIN {print (p < 2)}')" "/output p99 under 2 ms at $CONNECTIONS connections (${p99_output} ms)"
verdict "$(awk -v h="$hwm_kib" 'BEGIN {print (h < 32768)}')" "resident memory under 32 MiB ($((hwm_kib / 1024)) MiB)"
verdict "$(( bad_healthz + bad_output + bad_index + bad_login == 0 ))" "no non-2xx/3xx answers"
