use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(crate) fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

pub(crate) fn weekly(weekdays: &[Weekday], every_weeks: u8, starts_on: NaiveDate) -> Pattern {
    Pattern {
        id: Uuid::from_u128(7),
        recurrence: Recurrence::Weekly {
            weekdays: weekdays.to_vec(),
            every_weeks,
        },
        start: time(8, 0),
        end: time(10, 0),
        starts_on,
        ends_on: None,
        holidays: HolidayRule::Skip,
    }
}

pub(crate) const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];
pub(crate) const CHICAGO: Tz = chrono_tz::America::Chicago;
const LONDON: Tz = chrono_tz::Europe::London;

pub(crate) fn dates(occurrences: &[Occurrence]) -> Vec<NaiveDate> {
    occurrences.iter().map(|o| o.date).collect()
}

#[test]
fn monday_to_friday_gives_ten_visits_in_two_weeks() {
    // 2026-12-07 is a Monday.
    let pattern = weekly(&WEEKDAYS, 1, date(2026, 12, 7));
    let found = occurrences(
        &pattern,
        &[],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 21),
    );
    assert_eq!(found.len(), 10);
    assert!(found.iter().all(|o| o.date.weekday() != Weekday::Sat));
    // 8:00 in Chicago in December is 14:00 UTC; two hours long.
    assert_eq!(found[0].start.to_rfc3339(), "2026-12-07T14:00:00+00:00");
    assert_eq!(found[0].minutes(), 120);
}

#[test]
fn every_other_week_skips_the_weeks_between() {
    // Starts on a Wednesday: that week is "on", the next is off.
    let pattern = weekly(&[Weekday::Mon, Weekday::Thu], 2, date(2026, 12, 9));
    let found = dates(&occurrences(
        &pattern,
        &[],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2027, 1, 4),
    ));
    // Monday the 7th is before starts_on; Thursday the 10th; then two weeks on.
    assert_eq!(
        found,
        [date(2026, 12, 10), date(2026, 12, 21), date(2026, 12, 24)]
    );
}

#[test]
fn a_monthly_day_missing_from_a_month_has_no_visit() {
    let pattern = Pattern {
        recurrence: Recurrence::Monthly { day: 31 },
        ..weekly(&[], 1, date(2026, 1, 1))
    };
    let found = dates(&occurrences(
        &pattern,
        &[],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 1, 1),
        date(2026, 6, 1),
    ));
    assert_eq!(
        found,
        [date(2026, 1, 31), date(2026, 3, 31), date(2026, 5, 31)]
    );
}

