//! Billing reference data: the agency (billing provider and EVV policy), its
//! holiday calendar, payers and their rate tables, clients' coverage and
//! authorizations (with the units left).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use homecare_domain::pricing::{BillingUnit, Rounding};
use homecare_domain::validation::{self, FieldErrors};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::evv::ensure_client;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_agency, update_agency))
        .routes(routes!(list_holidays))
        .routes(routes!(set_holiday, remove_holiday))
        .routes(routes!(list_payers, create_payer))
        .routes(routes!(list_rates, create_rate))
        .routes(routes!(list_authorizations, create_authorization))
        .routes(routes!(update_authorization))
        .routes(routes!(list_coverages))
        .routes(routes!(set_coverage))
}

fn digits(errors: &mut FieldErrors, field: &str, value: &str, lengths: &[usize]) {
    errors.check(
        lengths.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()),
        field,
        format!(
            "must be {} digits",
            lengths
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    );
}

fn state_code(errors: &mut FieldErrors, field: &str, value: &str) {
    errors.check(
        value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()),
        field,
        "must be a two-letter upper-case state code",
    );
}

fn identifier(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    errors.check(
        (2..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()),
        field,
        format!("must be 2 to {max} letters or digits"),
    );
}

/// The agency as billing provider on claims, and its EVV policy. Text that goes
/// on claims is printable ASCII without the X12 delimiters `* : ^ ~`; surrounding
/// spaces are trimmed.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    /// 1 to 60 characters.
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}]([ -)+-9;-\\]_-}]{0,58}[!-)+-9;-\\]_-}])? *$")]
    pub name: String,
    /// Ten digits, the last a Luhn check digit.
    #[schema(pattern = "^[0-9]{10}$")]
    pub npi: String,
    /// The federal tax id (EIN), nine digits.
    #[schema(pattern = "^[0-9]{9}$")]
    pub tax_id: String,
    /// A provider taxonomy code: ten characters ending in `X`.
    #[schema(pattern = "^[0-9A-Z]{9}X$")]
    pub taxonomy: String,
    /// 1 to 55 characters.
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}]([ -)+-9;-\\]_-}]{0,53}[!-)+-9;-\\]_-}])? *$")]
    pub address_line: String,
    /// 2 to 30 characters.
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}][ -)+-9;-\\]_-}]{0,28}[!-)+-9;-\\]_-}] *$")]
    pub city: String,
    /// Two-letter state code.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub state: String,
    /// ZIP+4, nine digits.
    #[schema(pattern = "^[0-9]{9}$")]
    pub postal_code: String,
    /// The agency's id with the clearinghouse (ISA06): 2 to 15 letters or digits.
    #[schema(pattern = "^[A-Za-z0-9]{2,15}$")]
    pub submitter_id: String,
    /// 1 to 60 characters.
    #[schema(pattern = "^ *[!-)+-9;-\\]_-}]([ -)+-9;-\\]_-}]{0,58}[!-)+-9;-\\]_-}])? *$")]
    pub contact_name: String,
    /// Ten digits.
    #[schema(pattern = "^[0-9]{10}$")]
    pub contact_phone: String,
    /// ISA15: production (`P`) or test (`T`) claims.
    pub claims_production: bool,
    /// A check-in or check-out farther than this from the client is an exception.
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub geofence_radius_meters: f64,
    #[schema(minimum = 0, maximum = 1440)]
    pub late_check_in_minutes: i32,
    #[schema(minimum = 0, maximum = 1440)]
    pub early_check_out_minutes: i32,
    #[schema(minimum = 0, maximum = 1440)]
    pub over_scheduled_minutes: i32,
    /// Applies to visits created from now on.
    #[schema(minimum = 1, maximum = 10080)]
    pub missed_check_out_after_minutes: i32,
    #[schema(minimum = 0, maximum = 10080)]
    pub overtime_after_minutes_per_week: i32,
}

const AGENCY_COLUMNS: &str = "name, npi, tax_id, taxonomy, address_line, city, state, postal_code,
    submitter_id, contact_name, contact_phone, claims_production, geofence_radius_meters,
    late_check_in_minutes, early_check_out_minutes, over_scheduled_minutes,
    missed_check_out_after_minutes, overtime_after_minutes_per_week";

/// The agency's settings.
#[utoipa::path(get, path = "/agency", tag = "billing", operation_id = "show_agency",
    responses((status = 200, description = "The agency's settings", body = Agency)))]
async fn show_agency(State(state): State<AppState>) -> Result<Json<Agency>, ApiError> {
    Ok(Json(
        sqlx::query_as::<_, Agency>(&format!("select {AGENCY_COLUMNS} from agency_settings"))
            .fetch_one(&state.db)
            .await?,
    ))
}

