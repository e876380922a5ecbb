//! The API's Temporal client for visit workflows: updates sent with the
//! configured deadline (503 with `Retry-After` when no worker answers),
//! failures mapped to answers a client can act on, the `status` query, and
//! the recognition of a keyed retry whose command already took effect.

use axum::Json;
use axum::http::HeaderMap;
use homecare_domain::Rejection;
use homecare_domain::contracts::{EvvCommand, RescheduleCommand, VisitSnapshot, visit_workflow_id};
use homecare_workflows::VisitWorkflow;
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::{RpcOptions, WorkflowExecuteUpdateOptions, WorkflowQueryOptions};
use temporalio_common::HasWorkflowDefinition;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use uuid::Uuid;

use crate::idempotency::idempotency_key;
use crate::visits::row::find_visit;
use crate::{ApiError, AppState};

/// Every failure message in a Temporal failure chain, outermost first.
fn failure_messages(failure: &Failure) -> Vec<&str> {
    let mut messages = vec![failure.message.as_str()];
    let mut cause = failure.cause.as_deref();
    while let Some(f) = cause {
        messages.push(f.message.as_str());
        cause = f.cause.as_deref();
    }
    messages
}

/// Maps an update's failure to the answer a client can act on.
async fn update_error(state: &AppState, visit_id: Uuid, error: WorkflowUpdateError) -> ApiError {
    match error {
        WorkflowUpdateError::Failed(failure) => {
            let messages = failure_messages(&failure);
            match messages.iter().find_map(|m| Rejection::parse(m)) {
                Some(rejection) => ApiError::from_rejection(rejection),
                None => ApiError::Conflict {
                    code: "command_failed",
                    detail: messages.join(": "),
                },
            }
        }
        // The workflow has finished: the visit takes no more commands.
        WorkflowUpdateError::NotFound(_) => match find_visit(state, visit_id).await {
            Ok(visit) => ApiError::Conflict {
                code: "invalid_state",
                detail: format!("the visit is {}; it takes no more commands", visit.status),
            },
            Err(e) => e,
        },
        WorkflowUpdateError::Rpc(status)
            if matches!(
                status.code(),
                tonic_code::DEADLINE_EXCEEDED
                    | tonic_code::UNAVAILABLE
                    | tonic_code::RESOURCE_EXHAUSTED
                    | tonic_code::CANCELLED
            ) =>
        {
            ApiError::Unavailable {
                detail: format!("Temporal did not answer: {}", status.message()),
                retry_after_secs: 5,
            }
        }
        WorkflowUpdateError::Rpc(status) if status.code() == tonic_code::FAILED_PRECONDITION => {
            ApiError::Conflict {
                code: "invalid_state",
                detail: status.message().to_owned(),
            }
        }
        other => ApiError::internal(other),
    }
}

/// tonic's codes, named the way the match reads.
mod tonic_code {
    use temporalio_client::tonic::Code;
    pub const DEADLINE_EXCEEDED: Code = Code::DeadlineExceeded;
    pub const UNAVAILABLE: Code = Code::Unavailable;
    pub const RESOURCE_EXHAUSTED: Code = Code::ResourceExhausted;
    pub const FAILED_PRECONDITION: Code = Code::FailedPrecondition;
    pub const CANCELLED: Code = Code::Cancelled;
}

/// What a command leaves in the database, to recognise a retry of one that
/// already took effect.
pub(crate) enum Effect {
    Evv {
        kind: &'static str,
        command: EvvCommand,
    },
    Cancelled,
    Assigned(Vec<Uuid>),
    Rescheduled(RescheduleCommand),
    /// An exception resolved (by this or an earlier request).
    Resolved(Uuid),
}

