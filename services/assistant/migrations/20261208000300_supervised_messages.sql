-- Supervised sessions (category `supervised_sessions`): the exchanges of a widget session with
-- the assistant, kept only while the project has supervision on and the visitor's latest
-- decision for the project's supervision purpose grants it. Personal data: what the visitor typed,
-- linked to the tenant's pseudonymous visitor id for erasure and export.
create table supervised_messages (
    tenant_id uuid not null,
    id uuid not null,
    project_id uuid not null,
    session_id text not null check (length(session_id) between 1 and 200),
    visitor_id uuid not null,
    -- `visitor` or `assistant`.
    author text not null check (author in ('visitor', 'assistant')),
    text text not null,
    created_at timestamptz not null,
    primary key (tenant_id, id)
);
create index supervised_messages_by_session on supervised_messages (tenant_id, project_id, session_id, id);
create index supervised_messages_by_visitor on supervised_messages (tenant_id, visitor_id);
create index supervised_messages_by_age on supervised_messages (tenant_id, created_at);

alter table supervised_messages enable row level security;
alter table supervised_messages force row level security;
create policy supervised_messages_tenant_isolation on supervised_messages to causerie_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert, delete on supervised_messages to causerie_app;
