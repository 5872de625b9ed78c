-- The consent ledger's writer commits a group of decisions, whatever their tenants, with one
-- statement and one commit (`domain::consent_ledger`). Each tenant's records are inserted after
-- setting that tenant, in the statement's one implicit transaction, as the invoker, so row-level
-- security checks every record against its own tenant. Nothing is returned: the writer answers
-- with what it wrote. Every array holds one element per record.
create function record_consent_group(p_tenant_ids uuid[], p_ids uuid[], p_visitor_ids uuid[], p_project_ids uuid[],
                                     p_purposes text[], p_granted boolean[], p_text_versions integer[],
                                     p_sources text[], p_client_networks text[], p_recorded_at timestamptz[])
    returns void
    language plpgsql security invoker
as $$
declare
    group_tenant uuid;
begin
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
end
$$;

revoke all on function record_consent_group(uuid[], uuid[], uuid[], uuid[], text[], boolean[], integer[], text[],
                                            text[], timestamptz[]) from public;
grant execute on function record_consent_group(uuid[], uuid[], uuid[], uuid[], text[], boolean[], integer[], text[],
                                               text[], timestamptz[]) to causerie_app;

drop function record_consents(uuid, uuid[], uuid[], uuid[], text[], boolean[], integer[], text[], text[],
                              timestamptz[]);
