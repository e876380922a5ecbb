//! `/v1/claims`: approved invoice lines grouped per payer, client and billing
//! period, and their ANSI X12 837P export.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use homecare_activities::claims::{self, ClaimRow, ClaimsError, FormedClaims};
use serde::Deserialize;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/claims", get(list).post(form))
        .route("/claims/837p", get(export_837p))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimPeriod {
    /// The payer's id (`payer` in query strings).
    #[serde(alias = "payer")]
    pub payer_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Forms claims from the payer's unclaimed lines in the period. Idempotent:
/// lines already claimed are not claimed again.
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

async fn list(
    State(state): State<AppState>,
    ApiQuery(period): ApiQuery<ClaimPeriod>,
) -> Result<Json<Vec<ClaimRow>>, ApiError> {
    Ok(Json(
        claims::list_claims(&state.db, period.payer_id, period.from, period.to).await?,
    ))
}

/// The payer's claims in the period as one 837P (005010X222A1) interchange.
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
