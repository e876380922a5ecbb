//! Who covers a visit: the candidates ranking with every score term and
//! "why not", a coordinator's manual assignment under the hard rules, and
//! waking the unfilled visits a freed or newly available caregiver could take.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use homecare_domain::VisitStatus;
use homecare_domain::contracts::{ManualAssignment, VisitSnapshot, visit_workflow_id};
use homecare_domain::scheduling::{self, Overrides};
use homecare_domain::validation::{self, FieldErrors};
use homecare_store::scheduling::{LoadedVisit, ProfileFilter, load_profiles, load_visit};
use homecare_workflows::VisitWorkflow;
use serde::{Deserialize, Serialize};
use temporalio_client::WorkflowSignalOptions;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath};
use crate::workflow_client::{Effect, send_update};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(candidates))
        .routes(routes!(assign))
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
    let visit = load_visit(&mut conn, id, false).await?;
    let profiles = load_profiles(
        &mut conn,
        &ProfileFilter::default(),
        visit.need.start,
        visit.need.end,
        &[visit.need.client_id],
    )
    .await?;
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
           crate::idempotency::IdempotencyKey),
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
    check_assignment(&state, id, &request).await?;
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

/// The visit can be reassigned, and the choice meets every hard rule.
async fn check_assignment(
    state: &AppState,
    id: Uuid,
    request: &AssignmentRequest,
) -> Result<(), ApiError> {
    let mut conn = state.db.acquire().await?;
    let visit = load_visit(&mut conn, id, false).await?;
    homecare_domain::visit::assignment_allowed(&homecare_domain::visit::VisitFacts {
        status: visit.status,
        caregiver_id: visit.staff.first().copied(),
        checked_in_at: None,
    })
    .map_err(ApiError::from_rejection)?;
    let profiles = load_profiles(
        &mut conn,
        &ProfileFilter::of(&request.caregiver_ids),
        visit.need.start,
        visit.need.end,
        &[visit.need.client_id],
    )
    .await?;
    let overrides = Overrides {
        weekly_cap: request.override_reason.is_some(),
    };
    let problems = scheduling::check_manual(
        &visit.need,
        &request.caregiver_ids,
        &profiles,
        overrides,
        &state.config.policy,
    )
    .map_err(|refusal| ApiError::field("caregiver_ids", refusal.to_string()))?;
    if problems.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = problems
        .iter()
        .flat_map(|p| p.violations.iter().map(|v| v.code()))
        .collect();
    Err(ApiError::RuleViolations {
        detail: format!("the assignment breaks: {}", codes.join(", ")),
        violations: serde_json::to_value(&problems).map_err(ApiError::internal)?,
    })
}

/// How many unfilled visits one change may look at.
const RECONSIDER_LIMIT: i64 = 500;

/// Wakes the workflows of the unfilled visits in `[from, to)` that one of
/// `caregivers` could take now (they were freed, or their availability grew),
/// so those visits try again at once. Visits none of them could take are left
/// alone: waking them would only make each decide "still nobody". Best
/// effort: each unfilled visit also retries on its own timer.
pub(crate) async fn reconsider_unfilled(
    state: &AppState,
    caregivers: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    if caregivers.is_empty() {
        return;
    }
    let woken = match servable_unfilled(state, caregivers, from, to).await {
        Ok(visits) => visits,
        Err(e) => {
            tracing::warn!(error = %e, "could not list unfilled visits to reconsider");
            return;
        }
    };
    let signals = woken.iter().map(|visit_id| async move {
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
    if !woken.is_empty() {
        tracing::info!(count = woken.len(), "unfilled visits reconsidered");
    }
}

/// The unfilled visits in `[from, to)` one of `caregivers` meets every hard
/// rule for, as the engine would check them.
async fn servable_unfilled(
    state: &AppState,
    caregivers: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Uuid>, ApiError> {
    let mut conn = state.db.acquire().await?;
    // Skills first, with the GIN index: a visit none of them has the skills
    // for is not loaded at all.
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select v.id from visits v
          where v.status = 'unfilled' and v.scheduled && tstzrange($1, $2)
            and exists (select 1 from caregivers c
                         where c.id = any($3) and c.active and c.skills @> v.required_skills)
          order by lower(v.scheduled) limit $4",
    )
    .bind(from)
    .bind(to)
    .bind(caregivers)
    .bind(RECONSIDER_LIMIT)
    .fetch_all(&mut *conn)
    .await?;
    let mut visits: Vec<LoadedVisit> = Vec::with_capacity(ids.len());
    for id in ids {
        visits.push(load_visit(&mut conn, id, false).await?);
    }
    let (Some(start), Some(end)) = (
        visits.iter().map(|v| v.need.start).min(),
        visits.iter().map(|v| v.need.end).max(),
    ) else {
        return Ok(Vec::new());
    };
    let clients: Vec<Uuid> = visits.iter().map(|v| v.need.client_id).collect();
    let profiles = load_profiles(
        &mut conn,
        &ProfileFilter::of(caregivers),
        start,
        end,
        &clients,
    )
    .await?;
    Ok(visits
        .iter()
        .filter(|visit| {
            profiles.iter().any(|p| {
                scheduling::violations(&visit.need, p, &state.config.policy, Overrides::default())
                    .is_empty()
            })
        })
        .map(|visit| visit.need.visit_id)
        .collect())
}
