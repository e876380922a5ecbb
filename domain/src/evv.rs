//! Electronic visit verification: which exceptions a check-in or check-out raises
//! under the agency's policy, and how a coordinator may resolve each.
//!
//! The six federal EVV data elements are the visit's service code, client and date
//! plus, per check-in and check-out, the caregiver, the time and the location. A
//! check-in outside the geofence or off schedule is never refused: the visit gets
//! an exception, and an open exception holds its billing until resolved.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::scheduling::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExceptionCode {
    OutsideGeofence,
    LateCheckIn,
    EarlyCheckOut,
    DurationOverScheduled,
    MissedCheckOut,
    ManualTimeEntry,
    AuthorizationExceeded,
    /// The check-out did not report a duty the care plan requires as performed.
    MissingDuty,
}

impl ExceptionCode {
    pub const ALL: [ExceptionCode; 8] = [
        Self::OutsideGeofence,
        Self::LateCheckIn,
        Self::EarlyCheckOut,
        Self::DurationOverScheduled,
        Self::MissedCheckOut,
        Self::ManualTimeEntry,
        Self::AuthorizationExceeded,
        Self::MissingDuty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutsideGeofence => "outside_geofence",
            Self::LateCheckIn => "late_check_in",
            Self::EarlyCheckOut => "early_check_out",
            Self::DurationOverScheduled => "duration_over_scheduled",
            Self::MissedCheckOut => "missed_check_out",
            Self::ManualTimeEntry => "manual_time_entry",
            Self::AuthorizationExceeded => "authorization_exceeded",
            Self::MissingDuty => "missing_duty",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }
}

/// Why a coordinator lets a held visit bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResolutionCode {
    /// Confirmed with the client that the visit happened as recorded.
    VerifiedWithClient,
    /// The device had no usable GPS fix; the visit was at the client's home.
    GpsUnavailable,
    /// Care was given away from the client's addresses (appointment, errand).
    ServiceOutsideHome,
    /// The caregiver forgot to check out; the coordinator enters the time.
    CaregiverForgot,
    /// The schedule changed with the client's or payer's approval.
    ScheduleChangeApproved,
    /// The payer extended the authorization; billing checks it again.
    AuthorizationUpdated,
    /// Bill only the units still authorized; the excess is not billed.
    BillWithinAuthorization,
    /// The client declined the duty; nothing was left undone.
    ClientDeclined,
}

impl ResolutionCode {
    pub const ALL: [ResolutionCode; 8] = [
        Self::VerifiedWithClient,
        Self::GpsUnavailable,
        Self::ServiceOutsideHome,
        Self::CaregiverForgot,
        Self::ScheduleChangeApproved,
        Self::AuthorizationUpdated,
        Self::BillWithinAuthorization,
        Self::ClientDeclined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifiedWithClient => "verified_with_client",
            Self::GpsUnavailable => "gps_unavailable",
            Self::ServiceOutsideHome => "service_outside_home",
            Self::CaregiverForgot => "caregiver_forgot",
            Self::ScheduleChangeApproved => "schedule_change_approved",
            Self::AuthorizationUpdated => "authorization_updated",
            Self::BillWithinAuthorization => "bill_within_authorization",
            Self::ClientDeclined => "client_declined",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// The resolutions that make sense for an exception code.
    pub fn allowed_for(code: ExceptionCode) -> &'static [ResolutionCode] {
        use ResolutionCode::*;
        match code {
            ExceptionCode::OutsideGeofence => {
                &[GpsUnavailable, ServiceOutsideHome, VerifiedWithClient]
            }
            ExceptionCode::LateCheckIn
            | ExceptionCode::EarlyCheckOut
            | ExceptionCode::DurationOverScheduled => &[ScheduleChangeApproved, VerifiedWithClient],
            ExceptionCode::MissedCheckOut => &[CaregiverForgot, VerifiedWithClient],
            ExceptionCode::ManualTimeEntry => &[VerifiedWithClient, GpsUnavailable],
            ExceptionCode::AuthorizationExceeded => {
                &[AuthorizationUpdated, BillWithinAuthorization]
            }
            ExceptionCode::MissingDuty => &[ClientDeclined, VerifiedWithClient],
        }
    }
}

/// Longest visit a manual end time may make.
pub const MAX_VISIT_HOURS: i64 = 24;

/// Whether `resolution` may close an exception of `code`. A missed check-out needs
/// the time the visit ended (`check_out_at`), which becomes a manual EVV record:
/// after the check-in, not in the future, at most 24 hours on.
pub fn resolution_allowed(
    code: ExceptionCode,
    resolution: ResolutionCode,
    check_out_at: Option<DateTime<Utc>>,
    checked_in_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let allowed = ResolutionCode::allowed_for(code);
    if !allowed.contains(&resolution) {
        let names: Vec<_> = allowed.iter().map(|r| r.as_str()).collect();
        return Err(format!(
            "{} cannot resolve {}; use one of: {}",
            resolution.as_str(),
            code.as_str(),
            names.join(", ")
        ));
    }
    match (code, check_out_at) {
        (ExceptionCode::MissedCheckOut, None) => Err(
            "resolving missed_check_out needs check_out_at, the time the visit ended".to_owned(),
        ),
        (ExceptionCode::MissedCheckOut, Some(at)) if checked_in_at.is_some_and(|i| at <= i) => {
            Err("check_out_at must be after the check-in".to_owned())
        }
        (ExceptionCode::MissedCheckOut, Some(at)) if at > now + chrono::Duration::minutes(5) => {
            Err("check_out_at is in the future".to_owned())
        }
        (ExceptionCode::MissedCheckOut, Some(at))
            if checked_in_at.is_some_and(|i| at - i > chrono::Duration::hours(MAX_VISIT_HOURS)) =>
        {
            Err(format!(
                "check_out_at must be within {MAX_VISIT_HOURS} hours of the check-in"
            ))
        }
        (ExceptionCode::MissedCheckOut, Some(_)) => Ok(()),
        (_, Some(_)) => Err(format!(
            "check_out_at only applies to missed_check_out, not {}",
            code.as_str()
        )),
        (_, None) => Ok(()),
    }
}

