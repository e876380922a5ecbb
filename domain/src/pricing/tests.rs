//! Every expected amount below is worked out by hand in the comment beside it.

use super::*;
use rust_decimal_macros::dec;

fn rule(unit: BillingUnit, rounding: Rounding, unit_rate: Decimal) -> RateRule {
    RateRule {
        unit_rate,
        unit,
        rounding,
        overtime_multiplier: dec!(1.5),
        holiday_multiplier: dec!(2),
    }
}

fn minutes(minutes: i64) -> VisitTime {
    VisitTime {
        minutes,
        ..VisitTime::default()
    }
}

fn billable(priced: Priced) -> PricedVisit {
    match priced {
        Priced::Billable(priced) => priced,
        other => panic!("expected a billable visit, got {other:?}"),
    }
}

#[test]
fn eight_minute_rule_boundaries_in_quarter_hours() {
    // (minutes, units): 7 min bills nothing, 8 min one unit, 23 starts the second.
    let table = [
        (0, 0),
        (7, 0),
        (8, 1),
        (15, 1),
        (22, 1),
        (23, 2),
        (37, 2),
        (38, 3),
        (60, 4),
        (67, 4),
        (68, 5),
        (-5, 0),
    ];
    for (worked, units) in table {
        assert_eq!(
            time_units(worked, 15, Rounding::EightMinute),
            units,
            "{worked} minutes"
        );
    }
}

#[test]
fn half_an_hour_counts_under_the_eight_minute_rule_in_hour_units() {
    // 89 min = 1 h 29: the 29 minutes are under half an hour -> 1; 90 min -> 2.
    assert_eq!(time_units(89, 60, Rounding::EightMinute), 1);
    assert_eq!(time_units(90, 60, Rounding::EightMinute), 2);
    assert_eq!(time_units(29, 60, Rounding::EightMinute), 0);
}

#[test]
fn round_down_bills_whole_units_only() {
    // 14 min -> 0; 29 min -> 1 quarter hour; 119 min -> 1 hour.
    assert_eq!(time_units(14, 15, Rounding::RoundDown), 0);
    assert_eq!(time_units(29, 15, Rounding::RoundDown), 1);
    assert_eq!(time_units(30, 15, Rounding::RoundDown), 2);
    assert_eq!(time_units(119, 60, Rounding::RoundDown), 1);
}

#[test]
fn round_up_at_a_threshold_counts_a_partial_unit_from_the_threshold() {
    let seventy = Rounding::RoundUpThreshold { percent: dec!(70) };
    // 70 % of 15 min = 10.5 min: 10 min of a partial unit does not count, 11 does.
    assert_eq!(time_units(10, 15, seventy), 0);
    assert_eq!(time_units(11, 15, seventy), 1);
    // 25 min = 1 unit + 10 min -> 1; 26 min = 1 + 11 -> 2.
    assert_eq!(time_units(25, 15, seventy), 1);
    assert_eq!(time_units(26, 15, seventy), 2);
    // 100 %: only whole units, but an exact multiple is not rounded up.
    let whole = Rounding::RoundUpThreshold { percent: dec!(100) };
    assert_eq!(time_units(30, 15, whole), 2);
    assert_eq!(time_units(44, 15, whole), 2);
    // 1 %: any started unit counts; 61 min of hours -> 2.
    let any = Rounding::RoundUpThreshold { percent: dec!(1) };
    assert_eq!(time_units(61, 60, any), 2);
}

#[test]
fn a_two_hour_visit_at_7_25_a_quarter_hour_costs_58_00() {
    // 120 min = 8 units; 8 x 7.25 = 58.00
    let priced = billable(price(
        &rule(BillingUnit::QuarterHour, Rounding::EightMinute, dec!(7.25)),
        &minutes(120),
        Authorization::NotRequired,
    ));
    assert_eq!((priced.units, priced.amount), (8, dec!(58.00)));
    assert_eq!(priced.rule, "quarter_hour/eight_minute");
}

