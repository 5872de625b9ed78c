#!/usr/bin/env python3
"""PostgreSQL full-text-search baseline: top-1 accuracy on the labelled set.

Loads the fr/en fixtures into kb_entries and the paraphrases into kb_questions (both truncated first), then
ranks the entries of the paraphrase's language by ts_rank_cd for two queries, normalised by the document
length (normalisation 2: its best on this set, 48.9% top-1 for the OR query against 45.8% without):
  websearch  websearch_to_tsquery(cfg, text): every word required
  or         kb_or_tsquery(cfg, text): the text's lexemes joined with |
All in one psql call (no psycopg2 here). Needs bench/fts/schema.sql applied first.
"""
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "services/assistant/tests/fixtures"
DATABASE = "causerie_bench_fts"


def sql_literal(text):
    return "'" + text.replace("'", "''") + "'"  # standard_conforming_strings is set on below


def load_fixtures():
    data = {"entries": [], "paraphrases": [], "out_of_domain": []}
    for language in ("fr", "en"):
        fixture = json.loads((FIXTURES / f"{language}.json").read_text(encoding="utf-8"))
        data["entries"] += fixture["entries"]
        data["paraphrases"] += [dict(p, language=language) for p in fixture["paraphrases"]]
        data["out_of_domain"] += [dict(o, language=language) for o in fixture["out_of_domain"]]
    return data


SCRIPT = """
\\set ON_ERROR_STOP on
set standard_conforming_strings = on;
set client_min_messages = warning;  -- websearch_to_tsquery notices stop-word-only queries
begin;
create temp table fixture as select {data}::jsonb as doc;
truncate kb_entries, kb_questions restart identity;
insert into kb_entries (key, language, question, variants, answer, tags)
select key, language, question, variants, answer, tags
from fixture, jsonb_populate_recordset(null::kb_entries, doc -> 'entries');
insert into kb_questions (language, text)
select language, text from fixture, jsonb_to_recordset(doc -> 'paraphrases') as p(language text, text text);
commit;
analyze kb_entries, kb_questions;

create temp view queries as
select kind, q.*, case kind
        when 'websearch' then websearch_to_tsquery((q.language || '_unaccent')::regconfig, q.text)
        else kb_or_tsquery((q.language || '_unaccent')::regconfig, q.text)
    end as query
from (values ('websearch'), ('or')) as k(kind),
    fixture, jsonb_to_recordset((doc -> 'paraphrases') || (doc -> 'out_of_domain'))
        as q(language text, text text, expected text, hard boolean, near boolean);

\\pset format csv
select kind, coalesce(q.language, 'all') as language,
    count(*) filter (where expected is not null) as paraphrases,
    avg((top1 is not distinct from expected)::int) filter (where expected is not null) as top1,
    avg((top1 is not distinct from expected)::int) filter (where not hard) as top1_not_hard,
    avg((top1 is not distinct from expected)::int) filter (where hard) as top1_hard,
    count(*) filter (where expected is null) as out_of_domain,
    avg((top1 is null)::int) filter (where expected is null) as ood_no_match,
    avg((top1 is null)::int) filter (where near) as ood_near_no_match
from queries q
left join lateral (
    select e.key as top1 from kb_entries e
    where e.language = q.language and e.document @@ q.query
    order by ts_rank_cd(e.document, q.query, 2) desc, e.id
    limit 1
) t on true
group by kind, rollup (q.language)
order by kind desc, q.language nulls first;
"""


def main():
    env = dict(os.environ)
    env.setdefault("PGHOST", "127.0.0.1")
    env.setdefault("PGUSER", "postgres")
    script = SCRIPT.format(data=sql_literal(json.dumps(load_fixtures(), ensure_ascii=False)))
    result = subprocess.run(["psql", "-X", "-q", "-d", DATABASE], input=script, capture_output=True,
                            text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"psql failed:\n{result.stderr}")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    pct = lambda v: f"{100 * float(v):5.1f}%" if v else "    -"
    print(f"{'query':<10} {'lang':<4} {'n':>4} {'top-1':>6} {'!hard':>6} {'hard':>6}   "
          f"{'ood':>4} {'no match':>8} {'(near)':>6}")
    for r in rows:
        print(f"{r['kind']:<10} {r['language']:<4} {r['paraphrases']:>4} {pct(r['top1'])} "
              f"{pct(r['top1_not_hard'])} {pct(r['top1_hard'])}   {r['out_of_domain']:>4} "
              f"{pct(r['ood_no_match']):>8} {pct(r['ood_near_no_match'])}")


if __name__ == "__main__":
    main()
