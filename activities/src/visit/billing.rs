//! Billing a completed visit: held while any exception is open, otherwise one
//! invoice line priced from the verified times by the payer's rules
//! (`homecare_domain::pricing`), within the client's authorization (units past
//! it raise `authorization_exceeded`). One invoice line per visit by a unique
//! key: a retry finds the line and only publishes.

use chrono::Utc;
use homecare_domain::VisitStatus;
use homecare_domain::contracts::{BillingOutcome, InvoiceLineSummary, OpenException};
use homecare_domain::events::{InvoiceCreated, VisitHeld};
use homecare_domain::evv::{ExceptionCode, ExceptionSource, Finding};
use homecare_domain::pricing::{self, Priced, PricedVisit};
use homecare_store::billing::{PricingInputs, load_pricing_inputs};
use homecare_store::evv::open_exceptions;
use homecare_store::record_event;
use homecare_store::visits::{VisitRow, find_invoice_line, lock_visit, set_status};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::step::{ActivityFailure, Steps};
use crate::visit::exceptions::raise;

/// Bills a completed visit (see the module's documentation).
#[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
pub async fn bill(steps: &Steps, visit_id: Uuid) -> Result<BillingOutcome, ActivityFailure> {
    bill_visit(steps, visit_id, Holds::Honoured).await
}

/// The billing step of visit workflows started before billing holds existed
/// (their history has no `billing-holds` marker): priced by the payer's rules,
/// without holds or authorizations.
#[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
pub async fn create_invoice_line(
    steps: &Steps,
    visit_id: Uuid,
) -> Result<InvoiceLineSummary, ActivityFailure> {
    bill_visit(steps, visit_id, Holds::PredateHolds)
        .await?
        .invoice
        .ok_or_else(|| ActivityFailure::Rejected(format!("visit {visit_id} is held")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Holds {
    Honoured,
    PredateHolds,
}

async fn bill_visit(
    steps: &Steps,
    visit_id: Uuid,
    holds: Holds,
) -> Result<BillingOutcome, ActivityFailure> {
    let mut tx = steps.store.db.begin().await?;
    let visit = lock_visit(&mut tx, visit_id).await?;
    if let Some(existing) = find_invoice_line(&mut tx, visit_id).await? {
        steps.store.commit_and_publish(tx, [visit_id]).await?;
        return Ok(invoiced(existing));
    }
    if visit.status != VisitStatus::Completed {
        return Err(ActivityFailure::Rejected(format!(
            "visit {visit_id} is {}; only completed visits are invoiced",
            visit.status
        )));
    }
    if holds == Holds::Honoured {
        let open = open_exceptions(&mut tx, visit_id).await?;
        if !open.is_empty() {
            record_hold(&mut tx, &visit, &open).await?;
            steps.store.commit_and_publish(tx, [visit_id]).await?;
            return Ok(held(open));
        }
    }
    let caregiver_id = visit.caregiver_id.ok_or_else(|| {
        ActivityFailure::Rejected(format!("completed visit {visit_id} has no caregiver"))
    })?;
    let inputs =
        load_pricing_inputs(&mut tx, &visit, caregiver_id, holds == Holds::Honoured).await?;
    let priced = match pricing::price(&inputs.rule, &inputs.time, inputs.authorization_rule()) {
        Priced::Billable(priced) => priced,
        Priced::ExceedsAuthorization { units, remaining } => {
            let finding = Finding {
                code: ExceptionCode::AuthorizationExceeded,
                detail: json!({
                    "authorization_id": inputs.authorization_id(),
                    "service_date": inputs.service_date,
                    "units": units,
                    "remaining_units": remaining,
                }),
            };
            raise(
                &mut tx,
                &visit,
                VisitStatus::Completed,
                &finding,
                ExceptionSource::Billing,
            )
            .await?;
            let open = open_exceptions(&mut tx, visit_id).await?;
            record_hold(&mut tx, &visit, &open).await?;
            steps.store.commit_and_publish(tx, [visit_id]).await?;
            return Ok(held(open));
        }
    };
    let line = write_invoice_line(&mut tx, &visit, caregiver_id, &inputs, &priced).await?;
    steps.store.commit_and_publish(tx, [visit_id]).await?;
    tracing::info!(amount = %priced.amount, units = priced.units, "invoice line created");
    Ok(invoiced(line))
}

/// The invoice line, the visit `invoiced`, and `homecare.invoice.created`.
async fn write_invoice_line(
    conn: &mut PgConnection,
    visit: &VisitRow,
    caregiver_id: Uuid,
    inputs: &PricingInputs,
    priced: &PricedVisit,
) -> Result<InvoiceLineSummary, sqlx::Error> {
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
    .bind(visit.id)
    .bind(visit.payer_id)
    .bind(&visit.service_code)
    .bind(visit.client_id)
    .bind(caregiver_id)
    .bind(inputs.service_date)
    .bind(priced.billed_minutes as i32)
    .bind(priced.units as i32)
    .bind(priced.unit_rate)
    .bind(priced.amount)
    .bind(&priced.rule)
    .bind(inputs.rate_id)
    .bind(inputs.rule.unit.as_str())
    .bind(&inputs.modifiers)
    .bind(priced.overtime_units as i32)
    .bind(priced.overtime_multiplier)
    .bind(priced.holiday_multiplier)
    .bind(priced.unadjusted_units as i32)
    .bind(inputs.authorization_id())
    .execute(&mut *conn)
    .await?;
    set_status(conn, visit.id, VisitStatus::Invoiced).await?;
    let event = InvoiceCreated {
        visit: homecare_domain::events::VisitSummary {
            caregiver_id: Some(caregiver_id),
            ..visit.summary(VisitStatus::Invoiced)
        },
        invoice_line_id: line_id,
        payer_id: visit.payer_id,
        service_date: inputs.service_date,
        billed_minutes: priced.billed_minutes,
        units: priced.units,
        unadjusted_units: priced.unadjusted_units,
        overtime_units: priced.overtime_units,
        unit_rate: priced.unit_rate,
        overtime_multiplier: priced.overtime_multiplier,
        holiday_multiplier: priced.holiday_multiplier,
        modifiers: inputs.modifiers.clone(),
        amount: priced.amount,
        rounding_rule: priced.rule.clone(),
        authorization_id: inputs.authorization_id(),
    };
    record_event(conn, &event, "", Utc::now()).await?;
    Ok(InvoiceLineSummary {
        invoice_line_id: line_id,
        units: priced.units,
        unit_rate: priced.unit_rate,
        amount: priced.amount,
    })
}

/// `visit.held`, once per set of open exceptions.
async fn record_hold(
    conn: &mut PgConnection,
    visit: &VisitRow,
    open: &[OpenException],
) -> Result<(), sqlx::Error> {
    let ids: Vec<String> = open.iter().map(|e| e.exception_id.to_string()).collect();
    let event = VisitHeld {
        visit: visit.summary(VisitStatus::Completed),
        held_by: open.to_vec(),
    };
    record_event(conn, &event, &ids.join(","), Utc::now()).await
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
