//! `/v1/clients/{id}/care-plans/{plan_id}/patterns`: the recurring visits of
//! a plan, and the exceptions to single dates. Every change generates the
//! client's visits at once and answers with what changed.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{NaiveDate, Utc};
use homecare_domain::care_plan::{
    HolidayRule, MAX_MOVE_DAYS, PatternException, local_span, recurs_on,
};
use homecare_domain::contracts::GenerationOutcome;
use homecare_domain::validation::{self, FieldErrors};
use homecare_store::care_plans::{client_today, load_pattern, write_exception};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::generation::regenerate;
use super::views::{
    PATTERN_COLUMNS, PatternRow, PatternView, Recurrence, exceptions_of, load_plan, weekday_numbers,
};
use crate::calendar::parse_time;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::{idempotency_key, keyed_id};
use crate::state::AppState;

/// v5 namespace for pattern ids derived from an `Idempotency-Key`.
const IDEMPOTENT_PATTERN_NAMESPACE: Uuid =
    Uuid::from_u128(0x2f94_c1d8_6a3e_4b07_b5d2_19e8_7c40_a6f3);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(replace, end))
        .routes(routes!(set_exception, remove_exception))
}

/// A recurring visit, in the client's local time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternInput {
    pub recurrence: Recurrence,
    /// `HH:MM`, the client's local time.
    #[schema(
        pattern = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        example = "08:00"
    )]
    pub start: String,
    /// After `start`, the same day.
    #[schema(
        pattern = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        example = "10:00"
    )]
    pub end: String,
    /// The first day (within the plan's validity).
    pub starts_on: NaiveDate,
    /// The last day, if it ends.
    pub ends_on: Option<NaiveDate>,
    /// 2 for a two-person visit; default 1.
    #[schema(minimum = 1, maximum = 2)]
    pub caregivers_needed: Option<i16>,
    /// Comes first when the engine chooses (continuity of care).
    pub preferred_caregiver_id: Option<Uuid>,
    /// On the agency's holidays: `skip` (default) or `keep`.
    #[serde(default)]
    pub holidays: HolidayRule,
}

/// A pattern as saved, and what generating the client's visits changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatternChanged {
    pub pattern: PatternView,
    pub generation: GenerationOutcome,
}

/// One date of a pattern: no visit (`skip`), or the visit on another date or
/// at another time (`move`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExceptionInput {
    Skip {},
    Move {
        date: NaiveDate,
        #[schema(
            pattern = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
            example = "13:00"
        )]
        start: String,
        #[schema(
            pattern = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
            example = "15:00"
        )]
        end: String,
    },
}

/// A pattern's fields as its row stores them.
struct Checked {
    kind: &'static str,
    weekdays: Vec<i16>,
    every_weeks: i16,
    month_day: Option<i16>,
    start: chrono::NaiveTime,
    end: chrono::NaiveTime,
    caregivers_needed: i16,
}

fn times(
    errors: &mut FieldErrors,
    (start_field, start): (&str, &str),
    (end_field, end): (&str, &str),
) -> Option<(chrono::NaiveTime, chrono::NaiveTime)> {
    let (start, end) = (
        parse_time(start).filter(|_| start != "24:00"),
        parse_time(end).filter(|_| end != "24:00"),
    );
    errors.check(start.is_some(), start_field, "must be HH:MM");
    errors.check(end.is_some(), end_field, "must be HH:MM");
    let (start, end) = (start?, end?);
    errors.check(
        end > start,
        end_field,
        "must be after the start, the same day",
    );
    (end > start).then_some((start, end))
}

impl PatternInput {
    fn check(
        &self,
        plan_from: NaiveDate,
        plan_until: Option<NaiveDate>,
    ) -> Result<Checked, FieldErrors> {
        let mut errors = FieldErrors::default();
        let (kind, weekdays, every_weeks, month_day) = match &self.recurrence {
            Recurrence::Weekly {
                weekdays,
                every_weeks,
            } => {
                let days = weekday_numbers(weekdays).unwrap_or_else(|e| {
                    errors.add("recurrence.weekdays", e);
                    Vec::new()
                });
                errors.check(
                    !weekdays.is_empty(),
                    "recurrence.weekdays",
                    "at least one day",
                );
                errors.check(
                    (1..=2).contains(every_weeks),
                    "recurrence.every_weeks",
                    "must be 1 or 2",
                );
                ("weekly", days, i16::from(*every_weeks), None)
            }
            Recurrence::Monthly { day } => {
                errors.check((1..=31).contains(day), "recurrence.day", "must be 1 to 31");
                ("monthly", Vec::new(), 1, Some(i16::from(*day)))
            }
        };
        let span = times(&mut errors, ("start", &self.start), ("end", &self.end));
        validation::calendar_date(&mut errors, "starts_on", self.starts_on);
        errors.check(
            self.starts_on >= plan_from,
            "starts_on",
            "must be within the plan's validity",
        );
        if let Some(until) = plan_until {
            errors.check(
                self.starts_on <= until,
                "starts_on",
                "must be within the plan's validity",
            );
        }
        if let Some(ends_on) = self.ends_on {
            validation::calendar_date(&mut errors, "ends_on", ends_on);
            errors.check(
                ends_on >= self.starts_on,
                "ends_on",
                "must not be before starts_on",
            );
        }
        let caregivers_needed = validation::caregivers_needed(&mut errors, self.caregivers_needed);
        errors.into_result()?;
        let (start, end) = span.expect("checked above");
        Ok(Checked {
            kind,
            weekdays,
            every_weeks,
            month_day,
            start,
            end,
            caregivers_needed,
        })
    }
}

