//! What a widget needs to start: its project, its tenant and the policy in force.

use std::sync::Arc;

use causerie_core::policy::PrivacyPolicy;
use causerie_core::{Error, TenantId};
use uuid::Uuid;

use crate::AppState;
use crate::domain::privacy_policy::current_policy;
use crate::domain::projects::parse_public_id;
use crate::domain::tenancy::TenantStatus;
use crate::store::projects::{self as project_store, ProjectRow};
use crate::store::{self, TenantRow};

/// A widget's project, its tenant and what it needs to start. Unknown ids, and the projects of a
/// tenant that is not active, answer `404`. Kept in `AppState::widget_projects` until an event
/// says the project, the tenant or its policy changed.
pub struct WidgetProject {
    pub tenant: TenantRow,
    pub project: ProjectRow,
    pub policy: PrivacyPolicy,
}

pub async fn widget_project(state: &AppState, public_id: &str) -> Result<Arc<WidgetProject>, Error> {
    let key = parse_public_id(public_id).ok_or_else(|| Error::not_found("no such project"))?;
    if let Some(widget) = state.widget_projects.get(&key) {
        return Ok(widget);
    }
    let since = state.widget_projects.generation();
    let widget = Arc::new(read_widget_project(state, key).await?);
    state.widget_projects.insert(key, Arc::clone(&widget), since);
    Ok(widget)
}

/// The widget project as the database has it now, bypassing this replica's copy: what the
/// gateways cache. Were they answered from this copy, a gateway that heard of a change before
/// this replica did could keep the old answer after the event.
pub async fn current_widget_project(state: &AppState, public_id: &str) -> Result<WidgetProject, Error> {
    let key = parse_public_id(public_id).ok_or_else(|| Error::not_found("no such project"))?;
    read_widget_project(state, key).await
}

async fn read_widget_project(
    state: &AppState,
    (tenant_id, project_id): (TenantId, Uuid),
) -> Result<WidgetProject, Error> {
    let not_found = || Error::not_found("no such project");
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let tenant = store::tenant_by_id(&mut *transaction, tenant_id)
        .await?
        .filter(|tenant| tenant.status == TenantStatus::Active)
        .ok_or_else(not_found)?;
    let project = project_store::project(&mut transaction, project_id).await?.ok_or_else(not_found)?;
    let policy = current_policy(&mut transaction, &tenant).await?;
    transaction.commit().await?;
    Ok(WidgetProject { tenant, project, policy })
}
