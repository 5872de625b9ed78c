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
        super::knowledge_base::create_entry,
        super::knowledge_base::list_entries,
        super::knowledge_base::get_entry,
        super::knowledge_base::update_entry,
        super::knowledge_base::delete_entry,
        super::knowledge_base::add_variant,
        super::knowledge_base::entry_audio,
        super::knowledge_base::translate_entry,
        super::knowledge_base::search,
        super::knowledge_base::import_entries,
        super::knowledge_base::export_entries,
        super::knowledge_base::unanswered,
        super::notifications::create_notification,
        super::notifications::list_notifications,
        super::notifications::get_notification,
        super::notifications::update_notification,
        super::notifications::delete_notification,
        super::scenarios::create_scenario,
        super::scenarios::list_scenarios,
        super::scenarios::get_scenario,
        super::scenarios::update_scenario,
        super::scenarios::delete_scenario,
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
        super::widget::send_message,
        super::widget::notifications::due_notifications,
        super::widget::notifications::notification_seen,
        super::widget::entry_audio,
        super::admin::staff_login,
        super::admin::update_tenant,
        super::admin::list_subprocessors,
        super::admin::put_subprocessor,
        super::admin::tenant_users,
        super::admin::tenant_entries,
        super::admin::rotate_signing_keys,
        super::admin::start_totp,
        super::admin::confirm_totp,
        super::admin::create_tenant,
        super::admin::list_tenants,
        super::admin::get_tenant,
        super::admin::advance_test_clock,
    ),
    components(schemas(ProblemDocument, FieldProblem)),
    modifiers(&BearerAuth, &TrueToTheServer),
)]
pub struct ApiDoc;

/// The body of every error answer (RFC 9457), as `causerie_core::Error` writes it.
#[derive(utoipa::ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
struct ProblemDocument {
    /// `https://causerie.dev/problems/<code>`.
    #[schema(rename = "type")]
    problem_type: String,
    title: String,
    status: u16,
    detail: String,
    /// The stable code of API.md: `invalid_request`, `unauthenticated`, `forbidden`, `not_found`...
    code: String,
    /// Each offending field of a `422`.
    errors: Option<Vec<FieldProblem>>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct FieldProblem {
    field: String,
    message: String,
}

/// The statuses any operation may answer besides its own, each with the problem body: a body that
/// cannot be read, no or a wrong credential, a caller not allowed, what is not there, a field that
/// is wrong, a rate limit, and the platform failing or a dependency away.
const ERROR_STATUSES: [(&str, &str); 9] = [
    ("400", "malformed_request: the body is not JSON, or not sent as JSON"),
    ("401", "unauthenticated"),
    ("403", "forbidden"),
    ("404", "not_found"),
    ("409", "conflict"),
    ("413", "payload_too_large"),
    ("422", "invalid_request, or a rule of the operation"),
    ("429", "rate_limited, with Retry-After"),
    ("503", "unavailable: retry later"),
];

/// Makes the generated document say what the server does, so clients generated from it and
/// schema-driven testers (`deploy/local/schemathesis.sh`) meet no surprise:
/// - every `{parameter}` of a path is declared, as a string, where the handler did not;
/// - every operation lists the error statuses with the problem schema;
/// - text refuses NUL, as every handler does (PostgreSQL cannot store it).
struct TrueToTheServer;

impl Modify for TrueToTheServer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};

        let problem = || ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
        let declare = |path: &str, operation: &mut Operation| {
            let parameters = operation.parameters.get_or_insert_with(Vec::new);
            for name in path_parameters(path) {
                let declared = parameters
                    .iter()
                    .any(|parameter| parameter.name == name && parameter.parameter_in == ParameterIn::Path);
                if !declared {
                    parameters.push(
                        ParameterBuilder::new()
                            .name(name)
                            .parameter_in(ParameterIn::Path)
                            .required(Required::True)
                            .schema(Some(no_nul_string()))
                            .build(),
                    );
                }
            }
            for parameter in parameters.iter_mut() {
                if let Some(schema) = parameter.schema.as_mut() {
                    refuse_nul(schema);
                }
            }
            for (status, description) in ERROR_STATUSES {
                let response =
                    ResponseBuilder::new().description(description).content("application/problem+json", problem());
                operation.responses.responses.entry(status.to_owned()).or_insert_with(|| response.build().into());
            }
        };
        for (path, item) in &mut openapi.paths.paths {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.options,
                &mut item.head,
            ]
            .into_iter()
            .flatten()
            {
                declare(path, operation);
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            for schema in components.schemas.values_mut() {
                refuse_nul(schema);
            }
        }
    }
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|segment| segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')))
}

/// A string that holds no NUL character.
const NO_NUL: &str = "^[^\\x00]*$";

fn no_nul_string() -> utoipa::openapi::ObjectBuilder {
    utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String).pattern(Some(NO_NUL))
}

fn refuse_nul(schema: &mut utoipa::openapi::RefOr<utoipa::openapi::Schema>) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType, Type};
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            let is_text = match &object.schema_type {
                SchemaType::Type(Type::String) => true,
                SchemaType::Array(types) => types.contains(&Type::String),
                _ => false,
            };
            if is_text && object.enum_values.is_none() && object.format.is_none() && object.pattern.is_none() {
                object.pattern = Some(NO_NUL.to_owned());
            }
            for property in object.properties.values_mut() {
                refuse_nul(property);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                refuse_nul(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(refuse_nul),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(refuse_nul),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(refuse_nul),
        _ => {}
    }
}

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
