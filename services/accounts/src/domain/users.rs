//! Users of a tenant: created, read, corrected and erased by its admins; their own profile read
//! and corrected by each user (GDPR Art. 15 and 16); operators found by language and skill.
//! Every read or change of someone's personal data is written to the audit log in the same
//! transaction.

use causerie_auth::{Role, Scope};
use causerie_bus::message::UserErased;
use causerie_bus::{Envelope, Message};
use causerie_core::{Error, ErrorCode, FieldError, TenantId, UserId};
use uuid::Uuid;

use crate::AppState;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditEvent};
use crate::domain::password::Password;
use crate::domain::tenancy::TenantStatus;
use crate::domain::{Email, Name, mail, page, secret, sign_in};
use crate::store::users::{self as user_store, NewUser, UserChanges, UserRow};
use crate::store::{api_keys as api_key_store, sessions as session_store};

const MAX_LIST_ITEMS: usize = 50;
/// How long the link confirming a new e-mail address works.
const EMAIL_CHANGE_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

/// Collects every field error of a request before answering, so a form shows them all at once.
#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn take<T>(&mut self, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.extend(error.field_errors().iter().cloned());
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::with_field_errors(ErrorCode::InvalidRequest, self.0)) }
    }
}

/// A language tag such as `fr` or `pt-br`: letters and hyphens, lowercased.
fn languages(field: &str, values: &[String]) -> Result<Vec<String>, Error> {
    if values.len() > 20 {
        return Err(Error::invalid_field(field, "at most 20 languages"));
    }
    let mut tags: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let tag = value.trim().to_lowercase();
        let well_formed = (2..=35).contains(&tag.len())
            && tag
                .split('-')
                .all(|part| (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric()))
            && tag.chars().take_while(|c| *c != '-').all(|c| c.is_ascii_alphabetic());
        if !well_formed {
            return Err(Error::invalid_field(
                field,
                format!("{value:?} is not a language tag such as \"fr\" or \"pt-br\""),
            ));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// A skill: free text of 1 to 60 characters, lowercased so searches match whatever the case.
fn skills(field: &str, values: &[String]) -> Result<Vec<String>, Error> {
    if values.len() > MAX_LIST_ITEMS {
        return Err(Error::invalid_field(field, format!("at most {MAX_LIST_ITEMS} skills")));
    }
    let mut skills: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let skill = value.trim().to_lowercase();
        if skill.is_empty() || skill.chars().count() > 60 || skill.chars().any(char::is_control) {
            return Err(Error::invalid_field(field, "each skill is 1 to 60 characters without control characters"));
        }
        if !skills.contains(&skill) {
            skills.push(skill);
        }
    }
    Ok(skills)
}

fn project_ids(field: &str, values: &[String]) -> Result<Vec<Uuid>, Error> {
    if values.len() > MAX_LIST_ITEMS {
        return Err(Error::invalid_field(field, format!("at most {MAX_LIST_ITEMS} projects")));
    }
    let mut ids: Vec<Uuid> = Vec::with_capacity(values.len());
    for value in values {
        let id = Uuid::try_parse(value.trim())
            .map_err(|_| Error::invalid_field(field, format!("{value:?} is not a project id")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Every project a user is limited to must be one of the tenant's.
async fn check_projects_exist(transaction: &mut sqlx::PgConnection, project_ids: &[Uuid]) -> Result<(), Error> {
    let known = crate::store::projects::count_projects(transaction, project_ids).await?;
    if usize::try_from(known).ok() != Some(project_ids.len()) {
        return Err(Error::invalid_field("project_ids", "names a project this tenant does not have"));
    }
    Ok(())
}

fn role(text: &str) -> Result<Role, Error> {
    text.parse().map_err(|_| Error::invalid_field("role", "must be admin, contributor or operator"))
}

fn pseudonym(text: &str) -> Result<Option<String>, Error> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        Name::parse("pseudonym", text).map(|name| Some(name.as_str().to_owned()))
    }
}

fn user_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text.trim()).map_err(|_| Error::not_found("no such user"))
}

fn read_events<'a>(action: &'a str, users: &[UserRow]) -> Vec<AuditEvent<'a>> {
    users.iter().map(|user| AuditEvent { action, subject_kind: "user", subject_id: user.id.to_string() }).collect()
}

