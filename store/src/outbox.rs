//! The outbox: every state change writes its events into `visit_events` in the
//! same transaction; after the commit, every unpublished event of the visit is
//! published with its deterministic id as `Nats-Msg-Id` and marked published.
//! A retry after a crash at any instant therefore finds the change already
//! made, writes nothing twice, and publishes what is still missing. If NATS
//! cannot be reached after the commit, the change still stands and the outbox
//! sweeper (`publish_stale`, run by every worker) publishes the event.

use chrono::{DateTime, Utc};
use homecare_domain::{EventData, EventEnvelope};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::{Store, StoreError};

/// Writes the event into the outbox in the caller's transaction. Writing the
/// same event twice is a no-op: the id is deterministic (`discriminator`
/// separates transitions that can happen more than once for a visit).
pub async fn record_event<E: EventData>(
    conn: &mut PgConnection,
    event: &E,
    discriminator: &str,
    time: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let envelope = EventEnvelope::of(event, discriminator, time);
    let visit_id = event.subject_id();
    sqlx::query(
        "insert into visit_events (event_id, visit_id, event_type, subject_tail, envelope, occurred_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (event_id) do nothing",
    )
    .bind(Uuid::parse_str(&envelope.id).expect("event ids are uuids"))
    .bind(visit_id)
    .bind(E::KIND.event_type())
    .bind(E::KIND.subject_tail(visit_id))
    .bind(sqlx::types::Json(&envelope))
    .bind(time)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Publishes, in order, every event of the visit not yet marked published.
    #[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
    pub async fn publish_pending(&self, visit_id: Uuid) -> Result<usize, StoreError> {
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
    ) -> Result<usize, StoreError> {
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

    /// Commits the change, then publishes the events of the visits it touched.
    pub async fn commit_and_publish(
        &self,
        tx: Transaction<'_, Postgres>,
        visit_ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<(), StoreError> {
        tx.commit().await?;
        self.publish_committed(visit_ids).await;
        Ok(())
    }

    /// Publishes the events of committed changes. Once a change has committed,
    /// its writer has done its job: failing it now would fail a workflow after
    /// an outage longer than its retries, with the database already moved on.
    /// An event that cannot go out now is published by the outbox sweeper as
    /// soon as NATS answers again.
    pub async fn publish_committed(&self, visit_ids: impl IntoIterator<Item = Uuid>) {
        for visit_id in visit_ids {
            if let Err(e) = self.publish_pending(visit_id).await {
                tracing::warn!(%visit_id, error = %e, "publish deferred to the outbox sweeper");
            }
        }
    }
}