/// Replaces the agency's settings. The missed check-out limit applies to
/// visits created from now on; the rest applies at once.
#[utoipa::path(put, path = "/agency", tag = "billing", operation_id = "update_agency",
    request_body = Agency,
    responses((status = 200, description = "The settings as saved", body = Agency)))]
async fn update_agency(
    State(state): State<AppState>,
    ApiJson(agency): ApiJson<Agency>,
) -> Result<Json<Agency>, ApiError> {
    let mut errors = FieldErrors::default();
    validation::x12_text(&mut errors, "name", &agency.name, 60);
    errors.check(
        homecare_domain::x12::npi_is_valid(&agency.npi),
        "npi",
        "must be a valid ten-digit NPI (Luhn check digit)",
    );
    digits(&mut errors, "tax_id", &agency.tax_id, &[9]);
    errors.check(
        agency.taxonomy.len() == 10
            && agency.taxonomy.ends_with('X')
            && agency
                .taxonomy
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
        "taxonomy",
        "must be a ten-character provider taxonomy code ending in X",
    );
    validation::x12_text(&mut errors, "address_line", &agency.address_line, 55);
    validation::x12_text(&mut errors, "city", &agency.city, 30);
    state_code(&mut errors, "state", &agency.state);
    digits(&mut errors, "postal_code", &agency.postal_code, &[9]);
    identifier(&mut errors, "submitter_id", &agency.submitter_id, 15);
    validation::x12_text(&mut errors, "contact_name", &agency.contact_name, 60);
    digits(&mut errors, "contact_phone", &agency.contact_phone, &[10]);
    errors.check(
        agency.geofence_radius_meters.is_finite()
            && agency.geofence_radius_meters > 0.0
            && agency.geofence_radius_meters <= 100_000.0,
        "geofence_radius_meters",
        "must be more than 0 and at most 100000",
    );
    for (field, value, max) in [
        ("late_check_in_minutes", agency.late_check_in_minutes, 1440),
        (
            "early_check_out_minutes",
            agency.early_check_out_minutes,
            1440,
        ),
        (
            "over_scheduled_minutes",
            agency.over_scheduled_minutes,
            1440,
        ),
        (
            "overtime_after_minutes_per_week",
            agency.overtime_after_minutes_per_week,
            10080,
        ),
    ] {
        errors.check(
            (0..=max).contains(&value),
            field,
            format!("must be 0 to {max}"),
        );
    }
    errors.check(
        (1..=10080).contains(&agency.missed_check_out_after_minutes),
        "missed_check_out_after_minutes",
        "must be 1 to 10080",
    );
    errors.into_result()?;
    let updated = sqlx::query_as::<_, Agency>(&format!(
        "update agency_settings set name = $1, npi = $2, tax_id = $3, taxonomy = $4, address_line = $5,
                city = $6, state = $7, postal_code = $8, submitter_id = $9, contact_name = $10,
                contact_phone = $11, claims_production = $12, geofence_radius_meters = $13,
                late_check_in_minutes = $14, early_check_out_minutes = $15, over_scheduled_minutes = $16,
                missed_check_out_after_minutes = $17, overtime_after_minutes_per_week = $18, updated_at = now()
         returning {AGENCY_COLUMNS}"
    ))
    .bind(agency.name.trim())
    .bind(&agency.npi)
    .bind(&agency.tax_id)
    .bind(&agency.taxonomy)
    .bind(agency.address_line.trim())
    .bind(agency.city.trim())
    .bind(&agency.state)
    .bind(&agency.postal_code)
    .bind(&agency.submitter_id)
    .bind(agency.contact_name.trim())
    .bind(&agency.contact_phone)
    .bind(agency.claims_production)
    .bind(agency.geofence_radius_meters)
    .bind(agency.late_check_in_minutes)
    .bind(agency.early_check_out_minutes)
    .bind(agency.over_scheduled_minutes)
    .bind(agency.missed_check_out_after_minutes)
    .bind(agency.overtime_after_minutes_per_week)
    .fetch_one(&state.db)
    .await?;
    Ok(Json(updated))
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

/// SBR09, the claim filing indicator: the kind of plan the payer is.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
enum ClaimFilingIndicator {
    #[schema(rename = "09")]
    SelfPay,
    #[schema(rename = "11")]
    OtherNonFederal,
    #[schema(rename = "AM")]
    AutomobileMedical,
    #[schema(rename = "BL")]
    BlueCrossBlueShield,
    #[schema(rename = "CI")]
    Commercial,
    #[schema(rename = "DS")]
    Disability,
    #[schema(rename = "HM")]
    Hmo,
    #[schema(rename = "MA")]
    MedicarePartA,
    #[schema(rename = "MB")]
    MedicarePartB,
    #[schema(rename = "MC")]
    Medicaid,
    #[schema(rename = "OF")]
    OtherFederal,
    #[schema(rename = "TV")]
    TitleV,
    #[schema(rename = "VA")]
    VeteransAffairs,
    #[schema(rename = "WC")]
    WorkersCompensation,
    #[schema(rename = "ZZ")]
    MutuallyDefined,
}

const FILING_INDICATORS: [&str; 15] = [
    "09", "11", "AM", "BL", "CI", "DS", "HM", "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ",
];

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
        FILING_INDICATORS.contains(&new.claim_filing_indicator.as_str()),
        "claim_filing_indicator",
        format!("must be one of {}", FILING_INDICATORS.join(", ")),
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

async fn ensure_payer(state: &AppState, payer_id: Uuid) -> Result<(), ApiError> {
    crate::ensure_exists(state, "payers", "payer", payer_id).await
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

/// An authorization with the units used and left in one of its periods.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct AuthorizationView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub payer_id: Uuid,
    pub service_code: String,
    pub valid_from: NaiveDate,
    /// The last day (inclusive).
    pub valid_to: NaiveDate,
    /// Units authorized per period.
    pub units: i32,
    #[schema(value_type = AuthorizationPeriod)]
    pub per: String,
    pub reference: Option<String>,
    /// The week or month containing `on` (within the authorization).
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub used_units: i64,
    pub remaining_units: i64,
}

/// The period an authorization counts units in: a week (Monday to Sunday) or a
/// calendar month.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(rename_all = "lowercase")]
enum AuthorizationPeriod {
    Week,
    Month,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAuthorization {
    pub payer_id: Uuid,
    /// A known HCPCS service code.
    #[schema(pattern = "^[A-Z][0-9]{4}$")]
    pub service_code: String,
    pub valid_from: NaiveDate,
    /// The last day (inclusive), not before `valid_from`.
    pub valid_to: NaiveDate,
    /// Units authorized per period.
    #[schema(minimum = 1, maximum = 100000)]
    pub units: i32,
    /// `week` (Monday to Sunday) or `month`.
    #[schema(value_type = AuthorizationPeriod)]
    pub per: String,
    /// The payer's authorization number: 1 to 50 characters (trimmed).
    #[schema(min_length = 1, max_length = 50)]
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnDate {
    /// The day whose period to report; defaults to today (UTC).
    pub on: Option<NaiveDate>,
}

async fn authorizations(
    state: &AppState,
    client_id: Uuid,
    on: NaiveDate,
    id: Option<Uuid>,
) -> Result<Vec<AuthorizationView>, ApiError> {
    Ok(sqlx::query_as::<_, AuthorizationView>(
        "with p as (
            select a.*, greatest(lower(a.valid), lower(r.period)) as period_start,
                   least(upper(a.valid), upper(r.period)) - 1 as period_end
              from authorizations a, lateral (select authorization_period(a.per, $2::date) as period) r
             where a.client_id = $1 and ($3::uuid is null or a.id = $3))
         select p.id, p.client_id, p.payer_id, p.service_code, lower(p.valid) as valid_from,
                upper(p.valid) - 1 as valid_to, p.units, p.per::text as per, p.reference,
                p.period_start, p.period_end, u.used as used_units, p.units - u.used as remaining_units
           from p, lateral (select coalesce(sum(l.units), 0)::bigint as used from invoice_lines l
                             where l.authorization_id = p.id
                               and l.service_date between p.period_start and p.period_end) u
          order by p.service_code, lower(p.valid)",
    )
    .bind(client_id)
    .bind(on)
    .bind(id)
    .fetch_all(&state.db)
    .await?)
}

/// The client's authorizations, with the units used and left in the period
/// containing `on`.
#[utoipa::path(get, path = "/clients/{id}/authorizations", tag = "billing", operation_id = "list_client_authorizations",
    params(("id" = Uuid, Path, description = "The client"), OnDate),
    responses((status = 200, description = "The client's authorizations, by service code and start date", body = Vec<AuthorizationView>)))]
