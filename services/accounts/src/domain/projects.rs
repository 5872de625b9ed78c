//! A tenant's projects, and the public id their widget is embedded with.

use causerie_auth::Scope;
use causerie_bus::message::{ProjectChanged, ProjectDeleted};
use causerie_bus::{Envelope, Message};
use causerie_core::policy::{LegalBasis, PrivacyPolicy};
use causerie_core::{Error, ErrorCode, FieldError, TenantId};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::AppState;
use crate::domain::Name;
use crate::domain::actor::Actor;
use crate::domain::page;
use crate::domain::privacy_policy::current_policy;
use crate::store;
use crate::store::projects::{self as project_store, NewProject, ProjectChanges, ProjectRow, ProjectSettings};

pub use causerie_core::public_id::{parse_public_id, public_id};

/// An origin allowed to embed a widget: `https://host[:port]`, or `http://localhost[:port]` for
/// development. Exactly what browsers send in `Origin`: no path, no trailing slash.
fn origins(values: &[String]) -> Result<Vec<String>, Error> {
    if values.len() > 50 {
        return Err(Error::invalid_field("allowed_origins", "at most 50 origins"));
    }
    let mut origins: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let origin = value.trim().to_lowercase();
        let host = origin.strip_prefix("https://").or_else(|| {
            origin.strip_prefix("http://").filter(|host| *host == "localhost" || host.starts_with("localhost:"))
        });
        let valid = host.is_some_and(|host| {
            !host.is_empty()
                && host.len() <= 253
                && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        });
        if !valid {
            return Err(Error::invalid_field(
                "allowed_origins",
                format!("{value:?} is not an origin such as https://www.example.org"),
            ));
        }
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

fn languages(values: &[String]) -> Result<Vec<String>, Error> {
    let mut tags: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let tag = value.trim().to_lowercase();
        let valid = (2..=35).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid || values.len() > 30 {
            return Err(Error::invalid_field("languages", format!("{value:?} is not a language tag such as \"fr\"")));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

fn project_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text.trim()).map_err(|_| Error::not_found("no such project"))
}

pub struct ProjectInput {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub supervision_enabled: Option<bool>,
    pub settings: SettingsInput,
}

/// Settings a caller sends: `None` leaves one as it is, an empty string clears it.
#[derive(Default)]
pub struct SettingsInput {
    pub chat_consent_purpose_id: Option<String>,
    pub supervision_purpose_id: Option<String>,
    pub offline_message: Option<String>,
    pub default_region: Option<String>,
    pub match_threshold: Option<f64>,
}

const MAX_OFFLINE_MESSAGE: usize = 1_000;
/// An answer needs at least a little evidence, and a threshold above this would answer nothing.
const MATCH_THRESHOLDS: std::ops::RangeInclusive<f64> = 0.05..=0.95;

/// A setting sent as text: `None` unchanged, `Some(None)` cleared.
fn text(value: &Option<String>) -> Option<Option<&str>> {
    value.as_deref().map(|value| Some(value.trim()).filter(|value| !value.is_empty()))
}

/// `current` with `input` applied, each value checked: a purpose must be one of the policy's with
/// the legal basis `consent` (what keeping conversations and supervision need).
fn merged_settings(
    current: &ProjectSettings,
    input: &SettingsInput,
    policy: &PrivacyPolicy,
) -> Result<ProjectSettings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut problem = |field: &str, message: String| errors.push(FieldError { field: field.to_owned(), message });
    let mut purpose = |field: &str, value: &Option<String>, current: &Option<String>| match text(value) {
        None => current.clone(),
        Some(None) => None,
        Some(Some(id)) => {
            match policy.document.purposes.iter().find(|purpose| purpose.id == id) {
                Some(found) if found.legal_basis == LegalBasis::Consent => {}
                Some(_) => problem(field, format!("{id:?} is a purpose whose legal basis is not consent")),
                None => problem(field, format!("{id:?} is not a purpose of the tenant's privacy policy")),
            }
            Some(id.to_owned())
        }
    };
    let chat_consent_purpose_id =
        purpose("chat_consent_purpose_id", &input.chat_consent_purpose_id, &current.chat_consent_purpose_id);
    let supervision_purpose_id =
        purpose("supervision_purpose_id", &input.supervision_purpose_id, &current.supervision_purpose_id);
    let offline_message = match text(&input.offline_message) {
        None => current.offline_message.clone(),
        Some(None) => None,
        Some(Some(message)) => {
            if message.chars().count() > MAX_OFFLINE_MESSAGE || message.contains('\0') {
                problem("offline_message", format!("at most {MAX_OFFLINE_MESSAGE} characters"));
            }
            Some(message.to_owned())
        }
    };
    let default_region = match text(&input.default_region) {
        None => current.default_region.clone(),
        Some(None) => None,
        Some(Some(region)) => {
            let region = region.to_ascii_uppercase();
            if !(region.len() == 2 && region.bytes().all(|byte| byte.is_ascii_uppercase())) {
                problem("default_region", format!("{region:?} is not a two-letter region code such as FR"));
            }
            Some(region)
        }
    };
    let match_threshold = match input.match_threshold {
        None => current.match_threshold,
        Some(threshold) if MATCH_THRESHOLDS.contains(&threshold) => Some(threshold as f32),
        Some(_) => {
            problem("match_threshold", "must be between 0.05 and 0.95".to_owned());
            None
        }
    };
    if errors.is_empty() {
        Ok(ProjectSettings {
            chat_consent_purpose_id,
            supervision_purpose_id,
            offline_message,
            default_region,
            match_threshold,
        })
    } else {
        Err(errors)
    }
}

