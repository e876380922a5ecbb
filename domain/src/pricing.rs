//! Pricing a verified visit. Money is `Decimal` end to end; never a float.
//!
//! A payer prices a service code per unit: 15 minutes, an hour, a visit or a day.
//! Time-based units are counted from verified minutes by the payer's rounding rule:
//! - `eight_minute`: a unit counts once half of it was worked; for 15-minute units
//!   this is the CMS 8-minute rule (8–22 min = 1 unit, 23–37 = 2, ...);
//! - `round_down`: whole units only;
//! - `round_up_threshold`: a partial unit counts once it reaches the threshold
//!   percentage of a unit.
//!
//! Units worked past the caregiver's weekly overtime threshold bill at the rate's
//! overtime multiplier, a holiday's units at the holiday multiplier, and billing
//! never goes past an authorization's remaining units: [`price`] either caps the
//! units (when a coordinator chose to bill within the authorization) or reports
//! the excess so the visit is held. The amount is rounded once, to the cent, half
//! away from zero.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// What a rate charges for: a quarter hour, an hour, a visit or a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BillingUnit {
    QuarterHour,
    Hour,
    Visit,
    Day,
}

impl BillingUnit {
    pub const ALL: [BillingUnit; 4] = [Self::QuarterHour, Self::Hour, Self::Visit, Self::Day];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::QuarterHour => "quarter_hour",
            Self::Hour => "hour",
            Self::Visit => "visit",
            Self::Day => "day",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|unit| unit.as_str() == text)
    }

    /// Minutes in one unit, for time-based units.
    pub fn minutes(self) -> Option<i64> {
        match self {
            Self::QuarterHour => Some(15),
            Self::Hour => Some(60),
            Self::Visit | Self::Day => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rounding {
    EightMinute,
    RoundDown,
    /// A partial unit counts once it is at least `percent` % of a unit.
    RoundUpThreshold {
        percent: Decimal,
    },
}

impl Rounding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EightMinute => "eight_minute",
            Self::RoundDown => "round_down",
            Self::RoundUpThreshold { .. } => "round_up_threshold",
        }
    }

    /// From the database's `rounding` and `round_up_threshold_percent` columns.
    pub fn parse(rule: &str, percent: Option<Decimal>) -> Option<Self> {
        match (rule, percent) {
            ("eight_minute", None) => Some(Self::EightMinute),
            ("round_down", None) => Some(Self::RoundDown),
            ("round_up_threshold", Some(percent))
                if percent > Decimal::ZERO && percent <= Decimal::ONE_HUNDRED =>
            {
                Some(Self::RoundUpThreshold { percent })
            }
            _ => None,
        }
    }

    pub fn threshold_percent(self) -> Option<Decimal> {
        match self {
            Self::RoundUpThreshold { percent } => Some(percent),
            _ => None,
        }
    }
}

/// How a payer prices one service code (a row of `rates`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateRule {
    pub unit_rate: Decimal,
    pub unit: BillingUnit,
    pub rounding: Rounding,
    pub overtime_multiplier: Decimal,
    pub holiday_multiplier: Decimal,
}

/// What is known about the visit when it is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VisitTime {
    /// Verified minutes, check-in to check-out.
    pub minutes: i64,
    /// Of those, the minutes past the caregiver's weekly overtime threshold (the
    /// visit's last minutes).
    pub overtime_minutes: i64,
    /// The service date is on the agency's holiday calendar.
    pub holiday: bool,
    /// A day-unit service already billed this date (one day unit a day).
    pub day_already_billed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedVisit {
    pub billed_minutes: i64,
    /// Units billed (after any authorization cap).
    pub units: i64,
    /// Units the verified time is worth before the cap.
    pub unadjusted_units: i64,
    /// Of `units`, those at the overtime multiplier.
    pub overtime_units: i64,
    pub unit_rate: Decimal,
    pub overtime_multiplier: Decimal,
    pub holiday_multiplier: Decimal,
    pub amount: Decimal,
    /// The unit and rounding rule that produced `units`, e.g.
    /// `quarter_hour/eight_minute`, stored on the invoice line.
    pub rule: String,
}

