//! `plan.apply`: a proposal applied in one transaction. Each proposed
//! caregiver is checked against every hard rule on the calendar as the plan
//! fills it, the engine replaces any who breaks one, visits whose staff
//! changes get a decision (`decided_by: planner`) and their events, and
//! `homecare.plan.completed` goes out with the figures. Applying the same
//! plan again changes nothing.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use homecare_domain::EventEnvelope;
use homecare_domain::contracts::{AssignmentChange, PlanOutcome, PlanProposal, changed_visits};
use homecare_domain::events::{DecisionDetail, PlanCompleted};
use homecare_domain::scheduling::{self, Booking, CaregiverProfile, Overrides, Policy, VisitNeed};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Day, load_day};
use crate::assignment::{Apply, Decider, apply_decisions, until_no_clash};
use crate::step::{ActivityFailure, Steps};

#[tracing::instrument(skip_all, fields(plan_id = %proposal.plan_id))]
pub async fn apply(steps: &Steps, proposal: &PlanProposal) -> Result<PlanOutcome, ActivityFailure> {
    let outcome = until_no_clash(|| async move {
        let mut tx = steps.store.db.begin().await?;
        let (date, timezone, recorded) = lock_plan(&mut tx, proposal.plan_id).await?;
        if let Some(outcome) = recorded {
            tx.commit().await?;
            return Ok(Some(outcome));
        }
        let mut day = load_day(&mut tx, date, &timezone, true).await?;
        let finals = final_staff(&mut day, proposal, &steps.policy);
        let changed: Vec<usize> = (0..day.visits.len())
            .filter(|&i| finals[i] != day.visits[i].staff)
            .collect();
        free_seats(&mut tx, &day, &changed).await?;
        let applies = changed
            .iter()
            .map(|&i| Apply {
                visit: &day.visits[i],
                staff: finals[i].clone(),
                decided_by: Decider::Planner(proposal.plan_id),
                override_reason: None,
                detail: DecisionDetail::planned(proposal.plan_id),
            })
            .collect::<Vec<_>>();
        let Some(outcomes) = apply_decisions(&mut tx, applies).await? else {
            return Ok(None);
        };
        let changes: Vec<AssignmentChange> = changed
            .iter()
            .zip(outcomes)
            .map(|(&i, outcome)| AssignmentChange {
                visit_id: day.visits[i].need.visit_id,
                outcome,
            })
            .collect();
        let outcome = PlanOutcome {
            plan_id: proposal.plan_id,
            visits: proposal.visits,
            caregivers: proposal.caregivers,
            travel_minutes: proposal.travel_minutes,
            lateness_minutes: proposal.lateness_minutes,
            max_lateness_minutes: proposal.max_lateness_minutes,
            changed: changes.len(),
            unchanged: day.visits.len() - changes.len(),
            unfilled: finals.iter().filter(|f| f.is_empty()).count(),
            changes,
        };
        record_outcome(&mut tx, proposal, &outcome).await?;
        tx.commit().await?;
        Ok(Some(outcome))
    })
    .await?;
    steps
        .store
        .publish_committed(changed_visits(&outcome.changes))
        .await;
    // If NATS is away, the activity fails and its retry finds the plan
    // completed and publishes again: nothing is applied twice.
    publish_plan(steps, &outcome).await?;
    tracing::info!(
        changed = outcome.changed,
        unfilled = outcome.unfilled,
        "plan applied"
    );
    Ok(outcome)
}

/// The plan's day and time zone, locked, and its outcome if it was applied.
async fn lock_plan(
    conn: &mut PgConnection,
    plan_id: Uuid,
) -> Result<(NaiveDate, String, Option<PlanOutcome>), ActivityFailure> {
    let plan: Option<(NaiveDate, String, String, serde_json::Value)> = sqlx::query_as(
        "select plan_date, timezone, status, detail from plans where id = $1 for update",
    )
    .bind(plan_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((date, timezone, status, detail)) = plan else {
        return Err(ActivityFailure::Rejected(format!("no such plan {plan_id}")));
    };
    let recorded = if status == "completed" {
        Some(
            serde_json::from_value(detail["outcome"].clone())
                .map_err(|e| ActivityFailure::Rejected(format!("stored outcome: {e}")))?,
        )
    } else {
        None
    };
    Ok((date, timezone, recorded))
}

/// Each visit's staff: the proposal's where it meets every hard rule on the
/// calendar as the plan fills it, else the engine's choice.
fn final_staff(day: &mut Day, proposal: &PlanProposal, policy: &Policy) -> Vec<Vec<Uuid>> {
    let proposed: HashMap<Uuid, &Vec<Uuid>> =
        proposal.assignments.iter().map(|(v, s)| (*v, s)).collect();
    let mut finals = Vec::with_capacity(day.visits.len());
    for visit in &day.visits {
        let need = &visit.need;
        let chosen = match proposed.get(&need.visit_id) {
            Some(staff) if fits(need, staff, &day.profiles, policy) => (*staff).clone(),
            _ => scheduling::decide(need, &day.profiles, policy).caregiver_ids(),
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
    finals
}

fn fits(need: &VisitNeed, staff: &[Uuid], profiles: &[CaregiverProfile], policy: &Policy) -> bool {
    staff.len() == usize::from(need.caregivers_needed)
        && staff.iter().all(|id| {
            profiles.iter().any(|p| {
                p.id == *id
                    && scheduling::violations(need, p, policy, Overrides::default()).is_empty()
            })
        })
}

/// Frees every seat that changes hands first, so a swap between two visits
/// never meets itself in the double-booking constraints.
async fn free_seats(
    conn: &mut PgConnection,
    day: &Day,
    changed: &[usize],
) -> Result<(), sqlx::Error> {
    let changed_ids: Vec<Uuid> = changed
        .iter()
        .map(|&i| day.visits[i].need.visit_id)
        .collect();
    sqlx::query("delete from visit_staff where visit_id = any($1)")
        .bind(&changed_ids)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update visits set caregiver_id = null, status = 'unfilled' where id = any($1)")
        .bind(&changed_ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn record_outcome(
    conn: &mut PgConnection,
    proposal: &PlanProposal,
    outcome: &PlanOutcome,
) -> Result<(), sqlx::Error> {
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
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `homecare.plan.completed`, with a deterministic id: a re-publish after a
/// retry is dropped by JetStream's duplicate window.
async fn publish_plan(steps: &Steps, outcome: &PlanOutcome) -> Result<(), ActivityFailure> {
    let event = PlanCompleted::from(outcome);
    let envelope = EventEnvelope::of(&event, "", Utc::now());
    let subject = envelope
        .kind()
        .expect("a plan's event has a kind")
        .subject_tail(outcome.plan_id);
    steps.store.bus.publish(&subject, &envelope).await?;
    Ok(())
}
