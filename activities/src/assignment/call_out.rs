//! A caregiver calls out for a period: the period becomes unavailable, and every
//! visit of theirs in it that has not started is re-decided together, the
//! scarcest first, preferring caregivers who know the client. Only affected
//! visits move; the other caregiver of a two-person visit stays. Visits nobody
//! can cover go `unfilled` with an alert. Idempotent by call-out id.

use homecare_domain::contracts::{
    AssignmentChange, AssignmentOutcome, CallOut, CallOutOutcome, changed_visits,
};
use homecare_domain::events::DecisionDetail;
use homecare_domain::scheduling::{self, VisitNeed};
use homecare_store::scheduling::{LoadedVisit, ProfileFilter, load_profiles, load_visit};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Apply, Decider, apply_decisions, until_no_clash};
use crate::step::{ActivityFailure, Steps};

#[tracing::instrument(skip_all, fields(call_out_id = %call_out.call_out_id, caregiver_id = %call_out.caregiver_id))]
pub async fn apply_call_out(
    steps: &Steps,
    call_out: &CallOut,
) -> Result<CallOutOutcome, ActivityFailure> {
    let outcome = until_no_clash(|| async move {
        let mut tx = steps.store.db.begin().await?;
        if !record_call_out(&mut tx, call_out).await? {
            let outcome = recorded_call_out(&mut tx, call_out).await?;
            tx.commit().await?;
            return Ok(Some(outcome));
        }
        let visits = affected_visits(&mut tx, call_out).await?;
        let Some(changes) = redecide(&mut tx, call_out, &visits, &steps.policy).await? else {
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some(CallOutOutcome {
            call_out_id: call_out.call_out_id,
            caregiver_id: call_out.caregiver_id,
            changes,
        }))
    })
    .await?;
    steps
        .store
        .publish_committed(changed_visits(&outcome.changes))
        .await;
    let unfilled = outcome
        .changes
        .iter()
        .filter(|c| c.outcome.caregiver_id.is_none())
        .count();
    tracing::info!(
        affected = outcome.changes.len(),
        unfilled,
        "call-out applied"
    );
    Ok(outcome)
}

/// Records the call-out and its unavailability; false when an earlier attempt
/// recorded it already. Locks the caregiver: one call-out of theirs at a time.
async fn record_call_out(
    conn: &mut PgConnection,
    call_out: &CallOut,
) -> Result<bool, ActivityFailure> {
    let exists: Option<Uuid> =
        sqlx::query_scalar("select id from caregivers where id = $1 for update")
            .bind(call_out.caregiver_id)
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Err(ActivityFailure::Rejected(format!(
            "no such caregiver: {}",
            call_out.caregiver_id
        )));
    }
    let inserted = sqlx::query(
        "insert into call_outs (id, caregiver_id, period, reason)
         values ($1, $2, tstzrange($3, $4), $5)
         on conflict (id) do nothing",
    )
    .bind(call_out.call_out_id)
    .bind(call_out.caregiver_id)
    .bind(call_out.start)
    .bind(call_out.end)
    .bind(&call_out.reason)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    sqlx::query(
        "insert into caregiver_exceptions (id, caregiver_id, period, kind, reason, call_out_id)
         values ($1, $2, tstzrange($3, $4), 'unavailable', $5, $6)",
    )
    .bind(Uuid::new_v4())
    .bind(call_out.caregiver_id)
    .bind(call_out.start)
    .bind(call_out.end)
    .bind(&call_out.reason)
    .bind(call_out.call_out_id)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// The caregiver's assigned visits in the period, locked.
