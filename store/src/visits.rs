//! The visit row as every step of its lifecycle sees it: locked, read, and
//! moved to its next state.

use chrono::{DateTime, Utc};
use homecare_domain::VisitStatus;
use homecare_domain::contracts::InvoiceLineSummary;
use homecare_domain::events::VisitSummary;
use homecare_domain::evv::EvvKind;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// A visit as its row holds it.
#[derive(Debug, Clone)]
pub struct VisitRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub caregiver_id: Option<Uuid>,
    pub payer_id: Uuid,
    pub service_code: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub status: VisitStatus,
    /// The care plan and version a generated visit follows.
    pub care_plan: Option<(Uuid, i32)>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    client_id: Uuid,
    caregiver_id: Option<Uuid>,
    payer_id: Uuid,
    service_code: String,
    scheduled_start: DateTime<Utc>,
    scheduled_end: DateTime<Utc>,
    status: String,
    care_plan_id: Option<Uuid>,
    plan_version: Option<i32>,
}

/// A status the database holds must be one the domain knows.
pub fn parse_status(status: &str) -> Result<VisitStatus, StoreError> {
    status
        .parse()
        .map_err(|e: homecare_domain::visit::UnknownStatus| StoreError::Inconsistent(e.to_string()))
}

impl VisitRow {
    /// What every event of this visit carries, as of `status`.
    pub fn summary(&self, status: VisitStatus) -> VisitSummary {
        VisitSummary {
            visit_id: self.id,
            client_id: self.client_id,
            caregiver_id: self.caregiver_id,
            status,
            service_code: self.service_code.clone(),
            scheduled_start: self.scheduled_start,
            scheduled_end: self.scheduled_end,
        }
    }
}

/// Locks the visit's row for the rest of the transaction: every step of a
/// visit's lifecycle runs under this lock, so two never interleave.
pub async fn lock_visit(conn: &mut PgConnection, visit_id: Uuid) -> Result<VisitRow, StoreError> {
    let row = sqlx::query_as::<_, Row>(
        "select id, client_id, caregiver_id, payer_id, service_code,
                lower(scheduled) as scheduled_start, upper(scheduled) as scheduled_end,
                status::text as status, care_plan_id, plan_version
           from visits where id = $1 for update",
    )
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::VisitNotFound(visit_id))?;
    Ok(VisitRow {
        status: parse_status(&row.status)?,
        id: row.id,
        client_id: row.client_id,
        caregiver_id: row.caregiver_id,
        payer_id: row.payer_id,
        service_code: row.service_code,
        scheduled_start: row.scheduled_start,
        scheduled_end: row.scheduled_end,
        care_plan: row.care_plan_id.zip(row.plan_version),
    })
}

/// The duties of the care-plan version a visit follows.
pub async fn planned_duties(
    conn: &mut PgConnection,
    (plan_id, version): (Uuid, i32),
) -> Result<Vec<homecare_domain::care_plan::Duty>, sqlx::Error> {
    let duties: Option<sqlx::types::Json<Vec<homecare_domain::care_plan::Duty>>> =
        sqlx::query_scalar(
            "select duties from care_plan_versions where care_plan_id = $1 and version = $2",
        )
        .bind(plan_id)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(duties.map(|d| d.0).unwrap_or_default())
}

pub async fn set_status(
    conn: &mut PgConnection,
    visit_id: Uuid,
    status: VisitStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query("update visits set status = $2::visit_status, updated_at = now() where id = $1")
        .bind(visit_id)
        .bind(status.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// When the visit's check-in or check-out happened, if it is recorded.
pub async fn evv_time(
    conn: &mut PgConnection,
    visit_id: Uuid,
    kind: EvvKind,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "select occurred_at from evv_records where visit_id = $1 and kind = $2::evv_kind",
    )
    .bind(visit_id)
    .bind(kind.as_str())
    .fetch_optional(&mut *conn)
    .await
}

/// The visit's invoice line, if it has been billed.
pub async fn find_invoice_line(
    conn: &mut PgConnection,
    visit_id: Uuid,
) -> Result<Option<InvoiceLineSummary>, sqlx::Error> {
    let row: Option<(Uuid, i32, Decimal, Decimal)> = sqlx::query_as(
        "select id, units, unit_rate, amount from invoice_lines where visit_id = $1",
    )
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(invoice_line_id, units, unit_rate, amount)| InvoiceLineSummary {
            invoice_line_id,
            units: units.into(),
            unit_rate,
            amount,
        },
    ))
}
