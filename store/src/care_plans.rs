//! A client's care plans as generation reads them, the visits generated so
//! far, and the writes generation makes.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use homecare_domain::care_plan::{
    Duty, GeneratedVisit, HolidayRule, MAX_MOVE_DAYS, PLAN_CANCEL_REASON, Pattern,
    PatternException, PlanSchedule, PlanVersion, PlannedVisit, Recurrence, Requirements,
    ScheduledPattern,
};
use homecare_domain::contracts::AuthorizationOverrun;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;
use crate::visits::parse_status;

/// Everything one client's generation needs.
#[derive(Debug, Clone)]
pub struct ClientSchedule {
    pub timezone: Tz,
    pub plans: Vec<PlanSchedule>,
    pub holidays: BTreeSet<NaiveDate>,
    pub horizon_days: i64,
}

/// Serialises a client's generations, whichever worker runs them.
pub async fn lock_client_schedule(
    conn: &mut PgConnection,
    client_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("care-plan/{client_id}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The client's time zone, and "today" there at `now`.
pub async fn client_today(
    conn: &mut PgConnection,
    client_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(Tz, NaiveDate), StoreError> {
    let timezone: Option<String> = sqlx::query_scalar("select timezone from clients where id = $1")
        .bind(client_id)
        .fetch_optional(&mut *conn)
        .await?;
    let timezone =
        timezone.ok_or_else(|| StoreError::Inconsistent(format!("no such client {client_id}")))?;
    let tz: Tz = timezone
        .parse()
        .map_err(|_| StoreError::Inconsistent(format!("client time zone {timezone} is unknown")))?;
    Ok((tz, now.with_timezone(&tz).date_naive()))
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: Uuid,
    payer_id: Uuid,
    service_code: String,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    care_plan_id: Uuid,
    version: i32,
    effective_from: NaiveDate,
    duties: sqlx::types::Json<Vec<Duty>>,
    required_skills: Vec<String>,
    required_language: Option<String>,
    required_gender: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PatternRow {
    id: Uuid,
    care_plan_id: Uuid,
    kind: String,
    weekdays: Vec<i16>,
    every_weeks: i16,
    month_day: Option<i16>,
    starts_at: NaiveTime,
    ends_at: NaiveTime,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    caregivers_needed: i16,
    preferred_caregiver_id: Option<Uuid>,
    holidays: String,
}

#[derive(sqlx::FromRow)]
struct ExceptionRow {
    pattern_id: Uuid,
    on_date: NaiveDate,
    kind: String,
    moved_date: Option<NaiveDate>,
    moved_start: Option<NaiveTime>,
    moved_end: Option<NaiveTime>,
}

fn weekday(iso: i16) -> Option<Weekday> {
    Weekday::try_from(u8::try_from(iso - 1).ok()?).ok()
}

impl PatternRow {
    fn pattern(&self) -> Result<Pattern, StoreError> {
        let recurrence = match self.kind.as_str() {
            "weekly" => Recurrence::Weekly {
                weekdays: self.weekdays.iter().filter_map(|d| weekday(*d)).collect(),
                every_weeks: self.every_weeks.clamp(1, 2) as u8,
            },
            "monthly" => Recurrence::Monthly {
                day: self.month_day.unwrap_or(1).clamp(1, 31) as u8,
            },
            other => {
                return Err(StoreError::Inconsistent(format!(
                    "pattern {} has unknown kind {other}",
                    self.id
                )));
            }
        };
        Ok(Pattern {
            id: self.id,
            recurrence,
            start: self.starts_at,
            end: self.ends_at,
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            holidays: if self.holidays == "keep" {
                HolidayRule::Keep
            } else {
                HolidayRule::Skip
            },
        })
    }
}

impl ExceptionRow {
    fn exception(&self) -> PatternException {
        match (
            self.kind.as_str(),
            self.moved_date,
            self.moved_start,
            self.moved_end,
        ) {
            ("move", Some(date), Some(start), Some(end)) => PatternException::Move {
                on: self.on_date,
                date,
                start,
                end,
            },
            _ => PatternException::Skip { on: self.on_date },
        }
    }
}

const PATTERN_COLUMNS: &str = "id, care_plan_id, kind, weekdays, every_weeks, month_day, starts_at,
    ends_at, starts_on, ends_on, caregivers_needed, preferred_caregiver_id, holidays";

/// One pattern of the plan, as generation reads it.
pub async fn load_pattern(
    conn: &mut PgConnection,
    plan_id: Uuid,
    pattern_id: Uuid,
) -> Result<Option<Pattern>, StoreError> {
    let row: Option<PatternRow> = sqlx::query_as(&format!(
        "select {PATTERN_COLUMNS} from care_plan_patterns where id = $1 and care_plan_id = $2"
    ))
    .bind(pattern_id)
    .bind(plan_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| row.pattern()).transpose()
}

/// What became of a coordinator's move of a visit (`remember_move`).
#[derive(Debug)]
pub enum RememberedMove {
    /// Not a generated visit: nothing to remember.
    NotGenerated,
    /// The occurrence's exception now says where the visit went; `previous`
    /// is what it said before (to put back if the move is refused).
    Remembered {
        pattern_id: Uuid,
        on: NaiveDate,
        previous: Option<PatternException>,
    },
    /// The new times cross the client's midnight: a pattern's visit is one day's.
    SpansDays,
    /// More than `MAX_MOVE_DAYS` from the occurrence's own date.
    TooFar,
}

/// A coordinator moves a generated visit to `[start, end)`: the move becomes
/// the occurrence's exception, so the next generation keeps it there instead
/// of moving it back to the pattern's time.
pub async fn remember_move(
    conn: &mut PgConnection,
    visit_id: Uuid,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Result<RememberedMove, StoreError> {
    let row: Option<(Option<Uuid>, Option<NaiveDate>, String)> = sqlx::query_as(
        "select v.pattern_id, v.occurrence_date, c.timezone
           from visits v join clients c on c.id = v.client_id where v.id = $1",
    )
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((Some(pattern_id), Some(on), timezone)) = row else {
        return Ok(RememberedMove::NotGenerated);
    };
    let tz: Tz = timezone
        .parse()
        .map_err(|_| StoreError::Inconsistent(format!("client time zone {timezone} is unknown")))?;
    let (from, to) = (start.with_timezone(&tz), end.with_timezone(&tz));
    if from.date_naive() != to.date_naive() || to.time() <= from.time() {
        return Ok(RememberedMove::SpansDays);
    }
    let date = from.date_naive();
    if (date - on).num_days().unsigned_abs() > MAX_MOVE_DAYS {
        return Ok(RememberedMove::TooFar);
    }
    let previous = pattern_exceptions(conn, &[pattern_id])
        .await?
        .into_iter()
        .map(|(_, e)| e)
        .find(|e| e.on() == on);
    write_exception(
        conn,
        pattern_id,
        &PatternException::Move {
            on,
            date,
            start: from.time(),
            end: to.time(),
        },
    )
    .await?;
    Ok(RememberedMove::Remembered {
        pattern_id,
        on,
        previous,
    })
}

/// Sets the occurrence's exception (replacing any it had).
pub async fn write_exception(
    conn: &mut PgConnection,
    pattern_id: Uuid,
    exception: &PatternException,
) -> Result<(), sqlx::Error> {
    let (kind, moved) = match exception {
        PatternException::Skip { .. } => ("skip", None),
        PatternException::Move {
            date, start, end, ..
        } => ("move", Some((*date, *start, *end))),
    };
    sqlx::query(
        "insert into care_plan_exceptions (pattern_id, on_date, kind, moved_date, moved_start, moved_end)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (pattern_id, on_date) do update
            set kind = excluded.kind, moved_date = excluded.moved_date,
                moved_start = excluded.moved_start, moved_end = excluded.moved_end",
    )
    .bind(pattern_id)
    .bind(exception.on())
    .bind(kind)
    .bind(moved.map(|m| m.0))
    .bind(moved.map(|m| m.1))
    .bind(moved.map(|m| m.2))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes the occurrence's exception.
pub async fn remove_exception(
    conn: &mut PgConnection,
    pattern_id: Uuid,
    on: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from care_plan_exceptions where pattern_id = $1 and on_date = $2")
        .bind(pattern_id)
        .bind(on)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The exceptions of `pattern_ids`, each with its pattern, by date.
pub async fn pattern_exceptions(
    conn: &mut PgConnection,
    pattern_ids: &[Uuid],
) -> Result<Vec<(Uuid, PatternException)>, StoreError> {
    let rows: Vec<ExceptionRow> = sqlx::query_as(
        "select pattern_id, on_date, kind, moved_date, moved_start, moved_end
           from care_plan_exceptions where pattern_id = any($1) order by on_date, pattern_id",
    )
    .bind(pattern_ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|row| (row.pattern_id, row.exception()))
        .collect())
}

/// The client's plans that apply on `today` or later, with their versions,
/// patterns and exceptions; the agency's holidays and horizon.
pub async fn load_schedule(
    conn: &mut PgConnection,
    client_id: Uuid,
    tz: Tz,
    today: NaiveDate,
) -> Result<ClientSchedule, StoreError> {
    let plans: Vec<PlanRow> = sqlx::query_as(
        "select id, payer_id, service_code, valid_from, valid_until from care_plans
          where client_id = $1 and (valid_until is null or valid_until >= $2)
          order by created_at, id",
    )
    .bind(client_id)
    .bind(today)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = plans.iter().map(|p| p.id).collect();
    let versions: Vec<VersionRow> = sqlx::query_as(
        "select care_plan_id, version, effective_from, duties, required_skills, required_language,
                required_gender
           from care_plan_versions where care_plan_id = any($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let patterns: Vec<PatternRow> = sqlx::query_as(&format!(
        "select {PATTERN_COLUMNS} from care_plan_patterns
          where care_plan_id = any($1) and (ends_on is null or ends_on >= $2)
          order by created_at, id"
    ))
    .bind(&ids)
    .bind(today)
    .fetch_all(&mut *conn)
    .await?;
    let pattern_ids: Vec<Uuid> = patterns.iter().map(|p| p.id).collect();
    let exceptions = pattern_exceptions(conn, &pattern_ids).await?;
    let (holidays, horizon_days): (Vec<NaiveDate>, i32) = sqlx::query_as(
        "select coalesce(array(select day from holidays where day >= $1 - 62 order by day), '{}'),
                schedule_horizon_days
           from agency_settings",
    )
    .bind(today)
    .fetch_one(&mut *conn)
    .await?;
    let mut exceptions_of: HashMap<Uuid, Vec<PatternException>> = HashMap::new();
    for (pattern_id, exception) in exceptions {
        exceptions_of.entry(pattern_id).or_default().push(exception);
    }
    let mut schedules = Vec::with_capacity(plans.len());
    for plan in plans {
        let mut scheduled = Vec::new();
        for row in patterns.iter().filter(|p| p.care_plan_id == plan.id) {
            scheduled.push(ScheduledPattern {
                pattern: row.pattern()?,
                exceptions: exceptions_of.remove(&row.id).unwrap_or_default(),
                caregivers_needed: row.caregivers_needed.clamp(1, 2) as u8,
                preferred_caregiver: row.preferred_caregiver_id,
            });
        }
        schedules.push(PlanSchedule {
            plan_id: plan.id,
            payer_id: plan.payer_id,
            service_code: plan.service_code,
            valid_from: plan.valid_from,
            valid_until: plan.valid_until,
            versions: versions
                .iter()
                .filter(|v| v.care_plan_id == plan.id)
                .map(|v| PlanVersion {
                    version: v.version,
                    effective_from: v.effective_from,
                    duties: v.duties.0.clone(),
                    requirements: Requirements {
                        required_skills: v.required_skills.clone(),
                        required_language: v.required_language.clone(),
                        required_gender: v.required_gender.clone(),
                    },
                })
                .collect(),
            patterns: scheduled,
        });
    }
    Ok(ClientSchedule {
        timezone: tz,
        plans: schedules,
        holidays: holidays.into_iter().collect(),
        horizon_days: horizon_days.into(),
    })
}

#[derive(sqlx::FromRow)]
struct GeneratedRow {
    id: Uuid,
    pattern_id: Uuid,
    occurrence_date: NaiveDate,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    status: String,
    cancelled_by_plan: bool,
    plan_version: i32,
    preferred_caregiver_id: Option<Uuid>,
    updated_at: DateTime<Utc>,
}

/// Writes the plan version and preferred caregiver of open generated visits
/// whose plan changed them (`Reconciliation::restamp`).
pub async fn restamp_visits(
    conn: &mut PgConnection,
    visits: &[PlannedVisit],
) -> Result<(), sqlx::Error> {
    if visits.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = visits.iter().map(|v| v.visit_id).collect();
    let versions: Vec<i32> = visits.iter().map(|v| v.version).collect();
    let preferred: Vec<Option<Uuid>> = visits.iter().map(|v| v.preferred_caregiver).collect();
    sqlx::query(
        "update visits v set plan_version = r.version, preferred_caregiver_id = r.preferred,
                             updated_at = now()
           from unnest($1::uuid[], $2::int[], $3::uuid[]) as r(id, version, preferred)
          where v.id = r.id and v.status in ('scheduled', 'unfilled', 'assigned')",
    )
    .bind(&ids)
    .bind(&versions)
    .bind(&preferred)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Cancels a generated visit whose workflow never started (a crash between
/// saving it and starting it) and which the plan no longer asks for.
pub async fn cancel_unstarted(conn: &mut PgConnection, visit_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update visits set status = 'cancelled', cancel_reason = $2, updated_at = now()
          where id = $1 and status = 'scheduled'",
    )
    .bind(visit_id)
    .bind(PLAN_CANCEL_REASON)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The client's generated visits whose occurrence is on `from` or later.
pub async fn generated_visits(
    conn: &mut PgConnection,
    client_id: Uuid,
    from: NaiveDate,
) -> Result<Vec<GeneratedVisit>, StoreError> {
    let rows: Vec<GeneratedRow> = sqlx::query_as(
        "select id, pattern_id, occurrence_date, lower(scheduled) as start, upper(scheduled) as end,
                status::text as status, coalesce(cancel_reason = $3, false) as cancelled_by_plan,
                plan_version, preferred_caregiver_id, updated_at
           from visits
          where client_id = $1 and care_plan_id is not null and occurrence_date >= $2",
    )
    .bind(client_id)
    .bind(from)
    .bind(PLAN_CANCEL_REASON)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(GeneratedVisit {
                visit_id: row.id,
                pattern_id: row.pattern_id,
                occurrence_date: row.occurrence_date,
                start: row.start,
                end: row.end,
                status: parse_status(&row.status)?,
                cancelled_by_plan: row.cancelled_by_plan,
                plan_version: row.plan_version,
                preferred_caregiver: row.preferred_caregiver_id,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

/// Inserts the planned visits' rows (a row that exists already is left as it
/// is); returns how many were new.
pub async fn insert_planned_visits(
    conn: &mut PgConnection,
    client_id: Uuid,
    visits: &[PlannedVisit],
) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for visit in visits {
        let needs = &visit.requirements;
        let mut skills = needs.required_skills.clone();
        skills.sort();
        skills.dedup();
        inserted += sqlx::query(
            "insert into visits (id, client_id, payer_id, service_code, scheduled, required_skills,
                                 caregivers_needed, care_plan_id, pattern_id, occurrence_date,
                                 plan_version, preferred_caregiver_id, required_language, required_gender)
             values ($1, $2, $3, $4, tstzrange($5, $6), $7, $8, $9, $10, $11, $12, $13, $14, $15)
             on conflict (id) do nothing",
        )
        .bind(visit.visit_id)
        .bind(client_id)
        .bind(visit.payer_id)
        .bind(&visit.service_code)
        .bind(visit.occurrence.start)
        .bind(visit.occurrence.end)
        .bind(&skills)
        .bind(i16::from(visit.caregivers_needed))
        .bind(visit.plan_id)
        .bind(visit.occurrence.pattern_id)
        .bind(visit.occurrence.date)
        .bind(visit.version)
        .bind(visit.preferred_caregiver)
        .bind(&needs.required_language)
        .bind(&needs.required_gender)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}

/// Periods of the client's authorizations for the payer's service whose
/// planned units (`units`, by service date) exceed them, attributed to
/// `care_plan_id`.
pub async fn authorization_overruns(
    conn: &mut PgConnection,
    client_id: Uuid,
    (payer_id, service_code): (Uuid, &str),
    units: &[(NaiveDate, i64)],
    care_plan_id: Uuid,
) -> Result<Vec<AuthorizationOverrun>, sqlx::Error> {
    let (days, amounts): (Vec<NaiveDate>, Vec<i64>) = units.iter().copied().unzip();
    let rows: Vec<(Uuid, NaiveDate, NaiveDate, i32, i64)> = sqlx::query_as(
        "select a.id, lower(authorization_period(a.per, p.day)),
                upper(authorization_period(a.per, p.day)) - 1, a.units, sum(p.units)::bigint
           from unnest($1::date[], $2::bigint[]) as p(day, units)
           join authorizations a on a.client_id = $3 and a.payer_id = $4
                                and a.service_code = $5 and a.valid @> p.day
          group by a.id, authorization_period(a.per, p.day), a.units
         having sum(p.units) > a.units
          order by 2, 1",
    )
    .bind(&days)
    .bind(&amounts)
    .bind(client_id)
    .bind(payer_id)
    .bind(service_code)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(authorization_id, period_start, period_end, authorized, planned)| {
                AuthorizationOverrun {
                    care_plan_id,
                    authorization_id,
                    period_start,
                    period_end,
                    authorized_units: authorized.into(),
                    planned_units: planned,
                }
            },
        )
        .collect())
}

/// Sets the plan's over-authorization flag. Raising it also marks its alert
/// as due, in the same transaction: the alert goes out after the commit
/// (`alerts_due`, `alert_sent`), so a crash in between leaves it due for the
/// retry instead of lost.
pub async fn flag_over_authorization(
    conn: &mut PgConnection,
    plan_id: Uuid,
    over: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update care_plans set over_authorization = $2, over_authorization_alert_due = $2
          where id = $1 and over_authorization is distinct from $2",
    )
    .bind(plan_id)
    .bind(over)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The client's plans whose over-authorization alert is due.
pub async fn alerts_due(
    conn: &mut PgConnection,
    client_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from care_plans where client_id = $1 and over_authorization_alert_due order by id",
    )
    .bind(client_id)
    .fetch_all(&mut *conn)
    .await
}

/// The plan's over-authorization alert went out.
pub async fn alert_sent(conn: &mut PgConnection, plan_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update care_plans set over_authorization_alert_due = false where id = $1")
        .bind(plan_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
