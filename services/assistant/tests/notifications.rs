//! Programmed notifications over gRPC: kept by admins and contributors, read by operators,
//! refused to other tenants and checked on the way in; and the gateway's question for a
//! visitor's page, answered by pattern, delay and what the visitor has seen.

use causerie_proto::assistant::v1 as pb;
use causerie_proto::assistant::v1::notification_service_client::NotificationServiceClient;
use causerie_proto::time::to_timestamp;
use causerie_runtime::Service;
use causerie_testkit::RunningServices;
use tonic::Code;
use tonic::transport::Channel;

mod common;

use common::{accounts_and_assistant, operator, tenant, with_bearer};

async fn notifications(services: &RunningServices) -> anyhow::Result<NotificationServiceClient<Channel>> {
    Ok(NotificationServiceClient::new(services.channel(Service::Assistant).await?))
}

fn fields(text: &str, url_pattern: &str, delay_seconds: u32, active: bool) -> pb::NotificationFields {
    pb::NotificationFields { text: text.to_owned(), url_pattern: url_pattern.to_owned(), delay_seconds, active }
}

fn input(project_id: &str, id: &str, fields: pb::NotificationFields) -> pb::NotificationInput {
    pb::NotificationInput { project_id: project_id.to_owned(), id: id.to_owned(), fields: Some(fields) }
}

fn reference(project_id: &str, id: &str) -> pb::NotificationRef {
    pb::NotificationRef { project_id: project_id.to_owned(), id: id.to_owned() }
}

fn list(project_id: &str) -> pb::ListNotificationsRequest {
    pb::ListNotificationsRequest { project_id: project_id.to_owned(), limit: 0, cursor: String::new() }
}

fn code<T>(answer: Result<T, tonic::Status>) -> Option<Code> {
    answer.err().map(|status| status.code())
}

#[tokio::test]
async fn notifications_are_kept_by_admins_read_by_operators_and_refused_to_other_tenants() -> anyhow::Result<()> {
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    let globex = tenant(&services, "globex").await?;
    let mut api = notifications(&services).await?;
    let token = &acme.admin_token;

    let welcome = fields("  Free delivery this week!  ", "https://shop.example/*", 5, true);
    let created = api.create_notification(with_bearer(input(&acme.project_id, "", welcome), token)?).await?;
    let created = created.into_inner();
    let stored = created.fields.clone().unwrap_or_default();
    assert_eq!(stored.text, "Free delivery this week!", "trimmed");
    assert_eq!((stored.delay_seconds, stored.active), (5, true));

    let changed = fields("Free delivery until Sunday", "*/cart*", 30, false);
    let updated = api.update_notification(with_bearer(input(&acme.project_id, &created.id, changed), token)?).await?;
    assert_eq!(updated.into_inner().fields.map(|fields| fields.url_pattern), Some("*/cart*".to_owned()));

    // Every bad field is named, and nothing is written.
    let bad = fields(" ", "https://shop.example/ a", 90_000, true);
    let refused = api.create_notification(with_bearer(input(&acme.project_id, "", bad.clone()), token)?).await;
    let status = refused.err().ok_or_else(|| anyhow::anyhow!("a bad notification was accepted"))?;
    assert_eq!(status.code(), Code::InvalidArgument);
    let problem = causerie_core::Error::from(status);
    let named: Vec<&str> = problem.field_errors().iter().map(|error| error.field.as_str()).collect();
    assert_eq!(named, ["text", "url_pattern", "delay_seconds"]);
    let refused = api.update_notification(with_bearer(input(&acme.project_id, &created.id, bad), token)?).await;
    assert_eq!(code(refused), Some(Code::InvalidArgument));
    let listed = api.list_notifications(with_bearer(list(&acme.project_id), token)?).await?.into_inner();
    assert_eq!(listed.notifications.len(), 1);
    assert_eq!(listed.notifications[0].fields.as_ref().map(|fields| fields.delay_seconds), Some(30));

    // An operator reads them and changes none.
    let operator_token = operator(&services, &acme, "acme").await?;
    api.get_notification(with_bearer(reference(&acme.project_id, &created.id), &operator_token)?).await?;
    let attempt = fields("Hello", "*", 0, true);
    let refused = api.create_notification(with_bearer(input(&acme.project_id, "", attempt), &operator_token)?).await;
    assert_eq!(code(refused), Some(Code::PermissionDenied));
    let refused =
        api.delete_notification(with_bearer(reference(&acme.project_id, &created.id), &operator_token)?).await;
    assert_eq!(code(refused), Some(Code::PermissionDenied));

    // Another tenant reaches neither the project nor the notification, even through its own project.
    let other = &globex.admin_token;
    let refused = api.get_notification(with_bearer(reference(&acme.project_id, &created.id), other)?).await;
    assert_eq!(code(refused), Some(Code::NotFound));
    let refused = api.get_notification(with_bearer(reference(&globex.project_id, &created.id), other)?).await;
    assert_eq!(code(refused), Some(Code::NotFound));
    let attempt = fields("Hijack", "*", 0, true);
    let refused = api.update_notification(with_bearer(input(&globex.project_id, &created.id, attempt), other)?).await;
    assert_eq!(code(refused), Some(Code::NotFound));
    let refused = api.delete_notification(with_bearer(reference(&globex.project_id, &created.id), other)?).await;
    assert_eq!(code(refused), Some(Code::NotFound));
    let refused = api.get_notification(with_bearer(reference(&acme.project_id, "not-an-id"), token)?).await;
    assert_eq!(code(refused), Some(Code::NotFound));

    api.delete_notification(with_bearer(reference(&acme.project_id, &created.id), token)?).await?;
    let gone = api.get_notification(with_bearer(reference(&acme.project_id, &created.id), token)?).await;
    assert_eq!(code(gone), Some(Code::NotFound));
    services.stop().await
}

