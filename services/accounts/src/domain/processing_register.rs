//! The record of processing activities (GDPR Art. 30(1)) of a tenant, built from what Causerie
//! knows: the tenant's policy (controller, DPO, purposes, recipients, retention, residency), its
//! projects, the sub-processors its policy enables, and its directory connections. It is derived,
//! never stored, so it changes the moment the policy does.

use causerie_auth::Scope;
use causerie_core::policy::{PrivacyPolicy, TextToSpeech, Translation};
use causerie_core::{Error, RetentionCategory};
use serde::Serialize;

use crate::AppState;
use crate::domain::actor::Actor;
use crate::domain::{privacy_policy, projects};
use crate::store::projects as project_store;
use crate::store::subprocessors::{self as subprocessor_store, SubprocessorRow};

#[derive(Serialize)]
pub struct Register {
    pub controller: causerie_core::policy::Controller,
    pub dpo: causerie_core::policy::DataProtectionOfficer,
    pub policy_version: i32,
    pub data_residency: causerie_core::policy::DataResidency,
    pub activities: Vec<Activity>,
    pub retention: Vec<Retention>,
    pub processors: Vec<Processor>,
    pub projects: Vec<RegisterProject>,
    /// Directory synchronisation (SSO, Active Directory) connections: none can be made yet.
    pub directory_connections: Vec<String>,
    pub erasure_deadline_days: u32,
}

#[derive(Serialize)]
pub struct Activity {
    pub purpose: String,
    pub legal_basis: &'static str,
    pub description: String,
    pub data_subjects: &'static str,
    pub recipients: Vec<String>,
}

#[derive(Serialize)]
pub struct Retention {
    pub category: RetentionCategory,
    /// `None`: for the contract's duration.
    pub days: Option<u32>,
}

#[derive(Serialize)]
pub struct Processor {
    pub name: String,
    pub role: String,
    pub country: String,
    pub transfer_outside_eu: bool,
    pub safeguard: Option<String>,
}

#[derive(Serialize)]
pub struct RegisterProject {
    pub name: String,
    pub public_id: String,
    pub allowed_origins: Vec<String>,
    pub supervision_enabled: bool,
}

/// The vendor, as processor of every tenant, then each sub-processor the policy and the
/// tenant's features switch on.
fn processors(policy: &PrivacyPolicy, translation_enabled: bool, subprocessors: &[SubprocessorRow]) -> Vec<Processor> {
    // Connectors are named by the id support records them under; hosting applies to everyone.
    let applies = |row: &SubprocessorRow| match (row.kind.as_str(), row.id.as_str()) {
        ("hosting", _) => true,
        ("tts", "acapela") => policy.document.subprocessors.tts == TextToSpeech::Acapela,
        ("translation", "google-translate") => {
            translation_enabled && policy.document.subprocessors.translation == Translation::Google
        }
        _ => false,
    };
    subprocessors
        .iter()
        .filter(|row| applies(row))
        .map(|row| Processor {
            name: row.name.clone(),
            role: row.purpose.clone(),
            country: row.country.clone(),
            transfer_outside_eu: row.outside_eu,
            safeguard: row.safeguard.clone(),
        })
        .collect()
}

pub async fn build(state: &AppState, actor: &Actor) -> Result<Register, Error> {
    actor.require_admin_or_scope(Scope::ProjectsRead)?;
    let tenant = crate::store::tenant_by_id(&state.pool, actor.tenant_id)
        .await?
        .ok_or_else(|| Error::not_found("no such tenant"))?;
    let subprocessors = subprocessor_store::subprocessors(&state.pool).await?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let policy = privacy_policy::current_policy(&mut transaction, &tenant).await?;
    let projects = project_store::projects(&mut transaction, None, i64::MAX).await?;
    let document = &policy.document;
    Ok(Register {
        controller: document.controller.clone(),
        dpo: document.dpo.clone(),
        policy_version: policy.version,
        data_residency: document.data_residency,
        activities: document
            .purposes
            .iter()
            .map(|purpose| Activity {
                purpose: purpose.name.clone(),
                legal_basis: purpose.legal_basis.as_str(),
                description: purpose.description.clone(),
                data_subjects: "website visitors; the tenant's users",
                recipients: document.recipients.clone(),
            })
            .collect(),
        retention: RetentionCategory::ALL
            .into_iter()
            .map(|category| Retention { category, days: document.retention_days(category) })
            .collect(),
        processors: processors(&policy, tenant.translation, &subprocessors),
        projects: projects
            .into_iter()
            .map(|project| RegisterProject {
                public_id: projects::public_id(project.tenant_id, project.id),
                name: project.name,
                allowed_origins: project.allowed_origins,
                supervision_enabled: project.supervision_enabled,
            })
            .collect(),
        directory_connections: Vec::new(),
        erasure_deadline_days: document.erasure_deadline_days,
    })
}

