use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::*;
use crate::VisitStatus;
use crate::care_plan::Recurrence;
use crate::care_plan::tests::{CHICAGO, WEEKDAYS, date, time, weekly};

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
    let first = reconcile(&planned, &[], now, date(2026, 12, 14));
    assert_eq!(first.create.len(), 3, "Wednesday to Friday");
    let generated: Vec<GeneratedVisit> = planned
        .iter()
        .map(|p| generated_as(p, VisitStatus::Assigned))
        .collect();
    let again = reconcile(&planned, &generated, now, date(2026, 12, 14));
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
    let changes = reconcile(&replanned, &generated, now, date(2026, 12, 14));
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
        cancelled_by_plan: by_plan,
        ..generated_as(&planned[0], VisitStatus::Cancelled)
    };
    // Generation cancelled it (the date was skipped); the skip is gone now.
    let back = reconcile(&planned, &[cancelled(true)], now, date(2026, 12, 8));
    assert_eq!(back.create.len(), 1);
    assert_eq!(back.create[0].visit_id, reinstated_id(planned[0].visit_id));
    // A coordinator cancelled it: generation leaves it cancelled.
    let left = reconcile(&planned, &[cancelled(false)], now, date(2026, 12, 8));
    assert!(left.create.is_empty());
    assert_eq!(left.kept, 1);
}

/// What generation made of `planned`, in `status`.
fn generated_as(planned: &PlannedVisit, status: VisitStatus) -> GeneratedVisit {
    GeneratedVisit {
        visit_id: planned.visit_id,
        pattern_id: planned.occurrence.pattern_id,
        occurrence_date: planned.occurrence.date,
        start: planned.occurrence.start,
        end: planned.occurrence.end,
        status,
        cancelled_by_plan: false,
        plan_version: planned.version,
        preferred_caregiver: planned.preferred_caregiver,
        updated_at: planned.occurrence.start,
    }
}

#[test]
fn an_occurrence_being_served_gets_no_second_visit_and_a_shrunk_horizon_cancels_nothing() {
    let pattern = weekly(&WEEKDAYS, 1, date(2026, 12, 7));
    let plan = plan_with(pattern.clone(), vec![version(1, date(2026, 12, 1), &[])]);
    let planned = planned_visits(
        std::slice::from_ref(&plan),
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    // Monday 7:50 local: the caregiver checked in early for 8:00.
    let now: DateTime<Utc> = "2026-12-07T13:50:00Z".parse().unwrap();
    let mut generated: Vec<GeneratedVisit> = planned
        .iter()
        .map(|p| generated_as(p, VisitStatus::Assigned))
        .collect();
    generated[0].status = VisitStatus::CheckedIn;
    // A version from Monday needs a skill: Monday's occurrence has a new id
    // and is still ahead, but it is being served.
    let changed = plan_with(
        pattern,
        vec![
            version(1, date(2026, 12, 1), &[]),
            version(2, date(2026, 12, 7), &["hoyer_lift"]),
        ],
    );
    let replanned = planned_visits(
        &[changed],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    let changes = reconcile(&replanned, &generated, now, date(2026, 12, 14));
    let created: Vec<NaiveDate> = changes.create.iter().map(|p| p.occurrence.date).collect();
    assert_eq!(
        created.len(),
        4,
        "Tuesday to Friday, not Monday: {created:?}"
    );
    assert!(!created.contains(&date(2026, 12, 7)));
    assert_eq!(changes.cancel.len(), 4, "their old visits");

    // The horizon shrank to Wednesday: Thursday's and Friday's visits stay.
    let shorter = planned_visits(
        std::slice::from_ref(&plan_with(
            weekly(&WEEKDAYS, 1, date(2026, 12, 7)),
            vec![version(1, date(2026, 12, 1), &[])],
        )),
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 10),
    );
    let changes = reconcile(&shorter, &generated, now, date(2026, 12, 10));
    assert!(changes.cancel.is_empty(), "{:?}", changes.cancel);
}

#[test]
fn a_new_version_with_the_same_needs_restamps_the_open_visits() {
    let pattern = weekly(&WEEKDAYS, 1, date(2026, 12, 7));
    let plan = plan_with(pattern.clone(), vec![version(1, date(2026, 12, 1), &[])]);
    let planned = planned_visits(
        std::slice::from_ref(&plan),
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    let now: DateTime<Utc> = "2026-12-06T12:00:00Z".parse().unwrap();
    let generated: Vec<GeneratedVisit> = planned
        .iter()
        .map(|p| generated_as(p, VisitStatus::Assigned))
        .collect();
    // Version 2 from Wednesday changes only the duties; the preferred
    // caregiver changes for every date.
    let mut changed = plan_with(
        pattern,
        vec![
            version(1, date(2026, 12, 1), &[]),
            version(2, date(2026, 12, 9), &[]),
        ],
    );
    changed.patterns[0].preferred_caregiver = Some(Uuid::from_u128(77));
    let replanned = planned_visits(
        &[changed],
        &BTreeSet::new(),
        CHICAGO,
        date(2026, 12, 7),
        date(2026, 12, 14),
    );
    let changes = reconcile(&replanned, &generated, now, date(2026, 12, 14));
    assert_eq!(
        (changes.create.len(), changes.cancel.len(), changes.kept),
        (0, 0, 5)
    );
    let versions: Vec<i32> = changes.restamp.iter().map(|p| p.version).collect();
    assert_eq!(versions, [1, 1, 2, 2, 2]);
    assert!(
        changes
            .restamp
            .iter()
            .all(|p| p.preferred_caregiver == Some(Uuid::from_u128(77)))
    );
}
