//! A project's knowledge base: its entries, their import and export (JSON, or CSV with lists
//! separated by `|`), the search contributors try it with, and the variants that teach it the
//! questions it did not understand. The assistant decides who may do what.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use causerie_core::{Error, ErrorCode, FieldError};
use causerie_proto::assistant::v1 as pb;
use causerie_proto::time::from_timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::wire::{ApiJson, ApiQuery, Page, PageQuery, page_limit};
use crate::caller::TenantContext;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/projects/{pid}/knowledge-base/entries", post(create_entry).get(list_entries))
        .route("/v1/projects/{pid}/knowledge-base/entries/{id}", get(get_entry).put(update_entry).delete(delete_entry))
        .route("/v1/projects/{pid}/knowledge-base/entries/{id}/variants", post(add_variant))
        .route("/v1/projects/{pid}/knowledge-base/entries/{id}/audio", get(entry_audio))
        .route("/v1/projects/{pid}/knowledge-base/entries/{id}/translations", post(translate_entry))
        .route("/v1/projects/{pid}/knowledge-base/search", post(search))
        .route("/v1/projects/{pid}/knowledge-base/import", post(import_entries))
        .route("/v1/projects/{pid}/knowledge-base/export", get(export_entries))
        .route("/v1/projects/{pid}/knowledge-base/unanswered", get(unanswered))
}

