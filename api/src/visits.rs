//! `/v1/visits`: creating a visit starts its `VisitWorkflow`; check-in, check-out
//! and cancel are workflow updates, refused synchronously by the validators.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use homecare_activities::scheduling::{ProfileFilter, load_profiles, load_visit};
use homecare_activities::{ActivityFailure, check_manual};
use homecare_domain::contracts::{
    CancelCommand, EvvCommand, ManualAssignment, RescheduleCommand, VISIT_WORKFLOW_VERSION,
    VisitSnapshot, VisitWorkflowInput, visit_workflow_id,
};
use homecare_domain::evv::EvvMethod;
use homecare_domain::scheduling;
use homecare_domain::validation::{self, FieldErrors};
use homecare_domain::{Rejection, VisitStatus};
use homecare_workflows::VisitWorkflow;
use homecare_workflows::visit::{CLIENT_ID, SCHEDULED_START, VISIT_STATUS, search_timestamp};
use serde::{Deserialize, Serialize};
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::{
    RpcOptions, WorkflowDescribeOptions, WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy,
    WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_common::HasWorkflowDefinition;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::search_attributes::SearchAttributes;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

/// The payer a visit bills when the request names none (seeded reference data).
pub const PRIVATE_PAY: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);
const DEFAULT_SERVICE_CODE: &str = "T1019";
/// v5 namespace for visit ids derived from an `Idempotency-Key`.
const IDEMPOTENT_VISIT_NAMESPACE: Uuid = Uuid::from_u128(0x3b6f_0a52_9c1d_4e27_8f40_6a2b_1c9d_7e55);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(check_in))
        .routes(routes!(check_out))
        .routes(routes!(cancel))
        .routes(routes!(candidates))
        .routes(routes!(assign))
        .routes(routes!(reschedule))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVisit {
    pub client_id: Uuid,
    pub scheduled_start: DateTime<Utc>,
    /// After `scheduled_start`, at most 24 hours later.
    pub scheduled_end: DateTime<Utc>,
    /// Lower-case slugs (`hoyer_lift`, `dementia-care`), at most 32.
    #[serde(default)]
    #[schema(max_items = 32, pattern = "^[a-z0-9_-]{1,64}$")]
    pub required_skills: Vec<String>,
    /// A known HCPCS code the payer has a rate for (default `T1019`).
    #[schema(pattern = "^[A-Z][0-9]{4}$")]
    pub service_code: Option<String>,
    /// The payer billed (default: private pay).
    pub payer_id: Option<Uuid>,
    /// 2 for a two-person transfer (two distinct caregivers at once); default 1.
    #[schema(minimum = 1, maximum = 2)]
    pub caregivers_needed: Option<i16>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Visit {
    pub id: Uuid,
    pub client_id: Uuid,
    pub caregiver_id: Option<Uuid>,
    pub payer_id: Uuid,
    pub service_code: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub required_skills: Vec<String>,
    pub caregivers_needed: i16,
    /// Everyone booked, in slot order (the first records EVV).
    pub caregiver_ids: Vec<Uuid>,
    pub assignment_version: i32,
    #[schema(value_type = VisitStatus)]
    pub status: String,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, client_id, caregiver_id, payer_id, service_code,
    lower(scheduled) as scheduled_start, upper(scheduled) as scheduled_end,
    required_skills, caregivers_needed,
    array(select s.caregiver_id from visit_staff s where s.visit_id = visits.id order by s.slot) as caregiver_ids,
    assignment_version, status::text as status, cancel_reason, created_at, updated_at";

pub(crate) async fn find_visit(state: &AppState, id: Uuid) -> Result<Visit, ApiError> {
    sqlx::query_as::<_, Visit>(&format!("select {COLUMNS} from visits where id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("visit {id} not found")))
}

/// The optional `Idempotency-Key` header, as the OpenAPI document states it
/// (`idempotency_key` reads it).
#[derive(utoipa::IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
#[allow(dead_code)] // documents the header
pub(crate) struct IdempotencyKey(
    /// Makes a retry land on the first request's outcome instead of acting
    /// twice: 1–200 printable ASCII characters, e.g. a UUID per logical request.
    #[param(pattern = "^[!-~]{1,200}$")]
    Option<String>,
);

/// An `Idempotency-Key` makes a retried request land on the same visit or update.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1-200 printable ASCII characters",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// Checks what only the database knows: the client, payer and service exist and
/// the payer has a rate for the service on the visit's local date.
async fn check_references(
    state: &AppState,
    new: &NewVisit,
    payer_id: Uuid,
    service_code: &str,
) -> Result<(), ApiError> {
    let (client, payer, service, rate): (bool, bool, bool, bool) = sqlx::query_as(
        "select exists (select 1 from clients where id = $1),
                exists (select 1 from payers where id = $2),
                exists (select 1 from service_codes where code = $3),
                exists (select 1 from rates r join clients c on c.id = $1
                         where r.payer_id = $2 and r.service_code = $3
                           and r.effective @> (($4::timestamptz) at time zone c.timezone)::date)",
    )
    .bind(new.client_id)
    .bind(payer_id)
    .bind(service_code)
    .bind(new.scheduled_start)
    .fetch_one(&state.db)
    .await?;
    let mut errors = FieldErrors::default();
    errors.check(client, "client_id", "no such client");
    errors.check(payer, "payer_id", "no such payer");
    errors.check(service, "service_code", "unknown service code");
    if client && payer && service {
        errors.check(
            rate,
            "payer_id",
            format!("the payer has no rate for {service_code} on the visit date"),
        );
    }
    errors.into_result().map_err(Into::into)
}

/// Schedules a visit and starts its workflow.
///
/// With an `Idempotency-Key`, a retried request answers 200 with the visit it
/// created; the same key with a different visit is refused (422).
#[utoipa::path(post, path = "/visits", tag = "visits", operation_id = "create_visit",
    params(crate::visits::IdempotencyKey),
    request_body = NewVisit,
    responses(
        (status = 201, description = "Scheduled; the workflow is running", body = Visit),
        (status = 200, description = "A retry with the same `Idempotency-Key`: the visit it created", body = Visit)))]
#[tracing::instrument(skip_all, fields(visit_id))]
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewVisit>,
) -> Result<(StatusCode, Json<Visit>), ApiError> {
    let key = idempotency_key(&headers)?;
    let mut errors = FieldErrors::default();
    validation::visit_period(&mut errors, new.scheduled_start, new.scheduled_end);
    validation::skills(&mut errors, "required_skills", &new.required_skills);
    let caregivers_needed = new.caregivers_needed.unwrap_or(1);
    errors.check(
        (1..=2).contains(&caregivers_needed),
        "caregivers_needed",
        "must be 1 or 2",
    );
    errors.into_result()?;
    let payer_id = new.payer_id.unwrap_or(PRIVATE_PAY);
    let service_code = new
        .service_code
        .clone()
        .unwrap_or_else(|| DEFAULT_SERVICE_CODE.to_owned());
    check_references(&state, &new, payer_id, &service_code).await?;

    let visit_id = match &key {
        Some(key) => Uuid::new_v5(&IDEMPOTENT_VISIT_NAMESPACE, key.as_bytes()),
        None => Uuid::new_v4(),
    };
    tracing::Span::current().record("visit_id", tracing::field::display(visit_id));
    let mut required_skills = new.required_skills.clone();
    required_skills.sort();
    required_skills.dedup();

    // The row and the workflow start commit together: if Temporal refuses the
    // start, the insert rolls back and nothing exists.
    let mut tx = state.db.begin().await?;
    let missed_check_out_after_minutes: i32 =
        sqlx::query_scalar("select missed_check_out_after_minutes from agency_settings")
            .fetch_one(&mut *tx)
            .await?;
    let missed_check_out_after_minutes = i64::from(missed_check_out_after_minutes);
    let inserted = sqlx::query(
        "insert into visits (id, client_id, payer_id, service_code, scheduled, required_skills, caregivers_needed)
         values ($1, $2, $3, $4, tstzrange($5, $6), $7, $8)
         on conflict (id) do nothing",
    )
    .bind(visit_id)
    .bind(new.client_id)
    .bind(payer_id)
    .bind(&service_code)
    .bind(new.scheduled_start)
    .bind(new.scheduled_end)
    .bind(&required_skills)
    .bind(caregivers_needed)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        // Same Idempotency-Key again: answer with the visit it created, provided
        // it is the same request; a key reused for another visit is refused.
        tx.rollback().await?;
        let existing = find_visit(&state, visit_id).await?;
        // PostgreSQL keeps microseconds; a request may carry nanoseconds.
        let same_instant =
            |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).abs() < chrono::Duration::microseconds(1);
        let same = existing.client_id == new.client_id
            && same_instant(existing.scheduled_start, new.scheduled_start)
            && same_instant(existing.scheduled_end, new.scheduled_end)
            && existing.payer_id == payer_id
            && existing.service_code == service_code
            && existing.required_skills == required_skills
            && existing.caregivers_needed == caregivers_needed;
        if !same {
            return Err(ApiError::field(
                "Idempotency-Key",
                "already used for a different visit; use a new key for a new request",
            ));
        }
        return Ok((StatusCode::OK, Json(existing)));
    }
    let input = VisitWorkflowInput {
        visit_id,
        client_id: new.client_id,
        scheduled_start: new.scheduled_start,
        scheduled_end: new.scheduled_end,
        late_check_in_after_minutes: state.config.late_check_in_after_minutes,
        unfilled_retry_minutes: state.config.unfilled_retry_minutes,
        missed_check_out_after_minutes,
        version: VISIT_WORKFLOW_VERSION,
    };
    let search_attributes = SearchAttributes::new([
        VISIT_STATUS.value_set(VisitStatus::Scheduled.as_str().to_owned()),
        CLIENT_ID.value_set(new.client_id.to_string()),
        SCHEDULED_START.value_set(search_timestamp(new.scheduled_start)),
    ]);
    let options =
        WorkflowStartOptions::new(state.config.task_queue.clone(), visit_workflow_id(visit_id))
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .search_attributes(search_attributes)
            .build();
    state
        .temporal
        .start_workflow(VisitWorkflow::run, input, options)
        .await
        .map_err(|e| ApiError::Unavailable {
            detail: format!("could not start the visit workflow: {e}"),
            retry_after_secs: 5,
        })?;
    tx.commit().await?;
    tracing::info!("visit created and workflow started");
    Ok((
        StatusCode::CREATED,
        Json(find_visit(&state, visit_id).await?),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VisitDetail {
    #[serde(flatten)]
    pub visit: Visit,
    pub workflow: WorkflowView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    pub workflow_id: String,
    /// Temporal's execution status (`Running`, `Completed`, ...), if reachable.
    pub execution_status: Option<String>,
    /// The workflow's own view (`status` query), if a worker answered in time.
    pub snapshot: Option<VisitSnapshot>,
}

/// One visit, with its workflow's current view when a worker answers in time.
#[utoipa::path(get, path = "/visits/{id}", tag = "visits", operation_id = "show_visit",
    params(("id" = Uuid, Path, description = "The visit")),
    responses((status = 200, description = "The visit", body = VisitDetail)))]
