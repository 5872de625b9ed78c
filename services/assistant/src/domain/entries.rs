//! A project's knowledge base: its entries, checked on the way in, written with the event that
//! tells every replica to rebuild the project's index, and indexed on this replica before the
//! caller is answered, so that a search right after an edit sees it.

use std::collections::HashMap;

use causerie_bus::message::KnowledgeBaseChanged;
use causerie_bus::{Envelope, Message};
use causerie_core::{Error, ErrorCode, FieldError, ProjectId, TenantId, page};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::AppState;
use crate::domain::actor::{Access, Actor, Content};
use crate::domain::matching::{EntryText, ProjectIndex};
use crate::domain::projects::Project;
use crate::store;

const MAX_QUESTION: usize = 500;
const MAX_ANSWER: usize = 10_000;
const MAX_VARIANTS: usize = 100;
const MAX_TAGS: usize = 20;
const MAX_TAG: usize = 50;
/// Separates the items of a list in a CSV cell (API.md), so no item may hold it.
const LIST_SEPARATOR: char = '|';
/// An import larger than this is split by the caller.
pub const MAX_IMPORT: usize = 5_000;

#[derive(Clone, Debug, PartialEq)]
pub struct EntryFields {
    pub question: String,
    pub variants: Vec<String>,
    pub answer: String,
    pub language: String,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub fields: EntryFields,
    /// Kept and listed, not matched: a machine translation waiting for review.
    pub draft: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EntryFields {
    /// The fields trimmed and checked against the project, or every problem, each named
    /// `prefix` + field (`entries[3].language` in an import).
    fn checked(self, project: &Project, prefix: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut problem = |field: String, message: String| errors.push(FieldError { field, message });
        let question = self.question.trim().to_owned();
        if question.is_empty() || question.chars().count() > MAX_QUESTION {
            problem(format!("{prefix}question"), format!("must be 1 to {MAX_QUESTION} characters"));
        }
        let answer = self.answer.trim().to_owned();
        if answer.is_empty() || answer.chars().count() > MAX_ANSWER {
            problem(format!("{prefix}answer"), format!("must be 1 to {MAX_ANSWER} characters"));
        }
        let language = self.language.trim().to_ascii_lowercase();
        if !project.languages.is_empty() && !project.languages.contains(&language) {
            problem(
                format!("{prefix}language"),
                format!("must be one of the project's languages: {}", project.languages.join(", ")),
            );
        } else if !(language.len() == 2 && language.bytes().all(|byte| byte.is_ascii_lowercase())) {
            problem(format!("{prefix}language"), "must be a two-letter language code such as fr".to_owned());
        }
        if self.variants.len() > MAX_VARIANTS {
            problem(format!("{prefix}variants"), format!("at most {MAX_VARIANTS} variants"));
        }
        let mut variants: Vec<String> = Vec::with_capacity(self.variants.len());
        for (position, variant) in self.variants.iter().enumerate() {
            let variant = variant.trim();
            if variant.is_empty() || variant.chars().count() > MAX_QUESTION {
                problem(format!("{prefix}variants[{position}]"), format!("must be 1 to {MAX_QUESTION} characters"));
            } else if variant.contains(LIST_SEPARATOR) {
                problem(
                    format!("{prefix}variants[{position}]"),
                    format!("may not contain {LIST_SEPARATOR}, which separates a list in CSV"),
                );
            } else if !variants.iter().any(|known| known == variant) {
                variants.push(variant.to_owned());
            }
        }
        if self.tags.len() > MAX_TAGS {
            problem(format!("{prefix}tags"), format!("at most {MAX_TAGS} tags"));
        }
        let mut tags: Vec<String> = Vec::with_capacity(self.tags.len());
        for (position, tag) in self.tags.iter().enumerate() {
            let tag = tag.trim().to_lowercase();
            if tag.is_empty() || tag.chars().count() > MAX_TAG {
                problem(format!("{prefix}tags[{position}]"), format!("must be 1 to {MAX_TAG} characters"));
            } else if tag.contains(LIST_SEPARATOR) {
                problem(
                    format!("{prefix}tags[{position}]"),
                    format!("may not contain {LIST_SEPARATOR}, which separates a list in CSV"),
                );
            } else if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        // PostgreSQL cannot store NUL in text, and no entry has a use for it.
        let texts = [&question, &answer].into_iter().chain(&variants).chain(&tags);
        if texts.into_iter().any(|text| text.contains('\0')) {
            let field = if prefix.is_empty() { "entry" } else { prefix.trim_end_matches('.') };
            problem(field.to_owned(), "text may not contain NUL characters".to_owned());
        }
        if errors.is_empty() { Ok(Self { question, variants, answer, language, tags }) } else { Err(errors) }
    }
}

fn invalid(errors: Vec<FieldError>) -> Error {
    Error::with_field_errors(ErrorCode::InvalidRequest, errors)
}

fn no_such_entry() -> Error {
    Error::not_found("no such entry")
}

/// An entry id from a caller: one that is no id names no entry.
fn entry_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| no_such_entry())
}

