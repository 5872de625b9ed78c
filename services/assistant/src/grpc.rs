//! The assistant's gRPC API: requests decoded, the domain asked, answers encoded. Tenant callers
//! (users, API keys) reach the knowledge bases and notifications; `Match` and the widget's
//! notifications are the gateway's, on a visitor's behalf.

mod notifications;
mod scenarios;

pub use notifications::NotificationApi;
pub use scenarios::ScenarioApi;

use causerie_auth::Audience;
use causerie_auth::transport::caller_of;
use causerie_core::{Error, TenantId};
use causerie_proto::assistant::v1 as pb;
use causerie_proto::time::to_timestamp;
use pb::knowledge_base_service_server::KnowledgeBaseService;
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::domain::actor::{Access, Actor, Content};
use crate::domain::connectors;
use crate::domain::entries::{self, Entry, EntryFields};
use crate::domain::replies;

pub(crate) type Answer<T> = Result<Response<T>, Status>;

pub struct KnowledgeBaseApi {
    state: AppState,
}

impl KnowledgeBaseApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

pub(crate) fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    Ok(Actor::from_caller(caller_of(request, &[Audience::Tenant])?)?)
}

fn fields(fields: Option<pb::EntryFields>) -> EntryFields {
    let fields = fields.unwrap_or_default();
    EntryFields {
        question: fields.question,
        variants: fields.variants,
        answer: fields.answer,
        language: fields.language,
        tags: fields.tags,
    }
}

impl From<EntryFields> for pb::EntryFields {
    fn from(fields: EntryFields) -> Self {
        Self {
            question: fields.question,
            variants: fields.variants,
            answer: fields.answer,
            language: fields.language,
            tags: fields.tags,
        }
    }
}

impl From<Entry> for pb::Entry {
    fn from(entry: Entry) -> Self {
        Self {
            draft: entry.draft,
            id: entry.id.to_string(),
            project_id: entry.project_id.to_string(),
            fields: Some(entry.fields.into()),
            created_at: Some(to_timestamp(entry.created_at)),
            updated_at: Some(to_timestamp(entry.updated_at)),
        }
    }
}

#[tonic::async_trait]
impl KnowledgeBaseService for KnowledgeBaseApi {
    async fn create_entry(&self, request: Request<pb::EntryInput>) -> Answer<pb::Entry> {
        let actor = actor(&request)?;
        let input = request.into_inner();
        let entry = entries::create_entry(&self.state, &actor, &input.project_id, fields(input.fields)).await?;
        Ok(Response::new(entry.into()))
    }

    async fn update_entry(&self, request: Request<pb::EntryInput>) -> Answer<pb::Entry> {
        let actor = actor(&request)?;
        let input = request.into_inner();
        let entry =
            entries::update_entry(&self.state, &actor, &input.project_id, &input.id, fields(input.fields)).await?;
        Ok(Response::new(entry.into()))
    }

