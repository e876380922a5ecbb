//! The `data` of each event type. Field names are the wire contract (the
//! AsyncAPI document is generated from these types); add fields, never rename.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::VisitStatus;
use crate::contracts::{AuthorizationOverrun, OpenException, PlanOutcome};
use crate::evv::{EvvMethod, ExceptionCode, ExceptionSource, ResolutionCode};
use crate::scheduling::{Candidate, DecidedBy, Decision, Location};

/// What every visit event carries, so a consumer needs no lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitSummary {
    pub visit_id: Uuid,
    pub client_id: Uuid,
    /// The caregiver who records EVV (slot 1), if any.
    pub caregiver_id: Option<Uuid>,
    /// The visit's state once this event has happened.
    pub status: VisitStatus,
    pub service_code: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
}

/// Why the staff was chosen: the engine's eligible count and chosen
/// candidates with their score terms, a kept staff, a call-out, a plan.
/// Empty for a coordinator's choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionDetail {
    /// How many caregivers were eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible: Option<usize>,
    /// The chosen caregivers, with their score terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Vec<Candidate>>,
    /// The caregiver whose call-out freed the slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_out: Option<Uuid>,
    /// A reschedule kept the caregivers (they still meet every rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<bool>,
    /// The day plan that chose the staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<Uuid>,
}

impl DecisionDetail {
    /// The engine's decision.
    pub fn engine(decision: &Decision) -> Self {
        Self {
            eligible: Some(decision.eligible),
            chosen: Some(decision.caregivers.clone()),
            ..Self::default()
        }
    }

    /// The engine's decision after `caregiver_id` called out.
    pub fn call_out(decision: &Decision, caregiver_id: Uuid) -> Self {
        Self {
            called_out: Some(caregiver_id),
            ..Self::engine(decision)
        }
    }

    /// A reschedule that kept the staff.
    pub fn kept() -> Self {
        Self {
            kept: Some(true),
            ..Self::default()
        }
    }

    pub fn planned(plan_id: Uuid) -> Self {
        Self {
            plan_id: Some(plan_id),
            ..Self::default()
        }
    }
}

/// A staffing decision: who is booked now, who was before, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    #[serde(flatten)]
    pub visit: VisitSummary,
    /// Everyone booked, in slot order (empty when unfilled).
    pub caregiver_ids: Vec<Uuid>,
    pub previous_caregiver_ids: Vec<Uuid>,
    /// Increases with every decision; apply a decision only if it is newer.
    pub assignment_version: i64,
    pub decided_by: DecidedBy,
    pub call_out_id: Option<Uuid>,
    /// A coordinator's reason for exceeding the weekly hours cap.
    pub override_reason: Option<String>,
    pub decision: DecisionDetail,
}

/// `homecare.visit.assigned`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitAssigned {
    #[serde(flatten)]
    pub assignment: Assignment,
}

/// `homecare.visit.unfilled`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitUnfilled {
    #[serde(flatten)]
    pub assignment: Assignment,
}

/// `homecare.alert.unfilled`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertUnfilled {
    #[serde(flatten)]
    pub assignment: Assignment,
}

/// `homecare.visit.checked_in`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitCheckedIn {
    #[serde(flatten)]
    pub visit: VisitSummary,
    /// The device's time.
    pub at: DateTime<Utc>,
    pub location: Location,
    pub method: EvvMethod,
}

/// `homecare.visit.completed`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitCompleted {
    #[serde(flatten)]
    pub visit: VisitSummary,
    /// The device's check-out time, or when the timer closed the visit.
    pub at: DateTime<Utc>,
    /// Where the caregiver checked out (absent when the timer closed the visit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<EvvMethod>,
    /// The missed check-out timer closed the visit, with a `missed_check_out`
    /// exception for a coordinator to resolve.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missed_check_out: bool,
}

/// `homecare.visit.cancelled`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitCancelled {
    #[serde(flatten)]
    pub visit: VisitSummary,
    pub reason: String,
}

/// `homecare.alert.late_check_in`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertLateCheckIn {
    #[serde(flatten)]
    pub visit: VisitSummary,
    /// The agency's late check-in policy when the visit was scheduled.
    pub minutes_after_start: i64,
}