pub struct NewUserRequest {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub password: Option<String>,
    pub pseudonym: Option<String>,
    pub languages: Vec<String>,
    pub skills: Vec<String>,
    pub project_ids: Vec<String>,
}

pub async fn create(state: &AppState, actor: &Actor, request: NewUserRequest) -> Result<UserRow, Error> {
    actor.require_admin()?;
    let tenant = crate::store::tenant_by_id(&state.pool, actor.tenant_id).await?;
    let tenant_words = tenant.as_ref().map_or(["", ""], |tenant| [tenant.name.as_str(), tenant.slug.as_str()]);
    let account_words = [
        request.email.as_str(),
        request.first_name.as_str(),
        request.last_name.as_str(),
        tenant_words[0],
        tenant_words[1],
    ];
    let mut problems = Problems::default();
    let email = problems.take(Email::parse("email", &request.email));
    let first_name = problems.take(Name::parse("first_name", &request.first_name));
    let last_name = problems.take(Name::parse("last_name", &request.last_name));
    let role = problems.take(role(&request.role));
    let password =
        request.password.map(|password| problems.take(Password::new_from("password", password, &account_words)));
    let pseudonym = problems.take(request.pseudonym.as_deref().map_or(Ok(None), pseudonym));
    let languages = problems.take(languages("languages", &request.languages));
    let skills = problems.take(skills("skills", &request.skills));
    let project_ids = problems.take(project_ids("project_ids", &request.project_ids));
    problems.finish()?;
    let (
        Some(email),
        Some(first_name),
        Some(last_name),
        Some(role),
        Some(pseudonym),
        Some(languages),
        Some(skills),
        Some(project_ids),
    ) = (email, first_name, last_name, role, pseudonym, languages, skills, project_ids)
    else {
        return Err(Error::internal("a field error went unreported"));
    };
    let password_hash = match password.flatten() {
        Some(password) => Some(state.passwords.hash(&password).await?),
        None => None,
    };
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    check_projects_exist(&mut transaction, &project_ids).await?;
    let user = user_store::insert(
        &mut transaction,
        actor.tenant_id,
        &NewUser {
            id: UserId::new(),
            email: email.as_str(),
            first_name: first_name.as_str(),
            last_name: last_name.as_str(),
            role: role.as_str(),
            password_hash: password_hash.as_deref(),
            pseudonym: pseudonym.as_deref(),
            languages: &languages,
            skills: &skills,
            project_ids: &project_ids,
            now,
        },
    )
    .await?;
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "user.created", subject_kind: "user", subject_id: user.id.to_string() }],
        now,
    )
    .await?;
    transaction.commit().await?;
    Ok(user)
}

pub async fn list(
    state: &AppState,
    actor: &Actor,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<UserRow>, Option<String>), Error> {
    actor.require_admin_or_scope(Scope::UsersRead)?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let (users, next) =
        page::cut(user_store::list(&mut transaction, after, limit + 1).await?, limit, |user| user.id.to_string());
    audit::record(&mut transaction, actor, read_events("user.read", &users), state.clock.now()).await?;
    transaction.commit().await?;
    Ok((users, next))
}

pub async fn get(state: &AppState, actor: &Actor, id: &str) -> Result<UserRow, Error> {
    actor.require_admin_or_scope(Scope::UsersRead)?;
    let id = user_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let user = user_store::by_id(&mut transaction, id)
        .await?
        .filter(|user| !user.is_erased())
        .ok_or_else(|| Error::not_found("no such user"))?;
    audit::record(&mut transaction, actor, read_events("user.read", std::slice::from_ref(&user)), state.clock.now())
        .await?;
    transaction.commit().await?;
    Ok(user)
}