impl Effect {
    async fn recorded(&self, state: &AppState, visit_id: Uuid) -> Result<bool, ApiError> {
        let recorded =
            match self {
                Self::Evv { kind, command } => {
                    sqlx::query_scalar(
                        "select exists (select 1 from evv_records
                      where visit_id = $1 and kind = $2::evv_kind and caregiver_id = $3
                        and abs(extract(epoch from occurred_at - $4::timestamptz)) < 0.001)",
                    )
                    .bind(visit_id)
                    .bind(kind)
                    .bind(command.caregiver_id)
                    .bind(command.at)
                    .fetch_one(&state.db)
                    .await?
                }
                Self::Rescheduled(command) => sqlx::query_scalar(
                    "select scheduled = tstzrange($2, $3) from visits where id = $1",
                )
                .bind(visit_id)
                .bind(command.scheduled_start)
                .bind(command.scheduled_end)
                .fetch_one(&state.db)
                .await?,
                Self::Assigned(ids) => sqlx::query_scalar(
                    "select array(select caregiver_id from visit_staff where visit_id = $1 order by slot) = $2",
                )
                .bind(visit_id)
                .bind(ids)
                .fetch_one(&state.db)
                .await?,
                Self::Resolved(exception_id) => sqlx::query_scalar(
                    "select exists (select 1 from visit_exceptions where id = $1 and resolved_at is not null)",
                )
                .bind(exception_id)
                .fetch_one(&state.db)
                .await?,
                Self::Cancelled => sqlx::query_scalar(
                    "select exists (select 1 from visits where id = $1 and status = 'cancelled')",
                )
                .bind(visit_id)
                .fetch_one(&state.db)
                .await?,
            };
        Ok(recorded)
    }
}

/// The workflow's current view of the visit, if a worker answers in time.
pub(crate) async fn current_snapshot(state: &AppState, visit_id: Uuid) -> Option<VisitSnapshot> {
    let handle = state
        .temporal
        .get_workflow_handle::<VisitWorkflow>(visit_workflow_id(visit_id));
    let rpc = RpcOptions::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build();
    let query = handle.query(
        VisitWorkflow::status,
        (),
        WorkflowQueryOptions::builder().rpc_options(rpc).build(),
    );
    tokio::time::timeout(std::time::Duration::from_secs(3), query)
        .await
        .ok()
        .and_then(Result::ok)
}

/// Sends one update to the visit's workflow and waits at most the configured time.
/// With an `Idempotency-Key`, a retried request re-attaches to the same update
/// (Temporal de-duplicates the update id, even after the workflow has finished)
/// and gets its first answer. A keyed retry that exactly duplicates a command
/// already recorded (same caregiver, same device time) under another key gets
/// the visit's current state: it changes nothing. Without a key, a duplicate is
/// a second command and is refused (409).
pub(crate) async fn send_update<U>(
    state: &AppState,
    visit_id: Uuid,
    headers: &HeaderMap,
    update: U,
    name: &str,
    input: U::Input,
    effect: Effect,
) -> Result<Json<VisitSnapshot>, ApiError>
where
    U: temporalio_common::UpdateDefinition<
            Workflow = <VisitWorkflow as HasWorkflowDefinition>::Run,
            Output = VisitSnapshot,
        >,
    U::Input: Send,
{
    let key = idempotency_key(headers)?;
    find_visit(state, visit_id).await?;
    let handle = state
        .temporal
        .get_workflow_handle::<VisitWorkflow>(visit_workflow_id(visit_id));
    let timeout = state.config.update_timeout;
    let options = WorkflowExecuteUpdateOptions::builder()
        .maybe_update_id(key.as_ref().map(|k| format!("{name}-{k}")))
        // The RPC outlives our own deadline a little, so a worker that is down
        // always surfaces as our 503 rather than as a transport error.
        .rpc_options(
            RpcOptions::builder()
                .timeout(timeout + std::time::Duration::from_secs(2))
                .build(),
        )
        .build();
    match tokio::time::timeout(timeout, handle.execute_update(update, input, options)).await {
        Err(_) => Err(ApiError::Unavailable {
            detail: format!(
                "the visit workflow did not answer within {}s; is a worker running?",
                timeout.as_secs()
            ),
            retry_after_secs: 5,
        }),
        Ok(Ok(snapshot)) => Ok(Json(snapshot)),
        Ok(Err(e)) => {
            let error = update_error(state, visit_id, e).await;
            if key.is_some()
                && matches!(error, ApiError::Conflict { .. })
                && effect.recorded(state, visit_id).await?
                && let Some(snapshot) = current_snapshot(state, visit_id).await
            {
                return Ok(Json(snapshot));
            }
            Err(error)
        }
    }
}
