-- Knowledge bases: each project's entries, written by the tenant's admins and contributors.
-- Not personal data, except `author_id`, the user who last wrote the entry: a user's erasure
-- keeps the id as a tombstone in accounts, so the entry keeps an author that names nobody.
create table knowledge_entries (
    tenant_id uuid not null,
    id uuid not null,
    project_id uuid not null,
    question text not null check (length(question) between 1 and 500),
    variants text[] not null default '{}' check (cardinality(variants) <= 100),
    answer text not null check (length(answer) between 1 and 10000),
    language text not null check (language ~ '^[a-z]{2}$'),
    tags text[] not null default '{}' check (cardinality(tags) <= 20),
    author_id uuid,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id)
);
create index knowledge_entries_by_project on knowledge_entries (tenant_id, project_id, id);

alter table knowledge_entries enable row level security;
alter table knowledge_entries force row level security;
create policy knowledge_entries_tenant_isolation on knowledge_entries to causerie_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert, update, delete on knowledge_entries to causerie_app;

-- The tenants that have written entries, so that a replica starting up builds every project's
-- index one tenant transaction at a time. An organisation's id only: not personal data.
create table knowledge_base_tenants (
    id uuid primary key
);
grant select, insert, delete on knowledge_base_tenants to causerie_app;

-- What visitors asked, for the statistics: masked before it is written (no e-mail address, phone
-- number, IBAN, card number, IP address or URL query is left), with nothing that links it to a
-- visitor or a session. Category `assistant_inputs`.
create table assistant_inputs (
    tenant_id uuid not null,
    id uuid not null,
    project_id uuid not null,
    day date not null,
    language text,
    masked_text text not null,
    matched_entry_id uuid,
    score real not null,
    answered boolean not null,
    primary key (tenant_id, id)
);
create index assistant_inputs_by_project_day on assistant_inputs (tenant_id, project_id, day);

alter table assistant_inputs enable row level security;
alter table assistant_inputs force row level security;
create policy assistant_inputs_tenant_isolation on assistant_inputs to causerie_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert, delete on assistant_inputs to causerie_app;
