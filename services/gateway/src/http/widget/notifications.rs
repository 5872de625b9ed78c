//! The widget's programmed notifications: those due on the visitor's page, and the mark of one
//! seen, which lives in the visitor's own `cz_notif` (one month), not on a server.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use causerie_core::Error;
use causerie_core::cookies;
use causerie_proto::assistant::v1 as pb;
use causerie_proto::time::to_timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check_write_origin, cookie, cors, resolve_allowed, set_cookie, widget_public_id};
use crate::http::wire::ApiQuery;
use crate::state::AppState;
use crate::upstream::for_service;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// The page the visitor is on.
    pub page_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct DueNotification {
    pub id: String,
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct DueNotifications {
    pub items: Vec<DueNotification>,
}

/// The notifications to show now: active, matching the page, their delay passed since the
/// session started, and not yet seen by this browser.
#[utoipa::path(get, path = "/widget/v1/notifications", tag = "widget", params(NotificationsQuery),
    responses((status = 200, body = DueNotifications), (status = 401, description = "unauthenticated: no session"),
              (status = 403, description = "forbidden: origin not allowed"), (status = 422, description = "invalid_request")))]
pub(super) async fn due_notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
) -> Result<Response, Error> {
    let public_id = widget_public_id(&headers, None)?;
    let resolved = resolve_allowed(&state, &headers, &public_id).await?;
    // A session id that carries no start (one from before they did) starts now.
    let started_at = cookie(&headers, cookies::SESSION.name)
        .and_then(cookies::session_started_at)
        .unwrap_or_else(|| state.clock.now());
    let seen = cookie(&headers, cookies::NOTIFICATIONS_SEEN.name)
        .map(cookies::seen_notifications)
        .unwrap_or_default()
        .iter()
        .map(uuid::Uuid::to_string)
        .collect();
    let message = pb::DueNotificationsRequest {
        tenant_id: resolved.project.tenant_id.clone(),
        project_id: resolved.project.project_id.clone(),
        page_url: query.page_url,
        session_started_at: Some(to_timestamp(started_at)),
        seen,
    };
    let due = state
        .notifications
        .clone()
        .due_notifications(for_service(&state.service_token, message, None).await?)
        .await?
        .into_inner();
    let items = due
        .notifications
        .into_iter()
        .map(|notification| DueNotification { id: notification.id, text: notification.fields.unwrap_or_default().text })
        .collect();
    Ok((AppendHeaders(cors(&headers)), Json(DueNotifications { items })).into_response())
}

/// Marks a notification seen: it is added to `cz_notif`, so this browser is not shown it again
/// for a month.
#[utoipa::path(post, path = "/widget/v1/notifications/{id}/seen", tag = "widget",
    responses((status = 204), (status = 401, description = "unauthenticated: no session"),
              (status = 403, description = "forbidden: origin not allowed"), (status = 404, description = "not_found")))]
pub(super) async fn notification_seen(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let public_id = widget_public_id(&headers, None)?;
    let resolved = state.widget_projects.resolve(&public_id).await?;
    check_write_origin(&headers, &resolved.project.allowed_origins)?;
    let message = pb::WidgetNotificationRef {
        tenant_id: resolved.project.tenant_id.clone(),
        project_id: resolved.project.project_id.clone(),
        id,
    };
    let notification = state
        .notifications
        .clone()
        .widget_notification(for_service(&state.service_token, message, None).await?)
        .await?
        .into_inner();
    let id = uuid::Uuid::try_parse(&notification.id).map_err(Error::internal)?;
    let seen = cookies::with_seen_notification(cookie(&headers, cookies::NOTIFICATIONS_SEEN.name), id);
    let mut response_headers = cors(&headers);
    response_headers.push(set_cookie(&cookies::NOTIFICATIONS_SEEN, &seen)?);
    Ok((StatusCode::NO_CONTENT, AppendHeaders(response_headers)).into_response())
}
