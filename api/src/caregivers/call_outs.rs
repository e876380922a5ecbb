//! Call-outs: a caregiver cannot work a period; every affected visit is
//! re-decided at once by a `CallOutWorkflow`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use homecare_domain::contracts::{CallOut, CallOutOutcome, call_out_workflow_id};
use homecare_domain::validation::FieldErrors;
use homecare_workflows::CallOutWorkflow;
use serde::{Deserialize, Serialize};
use temporalio_client::{
    WorkflowDescribeOptions, WorkflowExecuteUpdateOptions, WorkflowExecutionStatus,
    WorkflowGetResultOptions, WorkflowIdConflictPolicy, WorkflowQueryOptions, WorkflowStartOptions,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::profile::{Period, check_period, require_caregiver};
use crate::auth::Principal;
use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::idempotency_key;
use crate::{ApiError, AppState};

/// v5 namespace for call-out ids derived from an `Idempotency-Key`.
const IDEMPOTENT_CALL_OUT_NAMESPACE: Uuid =
    Uuid::from_u128(0x9a41_77c2_0d3e_4b8f_a615_2c7e_93b0_d4f1);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(call_out))
        .routes(routes!(show_call_out))
}

/// A call-out's period (at most 31 days) and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the body `call_out` reads
struct CallOutPeriod {
    start: DateTime<Utc>,
    /// After `start`, at most 31 days later.
    end: DateTime<Utc>,
    /// 1 to 200 characters (trimmed).
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallOutResponse {
    pub call_out_id: Uuid,
    pub caregiver_id: Uuid,
    /// `decided` (every visit decided and committed, the visits' workflows
    /// being told), `completed` (every visit's workflow told), or `in_progress`
    /// when the decisions take longer than the API waits (see the events).
    #[schema(value_type = CallOutStatus)]
    pub status: &'static str,
    /// Every affected visit once decided; empty while `in_progress`.
    pub changes: Vec<CallOutChange>,
}

#[derive(ToSchema)]
#[allow(dead_code)] // documents the strings `CallOutResponse::status` takes
#[schema(rename_all = "snake_case")]
enum CallOutStatus {
    Decided,
    Completed,
    InProgress,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallOutChange {
    pub visit_id: Uuid,
    /// `assigned` to someone else, or `unfilled` (an alert was published).
    #[schema(value_type = CallOutChangeStatus)]
    pub status: &'static str,
    /// The visit's caregivers now (none when unfilled).
    pub caregiver_ids: Vec<Uuid>,
    pub assignment_version: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)] // documents the strings `CallOutChange::status` takes
#[schema(rename_all = "lowercase")]
enum CallOutChangeStatus {
    Assigned,
    Unfilled,
}

impl CallOutResponse {
    fn with(status: &'static str, outcome: CallOutOutcome) -> Self {
        Self {
            call_out_id: outcome.call_out_id,
            caregiver_id: outcome.caregiver_id,
            status,
            changes: outcome
                .changes
                .into_iter()
                .map(|c| CallOutChange {
                    visit_id: c.visit_id,
                    status: if c.outcome.caregiver_id.is_some() {
                        "assigned"
                    } else {
                        "unfilled"
                    },
                    caregiver_ids: c.outcome.caregiver_ids,
                    assignment_version: c.outcome.version,
                })
                .collect(),
        }
    }
}

/// A caregiver calls out for a period: a `CallOutWorkflow` records it and
/// re-decides every affected visit that has not started, then tells each visit's
/// workflow. Answers with every change once decided. With an `Idempotency-Key`,
/// a retried request lands on the same call-out and gets the same answer.
#[utoipa::path(post, path = "/caregivers/{id}/call-outs", tag = "caregivers", operation_id = "create_call_out",
    params(("id" = Uuid, Path, description = "The caregiver"),
           crate::idempotency::IdempotencyKey),
    request_body = CallOutPeriod,
    responses(
        (status = 200, description = "Every affected visit decided (`decided`), or a retry of a finished call-out", body = CallOutResponse),
        (status = 202, description = "Still deciding after the API's wait (`in_progress`, no changes yet): follow `GET /call-outs/{id}` or the events", body = CallOutResponse)))]
