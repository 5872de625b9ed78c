-- The tenants retention knows about and will sweep, learnt from `accounts.tenant.created`.
-- Not personal data: an organisation's id, slug and contract end. A platform table, keyed by
-- the tenant id itself, because sweeps loop over every tenant.
create table tenant_registry (
    id uuid primary key,
    slug text not null,
    contract_end timestamptz,
    tracked_since timestamptz not null
);

grant select, insert, update on tenant_registry to causerie_app;