/// The project's fields checked, then its settings against the tenant's policy; every problem
/// of both at once.
fn checked(
    valid: Result<ValidProject, Error>,
    settings: Result<ProjectSettings, Vec<FieldError>>,
) -> Result<(ValidProject, ProjectSettings), Error> {
    match (valid, settings) {
        (Ok(valid), Ok(settings)) => Ok((valid, settings)),
        (valid, settings) => {
            let mut errors: Vec<FieldError> =
                valid.err().map(|error| error.field_errors().to_vec()).unwrap_or_default();
            errors.extend(settings.err().unwrap_or_default());
            Err(Error::with_field_errors(ErrorCode::InvalidRequest, errors))
        }
    }
}

async fn tenant_policy(transaction: &mut PgConnection, tenant_id: TenantId) -> Result<PrivacyPolicy, Error> {
    let tenant =
        store::tenant_by_id(&mut *transaction, tenant_id).await?.ok_or_else(|| Error::not_found("no such tenant"))?;
    current_policy(transaction, &tenant).await
}

struct ValidProject {
    name: Option<Name>,
    allowed_origins: Option<Vec<String>>,
    languages: Option<Vec<String>>,
}

fn validate_project(input: &ProjectInput) -> Result<ValidProject, Error> {
    let name = input.name.as_deref().map(|name| Name::parse("name", name)).transpose();
    let allowed_origins = input.allowed_origins.as_deref().map(origins).transpose();
    let languages = input.languages.as_deref().map(languages).transpose();
    match (name, allowed_origins, languages) {
        (Ok(name), Ok(allowed_origins), Ok(languages)) => Ok(ValidProject { name, allowed_origins, languages }),
        (name, allowed_origins, languages) => {
            let errors: Vec<FieldError> = [name.err(), allowed_origins.err(), languages.err()]
                .into_iter()
                .flatten()
                .flat_map(|error| error.field_errors().to_vec())
                .collect();
            Err(Error::with_field_errors(ErrorCode::InvalidRequest, errors))
        }
    }
}

