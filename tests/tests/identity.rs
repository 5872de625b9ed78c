//! The whole life of an identity, over HTTP against the running services: sessions and their
//! theft, brute force, password reset by mail, legal notices, erasure, API keys, the audit log,
//! and support access under a tenant's grant.

mod common;

use std::time::Duration;

use anyhow::Context;
use causerie_e2e::TestStack;
use causerie_runtime::Service;
use common::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};

async fn refresh(stack: &TestStack, refresh_token: &str) -> anyhow::Result<Response> {
    Ok(stack
        .http
        .post(format!("{}/v1/auth/refresh", stack.public_url))
        .json(&json!({"refresh_token": refresh_token}))
        .send()
        .await?)
}

/// The secret of kind `prefix` in a mail, read as a mail client would: quoted-printable soft
/// line breaks undone. Its characters run to the first that a secret lacks.
fn secret_in(mail: &str, prefix: &str) -> Option<String> {
    let decoded = mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let start = decoded.find(prefix)?;
    Some(decoded[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect())
}

async fn audit_entries(stack: &TestStack, tenant: &Tenant, query: &str) -> anyhow::Result<Vec<Value>> {
    let page = body(
        public(stack, Method::GET, &format!("/v1/audit-log{query}"), &tenant.admin_token)
            .send()
            .await?
            .error_for_status()?,
    )
    .await?;
    Ok(page["items"].as_array().cloned().unwrap_or_default())
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let before = tokens(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?;

    for (slug, email) in [
        (&*tenant.slug, tenant.email("nobody")),
        ("nosuch", tenant.email("ada")),
        (&*tenant.slug, tenant.admin_email.clone()),
    ] {
        let asked = stack
            .http
            .post(format!("{}/v1/auth/password-reset", stack.public_url))
            .json(&json!({"tenant": slug, "email": email}))
            .send()
            .await?;
        assert_eq!(asked.status(), 202, "the answer is the same whether the account exists or not");
    }
    let mail = stack.mail.wait_for(&tenant.admin_email, Duration::from_secs(10)).await.context("no reset mail")?;
    let domain = format!("@{}.example", tenant.slug);
    let to_the_tenant = stack.mail.mails().into_iter().filter(|mail| mail.to.iter().any(|to| to.ends_with(&domain)));
    assert_eq!(to_the_tenant.count(), 1, "only the existing account gets a mail");
    assert!(mail.data.contains("Subject: Reset your Causerie password"));
    let token = secret_in(&mail.data, "czp_").context("no token in the mail")?;

    let confirm = |password: &str| {
        stack
            .http
            .post(format!("{}/v1/auth/password-reset/confirm", stack.public_url))
            .json(&json!({"token": token, "new_password": password}))
            .send()
    };
    for weak in ["qwerty123456", "password1234", "AdaLovelaceAcme!"] {
        let refused = confirm(weak).await?;
        assert_eq!(refused.status(), 422, "{weak}: a guessable password, or one of the account's own words");
        assert_eq!(body(refused).await?["errors"][0]["field"], "new_password");
    }
    assert_eq!(confirm("a brand new passphrase").await?.status(), 204);
    assert_eq!(confirm("another new passphrase").await?.status(), 422, "the link works once");

    assert_eq!(sign_in(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?.status(), 401);
    assert_eq!(sign_in(&stack, &tenant.slug, &tenant.admin_email, "a brand new passphrase").await?.status(), 200);
    let old_session = refresh(&stack, &text(&before, "refresh_token")).await?;
    assert_eq!(old_session.status(), 401, "a reset ends every session");
    stack.stop().await
}

#[tokio::test]
async fn reset_mails_are_limited_per_account_and_reset_requests_per_address() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let ask = |email: &str| {
        stack
            .http
            .post(format!("{}/v1/auth/password-reset", stack.public_url))
            .json(&json!({"tenant": tenant.slug, "email": email}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(ask(&tenant.admin_email).await?.status(), 202, "the answer never says the account had its share");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stack.mail.mails_to(&tenant.admin_email).len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let owner = causerie_db::connect_owner(&stack.config, Service::Accounts).await?;
    let links: i64 = sqlx::query_scalar(
        "select count(*) from password_resets reset join users on users.id = reset.user_id
          where lower(users.email) = lower($1)",
    )
    .bind(&tenant.admin_email)
    .fetch_one(&owner)
    .await?;
    assert_eq!(links, 3, "three links an hour, however many requests");
    assert_eq!(stack.mail.mails_to(&tenant.admin_email).len(), 3, "and three mails");

    // Twenty requests an hour from one address, whatever the accounts asked for.
    for number in 5..20 {
        assert_eq!(ask(&tenant.email(&format!("someone-{number}"))).await?.status(), 202);
    }
    let refused = ask(&tenant.email("someone-else")).await?;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers().get("retry-after").context("no Retry-After")?.to_str()?.parse()?;
    assert!((1..=3600).contains(&retry_after), "Retry-After {retry_after} is within the hour");
    assert_eq!(body(refused).await?["code"], "rate_limited");
    stack.stop().await
}

#[tokio::test]
async fn a_refresh_token_rotates_and_its_reuse_revokes_the_family() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let first = tokens(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?;
    let first_refresh = text(&first, "refresh_token");
    assert!(first_refresh.starts_with("czr_"));
    assert_eq!(first["legal_notice_pending"], false);

    let second = body(refresh(&stack, &first_refresh).await?.error_for_status()?).await?;
    let second_refresh = text(&second, "refresh_token");
    assert_ne!(second_refresh, first_refresh, "each use replaces the token");
    let me = public(&stack, Method::GET, "/v1/me", &text(&second, "access_token")).send().await?;
    assert_eq!(me.status(), 200);

    let replayed = refresh(&stack, &first_refresh).await?;
    assert_eq!(replayed.status(), 401);
    assert_eq!(body(replayed).await?["code"], "unauthenticated");
    assert_eq!(refresh(&stack, &second_refresh).await?.status(), 401, "the replay revoked the whole family");

    let other = tokens(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?;
    let logout = stack
        .http
        .post(format!("{}/v1/auth/logout", stack.public_url))
        .json(&json!({"refresh_token": text(&other, "refresh_token")}))
        .send()
        .await?;
    assert_eq!(logout.status(), 204);
    assert_eq!(refresh(&stack, &text(&other, "refresh_token")).await?.status(), 401, "logout revokes");
    assert_eq!(refresh(&stack, "czr_not-a-token").await?.status(), 401);
    stack.stop().await
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_retry_after() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    for attempt in 1..=5 {
        let response = sign_in(&stack, &tenant.slug, &tenant.admin_email, "not the passphrase").await?;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let locked = sign_in(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?;
    assert_eq!(locked.status(), 429, "even the right password waits");
    let retry_after: u64 = locked
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .context("no Retry-After")?;
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(body(locked).await?["code"], "rate_limited");

    // Another account of the tenant is not locked by the first one's failures.
    new_operator(&stack, &tenant, &tenant.email("grace"), json!({})).await?;
    assert_eq!(sign_in(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?.status(), 200);
    stack.stop().await
}

#[tokio::test]
async fn until_the_legal_notice_is_accepted_only_me_notices_and_logout_answer() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    new_operator(&stack, &tenant, &tenant.email("grace"), json!({})).await?;
    let operator = tokens(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?;
    let operator_token = text(&operator, "access_token");

    let published = public(&stack, Method::POST, "/v1/legal-notices", &tenant.admin_token)
        .json(&json!({"text": "We process your name and e-mail to run the live chat."}))
        .send()
        .await?;
    assert_eq!(published.status(), 201);
    assert_eq!(body(published).await?["version"], 1);

    for path in ["/v1/users", "/v1/auth/session", "/v1/operators"] {
        let gated = public(&stack, Method::GET, path, &operator_token).send().await?;
        assert_eq!(gated.status(), 403, "{path}");
        assert_eq!(body(gated).await?["code"], "legal_notice_not_accepted", "{path}");
    }
    assert_eq!(public(&stack, Method::GET, "/v1/me", &operator_token).send().await?.status(), 200);
    let current = body(public(&stack, Method::GET, "/v1/legal-notices/current", &operator_token).send().await?).await?;
    assert_eq!(current["version"], 1);
    assert_eq!(current["accepted"], false);
    let pending = tokens(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?;
    assert_eq!(pending["legal_notice_pending"], true);

    let accepted = public(&stack, Method::POST, "/v1/legal-notices/1/acceptance", &operator_token).send().await?;
    assert_eq!(accepted.status(), 204);
    assert_eq!(public(&stack, Method::GET, "/v1/operators", &operator_token).send().await?.status(), 200);
    assert_eq!(
        public(&stack, Method::POST, "/v1/legal-notices/7/acceptance", &operator_token).send().await?.status(),
        404
    );
    let after = tokens(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?;
    assert_eq!(after["legal_notice_pending"], false);
    let current = body(public(&stack, Method::GET, "/v1/legal-notices/current", &operator_token).send().await?).await?;
    assert_eq!(current["accepted"], true);

    // The admin, who published it, is held to it too.
    let admin_gated = public(&stack, Method::GET, "/v1/users", &tenant.admin_token).send().await?;
    assert_eq!(admin_gated.status(), 403);
    stack.stop().await
}

#[tokio::test]
async fn an_erased_user_cannot_sign_in_refresh_or_use_a_token_and_keeps_no_personal_field() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let tenant = new_tenant(&stack, "acme").await?;
    let operator = new_operator(&stack, &tenant, &tenant.email("grace"), json!({})).await?;
    let operator_id = text(&operator, "id");
    let session = tokens(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?;
    let access_token = text(&session, "access_token");

    let erased =
        public(&stack, Method::DELETE, &format!("/v1/users/{operator_id}"), &tenant.admin_token).send().await?;
    assert_eq!(erased.status(), 204);
    assert_eq!(
        public(&stack, Method::DELETE, &format!("/v1/users/{operator_id}"), &tenant.admin_token).send().await?.status(),
        404,
        "erasure is final"
    );

    assert_eq!(public(&stack, Method::GET, "/v1/me", &access_token).send().await?.status(), 401, "revoked at once");
    assert_eq!(sign_in(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?.status(), 401);
    assert_eq!(refresh(&stack, &text(&session, "refresh_token")).await?.status(), 401);
    advance_days(&stack, 1).await?;
    assert_eq!(public(&stack, Method::GET, "/v1/me", &access_token).send().await?.status(), 401, "and expired");

    let owner = causerie_db::connect_owner(&stack.config, Service::Accounts).await?;
    // Every personal column, as one JSON document: all emptied, and the row marked erased.
    let row: Value = sqlx::query_scalar(
        "select json_build_object('email', email, 'first_name', first_name, 'last_name', last_name,
                                  'pseudonym', pseudonym, 'languages', languages, 'skills', skills,
                                  'password_hash', password_hash, 'pending_email', pending_email,
                                  'erased', erased_at is not null)
           from users where id = $1::uuid",
    )
    .bind(&operator_id)
    .fetch_one(&owner)
    .await?;
    assert_eq!(
        row,
        json!({"email": null, "first_name": null, "last_name": null, "pseudonym": null, "languages": [],
               "skills": [], "password_hash": null, "pending_email": null, "erased": true})
    );
    let sessions: i64 = sqlx::query_scalar("select count(*) from refresh_tokens where user_id = $1::uuid")
        .bind(&operator_id)
        .fetch_one(&owner)
        .await?;
    assert_eq!(sessions, 0);
    owner.close().await;

    // The admin's token is a day old now; a fresh one lists what is left.
    let admin = tokens(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?;
    let listed = body(public(&stack, Method::GET, "/v1/users", &text(&admin, "access_token")).send().await?).await?;
    let ids: Vec<&str> =
        listed["items"].as_array().into_iter().flatten().filter_map(|user| user["id"].as_str()).collect();
    assert_eq!(ids, [tenant.admin_id.as_str()]);
    stack.stop().await
}

#[tokio::test]
async fn support_sees_a_tenants_users_only_under_a_grant_until_it_expires() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let tenant = new_tenant(&stack, "acme").await?;
    let staff_token = stack.staff_token().await?;
    let users_url = format!("{}/admin/v1/tenants/{}/users", stack.admin_url, tenant.id);

    let refused = stack.http.get(&users_url).bearer_auth(&staff_token).send().await?;
    assert_eq!(refused.status(), 404, "without a grant support sees metadata only");

    let expires_at = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let granted = public(&stack, Method::POST, "/v1/support-grants", &tenant.admin_token)
        .json(&json!({"scope": "read", "expires_at": expires_at, "reason": "ticket 42"}))
        .send()
        .await?;
    assert_eq!(granted.status(), 201);
    let too_long = public(&stack, Method::POST, "/v1/support-grants", &tenant.admin_token)
        .json(&json!({"scope": "read", "expires_at": (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339()}))
        .send()
        .await?;
    assert_eq!(too_long.status(), 422);

    let seen = body(stack.http.get(&users_url).bearer_auth(&staff_token).send().await?.error_for_status()?).await?;
    assert_eq!(seen["items"][0]["email"], tenant.admin_email.as_str());
    let audited = audit_entries(&stack, &tenant, "?action=user.read").await?;
    assert!(audited.iter().any(|entry| entry["actor_kind"] == "staff"), "support's read is audited: {audited:?}");

    advance_days(&stack, 2).await?;
    let staff_token = stack.staff_token().await?;
    assert_eq!(stack.http.get(&users_url).bearer_auth(&staff_token).send().await?.status(), 404, "the grant expired");
    stack.stop().await
}

#[tokio::test]
async fn an_audit_row_edited_in_the_database_fails_verification() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let tenant = new_tenant(&stack, "acme").await?;
    let operator = new_operator(&stack, &tenant, &tenant.email("grace"), json!({})).await?;
    public(&stack, Method::GET, "/v1/users", &tenant.admin_token).send().await?.error_for_status()?;
    let later_read = format!("/v1/users/{}", tenant.admin_id);
    public(&stack, Method::GET, &later_read, &tenant.admin_token).send().await?.error_for_status()?;
    let verification = || async {
        body(public(&stack, Method::GET, "/v1/audit-log/verification", &tenant.admin_token).send().await?).await
    };
    let sound = verification().await?;
    assert_eq!(sound["valid"], true);
    assert!(sound["entries"].as_u64().is_some_and(|entries| entries >= 3), "{sound}");

    let owner = causerie_db::connect_owner(&stack.config, Service::Accounts).await?;
    let (edited, original): (String, String) = sqlx::query_as(
        "with target as (
             select id, subject_id from audit_log
              where subject_id = $1 and action = 'user.read' order by sequence limit 1)
         update audit_log set subject_id = 'someone else' from target
          where audit_log.id = target.id
         returning audit_log.id::text, target.subject_id",
    )
    .bind(text(&operator, "id"))
    .fetch_one(&owner)
    .await?;
    let broken = verification().await?;
    assert_eq!(broken["valid"], false);
    assert_eq!(broken["first_invalid_id"], edited.as_str());

    sqlx::query("update audit_log set subject_id = $1 where id = $2::uuid")
        .bind(&original)
        .bind(&edited)
        .execute(&owner)
        .await?;
    assert_eq!(verification().await?["valid"], true, "put back as it was, the chain holds again");
    sqlx::query("delete from audit_log where id = $1::uuid").bind(&edited).execute(&owner).await?;
    owner.close().await;
    assert_eq!(verification().await?["valid"], false, "a removed entry breaks the chain after it");
    stack.stop().await
}

#[tokio::test]
async fn reads_of_personal_data_are_audited_with_actor_subject_and_address() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let operator = new_operator(&stack, &tenant, &tenant.email("grace"), json!({})).await?;
    let operator_id = text(&operator, "id");
    public(&stack, Method::GET, &format!("/v1/users/{operator_id}"), &tenant.admin_token)
        .send()
        .await?
        .error_for_status()?;

    let entries = audit_entries(&stack, &tenant, &format!("?action=user.read&actor_id={}", tenant.admin_id)).await?;
    let read = entries.iter().find(|entry| entry["subject_id"] == operator_id.as_str()).context("no audit entry")?;
    assert_eq!(read["actor_kind"], "user");
    assert_eq!(read["subject_kind"], "user");
    assert_eq!(read["source_address"], stack.source_address.to_string());
    assert!(read["occurred_at"].is_string());
    let created = audit_entries(&stack, &tenant, "?action=user.created").await?;
    assert_eq!(created.len(), 1);
    stack.stop().await
}

#[tokio::test]
async fn another_tenants_users_and_keys_answer_404() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "acme").await?;
    let globex = new_tenant(&stack, "globex").await?;
    let globex_operator = new_operator(&stack, &globex, &globex.email("grace"), json!({})).await?;
    let globex_key = body(
        public(&stack, Method::POST, "/v1/api-keys", &globex.admin_token)
            .json(&json!({"name": "crm", "scopes": ["users:read"]}))
            .send()
            .await?
            .error_for_status()?,
    )
    .await?;

    let user_path = format!("/v1/users/{}", text(&globex_operator, "id"));
    assert_eq!(public(&stack, Method::GET, &user_path, &acme.admin_token).send().await?.status(), 404);
    let patched = public(&stack, Method::PATCH, &user_path, &acme.admin_token)
        .json(&json!({"first_name": "Mallory"}))
        .send()
        .await?;
    assert_eq!(patched.status(), 404);
    assert_eq!(public(&stack, Method::DELETE, &user_path, &acme.admin_token).send().await?.status(), 404);
    let key_path = format!("/v1/api-keys/{}", text(&globex_key, "id"));
    assert_eq!(public(&stack, Method::DELETE, &key_path, &acme.admin_token).send().await?.status(), 404);

    let listed = body(public(&stack, Method::GET, "/v1/users", &acme.admin_token).send().await?).await?;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "only acme's admin");
    let still_there = public(&stack, Method::GET, &user_path, &globex.admin_token).send().await?;
    assert_eq!(body(still_there).await?["first_name"], "Grace");
    stack.stop().await
}

#[tokio::test]
async fn an_api_key_works_within_its_scopes_and_stops_when_revoked() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let create_key = |scopes: Value| {
        public(&stack, Method::POST, "/v1/api-keys", &tenant.admin_token)
            .json(&json!({"name": "crm", "scopes": scopes}))
            .send()
    };
    let reader = body(create_key(json!(["users:read"])).await?.error_for_status()?).await?;
    let reader_key = text(&reader, "key");
    assert!(reader_key.starts_with("cz_"));
    assert_eq!(create_key(json!(["users:everything"])).await?.status(), 422);
    assert_eq!(create_key(json!([])).await?.status(), 422);
    let projects = body(create_key(json!(["projects:read"])).await?.error_for_status()?).await?;

    let listed = body(public(&stack, Method::GET, "/v1/api-keys", &tenant.admin_token).send().await?).await?;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
    assert!(listed["items"][0].get("key").is_none(), "a key is shown once");

    assert_eq!(public(&stack, Method::GET, "/v1/users", &reader_key).send().await?.status(), 200);
    let write = public(&stack, Method::POST, "/v1/users", &reader_key)
        .json(&json!({"email": tenant.email("x"), "first_name": "X", "last_name": "Y", "role": "operator"}))
        .send()
        .await?;
    assert_eq!(write.status(), 403);
    let missing_scope = public(&stack, Method::GET, "/v1/users", &text(&projects, "key")).send().await?;
    assert_eq!(missing_scope.status(), 403);
    assert_eq!(body(missing_scope).await?["code"], "forbidden");
    let on_admin_port =
        stack.http.get(format!("{}/admin/v1/tenants", stack.admin_url)).bearer_auth(&reader_key).send().await?;
    assert_eq!(on_admin_port.status(), 401, "a key never reaches the admin port");

    let last_used = body(public(&stack, Method::GET, "/v1/api-keys", &tenant.admin_token).send().await?).await?;
    let reader_listed =
        last_used["items"].as_array().into_iter().flatten().find(|key| key["id"] == reader["id"]).cloned();
    assert!(reader_listed.is_some_and(|key| key["last_used_at"].is_string()));

    let revoked = public(&stack, Method::DELETE, &format!("/v1/api-keys/{}", text(&reader, "id")), &tenant.admin_token)
        .send()
        .await?;
    assert_eq!(revoked.status(), 204);
    assert_eq!(public(&stack, Method::GET, "/v1/users", &reader_key).send().await?.status(), 401, "revoked at once");
    stack.stop().await
}

#[tokio::test]
async fn a_user_reads_and_corrects_its_profile_and_a_new_email_waits_for_its_link() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    new_operator(&stack, &tenant, &tenant.email("grace"), json!({})).await?;
    let token = text(&tokens(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?, "access_token");

    let corrected = public(&stack, Method::PATCH, "/v1/me", &token)
        .json(&json!({"first_name": "Grace B.", "pseudonym": "", "languages": ["EN", "fr"], "skills": ["Billing", "refunds"],
                      "email": tenant.email("grace.hopper")}))
        .send()
        .await?;
    assert_eq!(corrected.status(), 200);
    let profile = body(corrected).await?;
    assert_eq!(profile["first_name"], "Grace B.");
    assert_eq!(profile["pseudonym"], Value::Null);
    assert_eq!(profile["languages"], json!(["en", "fr"]));
    assert_eq!(profile["skills"], json!(["billing", "refunds"]));
    assert_eq!(profile["email"], tenant.email("grace"), "the new address waits for confirmation");

    let not_allowed = public(&stack, Method::PATCH, "/v1/me", &token).json(&json!({"role": "admin"})).send().await?;
    assert_eq!(not_allowed.status(), 422);
    assert_eq!(body(not_allowed).await?["code"], "field_not_allowed");
    let bad =
        public(&stack, Method::PATCH, "/v1/me", &token).json(&json!({"languages": ["not a language"]})).send().await?;
    assert_eq!(bad.status(), 422);

    let mail = stack.mail.wait_for(&tenant.email("grace.hopper"), Duration::from_secs(10)).await.context("no mail")?;
    let confirmation = secret_in(&mail.data, "cze_").context("no token")?;
    let confirmed = stack
        .http
        .post(format!("{}/v1/me/email-confirmation", stack.public_url))
        .json(&json!({"token": confirmation}))
        .send()
        .await?;
    assert_eq!(confirmed.status(), 204);
    let profile = body(public(&stack, Method::GET, "/v1/me", &token).send().await?).await?;
    assert_eq!(profile["email"], tenant.email("grace.hopper"));
    assert_eq!(sign_in(&stack, &tenant.slug, &tenant.email("grace.hopper"), OPERATOR_PASSWORD).await?.status(), 200);

    let changed = public(&stack, Method::PUT, "/v1/me/password", &token)
        .json(&json!({"current_password": "wrong", "new_password": "a fresh operator passphrase"}))
        .send()
        .await?;
    assert_eq!(changed.status(), 422);
    let changed = public(&stack, Method::PUT, "/v1/me/password", &token)
        .json(&json!({"current_password": OPERATOR_PASSWORD, "new_password": "a fresh operator passphrase"}))
        .send()
        .await?;
    assert_eq!(changed.status(), 204);
    assert_eq!(
        sign_in(&stack, &tenant.slug, &tenant.email("grace.hopper"), "a fresh operator passphrase").await?.status(),
        200
    );
    stack.stop().await
}

#[tokio::test]
async fn operators_are_found_by_language_and_skill() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    new_operator(&stack, &tenant, &tenant.email("a"), json!({"languages": ["fr", "en"], "skills": ["billing"]}))
        .await?;
    new_operator(&stack, &tenant, &tenant.email("b"), json!({"languages": ["fr"], "skills": ["shipping"]})).await?;
    new_operator(&stack, &tenant, &tenant.email("c"), json!({"languages": ["de"], "skills": ["billing"]})).await?;
    let emails = |query: &'static str| {
        let stack = &stack;
        let token = tenant.admin_token.clone();
        async move {
            let page = body(public(stack, Method::GET, &format!("/v1/operators{query}"), &token).send().await?).await?;
            let mut emails: Vec<String> =
                page["items"].as_array().into_iter().flatten().map(|user| text(user, "email")).collect();
            emails.sort();
            anyhow::Ok(emails)
        }
    };
    assert_eq!(emails("?language=fr").await?, [tenant.email("a"), tenant.email("b")]);
    assert_eq!(emails("?language=fr&skill=Billing").await?, [tenant.email("a")]);
    assert_eq!(emails("?skill=billing").await?, [tenant.email("a"), tenant.email("c")]);
    assert_eq!(emails("").await?.len(), 3, "the admin is not an operator");
    stack.stop().await
}

#[tokio::test]
async fn staff_with_a_second_factor_sign_in_only_with_a_fresh_code() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let staff_token = stack.staff_token().await?;
    let enrollment = body(
        stack
            .http
            .post(format!("{}/admin/v1/me/totp", stack.admin_url))
            .bearer_auth(&staff_token)
            .send()
            .await?
            .error_for_status()?,
    )
    .await?;
    assert!(text(&enrollment, "otpauth_uri").starts_with("otpauth://totp/Causerie:"));
    let secret = causerie_accounts::totp::decode_base32(&text(&enrollment, "secret")).context("secret not base32")?;
    let now = chrono::Utc::now();
    let code = causerie_accounts::totp::code(&secret, now).context("no code")?;
    let confirmed = stack
        .http
        .post(format!("{}/admin/v1/me/totp/confirm", stack.admin_url))
        .bearer_auth(&staff_token)
        .json(&json!({"code": code}))
        .send()
        .await?;
    assert_eq!(confirmed.status(), 204);

    let staff_login = |totp_code: Option<String>| {
        stack
            .http
            .post(format!("{}/admin/v1/auth/login", stack.admin_url))
            .json(&json!({"email": "staff@causerie.test", "password": "test-staff-password-2026", "totp_code": totp_code}))
            .send()
    };
    assert_eq!(staff_login(None).await?.status(), 401, "the password alone no longer signs in");
    assert_eq!(staff_login(Some(code)).await?.status(), 401, "the enrolment's code cannot be replayed");
    // The next step's code is within the drift window and has not been used.
    let next = causerie_accounts::totp::code(&secret, now + chrono::Duration::seconds(30)).context("no code")?;
    assert_eq!(staff_login(Some(next.clone())).await?.status(), 200);
    assert_eq!(staff_login(Some(next)).await?.status(), 401, "each code signs in once");
    stack.stop().await
}

/// The key id a token was signed with, read from its header.
fn key_id_of(token: &str) -> anyhow::Result<String> {
    use base64::Engine;
    let header = token.split('.').next().context("not a JWT")?;
    let header: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header)?)?;
    Ok(text(&header, "kid"))
}

