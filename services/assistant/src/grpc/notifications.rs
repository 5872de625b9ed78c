//! The notifications' gRPC API: tenant callers keep them; the gateway asks which are due for a
//! visitor's page.

use causerie_auth::Audience;
use causerie_auth::transport::caller_of;
use causerie_core::{Error, TenantId};
use causerie_proto::assistant::v1 as pb;
use causerie_proto::time::{from_timestamp, to_timestamp};
use pb::notification_service_server::NotificationService;
use tonic::{Request, Response};

use super::{Answer, actor};
use crate::AppState;
use crate::domain::notifications::{self, Notification, NotificationFields};

pub struct NotificationApi {
    state: AppState,
}

impl NotificationApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn fields(fields: Option<pb::NotificationFields>) -> NotificationFields {
    let fields = fields.unwrap_or_default();
    NotificationFields {
        text: fields.text,
        url_pattern: fields.url_pattern,
        delay_seconds: fields.delay_seconds,
        active: fields.active,
    }
}

impl From<Notification> for pb::Notification {
    fn from(notification: Notification) -> Self {
        let fields = notification.fields;
        Self {
            id: notification.id.to_string(),
            project_id: notification.project_id.to_string(),
            fields: Some(pb::NotificationFields {
                text: fields.text,
                url_pattern: fields.url_pattern,
                delay_seconds: fields.delay_seconds,
                active: fields.active,
            }),
            created_at: Some(to_timestamp(notification.created_at)),
            updated_at: Some(to_timestamp(notification.updated_at)),
        }
    }
}

/// The tenant a gateway's call names; an id that is none names no project.
fn tenant(tenant_id: &str) -> Result<TenantId, Error> {
    tenant_id.parse().map_err(|_| Error::not_found("no such project"))
}

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    async fn create_notification(&self, request: Request<pb::NotificationInput>) -> Answer<pb::Notification> {
        let actor = actor(&request)?;
        let input = request.into_inner();
        let notification = notifications::create(&self.state, &actor, &input.project_id, fields(input.fields)).await?;
        Ok(Response::new(notification.into()))
    }

    async fn update_notification(&self, request: Request<pb::NotificationInput>) -> Answer<pb::Notification> {
        let actor = actor(&request)?;
        let input = request.into_inner();
        let notification =
            notifications::update(&self.state, &actor, &input.project_id, &input.id, fields(input.fields)).await?;
        Ok(Response::new(notification.into()))
    }

    async fn delete_notification(&self, request: Request<pb::NotificationRef>) -> Answer<pb::Empty> {
        let actor = actor(&request)?;
        let asked = request.into_inner();
        notifications::delete(&self.state, &actor, &asked.project_id, &asked.id).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn get_notification(&self, request: Request<pb::NotificationRef>) -> Answer<pb::Notification> {
        let actor = actor(&request)?;
        let asked = request.into_inner();
        Ok(Response::new(notifications::get(&self.state, &actor, &asked.project_id, &asked.id).await?.into()))
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Answer<pb::ListNotificationsResponse> {
        let actor = actor(&request)?;
        let asked = request.into_inner();
        let (page, next) =
            notifications::list(&self.state, &actor, &asked.project_id, asked.limit, &asked.cursor).await?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: page.into_iter().map(pb::Notification::from).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn due_notifications(
        &self,
        request: Request<pb::DueNotificationsRequest>,
    ) -> Answer<pb::ListNotificationsResponse> {
        caller_of(&request, &[Audience::Service])?;
        let asked = request.into_inner();
        let started_at = asked
            .session_started_at
            .and_then(from_timestamp)
            .ok_or_else(|| Error::invalid_field("session_started_at", "is required"))?;
        let due = notifications::due(
            &self.state,
            tenant(&asked.tenant_id)?,
            &asked.project_id,
            &asked.page_url,
            started_at,
            &asked.seen,
        )
        .await?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: due.into_iter().map(pb::Notification::from).collect(),
            next_cursor: String::new(),
        }))
    }

    async fn widget_notification(&self, request: Request<pb::WidgetNotificationRef>) -> Answer<pb::Notification> {
        caller_of(&request, &[Audience::Service])?;
        let asked = request.into_inner();
        let notification =
            notifications::for_widget(&self.state, tenant(&asked.tenant_id)?, &asked.project_id, &asked.id).await?;
        Ok(Response::new(notification.into()))
    }
}
