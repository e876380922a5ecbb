//! The client's `CarePlanWorkflow`: started with its first plan (again after
//! it ended), and asked to generate at once after every change.

use homecare_domain::contracts::{CarePlanWorkflowInput, GenerationOutcome, care_plan_workflow_id};
use homecare_workflows::CarePlanWorkflow;
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::{
    RpcOptions, WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowStartOptions,
};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// Starts the client's care-plan workflow unless it runs already.
pub(super) async fn ensure_workflow(state: &AppState, client_id: Uuid) -> Result<(), ApiError> {
    let options = WorkflowStartOptions::new(
        state.config.task_queue.clone(),
        care_plan_workflow_id(client_id),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .build();
    let input = CarePlanWorkflowInput {
        client_id,
        generations: 0,
    };
    state
        .temporal
        .start_workflow(CarePlanWorkflow::run, input, options)
        .await
        .map_err(|e| ApiError::Unavailable {
            detail: format!("could not start the care-plan workflow: {e}"),
            retry_after_secs: 5,
        })?;
    Ok(())
}

/// Generates the client's visits now and answers with what changed; 503
/// with `Retry-After` when no worker answers in time (the change is saved and
/// the next generation applies it).
pub(super) async fn regenerate(
    state: &AppState,
    client_id: Uuid,
    reason: &str,
) -> Result<GenerationOutcome, ApiError> {
    ensure_workflow(state, client_id).await?;
    match send_regenerate(state, client_id, reason).await {
        // The workflow ended (no plan applied at its last generation) after
        // the start above found it running: start it again, once.
        Err(RegenerateError::Closed) => {
            ensure_workflow(state, client_id).await?;
            send_regenerate(state, client_id, reason)
                .await
                .map_err(RegenerateError::into_api)
        }
        other => other.map_err(RegenerateError::into_api),
    }
}

enum RegenerateError {
    /// The client's workflow is not running.
    Closed,
    Unavailable(String),
}

impl RegenerateError {
    fn into_api(self) -> ApiError {
        let detail = match self {
            Self::Closed => "the care-plan workflow is not running".to_owned(),
            Self::Unavailable(detail) => detail,
        };
        ApiError::Unavailable {
            detail,
            retry_after_secs: 5,
        }
    }
}

async fn send_regenerate(
    state: &AppState,
    client_id: Uuid,
    reason: &str,
) -> Result<GenerationOutcome, RegenerateError> {
    let handle = state
        .temporal
        .get_workflow_handle::<CarePlanWorkflow>(care_plan_workflow_id(client_id));
    let timeout = state.config.update_timeout;
    let options = WorkflowExecuteUpdateOptions::builder()
        .rpc_options(
            RpcOptions::builder()
                .timeout(timeout + std::time::Duration::from_secs(2))
                .build(),
        )
        .build();
    let update = handle.execute_update(CarePlanWorkflow::regenerate, reason.to_owned(), options);
    match tokio::time::timeout(timeout, update).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(WorkflowUpdateError::NotFound(_))) => Err(RegenerateError::Closed),
        Ok(Err(e)) => Err(RegenerateError::Unavailable(format!(
            "the care plans could not be generated now: {e}"
        ))),
        Err(_) => Err(RegenerateError::Unavailable(format!(
            "the care-plan workflow did not answer within {}s; the change is saved and \
             generates when a worker runs",
            timeout.as_secs()
        ))),
    }
}
