//! Input rules shared by the API and anything else that accepts commands. Each
//! problem is reported against the field that caused it, all at once.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.add(field, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

pub const MAX_VISIT_HOURS: i64 = 24;
/// How far a device clock may run ahead of ours before a timestamp is refused.
pub const MAX_CLOCK_SKEW_MINUTES: i64 = 5;

/// Free text: not blank, at most `max_chars` characters, no control characters.
pub fn text(errors: &mut FieldErrors, field: &str, value: &str, max_chars: usize) {
    let trimmed = value.trim();
    errors.check(!trimmed.is_empty(), field, "must not be empty");
    errors.check(
        trimmed.chars().count() <= max_chars,
        field,
        format!("must be at most {max_chars} characters"),
    );
    errors.check(
        !value.chars().any(char::is_control),
        field,
        "must not contain control characters",
    );
}

/// Text that goes into an X12 claim: as [`text`], printable ASCII only, and
/// none of the X12 delimiters `* : ^ ~`.
pub fn x12_text(errors: &mut FieldErrors, field: &str, value: &str, max_chars: usize) {
    text(errors, field, value, max_chars);
    errors.check(
        value
            .chars()
            .all(|c| c.is_ascii() && !c.is_ascii_control() && !"*:^~".contains(c)),
        field,
        "must be printable ASCII without the X12 delimiters * : ^ ~",
    );
}

/// Names and short free text (a cancel reason): at most 200 characters.
pub fn name(errors: &mut FieldErrors, field: &str, value: &str) {
    text(errors, field, value, 200);
}

/// Street addresses: at most 500 characters (the column's limit).
pub fn address(errors: &mut FieldErrors, field: &str, value: &str) {
    text(errors, field, value, 500);
}

pub fn coordinates(errors: &mut FieldErrors, prefix: &str, latitude: f64, longitude: f64) {
    errors.check(
        latitude.is_finite() && (-90.0..=90.0).contains(&latitude),
        &format!("{prefix}latitude"),
        "must be between -90 and 90",
    );
    errors.check(
        longitude.is_finite() && (-180.0..=180.0).contains(&longitude),
        &format!("{prefix}longitude"),
        "must be between -180 and 180",
    );
}

pub fn timezone(errors: &mut FieldErrors, field: &str, value: &str) {
    errors.check(
        value.parse::<chrono_tz::Tz>().is_ok(),
        field,
        "must be an IANA time zone such as America/Chicago",
    );
}

/// Skills are lower-case slugs (`hoyer_lift`, `dementia-care`), at most 32 of them.
pub fn skills(errors: &mut FieldErrors, field: &str, values: &[String]) {
    errors.check(values.len() <= 32, field, "at most 32 skills");
    for (i, skill) in values.iter().enumerate() {
        let ok = !skill.is_empty()
            && skill.len() <= 64
            && skill
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        errors.check(
            ok,
            &format!("{field}[{i}]"),
            "must be a lower-case slug of a-z, 0-9, '_' or '-'",
        );
    }
}

/// Languages are short tags (`en`, `es`, `pt-br`), at most 16 of them.
pub fn languages(errors: &mut FieldErrors, field: &str, values: &[String]) {
    errors.check(values.len() <= 16, field, "at most 16 languages");
    for (i, language) in values.iter().enumerate() {
        let ok = (2..=16).contains(&language.len())
            && language
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '-');
        errors.check(
            ok,
            &format!("{field}[{i}]"),
            "must be a language tag such as en or pt-br",
        );
    }
}

/// Visits, rates, authorizations, holidays and claims fall in years
/// [`FIRST_YEAR`, `LAST_YEAR`]: a typo'd year is refused here rather than
/// failing later (Temporal's search attributes hold four-digit years only;
/// date arithmetic near PostgreSQL's limits fails).
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2099;

/// A calendar date the platform schedules or bills on.
pub fn calendar_date(errors: &mut FieldErrors, field: &str, date: chrono::NaiveDate) {
    use chrono::Datelike;
    errors.check(
        (FIRST_YEAR..=LAST_YEAR).contains(&date.year()),
        field,
        format!("must be between {FIRST_YEAR} and {LAST_YEAR}"),
    );
}

pub fn visit_period(errors: &mut FieldErrors, start: DateTime<Utc>, end: DateTime<Utc>) {
    use chrono::Datelike;
    let years = FIRST_YEAR..=LAST_YEAR;
    if !years.contains(&start.year()) || !years.contains(&end.year()) {
        errors.add(
            "scheduled_start",
            format!("a visit is scheduled between {FIRST_YEAR} and {LAST_YEAR}"),
        );
    } else if end <= start {
        errors.add("scheduled_end", "must be after scheduled_start");
    } else if end - start > Duration::hours(MAX_VISIT_HOURS) {
        errors.add(
            "scheduled_end",
            format!("a visit lasts at most {MAX_VISIT_HOURS} hours"),
        );
    }
}

/// Device timestamps (check-in/out) may not lie in the future beyond clock skew.
pub fn device_time(errors: &mut FieldErrors, field: &str, at: DateTime<Utc>, now: DateTime<Utc>) {
    errors.check(
        at <= now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES),
        field,
        "must not be in the future",
    );
}

/// How many caregivers a visit needs: 1 (the default) or 2 for a two-person
/// transfer.
pub fn caregivers_needed(errors: &mut FieldErrors, value: Option<i16>) -> i16 {
    let needed = value.unwrap_or(1);
    errors.check(
        (1..=2).contains(&needed),
        "caregivers_needed",
        "must be 1 or 2",
    );
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_problems_are_reported_with_their_fields() {
        let mut errors = FieldErrors::default();
        name(&mut errors, "name", "  ");
        coordinates(&mut errors, "", 91.0, f64::NAN);
        timezone(&mut errors, "timezone", "Mars/Olympus");
        skills(&mut errors, "skills", &["ok".into(), "Not OK".into()]);
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "latitude", "longitude", "timezone", "skills[1]"]
        );
    }

    #[test]
    fn valid_input_passes() {
        let mut errors = FieldErrors::default();
        name(&mut errors, "name", "Maria Lopez");
        coordinates(&mut errors, "", 41.88, -87.63);
        timezone(&mut errors, "timezone", "America/Chicago");
        skills(
            &mut errors,
            "skills",
            &["hoyer_lift".into(), "dementia-care".into()],
        );
        assert!(errors.into_result().is_ok());
    }

    #[test]
    fn visit_period_must_be_positive_and_bounded() {
        let start = Utc::now();
        let mut errors = FieldErrors::default();
        visit_period(&mut errors, start, start);
        visit_period(&mut errors, start, start + Duration::hours(25));
        visit_period(&mut errors, start, start + Duration::hours(2));
        assert_eq!(errors.0.len(), 2);
        use chrono::TimeZone;
        for year in [10_000, 1999] {
            let at = Utc.with_ymd_and_hms(year, 6, 1, 9, 0, 0).unwrap();
            let mut errors = FieldErrors::default();
            visit_period(&mut errors, at, at + Duration::hours(1));
            assert_eq!(errors.0[0].field, "scheduled_start", "{year}");
        }
    }
}
