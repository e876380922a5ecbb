//! What the scheduling engine decides from: a visit's needs and the
//! caregivers' profiles with their calendars, loaded with indexed queries.
//! The rules and the scoring are `homecare_domain::scheduling`; nothing here
//! decides anything. Activities decide with these, and the API ranks
//! candidates and checks a coordinator's choice with the same loaders.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use homecare_domain::VisitStatus;
use homecare_domain::contracts::AssignmentOutcome;
use homecare_domain::scheduling::{
    Booking, CaregiverProfile, Credential, DatedException, ExceptionKind, Location, PlanContinuity,
    VisitNeed, WeeklyWindow,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

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
    preferred_caregiver_id: Option<Uuid>,
    /// Who served the care-plan pattern's previous occurrence.
    previous_staff: Vec<Uuid>,
}

/// Loads the visit (locking its row when `lock`), its client's requirements and
/// preferences, and its current staff.
pub async fn load_visit(
    conn: &mut PgConnection,
    visit_id: Uuid,
    lock: bool,
) -> Result<LoadedVisit, StoreError> {
    let row = sqlx::query_as::<_, NeedRow>(&format!(
        "select v.client_id, lower(v.scheduled) as start, upper(v.scheduled) as end,
                v.required_skills, v.caregivers_needed, v.status::text as status,
                v.assignment_version, v.service_code, c.latitude, c.longitude, c.timezone,
                coalesce(v.required_language, c.required_language) as required_language,
                coalesce(v.required_gender, c.required_gender) as required_gender,
                v.preferred_caregiver_id,
                array(select s.caregiver_id from visit_staff s
                       where s.visit_id = (select p.id from visits p
                                            where p.pattern_id = v.pattern_id
                                              and p.occurrence_date < v.occurrence_date
                                              and p.status <> 'cancelled'
                                              and exists (select from visit_staff x where x.visit_id = p.id)
                                            order by p.occurrence_date desc limit 1)
                       order by s.slot) as previous_staff
           from visits v join clients c on c.id = v.client_id
          where v.id = $1 {}",
        if lock { "for update of v" } else { "" }
    ))
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::VisitNotFound(visit_id))?;
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
        StoreError::Inconsistent(format!("client time zone {} is unknown", row.timezone))
    })?;
    let of_kind = |kind: &str| {
        preferences
            .iter()
            .filter(|(_, k)| k == kind)
            .map(|(id, _)| *id)
            .collect::<Vec<_>>()
    };
    let status = crate::visits::parse_status(&row.status)?;
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
            plan_continuity: PlanContinuity {
                preferred: row.preferred_caregiver_id,
                previous: row.previous_staff,
            },
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

impl ProfileFilter {
    /// Only these caregivers.
    pub fn of(ids: &[Uuid]) -> Self {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        Self {
            skills: None,
            ids: Some(ids),
        }
    }
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
) -> Result<Vec<CaregiverProfile>, StoreError> {
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
    let mut profiles: HashMap<Uuid, CaregiverProfile> =
        rows.into_iter().map(|r| (r.id, r.into_profile())).collect();
    let window = (from - Duration::days(8), to + Duration::days(8));
    add_credentials(conn, &ids, &mut profiles).await?;
    add_weekly_hours(conn, &ids, &mut profiles).await?;
    add_exceptions(conn, &ids, window, &mut profiles).await?;
    add_bookings(conn, &ids, window, &mut profiles).await?;
    add_served_clients(conn, &ids, clients, &mut profiles).await?;
    let mut profiles: Vec<CaregiverProfile> = profiles.into_values().collect();
    profiles.sort_by_key(|p| p.id);
    Ok(profiles)
}

type Profiles = HashMap<Uuid, CaregiverProfile>;