/// Which end of a visit an EVV record verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvvKind {
    CheckIn,
    CheckOut,
}

impl EvvKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckIn => "check_in",
            Self::CheckOut => "check_out",
        }
    }

    /// The state a visit must be in to record it, and the state it moves to.
    pub fn transition(self) -> (crate::VisitStatus, crate::VisitStatus) {
        use crate::VisitStatus::{Assigned, CheckedIn, Completed};
        match self {
            Self::CheckIn => (Assigned, CheckedIn),
            Self::CheckOut => (CheckedIn, Completed),
        }
    }

    /// Exceptions found in this record are raised with this source.
    pub fn source(self) -> ExceptionSource {
        match self {
            Self::CheckIn => ExceptionSource::CheckIn,
            Self::CheckOut => ExceptionSource::CheckOut,
        }
    }
}

/// Where an exception was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExceptionSource {
    CheckIn,
    CheckOut,
    /// The missed check-out timer.
    Timer,
    Billing,
}

impl ExceptionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckIn => "check_in",
            Self::CheckOut => "check_out",
            Self::Timer => "timer",
            Self::Billing => "billing",
        }
    }
}

/// The agency's EVV policy (`agency_settings`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvvPolicy {
    pub geofence_radius_meters: f64,
    pub late_check_in_minutes: i64,
    pub early_check_out_minutes: i64,
    pub over_scheduled_minutes: i64,
}

impl Default for EvvPolicy {
    fn default() -> Self {
        Self {
            geofence_radius_meters: 1609.344,
            late_check_in_minutes: 15,
            early_check_out_minutes: 15,
            over_scheduled_minutes: 15,
        }
    }
}

/// How the time and place were captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EvvMethod {
    /// The caregiver's device, with its GPS fix.
    #[default]
    Gps,
    /// Entered by a coordinator.
    Manual,
}

impl EvvMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gps => "gps",
            Self::Manual => "manual",
        }
    }
}

/// An exception found, with the facts that explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: ExceptionCode,
    pub detail: serde_json::Value,
}

/// A check-in or check-out as verified: when, where, how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capture {
    pub at: DateTime<Utc>,
    pub location: Option<Location>,
    pub method: EvvMethod,
}

/// Distance in metres from `location` to the nearest of the client's places.
pub fn distance_to_nearest(location: &Location, places: &[Location]) -> Option<f64> {
    places
        .iter()
        .map(|place| location.distance_km(place) * 1000.0)
        .min_by(f64::total_cmp)
}

fn common_findings(policy: &EvvPolicy, capture: &Capture, places: &[Location]) -> Vec<Finding> {
    let mut findings = Vec::new();
    if capture.method == EvvMethod::Manual {
        findings.push(Finding {
            code: ExceptionCode::ManualTimeEntry,
            detail: json!({"at": capture.at}),
        });
    }
    if let Some(location) = capture.location
        && let Some(distance) = distance_to_nearest(&location, places)
        && distance > policy.geofence_radius_meters
    {
        findings.push(Finding {
            code: ExceptionCode::OutsideGeofence,
            detail: json!({
                "distance_meters": distance.round(),
                "radius_meters": policy.geofence_radius_meters,
                "latitude": location.latitude,
                "longitude": location.longitude,
            }),
        });
    }
    findings
}

/// Exceptions a check-in raises.
pub fn check_in_findings(
    policy: &EvvPolicy,
    scheduled_start: DateTime<Utc>,
    capture: &Capture,
    places: &[Location],
) -> Vec<Finding> {
    let mut findings = common_findings(policy, capture, places);
    let late = (capture.at - scheduled_start).num_minutes();
    if late > policy.late_check_in_minutes {
        findings.push(Finding {
            code: ExceptionCode::LateCheckIn,
            detail: json!({"minutes_late": late, "tolerance_minutes": policy.late_check_in_minutes}),
        });
    }
    findings
}

/// Exceptions a check-out raises.
pub fn check_out_findings(
    policy: &EvvPolicy,
    scheduled: (DateTime<Utc>, DateTime<Utc>),
    checked_in_at: DateTime<Utc>,
    capture: &Capture,
    places: &[Location],
) -> Vec<Finding> {
    let mut findings = common_findings(policy, capture, places);
    let (start, end) = scheduled;
    let early = (end - capture.at).num_minutes();
    if early > policy.early_check_out_minutes {
        findings.push(Finding {
            code: ExceptionCode::EarlyCheckOut,
            detail: json!({"minutes_early": early, "tolerance_minutes": policy.early_check_out_minutes}),
        });
    }
    let worked = (capture.at - checked_in_at).num_minutes();
    let planned = (end - start).num_minutes();
    if worked - planned > policy.over_scheduled_minutes {
        findings.push(Finding {
            code: ExceptionCode::DurationOverScheduled,
            detail: json!({
                "verified_minutes": worked,
                "scheduled_minutes": planned,
                "tolerance_minutes": policy.over_scheduled_minutes,
            }),
        });
    }
    findings
}

#[cfg(test)]
mod tests;