/// The caller's project, once the caller may `access` its knowledge base (its entries and
/// scenarios).
pub(crate) async fn project_for(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    access: Access,
) -> Result<std::sync::Arc<Project>, Error> {
    state.projects.of_actor(actor, project_id, Content::KnowledgeBase, access).await
}

fn changed(state: &AppState, tenant_id: TenantId, project_id: ProjectId) -> Envelope {
    Envelope::new(
        tenant_id,
        "assistant",
        state.clock.now(),
        Message::KnowledgeBaseChangedV1(KnowledgeBaseChanged { tenant_id, project_id: project_id.as_uuid() }),
    )
}

pub async fn create_entry(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    fields: EntryFields,
) -> Result<Entry, Error> {
    let project = project_for(state, actor, project_id, Access::Write).await?;
    let fields = fields.checked(&project, "").map_err(invalid)?;
    let now = state.clock.now();
    let entry =
        Entry { id: Uuid::now_v7(), project_id: project.id, fields, draft: false, created_at: now, updated_at: now };
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    store::insert_entry(&mut transaction, actor.tenant_id, &entry, actor.author_id()).await?;
    causerie_bus::outbox::enqueue(&mut transaction, &changed(state, actor.tenant_id, project.id)).await?;
    transaction.commit().await?;
    reindex(state, actor.tenant_id, project.id).await?;
    Ok(entry)
}

pub async fn update_entry(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    id: &str,
    fields: EntryFields,
) -> Result<Entry, Error> {
    let project = project_for(state, actor, project_id, Access::Write).await?;
    let id = entry_id(id)?;
    let fields = fields.checked(&project, "").map_err(invalid)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    // Saved by a contributor: a draft is published.
    let written = (actor.author_id(), true);
    let entry = store::update_entry(&mut transaction, project.id, id, &fields, written, state.clock.now())
        .await?
        .ok_or_else(no_such_entry)?;
    causerie_bus::outbox::enqueue(&mut transaction, &changed(state, actor.tenant_id, project.id)).await?;
    transaction.commit().await?;
    reindex(state, actor.tenant_id, project.id).await?;
    Ok(entry)
}

pub async fn delete_entry(state: &AppState, actor: &Actor, project_id: &str, id: &str) -> Result<(), Error> {
    let project = project_for(state, actor, project_id, Access::Write).await?;
    let id = entry_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    if !store::delete_entry(&mut transaction, project.id, id).await? {
        return Err(no_such_entry());
    }
    causerie_bus::outbox::enqueue(&mut transaction, &changed(state, actor.tenant_id, project.id)).await?;
    transaction.commit().await?;
    reindex(state, actor.tenant_id, project.id).await
}

/// Adds `text` to the entry's variants (once), so that the question it came from is answered.
pub async fn add_variant(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    id: &str,
    text: &str,
) -> Result<Entry, Error> {
    let project = project_for(state, actor, project_id, Access::Write).await?;
    let id = entry_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let entry = store::entry(&mut transaction, project.id, id, true).await?.ok_or_else(no_such_entry)?;
    let mut fields = entry.fields;
    fields.variants.push(text.to_owned());
    let fields = fields.checked(&project, "").map_err(|errors| {
        // The only new field is the text: name it as the caller sent it.
        invalid(
            errors.into_iter().map(|error| FieldError { field: "text".to_owned(), message: error.message }).collect(),
        )
    })?;
    let written = (actor.author_id(), false);
    let entry = store::update_entry(&mut transaction, project.id, id, &fields, written, state.clock.now())
        .await?
        .ok_or_else(no_such_entry)?;
    causerie_bus::outbox::enqueue(&mut transaction, &changed(state, actor.tenant_id, project.id)).await?;
    transaction.commit().await?;
    reindex(state, actor.tenant_id, project.id).await?;
    Ok(entry)
}

