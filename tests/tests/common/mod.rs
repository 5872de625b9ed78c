//! What the end-to-end tests share: a tenant with a signed-in admin, requests to the public API,
//! and the shared test clock.
#![allow(dead_code)]

use causerie_e2e::TestStack;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "a long admin passphrase";
pub const OPERATOR_PASSWORD: &str = "an operator's own passphrase";

pub struct Tenant {
    pub id: String,
    /// The name given to `new_tenant` and a suffix, so that tests sharing a stack never meet.
    pub slug: String,
    pub admin_id: String,
    pub admin_email: String,
    pub admin_token: String,
}

pub fn public(stack: &TestStack, method: Method, path: &str, token: &str) -> RequestBuilder {
    stack.http.request(method, format!("{}{path}", stack.public_url)).bearer_auth(token)
}

pub async fn body(response: Response) -> anyhow::Result<Value> {
    Ok(response.json().await?)
}

pub async fn sign_in(stack: &TestStack, slug: &str, email: &str, password: &str) -> anyhow::Result<Response> {
    Ok(stack
        .http
        .post(format!("{}/v1/auth/login", stack.public_url))
        .json(&json!({"tenant": slug, "email": email, "password": password}))
        .send()
        .await?)
}

pub async fn tokens(stack: &TestStack, slug: &str, email: &str, password: &str) -> anyhow::Result<Value> {
    let response = sign_in(stack, slug, email, password).await?;
    anyhow::ensure!(response.status() == 200, "sign-in answered {}", response.status());
    body(response).await
}

pub fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

impl Tenant {
    /// An e-mail address of the tenant's own domain: no other test's mail goes there.
    pub fn email(&self, local_part: &str) -> String {
        format!("{local_part}@{}.example", self.slug)
    }
}

/// A tenant whose slug is `name` and a suffix of its own, with its admin signed in.
pub async fn new_tenant(stack: &TestStack, name: &str) -> anyhow::Result<Tenant> {
    let staff_token = stack.staff_token().await?;
    let slug = format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let slug = slug.as_str();
    let admin_email = format!("ada@{slug}.example");
    let created = body(
        stack
            .http
            .post(format!("{}/admin/v1/tenants", stack.admin_url))
            .bearer_auth(&staff_token)
            .json(&json!({
                "name": "Acme Inc.", "slug": slug,
                "admin": {"email": admin_email, "first_name": "Ada", "last_name": "Lovelace", "password": ADMIN_PASSWORD}
            }))
            .send()
            .await?
            .error_for_status()?,
    )
    .await?;
    let signed_in = tokens(stack, slug, &admin_email, ADMIN_PASSWORD).await?;
    Ok(Tenant {
        id: text(&created, "id"),
        slug: slug.to_owned(),
        admin_id: text(&created, "admin_user_id"),
        admin_email,
        admin_token: text(&signed_in, "access_token"),
    })
}

pub async fn advance_days(stack: &TestStack, days: i64) -> anyhow::Result<()> {
    let staff_token = stack.staff_token().await?;
    stack
        .http
        .post(format!("{}/admin/v1/test-clock", stack.admin_url))
        .bearer_auth(&staff_token)
        .json(&json!({"advance_days": days}))
        .send()
        .await?
        .error_for_status()?;
    // The gateway answered once every service read the moved clock.
    Ok(())
}

pub async fn new_operator(stack: &TestStack, tenant: &Tenant, email: &str, extra: Value) -> anyhow::Result<Value> {
    let mut user = json!({
        "email": email, "first_name": "Grace", "last_name": "Hopper", "role": "operator",
        "password": OPERATOR_PASSWORD, "pseudonym": "Amazing Grace", "languages": ["en"], "skills": ["billing"]
    });
    if let (Some(user), Some(extra)) = (user.as_object_mut(), extra.as_object()) {
        user.extend(extra.clone());
    }
    let response = public(stack, Method::POST, "/v1/users", &tenant.admin_token).json(&user).send().await?;
    anyhow::ensure!(response.status() == 201, "creating a user answered {}", response.status());
    body(response).await
}
