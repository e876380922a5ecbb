//! `/v1/payers`: who pays for visits, and how claims name them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use homecare_domain::codes::ClaimFilingIndicator;

use super::fields::identifier;
use crate::extract::ApiJson;
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_payers, create_payer))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Payer {
    pub id: Uuid,
    pub name: String,
    /// The payer's id on claims (ISA08, NM1*PR).
    pub payer_identifier: String,
    #[schema(value_type = ClaimFilingIndicator)]
    pub claim_filing_indicator: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayer {
    /// Unique; 1 to 60 characters, printable ASCII without the X12 delimiters
    /// `* : ^ ~` (surrounding spaces trimmed).
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}]([ -)+-9;-\\]_-}]{0,58}[!-)+-9;-\\]_-}])? *$")]
    pub name: String,
    /// The payer's id on claims (ISA08, NM1*PR): 2 to 15 letters or digits.
    #[schema(pattern = "^[A-Za-z0-9]{2,15}$")]
    pub payer_identifier: String,
    /// SBR09: `MC` Medicaid, `CI` commercial, ...
    #[schema(value_type = ClaimFilingIndicator)]
    pub claim_filing_indicator: String,
}

/// Payers, by name.
#[utoipa::path(get, path = "/payers", tag = "billing", operation_id = "list_payers",
    responses((status = 200, description = "Every payer, by name", body = Vec<Payer>)))]
async fn list_payers(State(state): State<AppState>) -> Result<Json<Vec<Payer>>, ApiError> {
    Ok(Json(
        sqlx::query_as::<_, Payer>(
            "select id, name, payer_identifier, claim_filing_indicator, created_at from payers order by name",
        )
        .fetch_all(&state.db)
        .await?,
    ))
}

/// Registers a payer. Names are unique (409).
#[utoipa::path(post, path = "/payers", tag = "billing", operation_id = "create_payer",
    request_body = NewPayer,
    responses((status = 201, description = "Registered", body = Payer)))]
async fn create_payer(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewPayer>,
) -> Result<(StatusCode, Json<Payer>), ApiError> {
    let mut errors = FieldErrors::default();
    validation::x12_text(&mut errors, "name", &new.name, 60);
    identifier(&mut errors, "payer_identifier", &new.payer_identifier, 15);
    errors.check(
        ClaimFilingIndicator::parse(&new.claim_filing_indicator).is_some(),
        "claim_filing_indicator",
        format!("must be one of {}", ClaimFilingIndicator::list()),
    );
    errors.into_result()?;
    let payer = sqlx::query_as::<_, Payer>(
        "insert into payers (id, name, payer_identifier, claim_filing_indicator) values ($1, $2, $3, $4)
         returning id, name, payer_identifier, claim_filing_indicator, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(new.name.trim())
    .bind(&new.payer_identifier)
    .bind(&new.claim_filing_indicator)
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(payer)))
}

pub(crate) async fn ensure_payer(state: &AppState, payer_id: Uuid) -> Result<(), ApiError> {
    crate::state::ensure_exists(state, "payers", "payer", payer_id).await
}