async fn published_key_ids(stack: &TestStack) -> anyhow::Result<Vec<String>> {
    let jwks = body(stack.http.get(format!("{}/.well-known/jwks.json", stack.public_url)).send().await?).await?;
    Ok(jwks["keys"].as_array().into_iter().flatten().map(|key| text(key, "kid")).collect())
}

#[tokio::test]
async fn signing_keys_rotate_without_logging_anyone_out() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let tenant = new_tenant(&stack, "acme").await?;
    let old_key = key_id_of(&tenant.admin_token)?;
    assert_eq!(published_key_ids(&stack).await?, std::slice::from_ref(&old_key));

    let staff_token = stack.staff_token().await?;
    let rotation = stack
        .http
        .post(format!("{}/admin/v1/signing-keys/rotation", stack.admin_url))
        .bearer_auth(&staff_token)
        .send()
        .await?;
    assert_eq!(rotation.status(), 202);
    let new_key = text(&body(rotation).await?, "key_id");
    let mut published = published_key_ids(&stack).await?;
    published.sort();
    let mut both = vec![old_key.clone(), new_key.clone()];
    both.sort();
    assert_eq!(published, both, "the new key is published before it signs");
    assert_eq!(public(&stack, Method::GET, "/v1/me", &tenant.admin_token).send().await?.status(), 200);
    let meanwhile = tokens(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?;
    assert_eq!(key_id_of(&text(&meanwhile, "access_token"))?, old_key, "the old key signs until the new one's turn");

    advance_days(&stack, 1).await?;
    let later = tokens(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?;
    let later_token = text(&later, "access_token");
    assert_eq!(key_id_of(&later_token)?, new_key);
    assert_eq!(published_key_ids(&stack).await?, [new_key], "the old key is withdrawn once its tokens expired");
    assert_eq!(public(&stack, Method::GET, "/v1/me", &later_token).send().await?.status(), 200);
    stack.stop().await
}

#[tokio::test]
async fn a_guessable_password_is_refused_on_every_path_that_sets_one() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let refused_field = |response: reqwest::Response| async move {
        anyhow::ensure!(response.status() == 422, "answered {}", response.status());
        let problem = body(response).await?;
        anyhow::ensure!(problem["code"] == "invalid_request", "code {}", problem["code"]);
        anyhow::Ok(text(&problem["errors"][0], "field"))
    };

    let user = public(&stack, Method::POST, "/v1/users", &tenant.admin_token)
        .json(&json!({"email": tenant.email("grace"), "first_name": "Grace", "last_name": "Hopper",
                      "role": "operator", "password": "password1234"}))
        .send()
        .await?;
    assert_eq!(refused_field(user).await?, "password");
    let named_after_her = public(&stack, Method::POST, "/v1/users", &tenant.admin_token)
        .json(&json!({"email": tenant.email("grace"), "first_name": "Grace", "last_name": "Hopper",
                      "role": "operator", "password": "GraceHopperAcme!"}))
        .send()
        .await?;
    assert_eq!(refused_field(named_after_her).await?, "password", "her own names are refused");

    let changed = public(&stack, Method::PUT, "/v1/me/password", &tenant.admin_token)
        .json(&json!({"current_password": ADMIN_PASSWORD, "new_password": "Password1234"}))
        .send()
        .await?;
    assert_eq!(refused_field(changed).await?, "new_password");

    let staff_token = stack.staff_token().await?;
    let new_tenant = stack
        .http
        .post(format!("{}/admin/v1/tenants", stack.admin_url))
        .bearer_auth(&staff_token)
        .json(&json!({"name": "Beta", "slug": "beta",
                      "admin": {"email": "bea@beta.example", "first_name": "Bea", "last_name": "Beta",
                                "password": "qwertyuiop123"}}))
        .send()
        .await?;
    assert_eq!(refused_field(new_tenant).await?, "admin.password");
    assert_eq!(sign_in(&stack, &tenant.slug, &tenant.admin_email, ADMIN_PASSWORD).await?.status(), 200, "unchanged");
    stack.stop().await
}

