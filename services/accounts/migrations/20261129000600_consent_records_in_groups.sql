-- Concurrent consent decisions are written together (`domain::consent_ledger`): one statement, one
-- commit and one WAL flush for the group instead of one each. Like `record_consent`, which it
-- replaces, it sets the tenant itself in its one implicit transaction and runs as the invoker, so
-- row-level security applies; every array holds one element per record.
create function record_consents(p_tenant_id uuid, p_ids uuid[], p_visitor_ids uuid[], p_project_ids uuid[],
                                p_purposes text[], p_granted boolean[], p_text_versions integer[],
                                p_sources text[], p_client_networks text[], p_recorded_at timestamptz[])
    returns setof consent_records
    language plpgsql security invoker
as $$
begin
    perform set_config('app.tenant_id', p_tenant_id::text, true);
    return query insert into consent_records (tenant_id, id, visitor_id, project_id, purpose, granted, text_version,
                                              source, client_network, recorded_at)
                 select p_tenant_id, decision.*
                   from unnest(p_ids, p_visitor_ids, p_project_ids, p_purposes, p_granted, p_text_versions,
                               p_sources, p_client_networks, p_recorded_at) as decision
                 returning *;
end
$$;

revoke all on function record_consents(uuid, uuid[], uuid[], uuid[], text[], boolean[], integer[], text[], text[],
                                       timestamptz[]) from public;
grant execute on function record_consents(uuid, uuid[], uuid[], uuid[], text[], boolean[], integer[], text[], text[],
                                          timestamptz[]) to causerie_app;

drop function record_consent(uuid, uuid, uuid, uuid, text, boolean, integer, text, text, timestamptz);