/// Changes to a user; absent fields stay as they are.
#[derive(Default)]
pub struct UserUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub pseudonym: Option<String>,
    pub languages: Option<Vec<String>>,
    pub skills: Option<Vec<String>>,
    pub role: Option<String>,
    pub project_ids: Option<Vec<String>>,
}

struct ValidUpdate {
    first_name: Option<Name>,
    last_name: Option<Name>,
    email: Option<Email>,
    pseudonym: Option<Option<String>>,
    languages: Option<Vec<String>>,
    skills: Option<Vec<String>>,
    role: Option<Role>,
    project_ids: Option<Vec<Uuid>>,
}

fn validate_update(update: UserUpdate) -> Result<ValidUpdate, Error> {
    let mut problems = Problems::default();
    let valid = ValidUpdate {
        first_name: update.first_name.and_then(|name| problems.take(Name::parse("first_name", &name))),
        last_name: update.last_name.and_then(|name| problems.take(Name::parse("last_name", &name))),
        email: update.email.and_then(|email| problems.take(Email::parse("email", &email))),
        pseudonym: update.pseudonym.and_then(|text| problems.take(pseudonym(&text))),
        languages: update.languages.and_then(|values| problems.take(languages("languages", &values))),
        skills: update.skills.and_then(|values| problems.take(skills("skills", &values))),
        role: update.role.and_then(|text| problems.take(role(&text))),
        project_ids: update.project_ids.and_then(|values| problems.take(project_ids("project_ids", &values))),
    };
    problems.finish()?;
    Ok(valid)
}

impl ValidUpdate {
    fn changes(&self, with_email: bool) -> UserChanges<'_> {
        UserChanges {
            email: self.email.as_ref().filter(|_| with_email).map(Email::as_str),
            first_name: self.first_name.as_ref().map(Name::as_str),
            last_name: self.last_name.as_ref().map(Name::as_str),
            pseudonym: self.pseudonym.as_ref().map(Option::as_deref),
            languages: self.languages.as_deref(),
            skills: self.skills.as_deref(),
            role: self.role.map(Role::as_str),
            project_ids: self.project_ids.as_deref(),
        }
    }
}

/// An admin corrects a user. A new role or project list takes effect at the user's next token:
/// the tokens out now are revoked, so the user refreshes into the new rights at once.
pub async fn update(state: &AppState, actor: &Actor, id: &str, update: UserUpdate) -> Result<UserRow, Error> {
    actor.require_admin()?;
    let id = user_id(id)?;
    let update = validate_update(update)?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    user_store::lock_admins(&mut transaction, actor.tenant_id).await?;
    let before = user_store::by_id(&mut transaction, id)
        .await?
        .filter(|user| !user.is_erased())
        .ok_or_else(|| Error::not_found("no such user"))?;
    if before.role == Role::Admin
        && update.role.is_some_and(|role| role != Role::Admin)
        && user_store::count_live_admins(&mut transaction).await? <= 1
    {
        return Err(Error::conflict("the tenant's last admin cannot lose the admin role"));
    }
    if let Some(project_ids) = &update.project_ids {
        check_projects_exist(&mut transaction, project_ids).await?;
    }
    let user = user_store::update(&mut transaction, id, &update.changes(true), now)
        .await?
        .ok_or_else(|| Error::not_found("no such user"))?;
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "user.updated", subject_kind: "user", subject_id: id.to_string() }],
        now,
    )
    .await?;
    let access_changed = user.role != before.role || user.project_ids != before.project_ids;
    if access_changed {
        state.directory.revoke(&[id], now).await?;
    }
    transaction.commit().await?;
    if access_changed {
        state.directory.revoke_after_commit(&[id], state.clock.now()).await;
    }
    Ok(user)
}

