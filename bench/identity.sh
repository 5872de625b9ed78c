#!/usr/bin/env bash
# Sign-in benchmark (accounts issue): what a flood of logins costs, and what it costs everyone else.
#
#   bash bench/identity.sh
#
# In one run, against the release build started by deploy/local/up.sh (or BENCH_BASE_URL):
#   1. the time of one argon2id hash at the service's parameters (`causerie hash-cost`, one core), which gives
#      the ideal sign-in rate of this machine: cores / hash time; then one hash per core at once, which
#      gives what the machine really hashes when its cores share a cache;
#   2. POST /v1/auth/login alone: logins per second against that ideal (target >= 0.9);
#   3. for each count of connections in BENCH_SESSION_CONNECTIONS ("2 8": light load, then enough to
#      saturate both cores), GET /v1/auth/session alone, then again while a login flood like step 2's runs
#      beside it: the p99 during the flood against the p99 alone (target <= 2x).
# Each step lasts BENCH_DURATION seconds after BENCH_WARMUP seconds of warm-up. Any non-2xx answer fails it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-15}"
WARMUP="${BENCH_WARMUP:-3}"
SESSION_CONNECTIONS="${BENCH_SESSION_CONNECTIONS:-2 8}"
LOGIN_CONNECTIONS="${BENCH_LOGIN_CONNECTIONS:-16}"
BASE_URL="${BENCH_BASE_URL:-http://${CAUSERIE_PUBLIC_ADDR:-127.0.0.1:8080}}"
CAUSERIE_BIN="${CAUSERIE_BIN:-$ROOT/target/release/causerie}"
DEMO_BODY='{"tenant":"demo","email":"admin@demo.example","password":"demo-admin-password-2026"}'
# The flood signs in as many operators of the demo tenant, created below if missing.
BENCH_USERS="${BENCH_USERS:-32}"
BENCH_PASSWORD="bench operator passphrase 2026"
LOGIN_TEMPLATE="{\"tenant\":\"demo\",\"email\":\"bench-%d@demo.example\",\"password\":\"$BENCH_PASSWORD\"}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
check_knobs "$BASE_URL" "$DURATION" "$WARMUP"
require_tools wrk curl python3

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
    BENCH_DIR="$ROOT/bench" BENCH_USERS="$BENCH_USERS" BENCH_LOGIN_TEMPLATE="$LOGIN_TEMPLATE" timeout $((seconds + 30)) wrk "${args[@]}" "$BASE_URL$path" |
        grep '^BENCH ' || die "wrk failed on $path"
}
field() { sed -E "s/.* $2=([^ ]+).*/\1/" <<<"$1"; }
check() { # LINE WHAT
    [[ "$(field "$1" non2xx)" == 0 ]] || die "$2: answers that were not 2xx ($1)"
}

