//! Billing transactions: EVV exceptions raised at check-in and check-out, the
//! pre-billing hold, pricing under the payer's rules and the client's
//! authorization, coordinators' resolutions and the missed check-out.
//!
//! Like every activity here each step is one transaction under the visit's row
//! lock, idempotent: a retry finds what the first attempt wrote and changes
//! nothing twice (one invoice line per visit by a unique key, one open exception
//! per visit, code and source by a unique index).

use chrono::{DateTime, NaiveDate, Utc};
use homecare_domain::contracts::{
    BillingOutcome, EvvCommand, InvoiceLineSummary, OpenException, RecordResolution,
};
use homecare_domain::evv::{
    self, Capture, EvvMethod, EvvPolicy, ExceptionCode, Finding, ResolutionCode,
};
use homecare_domain::pricing::{
    self, Authorization, BillingUnit, Priced, RateRule, Rounding, VisitTime,
};
use homecare_domain::scheduling::Location;
use homecare_domain::{EventKind, VisitStatus};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::{EvvKind, VisitRow, find_invoice_line, lock_visit, record_event, set_status};
use crate::{ActivityFailure, VisitActivitiesImpl};

/// The agency's EVV policy and overtime threshold.
pub async fn load_policy(conn: &mut PgConnection) -> Result<(EvvPolicy, i64), sqlx::Error> {
    let (geofence, late, early, over, overtime): (f64, i32, i32, i32, i32) = sqlx::query_as(
        "select geofence_radius_meters, late_check_in_minutes, early_check_out_minutes,
                over_scheduled_minutes, overtime_after_minutes_per_week
           from agency_settings",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        EvvPolicy {
            geofence_radius_meters: geofence,
            late_check_in_minutes: late.into(),
            early_check_out_minutes: early.into(),
            over_scheduled_minutes: over.into(),
        },
        overtime.into(),
    ))
}

/// The client's address and every further place of care.
async fn client_places(
    conn: &mut PgConnection,
    client_id: Uuid,
) -> Result<Vec<Location>, sqlx::Error> {
    let places: Vec<(f64, f64)> = sqlx::query_as(
        "select latitude, longitude from clients where id = $1
         union all
         select latitude, longitude from client_locations where client_id = $1",
    )
    .bind(client_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(places
        .into_iter()
        .map(|(latitude, longitude)| Location {
            latitude,
            longitude,
        })
        .collect())
}

/// Records an exception unless the same one is already open, with its event.
async fn raise(
    conn: &mut PgConnection,
    visit: &VisitRow,
    finding: &Finding,
    source: &str,
) -> Result<(), sqlx::Error> {
    let exception_id: Option<Uuid> = sqlx::query_scalar(
        "insert into visit_exceptions (id, visit_id, code, source, detail)
         values ($1, $2, $3::visit_exception_code, $4, $5)
         on conflict (visit_id, code, source) where resolved_at is null do nothing
         returning id",
    )
    .bind(Uuid::new_v4())
    .bind(visit.id)
    .bind(finding.code.as_str())
    .bind(source)
    .bind(&finding.detail)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(exception_id) = exception_id {
        let status = visit.status.parse().unwrap_or(VisitStatus::Completed);
        let mut data = visit.event_data(status, visit.caregiver_id);
        data["exception_id"] = json!(exception_id);
        data["code"] = json!(finding.code);
        data["source"] = json!(source);
        data["detail"] = finding.detail.clone();
        record_event(
            conn,
            EventKind::ExceptionRaised,
            visit.id,
            &exception_id.to_string(),
            Utc::now(),
            data,
        )
        .await?;
        tracing::info!(visit_id = %visit.id, code = finding.code.as_str(), source, "EVV exception raised");
    }
    Ok(())
}

/// Checks a check-in or check-out just recorded against the agency's policy.
pub(crate) async fn raise_evv_exceptions(
    conn: &mut PgConnection,
    visit: &VisitRow,
    kind: EvvKind,
    command: &EvvCommand,
) -> Result<(), sqlx::Error> {
    let (policy, _) = load_policy(conn).await?;
    let places = client_places(conn, visit.client_id).await?;
    let capture = Capture {
        at: command.at,
        location: (command.method == EvvMethod::Gps).then_some(Location {
            latitude: command.latitude,
            longitude: command.longitude,
        }),
        method: command.method,
    };
    let findings = match kind {
        EvvKind::CheckIn => {
            evv::check_in_findings(&policy, visit.scheduled_start, &capture, &places)
        }
        EvvKind::CheckOut => {
            let checked_in_at: DateTime<Utc> = sqlx::query_scalar(
                "select occurred_at from evv_records where visit_id = $1 and kind = 'check_in'",
            )
            .bind(visit.id)
            .fetch_one(&mut *conn)
            .await?;
            evv::check_out_findings(
                &policy,
                (visit.scheduled_start, visit.scheduled_end),
                checked_in_at,
                &capture,
                &places,
            )
        }
    };
    for finding in &findings {
        raise(conn, visit, finding, kind.as_str()).await?;
    }
    Ok(())
}

async fn open_exceptions(
    conn: &mut PgConnection,
    visit_id: Uuid,
) -> Result<Vec<OpenException>, ActivityFailure> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "select id, code::text from visit_exceptions
          where visit_id = $1 and resolved_at is null order by raised_at, id",
    )
    .bind(visit_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(exception_id, code)| {
            let code = ExceptionCode::parse(&code).ok_or_else(|| {
                ActivityFailure::Rejected(format!("unknown exception code {code}"))
            })?;
            Ok(OpenException { exception_id, code })
        })
        .collect()
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