#[test]
fn amounts_are_exact_decimals_rounded_once_to_the_cent() {
    let eight = |rate| rule(BillingUnit::QuarterHour, Rounding::EightMinute, rate);
    // 97 min = 6 units (90 + 7 min, under 8); 6 x 6.3333 = 37.9998 -> 38.00
    let priced = billable(price(
        &eight(dec!(6.3333)),
        &minutes(97),
        Authorization::NotRequired,
    ));
    assert_eq!((priced.units, priced.amount), (6, dec!(38.00)));
    // 45 min = 3 units x 0.105 = 0.315 -> 0.32 (half away from zero, not banker's 0.32/0.31)
    let priced = billable(price(
        &eight(dec!(0.105)),
        &minutes(45),
        Authorization::NotRequired,
    ));
    assert_eq!(priced.amount, dec!(0.32));
}

#[test]
fn hourly_rate_with_a_fifty_percent_threshold() {
    // 150 min = 2 h + 30 min; 30 is 50 % of an hour -> 3 units x 24.50 = 73.50
    let rule = rule(
        BillingUnit::Hour,
        Rounding::RoundUpThreshold { percent: dec!(50) },
        dec!(24.50),
    );
    let priced = billable(price(&rule, &minutes(150), Authorization::NotRequired));
    assert_eq!((priced.units, priced.amount), (3, dec!(73.50)));
    assert_eq!(priced.rule, "hour/round_up_threshold_50%");
}

#[test]
fn per_visit_and_per_day_units_ignore_the_minutes() {
    let visit = rule(BillingUnit::Visit, Rounding::EightMinute, dec!(95));
    // Any verified time bills one visit: 1 x 95 = 95.00
    let priced = billable(price(&visit, &minutes(200), Authorization::NotRequired));
    assert_eq!((priced.units, priced.amount), (1, dec!(95.00)));
    assert_eq!(priced.rule, "visit/one_per_visit");
    let day = rule(BillingUnit::Day, Rounding::EightMinute, dec!(180));
    // The day's second visit is inside the day unit already billed: 0 units, 0.00
    let second = VisitTime {
        minutes: 60,
        day_already_billed: true,
        ..VisitTime::default()
    };
    let priced = billable(price(&day, &second, Authorization::NotRequired));
    assert_eq!((priced.units, priced.amount), (0, dec!(0.00)));
}

#[test]
fn overtime_units_bill_at_the_overtime_multiplier() {
    // The caregiver had 2,370 min this week; the threshold is 2,400, so of a 90-min
    // visit the last 60 min are overtime.
    let overtime = overtime_minutes(2370, 90, 2400);
    assert_eq!(overtime, 60);
    // 90 min = 6 units, 60 min = 4 overtime units:
    // 2 x 7.00 + 4 x 7.00 x 1.5 = 14.00 + 42.00 = 56.00
    let priced = billable(price(
        &rule(BillingUnit::QuarterHour, Rounding::EightMinute, dec!(7.00)),
        &VisitTime {
            minutes: 90,
            overtime_minutes: overtime,
            ..VisitTime::default()
        },
        Authorization::NotRequired,
    ));
    assert_eq!((priced.units, priced.overtime_units), (6, 4));
    assert_eq!(priced.overtime_multiplier, dec!(1.5));
    assert_eq!(priced.amount, dec!(56.00));
}

#[test]
fn overtime_minutes_only_count_past_the_threshold() {
    assert_eq!(overtime_minutes(0, 120, 2400), 0);
    assert_eq!(overtime_minutes(2400, 120, 2400), 120);
    assert_eq!(overtime_minutes(3000, 30, 2400), 30);
    assert_eq!(overtime_minutes(2350, 30, 2400), 0);
}

#[test]
fn a_holiday_multiplies_the_whole_amount() {
    // 60 min = 4 units x 6.19 = 24.76; holiday x2 = 49.52
    let priced = billable(price(
        &rule(BillingUnit::QuarterHour, Rounding::EightMinute, dec!(6.19)),
        &VisitTime {
            minutes: 60,
            holiday: true,
            ..VisitTime::default()
        },
        Authorization::NotRequired,
    ));
    assert_eq!(priced.holiday_multiplier, dec!(2));
    assert_eq!(priced.amount, dec!(49.52));
}

#[test]
fn overtime_on_a_holiday_multiplies_both() {
    // 60 min = 4 units, all overtime: 4 x 5.00 x 1.5 x 2 = 60.00
    let priced = billable(price(
        &rule(BillingUnit::QuarterHour, Rounding::EightMinute, dec!(5.00)),
        &VisitTime {
            minutes: 60,
            overtime_minutes: 60,
            holiday: true,
            ..VisitTime::default()
        },
        Authorization::NotRequired,
    ));
    assert_eq!(priced.amount, dec!(60.00));
}