say "making sure the demo tenant has $BENCH_USERS bench operators"
admin_token="$(login)"
for ((number = 0; number < BENCH_USERS; number++)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin_token" -H 'content-type: application/json' \
        -d "{\"email\":\"bench-$number@demo.example\",\"first_name\":\"Bench\",\"last_name\":\"Operator $number\",\"role\":\"operator\",\"password\":\"$BENCH_PASSWORD\"}" \
        "$BASE_URL/v1/users")"
    [[ "$code" == 201 || "$code" == 409 ]] || die "creating bench operator $number answered $code"
done

cores="$(nproc)"
say "timing one argon2id hash (causerie hash-cost)"
hash_ms="$("$CAUSERIE_BIN" hash-cost --samples 20)"
# The ideal assumes the cores hash as fast together as one alone. Where they share a cache or
# memory bandwidth they do not: one hash per core at once says what the machine can really hash.
say "timing $cores argon2id hashes at once, one per core"
parallel_pids=() parallel_files=()
for ((core = 0; core < cores; core++)); do
    parallel_files+=("$(mktemp)")
    "$CAUSERIE_BIN" hash-cost --samples 20 >"${parallel_files[-1]}" &
    parallel_pids+=($!)
done
for pid in "${parallel_pids[@]}"; do wait "$pid" || die "causerie hash-cost failed"; done
parallel_ms="$(cat "${parallel_files[@]}" | awk '{ sum += $1 } END { printf "%.2f", sum / NR }')"
rm -f "${parallel_files[@]}"

say "POST /v1/auth/login alone: ${WARMUP}s warm-up, ${DURATION}s measured"
run_wrk "$WARMUP" "$LOGIN_CONNECTIONS" /v1/auth/login "$ROOT/bench/login.lua" >/dev/null
logins_alone="$(run_wrk "$DURATION" "$LOGIN_CONNECTIONS" /v1/auth/login "$ROOT/bench/login.lua")"
check "$logins_alone" "login alone"

session_lines=()
for connections in $SESSION_CONNECTIONS; do
    say "GET /v1/auth/session at $connections connections alone: ${WARMUP}s warm-up, ${DURATION}s measured"
    token="$(login)"
    run_wrk "$WARMUP" "$connections" /v1/auth/session "$ROOT/bench/wrk-report.lua" "$token" >/dev/null
    alone="$(run_wrk "$DURATION" "$connections" /v1/auth/session "$ROOT/bench/wrk-report.lua" "$token")"
    check "$alone" "session alone"
    say "GET /v1/auth/session at $connections connections during a login flood, ${DURATION}s"
    flood_file="$(mktemp)"
    run_wrk $((DURATION + 4)) "$LOGIN_CONNECTIONS" /v1/auth/login "$ROOT/bench/login.lua" >"$flood_file" &
    flood_pid=$!
    sleep 2
    flooded="$(run_wrk "$DURATION" "$connections" /v1/auth/session "$ROOT/bench/wrk-report.lua" "$token")"
    wait "$flood_pid" || die "the login flood failed"
    check "$flooded" "session during the flood"
    session_lines+=("$connections|$alone|$flooded|$(cat "$flood_file")")
    rm -f "$flood_file"
done

report="$(python3 - "$cores" "$hash_ms" "$parallel_ms" "$logins_alone" "${session_lines[@]}" <<'PY'
import sys
cores, hash_ms, parallel_ms = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
def parse(line):
    return dict(kv.split("=") for kv in line.split()[1:])
logins_alone = parse(sys.argv[4])
ideal = cores * 1000.0 / hash_ms
ceiling = cores * 1000.0 / parallel_ms
logins = float(logins_alone["rps"])
ms = lambda fields, key: int(fields[key]) / 1000
print(f"one argon2id hash (19 MiB, t=2, p=1): {hash_ms:.2f} ms; ideal sign-in rate = {cores} cores / hash = {ideal:.1f}/s")
print(f"{cores} hashes at once, one per core: {parallel_ms:.2f} ms each; the machine hashes at most "
      f"{ceiling:.1f}/s = {ceiling / ideal:.2f}x the ideal")
print(f"POST /v1/auth/login alone: {logins:.1f}/s = {logins / ideal:.2f}x the ideal (target >= 0.9), "
      f"{logins / ceiling:.2f}x what the machine can hash; "
      f"p50 {ms(logins_alone, 'p50_us'):.1f} ms, p99 {ms(logins_alone, 'p99_us'):.1f} ms")
for entry in sys.argv[5:]:
    connections, alone, flooded, flood = entry.split("|")
    alone, flooded, flood = parse(alone), parse(flooded), parse(flood)
    print(f"GET /v1/auth/session at {connections} connections: alone {float(alone['rps']):.0f}/s p50 {ms(alone, 'p50_us'):.2f} ms "
          f"p99 {ms(alone, 'p99_us'):.2f} ms; during the flood {float(flooded['rps']):.0f}/s p50 {ms(flooded, 'p50_us'):.2f} ms "
          f"p99 {ms(flooded, 'p99_us'):.2f} ms = {ms(flooded, 'p99_us') / ms(alone, 'p99_us'):.2f}x (target <= 2); "
          f"logins meanwhile {float(flood['rps']):.1f}/s")
PY
)"
mkdir -p target/bench
{
    echo "causerie sign-in benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $cores cores, $BASE_URL"
    echo "wrk: logins at $LOGIN_CONNECTIONS connections, sessions at $SESSION_CONNECTIONS, ${DURATION}s each"
    echo "$report"
} | tee "target/bench/identity-$(date -u +%Y%m%dT%H%M%SZ).txt"