impl CaregiverRow {
    fn into_profile(self) -> CaregiverProfile {
        let home = match (self.home_latitude, self.home_longitude) {
            (Some(latitude), Some(longitude)) => Some(Location {
                latitude,
                longitude,
            }),
            _ => None,
        };
        CaregiverProfile {
            id: self.id,
            name: self.name,
            active: self.active,
            // Skills listed without a credential row never expire; rows
            // (`add_credentials`) replace them with their expiry.
            credentials: self
                .skills
                .into_iter()
                .map(|skill| Credential {
                    skill,
                    expires_on: None,
                })
                .collect(),
            languages: self.languages,
            gender: self.gender,
            home,
            weekly: Vec::new(),
            exceptions: Vec::new(),
            bookings: Vec::new(),
            served_clients: HashSet::new(),
            max_minutes_per_day: self.max_minutes_per_day.into(),
            max_minutes_per_week: self.max_minutes_per_week.into(),
            overtime_after_minutes_per_week: self.overtime_after_minutes_per_week.into(),
        }
    }
}

async fn add_credentials(
    conn: &mut PgConnection,
    ids: &[Uuid],
    profiles: &mut Profiles,
) -> Result<(), sqlx::Error> {
    let credentials: Vec<(Uuid, String, Option<NaiveDate>)> = sqlx::query_as(
        "select caregiver_id, skill, expires_on from caregiver_credentials where caregiver_id = any($1)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for (id, skill, expires_on) in credentials {
        if let Some(p) = profiles.get_mut(&id) {
            p.credentials.retain(|c| c.skill != skill);
            p.credentials.push(Credential { skill, expires_on });
        }
    }
    Ok(())
}

async fn add_weekly_hours(
    conn: &mut PgConnection,
    ids: &[Uuid],
    profiles: &mut Profiles,
) -> Result<(), sqlx::Error> {
    let weekly: Vec<(Uuid, i16, NaiveTime, NaiveTime)> = sqlx::query_as(
        "select caregiver_id, weekday, starts, ends from caregiver_availability where caregiver_id = any($1)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for (id, day, start, end) in weekly {
        if let Some(p) = profiles.get_mut(&id) {
            p.weekly.push(WeeklyWindow {
                weekday: weekday(day),
                start,
                end,
            });
        }
    }
    Ok(())
}

async fn add_exceptions(
    conn: &mut PgConnection,
    ids: &[Uuid],
    (lo, hi): (DateTime<Utc>, DateTime<Utc>),
    profiles: &mut Profiles,
) -> Result<(), sqlx::Error> {
    let exceptions: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>, String)> = sqlx::query_as(
        "select caregiver_id, lower(period), upper(period), kind::text from caregiver_exceptions
          where caregiver_id = any($1) and period && tstzrange($2, $3)",
    )
    .bind(ids)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?;
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
    Ok(())
}

async fn add_bookings(
    conn: &mut PgConnection,
    ids: &[Uuid],
    (lo, hi): (DateTime<Utc>, DateTime<Utc>),
    profiles: &mut Profiles,
) -> Result<(), sqlx::Error> {
    let bookings: Vec<BookingRow> = sqlx::query_as(
        "select s.caregiver_id, s.visit_id, v.client_id, lower(s.scheduled), upper(s.scheduled),
                c.latitude, c.longitude
           from visit_staff s
           join visits v on v.id = s.visit_id
           join clients c on c.id = v.client_id
          where s.caregiver_id = any($1) and s.scheduled && tstzrange($2, $3)
          order by lower(s.scheduled)",
    )
    .bind(ids)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?;
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
    Ok(())
}

async fn add_served_clients(
    conn: &mut PgConnection,
    ids: &[Uuid],
    clients: &[Uuid],
    profiles: &mut Profiles,
) -> Result<(), sqlx::Error> {
    let served: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select distinct caregiver_id, client_id from visits
          where caregiver_id = any($1) and client_id = any($2)
            and status in ('completed', 'invoiced')",
    )
    .bind(ids)
    .bind(clients)
    .fetch_all(&mut *conn)
    .await?;
    for (id, client) in served {
        if let Some(p) = profiles.get_mut(&id) {
            p.served_clients.insert(client);
        }
    }
    Ok(())
}

/// The outcome as it stands, for a retried step whose decision committed.
pub fn current_outcome(visit: &LoadedVisit) -> AssignmentOutcome {
    AssignmentOutcome {
        caregiver_id: visit.staff.first().copied(),
        caregiver_ids: visit.staff.clone(),
        version: visit.version,
    }
}
