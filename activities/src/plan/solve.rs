//! `plan.solve`: the optimizer over one agency day. Reads only; the proposal
//! is applied by `plan.apply`.

use std::collections::HashMap;
use std::time::Duration;

use homecare_domain::contracts::{PlanProposal, PlanRequest};
use homecare_planner as planner;
use temporalio_sdk::activities::ActivityContext;
use uuid::Uuid;

use super::{Built, Day, build_instance, load_day};
use crate::step::{ActivityFailure, Steps};

/// Builds the day's instance and runs the optimizer for the request's time
/// limit on a blocking thread, heartbeating every two seconds.
#[tracing::instrument(skip_all, fields(plan_id = %request.plan_id, date = %request.date))]
pub async fn solve(
    steps: &Steps,
    ctx: Option<&ActivityContext>,
    request: &PlanRequest,
) -> Result<PlanProposal, ActivityFailure> {
    let mut conn = steps.store.db.acquire().await?;
    let day = load_day(&mut conn, request.date, &request.timezone, false).await?;
    drop(conn);
    let built = build_instance(&day, &steps.policy);
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
    let mut solving = tokio::task::spawn_blocking(move || planner::try_solve(&instance, &options));
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
    let assignments = assignments(&day, &built, &result.solution);
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

/// Routes → caregivers per visit, in route order.
fn assignments(day: &Day, built: &Built, solution: &planner::Solution) -> Vec<(Uuid, Vec<Uuid>)> {
    let index = |id: &str, prefix: char| {
        id.strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
    };
    let mut staff: HashMap<usize, Vec<Uuid>> = HashMap::new();
    for route in &solution.routes {
        let Some(j) = index(&route.caregiver_id, 'c') else {
            continue;
        };
        for stop in &route.locations {
            if let Some(i) = index(&stop.patient_id, 'p') {
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
    assignments
}