async fn affected_visits(
    conn: &mut PgConnection,
    call_out: &CallOut,
) -> Result<Vec<LoadedVisit>, ActivityFailure> {
    let affected: Vec<Uuid> = sqlx::query_scalar(
        "select s.visit_id from visit_staff s join visits v on v.id = s.visit_id
          where s.caregiver_id = $1 and s.scheduled && tstzrange($2, $3)
            and v.status = 'assigned'
          order by s.visit_id",
    )
    .bind(call_out.caregiver_id)
    .bind(call_out.start)
    .bind(call_out.end)
    .fetch_all(&mut *conn)
    .await?;
    let mut visits = Vec::with_capacity(affected.len());
    for visit_id in &affected {
        visits.push(load_visit(conn, *visit_id, true).await?);
    }
    Ok(visits)
}

/// Decides every affected visit together and applies the decisions; `None`
/// when a concurrent booking clashed.
async fn redecide(
    conn: &mut PgConnection,
    call_out: &CallOut,
    visits: &[LoadedVisit],
    policy: &scheduling::Policy,
) -> Result<Option<Vec<AssignmentChange>>, ActivityFailure> {
    if visits.is_empty() {
        return Ok(Some(Vec::new()));
    }
    // What each visit still needs: the called-out caregiver's slot, and never
    // the caregiver already on it.
    let (needs, stays): (Vec<VisitNeed>, Vec<Vec<Uuid>>) = visits
        .iter()
        .map(|visit| {
            let stays: Vec<Uuid> = visit
                .staff
                .iter()
                .copied()
                .filter(|id| *id != call_out.caregiver_id)
                .collect();
            let mut need = visit.need.clone();
            need.caregivers_needed = (visit.staff.len() - stays.len()).max(1) as u8;
            need.excluded_caregivers.extend(stays.iter().copied());
            (need, stays)
        })
        .unzip();
    let from = needs
        .iter()
        .map(|n| n.start)
        .min()
        .unwrap_or(call_out.start);
    let to = needs.iter().map(|n| n.end).max().unwrap_or(call_out.end);
    let clients: Vec<Uuid> = needs.iter().map(|n| n.client_id).collect();
    let filter = ProfileFilter {
        skills: Some(Vec::new()),
        ids: None,
    };
    let mut profiles = load_profiles(conn, &filter, from, to, &clients).await?;
    let decisions = scheduling::decide_all(&needs, &mut profiles, policy);
    let applies = decisions
        .iter()
        .map(|decision| {
            let i = visits
                .iter()
                .position(|v| v.need.visit_id == decision.visit_id)
                .expect("a decision per need");
            // A two-person visit is staffed fully or not at all.
            let staff = if decision.staffed() {
                let mut staff = stays[i].clone();
                staff.extend(decision.caregiver_ids());
                staff
            } else {
                Vec::new()
            };
            Apply {
                visit: &visits[i],
                staff,
                decided_by: Decider::CallOut(call_out.call_out_id),
                override_reason: None,
                detail: DecisionDetail::call_out(decision, call_out.caregiver_id),
            }
        })
        .collect::<Vec<_>>();
    let Some(outcomes) = apply_decisions(conn, applies).await? else {
        return Ok(None);
    };
    Ok(Some(
        decisions
            .iter()
            .zip(outcomes)
            .map(|(decision, outcome)| AssignmentChange {
                visit_id: decision.visit_id,
                outcome,
            })
            .collect(),
    ))
}

/// The outcome of a call-out already applied (a retried activity).
async fn recorded_call_out(
    conn: &mut PgConnection,
    call_out: &CallOut,
) -> Result<CallOutOutcome, ActivityFailure> {
    let rows: Vec<(Uuid, i32, Vec<Uuid>)> = sqlx::query_as(
        "select visit_id, version, caregiver_ids from assignment_decisions
          where call_out_id = $1 order by visit_id",
    )
    .bind(call_out.call_out_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(CallOutOutcome {
        call_out_id: call_out.call_out_id,
        caregiver_id: call_out.caregiver_id,
        changes: rows
            .into_iter()
            .map(|(visit_id, version, caregiver_ids)| AssignmentChange {
                visit_id,
                outcome: AssignmentOutcome {
                    caregiver_id: caregiver_ids.first().copied(),
                    caregiver_ids,
                    version: version.into(),
                },
            })
            .collect(),
    })
}
