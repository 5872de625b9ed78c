//! The widget's cookies, defined once: the gateway sets them from this list and serves the same
//! list as the manifest tenants publish (DESIGN.md section 6). All are technical and exempt from
//! consent (ePrivacy Directive Art. 5(3), strictly necessary for the service the visitor asked for).

use std::time::Duration;

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
}
