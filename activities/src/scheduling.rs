//! The scheduling engine's I/O: loading a visit's needs and the caregivers'
//! profiles with indexed queries, and applying a decision in the caller's
//! transaction (bookings, the visit row, the decision log and the events).
//!
//! The rules and the scoring are `homecare_domain::scheduling`; nothing here
//! decides anything. The API uses the loaders too (candidates, manual checks).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use homecare_domain::contracts::AssignmentOutcome;
use homecare_domain::scheduling::{
    Booking, CaregiverProfile, Credential, DatedException, ExceptionKind, Location, VisitNeed,
    WeeklyWindow,
};
use homecare_domain::{EventKind, VisitStatus};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ActivityFailure;

/// Postgres `exclusion_violation`: a double-booking constraint fired.
pub const EXCLUSION_VIOLATION: &str = "23P01";

pub fn is_double_booking(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(EXCLUSION_VIOLATION))
}

/// How many times a decision is made again after losing a race for a caregiver
/// before handing the retry to Temporal.
pub const MAX_DECISION_ATTEMPTS: u32 = 5;

/// Runs one decision transaction after another until one completes. An attempt
/// returns `Ok(None)` when a double-booking constraint refused it (a concurrent
/// decision took a caregiver between our read and our write; the transaction
/// has rolled back), and the next attempt decides again from fresh data. After
/// `MAX_DECISION_ATTEMPTS` the activity fails with a retryable `Contention`.
pub(crate) async fn until_no_clash<T, F>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, ActivityFailure>
where
    F: std::future::Future<Output = Result<Option<T>, ActivityFailure>>,
{
    for _ in 0..MAX_DECISION_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
        tracing::info!("a caregiver was booked concurrently; deciding again");
    }
    Err(ActivityFailure::Contention(MAX_DECISION_ATTEMPTS))
}

/// A visit as the engine needs it, plus what the caller must know to apply a
/// decision (status, current staff, version).
#[derive(Debug, Clone)]
pub struct LoadedVisit {
    pub need: VisitNeed,
    pub status: VisitStatus,
    pub version: i64,
    /// Caregivers booked now, in slot order.
    pub staff: Vec<Uuid>,
    pub service_code: String,
}

#[derive(sqlx::FromRow)]
struct NeedRow {
    client_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    required_skills: Vec<String>,
    caregivers_needed: i16,
    status: String,
    assignment_version: i32,
    service_code: String,
    latitude: f64,
    longitude: f64,
    timezone: String,
    required_language: Option<String>,
    required_gender: Option<String>,
}

/// Loads the visit (locking its row when `lock`), its client's requirements and
/// preferences, and its current staff.
pub async fn load_visit(
    conn: &mut PgConnection,
    visit_id: Uuid,
    lock: bool,
) -> Result<LoadedVisit, ActivityFailure> {
    let row = sqlx::query_as::<_, NeedRow>(&format!(
        "select v.client_id, lower(v.scheduled) as start, upper(v.scheduled) as end,
                v.required_skills, v.caregivers_needed, v.status::text as status,
                v.assignment_version, v.service_code, c.latitude, c.longitude, c.timezone,
                c.required_language, c.required_gender
           from visits v join clients c on c.id = v.client_id
          where v.id = $1 {}",
        if lock { "for update of v" } else { "" }
    ))
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ActivityFailure::VisitNotFound(visit_id))?;
    let preferences: Vec<(Uuid, String)> = sqlx::query_as(
        "select caregiver_id, kind::text from client_caregiver_preferences where client_id = $1",
    )
    .bind(row.client_id)
    .fetch_all(&mut *conn)
    .await?;
    let staff: Vec<Uuid> = sqlx::query_scalar(
        "select caregiver_id from visit_staff where visit_id = $1 order by slot",
    )
    .bind(visit_id)
    .fetch_all(&mut *conn)
    .await?;
    let timezone: Tz = row.timezone.parse().map_err(|_| {
        ActivityFailure::Rejected(format!("client time zone {} is unknown", row.timezone))
    })?;
    let of_kind = |kind: &str| {
        preferences
            .iter()
            .filter(|(_, k)| k == kind)
            .map(|(id, _)| *id)
            .collect::<Vec<_>>()
    };
    let status = row
        .status
        .parse()
        .map_err(|e: homecare_domain::visit::UnknownStatus| {
            ActivityFailure::Rejected(e.to_string())
        })?;
    Ok(LoadedVisit {
        need: VisitNeed {
            visit_id,
            client_id: row.client_id,
            start: row.start,
            end: row.end,
            timezone,
            location: Location {
                latitude: row.latitude,
                longitude: row.longitude,
            },
            required_skills: row.required_skills,
            caregivers_needed: row.caregivers_needed.clamp(1, 2) as u8,
            required_language: row.required_language,
            required_gender: row.required_gender,
            excluded_caregivers: of_kind("excluded"),
            preferred_caregivers: of_kind("preferred"),
        },
        status,
        version: row.assignment_version.into(),
        staff,
        service_code: row.service_code,
    })
}

