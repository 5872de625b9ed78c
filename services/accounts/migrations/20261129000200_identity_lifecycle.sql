-- The whole life of an identity: sessions (refresh tokens), password resets and the mail that
-- carries them, legal notices and their acceptance, API keys, the audit log, support access
-- grants, the staff's second factor, and erasure of a user.

-- An erased user keeps its row as a tombstone, so the content it authored stays attributed to
-- an id; every personal field is emptied, not flagged, which needs the columns to allow it.
alter table users
    alter column email drop not null,
    alter column first_name drop not null,
    alter column last_name drop not null,
    alter column password_hash drop not null,
    add column project_ids uuid[] not null default '{}',
    add column erased_at timestamptz,
    -- A new e-mail address waits here until a link sent to it is followed.
    add column pending_email text,
    add column pending_email_token_hash bytea,
    add column pending_email_expires_at timestamptz,
    add constraint users_erased_hold_no_personal_data check (
        erased_at is null
        or (email is null and first_name is null and last_name is null and pseudonym is null
            and password_hash is null and pending_email is null and languages = '{}' and skills = '{}')
    ),
    add constraint users_live_have_identity check (
        erased_at is not null or (email is not null and first_name is not null and last_name is not null)
    );

-- Operators are searched by language and skill; GIN indexes keep it fast at 100k operators.
create index users_languages on users using gin (languages) where role = 'operator' and erased_at is null;
create index users_skills on users using gin (skills) where role = 'operator' and erased_at is null;

-- Refresh tokens: opaque, stored as SHA-256 (they are random, 256 bits, so a slow hash adds
-- nothing), rotated on each use. A family is every token descended from one login; presenting a
-- token already used revokes the whole family, since one of the two holders is a thief.
-- Personal data (a session of a user). Retention category: accounts; rows expire with the token
-- (30 days) and go with the user. Legal basis: contract.
create table refresh_tokens (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    family_id uuid not null,
    token_hash bytea not null,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    revoked_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

comment on table refresh_tokens is 'personal data; retention category: accounts; legal basis: contract';

create unique index refresh_tokens_hash on refresh_tokens (tenant_id, token_hash);
create index refresh_tokens_user on refresh_tokens (tenant_id, user_id) where revoked_at is null;
create index refresh_tokens_family on refresh_tokens (tenant_id, family_id);

-- Password reset tokens: single use, one hour, stored as SHA-256.
-- Personal data (linked to a user). Retention category: accounts. Legal basis: contract.
create table password_resets (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    token_hash bytea not null,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

comment on table password_resets is 'personal data; retention category: accounts; legal basis: contract';

create unique index password_resets_hash on password_resets (tenant_id, token_hash);

-- Mail waiting for the SMTP server, written in the same transaction as what it announces and
-- deleted once the server has accepted it, so a reset link does not outlive its delivery.
-- Personal data (recipient address, a link). Retention category: accounts; kept only until sent.
-- Legal basis: contract.
create table outgoing_mail (
    tenant_id uuid not null,
    id uuid not null,
    recipient text not null,
    subject text not null,
    body text not null,
    created_at timestamptz not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error text,
    primary key (tenant_id, id)
);

comment on table outgoing_mail is 'personal data; retention category: accounts (until sent); legal basis: contract';

create index outgoing_mail_due on outgoing_mail (next_attempt_at);

-- Legal notices on personal data, versioned per tenant. No personal data (text by the tenant).
create table legal_notices (
    tenant_id uuid not null references tenants (id),
    version integer not null check (version > 0),
    text text not null,
    published_by uuid not null,
    published_at timestamptz not null,
    primary key (tenant_id, version)
);

-- Who accepted which version, when: the proof the notice was read.
-- Personal data. Retention category: accounts. Legal basis: legal obligation (GDPR Art. 13).
create table legal_notice_acceptances (
    tenant_id uuid not null,
    user_id uuid not null,
    version integer not null,
    accepted_at timestamptz not null,
    primary key (tenant_id, user_id, version),
    foreign key (tenant_id, version) references legal_notices (tenant_id, version),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

comment on table legal_notice_acceptances is
    'personal data; retention category: accounts; legal basis: legal obligation';

-- API keys of integrators: shown once, stored as SHA-256 of their random secret.
-- Not personal data (a key belongs to the tenant); `created_by` names the admin who made it.
create table api_keys (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    name text not null,
    scopes text[] not null,
    key_hash bytea not null,
    created_by uuid not null,
    created_at timestamptz not null,
    last_used_at timestamptz,
    revoked_at timestamptz,
    primary key (tenant_id, id)
);

create unique index api_keys_hash on api_keys (tenant_id, key_hash);

-- Every read or change of personal data: who, what, which subject, when, from which address.
-- Each entry's hash covers the previous entry's hash, so a changed or removed entry breaks the
-- chain. The application role may only read and append.
-- Personal data (actor ids, source addresses). Retention category: audit_log.
-- Legal basis: legitimate interests and legal obligation (GDPR Art. 5(2), 32: accountability).
create table audit_log (
    tenant_id uuid not null references tenants (id),
    sequence bigint not null,
    id uuid not null,
    occurred_at timestamptz not null,
    actor_kind text not null check (actor_kind in ('user', 'api_key', 'staff', 'system')),
    actor_id text not null,
    action text not null,
    subject_kind text not null,
    subject_id text not null,
    source_address text,
    previous_hash bytea not null,
    hash bytea not null,
    primary key (tenant_id, sequence)
);

comment on table audit_log is 'personal data; retention category: audit_log; legal basis: legitimate interests';

create unique index audit_log_id on audit_log (tenant_id, id);
create index audit_log_actor on audit_log (tenant_id, actor_id, occurred_at);

-- Support's access to a tenant's personal data, granted by a tenant admin, limited in time and
-- scope, revocable. Not personal data beyond the granting admin's id.
create table support_grants (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    scope text not null check (scope in ('read', 'read_write')),
    reason text,
    granted_by uuid not null,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    revoked_at timestamptz,
    primary key (tenant_id, id)
);

create index support_grants_live on support_grants (tenant_id, expires_at) where revoked_at is null;

-- The staff's second factor (RFC 6238). The pending secret waits for a first valid code.
alter table staff
    add column totp_secret bytea,
    add column totp_pending_secret bytea,
    add column totp_last_step bigint;

do $$
declare
    tenant_table text;
begin
    foreach tenant_table in array array[
        'refresh_tokens', 'password_resets', 'outgoing_mail', 'legal_notices', 'legal_notice_acceptances',
        'api_keys', 'audit_log', 'support_grants'
    ] loop
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

grant select, insert, update, delete on refresh_tokens, password_resets, outgoing_mail, support_grants to causerie_app;
grant select, insert on legal_notices, legal_notice_acceptances to causerie_app;
grant select, insert, update on api_keys to causerie_app;
-- Append-only: no update, no delete for the application role.
grant select, insert on audit_log to causerie_app;

-- The mailer sends every tenant's mail, as the relay publishes every tenant's events.
create policy outgoing_mail_relay on outgoing_mail to causerie_outbox_relay using (true) with check (true);
grant select, update, delete on outgoing_mail to causerie_outbox_relay;

-- Signing keys rotate: a new key is published before it signs (`signs_from`), and the key it
-- replaces is retired from that moment.
alter table signing_keys add column signs_from timestamptz;
update signing_keys set signs_from = created_at;
alter table signing_keys alter column signs_from set not null;
