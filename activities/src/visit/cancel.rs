//! Cancelling a visit that has not completed: its caregivers are free again.

use chrono::Utc;
use homecare_domain::VisitStatus;
use homecare_domain::contracts::RecordCancel;
use homecare_domain::events::VisitCancelled;
use homecare_store::record_event;
use homecare_store::visits::lock_visit;

use crate::step::{ActivityFailure, Steps};

#[tracing::instrument(skip_all, fields(visit_id = %cancel.visit_id))]
pub async fn cancel(steps: &Steps, cancel: &RecordCancel) -> Result<(), ActivityFailure> {
    let visit_id = cancel.visit_id;
    let mut tx = steps.store.db.begin().await?;
    let visit = lock_visit(&mut tx, visit_id).await?;
    match visit.status {
        // Cancelled by an earlier attempt: only publish.
        VisitStatus::Cancelled => {}
        VisitStatus::Completed | VisitStatus::Invoiced => {
            return Err(ActivityFailure::Rejected(format!(
                "visit {visit_id} is already {}; it cannot be cancelled",
                visit.status
            )));
        }
        _ => {
            sqlx::query(
                "update visits set status = 'cancelled', cancel_reason = $2, updated_at = now() where id = $1",
            )
            .bind(visit_id)
            .bind(&cancel.reason)
            .execute(&mut *tx)
            .await?;
            // Cancelled visits free their caregivers' time.
            sqlx::query("delete from visit_staff where visit_id = $1")
                .bind(visit_id)
                .execute(&mut *tx)
                .await?;
            let event = VisitCancelled {
                visit: visit.summary(VisitStatus::Cancelled),
                reason: cancel.reason.clone(),
            };
            record_event(&mut tx, &event, "", Utc::now()).await?;
        }
    }
    Ok(steps.store.commit_and_publish(tx, [visit_id]).await?)
}
