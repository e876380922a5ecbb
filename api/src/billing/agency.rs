//! `/v1/agency`: the agency as billing provider on claims, and its policy
//! (EVV thresholds, overtime, the visit timers).

use axum::Json;
use axum::extract::State;
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use homecare_domain::codes::UsState;

use super::fields::{digits, identifier, state_code};
use crate::extract::ApiJson;
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_agency, update_agency))
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
    /// USPS state code.
    #[schema(value_type = UsState)]
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
    /// A check-in this long after the scheduled start is an exception, and the
    /// visit's late check-in alert fires then (for visits created from now on).
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
    /// How many days ahead care plans keep visits generated (default 14).
    #[serde(default = "default_horizon_days")]
    #[schema(minimum = 1, maximum = 62, default = 14)]
    pub schedule_horizon_days: i32,
    /// A check-out that does not report a required duty of the care plan as
    /// done raises a `missing_duty` exception (default true).
    #[serde(default = "default_true")]
    #[schema(default = true)]
    pub missing_duty_raises_exception: bool,
    /// An unfilled visit starting within this many hours is escalated if the
    /// on-call coordinator does not fill it in time (0: never; default 4).
    #[serde(default = "default_escalate_within_hours")]
    #[schema(minimum = 0, maximum = 168, default = 4)]
    pub escalate_within_hours: i32,
    /// How long the on-call coordinator has before the admin is told (default 30).
    #[serde(default = "default_escalate_after_minutes")]
    #[schema(minimum = 1, maximum = 1440, default = 30)]
    pub escalate_after_minutes: i32,
}

fn default_escalate_within_hours() -> i32 {
    4
}

fn default_escalate_after_minutes() -> i32 {
    30
}

fn default_horizon_days() -> i32 {
    14
}

fn default_true() -> bool {
    true
}

impl Agency {
    fn validate(&self) -> Result<(), FieldErrors> {
        let agency = self;
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
            (1..=homecare_domain::care_plan::MAX_HORIZON_DAYS as i32)
                .contains(&agency.schedule_horizon_days),
            "schedule_horizon_days",
            format!(
                "must be 1 to {}",
                homecare_domain::care_plan::MAX_HORIZON_DAYS
            ),
        );
        errors.check(
            (1..=10080).contains(&agency.missed_check_out_after_minutes),
            "missed_check_out_after_minutes",
            "must be 1 to 10080",
        );
        errors.check(
            (0..=168).contains(&agency.escalate_within_hours),
            "escalate_within_hours",
            "must be 0 to 168",
        );
        errors.check(
            (1..=1440).contains(&agency.escalate_after_minutes),
            "escalate_after_minutes",
            "must be 1 to 1440",
        );
        errors.into_result()
    }
}

const AGENCY_COLUMNS: &str = "name, npi, tax_id, taxonomy, address_line, city, state, postal_code,
    submitter_id, contact_name, contact_phone, claims_production, geofence_radius_meters,
    late_check_in_minutes, early_check_out_minutes, over_scheduled_minutes,
    missed_check_out_after_minutes, overtime_after_minutes_per_week, schedule_horizon_days,
    missing_duty_raises_exception, escalate_within_hours, escalate_after_minutes";

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

/// Replaces the agency's settings. The visit timers (late check-in alert,
/// missed check-out) apply to visits created from now on; the care plans'
/// horizon at each client's next generation; the rest at once.
#[utoipa::path(put, path = "/agency", tag = "billing", operation_id = "update_agency",
    request_body = Agency,
    responses((status = 200, description = "The settings as saved", body = Agency)))]
async fn update_agency(
    State(state): State<AppState>,
    ApiJson(agency): ApiJson<Agency>,
) -> Result<Json<Agency>, ApiError> {
    agency.validate()?;
    let updated = sqlx::query_as::<_, Agency>(&format!(
        "update agency_settings set name = $1, npi = $2, tax_id = $3, taxonomy = $4, address_line = $5,
                city = $6, state = $7, postal_code = $8, submitter_id = $9, contact_name = $10,
                contact_phone = $11, claims_production = $12, geofence_radius_meters = $13,
                late_check_in_minutes = $14, early_check_out_minutes = $15, over_scheduled_minutes = $16,
                missed_check_out_after_minutes = $17, overtime_after_minutes_per_week = $18,
                schedule_horizon_days = $19, missing_duty_raises_exception = $20,
                escalate_within_hours = $21, escalate_after_minutes = $22, updated_at = now()
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
    .bind(agency.schedule_horizon_days)
    .bind(agency.missing_duty_raises_exception)
    .bind(agency.escalate_within_hours)
    .bind(agency.escalate_after_minutes)
    .fetch_one(&state.db)
    .await?;
    Ok(Json(updated))
}
