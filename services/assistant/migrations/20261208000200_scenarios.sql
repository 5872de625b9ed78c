-- Scenarios: sequences of steps a visitor is taken through, each project's own. Not personal
-- data: the tenant's content. Where a visitor stands in one is kept in Redis for half an hour
-- (`{ns}:assistant:session:*`), never what the visitor typed.
create table scenarios (
    tenant_id uuid not null,
    id uuid not null,
    project_id uuid not null,
    name text not null check (length(name) between 1 and 200),
    -- {triggers: {entry_ids, keywords}, steps: [...]}, checked whole by the assistant.
    definition jsonb not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id)
);
create index scenarios_by_project on scenarios (tenant_id, project_id, id);

alter table scenarios enable row level security;
alter table scenarios force row level security;
create policy scenarios_tenant_isolation on scenarios to causerie_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert, update, delete on scenarios to causerie_app;
