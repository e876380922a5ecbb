//! The engine's own assignment of a visit that is `scheduled` or `unfilled`.

use homecare_domain::VisitStatus;
use homecare_domain::contracts::AssignmentOutcome;
use homecare_domain::events::DecisionDetail;
use homecare_domain::scheduling::{self, Decision, Policy, VisitNeed};
use homecare_store::scheduling::{ProfileFilter, current_outcome, load_profiles, load_visit};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Apply, Decider, apply_decisions, until_no_clash};
use crate::step::{ActivityFailure, Steps};

/// The best eligible caregivers, or `unfilled` with an alert when there are none.
#[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
pub async fn assign_caregiver(
    steps: &Steps,
    visit_id: Uuid,
) -> Result<AssignmentOutcome, ActivityFailure> {
    until_no_clash(|| async move {
        let mut tx = steps.store.db.begin().await?;
        let visit = load_visit(&mut tx, visit_id, true).await?;
        if !matches!(visit.status, VisitStatus::Scheduled | VisitStatus::Unfilled) {
            // Decided by an earlier attempt, a coordinator or a call-out, or
            // cancelled: report what stands.
            steps.store.commit_and_publish(tx, [visit_id]).await?;
            return Ok(Some(current_outcome(&visit)));
        }
        let decision = engine_decision(&mut tx, &visit.need, &steps.policy).await?;
        if !decision.staffed() && visit.status == VisitStatus::Unfilled {
            // Still nobody: nothing changes, no new alert.
            steps.store.commit_and_publish(tx, [visit_id]).await?;
            return Ok(Some(current_outcome(&visit)));
        }
        let apply = Apply {
            visit: &visit,
            staff: decision.caregiver_ids(),
            decided_by: Decider::Engine,
            override_reason: None,
            detail: DecisionDetail::engine(&decision),
        };
        let Some(mut outcomes) = apply_decisions(&mut tx, vec![apply]).await? else {
            return Ok(None);
        };
        steps.store.commit_and_publish(tx, [visit_id]).await?;
        let outcome = outcomes.remove(0);
        tracing::info!(caregivers = ?outcome.caregiver_ids, eligible = decision.eligible, "visit decided");
        Ok(Some(outcome))
    })
    .await
}

/// The engine's choice for one visit among the active caregivers holding its
/// skills (the GIN-indexed pre-filter).
pub(crate) async fn engine_decision(
    conn: &mut PgConnection,
    need: &VisitNeed,
    policy: &Policy,
) -> Result<Decision, ActivityFailure> {
    let filter = ProfileFilter {
        skills: Some(need.required_skills.clone()),
        ids: None,
    };
    let profiles = load_profiles(conn, &filter, need.start, need.end, &[need.client_id]).await?;
    Ok(scheduling::decide(need, &profiles, policy))
}
