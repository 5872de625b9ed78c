-- The relay publishes every tenant's events. It now does so as a role of its own,
-- `causerie_outbox_relay` (created by the service at start, like `causerie_app`), so the
-- application role's policy has no escape: the former one admitted any session that set
-- `app.outbox_relay`, which any code running as the application role could do.
drop policy outbox_tenant_isolation on outbox;

create policy outbox_tenant_isolation on outbox to causerie_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

create policy outbox_relay on outbox to causerie_outbox_relay
    using (true)
    with check (true);

grant select, update, delete on outbox to causerie_outbox_relay;
