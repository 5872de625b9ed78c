-- Tenants, their users, the vendor's staff, and the keys that sign every token.

-- Customer organisations. Not personal data (an organisation's name and slug). A platform table:
-- staff list tenants across the platform, so its id is the tenant id and it has no tenant_id
-- column of its own; tenant data refers to it by tenant_id.
create table tenants (
    id uuid primary key,
    name text not null,
    slug text not null,
    status text not null default 'active' check (status in ('active', 'suspended')),
    contract_end timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create unique index tenants_slug on tenants (slug);

grant select, insert, update on tenants to causerie_app;

-- Tenant users: admins, contributors, operators.
-- Personal data. Retention category: accounts (for the contract's duration; erased at the
-- latest 30 days after it ends, or at once when an admin erases the user).
-- Legal basis: contract (the customer's contract with the vendor). Data subjects: the
-- customer's employees. Fields: e-mail, names, pseudonym, languages, skills, password hash.
create table users (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    email text not null,
    first_name text not null,
    last_name text not null,
    pseudonym text,
    languages text[] not null default '{}',
    skills text[] not null default '{}',
    role text not null check (role in ('admin', 'contributor', 'operator')),
    password_hash text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id)
);

comment on table users is 'personal data; retention category: accounts; legal basis: contract';

-- E-mail addresses are unique within a tenant, compared without case.
create unique index users_email on users (tenant_id, lower(email));

alter table users enable row level security;
alter table users force row level security;
create policy users_tenant_isolation on users
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update, delete on users to causerie_app;

-- The vendor's support staff.
-- Personal data. Retention category: accounts (for the duration of employment).
-- Legal basis: contract (employment). Fields: e-mail, password hash.
create table staff (
    id uuid primary key,
    email text not null,
    password_hash text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

comment on table staff is 'personal data; retention category: accounts; legal basis: contract';

create unique index staff_email on staff (lower(email));

grant select, insert, update on staff to causerie_app;

-- Ed25519 keys that sign access tokens. The newest unretired key signs; every key retired less
-- than a token lifetime ago still verifies. No personal data.
create table signing_keys (
    key_id text primary key,
    private_key bytea not null,
    created_at timestamptz not null,
    retired_at timestamptz
);

grant select, insert, update on signing_keys to causerie_app;
