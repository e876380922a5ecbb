//! The transactions behind each activity. Every function here is idempotent: it
//! locks the visit row, looks at what is already recorded, changes only what is
//! missing, and then publishes whatever events of the visit are still unpublished.

use chrono::{DateTime, Utc};
use homecare_domain::contracts::{InvoiceLineSummary, LateCheckInAlert, RecordCancel, RecordEvv};
use homecare_domain::{EventEnvelope, EventKind, VisitStatus};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::{ActivityFailure, VisitActivitiesImpl, billing};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvvKind {
    CheckIn,
    CheckOut,
}

impl EvvKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CheckIn => "check_in",
            Self::CheckOut => "check_out",
        }
    }

    /// (state it moves from, state it moves to, event it emits)
    fn transition(self) -> (VisitStatus, VisitStatus, EventKind) {
        match self {
            Self::CheckIn => (
                VisitStatus::Assigned,
                VisitStatus::CheckedIn,
                EventKind::VisitCheckedIn,
            ),
            Self::CheckOut => (
                VisitStatus::CheckedIn,
                VisitStatus::Completed,
                EventKind::VisitCompleted,
            ),
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct VisitRow {
    pub(crate) id: Uuid,
    pub(crate) client_id: Uuid,
    pub(crate) caregiver_id: Option<Uuid>,
    pub(crate) payer_id: Uuid,
    pub(crate) service_code: String,
    pub(crate) scheduled_start: DateTime<Utc>,
    pub(crate) scheduled_end: DateTime<Utc>,
    pub(crate) status: String,
}

impl VisitRow {
    pub(crate) fn status(&self) -> Result<VisitStatus, ActivityFailure> {
        self.status
            .parse()
            .map_err(|e: homecare_domain::visit::UnknownStatus| {
                ActivityFailure::Rejected(e.to_string())
            })
    }

    /// The fields every visit event carries, so a consumer needs no lookup.
    pub(crate) fn event_data(
        &self,
        status: VisitStatus,
        caregiver_id: Option<Uuid>,
    ) -> serde_json::Value {
        json!({
            "visit_id": self.id,
            "client_id": self.client_id,
            "caregiver_id": caregiver_id,
            "status": status,
            "service_code": self.service_code,
            "scheduled_start": self.scheduled_start,
            "scheduled_end": self.scheduled_end,
        })
    }
}

pub(crate) async fn lock_visit(
    conn: &mut PgConnection,
    visit_id: Uuid,
) -> Result<VisitRow, ActivityFailure> {
    sqlx::query_as::<_, VisitRow>(
        "select id, client_id, caregiver_id, payer_id, service_code,
                lower(scheduled) as scheduled_start, upper(scheduled) as scheduled_end,
                status::text as status
           from visits where id = $1 for update",
    )
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ActivityFailure::VisitNotFound(visit_id))
}

pub(crate) async fn set_status(
    conn: &mut PgConnection,
    visit_id: Uuid,
    status: VisitStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query("update visits set status = $2::visit_status, updated_at = now() where id = $1")
        .bind(visit_id)
        .bind(status.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes the event into the outbox in the caller's transaction. Writing the same
/// event twice is a no-op: the id is deterministic.
pub(crate) async fn record_event(
    conn: &mut PgConnection,
    kind: EventKind,
    visit_id: Uuid,
    discriminator: &str,
    time: DateTime<Utc>,
    data: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let envelope = EventEnvelope::new(kind, visit_id, discriminator, time, data);
    sqlx::query(
        "insert into visit_events (event_id, visit_id, event_type, subject_tail, envelope, occurred_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (event_id) do nothing",
    )
    .bind(Uuid::parse_str(&envelope.id).expect("event ids are uuids"))
    .bind(visit_id)
    .bind(kind.event_type())
    .bind(kind.subject_tail(visit_id))
    .bind(sqlx::types::Json(&envelope))
    .bind(time)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl VisitActivitiesImpl {
    /// Publishes, in order, every event of the visit not yet marked published.
    #[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
    pub async fn publish_pending(&self, visit_id: Uuid) -> Result<usize, ActivityFailure> {
        let pending: Vec<(Uuid, String, sqlx::types::Json<EventEnvelope>)> = sqlx::query_as(
            "select event_id, subject_tail, envelope from visit_events
              where visit_id = $1 and published_at is null
              order by occurred_at, event_id",
        )
        .bind(visit_id)
        .fetch_all(&self.db)
        .await?;
        for (event_id, subject_tail, envelope) in &pending {
            let (sequence, duplicate) = self.bus.publish(subject_tail, envelope).await?;
            tracing::info!(%visit_id, event = %envelope.event_type, sequence, duplicate, "event published");
            // The mark only spares the sweeper a publish that JetStream would
            // drop as a duplicate, so its commit does not wait for the disk: a
            // mark lost in a database crash means one de-duplicated publish
            // more, while waiting would put a flush on every activity's path.
            // One round trip: the setting is local to the statement's own
            // transaction and read when it commits.
            sqlx::query(
                "with no_flush as (select set_config('synchronous_commit', 'off', true))
                 update visit_events set published_at = now() from no_flush
                  where event_id = $1 and published_at is null",
            )
            .bind(event_id)
            .execute(&self.db)
            .await?;
        }
        Ok(pending.len())
    }

    /// The outbox sweeper's step: publishes every event whose publish has not
    /// completed `older_than` after it was recorded (NATS was unreachable for
    /// longer than the activity kept retrying, or no later activity of that
    /// visit came to flush it). Safe to run from every worker at once: JetStream
    /// de-duplicates by event id.
    pub async fn publish_stale(
        &self,
        older_than: std::time::Duration,
    ) -> Result<usize, ActivityFailure> {
        let visits: Vec<Uuid> = sqlx::query_scalar(
            "select distinct visit_id from visit_events
              where published_at is null
                and recorded_at < now() - make_interval(secs => $1)",
        )
        .bind(older_than.as_secs_f64())
        .fetch_all(&self.db)
        .await?;
        let mut published = 0;
        for visit_id in visits {
            published += self.publish_pending(visit_id).await?;
        }
        Ok(published)
    }

    pub(crate) async fn commit_and_publish(
        &self,
        tx: Transaction<'_, Postgres>,
        visit_id: Uuid,
    ) -> Result<(), ActivityFailure> {
        tx.commit().await?;
        // Once the change has committed, the activity has done its job: failing
        // it now would fail the workflow after an outage longer than its retries,
        // with the database already moved on. An event that cannot go out now is
        // published by the outbox sweeper as soon as NATS answers again.
        if let Err(e) = self.publish_pending(visit_id).await {
            tracing::warn!(%visit_id, error = %e, "publish deferred to the outbox sweeper");
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(visit_id = %evv.visit_id, kind = kind.as_str()))]
    pub async fn record_evv(&self, kind: EvvKind, evv: &RecordEvv) -> Result<(), ActivityFailure> {
        let (from, to, event) = kind.transition();
        let visit_id = evv.visit_id;
        let command = &evv.command;
        let mut tx = self.db.begin().await?;
        let visit = lock_visit(&mut tx, visit_id).await?;
        let status = visit.status()?;
        if visit.caregiver_id != Some(command.caregiver_id) {
            return Err(ActivityFailure::Rejected(format!(
                "caregiver {} is not assigned to visit {visit_id}",
                command.caregiver_id
            )));
        }
        if status == from {
            sqlx::query(
                "insert into evv_records (id, visit_id, kind, caregiver_id, occurred_at, latitude, longitude, method)
                 values ($1, $2, $3::evv_kind, $4, $5, $6, $7, $8::evv_method)
                 on conflict (visit_id, kind) do nothing",
            )
            .bind(Uuid::new_v4())
            .bind(visit_id)
            .bind(kind.as_str())
            .bind(command.caregiver_id)
            .bind(command.at)
            .bind(command.latitude)
            .bind(command.longitude)
            .bind(command.method.as_str())
            .execute(&mut *tx)
            .await?;
            set_status(&mut tx, visit_id, to).await?;
            let mut data = visit.event_data(to, visit.caregiver_id);
            data["at"] = json!(command.at);
            data["location"] =
                json!({"latitude": command.latitude, "longitude": command.longitude});
            data["method"] = json!(command.method);
            record_event(&mut tx, event, visit_id, "", command.at, data).await?;
            billing::raise_evv_exceptions(&mut tx, &visit, kind, command).await?;
        } else {
            // Recorded by an earlier attempt? Then this retry only publishes.
            let already: bool = sqlx::query_scalar(
                "select exists (select 1 from evv_records where visit_id = $1 and kind = $2::evv_kind)",
            )
            .bind(visit_id)
            .bind(kind.as_str())
            .fetch_one(&mut *tx)
            .await?;
            if !already {
                return Err(ActivityFailure::Rejected(format!(
                    "visit {visit_id} is {status}; cannot record {}",
                    kind.as_str()
                )));
            }
        }
        self.commit_and_publish(tx, visit_id).await
    }

    #[tracing::instrument(skip_all, fields(visit_id = %cancel.visit_id))]
    pub async fn cancel(&self, cancel: &RecordCancel) -> Result<(), ActivityFailure> {
        let visit_id = cancel.visit_id;
        let mut tx = self.db.begin().await?;
        let visit = lock_visit(&mut tx, visit_id).await?;
        match visit.status()? {
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
                let mut data = visit.event_data(VisitStatus::Cancelled, visit.caregiver_id);
                data["reason"] = json!(cancel.reason);
                record_event(
                    &mut tx,
                    EventKind::VisitCancelled,
                    visit_id,
                    "",
                    Utc::now(),
                    data,
                )
                .await?;
            }
        }
        self.commit_and_publish(tx, visit_id).await
    }

    /// The billing step of visit workflows started before billing holds existed:
    /// priced by the payer's rules, without holds or authorizations.
    #[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
    pub async fn invoice(&self, visit_id: Uuid) -> Result<InvoiceLineSummary, ActivityFailure> {
        self.bill_visit(visit_id, false)
            .await?
            .invoice
            .ok_or_else(|| ActivityFailure::Rejected(format!("visit {visit_id} is held")))
    }

    /// Raises the alert only if the visit is still waiting for its check-in.
    #[tracing::instrument(skip_all, fields(visit_id = %alert.visit_id))]
    pub async fn late_check_in_alert(
        &self,
        alert: &LateCheckInAlert,
    ) -> Result<bool, ActivityFailure> {
        let visit_id = alert.visit_id;
        let mut tx = self.db.begin().await?;
        let visit = lock_visit(&mut tx, visit_id).await?;
        let still_waiting = visit.status()? == VisitStatus::Assigned;
        if still_waiting {
            let mut data = visit.event_data(VisitStatus::Assigned, visit.caregiver_id);
            data["minutes_after_start"] = json!(alert.minutes_after_start);
            record_event(
                &mut tx,
                EventKind::LateCheckInAlert,
                visit_id,
                "",
                Utc::now(),
                data,
            )
            .await?;
        }
        self.commit_and_publish(tx, visit_id).await?;
        Ok(still_waiting)
    }
}

pub(crate) async fn find_invoice_line(
    conn: &mut PgConnection,
    visit_id: Uuid,
) -> Result<Option<InvoiceLineSummary>, sqlx::Error> {
    let row: Option<(Uuid, i32, Decimal, Decimal)> = sqlx::query_as(
        "select id, units, unit_rate, amount from invoice_lines where visit_id = $1",
    )
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(invoice_line_id, units, unit_rate, amount)| InvoiceLineSummary {
            invoice_line_id,
            units: units.into(),
            unit_rate,
            amount,
        },
    ))
}
