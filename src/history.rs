//! Recording workflow histories for the replay tests (`tests/histories/`).

use homecare_domain::contracts::visit_workflow_id;
use homecare_workflows::VisitWorkflow;
use temporalio_client::WorkflowFetchHistoryOptions;
use uuid::Uuid;

use crate::settings::Settings;

/// The JSON history of a visit's workflow, as the replayer reads it.
pub async fn record(settings: &Settings, visit_id: Uuid) -> anyhow::Result<Vec<u8>> {
    let client =
        homecare_activities::temporal::connect(&settings.temporal(), "homecare-history").await?;
    let handle = client.get_workflow_handle::<VisitWorkflow>(visit_workflow_id(visit_id));
    let history = handle.fetch_history(WorkflowFetchHistoryOptions::default());
    Ok(history.to_json().await?)
}
