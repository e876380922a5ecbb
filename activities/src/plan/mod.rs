//! Day plans: the optimizer (`homecare_planner`, the HHCRSP solver) over one
//! agency day, and its proposal applied through the same hard-rule checks as
//! any other assignment.
//!
//! The day becomes a benchmark instance: every open visit (`scheduled`,
//! `unfilled`, `assigned`) starting that local day is a patient whose time
//! window is its scheduled start (lateness is tardiness), each visit is its own
//! "service" that exactly the caregivers meeting its static rules (active,
//! skills and unexpired credentials, language, gender, not excluded) can do, a
//! two-person visit is two simultaneous services, and travel minutes come from
//! haversine distances at the policy's speed. The depot is the centroid of the
//! day's visits (the benchmark has one depot; our caregivers start from home).
//!
//! Time-based rules the benchmark does not model (weekly hours, time off, caps,
//! bookings outside the plan) are checked when the proposal is applied: a
//! proposed caregiver who breaks one is replaced by the engine's choice.

pub(crate) mod apply;
pub(crate) mod solve;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use homecare_domain::scheduling::{self, CaregiverProfile, Location, Overrides};
use homecare_planner as planner;
use homecare_store::scheduling::{LoadedVisit, ProfileFilter, load_profiles, load_visit};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::step::ActivityFailure;

/// Rules the benchmark's abilities can express: they do not depend on time.
const STATIC_RULES: [&str; 6] = [
    "inactive",
    "client_excluded",
    "missing_skill",
    "credential_expired",
    "language_mismatch",
    "gender_mismatch",
];

pub(crate) struct Day {
    pub start: DateTime<Utc>,
    pub visits: Vec<LoadedVisit>,
    pub profiles: Vec<CaregiverProfile>,
}

fn day_bounds(
    date: NaiveDate,
    timezone: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ActivityFailure> {
    let tz: Tz = timezone
        .parse()
        .map_err(|_| ActivityFailure::Rejected(format!("unknown time zone {timezone}")))?;
    let midnight = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ActivityFailure::Rejected(format!("{d} has no midnight in {timezone}")))
    };
    Ok((midnight(date)?, midnight(date.succ_opt().unwrap_or(date))?))
}

pub(crate) async fn load_day(
    conn: &mut PgConnection,
    date: NaiveDate,
    timezone: &str,
    lock: bool,
) -> Result<Day, ActivityFailure> {
    let (start, end) = day_bounds(date, timezone)?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select id from visits
          where status in ('scheduled', 'unfilled', 'assigned')
            and lower(scheduled) >= $1 and lower(scheduled) < $2
          order by lower(scheduled), id",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let mut visits = Vec::with_capacity(ids.len());
    for id in ids {
        visits.push(load_visit(conn, id, lock).await?);
    }
    let clients: Vec<Uuid> = visits.iter().map(|v| v.need.client_id).collect();
    let filter = ProfileFilter {
        skills: Some(Vec::new()),
        ids: None,
    };
    let mut profiles = load_profiles(conn, &filter, start, end, &clients).await?;
    // The plan re-decides every open visit of the day: none of them binds anyone.
    for visit in &visits {
        for profile in &mut profiles {
            profile.unbook(visit.need.visit_id);
        }
    }
    Ok(Day {
        start,
        visits,
        profiles,
    })
}

/// The day as a benchmark instance, with the maps back to visits and caregivers.
pub(crate) struct Built {
    pub instance: planner::Instance,
    /// patient index → visit index in `Day::visits`
    pub patients: Vec<usize>,
}

pub(crate) fn build_instance(day: &Day, policy: &scheduling::Policy) -> Built {
    let (patients, abilities) = abilities(day, policy);
    let instance = planner::Instance {
        distances: travel_minutes(day, &patients, policy),
        patients: patients.iter().map(|&i| patient(day, i)).collect(),
        services: patients
            .iter()
            .map(|&i| planner::Service {
                id: format!("v{i}"),
                default_duration: day.visits[i].need.minutes() as f64,
            })
            .collect(),
        caregivers: abilities
            .into_iter()
            .enumerate()
            .map(|(j, abilities)| planner::Caregiver {
                id: format!("c{j}"),
                abilities,
            })
            .collect(),
        central_offices: vec![planner::CentralOffice {
            id: "depot".to_owned(),
            location: None,
        }],
    };
    Built { instance, patients }
}

/// The visits enough caregivers can do (by index), and each caregiver's
/// abilities: the visits whose static rules they meet.
fn abilities(day: &Day, policy: &scheduling::Policy) -> (Vec<usize>, Vec<Vec<String>>) {
    let mut patients = Vec::new();
    let mut abilities: Vec<Vec<String>> = vec![Vec::new(); day.profiles.len()];
    for (i, visit) in day.visits.iter().enumerate() {
        let able: Vec<usize> = day
            .profiles
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                scheduling::violations(&visit.need, p, policy, Overrides::default())
                    .iter()
                    .all(|v| !STATIC_RULES.contains(&v.code()))
            })
            .map(|(j, _)| j)
            .collect();
        if able.len() < usize::from(visit.need.caregivers_needed) {
            continue;
        }
        for j in able {
            abilities[j].push(format!("v{i}"));
        }
        patients.push(i);
    }
    (patients, abilities)
}

/// Travel minutes between the depot (the centroid of the visits) and every
/// visit, at the policy's speed over haversine distances.
fn travel_minutes(day: &Day, patients: &[usize], policy: &scheduling::Policy) -> Vec<Vec<f64>> {
    let locations: Vec<Location> = patients
        .iter()
        .map(|&i| day.visits[i].need.location)
        .collect();
    let depot = if locations.is_empty() {
        Location {
            latitude: 0.0,
            longitude: 0.0,
        }
    } else {
        let n = locations.len() as f64;
        Location {
            latitude: locations.iter().map(|l| l.latitude).sum::<f64>() / n,
            longitude: locations.iter().map(|l| l.longitude).sum::<f64>() / n,
        }
    };
    let points: Vec<Location> = std::iter::once(depot).chain(locations).collect();
    points
        .iter()
        .map(|a| {
            points
                .iter()
                .map(|b| a.distance_km(b) / policy.speed_kmh.max(1.0) * 60.0)
                .collect()
        })
        .collect()
}

/// Visit `i` as a patient whose time window is its scheduled start (lateness
/// is tardiness); a two-person visit is two simultaneous services.
fn patient(day: &Day, i: usize) -> planner::Patient {
    let need = &day.visits[i].need;
    let start = (need.start - day.start).num_seconds() as f64 / 60.0;
    let service = planner::RequiredService {
        service: format!("v{i}"),
        duration: Some(need.minutes() as f64),
    };
    let two = need.caregivers_needed >= 2;
    planner::Patient {
        id: format!("p{i}"),
        location: None,
        time_window: [start, start],
        required_caregivers: if two {
            vec![service.clone(), service]
        } else {
            vec![service]
        },
        synchronization: two.then_some(planner::Synchronization::Simultaneous),
    }
}