#[test]
fn exceptions_skip_or_move_one_occurrence() {
    let pattern = weekly(&WEEKDAYS, 1, date(2026, 12, 7));
    let exceptions = [
        PatternException::Skip {
            on: date(2026, 12, 8),
        },
        PatternException::Move {
            on: date(2026, 12, 9),
            date: date(2026, 12, 12),
            start: time(13, 0),
            end: time(14, 30),
        },
    ];
    let found = occurrences(
        &pattern,
        &exceptions,
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    assert_eq!(
        dates(&found),
        [
            date(2026, 12, 7),
            date(2026, 12, 9),
            date(2026, 12, 10),
            date(2026, 12, 11)
        ]
    );
    let moved = &found[1];
    assert!(moved.moved);
    assert_eq!(moved.start.to_rfc3339(), "2026-12-12T19:00:00+00:00");
    assert_eq!(moved.minutes(), 90);
    // The moved visit keeps its date, the key of its visit id.
    assert_eq!(moved.date, date(2026, 12, 9));
}

#[test]
fn holidays_are_skipped_unless_the_pattern_keeps_them() {
    let holidays: BTreeSet<NaiveDate> = [date(2026, 12, 25)].into();
    let skip = weekly(&WEEKDAYS, 1, date(2026, 12, 21));
    let found = dates(&occurrences(
        &skip,
        &[],
        &holidays,
        CHICAGO,
        date(2026, 12, 21),
        date(2026, 12, 28),
    ));
    assert!(!found.contains(&date(2026, 12, 25)));
    assert_eq!(found.len(), 4);
    let keep = Pattern {
        holidays: HolidayRule::Keep,
        ..skip
    };
    let found = dates(&occurrences(
        &keep,
        &[],
        &holidays,
        CHICAGO,
        date(2026, 12, 21),
        date(2026, 12, 28),
    ));
    assert!(found.contains(&date(2026, 12, 25)));
}

/// 8:00 local is 8:00 local on both sides of a change, in both directions.
#[test]
fn daylight_saving_changes_keep_the_local_time() {
    let every_day = |from: NaiveDate| {
        weekly(
            &[
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
            1,
            from,
        )
    };
    let starts = |tz: Tz, from: NaiveDate| -> Vec<String> {
        occurrences(
            &every_day(from),
            &[],
            &BTreeSet::new(),
            tz,
            from,
            from + Days::new(3),
        )
        .iter()
        .map(|o| o.start.with_timezone(&tz).format("%H:%M %z").to_string())
        .collect()
    };
    // Chicago springs forward on 2026-03-08 and falls back on 2026-11-01.
    assert_eq!(
        starts(CHICAGO, date(2026, 3, 7)),
        ["08:00 -0600", "08:00 -0500", "08:00 -0500"]
    );
    assert_eq!(
        starts(CHICAGO, date(2026, 10, 31)),
        ["08:00 -0500", "08:00 -0600", "08:00 -0600"]
    );
    // London on 2026-03-29 and 2026-10-25.
    assert_eq!(
        starts(LONDON, date(2026, 3, 28)),
        ["08:00 +0000", "08:00 +0100", "08:00 +0100"]
    );
    assert_eq!(
        starts(LONDON, date(2026, 10, 24)),
        ["08:00 +0100", "08:00 +0000", "08:00 +0000"]
    );
}

#[test]
fn a_local_time_skipped_or_repeated_by_the_change_still_gets_one_visit() {
    // 02:30 does not exist in Chicago on 2026-03-08: 03:30 CDT instead.
    let skipped = local_instant(CHICAGO, date(2026, 3, 8), time(2, 30));
    assert_eq!(skipped.to_rfc3339(), "2026-03-08T08:30:00+00:00");
    // 01:30 happens twice on 2026-11-01: the first, still CDT.
    let repeated = local_instant(CHICAGO, date(2026, 11, 1), time(1, 30));
    assert_eq!(repeated.to_rfc3339(), "2026-11-01T06:30:00+00:00");
    // London skips 01:00-02:00 on 2026-03-29.
    let skipped = local_instant(LONDON, date(2026, 3, 29), time(1, 15));
    assert_eq!(skipped.to_rfc3339(), "2026-03-29T01:15:00+00:00");
}

#[test]
fn visit_ids_are_the_same_for_the_same_occurrence_only() {
    let (plan, pattern) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let needs = Requirements {
        required_skills: vec!["hoyer_lift".to_owned(), "dementia_care".to_owned()],
        ..Requirements::default()
    };
    let a = visit_id(plan, pattern, date(2026, 12, 7), &needs, 1);
    assert_eq!(a, visit_id(plan, pattern, date(2026, 12, 7), &needs, 1));
    // Skills in another order are the same requirements.
    let reordered = Requirements {
        required_skills: vec!["dementia_care".to_owned(), "hoyer_lift".to_owned()],
        ..Requirements::default()
    };
    assert_eq!(a, visit_id(plan, pattern, date(2026, 12, 7), &reordered, 1));
    assert_ne!(a, visit_id(plan, pattern, date(2026, 12, 8), &needs, 1));
    assert_ne!(
        a,
        visit_id(plan, Uuid::from_u128(3), date(2026, 12, 7), &needs, 1)
    );
    assert_ne!(
        a,
        visit_id(Uuid::from_u128(4), pattern, date(2026, 12, 7), &needs, 1)
    );
    assert_ne!(
        a,
        visit_id(
            plan,
            pattern,
            date(2026, 12, 7),
            &Requirements::default(),
            1
        )
    );
    // Two caregivers instead of one: another visit.
    assert_ne!(a, visit_id(plan, pattern, date(2026, 12, 7), &needs, 2));
}

#[test]
fn a_visit_in_the_skipped_hour_keeps_its_length_on_the_clock() {
    // Chicago jumps from 02:00 to 03:00 on 2027-03-14: 02:15-03:00 would end
    // before it starts (03:15 CDT); it runs 03:15-04:00 instead.
    let (start, end) = local_span(CHICAGO, date(2027, 3, 14), time(2, 15), time(3, 0));
    assert_eq!(start.to_rfc3339(), "2027-03-14T08:15:00+00:00");
    assert_eq!((end - start).num_minutes(), 45);
    // London's 01:00-02:00 on 2027-03-28 would be empty: 02:00-03:00 BST.
    let (start, end) = local_span(LONDON, date(2027, 3, 28), time(1, 0), time(2, 0));
    assert_eq!(start.to_rfc3339(), "2027-03-28T01:00:00+00:00");
    assert_eq!((end - start).num_minutes(), 60);
    // 00:30-02:30 across the autumn change keeps its local end (three hours).
    let (start, end) = local_span(LONDON, date(2027, 10, 31), time(0, 30), time(2, 30));
    assert_eq!((end - start).num_minutes(), 180);
}

#[test]
fn an_occurrence_moved_into_the_period_from_outside_it_is_there() {
    let pattern = weekly(&[Weekday::Mon], 1, date(2026, 12, 7));
    // Monday the 21st moved to Friday the 11th; Monday the 7th to the 22nd.
    let exceptions = [
        PatternException::Move {
            on: date(2026, 12, 21),
            date: date(2026, 12, 11),
            start: time(9, 0),
            end: time(10, 0),
        },
        PatternException::Move {
            on: date(2026, 12, 7),
            date: date(2026, 12, 22),
            start: time(9, 0),
            end: time(10, 0),
        },
    ];
    let found = occurrences(
        &pattern,
        &exceptions,
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    // Its own date in the period, or moved into it.
    assert_eq!(dates(&found), [date(2026, 12, 7), date(2026, 12, 21)]);
    assert!(found.iter().all(|o| o.moved));
}

#[test]
fn required_duties_not_performed_are_missing() {
    let plan = [
        Duty {
            code: DutyCode::Bathing,
            text: None,
            required: true,
        },
        Duty {
            code: DutyCode::Housekeeping,
            text: None,
            required: false,
        },
        Duty {
            code: DutyCode::Other,
            text: Some("water the plants".to_owned()),
            required: true,
        },
    ];
    let report = |code, text: Option<&str>, performed| DutyReport {
        code,
        text: text.map(str::to_owned),
        performed,
        reason: (!performed).then(|| "client declined".to_owned()),
    };
    let missing = missing_duties(
        &plan,
        &[
            report(DutyCode::Bathing, None, false),
            report(DutyCode::Other, Some("water the plants"), true),
        ],
    );
    assert_eq!(missing, [plan[0].clone()]);
    let all_done = missing_duties(
        &plan,
        &[
            report(DutyCode::Bathing, None, true),
            report(DutyCode::Other, Some("water the plants"), true),
        ],
    );
    assert!(all_done.is_empty());
    // An `other` duty is matched by its text (spaces around it and letter
    // case aside).
    assert_eq!(
        missing_duties(
            &plan[2..],
            &[report(DutyCode::Other, Some("feed the cat"), true)]
        )
        .len(),
        1
    );
    assert!(
        missing_duties(
            &plan[2..],
            &[report(DutyCode::Other, Some(" Water the Plants "), true)]
        )
        .is_empty()
    );
}

/// An independent expansion: walk the pattern's weeks (or months) forward
/// from its start and list the dates, instead of testing each day.
fn expected_dates(pattern: &Pattern, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let last = pattern
        .ends_on
        .map_or(to, |end| end.succ_opt().unwrap().min(to));
    let mut found = Vec::new();
    match &pattern.recurrence {
        Recurrence::Weekly {
            weekdays,
            every_weeks,
        } => {
            let monday = pattern.starts_on
                - Days::new(u64::from(
                    pattern.starts_on.weekday().num_days_from_monday(),
                ));
            let mut week = monday;
            while week < last {
                for weekday in weekdays {
                    let day = week + Days::new(u64::from(weekday.num_days_from_monday()));
                    if day >= from && day >= pattern.starts_on && day < last {
                        found.push(day);
                    }
                }
                week = week + Days::new(7 * u64::from(*every_weeks));
            }
        }
        Recurrence::Monthly { day } => {
            let (mut year, mut month) = (pattern.starts_on.year(), pattern.starts_on.month());
            while NaiveDate::from_ymd_opt(year, month, 1).unwrap() < last {
                if let Some(d) = NaiveDate::from_ymd_opt(year, month, u32::from(*day))
                    && d >= from
                    && d >= pattern.starts_on
                    && d < last
                {
                    found.push(d);
                }
                (year, month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn any_weekday() -> impl Strategy<Value = Weekday> {
    (0u8..7).prop_map(|n| Weekday::try_from(n).unwrap())
}

fn any_pattern() -> impl Strategy<Value = Pattern> {
    let recurrence = prop_oneof![
        (prop::collection::vec(any_weekday(), 1..5), 1u8..=2).prop_map(
            |(weekdays, every_weeks)| {
                Recurrence::Weekly {
                    weekdays,
                    every_weeks,
                }
            }
        ),
        (1u8..=31).prop_map(|day| Recurrence::Monthly { day }),
    ];
    (recurrence, 0i64..400, prop::option::of(0i64..200)).prop_map(|(recurrence, start, length)| {
        let starts_on = date(2026, 1, 1) + chrono::Duration::days(start);
        Pattern {
            id: Uuid::from_u128(9),
            recurrence,
            start: time(8, 0),
            end: time(9, 0),
            starts_on,
            ends_on: length.map(|l| starts_on + chrono::Duration::days(l)),
            holidays: HolidayRule::Keep,
        }
    })
}

proptest! {
    #[test]
    fn expansion_matches_an_independent_walk_of_the_pattern(
        pattern in any_pattern(),
        from_offset in 0i64..500,
        days in 1i64..120,
        skips in prop::collection::vec(0i64..600, 0..4),
        tz in prop_oneof![Just(CHICAGO), Just(LONDON)],
    ) {
        let from = date(2026, 1, 1) + chrono::Duration::days(from_offset);
        let to = from + chrono::Duration::days(days);
        let exceptions: Vec<PatternException> = skips
            .iter()
            .map(|s| PatternException::Skip { on: date(2026, 1, 1) + chrono::Duration::days(*s) })
            .collect();
        let skipped: BTreeSet<NaiveDate> = exceptions.iter().map(PatternException::on).collect();
        let found = occurrences(&pattern, &exceptions, &BTreeSet::new(), tz, from, to);
        let expected: Vec<NaiveDate> = expected_dates(&pattern, from, to)
            .into_iter()
            .filter(|d| !skipped.contains(d))
            .collect();
        prop_assert_eq!(dates(&found), expected);
        for occurrence in &found {
            // One hour, at 8:00 local, whatever the offset that day.
            prop_assert_eq!(occurrence.minutes(), 60);
            prop_assert_eq!(
                occurrence.start.with_timezone(&tz).time(),
                time(8, 0)
            );
        }
    }
}