/// Which caregivers to load.
#[derive(Debug, Clone, Default)]
pub struct ProfileFilter {
    /// Only active caregivers holding every one of these skills (the GIN index).
    pub skills: Option<Vec<String>>,
    /// Only these caregivers (whatever their state: a manual check reports why).
    pub ids: Option<Vec<Uuid>>,
}

/// (caregiver, visit, client, start, end, latitude, longitude)
type BookingRow = (Uuid, Uuid, Uuid, DateTime<Utc>, DateTime<Utc>, f64, f64);

#[derive(sqlx::FromRow)]
struct CaregiverRow {
    id: Uuid,
    name: String,
    active: bool,
    skills: Vec<String>,
    languages: Vec<String>,
    gender: Option<String>,
    home_latitude: Option<f64>,
    home_longitude: Option<f64>,
    max_minutes_per_day: i32,
    max_minutes_per_week: i32,
    overtime_after_minutes_per_week: i32,
}

fn weekday(iso: i16) -> Weekday {
    match iso {
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        6 => Weekday::Sat,
        _ => Weekday::Sun,
    }
}

/// Loads the caregivers' profiles with their calendars around `[from, to)`:
/// bookings and exceptions from a week before to a week after, which covers the
/// weekly hours and the travel neighbours of every visit inside the range.
/// `clients`: the clients whose continuity of care matters.
pub async fn load_profiles(
    conn: &mut PgConnection,
    filter: &ProfileFilter,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    clients: &[Uuid],
) -> Result<Vec<CaregiverProfile>, ActivityFailure> {
    let rows = sqlx::query_as::<_, CaregiverRow>(
        "select id, name, active, skills, languages, gender, home_latitude, home_longitude,
                max_minutes_per_day, max_minutes_per_week, overtime_after_minutes_per_week
           from caregivers
          where ($1::text[] is null or (active and skills @> $1))
            and ($2::uuid[] is null or id = any($2))
          order by id",
    )
    .bind(&filter.skills)
    .bind(&filter.ids)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let (lo, hi) = (from - Duration::days(8), to + Duration::days(8));

    let credentials: Vec<(Uuid, String, Option<NaiveDate>)> = sqlx::query_as(
        "select caregiver_id, skill, expires_on from caregiver_credentials where caregiver_id = any($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let weekly: Vec<(Uuid, i16, NaiveTime, NaiveTime)> = sqlx::query_as(
        "select caregiver_id, weekday, starts, ends from caregiver_availability where caregiver_id = any($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let exceptions: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>, String)> = sqlx::query_as(
        "select caregiver_id, lower(period), upper(period), kind::text from caregiver_exceptions
          where caregiver_id = any($1) and period && tstzrange($2, $3)",
    )
    .bind(&ids)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?;
    let bookings: Vec<BookingRow> = sqlx::query_as(
        "select s.caregiver_id, s.visit_id, v.client_id, lower(s.scheduled), upper(s.scheduled),
                    c.latitude, c.longitude
               from visit_staff s
               join visits v on v.id = s.visit_id
               join clients c on c.id = v.client_id
              where s.caregiver_id = any($1) and s.scheduled && tstzrange($2, $3)
              order by lower(s.scheduled)",
    )
    .bind(&ids)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?;
    let served: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select distinct caregiver_id, client_id from visits
          where caregiver_id = any($1) and client_id = any($2)
            and status in ('completed', 'invoiced')",
    )
    .bind(&ids)
    .bind(clients)
    .fetch_all(&mut *conn)
    .await?;

    let mut profiles: HashMap<Uuid, CaregiverProfile> = rows
        .into_iter()
        .map(|r| {
            let home = match (r.home_latitude, r.home_longitude) {
                (Some(latitude), Some(longitude)) => Some(Location {
                    latitude,
                    longitude,
                }),
                _ => None,
            };
            let profile = CaregiverProfile {
                id: r.id,
                name: r.name,
                active: r.active,
                // Skills listed without a credential row never expire; rows
                // (below) replace them with their expiry.
                credentials: r
                    .skills
                    .into_iter()
                    .map(|skill| Credential {
                        skill,
                        expires_on: None,
                    })
                    .collect(),
                languages: r.languages,
                gender: r.gender,
                home,
                weekly: Vec::new(),
                exceptions: Vec::new(),
                bookings: Vec::new(),
                served_clients: HashSet::new(),
                max_minutes_per_day: r.max_minutes_per_day.into(),
                max_minutes_per_week: r.max_minutes_per_week.into(),
                overtime_after_minutes_per_week: r.overtime_after_minutes_per_week.into(),
            };
            (r.id, profile)
        })
        .collect();
    for (id, skill, expires_on) in credentials {
        if let Some(p) = profiles.get_mut(&id) {
            p.credentials.retain(|c| c.skill != skill);
            p.credentials.push(Credential { skill, expires_on });
        }
    }
    for (id, day, start, end) in weekly {
        if let Some(p) = profiles.get_mut(&id) {
            p.weekly.push(WeeklyWindow {
                weekday: weekday(day),
                start,
                end,
            });
        }
    }
    for (id, start, end, kind) in exceptions {
        if let Some(p) = profiles.get_mut(&id) {
            let kind = if kind == "available" {
                ExceptionKind::Available
            } else {
                ExceptionKind::Unavailable
            };
            p.exceptions.push(DatedException { start, end, kind });
        }
    }
    for (id, visit_id, client_id, start, end, latitude, longitude) in bookings {
        if let Some(p) = profiles.get_mut(&id) {
            // Already in start order.
            p.bookings.push(Booking {
                visit_id,
                client_id,
                start,
                end,
                location: Location {
                    latitude,
                    longitude,
                },
            });
        }
    }
    for (id, client) in served {
        if let Some(p) = profiles.get_mut(&id) {
            p.served_clients.insert(client);
        }
    }
    let mut profiles: Vec<CaregiverProfile> = profiles.into_values().collect();
    profiles.sort_by_key(|p| p.id);
    Ok(profiles)
}