async fn list_authorizations(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<OnDate>,
) -> Result<Json<Vec<AuthorizationView>>, ApiError> {
    ensure_client(&state, client_id).await?;
    let on = query.on.unwrap_or_else(|| Utc::now().date_naive());
    Ok(Json(authorizations(&state, client_id, on, None).await?))
}

/// Units a payer authorized. Two authorizations of one client, payer and code
/// never overlap in time (409).
#[utoipa::path(post, path = "/clients/{id}/authorizations", tag = "billing", operation_id = "create_client_authorization",
    params(("id" = Uuid, Path, description = "The client")),
    request_body = NewAuthorization,
    responses((status = 201, description = "Recorded, reported for its first period", body = AuthorizationView)))]
async fn create_authorization(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewAuthorization>,
) -> Result<(StatusCode, Json<AuthorizationView>), ApiError> {
    let mut errors = FieldErrors::default();
    validation::calendar_date(&mut errors, "valid_from", new.valid_from);
    validation::calendar_date(&mut errors, "valid_to", new.valid_to);
    errors.check(
        new.valid_to >= new.valid_from,
        "valid_to",
        "must not be before valid_from",
    );
    errors.check(
        (1..=100_000).contains(&new.units),
        "units",
        "must be 1 to 100000",
    );
    errors.check(
        ["week", "month"].contains(&new.per.as_str()),
        "per",
        "must be week or month",
    );
    if let Some(reference) = &new.reference {
        validation::text(&mut errors, "reference", reference, 50);
    }
    errors.into_result()?;
    ensure_client(&state, client_id).await?;
    ensure_payer(&state, new.payer_id).await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into authorizations (id, client_id, payer_id, service_code, valid, units, per, reference)
         values ($1, $2, $3, $4, daterange($5, $6, '[]'), $7, $8::authorization_period, $9)",
    )
    .bind(id)
    .bind(client_id)
    .bind(new.payer_id)
    .bind(&new.service_code)
    .bind(new.valid_from)
    .bind(new.valid_to)
    .bind(new.units)
    .bind(&new.per)
    .bind(new.reference.as_deref().map(str::trim))
    .execute(&state.db)
    .await?;
    let view = authorizations(&state, client_id, new.valid_from, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("authorization vanished after insert"))?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationChange {
    /// The new number of units per period (a payer's extension).
    #[schema(minimum = 1, maximum = 100000)]
    pub units: i32,
    /// The new last day (inclusive), not before the authorization's first.
    pub valid_to: NaiveDate,
    /// A new authorization number (1 to 50 characters, trimmed); none keeps it.
    #[schema(min_length = 1, max_length = 50)]
    pub reference: Option<String>,
}

