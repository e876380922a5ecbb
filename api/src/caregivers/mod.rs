//! `/v1/caregivers`: the people who deliver care: skills and certifications with
//! expiry, languages, hour caps, home location, weekly availability, extra hours,
//! and call-outs (which re-decide every affected visit at once).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::visits::reconsider_unfilled;
use crate::{ApiError, AppState};

mod availability;
mod call_outs;

/// How far ahead a change of availability wakes unfilled visits at once (the
/// visits' own retry timers cover the rest).
const RECONSIDER_DAYS: i64 = 14;
const GENDERS: [&str; 3] = ["female", "male", "nonbinary"];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .merge(availability::router())
        .merge(call_outs::router())
}

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
struct Skill(String);

/// A language tag such as `en` or `pt-br` (stored in lower case).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(pattern = "^[A-Za-z-]{2,16}$")]
struct LanguageTag(String);

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

#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(rename_all = "lowercase")]
enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCaregiver {
    /// 1 to 200 characters (trimmed).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Skills that never expire.
    #[serde(default)]
    #[schema(value_type = Vec<Skill>, max_items = 32)]
    pub skills: Vec<String>,
    /// Skills and certifications with an expiry date (a skill given both ways
    /// keeps the expiry).
    #[serde(default)]
    #[schema(max_items = 32)]
    pub credentials: Vec<CredentialInput>,
    #[serde(default)]
    #[schema(value_type = Vec<LanguageTag>, max_items = 16)]
    pub languages: Vec<String>,
    #[schema(value_type = Option<crate::clients::Gender>)]
    pub gender: Option<String>,
    pub home: Option<Coordinates>,
    /// Default 600.
    #[schema(minimum = 1, maximum = 1440)]
    pub max_minutes_per_day: Option<i32>,
    /// Default 3000.
    #[schema(minimum = 1, maximum = 10080)]
    pub max_minutes_per_week: Option<i32>,
    /// Default 2400.
    #[schema(minimum = 0, maximum = 10080)]
    pub overtime_after_minutes_per_week: Option<i32>,
    /// Empty: no weekly restriction.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub availability: Vec<WeeklyHours>,
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

const COLUMNS: &str = "id, name, skills, active, languages, gender, home_latitude, home_longitude,
    max_minutes_per_day, max_minutes_per_week, overtime_after_minutes_per_week, created_at";

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn parse_time(value: &str) -> Option<NaiveTime> {
    if value == "24:00" {
        return Some(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(value, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(value, "%H:%M:%S"))
        .ok()
}

/// Validates weekly hours into (ISO weekday, start, end) rows.
fn weekly_rows(
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

fn as_hours(rows: &[(i16, NaiveTime, NaiveTime)]) -> Vec<WeeklyHours> {
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

fn minutes(errors: &mut FieldErrors, field: &str, value: Option<i32>, max: i32) {
    if let Some(v) = value {
        errors.check(
            (1..=max).contains(&v),
            field,
            format!("must be between 1 and {max}"),
        );
    }
}

/// Registers a caregiver; unfilled visits of the next two weeks are
/// reconsidered at once.
#[utoipa::path(post, path = "/caregivers", tag = "caregivers", operation_id = "create_caregiver",
    request_body = NewCaregiver,
    responses((status = 201, description = "Registered", body = CaregiverDetail)))]
#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewCaregiver>,
) -> Result<(StatusCode, Json<CaregiverDetail>), ApiError> {
    let weekly = new.validate()?;
    let credentials = new.credentials();
    let id = Uuid::new_v4();
    let mut tx = state.db.begin().await?;
    insert_caregiver(&mut tx, id, &new, &credentials).await?;
    insert_weekly(&mut tx, id, &weekly).await?;
    tx.commit().await?;
    // Someone new may cover a visit nobody could.
    let now = Utc::now();
    reconsider_unfilled(&state, &[id], now, now + Duration::days(RECONSIDER_DAYS)).await;
    Ok((StatusCode::CREATED, Json(detail(&state, id).await?)))
}

impl NewCaregiver {
    /// Every field's errors at once; the weekly hours as rows.
    fn validate(&self) -> Result<Vec<(i16, NaiveTime, NaiveTime)>, FieldErrors> {
        let mut errors = FieldErrors::default();
        validation::name(&mut errors, "name", &self.name);
        validation::skills(&mut errors, "skills", &self.skills);
        let credential_skills: Vec<String> =
            self.credentials.iter().map(|c| c.skill.clone()).collect();
        validation::skills(&mut errors, "credentials", &credential_skills);
        validation::languages(&mut errors, "languages", &self.languages);
        if let Some(gender) = &self.gender {
            errors.check(
                GENDERS.contains(&gender.as_str()),
                "gender",
                "must be female, male or nonbinary",
            );
        }
        if let Some(home) = self.home {
            validation::coordinates(&mut errors, "home.", home.latitude, home.longitude);
        }
        minutes(
            &mut errors,
            "max_minutes_per_day",
            self.max_minutes_per_day,
            1440,
        );
        minutes(
            &mut errors,
            "max_minutes_per_week",
            self.max_minutes_per_week,
            10080,
        );
        if let Some(v) = self.overtime_after_minutes_per_week {
            errors.check(
                (0..=10080).contains(&v),
                "overtime_after_minutes_per_week",
                "must be between 0 and 10080",
            );
        }
        let weekly = weekly_rows(&mut errors, "availability", &self.availability);
        errors.into_result()?;
        Ok(weekly)
    }

    /// Skills and credentials as one list by skill: a skill given both ways
    /// keeps the credential's expiry.
    fn credentials(&self) -> Vec<CredentialInput> {
        let mut credentials: Vec<CredentialInput> = self.credentials.clone();
        for skill in &self.skills {
            if !credentials.iter().any(|c| &c.skill == skill) {
                credentials.push(CredentialInput {
                    skill: skill.clone(),
                    expires_on: None,
                });
            }
        }
        credentials.sort_by(|a, b| a.skill.cmp(&b.skill));
        credentials.dedup_by(|a, b| a.skill == b.skill);
        credentials
    }
}

async fn insert_caregiver(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    new: &NewCaregiver,
    credentials: &[CredentialInput],
) -> Result<(), sqlx::Error> {
    let skills: Vec<String> = credentials.iter().map(|c| c.skill.clone()).collect();
    let mut languages: Vec<String> = new.languages.iter().map(|l| l.to_lowercase()).collect();
    languages.sort();
    languages.dedup();
    sqlx::query(
        "insert into caregivers (id, name, skills, languages, gender, home_latitude, home_longitude,
                                 max_minutes_per_day, max_minutes_per_week, overtime_after_minutes_per_week)
         values ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 600), coalesce($9, 3000), coalesce($10, 2400))",
    )
    .bind(id)
    .bind(new.name.trim())
    .bind(&skills)
    .bind(&languages)
    .bind(&new.gender)
    .bind(new.home.map(|h| h.latitude))
    .bind(new.home.map(|h| h.longitude))
    .bind(new.max_minutes_per_day)
    .bind(new.max_minutes_per_week)
    .bind(new.overtime_after_minutes_per_week)
    .execute(&mut *conn)
    .await?;
    for c in credentials {
        sqlx::query(
            "insert into caregiver_credentials (caregiver_id, skill, expires_on) values ($1, $2, $3)",
        )
        .bind(id)
        .bind(&c.skill)
        .bind(c.expires_on)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_weekly(
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

async fn detail(state: &AppState, id: Uuid) -> Result<CaregiverDetail, ApiError> {
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
#[utoipa::path(get, path = "/caregivers/{id}", tag = "caregivers", operation_id = "show_caregiver",
    params(("id" = Uuid, Path, description = "The caregiver")),
    responses((status = 200, description = "The caregiver", body = CaregiverDetail)))]
async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CaregiverDetail>, ApiError> {
    principal.may_act_for(id)?;
    Ok(Json(detail(&state, id).await?))
}

/// Caregivers, oldest first.
#[utoipa::path(get, path = "/caregivers", tag = "caregivers", operation_id = "list_caregivers", params(Page),
    responses((status = 200, description = "A page of caregivers", body = Vec<Caregiver>)))]
async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<Caregiver>>, ApiError> {
    let (limit, offset) = page.bounds()?;
    let caregivers = sqlx::query_as::<_, Caregiver>(&format!(
        "select {COLUMNS} from caregivers order by created_at, id limit $1 offset $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(caregivers))
}

async fn require_caregiver(state: &AppState, id: Uuid) -> Result<(), ApiError> {
    crate::ensure_exists(state, "caregivers", "caregiver", id).await
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

const MAX_PERIOD_DAYS: i64 = 31;

fn check_period(errors: &mut FieldErrors, period: &Period, reason_required: bool) {
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
