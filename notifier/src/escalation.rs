//! Escalation: when the unfilled alert of a visit that starts within the
//! agency's `escalate_within_hours` reaches the on-call coordinator, the
//! notifier starts `EscalationWorkflow` (a durable timer of
//! `escalate_after_minutes`, then `homecare.alert.escalated` if the visit is
//! still unfilled, which the rules send to the rota's admin). The moment the
//! visit is assigned or cancelled, the notifier signals it to stop.

use chrono::{DateTime, Duration, Utc};
use homecare_domain::Event;
use homecare_domain::contracts::{Escalation, escalation_workflow_id};
use homecare_workflows::EscalationWorkflow;
use sqlx::PgPool;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowSignalOptions, WorkflowStartOptions,
};
use uuid::Uuid;

/// Where escalations run: the platform's Temporal and task queue.
#[derive(Clone)]
pub struct Escalations {
    pub temporal: Client,
    pub task_queue: String,
}

impl std::fmt::Debug for Escalations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Escalations")
            .field("task_queue", &self.task_queue)
            .finish_non_exhaustive()
    }
}

impl Escalations {
    /// Starts or stops escalations as `event` (id `event_id`) calls for; an
    /// error leaves the event to come again.
    pub(crate) async fn follow(
        &self,
        db: &PgPool,
        event: &Event,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        match event {
            Event::UnfilledAlert(alert) => {
                let visit = &alert.assignment.visit;
                self.start(db, visit.visit_id, visit.scheduled_start, event_id, now)
                    .await
            }
            Event::VisitAssigned(e) => self.stop(db, e.assignment.visit.visit_id).await,
            Event::VisitCancelled(e) => self.stop(db, e.visit.visit_id).await,
            _ => Ok(()),
        }
    }

    async fn start(
        &self,
        db: &PgPool,
        visit_id: Uuid,
        starts: DateTime<Utc>,
        spell: &str,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let (within, after): (i32, i32) = sqlx::query_as(
            "select escalate_within_hours, escalate_after_minutes from agency_settings",
        )
        .fetch_one(db)
        .await
        .map_err(|e| e.to_string())?;
        if within == 0 || starts - now > Duration::hours(within.into()) {
            return Ok(());
        }
        sqlx::query(
            "insert into escalations (visit_id, spell) values ($1, $2) on conflict do nothing",
        )
        .bind(visit_id)
        .bind(spell)
        .execute(db)
        .await
        .map_err(|e| e.to_string())?;
        let input = Escalation {
            visit_id,
            waited_minutes: after.into(),
            spell: spell.to_owned(),
        };
        // One escalation at a time per visit: a second alert joins the running one.
        let options =
            WorkflowStartOptions::new(self.task_queue.clone(), escalation_workflow_id(visit_id))
                .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
                .build();
        self.temporal
            .start_workflow(EscalationWorkflow::run, input, options)
            .await
            .map(|_| tracing::info!(%visit_id, after, "escalation started"))
            .map_err(|e| format!("cannot start the escalation of visit {visit_id}: {e}"))
    }

    async fn stop(&self, db: &PgPool, visit_id: Uuid) -> Result<(), String> {
        let open: Vec<(String,)> = sqlx::query_as(
            "update escalations set ended_at = now() where visit_id = $1 and ended_at is null returning spell",
        )
        .bind(visit_id)
        .fetch_all(db)
        .await
        .map_err(|e| e.to_string())?;
        if open.is_empty() {
            return Ok(());
        }
        let handle = self
            .temporal
            .get_workflow_handle::<EscalationWorkflow>(escalation_workflow_id(visit_id));
        if let Err(e) = handle
            .signal(
                EscalationWorkflow::resolved,
                (),
                WorkflowSignalOptions::default(),
            )
            .await
        {
            // Finished already, or Temporal is away: the workflow's activity
            // checks the visit before escalating anyway.
            tracing::info!(%visit_id, error = %e, "escalation not signalled");
        } else {
            tracing::info!(%visit_id, "escalation stopped: the visit was filled or cancelled");
        }
        Ok(())
    }
}