/// `homecare.alert.escalated`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertEscalated {
    #[serde(flatten)]
    pub visit: VisitSummary,
    /// How long the on-call coordinator had to fill it.
    pub waited_minutes: i64,
}

/// `homecare.visit.rescheduled`: `visit` has the new times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitRescheduled {
    #[serde(flatten)]
    pub visit: VisitSummary,
    pub previous_start: DateTime<Utc>,
    pub previous_end: DateTime<Utc>,
}

/// `homecare.visit.exception_raised`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExceptionRaised {
    #[serde(flatten)]
    pub visit: VisitSummary,
    pub exception_id: Uuid,
    pub code: ExceptionCode,
    pub source: ExceptionSource,
    /// What was found (distances, times, units), by code.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

/// `homecare.visit.exception_resolved`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExceptionResolved {
    #[serde(flatten)]
    pub visit: VisitSummary,
    pub exception_id: Uuid,
    pub code: ExceptionCode,
    pub resolution_code: ResolutionCode,
    pub note: String,
    /// The subject of the token that resolved it.
    pub resolved_by: String,
    /// For a missed check-out: the end time entered (a manual check-out).
    pub check_out_at: Option<DateTime<Utc>>,
}

/// `homecare.visit.held`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitHeld {
    #[serde(flatten)]
    pub visit: VisitSummary,
    /// The open exceptions holding the visit's billing.
    pub held_by: Vec<OpenException>,
}

/// `homecare.invoice.created`: the line as priced. Amounts are decimal strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceCreated {
    #[serde(flatten)]
    pub visit: VisitSummary,
    pub invoice_line_id: Uuid,
    pub payer_id: Uuid,
    /// The client's local date of the check-in.
    pub service_date: NaiveDate,
    pub billed_minutes: i64,
    pub units: i64,
    /// Units before the authorization capped them.
    pub unadjusted_units: i64,
    /// Of `units`, those at the overtime multiplier.
    pub overtime_units: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "decimal"))]
    pub unit_rate: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "decimal"))]
    pub overtime_multiplier: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "decimal"))]
    pub holiday_multiplier: Decimal,
    pub modifiers: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "decimal"))]
    pub amount: Decimal,
    /// How minutes became units, in words.
    pub rounding_rule: String,
    pub authorization_id: Option<Uuid>,
}

/// `homecare.plan.completed`: the optimizer's figures and what changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanCompleted {
    pub plan_id: Uuid,
    /// Open visits of the day.
    pub visits: usize,
    pub caregivers: usize,
    pub travel_minutes: f64,
    pub lateness_minutes: f64,
    pub max_lateness_minutes: f64,
    pub changed: usize,
    pub unchanged: usize,
    pub unfilled: usize,
}

/// `homecare.alert.over_authorization`: the envelope's subject is the care plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertOverAuthorization {
    pub care_plan_id: Uuid,
    pub client_id: Uuid,
    pub payer_id: Uuid,
    pub service_code: String,
    /// Each period over its authorization.
    pub overruns: Vec<AuthorizationOverrun>,
}

impl From<&PlanOutcome> for PlanCompleted {
    fn from(outcome: &PlanOutcome) -> Self {
        Self {
            plan_id: outcome.plan_id,
            visits: outcome.visits,
            caregivers: outcome.caregivers,
            travel_minutes: outcome.travel_minutes,
            lateness_minutes: outcome.lateness_minutes,
            max_lateness_minutes: outcome.max_lateness_minutes,
            changed: outcome.changed,
            unchanged: outcome.unchanged,
            unfilled: outcome.unfilled,
        }
    }
}

#[cfg(test)]
pub(super) fn summary(status: VisitStatus) -> VisitSummary {
    VisitSummary {
        visit_id: Uuid::new_v4(),
        client_id: Uuid::new_v4(),
        caregiver_id: Some(Uuid::new_v4()),
        status,
        service_code: "T1019".to_owned(),
        scheduled_start: "2026-12-01T14:00:00Z".parse().unwrap(),
        scheduled_end: "2026-12-01T15:00:00Z".parse().unwrap(),
    }
}
