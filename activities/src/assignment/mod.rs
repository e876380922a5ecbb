//! Staffing decisions: the engine's own assignment of a new or unfilled visit,
//! a coordinator's manual assignment, a call-out and a reschedule (a day plan,
//! in `plan`, applies its decisions the same way).
//!
//! Each is one transaction: load with indexed queries (`homecare_store::
//! scheduling`), decide with the pure engine (`homecare_domain::scheduling`),
//! apply with [`apply_decisions`]. A double booking refused by the exclusion
//! constraint (a concurrent decision took the caregiver between our read and
//! our write) rolls the whole transaction back and [`until_no_clash`] decides
//! again from fresh data; it never surfaces as an error.

pub(crate) mod call_out;
pub(crate) mod engine;
pub(crate) mod manual;
pub(crate) mod reschedule;

use chrono::Utc;
use homecare_domain::VisitStatus;
use homecare_domain::contracts::AssignmentOutcome;
use homecare_domain::events::{
    AlertUnfilled, Assignment, DecisionDetail, VisitAssigned, VisitSummary, VisitUnfilled,
};
use homecare_domain::scheduling::DecidedBy;
use homecare_store::scheduling::LoadedVisit;
use homecare_store::{is_double_booking, record_event};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::step::ActivityFailure;

/// How many times a decision is made again after losing a race for a caregiver
/// before handing the retry to Temporal.
pub const MAX_DECISION_ATTEMPTS: u32 = 5;

/// Runs one decision transaction after another until one completes. An attempt
/// returns `Ok(None)` when a double-booking constraint refused it (its
/// transaction has rolled back), and the next attempt decides again from fresh
/// data. After `MAX_DECISION_ATTEMPTS` the activity fails with a retryable
/// `Contention`.
pub(crate) async fn until_no_clash<T, F>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, ActivityFailure>
where
    F: std::future::Future<Output = Result<Option<T>, ActivityFailure>>,
{
    for _ in 0..MAX_DECISION_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
        tracing::info!("a caregiver was booked concurrently; deciding again");
    }
    Err(ActivityFailure::Contention(MAX_DECISION_ATTEMPTS))
}

/// Who made a decision, with the call-out or plan behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decider {
    Engine,
    Coordinator,
    CallOut(Uuid),
    Planner(Uuid),
}

impl Decider {
    fn kind(self) -> DecidedBy {
        match self {
            Self::Engine => DecidedBy::Engine,
            Self::Coordinator => DecidedBy::Coordinator,
            Self::CallOut(_) => DecidedBy::CallOut,
            Self::Planner(_) => DecidedBy::Planner,
        }
    }

    fn plan_id(self) -> Option<Uuid> {
        match self {
            Self::Planner(id) => Some(id),
            _ => None,
        }
    }

    fn call_out_id(self) -> Option<Uuid> {
        match self {
            Self::CallOut(id) => Some(id),
            _ => None,
        }
    }
}

/// A decision to write: the full staff in slot order (empty: unfilled).
pub(crate) struct Apply<'a> {
    pub visit: &'a LoadedVisit,
    pub staff: Vec<Uuid>,
    pub decided_by: Decider,
    pub override_reason: Option<&'a str>,
    /// Why: stored with the decision and sent with the event.
    pub detail: DecisionDetail,
}

