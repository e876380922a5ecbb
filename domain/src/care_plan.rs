//! Care plans: what a client receives (a service, its duties, the caregiver it
//! needs) and when (recurring patterns in the client's local time). Pure:
//! expanding patterns into occurrences, the deterministic id of each
//! occurrence's visit, and what a check-out's duties leave undone.
//!
//! Local times are kept across daylight-saving changes: an 8:00 visit is at
//! 8:00 local time on both sides of the change. A local time that does not
//! exist (the hour skipped in spring) moves forward by the gap; one that
//! exists twice (the hour repeated in autumn) is the first of the two.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace for the ids of generated visits (a fixed random UUID).
const VISIT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_9a07_3b2d_4f61_8e4c_a7d2_0b9f_3e18);

/// The longest a generation looks ahead.
pub const MAX_HORIZON_DAYS: i64 = 62;

/// How far an exception may move an occurrence from its own date.
pub const MAX_MOVE_DAYS: u64 = 31;

/// What a caregiver does during a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DutyCode {
    Bathing,
    Dressing,
    MealPreparation,
    MedicationReminder,
    Mobility,
    Housekeeping,
    /// Described in `text`.
    Other,
}

impl DutyCode {
    pub const ALL: [DutyCode; 7] = [
        Self::Bathing,
        Self::Dressing,
        Self::MealPreparation,
        Self::MedicationReminder,
        Self::Mobility,
        Self::Housekeeping,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bathing => "bathing",
            Self::Dressing => "dressing",
            Self::MealPreparation => "meal_preparation",
            Self::MedicationReminder => "medication_reminder",
            Self::Mobility => "mobility",
            Self::Housekeeping => "housekeeping",
            Self::Other => "other",
        }
    }
}

/// A duty of the plan. `text` names an `other` duty (and may add detail to
/// any); a required duty missing from a check-out is an EVV exception when
/// the agency's policy says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Duty {
    pub code: DutyCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub required: bool,
}

/// What a caregiver reports of one duty at check-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DutyReport {
    pub code: DutyCode,
    /// Names an `other` duty, as the plan does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub performed: bool,
    /// Why a duty was not performed (the client refused, nothing to do, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Duty {
    /// The same duty: the same code, and for `other` the same text (spaces
    /// around it and letter case aside).
    fn is(&self, code: DutyCode, text: Option<&str>) -> bool {
        let same_text = match (self.text.as_deref(), text) {
            (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
            (a, b) => a == b,
        };
        self.code == code && (code != DutyCode::Other || same_text)
    }
}

/// A duty's `text`: an `other` duty needs it (it names the duty); any text
/// is 1 to 200 characters.
pub fn check_duty_text(
    errors: &mut crate::validation::FieldErrors,
    field: &str,
    code: DutyCode,
    text: Option<&str>,
) {
    match (code, text) {
        (DutyCode::Other, None) => errors.add(field, "an `other` duty needs its text"),
        (_, Some(text)) => crate::validation::text(errors, field, text, 200),
        _ => {}
    }
}

/// The plan's required duties the check-out does not report as performed.
pub fn missing_duties(plan: &[Duty], reported: &[DutyReport]) -> Vec<Duty> {
    plan.iter()
        .filter(|duty| duty.required)
        .filter(|duty| {
            !reported
                .iter()
                .any(|r| r.performed && duty.is(r.code, r.text.as_deref()))
        })
        .cloned()
        .collect()
}

/// When a pattern recurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recurrence {
    /// On these weekdays of every week, or of every other week (the weeks of
    /// the pattern's `starts_on`, two, four, ... weeks later).
    Weekly {
        weekdays: Vec<Weekday>,
        /// 1: every week; 2: every other week.
        every_weeks: u8,
    },
    /// On this day of every month (months without it have no visit).
    Monthly { day: u8 },
}

/// Whether a pattern's visits fall on the agency's holidays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HolidayRule {
    /// No visit on a holiday.
    #[default]
    Skip,
    /// The visit happens anyway (billed at the holiday multiplier).
    Keep,
}

/// A recurring visit of a care plan, in the client's local time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    pub id: Uuid,
    pub recurrence: Recurrence,
    pub start: NaiveTime,
    /// After `start`, the same day.
    pub end: NaiveTime,
    /// The first day the pattern applies (and, for every other week, an "on" week).
    pub starts_on: NaiveDate,
    /// The last day it applies, if it ends.
    pub ends_on: Option<NaiveDate>,
    pub holidays: HolidayRule,
}

