-- Each tenant's projects, privacy policy (versioned) and consent ledger; the platform's list of
-- sub-processors; the tenant features support switches.

-- Switches support sets per tenant (PATCH /admin/v1/tenants/{id}). Not personal data.
alter table tenants
    add column privacy_button boolean not null default true,
    add column credits_sequence boolean not null default true,
    add column translation boolean not null default false;

-- One chatbot deployment of a tenant. Not personal data.
create table projects (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    name text not null,
    allowed_origins text[] not null default '{}',
    languages text[] not null default '{}',
    supervision_enabled boolean not null default false,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id)
);

-- Every version of a tenant's privacy policy, kept: the policy in force at any past moment can be
-- shown. The document names the controller and the DPO (contact details of people, given by the
-- tenant to be published). Retention: for the tenant's lifetime. Legal basis: legal obligation
-- (GDPR Art. 13, 30).
create table privacy_policies (
    tenant_id uuid not null references tenants (id),
    version integer not null check (version > 0),
    policy jsonb not null,
    created_by uuid not null,
    created_at timestamptz not null,
    primary key (tenant_id, version)
);

comment on table privacy_policies is
    'contact data of the controller and DPO; retention: tenant lifetime; legal basis: legal obligation';

-- The consent ledger: one row per decision of a visitor, never updated; the current state is
-- the latest row per purpose. The address is truncated before it is stored (IPv4 /24, IPv6 /48).
-- Personal data (a pseudonymous visitor id, a truncated address). Retention category:
-- consent_records (1825 days). Legal basis: legal obligation (GDPR Art. 7(1): proof of consent).
create table consent_records (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    visitor_id uuid not null,
    -- No foreign key: the proof outlives a deleted project.
    project_id uuid not null,
    purpose text not null,
    granted boolean not null,
    text_version integer not null,
    source text not null check (source in ('widget', 'scenario_step', 'form', 'chat_intro')),
    client_network text,
    recorded_at timestamptz not null,
    primary key (tenant_id, id)
);

comment on table consent_records is
    'personal data; retention category: consent_records; legal basis: legal obligation';

create index consent_records_visitor on consent_records (tenant_id, visitor_id, purpose, recorded_at desc, id desc);

-- Sub-processors the platform may use, kept by support. A platform table: not tenant data, and not
-- personal data (companies).
create table subprocessors (
    id text primary key,
    kind text not null check (kind in ('hosting', 'tts', 'translation')),
    name text not null,
    country text not null,
    outside_eu boolean not null,
    safeguard text,
    purpose text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

-- What a fresh platform starts with; support corrects it through the admin API.
insert into subprocessors (id, kind, name, country, outside_eu, safeguard, purpose, created_at, updated_at) values
    ('ovh', 'hosting', 'OVH SAS', 'FR', false, null, 'hosting of the platform and its backups', now(), now()),
    ('acapela', 'tts', 'Acapela Group', 'BE', false, null, 'text to speech of assistant answers', now(), now()),
    ('google-translate', 'translation', 'Google Ireland Ltd (Cloud Translation)', 'US', true,
     'EU Standard Contractual Clauses (2021/914) and the EU-US Data Privacy Framework',
     'machine translation of messages', now(), now());

do $$
declare
    tenant_table text;
begin
    foreach tenant_table in array array['projects', 'privacy_policies', 'consent_records'] loop
        execute format('alter table %I enable row level security', tenant_table);
        execute format('alter table %I force row level security', tenant_table);
        execute format(
            'create policy %I on %I to causerie_app
                 using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)
                 with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)',
            tenant_table || '_tenant_isolation', tenant_table);
    end loop;
end
$$;

grant select, insert, update, delete on projects to causerie_app;
grant select, insert on privacy_policies to causerie_app;
-- A consent record is never changed: a withdrawal is a new record.
grant select, insert on consent_records to causerie_app;
grant select, insert, update on subprocessors to causerie_app;
