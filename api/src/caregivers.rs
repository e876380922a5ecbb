//! `/v1/caregivers`: the people who deliver care: skills and certifications with
//! expiry, languages, hour caps, home location, weekly availability, extra hours,
//! and call-outs (which re-decide every affected visit at once).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use homecare_domain::contracts::{CallOut, CallOutOutcome, call_out_workflow_id};
use homecare_domain::validation::{self, FieldErrors};
use homecare_workflows::CallOutWorkflow;
use serde::{Deserialize, Serialize};
use temporalio_client::{
    WorkflowDescribeOptions, WorkflowExecuteUpdateOptions, WorkflowExecutionStatus,
    WorkflowGetResultOptions, WorkflowIdConflictPolicy, WorkflowQueryOptions, WorkflowStartOptions,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::visits::{idempotency_key, reconsider_unfilled};
use crate::{ApiError, AppState};

/// v5 namespace for call-out ids derived from an `Idempotency-Key`.
const IDEMPOTENT_CALL_OUT_NAMESPACE: Uuid =
    Uuid::from_u128(0x9a41_77c2_0d3e_4b8f_a615_2c7e_93b0_d4f1);
/// How far ahead a change of availability wakes unfilled visits at once (the
/// visits' own retry timers cover the rest).
const RECONSIDER_DAYS: i64 = 14;
const GENDERS: [&str; 3] = ["female", "male", "nonbinary"];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(set_availability))
        .routes(routes!(add_extra_availability))
        .routes(routes!(call_out))
        .routes(routes!(show_call_out))
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
    let mut errors = FieldErrors::default();
    validation::name(&mut errors, "name", &new.name);
    validation::skills(&mut errors, "skills", &new.skills);
    let credential_skills: Vec<String> = new.credentials.iter().map(|c| c.skill.clone()).collect();
    validation::skills(&mut errors, "credentials", &credential_skills);
    validation::languages(&mut errors, "languages", &new.languages);
    if let Some(gender) = &new.gender {
        errors.check(
            GENDERS.contains(&gender.as_str()),
            "gender",
            "must be female, male or nonbinary",
        );
    }
    if let Some(home) = new.home {
        validation::coordinates(&mut errors, "home.", home.latitude, home.longitude);
    }
    minutes(
        &mut errors,
        "max_minutes_per_day",
        new.max_minutes_per_day,
        1440,
    );
    minutes(
        &mut errors,
        "max_minutes_per_week",
        new.max_minutes_per_week,
        10080,
    );
    if let Some(v) = new.overtime_after_minutes_per_week {
        errors.check(
            (0..=10080).contains(&v),
            "overtime_after_minutes_per_week",
            "must be between 0 and 10080",
        );
    }
    let weekly = weekly_rows(&mut errors, "availability", &new.availability);
    errors.into_result()?;

    // A skill given both ways keeps the credential's expiry.
    let mut credentials: Vec<CredentialInput> = new.credentials.clone();
    for skill in &new.skills {
        if !credentials.iter().any(|c| &c.skill == skill) {
            credentials.push(CredentialInput {
                skill: skill.clone(),
                expires_on: None,
            });
        }
    }
    credentials.sort_by(|a, b| a.skill.cmp(&b.skill));
    credentials.dedup_by(|a, b| a.skill == b.skill);
    let skills: Vec<String> = credentials.iter().map(|c| c.skill.clone()).collect();
    let mut languages: Vec<String> = new.languages.iter().map(|l| l.to_lowercase()).collect();
    languages.sort();
    languages.dedup();

    let id = Uuid::new_v4();
    let mut tx = state.db.begin().await?;
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
    .execute(&mut *tx)
    .await?;
    for c in &credentials {
        sqlx::query(
            "insert into caregiver_credentials (caregiver_id, skill, expires_on) values ($1, $2, $3)",
        )
        .bind(id)
        .bind(&c.skill)
        .bind(c.expires_on)
        .execute(&mut *tx)
        .await?;
    }
    insert_weekly(&mut tx, id, &weekly).await?;
    tx.commit().await?;
    // Someone new may cover a visit nobody could.
    let now = Utc::now();
    reconsider_unfilled(&state, now, now + Duration::days(RECONSIDER_DAYS)).await;
    Ok((StatusCode::CREATED, Json(detail(&state, id).await?)))
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WeeklyAvailability)]
pub struct Availability {
    /// The new weekly pattern; empty: no weekly restriction.
    #[schema(max_items = 50)]
    pub weekly: Vec<WeeklyHours>,
}

