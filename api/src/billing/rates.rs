//! `/v1/payers/{id}/rates`: a payer's price for a service over a date range.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use homecare_domain::pricing::{BillingUnit, Rounding};
use homecare_domain::validation::{self, FieldErrors};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::payers::ensure_payer;
use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_rates, create_rate))
}

/// A payer's price for a service code over a date range. Amounts are decimal
/// strings.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Rate {
    pub id: Uuid,
    pub payer_id: Uuid,
    pub service_code: String,
    pub unit_rate: Decimal,
    pub effective_from: NaiveDate,
    /// Last day the rate applies; none while open-ended.
    pub effective_to: Option<NaiveDate>,
    #[schema(value_type = homecare_domain::pricing::BillingUnit)]
    pub unit: String,
    #[schema(value_type = RateRounding)]
    pub rounding: String,
    /// Set with `round_up_threshold` only.
    pub round_up_threshold_percent: Option<Decimal>,
    /// HCPCS modifiers billed with the code.
    pub modifiers: Vec<String>,
    pub overtime_multiplier: Decimal,
    pub holiday_multiplier: Decimal,
}

/// How verified minutes round to units: the CMS eight-minute rule, always
/// down, or up once a partial unit reaches `round_up_threshold_percent`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(rename_all = "snake_case")]
enum RateRounding {
    EightMinute,
    RoundDown,
    RoundUpThreshold,
}

/// A two-character HCPCS modifier.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(as = HcpcsModifier, pattern = "^[0-9A-Z]{2}$")]
struct Modifier(String);

/// A decimal amount: a string such as `"7.25"` (as the API answers) or a JSON
/// number.
// `Decimal` deserializes from either (serde's `deserialize_any`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents what a `Decimal` field accepts
enum DecimalInput {
    Text(String),
    Number(f64),
}

/// A new rate. Amounts have at most 4 decimals.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRate {
    /// A known HCPCS service code.
    #[schema(pattern = "^[A-Z][0-9]{4}$")]
    pub service_code: String,
    /// 0 or more, below 100000000.
    #[schema(value_type = DecimalInput)]
    pub unit_rate: Decimal,
    pub effective_from: NaiveDate,
    /// Last day the rate applies (not before `effective_from`); none: open-ended.
    pub effective_to: Option<NaiveDate>,
    /// `quarter_hour` (default), `hour`, `visit` or `day`.
    #[schema(value_type = Option<homecare_domain::pricing::BillingUnit>)]
    pub unit: Option<String>,
    /// `eight_minute` (default), `round_down` or `round_up_threshold`.
    #[schema(value_type = Option<RateRounding>)]
    pub rounding: Option<String>,
    /// Required with `round_up_threshold` (above 0, at most 100), and only with it.
    #[schema(value_type = Option<DecimalInput>)]
    pub round_up_threshold_percent: Option<Decimal>,
    #[serde(default)]
    #[schema(value_type = Vec<Modifier>, max_items = 4)]
    pub modifiers: Vec<String>,
    /// 1 to 10 (default 1).
    #[schema(value_type = Option<DecimalInput>)]
    pub overtime_multiplier: Option<Decimal>,
    /// 1 to 10 (default 1).
    #[schema(value_type = Option<DecimalInput>)]
    pub holiday_multiplier: Option<Decimal>,
}

const RATE_COLUMNS: &str =
    "id, payer_id, service_code, unit_rate, lower(effective) as effective_from,
    (upper(effective) - 1) as effective_to, unit::text as unit, rounding::text as rounding,
    round_up_threshold_percent, modifiers, overtime_multiplier, holiday_multiplier";

/// The payer's rate table, by service code and start date.
#[utoipa::path(get, path = "/payers/{id}/rates", tag = "billing", operation_id = "list_payer_rates",
    params(("id" = Uuid, Path, description = "The payer")),
    responses((status = 200, description = "The payer's rates", body = Vec<Rate>)))]
