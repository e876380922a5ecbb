//! Days of the week and times of day as the API reads and writes them
//! (`monday`, `08:30`): caregivers' weekly hours and care plans' patterns.

use chrono::{NaiveTime, Timelike};
use utoipa::ToSchema;

/// A day of the week.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(rename_all = "lowercase")]
pub(crate) enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

pub(crate) const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `HH:MM` (or `HH:MM:SS`); `24:00` is midnight.
pub(crate) fn parse_time(value: &str) -> Option<NaiveTime> {
    if value == "24:00" {
        return Some(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(value, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(value, "%H:%M:%S"))
        .ok()
        // chrono reads `:60` as a leap second, which PostgreSQL would store as 24:00.
        .filter(|t| t.nanosecond() < 1_000_000_000)
}

/// The ISO number (Monday = 1) of a day's name, in any case.
pub(crate) fn weekday_number(name: &str) -> Option<i16> {
    WEEKDAYS
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name.trim()))
        .map(|i| i as i16 + 1)
}

/// The name of an ISO day number (Monday = 1).
pub(crate) fn weekday_name(iso: i16) -> &'static str {
    WEEKDAYS[usize::try_from(iso - 1).unwrap_or(0).min(6)]
}
