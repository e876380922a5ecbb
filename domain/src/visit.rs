//! The visit lifecycle: scheduled → assigned → checked_in → completed → invoiced,
//! with `unfilled` while no caregiver fits and `cancelled` from any state before
//! completion. The rules here are what the workflow's update validators enforce.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    Scheduled,
    Unfilled,
    Assigned,
    CheckedIn,
    Completed,
    Invoiced,
    Cancelled,
}

impl VisitStatus {
    pub const ALL: [VisitStatus; 7] = [
        Self::Scheduled,
        Self::Unfilled,
        Self::Assigned,
        Self::CheckedIn,
        Self::Completed,
        Self::Invoiced,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Unfilled => "unfilled",
            Self::Assigned => "assigned",
            Self::CheckedIn => "checked_in",
            Self::Completed => "completed",
            Self::Invoiced => "invoiced",
            Self::Cancelled => "cancelled",
        }
    }

    /// Completed, invoiced and cancelled visits accept no further commands.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Completed | Self::Invoiced | Self::Cancelled)
    }
}

impl fmt::Display for VisitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown visit status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for VisitStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// Why a command on a visit was refused. Crosses the Temporal boundary as the
/// validator's failure message `"<code>: <detail>"`, which the API maps back to a
/// status code, so the code strings are part of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The visit is not in a state that allows the command (409).
    InvalidState,
    /// The caregiver is not the one assigned to the visit (422).
    WrongCaregiver,
    /// A timestamp in the command is impossible, e.g. check-out before check-in (422).
    InvalidTime,
    /// An assignment would break a scheduling hard rule (409).
    HardRuleViolated,
}

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidState => "invalid_state",
            Self::WrongCaregiver => "wrong_caregiver",
            Self::InvalidTime => "invalid_time",
            Self::HardRuleViolated => "hard_rule_violated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", code.as_str())]
pub struct Rejection {
    pub code: RejectionCode,
    pub detail: String,
}

