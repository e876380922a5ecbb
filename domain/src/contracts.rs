//! What crosses the Temporal boundary: the workflow's input, its update and query
//! payloads, and each activity's name, input and output.
//!
//! `workflows` declares the activities from these names and types
//! (`#[activity_definitions]`) and `activities` implements them under the same
//! names, so workflow code never links the crate that does I/O. A worker test
//! checks that every declared activity is registered.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::VisitStatus;
use crate::evv::{EvvMethod, ExceptionCode, ResolutionCode};

pub const VISIT_WORKFLOW_TYPE: &str = "VisitWorkflow";

pub fn visit_workflow_id(visit_id: Uuid) -> String {
    format!("visit-{visit_id}")
}

pub const CALL_OUT_WORKFLOW_TYPE: &str = "CallOutWorkflow";
pub const PLAN_DAY_WORKFLOW_TYPE: &str = "PlanDayWorkflow";

pub fn plan_workflow_id(plan_id: Uuid) -> String {
    format!("plan-{plan_id}")
}

pub fn call_out_workflow_id(call_out_id: Uuid) -> String {
    format!("call-out-{call_out_id}")
}

pub const CARE_PLAN_WORKFLOW_TYPE: &str = "CarePlanWorkflow";

/// One care-plan workflow per client: it keeps every plan of the client generated.
pub fn care_plan_workflow_id(client_id: Uuid) -> String {
    format!("care-plan-{client_id}")
}

/// Activity type names, shared by the declarations (`homecare_workflows`) and
/// the implementations (`homecare_activities`): `<group>.<name>` is declared as
/// `<Group>Activities::<name>` and implemented by the function of that name.
/// The strings are in every recorded workflow history: never change one.
pub mod activity_names {
    /// A visit's own steps (`VisitActivities`).
    pub mod visit {
        pub const ASSIGN_CAREGIVER: &str = "visit.assign_caregiver";
        pub const RECORD_CHECK_IN: &str = "visit.record_check_in";
        pub const RECORD_CHECK_OUT: &str = "visit.record_check_out";
        pub const CANCEL: &str = "visit.cancel";
        pub const CREATE_INVOICE_LINE: &str = "visit.create_invoice_line";
        pub const RAISE_LATE_CHECK_IN_ALERT: &str = "visit.raise_late_check_in_alert";
        pub const ASSIGN_MANUALLY: &str = "visit.assign_manually";
        pub const RESCHEDULE: &str = "visit.reschedule";
        pub const BILL: &str = "visit.bill";
        pub const RESOLVE_EXCEPTION: &str = "visit.resolve_exception";
        pub const CLOSE_MISSED_CHECK_OUT: &str = "visit.close_missed_check_out";
        pub const ESCALATE_UNFILLED: &str = "visit.escalate_unfilled";
    }

    /// A caregiver's steps (`CaregiverActivities`).
    pub mod caregiver {
        pub const APPLY_CALL_OUT: &str = "caregiver.apply_call_out";
    }

    /// A client's care plans' steps (`CarePlanActivities`).
    pub mod care_plan {
        pub const GENERATE: &str = "care_plan.generate";
    }

    /// A day plan's steps (`PlanActivities`).
    pub mod plan {
        pub const SOLVE: &str = "plan.solve";
        pub const APPLY: &str = "plan.apply";
    }

    pub const ALL: [&str; 16] = [
        visit::ASSIGN_CAREGIVER,
        visit::RECORD_CHECK_IN,
        visit::RECORD_CHECK_OUT,
        visit::CANCEL,
        visit::CREATE_INVOICE_LINE,
        visit::RAISE_LATE_CHECK_IN_ALERT,
        visit::ASSIGN_MANUALLY,
        visit::RESCHEDULE,
        visit::BILL,
        visit::RESOLVE_EXCEPTION,
        visit::CLOSE_MISSED_CHECK_OUT,
        visit::ESCALATE_UNFILLED,
        caregiver::APPLY_CALL_OUT,
        plan::SOLVE,
        plan::APPLY,
        care_plan::GENERATE,
    ];
}

