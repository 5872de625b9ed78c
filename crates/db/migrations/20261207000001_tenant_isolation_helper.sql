-- Puts a tenant table under row-level security, the one way every service's migrations do it
-- (DESIGN.md section 4): `select causerie_tenant_isolation('table');` after `create table`.
-- The application role then sees and writes only the rows of the tenant its transaction names
-- (`app.tenant_id`, set by `causerie_db::tenant_tx`); `force` holds the table's owner to the
-- policies too, so a query run as the owner finds nothing rather than every tenant's rows. The
-- catalog check (`causerie_db::catalog`, run over every service's database by `tests/tests/isolation.rs`)
-- verifies the result.
create function causerie_tenant_isolation(tenant_table regclass) returns void
language plpgsql
as $$
begin
    execute format('alter table %s enable row level security', tenant_table);
    execute format('alter table %s force row level security', tenant_table);
    execute format(
        'create policy %I on %s to causerie_app
             using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)
             with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)',
        (select relname from pg_class where oid = tenant_table) || '_tenant_isolation',
        tenant_table);
end
$$;

-- Only migrations, run as the database's owner, call it.
revoke execute on function causerie_tenant_isolation(regclass) from public;