#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRequest {
    #[schema(min_length = 1, max_length = 500)]
    pub question: String,
    #[serde(default)]
    pub variants: Vec<String>,
    #[schema(min_length = 1, max_length = 10000)]
    pub answer: String,
    /// A language of the project, such as `fr`.
    pub language: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl From<EntryRequest> for pb::EntryFields {
    fn from(entry: EntryRequest) -> Self {
        Self {
            question: entry.question,
            variants: entry.variants,
            answer: entry.answer,
            language: entry.language,
            tags: entry.tags,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryResponse {
    pub id: String,
    pub project_id: String,
    pub question: String,
    pub variants: Vec<String>,
    pub answer: String,
    pub language: String,
    pub tags: Vec<String>,
    /// A machine translation waiting for review: listed, not matched, until saved (`PUT`).
    pub draft: bool,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<pb::Entry> for EntryResponse {
    fn from(entry: pb::Entry) -> Self {
        let fields = entry.fields.unwrap_or_default();
        Self {
            id: entry.id,
            project_id: entry.project_id,
            question: fields.question,
            variants: fields.variants,
            answer: fields.answer,
            language: fields.language,
            tags: fields.tags,
            draft: entry.draft,
            created_at: entry.created_at.and_then(from_timestamp),
            updated_at: entry.updated_at.and_then(from_timestamp),
        }
    }
}

/// Creates an entry.
#[utoipa::path(post, path = "/v1/projects/{pid}/knowledge-base/entries", tag = "knowledge base",
    request_body = EntryRequest,
    responses((status = 201, body = EntryResponse), (status = 403, description = "forbidden"),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn create_entry(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiJson(body): ApiJson<EntryRequest>,
) -> Result<(StatusCode, Json<EntryResponse>), Error> {
    let input = pb::EntryInput { project_id: pid, id: String::new(), fields: Some(body.into()) };
    let entry = state.assistant.clone().create_entry(caller.forward(input)?).await?;
    Ok((StatusCode::CREATED, Json(entry.into_inner().into())))
}

/// The project's entries, a page at a time.
#[utoipa::path(get, path = "/v1/projects/{pid}/knowledge-base/entries", tag = "knowledge base", params(PageQuery),
    responses((status = 200, body = Page<EntryResponse>), (status = 404, description = "not_found"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_entries(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<EntryResponse>>, Error> {
    let message = pb::ListEntriesRequest {
        project_id: pid,
        limit: page_limit(page.limit)?,
        cursor: page.cursor.unwrap_or_default(),
    };
    let page = state.assistant.clone().list_entries(caller.forward(message)?).await?.into_inner();
    Ok(Json(Page::of(page.entries, page.next_cursor)))
}

/// One entry.
#[utoipa::path(get, path = "/v1/projects/{pid}/knowledge-base/entries/{id}", tag = "knowledge base",
    responses((status = 200, body = EntryResponse), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn get_entry(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
) -> Result<Json<EntryResponse>, Error> {
    let entry = state.assistant.clone().get_entry(caller.forward(pb::EntryRef { project_id: pid, id })?).await?;
    Ok(Json(entry.into_inner().into()))
}

/// Replaces an entry.
#[utoipa::path(put, path = "/v1/projects/{pid}/knowledge-base/entries/{id}", tag = "knowledge base",
    request_body = EntryRequest,
    responses((status = 200, body = EntryResponse), (status = 403, description = "forbidden"),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn update_entry(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<EntryRequest>,
) -> Result<Json<EntryResponse>, Error> {
    let input = pb::EntryInput { project_id: pid, id, fields: Some(body.into()) };
    let entry = state.assistant.clone().update_entry(caller.forward(input)?).await?;
    Ok(Json(entry.into_inner().into()))
}

/// Deletes an entry.
#[utoipa::path(delete, path = "/v1/projects/{pid}/knowledge-base/entries/{id}", tag = "knowledge base",
    responses((status = 204), (status = 403, description = "forbidden"), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn delete_entry(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    state.assistant.clone().delete_entry(caller.forward(pb::EntryRef { project_id: pid, id })?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantRequest {
    /// Another way to ask the entry's question, often one that went unanswered.
    #[schema(min_length = 1, max_length = 500)]
    pub text: String,
}

/// Adds a variant to an entry: the text matches the entry at once.
#[utoipa::path(post, path = "/v1/projects/{pid}/knowledge-base/entries/{id}/variants", tag = "knowledge base",
    request_body = VariantRequest,
    responses((status = 201, body = EntryResponse), (status = 403, description = "forbidden"),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn add_variant(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<VariantRequest>,
) -> Result<(StatusCode, Json<EntryResponse>), Error> {
    let message = pb::AddVariantRequest { project_id: pid, id, text: body.text };
    let entry = state.assistant.clone().add_variant(caller.forward(message)?).await?;
    Ok((StatusCode::CREATED, Json(entry.into_inner().into())))
}

/// The entry's answer spoken, as WAV, by the text-to-speech the tenant's policy chooses.
#[utoipa::path(get, path = "/v1/projects/{pid}/knowledge-base/entries/{id}/audio", tag = "knowledge base",
    responses((status = 200, content_type = "audio/wav", body = Vec<u8>),
              (status = 403, description = "forbidden: the policy chooses no text-to-speech"),
              (status = 404, description = "not_found"), (status = 503, description = "unavailable")),
    security(("bearer" = [])))]
async fn entry_audio(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
) -> Result<Response, Error> {
    let audio = state.assistant.clone().entry_audio(caller.forward(pb::EntryRef { project_id: pid, id })?).await?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], audio.into_inner().wav).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslationRequest {
    /// Another of the project's languages.
    pub language: String,
}

/// The entry translated through Google into another of the project's languages, as a draft entry.
#[utoipa::path(post, path = "/v1/projects/{pid}/knowledge-base/entries/{id}/translations", tag = "knowledge base",
    request_body = TranslationRequest,
    responses((status = 201, body = EntryResponse),
              (status = 403, description = "forbidden: the policy or the tenant's features do not allow translation"),
              (status = 404, description = "not_found"),
              (status = 422, description = "residency_conflict, or invalid_request"),
              (status = 503, description = "unavailable")),
    security(("bearer" = [])))]
async fn translate_entry(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TranslationRequest>,
) -> Result<(StatusCode, Json<EntryResponse>), Error> {
    let message = pb::TranslateEntryRequest { project_id: pid, id, language: body.language };
    let draft = state.assistant.clone().translate_entry(caller.forward(message)?).await?;
    Ok((StatusCode::CREATED, Json(draft.into_inner().into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    #[schema(min_length = 1, max_length = 2000)]
    pub text: String,
    /// Detected from the text when absent.
    pub language: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchMatch {
    pub entry_id: String,
    pub question: String,
    /// 0..1.
    pub score: f64,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    pub matches: Vec<SearchMatch>,
}

/// The entries that best match a text, as a visitor's question would be matched.
#[utoipa::path(post, path = "/v1/projects/{pid}/knowledge-base/search", tag = "knowledge base",
    request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 404, description = "not_found"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn search(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiJson(body): ApiJson<SearchRequest>,
) -> Result<Json<SearchResponse>, Error> {
    let message = pb::SearchRequest { project_id: pid, text: body.text, language: body.language };
    let found = state.assistant.clone().search(caller.forward(message)?).await?.into_inner();
    let matches = found
        .matches
        .into_iter()
        .map(|found| SearchMatch { entry_id: found.entry_id, question: found.question, score: found.score })
        .collect();
    Ok(Json(SearchResponse { matches }))
}

#[derive(Serialize, ToSchema)]
pub struct ImportResponse {
    pub created: u32,
}

/// The CSV columns of an import and an export, in order.
const CSV_HEADER: [&str; 5] = ["question", "variants", "answer", "language", "tags"];
const LIST_SEPARATOR: char = '|';

/// Imports entries, all or none: a JSON array of entries, or CSV (`text/csv`) with the header
/// `question,variants,answer,language,tags` and lists separated by `|`. A bad row answers 422
/// naming it (`entries[0]` is the first entry, the CSV's first line after the header).
#[utoipa::path(post, path = "/v1/projects/{pid}/knowledge-base/import", tag = "knowledge base",
    request_body(content(
        (Vec<EntryRequest> = "application/json"),
        (String = "text/csv"),
    )),
    responses((status = 200, body = ImportResponse), (status = 403, description = "forbidden"),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn import_entries(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportResponse>, Error> {
    // The file is read here, before the assistant sees the project: an id that is none names no
    // project, whatever the file holds.
    if uuid::Uuid::try_parse(&pid).is_err() {
        return Err(Error::not_found("no such project"));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let entries = match mime.as_str() {
        "application/json" => json_rows(&body)?,
        "text/csv" => csv_rows(&body)?,
        _ => return Err(Error::malformed("the body must be sent as application/json or text/csv")),
    };
    let message = pb::ImportEntriesRequest { project_id: pid, entries };
    let imported = state.assistant.clone().import_entries(caller.forward(message)?).await?.into_inner();
    Ok(Json(ImportResponse { created: imported.created }))
}

fn json_rows(body: &[u8]) -> Result<Vec<pb::EntryFields>, Error> {
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|_| Error::malformed("the body is not a JSON array of entries"))?;
    rows.into_iter()
        .enumerate()
        .map(|(row, value)| {
            serde_json::from_value::<EntryRequest>(value)
                .map(pb::EntryFields::from)
                .map_err(|error| Error::invalid_field(format!("entries[{row}]"), error.to_string()))
        })
        .collect()
}

fn csv_rows(body: &[u8]) -> Result<Vec<pb::EntryFields>, Error> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
    let header = reader.headers().map_err(|error| Error::invalid_field("header", error.to_string()))?;
    if header.iter().map(str::trim).ne(CSV_HEADER) {
        return Err(Error::invalid_field("header", format!("must be {}", CSV_HEADER.join(","))));
    }
    let list = |cell: &str| -> Vec<String> {
        cell.split(LIST_SEPARATOR).map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (row, record) in reader.records().enumerate() {
        match record {
            Ok(record) if record.len() == CSV_HEADER.len() => rows.push(pb::EntryFields {
                question: record[0].to_owned(),
                variants: list(&record[1]),
                answer: record[2].to_owned(),
                language: record[3].to_owned(),
                tags: list(&record[4]),
            }),
            Ok(record) => errors.push(FieldError {
                field: format!("entries[{row}]"),
                message: format!("has {} columns, not {}", record.len(), CSV_HEADER.len()),
            }),
            Err(error) => errors.push(FieldError { field: format!("entries[{row}]"), message: error.to_string() }),
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(Error::with_field_errors(ErrorCode::InvalidRequest, errors)) }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` by default.
    pub format: Option<ExportFormat>,
}

#[derive(Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Json,
    Csv,
}

/// Every entry of the project, in the import's format.
#[utoipa::path(get, path = "/v1/projects/{pid}/knowledge-base/export", tag = "knowledge base", params(ExportQuery),
    responses((status = 200, content((Vec<EntryResponse> = "application/json"), (String = "text/csv"))),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn export_entries(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, Error> {
    let csv = matches!(query.format.unwrap_or_default(), ExportFormat::Csv);
    let exported = state.assistant.clone().export_entries(caller.forward(pb::ProjectRef { project_id: pid })?).await?;
    let entries = exported.into_inner().entries;
    if !csv {
        let entries: Vec<EntryResponse> = entries.into_iter().map(EntryResponse::from).collect();
        return Ok(Json(entries).into_response());
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(Error::internal)?;
    for entry in entries {
        let fields = entry.fields.unwrap_or_default();
        let separator = LIST_SEPARATOR.to_string();
        writer
            .write_record([
                fields.question.as_str(),
                &fields.variants.join(&separator),
                &fields.answer,
                &fields.language,
                &fields.tags.join(&separator),
            ])
            .map_err(Error::internal)?;
    }
    let body = writer.into_inner().map_err(Error::internal)?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnansweredQuery {
    /// The first day, such as `2026-12-01`; 30 days before `to` by default.
    #[param(format = Date)]
    pub from: Option<String>,
    /// The last day; today by default.
    #[param(format = Date)]
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UnansweredQuestion {
    /// Masked: no e-mail address, phone number or other identifier is kept.
    pub text: String,
    pub count: u64,
    /// The last day it was asked: inputs keep the day, not the time.
    #[schema(format = Date)]
    pub last_asked_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct UnansweredList {
    pub items: Vec<UnansweredQuestion>,
}

/// The questions visitors asked that got a fallback, most asked first.
#[utoipa::path(get, path = "/v1/projects/{pid}/knowledge-base/unanswered", tag = "knowledge base",
    params(UnansweredQuery),
    responses((status = 200, body = UnansweredList), (status = 404, description = "not_found"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn unanswered(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiQuery(query): ApiQuery<UnansweredQuery>,
) -> Result<Json<UnansweredList>, Error> {
    let message = pb::ListUnansweredRequest { project_id: pid, from: query.from, to: query.to };
    let listed = state.assistant.clone().list_unanswered(caller.forward(message)?).await?.into_inner();
    let items = listed
        .items
        .into_iter()
        .map(|item| UnansweredQuestion { text: item.text, count: item.count, last_asked_at: item.last_asked_on })
        .collect();
    Ok(Json(UnansweredList { items }))
}