fn due(
    tenant_id: &str,
    project_id: &str,
    page_url: &str,
    started_seconds_ago: i64,
    seen: &[&str],
) -> pb::DueNotificationsRequest {
    pb::DueNotificationsRequest {
        tenant_id: tenant_id.to_owned(),
        project_id: project_id.to_owned(),
        page_url: page_url.to_owned(),
        session_started_at: Some(to_timestamp(chrono::Utc::now() - chrono::Duration::seconds(started_seconds_ago))),
        seen: seen.iter().map(|id| (*id).to_owned()).collect(),
    }
}

fn texts(answer: pb::ListNotificationsResponse) -> Vec<String> {
    answer.notifications.into_iter().map(|notification| notification.fields.unwrap_or_default().text).collect()
}

#[tokio::test]
async fn the_widget_gets_what_matches_the_page_once_its_delay_passed_and_not_what_was_seen() -> anyhow::Result<()> {
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    let globex = tenant(&services, "globex").await?;
    let mut api = notifications(&services).await?;
    let token = &acme.admin_token;
    let mut create = async |project_id: &str, token: &str, fields: pb::NotificationFields| {
        let created = api.create_notification(with_bearer(input(project_id, "", fields), token)?).await?;
        anyhow::Ok(created.into_inner().id)
    };
    let everywhere = create(&acme.project_id, token, fields("Welcome", "https://shop.example/*", 0, true)).await?;
    let checkout = create(&acme.project_id, token, fields("Need help paying?", "*/checkout*", 60, true)).await?;
    let inactive = create(&acme.project_id, token, fields("Old sale", "*", 0, false)).await?;
    create(&globex.project_id, &globex.admin_token, fields("Globex news", "*", 0, true)).await?;

    let gateway = services.service_token(Service::Gateway).await?;
    let (tenant_id, project_id) = (&acme.tenant_id, &acme.project_id);
    let ask = async |api: &mut NotificationServiceClient<Channel>, message| {
        anyhow::Ok(texts(api.due_notifications(with_bearer(message, &gateway)?).await?.into_inner()))
    };
    let page = "https://shop.example/fr/checkout/pay";
    assert_eq!(ask(&mut api, due(tenant_id, project_id, page, 10, &[])).await?, ["Welcome"]);
    assert_eq!(ask(&mut api, due(tenant_id, project_id, page, 120, &[])).await?, ["Welcome", "Need help paying?"]);
    assert_eq!(ask(&mut api, due(tenant_id, project_id, page, 120, &[&everywhere])).await?, ["Need help paying?"]);
    assert_eq!(
        ask(&mut api, due(tenant_id, project_id, page, 120, &[&everywhere, &checkout])).await?,
        Vec::<String>::new()
    );
    assert_eq!(
        ask(&mut api, due(tenant_id, project_id, "https://other.example/checkout", 120, &[])).await?,
        ["Need help paying?"]
    );
    // Another tenant's project through this tenant's id is no project.
    let refused = api.due_notifications(with_bearer(due(tenant_id, &globex.project_id, page, 0, &[]), &gateway)?).await;
    assert_eq!(code(refused), Some(Code::NotFound));

    // Marking seen: only an active notification of the project is one.
    let widget_ref = |id: &str| pb::WidgetNotificationRef {
        tenant_id: tenant_id.clone(),
        project_id: project_id.clone(),
        id: id.to_owned(),
    };
    api.widget_notification(with_bearer(widget_ref(&checkout), &gateway)?).await?;
    let refused = api.widget_notification(with_bearer(widget_ref(&inactive), &gateway)?).await;
    assert_eq!(code(refused), Some(Code::NotFound));

    // The widget's calls are the gateway's: a tenant user's token is refused.
    let refused = api.due_notifications(with_bearer(due(tenant_id, project_id, page, 0, &[]), token)?).await;
    assert_eq!(code(refused), Some(Code::Unauthenticated));
    services.stop().await
}