/// The plan's validity, 404 unless the plan is the client's.
async fn plan_validity(
    state: &AppState,
    client_id: Uuid,
    plan_id: Uuid,
) -> Result<(NaiveDate, Option<NaiveDate>), ApiError> {
    let plan = load_plan(state, client_id, plan_id).await?;
    Ok((plan.valid_from, plan.valid_until))
}

/// A preferred caregiver must exist, be active, and not be one the client
/// refused.
async fn ensure_caregiver(
    state: &AppState,
    client_id: Uuid,
    id: Option<Uuid>,
) -> Result<(), ApiError> {
    let Some(id) = id else { return Ok(()) };
    let found: Option<(bool, bool)> = sqlx::query_as(
        "select c.active, exists (select 1 from client_caregiver_preferences p
                                   where p.client_id = $2 and p.caregiver_id = c.id
                                     and p.kind = 'excluded')
           from caregivers c where c.id = $1",
    )
    .bind(id)
    .bind(client_id)
    .fetch_optional(&state.db)
    .await?;
    let problem = match found {
        None => "no such caregiver",
        Some((false, _)) => "the caregiver is not active",
        Some((_, true)) => "the client has refused this caregiver",
        Some((true, false)) => return Ok(()),
    };
    Err(ApiError::field("preferred_caregiver_id", problem))
}

async fn pattern_view(
    state: &AppState,
    plan_id: Uuid,
    pattern_id: Uuid,
) -> Result<PatternView, ApiError> {
    let row: PatternRow = sqlx::query_as(&format!(
        "select {PATTERN_COLUMNS} from care_plan_patterns where id = $1 and care_plan_id = $2"
    ))
    .bind(pattern_id)
    .bind(plan_id)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| {
        ApiError::NotFound(format!("pattern {pattern_id} of plan {plan_id} not found"))
    })?;
    let exceptions = exceptions_of(state, &[pattern_id])
        .await?
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    Ok(row.view(exceptions))
}

/// Adds a recurring visit to the plan and generates it for the horizon.
///
/// With an `Idempotency-Key`, a retried request creates no second pattern.
#[utoipa::path(post, path = "/clients/{id}/care-plans/{plan_id}/patterns", tag = "care_plans", operation_id = "create_care_plan_pattern",
    params(("id" = Uuid, Path, description = "The client"), ("plan_id" = Uuid, Path, description = "The plan"),
           crate::idempotency::IdempotencyKey),
    request_body = PatternInput,
    responses(
        (status = 201, description = "The pattern and what generation did", body = PatternChanged),
        (status = 200, description = "A retry with the same `Idempotency-Key`: the pattern it created, generated again", body = PatternChanged)))]
