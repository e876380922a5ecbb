//! The alerts a visit's timers raise: the late check-in (no check-in yet) and
//! the escalation (an unfilled visit nobody filled in time).

use chrono::Utc;
use homecare_domain::VisitStatus;
use homecare_domain::contracts::{Escalation, LateCheckInAlert};
use homecare_domain::events::{AlertEscalated, AlertLateCheckIn};
use homecare_store::record_event;
use homecare_store::visits::lock_visit;

use crate::step::{ActivityFailure, Steps};

/// Raises the alert only if the visit is still waiting for its check-in;
/// returns whether it did.
#[tracing::instrument(skip_all, fields(visit_id = %alert.visit_id))]
pub async fn raise_late_check_in_alert(
    steps: &Steps,
    alert: &LateCheckInAlert,
) -> Result<bool, ActivityFailure> {
    let visit_id = alert.visit_id;
    let mut tx = steps.store.db.begin().await?;
    let visit = lock_visit(&mut tx, visit_id).await?;
    let still_waiting = visit.status == VisitStatus::Assigned;
    if still_waiting {
        let event = AlertLateCheckIn {
            visit: visit.summary(VisitStatus::Assigned),
            minutes_after_start: alert.minutes_after_start,
        };
        record_event(&mut tx, &event, "", Utc::now()).await?;
    }
    steps.store.commit_and_publish(tx, [visit_id]).await?;
    Ok(still_waiting)
}

/// Raises the escalation alert only if the visit is still unfilled; returns
/// whether it did. One per unfilled spell (the event id comes from it).
#[tracing::instrument(skip_all, fields(visit_id = %escalation.visit_id))]
pub async fn escalate_unfilled(
    steps: &Steps,
    escalation: &Escalation,
) -> Result<bool, ActivityFailure> {
    let visit_id = escalation.visit_id;
    let mut tx = steps.store.db.begin().await?;
    let visit = lock_visit(&mut tx, visit_id).await?;
    let unfilled = visit.status == VisitStatus::Unfilled;
    if unfilled {
        let event = AlertEscalated {
            visit: visit.summary(VisitStatus::Unfilled),
            waited_minutes: escalation.waited_minutes,
        };
        record_event(&mut tx, &event, &escalation.spell, Utc::now()).await?;
    }
    steps.store.commit_and_publish(tx, [visit_id]).await?;
    Ok(unfilled)
}