async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<VisitDetail>, ApiError> {
    let visit = find_visit(&state, id).await?;
    principal.may_see_visit(&visit.caregiver_ids)?;
    let workflow_id = visit_workflow_id(id);
    let handle = state
        .temporal
        .get_workflow_handle::<VisitWorkflow>(workflow_id.clone());
    let execution_status = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .ok()
        .map(|d| format!("{:?}", d.status()));
    let snapshot = current_snapshot(&state, id).await;
    Ok(Json(VisitDetail {
        visit,
        workflow: WorkflowView {
            workflow_id,
            execution_status,
            snapshot,
        },
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitFilter {
    /// Only visits in this state.
    #[param(value_type = Option<VisitStatus>)]
    pub status: Option<String>,
    /// Only this client's visits.
    pub client_id: Option<Uuid>,
    /// Only visits this caregiver is booked on (a caregiver's token sees only
    /// their own).
    pub caregiver_id: Option<Uuid>,
}

/// Visits, earliest scheduled start first.
#[utoipa::path(get, path = "/visits", tag = "visits", operation_id = "list_visits",
    params(VisitFilter, Page),
    responses((status = 200, description = "A page of visits", body = Vec<Visit>)))]
async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(mut filter): ApiQuery<VisitFilter>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<Visit>>, ApiError> {
    // A caregiver lists their own visits, whatever the filter asks.
    if let Some(own) = principal.own_caregiver() {
        if let Some(asked) = filter.caregiver_id {
            principal.may_act_for(asked)?;
        }
        filter.caregiver_id = Some(own);
    }
    let (limit, offset) = page.bounds()?;
    let status = match &filter.status {
        Some(s) => Some(
            s.parse::<VisitStatus>()
                .map_err(|e| ApiError::field("status", e.to_string()))?
                .as_str(),
        ),
        None => None,
    };
    let visits = sqlx::query_as::<_, Visit>(&format!(
        "select {COLUMNS} from visits
          where ($1::text is null or status::text = $1)
            and ($2::uuid is null or client_id = $2)
            and ($3::uuid is null or caregiver_id = $3
                 or exists (select 1 from visit_staff s where s.visit_id = visits.id and s.caregiver_id = $3))
          order by lower(scheduled), id limit $4 offset $5"
    ))
    .bind(status)
    .bind(filter.client_id)
    .bind(filter.caregiver_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(visits))
}

/// What a caregiver's device sends at check-in and check-out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvvRequest {
    pub caregiver_id: Uuid,
    /// When it happened on the device; defaults to now. At most 5 minutes ahead
    /// of the server's clock.
    pub at: Option<DateTime<Utc>>,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
    /// `gps` (the default) or `manual`: a coordinator entering the time, which
    /// raises a `manual_time_entry` exception.
    #[serde(default)]
    pub method: EvvMethod,
}

impl EvvRequest {
    fn into_command(self) -> Result<EvvCommand, ApiError> {
        let now = Utc::now();
        let at = self.at.unwrap_or(now);
        let mut errors = FieldErrors::default();
        validation::coordinates(&mut errors, "", self.latitude, self.longitude);
        validation::device_time(&mut errors, "at", at, now);
        errors.into_result()?;
        Ok(EvvCommand {
            caregiver_id: self.caregiver_id,
            at,
            latitude: self.latitude,
            longitude: self.longitude,
            method: self.method,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why the visit is cancelled (1-200 characters, no control characters).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

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
async fn current_snapshot(state: &AppState, visit_id: Uuid) -> Option<VisitSnapshot> {
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

/// Check-in and check-out: validate the device's report, send it to the workflow.
async fn record_evv<U>(
    state: &AppState,
    visit_id: Uuid,
    headers: &HeaderMap,
    request: EvvRequest,
    update: U,
    kind: &'static str,
) -> Result<Json<VisitSnapshot>, ApiError>
where
    U: temporalio_common::UpdateDefinition<
            Workflow = <VisitWorkflow as HasWorkflowDefinition>::Run,
            Input = EvvCommand,
            Output = VisitSnapshot,
        >,
{
    let command = request.into_command()?;
    let effect = Effect::Evv {
        kind,
        command: command.clone(),
    };
    let name = kind.replace('_', "-");
    send_update(state, visit_id, headers, update, &name, command, effect).await
}

/// A caregiver records EVV for themselves, on a visit they are booked on, from
/// their device (GPS); coordinators and admins may also enter times by hand.
async fn may_record_evv(
    state: &AppState,
    principal: &Principal,
    visit_id: Uuid,
    request: &EvvRequest,
) -> Result<(), ApiError> {
    principal.may_act_for(request.caregiver_id)?;
    if principal.own_caregiver().is_some() {
        principal.may_see_visit(&find_visit(state, visit_id).await?.caregiver_ids)?;
        if request.method == EvvMethod::Manual {
            return Err(ApiError::Forbidden(
                "manual time entry is for coordinators; a caregiver's device sends its GPS"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

/// Records the check-in (EVV): the caregiver, the time and the place.
#[utoipa::path(post, path = "/visits/{id}/check-in", tag = "visits", operation_id = "check_in_visit",
    params(("id" = Uuid, Path, description = "The visit"),
           crate::visits::IdempotencyKey),
    request_body = EvvRequest,
    responses((status = 200, description = "The visit as its workflow now sees it", body = VisitSnapshot)))]
#[tracing::instrument(skip_all, fields(visit_id = %id))]
async fn check_in(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<EvvRequest>,
) -> Result<Json<VisitSnapshot>, ApiError> {
    may_record_evv(&state, &principal, id, &request).await?;
    record_evv(
        &state,
        id,
        &headers,
        request,
        VisitWorkflow::check_in,
        "check_in",
    )
    .await
}

/// Records the check-out (EVV).
///
/// The visit completes and bills unless an exception holds it.
#[utoipa::path(post, path = "/visits/{id}/check-out", tag = "visits", operation_id = "check_out_visit",
    params(("id" = Uuid, Path, description = "The visit"),
           crate::visits::IdempotencyKey),
    request_body = EvvRequest,
    responses((status = 200, description = "The visit as its workflow now sees it", body = VisitSnapshot)))]
#[tracing::instrument(skip_all, fields(visit_id = %id))]
async fn check_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<EvvRequest>,
) -> Result<Json<VisitSnapshot>, ApiError> {
    may_record_evv(&state, &principal, id, &request).await?;
    record_evv(
        &state,
        id,
        &headers,
        request,
        VisitWorkflow::check_out,
        "check_out",
    )
    .await
}

/// Cancels a visit that has not completed; its caregivers are free again.
#[utoipa::path(post, path = "/visits/{id}/cancel", tag = "visits", operation_id = "cancel_visit",
    params(("id" = Uuid, Path, description = "The visit"),
           crate::visits::IdempotencyKey),
    request_body = CancelRequest,
    responses((status = 200, description = "The cancelled visit as its workflow sees it", body = VisitSnapshot)))]
#[tracing::instrument(skip_all, fields(visit_id = %id))]
async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CancelRequest>,
) -> Result<Json<VisitSnapshot>, ApiError> {
    let mut errors = FieldErrors::default();
    validation::name(&mut errors, "reason", &request.reason);
    errors.into_result()?;
    let command = CancelCommand {
        reason: request.reason.trim().to_owned(),
    };
    let snapshot = send_update(
        &state,
        id,
        &headers,
        VisitWorkflow::cancel,
        "cancel",
        command,
        Effect::Cancelled,
    )
    .await?;
    // The cancelled visit's caregivers are free again in its period.
    let visit = find_visit(&state, id).await?;
    reconsider_unfilled(&state, visit.scheduled_start, visit.scheduled_end).await;
    Ok(snapshot)
}

/// Wakes the workflows of unfilled visits in `[from, to)` so they try again now
/// (availability changed, a caregiver was freed or added). Best effort: each
/// visit also retries on its own timer.
pub(crate) async fn reconsider_unfilled(state: &AppState, from: DateTime<Utc>, to: DateTime<Utc>) {
    let unfilled: Vec<Uuid> = match sqlx::query_scalar(
        "select id from visits where status = 'unfilled' and scheduled && tstzrange($1, $2)
          order by lower(scheduled) limit 500",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&state.db)
    .await
    {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "could not list unfilled visits to reconsider");
            return;
        }
    };
    let signals = unfilled.iter().map(|visit_id| async move {
        let handle = state
            .temporal
            .get_workflow_handle::<VisitWorkflow>(visit_workflow_id(*visit_id));
        if let Err(e) = handle
            .signal(
                VisitWorkflow::reconsider,
                (),
                WorkflowSignalOptions::default(),
            )
            .await
        {
            tracing::warn!(%visit_id, error = %e, "could not wake an unfilled visit");
        }
    });
    futures::future::join_all(signals).await;
    if !unfilled.is_empty() {
        tracing::info!(count = unfilled.len(), "unfilled visits reconsidered");
    }
}

/// Ranks every caregiver for the visit.
///
/// The eligible ones best first with each score term, and every ineligible one
/// with the rules that exclude them.
#[utoipa::path(get, path = "/visits/{id}/candidates", tag = "visits", operation_id = "list_visit_candidates",
    params(("id" = Uuid, Path, description = "The visit")),
    responses((status = 200, description = "The ranking", body = CandidatesView)))]