/// Search attributes the workflow keeps current for the Temporal UI.
pub mod search_attributes {
    pub const VISIT_STATUS: &str = "VisitStatus";
    pub const CAREGIVER_ID: &str = "CaregiverId";
    pub const CLIENT_ID: &str = "ClientId";
    pub const SCHEDULED_START: &str = "ScheduledStart";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitWorkflowInput {
    pub visit_id: Uuid,
    pub client_id: Uuid,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    /// Minutes after the scheduled start without a check-in before the late alert.
    pub late_check_in_after_minutes: i64,
    /// While no caregiver fits, how often assignment is tried again.
    pub unfilled_retry_minutes: i64,
    /// Minutes after the scheduled end without a check-out before the visit is
    /// closed with a `missed_check_out` exception.
    #[serde(default = "default_missed_check_out_after_minutes")]
    pub missed_check_out_after_minutes: i64,
    /// Which history the workflow writes, fixed when the visit starts so that
    /// a running visit replays the path it began on (missing = 0, visits
    /// started before versions existed). See [`VISIT_WORKFLOW_VERSION`].
    #[serde(default)]
    pub version: u32,
}

/// The history new visit workflows write. Version 1: the starter sets the
/// search attributes (the workflow no longer upserts them again first) and
/// billing holds apply without a `billing-holds` patch marker; that is four
/// history events fewer per visit than version 0, three of them search
/// attribute upserts (each also a visibility write).
pub const VISIT_WORKFLOW_VERSION: u32 = 1;

fn default_missed_check_out_after_minutes() -> i64 {
    120
}

/// An EVV check-in or check-out as the caregiver's device reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvvCommand {
    pub caregiver_id: Uuid,
    pub at: DateTime<Utc>,
    pub latitude: f64,
    pub longitude: f64,
    /// The device's GPS (default) or a coordinator's manual entry, which raises a
    /// `manual_time_entry` exception and is not checked against the geofence.
    #[serde(default)]
    pub method: EvvMethod,
    /// At check-out: the duties done or not (with a reason), checked against
    /// the care plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duties: Vec<crate::care_plan::DutyReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelCommand {
    pub reason: String,
}

/// The workflow's view of a visit, returned by the `status` query and by updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitSnapshot {
    pub visit_id: Uuid,
    pub status: VisitStatus,
    pub caregiver_id: Option<Uuid>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub checked_out_at: Option<DateTime<Utc>>,
    pub late_alert_raised: bool,
    pub cancel_reason: Option<String>,
    pub invoice: Option<InvoiceLineSummary>,
    /// Everyone booked (two for a two-person visit).
    #[serde(default)]
    pub caregiver_ids: Vec<Uuid>,
    #[serde(default)]
    pub assignment_version: i64,
    /// Open exceptions holding the visit's billing (empty once it bills).
    #[serde(default)]
    pub held_by: Vec<OpenException>,
}

/// An open EVV or billing exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenException {
    pub exception_id: Uuid,
    pub code: ExceptionCode,
}

/// The billing step's answer: the invoice line, or the exceptions holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingOutcome {
    pub invoice: Option<InvoiceLineSummary>,
    pub held_by: Vec<OpenException>,
}