/// Replaces the weekly pattern. Visits already booked stay booked (a coordinator
/// sees them in the candidates view); unfilled visits are reconsidered at once.
#[utoipa::path(put, path = "/caregivers/{id}/availability", tag = "caregivers", operation_id = "set_caregiver_availability",
    params(("id" = Uuid, Path, description = "The caregiver")),
    request_body = Availability,
    responses((status = 200, description = "The caregiver with the new pattern", body = CaregiverDetail)))]
#[tracing::instrument(skip_all, fields(caregiver_id = %id))]
async fn set_availability(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Availability>,
) -> Result<Json<CaregiverDetail>, ApiError> {
    let mut errors = FieldErrors::default();
    let weekly = weekly_rows(&mut errors, "weekly", &body.weekly);
    errors.into_result()?;
    require_caregiver(&state, id).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query("select id from caregivers where id = $1 for update")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from caregiver_availability where caregiver_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    insert_weekly(&mut tx, id, &weekly).await?;
    tx.commit().await?;
    let now = Utc::now();
    reconsider_unfilled(&state, now, now + Duration::days(RECONSIDER_DAYS)).await;
    Ok(Json(detail(&state, id).await?))
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
/// A call-out's period (at most 31 days) and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the body `call_out` reads
struct CallOutPeriod {
    start: DateTime<Utc>,
    /// After `start`, at most 31 days later.
    end: DateTime<Utc>,
    /// 1 to 200 characters (trimmed).
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

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

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtraAvailability {
    pub id: Uuid,
    pub caregiver_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Extra hours outside the weekly pattern; unfilled visits in them are
/// reconsidered at once.
#[utoipa::path(post, path = "/caregivers/{id}/extra-availability", tag = "caregivers", operation_id = "add_caregiver_extra_availability",
    params(("id" = Uuid, Path, description = "The caregiver")),
    request_body = Period,
    responses((status = 201, description = "Recorded", body = ExtraAvailability)))]
#[tracing::instrument(skip_all, fields(caregiver_id = %id))]
async fn add_extra_availability(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(period): ApiJson<Period>,
) -> Result<(StatusCode, Json<ExtraAvailability>), ApiError> {
    let mut errors = FieldErrors::default();
    check_period(&mut errors, &period, false);
    errors.into_result()?;
    require_caregiver(&state, id).await?;
    let exception_id = Uuid::new_v4();
    sqlx::query(
        "insert into caregiver_exceptions (id, caregiver_id, period, kind, reason)
         values ($1, $2, tstzrange($3, $4), 'available', $5)",
    )
    .bind(exception_id)
    .bind(id)
    .bind(period.start)
    .bind(period.end)
    .bind(period.reason.as_deref().map(str::trim))
    .execute(&state.db)
    .await?;
    reconsider_unfilled(&state, period.start, period.end).await;
    Ok((
        StatusCode::CREATED,
        Json(ExtraAvailability {
            id: exception_id,
            caregiver_id: id,
            start: period.start,
            end: period.end,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallOutResponse {
    pub call_out_id: Uuid,
    pub caregiver_id: Uuid,
    /// `decided` (every visit decided and committed, the visits' workflows
    /// being told), `completed` (every visit's workflow told), or `in_progress`
    /// when the decisions take longer than the API waits (see the events).
    #[schema(value_type = CallOutStatus)]
    pub status: &'static str,
    /// Every affected visit once decided; empty while `in_progress`.
    pub changes: Vec<CallOutChange>,
}

#[derive(ToSchema)]
#[allow(dead_code)] // documents the strings `CallOutResponse::status` takes
#[schema(rename_all = "snake_case")]
enum CallOutStatus {
    Decided,
    Completed,
    InProgress,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallOutChange {
    pub visit_id: Uuid,
    /// `assigned` to someone else, or `unfilled` (an alert was published).
    #[schema(value_type = CallOutChangeStatus)]
    pub status: &'static str,
    /// The visit's caregivers now (none when unfilled).
    pub caregiver_ids: Vec<Uuid>,
    pub assignment_version: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)] // documents the strings `CallOutChange::status` takes
#[schema(rename_all = "lowercase")]
enum CallOutChangeStatus {
    Assigned,
    Unfilled,
}

impl CallOutResponse {
    fn with(status: &'static str, outcome: CallOutOutcome) -> Self {
        Self {
            call_out_id: outcome.call_out_id,
            caregiver_id: outcome.caregiver_id,
            status,
            changes: outcome
                .changes
                .into_iter()
                .map(|c| CallOutChange {
                    visit_id: c.visit_id,
                    status: if c.outcome.caregiver_id.is_some() {
                        "assigned"
                    } else {
                        "unfilled"
                    },
                    caregiver_ids: c.outcome.caregiver_ids,
                    assignment_version: c.outcome.version,
                })
                .collect(),
        }
    }
}

/// A caregiver calls out for a period: a `CallOutWorkflow` records it and
/// re-decides every affected visit that has not started, then tells each visit's
/// workflow. Answers with every change once decided. With an `Idempotency-Key`,
/// a retried request lands on the same call-out and gets the same answer.
#[utoipa::path(post, path = "/caregivers/{id}/call-outs", tag = "caregivers", operation_id = "create_call_out",
    params(("id" = Uuid, Path, description = "The caregiver"),
           crate::visits::IdempotencyKey),
    request_body = CallOutPeriod,
    responses(
        (status = 200, description = "Every affected visit decided (`decided`), or a retry of a finished call-out", body = CallOutResponse),
        (status = 202, description = "Still deciding after the API's wait (`in_progress`, no changes yet): follow `GET /call-outs/{id}` or the events", body = CallOutResponse)))]
#[tracing::instrument(skip_all, fields(caregiver_id = %id))]
async fn call_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(period): ApiJson<Period>,
) -> Result<(StatusCode, Json<CallOutResponse>), ApiError> {
    principal.may_act_for(id)?;
    let key = idempotency_key(&headers)?;
    let mut errors = FieldErrors::default();
    check_period(&mut errors, &period, true);
    errors.into_result()?;
    require_caregiver(&state, id).await?;
    let call_out_id = match &key {
        // Per caregiver: another caregiver's retry with the same key must not
        // land on (and read) this caregiver's call-out.
        Some(key) => Uuid::new_v5(
            &IDEMPOTENT_CALL_OUT_NAMESPACE,
            format!("{id}/{key}").as_bytes(),
        ),
        None => Uuid::new_v4(),
    };
    let input = CallOut {
        call_out_id,
        caregiver_id: id,
        start: period.start,
        end: period.end,
        reason: period.reason.unwrap_or_default().trim().to_owned(),
    };
    let options = WorkflowStartOptions::new(
        state.config.task_queue.clone(),
        call_out_workflow_id(call_out_id),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .build();
    let handle = state
        .temporal
        .start_workflow(CallOutWorkflow::run, input, options)
        .await
        .map_err(|e| ApiError::Unavailable {
            detail: format!("could not start the call-out workflow: {e}"),
            retry_after_secs: 5,
        })?;
    // The `decisions` update answers once every visit is decided; a call-out
    // whose workflow already finished (a retried request) answers with its result.
    let decided = async {
        match handle
            .execute_update(
                CallOutWorkflow::decisions,
                (),
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
        {
            Ok(outcome) => Ok(outcome),
            Err(_) => handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .map_err(|e| e.to_string()),
        }
    };
    let wait = state.config.update_timeout;
    match tokio::time::timeout(wait, decided).await {
        Ok(Ok(outcome)) => Ok((
            StatusCode::OK,
            Json(CallOutResponse::with("decided", outcome)),
        )),
        Ok(Err(e)) => Err(ApiError::Conflict {
            code: "command_failed",
            detail: format!("the call-out could not be applied: {e}"),
        }),
        Err(_) => Ok((
            StatusCode::ACCEPTED,
            Json(CallOutResponse {
                call_out_id,
                caregiver_id: id,
                status: "in_progress",
                changes: Vec::new(),
            }),
        )),
    }
}

/// Where a call-out stands: `completed` once every affected visit's workflow has
/// been told, `decided` before that, `in_progress` while deciding.
#[utoipa::path(get, path = "/call-outs/{id}", tag = "caregivers", operation_id = "show_call_out",
    params(("id" = Uuid, Path, description = "The call-out")),
    responses((status = 200, description = "The call-out and its changes so far", body = CallOutResponse)))]
async fn show_call_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CallOutResponse>, ApiError> {
    let caregiver_id: Uuid = sqlx::query_scalar("select caregiver_id from call_outs where id = $1")
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("call-out {id} not found")))?;
    principal.may_act_for(caregiver_id)?;
    let handle = state
        .temporal
        .get_workflow_handle::<CallOutWorkflow>(call_out_workflow_id(id));
    let unavailable = |e: &dyn std::fmt::Display| ApiError::Unavailable {
        detail: format!("Temporal did not answer: {e}"),
        retry_after_secs: 5,
    };
    let described = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .map_err(|e| unavailable(&e))?;
    if described.status() == WorkflowExecutionStatus::Completed {
        let outcome = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map_err(|e| unavailable(&e))?;
        return Ok(Json(CallOutResponse::with("completed", outcome)));
    }
    let outcome = handle
        .query(
            CallOutWorkflow::outcome,
            (),
            WorkflowQueryOptions::default(),
        )
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(match outcome {
        Some(outcome) => CallOutResponse::with("decided", outcome),
        None => CallOutResponse {
            call_out_id: id,
            caregiver_id,
            status: "in_progress",
            changes: Vec::new(),
        },
    }))
}