/// A change to one occurrence of a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatternException {
    /// No visit on this date.
    Skip { on: NaiveDate },
    /// This date's visit happens on `date` from `start` to `end` instead.
    Move {
        on: NaiveDate,
        date: NaiveDate,
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:30"))]
        start: NaiveTime,
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "11:30"))]
        end: NaiveTime,
    },
}

impl PatternException {
    pub fn on(&self) -> NaiveDate {
        match self {
            Self::Skip { on } | Self::Move { on, .. } => *on,
        }
    }
}

/// One visit a pattern asks for. `date` is the pattern's date for it (the
/// key of its visit id), even when an exception moved it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Occurrence {
    pub pattern_id: Uuid,
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub moved: bool,
}

impl Occurrence {
    pub fn minutes(&self) -> i64 {
        (self.end - self.start).num_minutes()
    }
}

/// The instant of a local date and time in `tz` (see the module's note on
/// daylight-saving changes).
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // In the gap: read the wall clock with the offset before it, so
            // 02:30 on a night that jumps from 02:00 to 03:00 is 03:30.
            let before = (1..=24)
                .map(|hours| local - chrono::Duration::hours(hours))
                .find_map(|earlier| tz.from_local_datetime(&earlier).earliest())
                .map(|t| t.offset().fix());
            match before {
                Some(offset) => Utc.from_utc_datetime(&(local - offset)),
                None => Utc.from_utc_datetime(&local),
            }
        }
    }
}

/// Whether the pattern asks for a visit on `date` (before exceptions and holidays).
pub fn recurs_on(pattern: &Pattern, date: NaiveDate) -> bool {
    if date < pattern.starts_on || pattern.ends_on.is_some_and(|end| date > end) {
        return false;
    }
    match &pattern.recurrence {
        Recurrence::Weekly {
            weekdays,
            every_weeks,
        } => {
            let monday =
                |d: NaiveDate| d - Days::new(u64::from(d.weekday().num_days_from_monday()));
            let weeks = (monday(date) - monday(pattern.starts_on)).num_days() / 7;
            weekdays.contains(&date.weekday()) && weeks % i64::from((*every_weeks).max(1)) == 0
        }
        Recurrence::Monthly { day } => date.day() == u32::from(*day),
    }
}

/// The instants of a visit on local `date` from `start` to `end` (the same
/// day, `end` after `start`). When a daylight-saving change leaves the end
/// at or before the start (a start in the skipped hour moves forward past
/// an end that does not), the visit keeps its length on the clock instead.
pub fn local_span(
    tz: Tz,
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (from, to) = (local_instant(tz, date, start), local_instant(tz, date, end));
    if to > from {
        (from, to)
    } else {
        (from, from + (end - start).max(chrono::Duration::minutes(1)))
    }
}

/// Every occurrence of `pattern` whose date, or the date an exception moved
/// it to, is in `[from, to)`, in date order: skipped dates left out, moved
/// ones at their new time, holidays skipped unless the pattern keeps them.
pub fn occurrences(
    pattern: &Pattern,
    exceptions: &[PatternException],
    holidays: &BTreeSet<NaiveDate>,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Occurrence> {
    let inside = |date: NaiveDate| from <= date && date < to;
    (from - Days::new(MAX_MOVE_DAYS))
        .iter_days()
        .take_while(|date| *date < to + Days::new(MAX_MOVE_DAYS))
        .filter(|date| recurs_on(pattern, *date))
        .filter_map(|date| {
            let (day, start, end, moved) = match exceptions.iter().find(|e| e.on() == date) {
                Some(PatternException::Skip { .. }) => return None,
                Some(PatternException::Move {
                    date: to_date,
                    start,
                    end,
                    ..
                }) => (*to_date, *start, *end, true),
                None => (date, pattern.start, pattern.end, false),
            };
            if !inside(date) && !inside(day) {
                return None;
            }
            if pattern.holidays == HolidayRule::Skip && holidays.contains(&day) {
                return None;
            }
            let (start, end) = local_span(tz, day, start, end);
            Some(Occurrence {
                pattern_id: pattern.id,
                date,
                start,
                end,
                moved,
            })
        })
        .collect()
}

mod schedule;

pub use schedule::*;

#[cfg(test)]
mod tests;
