-- Tables every service database carries: the transactional outbox and the consumer inbox.
-- Tracked in their own migrations table, apart from the service's own schema.

-- The group role `causerie_app` is created by the service at start (roles are cluster-wide and
-- must be created under a lock, which a migration cannot take across databases).

-- Events waiting for the broker. A row is written in the same transaction as the state change
-- it announces, and marked published only once the broker has confirmed it.
-- Holds no personal data beyond identifiers named by the event payloads (category of the
-- producing table); published rows are purged after 7 days by the relay.
create table outbox (
    tenant_id uuid not null,
    id uuid not null,
    routing_key text not null,
    envelope jsonb not null,
    created_at timestamptz not null default now(),
    published_at timestamptz,
    attempts integer not null default 0,
    last_error text,
    primary key (tenant_id, id)
);

create index outbox_unpublished on outbox (created_at) where published_at is null;

alter table outbox enable row level security;
alter table outbox force row level security;

-- Writers see only their tenant's rows; the relay, which publishes for all tenants, says so
-- explicitly in its own transaction.
create policy outbox_tenant_isolation on outbox
    using (
        tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
        or current_setting('app.outbox_relay', true) = 'on'
    )
    with check (
        tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
        or current_setting('app.outbox_relay', true) = 'on'
    );

grant select, insert, update, delete on outbox to causerie_app;

-- Messages a consumer has applied, written in the same transaction as the effect, so that a
-- redelivered message is recognised and applied once. No personal data.
create table inbox (
    message_id uuid not null,
    consumer text not null,
    processed_at timestamptz not null default now(),
    primary key (message_id, consumer)
);

grant select, insert, delete on inbox to causerie_app;
