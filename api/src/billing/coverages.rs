//! `/v1/clients/{id}/coverages`: what a payer knows about the client (the
//! subscriber on claims).

use axum::Json;
use axum::extract::State;
use chrono::{NaiveDate, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use homecare_domain::codes::UsState;

use super::fields::{digits, state_code};
use super::payers::ensure_payer;
use crate::evv::ensure_client;
use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_coverages))
        .routes(routes!(set_coverage))
}

/// What the payer knows about the client (the subscriber on claims). Names and
/// the address are printable ASCII without the X12 delimiters `* : ^ ~`;
/// surrounding spaces are trimmed. The client and payer come from the path.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CoverageInput)]
pub struct Coverage {
    #[serde(skip_deserializing)]
    pub client_id: Uuid,
    #[serde(skip_deserializing)]
    pub payer_id: Uuid,
    /// 1 to 80 letters, digits or dashes.
    #[schema(pattern = "^[A-Za-z0-9-]{1,80}$")]
    pub member_id: String,
    /// 1 to 60 characters.
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}]([ -)+-9;-\\]_-}]{0,58}[!-)+-9;-\\]_-}])? *$")]
    pub last_name: String,
    /// 1 to 35 characters.
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}]([ -)+-9;-\\]_-}]{0,33}[!-)+-9;-\\]_-}])? *$")]
    pub first_name: String,
    /// From 1900-01-01 to today.
    pub date_of_birth: NaiveDate,
    /// `F`, `M` or `U`.
    #[schema(value_type = SubscriberGender)]
    pub gender: String,
    /// 1 to 55 characters.
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}]([ -)+-9;-\\]_-}]{0,53}[!-)+-9;-\\]_-}])? *$")]
    pub address_line: String,
    /// 2 to 30 characters.
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}][ -)+-9;-\\]_-}]{0,28}[!-)+-9;-\\]_-}] *$")]
    pub city: String,
    /// USPS state code.
    #[schema(value_type = UsState)]
    pub state: String,
    /// ZIP or ZIP+4: five or nine digits.
    #[schema(pattern = "^[0-9]{5}([0-9]{4})?$")]
    pub postal_code: String,
    /// ICD-10-CM codes without the dot; the first is the principal diagnosis.
    #[schema(value_type = Vec<DiagnosisCode>, min_items = 1, max_items = 12)]
    pub diagnosis_codes: Vec<String>,
}

// What `Coverage` serializes to (with the ids `CoverageInput` leaves out).
/// A client's coverage with a payer, as saved.
#[derive(ToSchema)]
#[allow(dead_code)] // documents what `Coverage` serializes to
#[schema(as = ClientCoverage)]
struct CoverageRecord {
    client_id: Uuid,
    payer_id: Uuid,
    member_id: String,
    last_name: String,
    first_name: String,
    date_of_birth: NaiveDate,
    #[schema(value_type = SubscriberGender)]
    gender: String,
    address_line: String,
    city: String,
    #[schema(value_type = UsState)]
    state: String,
    postal_code: String,
    /// ICD-10-CM codes without the dot; the first is the principal diagnosis.
    diagnosis_codes: Vec<String>,
}

/// The subscriber's gender on claims: female, male or unknown.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(rename_all = "UPPERCASE")]
enum SubscriberGender {
    F,
    M,
    U,
}

/// An ICD-10-CM code without the dot, e.g. `R262`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(pattern = "^[A-Z][0-9][0-9A-Z]{1,5}$")]
struct DiagnosisCode(String);

const COVERAGE_COLUMNS: &str =
    "client_id, payer_id, member_id, last_name, first_name, date_of_birth,
    gender, address_line, city, state, postal_code, diagnosis_codes";

