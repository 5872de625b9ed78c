//! The widget's cookies, defined once: the gateway sets them from this list and serves the same
//! list as the manifest tenants publish (DESIGN.md section 6). All are technical and exempt from
//! consent (ePrivacy Directive Art. 5(3), strictly necessary for the service the visitor asked for).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// One cookie of the widget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WidgetCookie {
    pub name: &'static str,
    pub purpose: &'static str,
    /// `None`: a session cookie, gone when the browser closes.
    pub lifetime: Option<Duration>,
    /// The widget script never reads it, so scripts cannot.
    pub http_only: bool,
    pub consent_exempt: bool,
}

const DAY: u64 = 24 * 60 * 60;

pub const POSITION: WidgetCookie = WidgetCookie {
    name: "cz_pos",
    purpose: "position of the widget while the visitor navigates the site",
    lifetime: None,
    http_only: false,
    consent_exempt: true,
};

pub const NOTIFICATIONS_SEEN: WidgetCookie = WidgetCookie {
    name: "cz_notif",
    purpose: "which programmed notifications the visitor has already seen",
    lifetime: Some(Duration::from_secs(30 * DAY)),
    http_only: true,
    consent_exempt: true,
};

pub const PAGE: WidgetCookie = WidgetCookie {
    name: "cz_page",
    purpose: "page the visitor is on, for the live-chat operator",
    lifetime: Some(Duration::from_secs(365 * DAY)),
    http_only: true,
    consent_exempt: true,
};

pub const VISITOR: WidgetCookie = WidgetCookie {
    name: "cz_vid",
    purpose: "random visitor identifier, to keep the visitor's consents and conversations together",
    lifetime: Some(Duration::from_secs(365 * DAY)),
    http_only: true,
    consent_exempt: true,
};

pub const SESSION: WidgetCookie = WidgetCookie {
    name: "cz_sid",
    purpose: "random conversation session identifier",
    lifetime: Some(Duration::from_secs(365 * DAY)),
    http_only: true,
    consent_exempt: true,
};

/// The id a tenant knows a visitor by: derived from `cz_vid` and the tenant, so two tenants
/// embedding the widget cannot link their visitors, and a tenant cannot act as its visitor
/// elsewhere, as `cz_vid` itself never leaves the browser's cookie jar (it is `HttpOnly`).
pub fn tenant_visitor_id(tenant_id: uuid::Uuid, cookie_visitor_id: uuid::Uuid) -> uuid::Uuid {
    uuid::Uuid::new_v5(&tenant_id, cookie_visitor_id.as_bytes())
}

/// A new session id on the project of `public_id`, started at `now`. The id is a UUIDv7, which
/// carries its start: the delays of programmed notifications count from it, and no server keeps
/// a record of the session for them. A visitor who forges it only sees notifications sooner.
pub fn new_session_id(public_id: &str, now: DateTime<Utc>) -> String {
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    let timestamp = uuid::Timestamp::from_unix(uuid::NoContext, seconds, now.timestamp_subsec_nanos());
    format!("{public_id}.{}", uuid::Uuid::new_v7(timestamp).simple())
}

/// When the session of `cz_sid` started; `None` for an id that carries no time.
pub fn session_started_at(session_id: &str) -> Option<DateTime<Utc>> {
    let (_, id) = session_id.rsplit_once('.')?;
    let (seconds, nanos) = uuid::Uuid::try_parse(id).ok()?.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(seconds).ok()?, nanos)
}

/// `cz_notif` keeps this many notification ids, the latest seen: a cookie holds 4 KB.
pub const NOTIFICATIONS_KEPT: usize = 100;

/// The notification ids of a `cz_notif` value, oldest seen first; what is no id is skipped.
pub fn seen_notifications(value: &str) -> Vec<uuid::Uuid> {
    value.split('.').filter_map(|id| uuid::Uuid::try_parse(id).ok()).collect()
}

