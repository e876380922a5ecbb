//! `care_plan.generate`: brings a client's generated visits in line with its
//! care plans for the agency's rolling horizon.
//!
//! Load (under the client's advisory lock) → decide in the domain (expand the
//! patterns, reconcile with what is generated, count units per authorization
//! period) → apply: the new visits' rows and the plans' flags in one
//! transaction; then, after the commit, each new visit's `VisitWorkflow` is
//! started (the engine assigns it, the pattern's preferred caregiver first)
//! and visits that moved or left the plan get a reschedule or a cancel. Every
//! step is idempotent: ids are deterministic, a start of a running workflow
//! is a no-op, and updates carry ids of their own. A visit already begun is
//! never touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use homecare_domain::care_plan::{
    PLAN_CANCEL_REASON, PlanSchedule, PlannedVisit, local_instant, planned_units, planned_visits,
    reconcile, with_current_ids,
};
use homecare_domain::contracts::{
    AuthorizationOverrun, CancelCommand, GenerateSchedule, GenerationOutcome, RescheduleCommand,
    visit_workflow_id,
};
use homecare_domain::events::AlertOverAuthorization;
use homecare_domain::{EventEnvelope, EventKind, VisitStatus};
use homecare_store::care_plans::{
    ClientSchedule, alert_sent, alerts_due, authorization_overruns, cancel_unstarted, client_today,
    flag_over_authorization, generated_visits, insert_planned_visits, load_schedule,
    lock_client_schedule, restamp_visits,
};
use homecare_store::temporal::{start_visit, visit_input};
use homecare_store::{billing, policy};
use homecare_workflows::VisitWorkflow;
use sqlx::PgConnection;
use temporalio_client::WorkflowExecuteUpdateOptions;
use temporalio_client::errors::WorkflowUpdateError;
use uuid::Uuid;

use crate::step::{ActivityFailure, Steps, VisitStarter};

#[tracing::instrument(skip_all, fields(client_id = %request.client_id, reason = %request.reason))]
pub async fn generate(
    steps: &Steps,
    request: &GenerateSchedule,
) -> Result<GenerationOutcome, ActivityFailure> {
    let starter = steps.visit_starter()?;
    let client_id = request.client_id;
    let now = Utc::now();
    let mut tx = steps.store.db.begin().await?;
    lock_client_schedule(&mut tx, client_id).await?;
    let (tz, today) = client_today(&mut tx, client_id, now).await?;
    let schedule = load_schedule(&mut tx, client_id, tz, today).await?;
    let horizon_end = today + Days::new(schedule.horizon_days.max(1) as u64);
    let planned = planned_visits(&schedule.plans, &schedule.holidays, tz, today, horizon_end);
    let generated = generated_visits(&mut tx, client_id, today).await?;
    let changes = reconcile(&planned, &generated, now, horizon_end);
    insert_planned_visits(&mut tx, client_id, &changes.create).await?;
    restamp_visits(&mut tx, &changes.restamp).await?;
    let overruns = check_authorizations(&mut tx, client_id, &schedule, today, horizon_end).await?;
    let policy = policy::load(&mut tx).await?;
    tx.commit().await?;

    // Visits created now, and any a crash left without a workflow (still
    // `scheduled`: a running workflow makes the start a no-op).
    let waiting: BTreeSet<Uuid> = generated
        .iter()
        .filter(|g| g.status == VisitStatus::Scheduled)
        .map(|g| g.visit_id)
        .chain(changes.create.iter().map(|c| c.visit_id))
        .collect();
    for visit in with_current_ids(&planned, &generated)
        .iter()
        .filter(|p| waiting.contains(&p.visit_id))
    {
        let input = visit_input(
            visit.visit_id,
            client_id,
            (visit.occurrence.start, visit.occurrence.end),
            &policy,
            starter.unfilled_retry_minutes,
        );
        start_visit(&starter.temporal, &starter.task_queue, input)
            .await
            .map_err(|e| ActivityFailure::Temporal(e.to_string()))?;
    }
    let revision: HashMap<Uuid, DateTime<Utc>> = generated
        .iter()
        .map(|g| (g.visit_id, g.updated_at))
        .collect();
    for visit in &changes.reschedule {
        move_visit(starter, visit, revision.get(&visit.visit_id).copied()).await?;
    }
    for visit_id in &changes.cancel {
        if !cancel_visit(starter, *visit_id).await? {
            // Saved, never started, and no longer asked for.
            cancel_unstarted(&mut *steps.store.db.acquire().await?, *visit_id).await?;
        }
    }
    let mut conn = steps.store.db.acquire().await?;
    for plan_id in alerts_due(&mut conn, client_id).await? {
        if let Some(plan) = schedule.plans.iter().find(|p| p.plan_id == plan_id) {
            alert_over_authorization(steps, client_id, plan, &overruns).await?;
        }
        alert_sent(&mut conn, plan_id).await?;
    }
    let outcome = GenerationOutcome {
        client_id,
        active_plans: schedule.plans.len(),
        horizon_days: schedule.horizon_days,
        created: changes.create.len(),
        rescheduled: changes.reschedule.len(),
        cancelled: changes.cancel.len(),
        kept: changes.kept,
        over_authorization: overruns,
        next_run_at: next_run(tz, today),
    };
    tracing::info!(
        created = outcome.created,
        rescheduled = outcome.rescheduled,
        cancelled = outcome.cancelled,
        kept = outcome.kept,
        "care plans generated"
    );
    Ok(outcome)
}