#[tracing::instrument(skip_all, fields(visit_id = %id))]
async fn candidates(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CandidatesView>, ApiError> {
    let mut conn = state.db.acquire().await?;
    let visit = load_visit(&mut conn, id, false)
        .await
        .map_err(activity_error)?;
    let profiles = load_profiles(
        &mut conn,
        &ProfileFilter::default(),
        visit.need.start,
        visit.need.end,
        &[visit.need.client_id],
    )
    .await
    .map_err(activity_error)?;
    let ranking = scheduling::rank(&visit.need, &profiles, &state.config.policy);
    Ok(Json(CandidatesView {
        visit_id: id,
        status: visit.status.as_str(),
        caregivers_needed: visit.need.caregivers_needed,
        current: visit.staff,
        ranking,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatesView {
    pub visit_id: Uuid,
    #[schema(value_type = VisitStatus)]
    pub status: &'static str,
    #[schema(minimum = 1, maximum = 2)]
    pub caregivers_needed: u8,
    /// The caregivers booked now, in slot order.
    pub current: Vec<Uuid>,
    #[serde(flatten)]
    pub ranking: scheduling::Ranking,
}

fn activity_error(error: ActivityFailure) -> ApiError {
    match error {
        ActivityFailure::VisitNotFound(id) => ApiError::NotFound(format!("visit {id} not found")),
        ActivityFailure::Database(e) => e.into(),
        ActivityFailure::Rejected(detail) => ApiError::field("caregiver_ids", detail),
        other => ApiError::internal(other),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRequest {
    /// One caregiver, or two for a two-person visit (the first records EVV).
    #[schema(min_items = 1, max_items = 2)]
    pub caregiver_ids: Vec<Uuid>,
    /// Exceeds the weekly hours cap; recorded with the decision.
    #[schema(min_length = 1, max_length = 200)]
    pub override_reason: Option<String>,
}

/// Assigns the visit's caregivers by hand.
///
/// A coordinator assigns by hand. Checked against every hard rule first (409 with
/// each violated rule); the workflow's activity checks again in the transaction
/// that books, so a concurrent booking cannot slip past.
#[utoipa::path(put, path = "/visits/{id}/assignment", tag = "visits", operation_id = "assign_visit",
    params(("id" = Uuid, Path, description = "The visit"),
           crate::visits::IdempotencyKey),
    request_body = AssignmentRequest,
    responses((status = 200, description = "The visit as its workflow now sees it", body = VisitSnapshot)))]
#[tracing::instrument(skip_all, fields(visit_id = %id))]
async fn assign(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<AssignmentRequest>,
) -> Result<Json<VisitSnapshot>, ApiError> {
    let mut errors = FieldErrors::default();
    errors.check(
        (1..=2).contains(&request.caregiver_ids.len()),
        "caregiver_ids",
        "one or two caregivers",
    );
    if let Some(reason) = &request.override_reason {
        validation::name(&mut errors, "override_reason", reason);
    }
    errors.into_result()?;
    let mut conn = state.db.acquire().await?;
    let visit = load_visit(&mut conn, id, false)
        .await
        .map_err(activity_error)?;
    if let Err(rejection) =
        homecare_domain::visit::assignment_allowed(&homecare_domain::visit::VisitFacts {
            status: visit.status,
            caregiver_id: visit.staff.first().copied(),
            checked_in_at: None,
        })
    {
        return Err(ApiError::from_rejection(rejection));
    }
    let problems = check_manual(
        &mut conn,
        &visit,
        &request.caregiver_ids,
        request.override_reason.is_some(),
        &state.config.policy,
    )
    .await
    .map_err(activity_error)?;
    drop(conn);
    if !problems.is_empty() {
        let codes: Vec<String> = problems
            .iter()
            .flat_map(|p| p.violations.iter().map(|v| v.code().to_owned()))
            .collect();
        return Err(ApiError::RuleViolations {
            detail: format!("the assignment breaks: {}", codes.join(", ")),
            violations: serde_json::to_value(&problems).map_err(ApiError::internal)?,
        });
    }
    let assignment = ManualAssignment {
        caregiver_ids: request.caregiver_ids.clone(),
        override_reason: request.override_reason.map(|r| r.trim().to_owned()),
    };
    send_update(
        &state,
        id,
        &headers,
        VisitWorkflow::assign_caregivers,
        "assign",
        assignment,
        Effect::Assigned(request.caregiver_ids),
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub scheduled_start: DateTime<Utc>,
    /// After `scheduled_start`, at most 24 hours later.
    pub scheduled_end: DateTime<Utc>,
}

/// Moves a visit that has not started to new times.
///
/// The caregivers stay if they still meet every hard rule at the new time;
/// otherwise the engine decides again.
#[utoipa::path(post, path = "/visits/{id}/reschedule", tag = "visits", operation_id = "reschedule_visit",
    params(("id" = Uuid, Path, description = "The visit"),
           crate::visits::IdempotencyKey),
    request_body = RescheduleRequest,
    responses((status = 200, description = "The visit as its workflow now sees it", body = VisitSnapshot)))]
#[tracing::instrument(skip_all, fields(visit_id = %id))]
async fn reschedule(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RescheduleRequest>,
) -> Result<Json<VisitSnapshot>, ApiError> {
    let mut errors = FieldErrors::default();
    validation::visit_period(&mut errors, request.scheduled_start, request.scheduled_end);
    errors.into_result()?;
    let visit = find_visit(&state, id).await?;
    let rate: bool = sqlx::query_scalar(
        "select exists (select 1 from rates r join clients c on c.id = $1
                 where r.payer_id = $2 and r.service_code = $3
                   and r.effective @> (($4::timestamptz) at time zone c.timezone)::date)",
    )
    .bind(visit.client_id)
    .bind(visit.payer_id)
    .bind(&visit.service_code)
    .bind(request.scheduled_start)
    .fetch_one(&state.db)
    .await?;
    if !rate {
        return Err(ApiError::field(
            "scheduled_start",
            "the visit's payer has no rate for its service on that date",
        ));
    }
    let command = RescheduleCommand {
        scheduled_start: request.scheduled_start,
        scheduled_end: request.scheduled_end,
    };
    let snapshot = send_update(
        &state,
        id,
        &headers,
        VisitWorkflow::reschedule,
        "reschedule",
        command.clone(),
        Effect::Rescheduled(command),
    )
    .await?;
    // Whoever held the old slot may now cover an unfilled visit there.
    reconsider_unfilled(&state, visit.scheduled_start, visit.scheduled_end).await;
    Ok(snapshot)
}
