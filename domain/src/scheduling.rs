//! The scheduling decision engine: which caregivers may take a visit (hard rules),
//! how well each fits (soft score, every term visible), and the decision itself,
//! for one visit or for a batch (a call-out) decided together.
//!
//! Pure functions over plain data, no I/O: activities load a [`VisitNeed`] and the
//! [`CaregiverProfile`]s with indexed queries and apply the [`Decision`] in one
//! transaction; the API uses the same functions to explain a ranking and to check
//! a coordinator's manual assignment; the planner can use them too.
//!
//! Times are UTC instants; availability is weekly local time in the visit's time
//! zone (the client's), which is how agencies write it ("Mondays 08:00–14:00").

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A point on Earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

const EARTH_RADIUS_KM: f64 = 6371.0088;

impl Location {
    /// Great-circle (haversine) distance in kilometres.
    pub fn distance_km(&self, other: &Location) -> f64 {
        let (la1, la2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dla = la2 - la1;
        let dlo = (other.longitude - self.longitude).to_radians();
        let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }
}

/// Travel time in whole minutes (rounded up) at `speed_kmh`.
pub fn travel_minutes(from: &Location, to: &Location, speed_kmh: f64) -> i64 {
    let hours = from.distance_km(to) / speed_kmh.max(1.0);
    (hours * 60.0).ceil() as i64
}

/// The visit to staff, with everything the rules look at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitNeed {
    pub visit_id: Uuid,
    pub client_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub timezone: Tz,
    pub location: Location,
    pub required_skills: Vec<String>,
    /// 1, or 2 for a two-person transfer (two distinct caregivers at once).
    pub caregivers_needed: u8,
    pub required_language: Option<String>,
    pub required_gender: Option<String>,
    /// Caregivers the client refused.
    pub excluded_caregivers: Vec<Uuid>,
    pub preferred_caregivers: Vec<Uuid>,
    /// Continuity within a care plan: the pattern's preferred caregiver,
    /// and who served the pattern's previous occurrence (last week's).
    #[serde(default)]
    pub plan_continuity: PlanContinuity,
}

/// Who has the care plan's continuity for a generated visit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanContinuity {
    /// The pattern's preferred caregiver.
    pub preferred: Option<Uuid>,
    /// The staff of the pattern's previous occurrence.
    pub previous: Vec<Uuid>,
}

impl VisitNeed {
    pub fn minutes(&self) -> i64 {
        (self.end - self.start).num_minutes()
    }

    fn local_date(&self) -> NaiveDate {
        self.start.with_timezone(&self.timezone).date_naive()
    }
}

/// A visit already on a caregiver's calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub visit_id: Uuid,
    pub client_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub location: Location,
}

impl Booking {
    fn minutes(&self) -> i64 {
        (self.end - self.start).num_minutes()
    }
}

/// A skill or certification, valid through `expires_on` (inclusive) if set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub skill: String,
    pub expires_on: Option<NaiveDate>,
}

/// Recurring weekly hours, local time: `[start, end)` on `weekday`. `end` of
/// 00:00 means midnight at the end of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyWindow {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// Time off, sickness, a call-out: not available, whatever the weekly hours say.
    Unavailable,
    /// Extra hours outside the weekly pattern.
    Available,
}

/// A dated change to the weekly pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedException {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: ExceptionKind,
}

/// A caregiver as the engine sees one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaregiverProfile {
    pub id: Uuid,
    pub name: String,
    pub active: bool,
    pub credentials: Vec<Credential>,
    pub languages: Vec<String>,
    pub gender: Option<String>,
    pub home: Option<Location>,
    /// Empty: no weekly restriction (available unless an exception says otherwise).
    pub weekly: Vec<WeeklyWindow>,
    pub exceptions: Vec<DatedException>,
    /// Live visits (not cancelled), sorted by start, never overlapping each other.
    pub bookings: Vec<Booking>,
    /// Clients this caregiver has served before (continuity of care).
    pub served_clients: HashSet<Uuid>,
    pub max_minutes_per_day: i64,
    pub max_minutes_per_week: i64,
    /// Minutes per week after which every further minute is overtime (soft cost).
    pub overtime_after_minutes_per_week: i64,
}

impl CaregiverProfile {
    /// Adds a booking, keeping the calendar sorted.
    pub fn book(&mut self, booking: Booking) {
        let at = self.bookings.partition_point(|b| b.start <= booking.start);
        self.bookings.insert(at, booking);
    }

    pub fn unbook(&mut self, visit_id: Uuid) {
        self.bookings.retain(|b| b.visit_id != visit_id);
    }

    /// Minutes booked with a local start date in `[from, to)`, except `skip`.
    fn booked_minutes(&self, tz: Tz, from: NaiveDate, to: NaiveDate, skip: Uuid) -> i64 {
        let (Some(lo), Some(hi)) = (local_midnight(tz, from), local_midnight(tz, to)) else {
            return 0;
        };
        let first = self.bookings.partition_point(|b| b.start < lo);
        self.bookings[first..]
            .iter()
            .take_while(|b| b.start < hi)
            .filter(|b| b.visit_id != skip)
            .map(Booking::minutes)
            .sum()
    }

