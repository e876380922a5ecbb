//! A caregiver's profile as every caregiver resource reads and writes it:
//! credentials, weekly hours, the detail view, and the periods that
//! availability and call-outs take.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::calendar::{WEEKDAYS, Weekday, parse_time};
use crate::error::ApiError;
use crate::state::AppState;

/// How far ahead a change of availability wakes unfilled visits at once (the
/// visits' own retry timers cover the rest).
pub(super) const RECONSIDER_DAYS: i64 = 14;

/// A skill or certification, with its expiry.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CaregiverCredential)]
pub struct CredentialInput {
    #[schema(value_type = Skill)]
    pub skill: String,
    /// Last day the certification is valid; none: it does not expire.
    pub expires_on: Option<NaiveDate>,
}

/// A skill: a lower-case slug (`hoyer_lift`, `dementia-care`).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(pattern = "^[a-z0-9_-]{1,64}$")]
pub(super) struct Skill(String);

/// A language tag such as `en` or `pt-br` (stored in lower case).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(pattern = "^[A-Za-z-]{2,16}$")]
pub(super) struct LanguageTag(String);

/// Where a caregiver's day starts (for travel times).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = HomeLocation)]
pub struct Coordinates {
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
}

/// Weekly hours in the visit's local time: `{"weekday": "monday", "start":
/// "08:00", "end": "14:00"}`; an `end` of "00:00" or "24:00" is midnight.
/// Times are `HH:MM` (`HH:MM:SS` is accepted); the weekday's case is ignored.
/// The API answers with `HH:MM` and `24:00` for a midnight end.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[schema(value_type = Weekday)]
    pub weekday: String,
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00)$")]
    pub start: String,
    /// After `start`, or midnight.
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00)$")]
    pub end: String,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Caregiver {
    pub id: Uuid,
    pub name: String,
    /// Every skill, with or without an expiry.
    pub skills: Vec<String>,
    pub active: bool,
    pub languages: Vec<String>,
    #[schema(value_type = Option<crate::clients::Gender>)]
    pub gender: Option<String>,
    pub home_latitude: Option<f64>,
    pub home_longitude: Option<f64>,
    pub max_minutes_per_day: i32,
    pub max_minutes_per_week: i32,
    pub overtime_after_minutes_per_week: i32,
    pub created_at: DateTime<Utc>,
}

/// A caregiver with their credentials and weekly availability.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaregiverDetail {
    #[serde(flatten)]
    pub caregiver: Caregiver,
    pub credentials: Vec<CredentialInput>,
    pub availability: Vec<WeeklyHours>,
}

pub(super) const COLUMNS: &str =
    "id, name, skills, active, languages, gender, home_latitude, home_longitude,
    max_minutes_per_day, max_minutes_per_week, overtime_after_minutes_per_week, created_at";

/// Validates weekly hours into (ISO weekday, start, end) rows.
pub(super) fn weekly_rows(
    errors: &mut FieldErrors,
    field: &str,
    hours: &[WeeklyHours],
) -> Vec<(i16, NaiveTime, NaiveTime)> {
    errors.check(hours.len() <= 50, field, "at most 50 windows");
    let mut rows = Vec::new();
    for (i, h) in hours.iter().enumerate() {
        let day = WEEKDAYS
            .iter()
            .position(|d| d.eq_ignore_ascii_case(h.weekday.trim()));
        let (start, end) = (parse_time(&h.start), parse_time(&h.end));
        errors.check(
            day.is_some(),
            &format!("{field}[{i}].weekday"),
            "must be monday to sunday",
        );
        errors.check(
            start.is_some(),
            &format!("{field}[{i}].start"),
            "must be a time HH:MM",
        );
        errors.check(
            end.is_some(),
            &format!("{field}[{i}].end"),
            "must be a time HH:MM (24:00 for midnight)",
        );
        if let (Some(day), Some(start), Some(end)) = (day, start, end) {
            let ordered = end > start || end == NaiveTime::MIN;
            errors.check(ordered, &format!("{field}[{i}].end"), "must be after start");
            rows.push((day as i16 + 1, start, end));
        }
    }
    rows
}

pub(super) fn as_hours(rows: &[(i16, NaiveTime, NaiveTime)]) -> Vec<WeeklyHours> {
    rows.iter()
        .map(|(day, start, end)| WeeklyHours {
            weekday: WEEKDAYS[(*day as usize).clamp(1, 7) - 1].to_owned(),
            start: start.format("%H:%M").to_string(),
            end: if *end == NaiveTime::MIN {
                "24:00".to_owned()
            } else {
                end.format("%H:%M").to_string()
            },
        })
        .collect()
}

pub(super) async fn insert_weekly(
    tx: &mut sqlx::PgConnection,
    caregiver_id: Uuid,
    rows: &[(i16, NaiveTime, NaiveTime)],
) -> Result<(), sqlx::Error> {
    for (day, start, end) in rows {
        sqlx::query(
            "insert into caregiver_availability (id, caregiver_id, weekday, starts, ends)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::new_v4())
        .bind(caregiver_id)
        .bind(day)
        .bind(start)
        .bind(end)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn detail(state: &AppState, id: Uuid) -> Result<CaregiverDetail, ApiError> {
    let caregiver =
        sqlx::query_as::<_, Caregiver>(&format!("select {COLUMNS} from caregivers where id = $1"))
            .bind(id)
            .fetch_optional(&state.db)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("caregiver {id} not found")))?;
    let credentials: Vec<(String, Option<NaiveDate>)> = sqlx::query_as(
        "select skill, expires_on from caregiver_credentials where caregiver_id = $1 order by skill",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    let weekly: Vec<(i16, NaiveTime, NaiveTime)> = sqlx::query_as(
        "select weekday, starts, ends from caregiver_availability
          where caregiver_id = $1 order by weekday, starts",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(CaregiverDetail {
        caregiver,
        credentials: credentials
            .into_iter()
            .map(|(skill, expires_on)| CredentialInput { skill, expires_on })
            .collect(),
        availability: as_hours(&weekly),
    })
}

/// One caregiver, with credentials and weekly availability. A caregiver sees
/// their own profile only.
pub(super) async fn require_caregiver(state: &AppState, id: Uuid) -> Result<(), ApiError> {
    crate::state::ensure_exists(state, "caregivers", "caregiver", id).await
}

/// A period of at most 31 days.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AvailabilityPeriod)]
pub struct Period {
    pub start: DateTime<Utc>,
    /// After `start`, at most 31 days later.
    pub end: DateTime<Utc>,
    /// 1 to 200 characters (trimmed).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: Option<String>,
}

// `call_out` reads a `Period` and requires its reason: this documents that body.

pub(super) const MAX_PERIOD_DAYS: i64 = 31;

pub(super) fn check_period(errors: &mut FieldErrors, period: &Period, reason_required: bool) {
    if period.end <= period.start {
        errors.add("end", "must be after start");
    } else if period.end - period.start > Duration::days(MAX_PERIOD_DAYS) {
        errors.add(
            "end",
            format!("a period lasts at most {MAX_PERIOD_DAYS} days"),
        );
    }
    match &period.reason {
        Some(reason) => validation::name(errors, "reason", reason),
        None => errors.check(!reason_required, "reason", "is required"),
    }
}
