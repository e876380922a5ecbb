//! A Temporal worker running `VisitWorkflow` and the visit activities.
//!
//! The SDK's `Worker::run` future is not `Send`, so a worker runs on a thread of
//! its own with a current-thread runtime and a `LocalSet`; it builds its own
//! Postgres pool, NATS connection and Temporal client there, and runs the
//! outbox sweeper beside it. `homecare up`, `homecare worker` and the
//! end-to-end tests all start workers this way.

use std::sync::Arc;
use std::time::Duration;

use homecare_activities::{Steps, VisitStarter};
use homecare_store::temporal::{self, TemporalSettings};
use homecare_store::{EventBus, EventBusConfig, Store};
use homecare_workflows::{
    CallOutWorkflow, CarePlanWorkflow, EscalationWorkflow, PlanDayWorkflow, VisitWorkflow,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::sync::oneshot;

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub temporal: TemporalSettings,
    pub database: PgConnectOptions,
    pub max_db_connections: u32,
    pub bus: EventBusConfig,
    pub policy: homecare_domain::scheduling::Policy,
    /// While no caregiver fits a visit, how often its assignment is retried
    /// (visits that care plans generate; the API's own visits use its setting).
    pub unfilled_retry_minutes: i64,
    /// Workflows and activities beyond the platform's own, for tools that
    /// need a worker of their own kind (the benchmark's floor). None in
    /// production.
    pub extra: Option<ExtraRegistrations>,
}

/// Registers more workflows and activities on a worker's options.
#[derive(Clone)]
pub struct ExtraRegistrations {
    pub name: &'static str,
    pub register: Arc<dyn Fn(&mut WorkerOptions) -> Result<(), String> + Send + Sync>,
}

impl std::fmt::Debug for ExtraRegistrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraRegistrations")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    EventBus(#[from] homecare_store::EventBusError),
    #[error(transparent)]
    Temporal(#[from] temporal::TemporalConnectError),
    #[error("worker: {0}")]
    Worker(String),
    #[error("worker thread: {0}")]
    Thread(String),
}

/// Every workflow and activity the platform runs, on the settings' task queue.
pub fn worker_options(task_queue: &str, steps: Steps) -> Result<WorkerOptions, WorkerError> {
    let (visit, caregiver, plan, care_plan) = steps.activities();
    Ok(WorkerOptions::new(task_queue)
        .register_workflow::<VisitWorkflow>()
        .map_err(|e| WorkerError::Worker(e.to_string()))?
        .register_workflow::<CallOutWorkflow>()
        .map_err(|e| WorkerError::Worker(e.to_string()))?
        .register_workflow::<PlanDayWorkflow>()
        .map_err(|e| WorkerError::Worker(e.to_string()))?
        .register_workflow::<CarePlanWorkflow>()
        .map_err(|e| WorkerError::Worker(e.to_string()))?
        .register_workflow::<EscalationWorkflow>()
        .map_err(|e| WorkerError::Worker(e.to_string()))?
        .register_activities(visit)
        .register_activities(caregiver)
        .register_activities(plan)
        .register_activities(care_plan)
        .graceful_shutdown_period(Duration::from_secs(10))
        .build())
}

async fn build(settings: &WorkerSettings) -> Result<Worker, WorkerError> {
    let db = PgPoolOptions::new()
        .max_connections(settings.max_db_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(settings.database.clone())
        .await?;
    let bus = EventBus::connect(settings.bus.clone()).await?;
    bus.ensure_stream().await?;
    let client = temporal::connect(&settings.temporal, "homecare-worker").await?;
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|e| WorkerError::Worker(e.to_string()))?;
    let store = Store::new(db.clone(), bus);
    tokio::task::spawn_local(sweep_outbox(store.clone()));
    tokio::task::spawn_local(seal_audit_log(db));
    let starter = VisitStarter {
        temporal: client.clone(),
        task_queue: settings.temporal.task_queue.clone(),
        unfilled_retry_minutes: settings.unfilled_retry_minutes,
    };
    let steps = Steps::new(store)
        .with_policy(settings.policy.clone())
        .with_visit_starter(starter);
    let mut options = worker_options(&settings.temporal.task_queue, steps)?;
    if let Some(extra) = &settings.extra {
        (extra.register)(&mut options).map_err(WorkerError::Worker)?;
        tracing::info!(
            extra = extra.name,
            "worker registers more than the platform"
        );
    }
    Worker::new(&runtime, client, options).map_err(|e| WorkerError::Worker(e.to_string()))
}

/// How often each worker looks for events whose publish never completed, and how
/// old such an event must be (activities publish their own events within
/// milliseconds; the sweeper covers the time NATS could not be reached).
const SWEEP_EVERY: Duration = Duration::from_secs(5);
const STALE_AFTER: Duration = Duration::from_secs(10);

