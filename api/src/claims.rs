//! `/v1/claims`: approved invoice lines grouped per payer, client and billing
//! period, and their ANSI X12 837P export.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use homecare_store::claims::{self, ClaimRow, ClaimsError, FormedClaims};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, form))
        .routes(routes!(export_837p))
}

impl From<ClaimsError> for ApiError {
    fn from(error: ClaimsError) -> Self {
        match error {
            ClaimsError::PayerNotFound(_) | ClaimsError::NoClaims { .. } => {
                ApiError::NotFound(error.to_string())
            }
            ClaimsError::EmptyPeriod { .. } => ApiError::field("to", error.to_string()),
            ClaimsError::Render(_) => ApiError::Unprocessable {
                code: "claim_data_invalid",
                detail: error.to_string(),
            },
            ClaimsError::Database(e) => e.into(),
        }
    }
}

/// A payer and a billing period (inclusive).
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClaimPeriod {
    /// The payer's id (`payer` is accepted too).
    #[serde(alias = "payer")]
    pub payer_id: Uuid,
    /// The period's first day.
    pub from: NaiveDate,
    /// The period's last day, not before `from`.
    pub to: NaiveDate,
}

/// Forms claims from the payer's unclaimed lines in the period. Idempotent:
/// lines already claimed are not claimed again.
#[utoipa::path(post, path = "/claims", tag = "claims", operation_id = "form_claims",
    request_body = ClaimPeriod,
    responses(
        (status = 201, description = "Claims formed", body = FormedClaims),
        (status = 200, description = "Nothing new to claim (`claims` is empty; `not_claimable` says what was left and why)", body = FormedClaims)))]
async fn form(
    State(state): State<AppState>,
    ApiJson(period): ApiJson<ClaimPeriod>,
) -> Result<(StatusCode, Json<FormedClaims>), ApiError> {
    let formed = claims::form_claims(&state.db, period.payer_id, period.from, period.to).await?;
    let status = if formed.claims.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(formed)))
}

/// The payer's claims whose period lies within `from`..`to`, by number.
#[utoipa::path(get, path = "/claims", tag = "claims", operation_id = "list_claims",
    params(ClaimPeriod),
    responses((status = 200, description = "The claims", body = Vec<ClaimRow>)))]
async fn list(
    State(state): State<AppState>,
    ApiQuery(period): ApiQuery<ClaimPeriod>,
) -> Result<Json<Vec<ClaimRow>>, ApiError> {
    Ok(Json(
        claims::list_claims(&state.db, period.payer_id, period.from, period.to).await?,
    ))
}

/// The payer's claims in the period as one 837P (005010X222A1) interchange.
#[utoipa::path(get, path = "/claims/837p", tag = "claims", operation_id = "export_claims_837p",
    params(ClaimPeriod),
    responses((status = 200, description = "The X12 837P interchange, as a file download",
        content_type = "application/edi-x12", body = String,
        headers(("Content-Disposition" = String,
            description = "`attachment; filename=\"837p-{from}-{to}.x12\"`")))))]
async fn export_837p(
    State(state): State<AppState>,
    ApiQuery(period): ApiQuery<ClaimPeriod>,
) -> Result<Response, ApiError> {
    let file = claims::export_837p(&state.db, period.payer_id, period.from, period.to).await?;
    let mut response = file.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/edi-x12"),
    );
    let name = format!(
        "attachment; filename=\"837p-{}-{}.x12\"",
        period.from, period.to
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