/// A CSV field, quoted when it must be (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

impl Register {
    /// One row per line of the register: activities, retention periods, processors, projects.
    pub fn to_csv(&self) -> String {
        let mut lines =
            vec!["section,name,legal_basis_or_role,detail,recipients_or_country,transfer_outside_eu".to_owned()];
        let mut row = |fields: [&str; 6]| lines.push(fields.map(csv_field).join(","));
        row(["controller", &self.controller.name, "", &self.controller.address, &self.controller.email, ""]);
        row(["dpo", &self.dpo.name, "", "", &self.dpo.email, ""]);
        for activity in &self.activities {
            row([
                "activity",
                &activity.purpose,
                activity.legal_basis,
                &activity.description,
                &activity.recipients.join("; "),
                "",
            ]);
        }
        for retention in &self.retention {
            let days = retention.days.map_or_else(|| "contract duration".to_owned(), |days| format!("{days} days"));
            row(["retention", retention.category.as_str(), "", &days, "", ""]);
        }
        for processor in &self.processors {
            let transfer = if processor.transfer_outside_eu { "yes" } else { "no" };
            row([
                "processor",
                &processor.name,
                &processor.role,
                processor.safeguard.as_deref().unwrap_or(""),
                &processor.country,
                transfer,
            ]);
        }
        for project in &self.projects {
            row(["project", &project.name, "", &project.public_id, &project.allowed_origins.join("; "), ""]);
        }
        lines.join("\r\n") + "\r\n"
    }

    pub fn to_markdown(&self) -> String {
        let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
        let mut text = String::new();
        text.push_str("# Record of processing activities (GDPR Art. 30)\n\n");
        text.push_str(&format!(
            "Controller: {}, {} ({})  \nData protection officer: {} ({})  \nPolicy version {}, data residency {}, erasure within {} days\n\n",
            cell(&self.controller.name),
            cell(&self.controller.address),
            cell(&self.controller.email),
            cell(&self.dpo.name),
            cell(&self.dpo.email),
            self.policy_version,
            self.data_residency.as_str(),
            self.erasure_deadline_days
        ));
        text.push_str("## Processing activities\n\n| purpose | legal basis | description | recipients |\n| --- | --- | --- | --- |\n");
        for activity in &self.activities {
            text.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&activity.purpose),
                activity.legal_basis,
                cell(&activity.description),
                cell(&activity.recipients.join(", "))
            ));
        }
        text.push_str("\n## Retention\n\n| category | period |\n| --- | --- |\n");
        for retention in &self.retention {
            let period = retention.days.map_or_else(|| "contract duration".to_owned(), |days| format!("{days} days"));
            text.push_str(&format!("| {} | {period} |\n", retention.category));
        }
        text.push_str("\n## Processors and sub-processors\n\n| name | role | country | outside the EU | safeguard |\n| --- | --- | --- | --- | --- |\n");
        for processor in &self.processors {
            text.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&processor.name),
                cell(&processor.role),
                cell(&processor.country),
                if processor.transfer_outside_eu { "yes" } else { "no" },
                cell(processor.safeguard.as_deref().unwrap_or(""))
            ));
        }
        text.push_str(
            "\n## Projects\n\n| name | public id | allowed origins | supervision |\n| --- | --- | --- | --- |\n",
        );
        for project in &self.projects {
            text.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&project.name),
                project.public_id,
                cell(&project.allowed_origins.join(", ")),
                if project.supervision_enabled { "on" } else { "off" }
            ));
        }
        text.push_str("\n## Directory connections\n\nNone.\n");
        text
    }
}
