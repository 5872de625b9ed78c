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
        super::sessions::refresh,
        super::sessions::logout,
        super::sessions::request_password_reset,
        super::sessions::confirm_password_reset,
        super::sessions::session,
        super::sessions::me,
        super::sessions::update_me,
        super::sessions::change_password,
        super::sessions::confirm_email_change,
        super::sessions::jwks,
        super::users::create_user,
        super::users::list_users,
        super::users::get_user,
        super::users::update_user,
        super::users::erase_user,
        super::users::search_operators,
        super::legal::publish,
        super::legal::current,
        super::legal::accept,
        super::api_keys::create_key,
        super::api_keys::list_keys,
        super::api_keys::revoke_key,
        super::audit::list_entries,
        super::audit::verify,
        super::audit::create_grant,
        super::audit::list_grants,
        super::audit::revoke_grant,
        super::projects::create_project,
        super::projects::list_projects,
        super::projects::get_project,
        super::projects::update_project,
        super::projects::delete_project,
        super::projects::cookie_manifest,
        super::privacy::get_policy,
        super::privacy::put_policy,
        super::privacy::list_versions,
        super::privacy::get_version,
        super::privacy::processing_register,
        super::privacy::list_consents,
        super::widget::start_session,
        super::widget::privacy_credits,
        super::widget::record_consent,
        super::widget::current_consents,
        super::admin::staff_login,
        super::admin::update_tenant,
        super::admin::list_subprocessors,
        super::admin::put_subprocessor,
        super::admin::tenant_users,
        super::admin::rotate_signing_keys,
        super::admin::start_totp,
        super::admin::confirm_totp,
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
