//! `/v1/visits`: creating a visit starts its `VisitWorkflow`; check-in,
//! check-out, cancel, reschedule and manual assignment are workflow updates,
//! refused synchronously by the validators (`commands`, `assignment`).

mod assignment;
mod commands;
mod mine;
pub(crate) mod row;
mod timeline;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use homecare_domain::VisitStatus;
use homecare_domain::contracts::{VisitSnapshot, visit_workflow_id};
use homecare_domain::validation::{self, FieldErrors};
use homecare_workflows::VisitWorkflow;
use serde::{Deserialize, Serialize};
use temporalio_client::WorkflowDescribeOptions;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{idempotency_key, keyed_id};
use crate::workflow_client::current_snapshot;
use crate::{ApiError, AppState};
use homecare_store::billing::has_rate;
use homecare_store::temporal::{start_visit, visit_input};

pub(crate) use assignment::reconsider_unfilled;
use row::COLUMNS;
pub use row::Visit;
pub(crate) use row::find_visit;

/// The payer a visit bills when the request names none (seeded reference data).
pub const PRIVATE_PAY: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);
/// The service a visit or care plan bills when the request names none.
pub const DEFAULT_SERVICE_CODE: &str = "T1019";
/// v5 namespace for visit ids derived from an `Idempotency-Key`.
const IDEMPOTENT_VISIT_NAMESPACE: Uuid = Uuid::from_u128(0x3b6f_0a52_9c1d_4e27_8f40_6a2b_1c9d_7e55);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .merge(commands::router())
        .merge(assignment::router())
        .merge(timeline::router())
        .merge(mine::router())
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

/// A new visit as it will be stored: checked, with its defaults filled in.
#[derive(Debug)]
struct VisitRequest {
    client_id: Uuid,
    scheduled_start: DateTime<Utc>,
    scheduled_end: DateTime<Utc>,
    required_skills: Vec<String>,
    service_code: String,
    payer_id: Uuid,
    caregivers_needed: i16,
}

impl NewVisit {
    fn validate(self) -> Result<VisitRequest, ApiError> {
        let mut errors = FieldErrors::default();
        validation::visit_period(&mut errors, self.scheduled_start, self.scheduled_end);
        validation::skills(&mut errors, "required_skills", &self.required_skills);
        let caregivers_needed = validation::caregivers_needed(&mut errors, self.caregivers_needed);
        errors.into_result()?;
        let mut required_skills = self.required_skills;
        required_skills.sort();
        required_skills.dedup();
        Ok(VisitRequest {
            client_id: self.client_id,
            scheduled_start: self.scheduled_start,
            scheduled_end: self.scheduled_end,
            required_skills,
            service_code: self
                .service_code
                .unwrap_or_else(|| DEFAULT_SERVICE_CODE.to_owned()),
            payer_id: self.payer_id.unwrap_or(PRIVATE_PAY),
            caregivers_needed,
        })
    }
}

impl Visit {
    /// Whether this is the visit `request` asks for (a retry with the same
    /// `Idempotency-Key`).
    fn is(&self, request: &VisitRequest) -> bool {
        // PostgreSQL keeps microseconds; a request may carry nanoseconds.
        let same_instant =
            |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).abs() < chrono::Duration::microseconds(1);
        self.client_id == request.client_id
            && same_instant(self.scheduled_start, request.scheduled_start)
            && same_instant(self.scheduled_end, request.scheduled_end)
            && self.payer_id == request.payer_id
            && self.service_code == request.service_code
            && self.required_skills == request.required_skills
            && self.caregivers_needed == request.caregivers_needed
    }
}

