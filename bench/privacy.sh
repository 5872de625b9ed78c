#!/usr/bin/env bash
# Consent benchmark (privacy issue), in one run against the release build started by
# deploy/local/up.sh (or BENCH_BASE_URL with BENCH_ACCOUNTS_URL):
#   1. CheckConsent over gRPC against the gRPC health check of the same accounts service, same
#      concurrency, same duration (bench/loadgen): target p99 at most 2x the health check's;
#   2. POST /widget/v1/consents (a durable write: one consent record committed per request) against
#      pgbench inserting one row per transaction at the same concurrency: target >= 0.5x its rate.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-15}"
WARMUP="${BENCH_WARMUP:-3}"
CONCURRENCY="${BENCH_CONCURRENCY:-16}"
BASE_URL="${BENCH_BASE_URL:-http://${CAUSERIE_PUBLIC_ADDR:-127.0.0.1:8080}}"
ACCOUNTS_URL="${BENCH_ACCOUNTS_URL:-http://${CAUSERIE_ACCOUNTS_ADDR:-127.0.0.1:50051}}"
ORIGIN="https://shop.bench.example"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
check_knobs "$BASE_URL" "$DURATION" "$WARMUP"
require_tools wrk curl python3 pgbench psql

say "building causerie and the load generator (release profile)"
cargo build --release -p causerie -p causerie-loadgen >&2
if [[ -z "${BENCH_BASE_URL:-}" ]]; then
    say "starting the stack with deploy/local/up.sh (release, no per-caller rate limit)"
    CAUSERIE_BIN="$ROOT/target/release/causerie" CAUSERIE_RATE_LIMIT_PER_MINUTE=1000000000 \
        CAUSERIE_WIDGET_VISITOR_RATE_LIMIT_PER_MINUTE=1000000000 CAUSERIE_WIDGET_ADDRESS_RATE_LIMIT_PER_MINUTE=1000000000 \
        bash deploy/local/up.sh >&2
    sleep 5
fi

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
token="$(curl -fsS -H 'content-type: application/json' \
    -d '{"tenant":"demo","email":"admin@demo.example","password":"demo-admin-password-2026"}' \
    "$BASE_URL/v1/auth/login" | json '["access_token"]')"
auth=(-H "Authorization: Bearer $token" -H 'content-type: application/json')
tenant_id="$(curl -fsS "${auth[@]}" "$BASE_URL/v1/auth/session" | json '["tenant_id"]')"

say "a policy with a consent purpose, and a project the bench's origin may embed"
curl -fsS -o /dev/null -X PUT "${auth[@]}" "$BASE_URL/v1/privacy-policy" -d '{
  "controller": {"name": "Demo", "address": "1 rue du Banc, Paris", "email": "privacy@demo.example"},
  "dpo": {"name": "Dana", "email": "dpo@demo.example"},
  "purposes": [{"id": "chat_history", "name": "Keep the conversation", "legal_basis": "consent", "description": ""}],
  "recipients": [], "subprocessors": {"tts": "none", "translation": "none"}, "data_residency": "eu",
  "consent_text": "May we keep this conversation?"}'
public_id="$(curl -fsS "${auth[@]}" "$BASE_URL/v1/projects" \
    -d "{\"name\": \"bench\", \"allowed_origins\": [\"$ORIGIN\"]}" | json '["public_id"]')"
headers="$(mktemp)"
session="$(curl -fsS -D "$headers" -H 'content-type: application/json' -H "Origin: $ORIGIN" \
    "$BASE_URL/widget/v1/projects/$public_id/sessions" -d '{"page_url": "https://shop.bench.example/"}')"
visitor_id="$(json '["visitor_id"]' <<<"$session")"
text_version="$(json '["consent"]["text_version"]' <<<"$session")"
cookie="$(grep -i '^set-cookie: cz_\(vid\|sid\)=' "$headers" | sed -E 's/^[Ss]et-[Cc]ookie: ([^;]*);.*/\1/' | paste -sd ';' | sed 's/;/; /g')"
rm -f "$headers"
consent_body="{\"purpose\": \"chat_history\", \"granted\": true, \"text_version\": $text_version}"
curl -fsS -o /dev/null -H 'content-type: application/json' -H "Origin: $ORIGIN" -H "Cookie: $cookie" \
    "$BASE_URL/widget/v1/consents" -d "$consent_body" || die "recording a first consent failed"