/// A payer extended or changed an authorization: units and end date. Visits held
/// by `authorization_exceeded` bill once a coordinator resolves them with
/// `authorization_updated`.
#[utoipa::path(put, path = "/clients/{id}/authorizations/{authorization_id}", tag = "billing", operation_id = "update_client_authorization",
    params(("id" = Uuid, Path, description = "The client"),
           ("authorization_id" = Uuid, Path, description = "The authorization")),
    request_body = AuthorizationChange,
    responses((status = 200, description = "The authorization, reported for today's period (or its first, if later)", body = AuthorizationView)))]
async fn update_authorization(
    State(state): State<AppState>,
    ApiPath((client_id, authorization_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(change): ApiJson<AuthorizationChange>,
) -> Result<Json<AuthorizationView>, ApiError> {
    let mut errors = FieldErrors::default();
    validation::calendar_date(&mut errors, "valid_to", change.valid_to);
    errors.check(
        (1..=100_000).contains(&change.units),
        "units",
        "must be 1 to 100000",
    );
    if let Some(reference) = &change.reference {
        validation::text(&mut errors, "reference", reference, 50);
    }
    errors.into_result()?;
    let updated: Option<NaiveDate> = sqlx::query_scalar(
        "update authorizations
            set units = $3, valid = daterange(lower(valid), $4, '[]'), reference = coalesce($5, reference)
          where id = $2 and client_id = $1 and $4 >= lower(valid)
          returning lower(valid)",
    )
    .bind(client_id)
    .bind(authorization_id)
    .bind(change.units)
    .bind(change.valid_to)
    .bind(change.reference.as_deref().map(str::trim))
    .fetch_optional(&state.db)
    .await?;
    let Some(valid_from) = updated else {
        let exists: bool = sqlx::query_scalar(
            "select exists (select 1 from authorizations where id = $1 and client_id = $2)",
        )
        .bind(authorization_id)
        .bind(client_id)
        .fetch_one(&state.db)
        .await?;
        return Err(if exists {
            ApiError::field("valid_to", "must not be before valid_from")
        } else {
            ApiError::NotFound(format!(
                "authorization {authorization_id} not found for client {client_id}"
            ))
        });
    };
    // Reported for today's period (or the first, for one that starts later).
    let on = Utc::now().date_naive().max(valid_from);
    let view = authorizations(&state, client_id, on, Some(authorization_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("authorization vanished after update"))?;
    Ok(Json(view))
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
    /// Two-letter state code.
    #[schema(pattern = "^[A-Z]{2}$")]
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
