//! The sub-processor connectors as the tenant's policy allows them: an answer's audio through the
//! text-to-speech the policy chooses, an entry translated into another of the project's languages
//! through Google (the policy's choice, the tenant's feature, and a residency that lets data leave
//! the EU). Each call is written to the tenant's audit log (which entry went to which provider,
//! when) before anything is sent.

use causerie_core::policy::{DataResidency, TextToSpeech, Translation};
use causerie_core::{Error, ErrorCode, TenantId};
use uuid::Uuid;

use crate::AppState;
use crate::adapters::speech::Speech;
use crate::adapters::translation::Translator;
use crate::domain::actor::{Access, Actor, Content};
use crate::domain::entries::{self, Entry, EntryFields};
use crate::domain::projects::Project;
use crate::store;

/// Who asked for a call, as the audit log names it: a tenant caller's own token, or the
/// assistant on a visitor's behalf.
pub enum Requester<'a> {
    Tenant { token: &'a str },
    Visitor,
}

fn no_such_entry() -> Error {
    Error::not_found("no such entry")
}

async fn published_entry(state: &AppState, tenant_id: TenantId, project: &Project, id: &str) -> Result<Entry, Error> {
    let id = Uuid::try_parse(id).map_err(|_| no_such_entry())?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    // A draft (an unreviewed machine translation) is not spoken to visitors nor translated again.
    let entry = store::entry(&mut transaction, project.id, id, false)
        .await?
        .filter(|entry| !entry.draft)
        .ok_or_else(no_such_entry)?;
    transaction.commit().await?;
    Ok(entry)
}

/// WAV of the entry's answer, spoken by the policy's text-to-speech; `403` when it chooses none.
pub async fn answer_audio(
    state: &AppState,
    tenant_id: TenantId,
    project: &Project,
    entry_id: &str,
    requester: Requester<'_>,
) -> Result<Vec<u8>, Error> {
    let entry = published_entry(state, tenant_id, project, entry_id).await?;
    let provider = match project.policy.document.subprocessors.tts {
        TextToSpeech::None => {
            return Err(Error::forbidden("the tenant's privacy policy chooses no text-to-speech"));
        }
        TextToSpeech::Local => "local",
        TextToSpeech::Acapela => "acapela",
    };
    state.audit_subprocessor_call(tenant_id, "tts", provider, entry.id, requester).await?;
    match provider {
        "acapela" => state.acapela.speak(&entry.fields.answer, &entry.fields.language).await,
        _ => state.local_speech.speak(&entry.fields.answer, &entry.fields.language).await,
    }
}

/// The entry translated into `language` through Google, kept as a draft entry (not matched until a
/// contributor publishes it by saving it). Refused unless the policy chooses Google, the tenant
/// has the feature, and its residency lets data leave the EU (`422 residency_conflict`).
pub async fn translate_entry(
    state: &AppState,
    actor: &Actor,
    token: &str,
    project_id: &str,
    entry_id: &str,
    language: &str,
) -> Result<Entry, Error> {
    let project = state.projects.of_actor(actor, project_id, Content::KnowledgeBase, Access::Write).await?;
    let document = &project.policy.document;
    if document.data_residency == DataResidency::Eu {
        return Err(Error::new(
            ErrorCode::ResidencyConflict,
            "the tenant keeps its data in the EU, and Google's translation may process it elsewhere",
        ));
    }
    if document.subprocessors.translation != Translation::Google {
        return Err(Error::forbidden("the tenant's privacy policy chooses no translation"));
    }
    if !project.translation_feature {
        return Err(Error::forbidden("translation is not enabled for this tenant"));
    }
    let entry = published_entry(state, actor.tenant_id, &project, entry_id).await?;
    let target = language.trim().to_ascii_lowercase();
    if target == entry.fields.language || !project.languages.contains(&target) {
        return Err(Error::invalid_field(
            "language",
            format!("must be another of the project's languages: {}", project.languages.join(", ")),
        ));
    }
    state
        .audit_subprocessor_call(actor.tenant_id, "translation", "google", entry.id, Requester::Tenant { token })
        .await?;
    let mut texts = vec![entry.fields.question.clone(), entry.fields.answer.clone()];
    texts.extend(entry.fields.variants.iter().cloned());
    let mut translated = state.translator.translate(&texts, &entry.fields.language, &target).await?.into_iter();
    let (Some(question), Some(answer)) = (translated.next(), translated.next()) else {
        return Err(Error::unavailable("translation answered too few texts"));
    };
    let draft =
        EntryFields { question, variants: translated.collect(), answer, language: target, tags: entry.fields.tags };
    entries::create_draft(state, actor, &project, draft).await
}