pub async fn create_project(state: &AppState, actor: &Actor, input: ProjectInput) -> Result<ProjectRow, Error> {
    actor.require_editor_or_scope(Scope::ProjectsWrite)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let policy = tenant_policy(&mut transaction, actor.tenant_id).await?;
    let settings = merged_settings(&ProjectSettings::default(), &input.settings, &policy);
    let (valid, settings) = checked(validate_project(&input), settings)?;
    let name = valid.name.ok_or_else(|| Error::invalid_field("name", "is required"))?;
    let project = project_store::insert_project(
        &mut transaction,
        &NewProject {
            tenant_id: actor.tenant_id.as_uuid(),
            name: name.as_str(),
            allowed_origins: valid.allowed_origins.as_deref().unwrap_or_default(),
            languages: valid.languages.as_deref().unwrap_or_default(),
            supervision_enabled: input.supervision_enabled.unwrap_or(false),
            settings: &settings,
            now: state.clock.now(),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(project)
}

/// A page of the tenant's projects, in id order.
pub async fn projects(
    state: &AppState,
    actor: &Actor,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<ProjectRow>, Option<String>), Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = project_store::projects(&mut transaction, after, limit + 1).await?;
    Ok(page::cut(rows, limit, |project| project.id.to_string()))
}

pub async fn project(state: &AppState, actor: &Actor, id: &str) -> Result<ProjectRow, Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let id = project_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    project_store::project(&mut transaction, id).await?.ok_or_else(|| Error::not_found("no such project"))
}

pub async fn update_project(
    state: &AppState,
    actor: &Actor,
    id: &str,
    input: ProjectInput,
) -> Result<ProjectRow, Error> {
    actor.require_editor_or_scope(Scope::ProjectsWrite)?;
    let id = project_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let current = project_store::project_for_update(&mut transaction, id)
        .await?
        .ok_or_else(|| Error::not_found("no such project"))?;
    let policy = tenant_policy(&mut transaction, actor.tenant_id).await?;
    let settings = merged_settings(&current.settings, &input.settings, &policy);
    let (valid, settings) = checked(validate_project(&input), settings)?;
    let changes = ProjectChanges {
        name: valid.name.as_ref().map(Name::as_str),
        allowed_origins: valid.allowed_origins.as_deref(),
        languages: valid.languages.as_deref(),
        supervision_enabled: input.supervision_enabled,
        settings: &settings,
    };
    let now = state.clock.now();
    let project = project_store::update_project(&mut transaction, id, &changes, now)
        .await?
        .ok_or_else(|| Error::not_found("no such project"))?;
    announce_project_change(&mut transaction, actor.tenant_id, id, false, now).await?;
    transaction.commit().await?;
    state.forget_widget_projects(actor.tenant_id);
    Ok(project)
}

pub async fn delete_project(state: &AppState, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require_editor_or_scope(Scope::ProjectsWrite)?;
    let id = project_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    if !project_store::delete_project(&mut transaction, id).await? {
        return Err(Error::not_found("no such project"));
    }
    let now = state.clock.now();
    announce_project_change(&mut transaction, actor.tenant_id, id, true, now).await?;
    // Queued, unlike the broadcast: the services holding the project's content delete it even if
    // they are down now.
    let deleted = Message::ProjectDeletedV1(ProjectDeleted { tenant_id: actor.tenant_id, project_id: id });
    causerie_bus::enqueue(&mut transaction, &Envelope::new(actor.tenant_id, crate::PRODUCER, now, deleted)).await?;
    transaction.commit().await?;
    state.forget_widget_projects(actor.tenant_id);
    Ok(())
}

/// Tells every replica that caches widget projects (gateways, accounts) to read this one again.
async fn announce_project_change(
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    project_id: Uuid,
    deleted: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let message = Message::ProjectChangedV1(ProjectChanged { tenant_id, project_id, deleted });
    causerie_bus::enqueue(transaction, &Envelope::new(tenant_id, crate::PRODUCER, now, message))
        .await
        .map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_id_carries_its_tenant_and_project() {
        let (tenant, project) = (Uuid::now_v7(), Uuid::now_v7());
        let id = public_id(tenant, project);
        assert_eq!(parse_public_id(&id), Some((tenant.into(), project)));
        assert_eq!(parse_public_id("pk_short"), None);
        assert_eq!(parse_public_id(&id.replace("pk_", "xx_")), None);
    }

    #[test]
    fn origins_are_exact_and_https() {
        assert_eq!(origins(&["https://WWW.example.org".into()]).unwrap(), ["https://www.example.org"]);
        assert!(origins(&["http://localhost:3000".into()]).is_ok());
        assert!(origins(&["http://www.example.org".into()]).is_err());
        assert!(origins(&["https://www.example.org/path".into()]).is_err());
    }
}