#[tracing::instrument(skip_all, fields(caregiver_id = %id))]
async fn call_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(period): ApiJson<Period>,
) -> Result<(StatusCode, Json<CallOutResponse>), ApiError> {
    principal.may_act_for(id)?;
    let key = idempotency_key(&headers)?;
    let mut errors = FieldErrors::default();
    check_period(&mut errors, &period, true);
    errors.into_result()?;
    require_caregiver(&state, id).await?;
    let call_out_id = match &key {
        // Per caregiver: another caregiver's retry with the same key must not
        // land on (and read) this caregiver's call-out.
        Some(key) => Uuid::new_v5(
            &IDEMPOTENT_CALL_OUT_NAMESPACE,
            format!("{id}/{key}").as_bytes(),
        ),
        None => Uuid::new_v4(),
    };
    let input = CallOut {
        call_out_id,
        caregiver_id: id,
        start: period.start,
        end: period.end,
        reason: period.reason.unwrap_or_default().trim().to_owned(),
    };
    let handle = start_call_out(&state, input).await?;
    match await_decisions(&state, &handle).await {
        Some(Ok(outcome)) => Ok((
            StatusCode::OK,
            Json(CallOutResponse::with("decided", outcome)),
        )),
        Some(Err(e)) => Err(ApiError::Conflict {
            code: "command_failed",
            detail: format!("the call-out could not be applied: {e}"),
        }),
        None => Ok((
            StatusCode::ACCEPTED,
            Json(CallOutResponse {
                call_out_id,
                caregiver_id: id,
                status: "in_progress",
                changes: Vec::new(),
            }),
        )),
    }
}

type CallOutHandle = temporalio_client::WorkflowHandle<
    temporalio_client::Client,
    <CallOutWorkflow as temporalio_common::HasWorkflowDefinition>::Run,
>;

async fn start_call_out(state: &AppState, input: CallOut) -> Result<CallOutHandle, ApiError> {
    let options = WorkflowStartOptions::new(
        state.config.task_queue.clone(),
        call_out_workflow_id(input.call_out_id),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .build();
    state
        .temporal
        .start_workflow(CallOutWorkflow::run, input, options)
        .await
        .map_err(|e| ApiError::Unavailable {
            detail: format!("could not start the call-out workflow: {e}"),
            retry_after_secs: 5,
        })
}

/// The call-out's decisions, once every visit is decided (the `decisions`
/// update); a call-out whose workflow already finished (a retried request)
/// answers with its result. None: not decided within the update timeout.
async fn await_decisions(
    state: &AppState,
    handle: &CallOutHandle,
) -> Option<Result<CallOutOutcome, String>> {
    let decided = async {
        match handle
            .execute_update(
                CallOutWorkflow::decisions,
                (),
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
        {
            Ok(outcome) => Ok(outcome),
            Err(_) => handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .map_err(|e| e.to_string()),
        }
    };
    tokio::time::timeout(state.config.update_timeout, decided)
        .await
        .ok()
}

/// Where a call-out stands: `completed` once every affected visit's workflow has
/// been told, `decided` before that, `in_progress` while deciding.
#[utoipa::path(get, path = "/call-outs/{id}", tag = "caregivers", operation_id = "show_call_out",
    params(("id" = Uuid, Path, description = "The call-out")),
    responses((status = 200, description = "The call-out and its changes so far", body = CallOutResponse)))]
async fn show_call_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CallOutResponse>, ApiError> {
    let caregiver_id: Uuid = sqlx::query_scalar("select caregiver_id from call_outs where id = $1")
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("call-out {id} not found")))?;
    principal.may_act_for(caregiver_id)?;
    let handle = state
        .temporal
        .get_workflow_handle::<CallOutWorkflow>(call_out_workflow_id(id));
    let unavailable = |e: &dyn std::fmt::Display| ApiError::Unavailable {
        detail: format!("Temporal did not answer: {e}"),
        retry_after_secs: 5,
    };
    let described = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .map_err(|e| unavailable(&e))?;
    if described.status() == WorkflowExecutionStatus::Completed {
        let outcome = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map_err(|e| unavailable(&e))?;
        return Ok(Json(CallOutResponse::with("completed", outcome)));
    }
    let outcome = handle
        .query(
            CallOutWorkflow::outcome,
            (),
            WorkflowQueryOptions::default(),
        )
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(match outcome {
        Some(outcome) => CallOutResponse::with("decided", outcome),
        None => CallOutResponse {
            call_out_id: id,
            caregiver_id,
            status: "in_progress",
            changes: Vec::new(),
        },
    }))
}
