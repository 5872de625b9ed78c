-- Programmed notifications: a project's texts for its widget, shown on the pages a pattern
-- matches once the visitor's session is old enough. Not personal data: which visitor saw which
-- is kept in the visitor's browser (`cz_notif`), not here.
create table notifications (
    tenant_id uuid not null,
    id uuid not null,
    project_id uuid not null,
    text text not null check (length(text) between 1 and 1000),
    url_pattern text not null check (length(url_pattern) between 1 and 500),
    delay_seconds integer not null check (delay_seconds between 0 and 86400),
    active boolean not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id)
);
create index notifications_by_project on notifications (tenant_id, project_id, id);

alter table notifications enable row level security;
alter table notifications force row level security;
create policy notifications_tenant_isolation on notifications to causerie_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert, update, delete on notifications to causerie_app;
