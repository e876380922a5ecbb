//! New times for a visit that has not started. Its caregivers stay if they
//! still meet every hard rule at the new time (the least disruption);
//! otherwise the engine decides again, or the visit goes unfilled.

use chrono::Utc;
use homecare_domain::VisitStatus;
use homecare_domain::contracts::{AssignmentOutcome, RecordReschedule};
use homecare_domain::events::{DecisionDetail, VisitRescheduled, VisitSummary};
use homecare_domain::scheduling::{self, Overrides, Policy};
use homecare_store::record_event;
use homecare_store::scheduling::{
    LoadedVisit, ProfileFilter, current_outcome, load_profiles, load_visit,
};
use sqlx::PgConnection;

use super::engine::engine_decision;
use super::{Apply, Decider, apply_decisions, until_no_clash};
use crate::step::{ActivityFailure, Steps};

#[tracing::instrument(skip_all, fields(visit_id = %request.visit_id))]
pub async fn reschedule(
    steps: &Steps,
    request: &RecordReschedule,
) -> Result<AssignmentOutcome, ActivityFailure> {
    let visit_id = request.visit_id;
    let (start, end) = (
        request.command.scheduled_start,
        request.command.scheduled_end,
    );
    until_no_clash(
        async || -> Result<Option<AssignmentOutcome>, ActivityFailure> {
            let mut tx = steps.store.db.begin().await?;
            let mut visit = load_visit(&mut tx, visit_id, true).await?;
            if visit.need.start == start && visit.need.end == end {
                // Already moved (an earlier attempt of this activity committed).
                steps.store.commit_and_publish(tx, [visit_id]).await?;
                return Ok(Some(current_outcome(&visit)));
            }
            if !matches!(
                visit.status,
                VisitStatus::Scheduled | VisitStatus::Unfilled | VisitStatus::Assigned
            ) {
                return Err(ActivityFailure::Rejected(format!(
                    "invalid_state: a {} visit can no longer be rescheduled",
                    visit.status
                )));
            }
            let (previous_start, previous_end) = (visit.need.start, visit.need.end);
            // `apply` writes the new times together with the staff, so the visits
            // table's own double-booking constraint sees both at once.
            visit.need.start = start;
            visit.need.end = end;
            let event = VisitRescheduled {
                visit: summary(&visit),
                previous_start,
                previous_end,
            };
            // A microsecond before the decision's event, which always follows it.
            let at = Utc::now() - chrono::Duration::microseconds(1);
            record_event(&mut tx, &event, &format!("v{}", visit.version + 1), at).await?;
            let (staff, detail) = if keeps_staff(&mut tx, &visit, &steps.policy).await? {
                (visit.staff.clone(), DecisionDetail::kept())
            } else {
                let decision = engine_decision(&mut tx, &visit.need, &steps.policy).await?;
                (decision.caregiver_ids(), DecisionDetail::engine(&decision))
            };
            let apply = Apply {
                visit: &visit,
                staff,
                decided_by: Decider::Engine,
                override_reason: None,
                detail,
            };
            let Some(mut outcomes) = apply_decisions(&mut tx, vec![apply]).await? else {
                return Ok(None);
            };
            steps.store.commit_and_publish(tx, [visit_id]).await?;
            Ok(Some(outcomes.remove(0)))
        },
    )
    .await
}

/// Whether every caregiver on the visit still meets every hard rule at its
/// new times.
async fn keeps_staff(
    conn: &mut PgConnection,
    visit: &LoadedVisit,
    policy: &Policy,
) -> Result<bool, ActivityFailure> {
    if visit.staff.is_empty() {
        return Ok(false);
    }
    let staff = load_profiles(
        conn,
        &ProfileFilter::of(&visit.staff),
        visit.need.start,
        visit.need.end,
        &[visit.need.client_id],
    )
    .await?;
    Ok(staff.len() == visit.staff.len()
        && staff.iter().all(|p| {
            scheduling::violations(&visit.need, p, policy, Overrides::default()).is_empty()
        }))
}

/// The rescheduled visit as it stands before the decision that follows.
fn summary(visit: &LoadedVisit) -> VisitSummary {
    VisitSummary {
        visit_id: visit.need.visit_id,
        client_id: visit.need.client_id,
        caregiver_id: visit.staff.first().copied(),
        status: visit.status,
        service_code: visit.service_code.clone(),
        scheduled_start: visit.need.start,
        scheduled_end: visit.need.end,
    }
}