/// Erases a user for good: personal fields emptied, sessions and reset links deleted, the API
/// keys they created revoked, every token out refused from now, and the other services told.
/// The row stays as a tombstone id so authored content keeps an author.
pub async fn erase(state: &AppState, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require_admin()?;
    let id = user_id(id)?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    user_store::lock_admins(&mut transaction, actor.tenant_id).await?;
    let user = user_store::by_id(&mut transaction, id)
        .await?
        .filter(|user| !user.is_erased())
        .ok_or_else(|| Error::not_found("no such user"))?;
    if user.role == Role::Admin && user_store::count_live_admins(&mut transaction).await? <= 1 {
        return Err(Error::conflict("the tenant's last admin cannot be erased"));
    }
    user_store::erase(&mut transaction, id, now).await?;
    session_store::delete_user_credentials(&mut transaction, id).await?;
    let revoked_keys = api_key_store::revoke_created_by(&mut transaction, id, now).await?;
    let announcement = Envelope::new(
        actor.tenant_id,
        crate::PRODUCER,
        now,
        Message::UserErasedV1(UserErased { tenant_id: actor.tenant_id, user_id: UserId::from(id) }),
    );
    causerie_bus::enqueue(&mut transaction, &announcement).await?;
    // Before the commit: if Redis cannot be told, nothing is erased and the admin retries; a
    // revocation recorded for a user who then stays is harmless, as the user can sign in again.
    let mut subjects = revoked_keys;
    subjects.push(id);
    state.directory.revoke(&subjects, now).await?;
    // Last: the audit append holds the tenant's audit lock until the commit.
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "user.erased", subject_kind: "user", subject_id: id.to_string() }],
        now,
    )
    .await?;
    transaction.commit().await?;
    state.directory.revoke_after_commit(&subjects, state.clock.now()).await;
    tracing::info!(tenant.id = %actor.tenant_id, user.id = %id, "user erased");
    Ok(())
}

pub async fn search_operators(
    state: &AppState,
    actor: &Actor,
    language: Option<&str>,
    skill: Option<&str>,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<UserRow>, Option<String>), Error> {
    actor.require_user_or_scope(Scope::UsersRead)?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let language = language.map(|language| languages("language", &[language.to_owned()])).transpose()?;
    let skill = skill.map(|skill| skills("skill", &[skill.to_owned()])).transpose()?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let operators = user_store::search_operators(
        &mut transaction,
        language.as_ref().and_then(|tags| tags.first()).map(String::as_str),
        skill.as_ref().and_then(|skills| skills.first()).map(String::as_str),
        after,
        limit + 1,
    )
    .await?;
    let (operators, next) = page::cut(operators, limit, |user| user.id.to_string());
    audit::record(&mut transaction, actor, read_events("user.read", &operators), state.clock.now()).await?;
    transaction.commit().await?;
    Ok((operators, next))
}

/// The caller's own profile. Not audited: it is the person reading their own data.
pub async fn me(state: &AppState, actor: &Actor) -> Result<UserRow, Error> {
    let user_id = actor.user_id()?;
    user_store::in_tenant(&state.pool, actor.tenant_id, user_id.as_uuid())
        .await?
        .filter(|user| !user.is_erased())
        .ok_or_else(|| Error::unauthenticated("this account no longer exists"))
}

/// The caller corrects its own profile. A new e-mail address is only recorded as pending and a
/// link is mailed to it; the address changes when the link is followed.
pub async fn update_me(state: &AppState, actor: &Actor, update: UserUpdate) -> Result<UserRow, Error> {
    let user_id = actor.user_id()?.as_uuid();
    if update.role.is_some() || update.project_ids.is_some() {
        return Err(Error::new(ErrorCode::FieldNotAllowed, "a user cannot change its own role or projects"));
    }
    let update = validate_update(update)?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let mut user = user_store::update(&mut transaction, user_id, &update.changes(false), now)
        .await?
        .ok_or_else(|| Error::unauthenticated("this account no longer exists"))?;
    if let Some(email) = &update.email
        && user.email.as_deref().is_none_or(|current| !current.eq_ignore_ascii_case(email.as_str()))
    {
        let confirmation = secret::generate(secret::EMAIL_CHANGE, actor.tenant_id)?;
        user_store::set_pending_email(
            &mut transaction,
            user_id,
            email.as_str(),
            &confirmation.hash,
            now + EMAIL_CHANGE_LIFETIME,
        )
        .await?;
        mail::queue_email_change(state, &mut transaction, actor.tenant_id, email.as_str(), &confirmation.text).await?;
        user =
            user_store::by_id(&mut transaction, user_id).await?.ok_or_else(|| Error::internal("the user vanished"))?;
    }
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "user.updated", subject_kind: "user", subject_id: user_id.to_string() }],
        now,
    )
    .await?;
    transaction.commit().await?;
    Ok(user)
}

