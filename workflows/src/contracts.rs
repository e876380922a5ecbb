//! The activities the visit workflow calls, as contracts only: name, input, output.
//! The implementations (`homecare_activities::VisitActivitiesImpl`) register under
//! the same names; `homecare_worker` tests that both sides agree.

use homecare_domain::contracts::{
    AssignmentOutcome, BillingOutcome, CallOut, CallOutOutcome, InvoiceLineSummary,
    LateCheckInAlert, PlanOutcome, PlanProposal, PlanRequest, RecordCancel, RecordEvv,
    RecordManualAssignment, RecordReschedule, RecordResolution, VisitRef, activity_names,
};
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;

pub struct VisitActivities;

#[activity_definitions]
impl VisitActivities {
    /// The scheduling engine books the best eligible caregivers, or marks the visit
    /// unfilled and raises an alert.
    #[activity(name = activity_names::ASSIGN_CAREGIVER)]
    pub fn assign_caregiver(_visit: VisitRef) -> Result<AssignmentOutcome, ActivityError> {
        unimplemented!()
    }

    #[activity(name = activity_names::RECORD_CHECK_IN)]
    pub fn record_check_in(_evv: RecordEvv) -> Result<(), ActivityError> {
        unimplemented!()
    }

    #[activity(name = activity_names::RECORD_CHECK_OUT)]
    pub fn record_check_out(_evv: RecordEvv) -> Result<(), ActivityError> {
        unimplemented!()
    }

    #[activity(name = activity_names::CANCEL_VISIT)]
    pub fn cancel_visit(_cancel: RecordCancel) -> Result<(), ActivityError> {
        unimplemented!()
    }

    #[activity(name = activity_names::CREATE_INVOICE_LINE)]
    pub fn create_invoice_line(_visit: VisitRef) -> Result<InvoiceLineSummary, ActivityError> {
        unimplemented!()
    }

    /// One invoice line for a completed visit, or the open exceptions holding it.
    #[activity(name = activity_names::BILL_VISIT)]
    pub fn bill_completed_visit(_visit: VisitRef) -> Result<BillingOutcome, ActivityError> {
        unimplemented!()
    }

    /// Records a coordinator's resolution of an exception.
    #[activity(name = activity_names::RESOLVE_EXCEPTION)]
    pub fn record_exception_resolution(_request: RecordResolution) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Closes a visit still checked in long after its end, with an exception.
    /// Returns false when the caregiver checked out first.
    #[activity(name = activity_names::CLOSE_MISSED_CHECK_OUT)]
    pub fn close_visit_without_check_out(_visit: VisitRef) -> Result<bool, ActivityError> {
        unimplemented!()
    }

    /// Returns false when the caregiver checked in meanwhile and no alert was needed.
    #[activity(name = activity_names::RAISE_LATE_CHECK_IN_ALERT)]
    pub fn raise_late_check_in_alert(_alert: LateCheckInAlert) -> Result<bool, ActivityError> {
        unimplemented!()
    }

    /// A coordinator's choice, checked against the hard rules and booked.
    #[activity(name = activity_names::ASSIGN_MANUALLY)]
    pub fn assign_visit_manually(
        _request: RecordManualAssignment,
    ) -> Result<AssignmentOutcome, ActivityError> {
        unimplemented!()
    }

    /// Records the call-out and re-decides every affected visit in one transaction.
    #[activity(name = activity_names::APPLY_CALL_OUT)]
    pub fn apply_caregiver_call_out(_call_out: CallOut) -> Result<CallOutOutcome, ActivityError> {
        unimplemented!()
    }

    /// New times: the caregivers stay if they still fit, else the engine decides.
    #[activity(name = activity_names::RESCHEDULE_VISIT)]
    pub fn reschedule_visit(
        _request: RecordReschedule,
    ) -> Result<AssignmentOutcome, ActivityError> {
        unimplemented!()
    }

    /// Builds the day's routing instance and runs the optimizer (heartbeats).
    #[activity(name = activity_names::SOLVE_PLAN)]
    pub fn solve_day_plan(_request: PlanRequest) -> Result<PlanProposal, ActivityError> {
        unimplemented!()
    }

    /// Applies a proposal through the hard-rule checks, in one transaction.
    #[activity(name = activity_names::APPLY_PLAN)]
    pub fn apply_day_plan(_proposal: PlanProposal) -> Result<PlanOutcome, ActivityError> {
        unimplemented!()
    }
}