say "CheckConsent against the health check, ${DURATION}s each at $CONCURRENCY concurrent calls"
grpc="$(LOADGEN_TOKEN="$token" "$ROOT/target/release/causerie-loadgen" consent --url "$ACCOUNTS_URL" \
    --tenant-id "$tenant_id" --visitor-id "$visitor_id" --purpose chat_history \
    --concurrency "$CONCURRENCY" --seconds "$DURATION" --warmup-seconds "$WARMUP")"

say "POST /widget/v1/consents: ${WARMUP}s warm-up, ${DURATION}s at $CONCURRENCY connections"
wrk_consents() {
    BENCH_DIR="$ROOT/bench" BENCH_COOKIE="$cookie" BENCH_ORIGIN="$ORIGIN" BENCH_CONSENT_BODY="$consent_body" \
        timeout $(($1 + 30)) wrk --threads 2 --connections "$CONCURRENCY" --duration "${1}s" --timeout 10s \
        --script "$ROOT/bench/consent.lua" "$BASE_URL/widget/v1/consents" | grep '^BENCH '
}
wrk_consents "$WARMUP" >/dev/null
consents="$(wrk_consents "$DURATION")" || die "wrk failed"
[[ "$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$consents")" == 0 ]] || die "some consents were refused: $consents"

say "pgbench: one row inserted per transaction, ${DURATION}s at $CONCURRENCY clients"
DATABASE_URL="${CAUSERIE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
psql "$DATABASE_URL" -qc "drop database if exists causerie_bench" -c "create database causerie_bench" >/dev/null
BENCH_DB_URL="${DATABASE_URL%/*}/causerie_bench"
psql "$BENCH_DB_URL" -qc "create table consent_like (id bigserial primary key, visitor_id uuid not null, purpose text not null,
    granted boolean not null, text_version int not null, recorded_at timestamptz not null default now())" >/dev/null
script="$(mktemp)"
echo "insert into consent_like (visitor_id, purpose, granted, text_version) values (gen_random_uuid(), 'chat_history', true, 1);" >"$script"
tps="$(timeout $((DURATION + 30)) pgbench -n -M prepared -c "$CONCURRENCY" -j 2 -T "$DURATION" -f "$script" "$BENCH_DB_URL" 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
rm -f "$script"
psql "$DATABASE_URL" -qc "drop database if exists causerie_bench" >/dev/null

report="$(python3 - "$grpc" "$consents" "$tps" <<'PY'
import sys
grpc, consents, tps = sys.argv[1], sys.argv[2], float(sys.argv[3])
def parse(line):
    return dict(kv.split("=") for kv in line.split()[1:])
lines = [parse(line) for line in grpc.splitlines() if line.startswith("BENCH ")]
health, check = lines
ratio = int(check["p99_us"]) / max(int(health["p99_us"]), 1)
print(f"gRPC health check:  {float(health['rps']):.0f}/s  p50 {int(health['p50_us'])/1000:.2f} ms  p99 {int(health['p99_us'])/1000:.2f} ms")
print(f"CheckConsent:       {float(check['rps']):.0f}/s  p50 {int(check['p50_us'])/1000:.2f} ms  p99 {int(check['p99_us'])/1000:.2f} ms"
      f"  = {ratio:.2f}x the health check's p99 (target <= 2)")
consent = parse(consents)
rps = float(consent["rps"])
print(f"POST /widget/v1/consents: {rps:.0f}/s  p50 {int(consent['p50_us'])/1000:.2f} ms  p99 {int(consent['p99_us'])/1000:.2f} ms")
print(f"pgbench, one insert per transaction: {tps:.0f} tps; consents = {rps / tps:.2f}x (target >= 0.5)")
PY
)"
mkdir -p target/bench
{
    echo "causerie consent benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, concurrency $CONCURRENCY, ${DURATION}s each"
    echo "$report"
} | tee "target/bench/privacy-$(date -u +%Y%m%dT%H%M%SZ).txt"
