//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/v1/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Causerie", description = "The public, widget and admin APIs of Causerie."),
    paths(
        super::sessions::login,
        super::sessions::session,
        super::sessions::me,
        super::sessions::jwks,
        super::admin::staff_login,
        super::admin::create_tenant,
        super::admin::list_tenants,
        super::admin::get_tenant,
        super::admin::advance_test_clock,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
