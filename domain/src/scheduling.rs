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

impl Default for Weights {
    fn default() -> Self {
        Self {
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

/// Every hard rule `caregiver` breaks for `need`; empty means eligible.
pub fn violations(
    need: &VisitNeed,
    caregiver: &CaregiverProfile,
    policy: &Policy,
    overrides: Overrides,
) -> Vec<Violation> {
    let mut found = Vec::new();
    if !caregiver.active {
        found.push(Violation::Inactive);
    }
    if need.excluded_caregivers.contains(&caregiver.id) {
        found.push(Violation::ClientExcluded);
    }
    let date = need.local_date();
    for skill in &need.required_skills {
        let held = caregiver.credentials.iter().filter(|c| &c.skill == skill);
        let mut expiries = held.map(|c| c.expires_on).peekable();
        if expiries.peek().is_none() {
            found.push(Violation::MissingSkill {
                skill: skill.clone(),
            });
        } else if let Some(latest) = expiries.try_fold(NaiveDate::MIN, |latest, e| {
            // None: never expires, so the skill is valid.
            e.map(|e| latest.max(e))
        }) && latest < date
        {
            found.push(Violation::CredentialExpired {
                skill: skill.clone(),
                expired_on: latest,
            });
        }
    }
    if let Some(language) = &need.required_language
        && !caregiver
            .languages
            .iter()
            .any(|l| l.eq_ignore_ascii_case(language))
    {
        found.push(Violation::LanguageMismatch {
            required: language.clone(),
        });
    }
    if let Some(gender) = &need.required_gender
        && !caregiver
            .gender
            .as_ref()
            .is_some_and(|g| g.eq_ignore_ascii_case(gender))
    {
        found.push(Violation::GenderMismatch {
            required: gender.clone(),
        });
    }
    found.extend(availability_violation(need, caregiver));
    found.extend(calendar_violations(need, caregiver, policy));

    let minutes = need.minutes();
    let day =
        caregiver.booked_minutes(need.timezone, date, date + Days::new(1), need.visit_id) + minutes;
    if day > caregiver.max_minutes_per_day {
        found.push(Violation::DailyHoursExceeded {
            minutes: day,
            max_minutes: caregiver.max_minutes_per_day,
        });
    }
    if !overrides.weekly_cap {
        let monday = week_start(date);
        let week =
            caregiver.booked_minutes(need.timezone, monday, monday + Days::new(7), need.visit_id)
                + minutes;
        if week > caregiver.max_minutes_per_week {
            found.push(Violation::WeeklyHoursExceeded {
                minutes: week,
                max_minutes: caregiver.max_minutes_per_week,
            });
        }
    }
    found
}

fn availability_violation(need: &VisitNeed, caregiver: &CaregiverProfile) -> Option<Violation> {
    let intersects = |e: &DatedException| e.start < need.end && need.start < e.end;
    let covers = |e: &DatedException| e.start <= need.start && need.end <= e.end;
    if caregiver
        .exceptions
        .iter()
        .any(|e| e.kind == ExceptionKind::Unavailable && intersects(e))
    {
        return Some(Violation::TimeOff);
    }
    if caregiver.weekly.is_empty()
        || caregiver
            .exceptions
            .iter()
            .any(|e| e.kind == ExceptionKind::Available && covers(e))
    {
        return None;
    }
    let start = need.start.with_timezone(&need.timezone).naive_local();
    let end = need.end.with_timezone(&need.timezone).naive_local();
    let within = caregiver.weekly.iter().any(|w| {
        if w.weekday != start.weekday() {
            return false;
        }
        let window_start = start.date().and_time(w.start);
        let window_end = if w.end == NaiveTime::MIN {
            (start.date() + Days::new(1)).and_time(NaiveTime::MIN)
        } else {
            start.date().and_time(w.end)
        };
        window_start <= start && end <= window_end
    });
    (!within).then_some(Violation::OutsideAvailability)
}

fn calendar_violations(
    need: &VisitNeed,
    caregiver: &CaregiverProfile,
    policy: &Policy,
) -> Vec<Violation> {
    let (before, overlapping, after) = caregiver.neighbours(need.start, need.end, need.visit_id);
    let mut found: Vec<Violation> = overlapping
        .iter()
        .map(|b| Violation::Overlap {
            visit_id: b.visit_id,
        })
        .collect();
    if let Some(b) = before {
        let travel = travel_minutes(&b.location, &need.location, policy.speed_kmh);
        let gap = (need.start - b.end).num_minutes();
        if gap < travel {
            found.push(Violation::NoTravelTime {
                visit_id: b.visit_id,
                travel_minutes: travel,
                gap_minutes: gap,
            });
        }
    }
    if let Some(b) = after {
        let travel = travel_minutes(&need.location, &b.location, policy.speed_kmh);
        let gap = (b.start - need.end).num_minutes();
        if gap < travel {
            found.push(Violation::NoTravelTime {
                visit_id: b.visit_id,
                travel_minutes: travel,
                gap_minutes: gap,
            });
        }
    }
    found
}

/// The soft score of `caregiver` for `need` (meaningful for eligible caregivers).
pub fn score(need: &VisitNeed, caregiver: &CaregiverProfile, policy: &Policy) -> ScoreTerms {
    let w = &policy.weights;
    let date = need.local_date();
    let continuity = if caregiver.served_clients.contains(&need.client_id) {
        w.continuity
    } else {
        0.0
    };
    let preferred = if need.preferred_caregivers.contains(&caregiver.id) {
        w.preferred
    } else {
        0.0
    };
    // Travel from the previous visit the same local day, else from home.
    let (before, _, _) = caregiver.neighbours(need.start, need.end, need.visit_id);
    let same_day = before.filter(|b| b.start.with_timezone(&need.timezone).date_naive() == date);
    let origin = same_day.map(|b| b.location).or(caregiver.home);
    let travel_minutes = origin.map_or(0, |o| travel_minutes(&o, &need.location, policy.speed_kmh));
    let monday = week_start(date);
    let week_minutes_before =
        caregiver.booked_minutes(need.timezone, monday, monday + Days::new(7), need.visit_id);
    let limit = caregiver.overtime_after_minutes_per_week;
    let overtime_minutes =
        (week_minutes_before + need.minutes() - limit.max(week_minutes_before)).max(0);
    // `+ 0.0` turns a negative zero into zero (JSON would show "-0").
    let travel = -(travel_minutes as f64) * w.travel_per_minute + 0.0;
    let overtime = -(overtime_minutes as f64) * w.overtime_per_minute + 0.0;
    let balance = -(week_minutes_before as f64 / 60.0) * w.balance_per_hour + 0.0;
    ScoreTerms {
        continuity,
        preferred,
        travel,
        overtime,
        balance,
        total: continuity + preferred + travel + overtime + balance,
        travel_minutes,
        overtime_minutes,
        week_minutes_before,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    pub caregiver_id: Uuid,
    pub name: String,
    pub score: ScoreTerms,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ineligible {
    pub caregiver_id: Uuid,
    pub name: String,
    pub violations: Vec<Violation>,
}

/// Eligible caregivers best first (ties broken by id, so the order is stable), and
/// every ineligible one with the rules that exclude them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ranking {
    pub eligible: Vec<Candidate>,
    pub ineligible: Vec<Ineligible>,
}

pub fn rank(need: &VisitNeed, caregivers: &[CaregiverProfile], policy: &Policy) -> Ranking {
    let mut eligible = Vec::new();
    let mut ineligible = Vec::new();
    for caregiver in caregivers {
        let found = violations(need, caregiver, policy, Overrides::default());
        if found.is_empty() {
            eligible.push(Candidate {
                caregiver_id: caregiver.id,
                name: caregiver.name.clone(),
                score: score(need, caregiver, policy),
            });
        } else {
            ineligible.push(Ineligible {
                caregiver_id: caregiver.id,
                name: caregiver.name.clone(),
                violations: found,
            });
        }
    }
    eligible.sort_by(|a, b| {
        b.score
            .total
            .total_cmp(&a.score.total)
            .then(a.caregiver_id.cmp(&b.caregiver_id))
    });
    ineligible.sort_by_key(|i| i.caregiver_id);
    Ranking {
        eligible,
        ineligible,
    }
}

/// Why a caregiver cannot take a visit by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManualProblem {
    pub caregiver_id: Uuid,
    pub violations: Vec<Violation>,
}

/// A coordinator's choice that is not a staff for this visit at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualRefusal {
    #[error("the visit needs {needed} distinct caregiver(s); {given} given")]
    Count { needed: usize, given: usize },
    #[error("no such caregiver: {}", .0.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", "))]
    Unknown(Vec<Uuid>),
}

/// Checks a coordinator's choice against the shape of the visit (how many
/// caregivers, distinct, existing: `profiles` holds those found) and every hard
/// rule. `Ok(vec![])`: allowed; otherwise each caregiver's violations.
pub fn check_manual(
    need: &VisitNeed,
    caregiver_ids: &[Uuid],
    profiles: &[CaregiverProfile],
    overrides: Overrides,
    policy: &Policy,
) -> Result<Vec<ManualProblem>, ManualRefusal> {
    let needed = usize::from(need.caregivers_needed);
    let mut distinct = caregiver_ids.to_vec();
    distinct.sort();
    distinct.dedup();
    if caregiver_ids.len() != needed || distinct.len() != needed {
        return Err(ManualRefusal::Count {
            needed,
            given: distinct.len(),
        });
    }
    let unknown: Vec<Uuid> = distinct
        .iter()
        .copied()
        .filter(|id| !profiles.iter().any(|p| p.id == *id))
        .collect();
    if !unknown.is_empty() {
        return Err(ManualRefusal::Unknown(unknown));
    }
    Ok(profiles
        .iter()
        .filter(|p| distinct.contains(&p.id))
        .map(|p| ManualProblem {
            caregiver_id: p.id,
            violations: violations(need, p, policy, overrides),
        })
        .filter(|p| !p.violations.is_empty())
        .collect())
}

/// Says which rules each caregiver breaks, for a refusal message.
pub fn describe_problems(problems: &[ManualProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            let codes: Vec<&str> = p.violations.iter().map(Violation::code).collect();
            format!("caregiver {} breaks {}", p.caregiver_id, codes.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Who made a staffing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The scheduling engine, for a new or unfilled visit or a reschedule.
    Engine,
    /// A coordinator's manual assignment.
    Coordinator,
    /// The engine, re-deciding after a caregiver called out.
    CallOut,
    /// A day plan.
    Planner,
}

impl DecidedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Engine => "engine",
            Self::Coordinator => "coordinator",
            Self::CallOut => "call_out",
            Self::Planner => "planner",
        }
    }
}

/// The outcome for one visit: the chosen caregivers (as many as it needs), or
/// none when it cannot be staffed (the visit goes `unfilled`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub visit_id: Uuid,
    pub caregivers: Vec<Candidate>,
    /// How many eligible caregivers there were.
    pub eligible: usize,
}

