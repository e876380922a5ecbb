//! Exceptions: raised by the EVV checks, billing and the missed check-out
//! timer; resolved by coordinators. An open exception holds the visit's
//! billing; one open exception per visit, code and source (a unique index), so
//! a retried step raises nothing twice.

use chrono::Utc;
use homecare_domain::VisitStatus;
use homecare_domain::contracts::RecordResolution;
use homecare_domain::events::{ExceptionRaised, ExceptionResolved, VisitCompleted};
use homecare_domain::evv::{
    self, Capture, EvvKind, EvvMethod, ExceptionCode, ExceptionSource, Finding,
};
use homecare_store::visits::{self, VisitRow, lock_visit, set_status};
use homecare_store::{policy, record_event};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::step::{ActivityFailure, Steps};

/// Records an exception unless the same one is already open, with its event;
/// `status` is the visit's state once the step that found it is done.
pub(crate) async fn raise(
    conn: &mut PgConnection,
    visit: &VisitRow,
    status: VisitStatus,
    finding: &Finding,
    source: ExceptionSource,
) -> Result<(), sqlx::Error> {
    let raised = homecare_store::evv::insert_exception(
        conn,
        visit.id,
        finding.code,
        source,
        &finding.detail,
    )
    .await?;
    if let Some(exception_id) = raised {
        let event = ExceptionRaised {
            visit: visit.summary(status),
            exception_id,
            code: finding.code,
            source,
            detail: finding.detail.clone(),
        };
        record_event(conn, &event, &exception_id.to_string(), Utc::now()).await?;
        tracing::info!(visit_id = %visit.id, code = finding.code.as_str(), source = source.as_str(), "EVV exception raised");
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ExceptionRow {
    code: String,
    resolution_code: Option<String>,
    resolution_note: Option<String>,
    resolved_by: Option<String>,
}

/// A coordinator's resolution. Resolving again with the same reason is a no-op;
/// a missed check-out's resolution records the end time as a manual check-out.
#[tracing::instrument(skip_all, fields(visit_id = %request.visit_id))]
pub async fn resolve_exception(
    steps: &Steps,
    request: &RecordResolution,
) -> Result<(), ActivityFailure> {
    let visit_id = request.visit_id;
    let resolution = &request.resolution;
    let mut tx = steps.store.db.begin().await?;
    let visit = lock_visit(&mut tx, visit_id).await?;
    let row: Option<ExceptionRow> = sqlx::query_as(
        "select code::text as code, resolution_code, resolution_note, resolved_by
           from visit_exceptions where id = $1 and visit_id = $2",
    )
    .bind(resolution.exception_id)
    .bind(visit_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(ActivityFailure::Rejected(format!(
            "exception {} not found on visit {visit_id}",
            resolution.exception_id
        )));
    };
    let code = ExceptionCode::parse(&row.code)
        .ok_or_else(|| ActivityFailure::Rejected(format!("unknown exception code {}", row.code)))?;
    if let Some(resolved_code) = &row.resolution_code {
        let same = *resolved_code == resolution.resolution_code.as_str()
            && row.resolution_note.as_deref() == Some(resolution.note.as_str())
            && row.resolved_by.as_deref() == Some(resolution.resolved_by.as_str());
        if !same {
            return Err(ActivityFailure::Rejected(format!(
                "exception {} is already resolved ({resolved_code})",
                resolution.exception_id
            )));
        }
        return Ok(steps.store.commit_and_publish(tx, [visit_id]).await?);
    }
    let checked_in_at = visits::evv_time(&mut tx, visit_id, EvvKind::CheckIn).await?;
    evv::resolution_allowed(
        code,
        resolution.resolution_code,
        resolution.check_out_at,
        checked_in_at,
        Utc::now(),
    )
    .map_err(ActivityFailure::Rejected)?;
    if let (ExceptionCode::MissedCheckOut, Some(at)) = (code, resolution.check_out_at) {
        record_entered_check_out(&mut tx, &visit, at, checked_in_at).await?;
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
    let event = ExceptionResolved {
        visit: visit.summary(visit.status),
        exception_id: resolution.exception_id,
        code,
        resolution_code: resolution.resolution_code,
        note: resolution.note.clone(),
        resolved_by: resolution.resolved_by.clone(),
        check_out_at: resolution.check_out_at,
    };
    record_event(
        &mut tx,
        &event,
        &resolution.exception_id.to_string(),
        Utc::now(),
    )
    .await?;
    Ok(steps.store.commit_and_publish(tx, [visit_id]).await?)
}

/// A missed check-out resolved with the time the visit ended: recorded as a
/// manual check-out and checked against the schedule like any check-out
/// (early, overlong). Being entered by hand is what the resolution records,
/// so it raises no `manual_time_entry` of its own.
async fn record_entered_check_out(
    conn: &mut PgConnection,
    visit: &VisitRow,
    at: chrono::DateTime<Utc>,
    checked_in_at: Option<chrono::DateTime<Utc>>,
) -> Result<(), ActivityFailure> {
    let caregiver_id = visit
        .caregiver_id
        .ok_or_else(|| ActivityFailure::Rejected(format!("visit {} has no caregiver", visit.id)))?;
    sqlx::query(
        "insert into evv_records (id, visit_id, kind, caregiver_id, occurred_at, method)
         values ($1, $2, 'check_out', $3, $4, 'manual')
         on conflict (visit_id, kind) do nothing",
    )
    .bind(Uuid::new_v4())
    .bind(visit.id)
    .bind(caregiver_id)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    let Some(checked_in_at) = checked_in_at else {
        return Ok(());
    };
    let policy = policy::load(conn).await?.evv;
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
        raise(
            conn,
            visit,
            visit.status,
            &finding,
            ExceptionSource::CheckOut,
        )
        .await?;
    }
    Ok(())
}

/// The missed check-out timer fired: a visit still checked in is closed with a
/// `missed_check_out` exception. Returns whether the visit is closed that way
/// (false when its caregiver checked out first).
#[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
pub async fn close_missed_check_out(
    steps: &Steps,
    visit_id: Uuid,
) -> Result<bool, ActivityFailure> {
    let mut tx = steps.store.db.begin().await?;
    let visit = lock_visit(&mut tx, visit_id).await?;
    let closed = match visit.status {
        VisitStatus::CheckedIn => {
            set_status(&mut tx, visit_id, VisitStatus::Completed).await?;
            let now = Utc::now();
            let event = VisitCompleted {
                visit: visit.summary(VisitStatus::Completed),
                at: now,
                location: None,
                method: None,
                missed_check_out: true,
            };
            record_event(&mut tx, &event, "", now).await?;
            let finding = Finding {
                code: ExceptionCode::MissedCheckOut,
                detail: json!({"scheduled_end": visit.scheduled_end, "closed_at": now}),
            };
            raise(&mut tx, &visit, VisitStatus::Completed, &finding, ExceptionSource::Timer).await?;
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
    steps.store.commit_and_publish(tx, [visit_id]).await?;
    Ok(closed)
}
