//! What pricing a completed visit needs, loaded in the billing transaction
//! under the locks that keep two visits from spending the same authorized
//! units or the same day unit.

use chrono::{DateTime, NaiveDate, Utc};
use homecare_domain::evv::ResolutionCode;
use homecare_domain::pricing::{self, Authorization, BillingUnit, RateRule, Rounding, VisitTime};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;
use crate::visits::VisitRow;

/// Everything `homecare_domain::pricing::price` needs for one visit, and the
/// rate and authorization the invoice line records.
#[derive(Debug, Clone)]
pub struct PricingInputs {
    pub rate_id: Uuid,
    pub rule: RateRule,
    pub modifiers: Vec<String>,
    /// The client's local date of the check-in.
    pub service_date: NaiveDate,
    pub time: VisitTime,
    /// The authorization covering the visit and its units left in the period
    /// (none when the payer requires none, or for visits billed before
    /// authorizations existed).
    pub authorization: Option<(Uuid, i64)>,
    /// A coordinator chose to bill within the authorization when it was exceeded.
    pub cap_chosen: bool,
}

impl PricingInputs {
    pub fn authorization_rule(&self) -> Authorization {
        match self.authorization {
            None => Authorization::NotRequired,
            Some((_, remaining)) if self.cap_chosen => Authorization::CapAt(remaining),
            Some((_, remaining)) => Authorization::Remaining(remaining),
        }
    }

    pub fn authorization_id(&self) -> Option<Uuid> {
        self.authorization.map(|(id, _)| id)
    }
}

/// Whether the payer has a rate for the service on the client's local date of
/// `at` (a visit is accepted, or moved, only to a date it can be billed on).
pub async fn has_rate(
    conn: &mut PgConnection,
    client_id: Uuid,
    payer_id: Uuid,
    service_code: &str,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from rates r join clients c on c.id = $1
                 where r.payer_id = $2 and r.service_code = $3
                   and r.effective @> (($4::timestamptz) at time zone c.timezone)::date)",
    )
    .bind(client_id)
    .bind(payer_id)
    .bind(service_code)
    .bind(at)
    .fetch_one(&mut *conn)
    .await
}

/// Loads the pricing inputs of a completed visit worked by `caregiver_id`,
/// locking the covering authorization (when `with_authorization`) and the
/// day unit of per-day rates.
pub async fn load_pricing_inputs(
    conn: &mut PgConnection,
    visit: &VisitRow,
    caregiver_id: Uuid,
    with_authorization: bool,
) -> Result<PricingInputs, StoreError> {
    let verified = verified_times(conn, visit.id).await?;
    let (rate_id, rule, modifiers) = rate(conn, visit, verified.service_date).await?;
    let policy = crate::policy::load(conn).await?;
    let minutes = (verified.checked_out - verified.checked_in).num_minutes();
    let prior = prior_week_minutes(conn, caregiver_id, visit.id, &verified).await?;
    if rule.unit == BillingUnit::Day {
        // One day unit per client, payer, code and date: visits of the same
        // day bill one after the other, so the second sees the first's line.
        sqlx::query("select pg_advisory_xact_lock(hashtext($1))")
            .bind(format!(
                "day-unit/{}/{}/{}/{}",
                visit.client_id, visit.payer_id, visit.service_code, verified.service_date
            ))
            .execute(&mut *conn)
            .await?;
    }
    let (holiday, day_already_billed): (bool, bool) = sqlx::query_as(
        "select exists (select 1 from holidays where day = $1),
                exists (select 1 from invoice_lines where client_id = $2 and payer_id = $3
                           and service_code = $4 and service_date = $1 and units > 0)",
    )
    .bind(verified.service_date)
    .bind(visit.client_id)
    .bind(visit.payer_id)
    .bind(&visit.service_code)
    .fetch_one(&mut *conn)
    .await?;
    let authorization = if with_authorization {
        authorization(conn, visit, verified.service_date).await?
    } else {
        None
    };
    let cap_chosen: bool = sqlx::query_scalar(
        "select exists (select 1 from visit_exceptions where visit_id = $1
                           and code = 'authorization_exceeded' and resolution_code = $2)",
    )
    .bind(visit.id)
    .bind(ResolutionCode::BillWithinAuthorization.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(PricingInputs {
        rate_id,
        rule,
        modifiers,
        service_date: verified.service_date,
        time: VisitTime {
            minutes,
            overtime_minutes: pricing::overtime_minutes(
                prior,
                minutes,
                policy.overtime_after_minutes_per_week,
            ),
            holiday,
            day_already_billed,
        },
        authorization,
        cap_chosen,
    })
}

/// The verified check-in and check-out, and the client's local service date.
struct Verified {
    checked_in: DateTime<Utc>,
    checked_out: DateTime<Utc>,
    service_date: NaiveDate,
    timezone: String,
}