async fn list_rates(
    State(state): State<AppState>,
    ApiPath(payer_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Rate>>, ApiError> {
    ensure_payer(&state, payer_id).await?;
    Ok(Json(
        sqlx::query_as::<_, Rate>(&format!(
            "select {RATE_COLUMNS} from rates where payer_id = $1 order by service_code, lower(effective)"
        ))
        .bind(payer_id)
        .fetch_all(&state.db)
        .await?,
    ))
}

fn multiplier(errors: &mut FieldErrors, field: &str, value: Decimal) {
    errors.check(
        value >= Decimal::ONE && value <= Decimal::TEN && value.scale() <= 4,
        field,
        "must be 1 to 10 with at most 4 decimals",
    );
}

/// A new rate table entry. Two rates of one payer and code never overlap in time (409).
#[utoipa::path(post, path = "/payers/{id}/rates", tag = "billing", operation_id = "create_payer_rate",
    params(("id" = Uuid, Path, description = "The payer")),
    request_body = NewRate,
    responses((status = 201, description = "Created", body = Rate)))]
async fn create_rate(
    State(state): State<AppState>,
    ApiPath(payer_id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewRate>,
) -> Result<(StatusCode, Json<Rate>), ApiError> {
    let mut errors = FieldErrors::default();
    errors.check(
        new.unit_rate >= Decimal::ZERO
            && new.unit_rate < Decimal::from(100_000_000)
            && new.unit_rate.scale() <= 4,
        "unit_rate",
        "must be 0 or more, below 100000000, with at most 4 decimals",
    );
    validation::calendar_date(&mut errors, "effective_from", new.effective_from);
    if let Some(to) = new.effective_to {
        validation::calendar_date(&mut errors, "effective_to", to);
        errors.check(
            to >= new.effective_from,
            "effective_to",
            "must not be before effective_from",
        );
    }
    let unit = new.unit.as_deref().unwrap_or("quarter_hour");
    errors.check(
        BillingUnit::parse(unit).is_some(),
        "unit",
        "must be quarter_hour, hour, visit or day",
    );
    let rounding = new.rounding.as_deref().unwrap_or("eight_minute");
    errors.check(
        Rounding::parse(rounding, new.round_up_threshold_percent).is_some(),
        "rounding",
        "must be eight_minute or round_down (without a threshold), or round_up_threshold with \
         round_up_threshold_percent above 0 and at most 100",
    );
    errors.check(new.modifiers.len() <= 4, "modifiers", "at most 4");
    errors.check(
        new.modifiers.iter().all(|m| {
            m.len() == 2
                && m.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        }),
        "modifiers",
        "each must be two upper-case letters or digits",
    );
    let overtime = new.overtime_multiplier.unwrap_or(Decimal::ONE);
    let holiday = new.holiday_multiplier.unwrap_or(Decimal::ONE);
    multiplier(&mut errors, "overtime_multiplier", overtime);
    multiplier(&mut errors, "holiday_multiplier", holiday);
    errors.into_result()?;
    ensure_payer(&state, payer_id).await?;
    let known: bool =
        sqlx::query_scalar("select exists (select 1 from service_codes where code = $1)")
            .bind(&new.service_code)
            .fetch_one(&state.db)
            .await?;
    if !known {
        return Err(ApiError::field("service_code", "unknown service code"));
    }
    let rate = sqlx::query_as::<_, Rate>(&format!(
        "insert into rates (id, payer_id, service_code, unit_rate, effective, unit, rounding,
                            round_up_threshold_percent, modifiers, overtime_multiplier, holiday_multiplier)
         values ($1, $2, $3, $4, daterange($5, $6, '[]'), $7::billing_unit, $8::rounding_rule, $9, $10, $11, $12)
         returning {RATE_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(payer_id)
    .bind(&new.service_code)
    .bind(new.unit_rate)
    .bind(new.effective_from)
    .bind(new.effective_to)
    .bind(unit)
    .bind(rounding)
    .bind(new.round_up_threshold_percent)
    .bind(&new.modifiers)
    .bind(overtime)
    .bind(holiday)
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(rate)))
}
