//! Temporal activities: the only code that writes PostgreSQL and publishes to NATS
//! on behalf of a workflow.
//!
//! Each state change is one transaction that also writes the event into
//! `visit_events` (the outbox); after the commit, every unpublished event of the
//! visit is published with its deterministic id as `Nats-Msg-Id` and marked
//! published. A retry after a crash at any instant therefore finds the change
//! already made, writes nothing twice, and publishes what is still missing. If
//! NATS cannot be reached after the commit, the activity still succeeds and the
//! outbox sweeper (`publish_stale`, run by every worker) publishes the event.

pub mod audit;
mod billing;
pub mod claims;
pub mod codec;
mod engine;
pub mod events;
mod planning;
pub mod scheduling;
mod store;
pub mod temporal;

use std::sync::Arc;

use homecare_domain::contracts::{
    AssignmentOutcome, BillingOutcome, CallOut, CallOutOutcome, InvoiceLineSummary,
    LateCheckInAlert, PlanOutcome, PlanProposal, PlanRequest, RecordCancel, RecordEvv,
    RecordManualAssignment, RecordReschedule, RecordResolution, VisitRef, activity_names,
};
use homecare_domain::scheduling::Policy;
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

pub use billing::load_policy;
pub use engine::{ManualProblem, check_manual};
pub use events::{EventBus, EventBusConfig, EventBusError};
pub use store::EvvKind;

#[derive(Debug, thiserror::Error)]
pub enum ActivityFailure {
    #[error("visit {0} not found")]
    VisitNotFound(Uuid),
    /// The command contradicts what the database holds: retrying cannot help.
    #[error("{0}")]
    Rejected(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Publish(#[from] EventBusError),
    #[error("assignment clashed with concurrent bookings {0} times")]
    Contention(u32),
}

impl ActivityFailure {
    pub fn is_retryable(&self) -> bool {
        // A missing visit is retried too: the API starts the workflow inside the
        // transaction that inserts the row, so the first activity can run a few
        // milliseconds before that commit is visible.
        matches!(
            self,
            Self::VisitNotFound(_) | Self::Database(_) | Self::Publish(_) | Self::Contention(_)
        )
    }

    /// Bad data and rule violations fail the activity for good; anything that may
    /// heal (a dropped connection, NATS briefly away) is retried by Temporal.
    pub fn into_activity_error(self) -> ActivityError {
        if self.is_retryable() {
            tracing::warn!(error = %self, "activity attempt failed; Temporal will retry");
            ActivityError::application(ApplicationFailure::new(self))
        } else {
            tracing::error!(error = %self, "activity refused");
            ActivityError::application(ApplicationFailure::non_retryable(self))
        }
    }
}

/// The activity implementations, holding the same handles the API uses.
pub struct VisitActivitiesImpl {
    db: PgPool,
    bus: EventBus,
    policy: Policy,
}

impl VisitActivitiesImpl {
    pub fn new(db: PgPool, bus: EventBus) -> Self {
        Self {
            db,
            bus,
            policy: Policy::default(),
        }
    }

    /// The scheduling policy (travel speed, score weights) decisions use.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn db(&self) -> &PgPool {
        &self.db
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }
}

#[activities]
impl VisitActivitiesImpl {
    #[activity(name = activity_names::ASSIGN_CAREGIVER)]
    pub async fn assign_caregiver(
        self: Arc<Self>,
        _ctx: ActivityContext,
        visit: VisitRef,
    ) -> Result<AssignmentOutcome, ActivityError> {
        self.assign(visit.visit_id)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::RECORD_CHECK_IN)]
    pub async fn record_check_in(
        self: Arc<Self>,
        _ctx: ActivityContext,
        evv: RecordEvv,
    ) -> Result<(), ActivityError> {
        self.record_evv(EvvKind::CheckIn, &evv)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::RECORD_CHECK_OUT)]
    pub async fn record_check_out(
        self: Arc<Self>,
        _ctx: ActivityContext,
        evv: RecordEvv,
    ) -> Result<(), ActivityError> {
        self.record_evv(EvvKind::CheckOut, &evv)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::CANCEL_VISIT)]
    pub async fn cancel_visit(
        self: Arc<Self>,
        _ctx: ActivityContext,
        cancel: RecordCancel,
    ) -> Result<(), ActivityError> {
        self.cancel(&cancel)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::CREATE_INVOICE_LINE)]
    pub async fn create_invoice_line(
        self: Arc<Self>,
        _ctx: ActivityContext,
        visit: VisitRef,
    ) -> Result<InvoiceLineSummary, ActivityError> {
        self.invoice(visit.visit_id)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::BILL_VISIT)]
    pub async fn bill_completed_visit(
        self: Arc<Self>,
        _ctx: ActivityContext,
        visit: VisitRef,
    ) -> Result<BillingOutcome, ActivityError> {
        self.bill(visit.visit_id)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::RESOLVE_EXCEPTION)]
    pub async fn record_exception_resolution(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: RecordResolution,
    ) -> Result<(), ActivityError> {
        self.resolve_exception(&request)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::CLOSE_MISSED_CHECK_OUT)]
    pub async fn close_visit_without_check_out(
        self: Arc<Self>,
        _ctx: ActivityContext,
        visit: VisitRef,
    ) -> Result<bool, ActivityError> {
        self.close_missed_check_out(visit.visit_id)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::RAISE_LATE_CHECK_IN_ALERT)]
    pub async fn raise_late_check_in_alert(
        self: Arc<Self>,
        _ctx: ActivityContext,
        alert: LateCheckInAlert,
    ) -> Result<bool, ActivityError> {
        self.late_check_in_alert(&alert)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::ASSIGN_MANUALLY)]
    pub async fn assign_visit_manually(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: RecordManualAssignment,
    ) -> Result<AssignmentOutcome, ActivityError> {
        self.assign_manually(&request)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::RESCHEDULE_VISIT)]
    pub async fn reschedule_visit(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: RecordReschedule,
    ) -> Result<AssignmentOutcome, ActivityError> {
        self.reschedule(&request)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::SOLVE_PLAN)]
    pub async fn solve_day_plan(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: PlanRequest,
    ) -> Result<PlanProposal, ActivityError> {
        self.solve_plan(Some(&ctx), &request)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::APPLY_PLAN)]
    pub async fn apply_day_plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        proposal: PlanProposal,
    ) -> Result<PlanOutcome, ActivityError> {
        self.apply_plan(&proposal)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }

    #[activity(name = activity_names::APPLY_CALL_OUT)]
    pub async fn apply_caregiver_call_out(
        self: Arc<Self>,
        _ctx: ActivityContext,
        call_out: CallOut,
    ) -> Result<CallOutOutcome, ActivityError> {
        self.apply_call_out(&call_out)
            .await
            .map_err(ActivityFailure::into_activity_error)
    }
}

/// The floor's activities: they do nothing, so `homecare bench` can measure
/// what Temporal alone costs for a visit's round trips.
pub struct FloorActivitiesImpl;

#[activities]
impl FloorActivitiesImpl {
    #[activity(name = "floor.noop")]
    pub async fn noop(_ctx: ActivityContext, _step: String) -> Result<(), ActivityError> {
        Ok(())
    }
}