async fn verified_times(conn: &mut PgConnection, visit_id: Uuid) -> Result<Verified, StoreError> {
    let verified: Option<(DateTime<Utc>, DateTime<Utc>, NaiveDate, String)> = sqlx::query_as(
        "select i.occurred_at, o.occurred_at, (i.occurred_at at time zone c.timezone)::date, c.timezone
           from evv_records i
           join evv_records o on o.visit_id = i.visit_id and o.kind = 'check_out'
           join visits v on v.id = i.visit_id
           join clients c on c.id = v.client_id
          where i.visit_id = $1 and i.kind = 'check_in'",
    )
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (checked_in, checked_out, service_date, timezone) = verified.ok_or_else(|| {
        StoreError::Inconsistent(format!(
            "visit {visit_id} has no verified check-in and check-out"
        ))
    })?;
    Ok(Verified {
        checked_in,
        checked_out,
        service_date,
        timezone,
    })
}

#[derive(sqlx::FromRow)]
struct RateRow {
    id: Uuid,
    unit_rate: Decimal,
    unit: String,
    rounding: String,
    round_up_threshold_percent: Option<Decimal>,
    modifiers: Vec<String>,
    overtime_multiplier: Decimal,
    holiday_multiplier: Decimal,
}

/// The payer's rate for the visit's service on the service date.
async fn rate(
    conn: &mut PgConnection,
    visit: &VisitRow,
    service_date: NaiveDate,
) -> Result<(Uuid, RateRule, Vec<String>), StoreError> {
    rate_of(conn, visit.payer_id, &visit.service_code, service_date).await
}

/// The payer's rate for a service on a date: its id, its rule and modifiers.
pub async fn rate_of(
    conn: &mut PgConnection,
    payer_id: Uuid,
    service_code: &str,
    service_date: NaiveDate,
) -> Result<(Uuid, RateRule, Vec<String>), StoreError> {
    let rate: Option<RateRow> = sqlx::query_as(
        "select id, unit_rate, unit::text as unit, rounding::text as rounding, round_up_threshold_percent,
                modifiers, overtime_multiplier, holiday_multiplier
           from rates where payer_id = $1 and service_code = $2 and effective @> $3::date",
    )
    .bind(payer_id)
    .bind(service_code)
    .bind(service_date)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(rate) = rate else {
        return Err(StoreError::Inconsistent(format!(
            "no rate for payer {payer_id} and service {service_code} on {service_date}"
        )));
    };
    let unit = BillingUnit::parse(&rate.unit).ok_or_else(|| {
        StoreError::Inconsistent(format!("rate {} has unknown unit {}", rate.id, rate.unit))
    })?;
    let rounding =
        Rounding::parse(&rate.rounding, rate.round_up_threshold_percent).ok_or_else(|| {
            StoreError::Inconsistent(format!(
                "rate {} has an inconsistent rounding rule",
                rate.id
            ))
        })?;
    let rule = RateRule {
        unit_rate: rate.unit_rate,
        unit,
        rounding,
        overtime_multiplier: rate.overtime_multiplier,
        holiday_multiplier: rate.holiday_multiplier,
    };
    Ok((rate.id, rule, rate.modifiers))
}

/// Minutes the caregiver worked this week (Monday 00:00 in the client's time zone)
/// on other visits that began before this one: the order of the visits, not of
/// their billing, decides which minutes are overtime.
async fn prior_week_minutes(
    conn: &mut PgConnection,
    caregiver_id: Uuid,
    visit_id: Uuid,
    verified: &Verified,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select coalesce(sum(floor(extract(epoch from (o.occurred_at - i.occurred_at)) / 60)), 0)::bigint
           from evv_records i
           join evv_records o on o.visit_id = i.visit_id and o.kind = 'check_out'
          where i.kind = 'check_in' and i.caregiver_id = $1 and i.visit_id <> $2
            and i.occurred_at < $3
            and i.occurred_at >= (date_trunc('week', $3 at time zone $4) at time zone $4)",
    )
    .bind(caregiver_id)
    .bind(visit_id)
    .bind(verified.checked_in)
    .bind(&verified.timezone)
    .fetch_one(&mut *conn)
    .await
}

/// The authorization covering the visit, locked, with the units left in its
/// period (the week or month of the service date, within the authorization).
///
/// Two statements on purpose: under READ COMMITTED a statement's snapshot is
/// taken before it waits for the row lock, so usage summed in the locking
/// statement could miss the lines of the transaction it waited for. Summed
/// after the lock, it sees them: two visits billing at once never both spend
/// the same units.
async fn authorization(
    conn: &mut PgConnection,
    visit: &VisitRow,
    service_date: NaiveDate,
) -> Result<Option<(Uuid, i64)>, sqlx::Error> {
    let locked: Option<(Uuid, i32)> = sqlx::query_as(
        "select id, units from authorizations
          where client_id = $1 and payer_id = $2 and service_code = $3 and valid @> $4::date
          for update",
    )
    .bind(visit.client_id)
    .bind(visit.payer_id)
    .bind(&visit.service_code)
    .bind(service_date)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, units)) = locked else {
        return Ok(None);
    };
    let used: i64 = sqlx::query_scalar(
        "select coalesce(sum(l.units), 0)::bigint
           from invoice_lines l join authorizations a on a.id = l.authorization_id
          where a.id = $1 and authorization_period(a.per, $2::date) @> l.service_date",
    )
    .bind(id)
    .bind(service_date)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some((id, i64::from(units) - used)))
}