    async fn delete_entry(&self, request: Request<pb::EntryRef>) -> Answer<pb::Empty> {
        let actor = actor(&request)?;
        let entry = request.into_inner();
        entries::delete_entry(&self.state, &actor, &entry.project_id, &entry.id).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn add_variant(&self, request: Request<pb::AddVariantRequest>) -> Answer<pb::Entry> {
        let actor = actor(&request)?;
        let variant = request.into_inner();
        let entry = entries::add_variant(&self.state, &actor, &variant.project_id, &variant.id, &variant.text).await?;
        Ok(Response::new(entry.into()))
    }

    async fn import_entries(&self, request: Request<pb::ImportEntriesRequest>) -> Answer<pb::ImportEntriesResponse> {
        let actor = actor(&request)?;
        let import = request.into_inner();
        let rows = import.entries.into_iter().map(|row| fields(Some(row))).collect();
        let created = entries::import_entries(&self.state, &actor, &import.project_id, rows).await?;
        Ok(Response::new(pb::ImportEntriesResponse { created: u32::try_from(created).unwrap_or(u32::MAX) }))
    }

    async fn get_entry(&self, request: Request<pb::EntryRef>) -> Answer<pb::Entry> {
        let actor = actor(&request)?;
        let entry = request.into_inner();
        Ok(Response::new(entries::entry(&self.state, &actor, &entry.project_id, &entry.id).await?.into()))
    }

    async fn list_entries(&self, request: Request<pb::ListEntriesRequest>) -> Answer<pb::ListEntriesResponse> {
        let actor = actor(&request)?;
        let list = request.into_inner();
        let (page, next) = entries::entries(&self.state, &actor, &list.project_id, list.limit, &list.cursor).await?;
        Ok(Response::new(pb::ListEntriesResponse {
            entries: page.into_iter().map(pb::Entry::from).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn export_entries(&self, request: Request<pb::ProjectRef>) -> Answer<pb::ExportEntriesResponse> {
        let actor = actor(&request)?;
        let all = entries::all_entries(&self.state, &actor, &request.into_inner().project_id).await?;
        Ok(Response::new(pb::ExportEntriesResponse { entries: all.into_iter().map(pb::Entry::from).collect() }))
    }

    async fn search(&self, request: Request<pb::SearchRequest>) -> Answer<pb::SearchResponse> {
        let actor = actor(&request)?;
        let search = request.into_inner();
        let matches =
            entries::search(&self.state, &actor, &search.project_id, &search.text, search.language.as_deref()).await?;
        Ok(Response::new(pb::SearchResponse {
            matches: matches
                .into_iter()
                .map(|(entry_id, question, score)| pb::SearchMatch {
                    entry_id: entry_id.to_string(),
                    question,
                    score: f64::from(score),
                })
                .collect(),
        }))
    }

    async fn list_unanswered(&self, request: Request<pb::ListUnansweredRequest>) -> Answer<pb::ListUnansweredResponse> {
        let actor = actor(&request)?;
        let asked = request.into_inner();
        let questions =
            entries::unanswered(&self.state, &actor, &asked.project_id, asked.from.as_deref(), asked.to.as_deref())
                .await?;
        Ok(Response::new(pb::ListUnansweredResponse {
            items: questions
                .into_iter()
                .map(|(text, count, last_day)| pb::UnansweredQuestion {
                    text,
                    count: u64::try_from(count).unwrap_or(0),
                    last_asked_on: last_day.to_string(),
                })
                .collect(),
        }))
    }

    async fn support_list_entries(
        &self,
        request: Request<pb::SupportListEntriesRequest>,
    ) -> Answer<pb::ListEntriesResponse> {
        caller_of(&request, &[Audience::Staff])?;
        let headers = request.metadata().clone().into_headers();
        let token = causerie_auth::transport::bearer_token(&headers).map_err(Error::from)?.to_owned();
        let address =
            request.metadata().get(entries::CLIENT_ADDRESS).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let asked = request.into_inner();
        let (page, next) = entries::support_entries(
            &self.state,
            &token,
            address.as_deref(),
            &asked.tenant_id,
            &asked.project_id,
            (asked.limit, &asked.cursor),
        )
        .await?;
        Ok(Response::new(pb::ListEntriesResponse {
            entries: page.into_iter().map(pb::Entry::from).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn start_session(&self, request: Request<pb::StartSessionRequest>) -> Answer<pb::Empty> {
        caller_of(&request, &[Audience::Service])?;
        let asked = request.into_inner();
        let tenant_id: TenantId = asked.tenant_id.parse().map_err(|_| Error::not_found("no such project"))?;
        replies::start_session(&self.state, tenant_id, &asked.project_id, &asked.session_id, &asked.language).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn entry_audio(&self, request: Request<pb::EntryRef>) -> Answer<pb::Audio> {
        let actor = actor(&request)?;
        let headers = request.metadata().clone().into_headers();
        let token = causerie_auth::transport::bearer_token(&headers).map_err(Error::from)?.to_owned();
        let asked = request.into_inner();
        let project =
            self.state.projects.of_actor(&actor, &asked.project_id, Content::KnowledgeBase, Access::Read).await?;
        let requester = connectors::Requester::Tenant { token: &token };
        let wav = connectors::answer_audio(&self.state, actor.tenant_id, &project, &asked.id, requester).await?;
        Ok(Response::new(pb::Audio { wav }))
    }

    async fn widget_entry_audio(&self, request: Request<pb::WidgetEntryRef>) -> Answer<pb::Audio> {
        caller_of(&request, &[Audience::Service])?;
        let asked = request.into_inner();
        let tenant_id: TenantId = asked.tenant_id.parse().map_err(|_| Error::not_found("no such project"))?;
        let project = self.state.projects.of_tenant(tenant_id, &asked.project_id).await?;
        let wav = connectors::answer_audio(&self.state, tenant_id, &project, &asked.id, connectors::Requester::Visitor)
            .await?;
        Ok(Response::new(pb::Audio { wav }))
    }

    async fn translate_entry(&self, request: Request<pb::TranslateEntryRequest>) -> Answer<pb::Entry> {
        let actor = actor(&request)?;
        let headers = request.metadata().clone().into_headers();
        let token = causerie_auth::transport::bearer_token(&headers).map_err(Error::from)?.to_owned();
        let asked = request.into_inner();
        let draft =
            connectors::translate_entry(&self.state, &actor, &token, &asked.project_id, &asked.id, &asked.language)
                .await?;
        Ok(Response::new(draft.into()))
    }

    async fn r#match(&self, request: Request<pb::MatchRequest>) -> Answer<pb::MatchReply> {
        caller_of(&request, &[Audience::Service])?;
        let asked = request.into_inner();
        let tenant_id: TenantId = asked.tenant_id.parse().map_err(|_| Error::not_found("no such project"))?;
        let visitor_id = asked.visitor_id.as_deref().and_then(|id| uuid::Uuid::try_parse(id).ok());
        let session_id = asked.session_id.as_deref().filter(|session_id| !session_id.is_empty());
        // The widget's `cz_sid` (`{public_id}.{32 hex}`), which a client could alter.
        let well_formed = |session_id: &str| {
            session_id.len() <= 100
                && session_id.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte))
        };
        if session_id.is_some_and(|session_id| !well_formed(session_id)) {
            return Err(Error::invalid_field("session_id", "is not a widget session id").into());
        }
        let session = session_id.map(|session_id| replies::Session { session_id, visitor_id });
        let reply =
            replies::reply(&self.state, tenant_id, &asked.project_id, &asked.text, asked.language.as_deref(), session)
                .await?;
        Ok(Response::new(pb::MatchReply {
            kind: reply.kind.as_str().to_owned(),
            text: reply.text,
            entry_id: reply.entry_id.map(|id| id.to_string()),
            confidence: f64::from(reply.confidence),
            suggestions: reply
                .suggestions
                .into_iter()
                .map(|(entry_id, question)| pb::Suggestion { entry_id: entry_id.to_string(), question })
                .collect(),
            language: reply.language.unwrap_or_default(),
            step: reply.step.map(|step| pb::StepShown {
                scenario_id: step.scenario_id.to_string(),
                step_id: step.step_id,
                kind: step.kind.to_owned(),
                options: step.options,
                form_id: step.form_id.unwrap_or_default(),
                purpose: step.purpose.unwrap_or_default(),
                text_version: step.text_version.unwrap_or_default(),
            }),
        }))
    }
}
