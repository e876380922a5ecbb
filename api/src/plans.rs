//! `/v1/plans`: plan one agency day with the optimizer. `POST` starts a
//! `PlanDayWorkflow` and answers 202 at once; `homecare.plan.completed` on the
//! event feed (or `GET /v1/plans/{id}`) gives the figures when it is applied.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use homecare_domain::contracts::{PlanRequest, plan_workflow_id};
use homecare_domain::validation::{self, FieldErrors};
use homecare_workflows::PlanDayWorkflow;
use serde::{Deserialize, Serialize};
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowStartOptions};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::idempotency_key;
use crate::{ApiError, AppState};

/// v5 namespace for plan ids derived from an `Idempotency-Key`.
const IDEMPOTENT_PLAN_NAMESPACE: Uuid = Uuid::from_u128(0x51e2_c8a0_7b4d_4f19_9e36_0d8a_2f5c_b7e4);
const DEFAULT_TIME_LIMIT_SECONDS: u32 = 10;
const MAX_TIME_LIMIT_SECONDS: u32 = 600;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(show))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    /// The local day to plan.
    pub date: NaiveDate,
    /// The agency's time zone (IANA, e.g. `America/Chicago`): the day runs from
    /// its local midnight.
    pub timezone: String,
    /// How long the optimizer searches (default 10 s, at most 600).
    #[schema(minimum = 1, maximum = 600)]
    pub time_limit_seconds: Option<u32>,
    /// The optimizer's seed (default 1): the same seed on the same data plans the same.
    pub seed: Option<u64>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Plan {
    pub id: Uuid,
    pub plan_date: NaiveDate,
    pub timezone: String,
    #[schema(value_type = PlanStatus)]
    pub status: String,
    pub time_limit_seconds: i32,
    pub visits: Option<i32>,
    pub caregivers: Option<i32>,
    pub travel_minutes: Option<f64>,
    pub lateness_minutes: Option<f64>,
    pub max_lateness_minutes: Option<f64>,
    pub changed: Option<i32>,
    pub unchanged: Option<i32>,
    pub unfilled: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Where a plan is: the optimizer is `running`, then the plan is applied
/// (`completed`) or gave up (`failed`).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the strings the API writes
#[schema(rename_all = "lowercase")]
enum PlanStatus {
    Running,
    Completed,
    Failed,
}

const COLUMNS: &str = "id, plan_date, timezone, status, time_limit_seconds, visits, caregivers,
    travel_minutes, lateness_minutes, max_lateness_minutes, changed, unchanged, unfilled,
    created_at, completed_at";

async fn find(state: &AppState, id: Uuid) -> Result<Plan, ApiError> {
    sqlx::query_as::<_, Plan>(&format!("select {COLUMNS} from plans where id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("plan {id} not found")))
}

/// Starts planning a day with the optimizer.
///
/// Answers 202 at once; `GET /v1/plans/{id}` (or `homecare.plan.completed` on the
/// event feed) gives the figures when the plan is applied. With an
/// `Idempotency-Key`, a retried request answers 200 with the plan it started.
#[utoipa::path(post, path = "/plans", tag = "plans", operation_id = "create_plan",
    params(crate::idempotency::IdempotencyKey),
    request_body = NewPlan,
    responses(
        (status = 202, description = "Accepted: the optimizer is running", body = Plan),
        (status = 200, description = "A retry with the same `Idempotency-Key`: the plan it started", body = Plan)))]
#[tracing::instrument(skip_all, fields(plan_id))]
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewPlan>,
) -> Result<(StatusCode, Json<Plan>), ApiError> {
    let key = idempotency_key(&headers)?;
    let time_limit = new.time_limit_seconds.unwrap_or(DEFAULT_TIME_LIMIT_SECONDS);
    let mut errors = FieldErrors::default();
    validation::timezone(&mut errors, "timezone", &new.timezone);
    validation::calendar_date(&mut errors, "date", new.date);
    errors.check(
        (1..=MAX_TIME_LIMIT_SECONDS).contains(&time_limit),
        "time_limit_seconds",
        format!("must be between 1 and {MAX_TIME_LIMIT_SECONDS}"),
    );
    errors.into_result()?;
    let plan_id = match &key {
        Some(key) => Uuid::new_v5(&IDEMPOTENT_PLAN_NAMESPACE, key.as_bytes()),
        None => Uuid::new_v4(),
    };
    tracing::Span::current().record("plan_id", tracing::field::display(plan_id));
    // The row and the workflow start commit together, as for visits.
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "insert into plans (id, plan_date, timezone, time_limit_seconds) values ($1, $2, $3, $4)
         on conflict (id) do nothing",
    )
    .bind(plan_id)
    .bind(new.date)
    .bind(&new.timezone)
    .bind(time_limit as i32)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        // Same Idempotency-Key again: the plan it started, provided it is the
        // same request; a key reused for another plan is refused (as for visits).
        tx.rollback().await?;
        let existing = find(&state, plan_id).await?;
        if existing.plan_date != new.date
            || existing.timezone != new.timezone
            || existing.time_limit_seconds != time_limit as i32
        {
            return Err(ApiError::field(
                "Idempotency-Key",
                "already used for a different plan; use a new key for a new request",
            ));
        }
        return Ok((StatusCode::OK, Json(existing)));
    }
    let request = PlanRequest {
        plan_id,
        date: new.date,
        timezone: new.timezone.clone(),
        time_limit_seconds: time_limit,
        seed: new.seed.unwrap_or(1),
    };
    let options =
        WorkflowStartOptions::new(state.config.task_queue.clone(), plan_workflow_id(plan_id))
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .build();
    state
        .temporal
        .start_workflow(PlanDayWorkflow::run, request, options)
        .await
        .map_err(|e| ApiError::Unavailable {
            detail: format!("could not start the plan workflow: {e}"),
            retry_after_secs: 5,
        })?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(find(&state, plan_id).await?)))
}

/// One plan, with its figures once applied.
#[utoipa::path(get, path = "/plans/{id}", tag = "plans", operation_id = "show_plan",
    params(("id" = Uuid, Path, description = "The plan")),
    responses((status = 200, description = "The plan", body = Plan)))]
async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(find(&state, id).await?))
}