impl Decision {
    pub fn staffed(&self) -> bool {
        !self.caregivers.is_empty()
    }

    pub fn caregiver_ids(&self) -> Vec<Uuid> {
        self.caregivers.iter().map(|c| c.caregiver_id).collect()
    }
}

/// Decides one visit: the best `caregivers_needed` distinct eligible caregivers,
/// or none if there are not enough (a two-person visit is never half staffed).
pub fn decide(need: &VisitNeed, caregivers: &[CaregiverProfile], policy: &Policy) -> Decision {
    let ranking = rank(need, caregivers, policy);
    let needed = usize::from(need.caregivers_needed.max(1));
    let eligible = ranking.eligible.len();
    let caregivers = if eligible >= needed {
        ranking.eligible.into_iter().take(needed).collect()
    } else {
        Vec::new()
    };
    Decision {
        visit_id: need.visit_id,
        caregivers,
        eligible,
    }
}

/// Decides several visits together (a call-out, a batch of new visits): the most
/// constrained visit first, each choice booked on the chosen caregivers' calendars
/// before the next visit is decided, so the batch never double-books. Visits not
/// in `needs` are never moved.
pub fn decide_all(
    needs: &[VisitNeed],
    caregivers: &mut [CaregiverProfile],
    policy: &Policy,
) -> Vec<Decision> {
    let mut order: Vec<(usize, usize)> = needs
        .iter()
        .enumerate()
        .map(|(i, need)| (rank(need, caregivers, policy).eligible.len(), i))
        .collect();
    order.sort_by_key(|&(eligible, i)| (eligible, needs[i].start, needs[i].visit_id));
    let mut decisions = Vec::with_capacity(needs.len());
    for (_, i) in order {
        let need = &needs[i];
        let decision = decide(need, caregivers, policy);
        for chosen in &decision.caregivers {
            if let Some(c) = caregivers.iter_mut().find(|c| c.id == chosen.caregiver_id) {
                c.book(Booking {
                    visit_id: need.visit_id,
                    client_id: need.client_id,
                    start: need.start,
                    end: need.end,
                    location: need.location,
                });
            }
        }
        decisions.push(decision);
    }
    decisions
}

#[cfg(test)]
mod tests;
