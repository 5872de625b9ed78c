#!/usr/bin/env bash
# Sign-in benchmark (accounts issue): what a flood of logins costs, and what it costs everyone else.
#
#   bash bench/identity.sh
#
# In one run, against the release build started by deploy/local/up.sh (or BENCH_BASE_URL):
#   1. the time of one argon2id hash at the service's parameters (`causerie hash-cost`, one core), which gives
#      the ideal sign-in rate of this machine: cores / hash time;
#   2. GET /v1/auth/session alone (p50/p99), at BENCH_SESSION_CONNECTIONS connections;
#   3. POST /v1/auth/login alone: logins per second against that ideal (target >= 0.9);
#   4. GET /v1/auth/session again while the login flood of step 3 runs beside it: its p99 against step 2's
#      (target <= 2x).
# Each step lasts BENCH_DURATION seconds after BENCH_WARMUP seconds of warm-up. Any non-2xx answer fails it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-15}"
WARMUP="${BENCH_WARMUP:-3}"
SESSION_CONNECTIONS="${BENCH_SESSION_CONNECTIONS:-8}"
LOGIN_CONNECTIONS="${BENCH_LOGIN_CONNECTIONS:-16}"
BASE_URL="${BENCH_BASE_URL:-http://${CAUSERIE_PUBLIC_ADDR:-127.0.0.1:8080}}"
CAUSERIE_BIN="${CAUSERIE_BIN:-$ROOT/target/release/causerie}"
DEMO_BODY='{"tenant":"demo","email":"admin@demo.example","password":"demo-admin-password-2026"}'

say() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

case "$BASE_URL" in
    http://127.*|http://localhost:*|http://localhost/*|http://\[::1\]*) ;;
    *) die "BENCH_BASE_URL must be a loopback address, got $BASE_URL" ;;
esac
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -le 120 ]] || die "BENCH_DURATION must be 1..120 seconds"

for tool in wrk curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        say "installing $tool (apt)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
    fi
done

if [[ -z "${BENCH_BASE_URL:-}" ]]; then
    say "building causerie (release profile)"
    cargo build --release -p causerie >&2
    say "starting the stack with deploy/local/up.sh (release, no per-caller rate limit)"
    CAUSERIE_BIN="$CAUSERIE_BIN" CAUSERIE_RATE_LIMIT_PER_MINUTE=1000000000 bash deploy/local/up.sh >&2
    sleep 5
elif ! curl -fsS -o /dev/null --max-time 2 "$BASE_URL/readyz"; then
    die "$BASE_URL/readyz does not answer"
fi

login() {
    curl -fsS --max-time 10 -H 'content-type: application/json' -d "$DEMO_BODY" "$BASE_URL/v1/auth/login" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# run_wrk SECONDS CONNECTIONS PATH SCRIPT [TOKEN] -> the BENCH line
run_wrk() {
    local seconds="$1" connections="$2" path="$3" script="$4" token="${5:-}"
    local args=(--threads 1 --connections "$connections" --duration "${seconds}s" --timeout 10s --script "$script")
    [[ -n "$token" ]] && args+=(--header "Authorization: Bearer $token")
    BENCH_DIR="$ROOT/bench" BENCH_LOGIN_BODY="$DEMO_BODY" timeout $((seconds + 30)) wrk "${args[@]}" "$BASE_URL$path" |
        grep '^BENCH ' || die "wrk failed on $path"
}
field() { sed -E "s/.* $2=([^ ]+).*/\1/" <<<"$1"; }
check() { # LINE WHAT
    [[ "$(field "$1" non2xx)" == 0 ]] || die "$2: answers that were not 2xx ($1)"
}

cores="$(nproc)"
say "timing one argon2id hash (causerie hash-cost)"
hash_ms="$("$CAUSERIE_BIN" hash-cost --samples 20)"

session() { # -> BENCH line of GET /v1/auth/session
    local token
    token="$(login)"
    run_wrk "$DURATION" "$SESSION_CONNECTIONS" /v1/auth/session "$ROOT/bench/wrk-report.lua" "$token"
}

say "GET /v1/auth/session alone: ${WARMUP}s warm-up, ${DURATION}s measured"
run_wrk "$WARMUP" "$SESSION_CONNECTIONS" /v1/auth/session "$ROOT/bench/wrk-report.lua" "$(login)" >/dev/null
session_alone="$(session)"
check "$session_alone" "session alone"

say "POST /v1/auth/login alone: ${WARMUP}s warm-up, ${DURATION}s measured"
run_wrk "$WARMUP" "$LOGIN_CONNECTIONS" /v1/auth/login "$ROOT/bench/login.lua" >/dev/null
logins_alone="$(run_wrk "$DURATION" "$LOGIN_CONNECTIONS" /v1/auth/login "$ROOT/bench/login.lua")"
check "$logins_alone" "login alone"

say "GET /v1/auth/session during a login flood, ${DURATION}s"
token="$(login)"
flood_file="$(mktemp)"
run_wrk $((DURATION + 4)) "$LOGIN_CONNECTIONS" /v1/auth/login "$ROOT/bench/login.lua" >"$flood_file" &
flood_pid=$!
sleep 2
session_flooded="$(run_wrk "$DURATION" "$SESSION_CONNECTIONS" /v1/auth/session "$ROOT/bench/wrk-report.lua" "$token")"
wait "$flood_pid" || die "the login flood failed"
logins_flooding="$(cat "$flood_file")"
rm -f "$flood_file"
check "$session_flooded" "session during the flood"

report="$(python3 - "$cores" "$hash_ms" "$session_alone" "$logins_alone" "$session_flooded" "$logins_flooding" <<'PY'
import sys
cores, hash_ms = int(sys.argv[1]), float(sys.argv[2])
def parse(line):
    return dict(kv.split("=") for kv in line.split()[1:])
session_alone, logins_alone, session_flooded, logins_flooding = (parse(line) for line in sys.argv[3:7])
ideal = cores * 1000.0 / hash_ms
logins = float(logins_alone["rps"])
p99_alone = int(session_alone["p99_us"]) / 1000
p99_flooded = int(session_flooded["p99_us"]) / 1000
print(f"one argon2id hash (19 MiB, t=2, p=1): {hash_ms:.2f} ms; ideal sign-in rate = {cores} cores / hash = {ideal:.1f}/s")
print(f"POST /v1/auth/login alone:            {logins:.1f}/s  = {logins / ideal:.2f}x the ideal (target >= 0.9)"
      f"  p50 {int(logins_alone['p50_us'])/1000:.1f} ms  p99 {int(logins_alone['p99_us'])/1000:.1f} ms")
print(f"GET /v1/auth/session alone:           {float(session_alone['rps']):.0f}/s  p50 {int(session_alone['p50_us'])/1000:.2f} ms"
      f"  p99 {p99_alone:.2f} ms")
print(f"GET /v1/auth/session during the flood: {float(session_flooded['rps']):.0f}/s  p50 {int(session_flooded['p50_us'])/1000:.2f} ms"
      f"  p99 {p99_flooded:.2f} ms = {p99_flooded / p99_alone:.2f}x alone (target <= 2)")
print(f"logins meanwhile:                     {float(logins_flooding['rps']):.1f}/s")
PY
)"
mkdir -p target/bench
{
    echo "causerie sign-in benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $cores cores, $BASE_URL"
    echo "wrk: session at $SESSION_CONNECTIONS connections, logins at $LOGIN_CONNECTIONS, ${DURATION}s each"
    echo "$report"
} | tee "target/bench/identity-$(date -u +%Y%m%dT%H%M%SZ).txt"