fn icd10(code: &str) -> bool {
    let bytes = code.as_bytes();
    (3..=7).contains(&bytes.len())
        && bytes[0].is_ascii_uppercase()
        && bytes[1].is_ascii_digit()
        && bytes[2..]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// What the payer knows about the client, needed on every claim.
#[utoipa::path(put, path = "/clients/{id}/coverages/{payer_id}", tag = "billing", operation_id = "set_client_coverage",
    params(("id" = Uuid, Path, description = "The client"),
           ("payer_id" = Uuid, Path, description = "The payer")),
    request_body = Coverage,
    responses((status = 200, description = "The coverage as saved", body = CoverageRecord)))]
async fn set_coverage(
    State(state): State<AppState>,
    ApiPath((client_id, payer_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(coverage): ApiJson<Coverage>,
) -> Result<Json<Coverage>, ApiError> {
    let mut errors = FieldErrors::default();
    errors.check(
        (1..=80).contains(&coverage.member_id.len())
            && coverage
                .member_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "member_id",
        "must be 1 to 80 letters, digits or dashes",
    );
    validation::x12_text(&mut errors, "last_name", &coverage.last_name, 60);
    validation::x12_text(&mut errors, "first_name", &coverage.first_name, 35);
    errors.check(
        coverage.date_of_birth <= Utc::now().date_naive()
            && coverage.date_of_birth >= NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date"),
        "date_of_birth",
        "must be between 1900-01-01 and today",
    );
    errors.check(
        ["F", "M", "U"].contains(&coverage.gender.as_str()),
        "gender",
        "must be F, M or U",
    );
    validation::x12_text(&mut errors, "address_line", &coverage.address_line, 55);
    validation::x12_text(&mut errors, "city", &coverage.city, 30);
    errors.check(
        coverage.city.trim().len() >= 2,
        "city",
        "must be at least 2 characters",
    );
    state_code(&mut errors, "state", &coverage.state);
    digits(&mut errors, "postal_code", &coverage.postal_code, &[5, 9]);
    errors.check(
        (1..=12).contains(&coverage.diagnosis_codes.len()),
        "diagnosis_codes",
        "must hold 1 to 12 codes",
    );
    errors.check(
        coverage.diagnosis_codes.iter().all(|c| icd10(c)),
        "diagnosis_codes",
        "each must be an ICD-10-CM code without the dot, e.g. R262",
    );
    errors.into_result()?;
    ensure_client(&state, client_id).await?;
    ensure_payer(&state, payer_id).await?;
    let saved = sqlx::query_as::<_, Coverage>(&format!(
        "insert into client_coverages ({COVERAGE_COLUMNS})
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (client_id, payer_id) do update set
            member_id = excluded.member_id, last_name = excluded.last_name, first_name = excluded.first_name,
            date_of_birth = excluded.date_of_birth, gender = excluded.gender,
            address_line = excluded.address_line, city = excluded.city, state = excluded.state,
            postal_code = excluded.postal_code, diagnosis_codes = excluded.diagnosis_codes
         returning {COVERAGE_COLUMNS}"
    ))
    .bind(client_id)
    .bind(payer_id)
    .bind(&coverage.member_id)
    .bind(coverage.last_name.trim())
    .bind(coverage.first_name.trim())
    .bind(coverage.date_of_birth)
    .bind(&coverage.gender)
    .bind(coverage.address_line.trim())
    .bind(coverage.city.trim())
    .bind(&coverage.state)
    .bind(&coverage.postal_code)
    .bind(&coverage.diagnosis_codes)
    .fetch_one(&state.db)
    .await?;
    Ok(Json(saved))
}

/// The client's coverages, by payer.
#[utoipa::path(get, path = "/clients/{id}/coverages", tag = "billing", operation_id = "list_client_coverages",
    params(("id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "The client's coverages", body = Vec<CoverageRecord>)))]
async fn list_coverages(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Coverage>>, ApiError> {
    ensure_client(&state, client_id).await?;
    Ok(Json(
        sqlx::query_as::<_, Coverage>(&format!(
            "select {COVERAGE_COLUMNS} from client_coverages where client_id = $1 order by payer_id"
        ))
        .bind(client_id)
        .fetch_all(&state.db)
        .await?,
    ))
}
