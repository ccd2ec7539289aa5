# Shared by bench/load.sh, bench/peer.sh and bench/instructions.sh (sourced, not run,
# from the repository's root). Makes $work, a scratch folder, and stops
# every server started here (their pids in the pids array) when the
# script exits, however it exits.

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for URL [tries of 0.1 s (100)]
wait_for() {
  for _ in $(seq "${2:-100}"); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: $1 did not answer" >&2; cat "$work"/*.log >&2; exit 1
}

# One key for every app this run starts, so that a session opens on each.
app_key="$(head -c 32 /dev/urandom | base64)"

# start_app PORT [wrapper...]: the app in the release profile, configured by
# the environment alone, logging off so the figures measure the app, not
# the terminal; its pid in $app. Its revocation file is in $work, or in
# $STORE_DIR (/dev/shm: a logout's fsync then costs next to nothing, which
# measures what the disk's costs). APP_BIN runs another build instead.
start_app() {
  local port=$1; shift
  ROCKET_PROFILE=release \
  ROCKET_SECRET_KEY="$app_key" \
  ROCKET_PORT="$port" ROCKET_LOG_LEVEL=off \
  ROCKET_SESSION_REVOCATION_STORE="${STORE_DIR:-$work}/revoked-$port" \
    "$@" "${APP_BIN:-target/release/session_app}" >"$work/app-$port.log" 2>&1 &
  app=$!; pids+=("$app")
}

# start_peer [wrapper...]: bench/peer.rs (built by the caller) in the
# release profile on a free port, logging off, ready (a wrapper such as
# valgrind gets a minute to start it); its pid in $peer, its URL in $peer_url.
start_peer() {
  local port
  port=$(free_port)
  ROCKET_PROFILE=release ROCKET_SECRET_KEY="$(head -c 32 /dev/urandom | base64)" \
  ROCKET_PORT="$port" ROCKET_LOG_LEVEL=off ROCKET_TEMPLATE_DIR=bench/peer \
    "$@" target/release/examples/peer >"$work/peer-$port.log" 2>&1 &
  peer=$!; pids+=("$peer")
  peer_url="http://127.0.0.1:$port"
  if [ $# -gt 0 ]; then wait_for "$peer_url/" 600; else wait_for "$peer_url/"; fi
}

# start_floor PORT BURN [wrapper...]: the floor replaying $work/capture;
# its pid in $floor.
start_floor() {
  local port=$1 burn=$2; shift 2
  FLOOR_BURN="$burn" FLOOR_CAPTURE="$work/capture" ROCKET_PORT="$port" ROCKET_LOG_LEVEL=off \
  ROCKET_SECRET_KEY="$(head -c 32 /dev/urandom | base64)" ROCKET_PROFILE=release \
    "$@" target/release/examples/floor >"$work/floor-$port.log" 2>&1 &
  floor=$!; pids+=("$floor")
}

# log_in URL: logs in once, as a browser would, and reads back the token the
# next page shows; sets $token, $csrf, $session and $cookie (the app's
# Cookie header), and captures the app's answer to GET /output with it.
log_in() {
  local url=$1
  token_of() { sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1; }
  cookie_of() { awk -v n="$1" '$6 == n {print $7}' "$work/jar"; }
  curl -fs -c "$work/jar" "$url/" | token_of >"$work/token"
  curl -fs -b "$work/jar" -c "$work/jar" -o /dev/null --data-urlencode "name=山田太郎" \
    --data-urlencode "csrf_token=$(cat "$work/token")" "$url/login"
  token=$(curl -fs -b "$work/jar" -c "$work/jar" "$url/" | token_of)
  csrf=$(cookie_of csrf); session=$(cookie_of session)
  [ -n "$token" ] && [ -n "$csrf" ] && [ -n "$session" ] || { echo "bench: login failed" >&2; exit 1; }
  cookie="session=$session; csrf=$csrf"
  curl -fs -i -H "Cookie: $cookie" "$url/output" >"$work/capture"
  grep -q '^HTTP/1.1 200' "$work/capture" || { echo "bench: /output did not answer 200" >&2; exit 1; }
}

# CPU ticks a process has used, user and system.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# load NAME PID URL [wrk args...]: one wrk run (-t1, $CONNECTIONS connections,
# $DURATION seconds); sets rps, p99 (ms), bad (non-2xx/3xx) and cpu (µs/req).
load() {
  local name=$1 pid=$2 url=$3; shift 3
  local before after
  before=$(ticks "$pid")
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" >"$work/$name.out"
  after=$(ticks "$pid")
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$name.out")
  requests=$(awk '/requests in/ {print $1}' "$work/$name.out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/$name.out")
  bad=$(awk '/Non-2xx or 3xx/ {print $5}' "$work/$name.out"); bad=${bad:-0}
  cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
}

# median VALUES...: the middle value (the mean of the two middle ones).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

# verdict HOLDS TEXT: PASS or MISS for a target.
verdict() { if [ "$1" = 1 ]; then echo "PASS  $2"; else echo "MISS  $2"; fi; }

# load_arguments [rounds (5)] [seconds per run (4)] [connections (64)]:
# the arguments of the wrk benches (ROUNDS, DURATION, CONNECTIONS), and
# their tools, each present or a clear exit 2.
load_arguments() {
  ROUNDS="${1:-5}"
  DURATION="${2:-4}"
  CONNECTIONS="${3:-64}"
  local missing=() tool
  for tool in wrk curl cargo python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: missing ${missing[*]} (Debian: apt-get install wrk curl)" >&2
    exit 2
  fi
}