/// The authorization's answer for this visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// The service needs no authorization.
    NotRequired,
    /// Units still authorized in the visit's period. Billing past them is held.
    Remaining(i64),
    /// A coordinator chose to bill only what is authorized: excess units are
    /// dropped, overtime units first (they are the visit's last).
    CapAt(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Priced {
    Billable(PricedVisit),
    /// The units exceed the authorization: hold the visit, bill nothing yet.
    ExceedsAuthorization {
        units: i64,
        remaining: i64,
    },
}

/// Units for `minutes` of verified time in units of `unit_minutes`.
pub fn time_units(minutes: i64, unit_minutes: i64, rounding: Rounding) -> i64 {
    if minutes <= 0 || unit_minutes <= 0 {
        return 0;
    }
    let whole = minutes / unit_minutes;
    let rest = minutes % unit_minutes;
    let partial_counts = match rounding {
        // At least half a unit: 2·rest ≥ unit (8 of 15 minutes, 30 of 60).
        Rounding::EightMinute => 2 * rest >= unit_minutes,
        Rounding::RoundDown => false,
        Rounding::RoundUpThreshold { percent } => {
            rest > 0
                && Decimal::from(rest) * Decimal::ONE_HUNDRED
                    >= percent * Decimal::from(unit_minutes)
        }
    };
    whole + i64::from(partial_counts)
}

/// Units before any authorization, and of them the overtime units.
fn units_for(rule: &RateRule, time: &VisitTime) -> (i64, i64) {
    match rule.unit.minutes() {
        Some(unit_minutes) => {
            let units = time_units(time.minutes, unit_minutes, rule.rounding);
            let overtime = time_units(
                time.overtime_minutes.min(time.minutes),
                unit_minutes,
                rule.rounding,
            );
            (units, overtime.min(units))
        }
        // Per visit or per day the multiplier for overtime does not apply: there
        // is no share of a unit to price differently.
        None if time.minutes <= 0 => (0, 0),
        None if rule.unit == BillingUnit::Day && time.day_already_billed => (0, 0),
        None => (1, 0),
    }
}

/// The units a planned visit of `minutes` would bill (no overtime, no
/// holiday: what an authorization counts). `day_counted`: another visit of
/// the same day is counted already (a per-day rate bills it once).
pub fn planned_units(rule: &RateRule, minutes: i64, day_counted: bool) -> i64 {
    let time = VisitTime {
        minutes,
        overtime_minutes: 0,
        holiday: false,
        day_already_billed: day_counted,
    };
    units_for(rule, &time).0
}

pub fn price(rule: &RateRule, time: &VisitTime, authorization: Authorization) -> Priced {
    let (unadjusted, overtime) = units_for(rule, time);
    let units = match authorization {
        Authorization::NotRequired => unadjusted,
        Authorization::Remaining(remaining) if unadjusted > remaining.max(0) => {
            return Priced::ExceedsAuthorization {
                units: unadjusted,
                remaining: remaining.max(0),
            };
        }
        Authorization::Remaining(_) => unadjusted,
        Authorization::CapAt(remaining) => unadjusted.min(remaining.max(0)),
    };
    // Dropped units come off the end of the visit: its overtime units first.
    let overtime_units = overtime.saturating_sub(unadjusted - units).max(0);
    let regular_units = units - overtime_units;
    let holiday_multiplier = if time.holiday {
        rule.holiday_multiplier
    } else {
        Decimal::ONE
    };
    let amount = ((Decimal::from(regular_units) * rule.unit_rate
        + Decimal::from(overtime_units) * rule.unit_rate * rule.overtime_multiplier)
        * holiday_multiplier)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let rule_name = match rule.rounding {
        Rounding::RoundUpThreshold { percent } if rule.unit.minutes().is_some() => {
            format!(
                "{}/round_up_threshold_{}%",
                rule.unit.as_str(),
                percent.normalize()
            )
        }
        rounding if rule.unit.minutes().is_some() => {
            format!("{}/{}", rule.unit.as_str(), rounding.as_str())
        }
        _ => format!("{}/one_per_{}", rule.unit.as_str(), rule.unit.as_str()),
    };
    Priced::Billable(PricedVisit {
        billed_minutes: time.minutes.max(0),
        units,
        unadjusted_units: unadjusted,
        overtime_units,
        unit_rate: rule.unit_rate,
        overtime_multiplier: if overtime_units > 0 {
            rule.overtime_multiplier
        } else {
            Decimal::ONE
        },
        holiday_multiplier,
        amount,
        rule: rule_name,
    })
}

/// Minutes of `minutes` (worked after `prior_minutes` this week) that fall past a
/// weekly threshold of `threshold` minutes.
pub fn overtime_minutes(prior_minutes: i64, minutes: i64, threshold: i64) -> i64 {
    let before = (prior_minutes - threshold).max(0);
    let after = (prior_minutes + minutes.max(0) - threshold).max(0);
    after - before
}

#[cfg(test)]
mod tests;
