//! `causerie demo`: a demo tenant through the admin API of a running gateway, created once.

use anyhow::{Context, bail};
use causerie_runtime::Config;
use serde_json::json;

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.example";
pub const DEMO_ADMIN_PASSWORD: &str = "demo-admin-password-2026";

pub async fn create_demo_tenant(config: &Config) -> anyhow::Result<()> {
    let Some(staff_password) = &config.bootstrap_staff_password else {
        bail!("CAUSERIE_BOOTSTRAP_STAFF_PASSWORD must be set to sign in as the bootstrap staff");
    };
    let admin_url = format!("http://{}", config.admin_addr);
    let public_url = format!("http://{}", config.public_addr);
    let client = causerie_runtime::tls::http_client().build()?;
    let login: serde_json::Value = client
        .post(format!("{admin_url}/admin/v1/auth/login"))
        .json(&json!({"email": config.bootstrap_staff_email, "password": staff_password}))
        .send()
        .await
        .context("reaching the admin API")?
        .error_for_status()
        .context("signing in as the bootstrap staff")?
        .json()
        .await?;
    let staff_token = login["access_token"].as_str().context("no access token in the staff login answer")?;
    let created = client
        .post(format!("{admin_url}/admin/v1/tenants"))
        .bearer_auth(staff_token)
        .json(&json!({
            "name": "Demo organisation",
            "slug": DEMO_SLUG,
            "admin": {
                "email": DEMO_ADMIN_EMAIL,
                "first_name": "Demo",
                "last_name": "Admin",
                "password": DEMO_ADMIN_PASSWORD,
            }
        }))
        .send()
        .await
        .context("creating the demo tenant")?;
    match created.status().as_u16() {
        201 => println!("demo tenant created"),
        409 => println!("demo tenant already exists"),
        status => bail!("creating the demo tenant answered {status}: {}", created.text().await.unwrap_or_default()),
    }
    println!();
    println!("public API   {public_url}   (OpenAPI: {public_url}/v1/openapi.json)");
    println!("admin API    {admin_url}   (staff only)");
    println!("staff        {} / {}", config.bootstrap_staff_email, staff_password);
    println!("demo tenant  slug {DEMO_SLUG}, admin {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}");
    println!();
    println!(
        "try: curl -s {public_url}/v1/auth/login -H 'content-type: application/json' \\\n       -d '{{\"tenant\":\"{DEMO_SLUG}\",\"email\":\"{DEMO_ADMIN_EMAIL}\",\"password\":\"{DEMO_ADMIN_PASSWORD}\"}}'"
    );
    Ok(())
}
