#!/usr/bin/env bash
# Gateway benchmark: three routes of the same running gateway, one after the other, with wrk at
# 64 connections, on 127.0.0.1 only.
#
#   bash bench/run.sh
#
#   GET /healthz            bare route: no auth, no backend; the ceiling of the HTTP stack
#   GET /v1/auth/session    JWT verified by the gateway, no backend call
#   GET /v1/me              JWT verified by the gateway, gRPC to accounts (token forwarded and verified
#                           again), one statement under RLS in PostgreSQL (`tenant_user` sets the tenant)
#
# Prints the idle resident memory of the causerie process (before any load), then a table: route,
# requests/s, p50/p99 latency, ratio of requests/s to the bare route. Builds the release binary and (re)starts
# the stack with deploy/local/up.sh, unless BENCH_BASE_URL names one to measure. Each route: BENCH_WARMUP seconds
# of warm-up (discarded) then BENCH_DURATION seconds measured. Any non-2xx answer fails the run.
#
# Knobs (environment): BENCH_DURATION (15), BENCH_WARMUP (3), BENCH_CONNECTIONS (64), BENCH_THREADS (2,
# one per core), BENCH_BASE_URL (http://$CAUSERIE_PUBLIC_ADDR, must be a loopback address),
# BENCH_RATE_LIMIT_PER_MINUTE (10^9: the stack is started with it, see below).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-15}"
WARMUP="${BENCH_WARMUP:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
BASE_URL="${BENCH_BASE_URL:-http://${CAUSERIE_PUBLIC_ADDR:-127.0.0.1:8080}}"
PID_FILE="${BENCH_PID_FILE:-$ROOT/target/causerie.pid}"
DEMO_TENANT="demo"
DEMO_EMAIL="admin@demo.example"
DEMO_PASSWORD="demo-admin-password-2026"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
check_knobs "$BASE_URL" "$DURATION" "$WARMUP"
require_tools wrk curl python3

# The stack under test is the release build, started afresh by up.sh with a rate limit above what wrk can
# send (the gateway limits each caller, 6000 requests/min by default; one caller would only measure 429s).
# With BENCH_BASE_URL set, the stack found there is measured as it is.
RATE_LIMIT="${BENCH_RATE_LIMIT_PER_MINUTE:-1000000000}"
if [[ -z "${BENCH_BASE_URL:-}" ]]; then
    say "building causerie (release profile)"
    cargo build --release -p causerie >&2
    say "starting the stack with deploy/local/up.sh (release, CAUSERIE_RATE_LIMIT_PER_MINUTE=$RATE_LIMIT)"
    CAUSERIE_BIN="$ROOT/target/release/causerie" CAUSERIE_RATE_LIMIT_PER_MINUTE="$RATE_LIMIT" \
        bash deploy/local/up.sh >&2
    # Let start-up work (key loading, first connections) settle before reading the idle memory.
    sleep 5
elif ! curl -fsS -o /dev/null --max-time 2 "$BASE_URL/readyz"; then
    die "$BASE_URL/readyz does not answer"
fi

rss_of() { # PID -> "VmRSS (peak VmHWM)"
    awk '/^VmRSS:/ {rss=$2} /^VmHWM:/ {hwm=$2} END {printf "%.1f MiB (peak %.1f MiB)", rss/1024, hwm/1024}' "/proc/$1/status"
}
pid=""
if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    pid="$(cat "$PID_FILE")"
fi
idle_rss="unknown (no live process in target/causerie.pid)"
[[ -n "$pid" ]] && idle_rss="$(rss_of "$pid")"

# An access token lives 15 minutes: log in afresh before each route.
login() {
    local body
    body="$(curl -fsS --max-time 10 -H 'content-type: application/json' \
        -d "{\"tenant\":\"$DEMO_TENANT\",\"email\":\"$DEMO_EMAIL\",\"password\":\"$DEMO_PASSWORD\"}" \
        "$BASE_URL/v1/auth/login")" || die "login as $DEMO_EMAIL failed (did deploy/local/up.sh run causerie demo?)"
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' <<<"$body"
}

# run_wrk SECONDS PATH [TOKEN] -> the BENCH line of wrk-report.lua
run_wrk() {
    local seconds="$1" path="$2" token="${3:-}"
    local args=(--threads "$THREADS" --connections "$CONNECTIONS" --duration "${seconds}s" --timeout 5s
        --script "$ROOT/bench/wrk-report.lua")
    [[ -n "$token" ]] && args+=(--header "Authorization: Bearer $token")
    timeout $((seconds + 30)) wrk "${args[@]}" "$BASE_URL$path" | grep '^BENCH ' || die "wrk failed on $path"
}

