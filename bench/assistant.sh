#!/usr/bin/env bash
# Assistant benchmark (assistant issue), in one run against the release build started by
# deploy/local/up.sh (or BENCH_BASE_URL with BENCH_ACCOUNTS_URL, BENCH_ASSISTANT_URL and the
# stack's CAUSERIE_SERVICE_SECRET), on the labelled set of services/assistant/tests/fixtures/:
#   1. accuracy: the engine's top-1 (tests/matching_accuracy.rs) against PostgreSQL full-text
#      search's, with both of its queries (bench/fts/accuracy.py): target at least 10 points above;
#   2. Search and Match over gRPC (bench/loadgen) against the same entries in PostgreSQL (GIN index,
#      unaccent, ts_rank_cd) with pgbench, its better query: target >= 10x the queries per second;
#   3. POST /widget/v1/messages (one hop, one match, one anonymous write) against GET /v1/me, with
#      wrk at the same connections: target >= 0.8x.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-15}"
WARMUP="${BENCH_WARMUP:-3}"
CONCURRENCY="${BENCH_CONCURRENCY:-16}"
BASE_URL="${BENCH_BASE_URL:-http://${CAUSERIE_PUBLIC_ADDR:-127.0.0.1:8080}}"
ACCOUNTS_URL="${BENCH_ACCOUNTS_URL:-http://${CAUSERIE_ACCOUNTS_ADDR:-127.0.0.1:50051}}"
ASSISTANT_URL="${BENCH_ASSISTANT_URL:-http://${CAUSERIE_ASSISTANT_ADDR:-127.0.0.1:50052}}"
ORIGIN="https://shop.bench.example"
FIXTURES="$ROOT/services/assistant/tests/fixtures"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
check_knobs "$BASE_URL" "$DURATION" "$WARMUP"
require_tools wrk curl python3 pgbench psql

say "accuracy of the engine on the labelled set (dev profile test)"
engine_accuracy="$(cargo nextest run -p causerie-assistant --test matching_accuracy --no-capture 2>/dev/null |
    grep -E '^  (language|out of domain)|^    (ordinary|hard)')" || die "the accuracy test failed"

say "building causerie and the load generator (release profile)"
cargo build --release -p causerie -p causerie-loadgen >&2
if [[ -z "${BENCH_BASE_URL:-}" ]]; then
    CAUSERIE_SERVICE_SECRET="${CAUSERIE_SERVICE_SECRET:-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')}"
    export CAUSERIE_SERVICE_SECRET
    say "starting the stack with deploy/local/up.sh (release, no rate limit)"
    CAUSERIE_BIN="$ROOT/target/release/causerie" CAUSERIE_RATE_LIMIT_PER_MINUTE=1000000000 \
        CAUSERIE_WIDGET_VISITOR_RATE_LIMIT_PER_MINUTE=1000000000 CAUSERIE_WIDGET_ADDRESS_RATE_LIMIT_PER_MINUTE=1000000000 \
        bash deploy/local/up.sh >&2
    sleep 5
fi
[[ -n "${CAUSERIE_SERVICE_SECRET:-}" ]] || die "CAUSERIE_SERVICE_SECRET: the stack's shared secret is needed for Match"

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
login() {
    curl -fsS -H 'content-type: application/json' \
        -d '{"tenant":"demo","email":"admin@demo.example","password":"demo-admin-password-2026"}' \
        "$BASE_URL/v1/auth/login" | json '["access_token"]'
}
token="$(login)"
auth=(-H "Authorization: Bearer $token" -H 'content-type: application/json')
tenant_id="$(curl -fsS "${auth[@]}" "$BASE_URL/v1/auth/session" | json '["tenant_id"]')"
project="$(curl -fsS "${auth[@]}" "$BASE_URL/v1/projects" \
    -d "{\"name\": \"Bench assistant $(date +%s)\", \"allowed_origins\": [\"$ORIGIN\"], \"languages\": [\"fr\", \"en\"]}")"
project_id="$(json '["id"]' <<<"$project")"
public_id="$(json '["public_id"]' <<<"$project")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$FIXTURES" "$work" <<'PY'
import json, sys
fixtures, work = sys.argv[1], sys.argv[2]
entries, questions = [], []
for language in ("fr", "en"):
    with open(f"{fixtures}/{language}.json", encoding="utf-8") as file:
        fixture = json.load(file)
    entries += [{k: e[k] for k in ("question", "variants", "answer", "language", "tags")} for e in fixture["entries"]]
    questions += [p["text"] for p in fixture["paraphrases"]] + [q["text"] for q in fixture["out_of_domain"]]
with open(f"{work}/entries.json", "w", encoding="utf-8") as file:
    json.dump(entries, file, ensure_ascii=False)
with open(f"{work}/questions.txt", "w", encoding="utf-8") as file:
    file.write("\n".join(q.replace("\n", " ") for q in questions) + "\n")
with open(f"{work}/bodies.jsonl", "w", encoding="utf-8") as file:
    file.write("\n".join(json.dumps({"text": q}, ensure_ascii=False) for q in questions) + "\n")
PY
created="$(curl -fsS "${auth[@]}" "$BASE_URL/v1/projects/$project_id/knowledge-base/import" \
    --data-binary "@$work/entries.json" | json '["created"]')"
say "imported $created entries into project $project_id"

say "Search and Match over gRPC against the assistant's health check, ${DURATION}s each at $CONCURRENCY calls"
grpc="$(LOADGEN_TOKEN="$token" "$ROOT/target/release/causerie-loadgen" assistant --url "$ASSISTANT_URL" \
    --accounts-url "$ACCOUNTS_URL" --tenant-id "$tenant_id" --project-id "$project_id" \
    --questions "$work/questions.txt" --concurrency "$CONCURRENCY" --seconds "$DURATION" --warmup-seconds "$WARMUP")"