/// Just after the client's next midnight.
fn next_run(tz: Tz, today: NaiveDate) -> DateTime<Utc> {
    let tomorrow = today.succ_opt().unwrap_or(today);
    local_instant(
        tz,
        tomorrow,
        NaiveTime::from_hms_opt(0, 5, 0).unwrap_or(NaiveTime::MIN),
    )
}

/// Every authorization period its plans' visits would overrun, for each
/// plan: the plans of one payer's service are counted together, over whole
/// periods from the start of this month (or week) to the end of the last
/// period the horizon reaches. Sets each plan's flag (and, when raised, its
/// alert as due).
async fn check_authorizations(
    conn: &mut PgConnection,
    client_id: Uuid,
    schedule: &ClientSchedule,
    today: NaiveDate,
    horizon_end: NaiveDate,
) -> Result<Vec<AuthorizationOverrun>, ActivityFailure> {
    let from = today.with_day(1).unwrap_or(today) - Days::new(7);
    let until = horizon_end + Days::new(31);
    let mut services: BTreeMap<(Uuid, &str), Vec<PlanSchedule>> = BTreeMap::new();
    for plan in &schedule.plans {
        services
            .entry((plan.payer_id, plan.service_code.as_str()))
            .or_default()
            .push(plan.clone());
    }
    let mut all = Vec::new();
    for ((payer_id, service_code), plans) in services {
        // Without a rate there are no units to count (and nothing to bill).
        let Ok((_, rule, _)) = billing::rate_of(conn, payer_id, service_code, today).await else {
            continue;
        };
        let visits = planned_visits(&plans, &schedule.holidays, schedule.timezone, from, until);
        let refs: Vec<&PlannedVisit> = visits.iter().collect();
        let units: Vec<(NaiveDate, i64)> = planned_units(&refs, &rule, schedule.timezone)
            .into_iter()
            .collect();
        for plan in &plans {
            let overruns: Vec<AuthorizationOverrun> = authorization_overruns(
                conn,
                client_id,
                (payer_id, service_code),
                &units,
                plan.plan_id,
            )
            .await?
            .into_iter()
            .filter(|o| o.period_end >= today && o.period_start < horizon_end)
            .collect();
            flag_over_authorization(conn, plan.plan_id, !overruns.is_empty()).await?;
            all.extend(overruns);
        }
    }
    Ok(all)
}