    /// The bookings just before and just after `[start, end)` (ignoring `skip`),
    /// and any booking overlapping it. Bookings never overlap each other, so the
    /// latest one starting before `start` is also the one ending last.
    fn neighbours(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        skip: Uuid,
    ) -> (Option<&Booking>, Vec<&Booking>, Option<&Booking>) {
        let at = self.bookings.partition_point(|b| b.start < start);
        let before = self.bookings[..at]
            .iter()
            .rev()
            .find(|b| b.visit_id != skip);
        let mut overlapping = Vec::new();
        let mut after = None;
        for b in self.bookings[at..].iter().filter(|b| b.visit_id != skip) {
            if b.start < end {
                overlapping.push(b);
            } else {
                after = Some(b);
                break;
            }
        }
        if let Some(b) = before.filter(|b| b.end > start) {
            overlapping.insert(0, b);
        }
        (before.filter(|b| b.end <= start), overlapping, after)
    }
}

fn local_midnight(tz: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&date.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn week_start(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

/// A hard rule a caregiver breaks for a visit. `code()` is the stable identifier
/// the API reports ("why not Maria?").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Violation {
    Inactive,
    MissingSkill {
        skill: String,
    },
    CredentialExpired {
        skill: String,
        expired_on: NaiveDate,
    },
    OutsideAvailability,
    TimeOff,
    Overlap {
        visit_id: Uuid,
    },
    NoTravelTime {
        visit_id: Uuid,
        travel_minutes: i64,
        gap_minutes: i64,
    },
    DailyHoursExceeded {
        minutes: i64,
        max_minutes: i64,
    },
    WeeklyHoursExceeded {
        minutes: i64,
        max_minutes: i64,
    },
    ClientExcluded,
    LanguageMismatch {
        required: String,
    },
    GenderMismatch {
        required: String,
    },
}

impl Violation {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::MissingSkill { .. } => "missing_skill",
            Self::CredentialExpired { .. } => "credential_expired",
            Self::OutsideAvailability => "outside_availability",
            Self::TimeOff => "time_off",
            Self::Overlap { .. } => "overlap",
            Self::NoTravelTime { .. } => "no_travel_time",
            Self::DailyHoursExceeded { .. } => "daily_hours_exceeded",
            Self::WeeklyHoursExceeded { .. } => "weekly_hours_exceeded",
            Self::ClientExcluded => "client_excluded",
            Self::LanguageMismatch { .. } => "language_mismatch",
            Self::GenderMismatch { .. } => "gender_mismatch",
        }
    }
}

/// Weights of the soft terms (points; higher total is better).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// The care-plan pattern's preferred caregiver: above every other term,
    /// continuity within a plan comes first.
    #[serde(default = "Weights::plan_preferred")]
    pub plan_preferred: f64,
    /// Served the pattern's previous occurrence (last week's caregiver).
    #[serde(default = "Weights::plan_previous")]
    pub plan_previous: f64,
    /// Has served this client before.
    pub continuity: f64,
    /// Among the client's preferred caregivers.
    pub preferred: f64,
    /// Per minute of travel from the previous visit (or home) that day.
    pub travel_per_minute: f64,
    /// Per minute of overtime this visit adds.
    pub overtime_per_minute: f64,
    /// Per hour already booked that week (spreads hours across caregivers).
    pub balance_per_hour: f64,
}

impl Weights {
    fn plan_preferred() -> f64 {
        150.0
    }

    fn plan_previous() -> f64 {
        75.0
    }
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            plan_preferred: Self::plan_preferred(),
            plan_previous: Self::plan_previous(),
            continuity: 40.0,
            preferred: 25.0,
            travel_per_minute: 0.5,
            overtime_per_minute: 0.25,
            balance_per_hour: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Average travel speed used with haversine distances.
    pub speed_kmh: f64,
    pub weights: Weights,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            speed_kmh: 30.0,
            weights: Weights::default(),
        }
    }
}

/// A coordinator's override, recorded with the assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overrides {
    /// Allow exceeding the weekly hours cap (a reason is recorded by the caller).
    pub weekly_cap: bool,
}

/// Every soft term, visible, and their sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoreTerms {
    /// The care plan's continuity: its pattern's preferred caregiver, or
    /// who served the pattern's previous occurrence.
    #[serde(default)]
    pub care_plan: f64,
    pub continuity: f64,
    pub preferred: f64,
    pub travel: f64,
    pub overtime: f64,
    pub balance: f64,
    pub total: f64,
    /// The raw figures behind the terms.
    pub travel_minutes: i64,
    pub overtime_minutes: i64,
    pub week_minutes_before: i64,
}

mod decide;
mod rules;

pub use decide::*;
pub use rules::{score, violations};

#[cfg(test)]
mod tests;