/// Checks what only the database knows: the client, payer and service exist and
/// the payer has a rate for the service on the visit's local date.
async fn check_references(state: &AppState, request: &VisitRequest) -> Result<(), ApiError> {
    let mut conn = state.db.acquire().await?;
    let (client, payer, service): (bool, bool, bool) = sqlx::query_as(
        "select exists (select 1 from clients where id = $1),
                exists (select 1 from payers where id = $2),
                exists (select 1 from service_codes where code = $3)",
    )
    .bind(request.client_id)
    .bind(request.payer_id)
    .bind(&request.service_code)
    .fetch_one(&mut *conn)
    .await?;
    let rate = client
        && payer
        && service
        && has_rate(
            &mut conn,
            request.client_id,
            request.payer_id,
            &request.service_code,
            request.scheduled_start,
        )
        .await?;
    let mut errors = FieldErrors::default();
    errors.check(client, "client_id", "no such client");
    errors.check(payer, "payer_id", "no such payer");
    errors.check(service, "service_code", "unknown service code");
    if client && payer && service {
        errors.check(
            rate,
            "payer_id",
            format!(
                "the payer has no rate for {} on the visit date",
                request.service_code
            ),
        );
    }
    errors.into_result().map_err(Into::into)
}

/// Schedules a visit and starts its workflow.
///
/// With an `Idempotency-Key`, a retried request answers 200 with the visit it
/// created; the same key with a different visit is refused (422).
#[utoipa::path(post, path = "/visits", tag = "visits", operation_id = "create_visit",
    params(crate::idempotency::IdempotencyKey),
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
    let request = new.validate()?;
    check_references(&state, &request).await?;
    let visit_id = match &key {
        Some(key) => keyed_id(&IDEMPOTENT_VISIT_NAMESPACE, key),
        None => Uuid::new_v4(),
    };
    tracing::Span::current().record("visit_id", tracing::field::display(visit_id));

    // The row and the workflow start commit together: if Temporal refuses the
    // start, the insert rolls back and nothing exists.
    let mut tx = state.db.begin().await?;
    let policy = homecare_store::policy::load(&mut tx).await?;
    if !insert_visit(&mut tx, visit_id, &request).await? {
        // Same Idempotency-Key again: answer with the visit it created, provided
        // it is the same request; a key reused for another visit is refused.
        tx.rollback().await?;
        let existing = find_visit(&state, visit_id).await?;
        if !existing.is(&request) {
            return Err(ApiError::field(
                "Idempotency-Key",
                "already used for a different visit; use a new key for a new request",
            ));
        }
        return Ok((StatusCode::OK, Json(existing)));
    }
    let input = visit_input(
        visit_id,
        request.client_id,
        (request.scheduled_start, request.scheduled_end),
        &policy,
        state.config.unfilled_retry_minutes,
    );
    start_visit(&state.temporal, &state.config.task_queue, input)
        .await
        .map_err(|e| ApiError::Unavailable {
            detail: e.to_string(),
            retry_after_secs: 5,
        })?;
    tx.commit().await?;
    tracing::info!("visit created and workflow started");
    Ok((
        StatusCode::CREATED,
        Json(find_visit(&state, visit_id).await?),
    ))
}

/// Inserts the visit's row; false when a row with this id exists already.
async fn insert_visit(
    conn: &mut sqlx::PgConnection,
    visit_id: Uuid,
    request: &VisitRequest,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "insert into visits (id, client_id, payer_id, service_code, scheduled, required_skills, caregivers_needed)
         values ($1, $2, $3, $4, tstzrange($5, $6), $7, $8)
         on conflict (id) do nothing",
    )
    .bind(visit_id)
    .bind(request.client_id)
    .bind(request.payer_id)
    .bind(&request.service_code)
    .bind(request.scheduled_start)
    .bind(request.scheduled_end)
    .bind(&request.required_skills)
    .bind(request.caregivers_needed)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
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
    /// Only visits scheduled to end after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only visits scheduled to start before this instant (RFC 3339); with
    /// `from`, a day board's window.
    pub to: Option<DateTime<Utc>>,
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
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(ApiError::field("to", "must be after from"));
    }
    let visits = sqlx::query_as::<_, Visit>(&format!(
        "select {COLUMNS} from visits
          where ($1::text is null or status::text = $1)
            and ($2::uuid is null or client_id = $2)
            and ($3::uuid is null or caregiver_id = $3
                 or exists (select 1 from visit_staff s where s.visit_id = visits.id and s.caregiver_id = $3))
            and scheduled && tstzrange($6, $7)
          order by lower(scheduled), id limit $4 offset $5"
    ))
    .bind(status)
    .bind(filter.client_id)
    .bind(filter.caregiver_id)
    .bind(limit)
    .bind(offset)
    .bind(filter.from)
    .bind(filter.to)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(visits))
}