#[tracing::instrument(skip_all, fields(client_id = %client_id, plan_id = %plan_id))]
async fn create(
    State(state): State<AppState>,
    ApiPath((client_id, plan_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<PatternInput>,
) -> Result<(StatusCode, Json<PatternChanged>), ApiError> {
    let key = idempotency_key(&headers)?;
    let (from, until) = plan_validity(&state, client_id, plan_id).await?;
    let checked = input.check(from, until)?;
    ensure_caregiver(&state, client_id, input.preferred_caregiver_id).await?;
    let pattern_id = match &key {
        Some(key) => keyed_id(&IDEMPOTENT_PATTERN_NAMESPACE, &format!("{plan_id}/{key}")),
        None => Uuid::new_v4(),
    };
    let inserted = write_pattern(
        &state,
        INSERT_PATTERN,
        (plan_id, pattern_id),
        &checked,
        &input,
    )
    .await?;
    // A retry generates again (the first may have ended before generating).
    let generation = regenerate(&state, client_id, "pattern").await?;
    Ok((
        if inserted == 0 {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(PatternChanged {
            pattern: pattern_view(&state, plan_id, pattern_id).await?,
            generation,
        }),
    ))
}

const INSERT_PATTERN: &str =
    "insert into care_plan_patterns (id, care_plan_id, kind, weekdays, every_weeks, month_day,
                                 starts_at, ends_at, starts_on, ends_on, caregivers_needed,
                                 preferred_caregiver_id, holidays)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     on conflict (id) do nothing";

const UPDATE_PATTERN: &str = "update care_plan_patterns
        set kind = $3, weekdays = $4, every_weeks = $5, month_day = $6, starts_at = $7, ends_at = $8,
            starts_on = $9, ends_on = $10, caregivers_needed = $11, preferred_caregiver_id = $12,
            holidays = $13, updated_at = now()
      where id = $1 and care_plan_id = $2";

/// Runs `sql` (`INSERT_PATTERN` or `UPDATE_PATTERN`) with the pattern's
/// fields; the rows it wrote.
async fn write_pattern(
    state: &AppState,
    sql: &'static str,
    (plan_id, pattern_id): (Uuid, Uuid),
    checked: &Checked,
    input: &PatternInput,
) -> Result<u64, ApiError> {
    Ok(sqlx::query(sql)
        .bind(pattern_id)
        .bind(plan_id)
        .bind(checked.kind)
        .bind(&checked.weekdays)
        .bind(checked.every_weeks)
        .bind(checked.month_day)
        .bind(checked.start)
        .bind(checked.end)
        .bind(input.starts_on)
        .bind(input.ends_on)
        .bind(checked.caregivers_needed)
        .bind(input.preferred_caregiver_id)
        .bind(holiday_rule(input.holidays))
        .execute(&state.db)
        .await?
        .rows_affected())
}

fn holiday_rule(rule: HolidayRule) -> &'static str {
    match rule {
        HolidayRule::Skip => "skip",
        HolidayRule::Keep => "keep",
    }
}

/// Replaces a pattern: visits ahead move to the new times, visits on dates
/// it no longer has are cancelled, new dates get visits; visits begun stay.
#[utoipa::path(put, path = "/clients/{id}/care-plans/{plan_id}/patterns/{pattern_id}", tag = "care_plans", operation_id = "replace_care_plan_pattern",
    params(("id" = Uuid, Path, description = "The client"), ("plan_id" = Uuid, Path, description = "The plan"),
           ("pattern_id" = Uuid, Path, description = "The pattern")),
    request_body = PatternInput,
    responses((status = 200, description = "The pattern and what generation did", body = PatternChanged)))]
#[tracing::instrument(skip_all, fields(client_id = %client_id, pattern_id = %pattern_id))]
async fn replace(
    State(state): State<AppState>,
    ApiPath((client_id, plan_id, pattern_id)): ApiPath<(Uuid, Uuid, Uuid)>,
    ApiJson(input): ApiJson<PatternInput>,
) -> Result<Json<PatternChanged>, ApiError> {
    let (from, until) = plan_validity(&state, client_id, plan_id).await?;
    pattern_view(&state, plan_id, pattern_id).await?;
    let checked = input.check(from, until)?;
    ensure_caregiver(&state, client_id, input.preferred_caregiver_id).await?;
    write_pattern(
        &state,
        UPDATE_PATTERN,
        (plan_id, pattern_id),
        &checked,
        &input,
    )
    .await?;
    let generation = regenerate(&state, client_id, "pattern").await?;
    Ok(Json(PatternChanged {
        pattern: pattern_view(&state, plan_id, pattern_id).await?,
        generation,
    }))
}

/// Ends a pattern today: its visits ahead are cancelled (visits begun stay);
/// the pattern is kept with its history.
#[utoipa::path(delete, path = "/clients/{id}/care-plans/{plan_id}/patterns/{pattern_id}", tag = "care_plans", operation_id = "end_care_plan_pattern",
    params(("id" = Uuid, Path, description = "The client"), ("plan_id" = Uuid, Path, description = "The plan"),
           ("pattern_id" = Uuid, Path, description = "The pattern")),
    responses((status = 200, description = "What generation did", body = GenerationOutcome)))]