say "PostgreSQL full-text search on the same entries: accuracy, then pgbench at $CONCURRENCY clients"
fts="$(BENCH_DURATION="$DURATION" BENCH_CONCURRENCY="$CONCURRENCY" bash "$ROOT/bench/fts/run.sh")"

# Match's ceiling here: what it writes per question, alone (an input row and its announcement in
# the outbox, one transaction), with pgbench at the same concurrency.
say "pgbench: Match's write alone (an input and an outbox row per transaction), ${DURATION}s at $CONCURRENCY clients"
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d causerie_bench_fts <<'SQL'
drop table if exists bench_inputs, bench_outbox;
create table bench_inputs (tenant_id uuid, id uuid primary key, project_id uuid, day date, language text,
                           masked_text text, matched_entry_id uuid, score real, answered boolean);
create table bench_outbox (tenant_id uuid, id uuid primary key, routing_key text, envelope jsonb,
                           created_at timestamptz default now(), published_at timestamptz);
SQL
cat >"$work/write.sql" <<'SQL'
begin;
insert into bench_inputs values (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), current_date, 'fr',
    'quel est le délai de livraison pour [email]', gen_random_uuid(), 0.42, true);
insert into bench_outbox (tenant_id, id, routing_key, envelope) values (gen_random_uuid(), gen_random_uuid(),
    'assistant.question.asked', '{"type": "question.asked", "payload": {"masked_text": "quel est le délai"}}');
commit;
SQL
write_tps="$(timeout $((DURATION + 30)) pgbench -n -h 127.0.0.1 -U postgres -c "$CONCURRENCY" -j 2 -T "$DURATION" \
    -f "$work/write.sql" causerie_bench_fts | sed -n 's/^tps = \([0-9.]*\).*/\1/p')"

say "POST /widget/v1/messages against GET /v1/me, ${DURATION}s each at $CONCURRENCY connections"
headers="$work/headers"
curl -fsS -D "$headers" -o /dev/null -H 'content-type: application/json' -H "Origin: $ORIGIN" \
    "$BASE_URL/widget/v1/projects/$public_id/sessions" -d '{"page_url": "https://shop.bench.example/"}'
cookie="$(grep -i '^set-cookie: cz_\(vid\|sid\)=' "$headers" | sed -E 's/^[Ss]et-[Cc]ookie: ([^;]*);.*/\1/' | paste -sd ';' | sed 's/;/; /g')"
wrk_messages() {
    BENCH_DIR="$ROOT/bench" BENCH_COOKIE="$cookie" BENCH_ORIGIN="$ORIGIN" BENCH_BODIES="$work/bodies.jsonl" \
        timeout $(($1 + 30)) wrk --threads 2 --connections "$CONCURRENCY" --duration "${1}s" --timeout 10s \
        --script "$ROOT/bench/widget-messages.lua" "$BASE_URL/widget/v1/messages" | grep '^BENCH '
}
wrk_me() {
    timeout $(($1 + 30)) wrk --threads 2 --connections "$CONCURRENCY" --duration "${1}s" --timeout 10s \
        --header "Authorization: Bearer $token" --script "$ROOT/bench/wrk-report.lua" "$BASE_URL/v1/me" | grep '^BENCH '
}
token="$(login)"
wrk_messages "$WARMUP" >/dev/null
messages="$(wrk_messages "$DURATION")" || die "wrk failed on /widget/v1/messages"
wrk_me "$WARMUP" >/dev/null
me="$(wrk_me "$DURATION")" || die "wrk failed on /v1/me"
for line in "$messages" "$me"; do
    [[ "$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$line")" == 0 ]] || die "some answers were not 2xx: $line"
done

report="$(
    echo "causerie assistant benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $created entries"
    echo
    echo "accuracy on the labelled set, the engine (services/assistant/tests/matching_accuracy.rs):"
    echo "$engine_accuracy"
    echo
    echo "PostgreSQL full-text search (bench/fts):"
    echo "$fts"
    echo
    echo "$grpc"
    echo "BENCH name=widget_messages ${messages#BENCH }"
    echo "BENCH name=me ${me#BENCH }"
    echo "pgbench, Match's write alone: $write_tps tps"
    python3 - "$grpc" "$fts" "$messages" "$me" "$write_tps" <<'PY'
import re, sys
grpc, fts, messages, me, write_tps = sys.argv[1:]
rate = lambda name: float(re.search(rf"name={name} .*?rps=([0-9.]+)", grpc).group(1))
tps = {query: float(value) for query, value in re.findall(r"pgbench (\w+)\s+([0-9.]+) tps", fts)}
field = lambda line, key: float(re.search(rf"{key}=([0-9.]+)", line).group(1))
for query in ("or", "websearch"):
    print(f"RATIO vs PostgreSQL's {query} query ({tps[query]:.0f} tps): match_rps/tps={rate('match') / tps[query]:.2f}"
          f" search_rps/tps={rate('search') / tps[query]:.2f}")
print(f"RATIO widget_messages_rps/me_rps={field(messages, 'rps') / field(me, 'rps'):.2f}")
print(f"RATIO match_rps/its_write_alone_tps={rate('match') / float(write_tps):.2f}")
PY
)"
mkdir -p target/bench
echo "$report" | tee "target/bench/assistant-$(date -u +%Y%m%dT%H%M%SZ).txt"