/// Moves a visit of the plan to its new times (the workflow keeps its
/// caregivers if they still fit). A visit that has begun meanwhile stays.
async fn move_visit(
    starter: &VisitStarter,
    visit: &PlannedVisit,
    revision: Option<DateTime<Utc>>,
) -> Result<(), ActivityFailure> {
    let handle = starter
        .temporal
        .get_workflow_handle::<VisitWorkflow>(visit_workflow_id(visit.visit_id));
    let command = RescheduleCommand {
        scheduled_start: visit.occurrence.start,
        scheduled_end: visit.occurrence.end,
    };
    let options = WorkflowExecuteUpdateOptions::builder()
        // The row's last change keys the move: moving back and forth again
        // is a new command each time, a retry of this one is not.
        .update_id(format!(
            "plan-reschedule-{}-{}-{}",
            visit.visit_id,
            visit.occurrence.start.timestamp(),
            revision.map_or(0, |r| r.timestamp_micros())
        ))
        .build();
    refused_is_fine(
        visit.visit_id,
        handle
            .execute_update(VisitWorkflow::reschedule, command, options)
            .await
            .map(|_| ()),
    )?;
    Ok(())
}

/// Cancels a visit that left the plan; false when it has no workflow.
async fn cancel_visit(starter: &VisitStarter, visit_id: Uuid) -> Result<bool, ActivityFailure> {
    let handle = starter
        .temporal
        .get_workflow_handle::<VisitWorkflow>(visit_workflow_id(visit_id));
    let options = WorkflowExecuteUpdateOptions::builder()
        .update_id(format!("plan-cancel-{visit_id}"))
        .build();
    let command = CancelCommand {
        reason: PLAN_CANCEL_REASON.to_owned(),
    };
    refused_is_fine(
        visit_id,
        handle
            .execute_update(VisitWorkflow::cancel, command, options)
            .await
            .map(|_| ()),
    )
}

/// A command the visit's workflow refuses (it began, or finished) leaves the
/// visit as it is; Temporal not answering fails the step, to be retried.
/// False when the visit has no workflow.
fn refused_is_fine(
    visit_id: Uuid,
    sent: Result<(), WorkflowUpdateError>,
) -> Result<bool, ActivityFailure> {
    match sent {
        Ok(()) => Ok(true),
        Err(WorkflowUpdateError::Failed(failure)) => {
            tracing::info!(%visit_id, reason = %failure.message, "the visit keeps its course");
            Ok(true)
        }
        Err(WorkflowUpdateError::NotFound(_)) => Ok(false),
        Err(other) => Err(ActivityFailure::Temporal(other.to_string())),
    }
}

/// `homecare.alert.over_authorization`, published directly: its subject is
/// the plan, not a visit. A retry publishes the same id again, which
/// JetStream drops.
async fn alert_over_authorization(
    steps: &Steps,
    client_id: Uuid,
    plan: &PlanSchedule,
    overruns: &[AuthorizationOverrun],
) -> Result<(), ActivityFailure> {
    let mine: Vec<AuthorizationOverrun> = overruns
        .iter()
        .filter(|o| o.care_plan_id == plan.plan_id)
        .cloned()
        .collect();
    let discriminator = mine
        .iter()
        .map(|o| format!("{}/{}", o.authorization_id, o.period_start))
        .collect::<Vec<_>>()
        .join(",");
    let event = AlertOverAuthorization {
        care_plan_id: plan.plan_id,
        client_id,
        payer_id: plan.payer_id,
        service_code: plan.service_code.clone(),
        overruns: mine,
    };
    let envelope = EventEnvelope::of(&event, &discriminator, Utc::now());
    let subject = EventKind::OverAuthorizationAlert.subject_tail(plan.plan_id);
    steps.store.bus.publish(&subject, &envelope).await?;
    Ok(())
}