#[test]
fn units_beyond_the_authorization_hold_the_visit() {
    // 120 min = 8 units; only 5 remain -> held, nothing billed.
    let eight = rule(BillingUnit::QuarterHour, Rounding::EightMinute, dec!(7.00));
    assert_eq!(
        price(&eight, &minutes(120), Authorization::Remaining(5)),
        Priced::ExceedsAuthorization {
            units: 8,
            remaining: 5
        }
    );
    // Exactly the remaining units bill: 8 x 7.00 = 56.00
    let priced = billable(price(&eight, &minutes(120), Authorization::Remaining(8)));
    assert_eq!(priced.amount, dec!(56.00));
    // A spent authorization (negative after a correction) holds any visit.
    assert_eq!(
        price(&eight, &minutes(15), Authorization::Remaining(-3)),
        Priced::ExceedsAuthorization {
            units: 1,
            remaining: 0
        }
    );
}

#[test]
fn billing_within_the_authorization_drops_the_overtime_units_first() {
    // 120 min = 8 units of which the last 30 min = 2 units are overtime; cap 7:
    // the dropped unit is overtime, leaving 6 regular + 1 overtime:
    // 6 x 7.00 + 1 x 7.00 x 1.5 = 42.00 + 10.50 = 52.50
    let priced = billable(price(
        &rule(BillingUnit::QuarterHour, Rounding::EightMinute, dec!(7.00)),
        &VisitTime {
            minutes: 120,
            overtime_minutes: 30,
            ..VisitTime::default()
        },
        Authorization::CapAt(7),
    ));
    assert_eq!(
        (priced.units, priced.unadjusted_units, priced.overtime_units),
        (7, 8, 1)
    );
    assert_eq!(priced.amount, dec!(52.50));
}

#[test]
fn rounding_rules_parse_from_their_columns_only_when_consistent() {
    assert_eq!(
        Rounding::parse("eight_minute", None),
        Some(Rounding::EightMinute)
    );
    assert_eq!(
        Rounding::parse("round_up_threshold", Some(dec!(50))),
        Some(Rounding::RoundUpThreshold { percent: dec!(50) })
    );
    assert_eq!(Rounding::parse("round_up_threshold", None), None);
    assert_eq!(Rounding::parse("round_down", Some(dec!(50))), None);
    assert_eq!(Rounding::parse("round_up_threshold", Some(dec!(0))), None);
    assert_eq!(Rounding::parse("nearest", None), None);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_rounding() -> impl Strategy<Value = Rounding> {
        prop_oneof![
            Just(Rounding::EightMinute),
            Just(Rounding::RoundDown),
            (1u32..=100).prop_map(|p| Rounding::RoundUpThreshold {
                percent: Decimal::from(p)
            }),
        ]
    }

    proptest! {
        #[test]
        fn units_never_decrease_with_more_minutes_and_stay_within_one_of_exact(
            worked in 0i64..2000, unit in prop_oneof![Just(15i64), Just(60i64)], rounding in any_rounding()
        ) {
            let units = time_units(worked, unit, rounding);
            prop_assert!(units <= time_units(worked + 1, unit, rounding));
            prop_assert!(units == worked / unit || units == worked / unit + 1);
        }

        #[test]
        fn a_cap_never_bills_more_than_authorized_and_never_more_than_uncapped(
            worked in 0i64..600, overtime in 0i64..600, cap in 0i64..50, cents in 0i64..10_000
        ) {
            let rate = rule(BillingUnit::QuarterHour, Rounding::EightMinute, Decimal::new(cents, 2));
            let time = VisitTime { minutes: worked, overtime_minutes: overtime, ..VisitTime::default() };
            let full = billable(price(&rate, &time, Authorization::NotRequired));
            let capped = billable(price(&rate, &time, Authorization::CapAt(cap)));
            prop_assert!(capped.units <= cap && capped.units <= full.units);
            prop_assert!(capped.amount <= full.amount);
            prop_assert!(capped.overtime_units <= capped.units);
        }
    }
}