impl RateRow {
    fn rule(&self) -> Result<RateRule, ActivityFailure> {
        let unit = BillingUnit::parse(&self.unit).ok_or_else(|| {
            ActivityFailure::Rejected(format!("rate {} has unknown unit {}", self.id, self.unit))
        })?;
        let rounding = Rounding::parse(&self.rounding, self.round_up_threshold_percent)
            .ok_or_else(|| {
                ActivityFailure::Rejected(format!(
                    "rate {} has an inconsistent rounding rule",
                    self.id
                ))
            })?;
        Ok(RateRule {
            unit_rate: self.unit_rate,
            unit,
            rounding,
            overtime_multiplier: self.overtime_multiplier,
            holiday_multiplier: self.holiday_multiplier,
        })
    }
}

/// The verified times and the client's local service date.
async fn verified_times(
    conn: &mut PgConnection,
    visit_id: Uuid,
) -> Result<(DateTime<Utc>, DateTime<Utc>, NaiveDate, String), ActivityFailure> {
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
    verified.ok_or_else(|| {
        ActivityFailure::Rejected(format!(
            "visit {visit_id} has no verified check-in and check-out"
        ))
    })
}

/// Minutes the caregiver worked this week (Monday 00:00 in the client's time zone)
/// on other visits that began before this one: the order of the visits, not of
/// their billing, decides which minutes are overtime.
async fn prior_week_minutes(
    conn: &mut PgConnection,
    caregiver_id: Uuid,
    visit_id: Uuid,
    checked_in: DateTime<Utc>,
    timezone: &str,
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
    .bind(checked_in)
    .bind(timezone)
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

#[derive(sqlx::FromRow)]
struct ExceptionRow {
    code: String,
    resolution_code: Option<String>,
    resolution_note: Option<String>,
    resolved_by: Option<String>,
}

fn held(held_by: Vec<OpenException>) -> BillingOutcome {
    BillingOutcome {
        invoice: None,
        held_by,
    }
}

fn invoiced(invoice: InvoiceLineSummary) -> BillingOutcome {
    BillingOutcome {
        invoice: Some(invoice),
        held_by: Vec::new(),
    }
}

impl VisitActivitiesImpl {
    /// Bills a completed visit: held while any exception is open, otherwise one
    /// invoice line priced from the verified times by the payer's rules, within
    /// the client's authorization (units past it raise `authorization_exceeded`).
    #[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
    pub async fn bill(&self, visit_id: Uuid) -> Result<BillingOutcome, ActivityFailure> {
        self.bill_visit(visit_id, true).await
    }

    /// `honour_holds` is false only for visit workflows started before billing
    /// holds existed (their history has no `billing-holds` marker).
    pub(crate) async fn bill_visit(
        &self,
        visit_id: Uuid,
        honour_holds: bool,
    ) -> Result<BillingOutcome, ActivityFailure> {
        let mut tx = self.db.begin().await?;
        let visit = lock_visit(&mut tx, visit_id).await?;
        if let Some(existing) = find_invoice_line(&mut tx, visit_id).await? {
            self.commit_and_publish(tx, visit_id).await?;
            return Ok(invoiced(existing));
        }
        if visit.status()? != VisitStatus::Completed {
            return Err(ActivityFailure::Rejected(format!(
                "visit {visit_id} is {}; only completed visits are invoiced",
                visit.status
            )));
        }
        if honour_holds {
            let open = open_exceptions(&mut tx, visit_id).await?;
            if !open.is_empty() {
                self.record_hold(&mut tx, &visit, &open).await?;
                self.commit_and_publish(tx, visit_id).await?;
                return Ok(held(open));
            }
        }
        let (checked_in, checked_out, service_date, timezone) =
            verified_times(&mut tx, visit_id).await?;
        let rate: Option<RateRow> = sqlx::query_as(
            "select id, unit_rate, unit::text as unit, rounding::text as rounding, round_up_threshold_percent,
                    modifiers, overtime_multiplier, holiday_multiplier
               from rates where payer_id = $1 and service_code = $2 and effective @> $3::date",
        )
        .bind(visit.payer_id)
        .bind(&visit.service_code)
        .bind(service_date)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(rate) = rate else {
            return Err(ActivityFailure::Rejected(format!(
                "no rate for payer {} and service {} on {service_date}",
                visit.payer_id, visit.service_code
            )));
        };
        let rule = rate.rule()?;
        let caregiver_id = visit.caregiver_id.ok_or_else(|| {
            ActivityFailure::Rejected(format!("completed visit {visit_id} has no caregiver"))
        })?;
        let (_, overtime_threshold) = load_policy(&mut tx).await?;
        let minutes = (checked_out - checked_in).num_minutes();
        let prior =
            prior_week_minutes(&mut tx, caregiver_id, visit_id, checked_in, &timezone).await?;
        if rule.unit == BillingUnit::Day {
            // One day unit per client, payer, code and date: visits of the same
            // day bill one after the other, so the second sees the first's line.
            sqlx::query("select pg_advisory_xact_lock(hashtext($1))")
                .bind(format!(
                    "day-unit/{}/{}/{}/{service_date}",
                    visit.client_id, visit.payer_id, visit.service_code
                ))
                .execute(&mut *tx)
                .await?;
        }
        let (holiday, day_already_billed): (bool, bool) = sqlx::query_as(
            "select exists (select 1 from holidays where day = $1),
                    exists (select 1 from invoice_lines where client_id = $2 and payer_id = $3
                               and service_code = $4 and service_date = $1 and units > 0)",
        )
        .bind(service_date)
        .bind(visit.client_id)
        .bind(visit.payer_id)
        .bind(&visit.service_code)
        .fetch_one(&mut *tx)
        .await?;
        let time = VisitTime {
            minutes,
            overtime_minutes: pricing::overtime_minutes(prior, minutes, overtime_threshold),
            holiday,
            day_already_billed,
        };
        let authorized = if honour_holds {
            authorization(&mut tx, &visit, service_date).await?
        } else {
            None
        };
        let cap_chosen: bool = sqlx::query_scalar(
            "select exists (select 1 from visit_exceptions where visit_id = $1
                               and code = 'authorization_exceeded' and resolution_code = $2)",
        )
        .bind(visit_id)
        .bind(ResolutionCode::BillWithinAuthorization.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let authorization_rule = match authorized {
            None => Authorization::NotRequired,
            Some((_, remaining)) if cap_chosen => Authorization::CapAt(remaining),
            Some((_, remaining)) => Authorization::Remaining(remaining),
        };
        let priced = match pricing::price(&rule, &time, authorization_rule) {
            Priced::Billable(priced) => priced,
            Priced::ExceedsAuthorization { units, remaining } => {
                let finding = Finding {
                    code: ExceptionCode::AuthorizationExceeded,
                    detail: json!({
                        "authorization_id": authorized.map(|(id, _)| id),
                        "service_date": service_date,
                        "units": units,
                        "remaining_units": remaining,
                    }),
                };
                raise(&mut tx, &visit, &finding, "billing").await?;
                let open = open_exceptions(&mut tx, visit_id).await?;
                self.record_hold(&mut tx, &visit, &open).await?;
                self.commit_and_publish(tx, visit_id).await?;
                return Ok(held(open));
            }
        };
        let line_id = Uuid::new_v4();
        sqlx::query(
            "insert into invoice_lines (id, visit_id, payer_id, service_code, client_id, caregiver_id,
                                        service_date, billed_minutes, units, unit_rate, amount, rounding_rule,
                                        rate_id, unit, modifiers, overtime_units, overtime_multiplier,
                                        holiday_multiplier, unadjusted_units, authorization_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::billing_unit, $15, $16, $17,
                     $18, $19, $20)",
        )
        .bind(line_id)
        .bind(visit_id)
        .bind(visit.payer_id)
        .bind(&visit.service_code)
        .bind(visit.client_id)
        .bind(caregiver_id)
        .bind(service_date)
        .bind(priced.billed_minutes as i32)
        .bind(priced.units as i32)
        .bind(priced.unit_rate)
        .bind(priced.amount)
        .bind(&priced.rule)
        .bind(rate.id)
        .bind(rule.unit.as_str())
        .bind(&rate.modifiers)
        .bind(priced.overtime_units as i32)
        .bind(priced.overtime_multiplier)
        .bind(priced.holiday_multiplier)
        .bind(priced.unadjusted_units as i32)
        .bind(authorized.map(|(id, _)| id))
        .execute(&mut *tx)
        .await?;
        set_status(&mut tx, visit_id, VisitStatus::Invoiced).await?;
        let mut data = visit.event_data(VisitStatus::Invoiced, Some(caregiver_id));
        data["invoice_line_id"] = json!(line_id);
        data["payer_id"] = json!(visit.payer_id);
        data["service_date"] = json!(service_date);
        data["billed_minutes"] = json!(priced.billed_minutes);
        data["units"] = json!(priced.units);
        data["unadjusted_units"] = json!(priced.unadjusted_units);
        data["overtime_units"] = json!(priced.overtime_units);
        data["unit_rate"] = json!(priced.unit_rate);
        data["overtime_multiplier"] = json!(priced.overtime_multiplier);
        data["holiday_multiplier"] = json!(priced.holiday_multiplier);
        data["modifiers"] = json!(rate.modifiers);
        data["amount"] = json!(priced.amount);
        data["rounding_rule"] = json!(priced.rule);
        data["authorization_id"] = json!(authorized.map(|(id, _)| id));
        record_event(
            &mut tx,
            EventKind::InvoiceCreated,
            visit_id,
            "",
            Utc::now(),
            data,
        )
        .await?;
        self.commit_and_publish(tx, visit_id).await?;
        tracing::info!(amount = %priced.amount, units = priced.units, "invoice line created");
        Ok(invoiced(InvoiceLineSummary {
            invoice_line_id: line_id,
            units: priced.units,
            unit_rate: priced.unit_rate,
            amount: priced.amount,
        }))
    }

    /// `visit.held`, once per set of open exceptions.
    async fn record_hold(
        &self,
        conn: &mut PgConnection,
        visit: &VisitRow,
        open: &[OpenException],
    ) -> Result<(), sqlx::Error> {
        let ids: Vec<String> = open.iter().map(|e| e.exception_id.to_string()).collect();
        let mut data = visit.event_data(VisitStatus::Completed, visit.caregiver_id);
        data["held_by"] = json!(open);
        record_event(
            conn,
            EventKind::VisitHeld,
            visit.id,
            &ids.join(","),
            Utc::now(),
            data,
        )
        .await
    }

    /// A coordinator's resolution. Resolving again with the same reason is a no-op;
    /// a missed check-out's resolution records the end time as a manual check-out.
    #[tracing::instrument(skip_all, fields(visit_id = %request.visit_id))]
    pub async fn resolve_exception(
        &self,
        request: &RecordResolution,
    ) -> Result<(), ActivityFailure> {
        let visit_id = request.visit_id;
        let resolution = &request.resolution;
        let mut tx = self.db.begin().await?;
        let visit = lock_visit(&mut tx, visit_id).await?;
        let row: Option<ExceptionRow> = sqlx::query_as(
            "select code::text as code, resolution_code, resolution_note, resolved_by
               from visit_exceptions where id = $1 and visit_id = $2",
        )
        .bind(resolution.exception_id)
        .bind(visit_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(ExceptionRow {
            code,
            resolution_code: resolved_code,
            resolution_note: resolved_note,
            resolved_by,
        }) = row
        else {
            return Err(ActivityFailure::Rejected(format!(
                "exception {} not found on visit {visit_id}",
                resolution.exception_id
            )));
        };
        let code = ExceptionCode::parse(&code)
            .ok_or_else(|| ActivityFailure::Rejected(format!("unknown exception code {code}")))?;
        if let Some(resolved_code) = resolved_code {
            let same = resolved_code == resolution.resolution_code.as_str()
                && resolved_note.as_deref() == Some(resolution.note.as_str())
                && resolved_by.as_deref() == Some(resolution.resolved_by.as_str());
            if !same {
                return Err(ActivityFailure::Rejected(format!(
                    "exception {} is already resolved ({resolved_code})",
                    resolution.exception_id
                )));
            }
            return self.commit_and_publish(tx, visit_id).await;
        }
        let checked_in_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "select occurred_at from evv_records where visit_id = $1 and kind = 'check_in'",
        )
        .bind(visit_id)
        .fetch_optional(&mut *tx)
        .await?;
        evv::resolution_allowed(
            code,
            resolution.resolution_code,
            resolution.check_out_at,
            checked_in_at,
            Utc::now(),
        )
        .map_err(ActivityFailure::Rejected)?;
        if let (ExceptionCode::MissedCheckOut, Some(at)) = (code, resolution.check_out_at) {
            let caregiver_id = visit.caregiver_id.ok_or_else(|| {
                ActivityFailure::Rejected(format!("visit {visit_id} has no caregiver"))
            })?;
            sqlx::query(
                "insert into evv_records (id, visit_id, kind, caregiver_id, occurred_at, method)
                 values ($1, $2, 'check_out', $3, $4, 'manual')
                 on conflict (visit_id, kind) do nothing",
            )
            .bind(Uuid::new_v4())
            .bind(visit_id)
            .bind(caregiver_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            // The entered end is checked against the schedule like any
            // check-out (early, overlong); being entered by hand is what this
            // resolution records, so it raises no manual_time_entry of its own.
            if let Some(checked_in_at) = checked_in_at {
                let (policy, _) = load_policy(&mut tx).await?;
                let capture = Capture {
                    at,
                    location: None,
                    method: EvvMethod::Gps,
                };
                for finding in evv::check_out_findings(
                    &policy,
                    (visit.scheduled_start, visit.scheduled_end),
                    checked_in_at,
                    &capture,
                    &[],
                ) {
                    raise(&mut tx, &visit, &finding, "check_out").await?;
                }
            }
        }
        sqlx::query(
            "update visit_exceptions
                set resolved_at = now(), resolution_code = $2, resolution_note = $3, resolved_by = $4
              where id = $1 and resolved_at is null",
        )
        .bind(resolution.exception_id)
        .bind(resolution.resolution_code.as_str())
        .bind(&resolution.note)
        .bind(&resolution.resolved_by)
        .execute(&mut *tx)
        .await?;
        let mut data = visit.event_data(visit.status()?, visit.caregiver_id);
        data["exception_id"] = json!(resolution.exception_id);
        data["code"] = json!(code);
        data["resolution_code"] = json!(resolution.resolution_code);
        data["note"] = json!(resolution.note);
        data["resolved_by"] = json!(resolution.resolved_by);
        data["check_out_at"] = json!(resolution.check_out_at);
        record_event(
            &mut tx,
            EventKind::ExceptionResolved,
            visit_id,
            &resolution.exception_id.to_string(),
            Utc::now(),
            data,
        )
        .await?;
        self.commit_and_publish(tx, visit_id).await
    }

    /// The missed check-out timer fired: a visit still checked in is closed with a
    /// `missed_check_out` exception. Returns whether the visit is closed that way
    /// (false when its caregiver checked out first).
    #[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
    pub async fn close_missed_check_out(&self, visit_id: Uuid) -> Result<bool, ActivityFailure> {
        let mut tx = self.db.begin().await?;
        let visit = lock_visit(&mut tx, visit_id).await?;
        let closed = match visit.status()? {
            VisitStatus::CheckedIn => {
                set_status(&mut tx, visit_id, VisitStatus::Completed).await?;
                let now = Utc::now();
                let mut data = visit.event_data(VisitStatus::Completed, visit.caregiver_id);
                data["missed_check_out"] = json!(true);
                data["at"] = json!(now);
                record_event(&mut tx, EventKind::VisitCompleted, visit_id, "", now, data).await?;
                let finding = Finding {
                    code: ExceptionCode::MissedCheckOut,
                    detail: json!({"scheduled_end": visit.scheduled_end, "closed_at": now}),
                };
                raise(&mut tx, &visit, &finding, "timer").await?;
                true
            }
            // A retry after the commit: closed already if the exception is there.
            _ => sqlx::query_scalar(
                "select exists (select 1 from visit_exceptions where visit_id = $1 and code = 'missed_check_out')",
            )
            .bind(visit_id)
            .fetch_one(&mut *tx)
            .await?,
        };
        self.commit_and_publish(tx, visit_id).await?;
        Ok(closed)
    }
}
