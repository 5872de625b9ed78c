//! A project's programmed notifications: texts its widget shows on matching pages once the
//! visitor has been there long enough. The assistant keeps them and decides who may do what;
//! the widget's side is in `widget.rs`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::assistant::v1 as pb;
use causerie_proto::time::from_timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{ApiJson, ApiQuery, Page, PageQuery, page_limit};
use crate::caller::TenantContext;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/projects/{pid}/notifications", post(create_notification).get(list_notifications)).route(
        "/v1/projects/{pid}/notifications/{id}",
        get(get_notification).put(update_notification).delete(delete_notification),
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    #[schema(min_length = 1, max_length = 1000)]
    pub text: String,
    /// The page URLs it is shown on, whole: `*` stands for any characters (`https://shop.example/*`).
    #[schema(min_length = 1, max_length = 500)]
    pub url_pattern: String,
    /// Seconds after the visitor's session started, at most a day.
    #[schema(minimum = 0, maximum = 86400)]
    #[serde(deserialize_with = "super::wire::whole_number")]
    pub delay_seconds: i32,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

const fn active_by_default() -> bool {
    true
}

impl From<NotificationRequest> for pb::NotificationFields {
    fn from(notification: NotificationRequest) -> Self {
        Self {
            text: notification.text,
            url_pattern: notification.url_pattern,
            // A negative delay becomes one the assistant refuses, naming the field.
            delay_seconds: u32::try_from(notification.delay_seconds).unwrap_or(u32::MAX),
            active: notification.active,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationResponse {
    pub id: String,
    pub project_id: String,
    pub text: String,
    pub url_pattern: String,
    pub delay_seconds: u32,
    pub active: bool,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<pb::Notification> for NotificationResponse {
    fn from(notification: pb::Notification) -> Self {
        let fields = notification.fields.unwrap_or_default();
        Self {
            id: notification.id,
            project_id: notification.project_id,
            text: fields.text,
            url_pattern: fields.url_pattern,
            delay_seconds: fields.delay_seconds,
            active: fields.active,
            created_at: notification.created_at.and_then(from_timestamp),
            updated_at: notification.updated_at.and_then(from_timestamp),
        }
    }
}

/// Creates a notification.
#[utoipa::path(post, path = "/v1/projects/{pid}/notifications", tag = "notifications",
    request_body = NotificationRequest,
    responses((status = 201, body = NotificationResponse), (status = 403, description = "forbidden"),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn create_notification(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiJson(body): ApiJson<NotificationRequest>,
) -> Result<(StatusCode, Json<NotificationResponse>), Error> {
    let input = pb::NotificationInput { project_id: pid, id: String::new(), fields: Some(body.into()) };
    let notification = state.notifications.clone().create_notification(caller.forward(input)?).await?;
    Ok((StatusCode::CREATED, Json(notification.into_inner().into())))
}

/// The project's notifications, a page at a time.
#[utoipa::path(get, path = "/v1/projects/{pid}/notifications", tag = "notifications", params(PageQuery),
    responses((status = 200, body = Page<NotificationResponse>), (status = 404, description = "not_found"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_notifications(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<NotificationResponse>>, Error> {
    let message = pb::ListNotificationsRequest {
        project_id: pid,
        limit: page_limit(page.limit)?,
        cursor: page.cursor.unwrap_or_default(),
    };
    let page = state.notifications.clone().list_notifications(caller.forward(message)?).await?.into_inner();
    Ok(Json(Page::of(page.notifications, page.next_cursor)))
}

/// One notification.
#[utoipa::path(get, path = "/v1/projects/{pid}/notifications/{id}", tag = "notifications",
    responses((status = 200, body = NotificationResponse), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn get_notification(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
) -> Result<Json<NotificationResponse>, Error> {
    let asked = pb::NotificationRef { project_id: pid, id };
    let notification = state.notifications.clone().get_notification(caller.forward(asked)?).await?;
    Ok(Json(notification.into_inner().into()))
}

/// Replaces a notification.
#[utoipa::path(put, path = "/v1/projects/{pid}/notifications/{id}", tag = "notifications",
    request_body = NotificationRequest,
    responses((status = 200, body = NotificationResponse), (status = 403, description = "forbidden"),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn update_notification(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<NotificationRequest>,
) -> Result<Json<NotificationResponse>, Error> {
    let input = pb::NotificationInput { project_id: pid, id, fields: Some(body.into()) };
    let notification = state.notifications.clone().update_notification(caller.forward(input)?).await?;
    Ok(Json(notification.into_inner().into()))
}

/// Deletes a notification.
#[utoipa::path(delete, path = "/v1/projects/{pid}/notifications/{id}", tag = "notifications",
    responses((status = 204), (status = 403, description = "forbidden"), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn delete_notification(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    let asked = pb::NotificationRef { project_id: pid, id };
    state.notifications.clone().delete_notification(caller.forward(asked)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
