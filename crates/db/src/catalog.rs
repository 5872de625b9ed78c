//! Reads PostgreSQL's catalog for the ways tenant isolation leaks (DESIGN.md section 4). Every
//! service's tests run it on the service's migrated database, so a migration that forgets one of
//! these rules fails the build.

use sqlx::PgPool;

/// One way a schema lets a tenant see or touch another tenant's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolationLeak {
    pub object: String,
    pub problem: &'static str,
}

// Two allow-lists live in the checks below, as literals:
// - the functions allowed to call `set_config`: `tenant_user` (GET /v1/me in one round trip),
//   `latest_consent` (CheckConsent in one round trip) and `record_consent_group` (the consent
//   ledger's grouped writes), each the whole statement of a hot path, each refusing to run inside
//   a transaction that already has another tenant (accounts' migration
//   `..._100_tenant_statements_refuse_another_tenant`). Any other function that sets the tenant
//   could switch a tenant transaction to another tenant;
// - the policies that need not read `app.tenant_id`: `outbox_relay`, the policy of the relay role,
//   which publishes every tenant's events and sees the outbox and nothing else; and
//   `outgoing_mail_mailer`, the policy of accounts' mailer role, which sends every tenant's mail
//   and sees the outgoing mail and nothing else.

const CHECKS: [(&str, &str); 10] = [
    (
        "a table with tenant_id lacks enabled and forced row-level security or a policy",
        "select c.relname::text from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind in ('r', 'p')
            and exists (select 1 from pg_attribute a
                         where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
            and (not c.relrowsecurity or not c.relforcerowsecurity
                 or not exists (select 1 from pg_policy p
                                 where p.polrelid = c.oid and p.polqual is not null))",
    ),
    (
        "a view is not security_invoker, so it runs with its owner's rights and skips row-level security",
        "select c.relname::text from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind in ('v', 'm')
            and not coalesce(c.reloptions && array['security_invoker=true', 'security_invoker=on', 'security_invoker=1'], false)",
    ),
    (
        "a function is SECURITY DEFINER, so it runs with its owner's rights and skips row-level security",
        "select p.proname::text from pg_proc p
           join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = 'public' and p.prosecdef",
    ),
    (
        "a unique index on a tenant table leaves tenant_id out, so its error reveals another tenant's row",
        "select i.indexrelid::regclass::text from pg_index i
           join pg_class c on c.oid = i.indrelid
           join pg_namespace n on n.oid = c.relnamespace
           join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
          where n.nspname = 'public' and i.indisunique
            and not (a.attnum = any(i.indkey::int2[]))",
    ),
    (
        "a foreign key between tenant tables does not pair tenant_id with tenant_id, so it can point at another tenant's row",
        "select con.conname::text from pg_constraint con
           join pg_class c on c.oid = con.conrelid
           join pg_namespace n on n.oid = c.relnamespace
           join pg_attribute a on a.attrelid = con.conrelid and a.attname = 'tenant_id' and not a.attisdropped
           join pg_attribute ref on ref.attrelid = con.confrelid and ref.attname = 'tenant_id' and not ref.attisdropped
          where n.nspname = 'public' and con.contype = 'f'
            and coalesce(array_position(con.conkey, a.attnum) is distinct from array_position(con.confkey, ref.attnum)
                         or array_position(con.conkey, a.attnum) is null, true)",
    ),
    (
        "a row-level security policy does not read app.tenant_id in its USING or WITH CHECK, so it admits other tenants' rows",
        "select p.polname::text from pg_policy p
           join pg_class c on c.oid = p.polrelid
           join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public'
            and (c.relname, p.polname) not in (('outbox', 'outbox_relay'), ('outgoing_mail', 'outgoing_mail_mailer'))
            and ((p.polqual is not null and pg_get_expr(p.polqual, p.polrelid) not like '%app.tenant_id%')
                 or (p.polwithcheck is not null and pg_get_expr(p.polwithcheck, p.polrelid) not like '%app.tenant_id%'))",
    ),
    (
        "a function outside the allow-list calls set_config, so it could switch a tenant transaction to another tenant",
        "select p.proname::text from pg_proc p
           join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = 'public' and p.prosrc ilike '%set_config%'
            and p.proname not in ('tenant_user', 'latest_consent', 'record_consent_group')",
    ),
    (
        "an application, relay or mailer role owns a table, so it could change or drop the policy",
        "select c.relname::text from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           join pg_roles owner on owner.oid = c.relowner
          where n.nspname = 'public'
            and (owner.rolname in ('causerie_app', 'causerie_outbox_relay', 'causerie_mailer')
                 or exists (select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid
                             where m.member = owner.oid and g.rolname in ('causerie_app', 'causerie_outbox_relay', 'causerie_mailer')))",
    ),
    (
        "an application, relay or mailer role may TRUNCATE (which skips row-level security), REFERENCES or TRIGGER a table",
        "select c.relname::text || ': ' || acl.privilege_type from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           cross join lateral aclexplode(c.relacl) acl
           left join pg_roles grantee on grantee.oid = acl.grantee
          where n.nspname = 'public'
            and acl.privilege_type in ('TRUNCATE', 'REFERENCES', 'TRIGGER')
            -- Grantee 0 is PUBLIC, which every role is.
            and (acl.grantee = 0 or grantee.rolname in ('causerie_app', 'causerie_outbox_relay', 'causerie_mailer')
                 or exists (select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid
                             where m.member = grantee.oid and g.rolname in ('causerie_app', 'causerie_outbox_relay', 'causerie_mailer')))",
    ),
    (
        "an application, relay or mailer role is a superuser or has BYPASSRLS",
        "select r.rolname::text from pg_roles r
          where (r.rolname in ('causerie_app', 'causerie_outbox_relay', 'causerie_mailer')
                 or exists (select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid
                             where m.member = r.oid and g.rolname in ('causerie_app', 'causerie_outbox_relay', 'causerie_mailer')))
            and (r.rolsuper or r.rolbypassrls)",
    ),
];

/// Every leak found in the database behind `pool`; empty when the schema is sound.
pub async fn isolation_leaks(pool: &PgPool) -> Result<Vec<IsolationLeak>, sqlx::Error> {
    let mut leaks = Vec::new();
    for (problem, query) in CHECKS {
        let objects: Vec<String> = sqlx::query_scalar(query).fetch_all(pool).await?;
        leaks.extend(objects.into_iter().map(|object| IsolationLeak { object, problem }));
    }
    Ok(leaks)
}
