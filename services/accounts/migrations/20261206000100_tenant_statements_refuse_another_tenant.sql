-- The statements that set the tenant themselves (`tenant_user`, `latest_consent`,
-- `record_consent_group`) took the tenant as a parameter: called inside a tenant transaction,
-- they would silently switch that transaction to another tenant. Each now refuses to run when
-- the transaction already has a tenant other than the one it is given (`record_consent_group`,
-- which sets several in turn, when it has any), so they can only be the whole of an implicit
-- transaction of their own. They are the catalog check's allow-list of functions that call
-- `set_config` (`causerie_db::catalog`).

create or replace function tenant_user(p_tenant_id uuid, p_user_id uuid) returns setof users
    language plpgsql security invoker
as $$
begin
    if coalesce(current_setting('app.tenant_id', true), '') not in ('', p_tenant_id::text) then
        raise exception 'tenant_user would switch this transaction to another tenant' using errcode = '42501';
    end if;
    perform set_config('app.tenant_id', p_tenant_id::text, true);
    return query select * from users where id = p_user_id;
end
$$;

create or replace function latest_consent(p_tenant_id uuid, p_visitor_id uuid, p_purpose text)
    returns setof consent_records
    language plpgsql security invoker
as $$
begin
    if coalesce(current_setting('app.tenant_id', true), '') not in ('', p_tenant_id::text) then
        raise exception 'latest_consent would switch this transaction to another tenant' using errcode = '42501';
    end if;
    perform set_config('app.tenant_id', p_tenant_id::text, true);
    return query select * from consent_records
                  where visitor_id = p_visitor_id and purpose = p_purpose
                  order by recorded_at desc, id desc
                  limit 1;
end
$$;

create or replace function record_consent_group(p_tenant_ids uuid[], p_ids uuid[], p_visitor_ids uuid[],
                                                p_project_ids uuid[], p_purposes text[], p_granted boolean[],
                                                p_text_versions integer[], p_sources text[],
                                                p_client_networks text[], p_recorded_at timestamptz[])
    returns void
    language plpgsql security invoker
as $$
declare
    group_tenant uuid;
begin
    if coalesce(current_setting('app.tenant_id', true), '') <> '' then
        raise exception 'record_consent_group sets its tenants itself; call it outside a tenant transaction'
            using errcode = '42501';
    end if;
    for group_tenant in select distinct tenant_id from unnest(p_tenant_ids) as tenant_id loop
        perform set_config('app.tenant_id', group_tenant::text, true);
        insert into consent_records (tenant_id, id, visitor_id, project_id, purpose, granted, text_version, source,
                                     client_network, recorded_at)
        select decision.*
          from unnest(p_tenant_ids, p_ids, p_visitor_ids, p_project_ids, p_purposes, p_granted, p_text_versions,
                      p_sources, p_client_networks, p_recorded_at)
               as decision (tenant_id, id, visitor_id, project_id, purpose, granted, text_version, source,
                            client_network, recorded_at)
         where decision.tenant_id = group_tenant;
    end loop;
    -- Left unset, so that a later statement of the same transaction starts without a tenant.
    perform set_config('app.tenant_id', '', true);
end
$$;