pub async fn confirm_email_change(state: &AppState, token: &str) -> Result<(), Error> {
    let invalid = || Error::invalid_field("token", "is invalid, used or expired");
    let (tenant_id, token_hash) = secret::parse(secret::EMAIL_CHANGE, token).ok_or_else(invalid)?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let user_id = user_store::confirm_pending_email(&mut transaction, &token_hash, now).await?.ok_or_else(invalid)?;
    let actor = self_actor(tenant_id, user_id, None)?;
    audit::record(
        &mut transaction,
        &actor,
        [AuditEvent { action: "user.email_confirmed", subject_kind: "user", subject_id: user_id.to_string() }],
        now,
    )
    .await?;
    transaction.commit().await.map_err(Error::from)
}

/// The user acting on its own account through a link, with no token.
fn self_actor(tenant_id: TenantId, user_id: Uuid, source_address: Option<String>) -> Result<Actor, Error> {
    Ok(Actor {
        tenant_id,
        identity: crate::domain::actor::ActorIdentity::User { user_id: user_id.into(), role: Role::Operator },
        source_address,
    })
}

/// What an attacker knows of a user's account, which its password must not be built from.
async fn account_words(
    executor: impl sqlx::PgExecutor<'_>,
    tenant_id: TenantId,
    user: &UserRow,
) -> Result<Vec<String>, Error> {
    let tenant = crate::store::tenant_by_id(executor, tenant_id).await?;
    let personal = [&user.email, &user.first_name, &user.last_name, &user.pseudonym].into_iter().flatten().cloned();
    Ok(personal.chain(tenant.into_iter().flat_map(|tenant| [tenant.name, tenant.slug])).collect())
}

/// The caller changes its password, proving it knows the current one; every refresh token of
/// the user is revoked, so a session opened with a leaked password ends at its next refresh.
pub async fn change_password(state: &AppState, actor: &Actor, current: String, new: String) -> Result<(), Error> {
    let user_id = actor.user_id()?.as_uuid();
    let current = Password::attempt(current)?;
    let user = me(state, actor).await?;
    let words = account_words(&state.pool, actor.tenant_id, &user).await?;
    let new = Password::new_from("new_password", new, &words.iter().map(String::as_str).collect::<Vec<_>>())?;
    // A stolen access token must not become a way to guess the password: same limits as sign-in.
    let attempt = state.login_guard.attempt(
        &format!("password-change:{}", actor.tenant_id),
        &user_id.to_string(),
        actor.source_address.as_deref(),
    );
    state.login_guard.begin(&attempt).await?;
    if !state.passwords.verify(&current, user.password_hash.as_deref()).await?.matches() {
        return Err(Error::invalid_field("current_password", "is not the current password"));
    }
    state.login_guard.succeeded(&attempt).await?;
    let hash = state.passwords.hash(&new).await?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    user_store::set_password_hash(&mut transaction, user_id, &hash, now).await?;
    sign_in::revoke_sessions(&mut transaction, user_id, now).await?;
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "user.password_changed", subject_kind: "user", subject_id: user_id.to_string() }],
        now,
    )
    .await?;
    transaction.commit().await.map_err(Error::from)
}

/// How long a password-reset link works.
const RESET_LIFETIME: chrono::Duration = chrono::Duration::hours(1);

