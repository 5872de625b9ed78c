-- Statements that set the tenant themselves, for the hottest paths: `select ... from f(tenant, ...)`
-- runs in one round trip and one implicit transaction, where a tenant transaction costs three
-- (begin and set the tenant, the statement, commit). `set_config(..., true)` is local to that
-- implicit transaction, so the tenant does not outlive the statement. SECURITY INVOKER: row-level
-- security applies exactly as in a tenant transaction. Never call one inside a tenant transaction:
-- it would switch that transaction's tenant.

-- GET /v1/me.
create function tenant_user(p_tenant_id uuid, p_user_id uuid) returns setof users
    language plpgsql security invoker
as $$
begin
    perform set_config('app.tenant_id', p_tenant_id::text, true);
    return query select * from users where id = p_user_id;
end
$$;

-- CheckConsent: the visitor's latest decision for a purpose.
create function latest_consent(p_tenant_id uuid, p_visitor_id uuid, p_purpose text) returns setof consent_records
    language plpgsql security invoker
as $$
begin
    perform set_config('app.tenant_id', p_tenant_id::text, true);
    return query select * from consent_records
                  where visitor_id = p_visitor_id and purpose = p_purpose
                  order by recorded_at desc, id desc
                  limit 1;
end
$$;

-- POST /widget/v1/consents: one record, committed when the statement returns.
create function record_consent(p_tenant_id uuid, p_id uuid, p_visitor_id uuid, p_project_id uuid, p_purpose text,
                               p_granted boolean, p_text_version integer, p_source text, p_client_network text,
                               p_recorded_at timestamptz) returns setof consent_records
    language plpgsql security invoker
as $$
begin
    perform set_config('app.tenant_id', p_tenant_id::text, true);
    return query insert into consent_records (tenant_id, id, visitor_id, project_id, purpose, granted, text_version,
                                              source, client_network, recorded_at)
                 values (p_tenant_id, p_id, p_visitor_id, p_project_id, p_purpose, p_granted, p_text_version,
                         p_source, p_client_network, p_recorded_at)
                 returning *;
end
$$;

revoke all on function tenant_user(uuid, uuid) from public;
revoke all on function latest_consent(uuid, uuid, text) from public;
revoke all on function record_consent(uuid, uuid, uuid, uuid, text, boolean, integer, text, text, timestamptz) from public;
grant execute on function tenant_user(uuid, uuid) to causerie_app;
grant execute on function latest_consent(uuid, uuid, text) to causerie_app;
grant execute on function record_consent(uuid, uuid, uuid, uuid, text, boolean, integer, text, text, timestamptz)
    to causerie_app;
