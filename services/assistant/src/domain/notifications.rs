//! Programmed notifications: a text the widget shows on the pages a pattern matches, once the
//! visitor's session is old enough, and once only. Which ones a visitor has seen is kept in the
//! visitor's browser (`cz_notif`, one month), not here: the assistant keeps nothing about who saw
//! what.

use causerie_core::{Error, FieldError, ProjectId, TenantId, page};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::AppState;
use crate::domain::actor::{Access, Actor, Content};
use crate::store;

const MAX_TEXT: usize = 1_000;
const MAX_PATTERN: usize = 500;
/// A day: a notification for visitors who stay longer has no one to show it to.
const MAX_DELAY_SECONDS: u32 = 86_400;
/// At most this many due at once: a widget shows a few, not a wall.
const MAX_DUE: usize = 20;
/// A page URL longer than this matches nothing (browsers send far shorter ones).
const MAX_PAGE_URL: usize = 4_096;

#[derive(Clone, Debug, PartialEq)]
pub struct NotificationFields {
    pub text: String,
    pub url_pattern: String,
    pub delay_seconds: u32,
    pub active: bool,
}

#[derive(Clone, Debug)]
pub struct Notification {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub fields: NotificationFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl NotificationFields {
    fn checked(self) -> Result<Self, Error> {
        let mut errors = Vec::new();
        let text = self.text.trim().to_owned();
        if text.is_empty() || text.chars().count() > MAX_TEXT || text.contains('\0') {
            errors
                .push(FieldError { field: "text".to_owned(), message: format!("must be 1 to {MAX_TEXT} characters") });
        }
        let url_pattern = self.url_pattern.trim().to_owned();
        if url_pattern.is_empty()
            || url_pattern.chars().count() > MAX_PATTERN
            || url_pattern.chars().any(|character| character.is_whitespace() || character.is_control())
        {
            errors.push(FieldError {
                field: "url_pattern".to_owned(),
                message: format!("must be 1 to {MAX_PATTERN} characters without spaces, `*` for any characters"),
            });
        }
        if self.delay_seconds > MAX_DELAY_SECONDS {
            errors.push(FieldError {
                field: "delay_seconds".to_owned(),
                message: format!("must be 0 to {MAX_DELAY_SECONDS} seconds"),
            });
        }
        if !errors.is_empty() {
            return Err(Error::with_field_errors(causerie_core::ErrorCode::InvalidRequest, errors));
        }
        Ok(Self { text, url_pattern, delay_seconds: self.delay_seconds, active: self.active })
    }
}

/// Whether `url` matches `pattern`, where `*` stands for any characters (none included) and
/// every other character for itself. The whole URL must match: `https://shop.example/*` covers
/// the site, `*/checkout*` every checkout page.
pub fn matches(pattern: &str, url: &str) -> bool {
    let pattern = pattern.as_bytes();
    let url = url.as_bytes();
    let (mut at_pattern, mut at_url) = (0, 0);
    // Where the last `*` was, and how much of the URL it has taken so far.
    let mut star: Option<(usize, usize)> = None;
    while at_url < url.len() {
        if at_pattern < pattern.len() && pattern[at_pattern] == b'*' {
            star = Some((at_pattern, at_url));
            at_pattern += 1;
        } else if at_pattern < pattern.len() && pattern[at_pattern] == url[at_url] {
            at_pattern += 1;
            at_url += 1;
        } else if let Some((star_at, taken)) = star {
            // Let the last `*` take one more character and try again from there.
            at_pattern = star_at + 1;
            at_url = taken + 1;
            star = Some((star_at, taken + 1));
        } else {
            return false;
        }
    }
    pattern[at_pattern..].iter().all(|&byte| byte == b'*')
}

fn no_such_notification() -> Error {
    Error::not_found("no such notification")
}

fn notification_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| no_such_notification())
}