/// Writes every entry or, when one is wrong, none: the error names each bad row and field.
pub async fn import_entries(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    rows: Vec<EntryFields>,
) -> Result<usize, Error> {
    let project = project_for(state, actor, project_id, Access::Write).await?;
    if rows.len() > MAX_IMPORT {
        return Err(Error::invalid_field("entries", format!("at most {MAX_IMPORT} entries at once")));
    }
    let mut errors = Vec::new();
    let mut checked = Vec::with_capacity(rows.len());
    for (row, fields) in rows.into_iter().enumerate() {
        match fields.checked(&project, &format!("entries[{row}].")) {
            Ok(fields) => checked.push(fields),
            Err(row_errors) => errors.extend(row_errors),
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    for fields in checked.iter().cloned() {
        let entry = Entry {
            id: Uuid::now_v7(),
            project_id: project.id,
            fields,
            draft: false,
            created_at: now,
            updated_at: now,
        };
        store::insert_entry(&mut transaction, actor.tenant_id, &entry, actor.author_id()).await?;
    }
    causerie_bus::outbox::enqueue(&mut transaction, &changed(state, actor.tenant_id, project.id)).await?;
    transaction.commit().await?;
    reindex(state, actor.tenant_id, project.id).await?;
    Ok(checked.len())
}

pub async fn entry(state: &AppState, actor: &Actor, project_id: &str, id: &str) -> Result<Entry, Error> {
    let project = project_for(state, actor, project_id, Access::Read).await?;
    let id = entry_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    store::entry(&mut transaction, project.id, id, false).await?.ok_or_else(no_such_entry)
}

/// A page of the project's entries, in id order.
pub async fn entries(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<Entry>, Option<String>), Error> {
    let project = project_for(state, actor, project_id, Access::Read).await?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = store::entries(&mut transaction, project.id, after, Some(limit + 1)).await?;
    Ok(page::cut(rows, limit, |entry| entry.id.to_string()))
}

/// A page of a tenant's entries for a member of the support staff, shown only once accounts has
/// found the tenant's support grant and written each entry to the audit log. `staff_token` is the
/// staff member's own, which accounts checks again.
pub async fn support_entries(
    state: &AppState,
    staff_token: &str,
    client_address: Option<&str>,
    tenant_id: &str,
    project_id: &str,
    page: (u32, &str),
) -> Result<(Vec<Entry>, Option<String>), Error> {
    let tenant_id: TenantId = tenant_id.parse().map_err(|_| Error::not_found("no such tenant"))?;
    let project = state.projects.of_tenant(tenant_id, project_id).await?;
    let limit = page::limit(page.0)?;
    let after = page::id_cursor(page.1)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let rows = store::entries(&mut transaction, project.id, after, Some(limit + 1)).await?;
    transaction.commit().await?;
    let (entries, next) = page::cut(rows, limit, |entry| entry.id.to_string());
    let read = causerie_proto::accounts::v1::RecordSupportReadRequest {
        tenant_id: tenant_id.to_string(),
        action: "knowledge_base_entry.read".to_owned(),
        subject_kind: "knowledge_base_entry".to_owned(),
        subject_ids: entries.iter().map(|entry| entry.id.to_string()).collect(),
    };
    let mut request = causerie_auth::transport::with_bearer(tonic::Request::new(read), staff_token)?;
    if let Some(address) = client_address.and_then(|address| address.parse().ok()) {
        request.metadata_mut().insert(CLIENT_ADDRESS, address);
    }
    state.accounts.clone().record_support_read(request).await?;
    Ok((entries, next))
}

/// The metadata key the gateway names the client's address with, passed on to accounts' audit.
pub const CLIENT_ADDRESS: &str = "causerie-client-address";

/// Every entry of the project, for an export.
pub async fn all_entries(state: &AppState, actor: &Actor, project_id: &str) -> Result<Vec<Entry>, Error> {
    let project = project_for(state, actor, project_id, Access::Read).await?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    Ok(store::entries(&mut transaction, project.id, None, None).await?)
}

/// The project's entries ranked for `text`, for a contributor trying the knowledge base.
pub async fn search(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    text: &str,
    language: Option<&str>,
) -> Result<Vec<(Uuid, String, f32)>, Error> {
    let project = project_for(state, actor, project_id, Access::Read).await?;
    let text = crate::domain::replies::question(text)?;
    let index = state.index.project(project.id);
    let ranking = index.rank(text, language, 10);
    Ok(ranking.matches.iter().map(|scored| (scored.entry.id, scored.entry.question.clone(), scored.score)).collect())
}

/// How many unanswered questions a list holds at most.
const UNANSWERED: i64 = 200;
/// The period of the unanswered questions when the caller names none.
const UNANSWERED_DAYS: i64 = 30;

/// The questions the knowledge base could not answer between `from` and `to` (days, the last 30
/// by default), masked, most asked first: what contributors turn into variants.
pub async fn unanswered(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<(String, i64, NaiveDate)>, Error> {
    let project = project_for(state, actor, project_id, Access::Read).await?;
    let day = |field: &str, text: Option<&str>| -> Result<Option<NaiveDate>, Error> {
        text.map(|text| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| Error::invalid_field(field, "must be a day such as 2026-12-31"))
        })
        .transpose()
    };
    let to = day("to", to)?.unwrap_or_else(|| state.clock.now().date_naive());
    let from = day("from", from)?.unwrap_or(to - chrono::Duration::days(UNANSWERED_DAYS));
    if from > to {
        return Err(Error::invalid_field("from", "must not be after to"));
    }
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    Ok(store::unanswered(&mut transaction, project.id, from, to, UNANSWERED).await?)
}

/// Builds the project's index from what the database holds now.
pub async fn reindex(state: &AppState, tenant_id: TenantId, project_id: ProjectId) -> Result<(), Error> {
    let read = state.index.reading();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let entries = store::entries(&mut transaction, project_id, None, None).await?;
    transaction.commit().await?;
    let published = entries.iter().any(|entry| !entry.draft);
    state.index.replace(project_id, published.then(|| index_of(&entries)), read);
    Ok(())
}

/// Builds the index of every project of every tenant with entries: at start, and whenever
/// change events may have been missed.
pub async fn reindex_all(state: &AppState) -> Result<(), Error> {
    let read = state.index.reading();
    let mut indexes = HashMap::new();
    for tenant_id in store::knowledge_base_tenants(&state.pool).await? {
        let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
        let entries = store::tenant_entries(&mut transaction).await?;
        transaction.commit().await?;
        for project in entries.chunk_by(|a, b| a.project_id == b.project_id) {
            if let Some(first) = project.first() {
                indexes.insert(first.project_id, index_of(project));
            }
        }
    }
    state.index.replace_all(indexes, read);
    Ok(())
}

/// The index of the project's published entries: drafts are not matched.
fn index_of(entries: &[Entry]) -> ProjectIndex {
    ProjectIndex::build(entries.iter().filter(|entry| !entry.draft).map(|entry| {
        (
            entry.fields.language.as_str(),
            EntryText {
                id: entry.id,
                question: &entry.fields.question,
                variants: &entry.fields.variants,
                answer: &entry.fields.answer,
                tags: &entry.fields.tags,
            },
        )
    }))
}

/// A draft entry made for the project (a machine translation), indexed by no replica until it is
/// saved.
pub async fn create_draft(
    state: &AppState,
    actor: &Actor,
    project: &Project,
    fields: EntryFields,
) -> Result<Entry, Error> {
    let fields = fields.checked(project, "").map_err(invalid)?;
    let now = state.clock.now();
    let entry =
        Entry { id: Uuid::now_v7(), project_id: project.id, fields, draft: true, created_at: now, updated_at: now };
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    store::insert_entry(&mut transaction, actor.tenant_id, &entry, actor.author_id()).await?;
    transaction.commit().await?;
    Ok(entry)
}
