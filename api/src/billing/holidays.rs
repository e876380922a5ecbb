//! `/v1/holidays`: the agency's holiday calendar (holiday multiplier).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_holidays))
        .routes(routes!(set_holiday, remove_holiday))
}

/// A day on the agency's holiday calendar: visits on it bill at the rate's
/// holiday multiplier.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Holiday {
    pub day: NaiveDate,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayName {
    /// 1 to 100 characters (trimmed), no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// The holiday calendar, by date.
#[utoipa::path(get, path = "/holidays", tag = "billing", operation_id = "list_holidays",
    responses((status = 200, description = "Every holiday, by date", body = Vec<Holiday>)))]
async fn list_holidays(State(state): State<AppState>) -> Result<Json<Vec<Holiday>>, ApiError> {
    Ok(Json(
        sqlx::query_as::<_, Holiday>("select day, name from holidays order by day")
            .fetch_all(&state.db)
            .await?,
    ))
}

/// Makes a date a holiday, or renames it.
#[utoipa::path(put, path = "/holidays/{day}", tag = "billing", operation_id = "set_holiday",
    params(("day" = NaiveDate, Path, description = "The (local) date")),
    request_body = HolidayName,
    responses((status = 200, description = "The holiday as saved", body = Holiday)))]
async fn set_holiday(
    State(state): State<AppState>,
    ApiPath(day): ApiPath<NaiveDate>,
    ApiJson(holiday): ApiJson<HolidayName>,
) -> Result<Json<Holiday>, ApiError> {
    let mut errors = FieldErrors::default();
    validation::calendar_date(&mut errors, "day", day);
    validation::text(&mut errors, "name", &holiday.name, 100);
    errors.into_result()?;
    Ok(Json(
        sqlx::query_as::<_, Holiday>(
            "insert into holidays (day, name) values ($1, $2)
             on conflict (day) do update set name = excluded.name returning day, name",
        )
        .bind(day)
        .bind(holiday.name.trim())
        .fetch_one(&state.db)
        .await?,
    ))
}

/// Removes a holiday.
#[utoipa::path(delete, path = "/holidays/{day}", tag = "billing", operation_id = "remove_holiday",
    params(("day" = NaiveDate, Path, description = "The (local) date")),
    responses((status = 204, description = "Removed")))]
async fn remove_holiday(
    State(state): State<AppState>,
    ApiPath(day): ApiPath<NaiveDate>,
) -> Result<StatusCode, ApiError> {
    let removed = sqlx::query("delete from holidays where day = $1")
        .bind(day)
        .execute(&state.db)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(ApiError::NotFound(format!("{day} is not a holiday")));
    }
    Ok(StatusCode::NO_CONTENT)
}
