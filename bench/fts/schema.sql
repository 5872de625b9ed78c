-- PostgreSQL full-text-search baseline: schema. Idempotent; run against any database of the server:
--   psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -f bench/fts/schema.sql
select 'create database causerie_bench_fts'
where not exists (select from pg_database where datname = 'causerie_bench_fts') \gexec
\connect causerie_bench_fts
set client_min_messages = warning;

create extension if not exists unaccent;

do $$
begin
    if not exists (select from pg_ts_config where cfgname = 'fr_unaccent') then
        create text search configuration fr_unaccent (copy = french);
    end if;
    if not exists (select from pg_ts_config where cfgname = 'en_unaccent') then
        create text search configuration en_unaccent (copy = english);
    end if;
end $$;

-- unaccent is a filtering dictionary: it passes the unaccented token on to the stemmer.
alter text search configuration fr_unaccent
    alter mapping for asciiword, asciihword, hword_asciipart, word, hword, hword_part
    with unaccent, french_stem;
alter text search configuration en_unaccent
    alter mapping for asciiword, asciihword, hword_asciipart, word, hword, hword_part
    with unaccent, english_stem;

create table if not exists kb_entries (
    id serial primary key,
    key text not null,
    language text not null,
    question text not null,
    variants text[] not null default '{}',
    answer text not null,
    tags text[] not null default '{}',
    document tsvector
);

-- A trigger rather than a generated column: array_to_string is only stable, not immutable.
-- The configuration is <language>_unaccent (fr_unaccent, en_unaccent).
create or replace function kb_entries_document() returns trigger language plpgsql as $$
declare
    cfg regconfig := (new.language || '_unaccent')::regconfig;
begin
    new.document :=
        setweight(to_tsvector(cfg, concat_ws(' ', new.question, array_to_string(new.variants, ' '))), 'A')
        || setweight(to_tsvector(cfg, concat_ws(' ', new.answer, array_to_string(new.tags, ' '))), 'B');
    return new;
end $$;

create or replace trigger kb_entries_document
    before insert or update on kb_entries
    for each row execute function kb_entries_document();

create index if not exists kb_entries_document_idx on kb_entries using gin (document);

-- The paraphrases, for pgbench to pick from.
create table if not exists kb_questions (
    n serial primary key,
    language text not null,
    text text not null
);

-- OR of the text's lexemes, as normalised by cfg (stop words dropped): 'a' | 'b' | ...
-- NULL when no lexeme is left, so that `document @@ query` matches nothing.
-- Lexemes are quoted as tsquery input wants: backslashes and quotes doubled.
create or replace function kb_or_tsquery(cfg regconfig, q text) returns tsquery
language sql immutable strict parallel safe as $$
    select string_agg('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
    from unnest(to_tsvector(cfg, q))
$$;