impl Rejection {
    fn new(code: RejectionCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// Recovers a rejection from a failure message produced by `Display`. The
    /// message may be wrapped by the SDK, so the code is searched, not prefixed.
    pub fn parse(message: &str) -> Option<Self> {
        [
            RejectionCode::InvalidState,
            RejectionCode::WrongCaregiver,
            RejectionCode::InvalidTime,
            RejectionCode::HardRuleViolated,
        ]
        .into_iter()
        .find_map(|code| {
            let tag = format!("{}: ", code.as_str());
            message
                .find(&tag)
                .map(|at| Self::new(code, message[at + tag.len()..].trim().to_owned()))
        })
    }
}

/// What the validators need to know about a visit; the workflow state projects to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitFacts {
    pub status: VisitStatus,
    pub caregiver_id: Option<Uuid>,
    pub checked_in_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn assigned_caregiver(facts: &VisitFacts, caregiver_id: Uuid) -> Result<(), Rejection> {
    match facts.caregiver_id {
        Some(assigned) if assigned == caregiver_id => Ok(()),
        Some(_) => Err(Rejection::new(
            RejectionCode::WrongCaregiver,
            format!("caregiver {caregiver_id} is not assigned to this visit"),
        )),
        None => Err(Rejection::new(
            RejectionCode::InvalidState,
            "the visit has no caregiver yet",
        )),
    }
}

pub fn check_in_allowed(facts: &VisitFacts, caregiver_id: Uuid) -> Result<(), Rejection> {
    match facts.status {
        VisitStatus::Assigned => assigned_caregiver(facts, caregiver_id),
        VisitStatus::CheckedIn => Err(Rejection::new(
            RejectionCode::InvalidState,
            "the visit is already checked in",
        )),
        other => Err(Rejection::new(
            RejectionCode::InvalidState,
            format!("a {other} visit cannot be checked in"),
        )),
    }
}

pub fn check_out_allowed(
    facts: &VisitFacts,
    caregiver_id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), Rejection> {
    match facts.status {
        VisitStatus::CheckedIn => {
            assigned_caregiver(facts, caregiver_id)?;
            match facts.checked_in_at {
                Some(checked_in) if at < checked_in => Err(Rejection::new(
                    RejectionCode::InvalidTime,
                    format!("check-out at {at} is before check-in at {checked_in}"),
                )),
                _ => Ok(()),
            }
        }
        VisitStatus::Completed | VisitStatus::Invoiced => Err(Rejection::new(
            RejectionCode::InvalidState,
            "the visit is already checked out",
        )),
        other => Err(Rejection::new(
            RejectionCode::InvalidState,
            format!("a {other} visit cannot be checked out; check in first"),
        )),
    }
}

pub fn cancel_allowed(facts: &VisitFacts) -> Result<(), Rejection> {
    if facts.status.is_closed() {
        return Err(Rejection::new(
            RejectionCode::InvalidState,
            format!("a {} visit cannot be cancelled", facts.status),
        ));
    }
    Ok(())
}

/// A coordinator may (re)assign a visit until the caregiver has checked in.
pub fn assignment_allowed(facts: &VisitFacts) -> Result<(), Rejection> {
    match facts.status {
        VisitStatus::Scheduled | VisitStatus::Unfilled | VisitStatus::Assigned => Ok(()),
        other => Err(Rejection::new(
            RejectionCode::InvalidState,
            format!("a {other} visit can no longer be reassigned"),
        )),
    }
}

/// EVV exceptions exist from check-in on; they can be resolved until the visit
/// is invoiced (an invoiced visit has none open) or cancelled.
pub fn resolution_allowed(facts: &VisitFacts) -> Result<(), Rejection> {
    match facts.status {
        VisitStatus::CheckedIn | VisitStatus::Completed => Ok(()),
        other => Err(Rejection::new(
            RejectionCode::InvalidState,
            format!("a {other} visit has no exception to resolve"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn exceptions_are_resolved_between_check_in_and_invoice() {
        for status in [VisitStatus::CheckedIn, VisitStatus::Completed] {
            assert!(resolution_allowed(&facts(status, Some(Uuid::nil()))).is_ok());
        }
        for status in [
            VisitStatus::Assigned,
            VisitStatus::Invoiced,
            VisitStatus::Cancelled,
        ] {
            let refused = resolution_allowed(&facts(status, Some(Uuid::nil()))).unwrap_err();
            assert_eq!(refused.code, RejectionCode::InvalidState);
        }
    }

    fn facts(status: VisitStatus, caregiver: Option<Uuid>) -> VisitFacts {
        VisitFacts {
            status,
            caregiver_id: caregiver,
            checked_in_at: None,
        }
    }

    #[test]
    fn status_round_trips_through_its_string() {
        for status in VisitStatus::ALL {
            assert_eq!(status.as_str().parse::<VisitStatus>().unwrap(), status);
        }
        assert!("done".parse::<VisitStatus>().is_err());
    }

    #[test]
    fn only_the_assigned_caregiver_checks_in() {
        let maria = Uuid::new_v4();
        let other = Uuid::new_v4();
        let f = facts(VisitStatus::Assigned, Some(maria));
        assert!(check_in_allowed(&f, maria).is_ok());
        assert_eq!(
            check_in_allowed(&f, other).unwrap_err().code,
            RejectionCode::WrongCaregiver
        );
    }

    #[test]
    fn a_second_check_in_is_refused() {
        let maria = Uuid::new_v4();
        let f = facts(VisitStatus::CheckedIn, Some(maria));
        assert_eq!(
            check_in_allowed(&f, maria).unwrap_err().code,
            RejectionCode::InvalidState
        );
    }

    #[test]
    fn check_out_before_check_in_is_refused() {
        let maria = Uuid::new_v4();
        let f = facts(VisitStatus::Assigned, Some(maria));
        let err = check_out_allowed(&f, maria, Utc::now()).unwrap_err();
        assert_eq!(err.code, RejectionCode::InvalidState);
    }

    #[test]
    fn check_out_earlier_than_check_in_time_is_refused() {
        let maria = Uuid::new_v4();
        let mut f = facts(VisitStatus::CheckedIn, Some(maria));
        f.checked_in_at = Some(Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap());
        let early = Utc.with_ymd_and_hms(2026, 1, 5, 8, 59, 0).unwrap();
        assert_eq!(
            check_out_allowed(&f, maria, early).unwrap_err().code,
            RejectionCode::InvalidTime
        );
        let later = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
        assert!(check_out_allowed(&f, maria, later).is_ok());
    }

    #[test]
    fn cancel_is_allowed_until_completion() {
        for status in VisitStatus::ALL {
            let allowed = cancel_allowed(&facts(status, None)).is_ok();
            assert_eq!(allowed, !status.is_closed(), "{status}");
        }
    }

    #[test]
    fn rejection_survives_a_wrapped_failure_message() {
        let rejection =
            Rejection::new(RejectionCode::WrongCaregiver, "caregiver x is not assigned");
        let wrapped = format!("Update failed: Failure {{ message: \"{rejection}\" }}");
        let parsed = Rejection::parse(&wrapped).unwrap();
        assert_eq!(parsed.code, RejectionCode::WrongCaregiver);
        assert!(parsed.detail.starts_with("caregiver x is not assigned"));
    }
}