async fn project_for(state: &AppState, actor: &Actor, project_id: &str, access: Access) -> Result<ProjectId, Error> {
    Ok(state.projects.of_actor(actor, project_id, Content::Project, access).await?.id)
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    fields: NotificationFields,
) -> Result<Notification, Error> {
    let project_id = project_for(state, actor, project_id, Access::Write).await?;
    let fields = fields.checked()?;
    let now = state.clock.now();
    let notification = Notification { id: Uuid::now_v7(), project_id, fields, created_at: now, updated_at: now };
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    store::insert_notification(&mut transaction, actor.tenant_id, &notification).await?;
    transaction.commit().await?;
    Ok(notification)
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    id: &str,
    fields: NotificationFields,
) -> Result<Notification, Error> {
    let project_id = project_for(state, actor, project_id, Access::Write).await?;
    let id = notification_id(id)?;
    let fields = fields.checked()?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let notification = store::update_notification(&mut transaction, project_id, id, &fields, state.clock.now())
        .await?
        .ok_or_else(no_such_notification)?;
    transaction.commit().await?;
    Ok(notification)
}

pub async fn delete(state: &AppState, actor: &Actor, project_id: &str, id: &str) -> Result<(), Error> {
    let project_id = project_for(state, actor, project_id, Access::Write).await?;
    let id = notification_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    if !store::delete_notification(&mut transaction, project_id, id).await? {
        return Err(no_such_notification());
    }
    transaction.commit().await?;
    Ok(())
}

pub async fn get(state: &AppState, actor: &Actor, project_id: &str, id: &str) -> Result<Notification, Error> {
    let project_id = project_for(state, actor, project_id, Access::Read).await?;
    let id = notification_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    store::notification(&mut transaction, project_id, id).await?.ok_or_else(no_such_notification)
}

/// A page of the project's notifications, in id order.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<Notification>, Option<String>), Error> {
    let project_id = project_for(state, actor, project_id, Access::Read).await?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = store::notifications(&mut transaction, project_id, after, limit + 1).await?;
    Ok(page::cut(rows, limit, |notification| notification.id.to_string()))
}

/// What the widget shows now on `page_url`, for a session started at `session_started_at`: the
/// active notifications whose pattern matches the page and whose delay has passed, except those
/// `seen`, soonest first.
pub async fn due(
    state: &AppState,
    tenant_id: TenantId,
    project_id: &str,
    page_url: &str,
    session_started_at: DateTime<Utc>,
    seen: &[String],
) -> Result<Vec<Notification>, Error> {
    let project = state.projects.of_tenant(tenant_id, project_id).await?;
    if page_url.len() > MAX_PAGE_URL {
        return Err(Error::invalid_field("page_url", format!("at most {MAX_PAGE_URL} bytes")));
    }
    let elapsed = (state.clock.now() - session_started_at).num_seconds().max(0);
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let active = store::active_notifications(&mut transaction, project.id).await?;
    Ok(active
        .into_iter()
        .filter(|notification| i64::from(notification.fields.delay_seconds) <= elapsed)
        .filter(|notification| !seen.iter().any(|id| Uuid::try_parse(id).is_ok_and(|id| id == notification.id)))
        .filter(|notification| matches(&notification.fields.url_pattern, page_url))
        .take(MAX_DUE)
        .collect())
}

/// The project's active notification `id`, for a visitor marking it seen.
pub async fn for_widget(
    state: &AppState,
    tenant_id: TenantId,
    project_id: &str,
    id: &str,
) -> Result<Notification, Error> {
    let project = state.projects.of_tenant(tenant_id, project_id).await?;
    let id = notification_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    store::notification(&mut transaction, project.id, id)
        .await?
        .filter(|notification| notification.fields.active)
        .ok_or_else(no_such_notification)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn a_pattern_matches_the_whole_url_with_stars_for_any_characters() {
        assert!(matches("https://shop.example/*", "https://shop.example/"));
        assert!(matches("https://shop.example/*", "https://shop.example/cart?step=2"));
        assert!(matches("*/checkout*", "https://shop.example/fr/checkout/pay"));
        assert!(matches("https://shop.example/a*b*c", "https://shop.example/aXbYbc"));
        assert!(matches("*", ""));
        assert!(matches("https://shop.example/cart", "https://shop.example/cart"));
        assert!(!matches("https://shop.example/cart", "https://shop.example/cart/2"));
        assert!(!matches("https://shop.example/*", "https://other.example/shop.example/"));
        assert!(!matches("*/checkout", "https://shop.example/checkout/pay"));
        assert!(!matches("https://shop.example/a*b*c", "https://shop.example/aXbYcZ"));
    }
}
