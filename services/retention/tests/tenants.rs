//! Retention with the one service it hears from and verifies tokens with: accounts.

use std::time::Duration;

use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::{CreateTenantRequest, LoginRequest, NewTenantAdmin};
use causerie_proto::retention::v1::retention_service_client::RetentionServiceClient;
use causerie_proto::retention::v1::{GetTrackedTenantRequest, TrackedTenant};
use causerie_runtime::Service;
use causerie_testkit::{RunningServices, TestServices};

const ADMIN_PASSWORD: &str = "a long admin passphrase";

fn with_bearer<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    Ok(causerie_auth::transport::with_bearer(tonic::Request::new(message), token)?)
}

async fn accounts_and_retention() -> anyhow::Result<RunningServices> {
    TestServices::new(causerie_testkit::test_config()?)
        .with(Service::Accounts, causerie_accounts::run)
        .with(Service::Retention, causerie_retention::run)
        .start()
        .await
}

async fn create_tenant(services: &RunningServices, slug: &str, staff_token: &str) -> anyhow::Result<String> {
    let mut accounts = AccountsServiceClient::new(services.channel(Service::Accounts).await?);
    let request = CreateTenantRequest {
        name: "Acme Inc.".to_owned(),
        slug: slug.to_owned(),
        contract_end: None,
        admin: Some(NewTenantAdmin {
            email: "ada@acme.example".to_owned(),
            first_name: "Ada".to_owned(),
            last_name: "Lovelace".to_owned(),
            password: ADMIN_PASSWORD.to_owned(),
        }),
    };
    Ok(accounts.create_tenant(with_bearer(request, staff_token)?).await?.into_inner().id)
}

/// Asks retention for the tenant until it answers, for at most 15 s.
async fn tracked_tenant(
    retention: &mut RetentionServiceClient<tonic::transport::Channel>,
    tenant_id: &str,
    token: &str,
) -> anyhow::Result<TrackedTenant> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let request = with_bearer(GetTrackedTenantRequest { tenant_id: tenant_id.to_owned() }, token)?;
        match retention.get_tracked_tenant(request).await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if status.code() == tonic::Code::NotFound && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => anyhow::bail!("retention never tracked tenant {tenant_id}: {status}"),
        }
    }
}

#[tokio::test]
async fn a_tenant_created_in_accounts_is_tracked_by_retention_from_the_bus() -> anyhow::Result<()> {
    let services = accounts_and_retention().await?;
    let staff_token = services.staff_token().await?;
    let tenant_id = create_tenant(&services, "acme", &staff_token).await?;

    let mut retention = RetentionServiceClient::new(services.channel(Service::Retention).await?);
    let tracked = tracked_tenant(&mut retention, &tenant_id, &staff_token).await?;
    assert_eq!(tracked.tenant_id, tenant_id);
    assert_eq!(tracked.slug, "acme");
    assert_eq!(tracked.contract_end, None);
    assert!(tracked.tracked_since.is_some());

    // Another service asks with its own token and learns the same.
    let service_token = services.service_token(Service::Accounts).await?;
    assert_eq!(tracked_tenant(&mut retention, &tenant_id, &service_token).await?.slug, "acme");

    // A tenant it never heard of, or an id that is none, is not found.
    for unknown in [uuid::Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let request = with_bearer(GetTrackedTenantRequest { tenant_id: unknown }, &staff_token)?;
        let code = retention.get_tracked_tenant(request).await.err().map(|status| status.code());
        assert_eq!(code, Some(tonic::Code::NotFound));
    }
    services.stop().await
}

#[tokio::test]
async fn retention_refuses_callers_without_a_staff_or_service_token() -> anyhow::Result<()> {
    let services = accounts_and_retention().await?;
    let staff_token = services.staff_token().await?;
    let tenant_id = create_tenant(&services, "acme", &staff_token).await?;
    let mut retention = RetentionServiceClient::new(services.channel(Service::Retention).await?);
    tracked_tenant(&mut retention, &tenant_id, &staff_token).await?;

    let anonymous = retention.get_tracked_tenant(GetTrackedTenantRequest { tenant_id: tenant_id.clone() }).await;
    assert_eq!(anonymous.err().map(|status| status.code()), Some(tonic::Code::Unauthenticated));

    let forged = with_bearer(GetTrackedTenantRequest { tenant_id: tenant_id.clone() }, "not.a.token")?;
    let code = retention.get_tracked_tenant(forged).await.err().map(|status| status.code());
    assert_eq!(code, Some(tonic::Code::Unauthenticated));

    // Even the tenant's own admin is not a caller retention takes.
    let mut accounts = AccountsServiceClient::new(services.channel(Service::Accounts).await?);
    let login = LoginRequest {
        tenant: "acme".to_owned(),
        email: "ada@acme.example".to_owned(),
        password: ADMIN_PASSWORD.to_owned(),
    };
    let gateway_token = services.service_token(Service::Gateway).await?;
    let admin_token = accounts.login(with_bearer(login, &gateway_token)?).await?.into_inner().access_token;
    let as_admin = with_bearer(GetTrackedTenantRequest { tenant_id }, &admin_token)?;
    let code = retention.get_tracked_tenant(as_admin).await.err().map(|status| status.code());
    assert_eq!(code, Some(tonic::Code::Unauthenticated));
    services.stop().await
}
