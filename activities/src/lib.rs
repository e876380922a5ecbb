//! Temporal activities: the only code that changes PostgreSQL and publishes to
//! NATS on behalf of a workflow, organised by workflow step (`visit`,
//! `assignment`, `plan`).
//!
//! Every step has one shape: load (through `homecare_store`, under the visit's
//! row lock), decide (in `homecare_domain`), apply (one transaction that also
//! records the events in the outbox; `Store::commit_and_publish` then sends
//! them). Each is idempotent: a retry after a crash at any instant finds what
//! the first attempt committed, writes nothing twice, and publishes what is
//! still missing.
//!
//! One name per activity: the contract `visit.bill` is declared as
//! `VisitActivities::bill` (`homecare_workflows`), implemented here by
//! `VisitActivitiesImpl::bill`, which runs `visit::billing::bill`.

mod assignment;
mod care_plan;
mod plan;
mod step;
mod visit;

use std::sync::Arc;

use homecare_domain::contracts::activity_names::{
    care_plan as care_plan_names, caregiver, plan as plan_names, visit as visit_names,
};
use homecare_domain::contracts::{
    AssignmentOutcome, BillingOutcome, CallOut, CallOutOutcome, Escalation, GenerateSchedule,
    GenerationOutcome, InvoiceLineSummary, LateCheckInAlert, PlanOutcome, PlanProposal,
    PlanRequest, RecordCancel, RecordEvv, RecordManualAssignment, RecordReschedule,
    RecordResolution, VisitRef,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub use homecare_domain::evv::EvvKind;
pub use step::{ActivityFailure, Steps, VisitStarter};

impl Steps {
    /// The three groups of activities a worker registers, sharing these handles.
    pub fn activities(
        self,
    ) -> (
        VisitActivitiesImpl,
        CaregiverActivitiesImpl,
        PlanActivitiesImpl,
        CarePlanActivitiesImpl,
    ) {
        (
            VisitActivitiesImpl(self.clone()),
            CaregiverActivitiesImpl(self.clone()),
            PlanActivitiesImpl(self.clone()),
            CarePlanActivitiesImpl(self),
        )
    }
}

fn done<T>(result: Result<T, ActivityFailure>) -> Result<T, ActivityError> {
    result.map_err(ActivityFailure::into_activity_error)
}

/// A visit's own steps (`visit.*`).
pub struct VisitActivitiesImpl(pub Steps);

#[activities]
impl VisitActivitiesImpl {
    #[activity(name = visit_names::ASSIGN_CAREGIVER)]
    pub async fn assign_caregiver(
        self: Arc<Self>,
        _ctx: ActivityContext,
        visit: VisitRef,
    ) -> Result<AssignmentOutcome, ActivityError> {
        done(assignment::engine::assign_caregiver(&self.0, visit.visit_id).await)
    }

    #[activity(name = visit_names::RECORD_CHECK_IN)]
    pub async fn record_check_in(
        self: Arc<Self>,
        _ctx: ActivityContext,
        evv: RecordEvv,
    ) -> Result<(), ActivityError> {
        done(visit::evv::record(&self.0, EvvKind::CheckIn, &evv).await)
    }

    #[activity(name = visit_names::RECORD_CHECK_OUT)]
    pub async fn record_check_out(
        self: Arc<Self>,
        _ctx: ActivityContext,
        evv: RecordEvv,
    ) -> Result<(), ActivityError> {
        done(visit::evv::record(&self.0, EvvKind::CheckOut, &evv).await)
    }

    #[activity(name = visit_names::CANCEL)]
    pub async fn cancel(
        self: Arc<Self>,
        _ctx: ActivityContext,
        cancel: RecordCancel,
    ) -> Result<(), ActivityError> {
        done(visit::cancel::cancel(&self.0, &cancel).await)
    }

    #[activity(name = visit_names::CREATE_INVOICE_LINE)]
    pub async fn create_invoice_line(
        self: Arc<Self>,
        _ctx: ActivityContext,
        visit: VisitRef,
    ) -> Result<InvoiceLineSummary, ActivityError> {
        done(visit::billing::create_invoice_line(&self.0, visit.visit_id).await)
    }

    #[activity(name = visit_names::BILL)]
    pub async fn bill(
        self: Arc<Self>,
        _ctx: ActivityContext,
        visit: VisitRef,
    ) -> Result<BillingOutcome, ActivityError> {
        done(visit::billing::bill(&self.0, visit.visit_id).await)
    }

    #[activity(name = visit_names::RESOLVE_EXCEPTION)]
    pub async fn resolve_exception(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: RecordResolution,
    ) -> Result<(), ActivityError> {
        done(visit::exceptions::resolve_exception(&self.0, &request).await)
    }

    #[activity(name = visit_names::CLOSE_MISSED_CHECK_OUT)]
    pub async fn close_missed_check_out(
        self: Arc<Self>,
        _ctx: ActivityContext,
        visit: VisitRef,
    ) -> Result<bool, ActivityError> {
        done(visit::exceptions::close_missed_check_out(&self.0, visit.visit_id).await)
    }

    #[activity(name = visit_names::ESCALATE_UNFILLED)]
    pub async fn escalate_unfilled(
        self: Arc<Self>,
        _ctx: ActivityContext,
        escalation: Escalation,
    ) -> Result<bool, ActivityError> {
        done(visit::alerts::escalate_unfilled(&self.0, &escalation).await)
    }

    #[activity(name = visit_names::RAISE_LATE_CHECK_IN_ALERT)]
    pub async fn raise_late_check_in_alert(
        self: Arc<Self>,
        _ctx: ActivityContext,
        alert: LateCheckInAlert,
    ) -> Result<bool, ActivityError> {
        done(visit::alerts::raise_late_check_in_alert(&self.0, &alert).await)
    }

    #[activity(name = visit_names::ASSIGN_MANUALLY)]
    pub async fn assign_manually(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: RecordManualAssignment,
    ) -> Result<AssignmentOutcome, ActivityError> {
        done(assignment::manual::assign_manually(&self.0, &request).await)
    }

    #[activity(name = visit_names::RESCHEDULE)]
    pub async fn reschedule(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: RecordReschedule,
    ) -> Result<AssignmentOutcome, ActivityError> {
        done(assignment::reschedule::reschedule(&self.0, &request).await)
    }
}

/// A caregiver's steps (`caregiver.*`).
pub struct CaregiverActivitiesImpl(pub Steps);

#[activities]
impl CaregiverActivitiesImpl {
    #[activity(name = caregiver::APPLY_CALL_OUT)]
    pub async fn apply_call_out(
        self: Arc<Self>,
        _ctx: ActivityContext,
        call_out: CallOut,
    ) -> Result<CallOutOutcome, ActivityError> {
        done(assignment::call_out::apply_call_out(&self.0, &call_out).await)
    }
}

/// A day plan's steps (`plan.*`).
pub struct PlanActivitiesImpl(pub Steps);

#[activities]
impl PlanActivitiesImpl {
    #[activity(name = plan_names::SOLVE)]
    pub async fn solve(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: PlanRequest,
    ) -> Result<PlanProposal, ActivityError> {
        done(plan::solve::solve(&self.0, Some(&ctx), &request).await)
    }

    #[activity(name = plan_names::APPLY)]
    pub async fn apply(
        self: Arc<Self>,
        _ctx: ActivityContext,
        proposal: PlanProposal,
    ) -> Result<PlanOutcome, ActivityError> {
        done(plan::apply::apply(&self.0, &proposal).await)
    }
}

/// A client's care plans' steps (`care_plan.*`).
pub struct CarePlanActivitiesImpl(pub Steps);

#[activities]
impl CarePlanActivitiesImpl {
    #[activity(name = care_plan_names::GENERATE)]
    pub async fn generate(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: GenerateSchedule,
    ) -> Result<GenerationOutcome, ActivityError> {
        done(care_plan::generate::generate(&self.0, &request).await)
    }
}

/// The steps as plain functions, for the activity tests: the same code the
/// activities run, without a Temporal worker.
pub mod run {
    pub use crate::assignment::call_out::apply_call_out;
    pub use crate::assignment::engine::assign_caregiver;
    pub use crate::assignment::manual::assign_manually;
    pub use crate::assignment::reschedule::reschedule;
    pub use crate::care_plan::generate::generate as generate_care_plans;
    pub use crate::plan::apply::apply as apply_plan;
    pub use crate::plan::solve::solve as solve_plan;
    pub use crate::visit::alerts::{escalate_unfilled, raise_late_check_in_alert};
    pub use crate::visit::billing::{bill, create_invoice_line};
    pub use crate::visit::cancel::cancel;
    pub use crate::visit::evv::record as record_evv;
    pub use crate::visit::exceptions::{close_missed_check_out, resolve_exception};
}
