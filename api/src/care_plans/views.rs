//! Care plans as the API answers with them: each with every version and
//! pattern (and each pattern's exceptions).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use homecare_domain::care_plan::{Duty, HolidayRule, PatternException};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::calendar::{weekday_name, weekday_number};
use crate::error::ApiError;
use crate::state::AppState;

/// When a pattern recurs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recurrence {
    /// On these days of every week, or of every other week (the weeks of
    /// `starts_on`, two weeks later, ...).
    Weekly {
        #[schema(value_type = Vec<crate::calendar::Weekday>, min_items = 1, max_items = 7)]
        weekdays: Vec<String>,
        /// 1 (default): every week; 2: every other week.
        #[serde(default = "every_week")]
        #[schema(minimum = 1, maximum = 2)]
        every_weeks: u8,
    },
    /// On this day of every month (months without it have no visit).
    Monthly {
        #[schema(minimum = 1, maximum = 31)]
        day: u8,
    },
}

fn every_week() -> u8 {
    1
}

/// A change to one date of a pattern.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExceptionView {
    /// The pattern's date it changes.
    pub on: NaiveDate,
    /// `skip`: no visit; `move`: the visit is on `date`, from `start` to `end`.
    #[schema(example = "skip")]
    pub kind: String,
    pub date: Option<NaiveDate>,
    pub start: Option<String>,
    pub end: Option<String>,
}

/// A recurring visit of a plan, in the client's local time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PatternView {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub recurrence: Recurrence,
    /// `HH:MM`, the client's local time.
    pub start: String,
    pub end: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub caregivers_needed: i16,
    pub preferred_caregiver_id: Option<Uuid>,
    pub holidays: HolidayRule,
    pub exceptions: Vec<ExceptionView>,
}

/// One version of a plan: what it asks for from `effective_from` on.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct CarePlanVersionView {
    pub version: i32,
    pub effective_from: NaiveDate,
    #[schema(value_type = Vec<Duty>)]
    pub duties: sqlx::types::Json<Vec<Duty>>,
    pub required_skills: Vec<String>,
    pub required_language: Option<String>,
    pub required_gender: Option<String>,
    pub note: Option<String>,
    /// The subject of the token that made the version.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A care plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CarePlanView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub payer_id: Uuid,
    pub service_code: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    /// The last generation found its visits would bill past an authorization.
    pub over_authorization: bool,
    /// Every version, oldest first.
    pub versions: Vec<CarePlanVersionView>,
    pub patterns: Vec<PatternView>,
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: Uuid,
    client_id: Uuid,
    payer_id: Uuid,
    service_code: String,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
    over_authorization: bool,
}

#[derive(sqlx::FromRow)]
pub(super) struct PatternRow {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub kind: String,
    pub weekdays: Vec<i16>,
    pub every_weeks: i16,
    pub month_day: Option<i16>,
    pub starts_at: NaiveTime,
    pub ends_at: NaiveTime,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub caregivers_needed: i16,
    pub preferred_caregiver_id: Option<Uuid>,
    pub holidays: String,
}

pub(super) const PATTERN_COLUMNS: &str = "id, care_plan_id, kind, weekdays, every_weeks, month_day,
    starts_at, ends_at, starts_on, ends_on, caregivers_needed, preferred_caregiver_id, holidays";