/// Writes the decisions, in order, in the caller's transaction. `Ok(None)`: a
/// double booking refused one; the caller lets its transaction roll back and
/// decides again (or refuses, for a coordinator's choice).
pub(crate) async fn apply_decisions(
    conn: &mut PgConnection,
    decisions: Vec<Apply<'_>>,
) -> Result<Option<Vec<AssignmentOutcome>>, ActivityFailure> {
    let mut outcomes = Vec::new();
    for decision in decisions {
        match apply(conn, decision).await {
            Err(e) if is_double_booking(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
            Ok(outcome) => outcomes.push(outcome),
        }
    }
    Ok(Some(outcomes))
}

/// One decision (with the visit's times as in `visit.need`, which a reschedule
/// has changed): the bookings (the exclusion constraint refuses a double
/// booking with 23P01), the visit row with a bumped version, the decision log,
/// and the `visit.assigned` or `visit.unfilled` + `alert.unfilled` events.
async fn apply(
    conn: &mut PgConnection,
    decision: Apply<'_>,
) -> Result<AssignmentOutcome, sqlx::Error> {
    let visit = decision.visit;
    let visit_id = visit.need.visit_id;
    let version = visit.version + 1;
    book(conn, visit, &decision.staff).await?;
    let primary = decision.staff.first().copied();
    let status = if primary.is_some() {
        VisitStatus::Assigned
    } else {
        VisitStatus::Unfilled
    };
    sqlx::query(
        "update visits set caregiver_id = $2, status = $3::visit_status,
                assignment_version = $4, scheduled = tstzrange($5, $6), updated_at = now()
          where id = $1",
    )
    .bind(visit_id)
    .bind(primary)
    .bind(status.as_str())
    .bind(version as i32)
    .bind(visit.need.start)
    .bind(visit.need.end)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into assignment_decisions
             (id, visit_id, version, caregiver_ids, decided_by, call_out_id, override_reason, detail, plan_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Uuid::new_v4())
    .bind(visit_id)
    .bind(version as i32)
    .bind(&decision.staff)
    .bind(decision.decided_by.kind().as_str())
    .bind(decision.decided_by.call_out_id())
    .bind(decision.override_reason)
    .bind(sqlx::types::Json(&decision.detail))
    .bind(decision.decided_by.plan_id())
    .execute(&mut *conn)
    .await?;
    let assignment = Assignment {
        visit: VisitSummary {
            visit_id,
            client_id: visit.need.client_id,
            caregiver_id: primary,
            status,
            service_code: visit.service_code.clone(),
            scheduled_start: visit.need.start,
            scheduled_end: visit.need.end,
        },
        caregiver_ids: decision.staff.clone(),
        previous_caregiver_ids: visit.staff.clone(),
        assignment_version: version,
        decided_by: decision.decided_by.kind(),
        call_out_id: decision.decided_by.call_out_id(),
        override_reason: decision.override_reason.map(str::to_owned),
        decision: decision.detail,
    };
    record_decision(conn, assignment).await?;
    Ok(AssignmentOutcome {
        caregiver_id: primary,
        caregiver_ids: decision.staff,
        version,
    })
}

/// Replaces the visit's bookings with `staff`, in slot order.
async fn book(
    conn: &mut PgConnection,
    visit: &LoadedVisit,
    staff: &[Uuid],
) -> Result<(), sqlx::Error> {
    let visit_id = visit.need.visit_id;
    sqlx::query("delete from visit_staff where visit_id = $1")
        .bind(visit_id)
        .execute(&mut *conn)
        .await?;
    for (slot, caregiver_id) in staff.iter().enumerate() {
        sqlx::query(
            "insert into visit_staff (visit_id, slot, caregiver_id, scheduled)
             values ($1, $2, $3, tstzrange($4, $5))",
        )
        .bind(visit_id)
        .bind(slot as i16 + 1)
        .bind(caregiver_id)
        .bind(visit.need.start)
        .bind(visit.need.end)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn record_decision(
    conn: &mut PgConnection,
    assignment: Assignment,
) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let discriminator = format!("v{}", assignment.assignment_version);
    if assignment.visit.caregiver_id.is_some() {
        return record_event(conn, &VisitAssigned { assignment }, &discriminator, now).await;
    }
    let unfilled = VisitUnfilled {
        assignment: assignment.clone(),
    };
    record_event(conn, &unfilled, &discriminator, now).await?;
    // A microsecond later, so the alert always follows the state change.
    let alert = AlertUnfilled { assignment };
    record_event(
        conn,
        &alert,
        &discriminator,
        now + chrono::Duration::microseconds(1),
    )
    .await
}