/// Who made a decision, as recorded in `assignment_decisions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    Engine,
    Coordinator,
    CallOut(Uuid),
    Planner(Uuid),
}

impl DecidedBy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Engine => "engine",
            Self::Coordinator => "coordinator",
            Self::CallOut(_) => "call_out",
            Self::Planner(_) => "planner",
        }
    }

    fn plan_id(self) -> Option<Uuid> {
        match self {
            Self::Planner(id) => Some(id),
            _ => None,
        }
    }

    fn call_out_id(self) -> Option<Uuid> {
        match self {
            Self::CallOut(id) => Some(id),
            _ => None,
        }
    }
}

/// A decision to write: the full staff in slot order (empty: unfilled).
pub struct Apply<'a> {
    pub visit: &'a LoadedVisit,
    pub staff: Vec<Uuid>,
    pub decided_by: DecidedBy,
    pub override_reason: Option<&'a str>,
    /// Score terms or other explanation, stored with the decision and the event.
    pub detail: serde_json::Value,
}

/// Writes a decision in the caller's transaction (with the visit's times as in
/// `visit.need`, which a reschedule has changed): the bookings (the exclusion
/// constraint refuses a double booking with 23P01, which callers turn into a
/// re-decision), the visit row with a bumped version, the decision log, and the
/// `visit.assigned` or `visit.unfilled` + `alert.unfilled` events.
pub async fn apply(
    conn: &mut PgConnection,
    decision: Apply<'_>,
) -> Result<AssignmentOutcome, sqlx::Error> {
    let visit = decision.visit;
    let visit_id = visit.need.visit_id;
    let version = visit.version + 1;
    sqlx::query("delete from visit_staff where visit_id = $1")
        .bind(visit_id)
        .execute(&mut *conn)
        .await?;
    for (slot, caregiver_id) in decision.staff.iter().enumerate() {
        sqlx::query(
            "insert into visit_staff (visit_id, slot, caregiver_id, scheduled)
             values ($1, $2, $3, tstzrange($4, $5))",
        )
        .bind(visit_id)
        .bind(slot as i16 + 1)
        .bind(caregiver_id)
        .bind(visit.need.start)
        .bind(visit.need.end)
        .execute(&mut *conn)
        .await?;
    }
    let primary = decision.staff.first().copied();
    let status = if primary.is_some() {
        VisitStatus::Assigned
    } else {
        VisitStatus::Unfilled
    };
    sqlx::query(
        "update visits set caregiver_id = $2, status = $3::visit_status,
                assignment_version = $4, scheduled = tstzrange($5, $6), updated_at = now()
          where id = $1",
    )
    .bind(visit_id)
    .bind(primary)
    .bind(status.as_str())
    .bind(version as i32)
    .bind(visit.need.start)
    .bind(visit.need.end)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into assignment_decisions
             (id, visit_id, version, caregiver_ids, decided_by, call_out_id, override_reason, detail, plan_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Uuid::new_v4())
    .bind(visit_id)
    .bind(version as i32)
    .bind(&decision.staff)
    .bind(decision.decided_by.as_str())
    .bind(decision.decided_by.call_out_id())
    .bind(decision.override_reason)
    .bind(sqlx::types::Json(&decision.detail))
    .bind(decision.decided_by.plan_id())
    .execute(&mut *conn)
    .await?;

    let now = Utc::now();
    let data = json!({
        "visit_id": visit_id,
        "client_id": visit.need.client_id,
        "caregiver_id": primary,
        "caregiver_ids": decision.staff,
        "previous_caregiver_ids": visit.staff,
        "status": status,
        "service_code": visit.service_code,
        "scheduled_start": visit.need.start,
        "scheduled_end": visit.need.end,
        "assignment_version": version,
        "decided_by": decision.decided_by.as_str(),
        "call_out_id": decision.decided_by.call_out_id(),
        "override_reason": decision.override_reason,
        "decision": decision.detail,
    });
    let discriminator = format!("v{version}");
    if primary.is_some() {
        crate::store::record_event(
            conn,
            EventKind::VisitAssigned,
            visit_id,
            &discriminator,
            now,
            data,
        )
        .await?;
    } else {
        crate::store::record_event(
            conn,
            EventKind::VisitUnfilled,
            visit_id,
            &discriminator,
            now,
            data.clone(),
        )
        .await?;
        // A microsecond later, so the alert always follows the state change.
        crate::store::record_event(
            conn,
            EventKind::UnfilledAlert,
            visit_id,
            &discriminator,
            now + chrono::Duration::microseconds(1),
            data,
        )
        .await?;
    }
    Ok(AssignmentOutcome {
        caregiver_id: primary,
        caregiver_ids: decision.staff,
        version,
    })
}

/// The outcome as it stands, for a retried activity whose decision committed.
pub fn current_outcome(visit: &LoadedVisit) -> AssignmentOutcome {
    AssignmentOutcome {
        caregiver_id: visit.staff.first().copied(),
        caregiver_ids: visit.staff.clone(),
        version: visit.version,
    }
}
