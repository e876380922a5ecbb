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

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use homecare_domain::contracts::{AssignmentChange, PlanOutcome, PlanProposal, PlanRequest};
use homecare_domain::scheduling::{self, Booking, CaregiverProfile, Location, Overrides};
use homecare_domain::{EventEnvelope, EventKind};
use homecare_planner as planner;
use serde_json::json;
use sqlx::PgConnection;
use temporalio_sdk::activities::ActivityContext;
use uuid::Uuid;

use crate::scheduling::{
    Apply, DecidedBy, LoadedVisit, ProfileFilter, is_double_booking, load_profiles, load_visit,
    until_no_clash,
};
use crate::{ActivityFailure, VisitActivitiesImpl};

/// Rules the benchmark's abilities can express: they do not depend on time.
const STATIC_RULES: [&str; 6] = [
    "inactive",
    "client_excluded",
    "missing_skill",
    "credential_expired",
    "language_mismatch",
    "gender_mismatch",
];

struct Day {
    start: DateTime<Utc>,
    visits: Vec<LoadedVisit>,
    profiles: Vec<CaregiverProfile>,
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

async fn load_day(
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
struct Built {
    instance: planner::Instance,
    /// patient index → visit index in `Day::visits`
    patients: Vec<usize>,
}

fn build_instance(day: &Day, policy: &scheduling::Policy) -> Built {
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
    let distances = points
        .iter()
        .map(|a| {
            points
                .iter()
                .map(|b| a.distance_km(b) / policy.speed_kmh.max(1.0) * 60.0)
                .collect()
        })
        .collect();
    let minutes_from_start = |t: DateTime<Utc>| (t - day.start).num_seconds() as f64 / 60.0;
    let instance = planner::Instance {
        patients: patients
            .iter()
            .map(|&i| {
                let need = &day.visits[i].need;
                let start = minutes_from_start(need.start);
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
            })
            .collect(),
        services: patients
            .iter()
            .map(|&i| planner::Service {
                id: format!("v{i}"),
                default_duration: day.visits[i].need.minutes() as f64,
            })
            .collect(),
        caregivers: day
            .profiles
            .iter()
            .enumerate()
            .map(|(j, _)| planner::Caregiver {
                id: format!("c{j}"),
                abilities: abilities[j].clone(),
            })
            .collect(),
        central_offices: vec![planner::CentralOffice {
            id: "depot".to_owned(),
            location: None,
        }],
        distances,
    };
    Built { instance, patients }
}

impl VisitActivitiesImpl {
    /// Builds the day's instance and runs the optimizer for the request's time
    /// limit on a blocking thread, heartbeating every two seconds.
    #[tracing::instrument(skip_all, fields(plan_id = %request.plan_id, date = %request.date))]
    pub async fn solve_plan(
        &self,
        ctx: Option<&ActivityContext>,
        request: &PlanRequest,
    ) -> Result<PlanProposal, ActivityFailure> {
        let mut conn = self.db.acquire().await?;
        let day = load_day(&mut conn, request.date, &request.timezone, false).await?;
        drop(conn);
        let built = build_instance(&day, &self.policy);
        let visits = day.visits.len();
        let caregivers = day.profiles.len();
        if built.instance.patients.is_empty() || caregivers == 0 {
            return Ok(PlanProposal {
                plan_id: request.plan_id,
                assignments: Vec::new(),
                visits,
                caregivers,
                travel_minutes: 0.0,
                lateness_minutes: 0.0,
                max_lateness_minutes: 0.0,
                iterations: 0,
            });
        }
        let options = planner::SolveOptions::with_time_limit(
            Duration::from_secs(u64::from(request.time_limit_seconds.max(1))),
            request.seed,
        );
        let instance = built.instance.clone();
        let mut solving =
            tokio::task::spawn_blocking(move || planner::try_solve(&instance, &options));
        let result = loop {
            tokio::select! {
                done = &mut solving => break done,
                _ = tokio::time::sleep(Duration::from_secs(2)) => {
                    if let Some(ctx) = ctx {
                        let _ = ctx.record_heartbeat("solving").await;
                    }
                }
            }
        };
        let result = result
            .map_err(|e| ActivityFailure::Rejected(format!("the optimizer stopped: {e}")))?
            .map_err(|e| ActivityFailure::Rejected(format!("the optimizer failed: {e}")))?;
        // Routes → caregivers per visit, in route order.
        let mut staff: HashMap<usize, Vec<Uuid>> = HashMap::new();
        for route in &result.solution.routes {
            let Some(j) = route
                .caregiver_id
                .strip_prefix('c')
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            for stop in &route.locations {
                if let Some(i) = stop
                    .patient_id
                    .strip_prefix('p')
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    staff.entry(i).or_default().push(day.profiles[j].id);
                }
            }
        }
        let mut assignments: Vec<(Uuid, Vec<Uuid>)> = built
            .patients
            .iter()
            .filter_map(|i| staff.remove(i).map(|s| (day.visits[*i].need.visit_id, s)))
            .collect();
        assignments.sort();
        tracing::info!(
            visits,
            caregivers,
            planned = assignments.len(),
            cost = result.cost.total_cost,
            iterations = result.iterations,
            "day planned"
        );
        Ok(PlanProposal {
            plan_id: request.plan_id,
            assignments,
            visits,
            caregivers,
            travel_minutes: result.cost.distance,
            lateness_minutes: result.cost.total_tardiness,
            max_lateness_minutes: result.cost.max_tardiness,
            iterations: result.iterations,
        })
    }

    /// Applies a proposal in one transaction: each proposed caregiver is checked
    /// against every hard rule on the calendar as the plan fills it, the engine
    /// replaces any who breaks one, visits whose staff changes get a decision
    /// (`decided_by: planner`) and their events, and `homecare.plan.completed`
    /// goes out with the figures. Applying the same plan again changes nothing.
    #[tracing::instrument(skip_all, fields(plan_id = %proposal.plan_id))]
    pub async fn apply_plan(
        &self,
        proposal: &PlanProposal,
    ) -> Result<PlanOutcome, ActivityFailure> {
        until_no_clash(|| async move {
            let mut tx = self.db.begin().await?;
            let plan: Option<(NaiveDate, String, String, serde_json::Value)> = sqlx::query_as(
                "select plan_date, timezone, status, detail from plans where id = $1 for update",
            )
            .bind(proposal.plan_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((date, timezone, status, detail)) = plan else {
                return Err(ActivityFailure::Rejected(format!(
                    "no such plan {}",
                    proposal.plan_id
                )));
            };
            if status == "completed" {
                let outcome: PlanOutcome = serde_json::from_value(detail["outcome"].clone())
                    .map_err(|e| ActivityFailure::Rejected(format!("stored outcome: {e}")))?;
                tx.commit().await?;
                self.publish_plan(&outcome).await?;
                return Ok(Some(outcome));
            }
            let mut day = load_day(&mut tx, date, &timezone, true).await?;
            let proposed: HashMap<Uuid, &Vec<Uuid>> =
                proposal.assignments.iter().map(|(v, s)| (*v, s)).collect();
            let mut finals: Vec<Vec<Uuid>> = Vec::with_capacity(day.visits.len());
            for visit in &day.visits {
                let need = &visit.need;
                let fits = |staff: &[Uuid], profiles: &[CaregiverProfile]| {
                    staff.len() == usize::from(need.caregivers_needed)
                        && staff.iter().all(|id| {
                            profiles.iter().any(|p| {
                                p.id == *id
                                    && scheduling::violations(
                                        need,
                                        p,
                                        &self.policy,
                                        Overrides::default(),
                                    )
                                    .is_empty()
                            })
                        })
                };
                let chosen = match proposed.get(&need.visit_id) {
                    Some(staff) if fits(staff, &day.profiles) => (*staff).clone(),
                    _ => scheduling::decide(need, &day.profiles, &self.policy).caregiver_ids(),
                };
                for id in &chosen {
                    if let Some(p) = day.profiles.iter_mut().find(|p| p.id == *id) {
                        p.book(Booking {
                            visit_id: need.visit_id,
                            client_id: need.client_id,
                            start: need.start,
                            end: need.end,
                            location: need.location,
                        });
                    }
                }
                finals.push(chosen);
            }
            let changed: Vec<usize> = (0..day.visits.len())
                .filter(|&i| finals[i] != day.visits[i].staff)
                .collect();
            // Free every seat that changes hands first, so a swap between two
            // visits never meets itself in the double-booking constraints.
            let changed_ids: Vec<Uuid> = changed
                .iter()
                .map(|&i| day.visits[i].need.visit_id)
                .collect();
            sqlx::query("delete from visit_staff where visit_id = any($1)")
                .bind(&changed_ids)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "update visits set caregiver_id = null, status = 'unfilled' where id = any($1)",
            )
            .bind(&changed_ids)
            .execute(&mut *tx)
            .await?;
            let mut changes = Vec::with_capacity(changed.len());
            let mut clashed = false;
            for &i in &changed {
                let visit = &day.visits[i];
                let applied = crate::scheduling::apply(
                    &mut tx,
                    Apply {
                        visit,
                        staff: finals[i].clone(),
                        decided_by: DecidedBy::Planner(proposal.plan_id),
                        override_reason: None,
                        detail: json!({ "plan_id": proposal.plan_id }),
                    },
                )
                .await;
                match applied {
                    Err(e) if is_double_booking(&e) => {
                        clashed = true;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                    Ok(outcome) => changes.push(AssignmentChange {
                        visit_id: visit.need.visit_id,
                        outcome,
                    }),
                }
            }
            if clashed {
                return Ok(None);
            }
            let unfilled = finals.iter().filter(|f| f.is_empty()).count();
            let outcome = PlanOutcome {
                plan_id: proposal.plan_id,
                visits: proposal.visits,
                caregivers: proposal.caregivers,
                travel_minutes: proposal.travel_minutes,
                lateness_minutes: proposal.lateness_minutes,
                max_lateness_minutes: proposal.max_lateness_minutes,
                changed: changes.len(),
                unchanged: day.visits.len() - changes.len(),
                unfilled,
                changes,
            };
            sqlx::query(
                "update plans set status = 'completed', completed_at = now(), visits = $2,
                        caregivers = $3, travel_minutes = $4, lateness_minutes = $5,
                        max_lateness_minutes = $6, changed = $7, unchanged = $8, unfilled = $9,
                        detail = $10
                  where id = $1",
            )
            .bind(proposal.plan_id)
            .bind(outcome.visits as i32)
            .bind(outcome.caregivers as i32)
            .bind(outcome.travel_minutes)
            .bind(outcome.lateness_minutes)
            .bind(outcome.max_lateness_minutes)
            .bind(outcome.changed as i32)
            .bind(outcome.unchanged as i32)
            .bind(outcome.unfilled as i32)
            .bind(sqlx::types::Json(json!({
                "outcome": outcome,
                "iterations": proposal.iterations,
                "proposed": proposal.assignments.len(),
            })))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            for change in &outcome.changes {
                if let Err(e) = self.publish_pending(change.visit_id).await {
                    tracing::warn!(visit_id = %change.visit_id, error = %e, "publish deferred to the outbox sweeper");
                }
            }
            // If NATS is away, the activity fails and its retry finds the plan
            // completed and publishes again: nothing is applied twice.
            self.publish_plan(&outcome).await?;
            tracing::info!(
                changed = outcome.changed,
                unfilled = outcome.unfilled,
                "plan applied"
            );
            Ok(Some(outcome))
        })
        .await
    }

    /// `homecare.plan.completed`, with a deterministic id: a re-publish after a
    /// retry is dropped by JetStream's duplicate window.
    async fn publish_plan(&self, outcome: &PlanOutcome) -> Result<(), ActivityFailure> {
        let envelope = EventEnvelope::new(
            EventKind::PlanCompleted,
            outcome.plan_id,
            "",
            Utc::now(),
            json!({
                "plan_id": outcome.plan_id,
                "visits": outcome.visits,
                "caregivers": outcome.caregivers,
                "travel_minutes": outcome.travel_minutes,
                "lateness_minutes": outcome.lateness_minutes,
                "max_lateness_minutes": outcome.max_lateness_minutes,
                "changed": outcome.changed,
                "unchanged": outcome.unchanged,
                "unfilled": outcome.unfilled,
            }),
        );
        let subject = EventKind::PlanCompleted.subject_tail(outcome.plan_id);
        self.bus.publish(&subject, &envelope).await?;
        Ok(())
    }
}
