//! A coordinator's assignment, checked against every hard rule in the same
//! transaction that books it. The weekly hours cap may be overridden with a
//! reason, which is recorded with the decision.

use homecare_domain::VisitStatus;
use homecare_domain::contracts::{AssignmentOutcome, RecordManualAssignment};
use homecare_domain::events::DecisionDetail;
use homecare_domain::scheduling::{self, Overrides};
use homecare_store::scheduling::{ProfileFilter, current_outcome, load_profiles, load_visit};

use super::{Apply, Decider, apply_decisions};
use crate::step::{ActivityFailure, Steps};

#[tracing::instrument(skip_all, fields(visit_id = %request.visit_id))]
pub async fn assign_manually(
    steps: &Steps,
    request: &RecordManualAssignment,
) -> Result<AssignmentOutcome, ActivityFailure> {
    let visit_id = request.visit_id;
    let assignment = &request.assignment;
    let mut tx = steps.store.db.begin().await?;
    let visit = load_visit(&mut tx, visit_id, true).await?;
    if visit.status == VisitStatus::Assigned && visit.staff == assignment.caregiver_ids {
        // Already so (an earlier attempt of this activity committed).
        steps.store.commit_and_publish(tx, [visit_id]).await?;
        return Ok(current_outcome(&visit));
    }
    if !matches!(
        visit.status,
        VisitStatus::Scheduled | VisitStatus::Unfilled | VisitStatus::Assigned
    ) {
        return Err(ActivityFailure::Rejected(format!(
            "invalid_state: the visit is {}; it can no longer be reassigned",
            visit.status
        )));
    }
    let profiles = load_profiles(
        &mut tx,
        &ProfileFilter::of(&assignment.caregiver_ids),
        visit.need.start,
        visit.need.end,
        &[visit.need.client_id],
    )
    .await?;
    let overrides = Overrides {
        weekly_cap: assignment.override_reason.is_some(),
    };
    let problems = scheduling::check_manual(
        &visit.need,
        &assignment.caregiver_ids,
        &profiles,
        overrides,
        &steps.policy,
    )
    .map_err(|refusal| ActivityFailure::Rejected(refusal.to_string()))?;
    if !problems.is_empty() {
        return Err(ActivityFailure::Rejected(format!(
            "hard_rule_violated: {}",
            scheduling::describe_problems(&problems)
        )));
    }
    let apply = Apply {
        visit: &visit,
        staff: assignment.caregiver_ids.clone(),
        decided_by: Decider::Coordinator,
        override_reason: assignment.override_reason.as_deref(),
        detail: DecisionDetail::default(),
    };
    let Some(mut outcomes) = apply_decisions(&mut tx, vec![apply]).await? else {
        return Err(ActivityFailure::Rejected(
            "hard_rule_violated: a chosen caregiver was booked on an overlapping visit a moment ago"
                .to_owned(),
        ));
    };
    steps.store.commit_and_publish(tx, [visit_id]).await?;
    Ok(outcomes.remove(0))
}
