use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;
use crate::VisitStatus;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn weekly(weekdays: &[Weekday], every_weeks: u8, starts_on: NaiveDate) -> Pattern {
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

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];
const CHICAGO: Tz = chrono_tz::America::Chicago;
const LONDON: Tz = chrono_tz::Europe::London;

fn dates(occurrences: &[Occurrence]) -> Vec<NaiveDate> {
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
    let a = visit_id(plan, pattern, date(2026, 12, 7), &needs);
    assert_eq!(a, visit_id(plan, pattern, date(2026, 12, 7), &needs));
    // Skills in another order are the same requirements.
    let reordered = Requirements {
        required_skills: vec!["dementia_care".to_owned(), "hoyer_lift".to_owned()],
        ..Requirements::default()
    };
    assert_eq!(a, visit_id(plan, pattern, date(2026, 12, 7), &reordered));
    assert_ne!(a, visit_id(plan, pattern, date(2026, 12, 8), &needs));
    assert_ne!(
        a,
        visit_id(plan, Uuid::from_u128(3), date(2026, 12, 7), &needs)
    );
    assert_ne!(
        a,
        visit_id(Uuid::from_u128(4), pattern, date(2026, 12, 7), &needs)
    );
    assert_ne!(
        a,
        visit_id(plan, pattern, date(2026, 12, 7), &Requirements::default())
    );
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
    // An `other` duty is matched by its text.
    assert_eq!(
        missing_duties(
            &plan[2..],
            &[report(DutyCode::Other, Some("feed the cat"), true)]
        )
        .len(),
        1
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

fn plan_with(pattern: Pattern, versions: Vec<PlanVersion>) -> PlanSchedule {
    PlanSchedule {
        plan_id: Uuid::from_u128(1),
        payer_id: Uuid::from_u128(2),
        service_code: "T1019".to_owned(),
        valid_from: date(2026, 12, 1),
        valid_until: None,
        versions,
        patterns: vec![ScheduledPattern {
            pattern,
            exceptions: Vec::new(),
            caregivers_needed: 1,
            preferred_caregiver: None,
        }],
    }
}

fn version(number: i32, from: NaiveDate, skills: &[&str]) -> PlanVersion {
    PlanVersion {
        version: number,
        effective_from: from,
        duties: Vec::new(),
        requirements: Requirements {
            required_skills: skills.iter().map(|s| s.to_string()).collect(),
            ..Requirements::default()
        },
    }
}

#[test]
fn each_visit_follows_the_plan_version_in_force_on_its_date() {
    let pattern = weekly(&WEEKDAYS, 1, date(2026, 12, 7));
    let plan = PlanSchedule {
        valid_until: Some(date(2026, 12, 17)),
        ..plan_with(
            pattern,
            vec![
                version(2, date(2026, 12, 14), &["hoyer_lift"]),
                version(1, date(2026, 12, 1), &[]),
            ],
        )
    };
    let planned = planned_visits(
        &[plan],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 21),
    );
    // The plan ends on Thursday the 17th.
    assert_eq!(planned.len(), 9);
    let versions: Vec<i32> = planned.iter().map(|p| p.version).collect();
    assert_eq!(versions, [1, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert_eq!(planned[5].requirements.required_skills, ["hoyer_lift"]);
}

#[test]
fn reconciling_creates_moves_and_cancels_only_what_lies_ahead() {
    let pattern = weekly(&WEEKDAYS, 1, date(2026, 12, 7));
    let plan = plan_with(pattern.clone(), vec![version(1, date(2026, 12, 1), &[])]);
    let planned = planned_visits(
        std::slice::from_ref(&plan),
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    // Tuesday 10:00 local: Monday's and Tuesday's visits (8:00) have begun.
    let now: DateTime<Utc> = "2026-12-08T16:00:00Z".parse().unwrap();
    let first = reconcile(&planned, &[], now);
    assert_eq!(first.create.len(), 3, "Wednesday to Friday");
    let generated: Vec<GeneratedVisit> = planned
        .iter()
        .map(|p| GeneratedVisit {
            visit_id: p.visit_id,
            start: p.occurrence.start,
            end: p.occurrence.end,
            status: VisitStatus::Assigned,
            cancelled_by_plan: false,
        })
        .collect();
    let again = reconcile(&planned, &generated, now);
    assert_eq!(
        (
            again.create.len(),
            again.reschedule.len(),
            again.cancel.len()
        ),
        (0, 0, 0)
    );
    assert_eq!(again.kept, 5);

    // The pattern moves to 9:00 and drops Fridays; Wednesday is checked in already.
    let mut changed = plan;
    changed.patterns[0].pattern.start = time(9, 0);
    changed.patterns[0].pattern.end = time(11, 0);
    changed.patterns[0].pattern.recurrence = Recurrence::Weekly {
        weekdays: WEEKDAYS[..4].to_vec(),
        every_weeks: 1,
    };
    let mut generated = generated;
    generated[2].status = VisitStatus::CheckedIn;
    let replanned = planned_visits(
        &[changed],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    let changes = reconcile(&replanned, &generated, now);
    assert!(changes.create.is_empty());
    let moved: Vec<NaiveDate> = changes
        .reschedule
        .iter()
        .map(|p| p.occurrence.date)
        .collect();
    assert_eq!(
        moved,
        [date(2026, 12, 10)],
        "Thursday moves; Wednesday has begun"
    );
    assert_eq!(changes.cancel, [generated[4].visit_id], "Friday's visit");
}

#[test]
fn planned_units_follow_the_rate_and_count_a_day_once() {
    use crate::pricing::{BillingUnit, RateRule, Rounding};
    use rust_decimal_macros::dec;
    let pattern = weekly(&WEEKDAYS, 1, date(2026, 12, 7));
    let planned = planned_visits(
        &[plan_with(pattern, vec![version(1, date(2026, 12, 1), &[])])],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    let refs: Vec<&PlannedVisit> = planned.iter().collect();
    let quarter_hours = RateRule {
        unit_rate: dec!(7.50),
        unit: BillingUnit::QuarterHour,
        rounding: Rounding::EightMinute,
        overtime_multiplier: dec!(1.5),
        holiday_multiplier: dec!(1),
    };
    let units = planned_units(&refs, &quarter_hours, CHICAGO);
    assert_eq!(units.len(), 5);
    assert!(
        units.values().all(|u| *u == 8),
        "two hours = eight quarter hours"
    );
    let doubled: Vec<&PlannedVisit> = refs.iter().chain(refs.iter()).copied().collect();
    let per_day = RateRule {
        unit: BillingUnit::Day,
        ..quarter_hours
    };
    let units = planned_units(&doubled, &per_day, CHICAGO);
    assert!(units.values().all(|u| *u == 1), "one day unit a day");
}

#[test]
fn a_skip_taken_back_brings_the_visit_back_under_a_new_id() {
    let pattern = weekly(&WEEKDAYS, 1, date(2026, 12, 7));
    let plan = plan_with(pattern, vec![version(1, date(2026, 12, 1), &[])]);
    let planned = planned_visits(
        &[plan],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 8),
    );
    let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    let cancelled = |by_plan| GeneratedVisit {
        visit_id: planned[0].visit_id,
        start: planned[0].occurrence.start,
        end: planned[0].occurrence.end,
        status: VisitStatus::Cancelled,
        cancelled_by_plan: by_plan,
    };
    // Generation cancelled it (the date was skipped); the skip is gone now.
    let back = reconcile(&planned, &[cancelled(true)], now);
    assert_eq!(back.create.len(), 1);
    assert_eq!(back.create[0].visit_id, reinstated_id(planned[0].visit_id));
    // A coordinator cancelled it: generation leaves it cancelled.
    let left = reconcile(&planned, &[cancelled(false)], now);
    assert!(left.create.is_empty());
    assert_eq!(left.kept, 1);
}