/// The outbox sweeper. Runs beside the worker, on its `LocalSet`, and stops with it.
async fn sweep_outbox(store: Store) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        match store.publish_stale(STALE_AFTER).await {
            Ok(0) => {}
            Ok(published) => tracing::info!(published, "outbox sweeper published stale events"),
            Err(e) => tracing::warn!(error = %e, "outbox sweeper failed; will try again"),
        }
    }
}

/// How often each worker seals new audit rows into the hash chain (one sealer
/// at a time: the others find the advisory lock taken and skip the round).
const SEAL_EVERY: Duration = Duration::from_secs(1);

async fn seal_audit_log(db: sqlx::PgPool) {
    let mut every = tokio::time::interval(SEAL_EVERY);
    loop {
        every.tick().await;
        // Drain a backlog in batches, then wait for the next round.
        loop {
            match homecare_store::audit::seal(&db, 1000).await {
                Ok(1000) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "audit sealer failed; will try again");
                    break;
                }
            }
        }
    }
}

/// A worker on its own thread.
pub struct WorkerThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), WorkerError>>>,
}

impl WorkerThread {
    /// Starts a worker thread and returns once it is connected and polling.
    pub async fn spawn(settings: WorkerSettings) -> Result<Self, WorkerError> {
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("homecare-worker".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| WorkerError::Thread(e.to_string()))?;
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    let mut worker = match build(&settings).await {
                        Ok(worker) => worker,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return Err(e);
                        }
                    };
                    let stop = worker.shutdown_handle();
                    tokio::task::spawn_local(async move {
                        let _ = stop_rx.await;
                        stop();
                    });
                    let _ = ready_tx.send(Ok(()));
                    worker
                        .run()
                        .await
                        .map_err(|e| WorkerError::Worker(e.to_string()))
                })
            })
            .map_err(|e| WorkerError::Thread(e.to_string()))?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(Self {
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(message)) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                Err(WorkerError::Worker(message))
            }
            Err(_) => Err(WorkerError::Thread(
                "worker thread ended before it was ready".to_owned(),
            )),
        }
    }

    /// Shuts the worker down gracefully (in-flight activities get the grace period)
    /// and waits for its thread.
    pub async fn stop(mut self) -> Result<(), WorkerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| WorkerError::Thread(e.to_string()))?
                .map_err(|_| WorkerError::Thread("worker thread panicked".to_owned()))?,
            None => Ok(()),
        }
    }
}

impl Drop for WorkerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use homecare_activities::{
        CarePlanActivitiesImpl, CaregiverActivitiesImpl, PlanActivitiesImpl, VisitActivitiesImpl,
    };
    use homecare_domain::contracts::activity_names;
    use homecare_workflows::{
        CarePlanActivities, CaregiverActivities, PlanActivities, VisitActivities,
    };
    use temporalio_common::ActivityDefinition;

    /// The compiler checks input and output types; the test checks the names the
    /// worker registers are the names the workflow schedules.
    fn same_contract<D, I>(declared: D, implemented: I) -> String
    where
        D: ActivityDefinition,
        I: ActivityDefinition<Input = D::Input, Output = D::Output>,
    {
        assert_eq!(declared.name(), implemented.name());
        declared.name().to_owned()
    }

    #[test]
    fn every_declared_activity_is_implemented_under_the_same_name() {
        let names = [
            same_contract(
                VisitActivities::assign_caregiver,
                VisitActivitiesImpl::assign_caregiver,
            ),
            same_contract(
                VisitActivities::record_check_in,
                VisitActivitiesImpl::record_check_in,
            ),
            same_contract(
                VisitActivities::record_check_out,
                VisitActivitiesImpl::record_check_out,
            ),
            same_contract(VisitActivities::cancel, VisitActivitiesImpl::cancel),
            same_contract(
                VisitActivities::create_invoice_line,
                VisitActivitiesImpl::create_invoice_line,
            ),
            same_contract(
                VisitActivities::raise_late_check_in_alert,
                VisitActivitiesImpl::raise_late_check_in_alert,
            ),
            same_contract(
                VisitActivities::assign_manually,
                VisitActivitiesImpl::assign_manually,
            ),
            same_contract(VisitActivities::reschedule, VisitActivitiesImpl::reschedule),
            same_contract(VisitActivities::bill, VisitActivitiesImpl::bill),
            same_contract(
                VisitActivities::resolve_exception,
                VisitActivitiesImpl::resolve_exception,
            ),
            same_contract(
                VisitActivities::close_missed_check_out,
                VisitActivitiesImpl::close_missed_check_out,
            ),
            same_contract(
                VisitActivities::escalate_unfilled,
                VisitActivitiesImpl::escalate_unfilled,
            ),
            same_contract(
                CaregiverActivities::apply_call_out,
                CaregiverActivitiesImpl::apply_call_out,
            ),
            same_contract(PlanActivities::solve, PlanActivitiesImpl::solve),
            same_contract(PlanActivities::apply, PlanActivitiesImpl::apply),
            same_contract(
                CarePlanActivities::generate,
                CarePlanActivitiesImpl::generate,
            ),
        ];
        assert_eq!(names.map(|n| n), activity_names::ALL.map(str::to_owned));
    }
}
