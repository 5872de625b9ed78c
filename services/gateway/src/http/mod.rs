//! The gateway's HTTP surface: one router per feature module, merged here for each listener.
//! Each listener has two routers: the explicit list of public routes (sign-in, refresh, logout,
//! password reset, e-mail confirmation, the key set, the OpenAPI document, the widget, health),
//! and everything else behind a layer that refuses a request without a verified caller. A new
//! route is therefore protected unless it is added to the public list, and the caller extractors
//! only read what that layer verified, so a handler that needs a caller cannot be public by
//! mistake: it would answer 401 to everyone.

mod admin;
mod api_keys;
mod audit;
mod knowledge_base;
mod legal;
mod notifications;
pub mod openapi;
mod privacy;
mod projects;
mod scenarios;
mod sessions;
mod transport_security;
mod users;
mod widget;
mod wire;

use axum::extract::DefaultBodyLimit;
use axum::{Router, middleware};
use causerie_auth::Verifier;
use causerie_core::Error;
use causerie_runtime::Readiness;
use causerie_runtime::server::{health_router, operations_router};

use crate::state::AppState;

/// Bodies larger than this answer `413 payload_too_large` before they are read whole.
const BODY_LIMIT_BYTES: usize = 64 * 1024;

fn readiness(state: &AppState) -> Readiness {
    let redis = state.redis.clone();
    let accounts_health = state.accounts_health.clone();
    let widget_projects = state.widget_projects.clone();
    Readiness::new()
        .with_check("signing keys", Verifier::readiness_check(std::sync::Arc::clone(&state.verifier)))
        .with_redis(redis)
        .with_check("widget project changes", move || {
            let hears_changes = widget_projects.hears_changes();
            async move { if hears_changes { Ok(()) } else { Err("not subscribed".to_owned()) } }
        })
        // Accounts reports SERVING only while its PostgreSQL and RabbitMQ answer.
        .with_check("accounts", move || {
            let mut accounts_health = accounts_health.clone();
            async move {
                let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
                let response = accounts_health.check(request).await.map_err(|status| status.to_string())?;
                match response.into_inner().status() {
                    tonic_health::pb::health_check_response::ServingStatus::Serving => Ok(()),
                    other => Err(format!("accounts is {}", other.as_str_name())),
                }
            }
        })
}

async fn unknown_route() -> Error {
    Error::not_found("no such route")
}

/// The public listener's router and the admin listener's, sharing one set of readiness checks.
pub fn routers(state: AppState) -> (Router, Router) {
    let readiness = readiness(&state);
    let tenant_routes = Router::new()
        .merge(sessions::router())
        .merge(users::router())
        .merge(legal::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(projects::router())
        .merge(knowledge_base::router())
        .merge(notifications::router())
        .merge(scenarios::router())
        .merge(privacy::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::caller::require_tenant_caller));
    let public = Router::new()
        .merge(sessions::public_router())
        .merge(widget::router(state.clone()))
        .merge(openapi::router())
        .merge(tenant_routes)
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), transport_security::require_https))
        .with_state(state.clone())
        .merge(health_router(readiness.clone()));
    let staff_routes =
        admin::router().route_layer(middleware::from_fn_with_state(state.clone(), crate::caller::require_staff_caller));
    let admin = Router::new()
        .merge(admin::public_router())
        .merge(staff_routes)
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(transport_security::security_headers))
        .with_state(state)
        .merge(operations_router(readiness));
    (public, admin)
}
