//! The activities the workflows call, as contracts only: name, input, output.
//! `<group>.<name>` (`homecare_domain::contracts::activity_names`) is declared
//! here as `<Group>Activities::<name>` and implemented in `homecare_activities`
//! by `<Group>ActivitiesImpl::<name>`; `homecare_worker` tests that both sides
//! agree.

use homecare_domain::contracts::activity_names::{care_plan, caregiver, plan, visit};
use homecare_domain::contracts::{
    AssignmentOutcome, BillingOutcome, CallOut, CallOutOutcome, Escalation, GenerateSchedule,
    GenerationOutcome, InvoiceLineSummary, LateCheckInAlert, PlanOutcome, PlanProposal,
    PlanRequest, RecordCancel, RecordEvv, RecordManualAssignment, RecordReschedule,
    RecordResolution, VisitRef,
};
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;

/// A visit's own steps (`visit.*`).
pub struct VisitActivities;

#[activity_definitions]
impl VisitActivities {
    /// The scheduling engine books the best eligible caregivers, or marks the visit
    /// unfilled and raises an alert.
    #[activity(name = visit::ASSIGN_CAREGIVER)]
    pub fn assign_caregiver(_visit: VisitRef) -> Result<AssignmentOutcome, ActivityError> {
        unimplemented!()
    }

    #[activity(name = visit::RECORD_CHECK_IN)]
    pub fn record_check_in(_evv: RecordEvv) -> Result<(), ActivityError> {
        unimplemented!()
    }

    #[activity(name = visit::RECORD_CHECK_OUT)]
    pub fn record_check_out(_evv: RecordEvv) -> Result<(), ActivityError> {
        unimplemented!()
    }

    #[activity(name = visit::CANCEL)]
    pub fn cancel(_cancel: RecordCancel) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// The billing step of visits started before billing holds existed.
    #[activity(name = visit::CREATE_INVOICE_LINE)]
    pub fn create_invoice_line(_visit: VisitRef) -> Result<InvoiceLineSummary, ActivityError> {
        unimplemented!()
    }

    /// One invoice line for a completed visit, or the open exceptions holding it.
    #[activity(name = visit::BILL)]
    pub fn bill(_visit: VisitRef) -> Result<BillingOutcome, ActivityError> {
        unimplemented!()
    }

    /// Records a coordinator's resolution of an exception.
    #[activity(name = visit::RESOLVE_EXCEPTION)]
    pub fn resolve_exception(_request: RecordResolution) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Closes a visit still checked in long after its end, with an exception.
    /// Returns false when the caregiver checked out first.
    #[activity(name = visit::CLOSE_MISSED_CHECK_OUT)]
    pub fn close_missed_check_out(_visit: VisitRef) -> Result<bool, ActivityError> {
        unimplemented!()
    }

    /// Returns false when the caregiver checked in meanwhile and no alert was needed.
    #[activity(name = visit::RAISE_LATE_CHECK_IN_ALERT)]
    pub fn raise_late_check_in_alert(_alert: LateCheckInAlert) -> Result<bool, ActivityError> {
        unimplemented!()
    }

    /// Raises the escalation alert for a visit still unfilled; false when it
    /// was filled or cancelled meanwhile.
    #[activity(name = visit::ESCALATE_UNFILLED)]
    pub fn escalate_unfilled(_escalation: Escalation) -> Result<bool, ActivityError> {
        unimplemented!()
    }

    /// A coordinator's choice, checked against the hard rules and booked.
    #[activity(name = visit::ASSIGN_MANUALLY)]
    pub fn assign_manually(
        _request: RecordManualAssignment,
    ) -> Result<AssignmentOutcome, ActivityError> {
        unimplemented!()
    }

    /// New times: the caregivers stay if they still fit, else the engine decides.
    #[activity(name = visit::RESCHEDULE)]
    pub fn reschedule(_request: RecordReschedule) -> Result<AssignmentOutcome, ActivityError> {
        unimplemented!()
    }
}

/// A caregiver's steps (`caregiver.*`).
pub struct CaregiverActivities;

#[activity_definitions]
impl CaregiverActivities {
    /// Records the call-out and re-decides every affected visit in one transaction.
    #[activity(name = caregiver::APPLY_CALL_OUT)]
    pub fn apply_call_out(_call_out: CallOut) -> Result<CallOutOutcome, ActivityError> {
        unimplemented!()
    }
}

/// A day plan's steps (`plan.*`).
pub struct PlanActivities;

#[activity_definitions]
impl PlanActivities {
    /// Builds the day's routing instance and runs the optimizer (heartbeats).
    #[activity(name = plan::SOLVE)]
    pub fn solve(_request: PlanRequest) -> Result<PlanProposal, ActivityError> {
        unimplemented!()
    }

    /// Applies a proposal through the hard-rule checks, in one transaction.
    #[activity(name = plan::APPLY)]
    pub fn apply(_proposal: PlanProposal) -> Result<PlanOutcome, ActivityError> {
        unimplemented!()
    }
}

/// A client's care plans' steps (`care_plan.*`).
pub struct CarePlanActivities;

#[activity_definitions]
impl CarePlanActivities {
    /// Brings the client's generated visits in line with its care plans for
    /// the horizon: creates, moves and cancels what lies ahead.
    #[activity(name = care_plan::GENERATE)]
    pub fn generate(_request: GenerateSchedule) -> Result<GenerationOutcome, ActivityError> {
        unimplemented!()
    }
}
