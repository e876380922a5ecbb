//! Commands on a visit's workflow: check-in and check-out (EVV), cancel and
//! reschedule; refused synchronously by the workflow's update validators.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use homecare_domain::care_plan::{DutyReport, MAX_MOVE_DAYS, check_duty_text};
use homecare_domain::contracts::{CancelCommand, EvvCommand, RescheduleCommand, VisitSnapshot};
use homecare_domain::evv::EvvMethod;
use homecare_domain::validation::{self, FieldErrors};
use homecare_store::care_plans::{
    RememberedMove, remember_move, remove_exception, write_exception,
};
use homecare_workflows::VisitWorkflow;
use serde::Deserialize;
use temporalio_common::HasWorkflowDefinition;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::assignment::reconsider_unfilled;
use super::row::find_visit;
use crate::auth::Principal;
use crate::extract::{ApiJson, ApiPath};
use crate::workflow_client::{Effect, send_update};
use crate::{ApiError, AppState};
use homecare_store::billing::has_rate;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check_in))
        .routes(routes!(check_out))
        .routes(routes!(cancel))
        .routes(routes!(reschedule))
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
    /// At check-out, the care plan's duties done or not (with a reason); a
    /// required duty not reported done raises `missing_duty` under the
    /// agency's policy.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub duties: Vec<DutyReport>,
}

impl EvvRequest {
    fn into_command(self, kind: &str) -> Result<EvvCommand, ApiError> {
        let now = Utc::now();
        let at = self.at.unwrap_or(now);
        let mut errors = FieldErrors::default();
        validation::coordinates(&mut errors, "", self.latitude, self.longitude);
        validation::device_time(&mut errors, "at", at, now);
        errors.check(
            self.duties.is_empty() || kind == "check_out",
            "duties",
            "duties are reported at check-out",
        );
        errors.check(self.duties.len() <= 20, "duties", "at most 20");
        for (i, duty) in self.duties.iter().enumerate() {
            check_duty_text(
                &mut errors,
                &format!("duties[{i}].text"),
                duty.code,
                duty.text.as_deref(),
            );
            if let Some(reason) = &duty.reason {
                validation::text(&mut errors, &format!("duties[{i}].reason"), reason, 200);
            }
            errors.check(
                duty.performed || duty.reason.is_some(),
                &format!("duties[{i}].reason"),
                "say why a duty was not done",
            );
        }
        errors.into_result()?;
        Ok(EvvCommand {
            caregiver_id: self.caregiver_id,
            at,
            latitude: self.latitude,
            longitude: self.longitude,
            method: self.method,
            duties: self.duties,
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
    let command = request.into_command(kind)?;
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
           crate::idempotency::IdempotencyKey),
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
           crate::idempotency::IdempotencyKey),
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
           crate::idempotency::IdempotencyKey),
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
    // Who the cancel frees, read before it does.
    let before = find_visit(&state, id).await?;
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
    reconsider_unfilled(
        &state,
        &before.caregiver_ids,
        before.scheduled_start,
        before.scheduled_end,
    )
    .await;
    Ok(snapshot)
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
           crate::idempotency::IdempotencyKey),
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
    let mut conn = state.db.acquire().await?;
    let rate = has_rate(
        &mut conn,
        visit.client_id,
        visit.payer_id,
        &visit.service_code,
        request.scheduled_start,
    )
    .await?;
    drop(conn);
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
    // A care plan's visit keeps the move: its occurrence's exception says so.
    let span = (request.scheduled_start, request.scheduled_end);
    let remembered = remember_move(&mut *state.db.acquire().await?, id, span).await?;
    match remembered {
        RememberedMove::SpansDays => {
            return Err(ApiError::field(
                "scheduled_end",
                "a care plan's visit stays within one day of the client's; change its pattern instead",
            ));
        }
        RememberedMove::TooFar => {
            return Err(ApiError::field(
                "scheduled_start",
                format!("a care plan's visit moves at most {MAX_MOVE_DAYS} days from its date"),
            ));
        }
        RememberedMove::NotGenerated | RememberedMove::Remembered { .. } => {}
    }
    let sent = send_update(
        &state,
        id,
        &headers,
        VisitWorkflow::reschedule,
        "reschedule",
        command.clone(),
        Effect::Rescheduled(command),
    )
    .await;
    if let (
        Err(_),
        RememberedMove::Remembered {
            pattern_id,
            on,
            previous,
        },
    ) = (&sent, &remembered)
    {
        // Refused (the visit began, say): the occurrence keeps what it had.
        let mut conn = state.db.acquire().await?;
        match previous {
            Some(previous) => write_exception(&mut conn, *pattern_id, previous).await?,
            None => remove_exception(&mut conn, *pattern_id, *on).await?,
        }
    }
    let snapshot = sent?;
    // Whoever held the old slot may now cover an unfilled visit there.
    reconsider_unfilled(
        &state,
        &visit.caregiver_ids,
        visit.scheduled_start,
        visit.scheduled_end,
    )
    .await;
    Ok(snapshot)
}
