-- One visitor question: a random paraphrase, ranked against its language's entries, OR of its lexemes.
-- pgbench -D nq=<rows of kb_questions>. The CTE is materialised so that the tsquery is built once, not per entry.
\set n random(1, :nq)
with q as materialized (
    select language, kb_or_tsquery((language || '_unaccent')::regconfig, text) as query
    from kb_questions where n = :n
)
select e.key, ts_rank_cd(e.document, q.query, 2) as rank
from q join kb_entries e on e.language = q.language and e.document @@ q.query
order by rank desc, e.id
limit 3;