/// Mails a reset link if the account exists and has not had its share of them this hour. The
/// answer is the same either way, and comes as fast: the account is looked up, and its link
/// written and mailed, after the answer. Done before, a request for an account that exists would
/// take a few statements longer than one for an address nobody has, and the answer's time would
/// tell them apart. Should that later work fail, it is logged; the person, told nothing either
/// way, asks again.
pub async fn request_password_reset(
    state: &AppState,
    tenant_slug: &str,
    email: &str,
    source_address: Option<&str>,
) -> Result<(), Error> {
    // Counted before anything is looked up: the limits hold for accounts that do not exist too.
    if !state.login_guard.reset_requested(tenant_slug.trim(), email, source_address).await? {
        return Ok(());
    }
    let Ok(email) = Email::parse("email", email) else { return Ok(()) };
    let Some(tenant) = crate::store::tenant_by_slug(&state.pool, tenant_slug.trim())
        .await?
        .filter(|tenant| tenant.status == TenantStatus::Active)
    else {
        return Ok(());
    };
    let tenant_id = TenantId::from(tenant.id);
    let later = state.clone();
    state.tasks.spawn(async move {
        if let Err(error) = mail_reset_link(&later, tenant_id, &email).await {
            tracing::error!(%error, tenant.id = %tenant_id, "a password-reset request was not served");
        }
    });
    Ok(())
}

/// Writes a reset link for the tenant's account of `email`, if there is one, and queues its mail.
async fn mail_reset_link(state: &AppState, tenant_id: TenantId, email: &Email) -> Result<(), Error> {
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let Some(user) = user_store::by_email(&mut transaction, email.as_str()).await? else { return Ok(()) };
    let reset = secret::generate(secret::PASSWORD_RESET, tenant_id)?;
    session_store::insert_password_reset(
        &mut transaction,
        tenant_id.as_uuid(),
        user.id,
        &reset.hash,
        now,
        now + RESET_LIFETIME,
    )
    .await?;
    mail::queue_password_reset(state, &mut transaction, tenant_id, email.as_str(), &reset.text).await?;
    transaction.commit().await?;
    tracing::info!(tenant.id = %tenant_id, user.id = %user.id, "password reset mailed");
    Ok(())
}

/// Sets a new password from a reset link. Every reset link of the user is spent, every session
/// ends, the tokens already issued are refused, and the sign-in lock lifts.
pub async fn confirm_password_reset(state: &AppState, token: &str, new_password: String) -> Result<(), Error> {
    let invalid = || Error::invalid_field("token", "is invalid, used or expired");
    let (tenant_id, token_hash) = secret::parse(secret::PASSWORD_RESET, token).ok_or_else(invalid)?;
    // The link is checked before the costly hash, so made-up links cost nothing.
    let new_password = {
        let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
        let user_id = session_store::live_password_reset_user(&mut transaction, &token_hash, state.clock.now())
            .await?
            .ok_or_else(invalid)?;
        let user = user_store::by_id(&mut transaction, user_id).await?.ok_or_else(invalid)?;
        let words = account_words(&mut *transaction, tenant_id, &user).await?;
        Password::new_from("new_password", new_password, &words.iter().map(String::as_str).collect::<Vec<_>>())?
    };
    let hash = state.passwords.hash(&new_password).await?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let user_id = session_store::use_password_reset(&mut transaction, &token_hash, now).await?.ok_or_else(invalid)?;
    session_store::spend_password_resets(&mut transaction, user_id, now).await?;
    user_store::set_password_hash(&mut transaction, user_id, &hash, now).await?;
    sign_in::revoke_sessions(&mut transaction, user_id, now).await?;
    state.directory.revoke(&[user_id], now).await?;
    let user = user_store::by_id(&mut transaction, user_id).await?;
    if let (Some(tenant), Some(email)) =
        (crate::store::tenant_by_id(&state.pool, tenant_id).await?, user.and_then(|user| user.email))
    {
        state.login_guard.clear_account(&state.login_guard.attempt(&tenant.slug, &email, None)).await?;
    }
    let actor = self_actor(tenant_id, user_id, None)?;
    audit::record(
        &mut transaction,
        &actor,
        [AuditEvent { action: "user.password_reset", subject_kind: "user", subject_id: user_id.to_string() }],
        now,
    )
    .await?;
    transaction.commit().await?;
    state.directory.revoke_after_commit(&[user_id], state.clock.now()).await;
    Ok(())
}