/// The `cz_notif` value once `id` is seen too: each id once, the oldest dropped past
/// `NOTIFICATIONS_KEPT`.
pub fn with_seen_notification(value: Option<&str>, id: uuid::Uuid) -> String {
    let mut seen = value.map(seen_notifications).unwrap_or_default();
    seen.retain(|known| *known != id);
    seen.push(id);
    let dropped = seen.len().saturating_sub(NOTIFICATIONS_KEPT);
    seen.drain(..dropped);
    seen.iter().map(|id| id.simple().to_string()).collect::<Vec<_>>().join(".")
}

pub const ALL: [WidgetCookie; 5] = [POSITION, NOTIFICATIONS_SEEN, PAGE, VISITOR, SESSION];

impl WidgetCookie {
    /// A `Set-Cookie` value: `Secure` and `SameSite=None` always, since the widget is embedded in
    /// another site's pages.
    pub fn set_cookie(&self, value: &str) -> String {
        let mut header = format!("{}={value}; Path=/; Secure; SameSite=None", self.name);
        if let Some(lifetime) = self.lifetime {
            header.push_str(&format!("; Max-Age={}", lifetime.as_secs()));
        }
        if self.http_only {
            header.push_str("; HttpOnly");
        }
        header
    }

    /// The lifetime as people read it.
    pub fn lifetime_text(&self) -> String {
        match self.lifetime.map(|lifetime| lifetime.as_secs() / DAY) {
            None => "session".to_owned(),
            Some(365) => "1 year".to_owned(),
            Some(30) => "1 month".to_owned(),
            Some(days) => format!("{days} days"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_cookies_of_the_design_with_their_lifetimes() {
        let described: Vec<(&str, String)> = ALL.iter().map(|cookie| (cookie.name, cookie.lifetime_text())).collect();
        assert_eq!(
            described,
            [
                ("cz_pos", "session".to_owned()),
                ("cz_notif", "1 month".to_owned()),
                ("cz_page", "1 year".to_owned()),
                ("cz_vid", "1 year".to_owned()),
                ("cz_sid", "1 year".to_owned()),
            ]
        );
        assert_eq!(VISITOR.set_cookie("abc"), "cz_vid=abc; Path=/; Secure; SameSite=None; Max-Age=31536000; HttpOnly");
        assert_eq!(POSITION.set_cookie("1"), "cz_pos=1; Path=/; Secure; SameSite=None");
    }

    #[test]
    fn a_session_id_carries_its_start_to_the_millisecond() {
        let now = DateTime::from_timestamp(1_800_000_000, 123_000_000).unwrap_or_default();
        let session_id = new_session_id("pk_abc", now);
        assert!(session_id.starts_with("pk_abc."));
        assert_eq!(session_started_at(&session_id), Some(now));
        assert_eq!(session_started_at("pk_abc.0f4d8a2e5b9c4e7d8a1b2c3d4e5f6a7b"), None, "a v4 id carries no time");
        assert_eq!(session_started_at("pk_abc"), None);
    }

    #[test]
    fn seen_notifications_are_kept_once_each_and_the_oldest_dropped() {
        let first = uuid::Uuid::now_v7();
        let second = uuid::Uuid::now_v7();
        let value = with_seen_notification(None, first);
        let value = with_seen_notification(Some(&value), second);
        let value = with_seen_notification(Some(&value), first);
        assert_eq!(seen_notifications(&value), [second, first]);
        assert_eq!(seen_notifications("junk.also-junk"), Vec::<uuid::Uuid>::new());
        let mut value = String::new();
        for _ in 0..NOTIFICATIONS_KEPT + 5 {
            value = with_seen_notification(Some(&value), uuid::Uuid::now_v7());
        }
        assert_eq!(seen_notifications(&value).len(), NOTIFICATIONS_KEPT);
        assert!(value.len() < 4000, "fits a cookie: {} bytes", value.len());
    }
}