async fn end(
    State(state): State<AppState>,
    ApiPath((client_id, plan_id, pattern_id)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<GenerationOutcome>, ApiError> {
    plan_validity(&state, client_id, plan_id).await?;
    pattern_view(&state, plan_id, pattern_id).await?;
    // Ends yesterday in the client's time zone: nothing from today on.
    sqlx::query(
        "update care_plan_patterns p
            set ends_on = least(coalesce(p.ends_on, 'infinity'::date),
                                greatest(p.starts_on - 1, (now() at time zone c.timezone)::date - 1)),
                updated_at = now()
           from care_plans cp join clients c on c.id = cp.client_id
          where p.id = $1 and p.care_plan_id = $2 and cp.id = p.care_plan_id",
    )
    .bind(pattern_id)
    .bind(plan_id)
    .execute(&state.db)
    .await?;
    Ok(Json(regenerate(&state, client_id, "pattern").await?))
}

/// Skips one date of a pattern, or moves its visit to another date or time.
#[utoipa::path(put, path = "/clients/{id}/care-plans/{plan_id}/patterns/{pattern_id}/exceptions/{date}", tag = "care_plans", operation_id = "set_care_plan_exception",
    params(("id" = Uuid, Path, description = "The client"), ("plan_id" = Uuid, Path, description = "The plan"),
           ("pattern_id" = Uuid, Path, description = "The pattern"), ("date" = NaiveDate, Path, description = "The pattern's date")),
    request_body = ExceptionInput,
    responses((status = 200, description = "What generation did", body = GenerationOutcome)))]
async fn set_exception(
    State(state): State<AppState>,
    ApiPath((client_id, plan_id, pattern_id, on)): ApiPath<(Uuid, Uuid, Uuid, NaiveDate)>,
    ApiJson(input): ApiJson<ExceptionInput>,
) -> Result<Json<GenerationOutcome>, ApiError> {
    let (from, until) = plan_validity(&state, client_id, plan_id).await?;
    let mut conn = state.db.acquire().await?;
    let pattern = load_pattern(&mut conn, plan_id, pattern_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("pattern {pattern_id} not found")))?;
    let (tz, _) = client_today(&mut conn, client_id, Utc::now()).await?;
    drop(conn);
    let now = Utc::now();
    // The date is one of the pattern's, within the plan, and its visit lies ahead.
    if !recurs_on(&pattern, on) || on < from || until.is_some_and(|u| on > u) {
        return Err(ApiError::NotFound(format!(
            "the pattern has no visit on {on} (a date of its own, within the plan)"
        )));
    }
    if local_span(tz, on, pattern.start, pattern.end).0 <= now {
        return Err(ApiError::Conflict {
            code: "invalid_state",
            detail: format!("the visit of {on} has begun or passed; change the visit itself"),
        });
    }
    let mut errors = FieldErrors::default();
    let moved = match &input {
        ExceptionInput::Skip {} => None,
        ExceptionInput::Move { date, start, end } => {
            validation::calendar_date(&mut errors, "date", *date);
            errors.check(
                date.signed_duration_since(on).num_days().unsigned_abs() <= MAX_MOVE_DAYS,
                "date",
                format!("at most {MAX_MOVE_DAYS} days from the pattern's date"),
            );
            let span = times(&mut errors, ("start", start), ("end", end));
            if let Some((start, end)) = span {
                errors.check(
                    local_span(tz, *date, start, end).0 > now,
                    "start",
                    "must lie ahead",
                );
            }
            span.map(|(s, e)| (*date, s, e))
        }
    };
    errors.into_result()?;
    let exception = match moved {
        Some((date, start, end)) => PatternException::Move {
            on,
            date,
            start,
            end,
        },
        None => PatternException::Skip { on },
    };
    write_exception(&mut *state.db.acquire().await?, pattern_id, &exception).await?;
    Ok(Json(regenerate(&state, client_id, "exception").await?))
}

/// Removes a pattern's exception: the date gets its usual visit again.
#[utoipa::path(delete, path = "/clients/{id}/care-plans/{plan_id}/patterns/{pattern_id}/exceptions/{date}", tag = "care_plans", operation_id = "remove_care_plan_exception",
    params(("id" = Uuid, Path, description = "The client"), ("plan_id" = Uuid, Path, description = "The plan"),
           ("pattern_id" = Uuid, Path, description = "The pattern"), ("date" = NaiveDate, Path, description = "The pattern's date")),
    responses((status = 200, description = "What generation did", body = GenerationOutcome)))]
async fn remove_exception(
    State(state): State<AppState>,
    ApiPath((client_id, plan_id, pattern_id, on)): ApiPath<(Uuid, Uuid, Uuid, NaiveDate)>,
) -> Result<Json<GenerationOutcome>, ApiError> {
    plan_validity(&state, client_id, plan_id).await?;
    pattern_view(&state, plan_id, pattern_id).await?;
    homecare_store::care_plans::remove_exception(&mut *state.db.acquire().await?, pattern_id, on)
        .await?;
    Ok(Json(regenerate(&state, client_id, "exception").await?))
}