/// How many sessions of the accounts database wait for a lock in a statement like `statement`.
async fn waiting_for_a_lock(owner: &sqlx::PgPool, statement: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query ilike $1",
    )
    .bind(statement)
    .fetch_one(owner)
    .await?)
}

/// Polls until a session of the accounts database waits for a lock in a statement like `statement`.
async fn until_waiting_for_a_lock(owner: &sqlx::PgPool, statement: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while waiting_for_a_lock(owner, statement).await? == 0 {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no statement like {statement} waited for a lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_role_taken_away_while_a_session_is_issued_does_not_survive_in_its_token() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let tenant = new_tenant(&stack, "acme").await?;
    let owner = causerie_db::connect_owner(&stack.config, Service::Accounts).await?;
    for (issuing, nth) in [("refresh", 1), ("sign-in", 2)] {
        let email = tenant.email(&format!("contributor{nth}"));
        let user = new_operator(&stack, &tenant, &email, json!({"role": "contributor"})).await?;
        let signed_in = tokens(&stack, &tenant.slug, &email, OPERATOR_PASSWORD).await?;

        // Issuing a session stops at its refresh-token write, once it has read the user; the
        // contributor is made an operator meanwhile.
        let mut held = owner.begin().await?;
        sqlx::query("lock table refresh_tokens in share mode").execute(&mut *held).await?;
        let issue = match issuing {
            "refresh" => stack
                .http
                .post(format!("{}/v1/auth/refresh", stack.public_url))
                .json(&json!({"refresh_token": text(&signed_in, "refresh_token")})),
            _ => stack
                .http
                .post(format!("{}/v1/auth/login", stack.public_url))
                .json(&json!({"tenant": tenant.slug, "email": email, "password": OPERATOR_PASSWORD})),
        };
        let issued = tokio::spawn(issue.send());
        until_waiting_for_a_lock(&owner, "%refresh_tokens%").await?;
        let role_change =
            public(&stack, Method::PATCH, &format!("/v1/users/{}", text(&user, "id")), &tenant.admin_token)
                .json(&json!({"role": "operator"}));
        let changed = tokio::spawn(role_change.send());
        // The change either commits at once or waits for the session being issued.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !changed.is_finished() && waiting_for_a_lock(&owner, "%update users%").await? == 0 {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "the role change neither ended nor waited");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        held.commit().await?;
        let issued = issued.await??;
        anyhow::ensure!(issued.status() == 200, "the {issuing} answered {}", issued.status());
        let issued = text(&body(issued).await?, "access_token");
        let changed = changed.await??;
        anyhow::ensure!(changed.status() == 200, "the role change answered {}", changed.status());

        // Once the gateway refuses the token from before the change, it has read the revocation.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while public(&stack, Method::GET, "/v1/me", &text(&signed_in, "access_token")).send().await?.status() != 401 {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "the token from before the change still works");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let project = json!({"name": "Kept as contributor", "allowed_origins": ["https://shop.example"]});
        let created = public(&stack, Method::POST, "/v1/projects", &issued).json(&project).send().await?;
        assert!(
            matches!(created.status().as_u16(), 401 | 403),
            "the token of a {issuing} that raced the role change still creates projects: {}",
            created.status()
        );
    }
    owner.close().await;
    stack.stop().await
}