field() { # LINE NAME
    sed -E "s/.* $2=([^ ]+).*/\1/" <<<"$1"
}

routes=("/healthz" "/v1/auth/session" "/v1/me")
declare -A results
for path in "${routes[@]}"; do
    token=""
    if [[ "$path" != "/healthz" ]]; then
        token="$(login)"
        # The route must answer 200 with this token before we measure it.
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $token" "$BASE_URL$path")"
        [[ "$code" == 200 ]] || die "GET $path answered $code, not 200"
    fi
    if ((WARMUP > 0)); then
        say "GET $path: ${WARMUP}s warm-up"
        run_wrk "$WARMUP" "$path" "$token" >/dev/null
    fi
    say "GET $path: ${DURATION}s at $CONNECTIONS connections"
    line="$(run_wrk "$DURATION" "$path" "$token")"
    results["$path"]="$line"
    non2xx="$(field "$line" non2xx)"
    errors="$(field "$line" socket_errors)"
    [[ "$non2xx" == 0 ]] || die "GET $path: $non2xx answers were not 2xx ($line)"
    [[ "$errors" == 0 ]] || say "GET $path: $errors socket errors"
done

# The database's own ceiling for what /v1/me asks of it (one statement: `tenant_user` sets the tenant and reads
# the user under RLS), with pgbench as the same application role, at as many clients as accounts has pool
# connections. It bounds what /v1/me can reach on this machine, whatever the gateway and gRPC cost.
DATABASE_URL="${CAUSERIE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ACCOUNTS_URL="${DATABASE_URL%/*}/causerie_accounts"
pg_ceiling="not measured (pgbench or psql missing)"
if command -v pgbench >/dev/null && command -v psql >/dev/null; then
    ids="$(psql "$ACCOUNTS_URL" -Atc "select tenant_id || ' ' || id from users where lower(email) = lower('$DEMO_EMAIL') limit 1")"
    read -r demo_tenant demo_user <<<"$ids"
    script="$(mktemp)"
    printf '%s\n' \
        "select id, email, first_name, last_name, pseudonym, languages, skills, role from tenant_user('$demo_tenant', '$demo_user');" \
        >"$script"
    say "pgbench: /v1/me's statement alone, ${DURATION}s at 16 clients"
    # The accounts application role's own password, made by up.sh.
    # shellcheck disable=SC1091
    [[ -f "$ROOT/target/causerie.env" ]] && source "$ROOT/target/causerie.env"
    tps="$(PGPASSWORD="${CAUSERIE_ACCOUNTS_DATABASE_PASSWORD:-}" timeout $((DURATION + 30)) pgbench -n -M prepared \
        -c 16 -j 2 -T "$DURATION" -f "$script" -h 127.0.0.1 -U causerie_accounts_app causerie_accounts 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
    rm -f "$script"
    [[ -n "$tps" ]] && pg_ceiling="$tps"
fi

report="$(
    echo "causerie gateway benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
    echo "wrk: $THREADS threads, $CONNECTIONS connections, ${WARMUP}s warm-up + ${DURATION}s per route, $BASE_URL"
    echo "idle RSS of causerie (all services, one process, pid ${pid:-?}): $idle_rss"
    echo
    bare_rps="$(field "${results[/healthz]}" rps)"
    printf '%-22s %12s %10s %10s %9s %9s\n' route "requests/s" "p50 ms" "p99 ms" "vs bare" errors
    for path in "${routes[@]}"; do
        line="${results[$path]}"
        python3 - "$path" "$line" "$bare_rps" <<'PY'
import sys
path, line, bare = sys.argv[1], sys.argv[2], float(sys.argv[3])
f = dict(kv.split("=") for kv in line.split()[1:])
rps = float(f["rps"])
print(f"GET {path:<18} {rps:12.0f} {int(f['p50_us'])/1000:10.2f} {int(f['p99_us'])/1000:10.2f} "
      f"{rps / bare:9.2f} {int(f['socket_errors']):9d}")
PY
    done
    echo
    if [[ "$pg_ceiling" =~ ^[0-9.]+$ ]]; then
        # With one query per request, /v1/me cannot pass this rate, whatever the gateway costs.
        echo "PostgreSQL alone, /v1/me's statement (pgbench, 16 clients): $pg_ceiling tps" \
            "= $(python3 -c "print(f'{$pg_ceiling / $bare_rps:.2f}')")x the bare route"
    else
        echo "PostgreSQL alone, /v1/me's statement: $pg_ceiling"
    fi
    [[ -n "$pid" ]] && echo "RSS after the load: $(rss_of "$pid")"
)"
mkdir -p target/bench
echo "$report" | tee "target/bench/$(date -u +%Y%m%dT%H%M%SZ).txt"
