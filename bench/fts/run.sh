#!/usr/bin/env bash
# PostgreSQL full-text-search baseline: schema, top-1 accuracy on the labelled set, then pgbench of the
# ranked select (limit 3) for a random paraphrase, OR query then websearch_to_tsquery.
#
#   bash bench/fts/run.sh
#
# Knobs (environment): BENCH_DURATION (15 s per pgbench run), BENCH_CONCURRENCY (16 clients), PGHOST (127.0.0.1),
# PGPORT, PGUSER (postgres).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION="${BENCH_DURATION:-15}"
CLIENTS="${BENCH_CONCURRENCY:-16}"
DATABASE=causerie_bench_fts
export PGHOST="${PGHOST:-127.0.0.1}" PGUSER="${PGUSER:-postgres}"

[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 120 ]] \
    || { echo "BENCH_DURATION must be 1..120 seconds" >&2; exit 1; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres -f "$HERE/schema.sql"
python3 "$HERE/accuracy.py"

questions="$(psql -X -At -d "$DATABASE" -c 'select count(*) from kb_questions')"
for query in or websearch; do
    tps="$(pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" -D nq="$questions" -f "$HERE/pgbench_$query.sql" "$DATABASE" \
        | sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
    printf 'pgbench %-9s %s tps (%s clients, %s s)\n' "$query" "$tps" "$CLIENTS" "$DURATION"
done
