//! What the assistant's tests share: accounts and the assistant started together, and a tenant
//! signed in as its admin with a project in French and English.

#![allow(dead_code)]

use causerie_proto::accounts::v1 as accounts_pb;
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use causerie_runtime::Service;
use causerie_testkit::{RunningServices, TestServices};
use serde_json::json;

pub const PASSWORD: &str = "a long admin passphrase";

pub fn with_bearer<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    Ok(causerie_auth::transport::with_bearer(tonic::Request::new(message), token)?)
}

pub async fn accounts_and_assistant() -> anyhow::Result<RunningServices> {
    TestServices::new(causerie_testkit::test_config()?)
        .with(Service::Accounts, causerie_accounts::run)
        .with(Service::Assistant, causerie_assistant::run)
        .start()
        .await
}

/// A tenant, signed in as its admin, with one project in French and English.
pub struct Tenant {
    pub tenant_id: String,
    pub admin_token: String,
    pub project_id: String,
}

pub async fn sign_in(services: &RunningServices, slug: &str, email: &str) -> anyhow::Result<String> {
    let gateway = services.service_token(Service::Gateway).await?;
    let mut accounts = AccountsServiceClient::new(services.channel(Service::Accounts).await?);
    let login =
        accounts_pb::LoginRequest { tenant: slug.to_owned(), email: email.to_owned(), password: PASSWORD.to_owned() };
    Ok(accounts.login(with_bearer(login, &gateway)?).await?.into_inner().access_token)
}

pub async fn tenant(services: &RunningServices, slug: &str) -> anyhow::Result<Tenant> {
    let staff = services.staff_token().await?;
    let mut accounts = AccountsServiceClient::new(services.channel(Service::Accounts).await?);
    let email = format!("admin@{slug}.example");
    let request = accounts_pb::CreateTenantRequest {
        name: slug.to_owned(),
        slug: slug.to_owned(),
        contract_end: None,
        admin: Some(accounts_pb::NewTenantAdmin {
            email: email.clone(),
            first_name: "Ada".to_owned(),
            last_name: "Lovelace".to_owned(),
            password: PASSWORD.to_owned(),
        }),
    };
    let tenant_id = accounts.create_tenant(with_bearer(request, &staff)?).await?.into_inner().id;
    let admin_token = sign_in(services, slug, &email).await?;
    let mut privacy = PrivacyServiceClient::new(services.channel(Service::Accounts).await?);
    let project = accounts_pb::ProjectInput {
        id: String::new(),
        name: Some("Shop".to_owned()),
        allowed_origins: Some(accounts_pb::StringList { values: vec!["https://shop.example".to_owned()] }),
        languages: Some(accounts_pb::StringList { values: vec!["fr".to_owned(), "en".to_owned()] }),
        supervision_enabled: Some(false),
        ..accounts_pb::ProjectInput::default()
    };
    let project_id = privacy.create_project(with_bearer(project, &admin_token)?).await?.into_inner().id;
    Ok(Tenant { tenant_id, admin_token, project_id })
}

/// An operator of the tenant, signed in.
pub async fn operator(services: &RunningServices, tenant: &Tenant, slug: &str) -> anyhow::Result<String> {
    let mut accounts = AccountsServiceClient::new(services.channel(Service::Accounts).await?);
    let email = format!("olga@{slug}.example");
    let operator = accounts_pb::CreateUserRequest {
        email: email.clone(),
        first_name: "Olga".to_owned(),
        last_name: "Operator".to_owned(),
        role: "operator".to_owned(),
        password: Some(PASSWORD.to_owned()),
        ..accounts_pb::CreateUserRequest::default()
    };
    accounts.create_user(with_bearer(operator, &tenant.admin_token)?).await?;
    sign_in(services, slug, &email).await
}

/// A policy with two consent purposes (keeping the conversation, supervision) and a
/// legitimate-interest one.
pub async fn put_policy(services: &RunningServices, tenant: &Tenant) -> anyhow::Result<()> {
    let policy = json!({
        "controller": {"name": "Acme SAS", "address": "1 rue de la Paix, Paris", "email": "privacy@acme.example"},
        "dpo": {"name": "Dana Protect", "email": "dpo@acme.example"},
        "purposes": [
            {"id": "chat_history", "name": "Keep the conversation", "legal_basis": "consent", "description": ""},
            {"id": "supervision", "name": "Supervise the assistant", "legal_basis": "consent", "description": ""},
            {"id": "support", "name": "Answer questions", "legal_basis": "legitimate_interests", "description": ""}
        ],
        "recipients": ["Acme customer service"],
        "retention": {},
        "subprocessors": {"tts": "none", "translation": "none"},
        "data_residency": "eu",
        "erasure_deadline_days": 15,
        "consent_text": "May we keep this conversation for a year?"
    });
    let mut privacy = PrivacyServiceClient::new(services.channel(Service::Accounts).await?);
    let document = accounts_pb::PolicyDocument { policy_json: policy.to_string() };
    privacy.put_privacy_policy(with_bearer(document, &tenant.admin_token)?).await?;
    Ok(())
}