pub(super) fn hh_mm(time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

impl PatternRow {
    pub(super) fn view(&self, exceptions: Vec<ExceptionView>) -> PatternView {
        let recurrence = if self.kind == "monthly" {
            Recurrence::Monthly {
                day: self.month_day.unwrap_or(1).clamp(1, 31) as u8,
            }
        } else {
            Recurrence::Weekly {
                weekdays: self
                    .weekdays
                    .iter()
                    .map(|d| weekday_name(*d).to_owned())
                    .collect(),
                every_weeks: self.every_weeks.clamp(1, 2) as u8,
            }
        };
        PatternView {
            id: self.id,
            care_plan_id: self.care_plan_id,
            recurrence,
            start: hh_mm(self.starts_at),
            end: hh_mm(self.ends_at),
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            caregivers_needed: self.caregivers_needed,
            preferred_caregiver_id: self.preferred_caregiver_id,
            holidays: if self.holidays == "keep" {
                HolidayRule::Keep
            } else {
                HolidayRule::Skip
            },
            exceptions,
        }
    }
}

/// The ISO day numbers of `weekdays`; None names the first that is not a day.
pub(super) fn weekday_numbers(weekdays: &[String]) -> Result<Vec<i16>, String> {
    let mut numbers = Vec::with_capacity(weekdays.len());
    for day in weekdays {
        numbers
            .push(weekday_number(day).ok_or_else(|| format!("`{day}` is not monday to sunday"))?);
    }
    numbers.sort();
    numbers.dedup();
    Ok(numbers)
}

pub(super) async fn exceptions_of(
    state: &AppState,
    pattern_ids: &[Uuid],
) -> Result<Vec<(Uuid, ExceptionView)>, ApiError> {
    let mut conn = state.db.acquire().await?;
    let exceptions = homecare_store::care_plans::pattern_exceptions(&mut conn, pattern_ids).await?;
    Ok(exceptions
        .into_iter()
        .map(|(pattern_id, exception)| (pattern_id, ExceptionView::from(exception)))
        .collect())
}

impl From<PatternException> for ExceptionView {
    fn from(exception: PatternException) -> Self {
        match exception {
            PatternException::Skip { on } => Self {
                on,
                kind: "skip".to_owned(),
                date: None,
                start: None,
                end: None,
            },
            PatternException::Move {
                on,
                date,
                start,
                end,
            } => Self {
                on,
                kind: "move".to_owned(),
                date: Some(date),
                start: Some(hh_mm(start)),
                end: Some(hh_mm(end)),
            },
        }
    }
}

/// The client's plans (or the one `plan_id`), with versions and patterns.
async fn plans(
    state: &AppState,
    client_id: Uuid,
    plan_id: Option<Uuid>,
) -> Result<Vec<CarePlanView>, ApiError> {
    let rows: Vec<PlanRow> = sqlx::query_as(
        "select id, client_id, payer_id, service_code, valid_from, valid_until, over_authorization
           from care_plans where client_id = $1 and ($2::uuid is null or id = $2)
          order by created_at, id",
    )
    .bind(client_id)
    .bind(plan_id)
    .fetch_all(&state.db)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let versions: Vec<(Uuid, CarePlanVersionView)> = sqlx::query_as::<_, VersionRow>(
        "select care_plan_id, version, effective_from, duties, required_skills, required_language,
                required_gender, note, created_by, created_at
           from care_plan_versions where care_plan_id = any($1) order by version",
    )
    .bind(&ids)
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .map(|v| (v.care_plan_id, v.view))
    .collect();
    let patterns: Vec<PatternRow> = sqlx::query_as(&format!(
        "select {PATTERN_COLUMNS} from care_plan_patterns where care_plan_id = any($1)
          order by created_at, id"
    ))
    .bind(&ids)
    .fetch_all(&state.db)
    .await?;
    let pattern_ids: Vec<Uuid> = patterns.iter().map(|p| p.id).collect();
    let exceptions = exceptions_of(state, &pattern_ids).await?;
    Ok(rows
        .into_iter()
        .map(|plan| CarePlanView {
            versions: versions
                .iter()
                .filter(|(id, _)| *id == plan.id)
                .map(|(_, v)| v.clone())
                .collect(),
            patterns: patterns
                .iter()
                .filter(|p| p.care_plan_id == plan.id)
                .map(|p| {
                    p.view(
                        exceptions
                            .iter()
                            .filter(|(id, _)| *id == p.id)
                            .map(|(_, e)| e.clone())
                            .collect(),
                    )
                })
                .collect(),
            id: plan.id,
            client_id: plan.client_id,
            payer_id: plan.payer_id,
            service_code: plan.service_code,
            valid_from: plan.valid_from,
            valid_until: plan.valid_until,
            over_authorization: plan.over_authorization,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    care_plan_id: Uuid,
    #[sqlx(flatten)]
    view: CarePlanVersionView,
}

pub(super) async fn load_plans(
    state: &AppState,
    client_id: Uuid,
) -> Result<Vec<CarePlanView>, ApiError> {
    plans(state, client_id, None).await
}

pub(super) async fn load_plan(
    state: &AppState,
    client_id: Uuid,
    plan_id: Uuid,
) -> Result<CarePlanView, ApiError> {
    plans(state, client_id, Some(plan_id))
        .await?
        .pop()
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "care plan {plan_id} of client {client_id} not found"
            ))
        })
}
