//! Pricing a verified visit. Money is `Decimal` end to end; never a float.
//!
//! The foundation prices in 15-minute units with the CMS "8-minute rule": a unit is
//! billed once at least 8 minutes of it were worked (8–22 min = 1 unit,
//! 23–37 = 2, ...). Payer-specific rounding rules arrive with the billing issue.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

pub const UNIT_MINUTES: i64 = 15;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedVisit {
    pub billed_minutes: i64,
    pub units: i64,
    pub unit_rate: Decimal,
    pub amount: Decimal,
    /// Which rule produced `units`, stored on the invoice line so it can be explained.
    pub rule: String,
}

/// Billable 15-minute units for `minutes` of verified time under the 8-minute rule.
pub fn units_eight_minute_rule(minutes: i64) -> i64 {
    if minutes <= 0 {
        return 0;
    }
    (minutes + UNIT_MINUTES / 2) / UNIT_MINUTES
}

/// Prices `minutes` of verified time at `unit_rate` per 15-minute unit, to the cent
/// (half away from zero).
pub fn price_quarter_hours(minutes: i64, unit_rate: Decimal) -> PricedVisit {
    let units = units_eight_minute_rule(minutes);
    let amount = (Decimal::from(units) * unit_rate)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    PricedVisit {
        billed_minutes: minutes.max(0),
        units,
        unit_rate,
        amount,
        rule: "15min_8_minute_rule".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn eight_minute_rule_boundaries() {
        // (minutes, units): 7 min bills nothing, 8 min bills one unit, 23 starts the second.
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
        for (minutes, units) in table {
            assert_eq!(units_eight_minute_rule(minutes), units, "{minutes} minutes");
        }
    }

    #[test]
    fn a_two_hour_visit_at_7_25_a_unit_costs_58_00() {
        // 120 min = 8 units; 8 x 7.25 = 58.00
        let priced = price_quarter_hours(120, dec!(7.25));
        assert_eq!(priced.units, 8);
        assert_eq!(priced.amount, dec!(58.00));
    }

    #[test]
    fn amounts_are_exact_decimals_rounded_to_the_cent() {
        // 97 min = (97+7)/15 = 6 units; 6 x 6.3333 = 37.9998 -> 38.00
        let priced = price_quarter_hours(97, dec!(6.3333));
        assert_eq!(priced.units, 6);
        assert_eq!(priced.amount, dec!(38.00));
        // 3 units x 0.105 = 0.315 -> 0.32 (half away from zero, not banker's 0.32/0.31)
        assert_eq!(price_quarter_hours(45, dec!(0.105)).amount, dec!(0.32));
    }
}
