//! A caregiver's weekly pattern and extra hours: unfilled visits they could
//! now cover are woken at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use homecare_domain::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::profile::{
    CaregiverDetail, Period, RECONSIDER_DAYS, WeeklyHours, check_period, detail, insert_weekly,
    require_caregiver, weekly_rows,
};
use crate::extract::{ApiJson, ApiPath};
use crate::visits::reconsider_unfilled;
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_availability))
        .routes(routes!(add_extra_availability))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WeeklyAvailability)]
pub struct Availability {
    /// The new weekly pattern; empty: no weekly restriction.
    #[schema(max_items = 50)]
    pub weekly: Vec<WeeklyHours>,
}

/// Replaces the weekly pattern. Visits already booked stay booked (a coordinator
/// sees them in the candidates view); unfilled visits are reconsidered at once.
#[utoipa::path(put, path = "/caregivers/{id}/availability", tag = "caregivers", operation_id = "set_caregiver_availability",
    params(("id" = Uuid, Path, description = "The caregiver")),
    request_body = Availability,
    responses((status = 200, description = "The caregiver with the new pattern", body = CaregiverDetail)))]
#[tracing::instrument(skip_all, fields(caregiver_id = %id))]
async fn set_availability(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Availability>,
) -> Result<Json<CaregiverDetail>, ApiError> {
    let mut errors = FieldErrors::default();
    let weekly = weekly_rows(&mut errors, "weekly", &body.weekly);
    errors.into_result()?;
    require_caregiver(&state, id).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query("select id from caregivers where id = $1 for update")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from caregiver_availability where caregiver_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    insert_weekly(&mut tx, id, &weekly).await?;
    tx.commit().await?;
    let now = Utc::now();
    reconsider_unfilled(&state, &[id], now, now + Duration::days(RECONSIDER_DAYS)).await;
    Ok(Json(detail(&state, id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtraAvailability {
    pub id: Uuid,
    pub caregiver_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Extra hours outside the weekly pattern; unfilled visits in them are
/// reconsidered at once.
#[utoipa::path(post, path = "/caregivers/{id}/extra-availability", tag = "caregivers", operation_id = "add_caregiver_extra_availability",
    params(("id" = Uuid, Path, description = "The caregiver")),
    request_body = Period,
    responses((status = 201, description = "Recorded", body = ExtraAvailability)))]
#[tracing::instrument(skip_all, fields(caregiver_id = %id))]
async fn add_extra_availability(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(period): ApiJson<Period>,
) -> Result<(StatusCode, Json<ExtraAvailability>), ApiError> {
    let mut errors = FieldErrors::default();
    check_period(&mut errors, &period, false);
    errors.into_result()?;
    require_caregiver(&state, id).await?;
    let exception_id = Uuid::new_v4();
    sqlx::query(
        "insert into caregiver_exceptions (id, caregiver_id, period, kind, reason)
         values ($1, $2, tstzrange($3, $4), 'available', $5)",
    )
    .bind(exception_id)
    .bind(id)
    .bind(period.start)
    .bind(period.end)
    .bind(period.reason.as_deref().map(str::trim))
    .execute(&state.db)
    .await?;
    reconsider_unfilled(&state, &[id], period.start, period.end).await;
    Ok((
        StatusCode::CREATED,
        Json(ExtraAvailability {
            id: exception_id,
            caregiver_id: id,
            start: period.start,
            end: period.end,
        }),
    ))
}
