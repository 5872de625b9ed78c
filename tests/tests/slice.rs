//! The first slice, walked as its users would: staff sign in, create a tenant; its admin signs
//! in and reads the profile; retention has learnt about the tenant from the bus.

use std::time::Duration;

use causerie_e2e::TestStack;
use causerie_proto::retention::v1::GetTrackedTenantRequest;
use causerie_proto::retention::v1::retention_service_client::RetentionServiceClient;
use causerie_runtime::Service;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "a long admin passphrase";

fn new_tenant(slug: &str) -> Value {
    json!({
        "name": "Acme Inc.",
        "slug": slug,
        "admin": {"email": "ada@acme.example", "first_name": "Ada", "last_name": "Lovelace", "password": ADMIN_PASSWORD}
    })
}

#[tokio::test]
async fn staff_creates_a_tenant_whose_admin_signs_in_and_retention_tracks_it() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let staff_token = stack.staff_token().await?;

    let created = stack
        .http
        .post(format!("{}/admin/v1/tenants", stack.admin_url))
        .bearer_auth(&staff_token)
        .json(&new_tenant("acme"))
        .send()
        .await?;
    assert_eq!(created.status(), 201);
    let tenant: Value = created.json().await?;
    assert_eq!(tenant["slug"], "acme");
    assert_eq!(tenant["status"], "active");
    let tenant_id = tenant["id"].as_str().unwrap_or_default().to_owned();
    let admin_user_id = tenant["admin_user_id"].as_str().unwrap_or_default().to_owned();
    assert!(tenant["created_at"].is_string());

    let listed: Value = stack
        .http
        .get(format!("{}/admin/v1/tenants", stack.admin_url))
        .bearer_auth(&staff_token)
        .send()
        .await?
        .json()
        .await?;
    assert!(listed["items"].as_array().is_some_and(|items| items.iter().any(|item| item["id"] == tenant_id.as_str())));
    let fetched = stack
        .http
        .get(format!("{}/admin/v1/tenants/{tenant_id}", stack.admin_url))
        .bearer_auth(&staff_token)
        .send()
        .await?;
    assert_eq!(fetched.status(), 200);

    let login: Value = stack
        .http
        .post(format!("{}/v1/auth/login", stack.public_url))
        .json(&json!({"tenant": "acme", "email": "ADA@acme.example", "password": ADMIN_PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    let access_token = login["access_token"].as_str().unwrap_or_default();

    let me: Value = stack
        .http
        .get(format!("{}/v1/me", stack.public_url))
        .bearer_auth(access_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(me["id"], admin_user_id.as_str());
    assert_eq!(me["tenant_id"], tenant_id.as_str());
    assert_eq!(me["email"], "ada@acme.example");
    assert_eq!(me["first_name"], "Ada");
    assert_eq!(me["role"], "admin");

    let session: Value = stack
        .http
        .get(format!("{}/v1/auth/session", stack.public_url))
        .bearer_auth(access_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(session["tenant_id"], tenant_id.as_str());
    assert_eq!(session["user_id"], admin_user_id.as_str());
    assert_eq!(session["role"], "admin");

    let mut retention = RetentionServiceClient::connect(stack.config.service_url(Service::Retention)).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let tracked = loop {
        let mut request = tonic::Request::new(GetTrackedTenantRequest { tenant_id: tenant_id.clone() });
        request.metadata_mut().insert("authorization", format!("Bearer {staff_token}").parse()?);
        match retention.get_tracked_tenant(request).await {
            Ok(response) => break response.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => anyhow::bail!("retention never tracked the tenant: {status}"),
        }
    };
    assert_eq!(tracked.slug, "acme");

    stack.stop().await
}

#[tokio::test]
async fn trace_context_flows_from_http_through_grpc_to_the_bus() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let staff_token = stack.staff_token().await?;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let created = stack
        .http
        .post(format!("{}/admin/v1/tenants", stack.admin_url))
        .bearer_auth(&staff_token)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&new_tenant("traced"))
        .send()
        .await?;
    assert_eq!(created.status(), 201);
    let tenant: Value = created.json().await?;
    let tenant_id: uuid::Uuid = tenant["id"].as_str().unwrap_or_default().parse()?;
    // The event accounts wrote in the tenant's creation carries the caller's trace.
    let accounts = causerie_db::connect_owner(&stack.config, Service::Accounts).await?;
    let traceparent: Option<String> = sqlx::query_scalar(
        "select envelope -> 'trace_context' ->> 'traceparent' from outbox
         where routing_key = 'accounts.tenant.created' and tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_one(&accounts)
    .await?;
    accounts.close().await;
    let traceparent = traceparent.unwrap_or_default();
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent:?}");
    stack.stop().await
}