/// A coordinator resolving an exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionResolution {
    pub exception_id: Uuid,
    pub resolution_code: ResolutionCode,
    pub note: String,
    pub resolved_by: String,
    /// For `missed_check_out`: when the visit ended (recorded as a manual check-out).
    pub check_out_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResolution {
    pub visit_id: Uuid,
    pub resolution: ExceptionResolution,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceLineSummary {
    pub invoice_line_id: Uuid,
    pub units: i64,
    pub unit_rate: Decimal,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRef {
    pub visit_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentOutcome {
    /// The caregiver who records EVV (slot 1). None when the visit could not be
    /// staffed: it is then `unfilled`.
    pub caregiver_id: Option<Uuid>,
    /// Everyone booked on the visit (two for a two-person visit).
    #[serde(default)]
    pub caregiver_ids: Vec<Uuid>,
    /// The visit's `assignment_version` after this decision. Workflows apply a
    /// decision only if it is newer than the one they hold.
    #[serde(default)]
    pub version: i64,
}

/// A decision made outside the visit's own workflow (a call-out), signalled to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentChange {
    pub visit_id: Uuid,
    pub outcome: AssignmentOutcome,
}

/// The visits whose staff changed, for publishing their events.
pub fn changed_visits(changes: &[AssignmentChange]) -> Vec<Uuid> {
    changes.iter().map(|c| c.visit_id).collect()
}

/// A coordinator assigning caregivers by hand (checked against the hard rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualAssignment {
    pub caregiver_ids: Vec<Uuid>,
    /// Set to exceed the weekly hours cap; recorded with the decision.
    pub override_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordManualAssignment {
    pub visit_id: Uuid,
    pub assignment: ManualAssignment,
}

/// A caregiver calling out for a period: every affected visit is re-decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOut {
    pub call_out_id: Uuid,
    pub caregiver_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutOutcome {
    pub call_out_id: Uuid,
    pub caregiver_id: Uuid,
    /// One per affected visit: reassigned (caregivers) or unfilled (none).
    pub changes: Vec<AssignmentChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordEvv {
    pub visit_id: Uuid,
    pub command: EvvCommand,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCancel {
    pub visit_id: Uuid,
    pub reason: String,
}

/// An unfilled visit the on-call coordinator has had `waited_minutes` to
/// fill: escalate it if it is still unfilled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub visit_id: Uuid,
    pub waited_minutes: i64,
    /// The unfilled alert's event id: one escalation per unfilled spell, so
    /// a retried activity raises it once.
    pub spell: String,
}

/// `escalation-<visit id>`: the escalation of an unfilled visit (one at a time).
pub fn escalation_workflow_id(visit_id: Uuid) -> String {
    format!("escalation-{visit_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateCheckInAlert {
    pub visit_id: Uuid,
    pub minutes_after_start: i64,
}

/// New times for a visit that has not started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RescheduleCommand {
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReschedule {
    pub visit_id: Uuid,
    pub command: RescheduleCommand,
}

/// Plan one agency day: every open visit of `date` (local to `timezone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRequest {
    pub plan_id: Uuid,
    pub date: chrono::NaiveDate,
    pub timezone: String,
    pub time_limit_seconds: u32,
    pub seed: u64,
}

/// The optimizer's proposal: caregivers per visit, and its own figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanProposal {
    pub plan_id: Uuid,
    /// (visit, caregivers in slot order); visits the optimizer could not place
    /// are absent.
    pub assignments: Vec<(Uuid, Vec<Uuid>)>,
    /// Open visits of the day, including those no caregiver can do.
    pub visits: usize,
    pub caregivers: usize,
    pub travel_minutes: f64,
    pub lateness_minutes: f64,
    pub max_lateness_minutes: f64,
    pub iterations: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOutcome {
    pub plan_id: Uuid,
    pub visits: usize,
    pub caregivers: usize,
    pub travel_minutes: f64,
    pub lateness_minutes: f64,
    pub max_lateness_minutes: f64,
    pub changed: usize,
    pub unchanged: usize,
    pub unfilled: usize,
    /// Visits whose staff changed, for their workflows.
    pub changes: Vec<AssignmentChange>,
}

/// The input of `CarePlanWorkflow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarePlanWorkflowInput {
    pub client_id: Uuid,
    /// Generations run by the executions before this one (continue-as-new
    /// keeps each execution's history short).
    #[serde(default)]
    pub generations: u64,
}

/// Generate a client's care plans for the horizon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateSchedule {
    pub client_id: Uuid,
    /// Why: `daily`, or what changed (`plan`, `pattern`, `exception`).
    pub reason: String,
}

/// A planned period whose units exceed its authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorizationOverrun {
    pub care_plan_id: Uuid,
    pub authorization_id: Uuid,
    pub period_start: chrono::NaiveDate,
    /// The period's last day.
    pub period_end: chrono::NaiveDate,
    pub authorized_units: i64,
    /// Units the plan's visits in the period would bill.
    pub planned_units: i64,
}

/// What one generation changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerationOutcome {
    pub client_id: Uuid,
    /// Plans that apply today or later: none left, and the workflow ends.
    pub active_plans: usize,
    pub horizon_days: i64,
    pub created: usize,
    pub rescheduled: usize,
    pub cancelled: usize,
    /// Visits as planned already (or begun, or cancelled by hand).
    pub kept: usize,
    pub over_authorization: Vec<AuthorizationOverrun>,
    /// When the next daily generation is due (just after the client's midnight).
    pub next_run_at: DateTime<Utc>,
}
